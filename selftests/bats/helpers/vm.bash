# Booting a guest under the VMM under test, wherever it has to run, and
# talking to it. The adapter (adapters/$VMM.bash) knows the VMM's flags and
# control channel; everything here is the same for every VMM.
# shellcheck shell=bash

VM_BOOT_TIMEOUT=${VM_BOOT_TIMEOUT:-180}
# A VMM never outlives this, whatever happens to bats.
VM_MAX_SECONDS=${VM_MAX_SECONDS:-1200}

# shellcheck source=where.bash
source "$BALLAST_ROOT/selftests/bats/helpers/where.bash" || return 2
# shellcheck source=offers.bash
source "$BALLAST_ROOT/selftests/bats/helpers/offers.bash"

# where_sh COMMAND: run a shell command where the VMM runs.
where_sh() {
	if [ "$VM_WHERE" = nested ]; then
		th_sh "$1"
	else
		(no_inherited_fds timeout "${TH_TIMEOUT:-60}" bash -c "$1")
	fi
}

# where_spawn COMMAND: start COMMAND in the background where the VMM runs,
# in its own session under a timeout, output in $VM_RUNDIR/vmm.log; the
# session leader's pid lands in $VM_RUNDIR/wrapper.pid. With VM_CGROUP (a
# cgroup v2 directory there) it starts in that cgroup.
where_spawn() {
	where_sh "${VM_CGROUP:+echo \$\$ >$VM_CGROUP/cgroup.procs && }cd $VM_RUNDIR && { setsid timeout --kill-after=5 $VM_MAX_SECONDS $1 \
		</dev/null >vmm.log 2>&1 3>&- & echo \$! >wrapper.pid; }"
}

# where_spawn_terminal PTY_REGEX COMMAND: start a VMM that needs a terminal
# on its standard input and serves the agent's UART on a pty it names in its
# output (PTY_REGEX matches that line): the harness gives it the terminal,
# takes its output as the guest's console, finds its pid and bridges the
# pty to the agent endpoint (helpers/tty-vmm.sh).
where_spawn_terminal() {
	where_spawn "$BALLAST_ROOT/selftests/bats/helpers/tty-vmm.sh $VM_CONSOLE $VM_RUNDIR/vmm.pid \
		$VM_AGENT '$1' $2"
}

# guest_image_dir: the guest image GUEST_KERNEL names (cloud, generic, 6.12
# or 7: build/images/<name>/, built by `make images GUEST_KERNELS=...`), or
# build/images itself when it is unset (the default image, cloud unless make
# was given FLAVOUR or KERNEL). One line and status 2 when there is none.
guest_image_dir() {
	local dir=$BALLAST_BUILD/images${GUEST_KERNEL:+/$GUEST_KERNEL}
	case ${GUEST_KERNEL:-} in
	'' | cloud | generic | 6.12 | 7) ;;
	*) echo "GUEST_KERNEL=$GUEST_KERNEL: unknown guest kernel (cloud, generic, 6.12 or 7)" >&2; return 2 ;;
	esac
	[ -f "$dir/guest.cpio.gz" ] && [ -e "$dir/vmlinuz" ] && [ -f "$dir/kver" ] || {
		echo "no guest image in $dir: run make guest images GUEST_KERNELS=\"${GUEST_KERNEL:-cloud}\"" >&2
		return 2
	}
	echo "$dir"
}

