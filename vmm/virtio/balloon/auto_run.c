// SPDX-License-Identifier: MIT
/*
 * Auto-ballooning, the wiring: a PSI trigger on host memory pressure and a
 * tick, both on the I/O thread, feed the policy (auto.c) the
 * device's state and the guest's last reported available memory, and apply
 * the target it decides. `query` runs on the same thread and reads the
 * state here without a lock.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "../../psi.h"
#include "auto.h"
#include "priv.h"

/* Decisions between pressure events: relax steps, a guest deflating. */
#define BALLOON_AUTO_TICK_MS	500

struct balloon_autorun {
	struct virtio_device *vdev;
	struct ioloop *loop;
	struct balloon_auto policy;
	char psi_path[256];
	int psi_fd;
	int tick_fd;
	bool pressure;			/* the trigger fired since the last decision */
	u64 pressure_events;
	u64 moves;
	u64 hint_runs;			/* runs started instead of an inflate */
	struct psi_line some, full;	/* the last reading */
	enum balloon_auto_reason logged;
};

static u64 balloon_auto_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ULL + ts.tv_nsec / 1000000;
}

static unsigned long long pages_mib(u64 pages)
{
	return pages * PFN_SIZE / SZ_1M;
}

static void balloon_auto_step(struct balloon_autorun *ar)
{
	struct balloon_auto_input in = { .now_ms = balloon_auto_now_ms() };
	struct balloon_stats stats;
	struct balloon_state st;
	const char *why;
	u32 target;

	in.pressure = ar->pressure;
	ar->pressure = false;
	psi_read(ar->psi_path, &ar->some, &ar->full);
	balloon_get_state(ar->vdev, &st);
	/* Before a driver runs there is no balloon to move. */
	if (!st.driver_ok)
		return;
	in.num_pages = st.num_pages;
	in.actual = st.actual;
	/* A run in flight has an id >= 2; STOP and DONE leave room for one. */
	in.hint_ready = st.hint_release && st.hint_cmd_id < BALLOON_HINT_CMD_ID_FIRST;
	if (balloon_get_stats(ar->vdev, &stats) && (stats.present & BIT(VIRTIO_BALLOON_S_AVAIL))) {
		in.avail_known = true;
		in.avail_pages = stats.val[VIRTIO_BALLOON_S_AVAIL] / PFN_SIZE;
	}
	why = balloon_auto_reason_name(ar->policy.reason);
	if (balloon_auto_decide(&ar->policy, &in, &target)) {
		why = balloon_auto_reason_name(ar->policy.reason);
		ar->moves++;
		pr_info("auto: %s: target %llu -> %llu MiB (actual %llu MiB, some avg10 %u.%02u%%)",
			why, pages_mib(in.num_pages), pages_mib(target), pages_mib(in.actual),
			ar->some.avg10 / 100, ar->some.avg10 % 100);
		balloon_set_target_pages(ar->vdev, target);
	} else if (ar->policy.start_hint) {
		ar->hint_runs++;
		pr_info("auto: pressure: a free page hint run first (some avg10 %u.%02u%%)",
			ar->some.avg10 / 100, ar->some.avg10 % 100);
		balloon_hint_start(ar->vdev, NULL);
	} else if (in.pressure && ar->policy.reason != ar->logged) {
		/* Once per change of reason, not once per trigger. */
		pr_info("auto: pressure, target stays at %llu MiB: %s", pages_mib(in.num_pages),
			balloon_auto_reason_name(ar->policy.reason));
	}
	ar->logged = ar->policy.reason;
}

static void balloon_auto_psi_fn(void *opaque, u32 events)
{
	struct balloon_autorun *ar = opaque;

	if (events & (EPOLLERR | EPOLLHUP)) {
		/* The cgroup went away: no more triggers will come. */
		pr_warn("auto: %s is gone: host pressure no longer watched", ar->psi_path);
		ioloop_del(ar->loop, ar->psi_fd);
		close(ar->psi_fd);
		ar->psi_fd = -1;
		return;
	}
	ar->pressure = true;
	ar->pressure_events++;
	balloon_auto_step(ar);
}

static void balloon_auto_tick_fn(void *opaque, u32 events __unused)
{
	struct balloon_autorun *ar = opaque;
	u64 expirations;

	if (read(ar->tick_fd, &expirations, sizeof(expirations)) < 0)
		return;
	balloon_auto_step(ar);
}

/* The cgroup v2 the VMM runs in, or the system: where pressure is read. */
static void balloon_auto_pick_psi(char *path, size_t len)
{
	char buf[1024] = "";
	FILE *f = fopen("/proc/self/cgroup", "re");

	if (f) {
		buf[fread(buf, 1, sizeof(buf) - 1, f)] = '\0';
		fclose(f);
	}
	psi_pick_path(buf, "/sys/fs/cgroup", path, len);
}

