/* SPDX-License-Identifier: MIT */
/*
 * virtio-balloon device (virtio 1.2 §5.5): inflate/deflate with a host-side
 * bitmap and merged releases, MUST_TELL_HOST, DEFLATE_ON_OOM, STATS_VQ,
 * FREE_PAGE_HINT, PAGE_POISON, PAGE_REPORTING.
 *
 * main.c: balloon_parse_opts() for --balloon, balloon_config_check() once
 * the RAM size is known, balloon_create() and hand the virtio_device to the
 * PCI transport. The control socket uses the rest. Every function below
 * except the option helpers takes vdev->lock itself: do not call them from
 * inside a virtio_dev_ops hook.
 */
#ifndef BALLAST_BALLOON_H
#define BALLAST_BALLOON_H

#include <stddef.h>

#include <stdio.h>

#include "../../compiler.h"
#include "../../ioloop.h"
#include "../../memory.h"
#include "defs.h"
#include "metrics.h"
#include "../virtio.h"

struct balloon_config {
	u64 size;			/* bytes in the balloon at boot */
	bool deflate_on_oom;
	bool free_page_reporting;
	bool free_page_hint;
	bool hint_release;		/* release hinted pages left unwritten (dirty ops) */
	bool must_tell_host;
	bool page_poison;
	u64 stats_interval_ms;		/* 0: STATS_VQ not offered */
	/*
	 * With 4 KiB host pages: hold inflated pages of a 2 MiB block that is
	 * not yet whole for up to this long, so a block completed meanwhile
	 * goes back in one piece (0: release every page at once).
	 */
	u64 release_hold_ms;

	/*
	 * Driver-side conformance (referee.h, ack.c): judge the driver's
	 * duties with KVM's dirty log; keep each inflate, deflate, free page
	 * report or hint in-buffer this long before acking it, which widens
	 * the window the referee watches (a device may use buffers whenever
	 * it likes); ack_reverse: held buffers go used newest first.
	 */
	bool referee;
	u64 hold_inflate_ms;
	u64 hold_deflate_ms;
	u64 hold_report_ms;
	u64 hold_hint_ms;
	u64 hold_done_ms;		/* DONE this long after the driver's STOP */
	bool ack_reverse;

	/* Auto-ballooning (auto.h): off unless auto is on. */
	bool auto_on;
	u64 auto_min;			/* bytes the guest keeps; BALLOON_AUTO_MIN_DEFAULT: RAM / 4 */
	u64 auto_step;			/* bytes per move of the target */
	u64 auto_stall_ms;		/* PSI trigger: "some" stall ... */
	u64 auto_window_ms;		/* ... within this window */
	u64 auto_relax_ms;		/* calm before each step down */
	u64 auto_backoff_ms;		/* no inflate after the guest deflated */
};

#define BALLOON_AUTO_MIN_DEFAULT	UINT64_MAX
/* Nested, Linux's driver sends the other half of a block ~20 ms later. */
#define BALLOON_RELEASE_HOLD_MS		100

/* Every feature off, size 0, no stats. */
void balloon_config_init(struct balloon_config *cfg);

/*
 * Parse "size=256M,deflate_on_oom=on,free_page_reporting=on,
 * free_page_hint=on,must_tell_host=on,stats_interval=1s,page_poison=on"
 * (any subset, any order) on top of *cfg. Returns 0, or -EINVAL with a
 * one-line message in err (the CLI prints it and exits 2).
 */
int balloon_parse_opts(const char *opts, struct balloon_config *cfg, char *err, size_t errlen);

/* The --balloon part of --help, for cli.c. */
extern const char balloon_opts_help[];

/* Checks against the guest: size no larger than RAM. 0 or -EINVAL + err. */
int balloon_config_check(const struct balloon_config *cfg, u64 ram_size, char *err,
			 size_t errlen);

/*
 * The device; loop may be NULL (no stats timer: balloon_stats_request()
 * still works). Returns NULL with errno set.
 */
struct virtio_device *balloon_create(const struct balloon_config *cfg, struct guest_mem *mem,
				     struct ioloop *loop);
/* After the I/O loop has stopped: its timer handler must not be running. */
void balloon_destroy(struct virtio_device *vdev);

/* Release now the inflated pages held back in 2 MiB blocks not yet whole. */
void balloon_flush_held(struct virtio_device *vdev);

/*
 * New target (num_pages, 4 KiB pages) and a config interrupt once the
 * driver is running. -ERANGE above guest RAM.
 */
int balloon_set_target_pages(struct virtio_device *vdev, u64 pages);
/*
 * The same for any num_pages, above guest RAM too: the spec bounds it
 * nowhere, and a driver must inflate what it can and live.
 */
void balloon_set_num_pages(struct virtio_device *vdev, u32 pages);

/*
 * The stress (stress.c), spec-allowed device behaviours that test a
 * driver; each -ENODEV before DRIVER_OK, with nothing done.
 * config_notify: count configuration-change interrupts with nothing
 * changed (the driver re-reads the config and must move nothing: R-4,
 * R-14 still hold). Raised back to back they may merge into fewer at the
 * guest, as interrupts do.
 */
