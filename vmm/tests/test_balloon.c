// SPDX-License-Identifier: MIT
/*
 * The balloon device end to end without KVM: this file plays the transport
 * (feature negotiation, queue set-up, kicks under vdev->lock) and the
 * driver (rings in fake guest RAM), and counts releases instead of
 * madvising. Fake RAM: region 0 [0, 32M) and region 1 [32M, 48M) touch, so
 * a run of pages can cross them; region 2 [64M, 80M) lies after a hole.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../ioloop.h"
#include "../memory.h"
#include "../virtio/balloon/balloon.h"
#include "../virtio/balloon/util.h"
#include "../virtio/pfn.h"
#include "tap.h"
#include "vq_driver.h"

#define RAM_SIZE	(64 * SZ_1M)
#define RING_GPA	0x10000ULL	/* one 64 KiB slot per transport queue */
#define ARRAY_GPA	0x100000ULL	/* PFN arrays, stats, hint ids */
#define PAGES_PFN	(4 * SZ_1M / 4096)	/* pages we balloon start at 4 MiB */
#define HOLE_PFN	(50 * SZ_1M / 4096)
#define R2_PFN		(64 * SZ_1M / 4096)
#define END_PFN		(80 * SZ_1M / 4096)
#define NO_NEGOTIATION	BIT(63)	/* start(): create only */

static struct guest_mem mem;
static void *ram;
static struct virtio_device *vdev;
static struct vqdrv drv[VIRTIO_MAX_QUEUES];
static unsigned int used_irqs[VIRTIO_MAX_QUEUES], config_irqs;
/* release_hold_ms for start(): off, unless a test is about the hold. */
static u64 hold_ms;
/* An I/O loop on a thread, for the tests of held acks (loop_start()). */
static struct ioloop *loop;
static pthread_t loop_thread;

static struct {
	struct pfn_range r[256];
	int n;
	u64 bytes;
} rel;

static int count_release(void *opaque __unused, u64 gpa, u64 len)
{
	if (rel.n < 256)
		rel.r[rel.n] = (struct pfn_range){ gpa >> 12, len >> 12 };
	rel.n++;
	rel.bytes += len;
	return 0;
}

static void rel_reset(void)
{
	memset(&rel, 0, sizeof(rel));
}

static bool rel_is(int i, u64 start, u64 nr)
{
	if (rel.r[i].start == start && rel.r[i].nr == nr)
		return true;
	printf("#   release %d: {%llu, %llu}, want {%llu, %llu}\n", i,
	       (unsigned long long)rel.r[i].start, (unsigned long long)rel.r[i].nr,
	       (unsigned long long)start, (unsigned long long)nr);
	return false;
}

static void signal_used(struct virtio_device *v __unused, unsigned int idx)
{
	used_irqs[idx]++;
}

static void signal_config(struct virtio_device *v __unused)
{
	config_irqs++;
}

static void fake_ram_init(void)
{
	u64 pairs[] = { 0, 32 * SZ_1M, 32 * SZ_1M, 16 * SZ_1M, 64 * SZ_1M, 16 * SZ_1M };

	ram = aligned_alloc(SZ_2M, RAM_SIZE);
	if (!ram || guest_mem_init_fake(&mem, ram, pairs, 3)) {
		printf("Bail out! no fake RAM\n");
		exit(1);
	}
}

static struct balloon_state state(void)
{
	struct balloon_state st;

	balloon_get_state(vdev, &st);
	return st;
}

/* Create the device with opts, negotiate features, set up queues, DRIVER_OK. */
static void start(const char *opts, u64 features, u64 host_page_size, bool activate)
{
	struct balloon_config cfg;
	char err[256];
	unsigned int i, nr;

	if (vdev)
		balloon_destroy(vdev);
	balloon_config_init(&cfg);
	if (balloon_parse_opts(opts, &cfg, err, sizeof(err)))
		printf("# bad opts: %s\n", err);
	cfg.release_hold_ms = hold_ms;
	mem.host_page_size = host_page_size;
	vdev = balloon_create(&cfg, &mem, loop);
	if (!vdev) {
		printf("Bail out! balloon_create failed\n");
		exit(1);
	}
	vdev->signal_used = signal_used;
	vdev->signal_config = signal_config;
	balloon_set_release_fn(vdev, count_release, NULL);
	memset(used_irqs, 0, sizeof(used_irqs));
	config_irqs = 0;
	rel_reset();

	if (features == NO_NEGOTIATION)
		return;
	pthread_mutex_lock(&vdev->lock);
	vdev->ops->set_features(vdev, features);
	nr = vdev->ops->nr_queues(vdev);
	for (i = 0; i < nr; i++)
		vqdrv_setup(&drv[i], &vdev->vqs[i], &mem, RING_GPA + 0x10000ULL * i,
			    vdev->ops->queue_max_size(vdev, i), false, false);
	if (activate)
		vdev->ops->activate(vdev);
	pthread_mutex_unlock(&vdev->lock);
}

static void kick(unsigned int tq)
{
	pthread_mutex_lock(&vdev->lock);
	vdev->ops->queue_notify(vdev, tq);
	pthread_mutex_unlock(&vdev->lock);
}

static u32 *pfn_array(unsigned int slot)
{
	return guest_mem_ptr(&mem, ARRAY_GPA + 0x10000ULL * slot, 0x10000);
}

static void device_reset(void)
{
	pthread_mutex_lock(&vdev->lock);
	vdev->ops->reset(vdev);
	pthread_mutex_unlock(&vdev->lock);
}

/* Send n PFNs from array slot 0 on transport queue tq as one buffer; returns the head. */
static u16 send_pfns(unsigned int tq, const u32 *pfns, u32 n)
{
	u16 head;

	memcpy(pfn_array(0), pfns, n * 4);
	head = vqdrv_add_out(&drv[tq], ARRAY_GPA, n * 4);
	kick(tq);
	return head;
}

static u16 send_run(unsigned int tq, u32 first, u32 n)
{
	static u32 pfns[16384];
	u32 i;

	for (i = 0; i < n; i++)
		pfns[i] = first + i;
	return send_pfns(tq, pfns, n);
}

/* The latest used element on tq is head, with length 0. */
static bool acked(unsigned int tq, u16 head)
{
	u16 idx = vqdrv_used_idx(&drv[tq]);
	u32 id, len;

	if (!idx)
		return false;
	vqdrv_used_elem(&drv[tq], idx - 1, &id, &len);
	return id == head && len == 0;
}

#define M(name) (state().metrics.name)

