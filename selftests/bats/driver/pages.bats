#!/usr/bin/env bats
# The driver's page duties, judged by ballast-vmm's referee (KVM's dirty log
# read at every inflate and deflate request taken and acked; each request
# held before its ack, so a driver that uses a page too early is caught in
# the window): R-12 no page written between its inflate and the ack, R-13
# no deflate of a page whose inflate is not acked, R-10 (MUST_TELL_HOST) no
# page written before its deflate is acked, R-9 no balloon page used
# without a deflate, R-7 (no DEFLATE_ON_OOM offered) no balloon page taken
# back at the target; R-4 and R-14 from the resizes themselves. The guest
# holds data of its own throughout (ballast_checker): the device is ours
# and releases only what it is given, so a page lost is one the driver gave
# away while in use.
# DEFLATE_ON_OOM is not offered, so that a balloon page used at the target
# is R-7's as well as R-9's; MUST_TELL_HOST is, for R-10.

BALLOON_MIB=32
CHECKER_MIB=192

load ../helpers/driver

setup_file() {
	driver_start 512 must_tell_host=on
}

# page_tags: the page duties this guest's driver is bound by: R-10 only
# where it accepted MUST_TELL_HOST.
page_tags() {
	if referee_accepted must_tell_host; then
		echo "R-7, R-9, R-10, R-12, R-13"
	else
		echo "R-7, R-9, R-12, R-13"
	fi
}

@test "the driver inflates and deflates $BALLOON_MIB MiB, acked ${DRIVER_HOLD_MS} ms late, breaking no page duty; the guest's data intact [R-4, R-7, R-9, R-10, R-12, R-13, R-14]" {
	local tags held
	tags=$(page_tags)
	[[ $tags == *R-10* ]] || echo "# R-10 not judged: $(driver_name) did not accept MUST_TELL_HOST" >&3
	held=$(checker_start "$CHECKER_MIB") || harness_error "the guest's checker did not start" "$held"
	echo "# checker: $held" >&3
	vm_resize "$BALLOON_MIB" 120
	vm_resize 0 120
	echo "# $(referee log_reads) log reads" >&3
	check "$tags" "no page broke a page duty (referee counts r7, r9, r10, r12, r13 all 0)" \
		referee_clean r7 r9 r10 r12 r13
	check "R-12" "the referee read the dirty log (log_reads > 0, log_errors 0)" \
		eval '[ "$(referee log_reads)" -gt 0 ] && [ "$(referee log_errors)" -eq 0 ]'
	check "R-7, R-12" "every page the guest's checker holds is intact: the driver gave the balloon no page in use" \
		checker_verify
	driver_klog_clean
}

# Balloon compaction moves a ballooned page: an inflate of the new page,
# then a deflate of the old one, `actual` unchanged. A driver that does it
# out of order, or touches either page in its window, breaks a page duty.
@test "the driver keeps its page duties while the guest compacts its memory with the balloon inflated [R-9, R-12, R-13, R-14]" {
	vm_resize "$BALLOON_MIB" 120
	run vm_exec 'echo 1 > /proc/sys/vm/compact_memory; grep -E "^balloon_(inflate|deflate|migrate) " /proc/vmstat'
	echo "# $(tr '\n' ' ' <<<"$output")" >&3
	[ "$status" -eq 0 ] || harness_error "compact_memory could not be written in the guest" "$output"
	check "R-9, R-12, R-13" "no page broke a page duty across compaction (referee counts r9, r12, r13 all 0)" \
		referee_clean r9 r12 r13
	vm_resize 0 120
	driver_klog_clean
}
