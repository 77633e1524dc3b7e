// SPDX-License-Identifier: GPL-2.0
/*
 * Fault injection: /sys/kernel/debug/ballast/inject/<knob>.  Writing
 * anything to a knob sends the device one malformed request and records in
 * inject/result what the device did with it.  The write returns the byte
 * count once the request was sent (whatever the device did: that is the
 * result), or an errno when it could not be sent at all.
 *
 * Every knob leaves the guest and the device usable for the next test:
 *  - it never names a page the guest uses in a way that could let the device
 *    take it: pages it sends for inflate are in the balloon already (or are
 *    put there on the ack), pages it sends for deflate or inside a
 *    device-writable buffer are private pages of the knob whose contents it
 *    checks afterwards;
 *  - when the device does not use the request within ack_timeout_ms, or sets
 *    DEVICE_NEEDS_RESET, the driver resets and re-initialises the device
 *    before the write returns (result: reset=1);
 *  - balloon pages it adds leave again through the normal update work,
 *    which brings the balloon back to num_pages: at once, or after the
 *    knob's keep_ms (chain_4097's CHAIN_KEEP_MS) or the next configuration
 *    change, whichever comes first.
 */
#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/fs.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/scatterlist.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/virtio_config.h>

#include "ballast.h"

/* 4097 PFNs: one more than 16 full descriptors, as 17 chained ones. */
#define CHAIN_PFNS	(16 * BALLAST_PFNS_PER_DESC + 1)
#define CHAIN_DESCS	17
/*
 * How long chain_4097's pages stay in the balloon unless the device's next
 * configuration change calls them back first.  A device may release
 * lazily (ballast-vmm holds a 2 MiB block it has not seen whole for
 * 100 ms, and gives a page back unreleased when it leaves the balloon
 * sooner): the host's RSS is read while the pages are still in.
 */
#define CHAIN_KEEP_MS	10000

struct ballast_knob {
	const char *name;
	int (*fn)(struct ballast *b, struct ballast_inject_result *r);
	/* How long pages it added stay in the balloon (0: none kept). */
	unsigned int keep_ms;
	/* Runs without @lock: the stats queue has its own. */
	bool stats;
};

/* Send one request on @q and note what came back. */
static void inject_send(struct ballast *b, struct ballast_inject_result *r,
			enum ballast_vq q, struct ballast_req *req)
{
	s64 nr = atomic64_read(&b->c.needs_reset);
	unsigned int ms;
	int err;

	err = ballast_xfer(b, q, req, 1, GFP_KERNEL, &ms);
	r->sent = err == 0 || err == -ETIMEDOUT || err == -EIO;
	r->acked = req->done;
	r->used_len = req->used_len;
	r->wait_ms = ms;
	r->timed_out = err == -ETIMEDOUT;
	r->needs_reset = ballast_needs_reset(b) ||
			 atomic64_read(&b->c.needs_reset) != nr;
	if (!r->sent)
		r->ret = err;
}

static void fill_pattern(struct page *page)
{
	u64 *p = page_address(page);
	u64 seed = page_to_pfn(page) * 0x9e3779b97f4a7c15ULL;
	unsigned int i;

	for (i = 0; i < PAGE_SIZE / sizeof(u64); i++)
		p[i] = seed ^ i;
}

static int check_pattern(struct page *page)
{
	u64 *p = page_address(page);
	u64 seed = page_to_pfn(page) * 0x9e3779b97f4a7c15ULL;
	unsigned int i;

	for (i = 0; i < PAGE_SIZE / sizeof(u64); i++)
		if (p[i] != (seed ^ i))
			return 0;
	return 1;
}

/* A private page of the knob's, with a known pattern. */
static struct page *sentinel_alloc(void)
{
	struct page *page = alloc_page(GFP_KERNEL);

	if (page)
		fill_pattern(page);
	return page;
}

/* Tell the device a private page is ours (harmless if it never took it). */
static void sentinel_deflate(struct ballast *b, struct page *page)
{
	struct ballast_req req = { .sg = &b->sgs[0], .nsg = 1 };

	if (READ_ONCE(b->dead))
		return;
	b->pfns[0][0] = page_to_pfn(page);
	sg_init_one(&b->sgs[0], b->pfns[0], sizeof(u32));
	ballast_xfer(b, BQ_DEFLATE, &req, 1, GFP_KERNEL, NULL);
}

/*
 * Inflate of PFNs that are not RAM: the first page frame past the end of
 * RAM and the largest 32-bit PFN.  A conforming device uses the buffer and
 * ignores (or counts) the bad PFNs; it must not fail or stall.
 */
static int knob_pfn_outside_ram(struct ballast *b, struct ballast_inject_result *r)
{
	unsigned long end = PFN_DOWN(__pa(high_memory - 1)) + 1;
	struct ballast_req req = { .sg = &b->sgs[0], .nsg = 1 };
	u32 *pfns = b->pfns[0];
	unsigned int n = 0;

	if (end <= U32_MAX && !page_is_ram(end))
		pfns[n++] = end;
	if (end != U32_MAX && !page_is_ram(U32_MAX))
		pfns[n++] = U32_MAX;
	if (!n)
		return -ERANGE;
	sg_init_one(&b->sgs[0], pfns, n * sizeof(u32));
	r->pfn = pfns[0];
	r->nr_pfns = n;
	inject_send(b, r, BQ_INFLATE, &req);
	return r->ret;
}

