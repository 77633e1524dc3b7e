// SPDX-License-Identifier: MIT
/*
 * The control protocol: every command good and bad against a balloon in
 * fake guest RAM (a rejected request must change nothing), then the socket
 * itself served by the real I/O loop on a thread: permissions, several
 * clients at once, split and pipelined requests, over-long lines, the
 * client limit, and the `ctl` client's exit codes.
 */
#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "../control.h"
#include "../log.h"
#include "../memory.h"
#include "../virtio/balloon/balloon.h"
#include "tap.h"
#include "vq_driver.h"

#define RAM_MIB		64

static struct guest_mem mem;
static struct virtio_device *vdev;
static struct vqdrv stats_drv;
static char reply_buf[CONTROL_REPLY_MAX];
static json_t *reply;

/* Parse reply_buf[0..len) as the latest reply. */
static bool parse_reply(size_t len)
{
	json_decref(reply);
	reply = json_loadb(reply_buf, len, JSON_REJECT_DUPLICATES, NULL);
	return json_is_object(reply);
}

static int request_n(struct virtio_device *b, const char *line, size_t n)
{
	int ret = control_handle_request(b, line, n, reply_buf, sizeof(reply_buf));
	size_t len = strlen(reply_buf);

	if (!len || reply_buf[len - 1] != '\n' || strchr(reply_buf, '\n') != reply_buf + len - 1 ||
	    !parse_reply(len))
		printf("#   reply is not one JSON line: %s", reply_buf);
	return ret;
}

static int request(struct virtio_device *b, const char *line)
{
	return request_n(b, line, strlen(line));
}

static bool reply_ok(void)
{
	return json_is_true(json_object_get(reply, "ok"));
}

static s64 reply_int(const char *key)
{
	const json_t *m = json_object_get(reply, key);

	return json_is_integer(m) ? json_integer_value(m) : -1;
}

static const char *reply_str(const char *key)
{
	const char *s = json_string_value(json_object_get(reply, key));

	return s ? s : "";
}

static u32 num_pages(void)
{
	struct balloon_state st;

	balloon_get_state(vdev, &st);
	return st.num_pages;
}

static void driver_start(void);

static void setup_balloon(void)
{
	u64 pairs[] = { 0, RAM_MIB * SZ_1M };
	struct balloon_config cfg;
	void *ram = aligned_alloc(SZ_2M, RAM_MIB * SZ_1M);

	guest_mem_init_fake(&mem, ram, pairs, 1);
	balloon_config_init(&cfg);
	balloon_parse_opts("stats_interval=1s,deflate_on_oom=on", &cfg, NULL, 0);
	vdev = balloon_create(&cfg, &mem, NULL);
	if (!vdev) {
		printf("Bail out! no balloon\n");
		exit(1);
	}
	driver_start();
}

/* The driver's start: features, the stats queue, DRIVER_OK. */
static void driver_start(void)
{
	pthread_mutex_lock(&vdev->lock);
	vdev->ops->set_features(vdev, BIT(BALLOON_F_STATS_VQ));
	vqdrv_setup(&stats_drv, &vdev->vqs[2], &mem, 0x10000, 16, false, false);
	vdev->ops->activate(vdev);
	pthread_mutex_unlock(&vdev->lock);
}

