// SPDX-License-Identifier: GPL-2.0
/*
 * Free page hinting, the driver's side (virtio 1.2 §5.5.6.7).  The device
 * writes a command id >= 2 into free_page_hint_cmd_id; we answer with that
 * id (one 4-byte out buffer), then free memory in blocks of the largest
 * order the buddy allocator has (4 MiB on x86-64, as Linux), one
 * device-writable buffer each, until no block is left or the id changes,
 * then STOP.  The blocks stay ours and unused until the device writes DONE
 * (then they go back to the page allocator), a later run starts, the
 * device is reset, or hint_hold_ms passes after the STOP.
 *
 * What Linux's driver never does and the spec allows: use a
 * hinted page before DONE after initialising it.  With the `hint_check`
 * setting at N, each run writes a pattern into the first page of its first
 * N blocks before it sends STOP, and checks the pattern when the blocks
 * come back.  A device that discards a hinted page the guest wrote after
 * the id was issued breaks D-12, and `hint_check_lost` counts the pages it
 * took.  Linux keeps its blocks untouched until DONE, so with Linux's
 * driver no test can tell such a device from a conforming one.
 *
 * Under memory pressure the blocks of a finished run go back before DONE
 * (ballast_hint_shrink(), called by the shrinker), as Linux's driver frees
 * its hinted pages from its shrinker: a run takes every free block, and a
 * guest must not die of OOM for memory it only showed the host.
 *
 * One work item does all of it, under hint_lock, which the fault-injection
 * knobs that use the queue take too (inject.c); teardown and recovery
 * cancel the work, and hold the lock the knobs hold, before they touch the
 * queue or the block lists.
 */
#include <linux/highmem.h>
#include <linux/jiffies.h>
#include <linux/mm.h>
#include <linux/virtio_config.h>

#include "ballast.h"

/* The largest block the buddy allocator hands out, as Linux's driver. */
#if defined(MAX_PAGE_ORDER)
#define BALLAST_HINT_ORDER	MAX_PAGE_ORDER
#elif LINUX_VERSION_CODE >= KERNEL_VERSION(6, 4, 0)
#define BALLAST_HINT_ORDER	MAX_ORDER
#else
#define BALLAST_HINT_ORDER	(MAX_ORDER - 1)
#endif

/* No reclaim, no reserves, no warning: only memory that is free now. */
#define BALLAST_HINT_GFP	(__GFP_NORETRY | __GFP_NOWARN | __GFP_NOMEMALLOC)

unsigned int ballast_hint_hold_ms = 30000;
module_param_named(hint_hold_ms, ballast_hint_hold_ms, uint, 0644);
MODULE_PARM_DESC(hint_hold_ms, "Give hinted blocks back this long after STOP if no DONE came (default 30000)");

static u32 ballast_hint_cmd_id(struct ballast *b)
{
	u32 id;

	virtio_cread_le(b->vdev, struct virtio_balloon_config,
			free_page_hint_cmd_id, &id);
	return id;
}

/*
 * @move: run at @delay whatever wait is pending (a configuration change);
 * else only if none is.  The hold's end, queued by the work itself, must
 * not move a run already queued: a DONE that came while the work ran had
 * queued it to run at once, and moving that to the hold's end kept every
 * block 30 s past DONE, where a guest that needed the memory died of OOM
 * (stress.bats, 3 of 3 kernels).
 */
static void __ballast_hint_queue(struct ballast *b, unsigned long delay, bool move)
{
	unsigned long flags;

	spin_lock_irqsave(&b->stop_lock, flags);
	if (!b->stop_update) {
		if (move)
			mod_delayed_work(b->wq, &b->hint_work, delay);
		else
			queue_delayed_work(b->wq, &b->hint_work, delay);
	}
	spin_unlock_irqrestore(&b->stop_lock, flags);
}

void ballast_hint_queue(struct ballast *b, unsigned long delay)
{
	if (ballast_has(b, VIRTIO_BALLOON_F_FREE_PAGE_HINT))
		__ballast_hint_queue(b, delay, true);
}

/* Take back what the device used; true when a descriptor is free. */
static bool ballast_hint_reap(struct ballast *b)
{
	struct virtqueue *vq = b->vqs[BQ_FREE_PAGE];
	unsigned int len;

	while (virtqueue_get_buf(vq, &len))
		ballast_count_used(b, BQ_FREE_PAGE, len);
	return vq->num_free > 0 || READ_ONCE(b->dead);
}

