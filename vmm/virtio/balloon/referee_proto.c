// SPDX-License-Identifier: MIT
/*
 * The referee's protocol duties: pure judgement of what the driver writes
 * to config space and puts on the stats and free page queues (referee.h
 * says what each check claims and why the duties with no deadline are
 * only exposed). The device passes the time in; nothing here reads a clock.
 */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "defs.h"
#include "referee.h"

/* Ids a device can issue: BALLOON_HINT_CMD_ID_FIRST up to UINT32_MAX. */
#define REFEREE_HINT_NR_IDS	((u64)UINT32_MAX - BALLOON_HINT_CMD_ID_FIRST + 1)

/* One judgement of c: a check, and a violation with its evidence if broken. */
static void referee_judge_one(struct referee *r, enum referee_clause c, bool broken, u32 evidence)
{
	r->c[c].checks++;
	if (broken)
		referee_count(r, c, evidence);
}

void referee_driver_ok(struct referee *r, bool poison, bool stats, u64 now)
{
	if (poison)
		referee_judge_one(r, REFEREE_R34, !r->p.poison_written, 0);
	r->p.stats_on = stats;
	r->p.stats_owed_ns = now;
}

/*
 * The tags of buf's whole entries, sorted, into tags; how many, or -1 when
 * there are more than REFEREE_STATS_MAX (the rest unread: no subset).
 */
static int referee_stats_tags(const u8 *buf, size_t len, u16 tags[REFEREE_STATS_MAX])
{
	size_t off;
	int n = 0, i;
	u16 t;

	for (off = 0; off + BALLOON_STAT_SIZE <= len; off += BALLOON_STAT_SIZE) {
		if (n == REFEREE_STATS_MAX)
			return -1;
		memcpy(&t, buf + off, sizeof(t));
		t = le16toh(t);
		for (i = n; i > 0 && tags[i - 1] > t; i--)
			tags[i] = tags[i - 1];
		tags[i] = t;
		n++;
	}
	return n;
}

/* Sorted tags: the first one repeated, or -1; then the set, repeats dropped. */
static int referee_stats_dedupe(u16 *tags, int *n)
{
	int i, kept = 0, repeat = -1;

	for (i = 0; i < *n; i++) {
		if (kept && tags[kept - 1] == tags[i]) {
			if (repeat < 0)
				repeat = tags[i];
			continue;
		}
		tags[kept++] = tags[i];
	}
	*n = kept;
	return repeat;
}

/* A tag in one sorted set and not the other, or -1 if they are equal. */
static int referee_stats_differ(const u16 *a, int na, const u16 *b, int nb)
{
	int i = 0, j = 0;

	while (i < na && j < nb && a[i] == b[j]) {
		i++;
		j++;
	}
	if (i == na && j == nb)
		return -1;
	if (i == na)
		return b[j];
	if (j == nb)
		return a[i];
	return MIN(a[i], b[j]);
}

/* a buffer's set of tags against the first non-empty one's. */
static void referee_stats_subset(struct referee *r, const u16 *tags, int n)
{
	int diff;

	if (!r->p.subset_known) {
		memcpy(r->p.subset, tags, n * sizeof(*tags));
		r->p.nr_subset = n;
		r->p.subset_known = true;
		return;
	}
	diff = referee_stats_differ(r->p.subset, r->p.nr_subset, tags, n);
	referee_judge_one(r, REFEREE_R22, diff >= 0, diff);
}

void referee_stats_buffer(struct referee *r, u32 in_bytes, u32 out_bytes, const u8 *buf,
			  size_t len)
{
	u16 tags[REFEREE_STATS_MAX];
	int n, repeat;

	/* A second buffer: the device gives the one it held back (vq.c). */
	referee_judge_one(r, REFEREE_R17, r->p.stats_held, 2);
	r->p.stats_used += r->p.stats_held;
	r->p.stats_held = true;
	r->p.stats_buffers++;

	len = MIN(len, (size_t)out_bytes);
	n = referee_stats_tags(buf, len, tags);
	repeat = n > 0 ? referee_stats_dedupe(tags, &n) : -1;
	if (in_bytes)
		referee_judge_one(r, REFEREE_R20, true, in_bytes);
	else if (out_bytes % BALLOON_STAT_SIZE)
		referee_judge_one(r, REFEREE_R20, true, out_bytes);
	else
		referee_judge_one(r, REFEREE_R20, repeat >= 0, repeat);
	/* Only a buffer of whole entries, all read, says which subset it is. */
	if (n > 0 && len == out_bytes && !(out_bytes % BALLOON_STAT_SIZE))
		referee_stats_subset(r, tags, n);
}

