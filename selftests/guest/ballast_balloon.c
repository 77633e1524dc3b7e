// SPDX-License-Identifier: GPL-2.0
/*
 * ballast_balloon MIB: after the host asked for a balloon of MIB MiB, wait
 * (up to 90 s) for the driver to get there, then check what it counted on
 * the way.  Run after an inflate (MIB > 0) and after a deflate (MIB = 0).
 */
#include "kselftest_harness.h"
#include "ballast_test.h"

static long long want_pages = -1;

static int reached(void)
{
	return bl("num_pages") == want_pages && balloon_settled();
}

/* the driver follows num_pages and reports it in actual. */
TEST_F_TIMEOUT(bl, reaches_target, 100)
{
	ASSERT_LE(0, want_pages) TH_LOG("usage: ballast_balloon MIB");
	if (!WAIT_FOR(90, reached()))
		dump_status();
	EXPECT_EQ(want_pages, bl("num_pages"));
	EXPECT_EQ(want_pages, bl("actual"));
	EXPECT_EQ(want_pages, bl("balloon_pages"));
	/* Every page inflated was deflated, dropped by a reset, or is in. */
	EXPECT_EQ(bl("pages_inflated"),
		  bl("pages_deflated") + bl("pages_dropped") + bl("balloon_pages"));
}

/* Inflate went through the inflate queue in <= 256-PFN descriptors. */
TEST_F(bl, inflate_counters)
{
	long long inflated = bl("pages_inflated");

	if (want_pages <= 0)
		SKIP(return, "no inflate asked for");
	EXPECT_LE(want_pages, inflated);
	EXPECT_LT(0, bl("inflate_rounds"));
	EXPECT_LT(0, bl("inflate_kicks"));
	/* <= 256 PFNs a descriptor (knobs send longer ones on purpose). */
	if (bl("inject_calls") == 0)
		EXPECT_LE((inflated + 255) / 256, bl("inflate_descs"));
	/* Every descriptor came back (no reset in between). */
	if (!bl("resets"))
		EXPECT_EQ(bl("inflate_descs"), bl("inflate_used_bufs"));
	EXPECT_LT(0, bl("inflate_used_bufs"));
	/* 2.7.8: len counts bytes written; inflate buffers are read-only. */
	EXPECT_LT(0, bl("max_inflight"));
	TH_LOG("inflated %lld pages in %lld rounds, %lld descriptors, %lld kicks",
	       inflated, bl("inflate_rounds"), bl("inflate_descs"), bl("inflate_kicks"));
}

/* Deflate went through the deflate queue, acked, pages freed. */
TEST_F(bl, deflate_counters)
{
	long long deflated = bl("pages_deflated");

	if (want_pages != 0 || bl("pages_inflated") == 0)
		SKIP(return, "no deflate after an inflate");
	EXPECT_LT(0, deflated);
	/* num_pages went down after the inflate: a config interrupt came. */
	EXPECT_LT(0, bl("config_changes"));
	EXPECT_LT(0, bl("deflate_rounds"));
	EXPECT_LT(0, bl("deflate_kicks"));
	EXPECT_LT(0, bl("deflate_descs"));
	EXPECT_LT(0, bl("deflate_used_bufs"));
	EXPECT_EQ(0, bl("balloon_pages"));
}

/* With batch N > 1 a round put N descriptors in flight before one kick. */
TEST_F(bl, batch_in_flight)
{
	long long batch = bl("batch");

	if (batch <= 1)
		SKIP(return, "batch is 1");
	if (bl("pages_inflated") + bl("pages_deflated") < batch * 256)
		SKIP(return, "too few pages moved for a full batch");
	EXPECT_EQ(batch, bl("max_inflight"));
	EXPECT_LT(bl("inflate_kicks") + bl("deflate_kicks"),
		  bl("inflate_descs") + bl("deflate_descs"));
}

TEST_F(bl, no_device_errors)
{
	EXPECT_EQ(0, bl("dead"));
	/* Faults injected on purpose are the only excuse for errors. */
	if (bl("inject_calls") == 0)
		EXPECT_EQ(0, bl("device_errors"));
}

static void parse(int argc, char **argv)
{
	if (argc > 1)
		want_pages = strtoll(argv[1], NULL, 0) * PAGES_PER_MIB;
}

BALLAST_MAIN(parse)
