# Booting a guest under the VMM under test, wherever it has to run, and
# talking to it. The adapter (adapters/$VMM.bash) knows the VMM's flags and
# control channel; everything here is the same for every VMM.
# shellcheck shell=bash

VM_BOOT_TIMEOUT=${VM_BOOT_TIMEOUT:-180}
# A VMM never outlives this, whatever happens to bats.
VM_MAX_SECONDS=${VM_MAX_SECONDS:-1200}

# shellcheck source=where.bash
source "$BALLAST_ROOT/selftests/bats/helpers/where.bash" || return 2

# where_sh COMMAND: run a shell command where the VMM runs.
where_sh() {
	if [ "$VM_WHERE" = nested ]; then
		th_sh "$1"
	else
		timeout "${TH_TIMEOUT:-60}" bash -c "$1"
	fi
}

# where_spawn COMMAND: start COMMAND in the background where the VMM runs,
# in its own session under a timeout, output in $VM_RUNDIR/vmm.log; the
# session leader's pid lands in $VM_RUNDIR/wrapper.pid.
where_spawn() {
	where_sh "cd $VM_RUNDIR && { setsid timeout --kill-after=5 $VM_MAX_SECONDS $1 \
		</dev/null >vmm.log 2>&1 3>&- & echo \$! >wrapper.pid; }"
}

# vm_start [MEM_MIB] [BALLOON_OPTS]: boot a guest and wait for its agent.
# BALLOON_OPTS is a comma list in one vocabulary for every adapter:
# deflate_on_oom=on, free_page_reporting=on, free_page_hint=on,
# must_tell_host=on, page_poison=on, stats_interval=SECONDS; and where the
# adapter takes it (vm_supports size), size=MIB.
# VM_KERNEL and VM_INITRAMFS pick another image, VM_CMDLINE_EXTRA adds
# kernel parameters.
vm_start() {
	export VM_MEM_MIB=${1:-512} VM_BALLOON_OPTS=${2:-} VM_CPUS=${VM_CPUS:-1}
	export VM_KERNEL=${VM_KERNEL:-$BALLAST_BUILD/images/vmlinuz}
	export VM_INITRAMFS=${VM_INITRAMFS:-$BALLAST_BUILD/images/guest.cpio.gz}
	export VM_CMDLINE="console=ttyS0 panic=-1 quiet ballast.driver=${VM_DRIVER:-virtio_balloon}${VM_CMDLINE_EXTRA:+ $VM_CMDLINE_EXTRA}"
	VM_WHERE=$(ballast_where) || return 2
	export VM_WHERE
	if [ "$VM_WHERE" = nested ]; then
		testhost_start || return 1
		export VM_KVM=1 VM_RUNDIR=/tmp/vm VM_AGENT=tty:/dev/ttyS1
		export VM_AGENT_SOCK=$TH_DIR/guest-agent.sock
		th_sh "mkdir -p $VM_RUNDIR && stty -F /dev/ttyS1 raw -echo" || return 1
	else
		VM_KVM=0
		ballast_hw_kvm && VM_KVM=1
		VM_RUNDIR=$(mktemp -d /tmp/ballast-vm.XXXXXX)
		export VM_KVM VM_RUNDIR VM_AGENT=socket:$VM_RUNDIR/agent.sock
		export VM_AGENT_SOCK=$VM_RUNDIR/agent.sock
	fi
	export VM_CONSOLE=$VM_RUNDIR/console.log
	vmm_start || { vm_console_tail >&2; return 1; }
	vm_wait_agent
}

# Wait for the guest's agent, but give up at once when the VMM has exited:
# a VMM that fails to boot fails the test with its log, it does not hang it.
vm_wait_agent() {
	local start=$EPOCHREALTIME end=$((SECONDS + VM_BOOT_TIMEOUT))
	while [ "$SECONDS" -lt "$end" ]; do
		if "$AGENT" wait -t 5 "$VM_AGENT_SOCK" 2>/dev/null; then
			# Measured, never asserted: shown in the TAP stream when
			# bats is listening on fd 3.
			{ printf '# %s (%s, %s vCPUs): agent answered %.1fs after start\n' \
				"$VMM" "$VM_WHERE" "$VM_CPUS" "$(bc <<<"$EPOCHREALTIME - $start")" >&3; } 2>/dev/null || true
			return 0
		fi
		# The timeout wrapper lives exactly as long as the VMM (dash, the
		# test host's sh, knows no "kill --").
		if ! where_sh "kill -0 \$(cat $VM_RUNDIR/wrapper.pid)" 2>/dev/null; then
			echo "$VMM exited before its guest's agent answered" >&2
			vm_console_tail >&2
			return 1
		fi
	done
	echo "$VMM: guest agent did not answer within ${VM_BOOT_TIMEOUT}s" >&2
	vm_console_tail >&2
	return 1
}

# vm_exec COMMAND...: run a command in the guest; its output and status.
vm_exec() {
	"$AGENT" exec -t "${VM_EXEC_TIMEOUT:-60}" "$VM_AGENT_SOCK" "$@"
}

vm_pid() {
	where_sh "cat $VM_RUNDIR/vmm.pid"
}

vm_console_tail() {
	where_sh "tail -n ${1:-40} $VM_CONSOLE; echo '--- VMM output:'; tail -n 20 $VM_RUNDIR/vmm.log"
}

# vm_stop: end the VMM (and the test host it ran in). Idempotent.
vm_stop() {
	[ -n "${VM_RUNDIR:-}" ] || return 0
	if [ "$VM_WHERE" = nested ]; then
		testhost_stop
	else
		stop_group "$(cat "$VM_RUNDIR/wrapper.pid" 2>/dev/null)"
		rm -rf "$VM_RUNDIR"
	fi
	unset VM_RUNDIR
}

# vm_supports WHAT: the adapter takes WHAT (see adapters/README.md).
vm_supports() {
	declare -F vmm_supports >/dev/null && vmm_supports "$1"
}

# requires WHAT: skip the test unless the adapter takes WHAT. bats skips
# from setup() or a test, not from setup_file(): there, test vm_supports.
requires() {
	vm_supports "$1" || skip "the $VMM adapter does not take '$1'"
}

# vm_balloon_is MIB: the balloon holds MIB MiB as the device sees it (`actual`).
vm_balloon_is() {
	[ "$(vmm_balloon_actual)" = "$1" ]
}

# vm_meminfo FIELD: a /proc/meminfo field of the guest, in KiB.
vm_meminfo() {
	vm_exec "awk '\$1 == \"$1:\" { print \$2 }' /proc/meminfo"
}