static void test_balloon_cmd(void)
{
	static const char *const bad[] = {
		"{\"cmd\":\"balloon\",\"size_mib\":65}",
		"{\"cmd\":\"balloon\",\"size_mib\":-1}",
		"{\"cmd\":\"balloon\",\"size_mib\":1.5}",
		"{\"cmd\":\"balloon\",\"size_mib\":1e1}",
		"{\"cmd\":\"balloon\",\"size_mib\":\"16\"}",
		"{\"cmd\":\"balloon\",\"size_mib\":null}",
		"{\"cmd\":\"balloon\",\"size_mib\":99999999999999999999}",
		"{\"cmd\":\"balloon\",\"size_mib\":9223372036854775807}",
		"{\"cmd\":\"balloon\",\"target_mib\":65}",
		"{\"cmd\":\"balloon\",\"target_mib\":-5}",
		"{\"cmd\":\"balloon\",\"size_mib\":1,\"target_mib\":1}",
		"{\"cmd\":\"balloon\",\"size_mib\":1,\"num_pages\":1}",
		"{\"cmd\":\"balloon\",\"target_mib\":1,\"num_pages\":1}",
		"{\"cmd\":\"balloon\",\"num_pages\":4294967296}",
		"{\"cmd\":\"balloon\",\"num_pages\":-1}",
		"{\"cmd\":\"balloon\",\"num_pages\":\"1\"}",
		"{\"cmd\":\"balloon\",\"num_pages\":2.5}",
		"{\"cmd\":\"balloon\"}",
		"{\"cmd\":\"balloon\",\"size_mib\":1,\"force\":true}",
		"{\"cmd\":\"balloon\",\"size_mib\":1,\"size_mib\":2}",
		"{\"cmd\":\"Balloon\",\"size_mib\":1}",
		"{\"cmd\":\"nope\"}",
		"{\"size_mib\":1}",
		"{\"cmd\":5}",
		"{\"cmd\":[\"balloon\"]}",
		"{\"cmd\":\"query\",\"verbose\":true}",
		"{\"cmd\":\"hint\",\"action\":\"go\"}",
		"{\"cmd\":\"hint\",\"action\":\"start\"}",
		"{\"cmd\":\"hint\",\"action\":\"done\"}",
		"hello", "", "   ", "[]", "{\"cmd\":\"query\"", "{\"cmd\":\"query\"} x",
		"{'cmd':'query'}", "{\"cmd\":\"query\",}",
	};
	unsigned int i, fails = 0;
	u32 before;

	tap_eq(request(vdev, "{\"cmd\":\"balloon\",\"size_mib\":16}"), 0, "balloon size_mib");
	tap_ok(reply_ok() && reply_int("num_pages") == 4096 && num_pages() == 4096,
	       "size_mib 16 -> 4096 pages");
	tap_eq(request(vdev, " {\"target_mib\":40, \"cmd\":\"balloon\"}\r"), 0,
	       "balloon target_mib (members in any order, CR tolerated)");
	tap_ok(reply_int("num_pages") == 6144 && reply_int("target_mib") == 40 &&
	       num_pages() == 6144, "target_mib 40 of 64 -> 24 MiB balloon");
	before = num_pages();
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		int ret = request(vdev, bad[i]);

		if (!ret || reply_ok() || !*reply_str("error") || num_pages() != before) {
			printf("#   not refused cleanly: %s -> %s", bad[i], reply_buf);
			fails++;
		}
	}
	tap_ok(!fails, "%zu bad requests refused with an error, nothing changed", ARRAY_SIZE(bad));
	request(vdev, "{\"cmd\":\"balloon\",\"size_mib\":65}");
	tap_ok(strstr(reply_str("error"), "larger than guest RAM") != NULL,
	       "error says why: %s", reply_str("error"));
	request(vdev, "{\"cmd\":\"nope\"}");
	tap_ok(strstr(reply_str("error"), "unknown command") != NULL,
	       "unknown command named");
	tap_ok(!request(vdev, "{\"cmd\":\"balloon\",\"size_mib\":64}") && num_pages() == 16384,
	       "size_mib equal to RAM allowed");
	tap_ok(!request(vdev, "{\"cmd\":\"balloon\",\"target_mib\":64}") && num_pages() == 0,
	       "target_mib equal to RAM: empty balloon");
	tap_ok(!request(vdev, "{\"cmd\":\"balloon\",\"size_mib\":0}") && num_pages() == 0,
	       "size_mib 0");
	tap_ok(!request(vdev, "{\"cmd\":\"balloon\",\"num_pages\":20000}") && num_pages() == 20000 &&
	       reply_int("num_pages") == 20000 && reply_int("size_mib") == 78,
	       "num_pages above guest RAM (16384 pages) allowed");
	tap_eq(json_integer_value(json_object_get(reply, "target_mib")), (u64)(64 - 78),
	       "... its target_mib negative");
	tap_ok(!request(vdev, "{\"cmd\":\"balloon\",\"num_pages\":4294967295}") &&
	       num_pages() == 4294967295U, "num_pages 2^32 - 1 allowed");
	request(vdev, "{\"cmd\":\"balloon\",\"num_pages\":4294967296}");
	tap_ok(strstr(reply_str("error"), "32 bits") && num_pages() == 4294967295U,
	       "num_pages 2^32 refused, saying why: %s", reply_str("error"));
	request(vdev, "{\"cmd\":\"balloon\"}");
	tap_ok(strstr(reply_str("error"), "num_pages") != NULL, "the three ways named: %s",
	       reply_str("error"));
	request(vdev, "{\"cmd\":\"balloon\",\"num_pages\":0}");
}

