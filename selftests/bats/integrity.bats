#!/usr/bin/env bats
# What a device must never do: release less than it was given, or anything
# it was not given, even after a free page hint run. One 768 MiB guest for
# the file.

MEM_MIB=768

load helpers/one_guest

setup_file() {
	local opts=
	# Only adapters that can start a hint run get the feature offered.
	declare -F vmm_hint_start >/dev/null && opts=free_page_hint=on
	vm_start "$MEM_MIB" "$opts"
}

@test "inflate 512 MiB: host RSS falls by >= 95% of it [D: release]" {
	local mib=512
	out=$(inflate_and_measure "$mib")
	read -r before after <<<"$out"
	echo "RSS $before KiB -> $after KiB, balloon $mib MiB" >&3
	vmm_balloon_set 0
	wait_until 300 vm_balloon_is 0
	[ $((before - after)) -ge $((mib * 1024 * 95 / 100)) ]
}

# meminfo_at_least FIELD KIB: the guest's /proc/meminfo FIELD is >= KIB.
meminfo_at_least() {
	local v
	v=$(vm_meminfo "$1") || return 1
	[ "$v" -ge "$2" ]
}

# Linux's driver answers a new command id with every free 4 MiB block it can
# allocate, then STOP; the device answers DONE and the driver frees the
# blocks again. A device may discard a hinted page only if the guest has not
# written it since the id was issued (D-12); Linux zeroes each block as it
# allocates it, so ballast-vmm keeps them all. The checker below then shows
# that the run lost no data.
@test "free page hinting: a run the host starts ends with DONE and the guest gets its blocks back [D-14, R-23..32]" {
	declare -F vmm_hint_start >/dev/null || skip "the $VMM adapter cannot start a free page hint run"
	run vm_touch_and_free
	assert_success
	pid=$(vm_pid)
	before=$(rss_kib "$pid")
	free=$(vm_meminfo MemFree)

	vmm_hint_start
	wait_until 180 vmm_hint_done
	# DONE gave the blocks back to the guest's page allocator.
	wait_until 60 meminfo_at_least MemFree $((free * 9 / 10))
	echo "# RSS $before KiB -> $(rss_kib "$pid") KiB over the run, $free KiB free in the guest before it" >&3
}

# ballast_checker holds every other page of most of the guest's RAM, so each
# page the balloon can take has live data on both sides: a device that
# releases a neighbour (a merge off by one, a range too long) zeroes some.
@test "integrity: data in guest RAM survives 20 inflate/deflate cycles [D-3, R-12, R-10]" {
	held=$(checker_start)
	echo "# checker: $held pages held" >&3
	balloon_cycles 20 96
	checker_verify
}
