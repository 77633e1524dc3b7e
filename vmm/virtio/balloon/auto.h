/* SPDX-License-Identifier: MIT */
/*
 * Auto-ballooning, the policy: pure decisions on plain numbers, so every
 * rule has a unit test (tests/test_balloon_auto.c). The event wiring (PSI
 * trigger, tick, applying a target) is auto_run.c.
 *
 * The host raises the balloon target a step at a time while its memory is
 * under pressure, and once pressure has been gone for auto_relax lowers it
 * a step each time the guest has caught up. A target the operator sets
 * holds for auto_relax too. Where free page hints are released, pressure
 * first asks for a hint run (at most one per auto_relax): it takes the
 * guest's free memory without shrinking the guest. The guest's own pressure wins: when the driver gives
 * pages back by itself (deflate on OOM), the target follows it down and no
 * inflate is asked for until the back-off period has passed.
 */
#ifndef BALLAST_BALLOON_AUTO_H
#define BALLAST_BALLOON_AUTO_H

#include "../../compiler.h"

struct balloon_auto_params {
	u64 ram_pages;			/* guest RAM, 4 KiB pages */
	u64 min_pages;			/* guest memory the host never takes */
	u64 step_pages;			/* one move of the target */
	u64 relax_ms;			/* pressure-free time before stepping down */
	u64 backoff_ms;			/* no inflate for this long after a guest deflate */
};

enum balloon_auto_reason {
	BALLOON_AUTO_NONE,		/* nothing happened yet */
	BALLOON_AUTO_PRESSURE,		/* host pressure: target raised */
	BALLOON_AUTO_WAIT_GUEST,	/* pressure, but the guest has not caught up */
	BALLOON_AUTO_AT_MIN,		/* pressure, but the guest is at auto_min */
	BALLOON_AUTO_NO_AVAIL,		/* pressure, but the guest has nothing available */
	BALLOON_AUTO_BACKOFF,		/* pressure, but the guest deflated lately */
	BALLOON_AUTO_GUEST_DEFLATED,	/* the guest took pages back: target follows */
	BALLOON_AUTO_RELAX,		/* no pressure for a while: target lowered */
	BALLOON_AUTO_HINT,		/* pressure: a free page hint run first */
	BALLOON_AUTO_NR_REASONS,
};

/* Everything the policy sees at one decision. */
struct balloon_auto_input {
	u64 now_ms;			/* a monotonic clock */
	bool pressure;			/* the trigger fired since the last decision */
	u32 num_pages;			/* the target now */
	u32 actual;			/* the driver's balloon now */
	bool avail_known;		/* the guest reported its available memory */
	u64 avail_pages;		/* ... and this is it */
	bool hint_ready;		/* a hint run that releases pages can start */
};

struct balloon_auto {
	struct balloon_auto_params p;
	u64 last_pressure_ms;		/* 0: never */
	u64 last_move_ms;		/* the target's last change by the policy */
	u64 operator_ms;		/* the last target set by someone else */
	u64 backoff_until_ms;
	u64 last_hint_ms;		/* 0: never */
	bool start_hint;		/* this decision: start a hint run */
	u32 last_actual;		/* actual at the previous decision */
	u32 last_target;		/* the target after the previous decision */
	bool started;
	enum balloon_auto_reason reason;	/* why the target last moved, or did not */
	u64 count[BALLOON_AUTO_NR_REASONS];	/* decisions per reason */
};

void balloon_auto_init(struct balloon_auto *a, const struct balloon_auto_params *p);

/*
 * One decision: the target to set (in->num_pages when it stays), with
 * a->reason saying why. Returns true when the target moves.
 */
bool balloon_auto_decide(struct balloon_auto *a, const struct balloon_auto_input *in,
			 u32 *target);

/* "pressure", "wait_guest", ... */
const char *balloon_auto_reason_name(enum balloon_auto_reason r);

#endif
