#!/bin/busybox sh
# /init of the guest: mount the usual file systems, load the virtio stack and
# one balloon driver, then serve the agent on COM2 for the rest of its life.
#
# Kernel command line knobs:
#   ballast.driver=virtio_balloon|ballast|none   which balloon driver to load
#   ballast.agent=/dev/ttyS1                     the agent's port
/bin/busybox --install -s /bin
export PATH=/bin:/sbin

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t debugfs debugfs /sys/kernel/debug
# Tests fill tmpfs to touch guest RAM, so let it hold most of it.
mount -t tmpfs -o size=95% tmpfs /tmp
mount -t tmpfs tmpfs /run

driver=virtio_balloon
agent=/dev/ttyS1
for arg in $(cat /proc/cmdline); do
	case $arg in
	ballast.driver=*) driver=${arg#*=} ;;
	ballast.agent=*) agent=${arg#*=} ;;
	esac
done

# The base list holds the virtio stack and both drivers' dependencies; the
# balloon drivers themselves are loaded below, one of them at most.
while read -r ko; do
	case $ko in
	*/virtio_balloon.ko) ;;
	*) insmod "$ko" ;;
	esac
done < /etc/modules.load

# The device's config space as the device holds it, for the suite: binds
# nothing, so it goes in whichever driver is chosen.
[ -f /lib/ballast/ballast_peek.ko ] && insmod /lib/ballast/ballast_peek.ko

case $driver in
virtio_balloon) insmod "$(grep '/virtio_balloon.ko$' /etc/modules.load)" ;;
ballast) insmod /lib/ballast/ballast.ko ;;
none) ;;
*) echo "ballast-init: unknown ballast.driver=$driver" ;;
esac

echo "ballast-init: ready after $(cut -d' ' -f1 /proc/uptime)s, driver $driver, agent $agent"
while :; do
	/bin/ballast-agent serve "$agent"
	sleep 1
done
