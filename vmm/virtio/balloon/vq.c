// SPDX-License-Identifier: MIT
/*
 * virtio-balloon, the queue half: inflate, deflate, stats, free page hints
 * and free page reporting. Each handler drains its queue; every chain is
 * completed, malformed or not, because the Linux driver waits for the ack
 * of each request and would hang on one we dropped.
 */
#include <endian.h>
#include <errno.h>
#include <sys/timerfd.h>

#include "priv.h"
#include "util.h"

/* Enough for Linux's 16 stats and room for a newer kernel's additions. */
#define BALLOON_STATS_MAX_BYTES		(64 * BALLOON_STAT_SIZE)

/* Released bytes: contents must survive when the guest poisons with non-zero (D-17). */
bool balloon_keep_contents(const struct balloon *b)
{
	return balloon_has(b, BALLOON_F_PAGE_POISON) && b->poison_val;
}

static int balloon_release_piece(void *opaque, struct pfn_range r)
{
	struct balloon *b = opaque;
	int ret;

	b->m.madvise_calls++;
	ret = b->release(b->release_opaque, pfn_to_gpa(r.start), pfn_to_gpa(r.nr));
	if (ret) {
		b->m.release_errors++;
		balloon_warn(b, "releasing %llu pages at gpa 0x%llx failed: %d",
			     (unsigned long long)r.nr, (unsigned long long)pfn_to_gpa(r.start), ret);
		return 0;
	}
	b->m.bytes_released += pfn_to_gpa(r.nr);
	return 0;
}

/* One run of whole host pages: split where RAM regions end, then release. */
int balloon_release_range(void *opaque, struct pfn_range r)
{
	struct balloon *b = opaque;

	b->m.ranges_released++;
	return pfn_range_for_each_region(b->vdev.mem, r, balloon_release_piece, b);
}

/* A guest-physical range the driver reported free. */
static void balloon_release_gpa(struct balloon *b, u64 gpa, u64 len)
{
	u64 first = (gpa + PFN_SIZE - 1) >> PFN_SHIFT, end = (gpa + len) >> PFN_SHIFT;
	struct pfn_range r;

	if (end <= first)
		return;
	if (balloon_keep_contents(b)) {
		b->m.poison_kept_bytes += len;
		return;
	}
	r = pfn_range_align_in((struct pfn_range){ first, end - first }, b->pages_per_host);
	if (r.nr)
		balloon_release_range(b, r);
}

static struct pfn_range balloon_block(const struct balloon *b, u64 blk)
{
	u64 start = blk * BALLOON_BLOCK_PFNS;

	return (struct pfn_range){ start, MIN(BALLOON_BLOCK_PFNS, b->ballooned.nr_pfns - start) };
}

/*
 * The flush comes release_hold_ms after the last inflate that left a block
 * with a hole: a driver streaming its pages completes most blocks first.
 */
static void balloon_flush_arm(struct balloon *b)
{
	u64 ms = b->cfg.release_hold_ms;
	struct itimerspec its = { .it_value = { ms / 1000, (ms % 1000) * 1000000 } };

	if (b->flush_fd >= 0 && timerfd_settime(b->flush_fd, 0, &its, NULL))
		balloon_release_held(b);
}

/*
 * A run just inflated, with the hold on: the blocks it completed go now,
 * whole; the blocks it left with a hole wait for the flush (or for the
 * inflate that completes them).
 */
static void balloon_release_or_hold(struct balloon *b, struct pfn_range r)
{
	u64 blk, last = (r.start + r.nr - 1) / BALLOON_BLOCK_PFNS;
	bool held = false;

	pfn_for_each_full_host_range(&b->ballooned, r, BALLOON_BLOCK_PFNS, balloon_release_range, b);
	for (blk = r.start / BALLOON_BLOCK_PFNS; blk <= last; blk++) {
		if (pfn_bitmap_range_full(&b->ballooned, balloon_block(b, blk))) {
			pfn_bitmap_test_and_clear(&b->held_blocks, blk);
		} else {
			pfn_bitmap_test_and_set(&b->held_blocks, blk);
			held = true;
		}
	}
	if (held)
		balloon_flush_arm(b);
}

void balloon_release_held(struct balloon *b)
{
	u64 blk, nr = 0;

	if (!b->hold || !b->held_blocks.nr_set)
		return;
	for (blk = 0; blk < b->held_blocks.nr_pfns && b->held_blocks.nr_set; blk++) {
		if (!pfn_bitmap_test_and_clear(&b->held_blocks, blk))
			continue;
		/* What is still in the balloon: a deflate may have taken some. */
		pfn_for_each_full_host_range(&b->ballooned, balloon_block(b, blk), 1,
					     balloon_release_range, b);
		nr++;
	}
	b->m.held_flushes++;
	b->m.held_blocks_flushed += nr;
}

