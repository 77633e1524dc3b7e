# Guest kernel and initramfs, test-host kernel and initramfs: all built from
# Debian packages under build/, nothing installed into the host's /boot.
#
#   FLAVOUR=cloud|generic   the Debian kernel the guest boots (default cloud:
#                           it boots 2.4x faster; see README)
#   KERNEL=/path/bzImage    boot this kernel instead; its modules are taken
#   MODROOT=/               from MODROOT/lib/modules/<its version>
#   KDIR=/path/to/headers   build ballast.ko against these headers

FLAVOUR ?= cloud
KERNEL_DIR := $(BUILD)/kernel/$(FLAVOUR)
TESTHOST_KERNEL_DIR := $(BUILD)/kernel/generic
IMAGES := $(BUILD)/images

ifdef KERNEL
GUEST_KVER := $(shell images/kver-of.sh $(KERNEL))
MODROOT ?= /
KDIR ?= /lib/modules/$(GUEST_KVER)/build
GUEST_KERNEL_STAMP := $(KERNEL)
else
KERNEL := $(KERNEL_DIR)/vmlinuz
MODROOT := $(KERNEL_DIR)/root
KDIR ?= $(KERNEL_DIR)/build
GUEST_KERNEL_STAMP := $(KERNEL_DIR)/kver
GUEST_KVER = $(shell cat $(KERNEL_DIR)/kver)
endif

$(BUILD)/kernel/%/kver: images/fetch-kernel.sh
	images/fetch-kernel.sh $* $(BUILD)/kernel/$*

# Files the guest gets besides busybox and modules: the agent, and whatever
# guest-module/ and selftests/guest/ have built.
GUEST_EXTRA = $(wildcard $(BUILD)/guest/bin/* $(BUILD)/guest-module/$(FLAVOUR)/*.ko)

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
	$(if $(wildcard $(4)),-a $(4):/lib/ballast)
endef

$(IMAGES)/guest.cpio.gz: $(IMAGES)/guest.config $(GUEST_KERNEL_STAMP) images/mkinitramfs.sh images/guest-init.sh \
		$(AGENT_BIN) $(GUEST_EXTRA)
	@mkdir -p $(IMAGES)
	$(call guest_initramfs,$@,$(MODROOT),$(GUEST_KVER),$(BUILD)/guest-module/$(FLAVOUR)/ballast.ko)
	ln -sf $(KERNEL) $(IMAGES)/vmlinuz
	echo $(GUEST_KVER) > $(IMAGES)/kver

# The same guest on Debian's generic kernel, whatever FLAVOUR is: it has
# CONFIG_PAGE_POISONING (the cloud kernel has not), which poison.bats needs.
# The test host fetches this kernel anyway.
GENERIC_GUEST := $(IMAGES)/generic
$(GENERIC_GUEST)/guest.cpio.gz: $(TESTHOST_KERNEL_DIR)/kver images/mkinitramfs.sh images/guest-init.sh \
		$(AGENT_BIN) $(wildcard $(BUILD)/guest/bin/*)
	@mkdir -p $(GENERIC_GUEST)
	$(call guest_initramfs,$@,$(TESTHOST_KERNEL_DIR)/root,$$(cat $(TESTHOST_KERNEL_DIR)/kver),)
	ln -sf $(TESTHOST_KERNEL_DIR)/vmlinuz $(GENERIC_GUEST)/vmlinuz

$(IMAGES)/testhost.cpio.gz: $(TESTHOST_KERNEL_DIR)/kver images/mkinitramfs.sh images/testhost-init.sh
	@mkdir -p $(IMAGES)
	images/mkinitramfs.sh -r $(TESTHOST_KERNEL_DIR)/root -v $$(cat $(TESTHOST_KERNEL_DIR)/kver) \
		-i images/testhost-init.sh -o $@ \
		-m kvm_amd -m 9p -m 9pnet_virtio -m virtio_pci -m virtio_console
	ln -sf $(TESTHOST_KERNEL_DIR)/vmlinuz $(IMAGES)/testhost-vmlinuz

.PHONY: images
images: $(IMAGES)/guest.cpio.gz $(GENERIC_GUEST)/guest.cpio.gz $(IMAGES)/testhost.cpio.gz
