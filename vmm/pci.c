// SPDX-License-Identifier: MIT
/*
 * PCI configuration space and BAR dispatch. One MMIO range covers the whole
 * hole below 4 GiB; accesses are routed to whichever BAR holds the address
 * at that moment, so a guest moving a BAR needs no re-registration (only the
 * device's ioeventfds follow it, through bar_moved()).
 */
#include <errno.h>
#include <linux/pci_regs.h>
#include <stdlib.h>
#include <string.h>

#include "boot.h"
#include "kvm.h"
#include "log.h"
#include "pci.h"

#define PCI_CONFIG_ADDR_PORT	0xcf8
#define PCI_CONFIG_DATA_PORT	0xcfc
#define CONFIG_ENABLE		BIT(31)
#define CMD_WRITABLE		(PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | \
				 PCI_COMMAND_PARITY | PCI_COMMAND_SERR | \
				 PCI_COMMAND_INTX_DISABLE)

void pci_device_init(struct pci_device *dev, u16 vendor, u16 device, u32 class_code,
		     u8 revision, u16 subsys_vendor, u16 subsys_id)
{
	memset(dev, 0, sizeof(*dev));
	dev->slot = -1;
	pci_cfg_set16(dev, PCI_VENDOR_ID, vendor);
	pci_cfg_set16(dev, PCI_DEVICE_ID, device);
	dev->cfg[PCI_REVISION_ID] = revision;
	dev->cfg[PCI_CLASS_PROG] = class_code;
	pci_cfg_set16(dev, PCI_CLASS_DEVICE, class_code >> 8);
	dev->cfg[PCI_HEADER_TYPE] = PCI_HEADER_TYPE_NORMAL;
	pci_cfg_set16(dev, PCI_SUBSYSTEM_VENDOR_ID, subsys_vendor);
	pci_cfg_set16(dev, PCI_SUBSYSTEM_ID, subsys_id);
	dev->cap_end = PCI_CAP_START;
}

int pci_device_add_bar(struct pci_device *dev, int bar, u32 size, bus_io_fn fn, void *opaque)
{
	if (bar < 0 || bar >= PCI_NUM_BARS || size < 16 || (size & (size - 1)) || !fn)
		return -EINVAL;
	dev->bars[bar] = (struct pci_bar) { .size = size, .fn = fn, .opaque = opaque };
	return 0;
}

int pci_device_add_cap(struct pci_device *dev, const void *cap, u8 len)
{
	u8 off = ALIGN_UP(dev->cap_end, 4);

	if (len < 2 || off + len > PCI_CFG_SIZE)
		return -ENOSPC;
	memcpy(&dev->cfg[off], cap, len);
	dev->cfg[off + 1] = 0;
	if (dev->last_cap)
		dev->cfg[dev->last_cap + 1] = off;
	else
		dev->cfg[PCI_CAPABILITY_LIST] = off;
	pci_cfg_set16(dev, PCI_STATUS, pci_cfg_get16(dev, PCI_STATUS) | PCI_STATUS_CAP_LIST);
	dev->last_cap = off;
	dev->cap_end = off + len;
	return off;
}

static void bar_update(struct pci_device *dev, int i)
{
	struct pci_bar *b = &dev->bars[i];
	u64 old = b->active_addr;

	if (!b->size || b->addr == b->active_addr)
		return;
	if (!(pci_cfg_get16(dev, PCI_COMMAND) & PCI_COMMAND_MEMORY))
		return;
	b->active_addr = b->addr;
	if (dev->bar_moved)
		dev->bar_moved(dev, i, old, b->addr);
}