static void balloon_inflate_batch(struct balloon *b, u32 *pfns, size_t n)
{
	size_t i, valid = 0, unique, fresh = 0, nr;

	for (i = 0; i < n; i++) {
		if (!pfn_valid(b->vdev.mem, pfns[i]) || pfns[i] >= b->ballooned.nr_pfns)
			b->m.invalid_pfns++;
		else
			pfns[valid++] = pfns[i];
	}
	if (valid < n)
		balloon_warn(b, "inflate: %zu PFNs outside guest RAM skipped", n - valid);
	balloon_ack_note(b, pfns, valid);
	unique = pfn_sort_dedupe(pfns, valid);
	b->m.duplicate_pfns += valid - unique;
	for (i = 0; i < unique; i++) {
		if (pfn_bitmap_test_and_set(&b->ballooned, pfns[i]))
			b->m.duplicate_pfns++;
		else
			pfns[fresh++] = pfns[i];
	}
	b->m.pages_inflated += fresh;
	nr = pfn_merge(pfns, fresh, b->ranges);
	/* D-3: we may discard the pages before acking the request, or later. */
	for (i = 0; i < nr; i++) {
		if (b->hold)
			balloon_release_or_hold(b, b->ranges[i]);
		else
			pfn_for_each_full_host_range(&b->ballooned, b->ranges[i], b->pages_per_host,
						     balloon_release_range, b);
	}
}

static void balloon_deflate_batch(struct balloon *b, const u32 *pfns, size_t n)
{
	size_t i;

	/*
	 * Nothing to do for the memory itself: a released page faults back
	 * in as zeroes when the guest touches it. Only the bitmap changes.
	 */
	/* The referee looks at the request before its pages leave the bitmap. */
	balloon_ack_note(b, pfns, n);
	for (i = 0; i < n; i++) {
		if (!pfn_valid(b->vdev.mem, pfns[i]) || pfns[i] >= b->ballooned.nr_pfns)
			b->m.invalid_pfns++;
		else if (pfn_bitmap_test_and_clear(&b->ballooned, pfns[i]))
			b->m.pages_deflated++;
		else
			b->m.deflate_unknown_pfns++;
	}
}

static void balloon_handle_pfns(struct balloon *b, bool inflate)
{
	const struct virtq_chain *c = &b->chain;
	size_t off, n;

	if (c->in_bytes || c->out_bytes % sizeof(u32)) {
		b->m.bad_descriptors++;
		balloon_warn(b, "%s: chain with %u device-writable bytes, %u readable",
			     inflate ? "inflate" : "deflate", c->in_bytes, c->out_bytes);
		/*
		 * An inflate we skip only costs memory. A deflate we skipped
		 * would leave bits for pages the guest uses again, so take
		 * what PFNs there are.
		 */
		if (inflate)
			return;
	}
	for (off = 0; off + sizeof(u32) <= c->out_bytes; off += n * sizeof(u32)) {
		n = virtq_chain_read(c, off, b->pfns, sizeof(b->pfns)) / sizeof(u32);
		if (!n)
			break;
		if (inflate)
			balloon_inflate_batch(b, b->pfns, n);
		else
			balloon_deflate_batch(b, b->pfns, n);
	}
}

static void balloon_handle_inflate(struct balloon *b)
{
	b->m.inflate_requests++;
	balloon_handle_pfns(b, true);
}

static void balloon_handle_deflate(struct balloon *b)
{
	/* With or without MUST_TELL_HOST the ack comes after the bitmap update. */
	b->m.deflate_requests++;
	balloon_handle_pfns(b, false);
}

/*
 * The chain stays with us until the next stats request. Returns true if an
 * older buffer had to go back to the driver.
 */
static bool balloon_handle_stats(struct balloon *b, struct virtq *vq)
{
	u8 buf[BALLOON_STATS_MAX_BYTES];
	bool returned = b->stats_pending;
	size_t len;

	if (b->chain.in_bytes) {
		b->m.bad_descriptors++;
		balloon_warn(b, "stats: device-writable buffer in the stats request");
	}
	/* one buffer at a time. If the driver sent another, return the old. */
	if (b->stats_pending)
		virtq_push(vq, b->stats_head, 0);
	len = virtq_chain_read(&b->chain, 0, buf, sizeof(buf));
	balloon_referee_stats(b, buf, len);
	b->m.stats_unknown_tags += balloon_stats_parse(buf, len, &b->stats);
	b->stats.updated_ns = balloon_now_ns();
	b->stats.updates++;
	b->m.stats_updates++;
	b->stats_head = b->chain.head;
	b->stats_pending = true;
	return returned;
}

int balloon_stats_request_locked(struct balloon *b)
{
	unsigned int tq = b->lq_to_tq[BALLOON_VQ_STATS];

	if (!balloon_has(b, BALLOON_F_STATS_VQ) || !b->driver_ok || tq == BALLOON_VQ_NONE)
		return -ENODEV;
	if (!b->stats_pending)
		return -EAGAIN;
	/* Using the buffer is the request (§5.5.6.3); the driver refills and kicks. */
	b->stats_pending = false;
	b->m.stats_requests++;
	balloon_referee_stats_used(b);
	virtq_push(&b->vdev.vqs[tq], b->stats_head, 0);
	virtio_signal_used(&b->vdev, tq);
	return 0;
}

