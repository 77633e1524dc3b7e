// SPDX-License-Identifier: MIT
/*
 * The control protocol: every command good and bad against a balloon in
 * fake guest RAM (a rejected request must change nothing), then the socket
 * itself served by the real I/O loop on a thread: permissions, several
 * clients at once, split and pipelined requests, over-long lines, the
 * client limit, and the `ctl` client's exit codes.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "../control.h"
#include "../json.h"
#include "../log.h"
#include "../memory.h"
#include "../virtio/balloon.h"
#include "tap.h"
#include "vq_driver.h"

#define RAM_MIB		64

static struct guest_mem mem;
static struct virtio_device *vdev;
static struct vqdrv stats_drv;
static char reply_buf[CONTROL_REPLY_MAX];
static struct json_object reply;

static int request(struct virtio_device *b, const char *line)
{
	struct json_buf jb;
	int ret;

	json_buf_init(&jb, reply_buf, sizeof(reply_buf));
	ret = control_handle_request(b, line, strlen(line), &jb);
	if (json_parse_object(reply_buf, jb.len, &reply, NULL) ||
	    jb.buf[jb.len - 1] != '\n' || strchr(jb.buf, '\n') != jb.buf + jb.len - 1)
		printf("#   reply is not one JSON line: %s", reply_buf);
	return ret;
}

static bool reply_ok(void)
{
	const struct json_member *ok = json_get(&reply, "ok");

	return ok && ok->type == JSON_BOOL && ok->boolean;
}

static s64 reply_int(const char *key)
{
	const struct json_member *m = json_get(&reply, key);

	return m && m->is_int ? m->integer : -1;
}

static u32 num_pages(void)
{
	struct balloon_state st;

	balloon_get_state(vdev, &st);
	return st.num_pages;
}

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
		const struct json_member *e;
		int ret = request(vdev, bad[i]);

		e = json_get(&reply, "error");
		if (!ret || reply_ok() || !e || e->type != JSON_STRING || !e->string[0] ||
		    num_pages() != before) {
			printf("#   not refused cleanly: %s -> %s", bad[i], reply_buf);
			fails++;
		}
	}
	tap_ok(!fails, "%zu bad requests refused with an error, nothing changed", ARRAY_SIZE(bad));
	request(vdev, "{\"cmd\":\"balloon\",\"size_mib\":65}");
	tap_ok(strstr(json_get(&reply, "error")->string, "larger than guest RAM") != NULL,
	       "error says why: %s", json_get(&reply, "error")->string);
	request(vdev, "{\"cmd\":\"nope\"}");
	tap_ok(strstr(json_get(&reply, "error")->string, "unknown command") != NULL,
	       "unknown command named");
	tap_ok(!request(vdev, "{\"cmd\":\"balloon\",\"size_mib\":64}") && num_pages() == 16384,
	       "size_mib equal to RAM allowed");
	tap_ok(!request(vdev, "{\"cmd\":\"balloon\",\"target_mib\":64}") && num_pages() == 0,
	       "target_mib equal to RAM: empty balloon");
	tap_ok(!request(vdev, "{\"cmd\":\"balloon\",\"size_mib\":0}") && num_pages() == 0,
	       "size_mib 0");
}

static void test_query(void)
{
	const struct json_member *m;

	request(vdev, "{\"cmd\":\"balloon\",\"size_mib\":8}");
	tap_eq(request(vdev, "{\"cmd\":\"query\"}"), 0, "query");
	tap_ok(reply_ok() && reply_int("num_pages") == 2048 && reply_int("actual") == 0 &&
	       reply_int("ballooned_pages") == 0 && reply_int("ram_mib") == RAM_MIB,
	       "query: target, actual, bitmap, RAM");
	tap_ok(reply_int("rss_kib") > 0, "query: RSS from smaps_rollup (%lld KiB)",
	       (long long)reply_int("rss_kib"));
	m = json_get(&reply, "counters");
	tap_ok(m && m->type == JSON_OBJECT, "query: counters object");
	tap_ok(strstr(reply_buf, "\"features_offered\":[\"stats_vq\",\"deflate_on_oom\"]") &&
	       strstr(reply_buf, "\"features_accepted\":[\"stats_vq\"]"),
	       "query: features offered and accepted by name");
	tap_ok(strstr(reply_buf, "\"config_interrupts\":") != NULL, "query: counters by name");
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
	       json_get(&reply, "age_ms")->type == JSON_NULL, "stats before any: empty, age null");
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
	return !json_parse_object(reply_buf, len, &reply, NULL);
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
	       strstr(json_get(&reply, "error")->string, "longer than 4096"),
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
	       strstr(json_get(&reply, "error")->string, "not a JSON object"), "garbage refused");
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
	       strstr(json_get(&reply, "error")->string, "too many"),
	       "the 17th is told it is one too many");
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
	rmdir(dir);
	ioloop_destroy(loop);
	ret = tap_done();
	balloon_destroy(vdev);
	return ret;
}
