/* SPDX-License-Identifier: MIT */
/*
 * The balloon's state, shared by the device half (balloon.c: features,
 * config, lifecycle, host controls) and the queue half (vq.c).
 * Everything here is protected by vdev.lock.
 */
#ifndef BALLAST_BALLOON_PRIV_H
#define BALLAST_BALLOON_PRIV_H

#include "../../log.h"
#include "balloon.h"
#include "../pfn.h"
#include "referee.h"

/* A request popped and not acked yet (ack.c): inflate, deflate, report, hint. */
struct balloon_ack {
	u16 head;
	u64 due_ns;			/* CLOCK_MONOTONIC */
	u64 in_balloon;			/* pages in the balloon at its pop */
	struct referee_req req;		/* its PFNs, while the referee is on */
};

struct balloon {
	struct virtio_device vdev;
	struct balloon_config cfg;
	struct ioloop *loop;
	int timer_fd;			/* stats polling, or -1 */

	u64 offered;
	u64 accepted;
	bool features_ok;
	bool driver_ok;
	bool needs_reset;		/* stress.c set DEVICE_NEEDS_RESET; a reset clears it */
	unsigned int nr_tq;
	u8 tq_to_lq[VIRTIO_MAX_QUEUES];
	u8 lq_to_tq[BALLOON_NR_VQS];

	/* Config space. */
	u32 num_pages;
	u32 actual;
	u32 hint_cmd_id;
	u32 poison_val;

	u32 hint_next_id;
	u64 hint_ids_issued;		/* ids issued since made: which ever were */
	u32 hint_active_id;		/* id of the driver's open run, 0 if none */

	bool stats_pending;		/* we hold the driver's stats buffer */
	u16 stats_head;
	struct balloon_stats stats;

	struct pfn_bitmap ballooned;
	u64 pages_per_host;
	balloon_release_fn release;
	void *release_opaque;

	/*
	 * Release by whole 2 MiB blocks where the host page is 4 KiB (the
	 * host may back guest RAM with transparent huge pages all the same):
	 * a block the balloon holds whole is released in one call, and goes
	 * as a huge page; one released a piece at a time is split first, and
	 * every page of it still in guest use then faults back in, one at a
	 * time. Pages of a block not yet whole wait in held_blocks for the
	 * flush timer, release_hold_ms after the last inflate that held some.
	 */
	bool hold;
	struct pfn_bitmap held_blocks;	/* one bit per 2 MiB block */
	int flush_fd;			/* timerfd, or -1: flushed on request */

	struct balloon_metrics m;
	struct log_ratelimit warn_rl;

	struct balloon_autorun *autorun;	/* auto=on; lives on the I/O thread */

	/* Hint release (hint.c): set up by balloon_set_dirty_ops(). */
	const struct balloon_dirty_ops *dirty_ops;
	void *dirty_opaque;
	struct pfn_bitmap hinted;	/* pages hinted in the current run */
	struct pfn_bitmap dirty;	/* scratch: written since the id was issued */
	bool hint_tracking;		/* writes are logged since the current id */
	bool hint_release_pending;	/* the driver stopped: release, then DONE */
	int hint_fd;			/* eventfd: the release runs off the lock */
	int done_fd;			/* timerfd: DONE hold_done_ms after STOP */
	bool hint_done_pending;		/* the run ended, its DONE is held */

	/*
	 * ack.c: requests held before their ack (hold_*_ms), one list per
	 * logical queue in the order taken (stats' stays empty: its buffer is
	 * held until the next request anyway), and the referee (NULL:
	 * referee=off).
	 */
	struct balloon_ack acks[BALLOON_NR_VQS][BALLOON_QUEUE_SIZE];
	unsigned int nr_acks[BALLOON_NR_VQS];
	int ack_fd;			/* timerfd for the next ack due, or -1 */
	struct referee *referee;
	bool referee_logging;		/* the dirty log is on for it */
	struct balloon_ack cur;		/* the request being handled */
	u64 target_gen;			/* bumped on every new target */
	u64 referee_inexact_base;	/* balloon_referee_inexact() at the reset */

	/* Scratch, too big for the I/O thread's stack. */
	struct virtq_chain chain;
	u32 pfns[BALLOON_PFN_BATCH];
	struct pfn_range ranges[BALLOON_PFN_BATCH];
};

static inline struct balloon *to_balloon(struct virtio_device *vdev)
{
	return vdev->priv;
}

static inline bool balloon_has(const struct balloon *b, unsigned int bit)
{
	return b->accepted & BIT(bit);
}

