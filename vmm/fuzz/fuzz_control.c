// SPDX-License-Identifier: MIT
/*
 * The control socket's request handling, control_handle_request(): any
 * bytes a client can send as one line, against a running balloon (stats and
 * free page hints negotiated) or none. Checked for every request:
 *
 *   - the reply is one compact JSON object on one line that fits the reply
 *     buffer, "ok" first; the return value agrees with "ok";
 *   - a refusal is exactly {"ok":false,"error":"<non-empty>"} and changed
 *     nothing (target, hint id);
 *   - an accepted balloon request set a target inside guest RAM, the one
 *     the reply reports.
 */
#include <jansson.h>

#include "../control.h"
#include "../virtio/balloon/balloon.h"
#include "../virtio/pfn.h"
#include "../tests/vq_driver.h"
#include "fuzz.h"

static const u64 layout[] = { 0, 16 * SZ_1M };
static struct guest_mem mem;
static struct virtio_device *vdev;

static void setup(void)
{
	struct balloon_config cfg;
	struct vqdrv d;

	fuzz_mem_init(&mem, layout, 1);
	balloon_config_init(&cfg);
	if (balloon_parse_opts("stats_interval=1s,free_page_hint=on,deflate_on_oom=on", &cfg,
			       NULL, 0))
		abort();
	vdev = balloon_create(&cfg, &mem, NULL);
	if (!vdev)
		abort();
	pthread_mutex_lock(&vdev->lock);
	vdev->ops->set_features(vdev, BIT(BALLOON_F_STATS_VQ) | BIT(BALLOON_F_FREE_PAGE_HINT));
	vqdrv_setup(&d, &vdev->vqs[2], &mem, 0x10000, 16, false, false);
	vqdrv_add_out(&d, 0x20000, 20);		/* a primed stats buffer */
	vdev->ops->activate(vdev);
	pthread_mutex_unlock(&vdev->lock);
}

static void check_reply(const char *reply, int ret, struct virtio_device *b,
			const struct balloon_state *before)
{
	size_t len = strnlen(reply, CONTROL_REPLY_MAX);
	struct balloon_state after;
	json_error_t e;
	json_t *obj, *ok;
	const char *first;
	void *it;

	fuzz_check(len < CONTROL_REPLY_MAX && len >= 2 && reply[len - 1] == '\n' &&
		   memchr(reply, '\n', len) == reply + len - 1, "reply is not one line");
	obj = json_loadb(reply, len - 1, JSON_REJECT_DUPLICATES, &e);
	fuzz_check(json_is_object(obj), "reply is not a JSON object: %s: %s", e.text, reply);
	it = json_object_iter(obj);
	first = it ? json_object_iter_key(it) : "";
	ok = json_object_get(obj, "ok");
	fuzz_check(!strcmp(first, "ok") && json_is_boolean(ok), "\"ok\" is not first: %s", reply);
	fuzz_check(!strncmp(reply, json_is_true(ok) ? "{\"ok\":true" : "{\"ok\":false", 9),
		   "reply not compact: %s", reply);
	fuzz_check(json_is_true(ok) == !ret, "returned %d, replied %s", ret, reply);
	if (b)
		balloon_get_state(b, &after);
	if (ret) {
		const char *err = json_string_value(json_object_get(obj, "error"));

		fuzz_check(err && *err && json_object_size(obj) == 2, "refusal malformed: %s", reply);
		fuzz_check(!b || (after.num_pages == before->num_pages &&
				  after.hint_cmd_id == before->hint_cmd_id),
			   "a refused request changed the device: %s", reply);
	} else if (b && json_object_get(obj, "num_pages") && !json_object_get(obj, "ram_mib")) {
		fuzz_check(after.num_pages <= mem.ram_size / PFN_SIZE &&
			   json_integer_value(json_object_get(obj, "num_pages")) == after.num_pages,
			   "balloon target %u, RAM %llu pages: %s", after.num_pages,
			   (unsigned long long)(mem.ram_size / PFN_SIZE), reply);
	}
	json_decref(obj);
}

int LLVMFuzzerTestOneInput(const u8 *data, size_t size);
int LLVMFuzzerTestOneInput(const u8 *data, size_t size)
{
	static char reply[CONTROL_REPLY_MAX];
	struct balloon_state before;
	struct virtio_device *b;
	int ret;

	if (!vdev)
		setup();
	if (!size)
		return 0;
	/* First byte: with the device or without; the rest is the line. */
	b = data[0] & 1 ? vdev : NULL;
	if (b)
		balloon_get_state(b, &before);
	memset(reply, 0x5a, sizeof(reply));
	ret = control_handle_request(b, (const char *)data + 1, size - 1, reply, sizeof(reply));
	check_reply(reply, ret, b, &before);
	return 0;
}
