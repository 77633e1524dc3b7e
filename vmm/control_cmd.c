// SPDX-License-Identifier: MIT
/*
 * Control requests: parse, validate every member, then act. Validation is
 * complete before anything changes, so a rejected request has no effect.
 */
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "control.h"
#include "virtio/balloon/balloon.h"
#include "virtio/pci.h"
#include "virtio/pfn.h"

struct control_req {
	struct virtio_device *balloon;
	json_t *obj;			/* the request */
	json_t *reply;			/* members after "ok" */
	bool oom;			/* a reply member could not be built */
	const char *err;		/* static message, or ... */
	char errbuf[160];		/* ... one formatted here */
};

__attribute__((format(printf, 2, 3)))
static int control_fail(struct control_req *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->errbuf, sizeof(r->errbuf), fmt, ap);
	va_end(ap);
	r->err = r->errbuf;
	return -EINVAL;
}

/* Add a member to the reply; value is consumed, NULL (out of memory) remembered. */
static void control_set(struct control_req *r, const char *key, json_t *value)
{
	if (json_object_set_new(r->reply, key, value))
		r->oom = true;
}

static const char *control_type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "object";
	case JSON_ARRAY:
		return "array";
	case JSON_STRING:
		return "string";
	case JSON_INTEGER:
	case JSON_REAL:
		return "number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "boolean";
	default:
		return "null";
	}
}

/*
 * At most CONTROL_NAME_MAX bytes of a guest- or client-chosen name for an
 * error message, cut on a UTF-8 character boundary: jansson refuses to
 * build a string from invalid UTF-8, and half a character is invalid.
 */
#define CONTROL_NAME_MAX	64
static int control_clip(const char *s)
{
	size_t n = strlen(s);

	if (n <= CONTROL_NAME_MAX)
		return (int)n;
	n = CONTROL_NAME_MAX;
	while (n && ((u8)s[n] & 0xc0) == 0x80)
		n--;
	return (int)n;
}

/* An optional non-negative integer member; 1 if present, 0 if not. */
static int control_get_uint(struct control_req *r, const char *key, u64 *val)
{
	const json_t *m = json_object_get(r->obj, key);

	if (!m)
		return 0;
	if (!json_is_number(m))
		return control_fail(r, "%s must be a number, not %s", key, control_type_name(m));
	if (!json_is_integer(m))
		return control_fail(r, "%s must be an integer", key);
	if (json_integer_value(m) < 0)
		return control_fail(r, "%s must not be negative", key);
	*val = json_integer_value(m);
	return 1;
}

static int control_need_balloon(struct control_req *r)
{
	if (!r->balloon)
		return control_fail(r, "no balloon device (start with --balloon)");
	return 0;
}

/*
 * size_mib and target_mib keep the balloon within guest RAM; num_pages is
 * the raw config field, any u32 (the spec bounds it nowhere: a driver must
 * inflate what it can and live, R-4).
 */
static int control_cmd_balloon(struct control_req *r)
{
	u64 ram_mib, size_mib = 0, target_mib = 0, pages = 0;
	int has_size, has_target, has_pages;

	if (control_need_balloon(r))
		return -ENODEV;
	has_size = control_get_uint(r, "size_mib", &size_mib);
	if (has_size < 0)
		return has_size;
	has_target = control_get_uint(r, "target_mib", &target_mib);
	if (has_target < 0)
		return has_target;
	has_pages = control_get_uint(r, "num_pages", &pages);
	if (has_pages < 0)
		return has_pages;
	if (has_size + has_target + has_pages != 1)
		return control_fail(r, "give exactly one of size_mib, target_mib and num_pages");
	ram_mib = r->balloon->mem->ram_size / SZ_1M;
	if (has_pages && pages > UINT32_MAX)
		return control_fail(r, "num_pages %llu does not fit in 32 bits",
				    (unsigned long long)pages);
	if (has_size && size_mib > ram_mib)
		return control_fail(r, "size_mib %llu is larger than guest RAM (%llu MiB)",
				    (unsigned long long)size_mib, (unsigned long long)ram_mib);
	if (has_target && target_mib > ram_mib)
		return control_fail(r, "target_mib %llu is larger than guest RAM (%llu MiB)",
				    (unsigned long long)target_mib, (unsigned long long)ram_mib);
	if (has_size)
		pages = size_mib * PFN_PER_MIB;
	else if (has_target)
		pages = (r->balloon->mem->ram_size - target_mib * SZ_1M) / PFN_SIZE;
	balloon_set_num_pages(r->balloon, pages);
	control_set(r, "num_pages", json_integer(pages));
	control_set(r, "size_mib", json_integer(pages / PFN_PER_MIB));
	/* Negative when num_pages asks for more than the guest has. */
	control_set(r, "target_mib",
		    json_integer((json_int_t)ram_mib - (json_int_t)(pages / PFN_PER_MIB)));
	return 0;
}