static void write_header(struct pci_device *dev, u32 off, u8 v)
{
	u32 reg = off & ~3U;
	int i;

	if (reg >= PCI_BASE_ADDRESS_0 && reg <= PCI_BASE_ADDRESS_5) {
		struct pci_bar *b = &dev->bars[(reg - PCI_BASE_ADDRESS_0) / 4];
		u32 val = pci_cfg_get32(dev, reg);

		if (!b->size)
			return;		/* unused BARs read as 0, sizing too */
		val = (val & ~(0xffU << 8 * (off & 3))) | (u32)v << 8 * (off & 3);
		val &= ~(b->size - 1) & PCI_BASE_ADDRESS_MEM_MASK;
		pci_cfg_set32(dev, reg, val);	/* type bits 0: 32-bit memory */
		b->addr = val;
		return;
	}
	switch (off) {
	case PCI_COMMAND:
		dev->cfg[off] = v & CMD_WRITABLE;
		for (i = 0; i < PCI_NUM_BARS; i++)
			bar_update(dev, i);
		break;
	case PCI_COMMAND + 1:
		dev->cfg[off] = v & (CMD_WRITABLE >> 8);
		break;
	case PCI_CACHE_LINE_SIZE:
	case PCI_LATENCY_TIMER:
	case PCI_INTERRUPT_LINE:
		dev->cfg[off] = v;
		break;
	}
	/* Everything else in the header is read-only (status, IDs, ROM: none). */
}

void pci_cfg_access(struct pci_bus *bus, int slot, u32 off, u8 *data, u32 len, bool is_write)
{
	struct pci_device *dev;
	u32 i;

	if (slot < 0 || slot >= PCI_MAX_SLOTS || off >= PCI_CFG_SIZE || len > PCI_CFG_SIZE - off)
		goto absent;
	pthread_mutex_lock(&bus->lock);
	dev = bus->devs[slot];
	if (!dev) {
		pthread_mutex_unlock(&bus->lock);
		goto absent;
	}
	if (!is_write) {
		memcpy(data, &dev->cfg[off], len);
		if (dev->cfg_read && off + len > PCI_CAP_START)
			dev->cfg_read(dev, off, data, len);
	} else if (off >= PCI_CAP_START) {
		if (dev->cfg_write)
			dev->cfg_write(dev, off, data, len);
	} else {
		for (i = 0; i < len; i++) {
			write_header(dev, off + i, data[i]);
			/* After a BAR's last byte: the move is complete. */
			if (((off + i) & 3) == 3 && off + i >= PCI_BASE_ADDRESS_0 &&
			    off + i <= PCI_BASE_ADDRESS_5 + 3)
				bar_update(dev, (off + i - PCI_BASE_ADDRESS_0) / 4);
		}
	}
	pthread_mutex_unlock(&bus->lock);
	return;
absent:
	if (!is_write)
		memset(data, 0xff, len);
}

static void config_addr_io(void *opaque, u64 off, u8 *data, u32 len, bool is_write)
{
	struct pci_bus *bus = opaque;

	/* Only full dwords at 0xCF8 are the address; 0xCF9/0xCFB bytes are not. */
	if (off != 0 || len != 4) {
		if (!is_write)
			memset(data, 0, len);
		return;
	}
	pthread_mutex_lock(&bus->lock);
	if (is_write)
		bus->config_addr = bus_get(data, 4) & 0x80fffffc;
	else
		bus_put(data, 4, bus->config_addr);
	pthread_mutex_unlock(&bus->lock);
}

static void config_data_io(void *opaque, u64 off, u8 *data, u32 len, bool is_write)
{
	struct pci_bus *bus = opaque;
	u32 addr;

	pthread_mutex_lock(&bus->lock);
	addr = bus->config_addr;
	pthread_mutex_unlock(&bus->lock);
	/* Bus 0, function 0 only; everything else is absent. */
	if (!(addr & CONFIG_ENABLE) || (addr & 0x00ff0700) || off + len > 4) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	pci_cfg_access(bus, (addr >> 11) & 0x1f, (addr & 0xfc) + off, data, len, is_write);
}

