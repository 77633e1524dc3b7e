#!/usr/bin/env bats
# ballast.ko, the instrumented guest driver (guest-module/), against the VMM
# under test: its in-guest kselftests (selftests/guest/, TAP inside TAP) and
# what the host sees meanwhile. One guest for the whole file, booted with
# deflate-on-OOM, free page reporting and stats polling; the tests build on
# each other's state in file order.

BALLOON_MIB=256

load helpers/one_guest

setup_file() {
	export VM_DRIVER=ballast
	vm_start 512 deflate_on_oom=on,free_page_reporting=on,stats_interval=1
}

setup() {
	export VM_EXEC_TIMEOUT=${VM_EXEC_TIMEOUT:-240}
}

# guest_test PROGRAM ARGS...: run an in-guest kselftest; its TAP goes to the
# log, its exit status (0 pass, 1 fail, 4 skip) decides.
guest_test() {
	run vm_exec "$@"
	echo "$output"
	if [ "$status" -eq 4 ]; then
		skip "$1: $(grep -m1 -i 'skip' <<<"$output")"
	fi
	[ "$status" -eq 0 ]
}

# bl_counter NAME: one of ballast.ko's debugfs counters.
bl_counter() {
	vm_exec "cat /sys/kernel/debug/ballast/$1"
}

@test "ballast.ko binds the balloon device and accepts DEFLATE_ON_OOM and PAGE_REPORTING [R-1]" {
	guest_test ballast_probe 0x24
}

@test "inflate with ballast.ko: actual reaches the target, counted per queue [R-4, R-14, 2.7.8]" {
	vmm_balloon_set "$BALLOON_MIB"
	wait_until 120 vm_balloon_is "$BALLOON_MIB"
	guest_test ballast_balloon "$BALLOON_MIB"
	# The target reached the driver through a config-change interrupt.
	[ "$(bl_counter config_changes)" -gt 0 ]
}

@test "stats: every device request answered with one buffer [R-17..R-22]" {
	guest_test ballast_stats
}

@test "stats: the device's parsed values match the guest's (QEMU: guest-stats) [D-7]" {
	[ "$VMM" = qemu ] || skip "reads QEMU's guest-stats over QMP"
	reply=$(qemu_qmp '{"execute":"qom-get","arguments":{"path":"/machine/peripheral/balloon0","property":"guest-stats"}}')
	echo "$reply"
	total=$(jq '.return.stats["stat-total-memory"]' <<<"$reply")
	[ "$(jq '.return["last-update"]' <<<"$reply")" -gt 0 ]
	[ "$total" = "$(($(vm_meminfo MemTotal) * 1024))" ]
}

@test "fault injection: each malformed request gets a conforming answer and the guest recovers" {
	guest_test ballast_inject
}

@test "stats with an unknown tag: the device ignored it and kept the known ones (QEMU) [D-6]" {
	[ "$VMM" = qemu ] || skip "reads QEMU's guest-stats over QMP"
	[ "$(vm_exec 'cat /sys/kernel/debug/ballast/inject_calls')" -gt 0 ] || skip "inject test did not run"
	sleep 2	# one more poll after the injected answer
	reply=$(qemu_qmp '{"execute":"qom-get","arguments":{"path":"/machine/peripheral/balloon0","property":"guest-stats"}}')
	echo "$reply"
	[ "$(jq '.return.stats["stat-total-memory"]' <<<"$reply")" = "$(($(vm_meminfo MemTotal) * 1024))" ]
	[ "$(jq '.return.stats["stat-available-memory"]' <<<"$reply")" -gt 0 ]
}

@test "deflate on OOM: the shrinker deflates while a hog runs, nobody is OOM-killed [R-8]" {
	vmm_balloon_set "$BALLOON_MIB"
	wait_until 120 vm_balloon_is "$BALLOON_MIB"
	guest_test ballast_oom
	# The device was told: its view of the balloon shrank too.
	actual=$(vmm_balloon_actual)
	echo "balloon after the hog: $actual MiB (device's view)" >&3
	[ "$actual" -lt "$BALLOON_MIB" ]
}

@test "deflate with ballast.ko: the balloon goes back to 0 [R-9, R-14]" {
	vmm_balloon_set "$BALLOON_MIB"
	wait_until 120 vm_balloon_is "$BALLOON_MIB"
	vmm_balloon_set 0
	wait_until 120 vm_balloon_is 0
	guest_test ballast_balloon 0
}

@test "free page reporting: reported bytes above zero and host RSS falls [R-36..R-41]" {
	pid=$(vm_pid)
	run vm_exec "ballast_churn 256"
	assert_success
	peak=$(smaps_field "$pid" Rss)
	guest_test ballast_report 64
	after=$(rss_kib "$pid")
	bytes=$(bl_counter reported_bytes)
	echo "RSS $peak KiB after touching 256 MiB -> $after KiB; reported $((bytes / MIB)) MiB" >&3
	[ "$bytes" -gt 0 ]
	[ $((peak - after)) -ge $((128 * 1024)) ]
}

@test "batch 8: eight descriptors in flight per kick, same result [batch]" {
	vm_exec "echo 8 > /sys/kernel/debug/ballast/batch"
	[ "$(bl_counter batch)" = 8 ]
	vmm_balloon_set 128
	wait_until 120 vm_balloon_is 128
	guest_test ballast_balloon 128
	[ "$(bl_counter max_inflight)" = 8 ]
	vmm_balloon_set 0
	wait_until 120 vm_balloon_is 0
	vm_exec "echo 1 > /sys/kernel/debug/ballast/batch"
}

@test "unbinding ballast.ko returns the balloon and tells the device; rebinding works" {
	vmm_balloon_set 64
	wait_until 120 vm_balloon_is 64
	run vm_exec "rmmod ballast"
	assert_success
	wait_until 30 vm_balloon_is 0
	run vm_exec "insmod /lib/ballast/ballast.ko"
	assert_success
	wait_until 120 vm_balloon_is 64
	guest_test ballast_balloon 64
	vmm_balloon_set 0
	wait_until 120 vm_balloon_is 0
}

@test "inflate past what the guest can give: out of puff, counted, nobody OOM-killed [R-4, R-14]" {
	# Counted from here: an earlier test's OOM kill is not this one's.
	kills=$(vm_exec "awk '\$1 == \"oom_kill\" { print \$2 }' /proc/vmstat")
	vmm_balloon_set 500
	guest_test ballast_puff "$kills"
	vmm_balloon_set 0
	wait_until 120 vm_balloon_is 0
}
