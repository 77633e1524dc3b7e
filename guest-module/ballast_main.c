// SPDX-License-Identifier: GPL-2.0
/*
 * ballast.ko - the driver side of virtio-balloon (virtio 1.x, section 5.5),
 * instrumented for the ballast conformance suite.  It binds to virtio device
 * id 5 in place of Linux's virtio_balloon (load one or the other: only one
 * free-page-reporting device can exist).
 *
 * What it does, and where it differs from Linux 6.1's virtio_balloon:
 *  - inflate/deflate towards num_pages, up to 256 PFNs a descriptor, `actual`
 *    written after every round.  A round is up to `batch` descriptors added
 *    to the queue and one kick; Linux sends one descriptor and waits.
 *  - deflate of pages: tell the host, wait for the ack, then free.  That is
 *    the MUST_TELL_HOST order, and we keep it without the feature too (R-11
 *    only *allows* early reuse).
 *  - deflate-on-OOM is a shrinker (count = ballooned pages, scan deflates and
 *    tells the host), the design of the 2012 auto-ballooning RFC, with
 *    Linux 6.1's OOM notifier behind it as a backstop (see
 *    ballast_oom_notify()).  The same shrinker gives back the blocks of a
 *    finished free page hint run, as Linux's does; it is registered when
 *    either feature is negotiated.
 *  - free page reporting through page_reporting_register().
 *  - PAGE_POISON as Linux does it (see ballast_validate()): accepted only
 *    when the kernel itself fills freed pages, poison_val written before
 *    DRIVER_OK.
 *  - free page hinting (hint.c), which can also use hinted pages before
 *    DONE, as the spec allows and Linux never does, to check D-12.
 *  - the stats queue answered with the same ten values Linux 6.1 sends.
 *  - no wait for the device is unbounded: every ack is awaited at most
 *    ack_timeout_ms.  On a timeout, or when the device sets
 *    DEVICE_NEEDS_RESET, the device is reset at once (so it no longer owns
 *    any buffer or page we gave it), the error is counted, and a work item
 *    re-initialises it and starts over.  Linux's driver would hang.
 *
 * Page bookkeeping: our own list of ballooned pages (page->lru), not
 * balloon_compaction's balloon_dev_info.  The fault-injection knobs need to
 * hold pages in states balloon_page_enqueue/dequeue cannot express (sent but
 * not yet acked, given back by a reset device), and compaction would add
 * migration traffic (an inflate plus a deflate per moved page) that makes
 * the counters the tests check depend on the guest's fragmentation.  The
 * price: ballooned pages are not movable, so we allocate them without
 * __GFP_MOVABLE to keep them out of movable pageblocks.  balloon_mops is
 * also no longer exported from 6.18 on; by 7.x balloon_compaction.h has
 * become balloon.h and migration is the core's business (a driver gives it
 * a migratepage callback), so a module could not bring its own movable ops
 * there even if it wanted them.  Nothing is lost on 7.x that 6.1 had here.
 *
 * Not implemented: suspend/resume.
 */
#include <linux/delay.h>
#include <linux/jiffies.h>
#include <linux/kernel.h>
#include <linux/ktime.h>
#include <linux/math64.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/oom.h>
#include <linux/page_reporting.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/swap.h>
#include <linux/vmstat.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_ring.h>

#include "ballast.h"

unsigned int ballast_ack_timeout_ms = 5000;
module_param_named(ack_timeout_ms, ballast_ack_timeout_ms, uint, 0644);
/*
 * While set, the driver leaves `actual` alone: what the device shows there
 * then is the device's own doing, which a conforming device never does
 * (`actual` is the driver's, virtio 1.2 §5.5.4).
 */
bool ballast_hold_actual;
MODULE_PARM_DESC(ack_timeout_ms, "Wait at most this long for the device to use a buffer (default 5000)");

static unsigned int batch = 1;
module_param(batch, uint, 0444);
MODULE_PARM_DESC(batch, "Inflate/deflate descriptors in flight per kick, 1-64 (default 1, like Linux)");

static unsigned long long disable_features;
module_param(disable_features, ullong, 0444);
MODULE_PARM_DESC(disable_features, "Mask of feature bits never to accept (e.g. 0x4: DEFLATE_ON_OOM)");

/*
 * A driver breaking R-34 on purpose: with PAGE_POISON negotiated, poison_val
 * is written only after DRIVER_OK, at the next probe or reset (inject's
 * reset_device), so the device sees DRIVER_OK with it unwritten.  The late
 * write itself changes poison_val while DRIVER_OK unless the value is the
 * one the device reset it to (0, init_on_free's): with page poisoning it
 * breaks R-35 as well.
 */
static bool poison_late;
module_param(poison_late, bool, 0644);
MODULE_PARM_DESC(poison_late, "Break R-34 on purpose: write poison_val after DRIVER_OK (next probe or reset)");

/*
 * DEFAULT_SEEKS (2) deflated the whole balloon for a hog that needed half
 * of it (512 MiB guest, 256 MiB balloon, hog 128 MiB short: 256 MiB freed);
 * 32 freed 135 MiB for that hog and 238 MiB for one 230 MiB short, with no
 * OOM kill either way.  Reclaim scans a shrinker in proportion to 1/seeks.
 */
static unsigned int shrinker_seeks = 32;
module_param(shrinker_seeks, uint, 0444);
MODULE_PARM_DESC(shrinker_seeks, "The shrinker's seeks: higher deflates less eagerly (default 32)");

static unsigned int oom_backoff_ms = 5000;
module_param(oom_backoff_ms, uint, 0644);
MODULE_PARM_DESC(oom_backoff_ms, "After a shrinker deflate, hold off re-inflating this long (default 5000)");

/* An allocation of ours must never dip into reserves or retry hard. */
#define BALLAST_GFP	(GFP_HIGHUSER | __GFP_NOMEMALLOC | __GFP_NORETRY | __GFP_NOWARN)

struct page *ballast_alloc_page(void)
{
	return alloc_page(BALLAST_GFP);
}

void ballast_count_used(struct ballast *b, enum ballast_vq q, u32 len)
{
	struct ballast_qstat *s = &b->c.q[q];

	atomic64_inc(&s->used_bufs);
	atomic64_add(len, &s->used_len);
	atomic64_set(&s->used_len_last, len);
}

static void ballast_max(atomic64_t *v, s64 n)
{
	if (n > atomic64_read(v))
		atomic64_set(v, n);
}

/*
 * ballast_kill - reset the device now; it then owns nothing of ours.
 *
 * Called on an ack timeout (from the waiting thread) and at the start of a
 * recovery.  After virtio_reset_device() the device may not touch guest
 * memory, so every page and buffer in flight is the driver's again.  The
 * waiters see ->dead and give up.  Unless the device is being removed, the
 * recovery work re-initialises it.
 */
static void __ballast_kill(struct ballast *b, const char *why, bool recover)
{
	bool queued = false;

	mutex_lock(&b->kill_lock);
	if (!READ_ONCE(b->dead)) {
		if (why)
			dev_warn(&b->vdev->dev, "resetting the device: %s\n", why);
		virtio_reset_device(b->vdev);
		WRITE_ONCE(b->dead, true);
		queued = recover;
	}
	mutex_unlock(&b->kill_lock);

	if (queued) {
		unsigned long flags;

		spin_lock_irqsave(&b->stop_lock, flags);
		if (!b->removing)
			queue_work(b->wq, &b->recover_work);
		spin_unlock_irqrestore(&b->stop_lock, flags);
	}
	wake_up_all(&b->acked);
	wake_up_all(&b->stats_wait);
}

void ballast_kill(struct ballast *b, const char *why)
{
	__ballast_kill(b, why, true);
}