static void test_inflate_deflate(void)
{
	u32 gap[] = { 2000, 2001, 2002, 2004, 2005, 1999, 2010 };
	u16 head;

	start("", 0, SZ_4K, true);
	head = send_run(0, PAGES_PFN, 256);
	tap_ok(acked(0, head) && used_irqs[0] == 1, "inflate acked with length 0 and an interrupt");
	tap_ok(rel.n == 1 && rel_is(0, PAGES_PFN, 256), "256 contiguous pages: one release of 1 MiB");
	tap_eq(M(pages_inflated), 256, "pages inflated counted");
	tap_eq(state().ballooned_pages, 256, "bitmap holds 256 pages");
	tap_ok(M(madvise_calls) == 1 && M(bytes_released) == SZ_1M && M(ranges_released) == 1,
	       "release counters");

	/* Merging exact to the page: an off-by-one in pfn_merge() fails here. */
	rel_reset();
	send_pfns(0, gap, ARRAY_SIZE(gap));
	tap_ok(rel.n == 3 && rel_is(0, 1999, 4) && rel_is(1, 2004, 2) && rel_is(2, 2010, 1),
	       "unsorted PFNs merged into exact runs");

	rel_reset();
	send_run(0, PAGES_PFN + 100, 10);
	tap_ok(rel.n == 0 && M(duplicate_pfns) == 10, "re-inflated pages: duplicates, no release");
	send_pfns(0, (u32[]){ 3000, 3000, 3001, 3000 }, 4);
	tap_ok(rel.n == 1 && rel_is(0, 3000, 2) && M(duplicate_pfns) == 12,
	       "duplicates inside one request counted once each");

	head = send_run(1, PAGES_PFN, 128);
	tap_ok(acked(1, head) && M(pages_deflated) == 128, "deflate acked, pages deflated");
	tap_eq(state().ballooned_pages, 256 - 128 + 7 + 2, "bitmap cleared by deflate");
	send_run(1, PAGES_PFN, 2);
	tap_eq(M(deflate_unknown_pfns), 2, "deflating pages not in the balloon counted");
	rel_reset();
	send_run(0, PAGES_PFN, 128);
	tap_ok(rel.n == 1 && rel_is(0, PAGES_PFN, 128), "deflated pages can be inflated again");
}

static void test_bad_pfns(void)
{
	u32 pfns[] = { PAGES_PFN, HOLE_PFN, END_PFN, 0xffffffff, PAGES_PFN + 1, R2_PFN };
	u16 head;

	start("", 0, SZ_4K, true);
	head = send_pfns(0, pfns, ARRAY_SIZE(pfns));
	tap_ok(acked(0, head), "inflate with out-of-RAM PFNs still acked");
	tap_eq(M(invalid_pfns), 3, "three out-of-RAM PFNs counted");
	tap_ok(rel.n == 2 && rel_is(0, PAGES_PFN, 2) && rel_is(1, R2_PFN, 1),
	       "the valid ones released");
	head = send_pfns(1, pfns, ARRAY_SIZE(pfns));
	tap_ok(acked(1, head) && M(invalid_pfns) == 6 && M(pages_deflated) == 3,
	       "deflate skips out-of-RAM PFNs too");
}

static void test_bad_descriptors(void)
{
	struct vqdrv_buf wr[] = { { ARRAY_GPA, 8, false }, { ARRAY_GPA + 8, 8, true } };
	struct vqdrv_buf zero[] = { { ARRAY_GPA, 0, false } };
	u16 head;

	start("", 0, SZ_4K, true);
	pfn_array(0)[0] = PAGES_PFN;
	pfn_array(0)[1] = PAGES_PFN + 1;
	head = vqdrv_add(&drv[0], wr, 2);
	kick(0);
	tap_ok(acked(0, head) && M(bad_descriptors) == 1 && rel.n == 0,
	       "inflate with a write-only descriptor: counted, acked, skipped");
	head = vqdrv_add(&drv[0], zero, 1);
	kick(0);
	tap_ok(acked(0, head) && M(bad_descriptors) == 1 && M(pages_inflated) == 0,
	       "zero-length descriptor: acked, nothing inflated");
	head = vqdrv_add_out(&drv[0], ARRAY_GPA, 6);
	kick(0);
	tap_ok(acked(0, head) && M(bad_descriptors) == 2 && rel.n == 0,
	       "inflate of 6 bytes (not whole PFNs) skipped");
	head = vqdrv_add_out(&drv[0], HOLE_PFN * 4096ULL, 8);
	kick(0);
	tap_ok(acked(0, head) && M(bad_descriptors) == 3, "PFN array outside RAM: completed");
	head = vqdrv_add(&drv[1], wr, 2);
	kick(1);
	tap_ok(acked(1, head) && M(bad_descriptors) == 4 && M(deflate_unknown_pfns) == 2,
	       "deflate with a write-only descriptor still reads its PFNs");

	/* A ring the driver wrecked: stop serving it, keep running. */
	vqdrv_set_avail_idx(&drv[0], vqdrv_used_idx(&drv[0]) + 500);
	kick(0);
	tap_eq(M(broken_queues), 1, "bad avail index: queue stopped and counted");
	kick(0);
	tap_eq(M(broken_queues), 1, "further kicks on the broken queue do nothing");
	head = send_run(1, PAGES_PFN, 1);
	tap_ok(acked(1, head), "the other queues keep working");
}

static void test_huge_chain(void)
{
	static struct vqdrv_buf bufs[BALLOON_QUEUE_SIZE];
	u32 *a = pfn_array(0);
	int i;

	start("", 0, SZ_4K, true);
	/* 128 descriptors of 64 PFNs: 8192 pages (32 MiB), eight batches. */
	for (i = 0; i < 128 * 64; i++)
		a[i] = PAGES_PFN + i;
	for (i = 0; i < BALLOON_QUEUE_SIZE; i++)
		bufs[i] = (struct vqdrv_buf){ ARRAY_GPA + 256ULL * i, 256, false };
	vqdrv_add(&drv[0], bufs, BALLOON_QUEUE_SIZE);
	kick(0);
	tap_ok(M(pages_inflated) == 128 * 64 && rel.bytes == 32 * SZ_1M && M(invalid_pfns) == 0,
	       "a 128-descriptor chain of 8192 PFNs inflated whole");
	tap_ok(rel.n <= 8 + 1, "one release per batch, not per page (%d)", rel.n);
}

static void test_regions_and_huge_pages(void)
{
	u32 first = 32 * SZ_1M / 4096 - 2;
	int i;

	start("", 0, SZ_4K, true);
	send_run(0, first, 4);
	tap_ok(rel.n == 2 && rel_is(0, first, 2) && rel_is(1, first + 2, 2) &&
	       M(ranges_released) == 1 && M(madvise_calls) == 2,
	       "a run across two regions: one range, two releases");

	start("", 0, SZ_2M, true);
	send_run(0, PAGES_PFN, 511);
	tap_ok(rel.n == 0 && M(pages_inflated) == 511, "2 MiB host pages: 511 of 512 keeps it");
	send_run(0, PAGES_PFN + 511, 1);
	tap_ok(rel.n == 1 && rel_is(0, PAGES_PFN, 512), "the 512th piece releases the host page");
	for (i = 0; i < 512; i += 2)
		send_run(0, PAGES_PFN + 512 + i, 2);
	tap_ok(rel.n == 2 && rel_is(1, PAGES_PFN + 512, 512), "pieces in many requests add up");
	send_run(1, PAGES_PFN + 3, 1);
	rel_reset();
	send_run(0, PAGES_PFN + 3, 1);
	tap_ok(rel.n == 1 && rel_is(0, PAGES_PFN, 512), "deflate then inflate of one piece re-releases");
	rel_reset();
	send_run(0, PAGES_PFN + 1024 + 1, 1024);
	tap_ok(rel.n == 1 && rel_is(0, PAGES_PFN + 1536, 512),
	       "partial host pages at both ends of a run stay");
}

