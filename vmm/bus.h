/* SPDX-License-Identifier: MIT */
/*
 * Port I/O and MMIO dispatch. Every device handler has one signature: the
 * offset from the start of its range, a data buffer of len bytes (1, 2, 4 or
 * 8; little-endian, as the guest sees it) and the direction. A read handler
 * fills data; anything it leaves alone reads as all-ones.
 */
#ifndef BALLAST_BUS_H
#define BALLAST_BUS_H

#include <pthread.h>

#include "compiler.h"

typedef void (*bus_io_fn)(void *opaque, u64 offset, u8 *data, u32 len, bool is_write);

struct bus_range {
	u64 base;
	u64 len;
	bus_io_fn fn;
	void *opaque;
};

#define BUS_MAX_RANGES	64

struct bus {
	const char *name;
	pthread_rwlock_t lock;
	struct bus_range ranges[BUS_MAX_RANGES];	/* sorted by base */
	int nr;
	u64 unclaimed;		/* accesses nobody handled */
};

void bus_init(struct bus *bus, const char *name);
/* Returns 0, -EBUSY if the range overlaps another, -ENOSPC or -EINVAL. */
int bus_register(struct bus *bus, u64 base, u64 len, bus_io_fn fn, void *opaque);
int bus_unregister(struct bus *bus, u64 base);
/*
 * Call the handler covering [addr, addr + len). Returns false when nobody
 * claims it; a read's data is then all-ones and the access is counted.
 */
bool bus_dispatch(struct bus *bus, u64 addr, u8 *data, u32 len, bool is_write);

/* Little-endian helpers for handlers that see 1..8 byte accesses. */
static inline u64 bus_get(const u8 *data, u32 len)
{
	u64 v = 0;
	u32 i;

	for (i = 0; i < len && i < 8; i++)
		v |= (u64)data[i] << (8 * i);
	return v;
}

static inline void bus_put(u8 *data, u32 len, u64 v)
{
	u32 i;

	for (i = 0; i < len && i < 8; i++)
		data[i] = v >> (8 * i);
}

#endif
