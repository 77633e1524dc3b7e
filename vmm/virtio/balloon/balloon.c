// SPDX-License-Identifier: MIT
/*
 * virtio-balloon, the device half: features and queue numbering, config
 * space, lifecycle, the stats timer, and the host's controls (target, hint
 * runs, state). The queue handlers live in vq.c.
 */
#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "../../log.h"
#include "priv.h"
#include "util.h"

void balloon_warn(struct balloon *b, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	/* A guest can produce bad input at ring speed; the counters keep the rest. */
	if (log_level < LOG_WARN || !log_ratelimit(&b->warn_rl))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_printf(LOG_WARN, "virtio-balloon: %s", msg);
}

u64 balloon_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

void balloon_signal_config(struct balloon *b)
{
	/* Before DRIVER_OK the driver reads num_pages itself at the end of probe. */
	if (!b->driver_ok)
		return;
	b->m.config_interrupts++;
	virtio_signal_config(&b->vdev);
}

static u64 balloon_features(const struct balloon_config *cfg)
{
	u64 f = 0;

	if (cfg->must_tell_host)
		f |= BIT(BALLOON_F_MUST_TELL_HOST);
	if (cfg->stats_interval_ms)
		f |= BIT(BALLOON_F_STATS_VQ);
	if (cfg->deflate_on_oom)
		f |= BIT(BALLOON_F_DEFLATE_ON_OOM);
	if (cfg->free_page_hint)
		f |= BIT(BALLOON_F_FREE_PAGE_HINT);
	if (cfg->page_poison)
		f |= BIT(BALLOON_F_PAGE_POISON);
	if (cfg->free_page_reporting)
		f |= BIT(BALLOON_F_PAGE_REPORTING);
	return f;
}

static void balloon_timer_arm(struct balloon *b, bool on)
{
	u64 ms = on ? b->cfg.stats_interval_ms : 0;
	struct itimerspec its = {
		.it_interval = { ms / 1000, (ms % 1000) * 1000000 },
		.it_value = { ms / 1000, (ms % 1000) * 1000000 },
	};

	if (b->timer_fd >= 0)
		timerfd_settime(b->timer_fd, 0, &its, NULL);
}

static unsigned int balloon_nr_queues(struct virtio_device *vdev)
{
	return to_balloon(vdev)->nr_tq;
}

static u16 balloon_queue_max_size(struct virtio_device *vdev, unsigned int idx)
{
	return idx < to_balloon(vdev)->nr_tq ? BALLOON_QUEUE_SIZE : 0;
}

static u64 balloon_host_features(struct virtio_device *vdev)
{
	return to_balloon(vdev)->offered;
}

static int balloon_set_features(struct virtio_device *vdev, u64 features)
{
	struct balloon *b = to_balloon(vdev);

	/*
	 * D-1 would let us refuse a driver that declines MUST_TELL_HOST; we
	 * serve it anyway, since we never touch deflated pages (D-2 spirit).
	 */
	b->accepted = features & b->offered;
	b->features_ok = true;
	b->nr_tq = balloon_queue_map(b->accepted, b->tq_to_lq, b->lq_to_tq);
	return 0;
}

static void balloon_config_image(const struct balloon *b, u8 cfg[BALLOON_CFG_SIZE])
{
	u32 v[4] = {
		htole32(b->num_pages), htole32(b->actual),
		htole32(b->hint_cmd_id), htole32(b->poison_val),
	};

	memcpy(cfg, v, BALLOON_CFG_SIZE);
}

static void balloon_read_config(struct virtio_device *vdev, u32 offset, void *buf, u32 len)
{
	u8 cfg[BALLOON_CFG_SIZE];

	if (offset >= BALLOON_CFG_SIZE || len > BALLOON_CFG_SIZE - offset) {
		memset(buf, 0, len);
		return;
	}
	balloon_config_image(to_balloon(vdev), cfg);
	memcpy(buf, cfg + offset, len);
}

/* Did a write of [offset, offset + len) touch the le32 field at field? */
static bool balloon_touches(u32 offset, u32 len, u32 field)
{
	return offset < field + 4 && field < offset + len;
}

static void balloon_write_config(struct virtio_device *vdev, u32 offset, const void *buf, u32 len)
{
	struct balloon *b = to_balloon(vdev);
	u8 cfg[BALLOON_CFG_SIZE];
	u32 v, old;

	if (offset >= BALLOON_CFG_SIZE || len > BALLOON_CFG_SIZE - offset)
		return;
	/* Merge into the current image, so 1- and 2-byte writes work too. */
	balloon_config_image(b, cfg);
	memcpy(cfg + offset, buf, len);
	/* num_pages and the hint id belong to the device: driver writes are dropped. */
	if (balloon_touches(offset, len, BALLOON_CFG_ACTUAL)) {
		memcpy(&v, cfg + BALLOON_CFG_ACTUAL, 4);
		b->actual = le32toh(v);
	}
	if (balloon_touches(offset, len, BALLOON_CFG_POISON_VAL)) {
		memcpy(&v, cfg + BALLOON_CFG_POISON_VAL, 4);
		old = b->poison_val;
		b->poison_val = le32toh(v);
		balloon_referee_poison(b, old);
	}
}

