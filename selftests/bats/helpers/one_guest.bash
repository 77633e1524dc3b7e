# The frame of a suite that boots one guest for the whole file: the file's
# setup_file boots it with vm_start; this stops it after the last test and
# shows the guest's console after a failed one. Load it at the top.
# shellcheck shell=bash

load "$(dirname "${BASH_SOURCE[0]}")/common"

# How many times one file may have its guest booted again (below).
ONE_GUEST_RECOVERIES=${ONE_GUEST_RECOVERIES:-2}

teardown_file() {
	vm_stop
}

teardown() {
	ballast_teardown
	one_guest_recover
}

# one_guest_recover: a test cut short because the nested test host's own
# kernel panicked under it is run once more. The panic is below the VMM under
# test: the test host's Linux found the stack end of a KVM vCPU thread
# overwritten ("corrupted stack end detected inside scheduler"), in about one
# make check run of ten under QEMU's TCG. The file's setup_file boots a fresh
# test host and the same guest at the same paths, and bats' retry runs the
# test again; the TAP stream says so. Only a first try, at most
# ONE_GUEST_RECOVERIES times a file; a test that fails again fails.
one_guest_recover() {
	local why n
	[ -z "${BATS_TEST_COMPLETED:-}" ] && [ "${BATS_TEST_TRY_NUMBER:-1}" = 1 ] || return 0
	[ "${VM_WHERE:-}" = nested ] && why=$(testhost_died_of_panic) || return 0
	n=$(cat "$BATS_FILE_TMPDIR/recoveries" 2>/dev/null || echo 0)
	[ "$n" -lt "$ONE_GUEST_RECOVERIES" ] || return 0
	echo $((n + 1)) >"$BATS_FILE_TMPDIR/recoveries"
	tap_comment "# the test host's kernel panicked under this test ($why); its post-mortem is in $BALLAST_BUILD/testhost-postmortem/; booting a fresh test host and guest and running the test once more"
	setup_file >&2 || return 0
	BATS_TEST_RETRIES=1
}