/* The device did not use a buffer within ack_timeout_ms: count it, reset. */
void ballast_ack_timeout(struct ballast *b, const char *why)
{
	atomic64_inc(&b->c.ack_timeouts);
	atomic64_inc(&b->c.device_errors);
	ballast_kill(b, why);
}

bool ballast_needs_reset(struct ballast *b)
{
	if (READ_ONCE(b->dead))
		return false;
	return b->vdev->config->get_status(b->vdev) & VIRTIO_CONFIG_S_NEEDS_RESET;
}

static unsigned int ballast_reap(struct ballast *b, enum ballast_vq q)
{
	struct ballast_req *r;
	unsigned int len, n = 0;

	while ((r = virtqueue_get_buf(b->vqs[q], &len))) {
		r->done = true;
		r->used_len = len;
		ballast_count_used(b, q, len);
		n++;
	}
	return n;
}

static bool ballast_collect(struct ballast *b, enum ballast_vq q,
			    unsigned int *done, unsigned int want)
{
	*done += ballast_reap(b, q);
	return *done >= want || READ_ONCE(b->dead);
}

/*
 * Wait up to ack_timeout_ms for @want buffers of @q to come back; what
 * wait_event_timeout() returns.  With inject's touch armed (write_inflight,
 * write_deflating, report_write_inflight), write its page every
 * BALLAST_TOUCH_MS meanwhile: it is in the request just sent, so each write
 * before the ack breaks a duty on purpose, and a device
 * that holds the buffer a while sees one.  Reports have a touch of their
 * own: they come from page_reporting's work, not under @lock as the knobs
 * that write b->touch.
 */
#define BALLAST_TOUCH_MS	10

static void ballast_touch_once(struct ballast_touch *t)
{
	u32 *p = page_address(t->page);
	u32 *w = &p[t->writes % (PAGE_SIZE / sizeof(*p))];

	WRITE_ONCE(*w, t->keep ? READ_ONCE(*w) : t->writes);
	t->writes++;
}

static long ballast_wait_used(struct ballast *b, enum ballast_vq q,
			      unsigned int *done, unsigned int want)
{
	unsigned long end = jiffies + msecs_to_jiffies(ballast_ack_timeout_ms);
	struct ballast_touch *t = q == BQ_REPORTING ? &b->report_touch : &b->touch;
	long left;

	if (!t->page)
		return wait_event_timeout(b->acked, ballast_collect(b, q, done, want),
					  msecs_to_jiffies(ballast_ack_timeout_ms));
	do {
		ballast_touch_once(t);
		left = wait_event_timeout(b->acked, ballast_collect(b, q, done, want),
					  msecs_to_jiffies(BALLAST_TOUCH_MS));
	} while (!left && time_before(jiffies, end));
	return left;
}

/*
 * ballast_xfer_send - add @n requests to queue @q and kick once.
 *
 * Returns how many were added (the first ones of @reqs), or a negative
 * errno from virtqueue_add_*() when not even the first could be (nothing
 * sent), -EIO when the device is dead.  The caller serialises use of @q.
 */
int ballast_xfer_send(struct ballast *b, enum ballast_vq q,
		      struct ballast_req *reqs, unsigned int n, gfp_t gfp)
{
	struct virtqueue *vq = b->vqs[q];
	unsigned int i, added = 0;
	int err = 0;

	if (READ_ONCE(b->dead) || !vq)
		return -EIO;

	for (i = 0; i < n; i++) {
		reqs[i].done = false;
		reqs[i].used_len = 0;
		if (reqs[i].in)
			err = virtqueue_add_inbuf(vq, reqs[i].sg, reqs[i].nsg,
						  &reqs[i], gfp);
		else
			err = virtqueue_add_outbuf(vq, reqs[i].sg, reqs[i].nsg,
						   &reqs[i], gfp);
		if (err)
			break;
		added++;
	}
	if (!added) {
		dev_warn_ratelimited(&b->vdev->dev, "queue %d: add failed: %d\n",
				     q, err);
		return err;
	}
	atomic64_add(added, &b->c.q[q].descs);
	if (q == BQ_INFLATE || q == BQ_DEFLATE)
		ballast_max(&b->c.max_inflight, added);

	if (b->skip_kick && q == BQ_INFLATE) {
		b->skip_kick = false;
	} else {
		virtqueue_kick(vq);
		atomic64_inc(&b->c.q[q].kicks);
	}
	return added;
}

/*
 * ballast_xfer_wait - wait up to ack_timeout_ms for the @added requests
 * ballast_xfer_send() put on @q at jiffies @start to come back.
 *
 * Returns 0 when the device used all of them; -ETIMEDOUT when it did not
 * in time (the device has then been reset); -EIO when it died meanwhile.
 * Each request's done says whether it came back.
 */
int ballast_xfer_wait(struct ballast *b, enum ballast_vq q, unsigned int added,
		      unsigned long start, unsigned int *wait_ms)
{
	unsigned int done = 0;
	long left;

	left = ballast_wait_used(b, q, &done, added);
	if (wait_ms)
		*wait_ms = jiffies_to_msecs(jiffies - start);
	if (done >= added)
		return 0;
	if (READ_ONCE(b->dead))
		return -EIO;
	if (!left) {
		dev_warn(&b->vdev->dev, "queue %d: %u of %u buffers not used after %u ms\n",
			 q, added - done, added, ballast_ack_timeout_ms);
		ballast_ack_timeout(b, "ack timeout");
		return -ETIMEDOUT;
	}
	return -EIO;
}

/*
 * ballast_xfer - add @n requests to queue @q, kick once, wait for all.
 *
 * Returns 0 when the device used every request; a negative errno from
 * virtqueue_add_*() when not even the first could be added (nothing sent);
 * -ETIMEDOUT when the device did not use them within ack_timeout_ms (the
 * device has then been reset); -EIO when the device died meanwhile.
 * reqs[i].done says which ones came back.  The caller serialises use of @q.
 */
int ballast_xfer(struct ballast *b, enum ballast_vq q,
		 struct ballast_req *reqs, unsigned int n, gfp_t gfp,
		 unsigned int *wait_ms)
{
	unsigned long start = jiffies;
	int added;

	if (wait_ms)
		*wait_ms = 0;
	added = ballast_xfer_send(b, q, reqs, n, gfp);
	if (added < 0)
		return added;
	return ballast_xfer_wait(b, q, added, start, wait_ms);
}

static void ballast_ack(struct virtqueue *vq)
{
	struct ballast *b = vq->vdev->priv;

	wake_up(&b->acked);
}

void ballast_update_actual(struct ballast *b)
{
	u32 actual = b->nr_pages;

	if (READ_ONCE(b->dead) || READ_ONCE(ballast_hold_actual))
		return;
	/* Legacy balloon config space is LE too. */
	virtio_cwrite_le(b->vdev, struct virtio_balloon_config, actual, &actual);
	atomic64_set(&b->c.actual, actual);
}

static u32 ballast_read_target(struct ballast *b)
{
	u32 num_pages;

	virtio_cread_le(b->vdev, struct virtio_balloon_config, num_pages,
			&num_pages);
	atomic64_set(&b->c.num_pages, num_pages);
	return num_pages;
}

/* A page the device acked as inflated joins the balloon. */
void ballast_balloon_add(struct ballast *b, struct page *page)
{
	__SetPageOffline(page);
	/* Without deflate-on-OOM the page is gone for good: leave MemTotal. */
	if (!ballast_has(b, VIRTIO_BALLOON_F_DEFLATE_ON_OOM))
		adjust_managed_page_count(page, -1);
	list_add(&page->lru, &b->pages);
	b->nr_pages++;
	atomic64_set(&b->c.balloon_pages, b->nr_pages);
}

