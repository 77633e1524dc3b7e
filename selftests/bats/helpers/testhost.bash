# The nested test host: a QEMU TCG machine whose CPU model exposes SVM, so a
# KVM-only VMM gets a working /dev/kvm inside it on machines whose own
# /dev/kvm can't boot a stock kernel. bats drives it from outside: a process
# start costs ~60 ms in there, so only the VMM and its helpers run inside.
#
# Channels, all Unix sockets in $TH_DIR on the host:
#   agent.sock        the test host's own agent (virtio-serial port)
#   guest-agent.sock  the test host's ttyS1, which the inner VMM gives its
#                     guest as COM2: the inner guest's agent channel
# shellcheck shell=bash

TESTHOST_MEM_MIB=${TESTHOST_MEM_MIB:-3072}
# A test host never outlives this, whatever happens to bats.
TESTHOST_MAX_SECONDS=${TESTHOST_MAX_SECONDS:-1500}

testhost_start() {
	local img=$BALLAST_BUILD/images shares= share_args=() dir i=0 start=$EPOCHREALTIME
	# The test host hides its /tmp and /run under tmpfs: the project and
	# build trees come in as shares of their own, at the same paths.
	for dir in "$BALLAST_ROOT" "$BALLAST_BUILD"; do
		dir=$(realpath "$dir")
		share_args+=(-virtfs "local,path=$dir,mount_tag=ballast$i,security_model=none,readonly=on,multidevs=remap")
		shares+=" ballast.share=ballast$i:$dir"
		i=$((i + 1))
	done
	TH_DIR=$(mktemp -d /tmp/ballast-th.XXXXXX)
	export TH_DIR
	setsid timeout --kill-after=5 "$TESTHOST_MAX_SECONDS" \
		qemu-system-x86_64 -accel tcg,thread=multi -cpu max -smp 2 -m "$TESTHOST_MEM_MIB" \
		-nodefaults -display none -no-reboot \
		-kernel "$img/testhost-vmlinuz" -initrd "$img/testhost.cpio.gz" \
		-append "console=ttyS0 panic=-1 quiet ballast.agent_bin=$AGENT $shares" \
		-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
		"${share_args[@]}" \
		-device virtio-serial-pci \
		-chardev "socket,id=agent,path=$TH_DIR/agent.sock,server=on,wait=off" \
		-device virtserialport,chardev=agent,name=ballast.agent \
		-serial "file:$TH_DIR/console.log" \
		-serial "unix:$TH_DIR/guest-agent.sock,server=on,wait=off" \
		</dev/null >"$TH_DIR/qemu.log" 2>&1 3>&- &
	echo $! >"$TH_DIR/wrapper.pid"
	if ! "$AGENT" wait -t 120 "$TH_DIR/agent.sock"; then
		echo "test host did not come up; its console:" >&2
		tail -n 30 "$TH_DIR/console.log" "$TH_DIR/qemu.log" >&2
		testhost_stop
		return 1
	fi
	if ! th_sh "test -c /dev/kvm" >/dev/null; then
		echo "test host has no /dev/kvm (kvm_amd did not load); its console:" >&2
		tail -n 30 "$TH_DIR/console.log" >&2
		testhost_stop
		return 1
	fi
	# Measured, never asserted (fd 3: bats' TAP stream, when it listens).
	{ printf '# test host ready %.1fs after start\n' "$(bc <<<"$EPOCHREALTIME - $start")" >&3; } 2>/dev/null || true
}

# th_sh COMMAND: run a shell command in the test host, print its output,
# return its status. When the agent does not answer (status 255), the test
# host's console goes to stderr: such stalls have been seen, rarely, and not
# yet explained.
th_sh() {
	local rc=0
	"$AGENT" exec -t "${TH_TIMEOUT:-60}" "$TH_DIR/agent.sock" "$1" || rc=$?
	if [ "$rc" -eq 255 ]; then
		echo "test host agent silent; the last of its console and QEMU's log:" >&2
		tail -n 20 "$TH_DIR/console.log" "$TH_DIR/qemu.log" >&2
	fi
	return "$rc"
}

testhost_stop() {
	[ -n "${TH_DIR:-}" ] && [ -d "$TH_DIR" ] || return 0
	stop_group "$(cat "$TH_DIR/wrapper.pid" 2>/dev/null)"
	rm -rf "$TH_DIR"
	unset TH_DIR
}

# stop_group PID: end the process group PID leads (a setsid'd timeout and
# what it runs), politely first, within ten seconds.
stop_group() {
	local pid=$1 i
	[ -n "$pid" ] || return 0
	kill -TERM -- "-$pid" 2>/dev/null || return 0
	for ((i = 0; i < 50; i++)); do
		kill -0 -- "-$pid" 2>/dev/null || return 0
		sleep 0.2
	done
	kill -KILL -- "-$pid" 2>/dev/null
	return 0
}
