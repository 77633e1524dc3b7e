#!/usr/bin/env bats
# ballast.ko, the instrumented guest driver (guest-module/), against the VMM
# under test: the probe that sees from the driver's side what a device does.
# Its in-guest kselftests (selftests/guest/, TAP inside TAP) and what the
# host sees meanwhile. One guest for the whole file, booted with whichever of
# deflate-on-OOM, free page reporting and stats polling the VMM offers, and
# free page hinting where the VMM can start a run; the tests build on each
# other's state in file order.

BALLOON_MIB=256

load helpers/one_guest

setup_file() {
	local opts=deflate_on_oom=on,free_page_reporting=on,stats_interval=1
	export VM_DRIVER=ballast
	offers hint_run && opts+=,free_page_hint=on
	vm_start 512 "$(offered_opts "$opts")"
}

setup() {
	export VM_EXEC_TIMEOUT=${VM_EXEC_TIMEOUT:-240}
}

# guest_test TAGS PROGRAM ARGS...: run an in-guest kselftest, a check of
# TAGS; its TAP goes to the log (and, on failure, its failing lines to the
# check's evidence), its exit status (0 pass, 1 fail, 4 skip) decides.
guest_test() {
	local tags=$1
	shift
	run vm_exec "$@"
	echo "$output"
	if [ "$status" -eq 4 ]; then
		skip "$1: $(grep -m1 -i 'skip' <<<"$output")"
	fi
	check "$tags" "the in-guest test '$*' passes (it exited $status)" \
		eval '[ "$status" -eq 0 ] || { grep -E "^(not ok|#.*(Expected|FAIL|fail))" <<<"$output" | head -n 20; false; }'
}

# bl_counter NAME: one of ballast.ko's debugfs counters.
bl_counter() {
	vm_exec "cat /sys/kernel/debug/ballast/$1"
}

# booted_features: the device-specific feature bits (hex) this guest's
# VMM was started to offer, for ballast_probe.
booted_features() {
	local opt mask=0
	for opt in ${VM_BALLOON_OPTS//,/ }; do
		case ${opt%%=*} in
		must_tell_host) mask=$((mask | 0x1)) ;;
		stats_interval) mask=$((mask | 0x2)) ;;
		deflate_on_oom) mask=$((mask | 0x4)) ;;
		free_page_hint) mask=$((mask | 0x8)) ;;
		free_page_reporting) mask=$((mask | 0x20)) ;;
		esac
	done
	printf '0x%x\n' "$mask"
}

# vmm_alive: the VMM process still runs.
vmm_alive() {
	where_sh "kill -0 $(vm_pid)"
}

@test "ballast.ko binds the balloon device and negotiates what the VMM was started to offer [R-1, 5.5.3]" {
	guest_test "R-1, 5.5.3" ballast_probe "$(booted_features)"
}

@test "inflate with ballast.ko: actual reaches the target, announced by a config-change interrupt [R-4, R-14, 4.1.4.5]" {
	changes=$(bl_counter config_changes)
	vm_resize "$BALLOON_MIB" 120
	guest_test "R-4, R-14" ballast_balloon "$BALLOON_MIB"
	# ballast.ko reads num_pages only when interrupted: the new target
	# reached it through a configuration-change interrupt.
	now=$(bl_counter config_changes)
	check 4.1.4.5 "a configuration-change interrupt announced the new num_pages (config_changes $changes -> $now)" \
		[ "$now" -gt "$changes" ]
}

