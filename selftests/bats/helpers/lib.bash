# The harness without bats: paths, guests, waits, host RSS. Sourced by
# common.bash for the suites and by ci/demo.sh.
# shellcheck shell=bash

BALLAST_ROOT=${BALLAST_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)}
BALLAST_BUILD=${BALLAST_BUILD:-$BALLAST_ROOT/build}
AGENT=$BALLAST_BUILD/bin/ballast-agent
VMM=${VMM:-qemu}

# shellcheck source=verdict.bash
source "$BALLAST_ROOT/selftests/bats/helpers/verdict.bash"

# no_inherited_fds COMMAND...: exec COMMAND with only descriptors 0-2 open;
# call it in a subshell. A process that outlives the bats run that started
# it (the shared test host, restarted from inside a suite file) would
# otherwise hold bats' output pipes and keep the run from ending.
no_inherited_fds() {
	local fd
	for fd in /proc/$BASHPID/fd/*; do
		fd=${fd##*/}
		[ "$fd" -gt 2 ] && eval "exec $fd>&-" 2>/dev/null
	done
	exec "$@"
}

# What every kernel the harness boots, guest or test host, is told first.
# no_timer_check: Linux's boot-time check that the IO-APIC's timer
# interrupt arrives within a few ticks is a race under TCG, where QEMU's
# main loop (its timers) competes with the vCPUs for the CPU. Two QEMU
# cells on two cores made it panic a guest ("IO-APIC + timer doesn't
# work!"); with QEMU's main loop starved on purpose it panicked 3 boots of
# 4, and none of 3 with the check off. A KVM guest turns it off itself
# (arch/x86/kernel/kvm.c), so only TCG boots see a difference.
BALLAST_BOOT_ARGS="console=ttyS0 panic=-1 quiet no_timer_check"

# shellcheck source=testhost.bash
source "$BALLAST_ROOT/selftests/bats/helpers/testhost.bash"
# shellcheck source=vm.bash
source "$BALLAST_ROOT/selftests/bats/helpers/vm.bash"

MIB=1048576

# wait_until SECONDS COMMAND... : poll COMMAND every half second until it
# succeeds; fail with the command named once the deadline passes, or at
# once when COMMAND returns 3 (what it waits for can no longer happen). For
# the harness's own waits; an assertion waits with await (verdict.bash).
wait_until() {
	local secs=$1 end
	shift
	end=$((SECONDS + secs))
	until "$@"; do
		[ $? -eq 3 ] && return 1
		if [ "$SECONDS" -ge "$end" ]; then
			echo "wait_until: '$*' still false after ${secs}s" >&2
			return 1
		fi
		sleep 0.5
	done
}

# smaps_field PID FIELD: one field of /proc/PID/smaps_rollup in KiB, read
# where the process runs (the host, or the test host).
smaps_field() {
	local out
	out=$(where_sh "cat /proc/$1/smaps_rollup") || return 1
	awk -v f="$2:" '$1 == f { print $2; found = 1 } END { exit !found }' <<<"$out"
}

# await_release TAGS PID BEFORE KIB [SECS]: the VMM's RSS falls from BEFORE
# to BEFORE - KIB or below within SECS (60): what the host gets back
# arrives after the guest's side is done (a device may batch its releases,
# free page reporting comes in rounds), so it is waited for, never read
# once. RSS_AFTER is the last reading.
await_release() {
	local tags=$1 pid=$2 before=$3 kib=$4 secs=${5:-60}
	await "$secs" "$tags" "the VMM's RSS falls from $before KiB by >= $kib KiB (to <= $((before - kib)) KiB)" \
		"smaps_field $pid Rss" -le $((before - kib))
	local rc=$?
	RSS_AFTER=$AWAITED
	return "$rc"
}

# set_target MIB: a balloon of MIB MiB asked for, no wait; the harness
# remembers it as the last target (vm_resize's tags).
set_target() {
	vmm_balloon_set "$1" || return 1
	vm_state_set target "$1"
}

