#!/bin/bash
# The conformance run for one VMM: every suite file under each driver and
# guest kernel, bats' TAP on stdout, JUnit and resize traces per cell under
# REPORT_DIR/runs/<driver>-<kernel>/ with each assertion's record
# (checks.jsonl, selftests/bats/helpers/verdict.bash), then the verdict
# (selftests/report/) in REPORT_DIR. Exit status 1 if a test failed, or
# failed once and passed when run again on a fresh guest (intermittent);
# skips never fail it.
#
#   selftests/conformance.sh VMM
#
#   CONFORMANCE_DRIVERS  "virtio_balloon ballast.ko" (default): Linux's own
#                        driver, then ballast.ko bound in its place
#   CONFORMANCE_KERNELS  guest kernels (cloud generic 6.12 7); by default one
#                        per generation of Linux's driver that is built
#                        under build/images/: generic (6.1), 6.12 and 7
#                        (Debian 13's 7.x, from trixie-backports). cloud
#                        carries the same 6.1 driver as generic and differs
#                        only in how it finds CPUs (ACPI only, no MP table)
#   CONFORMANCE_QUICK=1  make check's cut: one kernel (cloud, the fastest to
#                        boot, where the VMM offers ACPI; else generic),
#                        ballast.ko runs module.bats only, no resize traces
#   CONFORMANCE_FILES    the suite files to run under Linux's driver (names
#                        without .bats; default all of them)
#   REPORT_DIR           build/report/<VMM>
#   INDEX_DIR            the directory whose index of every VMM's report is
#                        remade after the run (selftests/report/mkindex.py:
#                        index.md, index.html): build/report when REPORT_DIR
#                        is the default, none otherwise
#   CONFORMANCE_CELL_TIMEOUT  seconds one bats run (one driver and kernel)
#                        may take before it is ended (2400)
#   CONFORMANCE_JOBS     cells (bats runs) at once, each with its own test
#                        host or guests (default: the CPUs, `nproc`); with
#                        more than one, a cell's TAP is printed whole when
#                        it ends
#
# A full run (neither CONFORMANCE_QUICK nor CONFORMANCE_FILES) ends with the
# VMM's own suites, selftests/bats/<VMM>/*.bats, outside the verdict.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
vmm=${1:?usage: selftests/conformance.sh VMM}
BUILD=${BUILD:-$PWD/build}
export BALLAST_ROOT=$PWD BALLAST_BUILD=$BUILD VMM=$vmm
# No BATS_TEST_TIMEOUT by default: bats 1.8.2's per-test countdown can
# orphan a `sleep` that holds bats' output pipe open for the whole timeout
# after a test that ends at once (a skip). Each bats run gets a limit here
# instead; every wait inside the tests has its own.
cell_limit=${CONFORMANCE_CELL_TIMEOUT:-2400}
report=${REPORT_DIR:-$BUILD/report/$vmm}
index=${INDEX_DIR-}
[ -n "${REPORT_DIR:-}" ] || index=$BUILD/report
bats_dir=selftests/bats

if [ ! -r "$bats_dir/adapters/$vmm.bash" ]; then
	echo "unknown VMM '$vmm': there is no $bats_dir/adapters/$vmm.bash" \
		"(adapters: $(cd "$bats_dir/adapters" && ls -- *.bash | sed 's/\.bash$//' | xargs))" >&2
	exit 2
fi
# The adapter says what the VMM offers and whether it can run here at all.
# shellcheck source=bats/helpers/lib.bash
source "$bats_dir/helpers/lib.bash" || exit 2
# shellcheck source=cells.bash
source selftests/cells.bash || exit 2
if declare -F vmm_check >/dev/null && ! why=$(vmm_check 2>&1); then
	echo "1..1"
	echo "ok 1 - $vmm # SKIP $why"
	exit 0
fi

kernels=${CONFORMANCE_KERNELS:-}
if [ -z "$kernels" ]; then
	candidates="generic 6.12 7"
	# make check's cut: Debian's cloud kernel where it can boot (it finds
	# CPUs through ACPI only).
	if [ "${CONFORMANCE_QUICK:-}" = 1 ]; then
		candidates=generic
		offers acpi && candidates="cloud generic"
	fi
	# shellcheck disable=SC2086 # a list of names
	kernels=$(conformance_kernels $candidates)
	[ "${CONFORMANCE_QUICK:-}" = 1 ] && read -r kernels _ <<<"$kernels"