/* Wait at most ack_timeout_ms for @cond; on a timeout the device is reset. */
#define ballast_hint_wait(b, cond)						\
({										\
	int __err = 0;								\
	if (!wait_event_timeout((b)->acked, (cond),				\
				msecs_to_jiffies(ballast_ack_timeout_ms))) {	\
		ballast_ack_timeout((b), "free page hint: buffers not used");	\
		__err = -ETIMEDOUT;						\
	} else if (READ_ONCE((b)->dead)) {					\
		__err = -EIO;							\
	}									\
	__err;									\
})

/* Add one buffer to the free page queue and kick; wait for room first. */
int ballast_hint_add(struct ballast *b, struct scatterlist *sg,
			    bool in, void *token)
{
	struct virtqueue *vq = b->vqs[BQ_FREE_PAGE];
	int err;

	err = ballast_hint_wait(b, ballast_hint_reap(b));
	if (err)
		return err;
	if (in)
		err = virtqueue_add_inbuf(vq, sg, 1, token, GFP_KERNEL);
	else
		err = virtqueue_add_outbuf(vq, sg, 1, token, GFP_KERNEL);
	if (err)
		return err;
	atomic64_inc(&b->c.q[BQ_FREE_PAGE].descs);
	virtqueue_kick(vq);
	atomic64_inc(&b->c.q[BQ_FREE_PAGE].kicks);
	return 0;
}

/* Wait until the device has used every buffer on the queue. */
int ballast_hint_flush(struct ballast *b)
{
	struct virtqueue *vq = b->vqs[BQ_FREE_PAGE];

	return ballast_hint_wait(b, (ballast_hint_reap(b),
				     vq->num_free == virtqueue_get_vring_size(vq) ||
				     READ_ONCE(b->dead)));
}

/* A command id (or STOP) as a 4-byte out buffer. */
static int ballast_hint_send_id(struct ballast *b, unsigned int slot, u32 id)
{
	struct scatterlist sg;

	b->hint_id_buf[slot] = cpu_to_virtio32(b->vdev, id);
	sg_init_one(&sg, &b->hint_id_buf[slot], sizeof(b->hint_id_buf[slot]));
	return ballast_hint_add(b, &sg, false, &b->hint_id_buf[slot]);
}

static u64 ballast_hint_pattern(struct page *page, unsigned int i)
{
	return ((u64)page_to_pfn(page) << 20) ^ 0xba11a57000000000ULL ^ i;
}

/* Use a hinted page before DONE, initialising it first. */
static void ballast_hint_write(struct page *page)
{
	u64 *p = kmap_local_page(page);
	unsigned int i;

	for (i = 0; i < PAGE_SIZE / sizeof(*p); i++)
		p[i] = ballast_hint_pattern(page, i);
	kunmap_local(p);
}

static bool ballast_hint_intact(struct page *page)
{
	u64 *p = kmap_local_page(page);
	unsigned int i;
	bool ok = true;

	for (i = 0; ok && i < PAGE_SIZE / sizeof(*p); i++)
		ok = p[i] == ballast_hint_pattern(page, i);
	kunmap_local(p);
	return ok;
}

/* The first hint_check blocks of the run: write them now, check them later. */
static void ballast_hint_write_some(struct ballast *b)
{
	unsigned int n = READ_ONCE(b->hint_check);
	struct page *page, *next;

	list_for_each_entry_safe(page, next, &b->hint_blocks, lru) {
		if (!n--)
			break;
		ballast_hint_write(page);
		list_move_tail(&page->lru, &b->hint_written);
		atomic64_inc(&b->c.hint_check_pages);
	}
}

/*
 * Every block we hold goes back to the page allocator; the written ones
 * are checked first.  Whenever they come back, DONE or not, the device had
 * no right to change them (D-12).
 */
void ballast_hint_return(struct ballast *b)
{
	struct page *page, *next;
	unsigned long n = 0;

	list_for_each_entry_safe(page, next, &b->hint_written, lru) {
		if (ballast_hint_intact(page))
			atomic64_inc(&b->c.hint_check_kept);
		else
			atomic64_inc(&b->c.hint_check_lost);
	}
	list_splice_init(&b->hint_written, &b->hint_blocks);
	list_for_each_entry_safe(page, next, &b->hint_blocks, lru) {
		list_del(&page->lru);
		__free_pages(page, BALLAST_HINT_ORDER);
		n++;
	}
	atomic64_add(n << BALLAST_HINT_ORDER, &b->c.hint_pages_returned);
	WRITE_ONCE(b->hint_held, 0);
	WRITE_ONCE(b->hint_waiting, false);
}

/* Pages reclaim may have back: those of a run that has ended (STOP used). */
unsigned long ballast_hint_held(struct ballast *b)
{
	return READ_ONCE(b->hint_waiting) ? READ_ONCE(b->hint_held) : 0;
}

