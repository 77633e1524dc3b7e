#!/usr/bin/env bats
# What a device must never do: release less than it was given, or anything
# it was not given. One 768 MiB guest for the file.

MEM_MIB=768

setup_file() {
	load helpers/common
	vm_start "$MEM_MIB"
}

teardown_file() {
	load helpers/common
	vm_stop
}

setup() {
	load helpers/common
}

teardown() {
	ballast_teardown
}

@test "inflate 512 MiB: host RSS falls by >= 95% of it [D: release]" {
	local mib=512
	run vm_touch_and_free
	assert_success
	pid=$(vm_pid)
	before=$(rss_kib "$pid")

	vmm_balloon_set "$mib"
	wait_until 300 vm_balloon_is "$mib"
	after=$(rss_kib "$pid")
	echo "RSS $before KiB -> $after KiB, balloon $mib MiB" >&3
	vmm_balloon_set 0
	wait_until 300 vm_balloon_is 0
	[ $((before - after)) -ge $((mib * 1024 * 95 / 100)) ]
}

# ballast_checker holds every other page of most of the guest's RAM, so each
# page the balloon can take has live data on both sides: a device that
# releases a neighbour (a merge off by one, a range too long) zeroes some.
@test "integrity: data in guest RAM survives 20 inflate/deflate cycles [D-3, R-12, R-10]" {
	local mib=96 i
	vm_exec 'avail=$(awk "/MemAvailable/ { print int(\$2 / 1024) }" /proc/meminfo)
		setsid ballast_checker $((avail - 16)) </dev/null >/tmp/checker.out 2>&1 &'
	wait_until 120 vm_exec 'grep -q ready /tmp/checker.out'
	echo "checker: $(vm_exec cat /tmp/checker.out) pages held" >&3

	for ((i = 1; i <= 20; i++)); do
		vmm_balloon_set "$mib"
		wait_until 120 vm_balloon_is "$mib"
		vmm_balloon_set 0
		wait_until 120 vm_balloon_is 0
	done
	vm_exec 'kill -USR1 $(pidof ballast_checker)'
	wait_until 60 vm_exec 'grep -qE "intact|corrupt" /tmp/checker.out'
	run vm_exec 'cat /tmp/checker.out'
	assert_output --partial intact
}
