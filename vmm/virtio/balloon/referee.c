// SPDX-License-Identifier: MIT
/* The referee's judgement: pure, on bitmaps (referee.h says what each check claims). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "referee.h"

#define BITS	64

/*
 * Name, key in the query's referee object (r12_violations, r12_pfns; from
 * R-17 on r17_violations, r17_values, r17_checks), what broke.
 */
static const struct {
	const char *name, *key, *what;
} referee_clauses[REFEREE_NR_CLAUSES] = {
	[REFEREE_R7] = { "R-7", "r7", "taken from the balloon at its target without DEFLATE_ON_OOM" },
	[REFEREE_R9] = { "R-9", "r9", "written in the balloon with no deflate request" },
	[REFEREE_R10] = { "R-10", "r10", "written before its deflate was acked (MUST_TELL_HOST)" },
	[REFEREE_R12] = { "R-12", "r12", "written between the device taking its inflate and the ack" },
	[REFEREE_R13] = { "R-13", "r13", "deflated before its inflate was acked" },
	[REFEREE_R38] = { "R-38", "r38",
			  "written between the device taking its free page report and the ack" },
	[REFEREE_R17] = { "R-17", "r17", "a second stats buffer while the device held one" },
	[REFEREE_R20] = { "R-20", "r20",
			  "a stats buffer not whole driver-readable entries, one per statistic" },
	[REFEREE_R22] = { "R-22", "r22", "a stats buffer with another subset of tags" },
	[REFEREE_R23] = { "R-23", "r23", "a free page hint command not 4 bytes" },
	[REFEREE_R24] = { "R-24", "r24",
			  "a hint run started with an id never issued, or pages hinted outside a run" },
	[REFEREE_R25] = { "R-25", "r25", "a hint run started twice with the current id" },
	[REFEREE_R34] = { "R-34", "r34", "PAGE_POISON and poison_val not written by DRIVER_OK" },
	[REFEREE_R35] = { "R-35", "r35", "poison_val changed while DRIVER_OK" },
};

const char *referee_clause_name(enum referee_clause c)
{
	return c < REFEREE_NR_CLAUSES ? referee_clauses[c].name : "?";
}

const char *referee_clause_what(enum referee_clause c)
{
	return c < REFEREE_NR_CLAUSES ? referee_clauses[c].what : "?";
}

bool referee_clause_pfn(enum referee_clause c)
{
	return c < REFEREE_FIRST_PROTO;
}

int referee_init(struct referee *r, u64 nr_pfns)
{
	memset(r, 0, sizeof(*r));
	if (pfn_bitmap_init(&r->inflating, nr_pfns) || pfn_bitmap_init(&r->deflating, nr_pfns) ||
	    pfn_bitmap_init(&r->reporting, nr_pfns) || pfn_bitmap_init(&r->dirty, nr_pfns)) {
		referee_free(r);
		return -ENOMEM;
	}
	return 0;
}

void referee_free(struct referee *r)
{
	pfn_bitmap_free(&r->inflating);
	pfn_bitmap_free(&r->deflating);
	pfn_bitmap_free(&r->reporting);
	pfn_bitmap_free(&r->dirty);
}

void referee_reset(struct referee *r)
{
	pfn_bitmap_clear_all(&r->inflating);
	pfn_bitmap_clear_all(&r->deflating);
	pfn_bitmap_clear_all(&r->reporting);
	pfn_bitmap_clear_all(&r->dirty);
	memset(&r->p, 0, sizeof(r->p));
}

void referee_count(struct referee *r, enum referee_clause c, u32 evidence)
{
	struct referee_count *k = &r->c[c];

	if (k->nr_shown < REFEREE_SHOW)
		k->shown[k->nr_shown++] = evidence;
	k->violations++;
}

static bool referee_r7_applies(const struct referee *r, const struct referee_view *v,
			       u64 in_balloon)
{
	return !v->deflate_on_oom && v->num_pages == in_balloon && v->target_gen == r->settled_gen;
}

static int referee_req_grow(struct referee_req *req)
{
	u32 cap = req->cap ? req->cap * 2 : 256, *p;

	if (cap > REFEREE_REQ_MAX_PFNS)
		return -ENOMEM;
	p = realloc(req->pfns, cap * sizeof(*p));
	if (!p)
		return -ENOMEM;
	req->pfns = p;
	req->cap = cap;
	return 0;
}

/* Test and clear pfn in the log read; r->dirty keeps no count (referee_judge resets it). */
static bool referee_take_dirty(struct referee *r, u32 pfn)
{
	u64 *w = &r->dirty.words[pfn / BITS], bit = 1ULL << (pfn % BITS);
	bool was = *w & bit;

	*w &= ~bit;
	return was;
}

