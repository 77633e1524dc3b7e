// SPDX-License-Identifier: MIT
/*
 * The balloon device as a whole: the input is decoded into a driver's
 * actions (feature negotiation, config reads and writes, buffers on each of
 * the five queues, kicks, resets) with host commands in between (targets,
 * hint runs, stats requests). The device is the real one on fake guest RAM;
 * its release hook is ours, so nothing is zeroed and every release is
 * checked as it happens:
 *
 *   - it lies inside one RAM region, in whole host pages;
 *   - it happens only while an inflate or a report is being served;
 *   - inflate: every page released is in the device's bitmap, and every
 *     host page released holds a page named in the requests just sent;
 *   - report: it lies inside a buffer just reported, and never while a
 *     non-zero poison_val must survive (D-17).
 *
 * After every action: the bitmap's population equals its count, it holds
 * only pages the driver named since the last reset, inflated - deflated
 * (since that reset) equals it, a reset leaves no page marked, the used
 * index only moves forward over heads the driver made available (no head
 * completed twice), and every chain is completed by the end of its kick
 * (the stats buffer, held by design, excepted).
 */
#include "../tests/vq_driver.h"
#include "../virtio/balloon/balloon.h"
#include "../virtio/balloon/priv.h"
#include "../virtio/pfn.h"
#include "fuzz.h"

/* Regions 0 and 1 touch, region 2 lies after a hole. */
static const u64 layout[] = { 0, 0x40000, 0x40000, 0x40000, 0x100000, 0x40000 };
#define NR_PFNS		(0x140000 >> PFN_SHIFT)	/* pfn_limit() */
#define PFN_SPAN	(NR_PFNS + 16)		/* a few past the end too */
#define RING_GPA(tq)	(0x2000ULL * (tq))
#define DATA_GPA	0x10000ULL		/* PFN arrays, ids, stats */
#define DATA_SIZE	0x10000ULL
#define MAX_REPORT	8

enum kick_kind { KICK_OTHER, KICK_INFLATE, KICK_REPORT };

static struct guest_mem mem;

static struct {
	struct fuzz_in in;
	struct virtio_device *vdev;
	struct balloon *b;
	struct vqdrv drv[VIRTIO_MAX_QUEUES];
	unsigned int nr_tq;
	u16 seen_used[VIRTIO_MAX_QUEUES];
	bool pending[VIRTIO_MAX_QUEUES][BALLOON_QUEUE_SIZE];	/* heads made available */
	unsigned int nr_pending[VIRTIO_MAX_QUEUES];
	u64 data_off;				/* next free byte in the data area */

	enum kick_kind kind;
	bool named_now[PFN_SPAN];		/* PFNs in this kick's inflate requests */
	bool named_ever[PFN_SPAN];		/* ... in any inflate since the reset */
	struct { u64 gpa, len; } reported[MAX_REPORT];
	unsigned int nr_reported;
	s64 base;				/* inflated - deflated at the last reset */
	u32 target;				/* num_pages the host set */
} f;

static bool host_page_named(u64 hp, u64 per)
{
	u64 p;

	for (p = hp * per; p < (hp + 1) * per && p < PFN_SPAN; p++)
		if (f.named_now[p])
			return true;
	return false;
}

