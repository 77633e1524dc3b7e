/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ballast.ko - an instrumented virtio-balloon driver for the ballast
 * conformance suite.  Shared definitions of ballast_main.c, debugfs.c,
 * hint.c and inject.c.
 */
#ifndef BALLAST_H
#define BALLAST_H

#include <linux/atomic.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/notifier.h>
#include <linux/page_reporting.h>
#include <linux/scatterlist.h>
#include <linux/sched.h>
#include <linux/shrinker.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/version.h>
#include <linux/virtio.h>
#include <linux/virtio_balloon.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

/* Linux's VIRTIO_BALLOON_ARRAY_PFNS_MAX: 256 PFNs (1 MiB) a descriptor. */
#define BALLAST_PFNS_PER_DESC	256
/* Upper bound of the batch setting; also capped by the inflate vq size. */
#define BALLAST_BATCH_MAX	64
/* Stats entries we send: Linux 6.1's ten, plus room for an injected one. */
#define BALLAST_STATS_MAX	12
/* The tag of the injected stats entry: unknown to every spec version. */
#define BALLAST_STATS_UNKNOWN_TAG	0x7ab1
#define BALLAST_STATS_UNKNOWN_VAL	0x0123456789abcdefULL

/* What the next stats answer does wrong, on purpose (inject.c's knobs). */
enum ballast_stats_inject {
	BALLAST_STATS_INJ_NONE,		/* nothing: Linux 6.1's ten entries */
	BALLAST_STATS_INJ_UNKNOWN,	/* one more, tag BALLAST_STATS_UNKNOWN_TAG */
	BALLAST_STATS_INJ_REPEAT,	/* MEMFREE twice */
	BALLAST_STATS_INJ_DROP,		/* CACHES left out: another subset */
};

/* Feature bits this driver can accept (the rest is never negotiated). */
#define BALLAST_DRIVER_FEATURES					\
	(BIT_ULL(VIRTIO_BALLOON_F_MUST_TELL_HOST) |		\
	 BIT_ULL(VIRTIO_BALLOON_F_STATS_VQ) |			\
	 BIT_ULL(VIRTIO_BALLOON_F_DEFLATE_ON_OOM) |		\
	 BIT_ULL(VIRTIO_BALLOON_F_FREE_PAGE_HINT) |		\
	 BIT_ULL(VIRTIO_BALLOON_F_PAGE_POISON) |		\
	 BIT_ULL(VIRTIO_BALLOON_F_REPORTING))

/* Our indices (Linux's enum virtio_balloon_vq), not transport indices. */
enum ballast_vq {
	BQ_INFLATE,
	BQ_DEFLATE,
	BQ_STATS,
	BQ_FREE_PAGE,
	BQ_REPORTING,
	BQ_NR
};

/* Per-queue accounting of what the device handed back. */
struct ballast_qstat {
	atomic64_t used_bufs;		/* buffers the device used */
	atomic64_t used_len;		/* sum of the used lengths it wrote */
	atomic64_t used_len_last;	/* the last used length */
	atomic64_t kicks;		/* notifications we sent */
	atomic64_t descs;		/* requests (descriptor chains) added */
};

