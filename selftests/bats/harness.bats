#!/usr/bin/env bats
# The harness's own promises: a VMM that can't boot fails fast with its log,
# and no VMM outlives vm_stop.

setup() {
	load helpers/common
}

teardown() {
	vm_stop
}

@test "harness: a VMM that cannot boot fails vm_start quickly, showing its output" {
	local start=$SECONDS
	VM_KERNEL=/dev/null VM_BOOT_TIMEOUT=120 run vm_start 256
	assert_failure
	assert_output --partial 'exited before'
	# It noticed the exit; it did not sit out the boot timeout.
	[ $((SECONDS - start)) -lt 60 ]
}

@test "harness: vm_stop leaves no VMM process behind" {
	vm_start 256
	pid=$(vm_pid)
	where_sh "kill -0 $pid"
	vm_stop
	run where_sh "kill -0 $pid"
	assert_failure
}

# The README's first command: it runs outside bats, where no fd 3 is open.
@test "harness: make demo's script boots, balloons and reports what the host got back" {
	BUILD=$BALLAST_BUILD run timeout 300 "$BALLAST_ROOT/ci/demo.sh" 3>&-
	assert_success
	assert_output --regexp 'the host got [0-9]+ MiB back'
}