# vm_start [MEM_MIB] [BALLOON_OPTS]: boot a guest and wait for its agent.
# BALLOON_OPTS is a comma list in one vocabulary for every adapter:
# deflate_on_oom=on, free_page_reporting=on, free_page_hint=on,
# must_tell_host=on, page_poison=on, stats_interval=SECONDS, size=MIB; an
# option the VMM does not offer is refused before anything boots.
# VM_KERNEL and VM_INITRAMFS pick another image, VM_CMDLINE_EXTRA adds
# kernel parameters, VM_REBOOT=1 asks for a guest that survives a reset.
vm_start() {
	export VM_MEM_MIB=${1:-512} VM_BALLOON_OPTS=${2:-} VM_CPUS=${VM_CPUS:-1}
	check_opts "$VM_BALLOON_OPTS" || return 2
	if [ -n "${VM_THP:-}" ] && ! offers thp; then
		echo "$VMM does not offer thp (VM_THP=$VM_THP)" >&2
		return 2
	fi
	if [ "${VM_REBOOT:-}" = 1 ] && ! offers reboot; then
		echo "$VMM does not offer reboot (VM_REBOOT=1)" >&2
		return 2
	fi
	# The guest's init loads these, and boots on with a line for anything
	# else; a test would then wait out its first resize.
	case ${VM_DRIVER:-virtio_balloon} in
	virtio_balloon | ballast | none) ;;
	*) echo "VM_DRIVER=$VM_DRIVER: unknown balloon driver (virtio_balloon, ballast or none)" >&2; return 2 ;;
	esac
	# A VMM that describes CPUs only with an MP table gets a kernel that
	# reads one (Debian's cloud kernel has no CONFIG_X86_MPPARSE).
	local img= GUEST_KERNEL=${GUEST_KERNEL:-}
	offers acpi || GUEST_KERNEL=${GUEST_KERNEL:-generic}
	[ -n "${VM_KERNEL:-}" ] && [ -n "${VM_INITRAMFS:-}" ] || img=$(guest_image_dir) || return 2
	export VM_KERNEL=${VM_KERNEL:-$img/vmlinuz}
	export VM_INITRAMFS=${VM_INITRAMFS:-$img/guest.cpio.gz}
	export VM_CMDLINE="$BALLAST_BOOT_ARGS ballast.driver=${VM_DRIVER:-virtio_balloon}${VM_CMDLINE_EXTRA:+ $VM_CMDLINE_EXTRA}"
	VM_WHERE=$(ballast_where) || return 2
	export VM_WHERE
	if [ "$VM_WHERE" = nested ]; then
		export VM_KVM=1 VM_RUNDIR=/tmp/vm VM_AGENT=tty:/dev/ttyS1
		vm_nested_prepare || return 1
	else
		VM_KVM=0
		ballast_hw_kvm && VM_KVM=1
		# A fresh guest for the same file (one_guest_fresh) keeps the
		# paths the file's tests already know.
		if [[ ${VM_RUNDIR:-} == /tmp/ballast-vm.* ]] && [ -d "$VM_RUNDIR" ]; then
			find "$VM_RUNDIR" -mindepth 1 -delete
		else
			VM_RUNDIR=$(mktemp -d /tmp/ballast-vm.XXXXXX)
		fi
		export VM_KVM VM_RUNDIR VM_AGENT=socket:$VM_RUNDIR/agent.sock
		export VM_AGENT_SOCK=$VM_RUNDIR/agent.sock
	fi
	export VM_CONSOLE=$VM_RUNDIR/console.log
	# A guest booted again for the same file (one_guest_fresh) keeps its
	# state directory.
	if [ -d "${VM_STATE_DIR:-}" ]; then
		find "$VM_STATE_DIR" -mindepth 1 -delete
	else
		VM_STATE_DIR=$(mktemp -d /tmp/ballast-state.XXXXXX)
	fi
	export VM_STATE_DIR
	vm_boot && return 0
	local rc=$? why
	# The test host's own kernel panicked while the guest booted (its
	# stack check, below any VMM: about one make check run in ten under
	# QEMU's TCG): once more, on a fresh test host.
	[ "$VM_WHERE" = nested ] && why=$(testhost_died_of_panic) || return "$rc"
	tap_comment "# the test host's kernel panicked while the guest booted ($why): booting both once more"
	vm_nested_prepare && vm_boot
}

