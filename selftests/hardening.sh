#!/bin/bash
# make hardening: ballast-vmm built with ASan + UBSan (build/vmm-asan/) serves
# live guests in the test host through the boot and balloon suites and the
# api-socket abuse suite. A sanitizer report fails the run, one printed as
# the VMM exits (LeakSanitizer) included: every report goes to a file in the
# test host, and the files are read before it stops.
#
#   HARDENING_FILES   suite files (default: boot balloon ballast-vmm/api-socket)
#   HARDENING_VMM     the sanitizer build to run (default build/vmm-asan/;
#                     selftests/mutants/leak.sh points it at a leaking one)
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
BUILD=${BUILD:-$PWD/build}
export BALLAST_ROOT=$PWD BALLAST_BUILD=$BUILD VMM=ballast-vmm
asan_vmm=$(realpath -- "${HARDENING_VMM:-$BUILD/vmm-asan/ballast-vmm}")
reports=/tmp/ballast-sanitizers	# in the test host
read -r -a files <<<"${HARDENING_FILES:-boot balloon ballast-vmm/api-socket}"

if [ ! -x "$asan_vmm" ]; then
	echo "no $asan_vmm: run make vmm-asan first" >&2
	exit 2
fi
# shellcheck source=bats/helpers/lib.bash
source selftests/bats/helpers/lib.bash || exit 2
if [ "$(ballast_where)" != nested ]; then
	echo "# ballast-vmm runs directly here: the reports go to the VMM's log"
	reports=$(mktemp -d /tmp/ballast-sanitizers.XXXXXX)
fi

# The control client (ballast-vmm ctl) runs from the same binary and is
# checked as well. Each process writes <tool>.<pid> on a report.
export BALLAST_VMM="env ASAN_OPTIONS=log_path=$reports/asan:detect_leaks=1 \
UBSAN_OPTIONS=log_path=$reports/ubsan:print_stacktrace=1 $asan_vmm"

if ! ldd "$asan_vmm" | grep libasan >/dev/null; then
	echo "$asan_vmm is not an ASan build" >&2
	exit 2
fi
echo "# ballast-vmm under test: $asan_vmm (ASan + UBSan)"
rc=0
if [ "$(ballast_where)" = nested ]; then
	testhost_share || { echo "not ok - the nested test host did not come up"; exit 1; }
	th_sh "mkdir -p $reports" || exit 1
fi
paths=()
for f in "${files[@]}"; do paths+=("selftests/bats/$f.bats"); done
# A limit on the whole run rather than bats' per-test countdown, which can
# leave its output pipe held (selftests/conformance.sh says how).
timeout -k 30 "${HARDENING_TIMEOUT:-1800}" bats --tap --timing "${paths[@]}" || rc=1

# Every report the sanitizers wrote, from the VMMs and the control clients.
if [ "$(ballast_where)" = nested ]; then
	found=$(th_sh "cat $reports/* 2>/dev/null")
else
	found=$(cat "$reports"/* 2>/dev/null)
fi
if [ -n "$found" ]; then
	echo "not ok - sanitizer reports from ballast-vmm:"
	sed 's/^/# /' <<<"$found"
	rc=1
else
	echo "# no sanitizer report from any ballast-vmm or ballast-vmm ctl process"
fi
[ "$(ballast_where)" = nested ] && testhost_stop
exit "$rc"
