// SPDX-License-Identifier: MIT
/*
 * Guest RAM: allocation, the single gpa -> hva translation, and giving
 * pages back to the host.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "log.h"
#include "memory.h"

void *guest_mem_ptr(const struct guest_mem *mem, u64 gpa, u64 len)
{
	int i;

	for (i = 0; i < mem->nr_regions; i++) {
		const struct guest_mem_region *r = &mem->regions[i];

		/* Written so that no sum can wrap: gpa and len are guest data. */
		if (gpa < r->gpa || gpa - r->gpa >= r->size)
			continue;
		if (len > r->size - (gpa - r->gpa))
			return NULL;
		return r->hva + (gpa - r->gpa);
	}
	return NULL;
}

static struct guest_mem_region *region_of(struct guest_mem *mem, u64 gpa, u64 len)
{
	int i;

	for (i = 0; i < mem->nr_regions; i++) {
		struct guest_mem_region *r = &mem->regions[i];

		if (gpa < r->gpa || gpa - r->gpa >= r->size)
			continue;
		if (len > r->size - (gpa - r->gpa))
			return NULL;
		return r;
	}
	return NULL;
}

int guest_mem_release(struct guest_mem *mem, u64 gpa, u64 len)
{
	struct guest_mem_region *r;
	u64 off;

	if (!len)
		return 0;
	if ((gpa | len) & (SZ_4K - 1))
		return -EINVAL;
	r = region_of(mem, gpa, len);
	if (!r)
		return -EFAULT;
	off = gpa - r->gpa;

	if (mem->fake) {
		memset(r->hva + off, 0, len);
		return 0;
	}
	if (mem->backing == GUEST_MEM_MEMFD) {
		if (fallocate(mem->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			      r->fd_offset + off, len) < 0)
			return -errno;
		return 0;
	}
	if (madvise(r->hva + off, len, MADV_DONTNEED) < 0)
		return -errno;
	return 0;
}

int guest_mem_init_fake(struct guest_mem *mem, void *hva, const u64 *gpa_size_pairs, int nr)
{
	u8 *p = hva;
	int i;

	if (nr < 1 || nr > GUEST_MEM_MAX_REGIONS)
		return -EINVAL;
	memset(mem, 0, sizeof(*mem));
	for (i = 0; i < nr; i++) {
		u64 gpa = gpa_size_pairs[2 * i], size = gpa_size_pairs[2 * i + 1];

		if (!size || gpa + size < gpa)
			return -EINVAL;
		if (i && gpa < mem->regions[i - 1].gpa + mem->regions[i - 1].size)
			return -EINVAL;
		mem->regions[i] = (struct guest_mem_region) {
			.gpa = gpa, .size = size, .hva = p, .fd_offset = mem->ram_size,
		};
		p += size;
		mem->ram_size += size;
	}
	mem->nr_regions = nr;
	mem->backing = GUEST_MEM_ANON;
	mem->fd = -1;
	mem->host_page_size = SZ_4K;
	mem->fake = true;
	return 0;
}

int guest_mem_create(struct guest_mem *mem, u64 size, bool thp, bool shared)
{
	u64 low = MIN(size, GUEST_MEM_LOW_MAX), map_size;
	int flags = MAP_NORESERVE, fd = -1, ret;
	u8 *base, *aligned;

	memset(mem, 0, sizeof(*mem));
	mem->fd = -1;
	if (!size || size & (SZ_4K - 1))
		return -EINVAL;

	if (shared) {
		fd = memfd_create("ballast-guest-ram", MFD_CLOEXEC);
		if (fd < 0)
			return -errno;
		if (ftruncate(fd, size) < 0) {
			ret = -errno;
			goto err_fd;
		}
		base = mmap(NULL, size, PROT_READ | PROT_WRITE, flags | MAP_SHARED, fd, 0);
		map_size = size;
		aligned = base;
	} else {
		/*
		 * Over-allocate by 2 MiB so the guest's 2 MiB frames line up
		 * with host huge pages; otherwise no THP could ever back them.
		 */
		map_size = size + SZ_2M;
		base = mmap(NULL, map_size, PROT_READ | PROT_WRITE,
			    flags | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		aligned = (u8 *)ALIGN_UP((uintptr_t)base, SZ_2M);
	}
	if (base == MAP_FAILED) {
		ret = -errno;
		goto err_fd;
	}

	mem->map_base = base;
	mem->map_size = map_size;
	mem->fd = fd;
	mem->backing = shared ? GUEST_MEM_MEMFD : GUEST_MEM_ANON;
	mem->host_page_size = SZ_4K;
	mem->ram_size = size;
	mem->regions[0] = (struct guest_mem_region) { .gpa = 0, .size = low, .hva = aligned };
	mem->nr_regions = 1;
	if (size > low) {
		mem->regions[1] = (struct guest_mem_region) {
			.gpa = GUEST_MEM_HIGH_BASE, .size = size - low,
			.hva = aligned + low, .fd_offset = low,
		};
		mem->nr_regions = 2;
	}

	if (thp) {
		if (madvise(aligned, size, MADV_HUGEPAGE) == 0) {
			mem->thp = true;
			mem->host_page_size = SZ_2M;
		} else {
			pr_warn("memory: MADV_HUGEPAGE refused (%s), using 4 KiB pages",
				strerror(errno));
		}
	}
	return 0;

err_fd:
	if (fd >= 0)
		close(fd);
	return ret;
}

void guest_mem_destroy(struct guest_mem *mem)
{
	if (mem->map_base && !mem->fake)
		munmap(mem->map_base, mem->map_size);
	if (mem->fd >= 0)
		close(mem->fd);
	mem->map_base = NULL;
	mem->fd = -1;
	mem->nr_regions = 0;
}
