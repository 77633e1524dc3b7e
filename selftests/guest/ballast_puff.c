// SPDX-License-Identifier: GPL-2.0
/*
 * ballast_puff: the host asked for a balloon larger than the guest can
 * give.  The driver must stop when allocations fail ("out of puff",
 * counted), keep actual equal to what it really holds, and neither the
 * balloon nor anything else may OOM-kill a process (virtio 1.2, 5.5.6:
 * R-4 is a SHOULD).
 *
 *   ballast_puff [OOM_KILLS_BEFORE]   oom_kill from /proc/vmstat before the
 *                                     host raised the target (default 0)
 */
#include "kselftest_harness.h"
#include "ballast_test.h"

static long long oom_kills_before;

TEST_F_TIMEOUT(bl, out_of_puff, 100)
{
	long long n, err0 = bl("device_errors");

	EXPECT_TRUE(WAIT_FOR(90, bl("alloc_failures") > 0))
		TH_LOG("no allocation failure: num_pages %lld, balloon %lld",
		       bl("num_pages"), bl("balloon_pages"));
	n = bl("num_pages");
	EXPECT_LT(bl("balloon_pages"), n);
	/*
	 * actual is what the balloon holds, not the target. The driver
	 * writes it after each round and keeps retrying when out of puff, so
	 * the two agree between rounds, not while a round's pages are acked.
	 */
	EXPECT_TRUE(WAIT_FOR(10, bl("balloon_pages") == bl("actual")))
		TH_LOG("balloon %lld pages, actual %lld", bl("balloon_pages"), bl("actual"));
	EXPECT_EQ(oom_kills_before, vmstat("oom_kill"));
	EXPECT_EQ(err0, bl("device_errors"));
	TH_LOG("target %lld MiB, reached %lld MiB, %lld allocation failures, MemFree %lld MiB",
	       n / PAGES_PER_MIB, bl("balloon_pages") / PAGES_PER_MIB,
	       bl("alloc_failures"), meminfo("MemFree") / 1024);
}

static void parse(int argc, char **argv)
{
	if (argc > 1)
		oom_kills_before = strtoll(argv[1], NULL, 0);
}

BALLAST_MAIN(parse)
