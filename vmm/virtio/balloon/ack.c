// SPDX-License-Identifier: MIT
/*
 * virtio-balloon, when requests are acked, and the referee around them. By
 * default a chain is pushed used as soon as it is handled. hold_inflate_ms,
 * hold_deflate_ms, hold_report_ms and hold_hint_ms keep an inflate, a
 * deflate, a free page report or a hint in-buffer that long first (the
 * spec lets a device use a buffer whenever it likes; Linux waits for each
 * inflate, deflate and report ack): the window from pop to ack in which
 * forbid the driver to touch the request's pages then
 * lasts long enough to catch a driver in it. ack_order=reverse pushes what
 * is held on a queue newest first (the spec lets a device use buffers in
 * any order), which only a driver with several requests out at once sees.
 * With referee=on, KVM's dirty log is read at each pop and each ack, so
 * every guest write falls in a window whose state the device knows, and
 * referee.c judges it. Everything here runs under vdev.lock; with the
 * referee off and no hold each hook is one test.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>

#include "priv.h"

static void balloon_referee_view(struct balloon *b, struct referee_view *v)
{
	*v = (struct referee_view){
		.ballooned = &b->ballooned,
		.in_balloon = b->cur.in_balloon,
		.num_pages = b->num_pages,
		.target_gen = b->target_gen,
		.must_tell_host = balloon_has(b, BALLOON_F_MUST_TELL_HOST),
		.deflate_on_oom = balloon_has(b, BALLOON_F_DEFLATE_ON_OOM),
		/* A queue we cannot read may hold deflates: claim no R-9 then. */
		.deflate_waiting = balloon_queue_waiting(b, BALLOON_VQ_DEFLATE),
	};
}

void balloon_referee_snap(const struct referee *r, u64 before[REFEREE_NR_CLAUSES])
{
	unsigned int c;

	for (c = 0; c < REFEREE_NR_CLAUSES; c++)
		before[c] = r->c[c].violations;
}

/*
 * The event log: one line per clause that failed since before, with the
 * first new PFN (page duties) or value (protocol duties) still kept.
 */
void balloon_referee_log(struct balloon *b, const u64 before[REFEREE_NR_CLAUSES])
{
	const struct referee *r = b->referee;
	unsigned int c;

	for (c = 0; c < REFEREE_NR_CLAUSES; c++) {
		const struct referee_count *k = &r->c[c];
		bool pfn = referee_clause_pfn(c);
		char first[40] = "";

		if (k->violations == before[c])
			continue;
		if (before[c] < k->nr_shown)
			snprintf(first, sizeof(first), pfn ? ", first PFN 0x%x" : ", first value %u",
				 k->shown[before[c]]);
		balloon_warn(b, "referee: %s broken: %llu %s%s %s%s", referee_clause_name(c),
			     (unsigned long long)(k->violations - before[c]),
			     before[c] < k->nr_shown ? "" : "more ", pfn ? "page(s)" : "time(s):",
			     referee_clause_what(c), first);
	}
}

static void balloon_referee_read(struct balloon *b)
{
	struct referee *r = b->referee;
	int ret;

	if (!b->referee_logging)
		return;
	ret = b->dirty_ops->log_read(b->dirty_opaque, r->dirty.words, r->dirty.nr_pfns);
	if (ret) {
		r->log_errors++;
		balloon_warn(b, "referee: reading the dirty log failed (%d): writes unwatched", ret);
		return;
	}
	r->log_reads++;
}

static void balloon_referee_judge(struct balloon *b)
{
	u64 before[REFEREE_NR_CLAUSES];
	struct referee_view v;

	balloon_referee_snap(b->referee, before);
	balloon_referee_view(b, &v);
	referee_judge(b->referee, &v);
	balloon_referee_log(b, before);
}

/* The queues whose requests the referee watches: inflate, deflate, reporting. */
static bool balloon_ack_watched(unsigned int lq)
{
	return lq == BALLOON_VQ_INFLATE || lq == BALLOON_VQ_DEFLATE || lq == BALLOON_VQ_REPORTING;
}

static enum referee_req_kind balloon_ack_kind(unsigned int lq)
{
	if (lq == BALLOON_VQ_DEFLATE)
		return REFEREE_REQ_DEFLATE;
	return lq == BALLOON_VQ_REPORTING ? REFEREE_REQ_REPORT : REFEREE_REQ_INFLATE;
}

/*
 * The hold a --balloon key gives a queue.  The stats buffer has none: the
 * device holds it until its next request anyway.
 */
static u64 balloon_ack_queue_hold_ms(const struct balloon *b, unsigned int lq)
{
	switch (lq) {
	case BALLOON_VQ_INFLATE:
		return b->cfg.hold_inflate_ms;
	case BALLOON_VQ_DEFLATE:
		return b->cfg.hold_deflate_ms;
	case BALLOON_VQ_FREE_PAGE:
		return b->cfg.hold_hint_ms;
	case BALLOON_VQ_REPORTING:
		return b->cfg.hold_report_ms;
	}
	return 0;
}

