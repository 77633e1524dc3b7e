// SPDX-License-Identifier: GPL-2.0
/*
 * ballast_stats: the device polls statistics (the host set an interval) and
 * the driver answers every request with one buffer (virtio 1.2, 5.5.6.3).
 */
#include "kselftest_harness.h"
#include "ballast_test.h"

TEST_F_TIMEOUT(bl, requests_answered, 40)
{
	long long err0 = bl("device_errors");

	if (!(bl("features_accepted") & F_STATS_VQ))
		SKIP(return, "STATS_VQ not negotiated");
	/* Two requests: the device took our answer to the first. */
	EXPECT_TRUE(WAIT_FOR(30, bl("stats_requests") >= 2))
		TH_LOG("stats_requests %lld: does the host poll stats?",
		       bl("stats_requests"));
	EXPECT_TRUE(WAIT_FOR(5, bl("stats_answered") == bl("stats_requests")));
	EXPECT_LT(0, bl("stats_answered"));
	EXPECT_LT(0, bl("stats_used_bufs"));
	/*
	 * never more than one buffer with the device: every buffer
	 * added was the one primed at (re)initialisation or the answer to a
	 * request that gave the previous one back. The device keeps polling
	 * while the counters are read one by one, so a request answered
	 * between two reads is waited out: a driver that adds more buffers
	 * than that stays unequal.
	 */
	EXPECT_TRUE(WAIT_FOR(5, bl("stats_primed") + bl("stats_answered") == bl("stats_descs") &&
				bl("stats_answered") <= bl("stats_requests")))
		TH_LOG("stats buffers: %lld primed + %lld answered, %lld added, %lld requests",
		       bl("stats_primed"), bl("stats_answered"), bl("stats_descs"),
		       bl("stats_requests"));
	EXPECT_EQ(err0, bl("device_errors"));
}

BALLAST_MAIN(no_args)
