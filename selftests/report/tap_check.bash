# SPDX-License-Identifier: MIT
# The report tests' TAP checker, sourced by test_mkreport.sh and
# test_mkdriver.sh: a skip of the whole script when bats (which makes their
# fixtures' records) is missing, a scratch $tmp, one TAP line per check,
# and the plan and status at the end (tap_end).

if ! command -v bats >/dev/null; then
	echo "1..0 # SKIP bats is not installed (make deps)"
	exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

n=0 failed=0
# check DESCRIPTION COMMAND...: one TAP line; the command's output as
# diagnostics when it fails. The command runs in a subshell: an `exit` in
# it ends the check, not the script.
check() {
	local desc=$1
	shift
	n=$((n + 1))
	if ("$@") >"$tmp/check.out" 2>&1; then
		echo "ok $n - $desc"
	else
		echo "not ok $n - $desc"
		sed 's/^/# /' "$tmp/check.out"
		failed=$((failed + 1))
	fi
}
skip_check() {
	n=$((n + 1))
	echo "ok $n - $1 # SKIP $2"
}

# has FILE TEXT: FILE holds TEXT as a fixed string (shows the file if not).
has() {
	grep -qF -- "$2" "$1" && return 0
	echo "no '$2' in $1:"
	cat "$1"
	return 1
}
hasnt() {
	! grep -qF -- "$2" "$1" || { echo "'$2' is in $1"; return 1; }
}

# tap_end: the plan; the script's status, 1 if a check failed.
tap_end() {
	echo "1..$n"
	[ "$failed" -eq 0 ]
}