/* Everything debugfs shows; each is read-only there. */
struct ballast_counters {
	atomic64_t features_offered;
	atomic64_t features_accepted;
	atomic64_t num_pages;		/* last num_pages read from config */
	atomic64_t actual;		/* last actual written to config */
	atomic64_t balloon_pages;	/* pages in the balloon now */
	atomic64_t pages_inflated;	/* acked inflates, cumulative */
	atomic64_t pages_deflated;	/* acked deflates, cumulative */
	atomic64_t pages_dropped;	/* released without an ack (reset) */
	atomic64_t inflate_rounds;	/* rounds (one kick each) */
	/* Where an inflate's time goes, in microseconds, cumulative. */
	atomic64_t inflate_us;		/* whole rounds */
	atomic64_t inflate_alloc_us;	/* ...allocating the pages */
	atomic64_t inflate_xfer_us;	/* ...from add to the device's ack */
	atomic64_t inflate_blocks;	/* blocks split for a descriptor */
	atomic64_t deflate_rounds;
	atomic64_t max_inflight;	/* most descriptors in flight at once */
	atomic64_t alloc_failures;	/* "out of puff" */
	atomic64_t shrinker_count_calls;
	atomic64_t shrinker_scan_calls;
	atomic64_t shrinker_pages_freed;
	atomic64_t shrinker_waits;	/* scans that waited out a round */
	atomic64_t oom_notify_calls;	/* the OOM killer asked us first */
	atomic64_t oom_notify_pages;	/* ...and was given these instead */
	atomic64_t report_calls;
	atomic64_t reported_ranges;
	atomic64_t reported_bytes;
	atomic64_t report_writes;	/* report_write_inflight's writes */
	atomic64_t config_changes;	/* config-change interrupts */
	atomic64_t stats_requests;	/* device used the stats buffer */
	atomic64_t stats_answered;	/* we refilled and kicked */
	atomic64_t stats_primed;	/* buffers added at (re)initialisation */
	atomic64_t device_errors;	/* timeouts + NEEDS_RESET + add errors */
	atomic64_t ack_timeouts;
	atomic64_t needs_reset;		/* DEVICE_NEEDS_RESET seen */
	atomic64_t resets;		/* recoveries completed */
	atomic64_t inject_calls;
	atomic64_t hint_runs;		/* command ids answered */
	atomic64_t hint_blocks;		/* blocks hinted, cumulative */
	atomic64_t hint_done;		/* runs the device ended with DONE */
	atomic64_t hint_hold_expired;	/* runs given back with no DONE */
	atomic64_t hint_shrunk;		/* runs given back to reclaim before DONE */
	atomic64_t hint_pages_returned;	/* hinted pages freed again */
	atomic64_t hint_check_pages;	/* hinted pages written (hint_check) */
	atomic64_t hint_check_kept;	/* ...that came back as written */
	atomic64_t hint_check_lost;	/* ...that the device changed (D-12) */
	struct ballast_qstat q[BQ_NR];
};

/* What the last fault-injection knob sent and what the device did. */
struct ballast_inject_result {
	char knob[32];
	int ret;		/* what the write returned */
	bool sent;		/* the request reached the ring */
	bool acked;		/* the device used it */
	u32 used_len;
	u32 wait_ms;		/* from kick to ack (or to giving up) */
	bool timed_out;
	bool needs_reset;	/* DEVICE_NEEDS_RESET after the request */
	bool reset;		/* the driver reset the device afterwards */
	int content_intact;	/* a page the request named: -1 n/a, 0, 1 */
	int buf_intact;		/* the request's own buffer: -1 n/a, 0, 1 */
	u64 pfn;		/* first PFN sent */
	u32 nr_pfns;
	bool next_request;	/* stats: the device asked again */
	/* deflate_content: pages that read back as ours, as zero, or neither */
	u32 kept, zeroed, foreign;
	u32 writes;		/* write_inflight: writes before the ack came */
};

struct ballast_cfile;

/*
 * A page the driver writes, on purpose, while a request naming it waits for
 * the device (the knobs that break ):
 * ballast_wait_used() writes one word of it every BALLAST_TOUCH_MS until
 * the ack.
 */
struct ballast_touch {
	struct page *page;	/* NULL: nothing to write */
	u32 writes;		/* how many times it was written */
	/*
	 * Write each word back as it was: a free page must keep what the
	 * allocator put there (zeroes under init_on_free, PAGE_POISON under
	 * page poisoning), and a write of the same value is still a write in
	 * the dirty log the device reads.
	 */
	bool keep;
};

static inline void ballast_touch_arm(struct ballast_touch *t, struct page *page,
				     bool keep)
{
	t->writes = 0;
	t->keep = keep;
	t->page = page;
}

/* Stop writing; how many times the page was written. */
static inline u32 ballast_touch_disarm(struct ballast_touch *t)
{
	t->page = NULL;
	return t->writes;
}

