#!/bin/bash
# shellcheck disable=SC2016 # checks pass eval single-quoted text on purpose
# SPDX-License-Identifier: MIT
# test_mkdriver.sh: mkdriver.py on the driver suite's records from real
# bats (fixtures/driver.bats with the suite's verdict.bash) under two guest
# kernels: a failed R-check deviates under its kernel only, a harness error
# or a failed device check is an error and never a deviation, a clause
# never asserted under a kernel is not exercised there, a failure carries
# the referee's log and the guest kernel's; bad usage; mkindex.py does not
# read a driver's report as a VMM's. TAP; exit 1 if a check failed.
# MKDRIVER=PATH tests another generator.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
MKDRIVER=${MKDRIVER:-$here/mkdriver.py}
MKINDEX=${MKINDEX:-$here/mkindex.py}
fx=$here/fixtures
# shellcheck source=tap_check.bash
source "$here/tap_check.bash"

# run_cell KERNEL LABEL KVER: the fixture under FX_KERNEL=KERNEL into
# $tmp/LABEL, as selftests/cells.bash makes a cell.
run_cell() {
	local dir=$tmp/$2 _
	mkdir -p "$dir/junit"
	FX_KERNEL=$1 BALLAST_CHECK_LOG=$dir/checks.jsonl BALLAST_RETRY=1 BATS_TEST_TIMEOUT='' \
		timeout -k 5 60 bats --report-formatter junit --output "$dir/junit" "$fx/driver.bats" >/dev/null 2>&1
	for _ in $(seq 100); do
		grep -q '</testsuites>' "$dir/junit/report.xml" 2>/dev/null && break
		sleep 0.1
	done
	printf 'vmm=ballast-vmm\ndriver=ballast.ko\nkernel=%s\noffers="stats_vq free_page_hint"\n' "$3" >"$dir/meta"
}
run_cell a ballast.ko-generic "6.1.0-57-amd64 (generic)"
run_cell b ballast.ko-6.12 "6.12.48+deb13-amd64 (6.12)"
out=$tmp/report/driver-ballast.ko
md=$out/report.md
export html=$out/report.html
# row CLAUSE: its row of report.md's matrix.
row() { grep -m1 -F "| $1 |" "$md"; }
row_is() {
	echo "row $1: $(row "$1")"
	[ "$(row "$1")" = "$2" ]
}

check "mkdriver.py exits 0 on two kernels' runs" \
	"$MKDRIVER" --driver ballast.ko --date 2025-01-31T14:05Z --out "$out" "$tmp/ballast.ko-generic" "$tmp/ballast.ko-6.12"
check "summary: one line per kernel, its R-clauses counted" \
	eval 'has "$out/summary.txt" "Linux 6.1.0-57-amd64 (generic) ballast.ko: 5 conform, 0 deviate, 1 not exercised, 2 in error" &&
	      has "$out/summary.txt" "Linux 6.12.48+deb13-amd64 (6.12) ballast.ko: 5 conform, 1 deviate, 2 not exercised" &&
	      [ "$(head -n 2 "$md" | tail -n 1)" = "" ] && has "$md" "- Linux 6.1.0-57-amd64 (generic) ballast.ko: 5 conform"'
check "a failed R-check deviates under its kernel only (2 of 2 tries), and is named with it" \
	eval 'row_is R-12 "| R-12 | conforms | **deviates (2 of 2)** |" &&
	      has "$out/summary.txt" "Deviates from: R-12 (6.12.48+deb13-amd64 (6.12))."'
check "a driver statement in words (R: kernel log clean) is a driver row of its own, after the R-n" \
	eval 'row_is "R: kernel log clean" "| R: kernel log clean | conforms | conforms |" &&
	      [ "$(grep -n -F "| R: kernel log clean |" "$md" | cut -d: -f1)" -gt "$(grep -n -F "| R-18 |" "$md" | cut -d: -f1)" ]'
check "a harness error is an error, not a deviation" \
	eval 'row_is R-17 "| R-17 | **error** | conforms |" && row_is R-18 "| R-18 | conforms | conforms |" &&
	      has "$md" "the agent timed out"'