/* A page that was in the balloon goes back to the page allocator. */
static void ballast_page_release(struct ballast *b, struct page *page)
{
	__ClearPageOffline(page);
	if (!ballast_has(b, VIRTIO_BALLOON_F_DEFLATE_ON_OOM))
		adjust_managed_page_count(page, 1);
	__free_page(page);
}

static void ballast_free_list(struct list_head *list)
{
	struct page *page, *next;

	list_for_each_entry_safe(page, next, list, lru) {
		list_del(&page->lru);
		__free_page(page);
	}
}

/*
 * With alloc_blocks set, a descriptor's pages come from one block of
 * BALLAST_PFNS_PER_DESC pages split into order-0 pages: one trip through
 * the buddy allocator instead of 256 (make bench found allocating 90% of a
 * nested ballast.ko inflate on ballast-vmm, the device's turn 4%).  The
 * rest of the driver sees the same order-0 pages, now contiguous.  Only a
 * block already free is taken, without reclaim or compaction: when none
 * is, the pages come one by one.  Off by default: like Linux's driver, the
 * device then sees scattered PFNs.
 */
#define BALLAST_BLOCK_ORDER	8
static_assert(1 << BALLAST_BLOCK_ORDER == BALLAST_PFNS_PER_DESC);

static unsigned int ballast_alloc_block(struct ballast *b,
					struct list_head *list, u32 *pfns)
{
	struct page *page;
	unsigned int i;

	page = alloc_pages((BALLAST_GFP & ~__GFP_RECLAIM) | __GFP_NOWARN,
			   BALLAST_BLOCK_ORDER);
	if (!page)
		return 0;
	split_page(page, BALLAST_BLOCK_ORDER);
	atomic64_inc(&b->c.inflate_blocks);
	for (i = 0; i < BALLAST_PFNS_PER_DESC; i++) {
#ifdef nth_page
		struct page *p = nth_page(page, i);
#else
		/*
		 * nth_page() is gone (6.18): the struct pages of one buddy
		 * block are contiguous on every memory model Linux still has.
		 */
		struct page *p = page + i;
#endif

		pfns[i] = page_to_pfn(p);
		list_add(&p->lru, list);
	}
	return BALLAST_PFNS_PER_DESC;
}

/*
 * One inflate round: up to ->batch descriptors of up to 256 PFNs, one kick.
 * Returns the pages the device acked, 0 when no page could be allocated,
 * or a negative errno when nothing was acked; *puff says an allocation
 * failed.
 */
static long ballast_fill(struct ballast *b, unsigned long want, bool *puff)
{
	u64 t_start = ktime_get_ns(), t_sent;
	unsigned int nd = 0, i, n;
	long got = 0;
	int err = 0;

	while (nd < b->batch && want) {
		u32 *pfns = b->pfns[nd];
		struct page *page;

		INIT_LIST_HEAD(&b->slot[nd]);
		n = 0;
		if (READ_ONCE(b->alloc_blocks) && want >= BALLAST_PFNS_PER_DESC) {
			n = ballast_alloc_block(b, &b->slot[nd], pfns);
			want -= n;
		}
		for (; n < BALLAST_PFNS_PER_DESC && want; n++, want--) {
			page = ballast_alloc_page();
			if (!page) {
				*puff = true;
				break;
			}
			pfns[n] = page_to_pfn(page);
			list_add(&page->lru, &b->slot[nd]);
		}
		if (!n)
			break;
		sg_init_one(&b->sgs[nd], pfns, n * sizeof(u32));
		b->reqs[nd] = (struct ballast_req){ .sg = &b->sgs[nd], .nsg = 1 };
		b->slot_n[nd] = n;
		nd++;
		if (*puff)
			break;
	}
	if (*puff) {
		atomic64_inc(&b->c.alloc_failures);
		dev_info_ratelimited(&b->vdev->dev, "out of puff\n");
	}
	/*
	 * The bench splits an inflate's time by these: the guest's
	 * allocation, the device's turn, and the rest of the round.
	 */
	t_sent = ktime_get_ns();
	atomic64_add(div_u64(t_sent - t_start, NSEC_PER_USEC),
		     &b->c.inflate_alloc_us);
	if (!nd)
		goto out;

	err = ballast_xfer(b, BQ_INFLATE, b->reqs, nd, GFP_KERNEL, NULL);
	atomic64_add(div_u64(ktime_get_ns() - t_sent, NSEC_PER_USEC),
		     &b->c.inflate_xfer_us);
	atomic64_inc(&b->c.inflate_rounds);
	for (i = 0; i < nd; i++) {
		struct page *page, *next;

		if (!b->reqs[i].done) {
			/* Never sent, or the device was reset: ours again. */
			ballast_free_list(&b->slot[i]);
			continue;
		}
		list_for_each_entry_safe(page, next, &b->slot[i], lru) {
			list_del(&page->lru);
			ballast_balloon_add(b, page);
		}
		got += b->slot_n[i];
	}
	atomic64_add(got, &b->c.pages_inflated);
out:
	atomic64_add(div_u64(ktime_get_ns() - t_start, NSEC_PER_USEC),
		     &b->c.inflate_us);
	return got ? got : (err ? err : 0);
}

/*
 * One deflate round: tell the host first, free the pages after its ack.
 * Returns the pages freed after an ack, or a negative errno.
 */
long ballast_leak(struct ballast *b, unsigned long want, gfp_t gfp)
{
	unsigned int nd = 0, i, n;
	long got = 0;
	int err;

	while (nd < b->batch && want && b->nr_pages) {
		u32 *pfns = b->pfns[nd];
		struct page *page;

		INIT_LIST_HEAD(&b->slot[nd]);
		for (n = 0; n < BALLAST_PFNS_PER_DESC && want &&
			    !list_empty(&b->pages); n++, want--) {
			page = list_first_entry(&b->pages, struct page, lru);
			list_move(&page->lru, &b->slot[nd]);
			b->nr_pages--;
			pfns[n] = page_to_pfn(page);
		}
		sg_init_one(&b->sgs[nd], pfns, n * sizeof(u32));
		b->reqs[nd] = (struct ballast_req){ .sg = &b->sgs[nd], .nsg = 1 };
		b->slot_n[nd] = n;
		nd++;
	}
	atomic64_set(&b->c.balloon_pages, b->nr_pages);
	if (!nd)
		return 0;

	err = ballast_xfer(b, BQ_DEFLATE, b->reqs, nd, gfp, NULL);
	atomic64_inc(&b->c.deflate_rounds);
	for (i = 0; i < nd; i++) {
		struct page *page, *next;
		bool acked = b->reqs[i].done;

		if (!acked && !READ_ONCE(b->dead)) {
			/* Never sent: still in the balloon. */
			list_for_each_entry_safe(page, next, &b->slot[i], lru) {
				list_move(&page->lru, &b->pages);
				b->nr_pages++;
			}
			continue;
		}
		/* Acked, or the device was reset and forgot them. */
		list_for_each_entry_safe(page, next, &b->slot[i], lru) {
			list_del(&page->lru);
			ballast_page_release(b, page);
		}
		if (acked)
			got += b->slot_n[i];
		else
			atomic64_add(b->slot_n[i], &b->c.pages_dropped);
	}
	atomic64_set(&b->c.balloon_pages, b->nr_pages);
	atomic64_add(got, &b->c.pages_deflated);
	return got ? got : (err ? err : 0);
}

