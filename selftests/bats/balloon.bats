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
	echo "$after" >"$BATS_FILE_TMPDIR/inflated_rss"
	[ $((before - after)) -ge $((BALLOON_MIB * 1024 * 90 / 100)) ]
}

# Right after the inflate, num_pages and actual are not 0: reading them
# through the VIRTIO_PCI_CAP_PCI_CFG window, which every virtio-pci device
# must offer and serve, gives what the transport's BAR gives.
@test "the PCI configuration access window reads the device config as the BAR does [4.1.4.9]" {
	run vm_exec ballast_devcfg
	echo "window: $output"
	assert_success
	window=$output
	bar=$(vm_exec "cat /sys/kernel/debug/ballast_peek/config")
	echo "BAR: $bar"
	[ "$(awk '$1 == "num_pages" { print $2 }' <<<"$bar")" -gt 0 ]
	for field in num_pages actual; do
		[ "$(awk -v f=$field '$1 == f { print $2 }' <<<"$window")" = \
			"$(awk -v f=$field '$1 == f { print $2 }' <<<"$bar")" ]
	done
}

@test "deflate: the balloon goes back to 0 and the guest can use that memory again [R-9, R-14]" {
	vm_resize "$BALLOON_MIB" 120
	total_inflated=$(vm_meminfo MemTotal)

	vm_resize 0 120
	total=$(vm_meminfo MemTotal)
	# Without DEFLATE_ON_OOM ballooned pages leave MemTotal; they are back.
	[ $((total - total_inflated)) -ge $((BALLOON_MIB * 1024 * 99 / 100)) ]

	# More than the guest had left while inflated: it must get the pages back.
	run vm_exec "dd if=/dev/zero of=/tmp/fill bs=1M count=$((512 - BALLOON_MIB + 64)) 2>&1 | tail -n 1; rm /tmp/fill"
	assert_success
	refute_output --partial 'No space'
}

# The same inflate as the first test's, after its deflate: the balloon's
# pages go back to the host again, and what it holds inflated does not creep.
@test "inflate again after a deflate: RSS falls again, no drift [D: release, R-4, R-9]" {
	# ballast.ko allocates unmovable pages, which come first from blocks
	# the guest never touched: with it, what the host gets back the second
	# time shows the driver's choice of pages, not what the device released.
	linux_driver || skip "ballast.ko's unmovable pages may never have been backed on the host"
	first=$(cat "$BATS_FILE_TMPDIR/inflated_rss")
	out=$(inflate_and_measure "$BALLOON_MIB")
	read -r before after <<<"$out"
	echo "# again: RSS $before KiB -> $after KiB, balloon $BALLOON_MIB MiB (first inflate: $first KiB)" >&3
	vm_resize 0
	[ $((before - after)) -ge $((BALLOON_MIB * 1024 * 90 / 100)) ]
	[ "$after" -le $((first + 20 * 1024)) ]
}

@test "deflate on OOM off: the balloon holds and the hog is the one that fails [R-7]" {
	avail=$(($(vm_meminfo MemAvailable) / 1024))
	balloon=$((avail - 96 < 256 ? avail - 96 : 256))
	vm_resize "$balloon" 240
	left=$(($(vm_meminfo MemAvailable) / 1024))
	kills=$(vm_exec "awk '\$1 == \"oom_kill\" { print \$2 }' /proc/vmstat")
	VM_EXEC_TIMEOUT=240 run vm_exec "dd if=/dev/zero of=/dev/null bs=$((left + 64))M count=1"
	actual=$(vm_balloon_actual)
	now=$(vm_exec "awk '\$1 == \"oom_kill\" { print \$2 }' /proc/vmstat")
	echo "# balloon $balloon MiB, $left MiB left, dd of $((left + 64)) MiB: status $status, OOM kills $kills -> $now, actual $actual MiB" >&3
	vm_resize 0 240
	[ "$status" -ne 0 ]
	[ "$actual" = "$balloon" ]
}

@test "unbinding Linux's driver gives the balloon back; binding it again inflates it anew [R-9, R-14, R-4]" {
	linux_driver || skip "module.bats unbinds ballast.ko"
	vm_resize 64
	run vm_exec "rmmod virtio_balloon"
	assert_success
	wait_until 30 vm_balloon_is 0
	run vm_load_driver virtio_balloon
	assert_success
	wait_until 120 vm_balloon_is 64
	vm_resize 0
}

# Last in the file: a VMM that takes such a target leaves the driver
# inflating towards more than the guest has until it is set back.
@test "a balloon larger than the guest's RAM is refused by the control plane, num_pages unchanged [control]" {
	before=$(vm_devcfg num_pages)
	run vmm_balloon_set $((VM_MEM_MIB + 64))
	refused=$status
	after=$(vm_devcfg num_pages)
	echo "# asked for $((VM_MEM_MIB + 64)) MiB of a $VM_MEM_MIB MiB guest: status $refused, num_pages $before -> $after" >&3
	[ "$refused" -eq 0 ] && vm_resize 0 240
	[ "$refused" -ne 0 ]
	[ "$after" = "$before" ]
}
