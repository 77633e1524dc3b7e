# ballast: conformance suite, reference VMM and guest driver for virtio-balloon.
#
#   make deps         install what's missing from Debian's archive (as root)
#   make check        unit tests + the bats suite against every VMM, TAP out;
#                     each VMM's report of that cut in build/check/report/
#   make demo         boot a guest, balloon it, show the host's RSS drop
#   make demo-auto    ballast-vmm's auto-ballooning, squeezed by a memory hog
#                     in the test host, told as it happens
#   make images       guest and test-host kernels and initramfs images
#   make images-all   also the 6.12 and 7.x guests (GUEST_KERNELS="cloud generic 6.12 7")
#   make vmm          ballast-vmm and its unit tests (build/vmm/)
#   make guest        ballast.ko and the in-guest tests (build/guest*/)
#   make sanitize     ballast-vmm's unit tests under ASan + UBSan (build/vmm-asan/)
#   make hardening    that ballast-vmm serving live guests (boot, balloon and
#                     api-socket suites); any sanitizer report fails it
#   make fuzz         every libFuzzer target for FUZZ_SECONDS (10) each, FUZZ_JOBS
#                     (1) workers each (build/fuzz/); fails on any finding
#   make kvmtool      lkvm from KVMTOOL_SRC (a kvmtool tree or tarball) into
#                     build/peers/kvmtool/
#   make qemu10       QEMU 10.0 from bookworm-backports unpacked beside the
#                     machine's 7.2 into build/peers/qemu10/ (VMM=qemu10, and
#                     the nested test host's QEMU from then on)
#   make bench        ballast-vmm against QEMU, nested, in one run: inflate,
#                     deflate, boot, reporting, cost per GiB (bench/README.md);
#                     REPS, BENCH_SIZES, BENCH_QUICK=1 (build/bench/)
#   make conformance VMM=NAME   every suite for NAME under both drivers and
#                     three generations of Linux's driver (guest kernels
#                     generic 6.1, 6.12 and 7, Debian 13's 7.x); the verdict
#                     in build/report/NAME/, and build/report/index.{md,html}
#                     remade
#   make conformance-driver DRIVER=virtio_balloon|ballast.ko   the driver
#                     suite for that driver on ballast-vmm with its referee on,
#                     over the guest kernels built among generic 6.1, 6.12 and 7
#                     (or CONFORMANCE_KERNELS); the driver's verdict per R-clause
#                     and kernel in build/report/driver-DRIVER/
#   make report-index every VMM's verdict per clause side by side, a column
#                     per VMM, from the reports in build/report/ (runs
#                     nothing): build/report/index.md and index.html
#   make soak VMM=NAME RUNS=N   that run N times (make check's cut, or the
#                     full matrix with CONFORMANCE_FULL=1): which test or
#                     clause flips between runs (build/soak/NAME/)
#
# Variables: FLAVOUR, KERNEL, MODROOT, KDIR, GUEST_KERNELS (images/images.mk),
# VMMS and SMOKE_VMMS (the VMMs `check` runs the suite against, and those it
# only boots; one that cannot run here is skipped), KVMTOOL_SRC, CONFORMANCE_DRIVERS and CONFORMANCE_KERNELS
# (selftests/conformance.sh), BALLAST_TEST_HOST (direct|nested|auto: where
# KVM-only VMMs run), TESTHOST_QEMU (the QEMU that runs the nested test host; QEMU 10 if unpacked),
# V=1 (show commands).

BUILD := $(CURDIR)/build
AGENT_BIN := $(BUILD)/bin/ballast-agent
VMMS ?= qemu ballast-vmm
SMOKE_VMMS ?= kvmtool qemu10
KVMTOOL_SRC ?=

ifneq ($(V),1)
MAKEFLAGS += --no-print-directory
endif

.PHONY: all deps qemu10 vmm vmm-asan sanitize hardening bench bench-tools fuzz-targets fuzz guest check conformance conformance-driver report-index soak kvmtool suite-deps demo demo-auto clean FORCE
all: guest images vmm

include images/images.mk

deps:
	@ci/deps.sh

# `check` and `demo` install what is missing first (ci/deps.sh says what it
# would run when not root).
.deps-ok: FORCE
	@ci/deps.sh --check >/dev/null 2>&1 || ci/deps.sh

