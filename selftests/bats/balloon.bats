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
	inflate_releases "$BALLOON_MIB" 90
	echo "# RSS $RSS_BEFORE KiB -> $RSS_AFTER KiB, balloon $BALLOON_MIB MiB" >&3
	echo "$RSS_AFTER" >"$BATS_FILE_TMPDIR/inflated_rss"
}

# With the balloon inflated, num_pages and actual are not 0: reading them
# through the VIRTIO_PCI_CAP_PCI_CFG window, which every virtio-pci device
# must offer and serve, gives what the transport's BAR gives.
@test "the PCI configuration access window reads the device config as the BAR does [4.1.4.9]" {
	# Run again on a fresh guest, it inflates for itself.
	[ "$(vm_devcfg num_pages)" -gt 0 ] || vm_resize 64
	run vm_exec ballast_devcfg
	echo "window: $output"
	check 4.1.4.9 "the guest reads the config space through the PCI configuration access window" \
		[ "$status" -eq 0 ]
	window=$output
	bar=$(vm_exec "cat /sys/kernel/debug/ballast_peek/config")
	echo "BAR: $bar"
	# Not 0, or the comparison would say nothing.
	[ "$(awk '$1 == "num_pages" { print $2 }' <<<"$bar")" -gt 0 ]
	for field in num_pages actual; do
		w=$(awk -v f=$field '$1 == f { print $2 }' <<<"$window")
		b=$(awk -v f=$field '$1 == f { print $2 }' <<<"$bar")
		check 4.1.4.9 "$field through the window ($w) is $field through the BAR ($b)" [ "$w" = "$b" ]
	done
}

@test "deflate: the balloon goes back to 0 and the guest can use that memory again [R-9, R-14]" {
	vm_resize "$BALLOON_MIB" 120
	total_inflated=$(vm_meminfo MemTotal)

	vm_resize 0 120
	# Without DEFLATE_ON_OOM ballooned pages leave MemTotal; they are back.
	await 30 R-9 "the guest's MemTotal regains >= 99% of the $BALLOON_MIB MiB deflated (from $total_inflated KiB)" \
		"vm_meminfo MemTotal" -ge $((total_inflated + BALLOON_MIB * 1024 * 99 / 100))

	# More than the guest had left while inflated: it must get the pages back.
	run vm_exec "dd if=/dev/zero of=/tmp/fill bs=1M count=$((512 - BALLOON_MIB + 64)) 2>&1 | tail -n 1; rm /tmp/fill"
	echo "$output"
	check R-9 "the guest writes $((512 - BALLOON_MIB + 64)) MiB, more than it had while inflated (dd: status $status)" \
		eval '[ "$status" -eq 0 ] && [[ $output != *"No space"* ]]'
}

# The same inflate as the first test's, after its deflate: the balloon's
# pages go back to the host again, and what it holds inflated does not creep.
@test "inflate again after a deflate: RSS falls again, no drift [D: release, R-4, R-9]" {
	# With ballast.ko's unmovable pages, what the host gets back the
	# second time shows the driver's choice of pages (some never backed on
	# the host), not what the device released.
	needs_movable_pages
	first=$(cat "$BATS_FILE_TMPDIR/inflated_rss" 2>/dev/null) || skip "the first inflate did not run on this guest"
	inflate_releases "$BALLOON_MIB" 90
	echo "# again: RSS $RSS_BEFORE KiB -> $RSS_AFTER KiB, balloon $BALLOON_MIB MiB (first inflate: $first KiB)" >&3
	await 60 "D: release" "inflated again, the VMM holds no more than 20 MiB over the $first KiB after the first inflate" \
		"smaps_field $(vm_pid) Rss" -le $((first + 20 * 1024))
	vm_resize 0
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
	check R-7 "the balloon holds its $balloon MiB under a dd of $((left + 64)) MiB (actual $actual MiB)" [ "$actual" = "$balloon" ]
	check R-7 "the dd is the one that fails (status $status)" [ "$status" -ne 0 ]
	vm_resize 0 240
}

@test "unbinding Linux's driver gives the balloon back; binding it again inflates it anew [R-9, R-14, R-4]" {
	linux_driver || skip "module.bats unbinds ballast.ko"
	vm_resize 64
	run vm_exec "rmmod virtio_balloon"
	assert_success
	await 30 "R-9, R-14" "unbound, the driver gives the balloon back: actual 0 MiB" vm_actual_reading = 0
	run vm_load_driver virtio_balloon
	assert_success
	await 120 "R-4, R-14" "bound again, the driver inflates to the 64 MiB target" vm_actual_reading = 64
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
	check control "the control plane refuses a balloon of $((VM_MEM_MIB + 64)) MiB for a $VM_MEM_MIB MiB guest (status $refused)" [ "$refused" -ne 0 ]
	check control "num_pages unchanged by the refused target ($before -> $after)" [ "$after" = "$before" ]
}
