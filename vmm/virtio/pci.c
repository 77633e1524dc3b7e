// SPDX-License-Identifier: MIT
/*
 * virtio-pci, modern only. Every register access from the guest takes
 * vdev->lock, so the device hooks run under it as virtio.h promises, and
 * signal_used/signal_config (called by the device with the lock held) see
 * consistent MSI-X state without taking anything else.
 */
#include <errno.h>
#include <linux/pci_regs.h>
#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "../ioloop.h"
#include "../kvm.h"
#include "../log.h"
#include "pci.h"

#define VIRTIO_PCI_DEVICE_BASE	0x1040	/* + device id: modern-only */
#define VIRTIO_PCI_SUBSYS_ID	0x1100
#define PCI_CLASS_OTHERS	0xff0000
#define MSIX_ENTRY_MASKED	1
#define VIRTIO_PCI_ISR_QUEUE	1	/* VIRTIO_PCI_ISR_CONFIG is 2 */

static u64 offered_features(struct virtio_pci *vp)
{
	struct virtio_device *vdev = vp->vdev;
	u64 f = vdev->ops->host_features ? vdev->ops->host_features(vdev) : 0;

	return f | BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_F_RING_EVENT_IDX) |
	       BIT(VIRTIO_F_RING_INDIRECT_DESC);
}

static unsigned int nr_queues(struct virtio_pci *vp)
{
	unsigned int n = vp->vdev->ops->nr_queues(vp->vdev);

	return MIN(n, (unsigned int)VIRTIO_MAX_QUEUES);
}

/* ---- interrupts ----------------------------------------------------- */

static bool msix_enabled(const struct virtio_pci *vp)
{
	return vp->msix_ctrl & PCI_MSIX_FLAGS_ENABLE;
}

static bool vector_masked(const struct virtio_pci *vp, u16 v)
{
	return (vp->msix_ctrl & PCI_MSIX_FLAGS_MASKALL) || (vp->msix[v].ctrl & MSIX_ENTRY_MASKED);
}

static void msix_fire(struct virtio_pci *vp, u16 v)
{
	u64 one = 1;

	vp->stats.irqs++;
	if (write(vp->irq_fd[v], &one, sizeof(one)) < 0) {
		/* The counter saturating means an interrupt is pending anyway. */
	}
}

static void intx_update(struct virtio_pci *vp)
{
	bool level = vp->isr && !msix_enabled(vp) &&
		     !(pci_cfg_get16(&vp->pci, PCI_COMMAND) & PCI_COMMAND_INTX_DISABLE);

	if (level == vp->intx_asserted)
		return;
	vp->intx_asserted = level;
	if (level)
		vp->stats.intx++;
	if (vp->kvm->vm_fd >= 0)
		kvm_irq_line(vp->kvm, vp->pci.cfg[PCI_INTERRUPT_LINE], level);
}

/* isr_bit: VIRTIO_PCI_ISR_QUEUE or VIRTIO_PCI_ISR_CONFIG, for INTx. */
static void raise(struct virtio_pci *vp, u16 vector, u8 isr_bit)
{
	if (!msix_enabled(vp)) {
		vp->isr |= isr_bit;
		intx_update(vp);
		return;
	}
	if (vector >= VPCI_NR_VECTORS)
		return;		/* NO_VECTOR: the driver wants no interrupt */
	if (vector_masked(vp, vector)) {
		vp->msix_pba |= 1U << vector;
		vp->stats.irqs_pending++;
		return;
	}
	msix_fire(vp, vector);
}

/* After an unmask: deliver what was held back. */
static void msix_flush_pending(struct virtio_pci *vp)
{
	u16 v;

	if (!msix_enabled(vp))
		return;
	for (v = 0; v < VPCI_NR_VECTORS; v++) {
		if (!(vp->msix_pba & (1U << v)) || vector_masked(vp, v))
			continue;
		vp->msix_pba &= ~(1U << v);
		msix_fire(vp, v);
	}
}

