/* SPDX-License-Identifier: MIT */
/*
 * The driver's half of a split virtqueue, for unit tests: lays rings out in
 * fake guest memory and writes descriptors and avail entries the way a
 * guest would (or the way a broken guest would, through vqdrv_set_desc()).
 */
#ifndef BALLAST_TESTS_VQ_DRIVER_H
#define BALLAST_TESTS_VQ_DRIVER_H

#include <string.h>

#include "../memory.h"
#include "../virtio/queue.h"

#define VQDRV_F_NEXT		1
#define VQDRV_F_WRITE		2
#define VQDRV_F_INDIRECT	4

struct vqdrv {
	struct virtq *vq;
	const struct guest_mem *mem;
	u16 size;
	u16 avail_idx;
	u16 next_desc;		/* descriptors are handed out round-robin */
	u64 desc_gpa, avail_gpa, used_gpa;
};

struct vqdrv_buf {
	u64 gpa;
	u32 len;
	bool write;
};

static inline void *vqdrv_ptr(const struct vqdrv *d, u64 gpa, u64 len)
{
	return guest_mem_ptr(d->mem, gpa, len);
}

/* Rings at base (page aligned), size entries; returns virtq_init()'s result. */
static inline int vqdrv_setup(struct vqdrv *d, struct virtq *vq, const struct guest_mem *mem,
			      u64 base, u16 size, bool event_idx, bool indirect)
{
	memset(d, 0, sizeof(*d));
	d->vq = vq;
	d->mem = mem;
	d->size = size;
	d->desc_gpa = base;
	d->avail_gpa = base + 16ULL * size;
	d->used_gpa = ALIGN_UP(d->avail_gpa + 6 + 2ULL * size, 4096);
	memset(vqdrv_ptr(d, base, d->used_gpa + 6 + 8ULL * size - base), 0,
	       d->used_gpa + 6 + 8ULL * size - base);
	memset(vq, 0, sizeof(*vq));
	vq->size = size;
	vq->desc_gpa = d->desc_gpa;
	vq->avail_gpa = d->avail_gpa;
	vq->used_gpa = d->used_gpa;
	vq->event_idx = event_idx;
	vq->indirect = indirect;
	vq->ready = true;
	return virtq_init(vq, mem);
}

static inline void vqdrv_write_desc(void *table, u16 idx, u64 addr, u32 len, u16 flags, u16 next)
{
	u8 *p = (u8 *)table + 16 * (size_t)idx;

	memcpy(p, &addr, 8);
	memcpy(p + 8, &len, 4);
	memcpy(p + 12, &flags, 2);
	memcpy(p + 14, &next, 2);
}

static inline void vqdrv_set_desc(struct vqdrv *d, u16 idx, u64 addr, u32 len, u16 flags, u16 next)
{
	vqdrv_write_desc(vqdrv_ptr(d, d->desc_gpa, 16ULL * d->size), idx, addr, len, flags, next);
}

/* Put head on the avail ring and publish it. */
static inline void vqdrv_publish(struct vqdrv *d, u16 head)
{
	u16 *ring = vqdrv_ptr(d, d->avail_gpa, 4 + 2ULL * d->size);

	ring[2 + (d->avail_idx % d->size)] = head;
	d->avail_idx++;
	__atomic_store_n(&ring[1], d->avail_idx, __ATOMIC_RELEASE);
}

/* Overwrite avail->idx directly (to fake a driver that jumps it). */
static inline void vqdrv_set_avail_idx(struct vqdrv *d, u16 idx)
{
	u16 *ring = vqdrv_ptr(d, d->avail_gpa, 4);

	d->avail_idx = idx;
	ring[1] = idx;
}

static inline void vqdrv_set_avail_flags(struct vqdrv *d, u16 flags)
{
	u16 *ring = vqdrv_ptr(d, d->avail_gpa, 4);

	ring[0] = flags;
}

static inline void vqdrv_set_used_event(struct vqdrv *d, u16 val)
{
	u16 *ring = vqdrv_ptr(d, d->avail_gpa, 6 + 2ULL * d->size);

	ring[2 + d->size] = val;
}

static inline u16 vqdrv_avail_event(struct vqdrv *d)
{
	u8 *used = vqdrv_ptr(d, d->used_gpa, 6 + 8ULL * d->size);
	u16 v;

	memcpy(&v, used + 4 + 8 * d->size, 2);
	return v;
}

/* Chain n buffers through fresh descriptors and publish; returns the head. */
static inline u16 vqdrv_add(struct vqdrv *d, const struct vqdrv_buf *bufs, int n)
{
	u16 head = d->next_desc % d->size, idx = head;
	int i;

	for (i = 0; i < n; i++) {
		u16 next = (idx + 1) % d->size;
		u16 flags = (bufs[i].write ? VQDRV_F_WRITE : 0) | (i + 1 < n ? VQDRV_F_NEXT : 0);

		vqdrv_set_desc(d, idx, bufs[i].gpa, bufs[i].len, flags, next);
		idx = next;
	}
	d->next_desc = idx;
	vqdrv_publish(d, head);
	return head;
}

/* One driver-readable buffer. */
static inline u16 vqdrv_add_out(struct vqdrv *d, u64 gpa, u32 len)
{
	struct vqdrv_buf b = { .gpa = gpa, .len = len };

	return vqdrv_add(d, &b, 1);
}

static inline u16 vqdrv_used_idx(const struct vqdrv *d)
{
	u16 *used = vqdrv_ptr(d, d->used_gpa, 4);

	return __atomic_load_n(&used[1], __ATOMIC_ACQUIRE);
}

/* The i-th used element (i counts from 0 since set-up). */
static inline void vqdrv_used_elem(const struct vqdrv *d, u16 i, u32 *id, u32 *len)
{
	u8 *e = (u8 *)vqdrv_ptr(d, d->used_gpa, 4 + 8ULL * d->size) + 4 + 8 * (i % d->size);

	memcpy(id, e, 4);
	memcpy(len, e + 4, 4);
}

#endif