# vm_resize MIB [SECONDS]: ask for a balloon of MIB MiB and wait (120 s by
# default) until the device's `actual` says the driver got there: a check
# of the driver (R-4 when it inflates, R-14), or of the device when its
# config space does not hold the target (num_pages) the host asked for.
# With BALLAST_TRACE_DIR set, each poll also records the time, target,
# `actual` and the VMM's Rss there, one CSV per resize
# (selftests/report/README.md), for the conformance report's plots.
vm_resize() {
	local mib=$1 secs=${2:-120} tags=R-14 from reader=vm_actual_reading pages
	# The last target asked for says whether this inflates: cheaper than
	# asking for `actual` (a round trip to a nested VMM).
	from=$(vm_state_get target 2>/dev/null) || from=0
	[ "$mib" -gt "$from" ] && tags="R-4, R-14"
	if ! set_target "$mib"; then
		verdict_fail control "$VMM takes a balloon of $mib MiB (its control plane refused it)" ""
		return 1
	fi
	[ -z "${BALLAST_TRACE_DIR:-}" ] || reader=$(trace_start "$mib") || return 1
	if verdict_wait "$secs" "$reader" = "$mib"; then
		verdict_record check pass "$tags" "actual reaches $mib MiB (from a target of $from)" "$AWAIT_SERIES"
		[ -z "${BALLAST_TRACE_DIR:-}" ] || trace_tail "$reader"
		return 0
	fi
	pages=$(vm_devcfg num_pages 2>/dev/null) || pages=
	if [ -n "$pages" ] && [ "$pages" != $((mib * MIB / 4096)) ]; then
		verdict_fail "D: num_pages is the target" "the device's num_pages is $pages, not the $((mib * MIB / 4096)) pages of the $mib MiB balloon asked for" "$AWAIT_SERIES"
	else
		verdict_fail "$tags" "actual reaches $mib MiB (from a target of $from) within ${secs}s; the device's num_pages is ${pages:-unreadable}" "$AWAIT_SERIES"
	fi
	vm_balloon_postmortem
	return 1
}

# trace_start MIB: a trace file for this resize; prints the reader that
# fills it, one sample a call (trace_reading).
trace_start() {
	local slug csv n=1 pid
	slug=$(tr 'A-Z' 'a-z' <<<"${BATS_TEST_DESCRIPTION:-resize}" | sed -E 's/[^a-z0-9]+/-/g; s/^-+//; s/-+$//')
	mkdir -p "$BALLAST_TRACE_DIR"
	while [ -e "$BALLAST_TRACE_DIR/$slug--$n.csv" ]; do n=$((n + 1)); done
	csv=$BALLAST_TRACE_DIR/$slug--$n.csv
	echo "${BATS_TEST_DESCRIPTION:-resize}: balloon to $1 MiB" >"${csv%.csv}.title"
	echo "t_s,target_mib,actual_mib,rss_kib" >"$csv"
	pid=$(vm_pid) || return 1
	echo "trace_reading $csv $EPOCHREALTIME $1 $pid"
}

# trace_reading CSV START MIB PID: one sample (seconds since START, the
# target, `actual`, the VMM's Rss) appended to CSV; prints `actual`.
trace_reading() {
	local actual rss
	actual=$(vm_balloon_actual) || actual=
	rss=$(smaps_field "$4" Rss) || rss=
	printf '%.2f,%s,%s,%s\n' "$(bc <<<"$EPOCHREALTIME - $2")" "$3" "$actual" "$rss" >>"$1"
	[ -n "$actual" ] || { vm_wait_status; return; }
	echo "$actual"
}

# trace_tail READER: two more seconds of samples once `actual` arrived:
# the host's release lags it.
trace_tail() {
	local i
	for i in 1 2 3 4; do
		sleep 0.5
		$1 >/dev/null 2>&1
	done
}