static u32 cfg_read(u32 off)
{
	u32 v = 0;

	pthread_mutex_lock(&vdev->lock);
	vdev->ops->read_config(vdev, off, &v, 4);
	pthread_mutex_unlock(&vdev->lock);
	return v;
}

static void cfg_write(u32 off, const void *buf, u32 len)
{
	pthread_mutex_lock(&vdev->lock);
	vdev->ops->write_config(vdev, off, buf, len);
	pthread_mutex_unlock(&vdev->lock);
}

static void test_config(void)
{
	u32 v;
	u16 h;

	start("size=8M", 0, SZ_4K, false);
	tap_eq(cfg_read(0), 2048, "size=8M: num_pages 2048 at boot");
	tap_eq(balloon_set_target_pages(vdev, 100), 0, "target before DRIVER_OK");
	tap_ok(cfg_read(0) == 100 && config_irqs == 0, "no config interrupt before DRIVER_OK");
	pthread_mutex_lock(&vdev->lock);
	vdev->ops->activate(vdev);
	pthread_mutex_unlock(&vdev->lock);
	balloon_set_target_pages(vdev, 300);
	balloon_set_target_pages(vdev, 300);
	tap_ok(cfg_read(0) == 300 && config_irqs == 2 && M(config_interrupts) == 2,
	       "a config interrupt for every new target");
	tap_eq(balloon_set_target_pages(vdev, RAM_SIZE / 4096 + 1), (u64)-ERANGE,
	       "target above guest RAM refused");
	tap_eq(cfg_read(0), 300, "and nothing changed");
	tap_eq(cfg_read(4), 0, "actual starts at 0");
	v = 250;
	cfg_write(4, &v, 4);
	tap_eq(cfg_read(4), 250, "driver writes actual");
	tap_eq(state().actual, 250, "actual visible to the host");
	h = 0x0102;
	cfg_write(6, &h, 2);
	tap_eq(cfg_read(4), 0x010200fa, "2-byte write merges into actual");
	v = 7;
	cfg_write(0, &v, 4);
	tap_eq(cfg_read(0), 300, "driver writes to num_pages ignored");
	v = 9;
	cfg_write(8, &v, 4);
	tap_eq(cfg_read(8), 0, "driver writes to the hint id ignored");
	v = 0xaa;
	cfg_write(12, &v, 4);
	tap_eq(cfg_read(12), 0xaa, "driver writes poison_val");
	send_run(0, PAGES_PFN, 4);
	tap_eq(cfg_read(4), 0x010200fa, "the device never writes actual itself");

	device_reset();
	tap_ok(state().ballooned_pages == 0 && cfg_read(4) == 0 && cfg_read(0) == 300,
	       "reset: bitmap and actual cleared, target kept");
}

/* Stats buffer in array slot 1: n entries of (tag, val), then extra bytes. */
static u16 send_stats(const u16 *tags, const u64 *vals, int n, u32 extra, bool do_kick)
{
	u8 *p = (u8 *)pfn_array(1);
	u16 head;
	int i;

	for (i = 0; i < n; i++) {
		memcpy(p + 10 * i, &tags[i], 2);
		memcpy(p + 10 * i + 2, &vals[i], 8);
	}
	head = vqdrv_add_out(&drv[2], ARRAY_GPA + 0x10000, 10 * n + extra);
	if (do_kick)
		kick(2);
	return head;
}

static void test_stats(void)
{
	u16 tags[] = { 5, 4, 99, 0, 15, 16 };
	u64 vals[] = { 1000, 500, 7, 3, 42, 8 };
	struct balloon_stats st;
	u16 head;

	start("stats_interval=1s", BIT(BALLOON_F_STATS_VQ), SZ_4K, false);
	tap_ok(!balloon_get_stats(vdev, &st), "no stats before the driver sends any");
	/* Linux primes the buffer and kicks before DRIVER_OK; a transport may swallow it. */
	head = send_stats(tags, vals, 6, 3, false);
	pthread_mutex_lock(&vdev->lock);
	vdev->ops->activate(vdev);
	pthread_mutex_unlock(&vdev->lock);
	tap_ok(balloon_get_stats(vdev, &st), "primed buffer read at DRIVER_OK");
	tap_ok(st.val[5] == 1000 && st.val[4] == 500 && st.val[0] == 3 && st.val[15] == 42,
	       "values in any order");
	tap_ok(st.present == (BIT(0) | BIT(4) | BIT(5) | BIT(15)), "present mask");
	tap_eq(M(stats_unknown_tags), 2, "unknown tags 16 and 99 ignored and counted");
	tap_eq(vqdrv_used_idx(&drv[2]), 0, "the buffer is held, not used");
	tap_eq(balloon_stats_request(vdev), 0, "request");
	tap_ok(acked(2, head) && used_irqs[2] == 1, "request uses the buffer and interrupts");
	tap_eq(balloon_stats_request(vdev), (u64)-EAGAIN, "no second request while the driver has it");
	vals[0] = 2000;
	send_stats(tags, vals, 2, 3, true);
	balloon_get_stats(vdev, &st);
	tap_ok(st.val[5] == 2000 && st.updates == 2 && st.present == (BIT(4) | BIT(5)),
	       "refill replaces the values");
	tap_eq(M(stats_updates), 2, "updates counted");

	start("", 0, SZ_4K, true);
	tap_eq(balloon_stats_request(vdev), (u64)-ENODEV, "no STATS_VQ: request refused");
}

static u16 send_hint_id(unsigned int tq, u32 id)
{
	memcpy(pfn_array(2), &id, 4);
	return vqdrv_add_out(&drv[tq], ARRAY_GPA + 0x20000, 4);
}

static void send_hint_page(unsigned int tq, u64 gpa, u32 len)
{
	struct vqdrv_buf b = { gpa, len, true };

	vqdrv_add(&drv[tq], &b, 1);
}