/* The VMM's resident set in KiB, from smaps_rollup (status as a fallback). */
static long long control_rss_kib(void)
{
	static const struct {
		const char *path, *key;
	} src[] = {
		{ "/proc/self/smaps_rollup", "Rss:" },
		{ "/proc/self/status", "VmRSS:" },
	};
	char line[256];
	long long kib = -1;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(src) && kib < 0; i++) {
		FILE *f = fopen(src[i].path, "re");

		if (!f)
			continue;
		while (fgets(line, sizeof(line), f)) {
			if (!strncmp(line, src[i].key, strlen(src[i].key)) &&
			    sscanf(line + strlen(src[i].key), "%lld", &kib) == 1)
				break;
			kib = -1;
		}
		fclose(f);
	}
	return kib;
}

static void control_features_json(struct control_req *r, const char *name, u64 bits)
{
	json_t *names = json_array();
	unsigned int bit;

	for (bit = 0; bit < BALLOON_NR_FEATURES; bit++)
		if ((bits & BIT(bit)) && names &&
		    json_array_append_new(names, json_string(balloon_feature_name(bit))))
			r->oom = true;
	control_set(r, name, names);
}

/*
 * The transport and every ring as they stand: what a post-mortem of a
 * balloon that stopped moving needs (a kick or an interrupt lost shows as
 * indices that disagree).
 */
static void control_transport_json(struct control_req *r)
{
	struct virtio_device *vdev = r->balloon;
	struct virtq_snapshot s[VIRTIO_MAX_QUEUES];
	struct virtio_pci_stats ps;
	unsigned int i, n = MIN(vdev->ops->nr_queues(vdev), (unsigned int)VIRTIO_MAX_QUEUES);
	json_t *queues = json_array();
	u32 pba = 0;
	int have_pci;

	pthread_mutex_lock(&vdev->lock);
	have_pci = virtio_pci_get_stats(vdev, &ps, &pba);
	for (i = 0; i < n; i++)
		virtq_snapshot(&vdev->vqs[i], &s[i]);
	pthread_mutex_unlock(&vdev->lock);

	if (!have_pci)
		control_set(r, "transport",
			    json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
				      "notifies", (json_int_t)ps.notifies,
				      "mmio_notifies", (json_int_t)ps.mmio_notifies,
				      "irqs", (json_int_t)ps.irqs,
				      "irqs_pending", (json_int_t)ps.irqs_pending,
				      "intx", (json_int_t)ps.intx,
				      "bad_access", (json_int_t)ps.bad_access,
				      "queue_errors", (json_int_t)ps.queue_errors,
				      "msix_pba", (json_int_t)pba));
	for (i = 0; i < n && queues; i++) {
		json_t *q = json_pack("{s:i, s:b, s:b, s:b, s:i, s:i, s:i, s:i, s:I, s:I, s:I, s:I}",
				      "index", (int)i, "ready", s[i].ready,
				      "broken", s[i].broken, "event_idx", s[i].event_idx,
				      "size", s[i].size, "last_avail_idx", s[i].last_avail_idx,
				      "used_idx", s[i].used_idx,
				      "signalled_used", s[i].signalled_used,
				      "chains", (json_int_t)s[i].stats.chains,
				      "bad_chains", (json_int_t)s[i].stats.bad_chains,
				      "notifies_sent", (json_int_t)s[i].stats.notifies_sent,
				      "notifies_suppressed",
				      (json_int_t)s[i].stats.notifies_suppressed);

		/* The driver's side, read live; absent before the ring exists. */
		if (q && s[i].rings &&
		    json_object_update_new(q, json_pack("{s:i, s:i, s:i, s:i}",
							"avail_idx", s[i].avail_idx,
							"avail_flags", s[i].avail_flags,
							"used_event", s[i].used_event,
							"avail_event", s[i].avail_event)))
			r->oom = true;
		if (!q || json_array_append_new(queues, q))
			r->oom = true;
	}
	control_set(r, "queues", queues);
}

