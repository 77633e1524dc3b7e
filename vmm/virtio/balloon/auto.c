// SPDX-License-Identifier: MIT
/*
 * Auto-ballooning, the policy (auto.h): no clocks, no I/O, no
 * device; the caller brings the numbers and applies the target.
 */
#include "auto.h"

static const char *const balloon_auto_reasons[BALLOON_AUTO_NR_REASONS] = {
	[BALLOON_AUTO_NONE] = "none",
	[BALLOON_AUTO_PRESSURE] = "pressure",
	[BALLOON_AUTO_WAIT_GUEST] = "wait_guest",
	[BALLOON_AUTO_AT_MIN] = "at_min",
	[BALLOON_AUTO_NO_AVAIL] = "no_avail",
	[BALLOON_AUTO_BACKOFF] = "backoff",
	[BALLOON_AUTO_GUEST_DEFLATED] = "guest_deflated",
	[BALLOON_AUTO_RELAX] = "relax",
	[BALLOON_AUTO_HINT] = "hint",
};

const char *balloon_auto_reason_name(enum balloon_auto_reason r)
{
	return (unsigned int)r < BALLOON_AUTO_NR_REASONS ? balloon_auto_reasons[r] : "unknown";
}

void balloon_auto_init(struct balloon_auto *a, const struct balloon_auto_params *p)
{
	*a = (struct balloon_auto){ .p = *p };
}

/* Record a decision; a move restarts the clock for the next step down. */
static bool balloon_auto_note(struct balloon_auto *a, const struct balloon_auto_input *in,
			      enum balloon_auto_reason r, u32 target)
{
	bool moved = target != in->num_pages;

	a->reason = r;
	a->count[r]++;
	if (moved)
		a->last_move_ms = in->now_ms;
	return moved;
}

/* Pressure: how far the target may rise now, and why not if it may not. */
static enum balloon_auto_reason balloon_auto_raise(const struct balloon_auto *a,
						   const struct balloon_auto_input *in,
						   u32 *target)
{
	const struct balloon_auto_params *p = &a->p;
	u64 cap = p->ram_pages > p->min_pages ? p->ram_pages - p->min_pages : 0;
	u64 step = p->step_pages;

	if (in->now_ms < a->backoff_until_ms)
		return BALLOON_AUTO_BACKOFF;
	if (in->hint_ready && (!a->last_hint_ms || in->now_ms - a->last_hint_ms >= p->relax_ms))
		return BALLOON_AUTO_HINT;
	/* One step at a time: the guest first finishes the last one. */
	if (in->actual < in->num_pages)
		return BALLOON_AUTO_WAIT_GUEST;
	if (in->num_pages >= cap)
		return BALLOON_AUTO_AT_MIN;
	step = MIN(step, cap - in->num_pages);
	/* Never ask for more than the guest says it can spare. */
	if (in->avail_known) {
		if (!in->avail_pages)
			return BALLOON_AUTO_NO_AVAIL;
		step = MIN(step, in->avail_pages);
	}
	*target = in->num_pages + step;
	return BALLOON_AUTO_PRESSURE;
}

bool balloon_auto_decide(struct balloon_auto *a, const struct balloon_auto_input *in,
			 u32 *target)
{
	enum balloon_auto_reason r;
	u64 quiet_since;
	bool moved;

	*target = in->num_pages;
	a->start_hint = false;
	if (!a->started) {
		a->started = true;
		a->last_actual = in->actual;
		a->last_target = in->num_pages;
		a->operator_ms = in->now_ms;
	}
	/* The operator set a target of its own: it holds for auto_relax at least. */
	if (in->num_pages != a->last_target)
		a->operator_ms = in->now_ms;
	if (in->actual < a->last_actual && in->actual < in->num_pages) {
		/*
		 * The driver gave pages back while the target stood above them:
		 * the guest needed them (deflate on OOM, its shrinker). Follow
		 * it down, or the next config interrupt would have the driver
		 * inflate straight back, and leave it alone for a while.
		 */
		a->backoff_until_ms = in->now_ms + a->p.backoff_ms;
		*target = in->actual;
		moved = balloon_auto_note(a, in, BALLOON_AUTO_GUEST_DEFLATED, *target);
	} else if (in->pressure) {
		a->last_pressure_ms = in->now_ms;
		r = balloon_auto_raise(a, in, target);
		if (r == BALLOON_AUTO_HINT) {
			a->start_hint = true;
			a->last_hint_ms = in->now_ms;
		}
		moved = balloon_auto_note(a, in, r, *target);
	} else {
		/* Calm for relax_ms, and the guest done with the last step. */
		quiet_since = MAX(a->last_pressure_ms, a->operator_ms);
		moved = false;
		if (in->num_pages && in->actual == in->num_pages &&
		    in->now_ms - quiet_since >= a->p.relax_ms) {
			*target = in->num_pages - MIN(a->p.step_pages, (u64)in->num_pages);
			moved = balloon_auto_note(a, in, BALLOON_AUTO_RELAX, *target);
		}
	}
	a->last_actual = in->actual;
	a->last_target = *target;
	return moved;
}