static void test_hint(void)
{
	u32 id = 0, id2 = 0;
	unsigned int tq;

	start("free_page_hint=on", BIT(BALLOON_F_FREE_PAGE_HINT), SZ_4K, true);
	tq = vdev->ops->nr_queues(vdev) - 1;
	tap_ok(tq == 2 && cfg_read(8) == 0, "hint queue is transport queue 2, id starts at STOP");
	tap_eq(balloon_hint_start(vdev, &id), 0, "start a hint run");
	tap_ok(id == 2 && cfg_read(8) == 2 && config_irqs == 1, "first id is 2, config interrupt");
	send_hint_id(tq, 2);
	send_hint_page(tq, 8 * SZ_1M, 4 * SZ_1M);
	send_hint_page(tq, 16 * SZ_1M, 4 * SZ_1M);
	kick(tq);
	tap_ok(M(hint_runs) == 1 && M(hinted_bytes) == 8 * SZ_1M && rel.n == 0,
	       "hinted blocks counted, not released (D-12: no write tracking)");
	send_hint_id(tq, 0);
	kick(tq);
	tap_ok(cfg_read(8) == 1 && M(hint_done) == 1 && config_irqs == 2,
	       "driver's STOP answered with DONE and an interrupt");
	tap_ok(vqdrv_used_idx(&drv[tq]) == 4, "every hint buffer completed");

	balloon_hint_start(vdev, &id);
	balloon_hint_start(vdev, &id2);
	tap_ok(id == 3 && id2 == 4, "ids only grow");
	rel_reset();
	send_hint_id(tq, 3);
	send_hint_page(tq, 8 * SZ_1M, 4 * SZ_1M);
	kick(tq);
	tap_ok(rel.n == 0 && M(hint_ignored_bytes) == 4 * SZ_1M, "pages under a stale id ignored");
	send_hint_id(tq, 0);
	kick(tq);
	tap_eq(cfg_read(8), 4, "STOP of a stale run does not say DONE");
	send_hint_page(tq, 8 * SZ_1M, 4 * SZ_1M);
	kick(tq);
	tap_ok(rel.n == 0 && M(hint_ignored_bytes) == 8 * SZ_1M, "pages outside a run ignored");
	send_hint_id(tq, 1);
	kick(tq);
	tap_eq(M(bad_descriptors), 1, "driver sending DONE is a bad descriptor");
	tap_eq(balloon_hint_stop(vdev), 0, "host stop");
	tap_eq(cfg_read(8), 0, "id back to STOP");
	/* DONE while the driver's run is open, before its STOP. */
	balloon_hint_start(vdev, &id);
	send_hint_id(tq, id);
	kick(tq);
	tap_ok(balloon_hint_done_now(vdev) == 0 && cfg_read(8) == 1,
	       "host DONE mid-run: id DONE before the driver's STOP");

	start("", 0, SZ_4K, true);
	tap_eq(balloon_hint_start(vdev, &id), (u64)-ENODEV, "no FREE_PAGE_HINT: start refused");
}

/*
 * Fake write tracking: what the VMM's dirty log and vCPU pause would do,
 * with the pages "written" since the run began chosen by the test.
 */
static struct {
	unsigned int starts, pauses, collects, resumes;
	unsigned int reads, written_at_read;	/* the referee's log reads */
	u32 id_at_start;		/* the hint id when the log started */
	u64 written_first, written_nr;	/* PFNs the guest "wrote" */
	int pause_ret;
} fake_log;

/* Called with the device's lock held: read the config without taking it. */
static int fake_log_start(void *opaque __unused)
{
	fake_log.starts++;
	vdev->ops->read_config(vdev, 8, &fake_log.id_at_start, 4);
	return 0;
}

static int fake_pause(void *opaque __unused)
{
	fake_log.pauses++;
	return fake_log.pause_ret;
}

static int fake_log_collect(void *opaque __unused, u64 *words, u64 nr_pfns)
{
	u64 pfn;

	fake_log.collects++;
	for (pfn = fake_log.written_first; pfn < fake_log.written_first + fake_log.written_nr &&
	     pfn < nr_pfns; pfn++)
		words[pfn / 64] |= 1ULL << (pfn % 64);
	return 0;
}

static void fake_resume(void *opaque __unused)
{
	fake_log.resumes++;
}

/* The referee's reads: the "written" pages show up at read number written_at_read. */
static int fake_log_read(void *opaque __unused, u64 *words, u64 nr_pfns)
{
	if (++fake_log.reads == fake_log.written_at_read)
		fake_log_collect(NULL, words, nr_pfns);
	return 0;
}

static const struct balloon_dirty_ops fake_dirty_ops = {
	.log_start = fake_log_start,
	.pause = fake_pause,
	.log_collect = fake_log_collect,
	.resume = fake_resume,
	.log_read = fake_log_read,
};

/* One run of two 4 MiB blocks at 8 and 16 MiB; returns the hint queue. */
static unsigned int hint_run_two_blocks(void)
{
	unsigned int tq;
	u32 id;

	start("free_page_hint=on", BIT(BALLOON_F_FREE_PAGE_HINT), SZ_4K, true);
	balloon_set_dirty_ops(vdev, &fake_dirty_ops, NULL);
	tq = vdev->ops->nr_queues(vdev) - 1;
	balloon_hint_start(vdev, &id);
	send_hint_id(tq, id);
	send_hint_page(tq, 8 * SZ_1M, 4 * SZ_1M);
	send_hint_page(tq, 16 * SZ_1M, 4 * SZ_1M);
	kick(tq);
	return tq;
}

static void test_hint_release(void)
{
	unsigned int tq;

	memset(&fake_log, 0, sizeof(fake_log));
	/* The guest wrote the first 16 pages of the second block during the run. */
	fake_log.written_first = (16 * SZ_1M) >> 12;
	fake_log.written_nr = 16;
	tq = hint_run_two_blocks();
	tap_ok(fake_log.starts == 1 && fake_log.id_at_start == 0,
	       "the dirty log starts before the run's id goes out (D-12)");
	tap_ok(rel.n == 0 && cfg_read(8) == 2, "nothing released while the run lasts");
	tap_ok(balloon_hint_done_now(vdev) == -EBUSY && cfg_read(8) == 2,
	       "host DONE refused while the run is tracked for release");
	send_hint_id(tq, 0);
	kick(tq);
	tap_ok(fake_log.pauses == 1 && fake_log.collects == 1 && fake_log.resumes == 1,
	       "the driver's STOP: vCPUs paused, the log read, vCPUs resumed");
	tap_ok(rel.n == 2 && rel_is(0, (8 * SZ_1M) >> 12, 1024) &&
	       rel_is(1, ((16 * SZ_1M) >> 12) + 16, 1024 - 16),
	       "hinted pages left unwritten released, the written ones kept");
	tap_ok(M(hint_released_bytes) == 8 * SZ_1M - 16 * SZ_4K &&
	       M(hint_written_bytes) == 16 * SZ_4K && M(hint_pauses) == 1,
	       "released, kept and pauses counted");
	tap_ok(cfg_read(8) == 1 && M(hint_done) == 1, "then DONE (D-13: nothing changes after it)");

	/* A pause that cannot happen: nothing may go, the run still ends. */
	memset(&fake_log, 0, sizeof(fake_log));
	fake_log.pause_ret = -ETIMEDOUT;
	tq = hint_run_two_blocks();
	send_hint_id(tq, 0);
	kick(tq);
	tap_ok(rel.n == 0 && fake_log.collects == 0 && fake_log.resumes == 1 &&
	       M(hint_release_errors) == 1 && cfg_read(8) == 1,
	       "no pause: nothing released, counted, DONE all the same");

	/* hint_release=off: counted only, as without write tracking. */
	memset(&fake_log, 0, sizeof(fake_log));
	start("free_page_hint=on,hint_release=off", BIT(BALLOON_F_FREE_PAGE_HINT), SZ_4K, true);
	balloon_set_dirty_ops(vdev, &fake_dirty_ops, NULL);
	tq = vdev->ops->nr_queues(vdev) - 1;
	balloon_hint_start(vdev, NULL);
	send_hint_id(tq, 2);
	send_hint_page(tq, 8 * SZ_1M, 4 * SZ_1M);
	kick(tq);
	/* The id buffer is reused: the STOP goes after the run was seen. */
	send_hint_id(tq, 0);
	kick(tq);
	if (!tap_ok(rel.n == 0 && fake_log.starts == 0 && cfg_read(8) == 1,
		    "hint_release=off: no log, nothing released, DONE"))
		printf("#   releases %d, log starts %u, id %u\n", rel.n, fake_log.starts, cfg_read(8));
}

