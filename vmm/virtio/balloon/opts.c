// SPDX-License-Identifier: MIT
/*
 * --balloon option parsing, Cloud Hypervisor style: comma-separated
 * key=value pairs, sizes with K/M/G/T suffixes, switches on|off.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util.h"
#include "../pfn.h"

#define BALLOON_MAX_INTERVAL_MS		(24ULL * 3600 * 1000)
/*
 * Linux waits for each ack uninterruptibly; its hung-task watchdog speaks
 * after 120 s of a balloon worker stuck: a hold stays well below.
 */
#define BALLOON_MAX_HOLD_MS		60000

const char balloon_opts_help[] =
"  --balloon size=256M,deflate_on_oom=on,free_page_reporting=on,free_page_hint=on,\n"
"            hint_release=on,must_tell_host=on,stats_interval=1s,page_poison=on\n"
"                       virtio-balloon; every key optional, switches on|off\n"
"                       (default off). size: balloon at boot (K/M/G/T, 4 KiB\n"
"                       multiple, at most the RAM size). stats_interval: how\n"
"                       often to ask for guest stats (10ms, 500ms, 1s: any\n"
"                       number of ms, a small one a stats storm that a driver\n"
"                       must answer and keep ballooning; 0 = no STATS_VQ).\n"
"                       page_poison: offer PAGE_POISON; a non-zero\n"
"                       poison value keeps reported pages resident.\n"
"                       free_page_hint: when the driver ends a run, every vCPU\n"
"                       stops, KVM's dirty log says which hinted pages were\n"
"                       written since the run began (D-12), and the rest go\n"
"                       back to the host before DONE; hint_release=off keeps\n"
"                       them all.\n"
"  --balloon auto=on,auto_min=SIZE,auto_step=64M,auto_stall=100ms,auto_window=1s,\n"
"            auto_relax=10s,auto_backoff=30s\n"
"                       auto-ballooning (needs stats_interval): on host memory\n"
"                       pressure (a PSI trigger: auto_stall of \"some\" stall\n"
"                       within auto_window, on the VMM's own cgroup v2 or the\n"
"                       system's) raise the target by auto_step, never leaving\n"
"                       the guest less than auto_min (default a quarter of\n"
"                       RAM) nor taking more than it reports available; after\n"
"                       auto_relax without pressure lower it a step. A guest\n"
"                       that deflates by itself is followed and left alone for\n"
"                       auto_backoff. With free_page_hint, pressure starts a\n"
"                       hint run first (at most one per auto_relax).\n"
"  --balloon referee=on,hold_inflate_ms=N,hold_deflate_ms=N,hold_report_ms=N,\n"
"            hold_hint_ms=N,hold_done_ms=N,ack_order=fifo|reverse\n"
"                       driver-side conformance, for testing guest drivers.\n"
"                       referee: read KVM's dirty log at every inflate,\n"
"                       deflate and free page report taken and acked, and\n"
"                       count the pages that broke a driver duty (query's\n"
"                       \"referee\"): R-12 written between an inflate taken\n"
"                       and acked, R-13 deflated before its inflate was acked,\n"
"                       R-10 (with must_tell_host) written before its deflate\n"
"                       was acked, R-9 written in the balloon with no deflate,\n"
"                       R-7 taken at the target without deflate_on_oom, R-38\n"
"                       written between a report taken and acked. Not with\n"
"                       free_page_hint's hint_release (one dirty log).\n"
"                       hold_inflate_ms, hold_deflate_ms, hold_report_ms,\n"
"                       hold_hint_ms: ack each inflate, deflate, free page\n"
"                       report or hint page buffer N ms (0..60000, default 0)\n"
"                       after taking it, as a device may use buffers when it\n"
"                       likes: the window R-12 (R-10, R-38) forbids the driver\n"
"                       to touch the pages in grows to N; a driver must wait for\n"
"                       each ack it needs and not stall the rest meanwhile.\n"
"                       hold_done_ms: DONE N ms (0..60000) after the driver's\n"
"                       STOP, as a device may take its time with the hints:\n"
"                       the driver's hinted blocks stay out meanwhile. A new\n"
"                       run (hint start) before then ends the wait, no DONE.\n"
"                       ack_order=reverse: requests held on one queue go used\n"
"                       newest first (once the oldest is due, all of them), as\n"
"                       a device may use buffers in any order; each request\n"
"                       must still wait for its own ack (R-12, R-13, R-10).\n"
"                       Linux has one inflate or deflate and one report out\n"
"                       at a time: only its hint buffers, or a driver that\n"
"                       batches, see the order.\n"
"                       The referee also counts protocol duties broken at the\n"
"                       moment it sees them: stats R-17, R-20, R-22; free page\n"
"                       hint R-23, R-24, R-25; poison_val R-34, R-35. Those\n"
"                       with no deadline (R-14, R-18, R-19, R-28) it does not\n"
"                       count: query's referee shows actual, balloon_pages,\n"
"                       stats_* and hint_* for a test to await with a bound.\n";