static int balloon_activate(struct virtio_device *vdev)
{
	struct balloon *b = to_balloon(vdev);

	b->driver_ok = true;
	balloon_ack_activate(b);
	if (balloon_has(b, BALLOON_F_STATS_VQ)) {
		/*
		 * Linux primes the stats buffer and kicks before DRIVER_OK; a
		 * transport may not pass that kick on, so look for it now.
		 */
		balloon_vq_notify(b, BALLOON_VQ_STATS, b->lq_to_tq[BALLOON_VQ_STATS]);
		balloon_timer_arm(b, true);
	}
	return 0;
}

static void balloon_queue_notify(struct virtio_device *vdev, unsigned int idx)
{
	struct balloon *b = to_balloon(vdev);

	if (!b->features_ok || idx >= b->nr_tq)
		return;
	balloon_vq_notify(b, b->tq_to_lq[idx], idx);
}

/* A reset gives every page back to the guest: nothing held may go later. */
static void balloon_hold_reset(struct balloon *b)
{
	struct itimerspec off = { 0 };

	if (!b->hold)
		return;
	pfn_bitmap_clear_all(&b->held_blocks);
	if (b->flush_fd >= 0)
		timerfd_settime(b->flush_fd, 0, &off, NULL);
}

static void balloon_reset(struct virtio_device *vdev)
{
	struct balloon *b = to_balloon(vdev);

	balloon_timer_arm(b, false);
	b->m.device_resets++;
	b->needs_reset = false;
	b->accepted = 0;
	b->features_ok = false;
	b->driver_ok = false;
	b->nr_tq = balloon_queue_map(b->offered, b->tq_to_lq, b->lq_to_tq);
	/*
	 * A new driver starts with an empty balloon and owns every page, so
	 * the bitmap must not claim any: with huge host pages a stale bit
	 * could get a page in use released later. num_pages is the host's
	 * and survives.
	 */
	pfn_bitmap_clear_all(&b->ballooned);
	balloon_hold_reset(b);
	balloon_ack_reset(b);
	b->actual = 0;
	b->poison_val = 0;
	b->hint_cmd_id = BALLOON_HINT_CMD_ID_STOP;
	b->hint_active_id = 0;
	balloon_hint_reset(b);
	b->stats_pending = false;
}

static const struct virtio_dev_ops balloon_ops = {
	.name = "virtio-balloon",
	.device_id = VIRTIO_ID_BALLOON,
	.config_size = BALLOON_CFG_SIZE,
	.nr_queues = balloon_nr_queues,
	.queue_max_size = balloon_queue_max_size,
	.host_features = balloon_host_features,
	.set_features = balloon_set_features,
	.read_config = balloon_read_config,
	.write_config = balloon_write_config,
	.activate = balloon_activate,
	.queue_notify = balloon_queue_notify,
	.reset = balloon_reset,
};

/*
 * One of the device's timerfds expired: drain it, then run @fn under the
 * device lock. A read that fails is a spurious wake-up: nothing is due.
 */
void balloon_on_timer(struct balloon *b, int fd, void (*fn)(struct balloon *b))
{
	u64 expirations;

	if (read(fd, &expirations, sizeof(expirations)) < 0)
		return;
	pthread_mutex_lock(&b->vdev.lock);
	fn(b);
	pthread_mutex_unlock(&b->vdev.lock);
}

/* A timerfd on the device's I/O loop calling @fn: in *@fd, or -1 and -errno. */
int balloon_timer_open(struct balloon *b, int *fd, ioloop_fn fn)
{
	int ret;

	*fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (*fd < 0) {
		*fd = -1;
		return -errno;
	}
	ret = ioloop_add(b->loop, *fd, EPOLLIN, fn, b);
	if (ret) {
		close(*fd);
		*fd = -1;
	}
	return ret;
}

void balloon_timer_close(struct balloon *b, int *fd)
{
	if (*fd < 0)
		return;
	if (b->loop)
		ioloop_del(b->loop, *fd);
	close(*fd);
	*fd = -1;
}

static void balloon_stats_due(struct balloon *b)
{
	balloon_stats_request_locked(b);
}

static void balloon_timer_fn(void *opaque, u32 events __unused)
{
	struct balloon *b = opaque;

	balloon_on_timer(b, b->timer_fd, balloon_stats_due);
}