/*
 * Send @page for inflate and note in @r what came back; on the ack it joins
 * the balloon, else it is freed.  0 once acked, else an errno.
 */
static int inflate_page(struct ballast *b, struct page *page,
			struct ballast_inject_result *r)
{
	struct ballast_req req = { .sg = &b->sgs[0], .nsg = 1 };

	b->pfns[0][0] = page_to_pfn(page);
	sg_init_one(&b->sgs[0], b->pfns[0], sizeof(u32));
	r->pfn = page_to_pfn(page);
	r->nr_pfns = 1;
	inject_send(b, r, BQ_INFLATE, &req);
	if (!req.done) {
		__free_page(page);	/* not sent, or the device was reset */
		return r->ret ? r->ret : -EIO;
	}
	ballast_balloon_add(b, page);
	atomic64_inc(&b->c.pages_inflated);
	ballast_update_actual(b);
	return 0;
}

/* Inflate one fresh page the normal way; @r notes how it went. */
static int inflate_one_noted(struct ballast *b, struct ballast_inject_result *r)
{
	struct page *page = ballast_alloc_page();

	return page ? inflate_page(b, page, r) : -ENOMEM;
}

/* Inflate one fresh page the normal way, so the balloon is not empty. */
static int inflate_one(struct ballast *b)
{
	struct ballast_inject_result r = { };

	return inflate_one_noted(b, &r);
}

/*
 * A driver breaking R-12 on purpose: one fresh page sent for inflate and
 * written every BALLAST_TOUCH_MS until the device acks it (writes: how many
 * times).  A device that acks at once may see none of it after taking the
 * request; one that holds the buffer (ballast-vmm's hold_inflate_ms) sees
 * the page written between taking it and the ack, which its referee
 * counts.  The page joins the balloon on the ack as any inflated page.
 */
static int knob_write_inflight(struct ballast *b, struct ballast_inject_result *r)
{
	struct page *page = ballast_alloc_page();
	int err;

	if (!page)
		return -ENOMEM;
	ballast_touch_arm(&b->touch, page, false);
	err = inflate_page(b, page, r);
	r->writes = ballast_touch_disarm(&b->touch);
	return err == -EIO && r->sent ? 0 : err;
}

/*
 * How long deflate_inflight lets the device take its inflate before the
 * deflate follows: a deflate the device takes first names a page it does
 * not know of yet, which breaks nothing it can see.  Well below the
 * 200 ms referee.bats holds each ack.
 */
#define INJECT_POP_MS	50

/*
 * A driver breaking R-13 on purpose: one fresh page sent for inflate and,
 * INJECT_POP_MS later and before that inflate is acked, for deflate.  A
 * device that holds inflate acks (ballast-vmm's hold_inflate_ms) has taken
 * the inflate and sees a deflate of a page whose inflate it has not acked.
 * The page is the knob's own and is freed afterwards: the device gave it
 * back (both acked) or was reset.  If the deflate could not be sent, the
 * page joins the balloon on the inflate's ack as any inflated page.
 * sent: the deflate went; acked: both came back; wait_ms: from the
 * inflate's kick to the deflate's ack.
 */
static int knob_deflate_inflight(struct ballast *b, struct ballast_inject_result *r)
{
	struct ballast_req inf = { .sg = &b->sgs[0], .nsg = 1 };
	struct ballast_req def = { .sg = &b->sgs[1], .nsg = 1 };
	struct page *page = ballast_alloc_page();
	unsigned long start = jiffies;
	int err, derr;

	if (!page)
		return -ENOMEM;
	b->pfns[0][0] = page_to_pfn(page);
	b->pfns[1][0] = page_to_pfn(page);
	sg_init_one(&b->sgs[0], b->pfns[0], sizeof(u32));
	sg_init_one(&b->sgs[1], b->pfns[1], sizeof(u32));
	r->pfn = page_to_pfn(page);
	r->nr_pfns = 1;

	err = ballast_xfer_send(b, BQ_INFLATE, &inf, 1, GFP_KERNEL);
	if (err < 0)
		goto out_free;		/* nothing sent: still ours */
	msleep(INJECT_POP_MS);
	derr = ballast_xfer_send(b, BQ_DEFLATE, &def, 1, GFP_KERNEL);
	r->sent = derr > 0;
	err = ballast_xfer_wait(b, BQ_INFLATE, 1, start, &r->wait_ms);
	if (r->sent) {
		int werr = ballast_xfer_wait(b, BQ_DEFLATE, 1, start, &r->wait_ms);

		err = err ? err : werr;
	} else if (!err) {
		/* Inflated, never deflated: a balloon page like any other. */
		ballast_balloon_add(b, page);
		atomic64_inc(&b->c.pages_inflated);
		ballast_update_actual(b);
		return derr;
	}
	r->acked = inf.done && def.done;
	r->used_len = def.used_len;
	r->timed_out = err == -ETIMEDOUT;
	r->needs_reset = ballast_needs_reset(b);
	if (r->acked) {
		atomic64_inc(&b->c.pages_inflated);
		atomic64_inc(&b->c.pages_deflated);
	}
	if (!r->sent)
		err = derr;
out_free:
	/* Given back by the device, or it was reset: ours again. */
	__free_page(page);
	return err;
}

