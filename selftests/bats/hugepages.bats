#!/usr/bin/env bats
# Guest RAM on transparent huge pages (ballast-vmm --memory thp=on): a 2 MiB
# host page goes back to the host only once all 512 of its 4 KiB pieces are
# in the balloon. Ballooning whole huge pages releases them; ballooning
# scattered pages releases nothing and shatters no huge page, where a
# device working in 4 KiB pieces would split each one it touched. One
# 768 MiB guest for the file.

MEM_MIB=768

load helpers/one_guest

setup_file() {
	offers thp || return 0
	VM_THP=on vm_start "$MEM_MIB"
}

# A device test: it needs a driver whose pages come from the memory the
# guest frees, whole huge pages of it, not from wherever the allocator
# keeps unmovable pages.
setup() {
	needs thp
	needs_movable_pages
}

# ballast_checker holds every other 4 KiB page of most of the guest's RAM,
# so nearly every page the balloon takes is a hole in a huge page whose
# other half is in use. First, while every huge page is still whole.
@test "huge pages: a balloon of scattered pages keeps every huge page whole and the data intact [D-3]" {
	checker_start
	pid=$(vm_pid)
	huge=$(smaps_field "$pid" AnonHugePages)
	[ "$huge" -gt 0 ] || skip "no transparent huge pages where $VMM runs"
	balloon_cycles 5 96
	# Balloon pages beside the checker's margin may fill whole huge pages,
	# and those may go; a device working in 4 KiB pieces splits about 96
	# huge pages (192 MiB) a cycle. A split is done when the release that
	# made it is: one reading after the cycles is final (waiting could
	# only let khugepaged hide a split).
	after=$(smaps_field "$pid" AnonHugePages)
	echo "# on huge pages: $huge KiB -> $after KiB over 5 cycles of 96 MiB" >&3
	check D-3 "the VMM's memory on huge pages stays within 32 MiB of $huge KiB over 5 cycles of 96 MiB (now $after KiB)" \
		[ $((huge - after)) -le $((32 * 1024)) ]
	check D-3 "every page the checker holds is intact" checker_verify
}

@test "huge pages: ballooning freed memory releases whole huge pages, RSS falls by >= 90% [D: release]" {
	local mib=256
	inflate_releases "$mib" 90
	echo "# RSS $RSS_BEFORE KiB -> $RSS_AFTER KiB, $(smaps_field "$(vm_pid)" AnonHugePages) KiB on huge pages" >&3
	vm_resize 0 240
}