static void balloon_flush_fn(void *opaque, u32 events __unused)
{
	struct balloon *b = opaque;

	balloon_on_timer(b, b->flush_fd, balloon_release_held);
}

void balloon_flush_held(struct virtio_device *vdev)
{
	struct balloon *b = to_balloon(vdev);

	pthread_mutex_lock(&vdev->lock);
	balloon_release_held(b);
	pthread_mutex_unlock(&vdev->lock);
}

static int balloon_hold_init(struct balloon *b, struct guest_mem *mem)
{
	int ret;

	b->hold = b->cfg.release_hold_ms && b->pages_per_host == 1;
	if (!b->hold)
		return 0;
	ret = pfn_bitmap_init(&b->held_blocks, (pfn_limit(mem) + SZ_2M / PFN_SIZE - 1) / (SZ_2M / PFN_SIZE));
	if (ret || !b->loop)
		return ret;
	return balloon_timer_open(b, &b->flush_fd, balloon_flush_fn);
}

static void balloon_hold_free(struct balloon *b)
{
	balloon_timer_close(b, &b->flush_fd);
	pfn_bitmap_free(&b->held_blocks);
}

static int balloon_default_release(void *opaque, u64 gpa, u64 len)
{
	return guest_mem_release(opaque, gpa, len);
}

struct virtio_device *balloon_create(const struct balloon_config *cfg, struct guest_mem *mem,
				     struct ioloop *loop)
{
	struct balloon *b;
	int ret;

	if (balloon_config_check(cfg, mem->ram_size, NULL, 0)) {
		errno = EINVAL;
		return NULL;
	}
	b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	b->cfg = *cfg;
	b->loop = loop;
	b->timer_fd = -1;
	b->hint_fd = -1;
	b->flush_fd = -1;
	b->ack_fd = -1;
	b->done_fd = -1;
	b->vdev.ops = &balloon_ops;
	b->vdev.priv = b;
	b->vdev.mem = mem;
	b->offered = balloon_features(cfg);
	b->nr_tq = balloon_queue_map(b->offered, b->tq_to_lq, b->lq_to_tq);
	b->num_pages = cfg->size / PFN_SIZE;
	b->hint_cmd_id = BALLOON_HINT_CMD_ID_STOP;
	b->hint_next_id = BALLOON_HINT_CMD_ID_FIRST;
	b->pages_per_host = MAX(mem->host_page_size / PFN_SIZE, 1ULL);
	b->release = balloon_default_release;
	b->release_opaque = mem;

	ret = pfn_bitmap_init(&b->ballooned, pfn_limit(mem));
	if (ret)
		goto err_free;
	ret = -pthread_mutex_init(&b->vdev.lock, NULL);
	if (ret)
		goto err_bitmap;
	ret = balloon_hold_init(b, mem);
	if (ret)
		goto err_hold;
	ret = balloon_ack_init(b);
	if (ret)
		goto err_hold;
	ret = balloon_hint_hold_init(b);
	if (ret)
		goto err_hold;
	if (loop && cfg->stats_interval_ms) {
		ret = balloon_timer_open(b, &b->timer_fd, balloon_timer_fn);
		if (ret)
			goto err_hold;
	}
	return &b->vdev;

err_hold:
	balloon_hint_hold_free(b);
	balloon_ack_free(b);
	balloon_hold_free(b);
	pthread_mutex_destroy(&b->vdev.lock);
err_bitmap:
	pfn_bitmap_free(&b->ballooned);
err_free:
	free(b);
	errno = -ret;
	return NULL;
}

void balloon_destroy(struct virtio_device *vdev)
{
	struct balloon *b;

	if (!vdev)
		return;
	b = to_balloon(vdev);
	balloon_auto_stop(vdev);
	balloon_hint_free(b);
	balloon_timer_close(b, &b->timer_fd);
	balloon_hint_hold_free(b);
	balloon_ack_free(b);
	balloon_hold_free(b);
	pthread_mutex_destroy(&vdev->lock);
	pfn_bitmap_free(&b->ballooned);
	free(b);
}

int balloon_set_target_pages(struct virtio_device *vdev, u64 pages)
{
	if (pages > vdev->mem->ram_size / PFN_SIZE || pages > UINT32_MAX)
		return -ERANGE;
	balloon_set_num_pages(vdev, pages);
	return 0;
}

void balloon_set_num_pages(struct virtio_device *vdev, u32 pages)
{
	struct balloon *b = to_balloon(vdev);

	pthread_mutex_lock(&vdev->lock);
	b->num_pages = pages;
	b->target_gen++;
	/* Every new target gets an interrupt, even an unchanged one: it is cheap. */
	balloon_signal_config(b);
	pthread_mutex_unlock(&vdev->lock);
}

