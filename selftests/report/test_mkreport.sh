#!/bin/bash
# shellcheck disable=SC2016 # checks pass eval single-quoted text on purpose
# SPDX-License-Identifier: MIT
# test_mkreport.sh: mkreport.py on fake runs. The JUnit comes from real
# bats (--report-formatter junit) running the fixtures in fixtures/: tests
# that pass, fail and skip, with clause tags, and tests that record their
# assertions with the suite's verdict helper (checks.jsonl). Then soak.py
# on hand-made verdicts.json, and mkindex.py on those of three VMMs.
# Prints TAP; exits 1 if a check failed. MKREPORT=PATH (SOAK=PATH,
# MKINDEX=PATH) tests another generator (a deliberately broken copy, to see
# the checks fail).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
MKREPORT=${MKREPORT:-$here/mkreport.py}
SOAK=${SOAK:-$here/soak.py}
MKINDEX=${MKINDEX:-$here/mkindex.py}
fx=$here/fixtures
# shellcheck source=tap_check.bash
source "$here/tap_check.bash"
# status WANT COMMAND...: COMMAND exits WANT and prints exactly one line
# on stderr.
status() {
	local want=$1 rc
	shift
	"$@" >"$tmp/stdout" 2>"$tmp/stderr"
	rc=$?
	echo "exit $rc, stderr:"
	cat "$tmp/stderr"
	[ "$rc" -eq "$want" ] || return 1
	[ "$want" -eq 0 ] || [ "$(wc -l <"$tmp/stderr")" -eq 1 ]
}
# row FILE CLAUSE: the Markdown matrix row of CLAUSE.
row() {
	awk -v c="| $2 |" 'index($0, c) == 1 && /^\| [^|]* \| [^|]*(conforms|deviates|intermittent|not offered|not exercised|error)/ { print; exit }' "$1"
}
row_is() {
	local got
	got=$(row "$1" "$2")
	echo "row $2: $got"
	[ "$got" = "$3" ]
}
# html_row FILE CLAUSE: the data-verdict of each cell of CLAUSE's row (a
# row of the matrix: it has an id).
html_row() {
	awk -v c="\"><th>$2<" '/^<tr id="clause-/ && index($0, c) { on = 1 } on && /data-verdict=/ { match($0, /data-verdict="[^"]*"/); v = v substr($0, RSTART + 14, RLENGTH - 15) " " } on && /<\/tr>/ { print v; exit }' "$1"
}
html_row_is() {
	local got
	got=$(html_row "$1" "$2")
	echo "html row $2: '$got'"
	[ "$got" = "$3 " ]
}