static int check_release(void *opaque, u64 gpa, u64 len)
{
	u64 hps = mem.host_page_size, per = hps / PFN_SIZE, p;
	unsigned int i;
	bool inside = false;

	fuzz_check(len && !(gpa % hps) && !(len % hps), "release [0x%llx, +0x%llx) not in %llu-byte host pages",
		   (unsigned long long)gpa, (unsigned long long)len, (unsigned long long)hps);
	fuzz_check(guest_mem_valid(&mem, gpa, len), "release [0x%llx, +0x%llx) outside one RAM region",
		   (unsigned long long)gpa, (unsigned long long)len);
	switch (f.kind) {
	case KICK_INFLATE:
		for (p = gpa >> PFN_SHIFT; p < (gpa + len) >> PFN_SHIFT; p++)
			fuzz_check(pfn_bitmap_test(&f.b->ballooned, p),
				   "inflate released pfn %llu, not in the balloon", (unsigned long long)p);
		for (p = gpa / hps; p < (gpa + len) / hps; p++)
			fuzz_check(host_page_named(p, per),
				   "inflate released host page %llu, named in no request of this kick",
				   (unsigned long long)p);
		break;
	case KICK_REPORT:
		fuzz_check(!(balloon_has(f.b, BALLOON_F_PAGE_POISON) && f.b->poison_val),
			   "reported pages released although poison_val 0x%x must survive",
			   f.b->poison_val);
		for (i = 0; i < f.nr_reported; i++)
			inside |= gpa >= f.reported[i].gpa &&
				  gpa + len <= f.reported[i].gpa + f.reported[i].len;
		fuzz_check(inside, "report released [0x%llx, +0x%llx), reported by no buffer",
			   (unsigned long long)gpa, (unsigned long long)len);
		break;
	default:
		fuzz_check(false, "release of [0x%llx, +0x%llx) while no inflate or report is served",
			   (unsigned long long)gpa, (unsigned long long)len);
	}
	return 0;
}

static u64 popcount_bitmap(const struct pfn_bitmap *bm)
{
	u64 i, n = 0;

	for (i = 0; i < (bm->nr_pfns + 63) / 64; i++)
		n += __builtin_popcountll(bm->words[i]);
	return n;
}

static void check_device(void)
{
	const struct pfn_bitmap *bm = &f.b->ballooned;
	const struct balloon_metrics *m = &f.b->m;
	u64 p;

	fuzz_check(popcount_bitmap(bm) == bm->nr_set, "bitmap holds %llu pages, counts %llu",
		   (unsigned long long)popcount_bitmap(bm), (unsigned long long)bm->nr_set);
	for (p = 0; p < bm->nr_pfns; p++)
		fuzz_check(!pfn_bitmap_test(bm, p) || f.named_ever[p],
			   "pfn %llu in the balloon, never inflated since the reset",
			   (unsigned long long)p);
	fuzz_check((s64)(m->pages_inflated - m->pages_deflated) - f.base == (s64)bm->nr_set,
		   "inflated %llu - deflated %llu (base %lld) != %llu ballooned",
		   (unsigned long long)m->pages_inflated, (unsigned long long)m->pages_deflated,
		   (long long)f.base, (unsigned long long)bm->nr_set);
	fuzz_check(f.b->num_pages == f.target, "num_pages %u, the host set %u", f.b->num_pages,
		   f.target);
}

/* New used entries on tq name heads we made available, each once. */
static void check_used(unsigned int tq, bool all_done)
{
	struct vqdrv *d = &f.drv[tq];
	u16 now = vqdrv_used_idx(d), n = now - f.seen_used[tq];
	u32 id, len;

	fuzz_check(n <= f.nr_pending[tq], "queue %u: used index moved by %u, %u chains out", tq,
		   n, f.nr_pending[tq]);
	for (; f.seen_used[tq] != now; f.seen_used[tq]++) {
		vqdrv_used_elem(d, f.seen_used[tq], &id, &len);
		fuzz_check(id < d->size && f.pending[tq][id], "queue %u: head %u completed but not out",
			   tq, id);
		f.pending[tq][id] = false;
		f.nr_pending[tq]--;
	}
	if (!all_done || f.vdev->vqs[tq].broken)
		return;
	/* The stats buffer stays with the device until its next request. */
	fuzz_check(f.nr_pending[tq] <= (f.b->tq_to_lq[tq] == BALLOON_VQ_STATS),
		   "queue %u: %u chains left uncompleted", tq, f.nr_pending[tq]);
}