static void balloon_hint_cmd(struct balloon *b, u32 id)
{
	if (id == BALLOON_HINT_CMD_ID_STOP) {
		/* The driver finished the run we asked for: D-14, report DONE. */
		if (b->hint_active_id && b->hint_active_id == b->hint_cmd_id)
			balloon_hint_finish(b);
		b->hint_active_id = 0;
	} else if (id == BALLOON_HINT_CMD_ID_DONE) {
		b->m.bad_descriptors++;
		balloon_warn(b, "free page hint: driver sent the DONE id");
	} else if (id == b->hint_cmd_id) {
		b->hint_active_id = id;
		b->m.hint_runs++;
	} else {
		/* A run for an id we no longer want: its pages are ignored (D-11). */
		b->hint_active_id = 0;
	}
}

static void balloon_handle_free_page(struct balloon *b)
{
	const struct virtq_chain *c = &b->chain;
	u32 id;
	u16 i;

	balloon_referee_hint(b);
	if (c->out_bytes) {
		if (c->out_bytes != sizeof(id)) {
			b->m.bad_descriptors++;
			balloon_warn(b, "free page hint: %u-byte command", c->out_bytes);
			return;
		}
		virtq_chain_read(c, 0, &id, sizeof(id));
		balloon_hint_cmd(b, le32toh(id));
	}
	for (i = 0; i < c->nr_bufs; i++) {
		const struct virtq_buf *buf = &c->bufs[i];

		if (!buf->write)
			continue;
		if (!b->hint_active_id || b->hint_active_id != b->hint_cmd_id) {
			b->m.hint_ignored_bytes += buf->len;
			continue;
		}
		/*
		 * Only noted here. D-12 lets a device change a hinted page
		 * only if the guest has not written it since the id was
		 * issued: Linux zeroes each block as it allocates it
		 * (init_on_alloc, Debian's default), and its shrinker hands
		 * blocks back to the allocator before DONE, maybe before we
		 * see them. Releasing on sight lost guest data once
		 * (integrity.bats crashed the guest); with write tracking the
		 * pages left unwritten go when the run ends (hint.c).
		 */
		b->m.hinted_bytes += buf->len;
		balloon_hint_mark(b, buf->gpa, buf->len);
	}
}

static void balloon_handle_reporting(struct balloon *b)
{
	const struct virtq_chain *c = &b->chain;
	u16 i;

	if (c->out_bytes) {
		b->m.bad_descriptors++;
		balloon_warn(b, "page reporting: driver-readable buffer in a report");
		return;
	}
	/* Every buffer already lies inside one RAM region (virtq_pop checked). */
	for (i = 0; i < c->nr_bufs; i++) {
		b->m.reported_ranges++;
		b->m.reported_bytes += c->bufs[i].len;
		balloon_ack_note_range(b, c->bufs[i].gpa, c->bufs[i].len);
		balloon_release_gpa(b, c->bufs[i].gpa, c->bufs[i].len);
	}
}

void balloon_vq_notify(struct balloon *b, unsigned int lq, unsigned int tq)
{
	struct virtq *vq;
	bool pushed = false, was_broken;
	int ret;

	if (tq >= VIRTIO_MAX_QUEUES || lq >= BALLOON_NR_VQS)
		return;
	vq = &b->vdev.vqs[tq];
	was_broken = vq->broken;
	while ((ret = virtq_pop(vq, &b->chain)) != 0) {
		if (ret < 0) {
			b->m.bad_descriptors++;
			balloon_warn(b, "queue %u: %s", tq, vq->last_error);
			pushed = true;
			continue;
		}
		if (lq == BALLOON_VQ_STATS) {
			/* Held until the next request: nothing to push now. */
			pushed |= balloon_handle_stats(b, vq);
			continue;
		}
		balloon_ack_open(b, lq, b->chain.head);
		switch (lq) {
		case BALLOON_VQ_INFLATE:
			balloon_handle_inflate(b);
			break;
		case BALLOON_VQ_DEFLATE:
			balloon_handle_deflate(b);
			break;
		case BALLOON_VQ_FREE_PAGE:
			balloon_handle_free_page(b);
			break;
		case BALLOON_VQ_REPORTING:
			balloon_handle_reporting(b);
			break;
		}
		if (balloon_ack(b, lq))
			continue;	/* held: ack.c pushes it */
		virtq_push(vq, b->chain.head, 0);
		pushed = true;
	}
	if (vq->broken && !was_broken && vq->ready) {
		b->m.broken_queues++;
		balloon_warn(b, "queue %u stopped: %s", tq, vq->last_error);
	}
	if (pushed)
		virtio_signal_used(&b->vdev, tq);
}