/*
 * A driver breaking R-10 on purpose (MUST_TELL_HOST negotiated): a fresh
 * page inflated (and acked), then deflated the normal way, and written
 * every BALLAST_TOUCH_MS from the deflate's kick to its ack (writes: how
 * many times).  A device that holds deflate acks (ballast-vmm's
 * hold_deflate_ms) sees the page used before it acked the deflate.  The
 * page is a fresh one, so the balloon is one above its target when the
 * deflate goes: giving a page back then breaks nothing else (R-5, not
 * It returns to the page allocator on the deflate's ack, or when
 * the device is reset.
 */
static int knob_write_deflating(struct ballast *b, struct ballast_inject_result *r)
{
	struct page *page;
	unsigned long start;
	long got;
	int err;

	if (!ballast_has(b, VIRTIO_BALLOON_F_MUST_TELL_HOST))
		return -EOPNOTSUPP;
	err = inflate_one(b);
	if (err)
		return err;
	/* ballast_balloon_add() put it first: ballast_leak() takes it. */
	page = list_first_entry(&b->pages, struct page, lru);
	r->pfn = page_to_pfn(page);
	r->nr_pfns = 1;
	ballast_touch_arm(&b->touch, page, false);
	start = jiffies;
	got = ballast_leak(b, 1, GFP_KERNEL);
	r->writes = ballast_touch_disarm(&b->touch);
	r->wait_ms = jiffies_to_msecs(jiffies - start);
	ballast_update_actual(b);
	r->sent = got == 1 || got == -ETIMEDOUT || got == -EIO;
	r->acked = got == 1;
	r->timed_out = got == -ETIMEDOUT;
	r->needs_reset = ballast_needs_reset(b);
	if (got == 1)
		return 0;
	return got < 0 ? got : -EIO;
}

/*
 * A driver breaking R-9 on purpose, and R-7 without DEFLATE_ON_OOM: a page
 * in the balloon (acked) written once without a deflate for it, then one
 * fresh page inflated so that the device reads the dirty log (at the
 * inflate it takes) and finds the write.  The written page stays in the
 * balloon: its contents were the device's to drop and still are, and a
 * ballooned page is freed through init_on_free/poisoning like any other
 * once it leaves.  With the balloon at its target when the knob runs, a
 * device without DEFLATE_ON_OOM sees a page used at its target; with
 * MUST_TELL_HOST, also one used before its deflate was acked.  An
 * empty balloon gets a page first.  The fresh page leaves again through
 * the update work.  pfn: the page written; acked: the inflate that
 * followed.
 */
static int knob_write_ballooned(struct ballast *b, struct ballast_inject_result *r)
{
	struct page *page;
	u64 *p;
	int err;

	if (!b->nr_pages) {
		err = inflate_one(b);
		if (err)
			return err;
	}
	page = list_first_entry(&b->pages, struct page, lru);
	p = kmap_local_page(page);
	WRITE_ONCE(p[0], page_to_pfn(page));
	kunmap_local(p);
	r->writes = 1;
	err = inflate_one_noted(b, r);
	r->pfn = page_to_pfn(page);
	r->nr_pfns = 1;
	return err;
}

/*
 * Inflate naming, twice in one descriptor, a page that is already in the
 * balloon (and acked).  A conforming device uses the buffer; the page is
 * in the balloon either way, so whatever it does costs the guest nothing.
 */
static int knob_duplicate_pfn(struct ballast *b, struct ballast_inject_result *r)
{
	struct ballast_req req = { .sg = &b->sgs[0], .nsg = 1 };
	struct page *page;
	int err;

	if (!b->nr_pages) {
		err = inflate_one(b);
		if (err)
			return err;
	}
	page = list_first_entry(&b->pages, struct page, lru);
	b->pfns[0][0] = page_to_pfn(page);
	b->pfns[0][1] = page_to_pfn(page);
	sg_init_one(&b->sgs[0], b->pfns[0], 2 * sizeof(u32));
	r->pfn = page_to_pfn(page);
	r->nr_pfns = 2;
	inject_send(b, r, BQ_INFLATE, &req);
	return r->ret;
}

/*
 * An inflate request made available without a notification, naming a page
 * already in the balloon.  Not malformed: it exercises the driver's
 * timeout.  A device that polls may use it; one that waits for
 * notifications never does, and the driver must then give up after
 * ack_timeout_ms, count it and reset the device (Linux would hang).
 */
static int knob_unkicked_inflate(struct ballast *b, struct ballast_inject_result *r)
{
	struct ballast_req req = { .sg = &b->sgs[0], .nsg = 1 };
	struct page *page;
	int err;

	if (!b->nr_pages) {
		err = inflate_one(b);
		if (err)
			return err;
	}
	page = list_first_entry(&b->pages, struct page, lru);
	b->pfns[0][0] = page_to_pfn(page);
	sg_init_one(&b->sgs[0], b->pfns[0], sizeof(u32));
	r->pfn = page_to_pfn(page);
	r->nr_pfns = 1;
	b->skip_kick = true;
	inject_send(b, r, BQ_INFLATE, &req);
	b->skip_kick = false;
	return r->ret;
}

