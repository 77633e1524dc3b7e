#!/bin/bash
# Run every suite `make check` covers, print each one's TAP, and close with
# one line: "N passed, N failed[, N skipped]". Exit 0 only if nothing failed.
#
#   VMMS="qemu ballast-vmm"   the VMMs that get make check's cut of their
#                             conformance run (selftests/conformance.sh,
#                             CONFORMANCE_QUICK=1): one guest kernel, every
#                             file under Linux's driver, and module.bats under
#                             ballast.ko where the VMM runs on this machine;
#                             the report in build/check/report/<vmm>/, apart
#                             from `make conformance`'s whole ones
#   SMOKE_VMMS="kvmtool"      VMMs that boot once, boot.bats alone, to keep
#                             their adapters working within the 15 minutes;
#                             `make conformance VMM=...` runs them whole
#   OWN_SUITES=""             a VMM's own suites (selftests/bats/<vmm>/
#                             <name>.bats) to run after its cut when it is in
#                             VMMS, e.g. ballast-vmm/auto; `make conformance`
#                             runs them all
#   INTEGRITY_CYCLES=10       integrity.bats' inflate/deflate cycles
#   BALLAST_TEST_HOST         direct|nested|auto, where KVM-only VMMs run
#   SUITE_TIMEOUT=1800        seconds a suite may run before it is ended
#                             and counted as a failure
#
# A VMM that cannot run here (no binary) is one skip. Three groups run side
# by side: the VMMs that run on this machine (QEMU under TCG: one core),
# those in the nested test host (one test host with one vCPU for all of
# them: the longest group, shown live), and the unit, fuzz, report and lint
# suites (about a minute). The other two groups' output follows the live
# one's.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
BUILD=${BUILD:-$PWD/build}
VMMS=${VMMS:-qemu}
SMOKE_VMMS=${SMOKE_VMMS:-}
OWN_SUITES=${OWN_SUITES-}
export BALLAST_BUILD=$BUILD BALLAST_ROOT=$PWD

case ${BALLAST_TEST_HOST:-auto} in
direct | nested | auto) ;;
*)
	echo "BALLAST_TEST_HOST must be direct, nested or auto, not '$BALLAST_TEST_HOST'" >&2
	exit 2
	;;
esac

