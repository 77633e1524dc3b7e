#!/usr/bin/env bats
# Inflate and deflate with the guest's stock virtio_balloon driver, measured
# on the host side by the VMM's RSS (virtio 1.2 §5.5.6).

BALLOON_MIB=256

load helpers/one_guest

setup_file() {
	# Free page reporting stays off: only the balloon may shrink RSS here.
	vm_start 512
}

@test "inflate: actual reaches the target and host RSS falls by >= 90% of it [D: release, R-4, R-14]" {
	out=$(inflate_and_measure "$BALLOON_MIB")
	read -r before after <<<"$out"
	echo "RSS $before KiB -> $after KiB, balloon $BALLOON_MIB MiB" >&3
	[ $((before - after)) -ge $((BALLOON_MIB * 1024 * 90 / 100)) ]
}

@test "deflate: the balloon goes back to 0 and the guest can use that memory again [R-9, R-14]" {
	vmm_balloon_set "$BALLOON_MIB"
	wait_until 120 vm_balloon_is "$BALLOON_MIB"
	total_inflated=$(vm_meminfo MemTotal)

	vmm_balloon_set 0
	wait_until 120 vm_balloon_is 0
	total=$(vm_meminfo MemTotal)
	# Without DEFLATE_ON_OOM ballooned pages leave MemTotal; they are back.
	[ $((total - total_inflated)) -ge $((BALLOON_MIB * 1024 * 99 / 100)) ]

	# More than the guest had left while inflated: it must get the pages back.
	run vm_exec "dd if=/dev/zero of=/tmp/fill bs=1M count=$((512 - BALLOON_MIB + 64)) 2>&1 | tail -n 1; rm /tmp/fill"
	assert_success
	refute_output --partial 'No space'
}