static void msix_update_route(struct virtio_pci *vp, u16 v)
{
	struct virtio_pci_msix_entry *e = &vp->msix[v];
	int ret;

	if (vp->kvm->vm_fd < 0)
		return;
	ret = kvm_msi_route_set(vp->kvm, vp->gsi[v], (u64)e->addr_hi << 32 | e->addr_lo, e->data);
	if (ret)
		pr_ratelimited(LOG_WARN, "%s: MSI route for vector %u: %s", vp->vdev->ops->name, v,
			       strerror(-ret));
}

static void signal_used(struct virtio_device *vdev, unsigned int idx)
{
	struct virtio_pci *vp = vdev->transport;

	if (idx < VIRTIO_MAX_QUEUES)
		raise(vp, vp->q[idx].msix_vector, VIRTIO_PCI_ISR_QUEUE);
}

static void signal_config(struct virtio_device *vdev)
{
	struct virtio_pci *vp = vdev->transport;

	vp->config_generation++;
	raise(vp, vp->msix_config, VIRTIO_PCI_ISR_CONFIG);
}

static void set_needs_reset(struct virtio_device *vdev)
{
	struct virtio_pci *vp = vdev->transport;

	vp->status |= VIRTIO_CONFIG_S_NEEDS_RESET;
}

/* ---- common configuration ------------------------------------------- */

static void transport_reset(struct virtio_pci *vp)
{
	struct virtio_device *vdev = vp->vdev;
	unsigned int i;

	if (vdev->ops->reset)
		vdev->ops->reset(vdev);
	vdev->features = 0;
	vp->driver_features = 0;
	vp->dfselect = vp->gfselect = 0;
	vp->status = 0;
	vp->halted = false;
	vp->queue_select = 0;
	vp->msix_config = VPCI_NO_VECTOR;
	for (i = 0; i < VIRTIO_MAX_QUEUES; i++) {
		int fd = vp->q[i].notify_fd;

		memset(&vp->q[i], 0, sizeof(vp->q[i]));
		vp->q[i].notify_fd = fd;
		vp->q[i].msix_vector = VPCI_NO_VECTOR;
		vp->q[i].size = vdev->ops->queue_max_size(vdev, i);
		memset(&vdev->vqs[i], 0, sizeof(vdev->vqs[i]));
	}
	vp->isr = 0;
	intx_update(vp);
}

static void set_status(struct virtio_pci *vp, u8 status)
{
	struct virtio_device *vdev = vp->vdev;
	u8 old = vp->status;

	if (!status) {
		transport_reset(vp);
		return;
	}
	/* The device's bit: the driver may not clear it (§2.1.2), only reset. */
	status |= old & VIRTIO_CONFIG_S_NEEDS_RESET;
	if ((status & VIRTIO_CONFIG_S_FEATURES_OK) && !(old & VIRTIO_CONFIG_S_FEATURES_OK)) {
		u64 f = vp->driver_features;
		bool ok = !(f & ~offered_features(vp)) && (f & BIT(VIRTIO_F_VERSION_1));

		if (ok && vdev->ops->set_features && vdev->ops->set_features(vdev, f) < 0)
			ok = false;
		if (ok)
			vdev->features = f;
		else
			status &= ~VIRTIO_CONFIG_S_FEATURES_OK;
	}
	if ((status & VIRTIO_CONFIG_S_DRIVER_OK) && !(old & VIRTIO_CONFIG_S_DRIVER_OK)) {
		if (!(status & VIRTIO_CONFIG_S_FEATURES_OK) ||
		    (vdev->ops->activate && vdev->ops->activate(vdev) < 0)) {
			vp->status = status | VIRTIO_CONFIG_S_NEEDS_RESET;
			vp->halted = true;
			signal_config(vdev);
			return;
		}
	}
	vp->status = status;
}

