#!/usr/bin/env bats
# The harness's own promises: a VMM that can't boot fails fast with its log,
# no VMM outlives vm_stop, and the boot probe survives a lost request.

setup() {
	load helpers/common
}

teardown() {
	vm_stop
	# What a test started in the background, whether it passed or not.
	[ -z "${BG_PIDS:-}" ] || kill $BG_PIDS 2>/dev/null || true
}

@test "harness: a verdict's side is the driver's for R-n and 'R: words', the device's for D-n, 'D: words' and sections, the harness's for none" {
	[ "$(verdict_side "R-4, R-14")" = driver ]
	[ "$(verdict_side "R: kernel log clean")" = driver ]
	[ "$(verdict_side "D-3, D: release")" = device ]
	[ "$(verdict_side "2.7.8")" = device ]
	[ "$(verdict_side "D-12, R-31")" = "device, driver" ]
	[ "$(verdict_side "")" = harness ]
}

@test "harness: a VMM that cannot boot fails vm_start quickly, showing its output" {
	local start=$SECONDS rc=0
	# Not `run`: its subshell would keep what vm_start made from teardown's
	# vm_stop, and the guest's state directory outlived the test.
	VM_KERNEL=/dev/null VM_BOOT_TIMEOUT=120 vm_start 256 >"$BATS_TEST_TMPDIR/out" 2>&1 || rc=$?
	output=$(cat "$BATS_TEST_TMPDIR/out")
	[ "$rc" -ne 0 ]
	assert_output --partial 'exited before'
	# It noticed the exit; it did not sit out the boot timeout.
	[ $((SECONDS - start)) -lt 60 ]
}

@test "harness: a VM_DRIVER the guest cannot load is refused in one line, before anything boots" {
	local rc=0
	VM_DRIVER=ballast.ko vm_start 256 >"$BATS_TEST_TMPDIR/out" 2>&1 || rc=$?
	output=$(cat "$BATS_TEST_TMPDIR/out")
	[ "$rc" -eq 2 ]
	assert_output "VM_DRIVER=ballast.ko: unknown balloon driver (virtio_balloon, ballast or none)"
	[ -z "${VM_RUNDIR:-}" ]
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

# A request sent before the guest's agent opened its port is lost there (the
# UART's receive FIFO is cleared on open). The agent says hello when it
# starts and the probe asks again at once; without that, the probe sat out a
# 3 s attempt and missed this deadline.
@test "harness: the boot probe is answered when its first request was lost" {
	local d=$BATS_TEST_TMPDIR probe rc=0
	socat "PTY,link=$d/pty,rawer" "UNIX-LISTEN:$d/agent.sock" 3>&- &
	BG_PIDS=$!
	wait_until 10 test -S "$d/agent.sock"
	"$AGENT" wait -t 2 "$d/agent.sock" 3>&- &
	probe=$!
	BG_PIDS+=" $probe"
	# The probe's first request reaches the port and is thrown away.
	sleep 0.5
	timeout 0.5 cat "$d/pty" >/dev/null || true
	"$AGENT" serve "$d/pty" 3>&- &
	BG_PIDS+=" $!"
	wait "$probe" || rc=$?
	[ "$rc" -eq 0 ]
}
