// SPDX-License-Identifier: MIT
/*
 * Control requests: parse, validate every member, then act. Validation is
 * complete before anything changes, so a rejected request has no effect.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "control.h"
#include "virtio/balloon.h"
#include "virtio/pfn.h"

struct control_req {
	struct virtio_device *balloon;
	const struct json_object *obj;
	struct json_buf *reply;
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

/* An optional non-negative integer member; 1 if present, 0 if not. */
static int control_get_uint(struct control_req *r, const char *key, u64 *val)
{
	const struct json_member *m = json_get(r->obj, key);

	if (!m)
		return 0;
	if (m->type != JSON_NUMBER)
		return control_fail(r, "%s must be a number, not %s", key, json_type_name(m->type));
	if (!m->is_int)
		return control_fail(r, "%s must be an integer", key);
	if (m->integer < 0)
		return control_fail(r, "%s must not be negative", key);
	*val = m->integer;
	return 1;
}

static int control_need_balloon(struct control_req *r)
{
	if (!r->balloon)
		return control_fail(r, "no balloon device (start with --balloon)");
	return 0;
}

static int control_cmd_balloon(struct control_req *r)
{
	u64 ram_mib, size_mib = 0, target_mib = 0, pages;
	int has_size, has_target, ret;

	if (control_need_balloon(r))
		return -ENODEV;
	has_size = control_get_uint(r, "size_mib", &size_mib);
	if (has_size < 0)
		return has_size;
	has_target = control_get_uint(r, "target_mib", &target_mib);
	if (has_target < 0)
		return has_target;
	if (has_size == has_target)
		return control_fail(r, "give exactly one of size_mib and target_mib");
	ram_mib = r->balloon->mem->ram_size / SZ_1M;
	if (has_size) {
		if (size_mib > ram_mib)
			return control_fail(r, "size_mib %llu is larger than guest RAM (%llu MiB)",
					    (unsigned long long)size_mib,
					    (unsigned long long)ram_mib);
		pages = size_mib * PFN_PER_MIB;
	} else {
		if (target_mib > ram_mib)
			return control_fail(r, "target_mib %llu is larger than guest RAM (%llu MiB)",
					    (unsigned long long)target_mib,
					    (unsigned long long)ram_mib);
		pages = (r->balloon->mem->ram_size - target_mib * SZ_1M) / PFN_SIZE;
	}
	ret = balloon_set_target_pages(r->balloon, pages);
	if (ret)
		return control_fail(r, "cannot set the balloon target: %s", strerror(-ret));
	json_buf_printf(r->reply, ",\"num_pages\":%llu,\"size_mib\":%llu,\"target_mib\":%llu",
			(unsigned long long)pages, (unsigned long long)(pages / PFN_PER_MIB),
			(unsigned long long)(ram_mib - pages / PFN_PER_MIB));
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

static void control_features_json(struct json_buf *jb, const char *name, u64 bits)
{
	const char *sep = "";
	unsigned int bit;

	json_buf_printf(jb, ",\"%s\":[", name);
	for (bit = 0; bit < BALLOON_NR_FEATURES; bit++) {
		if (!(bits & BIT(bit)))
			continue;
		json_buf_printf(jb, "%s\"%s\"", sep, balloon_feature_name(bit));
		sep = ",";
	}
	json_buf_printf(jb, "]");
}

static void control_rss_json(struct json_buf *jb)
{
	long long kib = control_rss_kib();

	if (kib < 0)
		json_buf_printf(jb, ",\"rss_kib\":null");
	else
		json_buf_printf(jb, ",\"rss_kib\":%lld", kib);
}

static int control_cmd_query(struct control_req *r)
{
	struct json_buf *jb = r->reply;
	struct balloon_state st;

	control_rss_json(jb);
	if (!r->balloon) {
		json_buf_printf(jb, ",\"balloon\":false");
		return 0;
	}
	balloon_get_state(r->balloon, &st);
	json_buf_printf(jb, ",\"balloon\":true,\"ram_mib\":%llu,\"num_pages\":%u,\"actual\":%u,"
			"\"ballooned_pages\":%llu,\"balloon_mib\":%u,\"actual_mib\":%u,"
			"\"host_page_size\":%llu,\"features_ok\":%s,\"driver_ok\":%s,"
			"\"hint_cmd_id\":%u,\"poison_val\":%u,\"stats_interval_ms\":%llu",
			(unsigned long long)(st.ram_size / SZ_1M), st.num_pages, st.actual,
			(unsigned long long)st.ballooned_pages,
			(unsigned int)(st.num_pages / PFN_PER_MIB),
			(unsigned int)(st.actual / PFN_PER_MIB),
			(unsigned long long)st.host_page_size,
			st.features_ok ? "true" : "false", st.driver_ok ? "true" : "false",
			st.hint_cmd_id, st.poison_val, (unsigned long long)st.stats_interval_ms);
	control_features_json(jb, "features_offered", st.offered);
	control_features_json(jb, "features_accepted", st.accepted);
	json_buf_printf(jb, ",\"counters\":");
	balloon_metrics_json(&st.metrics, jb);
	return 0;
}

static int control_cmd_stats(struct control_req *r)
{
	struct json_buf *jb = r->reply;
	struct balloon_state bs;
	struct balloon_stats st;
	struct timespec now;
	const char *sep = "";
	unsigned int tag;

	if (control_need_balloon(r))
		return -ENODEV;
	balloon_get_state(r->balloon, &bs);
	if (!(bs.offered & BIT(BALLOON_F_STATS_VQ)))
		return control_fail(r, "stats are off (--balloon stats_interval=0)");
	if (!balloon_get_stats(r->balloon, &st)) {
		json_buf_printf(jb, ",\"updates\":0,\"age_ms\":null,\"stats\":{}");
		return 0;
	}
	clock_gettime(CLOCK_MONOTONIC, &now);
	json_buf_printf(jb, ",\"updates\":%llu,\"age_ms\":%llu,\"stats\":{",
			(unsigned long long)st.updates,
			(unsigned long long)(((u64)now.tv_sec * 1000000000ULL + now.tv_nsec -
					      st.updated_ns) / 1000000));
	for (tag = 0; tag < BALLOON_S_NR; tag++) {
		if (!(st.present & BIT(tag)))
			continue;
		json_buf_printf(jb, "%s\"%s\":%llu", sep, balloon_stat_name(tag),
				(unsigned long long)st.val[tag]);
		sep = ",";
	}
	json_buf_printf(jb, "}");
	return 0;
}

static int control_cmd_hint(struct control_req *r)
{
	const struct json_member *action = json_get(r->obj, "action");
	u32 id = 0;
	int ret;

	if (control_need_balloon(r))
		return -ENODEV;
	if (!action || action->type != JSON_STRING ||
	    (strcmp(action->string, "start") && strcmp(action->string, "stop")))
		return control_fail(r, "action must be \"start\" or \"stop\"");
	if (!strcmp(action->string, "start"))
		ret = balloon_hint_start(r->balloon, &id);
	else
		ret = balloon_hint_stop(r->balloon);
	if (ret == -ENODEV)
		return control_fail(r, "free page hinting not negotiated with the driver");
	if (ret)
		return control_fail(r, "hint: %s", strerror(-ret));
	json_buf_printf(r->reply, ",\"cmd_id\":%u", id);
	return 0;
}

struct control_cmd {
	const char *name;
	int (*fn)(struct control_req *r);
	const char *keys[3];		/* members allowed besides "cmd" */
};

static const struct control_cmd control_cmds[] = {
	{ "balloon", control_cmd_balloon, { "size_mib", "target_mib" } },
	{ "query", control_cmd_query, { NULL } },
	{ "stats", control_cmd_stats, { NULL } },
	{ "hint", control_cmd_hint, { "action" } },
};

static const struct control_cmd *control_find_cmd(struct control_req *r)
{
	const struct json_member *cmd = json_get(r->obj, "cmd");
	size_t i;

	if (!cmd) {
		r->err = "missing \"cmd\"";
		return NULL;
	}
	if (cmd->type != JSON_STRING) {
		r->err = "\"cmd\" must be a string";
		return NULL;
	}
	for (i = 0; i < ARRAY_SIZE(control_cmds); i++)
		if (!strcmp(cmd->string, control_cmds[i].name))
			return &control_cmds[i];
	control_fail(r, "unknown command \"%.64s\" (balloon, query, stats, hint)", cmd->string);
	return NULL;
}

/* Every member must be one the command knows: a typo must not be ignored. */
static int control_check_keys(struct control_req *r, const struct control_cmd *c)
{
	int i;
	size_t k;

	for (i = 0; i < r->obj->nr; i++) {
		const char *key = r->obj->members[i].key;
		bool known = !strcmp(key, "cmd");

		for (k = 0; k < ARRAY_SIZE(c->keys) && c->keys[k] && !known; k++)
			known = !strcmp(key, c->keys[k]);
		if (!known)
			return control_fail(r, "unknown member \"%.64s\" for %s", key, c->name);
	}
	return 0;
}

int control_handle_request(struct virtio_device *balloon, const char *line, size_t len,
			   struct json_buf *reply)
{
	struct json_object obj;		/* ~22 KiB, fine on any thread's stack */
	struct control_req r = { .balloon = balloon, .obj = &obj, .reply = reply };
	const struct control_cmd *c;
	const char *perr = NULL;
	int ret = -EINVAL;

	json_buf_printf(reply, "{\"ok\":true");
	if (json_parse_object(line, len, &obj, &perr)) {
		control_fail(&r, "not a JSON object: %s", perr);
		goto fail;
	}
	c = control_find_cmd(&r);
	if (!c || control_check_keys(&r, c))
		goto fail;
	ret = c->fn(&r);
	if (ret)
		goto fail;
	json_buf_printf(reply, "}\n");
	if (!reply->overflow)
		return 0;
	r.err = "reply too long";
	ret = -E2BIG;
fail:
	json_buf_init(reply, reply->buf, reply->size);
	json_buf_printf(reply, "{\"ok\":false,\"error\":");
	json_buf_string(reply, r.err ? r.err : "failed");
	json_buf_printf(reply, "}\n");
	return ret ? ret : -EINVAL;
}
