#!/bin/bash
# The conformance run for one balloon DRIVER: the driver suite
# (selftests/bats/driver/*.bats) under each guest kernel, on ballast-vmm
# with its referee on. Here the driver is the subject and the device is
# trusted: a failed R-n assertion is the driver's deviation; a failed D-n
# assertion (the referee's own device) or a broken harness is an error of
# the run, never the driver's. bats' TAP on stdout, a cell per kernel under
# REPORT_DIR/runs/<driver>-<kernel>/ (meta, JUnit, checks.jsonl), then the
# report (selftests/report/mkdriver.py) in REPORT_DIR. Exit status 1 if a
# test failed, or failed once and passed on a fresh guest; skips never
# fail it; 2 on bad input, with one line on stderr, before anything boots.
#
#   selftests/conformance-driver.sh DRIVER          # virtio_balloon or ballast.ko
#   selftests/conformance-driver.sh --check DRIVER  # only validate DRIVER and the kernels
#
#   CONFORMANCE_KERNELS  guest kernels (cloud generic 6.12 7); by default
#                        those built under build/images/ among generic
#                        (6.1), 6.12 and 7 (make images-all builds them)
#   CONFORMANCE_DRIVER_FILES  the driver suite files to run (names without
#                        .bats; default all of selftests/bats/driver/)
#   REPORT_DIR           build/report/driver-<DRIVER>
#   CONFORMANCE_JOBS     cells at once (default: one a kernel)
#   CONFORMANCE_CELL_TIMEOUT  as in selftests/conformance.sh
#
# The cells are selftests/conformance.sh's (selftests/cells.bash): a test
# host per cell where ballast-vmm runs nested, the time limit, checks.jsonl
# and the retry of a failed test on a fresh guest.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
usage="usage: selftests/conformance-driver.sh [--check] DRIVER (virtio_balloon or ballast.ko)"
only_check=
if [ "${1:-}" = --check ]; then
	only_check=1
	shift
fi
[ $# -eq 1 ] || { echo "$usage" >&2; exit 2; }
driver=$1
case $driver in
virtio_balloon) vm_driver=virtio_balloon ;;
ballast.ko) vm_driver=ballast ;;
*) echo "unknown DRIVER '$driver' (virtio_balloon or ballast.ko)" >&2; exit 2 ;;
esac
for k in ${CONFORMANCE_KERNELS:-}; do
	case $k in
	cloud | generic | 6.12 | 7) ;;
	*) echo "CONFORMANCE_KERNELS: unknown guest kernel '$k' (cloud, generic, 6.12 or 7)" >&2; exit 2 ;;
	esac
done
bats_dir=selftests/bats
read -r -a suites <<<"${CONFORMANCE_DRIVER_FILES:-$(cd "$bats_dir/driver" && ls -- *.bats | sed 's/\.bats$//' | xargs)}"
for f in "${suites[@]}"; do
	[ -r "$bats_dir/driver/$f.bats" ] || {
		echo "CONFORMANCE_DRIVER_FILES: no $bats_dir/driver/$f.bats" >&2
		exit 2
	}
done
[ -z "$only_check" ] || exit 0

vmm=ballast-vmm
BUILD=${BUILD:-$PWD/build}
export BALLAST_ROOT=$PWD BALLAST_BUILD=$BUILD VMM=$vmm
cell_limit=${CONFORMANCE_CELL_TIMEOUT:-2400}
report=${REPORT_DIR:-$BUILD/report/driver-$driver}
jobs=${CONFORMANCE_JOBS:-}
[[ -z $jobs || $jobs =~ ^[1-9][0-9]*$ ]] || { echo "CONFORMANCE_JOBS: '$jobs' is not a positive number" >&2; exit 2; }

# shellcheck source=bats/helpers/lib.bash
source "$bats_dir/helpers/lib.bash" || exit 2
# shellcheck source=cells.bash
source selftests/cells.bash || exit 2
if declare -F vmm_check >/dev/null && ! why=$(vmm_check 2>&1); then
	echo "1..1"
	echo "ok 1 - $driver on $vmm # SKIP $why"
	exit 0
fi
kernels=${CONFORMANCE_KERNELS:-$(conformance_kernels generic 6.12 7)}
if [ -z "$kernels" ]; then
	echo "no guest image built among generic, 6.12 and 7 under $BUILD/images: make images (make images-all for 6.12 and 7)" >&2
	exit 2
fi
where=$(ballast_where) || exit 2
# One job a kernel by default: the cells take about as long each, and with
# fewer jobs than cells the last runs alone on an idle machine (3 kernels
# on 2 CPUs: 21.5 min at 2 jobs).
[ -n "$jobs" ] || jobs=$(wc -w <<<"$kernels")

mkdir -p "$report"
cells_init
for kernel in $kernels; do
	cell_bats "$report/runs/$driver-$kernel" "$kernel" "$driver" "$vm_driver" "" \
		"${suites[@]/#/$bats_dir/driver/}" || exit 2
done
cells_wait

version=()
if declare -F vmm_version >/dev/null; then
	v=$(vmm_version 2>/dev/null | head -n 1)
	[ -z "$v" ] || version=(--vmm-version "$v")
fi
if selftests/report/mkdriver.py --driver "$driver" "${version[@]}" --out "$report" "${runs[@]}" >&2; then
	echo "# $driver conformance report: $report/report.md (and report.html)"
	sed 's/^/# /' "$report/summary.txt" 2>/dev/null
fi
# A test that failed once and passed on a fresh guest is a finding too.
intermittent=$(python3 -c 'import json, sys
for t in json.load(open(sys.argv[1])).get("intermittent", []): print(t)' "$report/verdicts.json" 2>/dev/null)
while IFS= read -r t; do
	[ -n "$t" ] || continue
	echo "not ok - $driver: intermittent (failed 1 of 2 tries): $t"
	rc=1
done <<<"$intermittent"
exit "$rc"