/*
 * Deflate of a page that was never inflated: a private page holding a
 * pattern.  A conforming device uses the buffer and leaves the page alone
 * (content_intact=1): a deflate gives the host nothing.
 */
static int knob_deflate_unknown_page(struct ballast *b, struct ballast_inject_result *r)
{
	struct ballast_req req = { .sg = &b->sgs[0], .nsg = 1 };
	struct page *page = sentinel_alloc();

	if (!page)
		return -ENOMEM;
	b->pfns[0][0] = page_to_pfn(page);
	sg_init_one(&b->sgs[0], b->pfns[0], sizeof(u32));
	r->pfn = page_to_pfn(page);
	r->nr_pfns = 1;
	inject_send(b, r, BQ_DEFLATE, &req);
	r->content_intact = check_pattern(page);
	__free_page(page);
	return r->ret;
}

/*
 * A zero-length descriptor on the inflate queue.  The device either uses
 * it with used length 0 and no page inflated, or, finding it malformed,
 * sets DEVICE_NEEDS_RESET (QEMU: "zero sized buffers are not allowed").
 * It must not ignore it silently and keep the buffer forever.
 */
static int knob_zero_length_desc(struct ballast *b, struct ballast_inject_result *r)
{
	struct ballast_req req = { .sg = &b->sgs[0], .nsg = 1 };

	sg_init_one(&b->sgs[0], b->pfns[0], 0);
	r->nr_pfns = 0;
	inject_send(b, r, BQ_INFLATE, &req);
	return r->ret;
}

/*
 * A device-writable descriptor on the inflate queue, holding the PFN of a
 * private page with a pattern.  The inflate queue carries driver-written
 * PFN arrays only, so a conforming device inflates nothing from it
 * (content_intact=1), writes nothing into it (buf_intact=1, used_len=0), and
 * uses it or sets DEVICE_NEEDS_RESET.  Afterwards the page is deflated (in
 * case the device took it) and freed.
 */
static int knob_writable_inflate_desc(struct ballast *b, struct ballast_inject_result *r)
{
	struct ballast_req req = { .sg = &b->sgs[0], .nsg = 1, .in = true };
	struct page *page = sentinel_alloc();
	u32 pfn;

	if (!page)
		return -ENOMEM;
	pfn = page_to_pfn(page);
	b->pfns[0][0] = pfn;
	sg_init_one(&b->sgs[0], b->pfns[0], sizeof(u32));
	r->pfn = pfn;
	r->nr_pfns = 1;
	inject_send(b, r, BQ_INFLATE, &req);
	r->buf_intact = b->pfns[0][0] == pfn;
	r->content_intact = check_pattern(page);
	sentinel_deflate(b, page);
	__free_page(page);
	return r->ret;
}

static void free_page_list(struct list_head *pages)
{
	struct page *page, *next;

	list_for_each_entry_safe(page, next, pages, lru) {
		list_del(&page->lru);
		__free_page(page);
	}
}

/*
 * The pages of the next chain_4097, allocated and written now, so that the
 * host backs every one of them: the host's RSS read between this knob and
 * chain_4097 then falls by what the device releases from the chain, and by
 * nothing if it releases nothing.  Sends nothing (sent=0).
 */
static int knob_chain_prepare(struct ballast *b, struct ballast_inject_result *r)
{
	struct page *page;

	while (b->chain_held_n < CHAIN_PFNS) {
		page = ballast_alloc_page();
		if (!page)
			return -ENOMEM;	/* what is held stays for a retry */
		clear_highpage(page);
		list_add_tail(&page->lru, &b->chain_held);
		b->chain_held_n++;
	}
	r->nr_pfns = b->chain_held_n;
	return 0;
}

/* Called with inject_lock held, or once no knob can run (remove). */
void ballast_inject_release(struct ballast *b)
{
	free_page_list(&b->chain_held);
	b->chain_held_n = 0;
}

/*
 * One inflate request of 4097 PFNs as a chain of 17 descriptors (16 x 256
 * PFNs + 1), more than Linux ever sends (256) and one more than a 4096-entry
 * buffer holds.  The spec sets no limit: a conforming device inflates all
 * 4097 pages and uses the chain.  The pages are those chain_prepare holds,
 * or allocated and written now.  They join the balloon on the ack; the
 * update work deflates back to num_pages CHAIN_KEEP_MS later, or on the
 * next configuration change.
 */
