#!/usr/bin/env bats
# The guest boots under the VMM and the agent answers.

load helpers/one_guest

setup_file() {
	VM_CPUS=2 vm_start 512
}

@test "boot: the guest runs the image's kernel and its agent answers" {
	run vm_exec uname -r
	assert_success
	assert_output "$(cat "$(dirname "$VM_INITRAMFS")/kver")"
}

@test "boot: the agent returns a command's output and exit status" {
	run vm_exec 'echo out; echo err >&2; exit 3'
	assert_equal "$status" 3
	assert_output $'out\nerr'
}

@test "boot: the agent kills a command that overruns its deadline" {
	VM_EXEC_TIMEOUT=3 run vm_exec 'sleep 30'
	assert_equal "$status" 124
	run vm_exec 'echo still serving'
	assert_output 'still serving'
}

@test "boot: the guest sees both of its vCPUs" {
	run vm_exec nproc
	assert_output 2
}

@test "boot: the guest sees its RAM and a balloon device" {
	run vm_meminfo MemTotal
	assert_success
	# 512 MiB less what the kernel keeps for itself.
	[ "$output" -gt $((400 * 1024)) ] && [ "$output" -le $((512 * 1024)) ]
	# virtio device id 5 is the balloon (virtio 1.2 §5.5.1).
	run vm_exec 'cat /sys/bus/virtio/devices/*/device'
	assert_output --partial 0x0005
}

@test "boot: noise and a forged frame on the agent's line do not corrupt a reply" {
	# A kernel-style message, then a header that claims to be a reply with
	# a length that would swallow the real reply's first bytes.
	run vm_exec "printf '<6>virtio_balloon: noise\\n\\002RES 1 0 40 00000000\\n' > /dev/ttyS1; echo intact"
	assert_success
	assert_output intact
}
