#!/usr/bin/env bats
# PAGE_POISON with free page reporting (virtio 1.2 §5.5.6.8, §5.5.6.9): a
# guest booted with page_poison=1 fills every page it frees with 0xaa and
# checks the fill when the page is allocated again, so a device that drops
# a reported page's contents shows up as "pagealloc: memory corruption".
# Debian's generic kernel: the cloud one has no CONFIG_PAGE_POISONING.

MEM_MIB=512
# What Linux writes to poison_val under page_poison=1: 0xaa in every byte.
POISON_VAL=$((0xaaaaaaaa))

load helpers/one_guest

setup_file() {
	offers page_poison && offers free_page_reporting || return 0
	# The cloud kernel has no CONFIG_PAGE_POISONING: the generic one stands
	# in for it.
	local img
	img=$(guest_image_dir) || return 2
	[[ "$(cat "$img/kver")" == *cloud* ]] && export GUEST_KERNEL=generic
	export VM_CMDLINE_EXTRA=page_poison=1
	vm_start "$MEM_MIB" free_page_reporting=on,page_poison=on
}

setup() {
	needs page_poison free_page_reporting
}

# balloon_feature BIT: the guest's driver accepted feature BIT (the virtio
# core's sysfs "features" file has one 0/1 character per bit).
balloon_feature() {
	vm_exec "for d in /sys/bus/virtio/devices/*; do
		[ \"\$(cat \$d/device)\" = 0x0005 ] && cut -c$(($1 + 1)) \$d/features
	done" | grep -qx 1
}

# The driver's report callback, counted by a kprobe: the same evidence that
# reporting ran whatever the VMM shows of it.
REPORT_PROBE=/sys/kernel/debug/tracing/events/ballast/free_page_report
arm_report_probe() {
	vm_exec "[ -d $REPORT_PROBE ] ||
		echo 'p:ballast/free_page_report virtio_balloon:virtballoon_free_page_report' \
			>>/sys/kernel/debug/tracing/kprobe_events &&
		echo 1 >$REPORT_PROBE/enable"
}

# kprobe_profile: one line per probe, its event name then its hits.
reports_seen() {
	vm_exec "awk '\$1 == \"free_page_report\" { print \$2 }' /sys/kernel/debug/tracing/kprobe_profile"
}

@test "page poison: a poisoning guest accepts PAGE_POISON with PAGE_REPORTING and writes poison_val [R-2, R-3, R-34]" {
	check "R-2, R-3" "the poisoning guest's driver accepted PAGE_POISON (bit 4)" balloon_feature 4
	check "R-3" "and PAGE_REPORTING with it (bit 5)" balloon_feature 5
	# What the driver wrote, as the device holds it.
	val=$(vm_devcfg poison_val)
	echo "# poison_val $val in the device's config space" >&3
	check R-34 "poison_val in the device's config space is $POISON_VAL (read $val)" [ "$val" = "$POISON_VAL" ]
}

@test "page poison: reported pages keep their poison; the guest finds no corruption reusing them [R-39, D-17]" {
	arm_report_probe
	first=$(reports_seen)
	fill=$(($(vm_meminfo MemAvailable) / 1024 - 64))
	[ "$fill" -ge 128 ]
	run vm_exec "dd if=/dev/zero of=/tmp/fill bs=1M count=$fill 2>&1 | tail -n 1; rm /tmp/fill"
	assert_success
	# Each report is up to 32 blocks of 2 MiB, 2 s after the frees.
	await 120 R-39 "the driver reports the freed memory: $((fill / 64 / 2)) reports or more" \
		reports_seen -ge $((first + fill / 64 / 2))

	# Allocate (and so check) as much again: busybox dd touches one buffer.
	VM_EXEC_TIMEOUT=120 run vm_exec "dd if=/dev/zero of=/dev/null bs=${fill}M count=1 2>&1 | tail -n 1"
	assert_success
	echo "# $fill MiB freed and reused, $(($(reports_seen) - first)) reports" >&3
	bad=$(vm_exec "dmesg | grep -c 'pagealloc: ' || true")
	check D-17 "reused, the reported pages still hold their poison: $bad 'pagealloc: memory corruption' lines" [ "$bad" = 0 ]
}