# junit DIR FILE.bats...: what the runner does, bats' own JUnit into
# DIR/junit. bats 1.8.2 writes report.xml from a background process that
# may still be writing when bats exits: wait for its last line. No per-test
# countdown (its orphaned `sleep` can hold bats' pipe open after a test
# that ends at once, as these do) and a limit on the whole run instead.
junit() {
	local dir=$1 _
	shift
	mkdir -p "$dir/junit"
	BATS_TEST_TIMEOUT='' timeout -k 5 60 bats --report-formatter junit --output "$dir/junit" "$@" >/dev/null 2>&1
	for _ in $(seq 100); do
		grep -q '</testsuites>' "$dir/junit/report.xml" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# Run a: Linux's driver; everything, after a file whose setup_file fails
# (bats 1.8.2 then names the later tests "begin N NAME"), and the JUnit of
# a second bats run beside the first.
a=$tmp/virtio_balloon-cloud b=$tmp/ballast.ko-cloud
junit "$a" "$fx/setup-fails.bats" "$fx/pass.bats" "$fx/fail.bats" || echo "# bats made no JUnit for $a"
mkdir -p "$tmp/sk" && junit "$tmp/sk" "$fx/skip.bats" && mv "$tmp/sk/junit/report.xml" "$a/junit/skip.xml"
cat >"$a/meta" <<'EOF'
# written by the runner
vmm=kvmtool
driver=virtio_balloon
kernel=6.1.0-28-cloud-amd64
offers='stats_vq deflate_on_oom size query_actual'
EOF
trace=inflate-actual-reaches-the-target-and-host-rss-falls-d-release-r-4-r-14--1
mkdir -p "$a/traces"
cp "$fx/inflate.csv" "$a/traces/$trace.csv"
cp "$fx/inflate.title" "$a/traces/$trace.title"
# Run b: ballast.ko; no failing file; its meta claims free_page_reporting,
# which a test skipped as not offered.
junit "$b" "$fx/pass.bats" "$fx/skip.bats" || echo "# bats made no JUnit for $b"
printf 'vmm=kvmtool\ndriver=ballast.ko\nkernel=6.1.0-28-cloud-amd64\noffers=stats_vq free_page_reporting\n' >"$b/meta"

out=$tmp/out
md=$out/report.md
html=$out/report.html
check "mkreport.py exits 0 on two runs with a failure in one" status 0 "$MKREPORT" --vmm kvmtool --out "$out" "$a" "$b"
check "summary.txt's first line counts clauses per side: the device over every column, each driver over its own" \
	eval '[ "$(head -n 1 "$out/summary.txt")" = "kvmtool: device 2 conform, 0 deviate, 0 intermittent, 1 not offered, 1 not exercised; driver Linux'"'"'s virtio_balloon 7 conform, 2 deviate, 0 intermittent, 6 not offered; driver ballast.ko 8 conform, 0 deviate, 0 intermittent, 6 not offered, 1 not exercised; harness 1 error (19 clauses, 2 runs: virtio_balloon / 6.1.0-28-cloud-amd64; ballast.ko / 6.1.0-28-cloud-amd64)." ] || { head -n 1 "$out/summary.txt"; exit 1; }'
check "summary.txt names the deviations with their side, and what is not offered or not exercised" \
	eval 'has "$out/summary.txt" "Deviates from: R-9 (driver Linux'"'"'s virtio_balloon), R-14 (driver Linux'"'"'s virtio_balloon)." &&
	      has "$out/summary.txt" "Not offered: D-16, R-36, R-37, R-38, R-39, R-40, R-41." && has "$out/summary.txt" "Not exercised: D-14."'
check "summary.txt's lines are report.md's, in order" \
	eval 'while IFS= read -r l; do has "$md" "$l" >/dev/null || { echo "not in report.md: $l"; exit 1; }; done <"$out/summary.txt"'
check "matrix: R-14 fails under virtio_balloon (1 of 2 tests), passes under ballast.ko" \
	row_is "$md" R-14 "| R-14 | Linux's virtio_balloon: deviates; ballast.ko: conforms | **FAIL (1 of 2)** | pass |"
check "verdicts.json: the tries behind R-14's deviation are those of the test that failed it, not of the one that passed it; per driver, under the driver that deviates only" \
	python3 -c 'import json, sys
c = json.load(open(sys.argv[1]))["clauses"]["R-14"]
assert (c["verdict"], c["failed"], c["tries"]) == ("deviates", 1, 1), c
assert c["by_driver_tries"] == {"virtio_balloon": {"failed": 1, "tries": 1}}, c' "$out/verdicts.json"
check "matrix: R-9 fails where it ran, not exercised under ballast.ko (the driver's verdict is over its own columns)" \
	row_is "$md" R-9 "| R-9 | Linux's virtio_balloon: deviates; ballast.ko: not exercised | **FAIL** | — |"
check "matrix: D-16 not offered, the skip's reason in each cell" \
	row_is "$md" D-16 "| D-16 | not offered | skip: kvmtool does not offer free_page_reporting | skip: kvmtool does not offer free_page_reporting |"
check "matrix: a skip for another reason is 'not exercised', not 'not offered'" \
	row_is "$md" D-14 "| D-14 | not exercised | skip: no /dev/kvm on this host | skip: no /dev/kvm on this host |"
check "matrix: 'D: release' stays a row of its own" \
	row_is "$md" "D: release" "| D: release | conforms | pass | pass |"
check "matrix: R-17..R-22 and R-36..41 expand to each clause, no further" \
	eval 'for c in 17 18 19 20 21 22 36 37 38 39 40 41; do [ -n "$(row "$md" R-$c)" ] || { echo "no row R-$c"; exit 1; }; done
	      for c in 16 23 35 42; do [ -z "$(row "$md" R-$c)" ] || { echo "row R-$c"; exit 1; }; done'
check "matrix: the device's rows (D-n, D: words, sections), then the driver's (R-n numerically), then groups, untagged" \
	eval '[ "$(sed -n "/^## Matrix/,/^### Tests behind/p" "$md" | awk -F" [|] " "/^[|] [^-]/ && !/^[|] clause [|]/ { sub(/^[|] /, \"\"); print \$1 }" | tr "\n" " ")" = \
	"D-14 D-16 D: release §2.7.8 R-4 R-9 R-14 R-17 R-18 R-19 R-20 R-21 R-22 R-36 R-37 R-38 R-39 R-40 R-41 \[batch\] untagged " ] ||
	{ sed -n "/^## Matrix/,/^### Tests behind/p" "$md"; exit 1; }'
check "matrix: a test tagged with a word only is grouped under it, one untagged test under 'untagged'" \
	eval 'row_is "$md" "\[batch\]" "| \[batch\] | conforms | pass | pass |" && row_is "$md" untagged "| untagged | conforms | pass | pass |"'
check "report.md lists the tests behind each clause" \
	has "$md" "  - virtio_balloon / 6.1.0-28-cloud-amd64: **FAIL** — deflate: the balloon goes back to 0 \[R-9, R-14\]"
check "report.md's test table gives the failure's first lines and the skip's reason" \
	eval 'has "$md" "| fail.bats | deflate: the balloon goes back to 0 \[R-9, R-14\] | **FAIL** |" &&
	      has "$md" "actual stayed at 256 MiB after 30 s &lt;target 0&gt;" &&
	      has "$md" "| skip.bats | free page hinting: a run ends with DONE \[D-14\] | skip | 0.0 s | no /dev/kvm on this host |"'
check "report.md reports the file whose setup_file failed as an error, the command and what it said first, not bats' call trace" \
	eval 'has "$md" "- **error** virtio_balloon-cloud: setup-fails.bats: setup_file failed, its tests did not run: " &&
	      has "$md" "boot_guest 512'"'"' failed: qemu exited before its guest'"'"'s agent answered" &&
	      has "$md" "Kernel panic - not syncing: the guest did not boot" && ! has "$md" "from function \`boot_guest"'
check "report.md: each run's driver, kernel and offers" \
	has "$md" "| virtio_balloon-cloud | virtio_balloon | 6.1.0-28-cloud-amd64 | stats_vq deflate_on_oom size query_actual | 5 | 1 | 2 |"
check "report.md notes a skip as not offered of what meta's offers= lists" \
	has "$md" "- note: ballast.ko-cloud: \"free page reporting: RSS falls with an empty balloon \[D-16, R-36..41\]\" skipped because \"kvmtool does not offer free_page_reporting\", but meta offers= lists free_page_reporting"
check "report.html: R-14's cells are FAIL then pass" html_row_is "$html" R-14 "FAIL pass"
check "report.html: R-9's cells are FAIL then none" html_row_is "$html" R-9 "FAIL none"
check "report.html: R-36's cells are skip, coloured as not offered, the tests behind them in the cell" \
	eval 'html_row_is "$html" R-36 "skip skip" && has "$html" "<td class=\"skip offered\" data-verdict=\"skip\" title=\"skip: free page reporting: RSS falls with an empty balloon [D-16, R-36..41]\"><details><summary>skip: kvmtool does not offer free_page_reporting</summary>"'
check "report.html is self-contained: inline CSS, no external references" \
	eval 'has "$html" "<style>" && hasnt "$html" "<link" && hasnt "$html" "<script" && hasnt "$html" "src=\"http" && hasnt "$html" "src=\"plots/"'
check "each clause's row has an id (report.html's matrix, report.md's tests behind each row), for the index to link to; report.html's says what the clause asks" \
	eval 'has "$html" "<tr id=\"clause-D-release\"><th>D: release</th>" && has "$html" "<tr id=\"clause-2-7-8\"><th>§2.7.8<br><span class=\"muted\">used ring: used lengths</span></th>" &&
	      has "$html" "<tr id=\"clause-R-14\"><th>R-14<br><span class=\"muted\">updates actual after changing the balloon</span></th>" && has "$md" "- <a id=\"clause-D-release\"></a>**D: release** (conforms)" &&
	      has "$md" "- <a id=\"clause-R-14\"></a>**R-14** ("'
check "without --vmm-version and --date: the version is unknown, the date is now, in UTC to the minute" \
	eval 'TZ=IST-5:30 status 0 "$MKREPORT" --vmm kvmtool --out "$tmp/when" "$b" &&
	      python3 -c "import datetime, json, sys
v = json.load(open(sys.argv[1]))
assert v[\"vmm_version\"] == \"unknown\", v[\"vmm_version\"]
when = datetime.datetime.strptime(v[\"date\"], \"%Y-%m-%dT%H:%MZ\")
assert abs(datetime.datetime.utcnow() - when) < datetime.timedelta(minutes=3), v[\"date\"]" "$tmp/when/verdicts.json" &&
	      has "$tmp/when/report.md" "VMM version: unknown. Run on 20"'
check "junit/ has each run's JUnit, one subdirectory per run" \
	eval '[ -s "$out/junit/virtio_balloon-cloud/report.xml" ] && [ -s "$out/junit/virtio_balloon-cloud/skip.xml" ] && [ -s "$out/junit/ballast.ko-cloud/report.xml" ]'
if command -v "${GNUPLOT:-gnuplot}" >/dev/null; then
	export svg=$out/plots/virtio_balloon-cloud--$trace.svg
	check "plots: an SVG for the trace, with its title and the three series" \
		eval '[ -s "$svg" ] && has "$svg" "<svg" && has "$svg" "inflate to 256 MiB" && has "$svg" "host RSS" && has "$svg" "actual"'
	check "report: the plot linked from report.md and inlined in report.html" \
		eval 'has "$md" "](plots/virtio_balloon-cloud--$trace.svg)" && has "$html" "src=\"data:image/svg+xml;base64,"'
else
	skip_check "plots: an SVG for the trace" "gnuplot is not installed"
	skip_check "report: the plot linked and inlined" "gnuplot is not installed"
fi
check "without gnuplot: exit 0, no SVG, a note in the report" \
	eval 'GNUPLOT=/nonexistent/gnuplot status 0 "$MKREPORT" --vmm kvmtool --out "$tmp/nogp" "$a" "$b" &&
	      [ -z "$(ls "$tmp/nogp/plots" 2>/dev/null)" ] && has "$tmp/nogp/report.md" "plots skipped: /nonexistent/gnuplot not found"'

# A teardown_file failure: bats writes it into the last test's <failure>;
# the test passed, the run has an error.
c=$tmp/teardown
junit "$c" "$fx/teardown-fails.bats" || echo "# bats made no JUnit for $c"
printf 'driver=virtio_balloon\nkernel=6.12\n' >"$c/meta"
check "a failed teardown_file is an error of the run, its test still passes" \
	eval 'status 0 "$MKREPORT" --vmm qemu --out "$tmp/td" "$c" && has "$tmp/td/summary.txt" "qemu: device 0 conform, 0 deviate, 0 intermittent, 0 not offered; driver Linux'"'"'s virtio_balloon 1 conform, 0 deviate, 0 intermittent, 0 not offered; harness 1 error (1 clause" &&
	      has "$tmp/td/report.md" "teardown_file failed"'

# A JUnit file cut short (bats still writing it): an error, not a crash.
d=$tmp/cut
mkdir -p "$d/junit" && cp "$b/meta" "$d/meta"
head -c 300 "$b/junit/report.xml" >"$d/junit/report.xml"
cp "$b/junit/report.xml" "$d/junit/whole.xml"
check "a JUnit file cut short is an error of the run, the others still count" \
	eval 'status 0 "$MKREPORT" --vmm kvmtool --out "$tmp/cutout" "$d" && has "$tmp/cutout/summary.txt" "; harness 1 error (" &&
	      has "$tmp/cutout/summary.txt" "kvmtool: device 1 conform, 0 deviate, 0 intermittent, 1 not offered, 1 not exercised; driver ballast.ko 8 conform, 0 deviate, 0 intermittent, 6 not offered;" && has "$tmp/cutout/report.md" "the runner must wait for it"'

# JUnit from another producer: <error>, a skip's reason as an attribute.
e=$tmp/other
mkdir -p "$e/junit" && cp "$fx/other-producer.xml" "$e/junit/" && printf 'driver=virtio_balloon\nkernel=6.12\n' >"$e/meta"
check "another producer's JUnit (no records: the name's tags take the test's verdict): <error> is a harness error, not a pass; a skip's message attribute is its reason" \
	eval 'status 0 "$MKREPORT" --vmm qemu --out "$tmp/otherout" "$e" &&
	      has "$tmp/otherout/summary.txt" "qemu: device 0 conform, 0 deviate, 0 intermittent, 1 not offered; driver Linux'"'"'s virtio_balloon 1 conform, 0 deviate, 0 intermittent, 0 not offered; harness 1 error (2 clauses" &&
	      has "$tmp/otherout/report.md" "- **error** other: other.bats: stats: refreshed each interval \[R-19\], try 1: agent timed out" &&
	      row_is "$tmp/otherout/report.md" R-19 "| R-19 | Linux'"'"'s virtio_balloon: conforms | pass (1 of 2 in error) |" &&
	      row_is "$tmp/otherout/report.md" D-14 "| D-14 | not offered | skip: qemu does not offer free_page_hint |"'

# Tests that record their assertions (fixtures/verdicts.bats loads the
# suite's verdict helper), each failed first try run again as the suite
# does: the verdict per assertion, per try, per side.
v=$tmp/virtio_balloon-6.12
(export BALLAST_CHECK_LOG=$v/checks.jsonl BALLAST_RETRY=1 && mkdir -p "$v" && junit "$v" "$fx/verdicts.bats") ||
	echo "# bats made no JUnit for $v"
printf 'vmm=qemu\ndriver=virtio_balloon\nkernel=6.12\n' >"$v/meta"
vo=$tmp/vout vmd=$tmp/vout/report.md
export vhtml=$tmp/vout/report.html
check "records: mkreport.py exits 0 on a run with checks.jsonl" \
	status 0 "$MKREPORT" --vmm qemu --vmm-version "QEMU emulator version 9.2.0" --date 2025-01-31T14:05Z --out "$vo" "$v"
check "records: --vmm-version and --date are in verdicts.json and under report.md's and report.html's title" \
	eval 'python3 -c "import json, sys
v = json.load(open(sys.argv[1]))
assert (v[\"vmm_version\"], v[\"date\"]) == (\"QEMU emulator version 9.2.0\", \"2025-01-31T14:05Z\"), v" "$vo/verdicts.json" &&
	      [ "$(sed -n 3p "$vmd")" = "VMM version: QEMU emulator version 9.2.0. Run on 2025-01-31T14:05Z (UTC)." ] &&
	      has "$vhtml" "<p class=\"muted\" id=\"heading\">VMM version: QEMU emulator version 9.2.0. Run on 2025-01-31T14:05Z (UTC).</p>"'
check "records: summary.txt's first line is one line with the device, the driver and the harness" \
	eval '[ "$(head -n 1 "$vo/summary.txt")" = "qemu: device 4 conform, 2 deviate, 1 intermittent, 1 not offered, 2 not exercised, 2 in error; driver Linux'"'"'s virtio_balloon 0 conform, 1 deviate, 0 intermittent, 0 not offered; harness 5 errors (13 clauses, 1 run: virtio_balloon / 6.12)." ] || { cat "$vo/summary.txt"; exit 1; }'
check "records: a check that fails on both tries deviates (2 of 2), its test too" \
	eval 'row_is "$vmd" D-11 "| D-11 | deviates | **FAIL (2 of 2 tries)** |" &&
	      has "$vmd" "| verdicts.bats | [config: num_pages then actual \[D-10, D-11, D-12\]](#ev-virtio_balloon-6.12-verdicts-config-num-pages-then-actual-d-10-d-11-d-12) | **deviates (2 of 2)** |"'
check "records: a check that fails on the first try only is intermittent (1 of 2), never conforms or deviates" \
	eval 'row_is "$vmd" D-3 "| D-3 | intermittent | intermittent (1 of 2 tries) |" && has "$vo/summary.txt" "Intermittent: D-3 (device)." &&
	      has "$vmd" "| intermittent (1 of 2) |"'
# bats 1.8.2's JUnit formatter may cut a retried test's name at " N " (its
# count of begin lines, one ahead after a retry): the cut name is that
# test's retry, never a test of its own that fails.
g=$tmp/garbled
cp -r "$v" "$g"
python3 - "$g"/junit/*.xml <<'PY'
import sys, xml.etree.ElementTree as ET
for path in sys.argv[1:]:
    tree = ET.parse(path)
    tries = [tc for tc in tree.iter("testcase") if "inflate: the device acknowledges" in tc.get("name", "")]
    if len(tries) == 2:
        tries[1].set("name", tries[1].get("name").split(" the ", 1)[1])
        tree.write(path)
PY
check "records: a retried test whose name bats 1.8.2's JUnit cut (\"device acknowledges every page [D-3]\") is still that test: intermittent, no test of the cut name" \
	eval 'grep -q "name=\"device acknowledges every page" "$g"/junit/*.xml &&
	      status 0 "$MKREPORT" --vmm qemu --out "$tmp/gout" "$g" &&
	      row_is "$tmp/gout/report.md" D-3 "| D-3 | intermittent | intermittent (1 of 2 tries) |" &&
	      ! grep -q "| device acknowledges" "$tmp/gout/report.md"'
check "records: a harness error is the harness's, with its evidence; its clauses neither deviate nor conform, a check before it still passes" \
	eval 'has "$vmd" "- **error** virtio_balloon-6.12: verdicts.bats: stats: the device asks again after each buffer \[D-8, D-9\], try 1: the agent timed out<br>no answer in 30 s to: stats" &&
	      has "$vmd" "Harness: 5 errors." && row_is "$vmd" D-9 "| D-9 | error | **error** |" && row_is "$vmd" D-8 "| D-8 | conforms | pass |"'
check "records: a try that fails outside any assertion is a harness error with JUnit's lines, not a deviation" \
	eval 'row_is "$vmd" D-1 "| D-1 | error | **error** |" &&
	      has "$vmd" "boot: the guest comes up \[D-1\], try 2: failed outside any assertion (a setup step died)<br>(in test file" &&
	      has "$vmd" "qemu-system-x86_64: -object memory-backend-file: No such file"'
check "records: of two checks the first passes and conforms, the second deviates, a name tag after them is not reached and not counted" \
	eval 'row_is "$vmd" D-10 "| D-10 | conforms | pass |" && row_is "$vmd" D-12 "| D-12 | not exercised | not reached |" &&
	      has "$vmd" "  - not reached: D-12"'
check "records: a name tag no check asserts gets nothing in a passing test: not exercised, no cell" \
	eval 'row_is "$vmd" D-15 "| D-15 | not exercised | — |" && row_is "$vmd" D-13 "| D-13 | conforms | pass |" &&
	      has "$vo/summary.txt" "Not exercised: D-12, D-15."'
check "records: a skipped test's name tags still say not offered" row_is "$vmd" D-17 "| D-17 | not offered | skip: qemu does not offer free_page_hint |"
check "records: an R-check's failure is the driver's (Linux's virtio_balloon), with its evidence, never the device's" \
	eval 'row_is "$vmd" R-23 "| R-23 | Linux'"'"'s virtio_balloon: deviates | **FAIL (2 of 2 tries)** |" &&
	      has "$vo/summary.txt" "Deviates from: D-11 (device), D-14 (device), R-23 (driver Linux'"'"'s virtio_balloon)." &&
	      sed -n "/^## Driver/,/^## Harness/p" "$vmd" >"$tmp/drv" && has "$tmp/drv" "- **R-23** (hint: commands are 4-byte out buffers) Linux'"'"'s virtio_balloon, FAIL (2 of 2 tries): the driver tells the host before it reuses a page" &&
	      has "$tmp/drv" "  > page 0x1000 written before VIRTIO_BALLOON_F_MUST_TELL_HOST" &&
	      sed -n "/^## Device/,/^## Driver/p" "$vmd" >"$tmp/dev" && hasnt "$tmp/dev" "R-23" && has "$tmp/dev" "- **D-11** (hint: ignores pages under an id not current) FAIL (2 of 2 tries): actual is written by the driver only"'
check "records: the test's details show each try's checks, the not reached, the harness error and the notes with evidence" \
	eval 'has "$vmd" "- try 1: failed an assertion; run again" && has "$vmd" "  - **FAIL \[D-3\] (device) every inflate buffer is used**" &&
	      has "$vmd" "    <br>evidence: try 1: used 255 of 256" && has "$vmd" "  - note: the guest was rebooted before this test" &&
	      has "$vmd" "    <br>evidence: console: reboot: Restarting system"'
check "records: report.html's first boxes: the device's deviation and intermittent linked to their evidence, the driver's, the harness's" \
	eval 'sed -n "/<div class=\"box bad\" id=\"device\">/,/<\/div>/p" "$vhtml" >"$tmp/hdev" &&
	      has "$tmp/hdev" "<li class=\"FAIL\" data-clause=\"D-11\" data-verdict=\"FAIL\">" && has "$tmp/hdev" "data-clause=\"D-3\" data-verdict=\"intermittent\"" &&
	      hasnt "$tmp/hdev" "R-23" && has "$tmp/hdev" "href=\"#ev-virtio_balloon-6.12-verdicts-config-num-pages-then-actual-d-10-d-11-d-12\"" &&
	      has "$vhtml" "<div class=\"test\" id=\"ev-virtio_balloon-6.12-verdicts-config-num-pages-then-actual-d-10-d-11-d-12\">" &&
	      has "$vhtml" "<div class=\"box bad\" id=\"driver\">" && has "$vhtml" "data-clause=\"R-23\" data-verdict=\"FAIL\"" &&
	      has "$vhtml" "<div class=\"box broken\" id=\"harness\">" && has "$vhtml" "<p data-summary=\"harness\">Harness: 5 errors.</p>"'
check "records: report.html's matrix: intermittent has its own class, the driver's verdict per driver" \
	eval 'html_row_is "$vhtml" D-3 intermittent && has "$vhtml" "<tr id=\"clause-D-3\"><th>D-3<br><span class=\"muted\">may change an inflated page before acking it</span></th><td class=\"intermittent\" data-row-verdict=\"intermittent\">" &&
	      html_row_is "$vhtml" D-12 not-reached && has "$vhtml" "td.intermittent{" &&
	      has "$vhtml" "<td class=\"intermittent\" data-verdict=\"intermittent\" title=" &&
	      has "$vhtml" "<tr id=\"clause-R-23\"><th>R-23<br><span class=\"muted\">hint: commands are 4-byte out buffers</span></th><td class=\"deviates\" data-row-verdict=\"deviates\" data-driver=\"virtio_balloon\">"'
check "records: verdicts.json gives each clause's side and verdict, the driver's per driver, each test's outcome and tries, the intermittents, the harness errors" \
	python3 - "$vo/verdicts.json" <<'EOF'
import json, sys
v = json.load(open(sys.argv[1]))
tests = {t["test"].split(":")[0]: t for t in v["tests"]}
want = {"release": ("deviates", 2), "inflate": ("intermittent", 2), "stats": ("error", 2),
        "config": ("deviates", 2), "features": ("pass", 1), "boot": ("error", 2), "hinting": ("skip", 1), "window": ("deviates", 2)}
got = {k: (t["outcome"], t["tries"]) for k, t in tests.items()}
assert got == want, got
assert len(v["tests"]) == 8, v["tests"]
assert v["vmm"] == "qemu" and v["runs"] == [{"label": "virtio_balloon-6.12", "driver": "virtio_balloon", "kernel": "6.12"}], v["runs"]
c = v["clauses"]
# The tries behind a deviation or an intermittent: f of n, the driver's
# per driver too; none behind any other verdict.
assert c["R-23"] == {"side": "driver", "verdict": "deviates", "failed": 2, "tries": 2,
                     "by_driver": {"virtio_balloon": "deviates"},
                     "by_driver_tries": {"virtio_balloon": {"failed": 2, "tries": 2}}}, c["R-23"]
assert c["D-3"] == {"side": "device", "verdict": "intermittent", "failed": 1, "tries": 2}, c["D-3"]
assert c["D-8"] == {"side": "device", "verdict": "conforms"}, c["D-8"]
assert c["D-11"]["verdict"] == "deviates" and c["D-12"]["verdict"] == "not exercised" and c["D-9"]["verdict"] == "error", c
assert v["intermittent"] == ["verdicts.bats: inflate: the device acknowledges every page [D-3]"], v["intermittent"]
assert v["harness_errors"] == 5, v["harness_errors"]
# Failed at its check on the first try, broken by a setup step before
# that check on the retry: confirmed as far as the tries can say, never
# intermittent.
assert c["D-14"] == {"side": "device", "verdict": "deviates", "failed": 1, "tries": 1}, c["D-14"]
EOF
# The same records with a line that is not one, and the records of a test
# the JUnit lacks (bats died under it): a check that fails, then one of
# the same clause that passes in the same try (a failure stands).
x=$tmp/broken-records
cp -r "$v" "$x"
printf '%s\n' 'not json' '{"file":"verdicts.bats","test":"ghost: bats died here [D-20]","try":1,"kind":"check","result":"fail","tags":"D-20","side":"device","what":"the ghost check","evidence":""}' \
	'{"file":"verdicts.bats","test":"ghost: bats died here [D-20]","try":1,"kind":"check","result":"pass","tags":"D-20","side":"device","what":"the ghost check, again","evidence":""}' >>"$x/checks.jsonl"
check "records: a line of checks.jsonl that is no record, and records of a test not in the JUnit, are harness errors; those records still give verdicts" \
	eval 'status 0 "$MKREPORT" --vmm qemu --out "$tmp/xout" "$x" && has "$tmp/xout/summary.txt" "; harness 7 errors (14 clauses" &&
	      has "$tmp/xout/report.md" "- **error** broken-records: checks.jsonl:" && has "$tmp/xout/report.md" "not a record" &&
	      has "$tmp/xout/report.md" "\"ghost: bats died here \[D-20\]\": in checks.jsonl but not in the JUnit" &&
	      row_is "$tmp/xout/report.md" D-20 "| D-20 | deviates | **FAIL (1 of 1 try)** |"'

# Bad usage: exit 2 with one line.
mkdir -p "$tmp/nometa/junit" "$tmp/nojunit" "$tmp/badmeta"
cp "$a/junit/report.xml" "$tmp/nometa/junit/"
cp "$a/meta" "$tmp/nojunit/meta"
cp -r "$a/junit" "$tmp/badmeta/" && printf 'driver=virtio_balloon\nthis is not a key value line\n' >"$tmp/badmeta/meta"
check "bad usage: no RUNDIR, exit 2 with one line" status 2 "$MKREPORT" --vmm kvmtool --out "$tmp/o"
check "bad usage: no --vmm, exit 2 with one line" status 2 "$MKREPORT" --out "$tmp/o" "$a"
check "bad usage: a RUNDIR that does not exist, exit 2 naming it" \
	eval 'status 2 "$MKREPORT" --vmm kvmtool --out "$tmp/o" "$a" "$tmp/nothere" && has "$tmp/stderr" "$tmp/nothere: no such run directory"'
check "bad usage: a RUNDIR without meta, exit 2" \
	eval 'status 2 "$MKREPORT" --vmm kvmtool --out "$tmp/o" "$tmp/nometa" && has "$tmp/stderr" "meta"'
check "bad usage: an unreadable meta, exit 2" \
	eval 'status 2 "$MKREPORT" --vmm kvmtool --out "$tmp/o" "$tmp/badmeta" && has "$tmp/stderr" "badmeta/meta:2"'
check "bad usage: a RUNDIR without junit/*.xml, exit 2" \
	eval 'status 2 "$MKREPORT" --vmm kvmtool --out "$tmp/o" "$tmp/nojunit" && has "$tmp/stderr" "junit"'
check "bad usage writes no report" eval '[ ! -e "$tmp/o/report.md" ]'

# soak.py: hand-made verdicts.json of repeated runs. run-10 sorts after
# run-2 (the shell's glob does not).
sk=$tmp/soak
for k in 1 2 10; do mkdir -p "$sk/run-$k"; done
cp "$fx/soak-steady.json" "$sk/run-1/verdicts.json"
cp "$fx/soak-steady.json" "$sk/run-2/verdicts.json"
cp "$fx/soak-flipped.json" "$sk/run-10/verdicts.json"
# soak_rc WANT ARGS...: soak.py exits WANT, nothing on stderr.
soak_rc() {
	local want=$1 rc
	shift
	"$SOAK" "$@" >"$tmp/stdout" 2>"$tmp/stderr"
	rc=$?
	echo "exit $rc, stdout:"
	cat "$tmp/stdout" "$tmp/stderr"
	[ "$rc" -eq "$want" ] && [ ! -s "$tmp/stderr" ]
}
check "soak: two steady runs exit 0; a test skipped every run is steady; history.json has both" \
	eval 'soak_rc 0 --vmm qemu --out "$sk/steady" "$sk/run-2/verdicts.json" "$sk/run-1/verdicts.json" &&
	      has "$tmp/stdout" "soak qemu: steady over 2 runs." &&
	      has "$sk/steady/soak.md" "| balloon.bats: inflate: the device acknowledges every page [D-3] — virtio_balloon-cloud | 2 of 2 | pass, pass |" &&
	      has "$sk/steady/soak.md" "| 0 of 2 (skipped every run) | skip, skip |" &&
	      has "$sk/steady/soak.md" "None: every clause had the same verdict in every run." &&
	      python3 -c "import json, sys; h = json.load(open(sys.argv[1])); assert [r[\"path\"] for r in h[\"runs\"]] == sys.argv[2:], h[\"runs\"]; assert h[\"runs\"][0][\"verdicts\"][\"vmm\"] == \"qemu\"" \
	          "$sk/steady/history.json" "$sk/run-1/verdicts.json" "$sk/run-2/verdicts.json"'
check "soak: a clause that flips and a test that turns intermittent or goes missing exit 1, named, in run order" \
	eval 'soak_rc 1 --vmm qemu --out "$sk/flip" "$sk"/run-*/verdicts.json &&
	      has "$tmp/stdout" "soak qemu: NOT steady over 3 runs: 2 tests passed fewer than 3 times, 1 clause flipped (D-3)." &&
	      has "$sk/flip/soak.md" "| D-3 | conforms → conforms → intermittent |" && hasnt "$sk/flip/soak.md" "| D-17 |" &&
	      has "$sk/flip/soak.md" "| 2 of 3 | pass, pass, intermittent |" && has "$sk/flip/soak.md" "| 2 of 3 | pass, pass, absent |"'
printf 'not json\n' >"$sk/bad.json"
check "soak: bad usage exits 2 with one line: no file, another VMM's verdicts, a file that is not JSON" \
	eval 'status 2 "$SOAK" --vmm qemu --out "$sk/u" && status 2 "$SOAK" --vmm kvmtool --out "$sk/u" "$sk/run-1/verdicts.json" &&
	      has "$tmp/stderr" "not kvmtool" && status 2 "$SOAK" --vmm qemu --out "$sk/u" "$sk/bad.json" && [ ! -e "$sk/u/soak.md" ]'

# mkindex.py: hand-made verdicts.json of three VMMs (kvmtool's from before
# mkreport recorded the version, the date and the tries), beside a
# directory without one, one with a file that is not one, and what it must
# not read: a hidden directory, one named index.
ix=$tmp/index
for vm in qemu kvmtool ballast-vmm; do
	mkdir -p "$ix/$vm" && cp "$fx/index-$vm.json" "$ix/$vm/verdicts.json"
done
mkdir -p "$ix/broken" "$ix/bad" "$ix/.hidden" "$ix/index" "$tmp/emptyroot"
printf 'not json\n' >"$ix/bad/verdicts.json"
sed 's/"qemu"/"hidden"/' "$fx/index-qemu.json" >"$ix/.hidden/verdicts.json"
sed 's/"qemu"/"indexed"/' "$fx/index-qemu.json" >"$ix/index/verdicts.json"
export ixmd=$ix/index.md ixhtml=$ix/index.html
# section FILE HEADING: the lines of FILE's "## HEADING" part.
section() {
	sed -n "/^## $2\$/,/^## /p" "$1"
}
check "index: exits 0; each directory without a readable verdicts.json is skipped with one line on stderr; hidden ones and index are not read" \
	eval 'status 0 "$MKINDEX" "$ix" && [ "$(wc -l <"$tmp/stderr")" -eq 2 ] &&
	      has "$tmp/stderr" "$ix/broken: skipped: no readable verdicts.json" && has "$tmp/stderr" "$ix/bad: skipped: verdicts.json is not" &&
	      hasnt "$ixmd" hidden && hasnt "$ixmd" indexed && hasnt "$ixmd" broken && [ -s "$ixhtml" ]'
check "index.md: the Device table, what each clause asks, a column per VMM by name, the report's clause order, each cell linked to the clause's row of that VMM's report, — where its run has no entry" \
	eval 'section "$ixmd" Device >"$tmp/ixdev" &&
	      has "$tmp/ixdev" "| clause | what it asks | ballast-vmm | kvmtool | qemu |" &&
	      has "$tmp/ixdev" "| D-11 | hint: ignores pages under an id not current | [conforms](ballast-vmm/report.md#clause-D-11) | — | **[deviates (2 of 2)](qemu/report.md#clause-D-11)** |" &&
	      has "$tmp/ixdev" "| D: release |  | — | **[deviates](kvmtool/report.md#clause-D-release)** | [intermittent (1 of 2)](qemu/report.md#clause-D-release) |" &&
	      has "$tmp/ixdev" "| §2.7.8 | used ring: used lengths | **[error](ballast-vmm/report.md#clause-2-7-8)** | — | [conforms](qemu/report.md#clause-2-7-8) |" &&
	      [ "$(awk -F" [|] " "/^[|] [^c-]/ { sub(/^[|] /, \"\"); print \$1 }" "$tmp/ixdev" | tr "\n" " ")" = "D-3 D-11 D-16 D: release §2.7.8 " ] &&
	      hasnt "$tmp/ixdev" "R-4"'
check "index.md: the Driver table, what each clause asks, a column per VMM and driver, the driver's verdict under that VMM" \
	eval 'section "$ixmd" Driver >"$tmp/ixdrv" &&
	      has "$tmp/ixdrv" "| clause | what it asks | ballast-vmm / virtio_balloon | kvmtool / virtio_balloon | qemu / virtio_balloon | qemu / ballast.ko |" &&
	      has "$tmp/ixdrv" "| R-23 | hint: commands are 4-byte out buffers | — | — | [not exercised](qemu/report.md#clause-R-23) | **[deviates (2 of 2)](qemu/report.md#clause-R-23)** |" &&
	      has "$tmp/ixdrv" "| R-4 | should inflate while num_pages is above actual | [conforms](ballast-vmm/report.md#clause-R-4) | [conforms](kvmtool/report.md#clause-R-4) | [conforms](qemu/report.md#clause-R-4) | [conforms](qemu/report.md#clause-R-4) |" &&
	      hasnt "$tmp/ixdrv" "D-3"'
check "index.md: above the tables, each VMM's version, date, verdicts counted (the device's, each driver's) and runs; not recorded in a report from before they were" \
	eval 'section "$ixmd" Runs >"$tmp/ixruns" &&
	      has "$tmp/ixruns" "| qemu | QEMU emulator version 9.2.0 | 2025-01-31T14:05Z | 2 conform, 1 deviate, 1 intermittent, 0 not offered | virtio_balloon: 1 conform, 0 deviate, 0 intermittent, 0 not offered, 1 not exercised; ballast.ko: 1 conform, 1 deviate, 0 intermittent, 0 not offered | virtio_balloon, ballast.ko on 6.12.9 (6.12) | [report.md](qemu/report.md) |" &&
	      has "$tmp/ixruns" "| kvmtool | not recorded | not recorded | 1 conform, 1 deviate, 0 intermittent, 1 not offered | virtio_balloon: 1 conform, 0 deviate, 0 intermittent, 0 not offered | virtio_balloon on 6.1.0-28-amd64 (generic) | [report.md](kvmtool/report.md) |" &&
	      has "$tmp/ixruns" "| ballast-vmm | ballast-vmm 0.1 (git 1a2b3c4) | 2025-02-01T09:30Z | 2 conform, 0 deviate, 0 intermittent, 0 not offered, 1 in error |"'
check "index.html: the runs table's counts coloured by their worst verdict, a row per driver under the VMM's spanning cells" \
	eval 'has "$ixhtml" "<tr data-vmm=\"qemu\"><th rowspan=\"2\"><a href=\"qemu/report.html\">qemu</a></th>" &&
	      has "$ixhtml" "<td class=\"deviates\" data-verdict=\"deviates\" rowspan=\"2\">2 conform, 1 deviate, 1 intermittent, 0 not offered</td><td class=\"conforms\" data-verdict=\"conforms\">virtio_balloon: 1 conform," &&
	      has "$ixhtml" "<tr data-vmm=\"qemu\"><td class=\"deviates\" data-verdict=\"deviates\">ballast.ko: 1 conform, 1 deviate, 0 intermittent, 0 not offered</td></tr>" &&
	      has "$ixhtml" "<td class=\"error\" data-verdict=\"error\">2 conform, 0 deviate, 0 intermittent, 0 not offered, 1 in error</td>"'
check "index.md: a Harness line per VMM: its harness errors and intermittent tests" \
	eval 'section "$ixmd" Harness >"$tmp/ixh" &&
	      has "$tmp/ixh" "- kvmtool: 2 harness errors, 0 intermittent tests ([report](kvmtool/report.md#harness))." &&
	      has "$tmp/ixh" "- qemu: 0 harness errors, 1 intermittent test ([report](qemu/report.md#harness))."'
check "index.html: self-contained, each cell coloured as report.html colours the verdict and linked to the clause's row of report.html; a VMM's heading spans its drivers" \
	eval 'has "$ixhtml" "<style>" && has "$ixhtml" "td.deviates{" && hasnt "$ixhtml" "<link" && hasnt "$ixhtml" "<script" &&
	      has "$ixhtml" "<td class=\"deviates\" data-verdict=\"deviates\"><a href=\"qemu/report.html#clause-D-11\">deviates (2 of 2)</a></td>" &&
	      has "$ixhtml" "<td class=\"intermittent\" data-verdict=\"intermittent\"><a href=\"qemu/report.html#clause-D-release\">intermittent (1 of 2)</a></td>" &&
	      has "$ixhtml" "<td class=\"notoffered\" data-verdict=\"not offered\"><a href=\"kvmtool/report.html#clause-D-16\">" &&
	      has "$ixhtml" "<td class=\"none\" data-verdict=\"none\">—</td>" &&
	      has "$ixhtml" "<tr><th>D-11<br><span class=\"muted\">hint: ignores pages under an id not current</span></th><td class=\"conforms\"" &&
	      has "$ixhtml" "<th class=\"vmm\" colspan=\"2\" title=\"QEMU emulator version 9.2.0, run on 2025-01-31T14:05Z\"><a href=\"qemu/report.html\">qemu</a></th>"'
mkdir -p "$ix/site"
check "index: --out elsewhere writes there, links relative to it, and is not read as a VMM" \
	eval 'status 0 "$MKINDEX" --out "$ix/site" "$ix" && [ "$(wc -l <"$tmp/stderr")" -eq 2 ] &&
	      has "$ix/site/index.md" "| D-11 | hint: ignores pages under an id not current | [conforms](../ballast-vmm/report.md#clause-D-11) |" &&
	      has "$ix/site/index.html" "<a href=\"../qemu/report.html#clause-D-11\">" && hasnt "$ix/site/index.md" "| site |"'
check "index: bad usage exits 2 with one line and writes nothing: REPORT_ROOT is not a directory, or holds no VMM's report" \
	eval 'status 2 "$MKINDEX" "$tmp/nothere" && has "$tmp/stderr" "$tmp/nothere: not a directory" &&
	      status 2 "$MKINDEX" "$tmp/emptyroot" && has "$tmp/stderr" "no VMM" && [ ! -e "$tmp/emptyroot/index.md" ]'
# clauses.py (beside MKREPORT): what each clause asks, for every clause a
# test of the suite names (a "D: words" row names itself).
check "clauses: every D-n, R-n and § that a test in selftests/bats names says what it asks" \
	eval 'python3 -c "
import glob, re, sys
sys.path.insert(0, \"$(dirname "$MKREPORT")\")
import mkreport, clauses
rows = set()
for f in glob.glob(\"$here/../bats/**/*.bats\", recursive=True):
    for name in re.findall(r\"^@test \\\"(.*)\\\" \\{\", open(f).read(), re.M):
        rows.update(mkreport.parse_tags(name)[0])
bare = sorted(r for r in rows if not re.match(r\"[DR]: \", r) and not clauses.title(r))
print(\"no title:\", bare or \"none\", \"of\", len(rows))
sys.exit(1 if bare or len(rows) < 40 else 0)
"'
# Over a report mkreport.py made: every link lands on an id there.
mkdir -p "$tmp/ixreal"
cp -r "$vo" "$tmp/ixreal/qemu"
check "index: every cell's link lands on a clause's id in the VMM's report.html and report.md" \
	eval 'status 0 "$MKINDEX" "$tmp/ixreal" &&
	      grep -o "href=\"qemu/report.html#clause-[^\"]*\"" "$tmp/ixreal/index.html" | sed "s/.*#//; s/\"\$//" >"$tmp/ids" && [ "$(wc -l <"$tmp/ids")" -gt 10 ] &&
	      while read -r id; do has "$tmp/ixreal/qemu/report.html" "id=\"$id\"" >/dev/null && has "$tmp/ixreal/qemu/report.md" "<a id=\"$id\"></a>" >/dev/null ||
	          { echo "no id $id in qemu/report.html or report.md"; exit 1; }; done <"$tmp/ids"'

tap_end