static int control_cmd_query(struct control_req *r)
{
	long long kib = control_rss_kib();
	struct balloon_state st;
	json_t *auto_json, *ref_json;

	control_set(r, "rss_kib", kib < 0 ? json_null() : json_integer(kib));
	control_set(r, "balloon", json_boolean(r->balloon));
	if (!r->balloon)
		return 0;
	balloon_get_state(r->balloon, &st);
	control_set(r, "ram_mib", json_integer(st.ram_size / SZ_1M));
	control_set(r, "num_pages", json_integer(st.num_pages));
	control_set(r, "actual", json_integer(st.actual));
	control_set(r, "ballooned_pages", json_integer(st.ballooned_pages));
	control_set(r, "balloon_mib", json_integer(st.num_pages / PFN_PER_MIB));
	control_set(r, "actual_mib", json_integer(st.actual / PFN_PER_MIB));
	control_set(r, "host_page_size", json_integer(st.host_page_size));
	control_set(r, "features_ok", json_boolean(st.features_ok));
	control_set(r, "driver_ok", json_boolean(st.driver_ok));
	control_set(r, "needs_reset", json_boolean(st.needs_reset));
	control_set(r, "hint_cmd_id", json_integer(st.hint_cmd_id));
	control_set(r, "poison_val", json_integer(st.poison_val));
	control_set(r, "stats_interval_ms", json_integer(st.stats_interval_ms));
	control_features_json(r, "features_offered", st.offered);
	control_features_json(r, "features_accepted", st.accepted);
	control_set(r, "counters", balloon_metrics_json(&st.metrics));
	auto_json = balloon_auto_json(r->balloon);
	control_set(r, "auto", auto_json ? auto_json : json_null());
	ref_json = balloon_referee_json(r->balloon);
	control_set(r, "referee", ref_json ? ref_json : json_null());
	control_transport_json(r);
	return 0;
}

static int control_cmd_stats(struct control_req *r)
{
	struct balloon_state bs;
	struct balloon_stats st;
	struct timespec now;
	unsigned int tag;
	json_t *vals;

	if (control_need_balloon(r))
		return -ENODEV;
	balloon_get_state(r->balloon, &bs);
	if (!(bs.offered & BIT(BALLOON_F_STATS_VQ)))
		return control_fail(r, "stats are off (--balloon stats_interval=0)");
	if (!balloon_get_stats(r->balloon, &st)) {
		control_set(r, "updates", json_integer(0));
		control_set(r, "age_ms", json_null());
		control_set(r, "stats", json_object());
		return 0;
	}
	clock_gettime(CLOCK_MONOTONIC, &now);
	control_set(r, "updates", json_integer(st.updates));
	control_set(r, "age_ms", json_integer(((u64)now.tv_sec * 1000000000ULL + now.tv_nsec -
						st.updated_ns) / 1000000));
	vals = json_object();
	for (tag = 0; tag < BALLOON_S_NR && vals; tag++)
		if ((st.present & BIT(tag)) &&
		    json_object_set_new(vals, balloon_stat_name(tag), json_integer(st.val[tag])))
			r->oom = true;
	control_set(r, "stats", vals);
	return 0;
}

static int control_hint_stop(struct virtio_device *vdev, u32 *id)
{
	(void)id;
	return balloon_hint_stop(vdev);
}

static int control_hint_done(struct virtio_device *vdev, u32 *id)
{
	(void)id;
	return balloon_hint_done_now(vdev);
}

