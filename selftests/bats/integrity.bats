#!/usr/bin/env bats
# What a device must never do: release less than it was given, or anything
# it was not given, even after a free page hint run. One 768 MiB guest for
# the file.

MEM_MIB=768
# Every cell of a conformance run runs them: 40 over a full matrix of two
# drivers and two guest kernels.
CYCLES=${INTEGRITY_CYCLES:-10}

load helpers/one_guest

setup_file() {
	# Only VMMs that can start a hint run get the feature offered.
	local opts=
	offers hint_run && opts=$(offered_opts free_page_hint=on)
	vm_start "$MEM_MIB" "$opts"
}

# 95% of two thirds of the guest leaves no room for a driver that takes
# pages the host never backed (needs_movable_pages has the figures).
@test "inflate 512 MiB: host RSS falls by >= 95% of it [D: release]" {
	needs_movable_pages
	local mib=512
	inflate_releases "$mib" 95
	echo "# RSS $RSS_BEFORE KiB -> $RSS_AFTER KiB, balloon $mib MiB" >&3
	vm_resize 0 300
}

# Linux's driver answers a new command id with every free 4 MiB block it can
# allocate, then STOP; the device answers DONE and the driver frees the
# blocks again. A device may discard a hinted page only if the guest has not
# written it since the id was issued (D-12); Linux zeroes each block as it
# allocates it, so ballast-vmm keeps them all. The checker below then shows
# that the run lost no data.
@test "free page hinting: a run the host starts ends with DONE and the guest gets its blocks back [D-14, hint]" {
	needs free_page_hint hint_run
	linux_driver || skip "module.bats checks ballast.ko's hint runs from the driver's side"
	run vm_touch_and_free
	assert_success
	pid=$(vm_pid)
	before=$(smaps_field "$pid" Rss)
	free=$(vm_meminfo MemFree)

	vmm_hint_start
	await 180 D-14 "the device ends the hint run with DONE" hint_state = done
	# DONE gave the blocks back to the guest's page allocator.
	await 60 hint "after DONE the driver frees its hinted blocks: MemFree back to >= 90% of $free KiB" \
		"vm_meminfo MemFree" -ge $((free * 9 / 10))
	echo "# RSS $before KiB -> $(smaps_field "$pid" Rss) KiB over the run, $free KiB free in the guest before it" >&3
}

# ballast_checker holds every other page of most of the guest's RAM, so each
# page the balloon can take has live data on both sides: a device that
# releases a neighbour (a merge off by one, a range too long) zeroes some.
# Where the VMM can start a hint run, one runs while the checker holds its
# data: a device that releases hinted pages must release none of those
# (with Linux's driver: the device's side is the same under ballast.ko, and
# module.bats checks ballast.ko's hinted pages).
@test "integrity: data in guest RAM survives a hint run and inflate/deflate cycles [D-3, D-12, D-13]" {
	local tags=D-3
	held=$(checker_start)
	echo "# checker: $held pages held; $CYCLES cycles" >&3
	if offers hint_run && linux_driver; then
		vmm_hint_start
		await 180 D-14 "the device ends the hint run with DONE" hint_state = done
		tags="D-3, D-12, D-13"
	fi
	balloon_cycles "$CYCLES" 96
	check "$tags" "every page the checker holds is intact after $CYCLES inflate/deflate cycles${tags#D-3}" checker_verify
}
