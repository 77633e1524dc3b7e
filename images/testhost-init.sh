#!/bin/busybox sh
# /init of the test host: a QEMU TCG machine whose CPU model exposes SVM, so
# Debian's kernel gets a working nested /dev/kvm for KVM-only VMMs. The host's
# root comes in read-only over 9p and everything runs chrooted in it, so the
# host's binaries, kernels and images are used as they are. The agent serves
# on a virtio-serial port; ttyS1 carries the inner guest's agent channel out.
/bin/busybox --install -s /bin
export PATH=/usr/sbin:/usr/bin:/sbin:/bin

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
# Every sysrq key, so a post-mortem can have the kernel list its blocked and
# running tasks over the emulated keyboard (testhost_postmortem).
echo 1 >/proc/sys/kernel/sysrq

while read -r ko; do
	insmod "$ko" || echo "testhost-init: insmod $ko failed"
done < /etc/modules.load

root=/mnt
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,ro hostroot $root ||
	{ echo "testhost-init: cannot mount the host's root over 9p"; poweroff -f; }
mount -t proc proc $root/proc
mount -t sysfs sysfs $root/sys
mount -t devtmpfs devtmpfs $root/dev
mkdir -p $root/dev/pts 2>/dev/null
# Ptys for VMMs that want a terminal or put a UART on one (kvmtool).
mount -t devpts -o ptmxmode=0666 devpts $root/dev/pts
mount -t tmpfs tmpfs $root/tmp
mount -t tmpfs tmpfs $root/run

# The project and build trees come as shares of their own, mounted at the
# same paths after the tmpfs mounts above, which would hide a checkout that
# lives under /tmp.
agent=
for arg in $(cat /proc/cmdline); do
	case $arg in
	ballast.agent_bin=*) agent=${arg#*=} ;;
	ballast.share=*)
		tag=${arg#*=}; tag=${tag%%:*}; path=${arg#*:}
		mkdir -p "$root$path" 2>/dev/null
		mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,ro "$tag" "$root$path" ||
			echo "testhost-init: cannot mount $path"
		;;
	esac
done

# The port's node is vport<virtio index>p<n>: find it by the name QEMU gave it.
port=
for p in /sys/class/virtio-ports/*; do
	[ "$(cat "$p/name" 2>/dev/null)" = ballast.agent ] && port=/dev/${p##*/}
done

kvm=no
if [ -c /dev/kvm ]; then
	kvm=yes
	# One VM held for good: KVM's static keys then never flip (and the
	# kernel never patches its text) as VMMs come and go. Why: hold.c.
	chroot $root "$agent" hold-kvm &
fi
echo "testhost-init: ready after $(cut -d' ' -f1 /proc/uptime)s, /dev/kvm: $kvm, agent on $port"
while :; do
	chroot $root "$agent" serve "$port"
	sleep 1
done
