#!/bin/bash
# Run every suite `make check` covers, print each one's TAP, and close with
# one line: "N passed, N failed[, N skipped]". Exit 0 only if nothing failed.
#
#   VMMS="qemu ballast-vmm"   the VMMs the bats suite runs against
#   MODULE_VMMS="qemu"        those that also run module.bats
#   BALLAST_TEST_HOST         direct|nested|auto, where KVM-only VMMs run
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-$PWD/build}
VMMS=${VMMS:-qemu}
export BATS_TEST_TIMEOUT=${BATS_TEST_TIMEOUT:-600}
export BALLAST_BUILD=$BUILD

case ${BALLAST_TEST_HOST:-auto} in
direct | nested | auto) ;;
*)
	echo "BALLAST_TEST_HOST must be direct, nested or auto, not '$BALLAST_TEST_HOST'" >&2
	exit 2
	;;
esac

passed=0 failed=0 skipped=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# run_suite NAME COMMAND...: run a TAP producer, echo its output, count it.
# A producer that fails without a failing test line (it crashed, or bailed
# out) counts as one failure.
run_suite() {
	local name=$1 rc p f s start=$SECONDS
	shift
	echo "# suite: $name"
	"$@" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	p=$(grep -Ec '^ok ' "$log")
	s=$(grep -Ec '^ok .*# (skip|SKIP)' "$log")
	f=$(grep -Ec '^not ok ' "$log")
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "not ok - $name exited with status $rc"
		f=1
	fi
	passed=$((passed + p - s)) failed=$((failed + f)) skipped=$((skipped + s))
	echo "# suite $name: $((p - s)) passed, $f failed, $s skipped in $((SECONDS - start))s"
}

for t in "$BUILD"/vmm/tests/test_*; do
	[ -x "$t" ] && run_suite "unit/${t##*/}" "$t"
done

# The harness's own promises, checked once with the cheapest VMM.
VMM=qemu BALLAST_TEST_HOST=direct run_suite harness bats --tap --timing selftests/bats/harness.bats

# Every VMM, first with Linux's own virtio_balloon driver, then with
# ballast.ko bound in its place (inflate and deflate must work with either).
bats_dir=selftests/bats
suites=("$bats_dir/boot.bats" "$bats_dir/balloon.bats" "$bats_dir/features.bats"
	"$bats_dir/integrity.bats" "$bats_dir/poison.bats" "$bats_dir/hugepages.bats"
	"$bats_dir/ceiling.bats")
# module.bats (ballast.ko's own counters, knobs and scenarios) runs under the
# VMMs in MODULE_VMMS: by default QEMU only, which keeps `make check` within
# its 15 minutes; under ballast-vmm in the nested test host it adds about two.
MODULE_VMMS=${MODULE_VMMS:-qemu}
module_suites=("$bats_dir/balloon.bats")
for vmm in $VMMS; do
	where=$(VMM=$vmm BALLAST_ROOT=$PWD bash -c "source selftests/bats/helpers/where.bash && ballast_where")
	echo "# $vmm runs ${where:-?} (BALLAST_TEST_HOST=${BALLAST_TEST_HOST:-auto})"
	VMM=$vmm run_suite "$vmm" bats --tap --timing "${suites[@]}"
	suites_ko=("${module_suites[@]}")
	[[ " $MODULE_VMMS " == *" $vmm "* ]] && suites_ko+=("$bats_dir/module.bats")
	VMM=$vmm VM_DRIVER=ballast run_suite "$vmm+ballast.ko" bats --tap --timing "${suites_ko[@]}"
done

# The nested path proven with a VMM everyone trusts: QEMU with -enable-kvm
# inside the test host, booting the same guest.
if [ "${BALLAST_TEST_HOST:-auto}" != direct ] && [[ " $VMMS " == *" qemu "* ]]; then
	echo "# qemu runs nested (KVM inside the TCG test host)"
	VMM=qemu BALLAST_TEST_HOST=nested run_suite "qemu-nested" bats --tap --timing selftests/bats/boot.bats
fi

summary="$passed passed, $failed failed"
[ "$skipped" -gt 0 ] && summary+=", $skipped skipped"
echo "$summary"
[ "$failed" -eq 0 ]
