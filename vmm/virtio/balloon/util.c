// SPDX-License-Identifier: MIT
/* Pure balloon helpers: queue numbering, stats parsing, hint ids, names. */
#include <endian.h>
#include <string.h>

#include "util.h"

unsigned int balloon_queue_map(u64 features, u8 tq_to_lq[VIRTIO_MAX_QUEUES],
			       u8 lq_to_tq[BALLOON_NR_VQS])
{
	/* Which feature brings each optional queue into existence. */
	static const int needs[BALLOON_NR_VQS] = {
		[BALLOON_VQ_INFLATE] = -1,
		[BALLOON_VQ_DEFLATE] = -1,
		[BALLOON_VQ_STATS] = BALLOON_F_STATS_VQ,
		[BALLOON_VQ_FREE_PAGE] = BALLOON_F_FREE_PAGE_HINT,
		[BALLOON_VQ_REPORTING] = BALLOON_F_PAGE_REPORTING,
	};
	unsigned int lq, nr = 0;

	memset(tq_to_lq, BALLOON_VQ_NONE, VIRTIO_MAX_QUEUES);
	memset(lq_to_tq, BALLOON_VQ_NONE, BALLOON_NR_VQS);
	for (lq = 0; lq < BALLOON_NR_VQS; lq++) {
		if (needs[lq] >= 0 && !(features & BIT(needs[lq])))
			continue;
		tq_to_lq[nr] = lq;
		lq_to_tq[lq] = nr;
		nr++;
	}
	return nr;
}

unsigned int balloon_stats_parse(const u8 *buf, size_t len, struct balloon_stats *st)
{
	unsigned int unknown = 0;
	size_t off;

	st->present = 0;
	for (off = 0; off + BALLOON_STAT_SIZE <= len; off += BALLOON_STAT_SIZE) {
		u16 tag;
		u64 val;

		memcpy(&tag, buf + off, 2);
		memcpy(&val, buf + off + 2, 8);
		tag = le16toh(tag);
		if (tag >= BALLOON_S_NR) {
			unknown++;
			continue;
		}
		st->val[tag] = le64toh(val);
		st->present |= 1u << tag;
	}
	return unknown;
}

u32 balloon_hint_next_id(u32 id)
{
	if (id < BALLOON_HINT_CMD_ID_FIRST || id == UINT32_MAX)
		return BALLOON_HINT_CMD_ID_FIRST;
	return id + 1;
}

const char *balloon_feature_name(unsigned int bit)
{
	static const char *const names[BALLOON_NR_FEATURES] = {
		[BALLOON_F_MUST_TELL_HOST] = "must_tell_host",
		[BALLOON_F_STATS_VQ] = "stats_vq",
		[BALLOON_F_DEFLATE_ON_OOM] = "deflate_on_oom",
		[BALLOON_F_FREE_PAGE_HINT] = "free_page_hint",
		[BALLOON_F_PAGE_POISON] = "page_poison",
		[BALLOON_F_PAGE_REPORTING] = "page_reporting",
	};

	return bit < BALLOON_NR_FEATURES ? names[bit] : NULL;
}

const char *balloon_stat_name(unsigned int tag)
{
	static const char *const names[BALLOON_S_NR] = {
		[VIRTIO_BALLOON_S_SWAP_IN] = "swap_in",
		[VIRTIO_BALLOON_S_SWAP_OUT] = "swap_out",
		[VIRTIO_BALLOON_S_MAJFLT] = "major_faults",
		[VIRTIO_BALLOON_S_MINFLT] = "minor_faults",
		[VIRTIO_BALLOON_S_MEMFREE] = "free_memory",
		[VIRTIO_BALLOON_S_MEMTOT] = "total_memory",
		[VIRTIO_BALLOON_S_AVAIL] = "available_memory",
		[VIRTIO_BALLOON_S_CACHES] = "disk_caches",
		[VIRTIO_BALLOON_S_HTLB_PGALLOC] = "hugetlb_allocations",
		[VIRTIO_BALLOON_S_HTLB_PGFAIL] = "hugetlb_failures",
		[BALLOON_S_OOM_KILL] = "oom_kills",
		[BALLOON_S_ALLOC_STALL] = "alloc_stalls",
		[BALLOON_S_ASYNC_SCAN] = "async_scans",
		[BALLOON_S_DIRECT_SCAN] = "direct_scans",
		[BALLOON_S_ASYNC_RECLAIM] = "async_reclaims",
		[BALLOON_S_DIRECT_RECLAIM] = "direct_reclaims",
	};

	return tag < BALLOON_S_NR ? names[tag] : NULL;
}
