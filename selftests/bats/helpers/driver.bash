# The frame of the driver suite (selftests/bats/driver/*.bats,
# selftests/conformance-driver.sh): the guest's balloon driver is the
# subject, ballast-vmm with its referee on is the trusted device. One guest
# a file (one_guest.bash) with the driver VM_DRIVER names (virtio_balloon
# or ballast, bound by the guest's init as conformance.sh binds it); every
# test ends with the guest kernel's log checked for what a broken driver
# leaves there; a failed test keeps the referee's log and the guest
# kernel's in its records. Load it at the top, instead of one_guest.
# shellcheck shell=bash

# The referee is ballast-vmm's: its adapter is loaded with the harness.
export VMM=ballast-vmm
load "$(dirname "${BASH_SOURCE[0]}")/one_guest"
load "$(dirname "${BASH_SOURCE[0]}")/referee"

# Each request held this long before its ack: the windows R-12 and R-10
# guard are then wide enough to catch a driver in them.
DRIVER_HOLD_MS=${BALLAST_REFEREE_HOLD_MS:-200}
# What a broken kernel-side driver leaves in the guest kernel's log.
DRIVER_KLOG_RE='Oops|WARNING:|BUG:|soft lockup|hung_task|blocked for more than|general protection|Kernel panic|Call Trace'

# driver_start MEM_MIB BALLOON_OPTS [EXTRA]: boot the file's guest on
# ballast-vmm with the referee on, every request held DRIVER_HOLD_MS, and
# ballast-vmm's own balloon keys EXTRA (hint_release=off, ...).
driver_start() {
	BALLAST_BALLOON_EXTRA="referee=on,hold_inflate_ms=$DRIVER_HOLD_MS,hold_deflate_ms=$DRIVER_HOLD_MS${3:+,$3}" \
		vm_start "$1" "$2"
}

# driver_name: the driver under test, as the report says it.
driver_name() {
	if linux_driver; then echo "Linux's virtio_balloon"; else echo "${VM_DRIVER}.ko"; fi
}

# driver_needs FEATURE WORD: skip the test when the driver did not accept
# FEATURE (query's word), in words the report keeps ("ballast.ko does not
# accept PAGE_POISON"): a driver may decline a feature, which is no
# deviation, and the clauses it binds are then not exercised.
driver_needs() {
	referee_accepted "$1" || skip "$(driver_name) does not accept $2 (its duties are not exercised)"
}

# The guest kernel log's line count when the test began: driver_klog_clean
# reads what came after.
setup() {
	local n
	n=$(vm_exec 'dmesg | wc -l' 2>/dev/null) || n=0
	echo "${n//[!0-9]/}" >"$BATS_TEST_TMPDIR/klog-mark"
}

# driver_klog: the guest kernel's log, through the agent; from the console
# when the agent no longer answers.
driver_klog() {
	vm_exec dmesg 2>/dev/null || where_sh "cat $VM_CONSOLE"
}

# driver_klog_bad: the lines of the guest kernel log since the test began
# that say the kernel broke (DRIVER_KLOG_RE); status 1 when there are any.
driver_klog_bad() {
	local mark bad
	mark=$(cat "$BATS_TEST_TMPDIR/klog-mark" 2>/dev/null) || mark=0
	bad=$(driver_klog | tail -n +"$((${mark:-0} + 1))" | grep -aE "$DRIVER_KLOG_RE")
	[ -z "$bad" ] && return 0
	echo "$bad" | head -n 40
	return 1
}

# driver_klog_clean: the check every test ends with: the guest kernel
# logged no oops, WARN, BUG, soft lockup or hung task while the driver did
# what the test asked (the device is trusted: that is the driver's). No
# spec clause says it, so it is the driver statement "R: kernel log clean",
# a row of its own: a lockup is not a broken R-23 because the test that saw
# it was about hinting.
driver_klog_clean() {
	check "R: kernel log clean" "the guest kernel logged no oops, WARN, BUG, soft lockup or hung task during the test" \
		driver_klog_bad
}

# driver_memory: one line of the guest's memory as a test begins what may
# need it: free, available, tmpfs, and with ballast.ko the 4 KiB pages its
# hint runs still hold (blocks hinted less blocks given back).
driver_memory() {
	vm_exec 'awk '"'"'/^(MemFree|MemAvailable|Shmem):/ { printf "%s %d MiB, ", $1, $2 / 1024 }'"'"' /proc/meminfo
		d=/sys/kernel/debug/ballast
		[ -r $d/hint_blocks ] && echo "hinted and held $(($(cat $d/hint_blocks) * 1024 - $(cat $d/hint_pages_returned))) pages" || echo "(no ballast.ko counters)"'
}

# driver_evidence: for a failed test, kept as notes with its records: the
# referee's log lines and the guest kernel log's tail, its oops, WARN and
# BUG lines first.
driver_evidence() {
	local log
	verdict_note "referee log: ballast-vmm's referee lines" "$(referee_log 40 2>&1)"
	log=$(driver_klog 2>&1)
	verdict_note "guest kernel log: its oops, WARN and BUG lines, then its tail" \
		"$(grep -aE "$DRIVER_KLOG_RE" <<<"$log" | head -n 40)
--- last lines:
$(tail -n 30 <<<"$log")"
}

# one_guest's teardown, with the evidence of a failed test kept first.
teardown() {
	if [ -z "${BATS_TEST_COMPLETED:-}" ] && [ -z "${BATS_TEST_SKIPPED:-}" ] && [ -n "${VM_RUNDIR:-}" ]; then
		driver_evidence || true
	fi
	one_guest_teardown
}
