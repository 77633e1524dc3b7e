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

# Acked at once: these tests are about what the driver accepts, and each
# boots its own guest; the held windows are pages.bats' and stress.bats'.
DRIVER_HOLD_MS=0

setup_file() {
	# The referee and hint_release both want the dirty log.
	driver_start 256 "$ALL_FEATURES" hint_release=off
}

# features_alone OPTS: this test's own guest, offering OPTS only, then
# features_cycle. driver_klog_clean reads the guest kernel's log from
# where its userspace began ("Run /init"): the drivers load after it; what
# the kernel logged booting is the boot's (nested, a CPU model's xstate
# WARNING at 3 s, PID 0), not the driver's.
features_alone() {
	local mark
	vm_kill_vmm 2>/dev/null
	driver_start 256 "$1" hint_release=off || harness_error "no guest offering $1 alone" || return
	mark=$(vm_exec "dmesg | grep -n 'Run /init as init process' | tail -n 1 | cut -d: -f1") || mark=0
	echo "${mark:-0}" >"$BATS_TEST_TMPDIR/klog-mark"
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

@test "STATS_VQ offered alone: the driver inflates and deflates $FEATURES_MIB MiB [R-4, R-7, R-9, R-12, R-13, R-14]" {
	features_alone stats_interval=1
}

@test "PAGE_REPORTING offered alone: the driver inflates and deflates $FEATURES_MIB MiB [R-4, R-7, R-9, R-12, R-13, R-14, R-38]" {
	features_alone free_page_reporting=on
}

@test "FREE_PAGE_HINT offered alone: the driver inflates and deflates $FEATURES_MIB MiB [R-4, R-7, R-9, R-12, R-13, R-14]" {
	features_alone free_page_hint=on
}

@test "PAGE_POISON offered alone: the driver inflates and deflates $FEATURES_MIB MiB [R-4, R-7, R-9, R-12, R-13, R-14]" {
	features_alone page_poison=on
}