/* Give every ballooned page back without telling: the device was reset. */
static void ballast_drop_all(struct ballast *b)
{
	struct page *page, *next;
	unsigned long n = 0;

	list_for_each_entry_safe(page, next, &b->pages, lru) {
		list_del(&page->lru);
		ballast_page_release(b, page);
		n++;
	}
	b->nr_pages = 0;
	atomic64_set(&b->c.balloon_pages, 0);
	atomic64_add(n, &b->c.pages_dropped);
}

void ballast_queue_update(struct ballast *b, unsigned long delay)
{
	unsigned long flags;

	spin_lock_irqsave(&b->stop_lock, flags);
	if (!b->stop_update)
		mod_delayed_work(b->wq, &b->update_work, delay);
	spin_unlock_irqrestore(&b->stop_lock, flags);
}

static void ballast_update_work(struct work_struct *work)
{
	struct ballast *b = container_of(to_delayed_work(work), struct ballast,
					 update_work);
	unsigned long delay = 0;
	bool again = false, puff = false;
	s64 diff;
	long got;

	ballast_lock(b);
	if (READ_ONCE(b->dead))
		goto out;

	diff = (s64)ballast_read_target(b) - (s64)b->nr_pages;
	if (diff > 0) {
		unsigned long until = b->last_shrink +
				      msecs_to_jiffies(oom_backoff_ms);

		if (b->shrunk && time_before(jiffies, until)) {
			/*
			 * The shrinker just gave these pages to an allocation
			 * that needed them: do not take them straight back.
			 */
			delay = until - jiffies;
			again = true;
		} else {
			b->shrunk = false;
			got = ballast_fill(b, diff, &puff);
			if (puff) {
				/*
				 * Out of puff: retry later, like Linux, even
				 * after a partial round; at once, we would
				 * take each page as soon as it is freed.
				 */
				delay = msecs_to_jiffies(200);
				again = true;
			} else {
				again = got > 0 && got < diff;
			}
		}
	} else if (diff < 0) {
		got = ballast_leak(b, -diff, GFP_KERNEL);
		again = got > 0 && got < -diff;
	}
	ballast_update_actual(b);
out:
	ballast_unlock(b);
	if (again)
		ballast_queue_update(b, delay);
}

static void ballast_config_changed(struct virtio_device *vdev)
{
	struct ballast *b = vdev->priv;
	unsigned long flags;

	atomic64_inc(&b->c.config_changes);
	if (!READ_ONCE(b->dead) &&
	    (vdev->config->get_status(vdev) & VIRTIO_CONFIG_S_NEEDS_RESET)) {
		atomic64_inc(&b->c.needs_reset);
		atomic64_inc(&b->c.device_errors);
		spin_lock_irqsave(&b->stop_lock, flags);
		if (!b->removing)
			queue_work(b->wq, &b->recover_work);
		spin_unlock_irqrestore(&b->stop_lock, flags);
		return;
	}
	ballast_queue_update(b, 0);
	ballast_hint_queue(b, 0);
}

/* --- stats queue ------------------------------------------------------ */

static void ballast_stat(struct ballast *b, struct virtio_balloon_stat *buf,
			 unsigned int *idx, u16 tag, u64 val)
{
	buf[*idx].tag = cpu_to_virtio16(b->vdev, tag);
	buf[*idx].val = cpu_to_virtio64(b->vdev, val);
	(*idx)++;
}

#define ballast_bytes(x) ((u64)(x) << PAGE_SHIFT)

/*
 * Linux 6.1's ten entries, in its order, into @buf (BALLAST_STATS_MAX);
 * @inject breaks the answer as inject.c's knob asked.
 */
static unsigned int ballast_fill_stats(struct ballast *b,
				       struct virtio_balloon_stat *buf,
				       enum ballast_stats_inject inject)
{
	unsigned long events[NR_VM_EVENT_ITEMS];
	unsigned int idx = 0;
	struct sysinfo i;
	long available;

	all_vm_events(events);
	si_meminfo(&i);
	available = si_mem_available();

#ifdef CONFIG_VM_EVENT_COUNTERS
	ballast_stat(b, buf, &idx, VIRTIO_BALLOON_S_SWAP_IN, ballast_bytes(events[PSWPIN]));
	ballast_stat(b, buf, &idx, VIRTIO_BALLOON_S_SWAP_OUT, ballast_bytes(events[PSWPOUT]));
	ballast_stat(b, buf, &idx, VIRTIO_BALLOON_S_MAJFLT, events[PGMAJFAULT]);
	ballast_stat(b, buf, &idx, VIRTIO_BALLOON_S_MINFLT, events[PGFAULT]);
#ifdef CONFIG_HUGETLB_PAGE
	ballast_stat(b, buf, &idx, VIRTIO_BALLOON_S_HTLB_PGALLOC, events[HTLB_BUDDY_PGALLOC]);
	ballast_stat(b, buf, &idx, VIRTIO_BALLOON_S_HTLB_PGFAIL, events[HTLB_BUDDY_PGALLOC_FAIL]);
#endif
#endif
	/* In the middle, so a device that stops at it loses known tags. */
	if (inject == BALLAST_STATS_INJ_UNKNOWN)
		ballast_stat(b, buf, &idx, BALLAST_STATS_UNKNOWN_TAG, BALLAST_STATS_UNKNOWN_VAL);
	ballast_stat(b, buf, &idx, VIRTIO_BALLOON_S_MEMFREE, ballast_bytes(i.freeram));
	/* The same value again: only the repeated tag is wrong. */
	if (inject == BALLAST_STATS_INJ_REPEAT)
		ballast_stat(b, buf, &idx, VIRTIO_BALLOON_S_MEMFREE, ballast_bytes(i.freeram));
	ballast_stat(b, buf, &idx, VIRTIO_BALLOON_S_MEMTOT, ballast_bytes(i.totalram));
	ballast_stat(b, buf, &idx, VIRTIO_BALLOON_S_AVAIL, ballast_bytes(available));
	/* Every other answer has it: this one's subset differs. */
	if (inject != BALLAST_STATS_INJ_DROP)
		ballast_stat(b, buf, &idx, VIRTIO_BALLOON_S_CACHES,
			     ballast_bytes(global_node_page_state(NR_FILE_PAGES)));
	return idx;
}

/*
 * The device used a stats buffer: that is its request for fresh stats.
 * While it holds inject's second buffer (stats_second) it still has one,
 * so the request for ours waits until it gives that one back too.
 */
static void ballast_stats_request(struct virtqueue *vq)
{
	struct ballast *b = vq->vdev->priv;
	unsigned long flags;
	bool got = false, answer;
	unsigned int len;
	void *buf;

	spin_lock_irqsave(&b->stats_lock, flags);
	while ((buf = virtqueue_get_buf(vq, &len))) {
		if (buf == b->stats_extra)
			b->stats_extra_held = false;
		else
			b->stats_owned = true;
		atomic64_inc(&b->c.stats_requests);
		ballast_count_used(b, BQ_STATS, len);
		got = true;
	}
	answer = b->stats_owned && !b->stats_extra_held;
	spin_unlock_irqrestore(&b->stats_lock, flags);
	if (!got)
		return;
	wake_up_all(&b->stats_wait);
	if (!answer)
		return;

	spin_lock_irqsave(&b->stop_lock, flags);
	if (!b->stop_update)
		queue_work(b->wq, &b->stats_work);
	spin_unlock_irqrestore(&b->stop_lock, flags);
}

/*
 * Add @n entries of @buf to the stats queue, @kick after DRIVER_OK.  With
 * stats_lock held: the add and the kick of the work and of inject's
 * stats_second must not interleave.
 */
