/* SPDX-License-Identifier: MIT */
/*
 * Pure balloon helpers, apart from the device so that the unit tests can
 * drive them directly: transport queue numbering, stats parsing, hint ids,
 * option values.
 */
#ifndef BALLAST_BALLOON_UTIL_H
#define BALLAST_BALLOON_UTIL_H

#include <stddef.h>

#include "../../compiler.h"
#include "balloon.h"

/*
 * Transport queue numbering as Linux does it (virtio_find_vqs() gives an
 * index only to queues that exist): inflate, deflate, then stats, free page
 * and reporting if their feature is in features. Fills both maps (unused
 * slots BALLOON_VQ_NONE) and returns the number of transport queues.
 */
unsigned int balloon_queue_map(u64 features, u8 tq_to_lq[VIRTIO_MAX_QUEUES],
			       u8 lq_to_tq[BALLOON_NR_VQS]);

/*
 * Parse len bytes of 10-byte stats entries into st (values replaced, present
 * mask rebuilt); a trailing partial entry is ignored. Entries may come in
 * any order (D-7); unknown tags are ignored (D-6) and their number returned.
 */
unsigned int balloon_stats_parse(const u8 *buf, size_t len, struct balloon_stats *st);

/* The hint id after id: ids >= 2 only, wrapping from 2^32 - 1 back to 2. */
u32 balloon_hint_next_id(u32 id);

/* "256M", "1G", "4096" (bytes); -EINVAL if malformed or overflowing. */
int balloon_parse_size(const char *s, u64 *bytes);
/* "1s", "500ms", "2" (seconds), "0"; -EINVAL if malformed or over a day. */
int balloon_parse_interval(const char *s, u64 *ms);

#endif