/* A fault-injection knob's file: which knob, which device. */
struct ballast_knob_ctx {
	struct ballast *b;
	unsigned int idx;
};

#define BALLAST_NR_KNOBS	23

/* One request in flight: an sg list the device reads or writes. */
struct ballast_req {
	struct scatterlist *sg;
	unsigned int nsg;
	bool in;		/* device-writable */
	bool done;
	u32 used_len;
};

struct ballast {
	struct virtio_device *vdev;
	struct virtqueue *vqs[BQ_NR];
	struct workqueue_struct *wq;

	/*
	 * @lock serialises the balloon list, inflate/deflate rounds, the
	 * shrinker, the knobs and the teardown half of recovery.  Its holder
	 * is recorded (ballast_lock_taken()): reclaim entered from under the
	 * lock must not wait for it in the shrinker.
	 */
	struct mutex lock;
	struct task_struct *lock_owner;
	struct list_head pages;		/* ballooned, acked by the device */
	unsigned long nr_pages;
	unsigned int batch;
	bool alloc_blocks;		/* inflate: a descriptor's pages at once */
	/* One round in flight: per descriptor its PFNs, pages and request. */
	u32 *pfns[BALLAST_BATCH_MAX];	/* PFNS_PER_DESC each, kmalloc'd */
	struct list_head slot[BALLAST_BATCH_MAX];
	unsigned int slot_n[BALLAST_BATCH_MAX];
	struct ballast_req reqs[BALLAST_BATCH_MAX];
	struct scatterlist sgs[BALLAST_BATCH_MAX];
	unsigned long last_shrink;	/* jiffies of the last shrinker deflate */
	bool skip_kick;			/* inject: next xfer adds, no notify */
	struct ballast_touch touch;	/* inject: written while its request waits */
	bool shrunk;

	/* Stops the update/stats work during remove and recovery. */
	spinlock_t stop_lock;
	bool stop_update;
	bool removing;			/* no more recoveries */
	struct delayed_work update_work;

	/* Ack waiting and device death (see ballast_kill()). */
	wait_queue_head_t acked;
	struct mutex kill_lock;
	bool dead;
	struct work_struct recover_work;

	/* Stats queue. */
	spinlock_t stats_lock;
	struct work_struct stats_work;
	struct virtio_balloon_stat *stats;	/* BALLAST_STATS_MAX, kmalloc'd */
	bool stats_owned;		/* the driver holds the buffer */
	/* inject: a second buffer, made available while the device holds one */
	struct virtio_balloon_stat *stats_extra;	/* BALLAST_STATS_MAX */
	bool stats_extra_held;		/* the device holds it */
	enum ballast_stats_inject stats_inject_armed;
	bool stats_inject_sent;
	s64 stats_inject_base;		/* stats_requests when it was sent */
	wait_queue_head_t stats_wait;

	/*
	 * Free page hinting (hint.c): its work item and the hint knobs touch
	 * these, each under @hint_lock; teardown and recovery cancel the work
	 * and hold @lock, which the knobs hold too.
	 */
	struct mutex hint_lock;
	struct delayed_work hint_work;
	struct list_head hint_blocks;	/* hinted, held until DONE */
	struct list_head hint_written;	/* hinted, then written by us */
	u32 hint_active;		/* the last id we answered */
	__virtio32 hint_id_buf[2];	/* the id, then STOP, as sent */
	bool hint_waiting;		/* STOP sent, no DONE yet */
	unsigned long hint_held;	/* pages in hint_blocks and hint_written */
	unsigned long hint_stopped;	/* jiffies of that STOP */
	unsigned int hint_check;	/* setting: blocks to write each run */
	bool hint_start_twice;		/* inject: the next run sends its id twice */

	/* Free page reporting. */
	struct page_reporting_dev_info pr_dev;
	bool pr_registered;
	/*
	 * Held while a report is with the device, and by poison_change while
	 * poison_val is not the kernel's: no report goes out under a value
	 * the kernel's free pages do not hold (D-17).
	 */
	struct mutex report_lock;
	atomic_t report_write_armed;	/* inject: report_write_inflight */
	struct ballast_touch report_touch;	/* ...a page of that report */

