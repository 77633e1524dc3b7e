# The frame of a suite that boots one guest for the whole file: the file's
# setup_file boots it with vm_start; this stops it after the last test and
# shows the guest's console after a failed one. Load it at the top.
# shellcheck shell=bash

load "$(dirname "${BASH_SOURCE[0]}")/common"

teardown_file() {
	vm_stop
}

teardown() {
	ballast_teardown
}
