// SPDX-License-Identifier: GPL-2.0
/*
 * /sys/kernel/debug/ballast/: one read-only file per counter (decimal, the
 * feature words in hex), `status` with all of them as "name value" lines
 * (one read for a test that would otherwise open forty files), the
 * settings `batch`, `alloc_blocks`, `ack_timeout_ms`, `hold_actual`,
 * `hint_check` and `hint_hold_ms`, `dead`, and inject/ (inject.c).
 */
#include <linux/debugfs.h>
#include <linux/fs.h>
#include <linux/moduleparam.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "ballast.h"

/*
 * Checking the checks: while the module parameter mutate_zero names a
 * counter, that counter reads as 0 (in its file and in `status`), so one
 * can watch the test that relies on it fail.  Empty, the default, changes
 * nothing.
 */
static char mutate_zero[48];
module_param_string(mutate_zero, mutate_zero, sizeof(mutate_zero), 0644);
MODULE_PARM_DESC(mutate_zero, "Test the tests: this counter reads as 0 (e.g. pages_inflated)");

static bool ballast_mutated(const char *name)
{
	size_t n = strnlen(mutate_zero, sizeof(mutate_zero));

	if (n && mutate_zero[n - 1] == '\n')
		n--;
	return n && strlen(name) == n && !strncmp(name, mutate_zero, n);
}

/* One counter file. */
struct ballast_cfile {
	atomic64_t *v;
	char name[40];
	bool hex;
};

static u64 ballast_cfile_val(struct ballast_cfile *f)
{
	return ballast_mutated(f->name) ? 0 : atomic64_read(f->v);
}

static int ballast_cfile_get(void *data, u64 *val)
{
	*val = ballast_cfile_val(data);
	return 0;
}
DEFINE_DEBUGFS_ATTRIBUTE(ballast_cfile_fops, ballast_cfile_get, NULL, "%llu\n");
DEFINE_DEBUGFS_ATTRIBUTE(ballast_cfilex_fops, ballast_cfile_get, NULL, "0x%llx\n");

#define C(name)	{ #name, offsetof(struct ballast_counters, name), false }
#define X(name)	{ #name, offsetof(struct ballast_counters, name), true }
static const struct {
	const char *name;
	size_t off;
	bool hex;
} ballast_counters[] = {
	X(features_offered), X(features_accepted),
	C(num_pages), C(actual), C(balloon_pages),
	C(pages_inflated), C(pages_deflated), C(pages_dropped),
	C(inflate_rounds), C(deflate_rounds), C(max_inflight),
	C(inflate_us), C(inflate_alloc_us), C(inflate_xfer_us), C(inflate_blocks),
	C(alloc_failures),
	C(shrinker_count_calls), C(shrinker_scan_calls), C(shrinker_pages_freed),
	C(shrinker_waits), C(oom_notify_calls), C(oom_notify_pages),
	C(report_calls), C(reported_ranges), C(reported_bytes), C(report_writes),
	C(config_changes), C(stats_requests), C(stats_answered), C(stats_primed),
	C(device_errors), C(ack_timeouts), C(needs_reset), C(resets),
	C(inject_calls),
	C(hint_runs), C(hint_blocks), C(hint_done), C(hint_hold_expired),
	C(hint_shrunk),
	C(hint_pages_returned),
	C(hint_check_pages), C(hint_check_kept), C(hint_check_lost),
};
#undef C
#undef X

static const char *const ballast_vq_names[BQ_NR] = {
	[BQ_INFLATE] = "inflate",
	[BQ_DEFLATE] = "deflate",
	[BQ_STATS] = "stats",
	[BQ_FREE_PAGE] = "free_page",
	[BQ_REPORTING] = "reporting",
};

#define Q(name)	{ #name, offsetof(struct ballast_qstat, name) }
static const struct {
	const char *name;
	size_t off;
} ballast_qstats[] = {
	Q(used_bufs), Q(used_len), Q(used_len_last), Q(kicks), Q(descs),
};
#undef Q

#define BALLAST_NR_CFILES \
	(ARRAY_SIZE(ballast_counters) + BQ_NR * ARRAY_SIZE(ballast_qstats))

