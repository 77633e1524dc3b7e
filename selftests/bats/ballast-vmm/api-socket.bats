#!/usr/bin/env bats
# ballast-vmm's own control socket (--api-socket) abused while a guest runs:
# each bad client gets an error reply or is dropped, and afterwards the
# guest answers, the balloon is as it was and the VMM holds no descriptor
# more than before. Not a conformance suite: this API is ballast-vmm's own.

VMM=ballast-vmm
load ../helpers/one_guest

# abuse CASE: run one case of api_abuse.py where the VMM runs. Nested and
# under ASan (make hardening) a case takes tens of seconds, and over 60 on
# a loaded machine (seen once): the limit only ends a hang.
abuse() {
	TH_TIMEOUT=300 where_sh "python3 $BATS_TEST_DIRNAME/api_abuse.py $VM_RUNDIR/api.sock $1"
}

fd_count() {
	where_sh "ls /proc/$(vm_pid)/fd | wc -l"
}

# balloon_view: the target and actual the VMM holds, one line.
balloon_view() {
	ballast_ctl '{"cmd":"query"}' | jq -c '[.num_pages, .actual]'
}

setup_file() {
	vm_start 256
	vm_resize 32 || return 1
	vm_state_set view "$(balloon_view)"
	vm_state_set fds "$(fd_count)"
}

@test "api-socket: malformed, unknown and non-UTF-8 requests each get an error reply [D: bad input]" {
	run abuse malformed
	echo "$output" >&3
	assert_success
}

@test "api-socket: a request cut short, and clients hanging up mid-request [D: bad input]" {
	run abuse truncated
	assert_success
}

@test "api-socket: 1 MiB without a newline is refused without being buffered [D: bad input]" {
	run abuse oversized
	assert_success
}

@test "api-socket: 64 clients at once: each served or told there are too many [D: bad input]" {
	run abuse crowd
	echo "# $output" >&3
	assert_success
}

@test "api-socket: clients that connect and never write keep nobody out [D: bad input]" {
	run abuse silent
	assert_success
}

# descriptors_back: the VMM holds as many descriptors as before the abuse.
descriptors_back() {
	[ "$(fd_count)" -eq "$(vm_state_get fds)" ]
}

@test "api-socket: afterwards the guest answers, the balloon is unchanged, no descriptor leaked" {
	run vm_exec 'echo alive'
	assert_output alive
	assert_equal "$(balloon_view)" "$(vm_state_get view)"
	wait_until 15 descriptors_back || {
		echo "VMM descriptors: $(fd_count) now, $(vm_state_get fds) before" >&2
		return 1
	}
	run vm_resize 0
	assert_success
}
