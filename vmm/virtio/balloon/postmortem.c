// SPDX-License-Identifier: MIT
/*
 * When the guest dies on its own (a triple fault, a crash it reported), one
 * question the balloon can answer: did the guest write a page it had given
 * to the balloon? Pages released by inflate read back as zeroes and are not
 * resident until touched; a released host page that is resident again and
 * holds data was written after we released it. Either the guest used memory
 * it handed over, or we released a page other than the one it handed over;
 * both are what kills a guest without a word.
 */
#include <errno.h>
#include <sys/mman.h>
#include <time.h>

#include "priv.h"

#define POSTMORTEM_SHOW		8

static bool host_page_written(const u8 *p, u64 len)
{
	unsigned char vec[512];	/* one byte per 4 KiB: a 2 MiB host page */
	u64 i;

	if (len / PFN_SIZE > sizeof(vec) || mincore((void *)p, len, vec) < 0)
		return false;
	for (i = 0; i < len / PFN_SIZE; i++)
		if (vec[i] & 1)
			break;
	if (i == len / PFN_SIZE)
		return false;
	for (i = 0; i < len; i++)
		if (p[i])
			return true;
	return false;
}

void balloon_postmortem(struct virtio_device *vdev, FILE *f)
{
	struct balloon *b = to_balloon(vdev);
	u64 pfn, step = b->pages_per_host, released = 0, written = 0, shown[POSTMORTEM_SHOW];
	struct timespec until;
	bool locked;
	int i, n = 0;

	/* The I/O thread may be stuck holding the lock: look anyway after 1 s. */
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec++;
	locked = !pthread_mutex_timedlock(&vdev->lock, &until);
	if (balloon_keep_contents(b))
		goto out;	/* D-17: ballooned pages keep their poison, nothing released */
	for (pfn = 0; pfn + step <= b->ballooned.nr_pfns; pfn += step) {
		const u8 *p;

		if (!pfn_bitmap_range_full(&b->ballooned, (struct pfn_range){ pfn, step }))
			continue;
		/* Not released yet: its data is the guest's to leave there. */
		if (balloon_held(b, pfn))
			continue;
		p = guest_mem_ptr(vdev->mem, pfn_to_gpa(pfn), pfn_to_gpa(step));
		if (!p)
			continue;
		released++;
		if (!host_page_written(p, pfn_to_gpa(step)))
			continue;
		if (n < POSTMORTEM_SHOW)
			shown[n++] = pfn;
		written++;
	}
out:
	fprintf(f, "ballast-vmm: balloon post-mortem%s: %llu of %llu host pages in the balloon "
		"hold data written after their release%s", locked ? "" : " (device lock busy)",
		(unsigned long long)written, (unsigned long long)released,
		written ? " (the guest used memory it gave away, or the wrong page went); first PFNs:" :
			  "");
	for (i = 0; i < n; i++)
		fprintf(f, " 0x%llx", (unsigned long long)shown[i]);
	fprintf(f, "\n");
	balloon_referee_postmortem(b, f);
	fflush(f);
	if (locked)
		pthread_mutex_unlock(&vdev->lock);
}
