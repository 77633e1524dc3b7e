/* SPDX-License-Identifier: MIT */
/*
 * A PCI bus 0 behind a host bridge: configuration mechanism #1 on I/O ports
 * 0xCF8/0xCFC, single-function devices, 32-bit memory BARs placed by us in
 * the hole below 4 GiB (no firmware will), which the guest may move.
 */
#ifndef BALLAST_PCI_H
#define BALLAST_PCI_H

#include <pthread.h>

#include "bus.h"
#include "compiler.h"
#include "memory.h"

struct kvm;

#define PCI_MMIO_BASE		GUEST_MEM_LOW_MAX	/* 3 GiB */
#define PCI_MMIO_END		0xFEC00000ULL		/* the IOAPIC */
#define PCI_MAX_SLOTS		32
#define PCI_NUM_BARS		6
#define PCI_CFG_SIZE		256
#define PCI_CAP_START		0x40

#define PCI_VENDOR_REDHAT	0x1b36		/* QEMU's; host bridge 0x0008 */
#define PCI_VENDOR_VIRTIO	0x1af4

struct pci_device;

struct pci_bar {
	u32 size;		/* power of two >= 16; 0: unused */
	u64 addr;		/* as programmed */
	u64 active_addr;	/* where bar_moved() last placed it */
	bus_io_fn fn;		/* offset is from the start of the BAR */
	void *opaque;
};

struct pci_device {
	u8 cfg[PCI_CFG_SIZE];
	int slot;		/* -1 until registered */
	struct pci_bar bars[PCI_NUM_BARS];
	u8 last_cap;		/* offset of the last capability, 0: none */
	u8 cap_end;		/* first free byte for the next one */
	/*
	 * Hooks, all optional, all called with the bus lock held. cfg_write
	 * sees writes at or above PCI_CAP_START (the device stores what it
	 * wants into cfg[]); cfg_read may patch data after cfg[] was copied;
	 * bar_moved runs when memory decoding is on and a BAR has a new
	 * address (old is 0 the first time).
	 */
	void (*cfg_write)(struct pci_device *dev, u32 off, const u8 *data, u32 len);
	void (*cfg_read)(struct pci_device *dev, u32 off, u8 *data, u32 len);
	void (*bar_moved)(struct pci_device *dev, int bar, u64 old, u64 new);
	void *opaque;
};

struct pci_bus {
	struct kvm *kvm;
	pthread_mutex_t lock;
	u32 config_addr;
	struct pci_device *devs[PCI_MAX_SLOTS];
	struct pci_device host_bridge;
	u64 mmio_next;
};

/* Create bus 0 with the host bridge and claim 0xCF8-0xCFF and the MMIO hole. */
int pci_init(struct kvm *kvm);

void pci_device_init(struct pci_device *dev, u16 vendor, u16 device, u32 class_code,
		     u8 revision, u16 subsys_vendor, u16 subsys_id);
/* A 32-bit memory BAR of size bytes served by fn. */
int pci_device_add_bar(struct pci_device *dev, int bar, u32 size, bus_io_fn fn, void *opaque);
/*
 * Append a capability (cap[0] is its ID, cap[1] is filled in); returns its
 * config-space offset or a negative errno.
 */
int pci_device_add_cap(struct pci_device *dev, const void *cap, u8 len);
/* Give dev a slot and BAR addresses; it becomes visible to the guest. */
int pci_register(struct pci_bus *bus, struct pci_device *dev);

/* Config space access by slot, as through 0xCF8/0xCFC (tests use these). */
void pci_cfg_access(struct pci_bus *bus, int slot, u32 off, u8 *data, u32 len, bool is_write);

static inline u16 pci_cfg_get16(const struct pci_device *dev, u32 off)
{
	return dev->cfg[off] | dev->cfg[off + 1] << 8;
}

static inline void pci_cfg_set16(struct pci_device *dev, u32 off, u16 v)
{
	dev->cfg[off] = v;
	dev->cfg[off + 1] = v >> 8;
}

static inline void pci_cfg_set32(struct pci_device *dev, u32 off, u32 v)
{
	pci_cfg_set16(dev, off, v);
	pci_cfg_set16(dev, off + 2, v >> 16);
}

static inline u32 pci_cfg_get32(const struct pci_device *dev, u32 off)
{
	return pci_cfg_get16(dev, off) | (u32)pci_cfg_get16(dev, off + 2) << 16;
}

#endif