$(AGENT_BIN): $(wildcard selftests/agent/*.c selftests/agent/*.h)
	@$(MAKE) -C selftests/agent O=$(BUILD)/bin

vmm:
	@$(MAKE) -C vmm O=$(BUILD)/vmm

# The same VMM and unit tests with ASan + UBSan, in their own directory. gcc,
# the project's compiler, so that the warnings are the usual ones; any
# sanitizer report aborts the test that made it.
SANITIZE := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
vmm-asan:
	@$(MAKE) -C vmm O=$(BUILD)/vmm-asan CFLAGS="-O1 -g $(SANITIZE)" LDFLAGS="$(SANITIZE)"

sanitize: vmm-asan
	@$(MAKE) -C vmm O=$(BUILD)/vmm-asan CFLAGS="-O1 -g $(SANITIZE)" LDFLAGS="$(SANITIZE)" test

FUZZ_SECONDS ?= 10
FUZZ_JOBS ?= 1
fuzz-targets:
	@$(MAKE) -C vmm/fuzz O=$(BUILD)/fuzz

fuzz: fuzz-targets
	@vmm/fuzz/run.sh $(BUILD)/fuzz $(FUZZ_SECONDS) $(FUZZ_JOBS)

# What goes into the guest besides the stock kernel: ballast.ko and the
# in-guest tests. Built before the image, which picks up what is there.
# ballast.ko for each guest image's kernel (GUEST_KERNELS and generic)
# against its own headers, then for the default image (last: a KDIR given on
# the command line wins).
guest: $(GUEST_KERNEL_STAMP) $(foreach k,$(GUEST_IMAGE_KERNELS),$(BUILD)/kernel/$(k)/kver)
	@$(foreach k,$(GUEST_IMAGE_KERNELS),$(MAKE) -C guest-module FLAVOUR=$(k) O=$(BUILD)/guest-module/$(k) &&) true
	@$(MAKE) -C guest-module FLAVOUR=$(FLAVOUR) KDIR=$(KDIR) O=$(GUEST_MODULE)
	@$(MAKE) -C selftests/guest OUT=$(BUILD)/guest/bin

# kvmtool is built from a source the user names, never carried here.
kvmtool:
	@ci/build-kvmtool.sh "$(KVMTOOL_SRC)" $(BUILD)/peers/kvmtool

# QEMU 10 beside 7.2, fetched once: ci/fetch-qemu.sh says why unpacked.
QEMU10 := $(BUILD)/peers/qemu10/bin/qemu-system-x86_64
qemu10: $(QEMU10)
$(QEMU10): ci/fetch-qemu.sh ci/apt-archive.sh
	@ci/fetch-qemu.sh $(BUILD)/peers/qemu10

# What check and conformance need built; kvmtool only when a source is named;
# QEMU 10 where the archive can be reached (its runs skip without it).
suite-deps: .deps-ok
	@$(MAKE) guest
	@$(MAKE) images vmm
	@$(if $(KVMTOOL_SRC),$(MAKE) kvmtool,true)
	@$(MAKE) qemu10 || echo "# QEMU 10 could not be fetched: its runs will be skipped (make qemu10 to retry)"

check: suite-deps
	@$(MAKE) vmm-asan fuzz-targets bench-tools
	@VMMS="$(VMMS)" SMOKE_VMMS="$(SMOKE_VMMS)" BUILD=$(BUILD) selftests/run.sh

# The sampler that runs inside the test host, and its unit test.
bench-tools:
	@$(MAKE) -C bench O=$(BUILD)/bench

bench: suite-deps bench-tools
	@BUILD=$(BUILD) bench/run.sh

hardening: suite-deps
	@$(MAKE) vmm-asan
	@BUILD=$(BUILD) selftests/hardening.sh

# The guest images of the kernels it runs (6.12 and 7 are fetched the first
# time).
CONFORMANCE_KERNELS ?= generic 6.12 7
conformance: suite-deps
	@test -n "$(VMM)" || { echo "make conformance: name the VMM, e.g. VMM=qemu (adapters: $(notdir $(basename $(wildcard selftests/bats/adapters/*.bash))))" >&2; exit 2; }
	@$(MAKE) guest images GUEST_KERNELS="$(CONFORMANCE_KERNELS)"
	@BUILD=$(BUILD) CONFORMANCE_KERNELS="$(CONFORMANCE_KERNELS)" selftests/conformance.sh $(VMM)

# The driver's conformance on ballast-vmm's referee. DRIVER and the kernels
# are checked before anything is built (one line, exit 2); kernels named in
# CONFORMANCE_KERNELS get their images built, by default the script takes
# those already built (make images-all for 6.12 and 7).
DRIVER_KERNELS = $(if $(filter file undefined,$(origin CONFORMANCE_KERNELS)),,CONFORMANCE_KERNELS="$(CONFORMANCE_KERNELS)")
conformance-driver:
	@$(DRIVER_KERNELS) selftests/conformance-driver.sh --check "$(DRIVER)"
	@$(MAKE) suite-deps
	@$(if $(DRIVER_KERNELS),$(MAKE) guest images GUEST_KERNELS="$(CONFORMANCE_KERNELS)",true)
	@BUILD=$(BUILD) $(DRIVER_KERNELS) selftests/conformance-driver.sh "$(DRIVER)"

# The index of every VMM's report (conformance remakes it after each run).
report-index:
	@selftests/report/mkindex.py $(BUILD)/report && echo "$(BUILD)/report/index.md (and index.html)"

# The conformance run RUNS times for one VMM (make check's cut, the full
# matrix with CONFORMANCE_FULL=1): each test's pass count and every clause
# whose verdict changed between runs, the history in build/soak/VMM/; fails
# on any flip or any test short of RUNS of RUNS.
# Bad input stops make before anything is built, in one line (exit 2).
RUNS ?= 5
ifneq ($(filter soak,$(MAKECMDGOALS)),)
ifneq ($(shell echo '$(RUNS)' | grep -xE '[1-9][0-9]*'),$(RUNS))
$(error make soak: RUNS must be a positive number, not '$(RUNS)')
endif
ifeq ($(wildcard selftests/bats/adapters/$(or $(VMM),-).bash),)
$(error make soak: unknown VMM '$(VMM)' (adapters: $(notdir $(basename $(wildcard selftests/bats/adapters/*.bash)))))
endif
endif
soak: suite-deps
	@BUILD=$(BUILD) selftests/soak.sh "$(VMM)" "$(RUNS)"

demo: .deps-ok
	@$(MAKE) images
	@BUILD=$(BUILD) ci/demo.sh

demo-auto: .deps-ok
	@$(MAKE) images vmm
	@BUILD=$(BUILD) ci/demo-auto.sh

clean:
	rm -rf $(BUILD)
