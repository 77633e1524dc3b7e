#!/usr/bin/env bats
# ballast-vmm as a referee of the driver (--balloon referee=on): KVM's dirty
# log read at every inflate and deflate request taken and acked says which
# driver duty a page broke (vmm/virtio/balloon/referee.h). Each request is
# held HOLD_MS before its ack, so the window R-12 and R-10 guard is wide
# enough to catch a driver in it. Linux's driver first, which must break
# nothing; then ballast.ko's fault knobs, one driver broken on purpose per
# duty the referee counts (guest-module/README.md), each of which must be
# caught: write_inflight writes a page between queuing it for inflate and
# the ack (R-12), and so on down the table below.
# BALLAST_REFEREE_PROTO=on (the default) offers what the protocol duties'
# knobs need: stats polled every second, PAGE_POISON (init_on_free=1, so
# both drivers accept it), free page hinting, and free page reporting with
# each report held HOLD_MS before its ack (hold_report_ms, for R-38); off,
# those knobs skip. How a clean driver keeps those duties, awaited on the
# referee's exposed state, is the driver suite's
# (selftests/bats/driver/protocol.bats, make conformance-driver).
# DEFLATE_ON_OOM is not offered: a page used in the balloon at its target
# is then R-7's as well as R-9's (referee.h), so write_ballooned can be
# caught under both; with it offered only R-9 would be judged.
# MUST_TELL_HOST is offered for R-10, which needs it.
# Not a conformance suite of the VMM: the referee is ballast-vmm's own.

VMM=ballast-vmm
BALLOON_MIB=32
HOLD_MS=${BALLAST_REFEREE_HOLD_MS:-200}
# BALLAST_REFEREE=off boots without the referee: the knob tests must fail.
REFEREE=${BALLAST_REFEREE:-on}
PROTO=${BALLAST_REFEREE_PROTO:-on}
# The bound of the protocol knobs' awaits (the device's next hint id, ...).
PROTO_SECS=${BALLAST_REFEREE_PROTO_SECS:-30}

load ../helpers/one_guest
load ../helpers/referee