static void test_query(void)
{
	request(vdev, "{\"cmd\":\"balloon\",\"size_mib\":8}");
	tap_eq(request(vdev, "{\"cmd\":\"query\"}"), 0, "query");
	tap_ok(reply_ok() && reply_int("num_pages") == 2048 && reply_int("actual") == 0 &&
	       reply_int("ballooned_pages") == 0 && reply_int("ram_mib") == RAM_MIB,
	       "query: target, actual, bitmap, RAM");
	tap_ok(reply_int("rss_kib") > 0, "query: RSS from smaps_rollup (%lld KiB)",
	       (long long)reply_int("rss_kib"));
	tap_ok(json_is_object(json_object_get(reply, "counters")), "query: counters object");
	tap_ok(strstr(reply_buf, "\"features_offered\":[\"stats_vq\",\"deflate_on_oom\"]") &&
	       strstr(reply_buf, "\"features_accepted\":[\"stats_vq\"]"),
	       "query: features offered and accepted by name");
	tap_ok(strstr(reply_buf, "\"config_interrupts\":") != NULL, "query: counters by name");
	tap_ok(json_array_size(json_object_get(reply, "queues")) == vdev->ops->nr_queues(vdev) &&
	       strstr(reply_buf, "\"index\":2,\"ready\":true") &&
	       strstr(reply_buf, "\"avail_idx\":0"),
	       "query: every queue, the driver's indices where a ring is set up");
	tap_ok(!json_object_get(reply, "transport"), "query: no transport, none described");
	tap_ok(json_is_null(json_object_get(reply, "auto")), "query: auto is null without auto=on");
	tap_ok(!request(NULL, "{\"cmd\":\"query\"}") && reply_int("rss_kib") > 0,
	       "query without a balloon device still answers");
	tap_ok(request(NULL, "{\"cmd\":\"balloon\",\"size_mib\":1}") && !reply_ok(),
	       "balloon without a balloon device refused");
}

static void test_stats_cmd(void)
{
	u8 *p = vqdrv_ptr(&stats_drv, 0x100000, 40);
	u16 tag;
	u64 val;

	tap_ok(!request(vdev, "{\"cmd\":\"stats\"}") && reply_int("updates") == 0 &&
	       json_is_null(json_object_get(reply, "age_ms")), "stats before any: empty, age null");
	tag = 4;
	val = 123456;
	memcpy(p, &tag, 2);
	memcpy(p + 2, &val, 8);
	tag = 77;
	memcpy(p + 10, &tag, 2);
	vqdrv_add_out(&stats_drv, 0x100000, 20);
	pthread_mutex_lock(&vdev->lock);
	vdev->ops->queue_notify(vdev, 2);
	pthread_mutex_unlock(&vdev->lock);
	tap_ok(!request(vdev, "{\"cmd\":\"stats\"}") && reply_int("updates") == 1 &&
	       reply_int("age_ms") >= 0 && reply_int("age_ms") < 5000, "stats: one update, its age");
	tap_ok(strstr(reply_buf, "\"stats\":{\"free_memory\":123456}") != NULL,
	       "stats: known tags by name, unknown tag left out");
}