static void enable_queue(struct virtio_pci *vp, unsigned int i)
{
	struct virtio_device *vdev = vp->vdev;
	struct virtq *vq = &vdev->vqs[i];
	u16 max = vdev->ops->queue_max_size(vdev, i);
	int ret;

	if (vp->q[i].enabled)
		return;
	memset(vq, 0, sizeof(*vq));
	vq->size = vp->q[i].size;
	vq->desc_gpa = vp->q[i].desc;
	vq->avail_gpa = vp->q[i].avail;
	vq->used_gpa = vp->q[i].used;
	vq->event_idx = virtio_has_feature(vdev, VIRTIO_F_RING_EVENT_IDX);
	vq->indirect = virtio_has_feature(vdev, VIRTIO_F_RING_INDIRECT_DESC);
	ret = vq->size && vq->size <= max ? virtq_init(vq, vdev->mem) : -EINVAL;
	if (ret) {
		vp->stats.queue_errors++;
		pr_ratelimited(LOG_WARN, "%s: queue %u rejected (size %u, max %u): %s",
			       vdev->ops->name, i, vq->size, max, strerror(-ret));
		vq->ready = false;
		vp->status |= VIRTIO_CONFIG_S_NEEDS_RESET;
		vp->halted = true;
		signal_config(vdev);
		return;
	}
	vq->ready = true;
	vp->q[i].enabled = true;
}

static void common_snapshot(struct virtio_pci *vp, u8 *c)
{
	unsigned int sel = vp->queue_select;
	bool valid = sel < nr_queues(vp);
	u64 features = offered_features(vp);

#define PUT16(o, v) do { c[o] = (u8)(v); c[(o) + 1] = (u8)((v) >> 8); } while (0)
#define PUT32(o, v) do { PUT16(o, (u32)(v)); PUT16((o) + 2, (u32)(v) >> 16); } while (0)
	memset(c, 0, VPCI_COMMON_SIZE);
	PUT32(VIRTIO_PCI_COMMON_DFSELECT, vp->dfselect);
	PUT32(VIRTIO_PCI_COMMON_DF, vp->dfselect < 2 ? features >> (32 * vp->dfselect) : 0);
	PUT32(VIRTIO_PCI_COMMON_GFSELECT, vp->gfselect);
	PUT32(VIRTIO_PCI_COMMON_GF,
	      vp->gfselect < 2 ? vp->driver_features >> (32 * vp->gfselect) : 0);
	PUT16(VIRTIO_PCI_COMMON_MSIX, vp->msix_config);
	PUT16(VIRTIO_PCI_COMMON_NUMQ, nr_queues(vp));
	c[VIRTIO_PCI_COMMON_STATUS] = vp->status;
	c[VIRTIO_PCI_COMMON_CFGGENERATION] = vp->config_generation;
	PUT16(VIRTIO_PCI_COMMON_Q_SELECT, sel);
	if (valid) {
		PUT16(VIRTIO_PCI_COMMON_Q_SIZE, vp->q[sel].size);
		PUT16(VIRTIO_PCI_COMMON_Q_MSIX, vp->q[sel].msix_vector);
		PUT16(VIRTIO_PCI_COMMON_Q_ENABLE, vp->q[sel].enabled);
		PUT16(VIRTIO_PCI_COMMON_Q_NOFF, sel);
		PUT32(VIRTIO_PCI_COMMON_Q_DESCLO, vp->q[sel].desc);
		PUT32(VIRTIO_PCI_COMMON_Q_DESCHI, vp->q[sel].desc >> 32);
		PUT32(VIRTIO_PCI_COMMON_Q_AVAILLO, vp->q[sel].avail);
		PUT32(VIRTIO_PCI_COMMON_Q_AVAILHI, vp->q[sel].avail >> 32);
		PUT32(VIRTIO_PCI_COMMON_Q_USEDLO, vp->q[sel].used);
		PUT32(VIRTIO_PCI_COMMON_Q_USEDHI, vp->q[sel].used >> 32);
	} else {
		PUT16(VIRTIO_PCI_COMMON_Q_MSIX, VPCI_NO_VECTOR);
	}
#undef PUT16
#undef PUT32
}

