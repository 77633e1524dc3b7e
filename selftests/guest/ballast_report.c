// SPDX-License-Identifier: GPL-2.0
/*
 * ballast_report [MIB]: free page reporting (virtio 1.2, 5.5.6.6).  Touch
 * and free MIB MiB (default 128), then wait up to 30 s for the driver to
 * report free ranges and the device to ack them.  The host side checks
 * that its RSS fell.
 */
#include "kselftest_harness.h"
#include "ballast_test.h"

#include <sys/mman.h>

static size_t mib = 128;

TEST_F_TIMEOUT(bl, reports_freed_memory, 50)
{
	long long bytes0 = bl("reported_bytes"), ranges0 = bl("reported_ranges");
	long long calls0 = bl("report_calls"), used0 = bl("reporting_used_bufs");
	long long err0 = bl("device_errors"), kicks0 = bl("reporting_kicks");
	long long descs0 = bl("reporting_descs");
	size_t len = mib << 20, i;
	unsigned char *p;
	double t0;

	if (!(bl("features_accepted") & F_REPORTING))
		SKIP(return, "PAGE_REPORTING not negotiated");
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, p);
	for (i = 0; i < len; i += 4096)
		p[i] = 1;
	munmap(p, len);
	t0 = now_s();

	/* Reporting starts 2 s after a free and works in 2 MiB blocks. */
	EXPECT_TRUE(WAIT_FOR(30, bl("reported_bytes") - bytes0 >= (long long)(len / 4)))
		TH_LOG("reported %lld bytes after freeing %zu MiB",
		       bl("reported_bytes") - bytes0, mib);
	TH_LOG("reported %lld MiB in %lld ranges, %lld calls, %.1f s after the free",
	       (bl("reported_bytes") - bytes0) >> 20, bl("reported_ranges") - ranges0,
	       bl("report_calls") - calls0, now_s() - t0);
	EXPECT_LT(0, bl("reported_bytes"));
	EXPECT_LT(ranges0, bl("reported_ranges"));
	EXPECT_LT(calls0, bl("report_calls"));
	/*
	 * Each report is one buffer, one kick, used by the device. Reporting
	 * goes on while we read, so wait until no report is in flight (a
	 * slow device may still hold the latest one) before comparing.
	 */
	EXPECT_TRUE(WAIT_FOR(20, bl("report_calls") - calls0 == bl("reporting_kicks") - kicks0 &&
				 bl("reporting_kicks") - kicks0 == bl("reporting_used_bufs") - used0))
		TH_LOG("a report stayed in flight: %lld kicks, %lld used",
		       bl("reporting_kicks") - kicks0, bl("reporting_used_bufs") - used0);
	EXPECT_EQ(bl("report_calls") - calls0, bl("reporting_kicks") - kicks0);
	EXPECT_EQ(bl("report_calls") - calls0, bl("reporting_descs") - descs0);
	EXPECT_EQ(bl("report_calls") - calls0, bl("reporting_used_bufs") - used0);
	/* Reported ranges are whole pages of at least 4 KiB. */
	EXPECT_EQ(0, bl("reported_bytes") % 4096);
	EXPECT_EQ(err0, bl("device_errors"));
	TH_LOG("reporting used length total %lld", bl("reporting_used_len"));
}

static void parse(int argc, char **argv)
{
	if (argc > 1)
		mib = strtoul(argv[1], NULL, 0);
}

BALLAST_MAIN(parse)
