#!/usr/bin/env bats
# Each optional feature offered alone, and all of them together: whatever
# the driver accepts of what it is offered, it inflates and deflates
# FEATURES_MIB MiB (R-4, R-14) and breaks no page duty the referee watches.
# A guest a combination: the file's guest (setup_file) offers all of them;
# every other test boots its own at the same paths, as one_guest_fresh does,
# and teardown_file stops whichever runs last. About 10 s a boot nested.

FEATURES_MIB=16
FEATURES_SECS=120
ALL_FEATURES=must_tell_host=on,deflate_on_oom=on,stats_interval=1,free_page_reporting=on,free_page_hint=on,page_poison=on

load ../helpers/driver
load ../helpers/stress

# Acked at once: these tests are about what the driver accepts, and each
# boots its own guest; the held windows are pages.bats' and stress.bats'.
DRIVER_HOLD_MS=0

setup_file() {
	# The referee and hint_release both want the dirty log.
	driver_start 256 "$ALL_FEATURES" hint_release=off
}

# features_guest OPTS [KEYS]: this test's own guest, offering OPTS only,
# with ballast-vmm's balloon KEYS. driver_klog_clean reads the guest
# kernel's log from where its userspace began ("Run /init"): the drivers
# load after it; what the kernel logged booting is the boot's (nested, a
# CPU model's xstate WARNING at 3 s, PID 0), not the driver's.
features_guest() {
	local mark
	vm_kill_vmm 2>/dev/null
	driver_start 256 "$1" "hint_release=off${2:+,$2}" || harness_error "no guest offering $1 alone" || return
	mark=$(vm_exec "dmesg | grep -n 'Run /init as init process' | tail -n 1 | cut -d: -f1") || mark=0
	echo "${mark:-0}" >"$BATS_TEST_TMPDIR/klog-mark"
}

# features_alone OPTS: features_guest, then features_cycle.
features_alone() {
	features_guest "$1" || return
	features_cycle
}

# features_cycle: what the driver accepted (a TAP note), then the
# inflate and deflate, judged.
features_cycle() {
	echo "# offered: $(ballast_ctl '{"cmd":"query"}' | jq -c .features_offered)," \
		"accepted: $(ballast_ctl '{"cmd":"query"}' | jq -c .features_accepted)" >&3
	vm_resize "$FEATURES_MIB" "$FEATURES_SECS"
	vm_resize 0 "$FEATURES_SECS"
	check "R-7, R-9, R-10, R-12, R-13" "no page broke a page duty (referee counts r7, r9, r10, r12, r13, r38 all 0)" \
		referee_clean r7 r9 r10 r12 r13 r38
	driver_klog_clean
}

@test "every optional feature offered together: the driver inflates and deflates $FEATURES_MIB MiB [R-4, R-7, R-9, R-10, R-12, R-13, R-14]" {
	features_cycle
}

@test "MUST_TELL_HOST offered alone: the driver inflates and deflates $FEATURES_MIB MiB [R-4, R-7, R-9, R-10, R-12, R-13, R-14]" {
	features_alone must_tell_host=on
}

@test "DEFLATE_ON_OOM offered alone: the driver inflates and deflates $FEATURES_MIB MiB [R-4, R-9, R-12, R-13, R-14]" {
	features_alone deflate_on_oom=on
}

# Stats asked for every 5 s: the device holds the driver's one buffer for
# seconds at a time (the stress "a stats buffer held for seconds"); the
# driver must neither add another (R-17) nor stop ballooning meanwhile.
@test "STATS_VQ offered alone, its buffer held 5 s between requests: the driver inflates and deflates $FEATURES_MIB MiB [R-4, R-7, R-9, R-12, R-13, R-14, R-17]" {
	features_alone stats_interval=5
	check "R-17" "no second stats buffer while the device held one (referee count r17 0)" referee_clean r17
}

@test "PAGE_REPORTING offered alone: the driver inflates and deflates $FEATURES_MIB MiB [R-4, R-7, R-9, R-12, R-13, R-14, R-38]" {
	features_alone free_page_reporting=on
}

@test "FREE_PAGE_HINT offered alone: the driver inflates and deflates $FEATURES_MIB MiB [R-4, R-7, R-9, R-12, R-13, R-14]" {
	features_alone free_page_hint=on
}

# A hint run takes every free 4 MiB block, and the device may keep the run
# open (its DONE) as long as it likes, and start a new run meanwhile: the
# driver must answer the new id with its old blocks still out (R-24). A
# driver that gives the blocks back only at DONE leaves its guest nothing
# meanwhile: under pressure Linux's
# driver frees them (its shrinker), as R-29 allows (what it hands back is
# uninitialised, as any page the allocator hands out). No clause makes it
# a duty, so it is a driver statement in words; a guest OOM-killed for
# memory it only showed the host is the driver's failure all the same.
HOLD_DONE_S=20

@test "FREE_PAGE_HINT with DONE held ${HOLD_DONE_S} s after each run: a new run while the last one's blocks are out, then a process takes 3/4 of the guest's memory, the hinted blocks given back [R-23, R-24, R-25, R-28, R: hinted memory back under pressure]" {
	local avail free starts stops want
	features_guest free_page_hint=on hold_done_ms=$((HOLD_DONE_S * 1000))
	driver_needs free_page_hint FREE_PAGE_HINT
	avail=$(vm_meminfo MemAvailable) || harness_error "the guest's MemAvailable could not be read"
	want=$((avail * 3 / 4 / 1024))
	starts=$(referee hint_starts) stops=$(referee hint_stops)
	hint start
	await 60 "R-28" "the driver ended its run with STOP" "referee hint_stops" -gt "$stops"
	echo "# after the first run's STOP, DONE held: $(driver_memory 2>&1)" >&3
	# A new id while the first run's blocks are out: its DONE never comes.
	hint start
	hint_started $((starts + 1)) "the driver started the new run while the last run's blocks were out" "R-24, R-25" 60
	await 60 "R-28" "the driver ended the new run with STOP" "referee hint_stops" -gt $((stops + 1))
	check "R-23, R-24, R-25" "no hint command broke a duty (referee counts r23, r24, r25 all 0)" \
		referee_clean r23 r24 r25
	free=$(vm_meminfo MemFree) || harness_error "the guest's MemFree could not be read"
	echo "# MemAvailable $((avail / 1024)) MiB before the runs; after the second STOP, DONE held: $(driver_memory 2>&1)" >&3
	[ $((free / 1024)) -lt "$want" ] ||
		harness_error "the runs left $((free / 1024)) MiB free, more than the $want MiB asked for: nothing to show"
	check "R: hinted memory back under pressure" "a process takes $want MiB (3/4 of MemAvailable before the runs) while DONE is held" \
		checker_start "$want"
	[ "$(hint_state)" = open ] ||
		harness_error "DONE came before the process had its memory: nothing shown (HOLD_DONE_S too short)"
	echo "# the process had its memory, DONE still held: $(driver_memory 2>&1)" >&3
	await $((HOLD_DONE_S + 30)) "R-28" "the device said DONE ${HOLD_DONE_S} s after the STOP" hint_state = done
	driver_klog_clean
}

@test "PAGE_POISON offered alone: the driver inflates and deflates $FEATURES_MIB MiB [R-4, R-7, R-9, R-12, R-13, R-14]" {
	features_alone page_poison=on
}
