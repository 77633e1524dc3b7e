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
 *  R-38  a page of a free page report written between the pop of the
 *        report and its ack: the driver used it before the device said it
 *        was done with it. Whole pages of the report only; as for R-12, a
 *        write before the pop or after the last log read is not claimed.
 * A page in two inflates (reports) in flight at once leaves the in-flight
 * set at the first ack: the referee undercounts, never overclaims.
 *
 * The protocol duties (referee_proto.c) need no dirty log: the device sees
 * what the driver writes to config space and puts on the stats and free
 * page queues. A violation is counted only for what is certainly broken at
 * the moment the device sees it; each judgement is also counted as a check
 * (r17_checks), and the evidence is a value, not a PFN (r17_values):
 *  R-17  a stats buffer taken while the device still holds the last one:
 *        two made available at once (value 2).
 *  R-20  a stats buffer that is not whole 10-byte driver-readable entries,
 *        one per statistic (value: its device-writable bytes, else its
 *        length, else the tag it repeats). The spec's "multiple of 6
 *        bytes" is an erratum: its entries are 10 bytes.
 *  R-22  a stats buffer, read whole and not empty, whose set of tags
 *        differs from the first such buffer's (value: a tag in one and not
 *        the other). The order may differ; an empty buffer, as the
 *        spec's set-up steps describe, is no subset.
 *  R-23  a free page hint out buffer of other than 4 bytes (value: bytes).
 *  R-24  a run started with an id the device never put in
 *        free_page_hint_cmd_id (value: the id), or pages hinted with no run
 *        open: before any id or after STOP (value 0). A stale id is no
 *        violation: the device may have moved on after the driver read it
 *        (D-11 has the device ignore its pages).
 *  R-25  a second run started with the current id since the device issued
 *        it (value: the id).
 *  R-34  PAGE_POISON negotiated and poison_val not written by DRIVER_OK.
 *  R-35  poison_val written with another value while DRIVER_OK (value:
 *        the new one).
 * The duties with no deadline in the spec get no violation count, since a
 * slow guest (nested, TCG) would be accused of what it has not failed:
 * R-14 (`actual` updated after the balloon changed), R-18 and R-19 (a
 * stats buffer after DRIVER_OK and after each use) and R-28 (STOP to end a
 * run). The referee exposes the state a test awaits them on with its own
 * bound (referee_await_json). R-28 is not counted either when the driver
 * starts a run without STOP: the spec ends a round when the device changes
 * the id, and then owes no STOP for it.
 * Not judged: R-21 and R-29 (MAYs), R-26, R-27 and R-32 (SHOULDs), R-31,
 * R-33 and R-37 (what the driver writes to its pages: the dirty log sees
 * a write, never its value), R-30 and R-36 (hinted and reported pages are
 * to be treated as uninitialised: a driver breaks that by reading one for
 * its old contents, and the dirty log sees writes, never reads).
 * selftests/report/clauses.py says what each clause asks.
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
	REFEREE_R38,
	/* The protocol duties (referee_proto.c): counted per event, evidence a value. */
	REFEREE_R17,
	REFEREE_R20,
	REFEREE_R22,
	REFEREE_R23,
	REFEREE_R24,
	REFEREE_R25,
	REFEREE_R34,
	REFEREE_R35,
	REFEREE_NR_CLAUSES,
};

#define REFEREE_FIRST_PROTO	REFEREE_R17

/* The first offending PFNs kept per clause, for the log and the query. */
#define REFEREE_SHOW		8
/* PFNs one request may have tracked; beyond that its pages go unwatched. */
#define REFEREE_REQ_MAX_PFNS	(64 * 1024)
/* Stats entries one buffer may have for R-22; the device reads no more. */
#define REFEREE_STATS_MAX	64

struct referee_count {
	u64 violations;			/* pages, PFNs named, events */
	u64 checks;			/* the protocol duties: times judged */
	u32 nr_shown;
	u32 shown[REFEREE_SHOW];	/* PFNs, or values from R-17 on */
};

