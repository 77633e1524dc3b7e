# Guest kernel and initramfs, test-host kernel and initramfs: all built from
# Debian packages under build/, nothing installed into the host's /boot.
#
#   FLAVOUR=cloud|generic   the Debian kernel the default guest image
#                           (build/images/) boots (default cloud: it boots
#                           2.4x faster; see README)
#   KERNEL=/path/bzImage    boot this kernel instead; its modules are taken
#   MODROOT=/               from MODROOT/lib/modules/<its version>
#   KDIR=/path/to/headers   build ballast.ko against these headers
#   GUEST_KERNELS=...       the guest images build/images/<name>/ to build,
#                           each with ballast.ko built against its headers:
#                           cloud, generic, 6.12, 7 (default: cloud generic;
#                           6.12 is a 124 MB download, 7 (Debian 13's 7.x)
#                           303 MB with the source its kbuild tools are
#                           built from; `make images-all`)
#
# The harness boots build/images/ unless GUEST_KERNEL=<name> picks one of
# build/images/<name>/ (selftests/bats/helpers/vm.bash, images/README.md).

FLAVOUR ?= cloud
ALL_GUEST_KERNELS := cloud generic 6.12 7
GUEST_KERNELS ?= cloud generic
$(foreach k,$(GUEST_KERNELS),$(if $(filter $(k),$(ALL_GUEST_KERNELS)),,\
	$(error GUEST_KERNELS: unknown guest kernel '$(k)' (one of: $(ALL_GUEST_KERNELS)))))
# generic is always among them: poison.bats boots it (see below).
GUEST_IMAGE_KERNELS := $(sort generic $(GUEST_KERNELS))
KERNEL_DIR := $(BUILD)/kernel/$(FLAVOUR)
TESTHOST_KERNEL_DIR := $(BUILD)/kernel/generic
IMAGES := $(BUILD)/images

# GUEST_MODULE: where the default image's ballast.ko is built. A KERNEL of
# one's own gets a directory of its own, so that the module built against it
# never lands in build/images/$(FLAVOUR)/.
ifdef KERNEL
GUEST_KVER := $(shell images/kver-of.sh $(KERNEL))
MODROOT ?= /
KDIR ?= /lib/modules/$(GUEST_KVER)/build
GUEST_KERNEL_STAMP := $(KERNEL)
GUEST_MODULE := $(BUILD)/guest-module/kernel
else
KERNEL := $(KERNEL_DIR)/vmlinuz
MODROOT := $(KERNEL_DIR)/root
KDIR ?= $(KERNEL_DIR)/build
GUEST_KERNEL_STAMP := $(KERNEL_DIR)/kver
GUEST_KVER = $(shell cat $(KERNEL_DIR)/kver)
GUEST_MODULE := $(BUILD)/guest-module/$(FLAVOUR)
endif

$(BUILD)/kernel/%/kver: images/fetch-kernel.sh
	images/fetch-kernel.sh $* $(BUILD)/kernel/$*
# Reached through the per-kernel image rule below, kver would count as an
# intermediate file, which make deletes after the build.
.PRECIOUS: $(BUILD)/kernel/%/kver
# 7's kbuild tools are built by prepare-kbuild.sh as it is unpacked.
$(BUILD)/kernel/7/kver: images/prepare-kbuild.sh

