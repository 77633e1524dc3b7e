/* SPDX-License-Identifier: MIT */
/*
 * Guest RAM. Every guest-physical address the VMM dereferences goes through
 * guest_mem_ptr(): it is the one place that decides whether a range the guest
 * handed us lies inside RAM. Nothing else does pointer arithmetic on hva.
 */
#ifndef BALLAST_MEMORY_H
#define BALLAST_MEMORY_H

#include "compiler.h"

#define GUEST_MEM_MAX_REGIONS	4

enum guest_mem_backing {
	GUEST_MEM_ANON,		/* private anonymous mmap, MAP_NORESERVE */
	GUEST_MEM_MEMFD,	/* shared memfd: released by punching holes */
};

struct guest_mem_region {
	u64 gpa;
	u64 size;
	u8 *hva;
	u64 fd_offset;		/* offset of this region in the memfd */
};

struct guest_mem {
	struct guest_mem_region regions[GUEST_MEM_MAX_REGIONS];
	int nr_regions;
	u64 ram_size;		/* sum of region sizes */
	enum guest_mem_backing backing;
	int fd;			/* memfd, or -1 */
	/*
	 * Smallest unit the host can give back: 4 KiB normally, 2 MiB when
	 * the guest is backed by huge pages. A balloon releases a host page
	 * only once every 4 KiB piece of it is in the balloon.
	 */
	u64 host_page_size;
	bool thp;		/* MADV_HUGEPAGE was applied */
	/*
	 * Set by guest_mem_init_fake(): the memory is not ours to madvise,
	 * so guest_mem_release() only zeroes the range (what a released
	 * anonymous page reads back as).
	 */
	bool fake;
	void *map_base;		/* the whole mapping, for guest_mem_destroy() */
	u64 map_size;
};

/*
 * Guest-physical layout: RAM from 0 up to 3 GiB, the rest from 4 GiB. The
 * hole in between holds PCI BARs, the IOAPIC and the local APIC.
 */
#define GUEST_MEM_LOW_MAX	0xC0000000ULL
#define GUEST_MEM_HIGH_BASE	0x100000000ULL

/* Host pointer for [gpa, gpa + len), or NULL unless it lies inside one region. */
void *guest_mem_ptr(const struct guest_mem *mem, u64 gpa, u64 len);

/* True if [gpa, gpa + len) lies inside one region. */
static inline bool guest_mem_valid(const struct guest_mem *mem, u64 gpa, u64 len)
{
	return guest_mem_ptr(mem, gpa, len) != NULL;
}

/*
 * Give [gpa, gpa + len) back to the host: MADV_DONTNEED for anonymous memory,
 * fallocate(PUNCH_HOLE) for a memfd. The range must lie inside one region.
 * Returns 0 or a negative errno.
 */
int guest_mem_release(struct guest_mem *mem, u64 gpa, u64 len);

/*
 * Build a guest_mem over memory the caller already owns (unit tests use this
 * with malloc'd "fake guest RAM"); regions are given as (gpa, size) pairs laid
 * out back to back from hva.
 */
int guest_mem_init_fake(struct guest_mem *mem, void *hva, const u64 *gpa_size_pairs, int nr);

/*
 * Map size bytes of guest RAM (anonymous MAP_NORESERVE, or a shared memfd)
 * and lay it out as above. thp asks for MADV_HUGEPAGE; it is a request, and
 * mem->thp says whether the kernel took it. Returns 0 or a negative errno.
 */
int guest_mem_create(struct guest_mem *mem, u64 size, bool thp, bool shared);
void guest_mem_destroy(struct guest_mem *mem);

#endif