/* The protocol duties' state since the driver's start (a reset clears it). */
struct referee_proto {
	bool stats_on;			/* STATS_VQ and DRIVER_OK */
	bool stats_held;		/* the device holds a buffer */
	u64 stats_buffers;		/* buffers the device took */
	u64 stats_used;			/* buffers it gave back */
	u64 stats_owed_ns;		/* owed since, when none is held */
	u32 nr_subset;			/* the first buffer's tags, sorted */
	bool subset_known;
	u16 subset[REFEREE_STATS_MAX];
	bool hint_open;			/* a run started, no STOP since */
	u32 hint_run_id;		/* ... with this id */
	u64 hint_started;		/* ids_issued when the current id started */
	u64 hint_starts, hint_stops;
	bool poison_written;		/* */
};

struct referee {
	struct pfn_bitmap inflating;	/* popped for inflate, not acked */
	struct pfn_bitmap deflating;	/* popped for deflate, not acked */
	struct pfn_bitmap reporting;	/* in a free page report popped, not acked */
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
	struct referee_proto p;
};

/* Which in-flight set a request's pages are in until its ack. */
enum referee_req_kind {
	REFEREE_REQ_INFLATE,
	REFEREE_REQ_DEFLATE,
	REFEREE_REQ_REPORT,
};

/* The PFNs of one request the device popped, until its ack. */
struct referee_req {
	enum referee_req_kind kind;
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
 * bitmaps are skipped). Inflate, report: they are in flight. Deflate, for each page
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

/*
 * Every clause's count and first PFNs or values (the protocol duties' times
 * judged too), and the log's health, as one JSON object.
 */
json_t *referee_json(const struct referee *r);

/* Count one violation of c, keeping evidence (a PFN or a value) among the first. */
void referee_count(struct referee *r, enum referee_clause c, u32 evidence);
/* The clause's evidence is a PFN (the page duties) rather than a value. */
bool referee_clause_pfn(enum referee_clause c);

/* The protocol duties (referee_proto.c); now is CLOCK_MONOTONIC in ns. */

/* DRIVER_OK: R-34 if poison (PAGE_POISON); with stats (STATS_VQ) a buffer is owed. */
void referee_driver_ok(struct referee *r, bool poison, bool stats, u64 now);
/*
 * The device took a stats buffer: in_bytes device-writable, out_bytes
 * driver-readable bytes, of which the first len are in buf (untrusted: any
 * values, any length)..
 */
void referee_stats_buffer(struct referee *r, u32 in_bytes, u32 out_bytes, const u8 *buf,
			  size_t len);
/* The device used the stats buffer: the driver owes another. */
void referee_stats_used(struct referee *r, u64 now);

/* What the device has put in free_page_hint_cmd_id. */
struct referee_hint_view {
	u32 current_id;
	u64 ids_issued;			/* ids >= 2 issued since the device was made */
	bool done_issued;		/* it has set DONE */
};

/*
 * A chain on free_page_vq: out_bytes driver-readable (id read if 4),
 * page_bytes device-writable..
 */
void referee_hint_chain(struct referee *r, const struct referee_hint_view *v, u32 out_bytes,
			u32 id, u32 page_bytes);

/* poison_val written: old its value before; driver_ok: DRIVER_OK and PAGE_POISON. R-35. */
void referee_poison_write(struct referee *r, bool driver_ok, u32 old, u32 val);

/* The balloon as the device sees it, for a test awaiting R-14. */
struct referee_balloon_view {
	u64 balloon_pages;		/* PFNs in the device's balloon */
	bool exact;			/* no PFN since the reset it could not count */
	u32 actual;			/* what the driver last wrote */
	u32 requests_held;		/* inflates and deflates taken, ack held */
	bool requests_waiting;		/* ... or queued, not taken yet */
};

/*
 * The state a test awaits on, with its own
 * bound, added to o: the balloon in v, the stats queue, the hint run.
 * Returns 0, or -ENOMEM.
 */
int referee_await_json(json_t *o, const struct referee *r, const struct referee_balloon_view *v,
		       u64 now);

#endif
