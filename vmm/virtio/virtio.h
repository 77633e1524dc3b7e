/* SPDX-License-Identifier: MIT */
/*
 * The line between a virtio device and its transport (kvmtool's split): a
 * device fills a struct virtio_dev_ops and never sees PCI; the transport
 * (virtio/pci.c) owns feature negotiation, queue set-up, notifications and
 * interrupts, and calls the device through these hooks.
 *
 * Locking: the transport takes vdev->lock around every hook it calls, from a
 * vCPU thread (config access, status writes) or the I/O thread (queue
 * notifies). A device calling virtio_signal_*() from inside a hook already
 * holds it. Code outside the hooks (the control socket) takes it itself.
 */
#ifndef BALLAST_VIRTIO_H
#define BALLAST_VIRTIO_H

#include <errno.h>
#include <pthread.h>

#include "../compiler.h"
#include "../memory.h"
#include "queue.h"

#define VIRTIO_F_VERSION_1		32
#define VIRTIO_F_RING_INDIRECT_DESC	28
#define VIRTIO_F_RING_EVENT_IDX		29

#define VIRTIO_ID_BALLOON		5

#define VIRTIO_MAX_QUEUES		8

struct virtio_device;

struct virtio_dev_ops {
	const char *name;
	u32 device_id;
	u32 config_size;
	/* Queues the transport exposes: indices 0 .. nr_queues - 1. */
	unsigned int (*nr_queues)(struct virtio_device *vdev);
	/* Largest ring the device accepts on transport queue idx (0: none). */
	u16 (*queue_max_size)(struct virtio_device *vdev, unsigned int idx);
	/* Device feature bits (the transport adds VERSION_1 and ring bits). */
	u64 (*host_features)(struct virtio_device *vdev);
	/*
	 * The driver set FEATURES_OK with these bits (transport bits
	 * included). A negative return makes the transport clear FEATURES_OK.
	 */
	int (*set_features)(struct virtio_device *vdev, u64 features);
	/* Config space access; offset + len is within config_size. */
	void (*read_config)(struct virtio_device *vdev, u32 offset, void *buf, u32 len);
	void (*write_config)(struct virtio_device *vdev, u32 offset, const void *buf, u32 len);
	/* DRIVER_OK: every enabled queue is set up. Negative: NEEDS_RESET. */
	int (*activate)(struct virtio_device *vdev);
	/* The driver kicked transport queue idx (I/O thread). */
	void (*queue_notify)(struct virtio_device *vdev, unsigned int idx);
	/* The driver wrote 0 to device_status: forget negotiated state. */
	void (*reset)(struct virtio_device *vdev);
};

struct virtio_device {
	const struct virtio_dev_ops *ops;
	void *priv;			/* the device's own state */
	struct guest_mem *mem;
	pthread_mutex_t lock;		/* initialised by the device's create() */
	u64 features;			/* negotiated, valid after FEATURES_OK */
	struct virtq vqs[VIRTIO_MAX_QUEUES];	/* transport indices */

	/* Filled in by the transport. */
	void *transport;
	void (*signal_used)(struct virtio_device *vdev, unsigned int idx);
	void (*signal_config)(struct virtio_device *vdev);
	/* Set DEVICE_NEEDS_RESET in the device status until the driver resets. */
	void (*set_needs_reset)(struct virtio_device *vdev);
};

static inline bool virtio_has_feature(const struct virtio_device *vdev, unsigned int bit)
{
	return vdev->features & BIT(bit);
}

/* Interrupt the driver for used buffers on queue idx (honours event-idx). */
static inline void virtio_signal_used(struct virtio_device *vdev, unsigned int idx)
{
	if (vdev->signal_used && virtq_should_notify(&vdev->vqs[idx]))
		vdev->signal_used(vdev, idx);
}

/*
 * Set DEVICE_NEEDS_RESET (§2.1); the device sends the configuration-change
 * notification after it, as §2.1.1 asks once DRIVER_OK is set. -EOPNOTSUPP
 * without a transport that has the bit.
 */
static inline int virtio_set_needs_reset(struct virtio_device *vdev)
{
	if (!vdev->set_needs_reset)
		return -EOPNOTSUPP;
	vdev->set_needs_reset(vdev);
	return 0;
}

/* Raise a configuration-change interrupt. */
static inline void virtio_signal_config(struct virtio_device *vdev)
{
	if (vdev->signal_config)
		vdev->signal_config(vdev);
}

#endif
