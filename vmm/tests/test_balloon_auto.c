// SPDX-License-Identifier: MIT
/*
 * The auto-balloon policy on plain numbers: a guest of 1024 pages, 256
 * kept, steps of 64, 1 s of calm before each step down, 5 s of back-off.
 */
#include "../virtio/balloon/auto.h"
#include "tap.h"

static const struct balloon_auto_params params = {
	.ram_pages = 1024, .min_pages = 256, .step_pages = 64,
	.relax_ms = 1000, .backoff_ms = 5000,
};

/* One decision; returns the target it sets (num_pages when it stays). */
static u32 decide(struct balloon_auto *a, u64 now, bool pressure, u32 num, u32 actual)
{
	struct balloon_auto_input in = {
		.now_ms = now, .pressure = pressure, .num_pages = num, .actual = actual,
	};
	u32 target;

	balloon_auto_decide(a, &in, &target);
	return target;
}

static void test_pressure_steps(void)
{
	struct balloon_auto a;

	balloon_auto_init(&a, &params);
	tap_eq(decide(&a, 100, false, 0, 0), 0, "calm, empty balloon: nothing");
	tap_eq(a.reason, BALLOON_AUTO_NONE, "and no reason yet");
	tap_eq(decide(&a, 200, true, 0, 0), 64, "pressure: one step up");
	tap_eq(a.reason, BALLOON_AUTO_PRESSURE, "reason pressure");
	tap_eq(decide(&a, 300, true, 64, 10), 64, "pressure while the guest lags: no step");
	tap_eq(a.reason, BALLOON_AUTO_WAIT_GUEST, "reason wait_guest");
	tap_eq(decide(&a, 400, true, 64, 64), 128, "the guest caught up: next step");
	tap_eq(a.count[BALLOON_AUTO_PRESSURE], 2, "two steps counted");
}

static void test_limits(void)
{
	struct balloon_auto a;
	struct balloon_auto_input in = {
		.now_ms = 100, .pressure = true, .num_pages = 0, .actual = 0,
		.avail_known = true, .avail_pages = 20,
	};
	u32 target;

	balloon_auto_init(&a, &params);
	tap_eq(decide(&a, 100, true, 740, 740), 768, "the last step stops at auto_min");
	tap_eq(decide(&a, 200, true, 768, 768), 768, "at auto_min: no further");
	tap_eq(a.reason, BALLOON_AUTO_AT_MIN, "reason at_min");

	balloon_auto_init(&a, &params);
	tap_ok(balloon_auto_decide(&a, &in, &target) && target == 20,
	       "a step no larger than what the guest has available");
	in.avail_pages = 0;
	in.now_ms = 200;
	in.num_pages = in.actual = 20;
	tap_ok(!balloon_auto_decide(&a, &in, &target) && target == 20 &&
	       a.reason == BALLOON_AUTO_NO_AVAIL, "nothing available: no step, reason no_avail");

	balloon_auto_init(&a, &(struct balloon_auto_params){ .ram_pages = 100, .min_pages = 200,
							     .step_pages = 64 });
	tap_eq(decide(&a, 100, true, 0, 0), 0, "auto_min above RAM: never a step");
}

static void test_guest_deflates(void)
{
	struct balloon_auto a;

	balloon_auto_init(&a, &params);
	decide(&a, 100, false, 512, 512);
	tap_eq(decide(&a, 200, false, 512, 448), 448, "the guest deflated: the target follows");
	tap_eq(a.reason, BALLOON_AUTO_GUEST_DEFLATED, "reason guest_deflated");
	tap_eq(decide(&a, 3000, true, 448, 448), 448, "pressure within the back-off: no inflate");
	tap_eq(a.reason, BALLOON_AUTO_BACKOFF, "reason backoff");
	tap_eq(decide(&a, 5300, true, 448, 448), 512, "after the back-off: inflate again");

	/* A lower target set by the operator is not the guest deflating. */
	balloon_auto_init(&a, &params);
	decide(&a, 100, false, 512, 512);
	tap_eq(decide(&a, 200, false, 128, 300), 128, "actual falling towards a lower target");
	tap_eq(a.count[BALLOON_AUTO_GUEST_DEFLATED], 0, "is not a guest deflate");
	/* Nor is actual rising towards a raised one. */
	tap_eq(decide(&a, 300, false, 512, 400), 512, "actual rising towards a higher target");
	tap_eq(a.count[BALLOON_AUTO_GUEST_DEFLATED], 0, "is not one either");
}