static void test_reporting(void)
{
	struct vqdrv_buf sg[] = {
		{ 8 * SZ_1M, 2 * SZ_1M, true }, { 12 * SZ_1M, 2 * SZ_1M, true },
		{ 20 * SZ_1M + 4096, 2 * SZ_1M, true },
	};
	struct vqdrv_buf out = { ARRAY_GPA, 8, false };
	unsigned int tq;
	u16 head;
	u32 v;

	start("free_page_reporting=on", BIT(BALLOON_F_PAGE_REPORTING), SZ_2M, true);
	tq = vdev->ops->nr_queues(vdev) - 1;
	tap_eq(tq, 2, "reporting alone is transport queue 2");
	head = vqdrv_add(&drv[tq], sg, 3);
	kick(tq);
	tap_ok(acked(tq, head) && M(reported_ranges) == 3 && M(reported_bytes) == 6 * SZ_1M,
	       "report acked and counted");
	tap_ok(rel.n == 2 && rel_is(0, 8 * SZ_1M / 4096, 512) && rel_is(1, 12 * SZ_1M / 4096, 512),
	       "aligned blocks released, a misaligned one with 2 MiB host pages kept");
	head = vqdrv_add_out(&drv[tq], ARRAY_GPA, 8);
	kick(tq);
	tap_ok(acked(tq, head) && M(bad_descriptors) == 1, "driver-readable report: counted, acked");
	(void)out;
	sg[0].gpa = 47 * SZ_1M;
	head = vqdrv_add(&drv[tq], sg, 1);
	kick(tq);
	tap_ok(acked(tq, head) && M(bad_descriptors) == 2 && rel.n == 2,
	       "report running past the end of a region rejected, nothing released");

	start("free_page_reporting=on,page_poison=on",
	      BIT(BALLOON_F_PAGE_REPORTING) | BIT(BALLOON_F_PAGE_POISON), SZ_4K, true);
	v = 0xaa;
	cfg_write(12, &v, 4);
	sg[0].gpa = 8 * SZ_1M;
	vqdrv_add(&drv[2], sg, 1);
	kick(2);
	tap_ok(rel.n == 0 && M(poison_kept_bytes) == 2 * SZ_1M,
	       "non-zero poison_val: reported pages kept (D-17)");
	v = 0;
	cfg_write(12, &v, 4);
	vqdrv_add(&drv[2], sg, 1);
	kick(2);
	tap_eq(rel.n, 1, "zero poison_val: reported pages released");
}

static void test_numbering(void)
{
	start("stats_interval=1s,free_page_hint=on,free_page_reporting=on", NO_NEGOTIATION,
	      SZ_4K, false);
	tap_eq(vdev->ops->nr_queues(vdev), 5, "before FEATURES_OK: every offered queue");
	pthread_mutex_lock(&vdev->lock);
	vdev->ops->set_features(vdev, BIT(BALLOON_F_PAGE_REPORTING));
	pthread_mutex_unlock(&vdev->lock);
	tap_eq(vdev->ops->nr_queues(vdev), 3, "after FEATURES_OK: only negotiated queues");
	tap_ok(vdev->ops->queue_max_size(vdev, 2) >= 32 && vdev->ops->queue_max_size(vdev, 3) == 0,
	       "reporting queue has >= 32 entries, queue 3 none");
	tap_eq(state().accepted, BIT(BALLOON_F_PAGE_REPORTING), "accepted features recorded");
	pthread_mutex_lock(&vdev->lock);
	vdev->ops->set_features(vdev, BIT(BALLOON_F_MUST_TELL_HOST));
	pthread_mutex_unlock(&vdev->lock);
	tap_eq(state().accepted, 0, "features never offered are not accepted");
	tap_eq(state().offered, BIT(BALLOON_F_STATS_VQ) | BIT(BALLOON_F_FREE_PAGE_HINT) |
	       BIT(BALLOON_F_PAGE_REPORTING), "offered features follow the options");
}

static int fake_release(void *opaque, u64 gpa, u64 len)
{
	return guest_mem_release(opaque, gpa, len);
}

/* balloon_postmortem()'s line for the device as it is now. */
static const char *postmortem_line(void)
{
	static char line[512];
	FILE *f = fmemopen(line, sizeof(line), "w");

	balloon_postmortem(vdev, f);
	fclose(f);
	return line;
}

static void test_postmortem(void)
{
	u8 *page;

	start("", 0, SZ_4K, true);
	balloon_set_release_fn(vdev, fake_release, &mem);
	send_run(0, PAGES_PFN, 256);
	tap_ok(!!strstr(postmortem_line(), ": 0 of 256 host pages in the balloon hold data"),
	       "post-mortem: released pages read as zeroes, none written");
	page = guest_mem_ptr(&mem, (u64)(PAGES_PFN + 7) << 12, SZ_4K);
	page[100] = 0x5a;
	tap_ok(strstr(postmortem_line(), ": 1 of 256 host pages") &&
	       strstr(postmortem_line(), "first PFNs: 0x" ) &&
	       strtoull(strstr(postmortem_line(), "first PFNs: ") + 12, NULL, 16) == PAGES_PFN + 7,
	       "post-mortem: a ballooned page the guest wrote again is named");
	send_run(1, PAGES_PFN + 7, 1);
	tap_ok(!!strstr(postmortem_line(), ": 0 of 255 host pages"),
	       "post-mortem: a deflated page may hold data");
	printf("# %s", postmortem_line());
}

/*
 * 4 KiB host pages with the hold on: a 2 MiB block goes back whole once the
 * balloon has all of it; what never completes goes at the flush, less what
 * the guest took back; nothing goes after a reset.
 */