# Touch most of the guest's free RAM (tmpfs pages), then free it, so the
# pages the balloon takes are backed on the host and releasing them shows.
vm_touch_and_free() {
	vm_exec 'avail=$(awk "/MemAvailable/ { print int(\$2 / 1024) }" /proc/meminfo)
		dd if=/dev/zero of=/tmp/fill bs=1M count=$((avail - 48)) 2>&1 | tail -n 1
		rm /tmp/fill'
}

# checker_start [MIB]: ballast_checker fills MIB MiB (default: most of the
# guest's RAM) with a known pattern and keeps every other page, so each page
# the balloon can take has live data on both sides. Prints how many pages it
# holds. It runs until checker_stop: in a one-guest file that sets
# CHECKER_PER_TEST, the teardown's, so that no checker holds its memory
# through the next test; elsewhere it holds data for the file's life.
checker_start() {
	[ -z "${CHECKER_PER_TEST:-}" ] || : >"$BATS_FILE_TMPDIR/checker-started"
	# The pid is the checker's own (sh execs it), written before it runs.
	vm_exec "avail=\$(awk '/MemAvailable/ { print int(\$2 / 1024) }' /proc/meminfo)
		rm -f /tmp/checker.pid
		setsid sh -c 'echo \$\$ >/tmp/checker.pid; exec ballast_checker \"\$0\"' ${1:-\$((avail - 16))} \
			</dev/null >/tmp/checker.out 2>&1 &" || return 1
	# Ready, or gone (OOM-killed, a zombie or reaped): no wait for one
	# that will not come.
	wait_until 120 vm_exec 'grep -q ready /tmp/checker.out ||
		{ [ -s /tmp/checker.pid ] &&
		  ! grep -qE "^State:[[:space:]]+[^Z]" /proc/$(cat /tmp/checker.pid)/status 2>/dev/null; }' ||
		return 1
	vm_exec 'cat /tmp/checker.out; grep -q ready /tmp/checker.out ||
		{ echo "ballast_checker is gone:"; dmesg | grep -iE "out of memory|killed process" | tail -n 3; false; }'
}

# checker_verify: the checker re-reads every page it holds; prints its
# verdict, status 0 only for "intact".
checker_verify() {
	vm_exec 'kill -USR1 $(pidof ballast_checker)' || return 1
	wait_until 60 vm_exec 'grep -qE "intact|corrupt" /tmp/checker.out' || return 1
	local out
	out=$(vm_exec 'cat /tmp/checker.out') || return 1
	echo "$out"
	[[ $out == *intact* ]]
}

# checker_stop: the checker a test started ends, its memory free for the
# next test; nothing to do when no checker was started on this guest.
checker_stop() {
	[ -e "${BATS_FILE_TMPDIR:-}/checker-started" ] || return 0
	rm -f "$BATS_FILE_TMPDIR/checker-started"
	vm_exec 'kill $(pidof ballast_checker) 2>/dev/null; true' || return 1
	wait_until 30 vm_exec '! pidof ballast_checker >/dev/null'
}

# balloon_cycles N MIB: inflate to MIB and back to 0, N times, each step
# awaited until the driver's `actual` says it is done. Not traced: a trace
# costs two more round trips a poll, which doubled a 20-cycle run nested,
# and 40 plots of one workload say no more than the first.
balloon_cycles() {
	local i BALLAST_TRACE_DIR=
	for ((i = 1; i <= $1; i++)); do
		vm_resize "$2" && vm_resize 0 || return 1
	done
}

# inflate_releases MIB PERCENT [TAGS]: touch and free most of the guest's
# RAM, inflate the balloon to MIB and wait until the VMM's RSS has fallen
# by PERCENT% of it (a check of TAGS, "D: release" by default). RSS_BEFORE
# and RSS_AFTER hold what was read. The balloon stays at MIB.
inflate_releases() {
	local pid
	vm_touch_and_free >/dev/null || return 1
	pid=$(vm_pid) || return 1
	RSS_BEFORE=$(smaps_field "$pid" Rss) || return 1
	vm_resize "$1" 300 || return 1
	await_release "${3:-D: release}" "$pid" "$RSS_BEFORE" $(($1 * 1024 * $2 / 100))
}
