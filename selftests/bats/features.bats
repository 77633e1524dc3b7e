#!/usr/bin/env bats
# The balloon's optional features with the guest's stock virtio_balloon
# driver: free page reporting, deflate on OOM, memory statistics and the
# features negotiated (virtio 1.2 §5.5). One guest for the whole file,
# booted with those of them the VMM offers.

MEM_MIB=512

load helpers/one_guest

setup_file() {
	vm_start "$MEM_MIB" "$(offered_opts deflate_on_oom=on,free_page_reporting=on,stats_interval=1,must_tell_host=on)"
}

# stat_below NAME VALUE: the stat is present and < VALUE.
stat_below() {
	local v
	v=$(stat_of "$1") || return 1
	[ "$v" -lt "$2" ]
}

@test "free page reporting: RSS falls by >= 50% of what the guest freed, no balloon [D: release, D-16, R-40]" {
	needs free_page_reporting
	pid=$(vm_pid)
	fill=$(($(vm_meminfo MemAvailable) / 1024 - 64))
	[ "$fill" -ge 128 ]
	run vm_exec "dd if=/dev/zero of=/tmp/fill bs=1M count=$fill 2>&1 | tail -n 1"
	assert_success
	refute_output --partial 'No space'
	high=$(rss_kib "$pid")

	run vm_exec 'rm /tmp/fill'
	assert_success
	# Linux reports 2 s after a free, 2 MiB blocks; the deadline is for TCG.
	goal=$((high - fill * 1024 / 2))
	wait_until 120 rss_at_most "$pid" "$goal"

	echo "# RSS $high KiB with $fill MiB written, $(smaps_field "$pid" Rss) KiB after rm (goal <= $goal)" >&3
	# The balloon itself stayed empty: reporting alone released the pages.
	[ "$(vm_balloon_actual)" = 0 ]
}

@test "deflate on OOM: a process needing more than is left gets it from the balloon [R-8]" {
	needs deflate_on_oom
	avail=$(($(vm_meminfo MemAvailable) / 1024))
	# Leave the guest ~96 MiB, 384 MiB at most.
	balloon=$((avail - 96 < 384 ? avail - 96 : 384))
	[ "$balloon" -ge 128 ]
	vm_resize "$balloon" 240

	left=$(($(vm_meminfo MemAvailable) / 1024))
	want=$((left + 64))
	# busybox dd allocates one bs-sized buffer and fills it: anonymous
	# memory the process touches, beyond what the guest has left.
	VM_EXEC_TIMEOUT=240 run vm_exec "dd if=/dev/zero of=/dev/null bs=${want}M count=1 2>/tmp/dd.err; s=\$?; tail -n 1 /tmp/dd.err; exit \$s"
	assert_success
	refute_output --partial 'Killed'
	actual=$(vm_balloon_actual)
	echo "# balloon $balloon MiB, $left MiB left, dd of $want MiB; actual now $actual MiB" >&3
	[ "$actual" -lt "$balloon" ]

	# The OOM notifier deflated instead of killing.
	run vm_exec "dmesg | grep -c 'Killed process' || true"
	assert_output 0

	vm_resize 0 240
}

# memfree_settled: the guest's MemFree moved by at most 4 MiB over 3 s; its
# value, in KiB, in MEMFREE_SETTLED.
memfree_settled() {
	local a b
	read -r a b < <(vm_exec 'm() { awk "/^MemFree:/ { print \$2 }" /proc/meminfo; }; m; sleep 3; m' | xargs) || return 1
	MEMFREE_SETTLED=$b
	[ -n "$b" ] && [ "$((a - b))" -le 4096 ] && [ "$((b - a))" -le 4096 ]
}

@test "stats: the device has every stat the driver sends, free and total memory refreshed each interval [R-18, R-19, R-20, R-21, D-6, D-7]" {
	needs stats_vq stats_read
	wait_until 60 stat_of total_memory
	run vmm_balloon_stats
	assert_success
	echo "$output" | sed 's/^/# /' >&3
	# The ten tags (0-9) every Linux driver since 5.x sends.
	for name in swap_in swap_out major_faults minor_faults free_memory total_memory \
		available_memory disk_caches hugetlb_allocations hugetlb_failures; do
		assert_line --regexp "^$name [0-9]+\$"
	done
	total=$(awk '$1 == "total_memory" { print $2 }' <<<"$output")
	free=$(awk '$1 == "free_memory" { print $2 }' <<<"$output")
	[ -n "$free" ]
	memtotal=$(vm_meminfo MemTotal)
	# total_memory is MemTotal in bytes (DEFLATE_ON_OOM keeps it fixed).
	diff=$((total / 1024 - memtotal))
	[ "${diff#-}" -le $((memtotal / 100)) ]
	[ "$free" -gt 0 ]
	[ "$free" -le "$total" ]

	# Take 128 MiB in the guest: a later report shows it gone. The baseline
	# is the guest's own MemFree: the last report may predate the previous
	# test's deflate, and so be lower than free memory is now. It is taken
	# once MemFree holds still: the pages that deflate freed are reported
	# 2 s later, up to 32 blocks of 4 MiB at a time, and while the device
	# handles a batch its 128 MiB are off the free lists (one run here read
	# a baseline 128 MiB low, and the write did not show against it).
	wait_until 60 memfree_settled
	base=$((MEMFREE_SETTLED * 1024))
	run vm_exec 'dd if=/dev/zero of=/tmp/stats bs=1M count=128 2>&1 | tail -n 1'
	assert_success
	run wait_until 60 stat_below free_memory $((base - 100 * MIB))
	if [ "$status" -ne 0 ]; then
		echo "baseline $base B; guest MemFree now $(vm_meminfo MemFree) KiB; the device's last stats:"
		vmm_balloon_stats
	fi
	vm_exec 'rm -f /tmp/stats'
	[ "$status" -eq 0 ]
}

# balloon_feature_bits: the balloon's negotiated features as the guest's
# virtio core shows them in sysfs, one 0/1 character per bit.
balloon_feature_bits() {
	vm_exec 'for d in /sys/bus/virtio/devices/*; do
		[ "$(cat $d/device)" = 0x0005 ] && cat $d/features
	done'
}

@test "features: every feature the VMM was started to offer was offered, and Linux's driver accepted it [R-1, 5.5.3]" {
	bits=$(balloon_feature_bits)
	echo "# negotiated feature bits: $bits (booted with '$VM_BALLOON_OPTS')" >&3
	[ -n "$bits" ]
	# must_tell_host 0, stats_vq 1 (stats_interval), deflate_on_oom 2,
	# free_page_reporting 5: each one this guest was started with.
	local opt bit
	for opt in ${VM_BALLOON_OPTS//,/ }; do
		case ${opt%%=*} in
		must_tell_host) bit=0 ;;
		stats_interval) bit=1 ;;
		deflate_on_oom) bit=2 ;;
		free_page_reporting) bit=5 ;;
		*) continue ;;
		esac
		[ "${bits:$bit:1}" = 1 ] || { echo "feature bit $bit (${opt%%=*}) not negotiated"; return 1; }
	done
	# Nothing the guest was not started with: hinting and poison stay off.
	[ "${bits:3:1}" = 0 ]
	[ "${bits:4:1}" = 0 ]
}