void referee_stats_used(struct referee *r, u64 now)
{
	if (!r->p.stats_held)
		return;
	r->p.stats_held = false;
	r->p.stats_used++;
	r->p.stats_owed_ns = now;
}

/* An id that was never in free_page_hint_cmd_id: no run can start with it. */
static bool referee_hint_never_issued(const struct referee_hint_view *v, u32 id)
{
	if (id == BALLOON_HINT_CMD_ID_DONE)
		return !v->done_issued;
	return v->ids_issued < REFEREE_HINT_NR_IDS &&
	       (u64)(id - BALLOON_HINT_CMD_ID_FIRST) >= v->ids_issued;
}

/* The driver starts a run with id (not STOP). */
static void referee_hint_start(struct referee *r, const struct referee_hint_view *v, u32 id)
{
	referee_judge_one(r, REFEREE_R24, referee_hint_never_issued(v, id), id);
	/*
	 * Only the current id started twice is R-25's: an older one is stale
	 * (the device moved on after the driver read it). ids_issued tells
	 * one issue of an id from the next, should the ids ever go round.
	 */
	if (id == v->current_id && id >= BALLOON_HINT_CMD_ID_FIRST) {
		referee_judge_one(r, REFEREE_R25, r->p.hint_started == v->ids_issued, id);
		r->p.hint_started = v->ids_issued;
	}
	r->p.hint_open = true;
	r->p.hint_run_id = id;
	r->p.hint_starts++;
}

void referee_hint_chain(struct referee *r, const struct referee_hint_view *v, u32 out_bytes,
			u32 id, u32 page_bytes)
{
	if (out_bytes) {
		referee_judge_one(r, REFEREE_R23, out_bytes != sizeof(id), out_bytes);
		/* A command of another size cannot be read: its pages neither. */
		if (out_bytes != sizeof(id))
			return;
		if (id == BALLOON_HINT_CMD_ID_STOP) {
			r->p.hint_open = false;
			r->p.hint_run_id = 0;
			r->p.hint_stops++;
		} else {
			referee_hint_start(r, v, id);
		}
	}
	/* Chains on one queue are taken in the order the driver added them. */
	if (page_bytes)
		referee_judge_one(r, REFEREE_R24, !r->p.hint_open, 0);
}

void referee_poison_write(struct referee *r, bool driver_ok, u32 old, u32 val)
{
	r->p.poison_written = true;
	if (driver_ok)
		referee_judge_one(r, REFEREE_R35, val != old, val);
}

int referee_await_json(json_t *o, const struct referee *r, const struct referee_balloon_view *v,
		       u64 now)
{
	const struct referee_proto *p = &r->p;
	bool owed = p->stats_on && !p->stats_held;
	/* ms since the driver owes a stats buffer; -1: none owed. */
	json_int_t owed_ms = owed ? (json_int_t)((now - p->stats_owed_ns) / 1000000) : -1;
	struct {
		const char *key;
		json_t *val;
	} f[] = {
		{ "actual", json_integer(v->actual) },
		{ "balloon_pages", json_integer(v->balloon_pages) },
		{ "balloon_pages_exact", json_boolean(v->exact) },
		{ "requests_held", json_integer(v->requests_held) },
		{ "requests_waiting", json_boolean(v->requests_waiting) },
		{ "stats_buffers", json_integer(p->stats_buffers) },
		{ "stats_used", json_integer(p->stats_used) },
		{ "stats_held", json_boolean(p->stats_held) },
		{ "stats_owed_ms", json_integer(owed_ms) },
		{ "hint_starts", json_integer(p->hint_starts) },
		{ "hint_stops", json_integer(p->hint_stops) },
		{ "hint_run_id", json_integer(p->hint_open ? p->hint_run_id : 0) },
	};
	size_t i;
	int err = 0;

	/* set_new takes each value, and drops it (NULL or not) on failure. */
	for (i = 0; i < ARRAY_SIZE(f); i++)
		err |= json_object_set_new(o, f[i].key, f[i].val);
	return err ? -ENOMEM : 0;
}