int balloon_stress_config_notify(struct virtio_device *vdev, unsigned int count);
/*
 * DEVICE_NEEDS_RESET set and announced with a config interrupt (§2.1.1);
 * the queues are still served and the bit stays until the driver resets
 * the device (balloon_state's needs_reset, the device_resets counter).
 * -EOPNOTSUPP without a transport that has the bit.
 */
int balloon_stress_needs_reset(struct virtio_device *vdev);

/*
 * Auto-ballooning, with auto=on (a no-op otherwise): watch host memory
 * pressure from loop's thread and move the target (auto.h). Call
 * after balloon_create; 0, or a negative errno with one line in err.
 */
int balloon_auto_start(struct virtio_device *vdev, struct ioloop *loop, char *err,
		       size_t errlen);
/* Undo balloon_auto_start; balloon_destroy does it too. */
void balloon_auto_stop(struct virtio_device *vdev);
/* The auto mode's state for `query`, from loop's thread; NULL when off. */
json_t *balloon_auto_json(struct virtio_device *vdev);
/* The referee's counts for `query`; NULL when referee=off. */
json_t *balloon_referee_json(struct virtio_device *vdev);

/*
 * Write tracking for releasing hinted pages (D-12 lets a device discard a
 * hinted page only if the guest has not written it since the run's id was
 * issued): KVM's dirty log and a pause of every vCPU, from the VMM. Without
 * them hints are counted and never released. Called from the I/O thread,
 * never with the device's lock held around pause and resume.
 */
struct balloon_dirty_ops {
	/* Log the guest's writes from now on, forgetting earlier ones. */
	int (*log_start)(void *opaque);
	/* Stop every vCPU; 0 once none runs, or a negative errno. */
	int (*pause)(void *opaque);
	/* Set the bit of every PFN written since log_start in words; stop logging. */
	int (*log_collect)(void *opaque, u64 *words, u64 nr_pfns);
	void (*resume)(void *opaque);
	/*
	 * The referee's: set the bit of every PFN written since log_start or
	 * the last log_read; logging goes on.
	 */
	int (*log_read)(void *opaque, u64 *words, u64 nr_pfns);
};

/* Before the driver starts; ops NULL takes them away again. */
void balloon_set_dirty_ops(struct virtio_device *vdev, const struct balloon_dirty_ops *ops,
			   void *opaque);

/* Start a free page hint run with a fresh id (>= 2); -ENODEV without the feature. */
int balloon_hint_start(struct virtio_device *vdev, u32 *cmd_id);
/* Tell the driver to stop hinting (id STOP). */
int balloon_hint_stop(struct virtio_device *vdev);
/* DONE now, before the driver's STOP; -EBUSY while a run awaits its release. */
int balloon_hint_done_now(struct virtio_device *vdev);

/*
 * Hand the stats buffer back so the driver refills it (the timer does this
 * every stats_interval). -ENODEV without STATS_VQ, -EAGAIN while the driver
 * holds the buffer.
 */
int balloon_stats_request(struct virtio_device *vdev);

struct balloon_stats {
	u64 val[BALLOON_S_NR];
	u32 present;			/* bit per tag in the latest update */
	u64 updated_ns;			/* CLOCK_MONOTONIC of the latest update */
	u64 updates;
};

struct balloon_state {
	u64 ram_size;
	u32 num_pages;
	u32 actual;
	u64 ballooned_pages;		/* host-side bitmap */
	u64 host_page_size;
	u64 offered;			/* device feature bits */
	u64 accepted;			/* bits the driver accepted (FEATURES_OK) */
	bool features_ok;
	bool driver_ok;
	bool needs_reset;		/* DEVICE_NEEDS_RESET set, no reset since */
	u32 hint_cmd_id;
	bool hint_release;		/* hinted pages are released (write tracking) */
	u32 poison_val;
	u64 stats_interval_ms;
	struct balloon_metrics metrics;
};

void balloon_get_state(struct virtio_device *vdev, struct balloon_state *st);
/* The latest stats; false if none arrived yet. */
bool balloon_get_stats(struct virtio_device *vdev, struct balloon_stats *st);

/*
 * How pages go back to the host; guest_mem_release() unless replaced
 * (unit tests count calls). Returns 0 or a negative errno.
 */
typedef int (*balloon_release_fn)(void *opaque, u64 gpa, u64 len);
void balloon_set_release_fn(struct virtio_device *vdev, balloon_release_fn fn, void *opaque);

/*
 * After the guest died: how many released host pages in the balloon the
 * guest wrote again, and the first of them, as one line on f.
 */
void balloon_postmortem(struct virtio_device *vdev, FILE *f);

/* "must_tell_host", ... for bits 0..5; NULL for others. */
const char *balloon_feature_name(unsigned int bit);
/* "swap_in", ... for the tags we know; NULL for others. */
const char *balloon_stat_name(unsigned int tag);

#endif
