#!/usr/bin/env bats
# A guest reboot with pages in the balloon. The reset ends the driver's
# balloon without a deflate (virtio 1.2 §2.4: the device forgets the
# driver), so the new kernel owns every page again and the device must
# serve the next driver as it served the first: the pages it held before the
# reset go back to the host when they are inflated anew.
#
# The guest boots with no balloon driver bound, so the device can be seen
# between the reset and the next driver; the test binds the driver under
# test (VM_DRIVER) itself.

BALLOON_MIB=128

load helpers/one_guest

setup_file() {
	# bats skips only from a test: without reboot, boot nothing.
	offers reboot || return 0
	export REBOOT_DRIVER=${VM_DRIVER:-virtio_balloon}
	VM_REBOOT=1 VM_DRIVER=none vm_start 512
}

@test "a reboot ends the balloon: the new kernel uses every page, and the device releases them again when the next driver inflates [2.4, R-4, D: release]" {
	needs reboot
	run vm_load_driver "$REBOOT_DRIVER"
	assert_success
	vm_touch_and_free >/dev/null
	vm_resize "$BALLOON_MIB"

	vm_reboot
	cfg=$(vm_exec 'cat /sys/kernel/debug/ballast_peek/config' | tr '\n' ' ')
	echo "# after the reset, no driver bound: $cfg" >&3

	# The pages the balloon held are the new kernel's: touching them
	# all works, and they are backed on the host again.
	run vm_touch_and_free
	check 2.4 "after the reset the new kernel writes every page the balloon held" \
		eval '[ "$status" -eq 0 ] && [[ $output != *"No space"* ]]'
	pid=$(vm_pid)
	before=$(smaps_field "$pid" Rss)

	run vm_load_driver "$REBOOT_DRIVER"
	assert_success
	vm_resize "$BALLOON_MIB"
	await_release "2.4, D: release" "$pid" "$before" $((BALLOON_MIB * 1024 * 90 / 100))
	echo "# inflate after the reboot: RSS $before KiB -> $RSS_AFTER KiB, balloon $BALLOON_MIB MiB" >&3
	vm_resize 0
}