static void balloon_autorun_free(struct balloon_autorun *ar)
{
	if (ar->psi_fd >= 0) {
		ioloop_del(ar->loop, ar->psi_fd);
		close(ar->psi_fd);
	}
	if (ar->tick_fd >= 0) {
		ioloop_del(ar->loop, ar->tick_fd);
		close(ar->tick_fd);
	}
	free(ar);
}

int balloon_auto_start(struct virtio_device *vdev, struct ioloop *loop, char *err, size_t errlen)
{
	struct balloon *b = to_balloon(vdev);
	const struct balloon_config *cfg = &b->cfg;
	u64 ram_pages = vdev->mem->ram_size / PFN_SIZE;
	struct itimerspec tick = {
		.it_interval = { 0, BALLOON_AUTO_TICK_MS * 1000000L },
		.it_value = { 0, BALLOON_AUTO_TICK_MS * 1000000L },
	};
	struct balloon_autorun *ar;
	int ret;

	if (!cfg->auto_on)
		return 0;
	ar = calloc(1, sizeof(*ar));
	if (!ar) {
		snprintf(err, errlen, "auto=on: out of memory");
		return -ENOMEM;
	}
	ar->vdev = vdev;
	ar->loop = loop;
	ar->psi_fd = ar->tick_fd = -1;
	balloon_auto_init(&ar->policy, &(struct balloon_auto_params){
		.ram_pages = ram_pages,
		.min_pages = cfg->auto_min == BALLOON_AUTO_MIN_DEFAULT ? ram_pages / 4 :
			     cfg->auto_min / PFN_SIZE,
		.step_pages = MAX(cfg->auto_step / PFN_SIZE, 1ULL),
		.relax_ms = cfg->auto_relax_ms,
		.backoff_ms = cfg->auto_backoff_ms,
	});
	balloon_auto_pick_psi(ar->psi_path, sizeof(ar->psi_path));
	ret = psi_trigger_open(ar->psi_path, cfg->auto_stall_ms * 1000, cfg->auto_window_ms * 1000,
			       err, errlen);
	if (ret < 0)
		goto err;
	ar->psi_fd = ret;
	ret = ioloop_add(loop, ar->psi_fd, EPOLLPRI, balloon_auto_psi_fn, ar);
	if (ret)
		goto err_loop;
	ar->tick_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (ar->tick_fd < 0) {
		ret = -errno;
		goto err_loop;
	}
	if (timerfd_settime(ar->tick_fd, 0, &tick, NULL)) {
		ret = -errno;
		goto err_tick;
	}
	ret = ioloop_add(loop, ar->tick_fd, EPOLLIN, balloon_auto_tick_fn, ar);
	if (ret)
		goto err_tick;
	b->autorun = ar;
	return 0;

err_tick:
	close(ar->tick_fd);
	ar->tick_fd = -1;
err_loop:
	snprintf(err, errlen, "auto=on: cannot watch %s: %s", ar->psi_path, strerror(-ret));
err:
	balloon_autorun_free(ar);
	return ret;
}

void balloon_auto_stop(struct virtio_device *vdev)
{
	struct balloon *b = to_balloon(vdev);

	if (b->autorun)
		balloon_autorun_free(b->autorun);
	b->autorun = NULL;
}

json_t *balloon_auto_json(struct virtio_device *vdev)
{
	struct balloon_autorun *ar = to_balloon(vdev)->autorun;
	const struct balloon_auto *a;
	json_t *counts;
	u64 now;
	int r;

	if (!ar)
		return NULL;
	a = &ar->policy;
	now = balloon_auto_now_ms();
	counts = json_object();
	for (r = 0; counts && r < BALLOON_AUTO_NR_REASONS; r++)
		if (json_object_set_new(counts, balloon_auto_reason_name(r),
					json_integer(a->count[r]))) {
			json_decref(counts);
			counts = NULL;
		}
	if (!counts)
		return NULL;
	return json_pack("{s:s, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:f, s:s, s:I, s:I, s:o}",
			 "psi", ar->psi_path,
			 "watching", ar->psi_fd >= 0,
			 "min_mib", (json_int_t)pages_mib(a->p.min_pages),
			 "step_mib", (json_int_t)pages_mib(a->p.step_pages),
			 "relax_ms", (json_int_t)a->p.relax_ms,
			 "backoff_ms", (json_int_t)a->p.backoff_ms,
			 "pressure_events", (json_int_t)ar->pressure_events,
			 "moves", (json_int_t)ar->moves,
			 "hint_runs", (json_int_t)ar->hint_runs,
			 "some_avg10", ar->some.avg10 / 100.0,
			 "full_avg10", ar->full.avg10 / 100.0,
			 "reason", balloon_auto_reason_name(a->reason),
			 "last_move_ms_ago", (json_int_t)(a->started ? now - a->last_move_ms : 0),
			 "backoff_left_ms", (json_int_t)(a->backoff_until_ms > now ?
							 a->backoff_until_ms - now : 0),
			 "decisions", counts);
}