int balloon_hint_start(struct virtio_device *vdev, u32 *cmd_id)
{
	struct balloon *b = to_balloon(vdev);
	int ret = 0;

	pthread_mutex_lock(&vdev->lock);
	if (!balloon_has(b, BALLOON_F_FREE_PAGE_HINT) || !b->driver_ok) {
		ret = -ENODEV;
		goto out;
	}
	/*
	 * A run still being released keeps its id until DONE. Then the log
	 * starts before the new id goes out (D-12).
	 */
	if (b->hint_release_pending) {
		ret = -EBUSY;
		goto out;
	}
	balloon_hint_track_start(b);
	/* A DONE held for the last run is not due any more: this run ends it. */
	b->hint_done_pending = false;
	/* Ids only grow (D-10): a new run never reuses one the driver may still send. */
	b->hint_cmd_id = b->hint_next_id;
	b->hint_next_id = balloon_hint_next_id(b->hint_next_id);
	b->hint_ids_issued++;
	if (cmd_id)
		*cmd_id = b->hint_cmd_id;
	balloon_signal_config(b);
out:
	pthread_mutex_unlock(&vdev->lock);
	return ret;
}

int balloon_hint_stop(struct virtio_device *vdev)
{
	struct balloon *b = to_balloon(vdev);
	int ret = 0;

	pthread_mutex_lock(&vdev->lock);
	if (!balloon_has(b, BALLOON_F_FREE_PAGE_HINT) || !b->driver_ok) {
		ret = -ENODEV;
		goto out;
	}
	b->hint_cmd_id = BALLOON_HINT_CMD_ID_STOP;
	balloon_signal_config(b);
out:
	pthread_mutex_unlock(&vdev->lock);
	return ret;
}

/*
 * DONE at once, the driver's run open or not (the spec lets the device set
 * DONE whenever it is done with the hints; R-27 asks the driver to stop
 * hinting on it, D-13 the device to leave the pages alone from then on).
 * Refused while a run is tracked for release: its DONE comes after the
 * release, which DONE now would skip or race.
 */
int balloon_hint_done_now(struct virtio_device *vdev)
{
	struct balloon *b = to_balloon(vdev);
	int ret = 0;

	pthread_mutex_lock(&vdev->lock);
	if (!balloon_has(b, BALLOON_F_FREE_PAGE_HINT) || !b->driver_ok)
		ret = -ENODEV;
	else if (b->hint_tracking || b->hint_release_pending)
		ret = -EBUSY;
	else
		balloon_hint_done(b);
	pthread_mutex_unlock(&vdev->lock);
	return ret;
}

int balloon_stats_request(struct virtio_device *vdev)
{
	int ret;

	pthread_mutex_lock(&vdev->lock);
	ret = balloon_stats_request_locked(to_balloon(vdev));
	pthread_mutex_unlock(&vdev->lock);
	return ret;
}

void balloon_get_state(struct virtio_device *vdev, struct balloon_state *st)
{
	struct balloon *b = to_balloon(vdev);

	pthread_mutex_lock(&vdev->lock);
	*st = (struct balloon_state){
		.ram_size = vdev->mem->ram_size,
		.num_pages = b->num_pages,
		.actual = b->actual,
		.ballooned_pages = b->ballooned.nr_set,
		.host_page_size = b->pages_per_host * PFN_SIZE,
		.offered = b->offered,
		.accepted = b->accepted,
		.features_ok = b->features_ok,
		.driver_ok = b->driver_ok,
		.needs_reset = b->needs_reset,
		.hint_cmd_id = b->hint_cmd_id,
		.hint_release = balloon_hint_tracks(b) && balloon_has(b, BALLOON_F_FREE_PAGE_HINT),
		.poison_val = b->poison_val,
		.stats_interval_ms = b->cfg.stats_interval_ms,
		.metrics = b->m,
	};
	pthread_mutex_unlock(&vdev->lock);
}

bool balloon_get_stats(struct virtio_device *vdev, struct balloon_stats *st)
{
	struct balloon *b = to_balloon(vdev);
	bool valid;

	pthread_mutex_lock(&vdev->lock);
	*st = b->stats;
	valid = b->stats.updates > 0;
	pthread_mutex_unlock(&vdev->lock);
	return valid;
}

void balloon_set_release_fn(struct virtio_device *vdev, balloon_release_fn fn, void *opaque)
{
	struct balloon *b = to_balloon(vdev);

	pthread_mutex_lock(&vdev->lock);
	b->release = fn ? fn : balloon_default_release;
	b->release_opaque = fn ? opaque : vdev->mem;
	pthread_mutex_unlock(&vdev->lock);
}