static void test_relax(void)
{
	struct balloon_auto a;

	balloon_auto_init(&a, &params);
	decide(&a, 0, true, 100, 100);
	tap_eq(decide(&a, 900, false, 164, 120), 164, "calm for less than relax_ms: stays");
	tap_eq(decide(&a, 1000, false, 164, 150), 164, "calm, but the guest is still inflating");
	tap_eq(decide(&a, 1100, false, 164, 164), 100, "calm for relax_ms, guest caught up: a step down");
	tap_eq(a.reason, BALLOON_AUTO_RELAX, "reason relax");
	tap_eq(decide(&a, 1200, false, 100, 130), 100, "the next step waits for the guest");
	tap_eq(decide(&a, 1300, false, 100, 100), 36, "and comes when it caught up");
	tap_eq(decide(&a, 1400, false, 36, 36), 0, "the last step stops at 0");
	tap_eq(decide(&a, 9000, false, 0, 0), 0, "an empty balloon stays empty");
	tap_eq(a.count[BALLOON_AUTO_RELAX], 3, "three steps down counted");

	/* A target the operator sets holds for relax_ms before the policy moves it. */
	tap_eq(decide(&a, 9100, false, 300, 0), 300, "the operator's new target: kept");
	tap_eq(decide(&a, 10000, false, 300, 300), 300, "still kept before relax_ms");
	tap_eq(decide(&a, 10100, false, 300, 300), 236, "then stepped down");
	/* Pressure restarts the calm. */
	tap_eq(decide(&a, 10200, true, 236, 236), 300, "pressure: up again");
	tap_eq(decide(&a, 11100, false, 300, 300), 300, "calm for less than relax_ms: stays");
}

static void test_hint_first(void)
{
	struct balloon_auto a;
	struct balloon_auto_input in = {
		.now_ms = 100, .pressure = true, .num_pages = 0, .actual = 0, .hint_ready = true,
	};
	u32 target;

	balloon_auto_init(&a, &params);
	tap_ok(!balloon_auto_decide(&a, &in, &target) && target == 0 && a.start_hint &&
	       a.reason == BALLOON_AUTO_HINT, "pressure with hints released: a hint run, no inflate");
	in.now_ms = 600;
	tap_ok(balloon_auto_decide(&a, &in, &target) && target == 64 && !a.start_hint,
	       "pressure again within relax_ms: inflate");
	in.now_ms = 1200;
	in.num_pages = in.actual = 64;
	tap_ok(!balloon_auto_decide(&a, &in, &target) && a.start_hint,
	       "relax_ms after the last run: another run first");
	in.hint_ready = false;
	in.now_ms = 2400;
	tap_ok(balloon_auto_decide(&a, &in, &target) && target == 128 && !a.start_hint,
	       "no hint run possible: inflate");
}

static void test_names(void)
{
	unsigned int r, named = 0;

	for (r = 0; r < BALLOON_AUTO_NR_REASONS; r++)
		named += balloon_auto_reason_name(r) != NULL &&
			 balloon_auto_reason_name(r)[0] != 'u';
	tap_eq(named, BALLOON_AUTO_NR_REASONS, "every reason has a name");
	tap_ok(balloon_auto_reason_name(BALLOON_AUTO_NR_REASONS + 3)[0] == 'u',
	       "an out-of-range reason is 'unknown'");
}

int main(void)
{
	tap_start();
	test_pressure_steps();
	test_limits();
	test_guest_deflates();
	test_relax();
	test_hint_first();
	test_names();
	return tap_done();
}
