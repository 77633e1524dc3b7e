# The device's stress for the driver suite (driver/stress.bats,
# driver/features.bats): ballast-vmm's control requests that do what the
# spec allows a device and a driver must live with (README.md, "The
# stress"), and the query readings a test awaits on. Load after driver.
# shellcheck shell=bash

# stress ACTION [COUNT]: one stress request (config_notify with COUNT
# interrupts, needs_reset); status 0 when ballast-vmm took it.
stress() {
	ballast_ctl "{\"cmd\":\"stress\",\"action\":\"$1\"${2:+,\"count\":$2}}" | grep -q '"ok":true'
}

# set_num_pages PAGES: num_pages itself, any u32 (above guest RAM too), no
# wait; the harness's last target (vm_resize's tags) follows in MiB.
set_num_pages() {
	ballast_ctl "{\"cmd\":\"balloon\",\"num_pages\":$1}" | grep -q '"ok":true' || return 1
	vm_state_set target $(($1 / 256))
}

# query_value PATH: one value of query's reply (.actual,
# .counters.device_resets, ...), as text; a reading for await.
query_value() {
	ballast_ctl '{"cmd":"query"}' | jq -er "$1 | tostring"
}

# hint ACTION: a free page hint request (start, stop, done) ballast-vmm
# took, or a harness error saying which it refused.
hint() {
	ballast_ctl "{\"cmd\":\"hint\",\"action\":\"$1\"}" | grep -q '"ok":true' ||
		harness_error "ballast-vmm refused the hint request '$1'"
}

# hint_memory_back KIB: after DONE, await the guest's MemFree back to 3/4
# of KIB, what was free before the test's runs. A run takes every free
# 4 MiB block; a driver that keeps them past DONE starves its guest (as
# ballast.ko did for 30 s: its hold timer overrode DONE's wake-up). No
# clause says when, so it is a driver statement in words.
hint_memory_back() {
	await 15 "R: hinted memory back after DONE" \
		"the guest's free memory back to 3/4 of the $(($1 / 1024)) MiB free before the runs, after DONE" \
		"vm_meminfo MemFree" -ge $(($1 * 3 / 4))
}

# hint_started STARTS WHAT [TAGS] [SECS]: await the driver's next run
# (hint_starts past STARTS) for SECS (STRESS_SECS), as TAGS (R-24: it
# starts with the current id).
hint_started() {
	await "${4:-$STRESS_SECS}" "${3:-R-24}" "$2" "referee hint_starts" -gt "$1"
}