/* The decoder's strictness, through the one entry point that uses it. */
static void test_strict_json(void)
{
	static const char *const bad[] = {
		"42", "null", "\"x\"", "{", "}", "{\"cmd\"}", "{\"cmd\":}", "{,}",
		"{\"cmd\":\"query\" \"x\":2}", "{cmd:\"query\"}", "{\"cmd\":\"query\"}{\"b\":2}",
		"{\"cmd\":\"balloon\",\"size_mib\":01}", "{\"cmd\":\"balloon\",\"size_mib\":+1}",
		"{\"cmd\":\"balloon\",\"size_mib\":NaN}", "{\"cmd\":\"query\",\"x\":tru}",
		"{\"cmd\":\"qu\\x\"}", "{\"cmd\":\"\\u12g4\"}", "{\"cmd\":\"\\ud800\"}",
		"{\"cmd\":\"\\u0000\"}", "{\"cmd\":\"tab\there\"}", "{\"cmd\":\"\xc3\"}",
		"{\"cmd\":\"\xc0\xaf\"}", "{\"cmd\":\"\xed\xa0\x80\"}", "{\"cmd\":\"\xff\"}",
		"{\"cmd\":\"query\"} // c", "{\"cmd\":\"query\"}\x01",
		"{\"cmd\":\"hint\",\"action\":\"start\",\"action\":\"stop\"}",
		"{\"cmd\":\"balloon\",\"size_mib\":9223372036854775808}",
	};
	char name[200], *p;
	unsigned int i, fails = 0;
	u32 before = num_pages();

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		if (!request(vdev, bad[i]) || reply_ok() || num_pages() != before) {
			printf("#   accepted: %s -> %s", bad[i], reply_buf);
			fails++;
		}
	}
	tap_ok(!fails, "%zu malformed requests refused", ARRAY_SIZE(bad));
	request(vdev, "{\"cmd\":\"query\",\"cmd\":\"query\"}");
	tap_ok(strstr(reply_str("error"), "duplicate") != NULL, "duplicate key named: %s",
	       reply_str("error"));
	request(vdev, "{\"cmd\":\n \"query\",}");
	tap_ok(strstr(reply_str("error"), "line 2, column") != NULL, "error has line and column: %s",
	       reply_str("error"));
	tap_ok(request_n(vdev, "{\"cmd\":\"query\"}\0", 16) && !reply_ok(),
	       "NUL byte after the object refused");
	tap_ok(!request(vdev, "{\"cmd\":\"\\u0071uery\"}") && reply_ok(), "escapes decoded");
	tap_ok(!request(vdev, " \t{\"cmd\":\"query\"} \t") && reply_ok(), "whitespace around");
	request(vdev, "{\"cmd\":\"q\\\"b\\\\n\\n\\u0001\"}");
	tap_ok(strstr(reply_str("error"), "\"q\"b\\n\n\x01\"") != NULL,
	       "error quoting the request escaped and read back");
	p = name;
	p += sprintf(p, "{\"cmd\":\"x");
	for (i = 0; i < 40; i++)
		p += sprintf(p, "\xc3\xa9");
	sprintf(p, "\"}");
	tap_ok(request(vdev, name) && strstr(reply_str("error"), "unknown command \"x\xc3\xa9"),
	       "a long non-ASCII name clipped on a character boundary");
}

static struct balloon_state bstate(void)
{
	struct balloon_state st;

	balloon_get_state(vdev, &st);
	return st;
}

static unsigned int fake_needs_reset_calls;

static void fake_needs_reset(struct virtio_device *v __unused)
{
	fake_needs_reset_calls++;
}

