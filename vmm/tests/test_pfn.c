// SPDX-License-Identifier: MIT
/*
 * PFN helpers: validation, sort/dedupe, merging (exact to the page: an
 * off-by-one in pfn_merge() fails here), the ballooned-page bitmap and the
 * huge-host-page rule with partially ballooned host pages.
 */
#include <stdlib.h>
#include <string.h>

#include "../memory.h"
#include "../virtio/pfn.h"
#include "tap.h"

#define R0_SIZE		(4 * SZ_1M)
#define R1_GPA		(8 * SZ_1M)
#define R1_SIZE		(2 * SZ_1M)

static struct guest_mem mem;

struct collect {
	struct pfn_range r[64];
	int n;
};

static int collect_fn(void *opaque, struct pfn_range r)
{
	struct collect *c = opaque;

	if (c->n < 64)
		c->r[c->n] = r;
	c->n++;
	return 0;
}

static bool range_is(const struct pfn_range *r, u64 start, u64 nr)
{
	if (r->start == start && r->nr == nr)
		return true;
	printf("#   range {%llu, %llu}, want {%llu, %llu}\n", (unsigned long long)r->start,
	       (unsigned long long)r->nr, (unsigned long long)start, (unsigned long long)nr);
	return false;
}

static void test_valid(void)
{
	u64 pairs[] = { 0, R0_SIZE, R1_GPA, R1_SIZE };
	void *ram = aligned_alloc(4096, R0_SIZE + R1_SIZE);

	guest_mem_init_fake(&mem, ram, pairs, 2);
	tap_ok(pfn_valid(&mem, 0), "pfn 0 valid");
	tap_ok(pfn_valid(&mem, R0_SIZE / 4096 - 1), "last page of region 0 valid");
	tap_ok(!pfn_valid(&mem, R0_SIZE / 4096), "first page after region 0 invalid");
	tap_ok(!pfn_valid(&mem, 5 * SZ_1M / 4096), "page in the hole invalid");
	tap_ok(pfn_valid(&mem, R1_GPA / 4096), "first page of region 1 valid");
	tap_ok(!pfn_valid(&mem, (R1_GPA + R1_SIZE) / 4096), "page after the end of RAM invalid");
	tap_ok(!pfn_valid(&mem, 0xffffffffULL), "pfn 2^32 - 1 invalid");
	tap_ok(!pfn_valid(&mem, 1ULL << 52), "pfn whose gpa would overflow invalid");
	tap_eq(pfn_limit(&mem), (R1_GPA + R1_SIZE) / 4096, "limit is one past the last page");
}

static void test_sort_dedupe(void)
{
	u32 a[] = { 9, 3, 3, 1, 9, 2, 3, 0xffffffff, 1 };
	u32 want[] = { 1, 2, 3, 9, 0xffffffff };
	u32 same[] = { 7, 7, 7, 7 };
	size_t n = pfn_sort_dedupe(a, ARRAY_SIZE(a));

	tap_eq(n, 5, "dedupe count");
	tap_ok(!memcmp(a, want, sizeof(want)), "sorted and unique");
	tap_eq(pfn_sort_dedupe(same, 4), 1, "all duplicates collapse to one");
	tap_eq(pfn_sort_dedupe(a, 0), 0, "empty input");
}

static void test_merge(void)
{
	u32 a[] = { 1, 2, 3, 5, 6, 9 };
	u32 gap[] = { 10, 12 };
	u32 adj[] = { 10, 11 };
	u32 wrap[] = { 0xfffffffe, 0xffffffff };
	static u32 big[256];
	struct pfn_range r[256];
	size_t n;
	int i;

	n = pfn_merge(a, ARRAY_SIZE(a), r);
	tap_eq(n, 3, "merge: three runs");
	tap_ok(range_is(&r[0], 1, 3) && range_is(&r[1], 5, 2) && range_is(&r[2], 9, 1),
	       "merge: runs exact to the page");
	/* The two off-by-one directions: a gap of one page, and neighbours. */
	n = pfn_merge(gap, 2, r);
	tap_ok(n == 2 && range_is(&r[0], 10, 1) && range_is(&r[1], 12, 1),
	       "merge: a one-page gap is not bridged");
	n = pfn_merge(adj, 2, r);
	tap_ok(n == 1 && range_is(&r[0], 10, 2), "merge: neighbouring pages merge");
	n = pfn_merge(wrap, 2, r);
	tap_ok(n == 1 && range_is(&r[0], 0xfffffffe, 2), "merge: no wrap at 2^32");
	for (i = 0; i < 256; i++)
		big[i] = 100 + i;
	n = pfn_merge(big, 256, r);
	tap_ok(n == 1 && range_is(&r[0], 100, 256), "merge: 256 pages (one Linux request) into one");
	big[128] = 1000;
	n = pfn_sort_dedupe(big, 256);
	n = pfn_merge(big, n, r);
	tap_ok(n == 3 && range_is(&r[0], 100, 128) && range_is(&r[1], 229, 127) &&
	       range_is(&r[2], 1000, 1), "merge: hole in the middle splits exactly");
	tap_eq(pfn_merge(big, 0, r), 0, "merge: nothing");
}