static void test_release_hold(void)
{
	hold_ms = BALLOON_RELEASE_HOLD_MS;
	start("", 0, SZ_4K, true);
	send_run(0, PAGES_PFN, 256);
	tap_ok(rel.n == 0 && M(pages_inflated) == 256, "hold: half a 2 MiB block inflated, held");
	memset(guest_mem_ptr(&mem, pfn_to_gpa(PAGES_PFN), SZ_4K), 0x5a, SZ_4K);
	tap_ok(!!strstr(postmortem_line(), ": 0 of 0 host pages"),
	       "post-mortem: a held page's data is not taken for a write after release");
	send_run(0, PAGES_PFN + 256, 256);
	tap_ok(rel.n == 1 && rel_is(0, PAGES_PFN, 512),
	       "hold: the other half completes the block: one release of 2 MiB");
	balloon_flush_held(vdev);
	tap_ok(rel.n == 1 && M(held_flushes) == 0 && M(held_blocks_flushed) == 0,
	       "hold: a completed block is no longer held");

	rel_reset();
	send_run(0, PAGES_PFN + 512, 100);
	send_run(1, PAGES_PFN + 512 + 10, 5);
	balloon_flush_held(vdev);
	tap_ok(rel.n == 2 && rel_is(0, PAGES_PFN + 512, 10) && rel_is(1, PAGES_PFN + 527, 85),
	       "hold: the flush releases what is still in the balloon, not what was deflated");
	tap_eq(M(held_blocks_flushed), 1, "hold: one block released in pieces");

	rel_reset();
	send_run(0, PAGES_PFN + 1024, 64);
	device_reset();
	balloon_flush_held(vdev);
	tap_ok(rel.n == 0, "hold: pages held when the device was reset are never released");

	start("", 0, SZ_4K, true);
	send_run(0, PAGES_PFN, 1024 + 256);
	tap_ok(rel.n == 1 && rel_is(0, PAGES_PFN, 1024), "hold: two whole blocks released at once");
	balloon_flush_held(vdev);
	tap_ok(rel.n == 2 && rel_is(1, PAGES_PFN + 1024, 256), "hold: the tail goes at the flush");

	/* Huge host pages: only whole ones go anyway, so nothing is held. */
	start("", 0, SZ_2M, true);
	send_run(0, PAGES_PFN, 256);
	balloon_flush_held(vdev);
	tap_ok(rel.n == 0 && M(held_flushes) == 0, "hold: off with 2 MiB host pages");
	hold_ms = 0;
}

/* One of query's referee values; true and false read as 1 and 0. */
static u64 referee_count(const char *key)
{
	json_t *o = balloon_referee_json(vdev), *j = json_object_get(o, key);
	u64 v = json_is_true(j) ? 1 : json_integer_value(j);

	json_decref(o);
	return v;
}

/* The referee in the device: the log is read at each pop and ack. */
static void test_referee(void)
{
	u16 head;

	start("", 0, SZ_4K, true);
	tap_ok(!balloon_referee_json(vdev), "referee=off: no referee");

	start("referee=on", 0, SZ_4K, false);
	balloon_set_dirty_ops(vdev, &fake_dirty_ops, NULL);
	memset(&fake_log, 0, sizeof(fake_log));
	pthread_mutex_lock(&vdev->lock);
	vdev->ops->activate(vdev);
	pthread_mutex_unlock(&vdev->lock);
	tap_eq(fake_log.starts, 1, "referee: the log starts with the driver");

	/* Read 1 at the inflate's pop, read 2 right before its ack. */
	fake_log.written_first = PAGES_PFN + 3;
	fake_log.written_nr = 1;
	fake_log.written_at_read = 2;
	head = send_run(0, PAGES_PFN, 16);
	tap_ok(acked(0, head) && fake_log.reads == 2, "referee: an inflate is read at pop and ack");
	tap_eq(referee_count("r12_violations"), 1, "R-12: a page written before the ack, counted");
	tap_eq(referee_count("r9_violations"), 0, "... and only as R-12");

	/* The same page written after the ack: R-9, seen at the next pop. */
	fake_log.written_at_read = 3;
	send_run(1, PAGES_PFN, 1);
	tap_eq(referee_count("r9_violations"), 1, "R-9: a balloon page written with no deflate");
	tap_eq(referee_count("r13_violations"), 0, "R-13: a deflate after the ack is fine");
	tap_eq(referee_count("log_reads"), 4, "four reads: two requests, pop and ack each");

	device_reset();
	tap_eq(referee_count("r12_violations"), 1, "a reset keeps the counts");
	balloon_set_dirty_ops(vdev, NULL, NULL);
}

static void activate(void)
{
	pthread_mutex_lock(&vdev->lock);
	vdev->ops->activate(vdev);
	pthread_mutex_unlock(&vdev->lock);
}

/* The stats duties through the device's own paths: counted, or exposed. */
static void test_referee_stats(void)
{
	u16 tags[] = { 4, 5 };
	u64 vals[] = { 1, 2 };
	u32 v = 0xaaaaaaaa;

	start("referee=on,stats_interval=1s,page_poison=on",
	      BIT(BALLOON_F_STATS_VQ) | BIT(BALLOON_F_PAGE_POISON), SZ_4K, false);
	cfg_write(12, &v, 4);
	send_stats(tags, vals, 2, 0, false);
	activate();
	tap_ok(referee_count("r34_checks") == 1 && referee_count("r34_violations") == 0,
	       "R-34: poison_val written before DRIVER_OK, judged there");
	tap_ok(referee_count("r20_checks") == 1 && referee_count("r20_violations") == 0 &&
	       referee_count("stats_held") && referee_count("stats_owed_ms") == (u64)-1,
	       "R-18, R-20: the primed buffer, two whole entries, held: nothing owed");
	balloon_stats_request(vdev);
	tap_ok(referee_count("stats_used") == 1 && !referee_count("stats_held") &&
	       referee_count("stats_owed_ms") < 1000, "R-19: a buffer owed since the use, exposed");
	send_stats(tags, vals, 2, 0, true);
	tap_ok(referee_count("stats_buffers") == 2 && referee_count("r17_violations") == 0 &&
	       referee_count("r22_checks") == 1 && referee_count("r22_violations") == 0,
	       "R-17, R-22: one buffer answers one request, the same tags");
	send_stats(tags, vals, 1, 3, true);
	tap_ok(referee_count("r17_violations") == 1 && referee_count("r20_violations") == 1 &&
	       referee_count("stats_used") == 2, "R-17, R-20: a second buffer of 13 bytes");
	balloon_stats_request(vdev);
	send_stats(tags, vals, 1, 0, true);
	tap_ok(referee_count("r22_violations") == 1 && referee_count("r22_checks") == 2,
	       "R-22: tag 5 left out");
	v = 0x55;
	cfg_write(12, &v, 4);
	tap_eq(referee_count("r35_violations"), 1, "R-35: poison_val changed while DRIVER_OK");
}