/* The hold of the chain being handled on @lq. */
static u64 balloon_ack_hold_ms(const struct balloon *b, unsigned int lq)
{
	/* Of the hint queue only page in-buffers: a command is not waited for. */
	if (lq == BALLOON_VQ_FREE_PAGE && !b->chain.in_bytes)
		return 0;
	return balloon_ack_queue_hold_ms(b, lq);
}

static bool balloon_ack_holds_any(const struct balloon *b)
{
	unsigned int lq;

	for (lq = 0; lq < BALLOON_NR_VQS; lq++)
		if (balloon_ack_queue_hold_ms(b, lq))
			return true;
	return false;
}

void balloon_ack_open(struct balloon *b, unsigned int lq, u16 head)
{
	b->cur = (struct balloon_ack){
		.head = head,
		.in_balloon = b->ballooned.nr_set,
		.req.kind = balloon_ack_kind(lq),
	};
	if (!b->referee || !balloon_ack_watched(lq))
		return;
	balloon_referee_read(b);
	/*
	 * Writes up to an inflate's (a report's) pop are judged before its
	 * pages are in flight: a write the driver made after queuing a page
	 * but before we popped it cannot be told from one before it queued the
	 * page. A deflate's are judged at its ack, once its own pages have
	 * been looked at (balloon_ack_note).
	 */
	if (lq != BALLOON_VQ_DEFLATE)
		balloon_referee_judge(b);
}

void balloon_ack_note(struct balloon *b, const u32 *pfns, size_t n)
{
	u64 before[REFEREE_NR_CLAUSES];
	struct referee_view v;

	if (!b->referee)
		return;
	balloon_referee_snap(b->referee, before);
	balloon_referee_view(b, &v);
	referee_req_add(b->referee, &b->cur.req, pfns, n, &v);
	balloon_referee_log(b, before);
}

/* The whole pages of a reported range, in batches, as balloon_ack_note. */
void balloon_ack_note_range(struct balloon *b, u64 gpa, u64 len)
{
	u64 pfn = (gpa + PFN_SIZE - 1) >> PFN_SHIFT, end = (gpa + len) >> PFN_SHIFT;
	size_t n = 0;

	if (!b->referee)
		return;
	for (; pfn < end; pfn++) {
		b->pfns[n++] = pfn;
		if (n == ARRAY_SIZE(b->pfns) || pfn + 1 == end) {
			balloon_ack_note(b, b->pfns, n);
			n = 0;
		}
	}
}

/* Right before the push: the last writes of the window, then out of flight. */
static void balloon_ack_settle(struct balloon *b, unsigned int lq, struct balloon_ack *a)
{
	if (!b->referee || !balloon_ack_watched(lq))
		return;
	balloon_referee_read(b);
	balloon_referee_judge(b);
	referee_req_end(b->referee, &a->req);
}

static void balloon_ack_arm(struct balloon *b)
{
	struct itimerspec its = { 0 };
	u64 next = UINT64_MAX;
	unsigned int lq;

	/* Each list is in the order taken, under one hold: its head is due first. */
	for (lq = 0; lq < BALLOON_NR_VQS; lq++)
		if (b->nr_acks[lq])
			next = MIN(next, b->acks[lq][0].due_ns);
	if (next != UINT64_MAX) {
		/* 0 would disarm the timer: a request already due fires at once. */
		next = MAX(next, 1ULL);
		its.it_value.tv_sec = next / 1000000000ULL;
		its.it_value.tv_nsec = next % 1000000000ULL;
	}
	timerfd_settime(b->ack_fd, TFD_TIMER_ABSTIME, &its, NULL);
}

bool balloon_ack(struct balloon *b, unsigned int lq)
{
	u64 ms = balloon_ack_hold_ms(b, lq);

	if (!ms || b->ack_fd < 0 || b->nr_acks[lq] == BALLOON_QUEUE_SIZE) {
		balloon_ack_settle(b, lq, &b->cur);
		return false;
	}
	/* Its pages left the balloon: the writes read at its pop can be judged. */
	if (b->referee && lq == BALLOON_VQ_DEFLATE)
		balloon_referee_judge(b);
	b->cur.due_ns = balloon_now_ns() + ms * 1000000ULL;
	b->acks[lq][b->nr_acks[lq]++] = b->cur;
	b->cur.req = (struct referee_req){ 0 };
	balloon_ack_arm(b);
	return true;
}

/*
 * Push lq's held requests that are due: the list is in the order taken and
 * every entry has the same hold, so those due are its head. In the order
 * taken; with ack_order=reverse, once the oldest is due every request held
 * on lq goes, newest first (none waits past its hold, and a driver with
 * several out sees them come back reversed). Returns true if any went.
 */