# Files the guest gets besides busybox and modules: the agent, and whatever
# guest-module/ and selftests/guest/ have built.
GUEST_EXTRA = $(wildcard $(BUILD)/guest/bin/* $(GUEST_MODULE)/*.ko)

# Which kernel the image was built for: rebuilt when FLAVOUR or KERNEL change.
$(IMAGES)/guest.config: FORCE
	@mkdir -p $(IMAGES)
	@echo "$(KERNEL) $(MODROOT)" | cmp -s - $@ || echo "$(KERNEL) $(MODROOT)" > $@

# guest_initramfs OUT,MODROOT,KVER,KO: the one recipe every guest image uses.
# The programs in guest/bin are static, so any kernel's image can hold them.
define guest_initramfs
images/mkinitramfs.sh -r $(2) -v $(3) -i images/guest-init.sh -o $(1) \
	-m virtio_pci -m virtio_balloon -a $(AGENT_BIN):/bin \
	$(if $(wildcard $(BUILD)/guest/bin),-a $(BUILD)/guest/bin:/bin) \
	$(if $(wildcard $(4)),-a $(4):/lib/ballast) \
	$(if $(wildcard $(dir $(4))ballast_peek.ko),-a $(dir $(4))ballast_peek.ko:/lib/ballast)
endef

$(IMAGES)/guest.cpio.gz: $(IMAGES)/guest.config $(GUEST_KERNEL_STAMP) images/mkinitramfs.sh images/guest-init.sh \
		$(AGENT_BIN) $(GUEST_EXTRA)
	@mkdir -p $(IMAGES)
	$(call guest_initramfs,$@,$(MODROOT),$(GUEST_KVER),$(GUEST_MODULE)/ballast.ko)
	ln -sf $(KERNEL) $(IMAGES)/vmlinuz
	echo $(GUEST_KVER) > $(IMAGES)/kver

# One guest image per Debian kernel, build/images/<name>/ (vmlinuz, kver,
# guest.cpio.gz with the ballast.ko built against that kernel's headers),
# whatever FLAVOUR is. generic is always built: it has CONFIG_PAGE_POISONING
# (the cloud kernel has not), which poison.bats needs, and the test host
# boots that kernel anyway.
$(IMAGES)/%/guest.cpio.gz: $(BUILD)/kernel/%/kver images/mkinitramfs.sh images/guest-init.sh \
		$(AGENT_BIN) $(wildcard $(BUILD)/guest/bin/*) $(IMAGES)/%/ko.stamp
	@mkdir -p $(@D)
	$(call guest_initramfs,$@,$(BUILD)/kernel/$*/root,$$(cat $(BUILD)/kernel/$*/kver),$(BUILD)/guest-module/$*/ballast.ko)
	ln -sf $(BUILD)/kernel/$*/vmlinuz $(@D)/vmlinuz
	cp $(BUILD)/kernel/$*/kver $(@D)/kver

# Size and time of the image's modules (ballast.ko, ballast_peek.ko; empty
# without them), rewritten only when they change: the image follows its
# modules even in `make guest images`, where make would still see them as
# they were before `guest` built them (directory contents are cached from
# reading the makefile).
$(IMAGES)/%/ko.stamp: FORCE
	@mkdir -p $(@D)
	@kos="$(BUILD)/guest-module/$*/ballast.ko $(BUILD)/guest-module/$*/ballast_peek.ko"; \
	for ko in $$kos; do [ ! -f $$ko ] || stat -c '%n %s %Y' $$ko; done | cmp -s - $@ || \
		for ko in $$kos; do [ ! -f $$ko ] || stat -c '%n %s %Y' $$ko; done > $@
.PRECIOUS: $(IMAGES)/%/ko.stamp

$(IMAGES)/testhost.cpio.gz: $(TESTHOST_KERNEL_DIR)/kver images/mkinitramfs.sh images/testhost-init.sh
	@mkdir -p $(IMAGES)
	images/mkinitramfs.sh -r $(TESTHOST_KERNEL_DIR)/root -v $$(cat $(TESTHOST_KERNEL_DIR)/kver) \
		-i images/testhost-init.sh -o $@ \
		-m kvm_amd -m 9p -m 9pnet_virtio -m virtio_pci -m virtio_console
	ln -sf $(TESTHOST_KERNEL_DIR)/vmlinuz $(IMAGES)/testhost-vmlinuz

GUEST_IMAGES := $(foreach k,$(GUEST_IMAGE_KERNELS),$(IMAGES)/$(k)/guest.cpio.gz)

.PHONY: images images-all
images: $(IMAGES)/guest.cpio.gz $(GUEST_IMAGES) $(IMAGES)/testhost.cpio.gz

# Every guest kernel, each image with its ballast.ko.
images-all:
	@$(MAKE) guest images GUEST_KERNELS="$(ALL_GUEST_KERNELS)"
