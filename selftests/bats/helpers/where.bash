# Which VMM, and where it runs. Sourced by the bats helpers and by
# selftests/run.sh (which prints the choice); needs BALLAST_ROOT and VMM.
# shellcheck shell=bash

adapter=$BALLAST_ROOT/selftests/bats/adapters/$VMM.bash
if [ ! -r "$adapter" ]; then
	echo "VMM=$VMM: no adapter $adapter" >&2
	return 2
fi
# shellcheck source=/dev/null
source "$adapter"

# Hardware-backed KVM: the kvm_intel or kvm_amd module behind /dev/kvm.
# kvm_pvm (or nothing) can't boot a stock kernel.
ballast_hw_kvm() {
	[ -c /dev/kvm ] && { [ -d /sys/module/kvm_intel ] || [ -d /sys/module/kvm_amd ]; }
}

# Where the VMM under test runs: direct (on this machine) or nested (inside
# the test host). BALLAST_TEST_HOST=direct|nested overrides the choice.
ballast_where() {
	case ${BALLAST_TEST_HOST:-auto} in
	direct | nested) echo "$BALLAST_TEST_HOST" ;;
	auto)
		if ballast_hw_kvm || ! vmm_needs_kvm; then
			echo direct
		else
			echo nested
		fi
		;;
	*)
		echo "BALLAST_TEST_HOST must be direct, nested or auto, not '$BALLAST_TEST_HOST'" >&2
		return 2
		;;
	esac
}
