// SPDX-License-Identifier: MIT
/*
 * Pure balloon helpers: transport queue numbering for every feature
 * combination, --balloon options, stats parsing, hint ids, the counters'
 * JSON.
 */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "../virtio/balloon/util.h"
#include "tap.h"

static void test_queue_map(void)
{
	u8 t2l[VIRTIO_MAX_QUEUES], l2t[BALLOON_NR_VQS];
	unsigned int combo, fails = 0;

	/* Each of stats, hint, reporting on or off, with unrelated bits around. */
	for (combo = 0; combo < 8; combo++) {
		u64 f = BIT(BALLOON_F_MUST_TELL_HOST) | BIT(BALLOON_F_DEFLATE_ON_OOM) |
			BIT(BALLOON_F_PAGE_POISON) | BIT(32);
		unsigned int want = 2, nr, lq;

		if (combo & 1)
			f |= BIT(BALLOON_F_STATS_VQ);
		if (combo & 2)
			f |= BIT(BALLOON_F_FREE_PAGE_HINT);
		if (combo & 4)
			f |= BIT(BALLOON_F_PAGE_REPORTING);
		nr = balloon_queue_map(f, t2l, l2t);
		/* Expected: the present queues, in spec order, numbered from 0. */
		for (lq = 0; lq < BALLOON_NR_VQS; lq++) {
			bool present = lq < 2 || (combo & (1u << (lq - 2)));
			u8 tq = present ? (lq < 2 ? lq : want++) : BALLOON_VQ_NONE;

			if (l2t[lq] != tq || (present && t2l[tq] != lq)) {
				printf("#   combo %u: logical %u -> %u, want %u\n", combo, lq, l2t[lq], tq);
				fails++;
			}
		}
		if (nr != want || t2l[nr] != BALLOON_VQ_NONE) {
			printf("#   combo %u: %u queues, want %u\n", combo, nr, want);
			fails++;
		}
	}
	tap_ok(!fails, "queue numbering for all 8 combinations of stats/hint/reporting");
	balloon_queue_map(BIT(BALLOON_F_PAGE_REPORTING), t2l, l2t);
	tap_ok(l2t[BALLOON_VQ_REPORTING] == 2 && t2l[2] == BALLOON_VQ_REPORTING,
	       "reporting alone is transport queue 2 (as Linux numbers it)");
	balloon_queue_map(BIT(BALLOON_F_FREE_PAGE_HINT) | BIT(BALLOON_F_PAGE_REPORTING), t2l, l2t);
	tap_ok(l2t[BALLOON_VQ_FREE_PAGE] == 2 && l2t[BALLOON_VQ_REPORTING] == 3 &&
	       l2t[BALLOON_VQ_STATS] == BALLOON_VQ_NONE, "hint 2, reporting 3 without stats");
}

