// SPDX-License-Identifier: GPL-2.0
/*
 * ballast_puff: the host asked for a balloon larger than the guest can
 * give.  The driver must stop when allocations fail ("out of puff",
 * counted), keep actual equal to what it really holds, and neither the
 * balloon nor anything else may OOM-kill a process (virtio 1.2, 5.5.6:
 * R-4 is a SHOULD).  With DEFLATE_ON_OOM, processes come and go all the
 * while (a shell starting ballast_hog over and over): the balloon must give
 * them memory back as it reaches the floor, not leave them to the OOM
 * killer.
 *
 *   ballast_puff [OOM_KILLS_BEFORE]   oom_kill from /proc/vmstat before the
 *                                     host raised the target (default 0)
 */
#include "kselftest_harness.h"
#include "ballast_test.h"

#include <signal.h>
#include <sys/wait.h>

static long long oom_kills_before;

TEST_F_TIMEOUT(bl, out_of_puff, 200)
{
	/* Processes come and go, as a guest's do: fork, exec, fault, exit. */
	char *churn[] = { "/bin/sh", "-c", "while :; do ballast_hog 2 >/dev/null; done", NULL };
	long long n, err0 = bl("device_errors"), waits0 = bl("shrinker_waits");
	long long freed0 = bl("shrinker_pages_freed"), fails0 = bl("alloc_failures");
	pid_t pid = -1;
	int status = 0;

	if (bl("features_accepted") & F_DEFLATE_ON_OOM)
		ASSERT_LT(0, pid = spawn(churn));
	if (pid > 0) {
		/*
		 * The balloon meets the floor: its allocation fails, or the
		 * churn's reclaim deflates it first.  Churn on there for longer
		 * than the driver holds off re-inflating after a deflate.
		 */
		EXPECT_TRUE(WAIT_FOR(90, bl("alloc_failures") > fails0 ||
				     bl("shrinker_pages_freed") > freed0))
			TH_LOG("the balloon never reached the floor: num_pages %lld, balloon %lld",
			       bl("num_pages"), bl("balloon_pages"));
		sleep(7);
		kill(pid, SIGTERM);
		waitpid(pid, &status, 0);
		EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM)
			TH_LOG("the churning shell %s %d before we stopped it",
			       WIFEXITED(status) ? "exited with" : "was killed by signal",
			       WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
		TH_LOG("shrinker: %lld pages freed, %lld scans waited for an inflate round",
		       bl("shrinker_pages_freed") - freed0, bl("shrinker_waits") - waits0);
	}
	EXPECT_TRUE(WAIT_FOR(90, bl("alloc_failures") > fails0))
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
	       bl("alloc_failures") - fails0, meminfo("MemFree") / 1024);
}

static void parse(int argc, char **argv)
{
	if (argc > 1)
		oom_kills_before = strtoll(argv[1], NULL, 0);
}

BALLAST_MAIN(parse)
