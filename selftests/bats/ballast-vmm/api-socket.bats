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
	check "D: bad input" "each malformed request got an error reply (status $status)" [ "$status" -eq 0 ]
}

@test "api-socket: a request cut short, and clients hanging up mid-request [D: bad input]" {
	run abuse truncated
	echo "$output"
	check "D: bad input" "a cut request and hang-ups mid-request were survived (status $status)" [ "$status" -eq 0 ]
}

@test "api-socket: 1 MiB without a newline is refused without being buffered [D: bad input]" {
	run abuse oversized
	echo "$output"
	check "D: bad input" "1 MiB without a newline was refused unbuffered (status $status)" [ "$status" -eq 0 ]
}

@test "api-socket: 64 clients at once: each served or told there are too many [D: bad input]" {
	run abuse crowd
	echo "# $output" >&3
	check "D: bad input" "64 clients at once were each served or told there are too many (status $status)" [ "$status" -eq 0 ]
}

@test "api-socket: clients that connect and never write keep nobody out [D: bad input]" {
	run abuse silent
	echo "$output"
	check "D: bad input" "silent clients kept nobody out (status $status)" [ "$status" -eq 0 ]
}

@test "api-socket: afterwards the guest answers, the balloon is unchanged, no descriptor leaked [D: bad input]" {
	run vm_exec 'echo alive'
	check "D: bad input" "the guest answers ('$output')" [ "$output" = alive ]
	view=$(balloon_view)
	check "D: bad input" "the balloon is as it was: $view (before: $(vm_state_get view))" [ "$view" = "$(vm_state_get view)" ]
	# A client's descriptor is closed once the VMM has seen it go.
	await 15 "D: bad input" "the VMM holds as many descriptors as the $(vm_state_get fds) before the abuse" \
		fd_count -eq "$(vm_state_get fds)"
	vm_resize 0
}