static int ballast_stats_add(struct ballast *b, struct virtio_balloon_stat *buf,
			     unsigned int n, bool kick)
{
	struct virtqueue *vq = b->vqs[BQ_STATS];
	struct scatterlist sg;
	int err;

	sg_init_one(&sg, buf, n * sizeof(buf[0]));
	err = virtqueue_add_outbuf(vq, &sg, 1, buf, GFP_ATOMIC);
	if (err) {
		atomic64_inc(&b->c.device_errors);
		dev_warn_ratelimited(&b->vdev->dev, "stats: add failed: %d\n", err);
		return err;
	}
	atomic64_inc(&b->c.q[BQ_STATS].descs);
	if (kick) {
		virtqueue_kick(vq);
		atomic64_inc(&b->c.q[BQ_STATS].kicks);
	}
	return 0;
}

/* Refill the one stats buffer and hand it back.  @kick: after DRIVER_OK. */
static int ballast_stats_send(struct ballast *b, bool kick)
{
	enum ballast_stats_inject inject;
	unsigned long flags;
	unsigned int n;
	int err;

	spin_lock_irqsave(&b->stats_lock, flags);
	inject = b->stats_inject_armed;
	/* Not ours, or the device holds inject's second buffer. */
	if (!b->stats_owned || b->stats_extra_held) {
		spin_unlock_irqrestore(&b->stats_lock, flags);
		return 0;
	}
	spin_unlock_irqrestore(&b->stats_lock, flags);

	/* We own the buffer (the device gave it back): fill it unlocked. */
	n = ballast_fill_stats(b, b->stats, inject);

	spin_lock_irqsave(&b->stats_lock, flags);
	err = ballast_stats_add(b, b->stats, n, kick);
	if (!err) {
		b->stats_owned = false;
		if (inject) {
			b->stats_inject_armed = BALLAST_STATS_INJ_NONE;
			b->stats_inject_sent = true;
			b->stats_inject_base = atomic64_read(&b->c.stats_requests);
		}
	}
	spin_unlock_irqrestore(&b->stats_lock, flags);
	if (err)
		return err;
	if (kick)
		atomic64_inc(&b->c.stats_answered);
	else
		atomic64_inc(&b->c.stats_primed);
	if (inject)
		wake_up_all(&b->stats_wait);
	return 0;
}

/*
 * inject.c's stats_second: a second buffer, with the same entries as every
 * answer, made available while the device holds ours.  -EAGAIN when
 * the device holds none (it just asked: the answer is on its way), -EBUSY
 * when it still holds the second one from last time.
 */
int ballast_stats_second(struct ballast *b)
{
	unsigned long flags;
	unsigned int n;
	int err = 0;

	spin_lock_irqsave(&b->stats_lock, flags);
	if (b->stats_extra_held)
		err = -EBUSY;
	spin_unlock_irqrestore(&b->stats_lock, flags);
	if (err)
		return err;

	/* The device does not hold it: ours to fill, outside the lock. */
	n = ballast_fill_stats(b, b->stats_extra, BALLAST_STATS_INJ_NONE);

	spin_lock_irqsave(&b->stats_lock, flags);
	if (b->stats_owned) {
		err = -EAGAIN;
	} else {
		err = ballast_stats_add(b, b->stats_extra, n, true);
		b->stats_extra_held = !err;
	}
	spin_unlock_irqrestore(&b->stats_lock, flags);
	return err;
}

static void ballast_stats_work(struct work_struct *work)
{
	struct ballast *b = container_of(work, struct ballast, stats_work);

	if (!READ_ONCE(b->dead))
		ballast_stats_send(b, true);
}

/* --- free page reporting ---------------------------------------------- */

static int ballast_report(struct page_reporting_dev_info *pr,
			  struct scatterlist *sg, unsigned int nents)
{
	struct ballast *b = container_of(pr, struct ballast, pr_dev);
	struct ballast_req req = { .sg = sg, .nsg = nents, .in = true };
	struct scatterlist *s;
	u64 bytes = 0;
	unsigned int i;
	int err;

	/*
	 * No indirect descriptors (see ballast_validate) and a queue of at
	 * least PAGE_REPORTING_CAPACITY entries: adding cannot allocate.
	 * On a timeout ballast_xfer() has reset the device before we return,
	 * so page_reporting may hand these pages out again safely.
	 */
	mutex_lock(&b->report_lock);
	if (atomic_xchg(&b->report_write_armed, 0))
		ballast_touch_arm(&b->report_touch, sg_page(sg), true);
	err = ballast_xfer(b, BQ_REPORTING, &req, 1, GFP_NOWAIT | __GFP_NOWARN,
			   NULL);
	if (b->report_touch.page) {
		u32 writes = ballast_touch_disarm(&b->report_touch);

		atomic64_add(writes, &b->c.report_writes);
		/* Not sent, so never waited on: the next report, then. */
		if (!writes)
			atomic_set(&b->report_write_armed, 1);
	}
	mutex_unlock(&b->report_lock);
	if (err)
		return err;
	for_each_sg(sg, s, nents, i)
		bytes += s->length;
	atomic64_inc(&b->c.report_calls);
	atomic64_add(nents, &b->c.reported_ranges);
	atomic64_add(bytes, &b->c.reported_bytes);
	return 0;
}

static int ballast_reporting_start(struct ballast *b)
{
	int err;

	if (!ballast_has(b, VIRTIO_BALLOON_F_REPORTING) || b->pr_registered)
		return 0;
	if (virtqueue_get_vring_size(b->vqs[BQ_REPORTING]) < PAGE_REPORTING_CAPACITY)
		return -ENOSPC;
	b->pr_dev.report = ballast_report;
#ifdef PAGE_REPORTING_ORDER_UNSPECIFIED
	/*
	 * Newer kernels (7.x here) read an order of 0 as "report order-0
	 * pages" rather than "no preference": ask for the default
	 * (pageblock_order, 2 MiB on x86-64) explicitly, as 6.1 gave it.
	 * Their new capacity field stays 0, PAGE_REPORTING_CAPACITY entries a
	 * report as before (Linux's own driver now fills its whole ring).
	 */
	b->pr_dev.order = PAGE_REPORTING_ORDER_UNSPECIFIED;
#endif
	err = page_reporting_register(&b->pr_dev);
	if (err) {
		dev_err(&b->vdev->dev,
			"page_reporting_register: %d (is virtio_balloon bound too?)\n",
			err);
		return err;
	}
	b->pr_registered = true;
	return 0;
}

static void ballast_reporting_stop(struct ballast *b)
{
	if (b->pr_registered) {
		page_reporting_unregister(&b->pr_dev);
		b->pr_registered = false;
	}
}

/* --- deflate on OOM: the shrinker -------------------------------------- */

static struct ballast *ballast_from_shrinker(struct shrinker *s)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 7, 0)
	return s->private_data;
#else
	return container_of(s, struct ballast, shrinker);
#endif
}

static unsigned long ballast_shrink_count(struct shrinker *s,
					  struct shrink_control *sc)
{
	struct ballast *b = ballast_from_shrinker(s);

	atomic64_inc(&b->c.shrinker_count_calls);
	return ballast_hint_held(b) +
	       (ballast_has(b, VIRTIO_BALLOON_F_DEFLATE_ON_OOM) ? READ_ONCE(b->nr_pages) : 0);
}

/*
 * Pages the shrinker gives back are on no LRU, so reclaim would count them
 * as no progress and, after a few rounds, call the OOM killer while we are
 * freeing memory as fast as the device acks. Account them as slab and xfs
 * do theirs.
 */
static void ballast_account_reclaimed(unsigned long pages)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 4, 0)
	mm_account_reclaimed_pages(pages);
#else
	if (current->reclaim_state)
		current->reclaim_state->reclaimed_slab += pages;
#endif
}