/* Each hint action, and what the device's refusal (-EBUSY) of it means. */
static const struct control_hint_action {
	const char *name;
	int (*act)(struct virtio_device *vdev, u32 *id);
	const char *busy;
} control_hint_actions[] = {
	{ "start", balloon_hint_start, NULL },
	{ "stop", control_hint_stop, NULL },
	{ "done", control_hint_done, "a run awaits its release (hint_release=on): DONE follows it" },
};

static int control_cmd_hint(struct control_req *r)
{
	const char *action = json_string_value(json_object_get(r->obj, "action"));
	const struct control_hint_action *a = NULL;
	u32 id = 0;
	size_t i;
	int ret;

	if (control_need_balloon(r))
		return -ENODEV;
	for (i = 0; action && i < ARRAY_SIZE(control_hint_actions); i++)
		if (!strcmp(action, control_hint_actions[i].name))
			a = &control_hint_actions[i];
	if (!a)
		return control_fail(r, "action must be \"start\", \"stop\" or \"done\"");
	ret = a->act(r->balloon, &id);
	if (ret == -ENODEV)
		return control_fail(r, "free page hinting not negotiated with the driver");
	if (ret == -EBUSY && a->busy)
		return control_fail(r, "hint: %s", a->busy);
	if (ret)
		return control_fail(r, "hint: %s", strerror(-ret));
	control_set(r, "cmd_id", json_integer(id));
	return 0;
}

#define CONTROL_STRESS_MAX_NOTIFIES	1000

/*
 * The device's stress at a moment a test picks: "config_notify" (count
 * interrupts, 1..1000, with nothing changed) or "needs_reset" (the
 * DEVICE_NEEDS_RESET bit and its notification). query's needs_reset and
 * counters.device_resets show what the driver did about it.
 */
static int control_cmd_stress(struct control_req *r)
{
	const char *action = json_string_value(json_object_get(r->obj, "action"));
	u64 count = 1;
	int has_count, ret;

	if (control_need_balloon(r))
		return -ENODEV;
	if (!action || (strcmp(action, "config_notify") && strcmp(action, "needs_reset")))
		return control_fail(r, "action must be \"config_notify\" or \"needs_reset\"");
	has_count = control_get_uint(r, "count", &count);
	if (has_count < 0)
		return has_count;
	if (has_count && strcmp(action, "config_notify"))
		return control_fail(r, "count is for config_notify only");
	if (!count || count > CONTROL_STRESS_MAX_NOTIFIES)
		return control_fail(r, "count must be 1..%d", CONTROL_STRESS_MAX_NOTIFIES);
	if (!strcmp(action, "config_notify"))
		ret = balloon_stress_config_notify(r->balloon, count);
	else
		ret = balloon_stress_needs_reset(r->balloon);
	if (ret == -ENODEV)
		return control_fail(r, "the driver is not running (no DRIVER_OK): nothing to stress");
	if (ret == -EOPNOTSUPP)
		return control_fail(r, "needs_reset: no transport with a device status to set it in");
	if (ret)
		return control_fail(r, "stress: %s", strerror(-ret));
	control_set(r, "action", json_string(action));
	if (has_count || !strcmp(action, "config_notify"))
		control_set(r, "count", json_integer(count));
	return 0;
}

struct control_cmd {
	const char *name;
	int (*fn)(struct control_req *r);
	const char *keys[3];		/* members allowed besides "cmd" */
};

static const struct control_cmd control_cmds[] = {
	{ "balloon", control_cmd_balloon, { "size_mib", "target_mib", "num_pages" } },
	{ "query", control_cmd_query, { NULL } },
	{ "stats", control_cmd_stats, { NULL } },
	{ "hint", control_cmd_hint, { "action" } },
	{ "stress", control_cmd_stress, { "action", "count" } },
};

static const struct control_cmd *control_find_cmd(struct control_req *r)
{
	const json_t *cmd = json_object_get(r->obj, "cmd");
	const char *name = json_string_value(cmd);
	size_t i;

	if (!cmd) {
		r->err = "missing \"cmd\"";
		return NULL;
	}
	if (!name) {
		r->err = "\"cmd\" must be a string";
		return NULL;
	}
	for (i = 0; i < ARRAY_SIZE(control_cmds); i++)
		if (!strcmp(name, control_cmds[i].name))
			return &control_cmds[i];
	control_fail(r, "unknown command \"%.*s\" (balloon, query, stats, hint, stress)",
		     control_clip(name), name);
	return NULL;
}