static int knob_chain_4097(struct ballast *b, struct ballast_inject_result *r)
{
	struct scatterlist sg[CHAIN_DESCS];
	struct ballast_req req = { .sg = sg, .nsg = CHAIN_DESCS };
	struct page *page, *next;
	LIST_HEAD(pages);
	unsigned int i;
	u32 *pfns;
	int err;

	if (virtqueue_get_vring_size(b->vqs[BQ_INFLATE]) < CHAIN_DESCS)
		return -ENOSPC;
	pfns = kmalloc_array(CHAIN_PFNS, sizeof(u32), GFP_KERNEL);
	if (!pfns)
		return -ENOMEM;
	err = knob_chain_prepare(b, r);
	if (err)
		goto out;
	list_splice_init(&b->chain_held, &pages);
	b->chain_held_n = 0;
	i = 0;
	list_for_each_entry(page, &pages, lru)
		pfns[i++] = page_to_pfn(page);
	sg_init_table(sg, CHAIN_DESCS);
	for (i = 0; i < CHAIN_DESCS - 1; i++)
		sg_set_buf(&sg[i], pfns + i * BALLAST_PFNS_PER_DESC,
			   BALLAST_PFNS_PER_DESC * sizeof(u32));
	sg_set_buf(&sg[i], pfns + i * BALLAST_PFNS_PER_DESC, sizeof(u32));
	r->pfn = pfns[0];
	r->nr_pfns = CHAIN_PFNS;
	inject_send(b, r, BQ_INFLATE, &req);
	err = r->ret;
	if (req.done) {
		list_for_each_entry_safe(page, next, &pages, lru) {
			list_del(&page->lru);
			ballast_balloon_add(b, page);
		}
		atomic64_add(CHAIN_PFNS, &b->c.pages_inflated);
		ballast_update_actual(b);
	}
out:
	/* Not acked: never sent, or the device was reset and forgot them. */
	free_page_list(&pages);
	kfree(pfns);
	return err;
}

/*
 * One descriptor's worth of private pages, each holding a pattern,
 * inflated and then deflated.  A device may release an inflated page, and
 * the guest then reads zeroes; or keep it, and the pattern is still there.
 * Anything else (foreign > 0) is memory the guest never wrote: another
 * page's data, or the host's.  Pages whose deflate the device did not use
 * stay in the balloon and leave the normal way.
 */
static int knob_deflate_content(struct ballast *b, struct ballast_inject_result *r)
{
	struct ballast_req req = { .sg = &b->sgs[0], .nsg = 1 };
	struct page *page, *next;
	LIST_HEAD(pages);
	unsigned int i, n = 0;
	u32 *pfns = b->pfns[0];

	while (n < BALLAST_PFNS_PER_DESC) {
		page = ballast_alloc_page();
		if (!page)
			break;
		fill_pattern(page);
		list_add_tail(&page->lru, &pages);
		n++;
	}
	if (!n)
		return -ENOMEM;
	i = 0;
	list_for_each_entry(page, &pages, lru)
		pfns[i++] = page_to_pfn(page);
	sg_init_one(&b->sgs[0], pfns, n * sizeof(u32));
	r->pfn = pfns[0];
	r->nr_pfns = n;
	inject_send(b, r, BQ_INFLATE, &req);
	if (!req.done)
		goto out;	/* never inflated: still ours */

	/* The device reads the PFN buffer only, but it is untrusted. */
	i = 0;
	list_for_each_entry(page, &pages, lru)
		pfns[i++] = page_to_pfn(page);
	req = (struct ballast_req){ .sg = &b->sgs[0], .nsg = 1 };
	sg_init_one(&b->sgs[0], pfns, n * sizeof(u32));
	ballast_xfer(b, BQ_DEFLATE, &req, 1, GFP_KERNEL, NULL);
	if (!req.done) {
		list_for_each_entry_safe(page, next, &pages, lru) {
			list_del(&page->lru);
			ballast_balloon_add(b, page);
		}
		atomic64_add(n, &b->c.pages_inflated);
		ballast_update_actual(b);
		return r->ret ? r->ret : -EIO;
	}
	list_for_each_entry(page, &pages, lru) {
		if (check_pattern(page))
			r->kept++;
		else if (!memchr_inv(page_address(page), 0, PAGE_SIZE))
			r->zeroed++;
		else
			r->foreign++;
	}
out:
	free_page_list(&pages);
	return r->ret;
}

/*
 * Arm the next stats answer with @how and wait for it to go out, and for
 * the device's next request after it (next_request=1, acked=1): up to
 * ack_timeout_ms for each.  pfn: @tag, the tag the answer gets wrong.
 */
static int stats_inject(struct ballast *b, struct ballast_inject_result *r,
			enum ballast_stats_inject how, u16 tag)
{
	unsigned long t = msecs_to_jiffies(ballast_ack_timeout_ms);
	unsigned long start = jiffies;
	s64 base;
	long left;

	if (!ballast_has(b, VIRTIO_BALLOON_F_STATS_VQ))
		return -EOPNOTSUPP;
	spin_lock_irq(&b->stats_lock);
	b->stats_inject_sent = false;
	b->stats_inject_armed = how;
	spin_unlock_irq(&b->stats_lock);
	/* If the device already handed the buffer back, answer now. */
	if (READ_ONCE(b->stats_owned))
		queue_work(b->wq, &b->stats_work);

