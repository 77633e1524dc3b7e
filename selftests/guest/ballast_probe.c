// SPDX-License-Identifier: GPL-2.0
/*
 * ballast_probe [EXPECT_FEATURES]: ballast.ko bound the balloon device and
 * negotiated sanely.  EXPECT_FEATURES (hex) lists device-specific bits the
 * VMM was started to offer; each must be offered and, where the driver
 * supports it, accepted.
 */
#include "kselftest_harness.h"
#include "ballast_test.h"

#include <dirent.h>

static unsigned long long expect;

TEST(debugfs_counters_present)
{
	static const char *const names[] = {
		"features_offered", "features_accepted", "num_pages", "actual",
		"pages_inflated", "pages_deflated", "shrinker_count_calls",
		"shrinker_scan_calls", "shrinker_pages_freed", "shrinker_waits",
		"reported_ranges",
		"reported_bytes", "config_changes", "stats_requests",
		"device_errors", "inflate_used_len", "deflate_used_len",
		"stats_used_len", "reporting_used_len", "free_page_used_len",
		"hint_runs", "hint_check_lost", "hint_check", "batch",
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(names); i++)
		EXPECT_LE(0, bl(names[i])) TH_LOG("%s unreadable", names[i] ? names[i] : "?");
	EXPECT_EQ(0, access(BALLAST_DIR "/inject/result", R_OK));
}

TEST(driver_bound_to_balloon_device)
{
	DIR *d = opendir("/sys/bus/virtio/drivers/ballast");
	struct dirent *e;
	int bound = 0;

	ASSERT_NE(NULL, d);
	while ((e = readdir(d)))
		if (!strncmp(e->d_name, "virtio", 6))
			bound++;
	closedir(d);
	EXPECT_EQ(1, bound);
	/* Only one of the two balloon drivers may be there. */
	EXPECT_NE(0, access("/sys/bus/virtio/drivers/virtio_balloon", F_OK));
}

/* Features: the device offered some, we accepted a subset we support. */
TEST(features_negotiated)
{
	unsigned long long off = bl("features_offered");
	unsigned long long acc = bl("features_accepted");
	unsigned long long dev_specific = (1ULL << 24) - 1;

	TH_LOG("offered 0x%llx accepted 0x%llx", off, acc);
	ASSERT_NE(0, off);
	ASSERT_NE(0, acc);
	EXPECT_EQ(acc, acc & off);	/* never accept what was not offered */
	EXPECT_EQ(0, acc & dev_specific & ~DRIVER_FEATURES);
	/* accept MUST_TELL_HOST when offered. */
	if (off & F_MUST_TELL_HOST)
		EXPECT_NE(0, acc & F_MUST_TELL_HOST);
	if (off & F_VERSION_1)
		EXPECT_NE(0, acc & F_VERSION_1);
	/* What the VMM was told to offer. */
	EXPECT_EQ(expect, off & expect);
	EXPECT_EQ(expect & DRIVER_FEATURES, acc & expect & DRIVER_FEATURES);
}

/* one stats buffer added at init; it holds real values. */
TEST(stats_buffer_primed)
{
	if (!(bl("features_accepted") & F_STATS_VQ))
		SKIP(return, "STATS_VQ not negotiated");
	/* One buffer primed per (re)initialisation, one per answer. */
	EXPECT_EQ(1 + bl("resets"), bl("stats_primed"));
	EXPECT_EQ(bl("stats_primed") + bl("stats_answered"), bl("stats_descs"));
	EXPECT_LE(1, bl("stats_kicks"));
}

TEST(no_device_errors_at_probe)
{
	EXPECT_EQ(0, bl("device_errors"));
	EXPECT_EQ(0, bl("dead"));
}

static void parse(int argc, char **argv)
{
	if (argc > 1)
		expect = strtoull(argv[1], NULL, 16);
}

BALLAST_MAIN(parse)
