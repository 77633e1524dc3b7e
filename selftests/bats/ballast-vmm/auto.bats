#!/usr/bin/env bats
# ballast-vmm's auto-ballooning (--balloon auto=on), in the test host. The
# VMM and a memory hog share a cgroup v2 whose memory.high squeezes them;
# the VMM watches that cgroup's memory pressure (PSI), and memory.max is
# where the OOM killer would come in without auto mode. Not a conformance
# suite: auto mode is ballast-vmm's own.

VMM=ballast-vmm
MEM_MIB=1024
HIGH_MIB=1408
MAX_MIB=1664
HOG_MIB=640
# BALLAST_AUTO_OPTS=auto=off runs the same squeeze without auto mode, to compare.
AUTO=${BALLAST_AUTO_OPTS:-auto=on,auto_step=128M,auto_relax=30s,auto_backoff=60s}

load ../helpers/one_guest
load ../helpers/squeeze

# The squeeze needs a cgroup it may own: the test host's, never this
# machine's.
in_testhost() {
	[ "$(ballast_where)" = nested ]
}

needs_testhost() {
	in_testhost || skip "auto.bats squeezes memory with a cgroup of its own: test host only"
}

# auto_field PATH: a member of query's "auto" object; auto_show FILTER:
# that object through a jq filter, on one line.
auto_field() {
	ballast_ctl '{"cmd":"query"}' | jq -r ".auto.$1"
}

auto_show() {
	ballast_ctl '{"cmd":"query"}' | jq -c ".auto | $1"
}

# auto_followed: the target came down to what the guest kept.
auto_followed() {
	ballast_query '.num_pages == .actual and .auto.decisions.guest_deflated >= 1'
}

setup_file() {
	in_testhost || return 0
	squeeze_testhost && squeeze_cgroup "$HIGH_MIB" "$MAX_MIB" || return 1
	VM_CGROUP=$SQUEEZE_CG BALLAST_BALLOON_EXTRA=$AUTO vm_start "$MEM_MIB" deflate_on_oom=on,stats_interval=1
}

teardown_file() {
	vm_stop
	in_testhost || return 0
	squeeze_remove
	squeeze_testhost_stop
}

@test "auto: host pressure inflates the balloon, the VMM's RSS falls, the hog finishes without the OOM killer" {
	needs_testhost
	vm_touch_and_free >/dev/null
	pid=$(vm_pid)
	before=$(smaps_field "$pid" Rss)
	ooms=$(squeeze_event oom_kill)
	squeeze_hog "$HOG_MIB" 48 3
	start=$EPOCHREALTIME end=$((SECONDS + 240)) pressure_at= drop_at=
	until squeeze_hog_done; do
		if [ "$SECONDS" -ge "$end" ]; then
			echo "the hog is not done after 240 s: $(squeeze_hog_says)"
			vmm_describe | jq -c '{num_pages, actual, auto}'
			return 1
		fi
		[ -n "$pressure_at" ] || [ "$(auto_field pressure_events)" = 0 ] || pressure_at=$EPOCHREALTIME
		[ -n "$drop_at" ] || [ "$(smaps_field "$pid" Rss)" -gt $((before - 64 * 1024)) ] || drop_at=$EPOCHREALTIME
		sleep 0.5
	done
	echo "# first pressure seen $(bc <<<"${pressure_at:-$EPOCHREALTIME} - $start") s after the hog started, RSS 64 MiB down $(bc <<<"${drop_at:-$EPOCHREALTIME} - ${pressure_at:-$EPOCHREALTIME}") s after that" >&3
	echo "# auto: $(auto_show '{pressure_events, moves, reason, decisions}')" >&3
	check auto "the VMM survived the squeeze" vm_alive
	check auto "nobody was OOM-killed in the cgroup" [ "$(squeeze_event oom_kill)" = "$ooms" ]
	check auto "auto mode saw the pressure and the RSS fell 64 MiB" eval '[ -n "$pressure_at" ] && [ -n "$drop_at" ]'
	# The hog can be done while the guest still inflates to auto's last
	# target (208 of 256 MiB in one run, the release short of the goal by
	# 8 MiB): the release follows the inflate, so it is waited for.
	await_release auto "$pid" "$before" $((192 * 1024)) 20
	echo "# $(squeeze_hog_says); VMM RSS $before -> $RSS_AFTER KiB, balloon $(vm_balloon_actual) MiB" >&3
}

@test "auto: the guest's own pressure wins: it deflates, auto follows it down and backs off, nobody is OOM-killed [R-8]" {
	needs_testhost
	# A target of the operator's holds for auto_relax: long enough.
	vm_resize 256 120
	left=$(($(vm_meminfo MemAvailable) / 1024))
	kills=$(vm_exec "awk '\$1 == \"oom_kill\" { print \$2 }' /proc/vmstat")
	VM_EXEC_TIMEOUT=240 run vm_exec "dd if=/dev/zero of=/dev/null bs=$((left + 96))M count=1"
	assert_success
	check auto "auto follows the guest down: num_pages meets actual" wait_until 10 auto_followed
	backoff=$(auto_field backoff_left_ms)
	now=$(vm_exec "awk '\$1 == \"oom_kill\" { print \$2 }' /proc/vmstat")
	echo "# balloon 256 -> $(vm_balloon_actual) MiB for a $((left + 96)) MiB hog; back-off left $backoff ms; OOM kills $kills -> $now" >&3
	check auto "auto backs off after the guest deflated ($backoff ms left)" [ "$backoff" -gt 0 ]
	check R-8 "nobody was OOM-killed in the guest ($kills -> $now)" [ "$now" = "$kills" ]
}

@test "auto: with the pressure gone, the memory goes back to the guest a step at a time" {
	needs_testhost
	start=$SECONDS
	await 300 auto "the balloon goes back to 0 without the operator" vm_actual_reading = 0
	echo "# back to 0 in $((SECONDS - start)) s: $(auto_show '{reason, decisions}')" >&3
	check auto "auto relaxed at least once" [ "$(auto_field decisions.relax)" -ge 1 ]
}