	left = wait_event_interruptible_timeout(b->stats_wait,
						READ_ONCE(b->stats_inject_sent) ||
						READ_ONCE(b->dead), t);
	spin_lock_irq(&b->stats_lock);
	r->sent = b->stats_inject_sent;
	b->stats_inject_armed = BALLAST_STATS_INJ_NONE;
	base = b->stats_inject_base;
	spin_unlock_irq(&b->stats_lock);
	if (left < 0)
		return left;
	if (!r->sent)
		return -ETIMEDOUT;	/* the device never asked for stats */
	r->nr_pfns = 0;
	r->pfn = tag;
	left = wait_event_interruptible_timeout(b->stats_wait,
				atomic64_read(&b->c.stats_requests) > base ||
				READ_ONCE(b->dead), t);
	r->next_request = atomic64_read(&b->c.stats_requests) > base;
	r->acked = r->next_request;
	r->used_len = atomic64_read(&b->c.q[BQ_STATS].used_len_last);
	r->wait_ms = jiffies_to_msecs(jiffies - start);
	r->needs_reset = ballast_needs_reset(b);
	return left < 0 ? left : 0;
}

/*
 * The next stats answer carries, between known entries, one with a tag no
 * spec defines.  The device MUST ignore unknown tags (D-6) and keep the
 * known ones; here we can see only that it took the buffer and asked again
 * (next_request=1); the host side compares the values it parsed.  Its set
 * of tags is not the one every other answer has: a referee counts R-22.
 */
static int knob_stats_unknown_tag(struct ballast *b, struct ballast_inject_result *r)
{
	return stats_inject(b, r, BALLAST_STATS_INJ_UNKNOWN, BALLAST_STATS_UNKNOWN_TAG);
}

/*
 * A driver breaking R-20 on purpose: the next stats answer has MEMFREE
 * twice (the same value; its set of tags is the usual one).
 */
static int knob_stats_repeat_tag(struct ballast *b, struct ballast_inject_result *r)
{
	return stats_inject(b, r, BALLAST_STATS_INJ_REPEAT, VIRTIO_BALLOON_S_MEMFREE);
}

/*
 * A driver breaking R-22 on purpose: the next stats answer leaves CACHES
 * out, a subset of tags other than every other answer's.  The answers
 * after it have CACHES again.
 */
static int knob_stats_drop_tag(struct ballast *b, struct ballast_inject_result *r)
{
	return stats_inject(b, r, BALLAST_STATS_INJ_DROP, VIRTIO_BALLOON_S_CACHES);
}

/*
 * A driver breaking R-17 on purpose: while the device holds our stats
 * buffer, a second one (the same entries as every answer) made available.
 * The device may give either back whenever it likes; until it has given
 * back both, the driver answers no request (ballast_stats_request()), so
 * the device never holds more than these two.  acked: it gave one back
 * within ack_timeout_ms (ballast-vmm gives back the older at once).
 */
static int knob_stats_second(struct ballast *b, struct ballast_inject_result *r)
{
	unsigned long start = jiffies;
	s64 base;
	long left;
	int err;

	if (!ballast_has(b, VIRTIO_BALLOON_F_STATS_VQ))
		return -EOPNOTSUPP;
	/* An answer on its way goes first: the device then holds ours. */
	flush_work(&b->stats_work);
	base = atomic64_read(&b->c.q[BQ_STATS].used_bufs);
	err = ballast_stats_second(b);
	if (err)
		return err;
	r->sent = true;
	left = wait_event_interruptible_timeout(b->stats_wait,
				atomic64_read(&b->c.q[BQ_STATS].used_bufs) > base ||
				READ_ONCE(b->dead),
				msecs_to_jiffies(ballast_ack_timeout_ms));
	r->acked = atomic64_read(&b->c.q[BQ_STATS].used_bufs) > base;
	r->used_len = atomic64_read(&b->c.q[BQ_STATS].used_len_last);
	r->wait_ms = jiffies_to_msecs(jiffies - start);
	r->needs_reset = ballast_needs_reset(b);
	return left < 0 ? left : 0;
}

/*
 * The free page hint knobs use the queue as hint.c's runs do, between
 * runs: with hint_lock held no run is under way, so the last command the
 * driver sent, if any, was STOP.
 */
static int hint_begin(struct ballast *b)
{
	if (!ballast_has(b, VIRTIO_BALLOON_F_FREE_PAGE_HINT))
		return -EOPNOTSUPP;
	mutex_lock(&b->hint_lock);
	if (READ_ONCE(b->dead)) {
		mutex_unlock(&b->hint_lock);
		return -EIO;
	}
	return 0;
}

/* Send one buffer, wait until the device has used it, and note that in @r. */
static int hint_send(struct ballast *b, struct ballast_inject_result *r,
		     struct scatterlist *sg, bool in, void *token)
{
	unsigned long start = jiffies;
	int err;

	err = ballast_hint_add(b, sg, in, token);
	r->sent = !err;
	if (!err)
		err = ballast_hint_flush(b);
	r->acked = !err;
	r->used_len = atomic64_read(&b->c.q[BQ_FREE_PAGE].used_len_last);
	r->wait_ms = jiffies_to_msecs(jiffies - start);
	r->timed_out = err == -ETIMEDOUT;
	r->needs_reset = ballast_needs_reset(b);
	return err;
}

/*
 * A driver breaking R-23 on purpose: an 8-byte free page hint command,
 * STOP twice.  A device that reads it as 4 bytes anyway reads STOP, which
 * ends no run of ours (none is open), so the knob costs nothing whatever
 * the device does with it.
 */