# vm_nested_prepare: a test host that answers, and an empty VM_RUNDIR in
# it. A test host that fails even that is replaced, once. ttyS1, the inner
# guest's agent line, is left alone: every adapter makes it raw itself, and
# an stty of it ran past the agent's 60 s limit in two make check runs:
# the first command after a VMM's end, slow for the reason TESTHOST_TB_MIB
# (testhost.bash) gives.
vm_nested_prepare() {
	local try
	for try in 1 2; do
		testhost_ensure || return 1
		export VM_AGENT_SOCK=$TH_DIR/guest-agent.sock
		th_sh "rm -rf $VM_RUNDIR && mkdir -p $VM_RUNDIR" && return 0
		[ "$try" = 2 ] || testhost_replace "could not prepare $VM_RUNDIR"
	done
	return 1
}

# vm_boot: start the VMM and wait for its guest's agent. A guest kernel that
# locks up before its agent answers (soft lockup, RCU stall: seen rarely
# with two vCPUs nested, cause not yet known, never after the agent
# answered) is booted once more, and said so: its console is kept in
# build/vm-postmortem/ for the post-mortem.
vm_boot() {
	local rc=0 keep
	# selftests/run.sh ends the VMs of a run it was told to stop.
	[ "$VM_WHERE" = nested ] || echo "$VM_RUNDIR" >>"${BALLAST_VM_REGISTRY:-/dev/null}"
	vmm_start || { vm_console_tail >&2; return 1; }
	vm_wait_agent || rc=$?
	[ "$rc" -eq 3 ] || return "$rc"
	keep=$BALLAST_BUILD/vm-postmortem/$(date +%Y%m%d-%H%M%S)-$$
	mkdir -p "$keep"
	where_sh "cat $VM_CONSOLE" >"$keep/console.log" 2>&1
	where_sh "cat $VM_RUNDIR/vmm.log" >"$keep/vmm.log" 2>&1
	{ echo "# $VMM ($VM_WHERE, $VM_CPUS vCPUs): the guest kernel locked up before its agent answered; console kept in $keep; booting once more" |
		tee /dev/stderr >&3; } 2>/dev/null || true
	vm_kill_vmm
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
		where_sh "kill -0 \$(cat $VM_RUNDIR/wrapper.pid)" 2>/dev/null
		case $? in
		0) ;;
		255)
			echo "$VMM: the test host stopped answering while its guest booted" >&2
			return 1
			;;
		*)
			echo "$VMM exited before its guest's agent answered" >&2
			vm_console_tail >&2
			return 1
			;;
		esac
		if where_sh "grep -qE 'soft lockup|self-detected stall' $VM_CONSOLE" 2>/dev/null; then
			echo "$VMM: the guest kernel locked up before its agent answered" >&2
			vm_console_tail >&2
			return 3
		fi
	done
	echo "$VMM: guest agent did not answer within ${VM_BOOT_TIMEOUT}s" >&2
	vm_console_tail >&2
	return 1
}

# vm_exec COMMAND...: run a command in the guest; its output and status.
vm_exec() {
	if [ "${VM_WHERE:-}" = nested ] && ! testhost_alive; then
		testhost_gone "$*"
		return 255
	fi
	"$AGENT" exec -t "${VM_EXEC_TIMEOUT:-60}" "$VM_AGENT_SOCK" "$@"
}

# vm_load_driver [DRIVER]: bind a balloon driver (virtio_balloon or
# ballast; default VM_DRIVER's) as the guest's init does, in a guest booted
# with ballast.driver=none or after the last one was unloaded.
vm_load_driver() {
	case ${1:-${VM_DRIVER:-virtio_balloon}} in
	virtio_balloon) vm_exec 'insmod $(grep /virtio_balloon.ko$ /etc/modules.load)' ;;
	ballast) vm_exec 'insmod /lib/ballast/ballast.ko' ;;
	*) echo "vm_load_driver: unknown driver '$1'" >&2; return 2 ;;
	esac
}

