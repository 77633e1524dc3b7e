// SPDX-License-Identifier: MIT
/*
 * Split virtqueues (virtio 1.2 §2.7), device side.
 *
 * The guest owns the rings and runs concurrently with us, so every value
 * read from them is read once into a local copy and validated there; a
 * value re-read later could have changed under us. Index loads use acquire
 * and the used index store uses release, pairing with the driver's
 * barriers around its own index updates.
 */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "queue.h"

#define VIRTQ_DESC_F_NEXT	1
#define VIRTQ_DESC_F_WRITE	2
#define VIRTQ_DESC_F_INDIRECT	4
#define VIRTQ_AVAIL_F_NO_INTERRUPT	1

#define VIRTQ_DESC_SIZE		16

struct virtq_desc {
	u64 addr;
	u32 len;
	u16 flags;
	u16 next;
} __packed;

/* Ring layouts (§2.7.6, §2.7.8): offsets of the fields we touch. */
#define AVAIL_FLAGS		0
#define AVAIL_IDX		2
#define AVAIL_RING		4
#define USED_IDX		2
#define USED_RING		4
#define USED_ELEM_SIZE		8

static inline u16 *virtq_avail_field(const struct virtq *vq, size_t off)
{
	return (u16 *)((u8 *)vq->avail_hva + off);
}

static inline u16 virtq_load16(u16 *p, int order)
{
	return le16toh(__atomic_load_n(p, order));
}

static inline u16 virtq_avail_idx(const struct virtq *vq)
{
	/* Acquire: ring entries and descriptors written before idx are visible. */
	return virtq_load16(virtq_avail_field(vq, AVAIL_IDX), __ATOMIC_ACQUIRE);
}

/* avail->used_event sits after the ring entries (event-idx only). */
static inline u16 virtq_used_event(const struct virtq *vq)
{
	return virtq_load16(virtq_avail_field(vq, AVAIL_RING + 2 * vq->size),
			    __ATOMIC_RELAXED);
}

/* used->avail_event sits after the used elements (event-idx only). */
static inline void virtq_set_avail_event(struct virtq *vq, u16 val)
{
	u16 *p = (u16 *)((u8 *)vq->used_hva + USED_RING + USED_ELEM_SIZE * vq->size);

	__atomic_store_n(p, htole16(val), __ATOMIC_RELAXED);
}

static inline u16 virtq_avail_event(const struct virtq *vq)
{
	return virtq_load16((u16 *)((u8 *)vq->used_hva + USED_RING + USED_ELEM_SIZE * vq->size),
			    __ATOMIC_RELAXED);
}

static inline bool virtq_is_pow2(u32 n)
{
	return n && !(n & (n - 1));
}

/* Ring sizes include the event-idx trailer whether or not it is negotiated. */
static void *virtq_map_ring(const struct guest_mem *mem, u64 gpa, u64 align, u64 len)
{
	if (gpa & (align - 1))
		return NULL;
	return guest_mem_ptr(mem, gpa, len);
}

int virtq_init(struct virtq *vq, const struct guest_mem *mem)
{
	u64 size = vq->size;

	vq->mem = mem;
	vq->last_avail_idx = 0;
	vq->used_idx = 0;
	vq->signalled_used = 0;
	vq->signalled_valid = false;
	vq->last_error = NULL;
	vq->desc_hva = vq->avail_hva = vq->used_hva = NULL;
	vq->broken = true;

	if (size > VIRTQ_MAX_SIZE || !virtq_is_pow2(size)) {
		vq->last_error = "queue size not a power of two up to 1024";
		return -EINVAL;
	}
	vq->desc_hva = virtq_map_ring(mem, vq->desc_gpa, 16, VIRTQ_DESC_SIZE * size);
	vq->avail_hva = virtq_map_ring(mem, vq->avail_gpa, 2, AVAIL_RING + 2 * size + 2);
	vq->used_hva = virtq_map_ring(mem, vq->used_gpa, 4,
				      USED_RING + USED_ELEM_SIZE * size + 2);
	if (!vq->desc_hva || !vq->avail_hva || !vq->used_hva) {
		vq->desc_hva = vq->avail_hva = vq->used_hva = NULL;
		vq->last_error = "ring outside guest RAM or misaligned";
		return -EFAULT;
	}
	vq->broken = false;
	return 0;
}

void virtq_push(struct virtq *vq, u16 head, u32 len)
{
	u8 *elem;
	u32 v;

	if (vq->broken || !vq->used_hva)
		return;
	elem = (u8 *)vq->used_hva + USED_RING +
	       USED_ELEM_SIZE * (vq->used_idx & (vq->size - 1));
	v = htole32(head);
	memcpy(elem, &v, 4);
	v = htole32(len);
	memcpy(elem + 4, &v, 4);
	vq->used_idx++;
	/* Release: the element is visible before the index that covers it. */
	__atomic_store_n((u16 *)((u8 *)vq->used_hva + USED_IDX), htole16(vq->used_idx),
			 __ATOMIC_RELEASE);
}

