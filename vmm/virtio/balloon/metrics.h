/* SPDX-License-Identifier: MIT */
/*
 * The balloon's counters: one plain struct, listed once (the X-macro keeps
 * the struct, the JSON dump and the docs from drifting apart).
 */
#ifndef BALLAST_BALLOON_METRICS_H
#define BALLAST_BALLOON_METRICS_H

#include <jansson.h>

#include "../../compiler.h"

#define BALLOON_METRICS(X)						\
	X(inflate_requests)	/* inflate chains served */		\
	X(deflate_requests)	/* deflate chains served */		\
	X(pages_inflated)	/* PFNs newly put in the balloon */	\
	X(pages_deflated)	/* PFNs taken out of the balloon */	\
	X(ranges_released)	/* merged runs of whole host pages given back */ \
	X(held_flushes)		/* times blocks not yet whole were released */ \
	X(held_blocks_flushed)	/* 2 MiB blocks released in pieces */	\
	X(madvise_calls)	/* release calls (madvise or punch hole) */ \
	X(bytes_released)						\
	X(release_errors)	/* release calls that failed */		\
	X(invalid_pfns)		/* outside guest RAM: skipped */	\
	X(duplicate_pfns)	/* inflated while already in the balloon */ \
	X(deflate_unknown_pfns)	/* deflated while not in the balloon */	\
	X(bad_descriptors)	/* malformed chains, or wrong shape for the queue */ \
	X(broken_queues)	/* queues stopped for a bad avail index */ \
	X(config_interrupts)						\
	X(device_resets)	/* the transport's at creation, then each status 0 */ \
	X(needs_reset_raised)	/* DEVICE_NEEDS_RESET set by the stress */ \
	X(stats_requests)	/* stats buffers handed back to the driver */ \
	X(stats_updates)	/* stats buffers received */		\
	X(stats_unknown_tags)	/* entries ignored (D-6) */		\
	X(reported_ranges)	/* free page reporting buffers */	\
	X(reported_bytes)						\
	X(hint_runs)		/* hint runs started by the driver with the current id */ \
	X(hint_done)		/* runs the device closed with DONE */	\
	X(hint_done_held)	/* ...of them DONE hold_done_ms after STOP */ \
	X(hinted_bytes)		/* pages hinted under the current id */	\
	X(hint_ignored_bytes)	/* pages hinted under a stale id (D-11) */ \
	X(hint_released_bytes)	/* hinted and left unwritten: released before DONE */ \
	X(hint_written_bytes)	/* hinted, then written: kept (D-12) */	\
	X(hint_pauses)		/* vCPU pauses to read the dirty log */	\
	X(hint_pause_us_last)	/* how long the last one stopped the guest */ \
	X(hint_pause_us_max)						\
	X(hint_release_errors)	/* runs whose pages stayed: no pause, no log */ \
	X(poison_kept_bytes)	/* not released: poison_val must survive (D-17) */

struct balloon_metrics {
#define BALLOON_METRIC_FIELD(name) u64 name;
	BALLOON_METRICS(BALLOON_METRIC_FIELD)
#undef BALLOON_METRIC_FIELD
};

/* The counters as one JSON object, in the order listed; NULL if out of memory. */
json_t *balloon_metrics_json(const struct balloon_metrics *m);

#endif