static int knob_hint_cmd_8_bytes(struct ballast *b, struct ballast_inject_result *r)
{
	struct scatterlist sg;
	int err;

	err = hint_begin(b);
	if (err)
		return err;
	b->hint_id_buf[0] = cpu_to_virtio32(b->vdev, VIRTIO_BALLOON_CMD_ID_STOP);
	b->hint_id_buf[1] = cpu_to_virtio32(b->vdev, VIRTIO_BALLOON_CMD_ID_STOP);
	sg_init_one(&sg, b->hint_id_buf, sizeof(b->hint_id_buf));
	r->nr_pfns = 0;
	err = hint_send(b, r, &sg, false, b->hint_id_buf);
	mutex_unlock(&b->hint_lock);
	return err;
}

/*
 * A driver breaking R-24 on purpose: one page hinted with no run open,
 * after the last run's STOP (or before any id).  The page is one in the
 * balloon (an empty balloon gets one first): its contents are the
 * device's already, so whatever the device does with a hint it should
 * ignore (D-11) costs the guest nothing, and the page stays in the
 * balloon.  pfn: that page.
 */
static int knob_hint_page_after_stop(struct ballast *b, struct ballast_inject_result *r)
{
	struct scatterlist sg;
	struct page *page;
	int err;

	if (!ballast_has(b, VIRTIO_BALLOON_F_FREE_PAGE_HINT))
		return -EOPNOTSUPP;
	if (!b->nr_pages) {
		err = inflate_one(b);
		if (err)
			return err;
	}
	err = hint_begin(b);
	if (err)
		return err;
	page = list_first_entry(&b->pages, struct page, lru);
	sg_init_table(&sg, 1);
	sg_set_page(&sg, page, PAGE_SIZE, 0);
	r->pfn = page_to_pfn(page);
	r->nr_pfns = 1;
	err = hint_send(b, r, &sg, true, page);
	mutex_unlock(&b->hint_lock);
	return err;
}

/*
 * A driver breaking R-25 on purpose: arms the next run, which sends its
 * command id twice before its pages, starting a run with the current id a
 * second time; the run is otherwise hint.c's own (pages, STOP, the blocks
 * held until DONE).  Runs start when the device issues a new id, so the
 * knob returns at once, having sent nothing (sent=0): hint_runs and the
 * free_page queue's counters say when the run went.
 */
static int knob_hint_start_twice(struct ballast *b, struct ballast_inject_result *r)
{
	int err;

	err = hint_begin(b);
	if (err)
		return err;
	b->hint_start_twice = true;
	mutex_unlock(&b->hint_lock);
	return 0;
}

/*
 * A driver breaking R-35 on purpose (PAGE_POISON negotiated): poison_val
 * written with another value while DRIVER_OK, then at once with the
 * kernel's again, so that the device is left with the value the kernel's
 * free pages hold; that is a second change, which a referee counts too.
 * The other value is the kernel's inverted: never 0, so a device that
 * keeps reported pages resident under a non-zero value (QEMU, ballast-vmm)
 * is never told meanwhile that it may discard them.  No report is with the
 * device in between (report_lock), nor an inflate or deflate (@lock).
 * pfn: the other value.
 */
static int knob_poison_change(struct ballast *b, struct ballast_inject_result *r)
{
	u32 other = ~b->poison_val;

	if (!ballast_has(b, VIRTIO_BALLOON_F_PAGE_POISON))
		return -EOPNOTSUPP;
	mutex_lock(&b->report_lock);
	ballast_poison_write(b, other);
	ballast_poison_write(b, b->poison_val);
	mutex_unlock(&b->report_lock);
	r->sent = true;
	r->pfn = other;
	return 0;
}

/*
 * A driver breaking R-38 on purpose: arms the next free page report, which
 * then writes the first page of its first entry every BALLAST_TOUCH_MS
 * from its kick to the device's ack; a device that holds reports
 * (ballast-vmm's hold_report_ms) sees a reported page used before it acked
 * the report.  The page is a free page that page_reporting keeps isolated
 * until the report returns, so no one else uses it meanwhile, and each
 * write puts back the word that was there: it keeps the zeroes or poison
 * the allocator relies on.  Reports come when page_reporting finds enough
 * free memory (2 s after a free), so the knob returns at once, having sent
 * nothing (sent=0); the counter report_writes says when the report went.
 */
static int knob_report_write_inflight(struct ballast *b,
				      struct ballast_inject_result *r)
{
	if (!ballast_has(b, VIRTIO_BALLOON_F_REPORTING))
		return -EOPNOTSUPP;
	/* debug_pagealloc unmaps free pages: the write would fault. */
	if (debug_pagealloc_enabled_static())
		return -EOPNOTSUPP;
	atomic_set(&b->report_write_armed, 1);
	return 0;
}

/* Not malformed: reset and re-initialise the device (tests recovery). */
static int knob_reset_device(struct ballast *b, struct ballast_inject_result *r)
{
	r->needs_reset = ballast_needs_reset(b);
	ballast_kill(b, NULL);
	return 0;
}

