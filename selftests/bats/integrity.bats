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

# Pages the guest still uses sit next to the ballooned ones: a device that
# releases a neighbour (a merge off by one, a range too long) zeroes guest
# data, and the checksum shows it.
@test "integrity: data in guest RAM survives 20 inflate/deflate cycles [D-3, R-12, R-10]" {
	local mib=128 i
	run vm_exec 'avail=$(awk "/MemAvailable/ { print int(\$2 / 1024) }" /proc/meminfo)
		dd if=/dev/urandom of=/tmp/pattern bs=1M count=$((avail - 128 - 64)) 2>/dev/null &&
		md5sum /tmp/pattern > /tmp/pattern.md5 && du -m /tmp/pattern'
	assert_success
	echo "pattern: ${output%%[[:space:]]*} MiB" >&3

	for ((i = 1; i <= 20; i++)); do
		vmm_balloon_set "$mib"
		wait_until 120 vm_balloon_is "$mib"
		vmm_balloon_set 0
		wait_until 120 vm_balloon_is 0
	done
	VM_EXEC_TIMEOUT=120 run vm_exec 'md5sum -c /tmp/pattern.md5 && rm /tmp/pattern'
	assert_success
}