static void test_align(void)
{
	struct pfn_range r;

	r = pfn_range_align_in((struct pfn_range){ 1, 1024 }, 512);
	tap_ok(range_is(&r, 512, 512), "align in: partial host pages at both ends dropped");
	r = pfn_range_align_in((struct pfn_range){ 0, 511 }, 512);
	tap_eq(r.nr, 0, "align in: less than a host page is nothing");
	r = pfn_range_align_in((struct pfn_range){ 0, 512 }, 512);
	tap_ok(range_is(&r, 0, 512), "align in: exactly a host page");
	r = pfn_range_align_in((struct pfn_range){ 3, 5 }, 1);
	tap_ok(range_is(&r, 3, 5), "align in: 4 KiB host pages keep the range");
}

static void test_regions(void)
{
	struct collect c = { .n = 0 };

	/* From 1 MiB before the end of region 0 to the middle of region 1. */
	pfn_range_for_each_region(&mem, (struct pfn_range){ (R0_SIZE - SZ_1M) / 4096,
				   (R1_GPA + SZ_1M - R0_SIZE + SZ_1M) / 4096 },
				  collect_fn, &c);
	tap_ok(c.n == 2 && range_is(&c.r[0], (R0_SIZE - SZ_1M) / 4096, 256) &&
	       range_is(&c.r[1], R1_GPA / 4096, 256), "range split at the hole");
}

static void test_bitmap(void)
{
	struct pfn_bitmap bm;
	u64 i;

	tap_eq(pfn_bitmap_init(&bm, 1000), 0, "bitmap init");
	tap_ok(!pfn_bitmap_test_and_set(&bm, 63) && pfn_bitmap_test_and_set(&bm, 63),
	       "test_and_set returns the old bit");
	tap_ok(pfn_bitmap_test(&bm, 63) && !pfn_bitmap_test(&bm, 64) && !pfn_bitmap_test(&bm, 5000),
	       "test, including past the end");
	tap_eq(bm.nr_set, 1, "one page set");
	for (i = 60; i < 200; i++)
		pfn_bitmap_test_and_set(&bm, i);
	tap_eq(bm.nr_set, 140, "set count after a run");
	tap_ok(pfn_bitmap_range_full(&bm, (struct pfn_range){ 60, 140 }), "range full across words");
	tap_ok(!pfn_bitmap_range_full(&bm, (struct pfn_range){ 59, 2 }), "range with a hole before");
	tap_ok(!pfn_bitmap_range_full(&bm, (struct pfn_range){ 199, 2 }), "range with a hole after");
	tap_ok(!pfn_bitmap_range_full(&bm, (struct pfn_range){ 990, 20 }), "range past the end");
	tap_ok(pfn_bitmap_test_and_clear(&bm, 100) && !pfn_bitmap_test_and_clear(&bm, 100),
	       "test_and_clear returns the old bit");
	tap_eq(bm.nr_set, 139, "clear counted");
	pfn_bitmap_clear_all(&bm);
	tap_ok(bm.nr_set == 0 && !pfn_bitmap_test(&bm, 63), "clear all");
	pfn_bitmap_free(&bm);
}

static void test_host_pages(void)
{
	struct pfn_bitmap bm;
	struct collect c;
	u64 i;

	pfn_bitmap_init(&bm, 4096);
	for (i = 0; i < 511; i++)
		pfn_bitmap_test_and_set(&bm, i);
	c.n = 0;
	pfn_for_each_full_host_range(&bm, (struct pfn_range){ 0, 511 }, 512, collect_fn, &c);
	tap_eq(c.n, 0, "huge page: 511 of 512 pieces releases nothing");
	pfn_bitmap_test_and_set(&bm, 511);
	c.n = 0;
	pfn_for_each_full_host_range(&bm, (struct pfn_range){ 511, 1 }, 512, collect_fn, &c);
	tap_ok(c.n == 1 && range_is(&c.r[0], 0, 512), "huge page: the last piece releases it whole");
	for (i = 512; i < 1024 + 10; i++)
		pfn_bitmap_test_and_set(&bm, i);
	c.n = 0;
	pfn_for_each_full_host_range(&bm, (struct pfn_range){ 500, 534 }, 512, collect_fn, &c);
	tap_ok(c.n == 1 && range_is(&c.r[0], 0, 1024),
	       "huge page: neighbouring full host pages merge, partial third skipped");
	pfn_bitmap_test_and_clear(&bm, 700);
	c.n = 0;
	pfn_for_each_full_host_range(&bm, (struct pfn_range){ 0, 1024 }, 512, collect_fn, &c);
	tap_ok(c.n == 1 && range_is(&c.r[0], 0, 512), "huge page: a deflated piece keeps its host page");

	pfn_bitmap_clear_all(&bm);
	for (i = 5; i < 10; i++)
		pfn_bitmap_test_and_set(&bm, i);
	c.n = 0;
	pfn_for_each_full_host_range(&bm, (struct pfn_range){ 4, 7 }, 1, collect_fn, &c);
	tap_ok(c.n == 1 && range_is(&c.r[0], 5, 5), "4 KiB host pages: exactly the set pages");
	pfn_bitmap_free(&bm);
}

int main(void)
{
	tap_start();
	test_valid();
	test_sort_dedupe();
	test_merge();
	test_align();
	test_regions();
	test_bitmap();
	test_host_pages();
	return tap_done();
}
