// SPDX-License-Identifier: MIT
/*
 * virtio-balloon, the referee's device side for the protocol duties, which
 * need no dirty log (referee_proto.c judges them): hooks where the device
 * sees the driver write config space, fill the stats queue and hint, and
 * the state a test awaits the duties with no deadline on. No timer: a
 * duty the spec gives no deadline is never claimed late here (referee.h).
 * Everything runs under vdev.lock; with the referee off each hook is one
 * test.
 */
#include <endian.h>

#include "priv.h"

void balloon_referee_driver_ok(struct balloon *b)
{
	u64 before[REFEREE_NR_CLAUSES];

	balloon_referee_snap(b->referee, before);
	referee_driver_ok(b->referee, balloon_has(b, BALLOON_F_PAGE_POISON),
			  balloon_has(b, BALLOON_F_STATS_VQ), balloon_now_ns());
	balloon_referee_log(b, before);
}

void balloon_referee_stats(struct balloon *b, const u8 *buf, size_t len)
{
	u64 before[REFEREE_NR_CLAUSES];

	if (!b->referee)
		return;
	balloon_referee_snap(b->referee, before);
	referee_stats_buffer(b->referee, b->chain.in_bytes, b->chain.out_bytes, buf, len);
	balloon_referee_log(b, before);
}

void balloon_referee_stats_used(struct balloon *b)
{
	if (b->referee)
		referee_stats_used(b->referee, balloon_now_ns());
}

void balloon_referee_hint(struct balloon *b)
{
	const struct virtq_chain *c = &b->chain;
	struct referee_hint_view v = {
		.current_id = b->hint_cmd_id,
		.ids_issued = b->hint_ids_issued,
		.done_issued = b->m.hint_done > 0,
	};
	u64 before[REFEREE_NR_CLAUSES];
	u32 id = 0;

	if (!b->referee)
		return;
	/* virtq_chain_read reads only the driver's buffers, within the chain. */
	if (c->out_bytes == sizeof(id) && virtq_chain_read(c, 0, &id, sizeof(id)) == sizeof(id))
		id = le32toh(id);
	balloon_referee_snap(b->referee, before);
	referee_hint_chain(b->referee, &v, c->out_bytes, id, c->in_bytes);
	balloon_referee_log(b, before);
}

void balloon_referee_poison(struct balloon *b, u32 old)
{
	bool driver_ok = b->driver_ok && balloon_has(b, BALLOON_F_PAGE_POISON);
	u64 before[REFEREE_NR_CLAUSES];

	if (!b->referee)
		return;
	balloon_referee_snap(b->referee, before);
	referee_poison_write(b->referee, driver_ok, old, b->poison_val);
	balloon_referee_log(b, before);
}

bool balloon_queue_waiting(struct balloon *b, unsigned int lq)
{
	unsigned int tq = b->lq_to_tq[lq];
	struct virtq_snapshot s = { .broken = true };

	if (tq < VIRTIO_MAX_QUEUES)
		virtq_snapshot(&b->vdev.vqs[tq], &s);
	return s.broken || (s.rings && s.avail_idx != s.last_avail_idx);
}

/* Each PFN the device could not count may make `actual` differ for another reason. */
u64 balloon_referee_inexact(const struct balloon *b)
{
	return b->m.invalid_pfns + b->m.duplicate_pfns + b->m.deflate_unknown_pfns;
}

int balloon_referee_await_json(struct balloon *b, json_t *o)
{
	struct referee_balloon_view v = {
		.balloon_pages = b->ballooned.nr_set,
		.exact = balloon_referee_inexact(b) == b->referee_inexact_base,
		.actual = b->actual,
		.requests_held = b->nr_acks[BALLOON_VQ_INFLATE] + b->nr_acks[BALLOON_VQ_DEFLATE],
	};

	/* Before DRIVER_OK no queue is read: nothing can be said to wait. */
	if (b->driver_ok)
		v.requests_waiting = balloon_queue_waiting(b, BALLOON_VQ_INFLATE) ||
				     balloon_queue_waiting(b, BALLOON_VQ_DEFLATE);
	return referee_await_json(o, b->referee, &v, balloon_now_ns());
}