/* Every member must be one the command knows: a typo must not be ignored. */
static int control_check_keys(struct control_req *r, const struct control_cmd *c)
{
	const char *key;
	json_t *val __unused;
	size_t k;

	json_object_foreach(r->obj, key, val) {
		bool known = !strcmp(key, "cmd");

		for (k = 0; k < ARRAY_SIZE(c->keys) && c->keys[k] && !known; k++)
			known = !strcmp(key, c->keys[k]);
		if (!known)
			return control_fail(r, "unknown member \"%.*s\" for %s", control_clip(key),
					    key, c->name);
	}
	return 0;
}

/*
 * Strict decoding: one object, nothing after it, no duplicate keys (a
 * request saying two things must not mean either), no NUL anywhere.
 */
static json_t *control_parse(struct control_req *r, const char *line, size_t len)
{
	json_error_t e;
	json_t *obj;

	if (memchr(line, '\0', len)) {
		r->err = "not a JSON object: NUL byte in the request";
		return NULL;
	}
	obj = json_loadb(line, len, JSON_REJECT_DUPLICATES, &e);
	if (!obj) {
		control_fail(r, "not a JSON object: %s (line %d, column %d)", e.text, e.line,
			     e.column);
		return NULL;
	}
	if (!json_is_object(obj)) {
		control_fail(r, "not a JSON object: an %s", control_type_name(obj));
		json_decref(obj);
		return NULL;
	}
	return obj;
}

/*
 * The error as a JSON string. Messages quote the client's input (jansson's
 * "near '...'", clipped names) and vsnprintf() may cut a character in two;
 * jansson refuses invalid UTF-8, so such a message goes out with every
 * non-ASCII byte as '?' rather than not at all.
 */
static json_t *control_error_string(const char *msg)
{
	char ascii[sizeof(((struct control_req *)0)->errbuf)];
	json_t *s = json_string(msg);
	size_t i;

	if (s)
		return s;
	snprintf(ascii, sizeof(ascii), "%s", msg);
	for (i = 0; ascii[i]; i++)
		if ((u8)ascii[i] >= 0x80)
			ascii[i] = '?';
	return json_string(ascii);
}

/* {"ok":...} and the members, compact, one line; -E2BIG if it does not fit. */
static int control_dump(json_t *reply, char *buf, size_t size)
{
	size_t n;

	if (size < 2)
		return -E2BIG;
	n = json_dumpb(reply, buf, size - 2, JSON_COMPACT);
	if (!n || n > size - 2)
		return -E2BIG;
	buf[n] = '\n';
	buf[n + 1] = '\0';
	return 0;
}

int control_handle_request(struct virtio_device *balloon, const char *line, size_t len,
			   char *reply, size_t size)
{
	struct control_req r = { .balloon = balloon };
	const struct control_cmd *c;
	json_t *failed;
	int ret = -EINVAL;

	r.reply = json_object();
	if (!r.reply || json_object_set_new(r.reply, "ok", json_true())) {
		r.err = "out of memory";
		ret = -ENOMEM;
		goto fail;
	}
	r.obj = control_parse(&r, line, len);
	if (!r.obj)
		goto fail;
	c = control_find_cmd(&r);
	if (!c || control_check_keys(&r, c))
		goto fail;
	ret = c->fn(&r);
	if (ret)
		goto fail;
	if (r.oom) {
		r.err = "out of memory";
		ret = -ENOMEM;
		goto fail;
	}
	ret = control_dump(r.reply, reply, size);
	if (!ret)
		goto out;
	r.err = "reply too long";
fail:
	failed = json_pack("{s:b, s:o}", "ok", 0, "error",
			   control_error_string(r.err ? r.err : "failed"));
	if (!failed || control_dump(failed, reply, size))
		snprintf(reply, size, "{\"ok\":false,\"error\":\"out of memory\"}\n");
	json_decref(failed);
	if (!ret)
		ret = -EINVAL;
out:
	json_decref(r.obj);
	json_decref(r.reply);
	return ret;
}
