# The frame of a suite that boots one guest for the whole file: the file's
# setup_file boots it with vm_start; this stops it after the last test,
# shows the guest's console after a failed test, and gives every test a
# guest it can trust. Load it at the top.
# shellcheck shell=bash

load "$(dirname "${BASH_SOURCE[0]}")/common"

# How many fresh guests one file may boot (below): a VMM that fails every
# test costs a boot a test, not more.
ONE_GUEST_FRESH_MAX=${ONE_GUEST_FRESH_MAX:-8}

teardown_file() {
	vm_stop
}

# Neither may fail the test: a guest that cannot be booted again fails the
# tests after this one, each with what it saw.
teardown() {
	one_guest_teardown
}

# one_guest_teardown: the console after a failed test, a fresh guest when
# this one is no longer to be trusted, the test's checker stopped, the
# test's verdict recorded.
one_guest_teardown() {
	ballast_teardown
	one_guest_check_health || true
	checker_stop || true
	verdict_end one_guest_fresh || true
}

# one_guest_check_health: after each test, whatever its result: a guest the
# test left dead (panicked, out of memory, its agent silent), a VMM gone, or
# a test host gone is replaced by a fresh one before the next test, which
# would otherwise fail for this test's doing. What was found stays with
# this test: a note in its records and its output. A test that failed as
# its test host died failed for the harness, not for the side it checked.
one_guest_check_health() {
	local why
	[ -n "${VM_RUNDIR:-}" ] || return 0
	why=$(vm_unhealthy) || return 0
	if [ -z "${BATS_TEST_COMPLETED:-}" ] && [ -n "$(verdict_harness_fault)" ]; then
		harness_error "$why" "$(vm_console_tail 20 2>&1)" 2>/dev/null
	fi
	verdict_note "after this test: $why; the next test gets a fresh guest" "$(vm_console_tail 30 2>&1)"
	tap_comment "# after this test: $why; booting a fresh guest for the next"
	one_guest_fresh >&2
}

# one_guest_fresh: the file's guest booted anew (and, nested, a fresh test
# host when the last one died) at the paths the file's tests already know;
# at most ONE_GUEST_FRESH_MAX times a file, once a test.
one_guest_fresh() {
	local n
	[ -z "${ONE_GUEST_FRESHENED:-}" ] || return 0
	n=$(cat "$BATS_FILE_TMPDIR/recoveries" 2>/dev/null || echo 0)
	if [ "$n" -ge "$ONE_GUEST_FRESH_MAX" ]; then
		tap_comment "# no fresh guest: this file booted $n already (ONE_GUEST_FRESH_MAX)"
		return 1
	fi
	echo $((n + 1)) >"$BATS_FILE_TMPDIR/recoveries"
	ONE_GUEST_FRESHENED=1
	[ -n "${VM_RUNDIR:-}" ] && vm_kill_vmm 2>/dev/null
	setup_file
}
