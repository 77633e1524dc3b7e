/* SPDX-License-Identifier: MIT */
/*
 * The referee: the balloon device watching the driver keep its duties
 * (virtio 1.2 §5.5.6.1, driver requirements; clause numbers as in the
 * project's reference notes). Pure logic on PFN bitmaps, no KVM and no
 * locks: the device (ack.c) feeds it the PFNs it pops and the guest's
 * writes as KVM's dirty log reports them, and it says which statement
 * failed, page by page.
 *
 * The device sees a request only from the moment it pops it to the moment
 * it acks it (pushes it used), and sees writes only as a log read between
 * two such moments. So each check claims only what happened inside what
 * the device saw:
 *  R-12  a page written between the pop of its inflate and the ack. A
 *        write after the driver queued the page but before the pop looks
 *        like a write before the request and is not claimed; so is one
 *        between the device's last log read and its push.
 *  R-13  a deflate naming a page whose inflate the device popped and has
 *        not acked yet (one the device has not popped, it cannot know of).
 *  R-10  with MUST_TELL_HOST: a page written while in the balloon or while
 *        its deflate is in flight, i.e. before the deflate's ack.
 *  R-9   a page written while in the balloon with no deflate for it popped
 *        or waiting in the deflate queue: used without telling the device.
 *        Waiting deflates are not read, so a write seen while any deflate
 *        waits is not claimed (without MUST_TELL_HOST, R-11 lets the driver
 *        use a page as soon as it has queued its deflate).
 *  R-7   without DEFLATE_ON_OOM: a page taken out of the balloon (deflated,
 *        or written as in R-9) while num_pages equals the pages in the
 *        balloon. The text says the driver MUST NOT use balloon pages when
 *        "num_pages <= actual", which read literally forbids what R-5 allows
 *        (using them when num_pages < actual); the intended reading is
 *        "num_pages >= actual" (virtio-spec issue #228). Only the case both
 *        readings forbid is claimed: Linux's page migration, for one, gives
 *        a page back while the balloon is below target, after inflating its
 *        replacement. "The actual number of pages in the balloon" is the
 *        device's own count, not the driver's `actual`, which R-15 lets lag.
 * A page in two inflates in flight at once leaves the in-flight set at the
 * first ack: the referee undercounts, never overclaims.
 */
#ifndef BALLAST_BALLOON_REFEREE_H
#define BALLAST_BALLOON_REFEREE_H

#include <jansson.h>

#include "../pfn.h"

enum referee_clause {
	REFEREE_R7,
	REFEREE_R9,
	REFEREE_R10,
	REFEREE_R12,
	REFEREE_R13,
	REFEREE_NR_CLAUSES,
};

/* The first offending PFNs kept per clause, for the log and the query. */
#define REFEREE_SHOW		8
/* PFNs one request may have tracked; beyond that its pages go unwatched. */
#define REFEREE_REQ_MAX_PFNS	(64 * 1024)

struct referee_count {
	u64 violations;			/* pages or PFNs named */
	u32 nr_shown;
	u32 shown[REFEREE_SHOW];
};

struct referee {
	struct pfn_bitmap inflating;	/* popped for inflate, not acked */
	struct pfn_bitmap deflating;	/* popped for deflate, not acked */
	struct pfn_bitmap dirty;	/* the latest log read, not judged yet */
	struct referee_count c[REFEREE_NR_CLAUSES];
	u64 log_reads;
	u64 log_errors;			/* reads that failed: those windows unwatched */
	u64 untracked_pfns;		/* past REFEREE_REQ_MAX_PFNS in one request */
	/*
	 * R-7 needs the target the driver saw: the target_gen of the last
	 * judge that found no deflate waiting. A request popped, or a write
	 * seen, with the target unchanged since then was made under it.
	 */
	u64 settled_gen;
};

/* The PFNs of one request the device popped, until its ack. */
struct referee_req {
	bool inflate;
	u32 nr, cap;
	u32 *pfns;
};

/* What the device knows when it judges a log read or a popped request. */
struct referee_view {
	const struct pfn_bitmap *ballooned;	/* pages in the balloon (device's view) */
	u64 in_balloon;				/* its count when the request was popped */
	u64 num_pages;				/* the device's target */
	u64 target_gen;				/* bumped on every new target */
	bool must_tell_host;			/* negotiated */
	bool deflate_on_oom;			/* negotiated */
	bool deflate_waiting;			/* deflate buffers not popped yet */
};

int referee_init(struct referee *r, u64 nr_pfns);
void referee_free(struct referee *r);
/* A device reset: nothing is in flight any more. Counters stay. */
void referee_reset(struct referee *r);

/* "R-12", ...; and what a page did to break it, for the log. */
const char *referee_clause_name(enum referee_clause c);
const char *referee_clause_what(enum referee_clause c);

/*
 * The device popped a batch of req's PFNs (any values: those outside the
 * bitmaps are skipped). Inflate: they are in flight. Deflate, for each page
 * in v->ballooned: R-13 if its inflate is in flight; R-10 (must_tell_host)
 * if r->dirty, read at the pop, says it was written while in the balloon;
 * R-7 (no deflate_on_oom, num_pages == in_balloon, target settled); then
 * it is in flight.
 * Call it before the device takes the pages out of v->ballooned. Returns
 * -ENOMEM when req could not grow (its later PFNs go unwatched), else 0.
 */
int referee_req_add(struct referee *r, struct referee_req *req, const u32 *pfns, size_t n,
		    const struct referee_view *v);

/* The device acked req: its pages are no longer in flight; req is emptied. */
void referee_req_end(struct referee *r, struct referee_req *req);

/*
 * Judge r->dirty (a log read just taken) against the state in v and the
 * pages in flight, count what failed, and clear it. Returns how many
 * violations it found.
 */
u64 referee_judge(struct referee *r, const struct referee_view *v);

/* Every clause's count and first PFNs, and the log's health, as one JSON object. */
json_t *referee_json(const struct referee *r);

#endif
