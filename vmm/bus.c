// SPDX-License-Identifier: MIT
/*
 * A sorted array per bus, read-locked on every exit. Registration happens at
 * set-up and when the guest moves a PCI BAR, so the write side is rare.
 */
#include <errno.h>
#include <string.h>

#include "bus.h"

void bus_init(struct bus *bus, const char *name)
{
	memset(bus, 0, sizeof(*bus));
	bus->name = name;
	pthread_rwlock_init(&bus->lock, NULL);
}

int bus_register(struct bus *bus, u64 base, u64 len, bus_io_fn fn, void *opaque)
{
	int i, ret = 0;

	if (!len || base + len < base || !fn)
		return -EINVAL;
	pthread_rwlock_wrlock(&bus->lock);
	if (bus->nr == BUS_MAX_RANGES) {
		ret = -ENOSPC;
		goto out;
	}
	for (i = 0; i < bus->nr; i++) {
		struct bus_range *r = &bus->ranges[i];

		if (base < r->base + r->len && r->base < base + len) {
			ret = -EBUSY;
			goto out;
		}
		if (r->base > base)
			break;
	}
	memmove(&bus->ranges[i + 1], &bus->ranges[i], (bus->nr - i) * sizeof(bus->ranges[0]));
	bus->ranges[i] = (struct bus_range) { base, len, fn, opaque };
	bus->nr++;
out:
	pthread_rwlock_unlock(&bus->lock);
	return ret;
}

int bus_unregister(struct bus *bus, u64 base)
{
	int i, ret = -ENOENT;

	pthread_rwlock_wrlock(&bus->lock);
	for (i = 0; i < bus->nr; i++) {
		if (bus->ranges[i].base != base)
			continue;
		memmove(&bus->ranges[i], &bus->ranges[i + 1],
			(bus->nr - i - 1) * sizeof(bus->ranges[0]));
		bus->nr--;
		ret = 0;
		break;
	}
	pthread_rwlock_unlock(&bus->lock);
	return ret;
}

bool bus_dispatch(struct bus *bus, u64 addr, u8 *data, u32 len, bool is_write)
{
	int lo = 0, hi;
	bool found = false;

	if (!is_write)
		memset(data, 0xff, len);
	pthread_rwlock_rdlock(&bus->lock);
	hi = bus->nr - 1;
	while (lo <= hi) {
		int mid = (lo + hi) / 2;
		struct bus_range *r = &bus->ranges[mid];

		if (addr < r->base) {
			hi = mid - 1;
		} else if (addr - r->base >= r->len) {
			lo = mid + 1;
		} else {
			/* An access straddling the end of a range is not ours. */
			if (len <= r->len - (addr - r->base)) {
				r->fn(r->opaque, addr - r->base, data, len, is_write);
				found = true;
			}
			break;
		}
	}
	pthread_rwlock_unlock(&bus->lock);
	if (!found)
		__atomic_add_fetch(&bus->unclaimed, 1, __ATOMIC_RELAXED);
	return found;
}