static void locked(void (*fn)(unsigned int), unsigned int arg)
{
	pthread_mutex_lock(&f.vdev->lock);
	fn(arg);
	pthread_mutex_unlock(&f.vdev->lock);
}

static void notify(unsigned int tq)
{
	f.vdev->ops->queue_notify(f.vdev, tq);
}

static void kick(unsigned int tq, enum kick_kind kind)
{
	if (tq >= f.nr_tq)
		return;		/* that queue's feature was not negotiated */
	f.kind = kind;
	locked(notify, tq);
	f.kind = KICK_OTHER;
	check_used(tq, true);
}

static unsigned int tq_of(enum balloon_vq lq)
{
	return f.b->lq_to_tq[lq];
}

/* Bytes in the data area for the driver to fill; wraps (old buffers are done). */
static u64 data_alloc(u64 len)
{
	u64 gpa;

	if (f.data_off + len > DATA_SIZE)
		f.data_off = 0;
	gpa = DATA_GPA + f.data_off;
	f.data_off += ALIGN_UP(len, 8);
	return gpa;
}

/* Make a chain of bufs available on tq, remembering its head. */
static void post(unsigned int tq, const struct vqdrv_buf *bufs, int n)
{
	u16 head;

	if (tq >= f.nr_tq || !n)
		return;
	head = vqdrv_add(&f.drv[tq], bufs, n);
	if (!f.pending[tq][head])
		f.nr_pending[tq]++;
	f.pending[tq][head] = true;
}

static u32 take_pfn(void)
{
	u16 v = fuzz_u16(&f.in);

	return v & 0x8000 ? fuzz_u32(&f.in) : v % PFN_SPAN;
}

/*
 * The PFNs a request names: every le32 of its readable bytes read as one
 * stream, the way the device reads them (odd lengths split a PFN across
 * buffers), whatever was meant.
 */
static void name_pfns(const struct vqdrv_buf *bufs, int nb)
{
	u8 stream[3 * (4 * 48 + 4)];
	size_t len = 0, i;
	u32 pfn;
	int k;

	for (k = 0; k < nb; k++) {
		if (bufs[k].write)
			continue;
		memcpy(stream + len, guest_mem_ptr(&mem, bufs[k].gpa, bufs[k].len), bufs[k].len);
		len += bufs[k].len;
	}
	for (i = 0; i + 4 <= len; i += 4) {
		memcpy(&pfn, stream + i, 4);
		if (pfn < PFN_SPAN)
			f.named_now[pfn] = f.named_ever[pfn] = true;
	}
}

/* Inflate or deflate: up to 3 buffers of PFNs, sometimes malformed. */
static void send_pfns(bool inflate)
{
	struct vqdrv_buf bufs[3];
	unsigned int tq = tq_of(inflate ? BALLOON_VQ_INFLATE : BALLOON_VQ_DEFLATE);
	u8 shape = fuzz_u8(&f.in);
	int nb = shape % 3 + 1, i, j;

	memset(f.named_now, 0, sizeof(f.named_now));
	for (i = 0; i < nb; i++) {
		u32 n = fuzz_u8(&f.in) % 48, *pfns;
		u64 gpa = data_alloc(4ULL * n + 4);

		pfns = guest_mem_ptr(&mem, gpa, 4ULL * n + 4);
		for (j = 0; j < (int)n; j++)
			pfns[j] = take_pfn();
		bufs[i] = (struct vqdrv_buf){ gpa, 4 * n + (shape & 0x40 ? 2 : 0),
					      shape & (0x8 << i) && shape & 0x80 };
	}
	if (inflate)
		name_pfns(bufs, nb);
	post(tq, bufs, nb);
	kick(tq, inflate ? KICK_INFLATE : KICK_OTHER);
}

