// SPDX-License-Identifier: MIT
/*
 * virtio-balloon, the stress: device behaviours the spec allows that a
 * driver must live with, asked for from the control socket at a moment a
 * test picks (the held acks and their order are ack.c's, set at boot).
 */
#include <errno.h>

#include "priv.h"

int balloon_stress_config_notify(struct virtio_device *vdev, unsigned int count)
{
	struct balloon *b = to_balloon(vdev);
	int ret = -ENODEV;

	pthread_mutex_lock(&vdev->lock);
	/* Before DRIVER_OK no interrupt goes: nothing would be asked of the driver. */
	if (b->driver_ok) {
		while (count--)
			balloon_signal_config(b);
		ret = 0;
	}
	pthread_mutex_unlock(&vdev->lock);
	return ret;
}

int balloon_stress_needs_reset(struct virtio_device *vdev)
{
	struct balloon *b = to_balloon(vdev);
	int ret = -ENODEV;

	pthread_mutex_lock(&vdev->lock);
	if (!b->driver_ok)
		goto out;
	ret = virtio_set_needs_reset(vdev);
	if (ret)
		goto out;
	b->needs_reset = true;
	b->m.needs_reset_raised++;
	/* §2.1.1: with DRIVER_OK set, the notification follows the bit. */
	balloon_signal_config(b);
out:
	pthread_mutex_unlock(&vdev->lock);
	return ret;
}