/* stress: config_notify and needs_reset; bad input refused with nothing done. */
static void test_stress_cmd(void)
{
	static const char *const bad[] = {
		"{\"cmd\":\"stress\"}",
		"{\"cmd\":\"stress\",\"action\":\"reboot\"}",
		"{\"cmd\":\"stress\",\"action\":5}",
		"{\"cmd\":\"stress\",\"action\":\"config_notify\",\"count\":0}",
		"{\"cmd\":\"stress\",\"action\":\"config_notify\",\"count\":1001}",
		"{\"cmd\":\"stress\",\"action\":\"config_notify\",\"count\":-1}",
		"{\"cmd\":\"stress\",\"action\":\"config_notify\",\"count\":\"5\"}",
		"{\"cmd\":\"stress\",\"action\":\"config_notify\",\"count\":2.5}",
		"{\"cmd\":\"stress\",\"action\":\"needs_reset\",\"count\":1}",
		"{\"cmd\":\"stress\",\"action\":\"config_notify\",\"x\":1}",
		"{\"cmd\":\"stress\",\"action\":\"needs_reset\"}",	/* no transport */
	};
	struct balloon_state st = bstate();
	unsigned int i, fails = 0;
	u64 irqs = st.metrics.config_interrupts;

	tap_ok(!request(vdev, "{\"cmd\":\"stress\",\"action\":\"config_notify\"}") &&
	       reply_int("count") == 1 && bstate().metrics.config_interrupts == irqs + 1,
	       "stress config_notify: one interrupt by default");
	tap_ok(!request(vdev, "{\"cmd\":\"stress\",\"action\":\"config_notify\",\"count\":1000}") &&
	       bstate().metrics.config_interrupts == irqs + 1001 && bstate().num_pages == st.num_pages,
	       "stress config_notify count 1000: 1000 interrupts, num_pages unchanged");
	irqs = bstate().metrics.config_interrupts;
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		int ret = request(vdev, bad[i]);

		st = bstate();
		if (!ret || reply_ok() || !*reply_str("error") || st.needs_reset ||
		    st.metrics.config_interrupts != irqs) {
			printf("#   not refused cleanly: %s -> %s", bad[i], reply_buf);
			fails++;
		}
	}
	tap_ok(!fails, "%zu bad stress requests refused with an error, nothing changed",
	       ARRAY_SIZE(bad));
	request(vdev, "{\"cmd\":\"stress\",\"action\":\"config_notify\",\"count\":1001}");
	tap_ok(strstr(reply_str("error"), "1..1000") != NULL, "count out of range says the range: %s",
	       reply_str("error"));
	request(vdev, "{\"cmd\":\"stress\",\"action\":\"reboot\"}");
	tap_ok(strstr(reply_str("error"), "config_notify") && strstr(reply_str("error"), "needs_reset"),
	       "an unknown action names both: %s", reply_str("error"));
	tap_ok(request(NULL, "{\"cmd\":\"stress\",\"action\":\"config_notify\"}") &&
	       strstr(reply_str("error"), "no balloon"), "stress without a balloon refused");

	vdev->set_needs_reset = fake_needs_reset;
	tap_ok(!request(vdev, "{\"cmd\":\"stress\",\"action\":\"needs_reset\"}") &&
	       fake_needs_reset_calls == 1 && bstate().metrics.config_interrupts == irqs + 1 &&
	       bstate().metrics.needs_reset_raised == 1,
	       "stress needs_reset: the transport's bit set, then a config interrupt");
	request(vdev, "{\"cmd\":\"query\"}");
	tap_ok(json_is_true(json_object_get(reply, "needs_reset")), "query: needs_reset true");
	st = bstate();
	pthread_mutex_lock(&vdev->lock);
	vdev->ops->reset(vdev);
	pthread_mutex_unlock(&vdev->lock);
	request(vdev, "{\"cmd\":\"query\"}");
	tap_ok(json_is_false(json_object_get(reply, "needs_reset")) &&
	       bstate().metrics.device_resets == st.metrics.device_resets + 1,
	       "the driver's reset clears needs_reset, counted in device_resets");
	tap_ok(request(vdev, "{\"cmd\":\"stress\",\"action\":\"needs_reset\"}") &&
	       strstr(reply_str("error"), "DRIVER_OK") && fake_needs_reset_calls == 1,
	       "stress before DRIVER_OK refused with a reason, nothing done");
	vdev->set_needs_reset = NULL;
	driver_start();
}

/* ---- the socket ---- */

