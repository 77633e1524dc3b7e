/* SPDX-License-Identifier: MIT */
/*
 * The balloon's state, shared by the device half (balloon.c: features,
 * config, lifecycle, host controls) and the queue half (balloon_vq.c).
 * Everything here is protected by vdev.lock.
 */
#ifndef BALLAST_BALLOON_PRIV_H
#define BALLAST_BALLOON_PRIV_H

#include "../log.h"
#include "balloon.h"
#include "pfn.h"

struct balloon {
	struct virtio_device vdev;
	struct balloon_config cfg;
	struct ioloop *loop;
	int timer_fd;			/* stats polling, or -1 */

	u64 offered;
	u64 accepted;
	bool features_ok;
	bool driver_ok;
	unsigned int nr_tq;
	u8 tq_to_lq[VIRTIO_MAX_QUEUES];
	u8 lq_to_tq[BALLOON_NR_VQS];

	/* Config space. */
	u32 num_pages;
	u32 actual;
	u32 hint_cmd_id;
	u32 poison_val;

	u32 hint_next_id;
	u32 hint_active_id;		/* id of the driver's open run, 0 if none */

	bool stats_pending;		/* we hold the driver's stats buffer */
	u16 stats_head;
	struct balloon_stats stats;

	struct pfn_bitmap ballooned;
	u64 pages_per_host;
	balloon_release_fn release;
	void *release_opaque;

	struct balloon_metrics m;
	struct log_ratelimit warn_rl;

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

#endif
