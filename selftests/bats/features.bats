#!/usr/bin/env bats
# The balloon's optional features with the guest's stock virtio_balloon
# driver: free page reporting, deflate on OOM, memory statistics, and (for
# ballast-vmm, whose control socket shows them) the features negotiated
# (virtio 1.2 §5.5). One guest for the whole file.

MEM_MIB=512

load helpers/one_guest

setup_file() {
	local opts=deflate_on_oom=on,free_page_reporting=on,stats_interval=1
	# QEMU's adapter has no must_tell_host switch.
	[ "$VMM" = ballast-vmm ] && opts+=,must_tell_host=on
	vm_start "$MEM_MIB" "$opts"
}

# rss_at_most PID KIB: one unsettled read of the VMM's Rss is <= KIB.
rss_at_most() {
	local cur
	cur=$(smaps_field "$1" Rss) || return 1
	[ "$cur" -le "$2" ]
}

# stat_of NAME: one value from vmm_balloon_stats; fails when absent.
stat_of() {
	vmm_balloon_stats | awk -v n="$1" '$1 == n { print $2; found = 1 } END { exit !found }'
}

# stat_below NAME VALUE: the stat is present and < VALUE.
stat_below() {
	local v
	v=$(stat_of "$1") || return 1
	[ "$v" -lt "$2" ]
}

@test "free page reporting: RSS falls by >= 50% of what the guest freed, no balloon [D: release, D-16, R-40]" {
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
	[ "$(vmm_balloon_actual)" = 0 ]
}

@test "deflate on OOM: a process needing more than is left gets it from the balloon [R-8]" {
	avail=$(($(vm_meminfo MemAvailable) / 1024))
	# Leave the guest ~96 MiB, 384 MiB at most.
	balloon=$((avail - 96 < 384 ? avail - 96 : 384))
	[ "$balloon" -ge 128 ]
	vmm_balloon_set "$balloon"
	wait_until 240 vm_balloon_is "$balloon"

	left=$(($(vm_meminfo MemAvailable) / 1024))
	want=$((left + 64))
	# busybox dd allocates one bs-sized buffer and fills it: anonymous
	# memory the process touches, beyond what the guest has left.
	VM_EXEC_TIMEOUT=240 run vm_exec "dd if=/dev/zero of=/dev/null bs=${want}M count=1 2>/tmp/dd.err; s=\$?; tail -n 1 /tmp/dd.err; exit \$s"
	assert_success
	refute_output --partial 'Killed'
	actual=$(vmm_balloon_actual)
	echo "# balloon $balloon MiB, $left MiB left, dd of $want MiB; actual now $actual MiB" >&3
	[ "$actual" -lt "$balloon" ]

	# The OOM notifier deflated instead of killing.
	run vm_exec "dmesg | grep -c 'Killed process' || true"
	assert_output 0

	vmm_balloon_set 0
	wait_until 240 vm_balloon_is 0
}

@test "stats: the device has the guest's free and total memory, refreshed each interval [R-18, R-19, R-20, D-6]" {
	declare -F vmm_balloon_stats >/dev/null || skip "the $VMM adapter has no vmm_balloon_stats"
	wait_until 60 stat_of total_memory
	run vmm_balloon_stats
	assert_success
	echo "$output" | sed 's/^/# /' >&3
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
	# test's deflate, and so be lower than free memory is now.
	base=$(($(vm_meminfo MemFree) * 1024))
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

@test "features: the driver accepted deflate_on_oom, page_reporting, stats_vq (and must_tell_host) [R-1]" {
	[ "$VMM" = ballast-vmm ] || skip "only ballast-vmm's control socket shows the negotiated features"
	reply=$(ballast_ctl '{"cmd":"query"}')
	echo "# offered $(jq -c .features_offered <<<"$reply"), accepted $(jq -c .features_accepted <<<"$reply")" >&3
	want='["deflate_on_oom","page_reporting","stats_vq"]'
	[[ ,$VM_BALLOON_OPTS, == *,must_tell_host=on,* ]] && want='["deflate_on_oom","page_reporting","stats_vq","must_tell_host"]'
	jq -e --argjson want "$want" '.features_ok and .driver_ok and
		(.features_accepted | contains($want))' <<<"$reply"
}