static struct ioloop *loop;
static struct control *ctl;
static pthread_t loop_thread;
static char sock_path[108];

static void *loop_main(void *arg __unused)
{
	ioloop_run(loop);
	return NULL;
}

static int client_connect(void)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	strcpy(addr.sun_path, sock_path);
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr))) {
		close(fd);
		return -1;
	}
	return fd;
}

static void client_send(int fd, const char *s)
{
	if (send(fd, s, strlen(s), MSG_NOSIGNAL) != (ssize_t)strlen(s))
		printf("#   short send\n");
}

/* Read one reply line (2 s at most) into reply_buf and parse it. */
static bool client_reply(int fd)
{
	size_t len = 0;

	while (len + 1 < sizeof(reply_buf)) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&pfd, 1, 2000) <= 0)
			return false;
		n = recv(fd, reply_buf + len, 1, 0);
		if (n <= 0)
			return false;
		if (reply_buf[len++] == '\n')
			break;
	}
	reply_buf[len] = '\0';
	return parse_reply(len);
}

static void test_socket_setup(void)
{
	char dir[] = "/tmp/ballast-test-control-XXXXXX";
	struct control *other;
	struct stat st;

	if (!mkdtemp(dir)) {
		printf("Bail out! mkdtemp\n");
		exit(1);
	}
	snprintf(sock_path, sizeof(sock_path), "%s/api.sock", dir);
	loop = ioloop_create();
	ctl = control_create(sock_path, loop, vdev);
	tap_ok(ctl != NULL, "control socket created");
	tap_ok(!stat(sock_path, &st) && S_ISSOCK(st.st_mode) && (st.st_mode & 0777) == 0600,
	       "socket file has mode 0600");
	other = control_create(sock_path, loop, vdev);
	tap_ok(!other && errno == EADDRINUSE, "a live socket is not taken over");
	pthread_create(&loop_thread, NULL, loop_main, NULL);
}

static void test_socket_clients(void)
{
	int a = client_connect(), b = client_connect(), c = client_connect();
	char big[6000];

	tap_ok(a >= 0 && b >= 0 && c >= 0, "three clients connected");
	client_send(a, "{\"cmd\":\"balloon\",");
	client_send(b, "{\"cmd\":\"balloon\",\"size_mib\":4}\n");
	tap_ok(client_reply(b) && reply_ok() && reply_int("num_pages") == 1024,
	       "client B served while client A is mid-request");
	client_send(a, "\"size_mib\":2}\n");
	tap_ok(client_reply(a) && reply_ok() && reply_int("num_pages") == 512,
	       "client A's split request completed");
	client_send(c, "{\"cmd\":\"query\"}\n{\"cmd\":\"bogus\"}\n");
	tap_ok(client_reply(c) && reply_ok() && reply_int("num_pages") == 512,
	       "pipelined: first reply");
	tap_ok(client_reply(c) && !reply_ok(), "pipelined: second reply (an error)");

	memset(big, ' ', sizeof(big));
	memcpy(big, "{\"cmd\":\"query\"", 14);
	strcpy(big + 5000, "}\n{\"cmd\":\"balloon\",\"size_mib\":1}\n");
	client_send(a, big);
	tap_ok(client_reply(a) && !reply_ok() &&
	       strstr(reply_str("error"), "longer than 4096"),
	       "line over 4 KiB refused");
	tap_ok(client_reply(a) && reply_ok() && num_pages() == 256,
	       "the next line after it is served");
	memset(big, ' ', sizeof(big));
	memcpy(big, "{\"cmd\":\"balloon\",\"size_mib\":3", 29);
	strcpy(big + 4095, "}\n");
	client_send(a, big);
	tap_ok(client_reply(a) && reply_ok() && num_pages() == 768, "a line of exactly 4096 bytes served");

	client_send(b, "{\"cmd\":\"query\"}");
	shutdown(b, SHUT_WR);
	tap_ok(client_reply(b) && reply_ok(), "last request without a newline served at EOF");
	client_send(c, "not json\n");
	tap_ok(client_reply(c) && !reply_ok() &&
	       strstr(reply_str("error"), "not a JSON object"), "garbage refused");
	close(a);
	close(b);
	close(c);
}