static void set_half(u64 *v, bool high, u32 val)
{
	if (high)
		*v = (*v & 0xffffffffULL) | (u64)val << 32;
	else
		*v = (*v & ~0xffffffffULL) | val;
}

static u16 check_vector(u16 v)
{
	/* A vector we don't have reads back as NO_VECTOR: the driver checks. */
	return v < VPCI_NR_VECTORS ? v : VPCI_NO_VECTOR;
}

static void common_write(struct virtio_pci *vp, u32 off, u32 len, u32 val)
{
	unsigned int sel = vp->queue_select;
	bool valid = sel < nr_queues(vp);
	bool qwritable = valid && !vp->q[sel].enabled;

	switch (off | len << 8) {
	case VIRTIO_PCI_COMMON_DFSELECT | 4 << 8:
		vp->dfselect = val;
		return;
	case VIRTIO_PCI_COMMON_GFSELECT | 4 << 8:
		vp->gfselect = val;
		return;
	case VIRTIO_PCI_COMMON_GF | 4 << 8:
		if (vp->gfselect < 2 && !(vp->status & VIRTIO_CONFIG_S_FEATURES_OK))
			set_half(&vp->driver_features, vp->gfselect, val);
		return;
	case VIRTIO_PCI_COMMON_MSIX | 2 << 8:
		vp->msix_config = check_vector(val);
		return;
	case VIRTIO_PCI_COMMON_STATUS | 1 << 8:
		set_status(vp, val);
		return;
	case VIRTIO_PCI_COMMON_Q_SELECT | 2 << 8:
		vp->queue_select = val;
		return;
	case VIRTIO_PCI_COMMON_Q_SIZE | 2 << 8:
		if (qwritable)
			vp->q[sel].size = val;
		return;
	case VIRTIO_PCI_COMMON_Q_MSIX | 2 << 8:
		if (valid)
			vp->q[sel].msix_vector = check_vector(val);
		return;
	case VIRTIO_PCI_COMMON_Q_ENABLE | 2 << 8:
		/*
		 * Only after FEATURES_OK (§3.1.1): the ring layout depends on
		 * EVENT_IDX, and a queue enabled before negotiation would keep
		 * the wrong one (and stay enabled with status 0).
		 */
		if (valid && val == 1 && (vp->status & VIRTIO_CONFIG_S_FEATURES_OK)) {
			enable_queue(vp, sel);
			return;
		}
		break;
	case VIRTIO_PCI_COMMON_Q_DESCLO | 4 << 8:
	case VIRTIO_PCI_COMMON_Q_DESCHI | 4 << 8:
		if (qwritable)
			set_half(&vp->q[sel].desc, off == VIRTIO_PCI_COMMON_Q_DESCHI, val);
		return;
	case VIRTIO_PCI_COMMON_Q_AVAILLO | 4 << 8:
	case VIRTIO_PCI_COMMON_Q_AVAILHI | 4 << 8:
		if (qwritable)
			set_half(&vp->q[sel].avail, off == VIRTIO_PCI_COMMON_Q_AVAILHI, val);
		return;
	case VIRTIO_PCI_COMMON_Q_USEDLO | 4 << 8:
	case VIRTIO_PCI_COMMON_Q_USEDHI | 4 << 8:
		if (qwritable)
			set_half(&vp->q[sel].used, off == VIRTIO_PCI_COMMON_Q_USEDHI, val);
		return;
	}
	/* Read-only fields, odd widths and offsets: ignored, counted. */
	vp->stats.bad_access++;
	pr_ratelimited(LOG_INFO, "%s: ignored common cfg write off 0x%x len %u",
		       vp->vdev->ops->name, off, len);
}

/* ---- BAR 0 ---------------------------------------------------------- */