# make bench splits an inflate's time with these: they must add up.
@test "inflate times: ballast.ko counts its allocating and the device's turn, within its rounds [bench]" {
	read -r whole alloc xfer < <(vm_exec 'cd /sys/kernel/debug/ballast &&
		echo $(cat inflate_us inflate_alloc_us inflate_xfer_us)')
	echo "# rounds ${whole} us: allocating ${alloc} us, the device's turn ${xfer} us" >&3
	check bench "ballast.ko counted time allocating ($alloc us) and the device's turn ($xfer us), within its rounds ($whole us)" \
		eval '[ "$alloc" -gt 0 ] && [ "$xfer" -gt 0 ] && [ $((alloc + xfer)) -le "$whole" ]'
}

# With hold_actual set the driver stops writing `actual`: whatever the device
# shows there afterwards, it wrote itself.
@test "actual is the driver's: the device never writes it [D: actual is driver-written, R-4, R-14]" {
	before=$(vm_devcfg actual)
	vm_exec "echo Y > /sys/kernel/debug/ballast/hold_actual"
	vmm_balloon_set $((BALLOON_MIB + 32))
	rc=0
	verdict_wait 120 "bl_counter balloon_pages" -eq $(((BALLOON_MIB + 32) * 256)) || rc=$?
	after=$(vm_devcfg actual)
	vm_exec "echo N > /sys/kernel/debug/ballast/hold_actual"
	vm_resize "$BALLOON_MIB" 120
	echo "# actual in the device: $before pages before, $after after the driver inflated 32 MiB without writing it" >&3
	check R-4 "ballast.ko inflates 32 MiB more while it holds actual back" [ "$rc" -eq 0 ] || { echo "$AWAIT_SERIES" >&2; false; }
	check "D: actual is driver-written" "actual in the device stays $before pages while the driver does not write it (read $after)" \
		[ "$after" = "$before" ]
}

@test "stats: every device request answered with one buffer [R-17..R-22]" {
	local asker=
	needs stats_vq
	# A device that asks only when its host asks it (no polling interval)
	# is asked twice, from here, while the in-guest test watches. Only that
	# job is waited for: bats keeps a timer of its own in the background.
	if ! offers stats_interval; then
		needs stats_read
		{ sleep 2; vmm_balloon_stats; vmm_balloon_stats; } >/dev/null 2>&1 3>&- &
		asker=$!
	fi
	guest_test "R-17..R-22" ballast_stats
	[ -z "$asker" ] || wait "$asker"
}

@test "stats: the device's parsed values match the guest's [D-7]" {
	needs stats_vq stats_read
	# The device's values arrive with the driver's next report.
	total=$(($(vm_meminfo MemTotal) * 1024))
	await 60 D-7 "the device's total_memory is the guest's MemTotal, $total B" "stat_of total_memory" = "$total"
}

@test "used lengths: the device writes 0 for inflate, deflate and stats buffers it only reads [2.7.8]" {
	# Buffers of each kind first, on a fresh guest too.
	if [ "$(bl_counter deflate_used_bufs)" = 0 ]; then
		vm_resize 16 120
		vm_resize 0 120
	fi
	for q in inflate deflate stats; do
		bufs=$(bl_counter ${q}_used_bufs) len=$(bl_counter ${q}_used_len)
		[ "$q" = stats ] && ! offers stats_vq && continue
		check 2.7.8 "the device used $bufs $q buffers, claiming $len bytes written (0 expected)" \
			eval '[ "$bufs" -gt 0 ] && [ "$len" = 0 ]'
	done
}

@test "fault injection: each malformed request gets a conforming answer, the guest recovers, the VMM runs on [D: bad input]" {
	guest_test "D: bad input" ballast_inject
	check "D: bad input" "the VMM still runs after the malformed requests" vmm_alive
}

@test "stats with an unknown tag: the device ignored it and kept the known ones [D-6]" {
	# The knob answers the device's next request: one that polls.
	needs stats_vq stats_read stats_interval
	local inject=/sys/kernel/debug/ballast/inject
	run vm_exec "echo 1 > $inject/stats_unknown_tag; cat $inject/result"
	echo "$output"
	check D-6 "the device took an answer with an unknown tag and asked for stats again" \
		grep -qx "next_request 1" <<<"$output"
	# The polls after the injected answer carry the known tags again.
	total=$(($(vm_meminfo MemTotal) * 1024))
	await 30 D-6 "after a report with an unknown tag, the device's total_memory is MemTotal, $total B" \
		"stat_of total_memory" = "$total"
	await 30 D-6 "and its available_memory is above 0" "stat_of available_memory" -gt 0
}

@test "deflate on OOM: the shrinker deflates while a hog runs, nobody is OOM-killed [R-8, R-9]" {
	needs deflate_on_oom
	vm_resize "$BALLOON_MIB" 120
	acked=$(bl_counter deflate_used_bufs)
	guest_test R-8 ballast_oom
	# The device was told, and acked: ballast.ko may inflate again once
	# the hog is gone, so its acks count, not the balloon's size now.
	now=$(bl_counter deflate_used_bufs)
	echo "# deflate buffers acked by the device: $acked -> $now; balloon $(vm_balloon_actual) MiB after the hog" >&3
	check R-9 "the shrinker's deflate went through the deflate queue, acked by the device ($acked -> $now buffers)" \
		[ "$now" -gt "$acked" ]
}

@test "deflate with ballast.ko: the balloon goes back to 0 [R-9, R-14]" {
	vm_resize "$BALLOON_MIB" 120
	vm_resize 0 120
	guest_test "R-9, R-14" ballast_balloon 0
}

# A driver may use a hinted page before DONE once it has initialised it
# (R-29, R-31); the device may then no longer discard it (D-12). Linux's
# driver never does, so only ballast.ko can catch a device that releases
# hinted pages without tracking the guest's writes: with hint_check at 8 it
# writes a pattern into the first page of 8 hinted blocks before it sends
# STOP, and checks the pattern when DONE gives the blocks back.
@test "free page hinting: pages the guest wrote after hinting them come back intact after DONE [D-12, D-13, D-14, R-23..R-30, 2.7.8]" {
	needs free_page_hint hint_run
	done_before=$(bl_counter hint_done)
	vm_exec "echo 8 > /sys/kernel/debug/ballast/hint_check"
	vmm_hint_start
	await 180 D-14 "the device ends the hint run with DONE" hint_state = done
	await 60 D-14 "ballast.ko sees DONE" "bl_counter hint_done" -gt "$done_before"
	vm_exec "echo 0 > /sys/kernel/debug/ballast/hint_check"
	run vm_exec "grep -E '^(hint_|free_page_)' /sys/kernel/debug/ballast/status"
	echo "$output"
	local runs blocks written kept lost used_len
	runs=$(awk '$1 == "hint_runs" { print $2 }' <<<"$output")
	blocks=$(awk '$1 == "hint_blocks" { print $2 }' <<<"$output")
	written=$(awk '$1 == "hint_check_pages" { print $2 }' <<<"$output")
	kept=$(awk '$1 == "hint_check_kept" { print $2 }' <<<"$output")
	lost=$(awk '$1 == "hint_check_lost" { print $2 }' <<<"$output")
	used_len=$(awk '$1 == "free_page_used_len" { print $2 }' <<<"$output")
	echo "# $runs run(s), $blocks blocks hinted; $written pages written after hinting: $kept kept, $lost changed by the device" >&3
	check "R-23..R-30" "ballast.ko ran the hint protocol ($runs runs, $blocks blocks) and wrote $written hinted pages before STOP" \
		eval '[ "$runs" -ge 1 ] && [ "$written" -ge 8 ]'
	check "D-12, D-13" "the $written hinted pages written before STOP come back unchanged ($kept kept, $lost changed)" \
		eval '[ "$lost" = 0 ] && [ "$kept" = "$written" ]'
	# The device only reads the ids and never writes the hinted pages.
	check 2.7.8 "the device claims 0 bytes written in hint buffers ($used_len)" [ "$used_len" = 0 ]
}

@test "free page reporting: reported bytes above zero, host RSS falls, used length 0 [R-36..R-41, D: release, 5.5.2, 2.7.8]" {
	needs free_page_reporting
	local fill bytes0
	pid=$(vm_pid)
	fill=$(($(vm_meminfo MemAvailable) / 1024 - 64))
	[ "$fill" -le 256 ] || fill=256
	[ "$fill" -ge 160 ] || harness_error "the guest has $fill MiB to fill, not 160" ""
	# The memory is held in a file while the host's RSS is read, and freed
	# only then: read after a free, the ceiling raced the reports it is to
	# measure (once, 256 MiB touched and freed by one munmap were all
	# released before the read, and RSS stood still for 120 s).
	run vm_exec "dd if=/dev/zero of=/tmp/report-fill bs=1M count=$fill 2>&1 | tail -n 1"
	assert_success
	high=$(smaps_field "$pid" Rss)
	bytes0=$(bl_counter reported_bytes)
	run vm_exec 'rm /tmp/report-fill'
	assert_success
	guest_test "R-36..R-41" ballast_report 64
	# Reporting starts 2 s after a free, in 2 MiB blocks, a capacity of 32
	# blocks a report. The bound is for TCG.
	await_release "D: release, 5.5.2" "$pid" "$high" $((fill * 1024 / 2)) 120
	bytes=$(($(bl_counter reported_bytes) - bytes0))
	echo "# RSS $high KiB with $fill MiB in a file -> $RSS_AFTER KiB after rm; reported $((bytes / MIB)) MiB" >&3
	# The device only reads the reported ranges' list.
	len=$(bl_counter reporting_used_len)
	check 2.7.8 "the device claims 0 bytes written in reporting buffers ($len)" [ "$len" = 0 ]
}

@test "batch 8: eight descriptors in flight per kick, same result [batch]" {
	vm_exec "echo 8 > /sys/kernel/debug/ballast/batch"
	[ "$(bl_counter batch)" = 8 ]
	vm_resize 128 120
	guest_test batch ballast_balloon 128
	inflight=$(bl_counter max_inflight)
	check batch "eight descriptors were in flight at once ($inflight)" [ "$inflight" = 8 ]
	vm_resize 0 120
	vm_exec "echo 1 > /sys/kernel/debug/ballast/batch"
}

# ballast.ko's fast path for the bench: a descriptor's 256 pages split from
# one free block, contiguous PFNs, the same balloon.
@test "alloc_blocks: each descriptor's pages from one free block, same result [batch]" {
	local knob=/sys/kernel/debug/ballast/alloc_blocks
	vm_resize 0 120
	blocks=$(bl_counter inflate_blocks)
	vm_exec "echo 1 > $knob"
	vm_resize 128 120
	guest_test batch ballast_balloon 128
	vm_exec "echo 0 > $knob"
	taken=$(($(bl_counter inflate_blocks) - blocks))
	echo "# $taken blocks of 256 pages taken for 128 MiB" >&3
	vm_resize 0 120
	check batch "ballast.ko took whole blocks for 128 MiB ($taken)" [ "$taken" -gt 0 ]
}

@test "unbinding ballast.ko returns the balloon and tells the device; rebinding works [R-9, R-14, R-4]" {
	vm_resize 64 120
	run vm_exec "rmmod ballast"
	assert_success
	await 30 "R-9, R-14" "unbound, the driver gives the balloon back: actual 0 MiB" vm_actual_reading = 0
	run vm_exec "insmod /lib/ballast/ballast.ko"
	assert_success
	await 120 "R-4, R-14" "bound again, the driver inflates to the 64 MiB target" vm_actual_reading = 64
	guest_test "R-4, R-14" ballast_balloon 64
	vm_resize 0 120
}

# With the balloon at the floor, a process that then asks for memory can
# only have it if the driver may take balloon pages back: without
# DEFLATE_ON_OOM an OOM kill follows from R-7, not from a deviation.
@test "inflate past what the guest can give: out of puff, counted, nobody OOM-killed, not even a process allocating meanwhile [R-4, R-14, R-8]" {
	needs deflate_on_oom
	# Counted from here: an earlier test's OOM kill is not this one's.
	kills=$(vm_exec "awk '\$1 == \"oom_kill\" { print \$2 }' /proc/vmstat")
	local rc=0
	vmm_balloon_set 500
	guest_test "R-4, R-14, R-8" ballast_puff "$kills" || rc=$?
	# Empty again whatever happened: the next test needs the memory.
	vm_resize 0 120
	[ "$rc" -eq 0 ]
}

# One inflate of 4097 PFNs in 17 chained descriptors (ballast.ko's
# chain_4097 knob), in two steps: chain_prepare writes the 16 MiB of pages
# and holds them, so the host backs every one; RSS is read; then the chain
# goes out. A device that releases every PFN gives back all 16 MiB, one
# that reads only the first descriptor 1 MiB, one that releases nothing 0.
# The bar is 75%, not all of it: a VMM whose guest RAM is backed by
# transparent huge pages (QEMU's is) gains 2 MiB of RSS when the guest
# touches a page in a 2 MiB range it had wholly released, and the guest
# does not stand still meanwhile (one fresh run of twenty fell 14264 KiB,
# 2000 short of the others' 16264-16396). 75% still fails a device that
# reads 12 of the 17 descriptors or fewer.
@test "a chain of 17 descriptors: every PFN in it is released, host RSS shows it [D: release, 2.7.5]" {
	local inject=/sys/kernel/debug/ballast/inject
	pid=$(vm_pid)
	run vm_exec "echo 1 > $inject/chain_prepare && grep nr_pfns $inject/result"
	assert_output 'nr_pfns 4097'
	before=$(smaps_field "$pid" Rss)
	run vm_exec "echo 1 > $inject/chain_4097; cat $inject/result"
	echo "$output"
	check 2.7.5 "the device acks the 17-descriptor chain" eval '[ "$status" -eq 0 ] && grep -qx "acked 1" <<<"$output"'
	await_release "D: release, 2.7.5" "$pid" "$before" $((4097 * 4 * 75 / 100))
	echo "# RSS $before KiB -> $RSS_AFTER KiB for a 4097-PFN chain of pages held written" >&3
	vm_resize 0 120
}
