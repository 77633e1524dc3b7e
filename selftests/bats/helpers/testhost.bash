# The nested test host: a QEMU TCG machine whose CPU model exposes SVM, so a
# KVM-only VMM gets a working /dev/kvm inside it on machines whose own
# /dev/kvm can't boot a stock kernel. bats drives it from outside: a process
# start costs ~60 ms in there, so only the VMM and its helpers run inside.
#
# Channels, all Unix sockets in $TH_DIR on the host:
#   agent.sock        the test host's own agent (virtio-serial port)
#   guest-agent.sock  the test host's ttyS1, which the inner VMM gives its
#                     guest as COM2: the inner guest's agent channel
#   monitor.sock      QEMU's human monitor, for post-mortems only
#
# One test host can serve many suite files: selftests/run.sh starts it with
# testhost_share and exports TH_DIR and TH_SHARED=1; vm_start then reuses it
# (and restarts it in the same directory if it died), and vm_stop stops only
# the inner VMM. Without TH_SHARED each vm_start boots its own.
# shellcheck shell=bash

TESTHOST_MEM_MIB=${TESTHOST_MEM_MIB:-3072}
# One vCPU by default. With two, QEMU's multi-threaded TCG has hung the test
# host's kernel on itself: one CPU looping through the int3 of a jump label
# the other had finished patching (exc_int3 on its stack, seconds into
# boot), and, about once in ten make check runs, panicked it with a kernel
# stack end overwritten under a KVM vCPU thread. One vCPU leaves no second
# CPU to race with; the VMMs' threads still interleave, on one CPU.
TESTHOST_CPUS=${TESTHOST_CPUS:-1}
# QEMU keeps the code it translated until its buffer fills: 1 GiB by
# default, so blocks translated from a nested guest's code outlive its VMM.
# The test host's next writes to that freed memory (the next process's pages,
# zeroed as it faults them in) each go through QEMU's self-modifying-code
# path, which walks and invalidates those stale blocks write by write. After
# integrity.bats' 768 MiB guest the command after its VMM's end was slow in
# 6 of 6 tries (33-60 s where timed; 60 s is the agent's limit): the test
# host found silent at poison.bats' start in about four make check runs of
# ten. A 128 MiB buffer is flushed every few minutes: that command then took
# 4-5 s, 3 of 3 tries.
TESTHOST_TB_MIB=${TESTHOST_TB_MIB:-128}
# The QEMU that runs the test host (TESTHOST_QEMU): by default QEMU 10
# where `make qemu10` unpacked it, else the machine's own (7.2). Under 7.2's
# TCG a nested guest's CPUID.0xD.0 EBX does not follow its XCR0 (576 read
# after an XSETBV of 0x207, whose area is 2696 bytes): Linux 6.1 and 6.12
# warn ("XSAVE consistency problem") and fall back to FXSR, Linux 7.3 dies
# booting (a NULL fpstate in fpstate_reset, on that fallback path). Under
# 10.0.2 the same guests enable XSAVE, 0x207, 2696 bytes.
testhost_qemu() {
	local q10=$BALLAST_BUILD/peers/qemu10/bin/qemu-system-x86_64
	if [ -n "${TESTHOST_QEMU:-}" ]; then
		echo "$TESTHOST_QEMU"
	elif [ -x "$q10" ]; then
		echo "$q10"
	else
		echo qemu-system-x86_64
	fi
}
# A test host never outlives this, whatever happens to bats.
TESTHOST_MAX_SECONDS=${TESTHOST_MAX_SECONDS:-1500}

# testhost_start: boot a test host in $TH_DIR (a new directory unless
# TH_DIR names one already) and wait for its agent; one whose agent never
# answers is kept for the post-mortem and replaced, once.
testhost_start() {
	local rc
	testhost_boot && return 0
	rc=$?
	if [ "$rc" -eq 3 ]; then
		tap_comment "# the test host did not come up; its post-mortem is in $BALLAST_BUILD/testhost-postmortem/; booting another"
		testhost_boot && return 0
	fi
	testhost_stop
	return 1
}

