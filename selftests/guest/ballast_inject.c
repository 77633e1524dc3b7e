// SPDX-License-Identifier: GPL-2.0
/*
 * ballast_inject: every fault-injection knob of ballast.ko, one test each.
 * A knob sends the device one malformed request; inject/result says what
 * the device did.  Each test states what a conforming device does and
 * checks that the guest's balloon works afterwards.  The host should have
 * left a balloon of a few MiB at least (num_pages > 0).
 */
#include "kselftest_harness.h"
#include "ballast_test.h"

#define RESULT	BALLAST_DIR "/inject/result"
#define R(key)	kv(RESULT, key)

/* Write a knob; returns the write's status (0 or -errno). */
static int knob(const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), BALLAST_DIR "/inject/%s", name);
	return write_file(path, "1\n");
}

static void log_result(struct __test_metadata *_metadata)
{
	char buf[1024];

	if (read_file(RESULT, buf, sizeof(buf)) > 0)
		TH_LOG("inject/result:\n%s", buf);
}

/* After any knob: the device is alive and the balloon back on target. */
#define EXPECT_BALLOON_OK() do {					\
	EXPECT_EQ(0, bl("dead"));					\
	EXPECT_TRUE(WAIT_FOR(30, balloon_settled()))			\
		TH_LOG("balloon not back on target: actual %lld num_pages %lld", \
		       bl("actual"), bl("num_pages"));			\
} while (0)

FIXTURE(inj) {
	long long errors, resets, inflated;
};

FIXTURE_SETUP(inj)
{
	ASSERT_TRUE(WAIT_FOR(30, balloon_settled()));
	self->errors = bl("device_errors");
	self->resets = bl("resets");
	self->inflated = bl("pages_inflated");
}

FIXTURE_TEARDOWN(inj)
{
}

/*
 * PFNs past the end of RAM on the inflate queue.  Conforming: the device
 * uses the buffer (nothing in 5.5 lets it refuse), ignores the bad PFNs,
 * stays up: no DEVICE_NEEDS_RESET, no reset needed.
 */
TEST_F_TIMEOUT(inj, pfn_outside_ram, 60)
{
	ASSERT_EQ(0, knob("pfn_outside_ram"));
	log_result(_metadata);
	EXPECT_EQ(1, R("acked"));
	EXPECT_EQ(0, R("timed_out"));
	EXPECT_EQ(0, R("needs_reset"));
	EXPECT_EQ(0, R("reset"));
	EXPECT_EQ(self->errors, bl("device_errors"));
	EXPECT_BALLOON_OK();
}

/*
 * The same ballooned PFN twice in one inflate descriptor, of a page that
 * is in the balloon already.  Conforming: used, ignored or idempotent;
 * the device stays up.
 */
TEST_F_TIMEOUT(inj, duplicate_pfn, 60)
{
	ASSERT_EQ(0, knob("duplicate_pfn"));
	log_result(_metadata);
	EXPECT_EQ(2, R("nr_pfns"));
	EXPECT_EQ(1, R("acked"));
	EXPECT_EQ(0, R("needs_reset"));
	EXPECT_EQ(0, R("reset"));
	EXPECT_EQ(self->errors, bl("device_errors"));
	EXPECT_BALLOON_OK();
}

/*
 * Deflate of a page that is not in the balloon (a page the guest uses,
 * holding a pattern).  Conforming: used; the page keeps its contents, as a
 * deflate gives the host nothing to discard.
 */
TEST_F_TIMEOUT(inj, deflate_unknown_page, 60)
{
	ASSERT_EQ(0, knob("deflate_unknown_page"));
	log_result(_metadata);
	EXPECT_EQ(1, R("acked"));
	EXPECT_EQ(1, R("content_intact"));
	EXPECT_EQ(0, R("needs_reset"));
	EXPECT_EQ(0, R("reset"));
	EXPECT_EQ(self->errors, bl("device_errors"));
	EXPECT_BALLOON_OK();
}

/*
 * A zero-length descriptor on the inflate queue.  Conforming: either uses
 * it (used length 0, nothing inflated) or, treating it as an error, sets
 * DEVICE_NEEDS_RESET and notifies (2.1.2: the device SHOULD set it when it
 * enters an error state that needs a reset).  Keeping it without a word
 * fails: the driver can only time out.  A legacy device has no
 * NEEDS_RESET, so it has to use the buffer.  After a NEEDS_RESET the driver
 * resets the device, which must come back.
 */
TEST_F_TIMEOUT(inj, zero_length_desc, 60)
{
	ASSERT_EQ(0, knob("zero_length_desc"));
	log_result(_metadata);
	EXPECT_EQ(0, R("timed_out")) TH_LOG("device kept a zero-length buffer without a word");
	EXPECT_TRUE(R("acked") == 1 || R("needs_reset") == 1);
	if (R("acked") == 1)
		EXPECT_EQ(0, R("used_len"));
	if (R("needs_reset") == 1) {
		EXPECT_EQ(1, R("reset"));
		EXPECT_LT(self->resets, bl("resets"));
		EXPECT_LT(self->errors, bl("device_errors"));
		EXPECT_LT(0, bl("needs_reset"));
	}
	EXPECT_BALLOON_OK();
}

/*
 * A device-writable buffer on the inflate queue naming a private page.
 * Conforming: the device inflates nothing from it (the page keeps its
 * contents), writes nothing into it, and uses it or reports NEEDS_RESET.
 */