static void send_stats(void)
{
	u32 len = fuzz_u8(&f.in);
	u64 gpa = data_alloc(len);
	struct vqdrv_buf b = { gpa, len, fuzz_u8(&f.in) == 0xff };

	fuzz_bytes(&f.in, guest_mem_ptr(&mem, gpa, len), len);
	post(tq_of(BALLOON_VQ_STATS), &b, 1);
	kick(tq_of(BALLOON_VQ_STATS), KICK_OTHER);
}

/* An id (the current one, or any) and/or hinted blocks anywhere. */
static void send_hint(void)
{
	struct vqdrv_buf bufs[3];
	u8 shape = fuzz_u8(&f.in);
	int n = 0;

	if (shape & 1) {
		u64 gpa = data_alloc(4);
		u32 id = shape & 2 ? f.b->hint_cmd_id : fuzz_u32(&f.in) % 8;

		memcpy(guest_mem_ptr(&mem, gpa, 4), &id, 4);
		bufs[n++] = (struct vqdrv_buf){ gpa, shape & 4 ? 5 : 4, false };
	}
	while (n < (shape >> 4) % 4 && n < 3)
		bufs[n++] = (struct vqdrv_buf){ fuzz_u32(&f.in) % 0x150000, fuzz_u32(&f.in) % 0x80000,
						true };
	post(tq_of(BALLOON_VQ_FREE_PAGE), bufs, n);
	kick(tq_of(BALLOON_VQ_FREE_PAGE), KICK_OTHER);
}

static void send_report(void)
{
	struct vqdrv_buf bufs[MAX_REPORT];
	u8 shape = fuzz_u8(&f.in);
	unsigned int i, n = shape % MAX_REPORT + 1;

	for (i = 0; i < n; i++) {
		u64 gpa = shape & 0x80 ? (u64)fuzz_u16(&f.in) << 5 :
				       (u64)(fuzz_u16(&f.in) % (PFN_SPAN + 16)) << PFN_SHIFT;
		u64 len = (u64)(fuzz_u8(&f.in) + 1) << (shape & 0x40 ? 8 : 12);

		bufs[i] = (struct vqdrv_buf){ gpa, len, !(shape & 0x20 && i == 0) };
		f.reported[i].gpa = gpa;
		f.reported[i].len = len;
	}
	f.nr_reported = n;
	post(tq_of(BALLOON_VQ_REPORTING), bufs, n);
	kick(tq_of(BALLOON_VQ_REPORTING), KICK_REPORT);
}

static void config_access(void)
{
	u8 off = fuzz_u8(&f.in), buf[8];
	u32 len = 1u << (off >> 6);

	off &= 0x1f;
	fuzz_bytes(&f.in, buf, sizeof(buf));
	pthread_mutex_lock(&f.vdev->lock);
	if (fuzz_u8(&f.in) & 1)
		f.vdev->ops->write_config(f.vdev, off, buf, len);
	else
		f.vdev->ops->read_config(f.vdev, off, buf, len);
	pthread_mutex_unlock(&f.vdev->lock);
}

static void host_command(void)
{
	u8 op = fuzz_u8(&f.in);
	struct balloon_state st;
	u32 id, pages;

	switch (op % 5) {
	case 0:
		pages = fuzz_u32(&f.in) % (NR_PFNS + 64);
		if (!balloon_set_target_pages(f.vdev, pages))
			f.target = pages;
		break;
	case 1:
		balloon_hint_start(f.vdev, &id);
		break;
	case 2:
		balloon_hint_stop(f.vdev);
		break;
	case 3:
		if (!balloon_stats_request(f.vdev))
			check_used(tq_of(BALLOON_VQ_STATS), false);
		break;
	default:
		balloon_get_state(f.vdev, &st);
		break;
	}
}