static int ballast_status_show(struct seq_file *m, void *unused)
{
	struct ballast *b = m->private;
	struct ballast_cfile *f = b->dbg_files;
	unsigned int i;

	for (i = 0; f && i < b->dbg_nfiles; i++)
		seq_printf(m, f[i].hex ? "%s 0x%llx\n" : "%s %llu\n", f[i].name,
			   ballast_cfile_val(&f[i]));
	seq_printf(m, "batch %u\n", READ_ONCE(b->batch));
	seq_printf(m, "alloc_blocks %d\n", READ_ONCE(b->alloc_blocks));
	seq_printf(m, "ack_timeout_ms %u\n", READ_ONCE(ballast_ack_timeout_ms));
	seq_printf(m, "dead %d\n", READ_ONCE(b->dead));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(ballast_status);

static int ballast_batch_get(void *data, u64 *val)
{
	struct ballast *b = data;

	*val = READ_ONCE(b->batch);
	return 0;
}

static int ballast_batch_set(void *data, u64 val)
{
	if (val > BALLAST_BATCH_MAX)
		return -EINVAL;
	return ballast_set_batch(data, val);
}
DEFINE_DEBUGFS_ATTRIBUTE(ballast_batch_fops, ballast_batch_get,
			 ballast_batch_set, "%llu\n");

static void ballast_add_cfile(struct ballast *b, struct dentry *dir,
			      const char *name, atomic64_t *v, bool hex)
{
	struct ballast_cfile *f = &b->dbg_files[b->dbg_nfiles++];

	f->v = v;
	f->hex = hex;
	strscpy(f->name, name, sizeof(f->name));
	debugfs_create_file_unsafe(f->name, 0444, dir, f,
				   hex ? &ballast_cfilex_fops : &ballast_cfile_fops);
}

void ballast_debugfs_init(struct ballast *b)
{
	struct dentry *dir;
	char qname[40];
	unsigned int i, q;

	b->dbg_files = kcalloc(BALLAST_NR_CFILES, sizeof(*b->dbg_files), GFP_KERNEL);
	if (!b->dbg_files)
		return;
	dir = debugfs_create_dir("ballast", NULL);
	if (IS_ERR(dir))	/* a second balloon device: use its name */
		dir = debugfs_create_dir(dev_name(&b->vdev->dev), NULL);
	if (IS_ERR(dir))
		return;
	b->dbg = dir;

	for (i = 0; i < ARRAY_SIZE(ballast_counters); i++)
		ballast_add_cfile(b, dir, ballast_counters[i].name,
				  (void *)&b->c + ballast_counters[i].off,
				  ballast_counters[i].hex);
	for (q = 0; q < BQ_NR; q++) {
		if (!ballast_vq_names[q])
			continue;
		for (i = 0; i < ARRAY_SIZE(ballast_qstats); i++) {
			snprintf(qname, sizeof(qname), "%s_%s", ballast_vq_names[q],
				 ballast_qstats[i].name);
			ballast_add_cfile(b, dir, qname,
					  (void *)&b->c.q[q] + ballast_qstats[i].off,
					  false);
		}
	}
	debugfs_create_file("status", 0444, dir, b, &ballast_status_fops);
	debugfs_create_file_unsafe("batch", 0644, dir, b, &ballast_batch_fops);
	debugfs_create_bool("alloc_blocks", 0644, dir, &b->alloc_blocks);
	debugfs_create_u32("ack_timeout_ms", 0644, dir, &ballast_ack_timeout_ms);
	debugfs_create_bool("hold_actual", 0644, dir, &ballast_hold_actual);
	debugfs_create_u32("hint_check", 0644, dir, &b->hint_check);
	debugfs_create_u32("hint_hold_ms", 0644, dir, &ballast_hint_hold_ms);
	debugfs_create_bool("dead", 0444, dir, &b->dead);
	ballast_inject_debugfs_init(b, dir);
}

void ballast_debugfs_exit(struct ballast *b)
{
	debugfs_remove_recursive(b->dbg);
	b->dbg = NULL;
	kfree(b->dbg_files);
	b->dbg_files = NULL;
}