setup_file() {
	local extra="referee=$REFEREE,hold_inflate_ms=$HOLD_MS,hold_deflate_ms=$HOLD_MS"
	local opts=must_tell_host=on
	if [ "$PROTO" = on ]; then
		# referee=on and hint_release both want the dirty log.
		extra+=,hint_release=off
		extra+=,hold_report_ms=$HOLD_MS
		opts+=,stats_interval=1,page_poison=on,free_page_hint=on,free_page_reporting=on
		export VM_CMDLINE_EXTRA=init_on_free=1
	fi
	BALLAST_BALLOON_EXTRA=$extra vm_start 512 "$opts"
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

INJECT=/sys/kernel/debug/ballast/inject

# knob_driver: ballast.ko bound to the balloon, as the guest booted it or
# swapped in for Linux's driver by the first knob test (the guest keeps it
# for the tests after; a fresh guest comes with Linux's again). A failure
# after this is the driver's: ballast.ko's, on purpose.
knob_driver() {
	if ! vm_exec "test -d $INJECT" >/dev/null 2>&1; then
		run vm_exec "rmmod virtio_balloon"
		assert_success
		run vm_load_driver ballast
		assert_success
	fi
	VM_DRIVER=ballast
}

# knob_fire KNOB CLAUSE: fire ballast.ko's fault knob KNOB once, its
# result to the TAP stream; KNOB_BEFORE gets the referee's CLAUSE count
# (r12, ...) from before it: the counts are the file's, not the test's.
KNOB_BEFORE=0
knob_fire() {
	local knob=$1 clause=$2
	knob_driver
	KNOB_BEFORE=$(referee "${clause}_violations") || KNOB_BEFORE=0
	[[ $KNOB_BEFORE =~ ^[0-9]+$ ]] || KNOB_BEFORE=0
	run vm_exec "echo 1 > $INJECT/$knob; cat $INJECT/result"
	echo "$output"
	assert_success
	echo "# $knob: $(grep -E '^(ret|sent|acked|wait_ms|timed_out|reset|writes|pfn|next_request) ' <<<"$output" | tr '\n' ' ')" >&3
}

# knob_await TAG CLAUSE WHAT [SECS]: the referee's CLAUSE count rises above
# KNOB_BEFORE within SECS (10); the count and its evidence to the TAP
# stream. Without the referee there is no count: the await fails.
knob_await() {
	local tag=$1 clause=$2 what=$3 secs=${4:-10}
	await "$secs" "$tag" "$what" "referee ${clause}_violations" -gt "$KNOB_BEFORE"
	echo "# ${clause}_violations $(referee "${clause}_violations") (was $KNOB_BEFORE), first $(referee_evidence "$clause")" >&3
}

# knob_caught KNOB TAG CLAUSE WHAT [SECS]: knob_fire, then knob_await.
knob_caught() {
	knob_fire "$1" "$3"
	knob_await "$2" "$3" "$4" "${5:-10}"
}

# proto_knob: the knobs of the stats queue and free page hinting need the
# features BALLAST_REFEREE_PROTO=on offers.
proto_knob() {
	[ "$PROTO" = on ] || skip "BALLAST_REFEREE_PROTO=off: no stats queue, no free page hinting"
}

@test "a driver that writes a page it queued for inflate before the ack is caught [R-12]" {
	knob_caught write_inflight R-12 r12 \
		"the referee counts the page written between the inflate taken and its ack"
}

@test "a driver that deflates a page whose inflate is not acked yet is caught [R-13]" {
	knob_caught deflate_inflight R-13 r13 \
		"the referee counts the deflate of a page whose inflate it took and holds ${HOLD_MS} ms"
}

@test "a driver that writes a page after queuing its deflate and before the ack is caught [R-10]" {
	knob_caught write_deflating R-10 r10 \
		"the referee counts the page written before its deflate was acked (MUST_TELL_HOST)"
}

@test "a driver that writes a page in the balloon without deflating it is caught [R-9]" {
	knob_caught write_ballooned R-9 r9 \
		"the referee counts the page written in the balloon with no deflate for it"
}

@test "a driver that writes a page in the balloon at its target without DEFLATE_ON_OOM is caught [R-7]" {
	# At the target (actual = num_pages) the written page is one taken
	# from the balloon where R-7 forbids it; the balloon goes back after.
	knob_driver
	vm_resize 1 120
	knob_caught write_ballooned R-7 r7 \
		"the referee counts the page used from the balloon at its target"
	vm_resize 0 120
}

@test "a driver that makes a second stats buffer available while the device holds one is caught [R-17]" {
	proto_knob
	knob_caught stats_second R-17 r17 \
		"the referee counts the second stats buffer taken while it held one"
}

@test "a driver that answers stats with one tag twice is caught [R-20]" {
	proto_knob
	knob_caught stats_repeat_tag R-20 r20 \
		"the referee counts the stats buffer with a repeated tag"
}

@test "a driver that answers stats with another subset of tags is caught [R-22]" {
	proto_knob
	knob_caught stats_drop_tag R-22 r22 \
		"the referee counts the stats buffer whose tags differ from the first one's"
}

@test "a driver that sends an 8-byte free page hint command is caught [R-23]" {
	proto_knob
	knob_caught hint_cmd_8_bytes R-23 r23 \
		"the referee counts the hint command that is not 4 bytes"
}

@test "a driver that hints a page with no run open is caught [R-24]" {
	proto_knob
	knob_caught hint_page_after_stop R-24 r24 \
		"the referee counts the page hinted after STOP"
}

@test "a driver that starts a hint run twice with the current id is caught [R-25]" {
	proto_knob
	# The knob arms the driver's next run; the device's next id starts it.
	knob_fire hint_start_twice r25
	run ballast_ctl '{"cmd":"hint","action":"start"}'
	assert_success
	knob_await R-25 r25 "the referee counts the run started a second time with the current id" \
		"$PROTO_SECS"
	echo "# $(vm_exec "grep -E '^(hint_runs|free_page_descs|free_page_used_bufs) ' /sys/kernel/debug/ballast/status" | tr '\n' ' ')" >&3
}

# proto_poison: ballast.ko took PAGE_POISON, as it must under init_on_free=1
# (guest-module/README.md): a failure, not a skip, when it did not.
proto_poison() {
	proto_knob
	knob_driver
	check "R-34, R-35" "ballast.ko accepted PAGE_POISON (init_on_free=1)" referee_accepted page_poison
}

@test "a driver that writes poison_val only after DRIVER_OK is caught [R-34]" {
	local param=/sys/module/ballast/parameters/poison_late
	proto_poison
	# poison_late holds poison_val back until after DRIVER_OK at the next
	# probe or reset: reset_device's re-initialisation is that reset. The
	# late write is init_on_free's 0, the value the reset left: no R-35.
	run vm_exec "echo Y > $param"
	assert_success
	knob_fire reset_device r34
	run vm_exec "echo N > $param"
	assert_success
	knob_await R-34 r34 "the referee counts DRIVER_OK with PAGE_POISON and poison_val unwritten"
}

@test "a driver that changes poison_val while DRIVER_OK is caught [R-35]" {
	proto_poison
	# Two changes: to another value, then back to the kernel's.
	knob_caught poison_change R-35 r35 \
		"the referee counts poison_val written with another value while DRIVER_OK"
}

@test "a driver that writes a page of a free page report before the ack is caught [R-38]" {
	proto_knob
	# The knob arms the driver's next report; freeing memory brings one
	# (page_reporting reports 2 s after a free, in 2 MiB blocks, once a
	# zone holds enough of them), which the device holds ${HOLD_MS} ms.
	knob_fire report_write_inflight r38
	run vm_touch_and_free
	assert_success
	knob_await R-38 r38 "the referee counts the reported page written between the report taken and its ack" \
		"$PROTO_SECS"
	echo "# $(vm_exec "grep -E '^(report_calls|report_writes|reporting_used_bufs) ' /sys/kernel/debug/ballast/status" | tr '\n' ' ')" >&3
}
