#!/usr/bin/env bats
# ballast-vmm releases hinted pages the guest left unwritten (D-12), read
# from KVM's dirty log while every vCPU is paused, before it says DONE
# (D-13). Linux zeroes each page it allocates when init_on_alloc is on
# (Debian's default), the hint driver's own blocks included, which makes
# them all written: this guest boots with init_on_alloc=0. Not a
# conformance suite: releasing hints is ballast-vmm's choice.

VMM=ballast-vmm
MEM_MIB=1024
# BALLAST_HINT_CMDLINE=init_on_alloc=1 shows what Debian's default reclaims.
HINT_CMDLINE=${BALLAST_HINT_CMDLINE:-init_on_alloc=0}

load ../helpers/one_guest

setup_file() {
	VM_CMDLINE_EXTRA=$HINT_CMDLINE vm_start "$MEM_MIB" free_page_hint=on
}

counter() {
	ballast_ctl '{"cmd":"query"}' | jq -r ".counters.$1"
}

@test "hint reclaim: one run gives the host >= 80% of the guest's free memory, the guest's data intact [D-12, D-13, D-14]" {
	run vm_touch_and_free
	assert_success
	# A checker over 256 MiB: the rest stays free in whole 4 MiB blocks.
	held=$(checker_start 256)
	pid=$(vm_pid)
	before=$(smaps_field "$pid" Rss)
	free=$(vm_meminfo MemFree)

	vmm_hint_start
	await 180 D-14 "the device ends the hint run with DONE" hint_state = done
	await_release D-12 "$pid" "$before" $((free * 80 / 100))
	echo "# RSS $before -> $RSS_AFTER KiB, $free KiB free in the guest; $held pages held" >&3
	echo "# released $(($(counter hint_released_bytes) / 1024)) KiB, kept $(($(counter hint_written_bytes) / 1024)) KiB written; vCPUs paused $(counter hint_pause_us_last) us" >&3
	check "D-12, D-13" "every page the checker holds is intact after the run" checker_verify
}