TEST_F_TIMEOUT(inj, writable_inflate_desc, 60)
{
	ASSERT_EQ(0, knob("writable_inflate_desc"));
	log_result(_metadata);
	EXPECT_EQ(0, R("timed_out"));
	EXPECT_EQ(1, R("content_intact")) TH_LOG("the device inflated a page from a device-writable buffer");
	EXPECT_EQ(1, R("buf_intact"));
	EXPECT_TRUE(R("acked") == 1 || R("needs_reset") == 1);
	if (R("acked") == 1)
		EXPECT_EQ(0, R("used_len"));
	EXPECT_BALLOON_OK();
}

/*
 * One inflate request of 4097 PFNs in a 17-descriptor chain.  The spec
 * sets no limit on a request's length: a conforming device inflates all of
 * them and uses the chain.  The driver then deflates back to num_pages.
 */
TEST_F_TIMEOUT(inj, chain_4097, 90)
{
	ASSERT_EQ(0, knob("chain_4097"));
	log_result(_metadata);
	EXPECT_EQ(4097, R("nr_pfns"));
	EXPECT_EQ(1, R("acked"));
	EXPECT_EQ(0, R("needs_reset"));
	EXPECT_EQ(0, R("reset"));
	EXPECT_LE(self->inflated + 4097, bl("pages_inflated"));
	EXPECT_EQ(self->errors, bl("device_errors"));
	EXPECT_BALLOON_OK();
}

/*
 * 256 pages holding a pattern, inflated, then deflated.  The device may
 * have released them (they read as zeroes) or kept them (the pattern is
 * there); a page that reads as anything else holds memory the guest never
 * wrote, another page's or the host's.  Not malformed: the device must use
 * both requests as it would any.
 */
TEST_F_TIMEOUT(inj, deflate_content, 60)
{
	ASSERT_EQ(0, knob("deflate_content"));
	log_result(_metadata);
	EXPECT_EQ(1, R("acked"));
	EXPECT_EQ(0, R("foreign")) TH_LOG("pages read back as neither the guest's data nor zeroes");
	EXPECT_EQ(R("nr_pfns"), R("kept") + R("zeroed")) TH_LOG("the deflate was not used");
	TH_LOG("%lld pages released (zeroes), %lld kept", R("zeroed"), R("kept"));
	EXPECT_EQ(self->errors, bl("device_errors"));
	EXPECT_BALLOON_OK();
}

/*
 * A stats answer with an unknown tag among the known ones.  Conforming
 * (D-6): the device ignores the unknown entry and keeps asking.  Needs a
 * device that polls stats (the host sets an interval); the host compares
 * the values it parsed.
 */
TEST_F_TIMEOUT(inj, stats_unknown_tag, 60)
{
	int err;

	long long asked = bl("stats_requests");

	if (!(bl("features_accepted") & F_STATS_VQ))
		SKIP(return, "STATS_VQ not negotiated");
	/* A device may ask only when its host asks it to: then nothing to see. */
	if (!WAIT_FOR(10, bl("stats_requests") > asked))
		SKIP(return, "the device does not poll stats");
	err = knob("stats_unknown_tag");
	log_result(_metadata);
	ASSERT_EQ(0, err);
	EXPECT_EQ(1, R("sent"));
	EXPECT_EQ(1, R("next_request")) TH_LOG("no stats request after the unknown tag");
	EXPECT_EQ(0, R("needs_reset"));
	EXPECT_EQ(self->errors, bl("device_errors"));
	EXPECT_BALLOON_OK();
}

/*
 * An inflate request made available without a notification.  A device
 * that polls may use it; otherwise the driver must not hang: it times out,
 * counts the error and resets the device, which must come back.
 */
TEST_F_TIMEOUT(inj, unkicked_inflate_times_out, 60)
{
	long long timeouts = bl("ack_timeouts"), tmo = bl("ack_timeout_ms");

	ASSERT_EQ(0, bl_set("ack_timeout_ms", 1000));
	EXPECT_EQ(0, knob("unkicked_inflate"));
	bl_set("ack_timeout_ms", tmo);
	log_result(_metadata);
	if (R("acked") == 1) {
		TH_LOG("the device polls its queues: used without a notification");
	} else {
		EXPECT_EQ(1, R("timed_out"));
		EXPECT_EQ(1, R("reset"));
		EXPECT_LT(timeouts, bl("ack_timeouts"));
		EXPECT_LT(self->errors, bl("device_errors"));
		EXPECT_LT(self->resets, bl("resets"));
	}
	EXPECT_BALLOON_OK();
}

/*
 * A reset in the middle of a ballooned state: the device must accept a
 * fresh initialisation (2.1.1, 3.1); the driver drops its pages (the device
 * forgot them) and inflates again to num_pages.
 */
TEST_F_TIMEOUT(inj, reset_and_reinit, 60)
{
	long long dropped = bl("pages_dropped"), bal = bl("balloon_pages");

	ASSERT_EQ(0, knob("reset_device"));
	log_result(_metadata);
	EXPECT_EQ(1, R("reset"));
	EXPECT_LT(self->resets, bl("resets"));
	EXPECT_EQ(dropped + bal, bl("pages_dropped"));
	EXPECT_BALLOON_OK();
	if (bal)
		EXPECT_LT(self->inflated, bl("pages_inflated"));
}

BALLAST_MAIN(no_args)
