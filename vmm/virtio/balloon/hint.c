// SPDX-License-Identifier: MIT
/*
 * virtio-balloon, free page hints released safely. D-12 lets a device
 * discard a hinted page only if the guest has not written it since the run's
 * command id was issued, and D-13 forbids touching hinted pages once DONE is
 * set. So: the VMM's dirty log starts before the id goes out; the pages of
 * the run are noted as they come; when the driver ends the run, every vCPU
 * stops, the log says which of them were written since, the rest go back to
 * the host, and only then DONE is set and the vCPUs run on.
 *
 * The release needs the vCPUs stopped and the device's lock free (a vCPU may
 * be waiting for it in a config access), so the driver's STOP, seen under
 * the lock, only writes an eventfd; the I/O loop runs the release. A device
 * without an I/O loop (unit tests, with fake ops) releases at once.
 */
#include <errno.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "priv.h"

bool balloon_hint_tracks(const struct balloon *b)
{
	return b->dirty_ops && b->cfg.hint_release && b->hinted.words;
}

/* Under the lock, before the id goes out: writes are logged from here on. */
int balloon_hint_track_start(struct balloon *b)
{
	int ret;

	b->hint_tracking = false;
	if (!balloon_hint_tracks(b))
		return 0;
	pfn_bitmap_clear_all(&b->hinted);
	ret = b->dirty_ops->log_start(b->dirty_opaque);
	if (ret) {
		b->m.hint_release_errors++;
		balloon_warn(b, "free page hint: no dirty log (%d): this run's pages stay", ret);
		return ret;
	}
	b->hint_tracking = true;
	return 0;
}

void balloon_hint_mark(struct balloon *b, u64 gpa, u64 len)
{
	u64 pfn = gpa >> PFN_SHIFT, end = (gpa + len) >> PFN_SHIFT;

	if (!b->hint_tracking)
		return;
	/* Whole pages only; the queue already checked the range is RAM. */
	if (gpa & (PFN_SIZE - 1))
		pfn++;
	for (; pfn < end && pfn < b->hinted.nr_pfns; pfn++)
		pfn_bitmap_test_and_set(&b->hinted, pfn);
}

void balloon_hint_done(struct balloon *b)
{
	b->hint_done_pending = false;
	b->hint_cmd_id = BALLOON_HINT_CMD_ID_DONE;
	b->m.hint_done++;
	balloon_signal_config(b);
}

/*
 * hold_done_ms: DONE that long after the run ended, as a device may take
 * its time with the hints. Meanwhile the driver's blocks are out: what it
 * does with a new run or with memory pressure then is the stress. A new
 * id, DONE by request, or a reset ends the wait; then nothing is due.
 */
static void balloon_hint_done_due(struct balloon *b)
{
	if (!b->hint_done_pending)
		return;
	b->m.hint_done_held++;
	balloon_hint_done(b);
}

static void balloon_hint_done_fn(void *opaque, u32 events __unused)
{
	struct balloon *b = opaque;

	balloon_on_timer(b, b->done_fd, balloon_hint_done_due);
}

/* The run is over (and released): DONE now, or armed for later. */
static void balloon_hint_done_after_run(struct balloon *b)
{
	struct itimerspec its = {
		.it_value = {
			.tv_sec = b->cfg.hold_done_ms / 1000,
			.tv_nsec = b->cfg.hold_done_ms % 1000 * 1000000,
		},
	};

	if (b->done_fd < 0 || timerfd_settime(b->done_fd, 0, &its, NULL)) {
		balloon_hint_done(b);
		return;
	}
	b->hint_done_pending = true;
}

int balloon_hint_hold_init(struct balloon *b)
{
	if (!b->cfg.hold_done_ms || !b->loop)
		return 0;
	return balloon_timer_open(b, &b->done_fd, balloon_hint_done_fn);
}

void balloon_hint_hold_free(struct balloon *b)
{
	balloon_timer_close(b, &b->done_fd);
}

static void balloon_hint_release_locked(struct balloon *b, int paused);
static void balloon_hint_pause_end(struct balloon *b, u64 t0);
static u64 balloon_hint_now_us(void);

void balloon_hint_finish(struct balloon *b)
{
	u64 one = 1, t0;

	if (!b->hint_tracking) {
		balloon_hint_done_after_run(b);
		return;
	}
	b->hint_release_pending = true;
	if (b->hint_fd < 0) {
		t0 = balloon_hint_now_us();
		balloon_hint_release_locked(b, b->dirty_ops->pause(b->dirty_opaque));
		b->dirty_ops->resume(b->dirty_opaque);
		balloon_hint_pause_end(b, t0);
		return;
	}
	if (write(b->hint_fd, &one, sizeof(one)) < 0) {
		b->hint_release_pending = false;
		b->hint_tracking = false;
		b->m.hint_release_errors++;
		balloon_hint_done(b);
	}
}