/* auto=on and its knobs: parsed, defaulted, and checked against the guest. */
static void test_auto_opts(void)
{
	static const char *const bad_with_ram[] = {
		"auto=on",				/* no stats_interval */
		"auto=on,stats_interval=1s,auto_min=2G",
		"auto=on,stats_interval=1s,auto_step=0",
		"auto=on,stats_interval=1s,auto_window=100ms",
		"auto=on,stats_interval=1s,auto_window=11s",
		"auto=on,stats_interval=1s,auto_stall=0",
		"auto=on,stats_interval=1s,auto_stall=2s,auto_window=1s",
	};
	struct balloon_config cfg;
	char err[256];
	unsigned int i, fails = 0;

	balloon_config_init(&cfg);
	tap_ok(!cfg.auto_on && cfg.auto_min == BALLOON_AUTO_MIN_DEFAULT &&
	       cfg.auto_step == 64 * SZ_1M && cfg.auto_stall_ms == 100 &&
	       cfg.auto_window_ms == 1000 && cfg.auto_relax_ms == 10000 &&
	       cfg.auto_backoff_ms == 30000, "auto: off, with its defaults");
	tap_eq(balloon_parse_opts("stats_interval=1s,auto=on,auto_min=256M,auto_step=32M,"
				  "auto_stall=50ms,auto_window=2s,auto_relax=3s,auto_backoff=20s",
				  &cfg, err, sizeof(err)), 0, "every auto option");
	tap_ok(cfg.auto_on && cfg.auto_min == 256 * SZ_1M && cfg.auto_step == 32 * SZ_1M &&
	       cfg.auto_stall_ms == 50 && cfg.auto_window_ms == 2000 &&
	       cfg.auto_relax_ms == 3000 && cfg.auto_backoff_ms == 20000, "every auto option set");
	tap_eq(balloon_config_check(&cfg, SZ_1G, err, sizeof(err)), 0, "and they fit a 1 GiB guest");
	for (i = 0; i < ARRAY_SIZE(bad_with_ram); i++) {
		balloon_config_init(&cfg);
		err[0] = '\0';
		if (balloon_parse_opts(bad_with_ram[i], &cfg, err, sizeof(err)) ||
		    balloon_config_check(&cfg, SZ_1G, err, sizeof(err)) != -EINVAL || !err[0]) {
			printf("#   accepted or refused at parse: '%s' (%s)\n", bad_with_ram[i], err);
			fails++;
		}
	}
	tap_ok(!fails, "%zu impossible auto settings refused with a message",
	       ARRAY_SIZE(bad_with_ram));
	balloon_parse_opts("auto_sloth=1", &cfg, err, sizeof(err));
	tap_ok(strstr(err, "auto_sloth") && strstr(err, "auto_backoff") && strstr(err, "size"),
	       "an unknown key: the message lists every key: %s", err);
}

/* How many of the n option strings parse, or fail without a message (each named). */
static unsigned int accepted(const char *const *bad, size_t n, struct balloon_config *cfg)
{
	unsigned int i, fails = 0;
	char err[256];

	for (i = 0; i < n; i++) {
		err[0] = '\0';
		if (balloon_parse_opts(bad[i], cfg, err, sizeof(err)) != -EINVAL || !err[0]) {
			printf("#   accepted or no message: '%s'\n", bad[i]);
			fails++;
		}
	}
	return fails;
}