static void mmio_io(void *opaque, u64 off, u8 *data, u32 len, bool is_write)
{
	struct pci_bus *bus = opaque;
	u64 addr = PCI_MMIO_BASE + off;
	bus_io_fn fn = NULL;
	void *fn_opaque = NULL;
	u64 bar_off = 0;
	int s, i;

	pthread_mutex_lock(&bus->lock);
	for (s = 0; s < PCI_MAX_SLOTS && !fn; s++) {
		struct pci_device *dev = bus->devs[s];

		if (!dev || !(pci_cfg_get16(dev, PCI_COMMAND) & PCI_COMMAND_MEMORY))
			continue;
		for (i = 0; i < PCI_NUM_BARS; i++) {
			struct pci_bar *b = &dev->bars[i];

			if (b->size && addr >= b->addr && addr - b->addr < b->size &&
			    len <= b->size - (addr - b->addr)) {
				fn = b->fn;
				fn_opaque = b->opaque;
				bar_off = addr - b->addr;
				break;
			}
		}
	}
	pthread_mutex_unlock(&bus->lock);
	if (fn) {
		fn(fn_opaque, bar_off, data, len, is_write);
		return;
	}
	pr_ratelimited(LOG_INFO, "pci: %s of 0x%llx hits no BAR", is_write ? "write" : "read",
		       (unsigned long long)addr);
}

int pci_register(struct pci_bus *bus, struct pci_device *dev)
{
	int slot, i;

	pthread_mutex_lock(&bus->lock);
	for (slot = 0; slot < PCI_MAX_SLOTS && bus->devs[slot]; slot++)
		;
	if (slot == PCI_MAX_SLOTS) {
		pthread_mutex_unlock(&bus->lock);
		return -ENOSPC;
	}
	for (i = 0; i < PCI_NUM_BARS; i++) {
		struct pci_bar *b = &dev->bars[i];
		u64 addr;

		if (!b->size)
			continue;
		addr = ALIGN_UP(bus->mmio_next, (u64)b->size);
		if (addr + b->size > PCI_MMIO_END) {
			pthread_mutex_unlock(&bus->lock);
			return -ENOSPC;
		}
		bus->mmio_next = addr + b->size;
		b->addr = addr;
		pci_cfg_set32(dev, PCI_BASE_ADDRESS_0 + 4 * i, addr);
	}
	if (slot && dev->cfg[PCI_INTERRUPT_PIN])
		dev->cfg[PCI_INTERRUPT_LINE] = PCI_INTX_PIN(slot);
	dev->slot = slot;
	bus->devs[slot] = dev;
	pthread_mutex_unlock(&bus->lock);
	return slot;
}

int pci_init(struct kvm *kvm)
{
	struct pci_bus *bus = calloc(1, sizeof(*bus));
	int ret;

	if (!bus)
		return -ENOMEM;
	bus->kvm = kvm;
	pthread_mutex_init(&bus->lock, NULL);
	bus->mmio_next = PCI_MMIO_BASE;
	/* Linux's pci_sanity_check() wants a host bridge on bus 0. */
	pci_device_init(&bus->host_bridge, PCI_VENDOR_REDHAT, 0x0008,
			0x060000, 0, PCI_VENDOR_REDHAT, 0);	/* host bridge */
	ret = pci_register(bus, &bus->host_bridge);
	if (ret < 0)
		goto err;
	ret = bus_register(&kvm->pio_bus, PCI_CONFIG_ADDR_PORT, 4, config_addr_io, bus);
	if (ret)
		goto err;
	ret = bus_register(&kvm->pio_bus, PCI_CONFIG_DATA_PORT, 4, config_data_io, bus);
	if (ret)
		goto err;
	ret = bus_register(&kvm->mmio_bus, PCI_MMIO_BASE, PCI_MMIO_END - PCI_MMIO_BASE, mmio_io, bus);
	if (ret)
		goto err;
	kvm->pci = bus;
	return 0;
err:
	free(bus);
	return ret;
}