static void transport_reset_and_negotiate(unsigned int unused)
{
	u8 feat = fuzz_u8(&f.in), ring = fuzz_u8(&f.in);
	unsigned int i;

	f.vdev->ops->reset(f.vdev);
	fuzz_check(!f.b->ballooned.nr_set && !popcount_bitmap(&f.b->ballooned),
		   "reset left %llu pages marked", (unsigned long long)f.b->ballooned.nr_set);
	memset(f.vdev->vqs, 0, sizeof(f.vdev->vqs));
	memset(f.pending, 0, sizeof(f.pending));
	memset(f.nr_pending, 0, sizeof(f.nr_pending));
	memset(f.seen_used, 0, sizeof(f.seen_used));
	memset(f.named_ever, 0, sizeof(f.named_ever));
	f.base = (s64)(f.b->m.pages_inflated - f.b->m.pages_deflated);
	f.nr_tq = 0;
	if (feat & 0x80)
		return;		/* stays reset until the next one */
	f.vdev->ops->set_features(f.vdev, feat & 0x3f);
	f.nr_tq = f.vdev->ops->nr_queues(f.vdev);
	for (i = 0; i < f.nr_tq; i++)
		vqdrv_setup(&f.drv[i], &f.vdev->vqs[i], &mem, RING_GPA(i),
			    f.vdev->ops->queue_max_size(f.vdev, i), ring & 1, ring & 2);
	if (!(feat & 0x40))
		f.vdev->ops->activate(f.vdev);
}

static void reset(void)
{
	locked(transport_reset_and_negotiate, 0);
	for (unsigned int i = 0; i < f.nr_tq; i++)
		check_used(i, false);
}

static void create(void)
{
	static const u64 host_pages[] = { SZ_4K, 4 * SZ_4K, 16 * SZ_4K, SZ_4K };
	struct balloon_config cfg;
	u8 opts = fuzz_u8(&f.in);

	balloon_config_init(&cfg);
	/* Releases only while a request is served, as the checks below expect. */
	cfg.release_hold_ms = 0;
	cfg.must_tell_host = opts & 1;
	cfg.stats_interval_ms = opts & 2 ? 1000 : 0;
	cfg.deflate_on_oom = opts & 4;
	cfg.free_page_hint = opts & 8;
	cfg.page_poison = opts & 16;
	cfg.free_page_reporting = opts & 32;
	mem.host_page_size = host_pages[opts >> 6];
	f.vdev = balloon_create(&cfg, &mem, NULL);
	if (!f.vdev)
		abort();
	f.b = to_balloon(f.vdev);
	f.target = f.b->num_pages;
	balloon_set_release_fn(f.vdev, check_release, NULL);
	reset();
}

int LLVMFuzzerTestOneInput(const u8 *data, size_t size);
int LLVMFuzzerTestOneInput(const u8 *data, size_t size)
{
	int steps = 0;

	if (!mem.nr_regions)
		fuzz_mem_init(&mem, layout, 3);
	fuzz_mem_clear(&mem);
	memset(&f, 0, sizeof(f));
	fuzz_in_init(&f.in, data, size);
	create();

	while (fuzz_more(&f.in) && steps++ < 256) {
		u8 op = fuzz_u8(&f.in);

		switch (op % 10) {
		case 0:
		case 1:
			send_pfns(true);
			break;
		case 2:
			send_pfns(false);
			break;
		case 3:
			send_stats();
			break;
		case 4:
			send_hint();
			break;
		case 5:
			send_report();
			break;
		case 6:
			config_access();
			break;
		case 7:
			host_command();
			break;
		case 8:
			if (op & 0x80)
				reset();
			else if (f.nr_tq)	/* a kick with nothing new */
				kick(op % f.nr_tq, KICK_OTHER);
			break;
		case 9:		/* the driver wrecks a ring's avail index */
			if (f.nr_tq && op == 0xff) {
				unsigned int tq = fuzz_u8(&f.in) % f.nr_tq;

				vqdrv_set_avail_idx(&f.drv[tq], f.drv[tq].avail_idx + 200);
				kick(tq, KICK_OTHER);
			}
			break;
		}
		check_device();
	}
	balloon_destroy(f.vdev);
	return 0;
}