static void test_socket_limit(void)
{
	int fds[CONTROL_MAX_CLIENTS + 1], i, ok = 0, extra;

	usleep(100000);		/* let the loop notice the closed clients */
	for (i = 0; i < CONTROL_MAX_CLIENTS; i++) {
		fds[i] = client_connect();
		client_send(fds[i], "{\"cmd\":\"query\"}\n");
		ok += client_reply(fds[i]) && reply_ok();
	}
	tap_eq(ok, CONTROL_MAX_CLIENTS, "16 clients served at once");
	extra = client_connect();
	tap_ok(client_reply(extra) && !reply_ok() &&
	       strstr(reply_str("error"), "too many"),
	       "the 17th is told it is one too many");
	close(extra);

	/* fds[0] goes quiet; the others keep talking. */
	control_set_idle_ms(ctl, 300);
	usleep(200000);
	for (i = 1; i < CONTROL_MAX_CLIENTS; i++) {
		client_send(fds[i], "{\"cmd\":\"query\"}\n");
		client_reply(fds[i]);
	}
	usleep(150000);
	extra = client_connect();
	client_send(extra, "{\"cmd\":\"query\"}\n");
	tap_ok(client_reply(extra) && reply_ok(),
	       "all slots taken: a new client gets the slot of one silent too long");
	tap_ok(client_reply(fds[0]) && !reply_ok() && strstr(reply_str("error"), "silent"),
	       "the silent client is told why, then dropped");
	tap_ok(!client_reply(fds[0]), "its connection is closed");
	control_set_idle_ms(ctl, CONTROL_IDLE_MS);
	close(extra);
	for (i = 0; i < CONTROL_MAX_CLIENTS; i++)
		close(fds[i]);
}

/* A balloon on the running loop: its timerfd asks for stats by itself. */
static void test_stats_timer(void)
{
	struct balloon_config cfg;
	struct virtio_device *tv;
	struct balloon_state st;
	struct vqdrv d;
	int i;

	balloon_config_init(&cfg);
	balloon_parse_opts("stats_interval=50ms", &cfg, NULL, 0);
	tv = balloon_create(&cfg, &mem, loop);
	tap_ok(tv != NULL, "balloon with a stats timer on the loop");
	if (!tv)
		return;
	pthread_mutex_lock(&tv->lock);
	tv->ops->set_features(tv, BIT(BALLOON_F_STATS_VQ));
	vqdrv_setup(&d, &tv->vqs[2], &mem, 0x40000, 16, false, false);
	vqdrv_add_out(&d, 0x100000, 10);
	tv->ops->activate(tv);
	pthread_mutex_unlock(&tv->lock);
	for (i = 0; i < 100 && vqdrv_used_idx(&d) == 0; i++)
		usleep(10000);
	balloon_get_state(tv, &st);
	tap_ok(vqdrv_used_idx(&d) == 1 && st.metrics.stats_requests == 1,
	       "the timer used the stats buffer (a request) within %d ms", i * 10);
	pthread_mutex_lock(&tv->lock);
	tv->ops->reset(tv);
	pthread_mutex_unlock(&tv->lock);
	balloon_destroy(tv);
}

static int run_ctl(char *out, size_t size, int argc, char **argv)
{
	FILE *fo = fmemopen(out, size, "w"), *fe = fopen("/dev/null", "w");
	int ret;

	memset(out, 0, size);
	ret = control_client_run(argc, argv, fo, fe);
	fclose(fo);
	fclose(fe);
	return ret;
}