static void msix_table_io(struct virtio_pci *vp, u64 off, u8 *data, u32 len, bool is_write)
{
	u32 v = off / 16, field = (off % 16) / 4;
	u32 *regs;
	bool was_masked;

	if (v >= VPCI_NR_VECTORS || len != 4 || off % 4) {
		if (!is_write)
			memset(data, 0, len);
		vp->stats.bad_access++;
		return;
	}
	regs = &vp->msix[v].addr_lo;
	if (!is_write) {
		bus_put(data, 4, regs[field]);
		return;
	}
	was_masked = vector_masked(vp, v);
	regs[field] = bus_get(data, 4);
	if (field == 3)
		regs[field] &= MSIX_ENTRY_MASKED;
	/* Program the route when the entry goes live or changes while live. */
	if (!(vp->msix[v].ctrl & MSIX_ENTRY_MASKED))
		msix_update_route(vp, v);
	if (was_masked && !vector_masked(vp, v))
		msix_flush_pending(vp);
}

void virtio_pci_bar_io(void *opaque, u64 off, u8 *data, u32 len, bool is_write)
{
	struct virtio_pci *vp = opaque;
	struct virtio_device *vdev = vp->vdev;
	u8 snap[VPCI_COMMON_SIZE];

	pthread_mutex_lock(&vdev->lock);
	if (off < VPCI_COMMON_OFF + VPCI_COMMON_SIZE) {
		if (off + len > VPCI_COMMON_SIZE) {
			vp->stats.bad_access++;
		} else if (is_write) {
			common_write(vp, off, len, bus_get(data, len));
		} else {
			common_snapshot(vp, snap);
			memcpy(data, snap + off, len);
		}
	} else if (off == VPCI_ISR_OFF) {
		if (!is_write) {
			/* Reading acknowledges: INTx is lowered. */
			memset(data, 0, len);
			data[0] = vp->isr;
			vp->isr = 0;
			intx_update(vp);
		}
	} else if (off >= VPCI_DEVICE_OFF && off < VPCI_DEVICE_OFF + VPCI_DEVICE_SIZE) {
		u32 o = off - VPCI_DEVICE_OFF;

		if (o + len > vdev->ops->config_size) {
			vp->stats.bad_access++;
			if (!is_write)
				memset(data, 0, len);
		} else if (is_write) {
			if (vdev->ops->write_config)
				vdev->ops->write_config(vdev, o, data, len);
		} else {
			memset(data, 0, len);
			if (vdev->ops->read_config)
				vdev->ops->read_config(vdev, o, data, len);
		}
	} else if (off >= VPCI_NOTIFY_OFF && off < VPCI_NOTIFY_OFF + VPCI_NOTIFY_MULT * VIRTIO_MAX_QUEUES) {
		u32 q = (off - VPCI_NOTIFY_OFF) / VPCI_NOTIFY_MULT;

		/* The ioeventfd didn't match (odd width, no KVM): same path. */
		if (is_write) {
			u64 one = 1;

			vp->stats.mmio_notifies++;
			if (write(vp->q[q].notify_fd, &one, sizeof(one)) < 0) {
				/* saturated: a notify is pending anyway */
			}
		} else {
			memset(data, 0, len);
		}
	} else if (off >= VPCI_MSIX_TABLE_OFF && off < VPCI_MSIX_TABLE_OFF + 16 * VPCI_NR_VECTORS) {
		msix_table_io(vp, off - VPCI_MSIX_TABLE_OFF, data, len, is_write);
	} else if (off >= VPCI_MSIX_PBA_OFF && off < VPCI_MSIX_PBA_OFF + 8) {
		if (!is_write)
			bus_put(data, len, (u64)vp->msix_pba >> (8 * (off - VPCI_MSIX_PBA_OFF)));
	} else if (!is_write) {
		memset(data, 0, len);
	}
	pthread_mutex_unlock(&vdev->lock);
}

/* ---- config space --------------------------------------------------- */