static const struct ballast_knob ballast_knobs[BALLAST_NR_KNOBS] = {
	{ "pfn_outside_ram", knob_pfn_outside_ram },
	{ "duplicate_pfn", knob_duplicate_pfn },
	{ "deflate_unknown_page", knob_deflate_unknown_page },
	{ "zero_length_desc", knob_zero_length_desc },
	{ "writable_inflate_desc", knob_writable_inflate_desc },
	{ "chain_prepare", knob_chain_prepare },
	{ "chain_4097", knob_chain_4097, CHAIN_KEEP_MS },
	{ "deflate_content", knob_deflate_content },
	{ "stats_unknown_tag", knob_stats_unknown_tag, 0, true },
	{ "unkicked_inflate", knob_unkicked_inflate },
	{ "reset_device", knob_reset_device },
	{ "write_inflight", knob_write_inflight },
	/* One per driver duty the referee judges: a driver broken on purpose. */
	{ "deflate_inflight", knob_deflate_inflight },
	{ "write_deflating", knob_write_deflating },
	{ "write_ballooned", knob_write_ballooned },
	{ "stats_second", knob_stats_second, 0, true },
	{ "stats_repeat_tag", knob_stats_repeat_tag, 0, true },
	{ "stats_drop_tag", knob_stats_drop_tag, 0, true },
	{ "hint_cmd_8_bytes", knob_hint_cmd_8_bytes },
	{ "hint_page_after_stop", knob_hint_page_after_stop },
	{ "hint_start_twice", knob_hint_start_twice },
	{ "poison_change", knob_poison_change },
	{ "report_write_inflight", knob_report_write_inflight },
};

static ssize_t ballast_knob_write(struct file *file, const char __user *ubuf,
				  size_t len, loff_t *ppos)
{
	struct ballast_knob_ctx *ctx = file->private_data;
	const struct ballast_knob *k = &ballast_knobs[ctx->idx];
	struct ballast *b = ctx->b;
	struct ballast_inject_result r = { .content_intact = -1, .buf_intact = -1 };
	int err;

	mutex_lock(&b->inject_lock);
	/* A previous fault may still be recovering: start from a live device. */
	if (READ_ONCE(b->dead))
		flush_work(&b->recover_work);
	atomic64_inc(&b->c.inject_calls);
	strscpy(r.knob, k->name, sizeof(r.knob));

	if (READ_ONCE(b->dead)) {
		err = -EIO;
	} else if (k->stats) {
		err = k->fn(b, &r);	/* the stats queue has its own lock */
	} else {
		ballast_lock(b);
		err = READ_ONCE(b->dead) ? -EIO : k->fn(b, &r);
		ballast_unlock(b);
	}
	r.ret = err;

	/* Leave a usable device behind: reset it if the fault broke it. */
	if (r.timed_out || r.needs_reset || READ_ONCE(b->dead) ||
	    k->fn == knob_reset_device) {
		ballast_recover_sync(b);
		r.reset = true;
	}
	/* Pages the knob added to the balloon leave the normal way. */
	ballast_queue_update(b, msecs_to_jiffies(k->keep_ms));

	b->last = r;
	mutex_unlock(&b->inject_lock);
	return err ? err : len;
}

static const struct file_operations ballast_knob_fops = {
	.owner = THIS_MODULE,
	.open = simple_open,
	.write = ballast_knob_write,
	.llseek = noop_llseek,
};

static int ballast_result_show(struct seq_file *m, void *unused)
{
	struct ballast *b = m->private;
	struct ballast_inject_result r;

	mutex_lock(&b->inject_lock);
	r = b->last;
	mutex_unlock(&b->inject_lock);

	seq_printf(m, "knob %s\n", r.knob[0] ? r.knob : "none");
	seq_printf(m, "ret %d\n", r.ret);
	seq_printf(m, "sent %d\n", r.sent);
	seq_printf(m, "acked %d\n", r.acked);
	seq_printf(m, "used_len %u\n", r.used_len);
	seq_printf(m, "wait_ms %u\n", r.wait_ms);
	seq_printf(m, "timed_out %d\n", r.timed_out);
	seq_printf(m, "needs_reset %d\n", r.needs_reset);
	seq_printf(m, "reset %d\n", r.reset);
	seq_printf(m, "content_intact %d\n", r.content_intact);
	seq_printf(m, "buf_intact %d\n", r.buf_intact);
	seq_printf(m, "pfn 0x%llx\n", r.pfn);
	seq_printf(m, "nr_pfns %u\n", r.nr_pfns);
	seq_printf(m, "next_request %d\n", r.next_request);
	seq_printf(m, "kept %u\nzeroed %u\nforeign %u\n", r.kept, r.zeroed, r.foreign);
	seq_printf(m, "writes %u\n", r.writes);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(ballast_result);

void ballast_inject_debugfs_init(struct ballast *b, struct dentry *dir)
{
	struct dentry *inj = debugfs_create_dir("inject", dir);
	unsigned int i;

	if (IS_ERR(inj))
		return;
	for (i = 0; i < BALLAST_NR_KNOBS; i++) {
		b->knob_ctx[i].b = b;
		b->knob_ctx[i].idx = i;
		debugfs_create_file(ballast_knobs[i].name, 0200, inj,
				    &b->knob_ctx[i], &ballast_knob_fops);
	}
	debugfs_create_file("result", 0444, inj, b, &ballast_result_fops);
}