# linux_driver: the guest's balloon driver is Linux's own (VM_DRIVER unset
# or virtio_balloon), not ballast.ko.
linux_driver() {
	[ "${VM_DRIVER:-virtio_balloon}" = virtio_balloon ]
}

# needs_movable_pages: skip unless the driver balloons movable pages, as
# Linux's does (balloon compaction, on in every Debian kernel), for a test
# whose bound assumes the balloon is made of the memory the guest freed.
# ballast.ko's pages are unmovable (ballast_main.c says why): the allocator
# takes them from the holes in the guest's unmovable pageblocks first,
# which the host may never have backed, then claims whole movable blocks
# for them, so which host pages a balloon covers is the guest's
# fragmentation, not the device. Measured with guest RAM on huge pages
# (ballast-vmm, cloud guest, 768 MiB): 50-69 of its 370 pageblocks turned
# unmovable per test, 8-60 MiB of huge pages lost over 5 cycles, 62-77% of
# a 256 MiB inflate released; the same module allocating with
# __GFP_MOVABLE: no block turned, 8 MiB lost, 95-99% released. A 512 MiB
# inflate of a 768 MiB Linux 7.3 guest released 89% on QEMU and 93% on
# ballast-vmm (both tries each); 99.6% with __GFP_MOVABLE.
needs_movable_pages() {
	linux_driver || skip "ballast.ko balloons unmovable pages: which host pages they cover is the guest allocator's choice, not the device's"
}

# oom_evidence: the guest's last OOM kill as its kernel told it (the
# allocation, each zone's free pages against its watermarks, the victim),
# what a balloon driver's shrinker and OOM notifier did where the driver
# counts it (ballast.ko's debugfs), and the guest's free memory now.
oom_evidence() {
	vm_exec 'dmesg | grep -E "invoked oom-killer|Node [0-9]+ (DMA32|Normal) free:|Killed process" | tail -n 6 | cut -c 1-320
		for f in /sys/kernel/debug/ballast/shrinker_* /sys/kernel/debug/ballast/oom_notify_* /sys/kernel/debug/ballast/pages_deflated; do
			[ -r "$f" ] && echo "${f##*/} $(cat "$f")"
		done
		grep -E "^(MemFree|MemAvailable)" /proc/meminfo' 2>&1
}

# with_oom_evidence CMD...: CMD's status, and oom_evidence printed when it
# fails, for a check whose failure is an OOM kill to show it.
with_oom_evidence() {
	"$@" || { oom_evidence; return 1; }
}

# vm_boot_id: the running guest kernel's boot id, asked with a short timeout.
vm_boot_id() {
	VM_EXEC_TIMEOUT=5 vm_exec 'cat /proc/sys/kernel/random/boot_id' 2>/dev/null
}

# vm_booted_since ID: for wait_until: the agent answers from a boot other
# than ID; status 3 (stop waiting) once the VMM is gone.
vm_booted_since() {
	local id
	id=$(vm_boot_id) || { vm_wait_status; return; }
	[ -n "$id" ] && [ "$id" != "$1" ]
}

# vm_reboot: reset the guest from inside (sysrq b: no shutdown, as a crash
# would) and wait until its agent answers from the new boot. Needs a guest
# started with VM_REBOOT=1.
vm_reboot() {
	local id
	id=$(vm_boot_id) || return 1
	vm_exec '(sleep 1; echo b >/proc/sysrq-trigger) </dev/null >/dev/null 2>&1 &' || return 1
	wait_until "$VM_BOOT_TIMEOUT" vm_booted_since "$id"
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
	if [ "$VM_WHERE" = nested ] && [ "${TH_SHARED:-}" != 1 ]; then
		testhost_stop
	else
		vm_kill_vmm
		[ "$VM_WHERE" = nested ] || rm -rf "$VM_RUNDIR"
	fi
	rm -rf "${VM_STATE_DIR:-/nonexistent}"
	unset VM_RUNDIR VM_STATE_DIR
}