/*
 * Reclaim's share: the blocks of an ended run, all of them.  Never those of
 * a run under way, whose buffers the device may still hold, and never a
 * wait for one: the lock is only tried.  Returns the pages freed.
 */
unsigned long ballast_hint_shrink(struct ballast *b)
{
	unsigned long n;

	if (!mutex_trylock(&b->hint_lock))
		return 0;
	n = ballast_hint_held(b);
	if (n) {
		ballast_hint_return(b);
		atomic64_inc(&b->c.hint_shrunk);
	}
	mutex_unlock(&b->hint_lock);
	return n;
}

/*
 * One run for @id: the id, every free block we get, STOP (R-23..R-28).
 * With inject's hint_start_twice armed, the id goes twice, starting the
 * run a second time with the same id, once.
 */
static void ballast_hint_run(struct ballast *b, u32 id)
{
	unsigned int size = PAGE_SIZE << BALLAST_HINT_ORDER;
	unsigned int starts = b->hint_start_twice ? 2 : 1;
	struct scatterlist sg;
	struct page *page;

	/* An earlier run the device never answered with DONE: over now. */
	ballast_hint_return(b);
	b->hint_active = id;
	b->hint_start_twice = false;
	atomic64_inc(&b->c.hint_runs);
	while (starts--)
		if (ballast_hint_send_id(b, 0, id))
			goto fail;
	/* Stop at once when the device changes the id. */
	while (ballast_hint_cmd_id(b) == id) {
		page = alloc_pages(BALLAST_HINT_GFP, BALLAST_HINT_ORDER);
		if (!page)
			break;
		sg_init_table(&sg, 1);
		sg_set_page(&sg, page, size, 0);
		if (ballast_hint_add(b, &sg, true, page)) {
			__free_pages(page, BALLAST_HINT_ORDER);
			goto fail;
		}
		list_add_tail(&page->lru, &b->hint_blocks);
		WRITE_ONCE(b->hint_held, b->hint_held + (1UL << BALLAST_HINT_ORDER));
		atomic64_inc(&b->c.hint_blocks);
		/*
		 * A run is every free block, each zeroed by init_on_alloc:
		 * seconds of one work item where that is slow (nested), and a
		 * soft lockup on a kernel that does not preempt it.
		 */
		cond_resched();
	}
	ballast_hint_write_some(b);
	if (ballast_hint_send_id(b, 1, VIRTIO_BALLOON_CMD_ID_STOP))
		goto fail;
	/* Everything used: the device has seen the whole run. */
	if (ballast_hint_flush(b))
		goto fail;
	b->hint_stopped = jiffies;
	WRITE_ONCE(b->hint_waiting, true);
	return;
fail:
	/*
	 * A buffer could not be added, or the device was reset (by us on a
	 * timeout, or by a recovery).  Only a reset device owns none of the
	 * blocks, so reset it if it is not, and take them all back.
	 */
	if (!READ_ONCE(b->dead)) {
		atomic64_inc(&b->c.device_errors);
		ballast_kill(b, "free page hint: a buffer could not be added");
	}
	ballast_hint_return(b);
}

static void ballast_hint_work(struct work_struct *work)
{
	struct ballast *b = container_of(to_delayed_work(work), struct ballast,
					 hint_work);
	unsigned long until;
	u32 id;

	mutex_lock(&b->hint_lock);
	if (READ_ONCE(b->dead))
		goto out;
	id = ballast_hint_cmd_id(b);
	if (id == VIRTIO_BALLOON_CMD_ID_DONE) {
		if (b->hint_waiting)
			atomic64_inc(&b->c.hint_done);
		ballast_hint_return(b);
	} else if (id != VIRTIO_BALLOON_CMD_ID_STOP && id != b->hint_active) {
		ballast_hint_run(b, id);
	}
	if (!b->hint_waiting)
		goto out;
	/* Held since the STOP and no DONE: no device may keep us waiting. */
	until = b->hint_stopped + msecs_to_jiffies(ballast_hint_hold_ms);
	if (time_before(jiffies, until)) {
		__ballast_hint_queue(b, until - jiffies, false);
		goto out;
	}
	atomic64_inc(&b->c.hint_hold_expired);
	ballast_hint_return(b);
out:
	mutex_unlock(&b->hint_lock);
}

void ballast_hint_init(struct ballast *b)
{
	mutex_init(&b->hint_lock);
	INIT_LIST_HEAD(&b->hint_blocks);
	INIT_LIST_HEAD(&b->hint_written);
	INIT_DELAYED_WORK(&b->hint_work, ballast_hint_work);
}
