#!/bin/bash
# make hardening must fail on a report made as the VMM exits: build the
# sanitizer ballast-vmm with a buffer allocated at start-up and dropped (a
# leak only LeakSanitizer sees, at exit), run boot.bats under
# selftests/hardening.sh with it, and check that the run failed on that
# report. TAP out.
#
#   selftests/mutants/leak.sh
# shellcheck source=common.sh
source "$(dirname "$0")/common.sh"
anchor='	log_level = vm.cfg.log_level;'
# volatile: the compiler may not drop the allocation or keep it reachable.
mutate main.c "^$anchor\$" \
	"s/^$anchor\$/&\n\t{ char *volatile lost = strdup(argv[0]); lost = NULL; (void)lost; }/" \
	"the line this mutant leaks after"
sanitize=$(sed -n 's/^SANITIZE := //p' Makefile)
make -s -C "$src" O="$BUILD/vmm-asan-leak" CFLAGS="-O1 -g $sanitize" LDFLAGS="$sanitize" \
	"$BUILD/vmm-asan-leak/ballast-vmm" >/dev/null || exit 2

out=$(HARDENING_VMM=$BUILD/vmm-asan-leak/ballast-vmm HARDENING_FILES=boot \
	BUILD=$BUILD selftests/hardening.sh 2>&1)
rc=$?
echo "1..1"
if [ "$rc" -ne 0 ] && grep -q 'LeakSanitizer: detected memory leaks' <<<"$out"; then
	echo "ok 1 - make hardening fails on a leak reported at exit"
	grep -m3 -E 'not ok|Direct leak|SUMMARY' <<<"$out" | sed 's/^/# /'
else
	echo "not ok 1 - make hardening did not fail on a leak at exit (status $rc)"
	sed 's/^/# /' <<<"$out" | tail -n 30
	exit 1
fi
