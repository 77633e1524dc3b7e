/* SPDX-License-Identifier: MIT */
/*
 * virtio-balloon constants (virtio 1.2 §5.5) in one place: feature bits,
 * queues, config layout, stats tags, hint command ids, our limits.
 */
#ifndef BALLAST_BALLOON_DEFS_H
#define BALLAST_BALLOON_DEFS_H

#include <linux/virtio_balloon.h>

#include "../../compiler.h"

/* Linux names it VIRTIO_BALLOON_F_REPORTING; the spec PAGE_REPORTING. */
#define BALLOON_F_MUST_TELL_HOST	VIRTIO_BALLOON_F_MUST_TELL_HOST
#define BALLOON_F_STATS_VQ		VIRTIO_BALLOON_F_STATS_VQ
#define BALLOON_F_DEFLATE_ON_OOM	VIRTIO_BALLOON_F_DEFLATE_ON_OOM
#define BALLOON_F_FREE_PAGE_HINT	VIRTIO_BALLOON_F_FREE_PAGE_HINT
#define BALLOON_F_PAGE_POISON		VIRTIO_BALLOON_F_PAGE_POISON
#define BALLOON_F_PAGE_REPORTING	VIRTIO_BALLOON_F_REPORTING
#define BALLOON_NR_FEATURES		6

/*
 * Logical queues. The transport index differs: only queues whose feature
 * was negotiated get one, in this order (balloon_queue_map()).
 */
enum balloon_vq {
	BALLOON_VQ_INFLATE,
	BALLOON_VQ_DEFLATE,
	BALLOON_VQ_STATS,
	BALLOON_VQ_FREE_PAGE,
	BALLOON_VQ_REPORTING,
	BALLOON_NR_VQS,
};
#define BALLOON_VQ_NONE			0xff

/*
 * Ring size for every queue: Linux needs at least 32 for reporting
 * (PAGE_REPORTING_CAPACITY) and 2 for hinting, and never has more than one
 * inflate or deflate request in flight.
 */
#define BALLOON_QUEUE_SIZE		128

/* Config space (§5.5.4), all le32 even for legacy drivers. */
#define BALLOON_CFG_NUM_PAGES		0
#define BALLOON_CFG_ACTUAL		4
#define BALLOON_CFG_HINT_CMD_ID		8
#define BALLOON_CFG_POISON_VAL		12
#define BALLOON_CFG_SIZE		16

#define BALLOON_HINT_CMD_ID_STOP	VIRTIO_BALLOON_CMD_ID_STOP
#define BALLOON_HINT_CMD_ID_DONE	VIRTIO_BALLOON_CMD_ID_DONE
#define BALLOON_HINT_CMD_ID_FIRST	2

/*
 * Stats tags: the spec's ten plus the six Linux 6.10 added. Unknown tags
 * are ignored (D-6), so the table only needs to be as long as we name.
 */
#define BALLOON_S_OOM_KILL		10
#define BALLOON_S_ALLOC_STALL		11
#define BALLOON_S_ASYNC_SCAN		12
#define BALLOON_S_DIRECT_SCAN		13
#define BALLOON_S_ASYNC_RECLAIM		14
#define BALLOON_S_DIRECT_RECLAIM	15
#define BALLOON_S_NR			16
/* One entry: packed { le16 tag; le64 val; } (the spec's "6 bytes" is an erratum). */
#define BALLOON_STAT_SIZE		10

/* PFNs read from a chain per batch; bounds the device's scratch arrays. */
#define BALLOON_PFN_BATCH		1024

#endif