/*
 * Deflate on OOM: up to @want balloon pages back, the host told first.
 * @may_wait: the caller may sleep until the update work's round ends.
 */
static unsigned long ballast_shrink_balloon(struct ballast *b, bool may_wait,
					    unsigned long want)
{
	unsigned long freed = 0;
	long got;

	/* Reclaim for an allocation of our own, made with the lock held. */
	if (READ_ONCE(b->lock_owner) == current)
		return SHRINK_STOP;
	/*
	 * While the balloon fills, the update work holds the lock for all but
	 * a moment of each round.  A shrinker that gave up on a held lock could
	 * find it held on every retry of a reclaim, and the allocation it was
	 * to serve went to the OOM killer: processes started one after another
	 * while the balloon filled were OOM-killed in 6 of 7 rounds.  Direct
	 * reclaim, when it may sleep, waits out the round: at most one device
	 * ack, itself bounded by ack_timeout_ms.  kswapd does not: it balances
	 * towards the high watermark, and waiting there deflated the balloon
	 * each time a round dipped below the low one (module.bats' out-of-puff
	 * test took 49 s instead of 13).
	 */
	if (!mutex_trylock(&b->lock)) {
		if (!may_wait)
			return SHRINK_STOP;
		atomic64_inc(&b->c.shrinker_waits);
		mutex_lock(&b->lock);
	}
	ballast_lock_taken(b);
	while (freed < want && b->nr_pages && !READ_ONCE(b->dead)) {
		got = ballast_leak(b, want - freed, GFP_NOWAIT | __GFP_NOWARN);
		if (got <= 0)
			break;
		freed += got;
	}
	if (freed) {
		b->last_shrink = jiffies;
		b->shrunk = true;
		ballast_update_actual(b);
		atomic64_add(freed, &b->c.shrinker_pages_freed);
	}
	ballast_unlock(b);
	return freed;
}

/*
 * Hinted blocks first: they cost the host nothing to give back, where a
 * deflate takes memory the host may have handed to someone else.
 */
static unsigned long ballast_shrink_scan(struct shrinker *s,
					 struct shrink_control *sc)
{
	struct ballast *b = ballast_from_shrinker(s);
	unsigned long freed, got;

	atomic64_inc(&b->c.shrinker_scan_calls);
	freed = ballast_hint_shrink(b);
	if (freed < sc->nr_to_scan && ballast_has(b, VIRTIO_BALLOON_F_DEFLATE_ON_OOM)) {
		got = ballast_shrink_balloon(b, gfpflags_allow_blocking(sc->gfp_mask) &&
					     !current_is_kswapd(),
					     sc->nr_to_scan - freed);
		if (got == SHRINK_STOP && !freed)
			return SHRINK_STOP;
		if (got != SHRINK_STOP)
			freed += got;
	}
	if (freed)
		ballast_account_reclaimed(freed);
	return freed;
}

/*
 * The shrinker alone let the OOM killer take a process while the balloon
 * still held 290 MiB (features.bats' dd, Linux 7.3 on QEMU, 1 of 8 runs):
 * pages we deflate go back to the unmovable pageblocks they came from, the
 * process's movable allocations then fall back into those blocks, and each
 * fallback boosts the zone's watermarks (free 8196 kB against min 8432 kB,
 * 5836 kB of it boost).  With no swap, reclaim counts no page as
 * reclaimable and gives up before the shrinker is asked again.  Linux 6.1
 * deflates from the OOM notifier instead; here it is the last word: on the
 * OOM killer's call, a descriptor's worth of pages, and the allocation is
 * retried rather than a process killed.  Called with oom_lock held, from
 * the allocating task, which may sleep.
 */
static int ballast_oom_notify(struct notifier_block *nb, unsigned long unused,
			      void *parm)
{
	struct ballast *b = container_of(nb, struct ballast, oom_nb);
	unsigned long *freed = parm, got;

	atomic64_inc(&b->c.oom_notify_calls);
	got = ballast_shrink_balloon(b, true, BALLAST_PFNS_PER_DESC);
	if (got == SHRINK_STOP || !got)
		return NOTIFY_OK;
	atomic64_add(got, &b->c.oom_notify_pages);
	*freed += got;
	return NOTIFY_OK;
}

static void ballast_oom_register(struct ballast *b)
{
	if (!ballast_has(b, VIRTIO_BALLOON_F_DEFLATE_ON_OOM))
		return;
	b->oom_nb.notifier_call = ballast_oom_notify;
	b->oom_nb_registered = !register_oom_notifier(&b->oom_nb);
}

static void ballast_oom_unregister(struct ballast *b)
{
	if (b->oom_nb_registered)
		unregister_oom_notifier(&b->oom_nb);
	b->oom_nb_registered = false;
}

static int ballast_shrinker_register(struct ballast *b)
{
	const char *name = dev_name(&b->vdev->dev);

	if (!ballast_has(b, VIRTIO_BALLOON_F_DEFLATE_ON_OOM) &&
	    !ballast_has(b, VIRTIO_BALLOON_F_FREE_PAGE_HINT))
		return 0;
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 7, 0)
	b->shrinker = shrinker_alloc(0, "ballast-%s", name);
	if (!b->shrinker)
		return -ENOMEM;
	b->shrinker->count_objects = ballast_shrink_count;
	b->shrinker->scan_objects = ballast_shrink_scan;
	b->shrinker->seeks = shrinker_seeks;
	b->shrinker->batch = BALLAST_PFNS_PER_DESC;
	b->shrinker->private_data = b;
	shrinker_register(b->shrinker);
	return 0;
#else
	b->shrinker.count_objects = ballast_shrink_count;
	b->shrinker.scan_objects = ballast_shrink_scan;
	b->shrinker.seeks = shrinker_seeks;
	b->shrinker.batch = BALLAST_PFNS_PER_DESC;
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 0, 0)
	{
		int err = register_shrinker(&b->shrinker, "ballast-%s", name);

		if (err)
			return err;
	}
#else
	{
		int err = register_shrinker(&b->shrinker);

		(void)name;
		if (err)
			return err;
	}
#endif
	b->shrinker_registered = true;
	return 0;
#endif
}

static void ballast_shrinker_unregister(struct ballast *b)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 7, 0)
	if (b->shrinker)
		shrinker_free(b->shrinker);
	b->shrinker = NULL;
#else
	if (b->shrinker_registered)
		unregister_shrinker(&b->shrinker);
	b->shrinker_registered = false;
#endif
}

/* --- setup, recovery, teardown ------------------------------------------ */

/*
 * Like Linux, name only the queues whose feature was negotiated: a NULL
 * name gets no transport index, so with only PAGE_REPORTING the reporting
 * queue is transport queue 2.
 */
static int ballast_init_vqs(struct ballast *b)
{
	struct virtio_device *vdev = b->vdev;
	vq_callback_t *cbs[BQ_NR] = { ballast_ack, ballast_ack };
	const char *names[BQ_NR] = { "inflate", "deflate" };
	int err;

	if (ballast_has(b, VIRTIO_BALLOON_F_STATS_VQ)) {
		names[BQ_STATS] = "stats";
		cbs[BQ_STATS] = ballast_stats_request;
	}
	if (ballast_has(b, VIRTIO_BALLOON_F_FREE_PAGE_HINT)) {
		names[BQ_FREE_PAGE] = "free_page_vq";
		cbs[BQ_FREE_PAGE] = ballast_ack;
	}
	if (ballast_has(b, VIRTIO_BALLOON_F_REPORTING)) {
		names[BQ_REPORTING] = "reporting_vq";
		cbs[BQ_REPORTING] = ballast_ack;
	}

#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 11, 0)
	{
		struct virtqueue_info info[BQ_NR] = {};
		int i;

		for (i = 0; i < BQ_NR; i++) {
			info[i].name = names[i];
			info[i].callback = cbs[i];
		}
		err = virtio_find_vqs(vdev, BQ_NR, b->vqs, info, NULL);
	}
#else
	err = virtio_find_vqs(vdev, BQ_NR, b->vqs, cbs, names, NULL);
#endif
	if (err)
		return err;

	if (ballast_has(b, VIRTIO_BALLOON_F_STATS_VQ)) {
		/*
		 * Prime the stats queue with one buffer holding real values;
		 * the kick waits for DRIVER_OK (ballast_start()).
		 */
		b->stats_owned = true;
		b->stats_extra_held = false;
		err = ballast_stats_send(b, false);
		if (err) {
			vdev->config->del_vqs(vdev);
			return err;
		}
	}
	return 0;
}