work=$(mktemp -d /tmp/ballast-run.XXXXXX)
counts=$work/counts
export BALLAST_VM_REGISTRY=$work/vms
# Suites run in sessions of their own (run_suite): end those still running
# when we end, whatever ends us. Only this shell cleans up: a child forked
# for `cmd &` runs the traps it inherited if a signal reaches it before it
# execs, and an early version of run_suite, which killed such a child at
# once, had one remove $work under the running suites.
cleanup() {
	local dir pid
	[ "$BASHPID" = "$$" ] || return 0
	[ -f "$work/sessions" ] && end_sessions "$(paste -sd, "$work/sessions")"
	# The VMs those suites started here and had no time to stop.
	[ -f "$BALLAST_VM_REGISTRY" ] && while read -r dir; do
		pid=$(cat "$dir/wrapper.pid" 2>/dev/null) && kill -KILL -- "-$pid" 2>/dev/null
		rm -rf "$dir"
	done <"$BALLAST_VM_REGISTRY"
	testhost_stop 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

# end_sessions SID[,SID...]: INT first (bats then runs the teardowns that
# stop the VMs), KILL what is left after 10 s.
end_sessions() {
	pkill -INT -s "$1" 2>/dev/null
	for _ in $(seq 50); do
		pgrep -s "$1" >/dev/null || return 0
		sleep 0.2
	done
	pkill -KILL -s "$1" 2>/dev/null
}
trap 'exit 130' INT
trap 'exit 143' TERM

# run_suite NAME COMMAND...: run a TAP producer, echo its output, add its
# counts to $counts. A producer that fails without a failing test line (it
# crashed, or bailed out) counts as one failure. The producer writes to a
# file, not a pipe: a process it leaves behind holding its stdout (bats'
# per-test countdown can orphan a `sleep`) cannot keep us waiting for an
# end of file. It runs in a session of its own, so that after
# SUITE_TIMEOUT seconds we can show what is still running and end all of
# it.
run_suite() {
	local name=$1 rc p f s start=$SECONDS log sid tail_pid deadline
	shift
	log=$(mktemp "$work/log.XXXXXX")
	echo "# suite: $name"
	setsid "$@" >"$log" 2>&1 &
	sid=$!
	echo "$sid" >>"$work/sessions"
	tail -s 0.2 -n +1 --pid="$sid" -f "$log" &
	tail_pid=$!
	# Polled, not `wait -n`: that waits for the next job to end and may
	# miss one that already has.
	deadline=$((SECONDS + ${SUITE_TIMEOUT:-1800}))
	while kill -0 "$sid" 2>/dev/null; do
		if [ "$SECONDS" -ge "$deadline" ]; then
			suite_stop "$name" "$sid" >>"$log"
			break
		fi
		sleep 0.2
	done
	wait "$sid"
	rc=$?
	wait "$tail_pid"
	p=$(grep -Ec '^ok ' "$log")
	s=$(grep -Ec '^ok .*# (skip|SKIP)' "$log")
	f=$(grep -Ec '^not ok ' "$log")
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "not ok - $name exited with status $rc"
		f=1
	fi
	echo "$((p - s)) $f $s" >>"$counts"
	echo "# suite $name: $((p - s)) passed, $f failed, $s skipped in $((SECONDS - start))s"
}

# suite_stop NAME SID: the suite ran out of time: record what its session
# still runs (the evidence of a hang), then end all of it.
suite_stop() {
	echo "not ok - $1 still running after ${SUITE_TIMEOUT:-1800}s (SUITE_TIMEOUT); its processes:"
	ps -s "$2" -o pid,ppid,etimes,stat,args --forest | sed 's/^/# /'
	end_sessions "$2"
}

# where_of VMM: where its suites run (direct or nested).
where_of() {
	VMM=$1 bash -c "source selftests/bats/helpers/where.bash && ballast_where"
}

direct=() nested=()
for vmm in $VMMS $SMOKE_VMMS; do
	where=$(where_of "$vmm") || exit 2
	echo "# $vmm runs $where (BALLAST_TEST_HOST=${BALLAST_TEST_HOST:-auto})"
	if [ "$where" = nested ]; then nested+=("$vmm"); else direct+=("$vmm"); fi
done

# conformance VMM WHERE: its cut, or the smoke for a VMM in SMOKE_VMMS. A
# nested guest costs about five times a direct one: nested VMMs run Linux's
# driver only here (ballast.ko's module.bats under them is
# `make conformance`'s). One cell at a time: the direct group already runs
# beside the nested one.
conformance() {
	local -x CONFORMANCE_JOBS=1 REPORT_DIR=$BUILD/check/report/$1 INDEX_DIR=$BUILD/check/report
	local drivers="virtio_balloon ballast.ko"
	[ "$2" = nested ] && drivers=virtio_balloon
	if [[ " $SMOKE_VMMS " == *" $1 "* ]]; then
		CONFORMANCE_QUICK=1 CONFORMANCE_FILES=boot CONFORMANCE_DRIVERS=virtio_balloon \
			run_suite "$1 (smoke)" selftests/conformance.sh "$1"
	else
		CONFORMANCE_QUICK=1 CONFORMANCE_DRIVERS=$drivers run_suite "$1" selftests/conformance.sh "$1"
		own_suites "$1"
	fi
}

# own_suites VMM: the suites of OWN_SUITES that belong to VMM.
own_suites() {
	local s
	for s in $OWN_SUITES; do
		[ "${s%%/*}" = "$1" ] || continue
		VMM=$1 run_suite "$s" bats --tap --timing "selftests/bats/$s.bats"
	done
}

# The direct group in the background, its TAP printed once it is done,
# then the harness's own promises, checked once with the cheapest VMM: off
# the nested group's path, which sets make check's length.
(
	for vmm in "${direct[@]}"; do conformance "$vmm" direct; done
	VMM=qemu BALLAST_TEST_HOST=direct run_suite harness bats --tap --timing selftests/bats/harness.bats
	# The harness's recovery from a test host that dies under a test, on
	# a test host of its own (it panics one), once this group's core is
	# free: the nested group runs longer.
	if [ ${#nested[@]} -gt 0 ]; then
		VMM=${nested[0]} BALLAST_TEST_HOST=nested run_suite testhost \
			bats --tap --timing selftests/bats/testhost.bats
	fi
	# make bench still runs: both VMMs in a test host of its own, one
	# inflate each; nothing about speed is asserted.
	if [[ " $VMMS " == *" qemu "* && " $VMMS " == *" ballast-vmm "* ]] &&
		[ -x "$BUILD/bench/ballast-sampler" ]; then
		BENCH_SMOKE=1 run_suite bench bench/run.sh
	fi
) >"$work/direct.log" 2>&1 &
direct_pid=$!

# The suites without a VM, in the background too: off the nested path.
(
	for t in "$BUILD"/vmm/tests/test_*; do
		[ -x "$t" ] && run_suite "unit/${t##*/}" "$t"
	done
	# The same tests built with ASan + UBSan: a sanitizer report aborts the test.
	for t in "$BUILD"/vmm-asan/tests/test_*; do
		[ -x "$t" ] && run_suite "unit-asan/${t##*/}" "$t"
	done
	# A smoke run of every fuzz target (FUZZ_SECONDS each, 5 by default):
	# the seed corpus and what the fuzzer reaches from it, invariants checked.
	if ls "$BUILD"/fuzz/fuzz_* >/dev/null 2>&1; then
		run_suite fuzz vmm/fuzz/run.sh "$BUILD/fuzz" "${FUZZ_SECONDS:-5}" 1
	fi
	run_suite report selftests/report/test_mkreport.sh
	run_suite report-driver selftests/report/test_mkdriver.sh
	# make bench's sampler, on the /proc and reply texts it parses.
	[ -x "$BUILD/bench/test_sampler" ] && run_suite bench-sampler "$BUILD/bench/test_sampler"
	run_suite lint selftests/lint.sh
) >"$work/local.log" 2>&1 &
local_pid=$!


if [ ${#nested[@]} -gt 0 ]; then
	# shellcheck source=bats/helpers/lib.bash
	VMM=${nested[0]} source selftests/bats/helpers/lib.bash
	if testhost_share; then
		for vmm in "${nested[@]}"; do conformance "$vmm" nested; done
		# The nested path proven with a VMM everyone trusts: QEMU with
		# -enable-kvm inside the test host, booting the same guest.
		if [[ " $VMMS " == *" qemu "* ]]; then
			echo "# qemu runs nested (KVM inside the TCG test host)"
			VMM=qemu BALLAST_TEST_HOST=nested run_suite "qemu-nested" \
				bats --tap --timing selftests/bats/boot.bats
		fi
		testhost_stop
	else
		echo "not ok - the nested test host did not come up"
		echo "0 1 0" >>"$counts"
	fi
fi

wait "$local_pid"
cat "$work/local.log"
wait "$direct_pid"
cat "$work/direct.log"

read -r passed failed skipped < <(awk '{ p += $1; f += $2; s += $3 } END { print p + 0, f + 0, s + 0 }' "$counts")
for vmm in $VMMS $SMOKE_VMMS; do
	[ -f "$BUILD/check/report/$vmm/report.md" ] && echo "# $vmm conformance report: $BUILD/check/report/$vmm/report.md"
done
summary="$passed passed, $failed failed"
[ "$skipped" -gt 0 ] && summary+=", $skipped skipped"
echo "$summary"
[ "$failed" -eq 0 ]
