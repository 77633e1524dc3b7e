/* SPDX-License-Identifier: MIT */
/*
 * Modern (virtio 1.x, non-transitional) PCI transport. One 32 KiB memory BAR
 * holds the common, ISR, device and notify structures and the MSI-X table
 * and PBA; config space carries the five virtio capabilities and MSI-X.
 * Queue notifies arrive on ioeventfds and run the device's queue_notify on
 * the I/O thread; interrupts leave through irqfds bound to MSI routes, or
 * through INTx on an IOAPIC pin while MSI-X is off.
 */
#ifndef BALLAST_VIRTIO_PCI_H
#define BALLAST_VIRTIO_PCI_H

#include "../pci.h"
#include "virtio.h"

struct kvm;

/* BAR 0 layout. */
#define VPCI_BAR_SIZE		0x8000
#define VPCI_COMMON_OFF		0x0000
#define VPCI_COMMON_SIZE	0x0040
#define VPCI_ISR_OFF		0x1000
#define VPCI_DEVICE_OFF		0x2000
#define VPCI_DEVICE_SIZE	0x1000
#define VPCI_NOTIFY_OFF		0x3000
#define VPCI_NOTIFY_MULT	4
#define VPCI_MSIX_TABLE_OFF	0x4000
#define VPCI_MSIX_PBA_OFF	0x5000
#define VPCI_NR_VECTORS		(VIRTIO_MAX_QUEUES + 1)
#define VPCI_NO_VECTOR		0xffff

struct virtio_pci_stats {
	u64 notifies;		/* ioeventfd kicks */
	u64 mmio_notifies;	/* kicks that missed the ioeventfd */
	u64 irqs;		/* MSI-X messages sent */
	u64 irqs_pending;	/* held back by a mask, sent on unmask */
	u64 intx;		/* INTx assertions */
	u64 bad_access;		/* guest accesses we could not honour */
	u64 queue_errors;	/* queues that could not be enabled */
};

struct virtio_pci_msix_entry {
	u32 addr_lo, addr_hi, data, ctrl;
};

struct virtio_pci {
	struct pci_device pci;
	struct virtio_device *vdev;
	struct kvm *kvm;
	u64 bar_addr;		/* where the ioeventfds are bound, 0: nowhere */

	/* Common configuration (virtio 1.2 §4.1.4.3), under vdev->lock. */
	u32 dfselect, gfselect;
	u64 driver_features;
	u16 msix_config;
	u8 status;
	u8 config_generation;
	u16 queue_select;
	/*
	 * The transport set NEEDS_RESET itself (a queue or DRIVER_OK it could
	 * not take): queues go unserved until the reset. A NEEDS_RESET the
	 * device asked for (virtio_set_needs_reset) leaves them served.
	 */
	bool halted;
	struct {
		u16 size;
		u16 msix_vector;
		bool enabled;
		u64 desc, avail, used;
		int notify_fd;
	} q[VIRTIO_MAX_QUEUES];
	u8 isr;
	bool intx_asserted;

	/* MSI-X, under vdev->lock. */
	int msix_cap;
	u16 msix_ctrl;
	struct virtio_pci_msix_entry msix[VPCI_NR_VECTORS];
	u32 msix_pba;
	u32 gsi[VPCI_NR_VECTORS];
	int irq_fd[VPCI_NR_VECTORS];
	int pci_cfg_cap;	/* VIRTIO_PCI_CAP_PCI_CFG offset */

	struct virtio_pci_stats stats;
};

/*
 * Put vdev on the PCI bus. The caller fills vdev->ops and vdev->priv and
 * initialises vdev->lock; the transport sets vdev->mem (if unset),
 * transport and the signal hooks.
 * Returns 0 or a negative errno (set-up time only).
 */
int virtio_pci_create(struct kvm *kvm, struct virtio_device *vdev);

/* BAR 0 and config-space handlers, exposed for unit tests. */
void virtio_pci_bar_io(void *opaque, u64 off, u8 *data, u32 len, bool is_write);
/*
 * Serve a kick of transport queue idx as the I/O thread does after its
 * ioeventfd fired; without an I/O loop (unit tests, fuzzers) call it
 * directly.
 */
void virtio_pci_notify(struct virtio_pci *vp, unsigned int idx);

/*
 * The transport's counters and the MSI-X pending bits of vdev, for
 * post-mortems; the caller holds vdev->lock. -ENODEV without a transport.
 */
int virtio_pci_get_stats(struct virtio_device *vdev, struct virtio_pci_stats *st, u32 *pba);

#endif
