/* SPDX-License-Identifier: MIT */
/*
 * Pure helpers for balloon page frame numbers: validation against guest RAM,
 * sort/dedupe/merge into ranges, the host-side bitmap of ballooned pages and
 * the huge-host-page rule (a host page goes back only once every 4 KiB piece
 * of it is in the balloon). No device state, no I/O: unit-tested alone.
 *
 * A balloon PFN is always gpa >> 12, whatever the guest's page size (§5.5.6).
 */
#ifndef BALLAST_PFN_H
#define BALLAST_PFN_H

#include <stddef.h>

#include "../compiler.h"
#include "../memory.h"

#define PFN_SHIFT		12
#define PFN_SIZE		(1ULL << PFN_SHIFT)
#define PFN_PER_MIB		(SZ_1M / PFN_SIZE)

/* [start, start + nr) in 4 KiB pages. */
struct pfn_range {
	u64 start;
	u64 nr;
};

static inline u64 pfn_to_gpa(u64 pfn)
{
	return pfn << PFN_SHIFT;
}

/* True if the whole 4 KiB page lies inside one RAM region. */
bool pfn_valid(const struct guest_mem *mem, u64 pfn);

/* One past the highest PFN of guest RAM: the size the bitmap must cover. */
u64 pfn_limit(const struct guest_mem *mem);

/* Sort ascending and drop repeats in place; returns the new count. */
size_t pfn_sort_dedupe(u32 *pfns, size_t n);

/*
 * Merge sorted, unique PFNs into maximal runs of consecutive pages. ranges
 * must have room for n entries; returns how many it filled.
 */
size_t pfn_merge(const u32 *pfns, size_t n, struct pfn_range *ranges);

/* Shrink r to the whole host pages of pages_per_host 4 KiB pages inside it. */
struct pfn_range pfn_range_align_in(struct pfn_range r, u64 pages_per_host);

typedef int (*pfn_range_fn)(void *opaque, struct pfn_range r);

/*
 * Call fn for each piece of r that lies inside one RAM region, so a release
 * never spans two regions; pieces outside RAM are skipped. Returns the first
 * non-zero value fn returned, else 0.
 */
int pfn_range_for_each_region(const struct guest_mem *mem, struct pfn_range r,
			      pfn_range_fn fn, void *opaque);

/* The host-side bitmap of ballooned 4 KiB pages. */
struct pfn_bitmap {
	u64 *words;
	u64 nr_pfns;
	u64 nr_set;
};

int pfn_bitmap_init(struct pfn_bitmap *bm, u64 nr_pfns);
void pfn_bitmap_free(struct pfn_bitmap *bm);
void pfn_bitmap_clear_all(struct pfn_bitmap *bm);
bool pfn_bitmap_test(const struct pfn_bitmap *bm, u64 pfn);
/* Both return the previous value; pfn must be < nr_pfns. */
bool pfn_bitmap_test_and_set(struct pfn_bitmap *bm, u64 pfn);
bool pfn_bitmap_test_and_clear(struct pfn_bitmap *bm, u64 pfn);
/* True if every page of r is set (and r lies inside the bitmap). */
bool pfn_bitmap_range_full(const struct pfn_bitmap *bm, struct pfn_range r);

/*
 * The huge-host-page rule: widen r to whole host pages and call fn for each
 * maximal run of host pages whose every 4 KiB piece is set in bm. With
 * pages_per_host == 1 that is r itself. Returns the first non-zero value fn
 * returned, else 0.
 */
int pfn_for_each_full_host_range(const struct pfn_bitmap *bm, struct pfn_range r,
				 u64 pages_per_host, pfn_range_fn fn, void *opaque);

#endif