# vm_state_set KEY VALUE, vm_state_get KEY: what an adapter must remember
# about its guest between tests (each bats test runs in a subshell), e.g.
# the absolute target behind a VMM's relative resize command.
vm_state_set() {
	echo "$2" >"$VM_STATE_DIR/$1"
}

vm_state_get() {
	cat "$VM_STATE_DIR/$1"
}

# vm_kill_vmm: end the VMM (its process group) and wait until it is gone;
# in the test host too, so the next VMM finds its memory and ttyS1 free
# (dash, the test host's sh, signals a process group as -PID).
vm_kill_vmm() {
	if [ "$VM_WHERE" != nested ]; then
		stop_group "$(cat "$VM_RUNDIR/wrapper.pid" 2>/dev/null)"
		return 0
	fi
	th_sh "pid=\$(cat $VM_RUNDIR/wrapper.pid 2>/dev/null) || exit 0
		kill -TERM -\$pid 2>/dev/null || exit 0
		for i in \$(seq 50); do kill -0 -\$pid 2>/dev/null || exit 0; sleep 0.2; done
		kill -KILL -\$pid 2>/dev/null
		for i in \$(seq 150); do kill -0 -\$pid 2>/dev/null || exit 0; sleep 0.2; done
		echo \"the VMM's process group \$pid outlived SIGKILL by 30 s\"; exit 0" >&2
}

# vm_devcfg FIELD: num_pages or actual as the device holds it, read in the
# guest through the virtio transport (ballast_peek.ko, whichever driver is
# bound).
vm_devcfg() {
	vm_exec "cat /sys/kernel/debug/ballast_peek/config" |
		awk -v f="$1" '$1 == f { print $2; found = 1 } END { exit !found }'
}

# vm_balloon_actual: the balloon's size in MiB as the device holds it
# (`actual`, 4 KiB pages, rounded down): from the VMM where it reports it,
# else from the device's config space, read in the guest.
vm_balloon_actual() {
	local pages
	if offers query_actual; then
		vmm_balloon_actual
	else
		pages=$(vm_devcfg actual) || return 1
		echo $((pages * 4096 / MIB))
	fi
}

# vm_balloon_is MIB: the balloon holds MIB MiB as the device sees it (`actual`).
vm_balloon_is() {
	[ "$(vm_balloon_actual)" = "$1" ]
}

# vm_alive: the VMM's process still exists where it runs.
vm_alive() {
	where_sh "kill -0 \$(cat $VM_RUNDIR/vmm.pid) 2>/dev/null"
}

# vm_wait_status: for a poll whose read just failed: 3 (wait_until stops)
# once the VMM is gone, 1 (try again) while it runs.
vm_wait_status() {
	vm_alive && return 1
	return 3
}

# vm_actual_reading: `actual` in MiB for verdict_wait; status 3 (stop
# waiting) once the VMM is gone.
vm_actual_reading() {
	vm_balloon_actual || vm_wait_status
}

# verdict_harness_fault (verdict.bash asks): the harness broke under a
# failing check: the nested test host is gone. Empty when it is not.
verdict_harness_fault() {
	[ "${VM_WHERE:-}" = nested ] && [ -n "${TH_DIR:-}" ] && ! testhost_alive || return 0
	echo "the test host is gone: $(testhost_panic || echo 'its QEMU exited, no kernel panic on its console')"
}

