#!/bin/bash
# Every assertion on host RSS must fail against a device that releases
# nothing: build ballast-vmm with its one release call (memory.c's madvise)
# made a no-op, run the suite files that measure RSS against it, and check
# that each test whose name speaks of RSS failed. TAP out; exit 1 if one
# passed. Nested when there is no hardware KVM: about ten minutes.
#
#   selftests/mutants/no-release.sh
# shellcheck source=common.sh
source "$(dirname "$0")/common.sh"
call='if (madvise(r->hva + off, len, MADV_DONTNEED) < 0)'
mutate memory.c "$call" "s/$call/if (0)/" "the release call this mutant removes"
make -s -C "$src" O="$BUILD/vmm-norelease" "$BUILD/vmm-norelease/ballast-vmm" >/dev/null || exit 2

out=$(BALLAST_VMM=$BUILD/vmm-norelease/ballast-vmm VMM=ballast-vmm CONFORMANCE_QUICK=1 \
	CONFORMANCE_FILES="balloon features integrity hugepages" REPORT_DIR=$BUILD/report/no-release \
	BUILD=$BUILD selftests/conformance.sh ballast-vmm 2>&1)
n=0 bad=0
while read -r line; do
	n=$((n + 1))
	if [[ $line == "not ok"* ]]; then
		echo "ok $n - fails without release: ${line#not ok }"
	else
		bad=$((bad + 1))
		echo "not ok $n - passes without release: ${line#ok }"
	fi
done < <(grep -E '^(not )?ok .*RSS' <<<"$out")
echo "1..$n"
[ "$n" -gt 0 ] && [ "$bad" -eq 0 ]