/* The driver kicked logical queue lq (transport index tq). */
void balloon_vq_notify(struct balloon *b, unsigned int lq, unsigned int tq);
/* Give the stats buffer back; the caller holds the lock. */
int balloon_stats_request_locked(struct balloon *b);
/* Rate-limited complaint about bad guest input. */
__attribute__((format(printf, 2, 3)))
void balloon_warn(struct balloon *b, const char *fmt, ...);
/* Raise the config interrupt (counted) if the driver is running. */
void balloon_signal_config(struct balloon *b);
/* Release a run of whole host pages (split at RAM regions); pfn_range_fn. */
int balloon_release_range(void *opaque, struct pfn_range r);
/* Release the inflated pages held back in blocks not yet whole. */
void balloon_release_held(struct balloon *b);
void balloon_on_timer(struct balloon *b, int fd, void (*fn)(struct balloon *b));
int balloon_timer_open(struct balloon *b, int *fd, ioloop_fn fn);
void balloon_timer_close(struct balloon *b, int *fd);
/* CLOCK_MONOTONIC in ns: stats times, ack deadlines, the referee's stats debt. */
u64 balloon_now_ns(void);

#define BALLOON_BLOCK_PFNS	(SZ_2M / PFN_SIZE)

/* pfn is in the balloon but held back: not released yet. */
static inline bool balloon_held(const struct balloon *b, u64 pfn)
{
	return b->hold && pfn_bitmap_test(&b->held_blocks, pfn / BALLOON_BLOCK_PFNS);
}
/* Contents must survive a release: poisoning with a non-zero value (D-17). */
bool balloon_keep_contents(const struct balloon *b);

/* hint.c: hinted pages, written or not, released before DONE. */
bool balloon_hint_tracks(const struct balloon *b);
int balloon_hint_track_start(struct balloon *b);
void balloon_hint_mark(struct balloon *b, u64 gpa, u64 len);
/* The driver sent STOP for the current run: DONE now, or after the release. */
void balloon_hint_finish(struct balloon *b);
/* Set DONE and tell the driver; the caller holds the lock. */
void balloon_hint_done(struct balloon *b);
void balloon_hint_reset(struct balloon *b);
void balloon_hint_free(struct balloon *b);
int balloon_hint_hold_init(struct balloon *b);
void balloon_hint_hold_free(struct balloon *b);

/*
 * ack.c. Around each chain of every queue but stats: open before it is
 * read, note each batch of PFNs of an inflate or deflate checked to be RAM
 * before the bitmap changes (each range of a report: note_range), then
 * ack: true if the request is held (pushed later by the timer), false if
 * the caller pushes it now.
 */
void balloon_ack_open(struct balloon *b, unsigned int lq, u16 head);
void balloon_ack_note(struct balloon *b, const u32 *pfns, size_t n);
void balloon_ack_note_range(struct balloon *b, u64 gpa, u64 len);
bool balloon_ack(struct balloon *b, unsigned int lq);
int balloon_ack_init(struct balloon *b);
/* The driver started (log on) or the device reset (held requests dropped). */
void balloon_ack_activate(struct balloon *b);
void balloon_ack_reset(struct balloon *b);
void balloon_ack_free(struct balloon *b);
/* One line on f with the referee's counts, if it is on. */
void balloon_referee_postmortem(struct balloon *b, FILE *f);
/* The violations per clause now; then one log line per clause that grew since. */
void balloon_referee_snap(const struct referee *r, u64 before[REFEREE_NR_CLAUSES]);
void balloon_referee_log(struct balloon *b, const u64 before[REFEREE_NR_CLAUSES]);

/*
 * referee_dev.c: the referee's hooks for the protocol duties, each a no-op
 * with referee=off (driver_ok: ack.c calls it only with the referee on).
 */
void balloon_referee_driver_ok(struct balloon *b);
/* A stats buffer (b->chain) read into buf, len bytes. */
void balloon_referee_stats(struct balloon *b, const u8 *buf, size_t len);
/* The device used the stats buffer for a request. */
void balloon_referee_stats_used(struct balloon *b);
/* A chain on free_page_vq (b->chain), before the device acts on it. */
void balloon_referee_hint(struct balloon *b);
/* The driver wrote poison_val, which was old. */
void balloon_referee_poison(struct balloon *b, u32 old);
/* The driver has queued buffers on lq the device has not taken (or it cannot tell). */
bool balloon_queue_waiting(struct balloon *b, unsigned int lq);
/* PFNs the device could not count since it was made (invalid, duplicate, unknown). */
u64 balloon_referee_inexact(const struct balloon *b);
/* query's referee: the state a test awaits on. 0 or -ENOMEM. */
int balloon_referee_await_json(struct balloon *b, json_t *o);

#endif
