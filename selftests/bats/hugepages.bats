#!/usr/bin/env bats
# Guest RAM on transparent huge pages (ballast-vmm --memory thp=on): a 2 MiB
# host page goes back to the host only once all 512 of its 4 KiB pieces are
# in the balloon. Ballooning whole huge pages releases them; ballooning
# scattered pages releases nothing and shatters no huge page, where a
# device working in 4 KiB pieces would split each one it touched. One
# 768 MiB guest for the file.

MEM_MIB=768

load helpers/one_guest

# bats skips from setup(), not setup_file(): no guest without the switch.
setup_file() {
	declare -F vmm_thp >/dev/null || return 0
	VM_THP=on vm_start "$MEM_MIB"
}

setup() {
	declare -F vmm_thp >/dev/null || skip "the $VMM adapter has no huge-page switch"
}

@test "huge pages: ballooning freed memory releases whole huge pages, RSS falls by >= 90% [D: release]" {
	local mib=256
	run vm_touch_and_free
	assert_success
	pid=$(vm_pid)
	before=$(rss_kib "$pid")
	huge=$(smaps_field "$pid" AnonHugePages)
	[ "$huge" -gt $((mib * 1024)) ] || skip "only $huge KiB on huge pages where $VMM runs"

	vmm_balloon_set "$mib"
	wait_until 240 vm_balloon_is "$mib"
	after=$(rss_kib "$pid")
	echo "# RSS $before KiB -> $after KiB, on huge pages $huge -> $(smaps_field "$pid" AnonHugePages) KiB" >&3
	vmm_balloon_set 0
	wait_until 240 vm_balloon_is 0
	[ $((before - after)) -ge $((mib * 1024 * 90 / 100)) ]
}

# ballast_checker holds every other 4 KiB page of most of the guest's RAM:
# whatever the balloon takes then, no huge page is ever complete.
@test "huge pages: a balloon of scattered pages keeps every huge page whole and the data intact [D-3]" {
	checker_start
	pid=$(vm_pid)
	huge=$(rss_kib "$pid" AnonHugePages)
	balloon_cycles 5 96
	after=$(rss_kib "$pid" AnonHugePages)
	echo "# on huge pages: $huge KiB -> $after KiB over 5 cycles of 96 MiB" >&3
	[ "$after" -ge $((huge * 99 / 100)) ]
	checker_verify
}