static void test_referee_opts(void)
{
	static const char *const bad[] = {
		"referee=yes", "hold_inflate_ms=60001", "hold_inflate_ms=5ms",
		"hold_deflate_ms=-1", "hold_deflate_ms=1s", "hold_inflate_ms=",
	};
	static const char *const bad_stress[] = {
		"hold_report_ms=60001", "hold_report_ms=1s", "hold_report_ms=-1",
		"hold_done_ms=60001", "hold_done_ms=1s",
		"hold_hint_ms=60001", "hold_hint_ms=x", "hold_hint_ms=", "ack_order=lifo",
		"ack_order=REVERSE", "ack_order=on", "ack_order=",
		"hold_hint_ms=1,hold_hint_ms=2",
	};
	struct balloon_config cfg;
	char err[512];	/* main.c's size: the unknown-key message lists every key */

	balloon_config_init(&cfg);
	tap_ok(!cfg.referee && !cfg.hold_inflate_ms && !cfg.hold_deflate_ms,
	       "referee and holds: off by default");
	tap_eq(balloon_parse_opts("referee=on,hold_inflate_ms=1000,hold_deflate_ms=10000", &cfg,
				  err, sizeof(err)), 0, "referee, hold_inflate_ms, hold_deflate_ms");
	tap_ok(cfg.referee && cfg.hold_inflate_ms == 1000 && cfg.hold_deflate_ms == 10000,
	       "all three set");
	tap_ok(!accepted(bad, ARRAY_SIZE(bad), &cfg), "%zu bad referee settings rejected with a message",
	       ARRAY_SIZE(bad));
	balloon_config_init(&cfg);
	tap_ok(!cfg.hold_report_ms && !cfg.hold_hint_ms && !cfg.ack_reverse,
	       "report and hint holds off, ack order fifo by default");
	tap_eq(balloon_parse_opts("hold_report_ms=10000,hold_hint_ms=0,hold_done_ms=60000,ack_order=reverse",
				  &cfg, err, sizeof(err)), 0,
	       "hold_report_ms, hold_hint_ms, hold_done_ms, ack_order");
	tap_ok(cfg.hold_report_ms == 10000 && !cfg.hold_hint_ms && cfg.hold_done_ms == 60000 &&
	       cfg.ack_reverse, "all four set");
	tap_ok(!balloon_parse_opts("hold_hint_ms=250,ack_order=fifo", &cfg, err, sizeof(err)) &&
	       cfg.hold_hint_ms == 250 && !cfg.ack_reverse, "hold_hint_ms 250, ack_order=fifo");
	tap_ok(!accepted(bad_stress, ARRAY_SIZE(bad_stress), &cfg),
	       "%zu bad stress settings rejected with a message", ARRAY_SIZE(bad_stress));
	balloon_parse_opts("ack_order=lifo", &cfg, err, sizeof(err));
	tap_ok(strstr(err, "ack_order") && strstr(err, "fifo or reverse") && strstr(err, "lifo"),
	       "a bad ack_order says what it takes: %s", err);
	balloon_parse_opts("hold_report=1", &cfg, err, sizeof(err));
	tap_ok(strstr(err, "hold_report_ms") && strstr(err, "hold_hint_ms") &&
	       strstr(err, "ack_order") && strstr(err, "size"),
	       "an unknown key lists the new keys too: %s", err);
	balloon_config_init(&cfg);
	balloon_parse_opts("referee=on,free_page_hint=on", &cfg, err, sizeof(err));
	tap_eq(balloon_config_check(&cfg, SZ_1G, err, sizeof(err)), (u64)-EINVAL,
	       "referee with hint_release: refused (one dirty log)");
	balloon_parse_opts("hint_release=off", &cfg, err, sizeof(err));
	tap_eq(balloon_config_check(&cfg, SZ_1G, err, sizeof(err)), 0,
	       "referee with free_page_hint and hint_release=off: fine");
}

static void test_opts(void)
{
	static const char *const bad[] = {
		"size", "size=", "=1", "size=12Q", "size=1.5G", "size=-1", "size=4097",
		"size=99999999999999999999", "size=20000000000T", "deflate_on_oom=yes",
		"deflate_on_oom=ON", "free_page_hint=1", "stats_interval=1h", "stats_interval=s",
		"stats_interval=86401s", "bogus=1", "size=1M,size=2M", "size=1M,", ",size=1M",
		"size=1M,,page_poison=on", "page_poison",
	};
	struct balloon_config cfg;
	char err[256];
	u64 v;

	balloon_config_init(&cfg);
	tap_eq(balloon_parse_opts("size=256M,deflate_on_oom=on,free_page_reporting=on,"
				  "free_page_hint=on,must_tell_host=on,stats_interval=1s,"
				  "page_poison=on", &cfg, err, sizeof(err)), 0, "every option");
	tap_ok(cfg.size == 256 * SZ_1M && cfg.deflate_on_oom && cfg.free_page_reporting &&
	       cfg.free_page_hint && cfg.must_tell_host && cfg.page_poison &&
	       cfg.stats_interval_ms == 1000, "every option set");
	tap_eq(balloon_parse_opts("deflate_on_oom=off,stats_interval=250ms", &cfg, err,
				  sizeof(err)), 0, "switch off, interval in ms");
	tap_ok(!cfg.deflate_on_oom && cfg.free_page_hint && cfg.stats_interval_ms == 250,
	       "only the named options change");
	tap_eq(balloon_parse_opts("", &cfg, err, sizeof(err)), 0, "empty string: defaults");
	tap_ok(!accepted(bad, ARRAY_SIZE(bad), &cfg), "%zu bad option strings rejected with a message",
	       ARRAY_SIZE(bad));
	balloon_parse_opts("deflate_on_oom=maybe", &cfg, err, sizeof(err));
	tap_ok(strstr(err, "deflate_on_oom") && strstr(err, "maybe"), "message names key and value: %s", err);

	tap_ok(!balloon_parse_size("4096", &v) && v == 4096, "size in bytes");
	tap_ok(!balloon_parse_size("1G", &v) && v == SZ_1G, "size 1G");
	tap_ok(!balloon_parse_size("2k", &v) && v == 2048, "lower-case unit");
	tap_ok(!balloon_parse_interval("0", &v) && v == 0, "interval 0 is off");
	tap_ok(!balloon_parse_interval("2", &v) && v == 2000, "bare interval is seconds");

	cfg.size = 2 * SZ_1G;
	tap_eq(balloon_config_check(&cfg, SZ_1G, err, sizeof(err)), (u64)-EINVAL,
	       "size above guest RAM rejected");
	tap_ok(strstr(err, "2048") && strstr(err, "1024"), "message gives both sizes: %s", err);
	cfg.size = SZ_1G;
	tap_eq(balloon_config_check(&cfg, SZ_1G, err, sizeof(err)), 0, "size equal to RAM allowed");
	test_auto_opts();
	test_referee_opts();
}

