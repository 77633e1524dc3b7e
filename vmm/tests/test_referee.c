// SPDX-License-Identifier: MIT
/*
 * The referee's judgement (virtio/balloon/referee.c) on fake bitmaps: each
 * driver duty it checks fails where the spec says, and only there.
 */
#include <string.h>

#include "../virtio/balloon/referee.h"
#include "tap.h"

#define NR_PFNS		4096

static struct referee ref;
static struct pfn_bitmap ballooned;

/* A fresh referee and balloon; the view's defaults: nothing negotiated, target far off. */
static struct referee_view fresh(void)
{
	referee_free(&ref);
	pfn_bitmap_free(&ballooned);
	if (referee_init(&ref, NR_PFNS) || pfn_bitmap_init(&ballooned, NR_PFNS)) {
		printf("Bail out! no memory\n");
		exit(1);
	}
	return (struct referee_view){ .ballooned = &ballooned, .num_pages = 1000 };
}

static void write_page(u32 pfn)
{
	ref.dirty.words[pfn / 64] |= 1ULL << (pfn % 64);
}

/* Inflate pfns as the device does: in flight, then in the balloon. */
static void inflate(struct referee_req *req, const u32 *pfns, size_t n,
		    const struct referee_view *v)
{
	size_t i;

	*req = (struct referee_req){ .kind = REFEREE_REQ_INFLATE };
	referee_req_add(&ref, req, pfns, n, v);
	/* The device takes only the PFNs inside guest RAM into its balloon. */
	for (i = 0; i < n; i++)
		if (pfns[i] < NR_PFNS)
			pfn_bitmap_test_and_set(&ballooned, pfns[i]);
}

static void deflate(struct referee_req *req, const u32 *pfns, size_t n,
		    struct referee_view *v)
{
	size_t i;

	*req = (struct referee_req){ .kind = REFEREE_REQ_DEFLATE };
	v->in_balloon = ballooned.nr_set;
	referee_req_add(&ref, req, pfns, n, v);
	for (i = 0; i < n; i++)
		if (pfns[i] < NR_PFNS)
			pfn_bitmap_test_and_clear(&ballooned, pfns[i]);
}

#define V(clause) (ref.c[REFEREE_##clause].violations)

static void test_r12(void)
{
	struct referee_view v = fresh();
	u32 pfns[] = { 10, 11, 12 };
	struct referee_req req;

	write_page(11);		/* before the pop: not the referee's to judge */
	referee_judge(&ref, &v);
	inflate(&req, pfns, 3, &v);
	tap_eq(V(R12), 0, "R-12: a write before the pop is no violation");
	write_page(11);
	tap_eq(referee_judge(&ref, &v), 1, "R-12: a write while the inflate is in flight is found");
	tap_ok(V(R12) == 1 && ref.c[REFEREE_R12].shown[0] == 11, "R-12: counted once, PFN 11 shown");
	tap_eq(V(R9), 0, "R-12: a page in flight is not also R-9");
	referee_req_end(&ref, &req);
	write_page(11);
	referee_judge(&ref, &v);
	tap_eq(V(R12), 1, "R-12: after the ack a write is no longer R-12");
	tap_eq(V(R9), 1, "R-9: ... but a write to a balloon page with no deflate");
}

static void test_r9_waiting(void)
{
	struct referee_view v = fresh();
	u32 pfns[] = { 100 };
	struct referee_req req;

	inflate(&req, pfns, 1, &v);
	referee_req_end(&ref, &req);
	v.deflate_waiting = true;
	write_page(100);
	referee_judge(&ref, &v);
	tap_eq(V(R9), 0, "R-9: not claimed while a deflate waits unread (R-11 may allow it)");
	tap_eq(V(R10), 0, "R-10: not without MUST_TELL_HOST");
	write_page(200);	/* not a balloon page */
	v.deflate_waiting = false;
	referee_judge(&ref, &v);
	tap_eq(V(R9), 0, "R-9: a write outside the balloon is the guest's own business");
}

