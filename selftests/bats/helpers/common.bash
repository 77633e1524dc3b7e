# Shared by every .bats file: the harness library plus bats' own libraries.
# shellcheck shell=bash

# shellcheck source=lib.bash
source "$(dirname "${BASH_SOURCE[0]}")/lib.bash"
load /usr/lib/bats/bats-support/load.bash
load /usr/lib/bats/bats-assert/load.bash

# Print the tail of the guest's serial console when a test failed.
ballast_teardown() {
	if [ -z "${BATS_TEST_COMPLETED:-}" ]; then
		echo "--- last lines of the guest console ($VMM, $(ballast_where)) ---" >&2
		vm_console_tail >&2 || true
	fi
}