static void put_stat(u8 *p, u16 tag, u64 val)
{
	tag = htole16(tag);
	val = htole64(val);
	memcpy(p, &tag, 2);
	memcpy(p + 2, &val, 8);
}

static void test_stats_parse(void)
{
	/* Debian 6.1's order: 0,1,2,3,8,9,4,5,6,7, plus junk. */
	static const u16 order[] = { 0, 1, 2, 3, 8, 9, 4, 5, 6, 7, 200, 12 };
	struct balloon_stats st = { 0 };
	u8 buf[200];
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(order); i++)
		put_stat(buf + 10 * i, order[i], 1000 + order[i]);
	tap_eq(balloon_stats_parse(buf, 10 * ARRAY_SIZE(order) + 7, &st), 1,
	       "one unknown tag, trailing partial entry ignored");
	tap_ok(st.val[6] == 1006 && st.val[9] == 1009 && st.val[12] == 1012 && st.val[0] == 1000,
	       "values by tag, whatever the order");
	tap_eq(st.present, 0x13ff, "present mask: tags 0-9 and 12");
	tap_eq(balloon_stats_parse(buf, 9, &st), 0, "less than one entry: nothing");
	tap_eq(st.present, 0, "and nothing present");
	put_stat(buf, 4, 1);
	put_stat(buf + 10, 4, 2);
	balloon_stats_parse(buf, 20, &st);
	tap_eq(st.val[4], 2, "a repeated tag: the last one wins");
	tap_ok(balloon_stat_name(4) && !strcmp(balloon_stat_name(4), "free_memory") &&
	       balloon_stat_name(15) && !balloon_stat_name(16), "stat names");
}

static void test_hint_ids(void)
{
	tap_eq(balloon_hint_next_id(2), 3, "next id");
	tap_eq(balloon_hint_next_id(UINT32_MAX), 2, "wraps to 2, never to STOP or DONE");
	tap_eq(balloon_hint_next_id(0), 2, "after STOP: 2");
	tap_eq(balloon_hint_next_id(1), 2, "after DONE: 2");
	tap_ok(!strcmp(balloon_feature_name(BALLOON_F_PAGE_REPORTING), "page_reporting") &&
	       !balloon_feature_name(6), "feature names");
}

static void test_metrics_json(void)
{
	struct balloon_metrics m = { .pages_inflated = 7, .poison_kept_bytes = 9 };
	json_t *obj = balloon_metrics_json(&m);

	tap_ok(json_is_object(obj), "counters dump is one JSON object");
	tap_ok(json_integer_value(json_object_get(obj, "pages_inflated")) == 7 &&
	       json_integer_value(json_object_get(obj, "poison_kept_bytes")) == 9, "counter values");
	tap_eq(json_object_size(obj), sizeof(m) / sizeof(u64), "every counter present");
	json_decref(obj);
}

int main(void)
{
	tap_start();
	test_queue_map();
	test_opts();
	test_stats_parse();
	test_hint_ids();
	test_metrics_json();
	return tap_done();
}