/* vring_need_event() from the spec: did new_idx step past event since old? */
static inline bool virtq_need_event(u16 event, u16 new_idx, u16 old)
{
	return (u16)(new_idx - event - 1) < (u16)(new_idx - old);
}

bool virtq_should_notify(struct virtq *vq)
{
	u16 old = vq->signalled_used, new_idx = vq->used_idx;
	bool valid = vq->signalled_valid, notify;

	if (vq->broken || !vq->avail_hva)
		return false;
	/*
	 * Full barrier: our used->idx store must be visible before we read
	 * the driver's suppression state, or we can miss a wake-up the
	 * driver is about to ask for (the classic lost-interrupt race).
	 */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (valid && old == new_idx) {
		notify = false;
	} else if (vq->event_idx) {
		notify = !valid || virtq_need_event(virtq_used_event(vq), new_idx, old);
	} else {
		notify = !(virtq_load16(virtq_avail_field(vq, AVAIL_FLAGS), __ATOMIC_RELAXED) &
			   VIRTQ_AVAIL_F_NO_INTERRUPT);
	}
	vq->signalled_used = new_idx;
	vq->signalled_valid = true;
	if (notify)
		vq->stats.notifies_sent++;
	else
		vq->stats.notifies_suppressed++;
	return notify;
}

static void virtq_read_desc(const void *table, u16 idx, struct virtq_desc *d)
{
	/* One copy: the guest may rewrite the descriptor while we look at it. */
	memcpy(d, (const u8 *)table + (size_t)idx * VIRTQ_DESC_SIZE, sizeof(*d));
	d->addr = le64toh(d->addr);
	d->len = le32toh(d->len);
	d->flags = le16toh(d->flags);
	d->next = le16toh(d->next);
}

struct virtq_walk {
	u64 out_bytes;
	u64 in_bytes;
	bool in_indirect;
	const char *err;
};

static int virtq_add_buf(const struct virtq *vq, struct virtq_chain *chain,
			 struct virtq_walk *w, const struct virtq_desc *d)
{
	bool write = d->flags & VIRTQ_DESC_F_WRITE;
	struct virtq_buf *buf;
	void *hva;

	/* §2.7.4.2: device-readable descriptors come before device-writable ones. */
	if (!write && w->in_bytes) {
		w->err = "driver-readable descriptor after a device-writable one";
		return -EINVAL;
	}
	/* Nothing to access: a zero-length buffer carries no address to check. */
	if (!d->len)
		return 0;
	hva = guest_mem_ptr(vq->mem, d->addr, d->len);
	if (!hva) {
		w->err = "buffer outside guest RAM";
		return -EFAULT;
	}
	if (write)
		w->in_bytes += d->len;
	else
		w->out_bytes += d->len;
	/* §2.7.5.2: a chain longer than 4 GiB in total is invalid. */
	if (w->in_bytes + w->out_bytes > UINT32_MAX) {
		w->err = "chain longer than 4 GiB";
		return -EINVAL;
	}
	if (chain->nr_bufs >= VIRTQ_MAX_SIZE) {
		w->err = "too many buffers";
		return -EINVAL;
	}
	buf = &chain->bufs[chain->nr_bufs++];
	buf->gpa = d->addr;
	buf->hva = hva;
	buf->len = d->len;
	buf->write = write;
	return 0;
}

/* Switch the walk to an indirect table (§2.7.5.3), checking it first. */
static const void *virtq_enter_indirect(const struct virtq *vq, const struct virtq_chain *chain,
					struct virtq_walk *w, const struct virtq_desc *d,
					u32 *table_size)
{
	const void *table;

	if (!vq->indirect) {
		w->err = "indirect descriptor without VIRTIO_F_RING_INDIRECT_DESC";
		return NULL;
	}
	if (w->in_indirect) {
		w->err = "nested indirect descriptor";
		return NULL;
	}
	if (chain->nr_bufs || (d->flags & VIRTQ_DESC_F_NEXT)) {
		w->err = "indirect descriptor chained with others";
		return NULL;
	}
	if (!d->len || d->len % VIRTQ_DESC_SIZE ||
	    d->len / VIRTQ_DESC_SIZE > VIRTQ_MAX_SIZE) {
		w->err = "bad indirect table length";
		return NULL;
	}
	table = guest_mem_ptr(vq->mem, d->addr, d->len);
	if (!table) {
		w->err = "indirect table outside guest RAM";
		return NULL;
	}
	*table_size = d->len / VIRTQ_DESC_SIZE;
	w->in_indirect = true;
	return table;
}