# testhost_boot: testhost_start's one try: 0 up, 3 the agent never
# answered, 1 anything else.
testhost_boot() {
	local img=$BALLAST_BUILD/images shares= share_args=() dir i=0 start=$EPOCHREALTIME
	# The test host hides its /tmp and /run under tmpfs: the project and
	# build trees come in as shares of their own, at the same paths.
	for dir in "$BALLAST_ROOT" "$BALLAST_BUILD"; do
		dir=$(realpath "$dir")
		share_args+=(-virtfs "local,path=$dir,mount_tag=ballast$i,security_model=none,readonly=on,multidevs=remap")
		shares+=" ballast.share=ballast$i:$dir"
		i=$((i + 1))
	done
	[ -n "${TH_DIR:-}" ] || TH_DIR=$(mktemp -d /tmp/ballast-th.XXXXXX)
	export TH_DIR
	mkdir -p "$TH_DIR"
	# A retry's fresh guest boots its test host in the same directory while
	# the last one may still run (a check failed, the host did not): it is
	# stopped first, or the new pid file would leave it running unowned.
	stop_group "$(cat "$TH_DIR/wrapper.pid" 2>/dev/null)"
	rm -f "$TH_DIR"/*.sock "$TH_DIR"/*.log "$TH_DIR/postmortem.kept"
	(no_inherited_fds setsid timeout --kill-after=5 "$TESTHOST_MAX_SECONDS" \
		"$(testhost_qemu)" -accel "tcg,thread=multi,tb-size=$TESTHOST_TB_MIB" -cpu max -smp "$TESTHOST_CPUS" -m "$TESTHOST_MEM_MIB" \
		-nodefaults -display none -no-reboot \
		-kernel "$img/testhost-vmlinuz" -initrd "$img/testhost.cpio.gz" \
		-append "$BALLAST_BOOT_ARGS unknown_nmi_panic panic_print=0x40 ballast.agent_bin=$AGENT $shares" \
		-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
		"${share_args[@]}" \
		-device virtio-serial-pci,id=vser \
		-chardev "socket,id=agent,path=$TH_DIR/agent.sock,server=on,wait=off" \
		-device virtserialport,chardev=agent,name=ballast.agent \
		-serial "file:$TH_DIR/console.log" \
		-serial "unix:$TH_DIR/guest-agent.sock,server=on,wait=off" \
		-monitor "unix:$TH_DIR/monitor.sock,server=on,wait=off") \
		</dev/null >"$TH_DIR/qemu.log" 2>&1 &
	echo $! >"$TH_DIR/wrapper.pid"
	if ! "$AGENT" wait -t 120 "$TH_DIR/agent.sock"; then
		echo "test host did not come up" >&2
		testhost_postmortem "did not come up"
		stop_group "$(cat "$TH_DIR/wrapper.pid")"
		return 3
	fi
	if ! th_sh "test -c /dev/kvm" >/dev/null; then
		echo "test host has no /dev/kvm (kvm_amd did not load); its console:" >&2
		tail -n 30 "$TH_DIR/console.log" >&2
		return 1
	fi
	# Measured, never asserted (fd 3: bats' TAP stream, when it listens).
	{ printf '# test host ready %.1fs after start\n' "$(bc <<<"$EPOCHREALTIME - $start")" >&3; } 2>/dev/null || true
}

# testhost_share: start the test host that the suite files after this share.
testhost_share() {
	export TH_SHARED=1
	testhost_start
}

# testhost_alive: the QEMU of $TH_DIR still runs (its timeout wrapper lives
# exactly as long as QEMU does).
testhost_alive() {
	local pid
	pid=$(cat "${TH_DIR:-/nonexistent}/wrapper.pid" 2>/dev/null) && kill -0 "$pid" 2>/dev/null
}

# testhost_ensure: a test host that answers, for one suite file: the shared
# one while it is alive and answers, else a fresh one (in the same directory
# when shared, so the files after this one find it).
testhost_ensure() {
	if [ "${TH_SHARED:-}" = 1 ] && testhost_alive &&
		"$AGENT" exec -t 20 "$TH_DIR/agent.sock" true 2>/dev/null; then
		return 0
	fi
	if [ "${TH_SHARED:-}" = 1 ] && [ -n "${TH_DIR:-}" ]; then
		testhost_replace "the shared test host was found dead or silent by vm_start"
		return
	fi
	testhost_start
}

# testhost_replace WHY: keep the post-mortem of a test host that died or
# misbehaves (once), and start another in its place (the same directory).
testhost_replace() {
	tap_comment "# replacing the test host: $1; its post-mortem is in $BALLAST_BUILD/testhost-postmortem/"
	[ -f "$TH_DIR/qemu.log" ] && [ ! -e "$TH_DIR/postmortem.kept" ] && testhost_postmortem "$1"
	stop_group "$(cat "$TH_DIR/wrapper.pid" 2>/dev/null)"
	testhost_start
}

# th_sh COMMAND: run a shell command in the test host, print its output,
# return its status. The agent client retries a request whose reply did not
# come on a fresh connection (the agent answers a repeated request from its
# last reply, never running it twice); if the test host still does not
# answer, what it was doing is kept for a post-mortem.
th_sh() {
	local rc=0
	testhost_alive || { testhost_gone "$1"; return 255; }
	"$AGENT" exec -t "${TH_TIMEOUT:-60}" "$TH_DIR/agent.sock" "$1" || rc=$?
	case $rc in
	124) echo "th_sh: the test host's agent ended '$1' at its ${TH_TIMEOUT:-60} s limit" >&2 ;;
	255) testhost_postmortem "agent silent running: $1" ;;
	esac
	return "$rc"
}

# testhost_gone COMMAND: the test host's QEMU has exited: say so and why in
# one line, at once (the agent client would wait out its timeout twice for a
# socket that is gone for good); the first time, keep its post-mortem.
testhost_gone() {
	[ -e "$TH_DIR/postmortem.kept" ] || testhost_postmortem "gone before running: $1"
	echo "the test host is gone: $(testhost_panic || echo 'QEMU exited, no kernel panic on its console')" >&2
}

# testhost_panic: the test host kernel's panic line, if its console has one
# (e.g. "corrupted stack end detected inside scheduler": its own stack check,
# a fault below any VMM it runs; or "NMI: Not continuing": the post-mortem's
# NMI to a test host that had stopped answering).
testhost_panic() {
	grep -a -m1 -o 'Kernel panic - not syncing: .*' "${TH_DIR:-/nonexistent}/console.log" 2>/dev/null
}

# testhost_died_of_panic: the test host's QEMU exited (or is exiting) after
# its kernel panicked; prints the panic line. QEMU runs with -no-reboot and
# the kernel with panic=-1: a panic ends it within seconds.
testhost_died_of_panic() {
	local why i
	why=$(testhost_panic) || return 1
	for ((i = 0; i < 50; i++)); do
		testhost_alive || { echo "$why"; return 0; }
		sleep 0.2
	done
	return 1
}

# testhost_monitor COMMAND: one human-monitor command, its output.
testhost_monitor() {
	printf '%s\n' "$1" | timeout 10 socat -t 3 - "UNIX-CONNECT:$TH_DIR/monitor.sock" 2>&1 |
		tr -d '\r' | grep -v '^(qemu)\|^QEMU .* monitor'
}

# testhost_serial_queues: the virtio-serial queues of the test host's agent
# channel as QEMU sees them, each with the avail index the guest's driver
# last published (read from guest memory). A guest index past QEMU's
# last_avail_idx on queue 5 means replies the guest wrote and QEMU never
# took: a throttled port.
testhost_serial_queues() {
	local q st avail
	for q in 2 3 4 5; do
		st=$(testhost_monitor "info virtio-queue-status /machine/peripheral/vser/virtio-backend $q")
		echo "queue $q:"
		echo "$st"
		avail=$(awk '$1 == "avail:" { print $2 }' <<<"$st")
		[ -n "$avail" ] && echo "  guest's avail idx:    $(testhost_monitor "xp /1hx $((avail + 2))")"
	done
}

# testhost_postmortem WHY: keep what the test host shows of itself in
# $BALLAST_BUILD/testhost-postmortem/<time>/ and print the gist: whether
# QEMU still runs, its vCPUs' state, the kernel's view of its blocked and
# running tasks (sysrq over the emulated keyboard) and the console's tail.
# Last, an NMI: the test host boots with unknown_nmi_panic, so a kernel
# whose CPUs sit with interrupts off (the keyboard cannot reach them) still
# panics with its stacks and every CPU's backtrace on the console. The test
# host is gone after that; testhost_ensure starts another.
testhost_postmortem() {
	local keep out
	keep=$BALLAST_BUILD/testhost-postmortem/$(date +%Y%m%d-%H%M%S)-$$
	mkdir -p "$keep" || return 0
	touch "$TH_DIR/postmortem.kept"
	out=$keep/summary.txt
	{
		echo "why: $1"
		if testhost_alive; then
			echo "QEMU is running; its vCPUs:"
			testhost_monitor 'info cpus'
			# The channel's own state: is a client connected as
			# QEMU sees it or waiting in the listen backlog (Recv-Q),
			# and does the guest's driver have buffers posted (queues
			# 2-3 control, 4-5 the agent's)? The silences seen so far
			# had a healthy channel and a command still running
			# (TESTHOST_TB_MIB says why).
			echo "the agent's channel: QEMU's chardev, then this machine's sockets on it:"
			testhost_monitor 'info chardev' | grep '^agent:'
			ss -xap 2>/dev/null | grep -F "$TH_DIR/agent.sock"
			testhost_serial_queues >"$keep/virtio-serial.txt"
			testhost_monitor 'info registers -a' >"$keep/registers.txt"
			# Console loglevel 8 (or the dumps stay off the console), then
			# blocked tasks, all CPUs' backtraces, memory and every
			# task.
			for key in 8 w l m t; do
				testhost_monitor "sendkey alt-sysrq-$key" >/dev/null
				sleep 2
			done
			echo "NMI sent: the kernel's own account is on the console"
			testhost_monitor nmi >/dev/null
			sleep 5
		else
			echo "QEMU has exited (the test host vanished); its log:"
			tail -n 20 "$TH_DIR/qemu.log"
		fi
	} >"$out" 2>&1
	cp "$TH_DIR"/*.log "$keep/" 2>/dev/null
	{
		echo "test host post-mortem ($1), kept in $keep:"
		cat "$out"
		if grep -aq 'Kernel panic - not syncing' "$TH_DIR/console.log" 2>/dev/null; then
			echo "--- the test host's kernel panicked; its console from there:"
			grep -a -m1 -B6 -A24 'Kernel panic - not syncing' "$TH_DIR/console.log"
		fi
		echo "--- the test host's console:"
		tail -n 40 "$TH_DIR/console.log"
	} >&2
}

testhost_stop() {
	[ -n "${TH_DIR:-}" ] && [ -d "$TH_DIR" ] || return 0
	stop_group "$(cat "$TH_DIR/wrapper.pid" 2>/dev/null)"
	rm -rf "$TH_DIR"
	unset TH_DIR TH_SHARED
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