static bool balloon_ack_due_vq(struct balloon *b, unsigned int lq, u64 now)
{
	struct balloon_ack *acks = b->acks[lq];
	unsigned int i, n = b->nr_acks[lq], due = 0;

	while (due < n && acks[due].due_ns <= now)
		due++;
	if (!due)
		return false;
	if (b->cfg.ack_reverse)
		due = n;
	for (i = 0; i < due; i++) {
		struct balloon_ack *a = &acks[b->cfg.ack_reverse ? due - 1 - i : i];

		balloon_ack_settle(b, lq, a);
		virtq_push(&b->vdev.vqs[b->lq_to_tq[lq]], a->head, 0);
	}
	memmove(acks, acks + due, (n - due) * sizeof(*acks));
	b->nr_acks[lq] = n - due;
	return true;
}

static void balloon_ack_due(struct balloon *b, u64 now)
{
	unsigned int lq;

	for (lq = 0; lq < BALLOON_NR_VQS; lq++)
		if (balloon_ack_due_vq(b, lq, now))
			virtio_signal_used(&b->vdev, b->lq_to_tq[lq]);
	balloon_ack_arm(b);
}

static void balloon_ack_due_now(struct balloon *b)
{
	balloon_ack_due(b, balloon_now_ns());
}

static void balloon_ack_timer_fn(void *opaque, u32 events __unused)
{
	struct balloon *b = opaque;

	balloon_on_timer(b, b->ack_fd, balloon_ack_due_now);
}

int balloon_ack_init(struct balloon *b)
{
	b->ack_fd = -1;
	if (b->cfg.referee) {
		b->referee = calloc(1, sizeof(*b->referee));
		if (!b->referee || referee_init(b->referee, b->ballooned.nr_pfns))
			return -ENOMEM;
	}
	/* Without an I/O loop (unit tests) every request is acked at once. */
	if (!balloon_ack_holds_any(b) || !b->loop)
		return 0;
	return balloon_timer_open(b, &b->ack_fd, balloon_ack_timer_fn);
}

void balloon_ack_activate(struct balloon *b)
{
	int ret = -ENOSYS;

	if (!b->referee)
		return;
	/* A fresh log: what the guest wrote before its driver started is no one's business. */
	if (b->dirty_ops && b->dirty_ops->log_read)
		ret = b->dirty_ops->log_start(b->dirty_opaque);
	b->referee_logging = !ret;
	if (ret) {
		b->referee->log_errors++;
		balloon_warn(b, "referee: no dirty log (%d): of the page duties only R-7 and R-13 deflates judged",
			     ret);
	}
	balloon_referee_driver_ok(b);
}

static void balloon_ack_drop(struct balloon *b)
{
	unsigned int lq, i;

	for (lq = 0; lq < BALLOON_NR_VQS; lq++) {
		for (i = 0; i < b->nr_acks[lq]; i++)
			free(b->acks[lq][i].req.pfns);
		b->nr_acks[lq] = 0;
	}
	free(b->cur.req.pfns);
	b->cur.req = (struct referee_req){ 0 };
}

void balloon_ack_reset(struct balloon *b)
{
	/* The rings are gone with the driver: nothing held can be pushed. */
	balloon_ack_drop(b);
	if (b->ack_fd >= 0)
		balloon_ack_arm(b);
	if (!b->referee)
		return;
	referee_reset(b->referee);
	/* R-14's count is exact while no PFN after this one goes uncounted. */
	b->referee_inexact_base = balloon_referee_inexact(b);
}

void balloon_ack_free(struct balloon *b)
{
	balloon_ack_drop(b);
	balloon_timer_close(b, &b->ack_fd);
	if (b->referee)
		referee_free(b->referee);
	free(b->referee);
	b->referee = NULL;
}

json_t *balloon_referee_json(struct virtio_device *vdev)
{
	struct balloon *b = to_balloon(vdev);
	json_t *o = NULL;

	pthread_mutex_lock(&vdev->lock);
	if (b->referee)
		o = referee_json(b->referee);
	if (o && balloon_referee_await_json(b, o)) {
		json_decref(o);
		o = NULL;
	}
	pthread_mutex_unlock(&vdev->lock);
	return o;
}

void balloon_referee_postmortem(struct balloon *b, FILE *f)
{
	unsigned int c;

	if (!b->referee)
		return;
	fprintf(f, "ballast-vmm: balloon referee:");
	for (c = 0; c < REFEREE_NR_CLAUSES; c++)
		fprintf(f, " %s %llu%s", referee_clause_name(c),
			(unsigned long long)b->referee->c[c].violations,
			c + 1 < REFEREE_NR_CLAUSES ? "," : "");
	fprintf(f, " (pages, or events from R-17 on, that broke each; %llu log reads)\n",
		(unsigned long long)b->referee->log_reads);
}