int ballast_set_batch(struct ballast *b, unsigned int n)
{
	unsigned int cap = BALLAST_BATCH_MAX;

	if (!n || n > BALLAST_BATCH_MAX)
		return -EINVAL;
	ballast_lock(b);
	if (!READ_ONCE(b->dead)) {
		cap = min(cap, virtqueue_get_vring_size(b->vqs[BQ_INFLATE]));
		cap = min(cap, virtqueue_get_vring_size(b->vqs[BQ_DEFLATE]));
	}
	b->batch = min(n, cap);
	ballast_unlock(b);
	return 0;
}

/* After DRIVER_OK: kick the primed stats buffer, reporting, first update. */
static int ballast_start(struct ballast *b)
{
	unsigned long flags;
	int err;

	if (b->vqs[BQ_STATS]) {
		virtqueue_kick(b->vqs[BQ_STATS]);
		atomic64_inc(&b->c.q[BQ_STATS].kicks);
	}
	err = ballast_reporting_start(b);
	spin_lock_irqsave(&b->stop_lock, flags);
	b->stop_update = false;
	spin_unlock_irqrestore(&b->stop_lock, flags);
	/*
	 * A stats request the device made between the kick above and now found
	 * stop_update set and queued nothing: the device then waits for a
	 * buffer we never give back (R-19; seen with stats every 20 ms, on
	 * 6.12, whose page_reporting_register() widens the window).  The work
	 * sends only if the device used our buffer.
	 */
	if (b->vqs[BQ_STATS])
		queue_work(b->wq, &b->stats_work);
	ballast_queue_update(b, 0);
	/* A run the device asked for before we were ready. */
	ballast_hint_queue(b, 0);
	return err;
}

static void ballast_stop(struct ballast *b)
{
	unsigned long flags;

	spin_lock_irqsave(&b->stop_lock, flags);
	b->stop_update = true;
	spin_unlock_irqrestore(&b->stop_lock, flags);
	cancel_delayed_work_sync(&b->update_work);
	cancel_delayed_work_sync(&b->hint_work);
	cancel_work_sync(&b->stats_work);
	ballast_reporting_stop(b);
}

/*
 * What freed pages hold: zeroes under init_on_free, else PAGE_POISON in
 * every byte (a byte pattern reads the same in either byte order).
 */
static u32 ballast_poison_val(void)
{
	return want_init_on_free() ? 0 : PAGE_POISON * 0x01010101U;
}

/* Write @val to poison_val (PAGE_POISON negotiated). */
void ballast_poison_write(struct ballast *b, u32 val)
{
	virtio_cwrite_le(b->vdev, struct virtio_balloon_config, poison_val, &val);
}

/*
 * DRIVER_OK, with poison_val written before it when PAGE_POISON was
 * negotiated: the device may read it from then on (D-15, D-17).
 * Linux writes it on every probe, 0 included; so do we, after a reset too.
 */
static void ballast_ready(struct ballast *b)
{
	bool poison = ballast_has(b, VIRTIO_BALLOON_F_PAGE_POISON);
	bool late = READ_ONCE(poison_late);

	if (poison && !late)
		ballast_poison_write(b, b->poison_val);
	virtio_device_ready(b->vdev);
	if (poison && late)
		ballast_poison_write(b, b->poison_val);
}