static void test_r13(void)
{
	struct referee_view v = fresh();
	u32 pfns[] = { 20, 21 }, back[] = { 21 };
	struct referee_req in, out;

	inflate(&in, pfns, 2, &v);
	deflate(&out, back, 1, &v);
	tap_ok(V(R13) == 1 && ref.c[REFEREE_R13].shown[0] == 21,
	       "R-13: deflate of a page whose inflate is in flight");
	referee_req_end(&ref, &out);
	referee_req_end(&ref, &in);
	deflate(&out, pfns, 1, &v);
	tap_eq(V(R13), 1, "R-13: a deflate after the inflate's ack is fine");
	referee_req_end(&ref, &out);
}

static void test_r10(void)
{
	struct referee_view v = fresh();
	u32 pfns[] = { 30, 31 };
	struct referee_req in, out;

	inflate(&in, pfns, 2, &v);
	referee_req_end(&ref, &in);
	/* Written in the balloon, seen by the read at the deflate's pop. */
	write_page(30);
	deflate(&out, pfns, 1, &v);
	tap_eq(V(R10), 0, "no MUST_TELL_HOST: a write before the deflate's pop is not claimed");
	referee_judge(&ref, &v);
	tap_eq(V(R9), 0, "... nor left over as R-9 (it may follow the queued deflate)");
	write_page(30);
	referee_judge(&ref, &v);
	tap_eq(V(R10), 0, "no MUST_TELL_HOST: a write while the deflate is in flight is R-11's");
	referee_req_end(&ref, &out);

	v.must_tell_host = true;
	write_page(31);
	deflate(&out, pfns + 1, 1, &v);
	tap_ok(V(R10) == 1 && ref.c[REFEREE_R10].shown[0] == 31,
	       "MUST_TELL_HOST: written in the balloon before its deflate: R-10");
	write_page(31);
	referee_judge(&ref, &v);
	tap_eq(V(R10), 2, "MUST_TELL_HOST: written while the deflate is in flight: R-10");
	referee_req_end(&ref, &out);
	write_page(31);
	referee_judge(&ref, &v);
	tap_eq(V(R10), 2, "MUST_TELL_HOST: after the deflate's ack the page is the driver's");
}

static void test_r7(void)
{
	struct referee_view v = fresh();
	u32 pfns[] = { 40, 41, 42 };
	struct referee_req in, out;

	inflate(&in, pfns, 3, &v);
	referee_req_end(&ref, &in);
	v.num_pages = 3;	/* the balloon is at its target */
	referee_judge(&ref, &v);	/* settles the target */
	deflate(&out, pfns, 1, &v);
	tap_ok(V(R7) == 1 && ref.c[REFEREE_R7].shown[0] == 40,
	       "R-7: deflate at the target without DEFLATE_ON_OOM");
	referee_req_end(&ref, &out);

	v.num_pages = 1;	/* below: R-5 allows it */
	deflate(&out, pfns + 1, 1, &v);
	tap_eq(V(R7), 1, "R-7: deflate when num_pages < pages in the balloon is R-5's");
	referee_req_end(&ref, &out);

	v.num_pages = 1;
	v.deflate_on_oom = true;
	deflate(&out, pfns + 2, 1, &v);
	tap_eq(V(R7), 1, "R-7: with DEFLATE_ON_OOM (R-8) nothing is claimed");
	referee_req_end(&ref, &out);

	v = fresh();
	inflate(&in, pfns, 2, &v);
	referee_req_end(&ref, &in);
	v.num_pages = 2;
	v.target_gen = 1;	/* a new target the driver may not have seen */
	deflate(&out, pfns, 1, &v);
	tap_eq(V(R7), 0, "R-7: not claimed against a target newer than the last quiet read");
	referee_req_end(&ref, &out);

	v = fresh();
	inflate(&in, pfns, 2, &v);
	referee_req_end(&ref, &in);
	v.num_pages = 2;
	referee_judge(&ref, &v);
	write_page(41);
	referee_judge(&ref, &v);
	tap_ok(V(R7) == 1 && V(R9) == 1, "R-7 and R-9: a balloon page written at the target");
}