static void test_ctl_client(void)
{
	char out[4096], dead[128];
	char *good[] = { "ballast-vmm", "ctl", sock_path, "{\"cmd\":\"balloon\",\"size_mib\":5}" };
	char *bad[] = { "ballast-vmm", "ctl", sock_path, "{\"cmd\":\"balloon\",\"size_mib\":500}" };
	char *tmo[] = { "ballast-vmm", "ctl", "--timeout", "2", sock_path, "{\"cmd\":\"query\"}" };
	char *badtmo[] = { "ballast-vmm", "ctl", "--timeout", "x", sock_path, "{}" };
	char *nosock[] = { "ballast-vmm", "ctl", "/nonexistent/api.sock", "{\"cmd\":\"query\"}" };
	char *usage[] = { "ballast-vmm", "ctl", sock_path };
	char *twoline[] = { "ballast-vmm", "ctl", sock_path, "{}\n{}" };
	char *mute[] = { "ballast-vmm", "ctl", "--timeout", "1", dead, "{\"cmd\":\"query\"}" };
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int lfd;

	tap_eq(run_ctl(out, sizeof(out), 4, good), 0, "ctl: ok:true exits 0");
	tap_ok(!strncmp(out, "{\"ok\":true", 10) && strchr(out, '\n') == out + strlen(out) - 1 &&
	       num_pages() == 1280, "ctl: prints the one reply line");
	tap_eq(run_ctl(out, sizeof(out), 4, bad), 1, "ctl: ok:false exits 1");
	tap_ok(!strncmp(out, "{\"ok\":false", 11), "ctl: prints the error reply");
	tap_eq(run_ctl(out, sizeof(out), 6, tmo), 0, "ctl: --timeout");
	tap_eq(run_ctl(out, sizeof(out), 6, badtmo), 2, "ctl: bad --timeout exits 2");
	tap_eq(run_ctl(out, sizeof(out), 4, nosock), 2, "ctl: no socket exits 2");
	tap_eq(run_ctl(out, sizeof(out), 3, usage), 2, "ctl: missing request exits 2");
	tap_eq(run_ctl(out, sizeof(out), 4, twoline), 2, "ctl: multi-line request exits 2");

	/* A socket that accepts (backlog) but never answers. */
	snprintf(dead, sizeof(dead), "%s.dead", sock_path);
	strcpy(addr.sun_path, dead);
	lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	bind(lfd, (struct sockaddr *)&addr, sizeof(addr));
	listen(lfd, 4);
	tap_eq(run_ctl(out, sizeof(out), 6, mute), 2, "ctl: no reply within --timeout exits 2");
	close(lfd);
	unlink(dead);
}

/*
 * A VMM whose socket file was replaced (a successor found it dead, removed
 * it and bound its own) removes nothing of the successor's on exit.
 */
static void test_destroy_spares_successor(const char *dir)
{
	struct ioloop *l = ioloop_create();
	struct control *old, *successor;
	char path[160];

	snprintf(path, sizeof(path), "%s/taken.sock", dir);
	old = control_create(path, l, vdev);
	unlink(path);
	successor = control_create(path, l, vdev);
	tap_ok(old && successor, "a successor binds the path of a socket file removed");
	control_destroy(old);
	tap_ok(!access(path, F_OK), "destroy leaves the socket file a successor bound");
	control_destroy(successor);
	tap_ok(access(path, F_OK) && errno == ENOENT, "the successor's destroy removes it");
	ioloop_destroy(l);
}

int main(void)
{
	char dir[128];
	int ret;

	tap_start();
	log_level = LOG_ERR;
	setup_balloon();
	test_balloon_cmd();
	test_query();
	test_stats_cmd();
	test_strict_json();
	test_stress_cmd();
	test_socket_setup();
	test_socket_clients();
	test_socket_limit();
	test_stats_timer();
	test_ctl_client();
	ioloop_stop(loop);
	pthread_join(loop_thread, NULL);
	control_destroy(ctl);
	tap_ok(access(sock_path, F_OK) && errno == ENOENT, "destroy removes the socket file");
	snprintf(dir, sizeof(dir), "%s", sock_path);
	*strrchr(dir, '/') = '\0';
	test_destroy_spares_successor(dir);
	rmdir(dir);
	ioloop_destroy(loop);
	ret = tap_done();
	json_decref(reply);
	balloon_destroy(vdev);
	return ret;
}