void balloon_config_init(struct balloon_config *cfg)
{
	*cfg = (struct balloon_config){
		.hint_release = true,
		.release_hold_ms = BALLOON_RELEASE_HOLD_MS,
		.auto_min = BALLOON_AUTO_MIN_DEFAULT,
		.auto_step = 64 * SZ_1M,
		.auto_stall_ms = 100,
		.auto_window_ms = 1000,
		.auto_relax_ms = 10000,
		.auto_backoff_ms = 30000,
	};
}

/* Digits, then an optional unit; *rest points after the digits. */
static int balloon_parse_u64(const char *s, u64 *val, const char **rest)
{
	u64 v = 0;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (v > (UINT64_MAX - (*s - '0')) / 10)
			return -EINVAL;
		v = v * 10 + (*s - '0');
	}
	*val = v;
	*rest = s;
	return 0;
}

int balloon_parse_size(const char *s, u64 *bytes)
{
	static const char units[] = "KMGT";
	const char *rest, *u;
	u64 v, mult = 1;

	if (balloon_parse_u64(s, &v, &rest))
		return -EINVAL;
	if (*rest) {
		u = strchr(units, *rest >= 'a' ? *rest - ('a' - 'A') : *rest);
		if (!u || !*u || rest[1])
			return -EINVAL;
		mult = 1ULL << (10 * (u - units + 1));
	}
	if (v > UINT64_MAX / mult)
		return -EINVAL;
	*bytes = v * mult;
	return 0;
}

int balloon_parse_interval(const char *s, u64 *ms)
{
	const char *rest;
	u64 v;

	if (balloon_parse_u64(s, &v, &rest))
		return -EINVAL;
	if (!strcmp(rest, "ms"))
		;
	else if (!*rest || !strcmp(rest, "s"))
		v = v > BALLOON_MAX_INTERVAL_MS ? v : v * 1000;
	else
		return -EINVAL;
	if (v > BALLOON_MAX_INTERVAL_MS)
		return -EINVAL;
	*ms = v;
	return 0;
}

__attribute__((format(printf, 3, 4)))
static int balloon_opt_error(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (errlen)
		vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

enum balloon_opt_kind { OPT_SIZE, OPT_SWITCH, OPT_INTERVAL, OPT_HOLD_MS, OPT_ORDER };

struct balloon_opt {
	const char *key;
	enum balloon_opt_kind kind;
	size_t offset;
};

#define OPT(k, kind, field) { k, kind, offsetof(struct balloon_config, field) }
static const struct balloon_opt balloon_opts[] = {
	OPT("size", OPT_SIZE, size),
	OPT("deflate_on_oom", OPT_SWITCH, deflate_on_oom),
	OPT("free_page_reporting", OPT_SWITCH, free_page_reporting),
	OPT("free_page_hint", OPT_SWITCH, free_page_hint),
	OPT("hint_release", OPT_SWITCH, hint_release),
	OPT("must_tell_host", OPT_SWITCH, must_tell_host),
	OPT("page_poison", OPT_SWITCH, page_poison),
	OPT("stats_interval", OPT_INTERVAL, stats_interval_ms),
	OPT("auto", OPT_SWITCH, auto_on),
	OPT("auto_min", OPT_SIZE, auto_min),
	OPT("auto_step", OPT_SIZE, auto_step),
	OPT("auto_stall", OPT_INTERVAL, auto_stall_ms),
	OPT("auto_window", OPT_INTERVAL, auto_window_ms),
	OPT("auto_relax", OPT_INTERVAL, auto_relax_ms),
	OPT("auto_backoff", OPT_INTERVAL, auto_backoff_ms),
	OPT("referee", OPT_SWITCH, referee),
	OPT("hold_inflate_ms", OPT_HOLD_MS, hold_inflate_ms),
	OPT("hold_deflate_ms", OPT_HOLD_MS, hold_deflate_ms),
	OPT("hold_report_ms", OPT_HOLD_MS, hold_report_ms),
	OPT("hold_hint_ms", OPT_HOLD_MS, hold_hint_ms),
	OPT("hold_done_ms", OPT_HOLD_MS, hold_done_ms),
	OPT("ack_order", OPT_ORDER, ack_reverse),
};
#undef OPT

/* "size, deflate_on_oom, ...": every key, for the unknown-option message. */
static const char *balloon_opt_keys(void)
{
	static char keys[512];
	size_t i, n = 0;

	for (i = 0; i < ARRAY_SIZE(balloon_opts) && n < sizeof(keys); i++)
		n += snprintf(keys + n, sizeof(keys) - n, "%s%s", i ? ", " : "",
			      balloon_opts[i].key);
	return keys;
}

static int balloon_set_opt(const struct balloon_opt *o, const char *val,
			   struct balloon_config *cfg, char *err, size_t errlen)
{
	void *field = (u8 *)cfg + o->offset;
	const char *rest;

	switch (o->kind) {
	case OPT_SIZE:
		if (balloon_parse_size(val, field))
			return balloon_opt_error(err, errlen,
				"--balloon: %s: '%s' is not a size (e.g. 256M)", o->key, val);
		if (*(u64 *)field % PFN_SIZE)
			return balloon_opt_error(err, errlen,
				"--balloon: %s: '%s' is not a multiple of 4 KiB", o->key, val);
		return 0;
	case OPT_SWITCH:
		if (strcmp(val, "on") && strcmp(val, "off"))
			return balloon_opt_error(err, errlen,
				"--balloon: %s: expected on or off, got '%s'", o->key, val);
		*(bool *)field = !strcmp(val, "on");
		return 0;
	case OPT_INTERVAL:
		if (balloon_parse_interval(val, field))
			return balloon_opt_error(err, errlen,
				"--balloon: %s: '%s' is not an interval (e.g. 1s, 500ms, 0 for off)",
				o->key, val);
		return 0;
	case OPT_HOLD_MS:
		if (balloon_parse_u64(val, field, &rest) || *rest ||
		    *(u64 *)field > BALLOON_MAX_HOLD_MS)
			return balloon_opt_error(err, errlen,
				"--balloon: %s: '%s' is not a number of milliseconds in 0..%d",
				o->key, val, BALLOON_MAX_HOLD_MS);
		return 0;
	case OPT_ORDER:
		if (strcmp(val, "fifo") && strcmp(val, "reverse"))
			return balloon_opt_error(err, errlen,
				"--balloon: %s: expected fifo or reverse, got '%s'", o->key, val);
		*(bool *)field = !strcmp(val, "reverse");
		return 0;
	}
	return -EINVAL;
}

int balloon_parse_opts(const char *opts, struct balloon_config *cfg, char *err, size_t errlen)
{
	char buf[512], *tok, *save = NULL;
	unsigned int seen = 0;
	size_t i;

	if (strlen(opts) >= sizeof(buf))
		return balloon_opt_error(err, errlen, "--balloon: option string too long");
	strcpy(buf, opts);
	if (!*buf)
		return 0;
	if (buf[0] == ',' || buf[strlen(buf) - 1] == ',' || strstr(buf, ",,"))
		return balloon_opt_error(err, errlen, "--balloon: empty option in '%s'", opts);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');

		if (!eq || eq == tok || !eq[1])
			return balloon_opt_error(err, errlen,
				"--balloon: '%s' is not key=value", tok);
		*eq = '\0';
		for (i = 0; i < ARRAY_SIZE(balloon_opts); i++)
			if (!strcmp(tok, balloon_opts[i].key))
				break;
		if (i == ARRAY_SIZE(balloon_opts))
			return balloon_opt_error(err, errlen, "--balloon: unknown option '%s' (%s)",
						 tok, balloon_opt_keys());
		if (seen & (1u << i))
			return balloon_opt_error(err, errlen,
				"--balloon: option '%s' given twice", tok);
		seen |= 1u << i;
		if (balloon_set_opt(&balloon_opts[i], eq + 1, cfg, err, errlen))
			return -EINVAL;
	}
	return 0;
}

