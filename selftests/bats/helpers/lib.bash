# The harness without bats: paths, guests, waits, host RSS. Sourced by
# common.bash for the suites and by ci/demo.sh.
# shellcheck shell=bash

BALLAST_ROOT=${BALLAST_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)}
BALLAST_BUILD=${BALLAST_BUILD:-$BALLAST_ROOT/build}
AGENT=$BALLAST_BUILD/bin/ballast-agent
VMM=${VMM:-qemu}

# tap_comment LINE: a line for the reader: in bats' TAP stream when it
# listens (fd 3), else on stderr.
tap_comment() {
	{ echo "$1" >&3; } 2>/dev/null || echo "$1" >&2
}

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

# shellcheck source=testhost.bash
source "$BALLAST_ROOT/selftests/bats/helpers/testhost.bash"
# shellcheck source=vm.bash
source "$BALLAST_ROOT/selftests/bats/helpers/vm.bash"

MIB=1048576

# wait_until SECONDS COMMAND... : poll COMMAND every half second until it
# succeeds; fail with the command named once the deadline passes, or at
# once when COMMAND returns 3 (what it waits for can no longer happen).
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

# rss_at_most PID KIB: one unsettled read of the VMM's Rss is <= KIB.
rss_at_most() {
	local cur
	cur=$(smaps_field "$1" Rss) || return 1
	[ "$cur" -le "$2" ]
}

# rss_kib PID [FIELD]: a settled reading of Rss (or FIELD, e.g. Anonymous):
# kept once two reads a second apart agree within 1%, as Firecracker's
# suite does. Gives up after 30 reads and prints the last one.
rss_kib() {
	local pid=$1 field=${2:-Rss} prev cur i
	prev=$(smaps_field "$pid" "$field") || return 1
	for ((i = 0; i < 30; i++)); do
		sleep 1
		cur=$(smaps_field "$pid" "$field") || return 1
		if [ $(((cur > prev ? cur - prev : prev - cur) * 100)) -le "$cur" ]; then
			echo "$cur"
			return 0
		fi
		prev=$cur
	done
	echo "rss_kib: $field of $pid did not settle (last $cur KiB)" >&2
	echo "$cur"
}

# vm_resize MIB [SECONDS]: ask for a balloon of MIB MiB and wait (120 s by
# default) until the device's `actual` says the driver got there. With
# BALLAST_TRACE_DIR set, each poll also records the time, target, `actual`
# and the VMM's Rss there, one CSV per resize (selftests/report/README.md),
# for the conformance report's plots.
vm_resize() {
	local mib=$1 secs=${2:-120}
	if ! vmm_balloon_set "$mib"; then
		echo "vm_resize: $VMM refused a balloon of $mib MiB" >&2
		return 1
	fi
	if [ -n "${BALLAST_TRACE_DIR:-}" ]; then
		trace_resize "$mib" "$secs"
	else
		wait_until "$secs" vm_balloon_reached "$mib" && return 0
		echo "vm_resize: actual is $(vm_balloon_actual 2>/dev/null || echo unreadable) MiB, not $mib, after ${secs}s" >&2
		vm_balloon_postmortem
		return 1
	fi
}

# trace_resize MIB SECONDS: vm_resize's wait, recording a trace as it goes
# and for two seconds after `actual` arrives (the host's release lags it).
trace_resize() {
	local mib=$1 secs=$2 start=$EPOCHREALTIME end=$((SECONDS + $2)) pid actual rss done_at=
	local slug csv n=1
	slug=$(tr 'A-Z' 'a-z' <<<"${BATS_TEST_DESCRIPTION:-resize}" | sed -E 's/[^a-z0-9]+/-/g; s/^-+//; s/-+$//')
	mkdir -p "$BALLAST_TRACE_DIR"
	while [ -e "$BALLAST_TRACE_DIR/$slug--$n.csv" ]; do n=$((n + 1)); done
	csv=$BALLAST_TRACE_DIR/$slug--$n.csv
	echo "${BATS_TEST_DESCRIPTION:-resize}: balloon to $mib MiB" >"${csv%.csv}.title"
	echo "t_s,target_mib,actual_mib,rss_kib" >"$csv"
	pid=$(vm_pid) || return 1
	while :; do
		actual=$(vm_balloon_actual) || actual=
		rss=$(smaps_field "$pid" Rss) || rss=
		printf '%.2f,%s,%s,%s\n' "$(bc <<<"$EPOCHREALTIME - $start")" "$mib" "$actual" "$rss" >>"$csv"
		if [ "$actual" = "$mib" ]; then
			[ -n "$done_at" ] || done_at=$SECONDS
			[ $((SECONDS - done_at)) -ge 2 ] && return 0
		elif [ "$SECONDS" -ge "$end" ]; then
			echo "vm_resize: actual is ${actual:-unreadable} MiB, not $mib, after ${secs}s" >&2
			vm_balloon_postmortem
			return 1
		fi
		sleep 0.5
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
# holds.
checker_start() {
	vm_exec "avail=\$(awk '/MemAvailable/ { print int(\$2 / 1024) }' /proc/meminfo)
		setsid ballast_checker ${1:-\$((avail - 16))} </dev/null >/tmp/checker.out 2>&1 &" || return 1
	wait_until 120 vm_exec 'grep -q ready /tmp/checker.out' || return 1
	vm_exec 'cat /tmp/checker.out'
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

# inflate_and_measure MIB: touch and free most of the guest's RAM, inflate
# the balloon to MIB and print the VMM's settled RSS before and after, in
# KiB. The balloon stays at MIB.
inflate_and_measure() {
	local pid before after
	vm_touch_and_free >/dev/null || return 1
	pid=$(vm_pid) || return 1
	before=$(rss_kib "$pid") || return 1
	vm_resize "$1" 300 || return 1
	after=$(rss_kib "$pid") || return 1
	echo "$before $after"
}
