#!/bin/bash
# SPDX-License-Identifier: MIT
# soak.sh VMM RUNS: the conformance suite against VMM, RUNS times over, to
# see whether its verdict holds still (make soak VMM=... RUNS=N). Run K
# reports into $BUILD/soak/VMM/run-K/ (its TAP in tap.log there); then
# selftests/report/soak.py compares the runs' verdicts.json into
# $BUILD/soak/VMM/history.json and soak.md, and prints the table.
#
# By default each run is make check's cut (CONFORMANCE_QUICK=1, one cell at
# a time, Linux's driver only where the VMM runs nested), so a soak
# repeats what make check repeats; CONFORMANCE_FULL=1 runs the full
# matrix each time instead. Other CONFORMANCE_* settings pass through.
#
# Exit status: soak.py's: 0 steady, 1 a clause flipped or a test passed
# fewer than RUNS times (a run that made no verdicts.json counts as that);
# 2 on bad input (one line on stderr, nothing run).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2

if [ $# -ne 2 ]; then
	echo "usage: selftests/soak.sh VMM RUNS" >&2
	exit 2
fi
vmm=$1 runs=$2
if ! [[ $runs =~ ^[1-9][0-9]*$ ]]; then
	echo "soak.sh: RUNS must be a positive integer, not '$runs'" >&2
	exit 2
fi
# The name becomes a path under $BUILD/soak: no slashes or dots first.
if ! [[ $vmm =~ ^[A-Za-z0-9][A-Za-z0-9_.-]*$ ]] || [ ! -r "selftests/bats/adapters/$vmm.bash" ]; then
	echo "soak.sh: unknown VMM '$vmm' (no selftests/bats/adapters/$vmm.bash)" >&2
	exit 2
fi
BUILD=${BUILD:-$PWD/build}
export BUILD BALLAST_ROOT=$PWD

if [ "${CONFORMANCE_FULL:-}" = 1 ]; then
	unset CONFORMANCE_QUICK
else
	# make check's cut, as selftests/run.sh's conformance() runs it.
	where=$(VMM=$vmm bash -c 'source selftests/bats/helpers/where.bash && ballast_where') || exit 2
	export CONFORMANCE_QUICK=1 CONFORMANCE_JOBS=${CONFORMANCE_JOBS:-1}
	[ "$where" = nested ] && export CONFORMANCE_DRIVERS=${CONFORMANCE_DRIVERS:-virtio_balloon}
fi

out=$BUILD/soak/$vmm
# A longer soak before this one would leave its later runs behind.
rm -rf "$out"/run-*
mkdir -p "$out" || exit 2
verdicts=() missing=0
for k in $(seq "$runs"); do
	dir=$out/run-$k
	mkdir -p "$dir"
	start=$SECONDS
	# The suite's own status is 1 when a test failed; the verdicts say
	# more, and soak.py judges them.
	REPORT_DIR=$dir selftests/conformance.sh "$vmm" >"$dir/tap.log" 2>&1
	passed=$(grep -c '^ok ' "$dir/tap.log" | tr -d '\n')
	skipped=$(grep -ci '^ok .* # skip' "$dir/tap.log" | tr -d '\n')
	failed=$(grep -c '^not ok ' "$dir/tap.log" | tr -d '\n')
	line="# soak $vmm: run $k of $runs: $((passed - skipped)) passed, $failed failed"
	[ "$skipped" -eq 0 ] || line+=", $skipped skipped"
	if [ -s "$dir/verdicts.json" ]; then
		verdicts+=("$dir/verdicts.json")
	else
		missing=$((missing + 1))
		line+=", no verdicts.json (see $dir/tap.log)"
	fi
	echo "$line ($((SECONDS - start)) s)"
done

if [ "${#verdicts[@]}" -eq 0 ]; then
	echo "# soak $vmm: no run made a verdicts.json; nothing to compare"
	exit 1
fi
selftests/report/soak.py --vmm "$vmm" --out "$out" "${verdicts[@]}"
rc=$?
if [ "$rc" -eq 0 ] && [ "$missing" -gt 0 ]; then
	echo "# soak $vmm: $missing of $runs runs made no verdicts.json: not steady"
	rc=1
fi
exit "$rc"