fi
drivers=${CONFORMANCE_DRIVERS:-virtio_balloon ballast.ko}

read -r -a linux_suites <<<"${CONFORMANCE_FILES:-boot balloon features integrity poison hugepages ceiling reboot}"
# boot.bats checks the harness and the VMM's boot, which no balloon driver
# changes: Linux's driver's cells run it.
ballast_suites=(module)
[ "${CONFORMANCE_QUICK:-}" = 1 ] || ballast_suites=(balloon features integrity module reboot)
linux_suites=("${linux_suites[@]/#/$bats_dir/}") ballast_suites=("${ballast_suites[@]/#/$bats_dir/}")

jobs=${CONFORMANCE_JOBS:-$(nproc)}
[[ $jobs =~ ^[1-9][0-9]*$ ]] || { echo "CONFORMANCE_JOBS: '$jobs' is not a positive number" >&2; exit 2; }

where=$(ballast_where) || exit 2

cells_init

for kernel in $kernels; do
	for driver in $drivers; do
		case $driver in
		virtio_balloon) files=("${linux_suites[@]}") vm_driver=virtio_balloon ;;
		ballast.ko) files=("${ballast_suites[@]}") vm_driver=ballast ;;
		*) echo "unknown driver '$driver' (virtio_balloon, ballast.ko)" >&2; exit 2 ;;
		esac
		run=$report/runs/$driver-$kernel
		# Traces cost two more round trips a poll: the full run's only.
		traces=$run/traces
		[ "${CONFORMANCE_QUICK:-}" = 1 ] && traces=
		cell_bats "$run" "$kernel" "$driver" "$vm_driver" "$traces" "${files[@]}" || exit 2
	done
done

# The VMM's own suites (selftests/bats/<vmm>/: what it does beyond the
# spec, e.g. ballast-vmm's auto-ballooning and hint release), once, with
# Linux's driver and the first guest kernel; not part of the verdict.
if [ "${CONFORMANCE_QUICK:-}" != 1 ] && [ -z "${CONFORMANCE_FILES:-}" ] && [ -d "$bats_dir/$vmm" ]; then
	read -r first_kernel _ <<<"$kernels"
	mkdir -p "$report/runs"
	cell "$report/runs/own.tap" "# $vmm's own suites, $first_kernel guest kernel" \
		env GUEST_KERNEL="$first_kernel" bats --tap --timing "$bats_dir/$vmm"/*.bats
fi

# Every cell has ended, and its JUnit is whole.
cells_wait
if [ ${#runs[@]} -gt 0 ]; then
	# The adapter may say which version of the VMM ran (one line).
	version=()
	if declare -F vmm_version >/dev/null; then
		v=$(vmm_version 2>/dev/null | head -n 1)
		[ -z "$v" ] || version=(--vmm-version "$v")
	fi
	if selftests/report/mkreport.py --vmm "$vmm" "${version[@]}" --out "$report" "${runs[@]}" >&2; then
		echo "# $vmm conformance report: $report/report.md (and report.html); $(cat "$report/summary.txt" 2>/dev/null | head -n 1)"
		# Every VMM's verdicts side by side, beside their reports; the
		# lock keeps two runs that end together from writing, last, an
		# index that misses the other's report.
		if [ -n "$index" ]; then
			if err=$(flock "$index/.index.lock" selftests/report/mkindex.py "$index" 2>&1 >/dev/null); then
				[ -z "$err" ] || echo "$err" >&2
				echo "# every VMM's verdict per clause: $index/index.md (and index.html)"
			else
				echo "# no index of the VMMs' reports: ${err##*$'\n'}"
			fi
		fi
	fi
	# A test that failed once and passed on a fresh guest is a finding
	# too: its TAP line says ok, the run fails here.
	intermittent=$(python3 -c 'import json, sys
for t in json.load(open(sys.argv[1])).get("intermittent", []): print(t)' "$report/verdicts.json" 2>/dev/null)
	while IFS= read -r t; do
		[ -n "$t" ] || continue
		echo "not ok - $vmm: intermittent (failed 1 of 2 tries): $t"
		rc=1
	done <<<"$intermittent"
fi
exit "$rc"
