#!/usr/bin/env bats
# A balloon already inflated at boot (ballast-vmm --balloon size=...): RAM
# becomes a ceiling the guest starts below and can grow to, the memory
# model the libkrun seed asks for. One guest for the file.

MEM_MIB=512
START_MIB=128

load helpers/one_guest

setup_file() {
	offers size || return 0
	vm_start "$MEM_MIB" "size=$START_MIB"
}

setup() {
	needs size
}

@test "balloon at boot: the driver inflates to the size set at start, the guest sees RAM less that [R-4, R-14]" {
	await 120 "R-4, R-14" "the driver inflates to the $START_MIB MiB set at start" vm_actual_reading = "$START_MIB"
	# Without DEFLATE_ON_OOM the driver takes ballooned pages out of MemTotal.
	await 30 R-4 "the guest sees RAM less the balloon: MemTotal <= $(((MEM_MIB - START_MIB) * 1024)) KiB" \
		"vm_meminfo MemTotal" -le $(((MEM_MIB - START_MIB) * 1024))
	echo "# MemTotal $AWAITED KiB with $START_MIB of $MEM_MIB MiB in the balloon" >&3
}

@test "balloon at boot: deflated to 0, the guest has its whole RAM [R-9, R-14]" {
	vm_resize 0 120
	# Within 64 MiB of RAM: the kernel keeps some for itself.
	await 30 R-9 "deflated, the guest has its RAM: MemTotal >= $(((MEM_MIB - 64) * 1024)) KiB" \
		"vm_meminfo MemTotal" -ge $(((MEM_MIB - 64) * 1024))
	echo "# MemTotal $AWAITED KiB after deflating" >&3
}