/*
 * With every vCPU stopped and the lock held: hinted and clean go, hinted
 * and written stay. The kept pages are counted per 4 KiB page.
 */
static void balloon_hint_release_clean(struct balloon *b)
{
	u64 i, nr_words = (b->hinted.nr_pfns + 63) / 64, written = 0, clean = 0;

	for (i = 0; i < nr_words; i++) {
		written += __builtin_popcountll(b->hinted.words[i] & b->dirty.words[i]);
		b->hinted.words[i] &= ~b->dirty.words[i];
		clean += __builtin_popcountll(b->hinted.words[i]);
	}
	b->hinted.nr_set = clean;
	b->m.hint_written_bytes += written * PFN_SIZE;
	if (balloon_keep_contents(b) || !clean)
		return;
	b->m.hint_released_bytes += clean * PFN_SIZE;
	pfn_for_each_full_host_range(&b->hinted, (struct pfn_range){ 0, b->hinted.nr_pfns },
				     b->pages_per_host, balloon_release_range, b);
}

static u64 balloon_hint_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000ULL + ts.tv_nsec / 1000;
}

/*
 * Under the lock, vCPUs paused (paused == 0) or not (a negative errno: then
 * nothing may go): read the log, release what stayed clean, set DONE.
 */
static void balloon_hint_release_locked(struct balloon *b, int paused)
{
	int ret = paused;

	/* A reset since the STOP ended the run: nothing to release. */
	if (!b->hint_release_pending)
		return;
	b->hint_release_pending = false;
	b->hint_tracking = false;
	pfn_bitmap_clear_all(&b->dirty);
	if (!ret)
		ret = b->dirty_ops->log_collect(b->dirty_opaque, b->dirty.words, b->dirty.nr_pfns);
	if (!ret) {
		balloon_hint_release_clean(b);
	} else {
		b->m.hint_release_errors++;
		balloon_warn(b, "free page hint: no pause or dirty log (%d): this run's pages stay",
			     ret);
	}
	balloon_hint_done_after_run(b);
}

/* Under the lock: how long the guest stood still. */
static void balloon_hint_pause_end(struct balloon *b, u64 t0)
{
	u64 us = balloon_hint_now_us() - t0;

	b->m.hint_pauses++;
	b->m.hint_pause_us_last = us;
	b->m.hint_pause_us_max = MAX(b->m.hint_pause_us_max, us);
}

/* The I/O loop's half: pause, read the log, release, DONE, resume. */
static void balloon_hint_release_fn(void *opaque, u32 events __unused)
{
	struct balloon *b = opaque;
	const struct balloon_dirty_ops *ops = b->dirty_ops;
	u64 count, t0;
	int paused;

	if (read(b->hint_fd, &count, sizeof(count)) < 0 || !ops)
		return;
	t0 = balloon_hint_now_us();
	paused = ops->pause(b->dirty_opaque);
	pthread_mutex_lock(&b->vdev.lock);
	balloon_hint_release_locked(b, paused);
	pthread_mutex_unlock(&b->vdev.lock);
	ops->resume(b->dirty_opaque);
	pthread_mutex_lock(&b->vdev.lock);
	balloon_hint_pause_end(b, t0);
	pthread_mutex_unlock(&b->vdev.lock);
}

void balloon_hint_reset(struct balloon *b)
{
	b->hint_tracking = false;
	b->hint_release_pending = false;
	b->hint_done_pending = false;
}

void balloon_hint_free(struct balloon *b)
{
	if (b->hint_fd >= 0) {
		if (b->loop)
			ioloop_del(b->loop, b->hint_fd);
		close(b->hint_fd);
	}
	b->hint_fd = -1;
	pfn_bitmap_free(&b->hinted);
	pfn_bitmap_free(&b->dirty);
}

void balloon_set_dirty_ops(struct virtio_device *vdev, const struct balloon_dirty_ops *ops,
			   void *opaque)
{
	struct balloon *b = to_balloon(vdev);
	u64 nr = b->ballooned.nr_pfns;

	pthread_mutex_lock(&vdev->lock);
	balloon_hint_free(b);
	b->dirty_ops = NULL;
	b->hint_tracking = b->hint_release_pending = false;
	if (!ops)
		goto out;
	if (pfn_bitmap_init(&b->hinted, nr) || pfn_bitmap_init(&b->dirty, nr))
		goto err;
	if (b->loop) {
		b->hint_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (b->hint_fd < 0 ||
		    ioloop_add(b->loop, b->hint_fd, EPOLLIN, balloon_hint_release_fn, b))
			goto err;
	}
	b->dirty_ops = ops;
	b->dirty_opaque = opaque;
	goto out;
err:
	balloon_hint_free(b);
	balloon_warn(b, "free page hint: no room to track hinted pages: they stay");
out:
	pthread_mutex_unlock(&vdev->lock);
}