/* The hint duties through the device's own paths. */
static void test_referee_hint(void)
{
	unsigned int tq;
	u32 id = 0, id2 = 0;

	start("referee=on,free_page_hint=on,hint_release=off", BIT(BALLOON_F_FREE_PAGE_HINT), SZ_4K, true);
	tq = vdev->ops->nr_queues(vdev) - 1;
	balloon_hint_start(vdev, &id);
	send_hint_page(tq, 8 * SZ_1M, 4 * SZ_1M);
	kick(tq);
	tap_eq(referee_count("r24_violations"), 1, "R-24: a page hinted before the id");
	/* One id slot in fake RAM: kick before the next id overwrites it. */
	send_hint_id(tq, id);
	send_hint_page(tq, 8 * SZ_1M, 4 * SZ_1M);
	kick(tq);
	tap_eq(referee_count("hint_run_id"), id, "R-28: the driver's open run exposed");
	send_hint_id(tq, BALLOON_HINT_CMD_ID_STOP);
	kick(tq);
	tap_ok(referee_count("r24_violations") == 1 && referee_count("r25_checks") == 1 &&
	       referee_count("hint_run_id") == 0 && referee_count("hint_stops") == 1,
	       "R-24, R-25, R-28: then a proper run to its STOP");
	tap_eq(balloon_hint_start(vdev, &id2), 0, "a second run");
	send_hint_id(tq, id2);
	kick(tq);
	send_hint_id(tq, id2);
	kick(tq);
	tap_ok(referee_count("r25_violations") == 1 && referee_count("r24_violations") == 1,
	       "R-25: the current id sent twice");
	send_hint_id(tq, id2 + 5);
	kick(tq);
	tap_eq(referee_count("r24_violations"), 2, "R-24: an id the device never issued");
	vqdrv_add_out(&drv[tq], ARRAY_GPA + 0x20000, 8);
	kick(tq);
	tap_ok(referee_count("r23_violations") == 1 && referee_count("r23_checks") == 6,
	       "R-23: an 8-byte command");
}

/* R-14's state for a test's bounded wait: exposed, never counted. */
static void test_referee_rest(void)
{
	u32 actual = 16, bad = 0xffffffff;

	start("referee=on", 0, SZ_4K, true);
	send_run(0, PAGES_PFN, 16);
	tap_ok(referee_count("balloon_pages") == 16 && referee_count("actual") == 0 &&
	       referee_count("balloon_pages_exact") && !referee_count("requests_waiting") &&
	       referee_count("requests_held") == 0,
	       "R-14: 16 pages in, actual not written yet: exposed");
	cfg_write(4, &actual, 4);
	tap_eq(referee_count("actual"), 16, "R-14: actual 16 beside balloon_pages 16");
	vqdrv_add_out(&drv[0], ARRAY_GPA, 4);
	tap_ok(referee_count("requests_waiting"), "R-14: an inflate queued, not taken: waiting");
	memcpy(pfn_array(0), &bad, 4);
	kick(0);
	tap_ok(!referee_count("requests_waiting") && !referee_count("balloon_pages_exact"),
	       "R-14: a PFN outside RAM: the count is no longer exact");
	device_reset();
	tap_ok(referee_count("balloon_pages_exact") && referee_count("balloon_pages") == 0,
	       "R-14: a reset starts an exact count again");
}

/* R-38 through the device: a report is read at its pop and at its ack. */
static void test_referee_report(void)
{
	struct vqdrv_buf sg = { 8 * SZ_1M, 2 * SZ_1M, true };
	json_t *o;

	start("referee=on,free_page_reporting=on", BIT(BALLOON_F_PAGE_REPORTING), SZ_4K, false);
	balloon_set_dirty_ops(vdev, &fake_dirty_ops, NULL);
	memset(&fake_log, 0, sizeof(fake_log));
	activate();
	/* Read 1 at the first report's pop: the page was written, then freed and reported. */
	fake_log.written_first = ((8 * SZ_1M) >> 12) + 5;
	fake_log.written_nr = 1;
	fake_log.written_at_read = 1;
	vqdrv_add(&drv[2], &sg, 1);
	kick(2);
	tap_ok(fake_log.reads == 2 && referee_count("r38_violations") == 0,
	       "R-38: a report read at pop and ack; a write before the pop is none");
	/* Read 4: the second report's ack. */
	fake_log.written_at_read = 4;
	vqdrv_add(&drv[2], &sg, 1);
	kick(2);
	o = balloon_referee_json(vdev);
	tap_ok(json_integer_value(json_object_get(o, "r38_violations")) == 1 &&
	       json_integer_value(json_array_get(json_object_get(o, "r38_pfns"), 0)) ==
	       (json_int_t)fake_log.written_first,
	       "R-38: a reported page written before the ack: counted, its PFN shown");
	json_decref(o);
	balloon_set_dirty_ops(vdev, NULL, NULL);
}

static unsigned int needs_reset_calls;

static void fake_set_needs_reset(struct virtio_device *v __unused)
{
	needs_reset_calls++;
}

/* The stress through the device: empty config interrupts, NEEDS_RESET. */
static void test_stress(void)
{
	u16 head;

	start("", 0, SZ_4K, false);
	tap_eq(balloon_stress_config_notify(vdev, 3), (u64)-ENODEV,
	       "stress: nothing before DRIVER_OK");
	activate();
	tap_ok(!balloon_stress_config_notify(vdev, 3) && config_irqs == 3 &&
	       M(config_interrupts) == 3 && cfg_read(0) == 0,
	       "stress config_notify 3: three interrupts, num_pages unchanged");
	tap_eq(balloon_stress_needs_reset(vdev), (u64)-EOPNOTSUPP,
	       "stress needs_reset: no transport bit, refused");
	vdev->set_needs_reset = fake_set_needs_reset;
	tap_ok(!balloon_stress_needs_reset(vdev) && needs_reset_calls == 1 && config_irqs == 4 &&
	       state().needs_reset && M(needs_reset_raised) == 1,
	       "stress needs_reset: the bit set, then a config interrupt (2.1.1)");
	head = send_run(0, PAGES_PFN, 4);
	tap_ok(acked(0, head), "stress needs_reset: the device still serves its queues");
	device_reset();
	tap_ok(!state().needs_reset && M(device_resets) == 1, "stress needs_reset: a reset clears it");
	balloon_set_num_pages(vdev, 0xffffffff);
	tap_eq(cfg_read(0), 0xffffffff, "num_pages: any u32, above guest RAM too");
}

/* ---- held acks: their timer runs on an I/O loop, on a thread ---- */

static void *loop_main(void *arg __unused)
{
	ioloop_run(loop);
	return NULL;
}

static void loop_start(void)
{
	loop = ioloop_create();
	if (!loop || pthread_create(&loop_thread, NULL, loop_main, NULL)) {
		printf("Bail out! no I/O loop\n");
		exit(1);
	}
}

/* The device goes first: it must not outlive its loop, nor run a timer meanwhile. */
static void loop_end(void)
{
	ioloop_stop(loop);
	pthread_join(loop_thread, NULL);
	balloon_destroy(vdev);
	vdev = NULL;
	ioloop_destroy(loop);
	loop = NULL;
}

