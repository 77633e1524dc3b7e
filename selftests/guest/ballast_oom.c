// SPDX-License-Identifier: GPL-2.0
/*
 * ballast_oom [HOG_MIB]: deflate on OOM through the shrinker (virtio 1.2,
 * 5.5.6.1: R-8).  With the balloon inflated by the host, run ballast_hog
 * asking for more than the guest has available (default: MemAvailable plus
 * half the balloon).  The shrinker must deflate the balloon, telling the
 * host, so that the hog gets its memory and nobody is OOM-killed.
 */
#include "kselftest_harness.h"
#include "ballast_test.h"

#include <signal.h>
#include <sys/wait.h>

static long long hog_mib = -1;

static int run_hog(long long mib, int *status, double secs)
{
	char arg[32], *argv[] = { "/bin/ballast_hog", arg, "1", NULL };
	pid_t pid;
	double end = now_s() + secs;

	snprintf(arg, sizeof(arg), "%lld", mib);
	pid = spawn(argv);
	if (pid < 0)
		return -1;
	while (waitpid(pid, status, WNOHANG) == 0) {
		if (now_s() > end) {
			kill(pid, SIGKILL);
			waitpid(pid, status, 0);
			return -1;
		}
		usleep(100000);
	}
	return 0;
}

TEST_F_TIMEOUT(bl, shrinker_deflates_for_hog, 80)
{
	long long bal0 = bl("balloon_pages"), avail = meminfo("MemAvailable") / 1024;
	long long oom0 = vmstat("oom_kill"), scan0 = bl("shrinker_scan_calls");
	long long cnt0 = bl("shrinker_count_calls"), freed0 = bl("shrinker_pages_freed");
	long long defl0 = bl("pages_deflated"), err0 = bl("device_errors");
	long long bal1, deficit;
	double t0;
	int status = 0;

	if (!(bl("features_accepted") & F_DEFLATE_ON_OOM))
		SKIP(return, "DEFLATE_ON_OOM not negotiated");
	ASSERT_LT(0, bal0) TH_LOG("inflate the balloon first");
	ASSERT_LE(0, oom0);
	if (hog_mib < 0)
		hog_mib = avail + bal0 / PAGES_PER_MIB / 2;
	deficit = (hog_mib - avail) * PAGES_PER_MIB;
	TH_LOG("balloon %lld MiB, MemAvailable %lld MiB, hog %lld MiB",
	       bal0 / PAGES_PER_MIB, avail, hog_mib);

	t0 = now_s();
	ASSERT_EQ(0, run_hog(hog_mib, &status, 60)) TH_LOG("hog still running after 60 s");
	bal1 = bl("balloon_pages");
	TH_LOG("hog done in %.1f s: balloon %lld -> %lld MiB, shrinker %lld scans (%lld counts) freed %lld pages",
	       now_s() - t0, bal0 / PAGES_PER_MIB, bal1 / PAGES_PER_MIB,
	       bl("shrinker_scan_calls") - scan0, bl("shrinker_count_calls") - cnt0,
	       bl("shrinker_pages_freed") - freed0);

	/* Nobody was OOM-killed, the hog least of all. */
	EXPECT_EQ(oom0, vmstat("oom_kill"));
	EXPECT_TRUE(WIFEXITED(status)) TH_LOG("hog killed by signal %d", WTERMSIG(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	/* The shrinker did it, and told the host (deflate counted on ack). */
	EXPECT_LT(cnt0, bl("shrinker_count_calls"));
	EXPECT_LT(scan0, bl("shrinker_scan_calls"));
	EXPECT_LE(deficit / 2, bl("shrinker_pages_freed") - freed0);
	EXPECT_LE(bl("shrinker_pages_freed") - freed0, bl("pages_deflated") - defl0);
	EXPECT_LE(deficit / 2, bal0 - bal1);
	/*
	 * actual follows the balloon after a shrinker deflate; the
	 * driver writes it after its round, and may inflate again once the
	 * hold-off after a deflate is over, so the two are compared as they
	 * settle, not against the size read after the hog.
	 */
	EXPECT_TRUE(WAIT_FOR(10, bl("balloon_pages") == bl("actual")))
		TH_LOG("balloon %lld pages, actual %lld", bl("balloon_pages"), bl("actual"));
	EXPECT_EQ(err0, bl("device_errors"));
}

static void parse(int argc, char **argv)
{
	if (argc > 1)
		hog_mib = strtoll(argv[1], NULL, 0);
}

BALLAST_MAIN(parse)