int balloon_config_check(const struct balloon_config *cfg, u64 ram_size, char *err,
			 size_t errlen)
{
	if (cfg->size > ram_size)
		return balloon_opt_error(err, errlen,
			"--balloon: size %llu MiB is larger than guest RAM (%llu MiB)",
			(unsigned long long)(cfg->size / SZ_1M),
			(unsigned long long)(ram_size / SZ_1M));
	if (cfg->size / PFN_SIZE > UINT32_MAX)
		return balloon_opt_error(err, errlen, "--balloon: size above 16 TiB");
	if (cfg->referee && cfg->free_page_hint && cfg->hint_release)
		return balloon_opt_error(err, errlen,
			"--balloon: referee=on and free_page_hint's hint_release both need the dirty log: add hint_release=off");
	if (!cfg->auto_on)
		return 0;
	if (!cfg->stats_interval_ms)
		return balloon_opt_error(err, errlen,
			"--balloon: auto=on needs stats_interval: the guest's available memory bounds each step");
	if (cfg->auto_min != BALLOON_AUTO_MIN_DEFAULT && cfg->auto_min > ram_size)
		return balloon_opt_error(err, errlen,
			"--balloon: auto_min %llu MiB is larger than guest RAM (%llu MiB)",
			(unsigned long long)(cfg->auto_min / SZ_1M),
			(unsigned long long)(ram_size / SZ_1M));
	if (!cfg->auto_step || cfg->auto_step > ram_size)
		return balloon_opt_error(err, errlen,
			"--balloon: auto_step must be above 0 and at most the guest's RAM");
	/* The kernel's limits for a PSI trigger (psi.rst). */
	if (cfg->auto_window_ms < 500 || cfg->auto_window_ms > 10000)
		return balloon_opt_error(err, errlen,
			"--balloon: auto_window must be between 500ms and 10s");
	if (!cfg->auto_stall_ms || cfg->auto_stall_ms > cfg->auto_window_ms)
		return balloon_opt_error(err, errlen,
			"--balloon: auto_stall must be above 0 and at most auto_window");
	return 0;
}
