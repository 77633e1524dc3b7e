#!/bin/bash
# SPDX-License-Identifier: MIT
#
# vmm/fuzz/run.sh BUILD_DIR SECONDS [JOBS]: run every fuzz target built in
# BUILD_DIR for SECONDS each, starting from its committed seed corpus (new
# inputs go to BUILD_DIR/corpus/<target>, never into the tree), JOBS
# parallel workers each. TAP out, one line per target with its total
# executions; exits 1 if any target found anything (the reproducer is in
# BUILD_DIR/artifacts/).
set -uo pipefail
build=$1 seconds=${2:-10} jobs=${3:-1}
seeds=$(cd "$(dirname "$0")" && pwd)/corpus
n=0 failed=0

echo "TAP version 13"
for bin in "$build"/fuzz_*; do
	[ -x "$bin" ] || continue
	name=${bin##*/} n=$((n + 1))
	work=$build/run/$name
	rm -rf "$work" && mkdir -p "$work" "$build/corpus/$name" "$build/artifacts"
	args=(-max_total_time="$seconds" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048
	      -artifact_prefix="$build/artifacts/$name-" "$build/corpus/$name")
	[ -d "$seeds/$name" ] && args+=("$seeds/$name")
	# libFuzzer's -jobs writes each worker's output to fuzz-N.log in the
	# current directory; a single run writes it to stderr.
	if [ "$jobs" -gt 1 ]; then
		(cd "$work" && "$bin" -jobs="$jobs" -workers="$jobs" "${args[@]}" >main.log 2>&1)
	else
		(cd "$work" && "$bin" "${args[@]}" >fuzz-0.log 2>&1)
	fi
	rc=$?
	execs=$(cat "$work"/fuzz-*.log 2>/dev/null |
		sed -n 's/^stat::number_of_executed_units: *//p' | awk '{ s += $1 } END { print s + 0 }')
	if [ "$rc" -ne 0 ] || grep -qE '^(INVARIANT VIOLATED|==[0-9]+==ERROR|SUMMARY: )' "$work"/*.log; then
		failed=$((failed + 1))
		echo "not ok $n - fuzz $name: finding after $execs executions"
		grep -hE '^(INVARIANT VIOLATED|==[0-9]+==ERROR|SUMMARY: |artifact_prefix|Test unit written)' \
			"$work"/*.log | sed 's/^/# /' | head -20
	else
		echo "ok $n - fuzz $name: $execs executions in ${seconds}s x $jobs"
	fi
done
echo "1..$n"
[ "$n" -gt 0 ] && [ "$failed" -eq 0 ]
