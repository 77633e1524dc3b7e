# ballast: conformance suite, reference VMM and guest driver for virtio-balloon.
#
#   make deps         install what's missing from Debian's archive (as root)
#   make check        unit tests + the bats suite against every VMM, TAP out
#   make demo         boot a guest, balloon it, show the host's RSS drop
#   make images       guest and test-host kernels and initramfs images
#   make vmm          ballast-vmm and its unit tests (build/vmm/)
#   make guest        ballast.ko and the in-guest tests (build/guest*/)
#
# Variables: FLAVOUR, KERNEL, MODROOT, KDIR (images/images.mk),
# VMMS (the VMMs `check` runs the suite against), MODULE_VMMS (those that
# also run module.bats with ballast.ko), BALLAST_TEST_HOST
# (direct|nested|auto: where KVM-only VMMs run), V=1 (show commands).

BUILD := $(CURDIR)/build
AGENT_BIN := $(BUILD)/bin/ballast-agent
VMMS ?= qemu ballast-vmm
MODULE_VMMS ?= qemu

ifneq ($(V),1)
MAKEFLAGS += --no-print-directory
endif

.PHONY: all deps vmm guest check demo clean FORCE
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

# What goes into the guest besides the stock kernel: ballast.ko and the
# in-guest tests. Built before the image, which picks up what is there.
guest: $(GUEST_KERNEL_STAMP)
	@$(MAKE) -C guest-module FLAVOUR=$(FLAVOUR) KDIR=$(KDIR) O=$(BUILD)/guest-module/$(FLAVOUR)
	@$(MAKE) -C selftests/guest OUT=$(BUILD)/guest/bin

check: .deps-ok
	@$(MAKE) guest
	@$(MAKE) images vmm
	@VMMS="$(VMMS)" MODULE_VMMS="$(MODULE_VMMS)" BUILD=$(BUILD) selftests/run.sh

demo: .deps-ok
	@$(MAKE) images
	@BUILD=$(BUILD) ci/demo.sh

clean:
	rm -rf $(BUILD)
