#!/bin/bash
# SPDX-License-Identifier: MIT
# Lint what ballast ships for other projects to copy: yamllint on the CI jobs
# in ci/*.yml with the repository's .yamllint (default rules, lines up to
# 120 columns, a document start optional). One TAP line per file; exit 1 if
# one fails. Without yamllint (make deps installs it) each file is a skip.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

files=(ci/*.yml)
if [ ! -e "${files[0]}" ]; then
	echo "1..0 # SKIP no ci/*.yml"
	exit 0
fi
echo "1..${#files[@]}"
n=0 failed=0
for f in "${files[@]}"; do
	n=$((n + 1))
	if ! command -v yamllint >/dev/null; then
		echo "ok $n - yamllint $f # SKIP yamllint is not installed (make deps)"
	elif out=$(yamllint --strict -f parsable -c .yamllint "$f" 2>&1); then
		echo "ok $n - yamllint $f"
	else
		echo "not ok $n - yamllint $f"
		printf '%s\n' "$out" | sed 's/^/# /'
		failed=$((failed + 1))
	fi
done
[ "$failed" -eq 0 ]
