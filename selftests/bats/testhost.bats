#!/usr/bin/env bats
# The nested test host's recovery (helpers/one_guest.bash): a failed test
# runs once more, on a fresh test host with the file's guest booted again,
# the first test host stopped, and the tests after it find that guest; a
# test host whose kernel panics (asked for: sysrq c) is found gone at once.
# Only where the VMM runs in the test host.

load helpers/one_guest

setup_file() {
	[ "$(ballast_where)" = nested ] || return 0
	vm_start 256
}

setup() {
	[ "$(ballast_where)" = nested ] || skip "$VMM runs directly here: there is no test host"
}

# th_boot_id: the test host kernel's boot id.
th_boot_id() {
	th_sh 'cat /proc/sys/kernel/random/boot_id'
}

# Try 1 fails with its test host alive; try 2 runs on a fresh test host
# and guest, and the first test host is gone (the fresh one boots in the
# same directory: it once left the first running, unowned).
@test "test host: a failed test runs once more on a fresh test host and guest; the first test host is stopped" {
	if [ "$BATS_TEST_TRY_NUMBER" = 1 ]; then
		th_boot_id >"$BATS_FILE_TMPDIR/first-boot-id"
		cat "$TH_DIR/wrapper.pid" >"$BATS_FILE_TMPDIR/first-wrapper"
		harness_error "this try fails on purpose, as a broken harness would: the next one runs on a fresh test host"
	fi
	[ "$(th_boot_id)" != "$(cat "$BATS_FILE_TMPDIR/first-boot-id")" ]
	run kill -0 "$(cat "$BATS_FILE_TMPDIR/first-wrapper")"
	assert_failure
	run vm_exec 'cat /proc/sys/kernel/random/boot_id'
	assert_success
}

@test "test host: the tests after the recovered one find the file's guest" {
	[ "$(cat "$BATS_FILE_TMPDIR/recoveries")" = 1 ]
	# Started from inside a test, it holds none of bats' descriptors (or
	# it would keep bats' output open past the run).
	run ls "/proc/$(cat "$TH_DIR/wrapper.pid")/fd"
	assert_output "$(printf '0\n1\n2')"
	run vm_exec 'grep -c . /proc/sys/kernel/random/boot_id'
	assert_success
	assert_output 1
}

# Last: nothing after it needs the test host it ends.
@test "test host: a test host whose kernel panics is found gone at once, with the panic in the error" {
	th_sh 'echo 1 >/proc/sys/kernel/sysrq; (sleep 1; echo c >/proc/sysrq-trigger) </dev/null >/dev/null 2>&1 &'
	wait_until 60 eval '! testhost_alive'
	# Gone: the next call says so at once instead of waiting.
	local start=$SECONDS
	run vm_exec true
	[ "$status" -eq 255 ] && [ $((SECONDS - start)) -lt 10 ]
	[[ "$output" == *"sysrq triggered crash"* ]]
	# Nothing comes after: no fresh test host for a next test.
	vm_stop
}