/* Re-run the status sequence of virtio_dev_probe() on a reset device. */
static int ballast_reinit(struct ballast *b)
{
	struct virtio_device *vdev = b->vdev;
	int err;

	virtio_reset_device(vdev);
	virtio_add_status(vdev, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	virtio_add_status(vdev, VIRTIO_CONFIG_S_DRIVER);
	err = vdev->config->finalize_features(vdev);
	if (err)
		return err;
	if (virtio_has_feature(vdev, VIRTIO_F_VERSION_1)) {
		virtio_add_status(vdev, VIRTIO_CONFIG_S_FEATURES_OK);
		if (!(vdev->config->get_status(vdev) & VIRTIO_CONFIG_S_FEATURES_OK))
			return -ENODEV;
	}
	err = ballast_init_vqs(b);
	if (err)
		return err;
	WRITE_ONCE(b->dead, false);
	ballast_ready(b);
	ballast_update_actual(b);
	return 0;
}

static void ballast_recover_work(struct work_struct *work)
{
	struct ballast *b = container_of(work, struct ballast, recover_work);
	int err;

	/* Idempotent: the device may already have been reset by a waiter. */
	__ballast_kill(b, "recovering", false);
	ballast_stop(b);

	/* The shrinker may be giving the hinted blocks back: its lock first. */
	mutex_lock(&b->hint_lock);
	ballast_hint_return(b);
	b->hint_active = 0;
	mutex_unlock(&b->hint_lock);
	ballast_lock(b);
	ballast_drop_all(b);
	b->vdev->config->del_vqs(b->vdev);
	memset(b->vqs, 0, sizeof(b->vqs));
	err = ballast_reinit(b);
	ballast_unlock(b);
	if (err) {
		virtio_add_status(b->vdev, VIRTIO_CONFIG_S_FAILED);
		dev_err(&b->vdev->dev, "recovery failed: %d; the device stays off\n",
			err);
		return;
	}
	atomic64_inc(&b->c.resets);
	dev_info(&b->vdev->dev, "device reset and re-initialised\n");
	ballast_start(b);
}

/*
 * Reset the device (unless a waiter or the recovery already did) and wait
 * until the recovery has made it usable again.  The knobs use this.
 */
void ballast_recover_sync(struct ballast *b)
{
	ballast_kill(b, NULL);
	flush_work(&b->recover_work);
}

static int ballast_validate(struct virtio_device *vdev)
{
	unsigned int i;

	if (!vdev->config->get) {
		dev_err(&vdev->dev, "config access disabled\n");
		return -EINVAL;
	}
	for (i = 0; i < 64; i++)
		if (disable_features & BIT_ULL(i))
			__virtio_clear_bit(vdev, i);
	/*
	 * PAGE_POISON as Linux's virtballoon_validate() does it.  The spec
	 * has a driver that accepts it fill deflated pages with poison_val
	 * and poison pages before reporting them; this driver
	 * does neither itself, and need not: it frees deflated pages (and
	 * pages a reset gave back) to the page allocator, which under
	 * init_on_free zeroes them and under page poisoning fills them with
	 * PAGE_POISON before anyone can use them, and every page it reports
	 * is a free page that already holds that value.  So the feature is
	 * accepted exactly when one of the two is on, with poison_val its
	 * value (ballast_poison_val()), and cleared otherwise (R-2: no value
	 * to keep).  With one of them on and no PAGE_POISON (the device did
	 * not offer it, or disable_features), a device could hand reported
	 * pages back with other contents than the kernel relies on:
	 * reporting is refused then.  init_on_free and page poisoning
	 * never run together: page poisoning turns init_on_free off at boot.
	 */
	if (!want_init_on_free() && !page_poisoning_enabled_static())
		__virtio_clear_bit(vdev, VIRTIO_BALLOON_F_PAGE_POISON);
	else if (!virtio_has_feature(vdev, VIRTIO_BALLOON_F_PAGE_POISON))
		__virtio_clear_bit(vdev, VIRTIO_BALLOON_F_REPORTING);
	/* No allocation in virtqueue_add for reporting; PFNs are GPAs. */
	__virtio_clear_bit(vdev, VIRTIO_RING_F_INDIRECT_DESC);
	__virtio_clear_bit(vdev, VIRTIO_F_ACCESS_PLATFORM);
	return 0;
}

static void ballast_free(struct ballast *b)
{
	unsigned int i;

	for (i = 0; i < BALLAST_BATCH_MAX; i++)
		kfree(b->pfns[i]);
	kfree(b->stats);
	kfree(b->stats_extra);
	if (b->wq)
		destroy_workqueue(b->wq);
	kfree(b);
}

/*
 * Our work items run per CPU, as every workqueue without WQ_UNBOUND did.
 * 6.17 named that WQ_PERCPU, and 7.x warns (a WARN with a backtrace on the
 * console) at alloc_workqueue() for a queue that says neither.
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 17, 0)
#define BALLAST_WQ_PERCPU	WQ_PERCPU
#else
#define BALLAST_WQ_PERCPU	0
#endif

/*
 * The device's feature bits 0-63.  Since the feature space grew past 64
 * bits (linux/virtio_features.h, between 6.12 and 7.x), modern virtio-pci
 * fills only get_extended_features and leaves get_features NULL: calling
 * it there oopsed the guest at probe.  virtio_get_features() asks
 * whichever the transport has.
 */
static u64 ballast_offered_features(struct virtio_device *vdev)
{
#ifdef VIRTIO_FEATURES_U64S
	u64 features[VIRTIO_FEATURES_U64S];

	virtio_get_features(vdev, features);
	return features[0];
#else
	return vdev->config->get_features(vdev);
#endif
}

static int ballast_probe(struct virtio_device *vdev)
{
	struct ballast *b;
	unsigned int i;
	int err;

	BUILD_BUG_ON(PAGE_SHIFT != VIRTIO_BALLOON_PFN_SHIFT);

	b = kzalloc(sizeof(*b), GFP_KERNEL);
	if (!b)
		return -ENOMEM;
	b->vdev = vdev;
	vdev->priv = b;
	mutex_init(&b->lock);
	mutex_init(&b->kill_lock);
	mutex_init(&b->inject_lock);
	mutex_init(&b->report_lock);
	spin_lock_init(&b->stop_lock);
	spin_lock_init(&b->stats_lock);
	INIT_LIST_HEAD(&b->pages);
	INIT_LIST_HEAD(&b->chain_held);
	INIT_DELAYED_WORK(&b->update_work, ballast_update_work);
	INIT_WORK(&b->stats_work, ballast_stats_work);
	INIT_WORK(&b->recover_work, ballast_recover_work);
	init_waitqueue_head(&b->acked);
	init_waitqueue_head(&b->stats_wait);
	ballast_hint_init(b);
	b->stop_update = true;
	b->batch = 1;
	b->poison_val = ballast_poison_val();

	err = -ENOMEM;
	for (i = 0; i < BALLAST_BATCH_MAX; i++) {
		b->pfns[i] = kcalloc(BALLAST_PFNS_PER_DESC, sizeof(u32), GFP_KERNEL);
		if (!b->pfns[i])
			goto out_free;
	}
	b->stats = kcalloc(BALLAST_STATS_MAX, sizeof(*b->stats), GFP_KERNEL);
	b->stats_extra = kcalloc(BALLAST_STATS_MAX, sizeof(*b->stats), GFP_KERNEL);
	if (!b->stats || !b->stats_extra)
		goto out_free;
	b->wq = alloc_workqueue("ballast", WQ_FREEZABLE | WQ_MEM_RECLAIM | BALLAST_WQ_PERCPU, 0);
	if (!b->wq)
		goto out_free;

	atomic64_set(&b->c.features_offered, ballast_offered_features(vdev));
	atomic64_set(&b->c.features_accepted, vdev->features);

	err = ballast_init_vqs(b);
	if (err)
		goto out_free;
	ballast_set_batch(b, batch ? batch : 1);

	err = ballast_shrinker_register(b);
	if (err)
		goto out_del_vqs;
	ballast_oom_register(b);

	ballast_ready(b);
	ballast_update_actual(b);
	err = ballast_start(b);
	if (err)
		goto out_reset;

	ballast_debugfs_init(b);
	dev_info(&vdev->dev, "ballast: features offered 0x%llx accepted 0x%llx, batch %u\n",
		 (u64)atomic64_read(&b->c.features_offered),
		 (u64)atomic64_read(&b->c.features_accepted), b->batch);
	return 0;

out_reset:
	ballast_stop(b);
	virtio_reset_device(vdev);
	ballast_oom_unregister(b);
	ballast_shrinker_unregister(b);
out_del_vqs:
	vdev->config->del_vqs(vdev);
out_free:
	ballast_free(b);
	vdev->priv = NULL;
	return err;
}

static void ballast_remove(struct virtio_device *vdev)
{
	struct ballast *b = vdev->priv;
	unsigned long flags;
	long got;

	spin_lock_irqsave(&b->stop_lock, flags);
	b->removing = true;
	spin_unlock_irqrestore(&b->stop_lock, flags);

	ballast_debugfs_exit(b);	/* waits for knobs in progress */
	ballast_inject_release(b);
	cancel_work_sync(&b->recover_work);
	ballast_oom_unregister(b);
	ballast_shrinker_unregister(b);
	ballast_stop(b);

	/* Give every page back, telling the host, as Linux does. */
	ballast_lock(b);
	while (b->nr_pages && !READ_ONCE(b->dead)) {
		got = ballast_leak(b, b->nr_pages, GFP_KERNEL);
		if (got <= 0)
			break;
	}
	ballast_update_actual(b);
	__ballast_kill(b, NULL, false);
	ballast_drop_all(b);
	ballast_hint_return(b);
	ballast_unlock(b);

	vdev->config->del_vqs(vdev);
	ballast_free(b);
}

static const struct virtio_device_id ballast_id_table[] = {
	{ VIRTIO_ID_BALLOON, VIRTIO_DEV_ANY_ID },
	{ 0 },
};

static unsigned int ballast_features[] = {
	VIRTIO_BALLOON_F_MUST_TELL_HOST,
	VIRTIO_BALLOON_F_STATS_VQ,
	VIRTIO_BALLOON_F_DEFLATE_ON_OOM,
	VIRTIO_BALLOON_F_FREE_PAGE_HINT,
	VIRTIO_BALLOON_F_PAGE_POISON,
	VIRTIO_BALLOON_F_REPORTING,
};

static struct virtio_driver ballast_driver = {
	.feature_table = ballast_features,
	.feature_table_size = ARRAY_SIZE(ballast_features),
	.driver.name = KBUILD_MODNAME,
	.driver.owner = THIS_MODULE,
	.id_table = ballast_id_table,
	.validate = ballast_validate,
	.probe = ballast_probe,
	.remove = ballast_remove,
	.config_changed = ballast_config_changed,
};

/*
 * No MODULE_DEVICE_TABLE on purpose: no alias, so nothing autoloads us next
 * to virtio_balloon; the image inserts one of the two explicitly.
 */
module_virtio_driver(ballast_driver);
MODULE_DESCRIPTION("ballast: instrumented virtio-balloon driver with fault injection");
MODULE_LICENSE("GPL");