static void test_untrusted(void)
{
	struct referee_view v = fresh();
	u32 bad[] = { NR_PFNS, 0xffffffff, 7 };
	struct referee_req inf, def;

	inflate(&inf, bad, 1, &v);
	tap_eq(referee_req_add(&ref, &inf, bad, 3, &v), 0, "PFNs past the bitmaps are skipped");
	tap_eq(inf.nr, 1, "only the PFN inside is tracked");
	deflate(&def, bad, 3, &v);
	tap_eq(V(R13), 1, "the valid one is judged (in flight for inflate)");
	referee_reset(&ref);
	tap_eq(ref.inflating.nr_set + ref.deflating.nr_set, 0, "a reset ends every flight");
	referee_req_end(&ref, &inf);
	referee_req_end(&ref, &def);
}

/*
 * a report's pages, popped and not acked, written. Linux's order is
 * clean: it writes a freed page before reporting it, and again only after
 * the ack hands it back to the allocator.
 */
static void test_r38(void)
{
	struct referee_view v = fresh();
	u32 pfns[] = { 512, 513, 514, 515 };
	struct referee_req req = { .kind = REFEREE_REQ_REPORT };
	json_t *o;

	write_page(513);	/* freed, then reported: before the pop */
	referee_judge(&ref, &v);
	referee_req_add(&ref, &req, pfns, 4, &v);
	tap_eq(referee_judge(&ref, &v), 0, "R-38: nothing written between pop and ack: quiet");
	referee_req_end(&ref, &req);
	write_page(513);	/* allocated again after the ack */
	referee_judge(&ref, &v);
	tap_ok(V(R38) == 0 && V(R9) == 0 && V(R12) == 0,
	       "R-38: a Linux-like report, written before the pop and after the ack: no count");

	req = (struct referee_req){ .kind = REFEREE_REQ_REPORT };
	referee_req_add(&ref, &req, pfns, 4, &v);
	write_page(514);
	tap_eq(referee_judge(&ref, &v), 1, "R-38: a reported page written before the ack is found");
	tap_ok(V(R38) == 1 && ref.c[REFEREE_R38].shown[0] == 514 && V(R12) == 0 && V(R9) == 0,
	       "R-38: counted once, PFN 514 shown, as nothing else");
	o = referee_json(&ref);
	tap_ok(o && json_integer_value(json_object_get(o, "r38_violations")) == 1 &&
	       json_integer_value(json_array_get(json_object_get(o, "r38_pfns"), 0)) == 514,
	       "R-38: JSON r38_violations 1, r38_pfns [514]");
	json_decref(o);
	referee_req_end(&ref, &req);
	tap_eq(ref.reporting.nr_set, 0, "R-38: the ack takes the report out of flight");
	tap_ok(referee_clause_pfn(REFEREE_R38) && !strcmp(referee_clause_name(REFEREE_R38), "R-38"),
	       "R-38: a page duty, named as in the notes");
}

static void test_json(void)
{
	struct referee_view v = fresh();
	u32 pfns[] = { 5 };
	struct referee_req req;
	json_t *o;

	inflate(&req, pfns, 1, &v);
	write_page(5);
	referee_judge(&ref, &v);
	o = referee_json(&ref);
	tap_ok(o && json_integer_value(json_object_get(o, "r12_violations")) == 1 &&
	       json_integer_value(json_array_get(json_object_get(o, "r12_pfns"), 0)) == 5 &&
	       json_integer_value(json_object_get(o, "r13_violations")) == 0,
	       "JSON: r12_violations 1, r12_pfns [5], r13_violations 0");
	json_decref(o);
	referee_req_end(&ref, &req);
	tap_ok(!strcmp(referee_clause_name(REFEREE_R12), "R-12"), "clause names as in the notes");
}

int main(void)
{
	tap_start();
	test_r12();
	test_r9_waiting();
	test_r13();
	test_r10();
	test_r7();
	test_untrusted();
	test_r38();
	test_json();
	referee_free(&ref);
	pfn_bitmap_free(&ballooned);
	return tap_done();
}
