#!/bin/bash
# Releasing hinted pages is safe only with the dirty log's verdict (D-12):
# build ballast-vmm with the check dropped, so every hinted page goes when
# the run ends, written or not, and check that module.bats' hinting test
# fails on it. There ballast.ko writes into some of its hinted blocks before
# it sends STOP and checks them after DONE; Linux's driver never writes a
# hinted block before DONE, so integrity.bats cannot see this mutant. Also
# runs the same test against the real ballast-vmm, which must pass it.
# TAP out; exit 1 if the mutant passes or the real device fails. Nested
# when there is no hardware KVM: about two minutes.
#
#   selftests/mutants/hint-nodirty.sh
# shellcheck source=common.sh
source "$(dirname "$0")/common.sh"
check='b->hinted.words\[i\] &= ~b->dirty.words\[i\];'
mutate virtio/balloon/hint.c "$check" "s/$check/;/" "the dirty-log check this mutant removes"
make -s -C "$src" O="$BUILD/vmm-hint-nodirty" "$BUILD/vmm-hint-nodirty/ballast-vmm" >/dev/null || exit 2
make -s vmm >/dev/null || exit 2

# hint_test VMM_BINARY: module.bats' hinting test alone, its TAP.
hint_test() {
	BALLAST_VMM=$1 VMM=ballast-vmm BALLAST_ROOT=$PWD BALLAST_BUILD=$BUILD \
		bats --tap -f 'free page hinting' selftests/bats/module.bats 2>&1
}

echo "1..2"
rc=0
out=$(hint_test "$BUILD/vmm-hint-nodirty/ballast-vmm")
if grep -q '^not ok ' <<<"$out"; then
	echo "ok 1 - module.bats' hinting test fails without the dirty log"
else
	echo "not ok 1 - module.bats' hinting test passes without the dirty log"
	rc=1
fi
grep -E '^# .*(changed by the device|hint_check)|^not ok|^ok' <<<"$out" | sed 's/^/# /'
out=$(hint_test "$BUILD/vmm/ballast-vmm")
if grep -q '^ok 1 ' <<<"$out" && ! grep -q -e '^not ok ' -e '# skip' <<<"$out"; then
	echo "ok 2 - the real ballast-vmm passes it"
else
	echo "not ok 2 - the real ballast-vmm does not pass it"
	rc=1
fi
grep -E '^# .*changed by the device|^not ok|^ok' <<<"$out" | sed 's/^/# /'
exit $rc