static u64 now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ULL + ts.tv_nsec / 1000000;
}

/* tq's used index, read under the lock the loop's timer pushes under. */
static u16 used_now(unsigned int tq)
{
	u16 idx;

	pthread_mutex_lock(&vdev->lock);
	idx = vqdrv_used_idx(&drv[tq]);
	pthread_mutex_unlock(&vdev->lock);
	return idx;
}

/* Wait (2 s at most) until tq has used want buffers; the ms it took, or -1. */
static s64 wait_used(unsigned int tq, u16 want, u64 since)
{
	while (used_now(tq) < want) {
		if (now_ms() - since > 2000)
			return -1;
		usleep(1000);
	}
	return now_ms() - since;
}

/* The head of tq's used element idx. */
static u32 used_head(unsigned int tq, u16 idx)
{
	u32 id, len;

	vqdrv_used_elem(&drv[tq], idx, &id, &len);
	return id;
}

/* hold_report_ms and hold_hint_ms: the same hold as inflates, on their queues. */
static void test_hold_report_hint(void)
{
	struct vqdrv_buf sg = { 8 * SZ_1M, 2 * SZ_1M, true };
	u64 t0;
	u32 id;

	loop_start();
	start("free_page_hint=on,free_page_reporting=on,hold_report_ms=50,hold_hint_ms=50",
	      BIT(BALLOON_F_FREE_PAGE_HINT) | BIT(BALLOON_F_PAGE_REPORTING), SZ_4K, true);
	/* inflate 0, deflate 1, free page hint 2, reporting 3 */
	t0 = now_ms();
	vqdrv_add(&drv[3], &sg, 1);
	kick(3);
	tap_ok(used_now(3) == 0 && M(reported_bytes) == 2 * SZ_1M,
	       "hold_report_ms: a report handled at once, its buffer held");
	tap_ok(wait_used(3, 1, t0) >= 50, "hold_report_ms: used 50 ms later, not before");

	balloon_hint_start(vdev, &id);
	send_hint_id(2, id);
	kick(2);
	tap_eq(used_now(2), 1, "hold_hint_ms: the id command is used at once");
	t0 = now_ms();
	send_hint_page(2, 16 * SZ_1M, 4 * SZ_1M);
	send_hint_page(2, 20 * SZ_1M, 4 * SZ_1M);
	kick(2);
	tap_ok(used_now(2) == 1 && M(hinted_bytes) == 8 * SZ_1M,
	       "hold_hint_ms: hinted pages counted at once, their buffers held");
	tap_ok(wait_used(2, 3, t0) >= 50, "hold_hint_ms: both used 50 ms later, not before");
	loop_end();
}

/* Wait (2 s at most) until the hint id reads @id; the ms it took, or -1. */
static s64 wait_hint_id(u32 id, u64 since)
{
	while (cfg_read(8) != id) {
		if (now_ms() - since > 2000)
			return -1;
		usleep(1000);
	}
	return now_ms() - since;
}

/*
 * hold_done_ms: DONE that long after the driver's STOP; a new run while it
 * is held ends the wait, and its DONE never comes.
 */
static void test_hold_done(void)
{
	const unsigned int tq = 2;
	u32 id, id2;
	u64 t0;

	loop_start();
	start("free_page_hint=on,hold_done_ms=50", BIT(BALLOON_F_FREE_PAGE_HINT), SZ_4K, true);
	balloon_hint_start(vdev, &id);
	send_hint_id(tq, id);
	send_hint_page(tq, 8 * SZ_1M, 4 * SZ_1M);
	kick(tq);
	t0 = now_ms();
	send_hint_id(tq, BALLOON_HINT_CMD_ID_STOP);
	kick(tq);
	tap_ok(cfg_read(8) == id && M(hint_done) == 0,
	       "hold_done_ms: after the driver's STOP the id stays, no DONE yet");
	tap_ok(wait_hint_id(BALLOON_HINT_CMD_ID_DONE, t0) >= 50 && M(hint_done_held) == 1,
	       "hold_done_ms: DONE 50 ms after the STOP, not before");

	/* One buffer holds the id sent (send_hint_id): a kick after each. */
	balloon_hint_start(vdev, &id);
	send_hint_id(tq, id);
	kick(tq);
	send_hint_id(tq, BALLOON_HINT_CMD_ID_STOP);
	kick(tq);
	balloon_hint_start(vdev, &id2);
	usleep(150 * 1000);
	tap_ok(cfg_read(8) == id2 && M(hint_done_held) == 1,
	       "hold_done_ms: a new id while DONE is held: the held DONE never comes");
	send_hint_id(tq, id2);
	kick(tq);
	t0 = now_ms();
	send_hint_id(tq, BALLOON_HINT_CMD_ID_STOP);
	kick(tq);
	tap_ok(wait_hint_id(BALLOON_HINT_CMD_ID_DONE, t0) >= 50 && M(hint_done_held) == 2,
	       "hold_done_ms: the new run's STOP gets its own DONE, held as long");
	loop_end();
}

/* Three inflates held at once: used in the order taken, or newest first. */
static void ack_order_run(const char *opts, const char *name, bool reverse)
{
	u16 head[3];
	int i, good = 1;

	loop_start();
	start(opts, 0, SZ_4K, true);
	for (i = 0; i < 3; i++) {
		pfn_array(0)[i] = PAGES_PFN + i;
		head[i] = vqdrv_add_out(&drv[0], ARRAY_GPA + 4 * i, 4);
	}
	kick(0);
	tap_ok(used_now(0) == 0 && M(pages_inflated) == 3, "%s: three inflates taken, held", name);
	tap_ok(wait_used(0, 3, now_ms()) >= 0, "%s: all three used", name);
	for (i = 0; i < 3; i++)
		good &= used_head(0, i) == head[reverse ? 2 - i : i];
	if (!tap_ok(good, "%s: used %s", name, reverse ? "newest first" : "in the order taken"))
		printf("#   used %u %u %u, taken %u %u %u\n", used_head(0, 0), used_head(0, 1),
		       used_head(0, 2), head[0], head[1], head[2]);
	loop_end();
}

static void test_ack_order(void)
{
	ack_order_run("hold_inflate_ms=30", "ack_order=fifo", false);
	ack_order_run("hold_inflate_ms=30,ack_order=reverse", "ack_order=reverse", true);
}

int main(void)
{
	tap_start();
	fake_ram_init();
	test_inflate_deflate();
	test_bad_pfns();
	test_bad_descriptors();
	test_huge_chain();
	test_regions_and_huge_pages();
	test_config();
	test_stats();
	test_hint();
	test_hint_release();
	test_reporting();
	test_numbering();
	test_postmortem();
	test_release_hold();
	test_referee();
	test_referee_stats();
	test_referee_hint();
	test_referee_rest();
	test_referee_report();
	test_stress();
	test_hold_report_hint();
	test_hold_done();
	test_ack_order();
	balloon_destroy(vdev);
	free(ram);
	return tap_done();
}