static int virtq_walk_chain(const struct virtq *vq, u16 head, struct virtq_chain *chain,
			    struct virtq_walk *w)
{
	const void *table = vq->desc_hva;
	u32 table_size = vq->size, steps = 0;
	struct virtq_desc d;
	u16 idx = head;
	int ret;

	if (head >= vq->size) {
		w->err = "head index out of range";
		return -EINVAL;
	}
	for (;;) {
		/* A chain visits each descriptor of its table at most once. */
		if (++steps > table_size) {
			w->err = "descriptor chain loops or is longer than the table";
			return -ELOOP;
		}
		virtq_read_desc(table, idx, &d);
		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			table = virtq_enter_indirect(vq, chain, w, &d, &table_size);
			if (!table)
				return -EINVAL;
			idx = 0;
			steps = 0;
			continue;
		}
		ret = virtq_add_buf(vq, chain, w, &d);
		if (ret)
			return ret;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 0;
		idx = d.next;
		if (idx >= table_size) {
			w->err = "next index out of range";
			return -EINVAL;
		}
	}
}

int virtq_pop(struct virtq *vq, struct virtq_chain *chain)
{
	struct virtq_walk w = { 0 };
	u16 avail_idx, head;

	if (!vq->ready || vq->broken || !vq->desc_hva)
		return 0;
	avail_idx = virtq_avail_idx(vq);
	if (avail_idx == vq->last_avail_idx) {
		if (!vq->event_idx)
			return 0;
		/*
		 * Ask for a kick on the next buffer, then look again: the
		 * driver may have added one before it saw avail_event.
		 */
		virtq_set_avail_event(vq, avail_idx);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		avail_idx = virtq_avail_idx(vq);
		if (avail_idx == vq->last_avail_idx)
			return 0;
	}
	if ((u16)(avail_idx - vq->last_avail_idx) > vq->size) {
		/* No consistent state to recover from: stop serving this ring. */
		vq->stats.bad_avail_idx++;
		vq->broken = true;
		vq->last_error = "avail index moved by more than the ring size";
		return 0;
	}
	head = virtq_load16(virtq_avail_field(vq, AVAIL_RING +
					       2 * (vq->last_avail_idx & (vq->size - 1))),
			    __ATOMIC_RELAXED);
	vq->last_avail_idx++;

	chain->head = head;
	chain->nr_bufs = 0;
	if (virtq_walk_chain(vq, head, chain, &w)) {
		vq->stats.bad_chains++;
		vq->last_error = w.err;
		/* An out-of-range head cannot be named on the used ring. */
		if (head < vq->size)
			virtq_push(vq, head, 0);
		chain->nr_bufs = 0;
		return -EBADMSG;
	}
	chain->out_bytes = w.out_bytes;
	chain->in_bytes = w.in_bytes;
	vq->stats.chains++;
	return 1;
}

static size_t virtq_chain_copy(const struct virtq_chain *chain, bool write, size_t offset,
			       void *data, size_t len)
{
	size_t done = 0;
	u16 i;

	for (i = 0; i < chain->nr_bufs && done < len; i++) {
		const struct virtq_buf *b = &chain->bufs[i];
		size_t n;

		if (b->write != write)
			continue;
		if (offset >= b->len) {
			offset -= b->len;
			continue;
		}
		n = MIN((size_t)b->len - offset, len - done);
		if (write)
			memcpy((u8 *)b->hva + offset, (const u8 *)data + done, n);
		else
			memcpy((u8 *)data + done, (const u8 *)b->hva + offset, n);
		done += n;
		offset = 0;
	}
	return done;
}

size_t virtq_chain_read(const struct virtq_chain *chain, size_t offset, void *dst, size_t len)
{
	return virtq_chain_copy(chain, false, offset, dst, len);
}

size_t virtq_chain_write(const struct virtq_chain *chain, size_t offset, const void *src,
			 size_t len)
{
	return virtq_chain_copy(chain, true, offset, (void *)src, len);
}

void virtq_snapshot(const struct virtq *vq, struct virtq_snapshot *s)
{
	*s = (struct virtq_snapshot){
		.ready = vq->ready,
		.broken = vq->broken,
		.event_idx = vq->event_idx,
		.size = vq->size,
		.last_avail_idx = vq->last_avail_idx,
		.used_idx = vq->used_idx,
		.signalled_used = vq->signalled_used,
		.stats = vq->stats,
	};
	if (!vq->avail_hva || !vq->used_hva)
		return;
	s->rings = true;
	s->avail_idx = virtq_avail_idx(vq);
	s->avail_flags = virtq_load16(virtq_avail_field(vq, AVAIL_FLAGS), __ATOMIC_RELAXED);
	if (vq->event_idx) {
		s->used_event = virtq_used_event(vq);
		s->avail_event = virtq_avail_event(vq);
	}
}