check "a failed device check (the trusted referee's) is an error of the referee or harness, never the driver's, and gives no D row" \
	eval 'row_is R-14 "| R-14 | **error** | conforms |" && hasnt "$md" "| D: num_pages" &&
	      has "$md" "not the driver'"'"'s (the referee or the harness): \[D: num_pages is the target\]"'
check "a clause never asserted under a kernel is not exercised there (a skip: the driver declined the feature; a name tag alone)" \
	eval 'row_is R-23 "| R-23 | conforms | not exercised |" && row_is R-24 "| R-24 | not exercised | not exercised |" &&
	      has "$md" "ballast.ko does not accept FREE_PAGE_HINT"'
check "a deviation shows its readings, the referee's log and the guest kernel's (WARN first)" \
	eval 'sed -n "/^## Deviations/,/^## Harness/p" "$md" >"$tmp/dev" &&
	      has "$tmp/dev" "### R-12, Linux 6.12.48+deb13-amd64 (6.12): FAIL (2 of 2 tries)" &&
	      has "$tmp/dev" "r12_violations 1, first PFN 0x1234" &&
	      has "$tmp/dev" "referee: R-12 broken: 1 page(s)" &&
	      has "$tmp/dev" "WARNING: CPU: 0 PID: 42 at drivers/virtio/virtio_balloon.c:123" &&
	      [ "$(grep -c "^### " "$tmp/dev")" -eq 1 ]'
check "report.html: the same cells and evidence" \
	eval 'has "$html" "<td class=\"FAIL\" data-verdict=\"deviates\" data-kernel=\"ballast.ko-6.12\">deviates (2 of 2)</td>" &&
	      has "$html" "<td class=\"skip\" data-verdict=\"not exercised\" data-kernel=\"ballast.ko-6.12\">not exercised</td>" &&
	      has "$html" "<td class=\"error\" data-verdict=\"error\" data-kernel=\"ballast.ko-generic\">error</td>" &&
	      has "$html" "referee: R-12 broken" && has "$html" "WARNING: CPU: 0 PID: 42"'
check "verdicts.json: per kernel per clause, the harness errors, no intermittent" \
	python3 -c 'import json, sys
v = json.load(open(sys.argv[1]))
assert v["subject"] == "driver" and v["driver"] == "ballast.ko", v
assert v["clauses"]["R-12"]["by_kernel"] == {"ballast.ko-generic": "conforms", "ballast.ko-6.12": "deviates"}, v["clauses"]["R-12"]
assert v["clauses"]["R-14"]["by_kernel"]["ballast.ko-generic"] == "error"
assert v["intermittent"] == [] and v["harness_errors"] >= 2, v' "$out/verdicts.json"
check "bad usage exits 2 with one line: no RUNDIR, an unknown driver, a run of another driver" \
	eval '"$MKDRIVER" --driver ballast.ko --out "$tmp/x" 2>"$tmp/e"; [ $? -eq 2 ] && [ "$(wc -l <"$tmp/e")" -eq 1 ] &&
	      "$MKDRIVER" --driver foo --out "$tmp/x" "$tmp/ballast.ko-6.12" 2>"$tmp/e"; [ $? -eq 2 ] && [ "$(wc -l <"$tmp/e")" -eq 1 ] &&
	      "$MKDRIVER" --driver virtio_balloon --out "$tmp/x" "$tmp/ballast.ko-6.12" 2>"$tmp/e"; [ $? -eq 2 ] && has "$tmp/e" "meta says driver=ballast.ko" &&
	      [ ! -e "$tmp/x/report.md" ]'
check "mkindex.py does not read a driver report (build/report/driver-*) as a VMM's" \
	eval 'mkdir -p "$tmp/report/qemu" && cp "$fx/index-qemu.json" "$tmp/report/qemu/verdicts.json" &&
	      "$MKINDEX" "$tmp/report" 2>"$tmp/e" && hasnt "$tmp/report/index.md" "driver-" && [ ! -s "$tmp/e" ]'

tap_end