/* A deflated page: what its deflate request itself says about the driver. */
static void referee_deflate_page(struct referee *r, const struct referee_view *v, u32 pfn)
{
	if (pfn_bitmap_test(&r->inflating, pfn))
		referee_count(r, REFEREE_R13, pfn);
	if (!pfn_bitmap_test(v->ballooned, pfn))
		return;		/* not a balloon page: nothing more to judge */
	/*
	 * Written since the last read, while in the balloon: before its
	 * deflate was acked, so R-10 with MUST_TELL_HOST. Without it the write
	 * may have come after the driver queued this deflate: unclaimed,
	 * and not left for referee_judge() to call R-9.
	 */
	if (referee_take_dirty(r, pfn) && v->must_tell_host)
		referee_count(r, REFEREE_R10, pfn);
	if (referee_r7_applies(r, v, v->in_balloon))
		referee_count(r, REFEREE_R7, pfn);
}

static struct pfn_bitmap *referee_flight(struct referee *r, const struct referee_req *req)
{
	switch (req->kind) {
	case REFEREE_REQ_DEFLATE:
		return &r->deflating;
	case REFEREE_REQ_REPORT:
		return &r->reporting;
	default:
		return &r->inflating;
	}
}

int referee_req_add(struct referee *r, struct referee_req *req, const u32 *pfns, size_t n,
		    const struct referee_view *v)
{
	struct pfn_bitmap *flight = referee_flight(r, req);
	size_t i;

	for (i = 0; i < n; i++) {
		/* The guest wrote these: bound every one before it indexes a bitmap. */
		if (pfns[i] >= flight->nr_pfns)
			continue;
		if (req->kind == REFEREE_REQ_DEFLATE)
			referee_deflate_page(r, v, pfns[i]);
		if (req->nr == req->cap && referee_req_grow(req)) {
			r->untracked_pfns += n - i;
			return -ENOMEM;
		}
		req->pfns[req->nr++] = pfns[i];
		pfn_bitmap_test_and_set(flight, pfns[i]);
	}
	return 0;
}

void referee_req_end(struct referee *r, struct referee_req *req)
{
	struct pfn_bitmap *flight = referee_flight(r, req);
	u32 i;

	for (i = 0; i < req->nr; i++)
		pfn_bitmap_test_and_clear(flight, req->pfns[i]);
	free(req->pfns);
	req->pfns = NULL;
	req->nr = req->cap = 0;
}

/* Count every set bit of bits (in word w) against clause c. */
static u64 referee_count_word(struct referee *r, enum referee_clause c, u64 w, u64 bits)
{
	u64 n = 0;

	for (; bits; bits &= bits - 1, n++)
		referee_count(r, c, w * BITS + __builtin_ctzll(bits));
	return n;
}

u64 referee_judge(struct referee *r, const struct referee_view *v)
{
	u64 w, nr_words = (r->dirty.nr_pfns + BITS - 1) / BITS, found = 0;
	bool r7 = referee_r7_applies(r, v, v->ballooned->nr_set);

	for (w = 0; w < nr_words; w++) {
		u64 d = r->dirty.words[w], infl, defl, held, rep;

		if (!d)
			continue;
		r->dirty.words[w] = 0;
		infl = d & r->inflating.words[w];
		defl = d & r->deflating.words[w] & ~infl;
		held = w * BITS < v->ballooned->nr_pfns ? d & v->ballooned->words[w] & ~infl & ~defl : 0;
		rep = d & r->reporting.words[w] & ~infl;
		found += referee_count_word(r, REFEREE_R12, w, infl);
		found += referee_count_word(r, REFEREE_R38, w, rep);
		if (v->must_tell_host)
			found += referee_count_word(r, REFEREE_R10, w, defl | held);
		if (!v->deflate_waiting)
			found += referee_count_word(r, REFEREE_R9, w, held);
		if (r7)
			found += referee_count_word(r, REFEREE_R7, w, held);
	}
	r->dirty.nr_set = 0;
	if (!v->deflate_waiting)
		r->settled_gen = v->target_gen;
	return found;
}

json_t *referee_json(const struct referee *r)
{
	json_t *o = json_object(), *pfns;
	char key[32];
	int err = !o;
	u32 c, i;

	for (c = 0; c < REFEREE_NR_CLAUSES && !err; c++) {
		snprintf(key, sizeof(key), "%s_violations", referee_clauses[c].key);
		err = json_object_set_new(o, key, json_integer(r->c[c].violations));
		pfns = json_array();
		for (i = 0; pfns && i < r->c[c].nr_shown; i++)
			err |= json_array_append_new(pfns, json_integer(r->c[c].shown[i]));
		snprintf(key, sizeof(key), "%s_%s", referee_clauses[c].key,
			 referee_clause_pfn(c) ? "pfns" : "values");
		err |= json_object_set_new(o, key, pfns);
		if (referee_clause_pfn(c))
			continue;
		snprintf(key, sizeof(key), "%s_checks", referee_clauses[c].key);
		err |= json_object_set_new(o, key, json_integer(r->c[c].checks));
	}
	err = err || json_object_set_new(o, "log_reads", json_integer(r->log_reads));
	err = err || json_object_set_new(o, "log_errors", json_integer(r->log_errors));
	err = err || json_object_set_new(o, "untracked_pfns", json_integer(r->untracked_pfns));
	if (err) {
		json_decref(o);
		return NULL;
	}
	return o;
}
