#!/usr/bin/env bats
# ballast-vmm as a referee of the driver (--balloon referee=on): KVM's dirty
# log read at every inflate and deflate request taken and acked says which
# driver duty a page broke (vmm/virtio/balloon/referee.h). Each request is
# held HOLD_MS before its ack, so the window R-12 and R-10 guard is wide
# enough to catch a driver in it. Linux's driver first, which must break
# nothing; then ballast.ko's write_inflight knob, a driver that writes a
# page between queuing it for inflate and the ack, which must be caught.
# Not a conformance suite of the VMM: the referee is ballast-vmm's own.

VMM=ballast-vmm
BALLOON_MIB=32
HOLD_MS=${BALLAST_REFEREE_HOLD_MS:-200}
# BALLAST_REFEREE=off boots without the referee: the R-12 test must fail.
REFEREE=${BALLAST_REFEREE:-on}

load ../helpers/one_guest

setup_file() {
	BALLAST_BALLOON_EXTRA="referee=$REFEREE,hold_inflate_ms=$HOLD_MS,hold_deflate_ms=$HOLD_MS" \
		vm_start 512 must_tell_host=on
}

# referee KEY: one of query's referee counts (r12_violations, log_reads, ...).
referee() {
	ballast_ctl '{"cmd":"query"}' | jq -er ".referee.$1"
}

# referee_clean: every clause's count is 0, or the counts that are not.
referee_clean() {
	ballast_ctl '{"cmd":"query"}' |
		jq -e '.referee | to_entries | map(select((.key | endswith("_violations")) and .value != 0)) |
			if length == 0 then true else (from_entries | tostring | halt_error(1)) end'
}

@test "Linux's driver inflates and deflates $BALLOON_MIB MiB, acked ${HOLD_MS} ms late, breaking no duty the referee watches [R-7, R-9, R-10, R-12, R-13]" {
	linux_driver || skip "the guest's driver is ${VM_DRIVER}.ko"
	vm_resize "$BALLOON_MIB" 120
	vm_resize 0 120
	echo "# $(referee log_reads) log reads" >&3
	check "R-7, R-9, R-10, R-12, R-13" "no page broke a duty (every referee count 0)" referee_clean
	check "R-12" "the referee read the log (log_reads > 0, log_errors 0)" \
		eval '[ "$(referee log_reads)" -gt 0 ] && [ "$(referee log_errors)" -eq 0 ]'
}

@test "a driver that writes a page it queued for inflate before the ack is caught [R-12]" {
	if linux_driver; then
		run vm_exec "rmmod virtio_balloon"
		assert_success
		run vm_load_driver ballast
		assert_success
	fi
	# A failure here is the driver's: ballast.ko's, on purpose.
	VM_DRIVER=ballast
	run vm_exec "echo 1 > /sys/kernel/debug/ballast/inject/write_inflight; cat /sys/kernel/debug/ballast/inject/result"
	echo "$output"
	assert_success
	echo "# $(grep -E '^(acked|wait_ms|writes|pfn) ' <<<"$output" | tr '\n' ' ')" >&3
	await 10 R-12 "the referee counts the page written between the inflate taken and its ack" \
		"referee r12_violations" -gt 0
	echo "# r12_violations $(referee r12_violations), first PFNs $(referee r12_pfns | jq -c .)" >&3
}