# vm_unhealthy: why the file's guest cannot be trusted with another test,
# in one line (status 0); status 1 when it can: the test host is there,
# the guest's agent answers.
vm_unhealthy() {
	local fault death
	fault=$(verdict_harness_fault)
	[ -z "$fault" ] || { echo "$fault"; return 0; }
	VM_EXEC_TIMEOUT=15 vm_exec true >/dev/null 2>&1 && return 1
	# The guest kernel's last word on why, when it left one.
	death=$(where_sh "grep -aoE 'Kernel panic - .*|System is deadlocked on memory|Out of memory: Killed process [0-9]+ \([^)]*\)' $VM_CONSOLE | tail -n 1" 2>/dev/null)
	[ -z "$death" ] || death=" (its console: $death)"
	if vm_alive 2>/dev/null; then
		echo "the guest's agent does not answer$death"
	else
		echo "the VMM has exited$death"
	fi
}

# vm_gone_report: how a VMM that vanished ended, in a few lines: its last
# output, the guest console's last kernel complaint and what the kernel it
# ran on says about it (OOM killer, a fatal signal).
vm_gone_report() {
	echo "the VMM (pid $(vm_pid 2>/dev/null)) is gone; its last output:"
	where_sh "tail -n 24 $VM_RUNDIR/vmm.log" 2>&1
	echo "the guest console's last kernel complaint (Oops, BUG, panic, reboot):"
	where_sh "grep -naE 'Oops|BUG|panic|Kernel|reboot|Call Trace|RIP' $VM_CONSOLE | tail -n 12" 2>&1
	echo "what the kernel under the VMM says about it:"
	where_sh "dmesg | grep -aE 'Killed process|oom-kill|segfault|traps:|general protection|kvm' | tail -n 8" 2>&1
}

# vm_balloon_postmortem: why a balloon did not reach its target, told from
# every side that can still answer, on stderr: first whether the VMM still
# runs at all (vm_gone_report if not), then the VMM's own view (its
# adapter's optional vmm_describe), the device's config space and the
# driver's tasks in the guest, and the guest kernel's last messages.
vm_balloon_postmortem() {
	{
		echo "--- balloon post-mortem ($VMM, $VM_WHERE) ---"
		if ! vm_alive; then
			vm_gone_report
			return 0
		fi
		if declare -F vmm_describe >/dev/null; then
			echo "VMM's view:"
			vmm_describe 2>&1 | head -n 60
		fi
		# A vCPU thread spinning in the kernel where the VMM runs (the
		# test host's) freezes the guest while the control plane answers.
		echo "the VMM's threads and their kernel stacks, where it runs:"
		where_sh "for t in /proc/\$(cat $VM_RUNDIR/vmm.pid)/task/*; do
				echo \"\$(cat \$t/comm) \$(cut -d' ' -f3 \$t/stat)\"; cat \$t/stack
			done" 2>&1 | head -n 80
		echo "device config space, read in the guest:"
		vm_exec 'cat /sys/kernel/debug/ballast_peek/config' 2>&1
		echo "guest: tasks in the balloon driver or blocked, with their kernel stacks:"
		vm_exec 'for t in /proc/[0-9]*/task/[0-9]*; do
				s=$(cat $t/stack 2>/dev/null) || continue
				st=$(sed -n "s/^State:[[:space:]]*//p" $t/status 2>/dev/null)
				case "$s$st" in *balloon*|D*) echo "${t#/proc/} $(cat $t/comm) $st"; echo "$s";; esac
			done; grep -E "^(MemFree|MemAvailable)" /proc/meminfo
			grep -i virtio /proc/interrupts; dmesg | tail -n 15' 2>&1
	} >&2
}

# hint_state: "done" once the device closed the last free page hint run
# with DONE, else "open" (a reading for await).
hint_state() {
	if vmm_hint_done; then echo done; else echo open; fi
}

# stat_of NAME: one value of the VMM's last stats report; fails when absent.
stat_of() {
	vmm_balloon_stats | awk -v n="$1" '$1 == n { print $2; found = 1 } END { exit !found }'
}

# vm_meminfo FIELD: a /proc/meminfo field of the guest, in KiB.
vm_meminfo() {
	vm_exec "awk '\$1 == \"$1:\" { print \$2 }' /proc/meminfo"
}