	/* PAGE_POISON: what the kernel fills freed pages with. */
	u32 poison_val;

	/* Deflate on OOM. */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 7, 0)
	struct shrinker *shrinker;
#else
	struct shrinker shrinker;
	bool shrinker_registered;
#endif
	struct notifier_block oom_nb;	/* the shrinker's backstop */
	bool oom_nb_registered;

	struct ballast_counters c;
	struct mutex inject_lock;	/* guards @last and @chain_held */
	struct ballast_inject_result last;
	/* chain_prepare: pages written and held for the next chain_4097. */
	struct list_head chain_held;
	unsigned int chain_held_n;
	struct ballast_knob_ctx knob_ctx[BALLAST_NR_KNOBS];
	struct dentry *dbg;
	struct ballast_cfile *dbg_files;	/* debugfs.c */
	unsigned int dbg_nfiles;
};

/* Module parameters, adjustable from debugfs as well. */
extern unsigned int ballast_ack_timeout_ms;
extern bool ballast_hold_actual;
extern unsigned int ballast_hint_hold_ms;

static inline bool ballast_has(struct ballast *b, unsigned int fbit)
{
	return virtio_has_feature(b->vdev, fbit);
}

/* Record the caller, which has just taken @lock, as its holder. */
static inline void ballast_lock_taken(struct ballast *b)
{
	WRITE_ONCE(b->lock_owner, current);
}

/* @lock, its holder recorded for the shrinker (see struct ballast). */
static inline void ballast_lock(struct ballast *b)
{
	mutex_lock(&b->lock);
	ballast_lock_taken(b);
}

static inline void ballast_unlock(struct ballast *b)
{
	WRITE_ONCE(b->lock_owner, NULL);
	mutex_unlock(&b->lock);
}

/* ballast_main.c */
int ballast_xfer(struct ballast *b, enum ballast_vq q,
		 struct ballast_req *reqs, unsigned int n, gfp_t gfp,
		 unsigned int *wait_ms);
int ballast_xfer_send(struct ballast *b, enum ballast_vq q,
		      struct ballast_req *reqs, unsigned int n, gfp_t gfp);
int ballast_xfer_wait(struct ballast *b, enum ballast_vq q, unsigned int added,
		      unsigned long start, unsigned int *wait_ms);
long ballast_leak(struct ballast *b, unsigned long want, gfp_t gfp);
int ballast_stats_second(struct ballast *b);
void ballast_kill(struct ballast *b, const char *why);
void ballast_ack_timeout(struct ballast *b, const char *why);
void ballast_recover_sync(struct ballast *b);
bool ballast_needs_reset(struct ballast *b);
void ballast_update_actual(struct ballast *b);
void ballast_balloon_add(struct ballast *b, struct page *page);
void ballast_queue_update(struct ballast *b, unsigned long delay);
int ballast_set_batch(struct ballast *b, unsigned int batch);
struct page *ballast_alloc_page(void);
void ballast_count_used(struct ballast *b, enum ballast_vq q, u32 len);
void ballast_poison_write(struct ballast *b, u32 val);

/* debugfs.c */
void ballast_debugfs_init(struct ballast *b);
void ballast_debugfs_exit(struct ballast *b);

/* hint.c */
void ballast_hint_init(struct ballast *b);
void ballast_hint_queue(struct ballast *b, unsigned long delay);
void ballast_hint_return(struct ballast *b);
unsigned long ballast_hint_held(struct ballast *b);
unsigned long ballast_hint_shrink(struct ballast *b);
int ballast_hint_add(struct ballast *b, struct scatterlist *sg, bool in,
		     void *token);
int ballast_hint_flush(struct ballast *b);

/* inject.c */
void ballast_inject_debugfs_init(struct ballast *b, struct dentry *dir);
void ballast_inject_release(struct ballast *b);

#endif /* BALLAST_H */