static void cfg_write(struct pci_device *dev, u32 off, const u8 *data, u32 len)
{
	struct virtio_pci *vp = dev->opaque;
	u32 ctrl = vp->msix_cap + PCI_MSIX_FLAGS;
	u32 cap = vp->pci_cfg_cap, i;

	/* MSI-X message control: only Enable and Function Mask are writable. */
	if (off <= ctrl + 1 && off + len > ctrl) {
		u8 buf[2] = { dev->cfg[ctrl], dev->cfg[ctrl + 1] };
		u16 v;

		for (i = 0; i < len; i++)
			if (off + i >= ctrl && off + i <= ctrl + 1)
				buf[off + i - ctrl] = data[i];
		pthread_mutex_lock(&vp->vdev->lock);
		v = (buf[0] | buf[1] << 8) & (PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
		vp->msix_ctrl = v;
		pci_cfg_set16(dev, ctrl, (VPCI_NR_VECTORS - 1) | v);
		if (msix_enabled(vp)) {
			/* Going to MSI-X drops INTx. */
			vp->isr = 0;
			intx_update(vp);
			msix_flush_pending(vp);
		}
		pthread_mutex_unlock(&vp->vdev->lock);
		return;
	}

	/* VIRTIO_PCI_CAP_PCI_CFG: bar/offset/length are the driver's, then data. */
	if (off >= cap + offsetof(struct virtio_pci_cap, bar) &&
	    off + len <= cap + sizeof(struct virtio_pci_cfg_cap)) {
		u32 doff = cap + offsetof(struct virtio_pci_cfg_cap, pci_cfg_data);

		if (off < doff) {
			for (i = 0; i < len; i++) {
				u32 o = off + i - cap;

				if (o == offsetof(struct virtio_pci_cap, bar) ||
				    (o >= offsetof(struct virtio_pci_cap, offset) &&
				     o < offsetof(struct virtio_pci_cap, length) + 4))
					dev->cfg[off + i] = data[i];
			}
			return;
		}
		u32 boff = pci_cfg_get32(dev, cap + offsetof(struct virtio_pci_cap, offset));
		u32 blen = pci_cfg_get32(dev, cap + offsetof(struct virtio_pci_cap, length));

		if (dev->cfg[cap + offsetof(struct virtio_pci_cap, bar)] == 0 &&
		    (blen == 1 || blen == 2 || blen == 4) && off == doff && len >= blen &&
		    boff < VPCI_BAR_SIZE && blen <= VPCI_BAR_SIZE - boff)
			virtio_pci_bar_io(vp, boff, (u8 *)data, blen, true);
		else
			vp->stats.bad_access++;
		return;
	}
	vp->stats.bad_access++;
}

static void cfg_read(struct pci_device *dev, u32 off, u8 *data, u32 len)
{
	struct virtio_pci *vp = dev->opaque;
	u32 cap = vp->pci_cfg_cap;
	u32 doff = cap + offsetof(struct virtio_pci_cfg_cap, pci_cfg_data);

	if (off == doff && len <= 4) {
		u32 boff = pci_cfg_get32(dev, cap + offsetof(struct virtio_pci_cap, offset));
		u32 blen = pci_cfg_get32(dev, cap + offsetof(struct virtio_pci_cap, length));

		if (dev->cfg[cap + offsetof(struct virtio_pci_cap, bar)] == 0 &&
		    (blen == 1 || blen == 2 || blen == 4) && blen <= len &&
		    boff < VPCI_BAR_SIZE && blen <= VPCI_BAR_SIZE - boff)
			virtio_pci_bar_io(vp, boff, data, blen, false);
	}
}

static void bar_moved(struct pci_device *dev, int bar, u64 old, u64 new)
{
	struct virtio_pci *vp = dev->opaque;
	unsigned int i;
	int ret;

	if (bar != 0 || vp->kvm->vm_fd < 0)
		return;
	for (i = 0; i < VIRTIO_MAX_QUEUES; i++) {
		u64 off = VPCI_NOTIFY_OFF + i * VPCI_NOTIFY_MULT;

		if (old)
			kvm_ioeventfd(vp->kvm, old + off, 2, vp->q[i].notify_fd, false, false);
		ret = kvm_ioeventfd(vp->kvm, new + off, 2, vp->q[i].notify_fd, false, true);
		if (ret)
			pr_ratelimited(LOG_WARN, "%s: ioeventfd for queue %u: %s (slow path)",
				       vp->vdev->ops->name, i, strerror(-ret));
	}
	vp->bar_addr = new;
}

/* ---- I/O thread ----------------------------------------------------- */

struct notify_ctx {
	struct virtio_pci *vp;
	unsigned int idx;
};

void virtio_pci_notify(struct virtio_pci *vp, unsigned int idx)
{
	struct virtio_device *vdev = vp->vdev;

	if (idx >= VIRTIO_MAX_QUEUES)
		return;
	pthread_mutex_lock(&vdev->lock);
	vp->stats.notifies++;
	if ((vp->status & VIRTIO_CONFIG_S_DRIVER_OK) && !vp->halted && vdev->vqs[idx].ready &&
	    vdev->ops->queue_notify)
		vdev->ops->queue_notify(vdev, idx);
	pthread_mutex_unlock(&vdev->lock);
}

int virtio_pci_get_stats(struct virtio_device *vdev, struct virtio_pci_stats *st, u32 *pba)
{
	const struct virtio_pci *vp = vdev->transport;

	if (!vp)
		return -ENODEV;
	*st = vp->stats;
	*pba = vp->msix_pba;
	return 0;
}

static void notify_event(void *opaque, u32 events)
{
	struct notify_ctx *n = opaque;
	u64 cnt;

	if (read(n->vp->q[n->idx].notify_fd, &cnt, sizeof(cnt)) < 0)
		return;
	virtio_pci_notify(n->vp, n->idx);
}

/* ---- set-up --------------------------------------------------------- */

static int add_vcap(struct virtio_pci *vp, u8 type, u32 off, u32 len, u8 cap_len, u32 extra)
{
	u8 buf[20] = { 0 };
	struct virtio_pci_cap *c = (void *)buf;

	c->cap_vndr = PCI_CAP_ID_VNDR;
	c->cap_len = cap_len;
	c->cfg_type = type;
	c->bar = 0;
	c->offset = off;
	c->length = len;
	if (cap_len == sizeof(struct virtio_pci_notify_cap))
		memcpy(buf + sizeof(*c), &extra, 4);
	return pci_device_add_cap(&vp->pci, buf, cap_len);
}

int virtio_pci_create(struct kvm *kvm, struct virtio_device *vdev)
{
	struct virtio_pci *vp = calloc(1, sizeof(*vp));
	u8 msix[12] = { PCI_CAP_ID_MSIX };
	unsigned int i;
	int ret;

	if (!vp)
		return -ENOMEM;
	if (!vdev->ops || !vdev->ops->nr_queues || !vdev->ops->queue_max_size ||
	    vdev->ops->config_size > VPCI_DEVICE_SIZE) {
		ret = -EINVAL;
		goto err;
	}
	vp->vdev = vdev;
	vp->kvm = kvm;
	if (!vdev->mem)
		vdev->mem = &kvm->mem;
	vdev->transport = vp;
	vdev->signal_used = signal_used;
	vdev->signal_config = signal_config;
	vdev->set_needs_reset = set_needs_reset;
	for (i = 0; i < VIRTIO_MAX_QUEUES; i++)
		vp->q[i].notify_fd = -1;
	for (i = 0; i < VPCI_NR_VECTORS; i++) {
		vp->irq_fd[i] = -1;
		vp->msix[i].ctrl = MSIX_ENTRY_MASKED;
	}

	pci_device_init(&vp->pci, PCI_VENDOR_VIRTIO, VIRTIO_PCI_DEVICE_BASE + vdev->ops->device_id,
			PCI_CLASS_OTHERS, 1, PCI_VENDOR_VIRTIO, VIRTIO_PCI_SUBSYS_ID);
	vp->pci.cfg[PCI_INTERRUPT_PIN] = 1;	/* INTA# */
	vp->pci.opaque = vp;
	vp->pci.cfg_write = cfg_write;
	vp->pci.cfg_read = cfg_read;
	vp->pci.bar_moved = bar_moved;
	ret = pci_device_add_bar(&vp->pci, 0, VPCI_BAR_SIZE, virtio_pci_bar_io, vp);
	if (ret)
		goto err;

	if ((ret = add_vcap(vp, VIRTIO_PCI_CAP_COMMON_CFG, VPCI_COMMON_OFF, VPCI_COMMON_SIZE,
			    sizeof(struct virtio_pci_cap), 0)) < 0 ||
	    (ret = add_vcap(vp, VIRTIO_PCI_CAP_NOTIFY_CFG, VPCI_NOTIFY_OFF,
			    VPCI_NOTIFY_MULT * VIRTIO_MAX_QUEUES,
			    sizeof(struct virtio_pci_notify_cap), VPCI_NOTIFY_MULT)) < 0 ||
	    (ret = add_vcap(vp, VIRTIO_PCI_CAP_ISR_CFG, VPCI_ISR_OFF, 1,
			    sizeof(struct virtio_pci_cap), 0)) < 0 ||
	    (vdev->ops->config_size &&
	     (ret = add_vcap(vp, VIRTIO_PCI_CAP_DEVICE_CFG, VPCI_DEVICE_OFF, vdev->ops->config_size,
			     sizeof(struct virtio_pci_cap), 0)) < 0) ||
	    (ret = add_vcap(vp, VIRTIO_PCI_CAP_PCI_CFG, 0, 0,
			    sizeof(struct virtio_pci_cfg_cap), 0)) < 0)
		goto err;
	vp->pci_cfg_cap = ret;

	msix[2] = VPCI_NR_VECTORS - 1;		/* table size - 1, disabled */
	msix[4] = VPCI_MSIX_TABLE_OFF & 0xff;	/* BIR 0 */
	msix[5] = VPCI_MSIX_TABLE_OFF >> 8;
	msix[8] = VPCI_MSIX_PBA_OFF & 0xff;
	msix[9] = VPCI_MSIX_PBA_OFF >> 8;
	ret = pci_device_add_cap(&vp->pci, msix, sizeof(msix));
	if (ret < 0)
		goto err;
	vp->msix_cap = ret;

	for (i = 0; i < VIRTIO_MAX_QUEUES; i++) {
		struct notify_ctx *n;

		vp->q[i].notify_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (vp->q[i].notify_fd < 0) {
			ret = -errno;
			goto err;
		}
		/* Without a loop (unit tests, fuzzers) nobody would own n. */
		if (!kvm->loop)
			continue;
		n = calloc(1, sizeof(*n));
		if (!n) {
			ret = -ENOMEM;
			goto err;
		}
		n->vp = vp;
		n->idx = i;
		ret = ioloop_add(kvm->loop, vp->q[i].notify_fd, EPOLLIN, notify_event, n);
		if (ret < 0) {
			free(n);
			goto err;
		}
	}
	for (i = 0; i < VPCI_NR_VECTORS; i++) {
		vp->irq_fd[i] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (vp->irq_fd[i] < 0) {
			ret = -errno;
			goto err;
		}
		if (kvm->vm_fd < 0)
			continue;	/* unit tests read the eventfds instead */
		ret = kvm_msi_route_alloc(kvm, &vp->gsi[i]);
		if (!ret)
			ret = kvm_irqfd(kvm, vp->gsi[i], vp->irq_fd[i], true);
		if (ret)
			goto err;
	}

	pthread_mutex_lock(&vdev->lock);
	transport_reset(vp);
	pthread_mutex_unlock(&vdev->lock);
	ret = pci_register(kvm->pci, &vp->pci);
	if (ret < 0)
		goto err;
	pr_info("%s: virtio-pci at 00:%02x.0, BAR0 0x%llx", vdev->ops->name, ret,
		(unsigned long long)vp->pci.bars[0].addr);
	return 0;

err:
	/* Set-up failure: the caller exits; fds are reclaimed by the kernel. */
	vdev->transport = NULL;
	vdev->signal_used = NULL;
	vdev->signal_config = NULL;
	return ret < 0 ? ret : -EINVAL;
}
