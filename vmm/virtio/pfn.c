// SPDX-License-Identifier: MIT
/*
 * Balloon PFN helpers: see pfn.h. Everything here is pure so that the unit
 * tests can pin down the off-by-one cases (merging, partial host pages).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pfn.h"

#define BITS_PER_WORD	64

bool pfn_valid(const struct guest_mem *mem, u64 pfn)
{
	/* A PFN above 2^52 would overflow the shift into a bogus small gpa. */
	if (pfn >> (64 - PFN_SHIFT))
		return false;
	return guest_mem_valid(mem, pfn_to_gpa(pfn), PFN_SIZE);
}

u64 pfn_limit(const struct guest_mem *mem)
{
	u64 limit = 0;
	int i;

	for (i = 0; i < mem->nr_regions; i++)
		limit = MAX(limit, (mem->regions[i].gpa + mem->regions[i].size) >> PFN_SHIFT);
	return limit;
}

static int pfn_cmp(const void *a, const void *b)
{
	u32 x = *(const u32 *)a, y = *(const u32 *)b;

	return (x > y) - (x < y);
}

size_t pfn_sort_dedupe(u32 *pfns, size_t n)
{
	size_t i, out = 0;

	if (!n)
		return 0;
	qsort(pfns, n, sizeof(*pfns), pfn_cmp);
	for (i = 1; i < n; i++)
		if (pfns[i] != pfns[out])
			pfns[++out] = pfns[i];
	return out + 1;
}

size_t pfn_merge(const u32 *pfns, size_t n, struct pfn_range *ranges)
{
	size_t i, nr = 0;

	for (i = 0; i < n; i++) {
		/* Extend the open run only by the page right after its last one. */
		if (nr && ranges[nr - 1].start + ranges[nr - 1].nr == pfns[i]) {
			ranges[nr - 1].nr++;
			continue;
		}
		ranges[nr].start = pfns[i];
		ranges[nr].nr = 1;
		nr++;
	}
	return nr;
}

struct pfn_range pfn_range_align_in(struct pfn_range r, u64 pages_per_host)
{
	u64 p = pages_per_host ? pages_per_host : 1;
	u64 start = (r.start + p - 1) / p * p;
	u64 end = (r.start + r.nr) / p * p;

	if (end <= start)
		return (struct pfn_range){ start, 0 };
	return (struct pfn_range){ start, end - start };
}

int pfn_range_for_each_region(const struct guest_mem *mem, struct pfn_range r,
			      pfn_range_fn fn, void *opaque)
{
	int i, ret;

	for (i = 0; i < mem->nr_regions; i++) {
		const struct guest_mem_region *reg = &mem->regions[i];
		u64 rs = (reg->gpa + PFN_SIZE - 1) >> PFN_SHIFT;
		u64 re = (reg->gpa + reg->size) >> PFN_SHIFT;
		u64 s = MAX(r.start, rs), e = MIN(r.start + r.nr, re);

		if (s >= e)
			continue;
		ret = fn(opaque, (struct pfn_range){ s, e - s });
		if (ret)
			return ret;
	}
	return 0;
}

int pfn_bitmap_init(struct pfn_bitmap *bm, u64 nr_pfns)
{
	u64 words = (nr_pfns + BITS_PER_WORD - 1) / BITS_PER_WORD;

	bm->nr_pfns = nr_pfns;
	bm->nr_set = 0;
	bm->words = calloc(words ? words : 1, sizeof(u64));
	return bm->words ? 0 : -ENOMEM;
}

void pfn_bitmap_free(struct pfn_bitmap *bm)
{
	free(bm->words);
	bm->words = NULL;
	bm->nr_pfns = bm->nr_set = 0;
}

void pfn_bitmap_clear_all(struct pfn_bitmap *bm)
{
	memset(bm->words, 0, (bm->nr_pfns + BITS_PER_WORD - 1) / BITS_PER_WORD * sizeof(u64));
	bm->nr_set = 0;
}

bool pfn_bitmap_test(const struct pfn_bitmap *bm, u64 pfn)
{
	if (pfn >= bm->nr_pfns)
		return false;
	return bm->words[pfn / BITS_PER_WORD] & BIT(pfn % BITS_PER_WORD);
}

bool pfn_bitmap_test_and_set(struct pfn_bitmap *bm, u64 pfn)
{
	u64 *w = &bm->words[pfn / BITS_PER_WORD], bit = BIT(pfn % BITS_PER_WORD);

	if (*w & bit)
		return true;
	*w |= bit;
	bm->nr_set++;
	return false;
}

bool pfn_bitmap_test_and_clear(struct pfn_bitmap *bm, u64 pfn)
{
	u64 *w = &bm->words[pfn / BITS_PER_WORD], bit = BIT(pfn % BITS_PER_WORD);

	if (!(*w & bit))
		return false;
	*w &= ~bit;
	bm->nr_set--;
	return true;
}

/* Mask of bits [from, to) within one word, 0 <= from < to <= 64. */
static inline u64 pfn_word_mask(unsigned int from, unsigned int to)
{
	u64 hi = to == BITS_PER_WORD ? ~0ULL : BIT(to) - 1;

	return hi & ~(BIT(from) - 1);
}

bool pfn_bitmap_range_full(const struct pfn_bitmap *bm, struct pfn_range r)
{
	u64 pfn = r.start, end = r.start + r.nr;

	if (end > bm->nr_pfns || end < r.start)
		return false;
	while (pfn < end) {
		unsigned int from = pfn % BITS_PER_WORD;
		unsigned int to = MIN((u64)BITS_PER_WORD, from + (end - pfn));
		u64 mask = pfn_word_mask(from, to);

		if ((bm->words[pfn / BITS_PER_WORD] & mask) != mask)
			return false;
		pfn += to - from;
	}
	return true;
}

int pfn_for_each_full_host_range(const struct pfn_bitmap *bm, struct pfn_range r,
				 u64 pages_per_host, pfn_range_fn fn, void *opaque)
{
	u64 p = pages_per_host ? pages_per_host : 1;
	u64 first = r.start / p, last = (r.start + r.nr + p - 1) / p;
	u64 h, run = 0;
	int ret;

	if (!r.nr)
		return 0;
	for (h = first; h <= last; h++) {
		bool full = h < last &&
			    pfn_bitmap_range_full(bm, (struct pfn_range){ h * p, p });

		if (full) {
			run++;
			continue;
		}
		if (run) {
			ret = fn(opaque, (struct pfn_range){ (h - run) * p, run * p });
			if (ret)
				return ret;
			run = 0;
		}
	}
	return 0;
}
