#!/usr/bin/env bats
# The guest boots under the VMM and the agent answers: what every other
# suite stands on. A failure here is the VMM's boot or the harness's path to
# the guest, named by the check that failed.

load helpers/one_guest

setup_file() {
	VM_CPUS=2 vm_start 512
}

@test "boot: the guest runs the image's kernel and its agent answers [boot]" {
	want=$(cat "$(dirname "$VM_INITRAMFS")/kver")
	run vm_exec uname -r
	check boot "the guest runs $want (uname -r: '$output', status $status)" \
		eval '[ "$status" -eq 0 ] && [ "$output" = "$want" ]'
}

@test "boot: the agent returns a command's output and exit status [harness]" {
	run vm_exec 'echo out; echo err >&2; exit 3'
	[ "$status" -eq 3 ] && [ "$output" = $'out\nerr' ] ||
		harness_error "the agent returned status $status and '$output' for 'echo out; echo err >&2; exit 3'"
}

@test "boot: the agent kills a command that overruns its deadline [harness]" {
	VM_EXEC_TIMEOUT=3 run vm_exec 'sleep 30'
	[ "$status" -eq 124 ] || harness_error "a command past its 3 s deadline ended with status $status, not 124"
	run vm_exec 'echo still serving'
	[ "$output" = 'still serving' ] || harness_error "the agent answered '$output' after a killed command"
}

@test "boot: the guest sees both of its vCPUs [boot]" {
	run vm_exec nproc
	check boot "the guest sees the 2 vCPUs it was started with (nproc: '$output')" [ "$output" = 2 ]
}

@test "boot: the guest sees its RAM and a balloon device [boot, 5.5.1]" {
	run vm_meminfo MemTotal
	# 512 MiB less what the kernel keeps for itself.
	check boot "the guest sees 400 to 512 MiB of its 512 MiB (MemTotal '$output' KiB)" \
		eval '[ "$status" -eq 0 ] && [ "$output" -gt $((400 * 1024)) ] && [ "$output" -le $((512 * 1024)) ]'
	# virtio device id 5 is the balloon (virtio 1.2 §5.5.1).
	run vm_exec 'cat /sys/bus/virtio/devices/*/device'
	check 5.5.1 "a virtio device with id 5, the balloon (ids: $(echo $output))" grep -q 0x0005 <<<"$output"
}

@test "boot: noise and a forged frame on the agent's line do not corrupt a reply [harness]" {
	# A kernel-style message, then a header that claims to be a reply with
	# a length that would swallow the real reply's first bytes.
	run vm_exec "printf '<6>virtio_balloon: noise\\n\\002RES 1 0 40 00000000\\n' > /dev/ttyS1; echo intact"
	[ "$status" -eq 0 ] && [ "$output" = intact ] ||
		harness_error "a reply after noise on the agent's line came back as '$output' (status $status)"
}
