// SPDX-License-Identifier: MIT
/*
 * The --api-socket server: a listening Unix socket and up to
 * CONTROL_MAX_CLIENTS connections, all non-blocking on the I/O thread so
 * that a slow or stuck client never holds up another (or the queues).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "control.h"
#include "log.h"

/* Replies a client has not read yet; beyond this it is not reading at all. */
#define CONTROL_OUT_MAX		(4 * CONTROL_REPLY_MAX)

struct control_client {
	struct control *ctl;
	int fd;
	bool discarding;	/* inside an over-long line: drop up to its newline */
	bool want_out;		/* EPOLLOUT requested */
	size_t in_len;
	size_t out_len;
	u64 last_heard_ms;	/* connected, or last sent us a byte */
	char in[CONTROL_LINE_MAX];
	char out[CONTROL_OUT_MAX];
};

struct control {
	int fd;
	struct ioloop *loop;
	struct virtio_device *balloon;
	struct sockaddr_un addr;
	struct stat path_st;	/* the socket file we bound, to remove only that */
	unsigned int idle_ms;
	struct control_client *clients[CONTROL_MAX_CLIENTS];
};

static u64 control_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (u64)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void control_client_close(struct control_client *c)
{
	struct control *ctl = c->ctl;
	int i;

	for (i = 0; i < CONTROL_MAX_CLIENTS; i++)
		if (ctl->clients[i] == c)
			ctl->clients[i] = NULL;
	ioloop_del(ctl->loop, c->fd);
	close(c->fd);
	free(c);
}

/* Returns 0, or -EPIPE once the client is gone (c is freed then). */
static int control_client_flush(struct control_client *c)
{
	size_t done = 0;
	ssize_t n;

	while (done < c->out_len) {
		n = send(c->fd, c->out + done, c->out_len - done, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			control_client_close(c);
			return -EPIPE;
		}
		done += n;
	}
	memmove(c->out, c->out + done, c->out_len - done);
	c->out_len -= done;
	if (!!c->out_len != c->want_out) {
		c->want_out = c->out_len;
		ioloop_mod(c->ctl->loop, c->fd, EPOLLIN | (c->want_out ? EPOLLOUT : 0));
	}
	return 0;
}

static int control_client_queue(struct control_client *c, const char *s, size_t len)
{
	if (c->out_len + len > sizeof(c->out)) {
		pr_warn("api-socket: client not reading its replies, closing it");
		control_client_close(c);
		return -EPIPE;
	}
	memcpy(c->out + c->out_len, s, len);
	c->out_len += len;
	return control_client_flush(c);
}

static int control_client_request(struct control_client *c, const char *line, size_t len)
{
	char reply[CONTROL_REPLY_MAX];

	control_handle_request(c->ctl->balloon, line, len, reply, sizeof(reply));
	return control_client_queue(c, reply, strlen(reply));
}

static int control_client_too_long(struct control_client *c)
{
	static const char msg[] =
		"{\"ok\":false,\"error\":\"request line longer than 4096 bytes\"}\n";

	return control_client_queue(c, msg, sizeof(msg) - 1);
}

/* Split input into lines; returns -EPIPE if the client went away meanwhile. */
static int control_client_input(struct control_client *c, const char *data, size_t n)
{
	int ret = 0;

	while (n && !ret) {
		const char *nl = memchr(data, '\n', n);
		size_t take = nl ? (size_t)(nl - data) : n;

		if (c->discarding) {
			c->discarding = !nl;
		} else if (c->in_len + take > CONTROL_LINE_MAX) {
			/* Answer once, then swallow the rest of the line. */
			c->in_len = 0;
			c->discarding = !nl;
			ret = control_client_too_long(c);
		} else {
			memcpy(c->in + c->in_len, data, take);
			c->in_len += take;
			if (nl) {
				ret = control_client_request(c, c->in, c->in_len);
				if (!ret)
					c->in_len = 0;
			}
		}
		take += !!nl;
		data += take;
		n -= take;
	}
	return ret;
}

static void control_client_fn(void *opaque, u32 events)
{
	struct control_client *c = opaque;
	char buf[4096];
	ssize_t n;

	if ((events & EPOLLOUT) && control_client_flush(c))
		return;
	if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	for (;;) {
		n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0)
			break;
		c->last_heard_ms = control_now_ms();
		if (control_client_input(c, buf, n))
			return;
	}
	/* End of input: a last line without its newline still counts. */
	if (n == 0 && c->in_len && !c->discarding) {
		if (control_client_request(c, c->in, c->in_len))
			return;
	}
	control_client_close(c);
}

/* Best effort: a client we are about to close may not be reading. */
static void control_tell(int fd, const char *msg)
{
	if (send(fd, msg, strlen(msg), MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
		/* Nothing more we can tell it. */
	}
}

/*
 * A free slot, or the slot of the client silent longest if that is at least
 * idle_ms: a client that connects and never writes must not keep others
 * out for good. -1 if every client spoke recently.
 */
static int control_free_slot(struct control *ctl, u64 now)
{
	struct control_client *quiet = NULL;
	int i, slot = -1;

	for (i = 0; i < CONTROL_MAX_CLIENTS; i++) {
		struct control_client *c = ctl->clients[i];

		if (!c)
			return i;
		if (!quiet || c->last_heard_ms < quiet->last_heard_ms) {
			quiet = c;
			slot = i;
		}
	}
	if (now - quiet->last_heard_ms < ctl->idle_ms)
		return -1;
	pr_ratelimited(LOG_WARN, "api-socket: dropping a client silent for %llu ms for a new one",
			    (unsigned long long)(now - quiet->last_heard_ms));
	control_tell(quiet->fd, "{\"ok\":false,\"error\":\"silent too long: dropped for a new client\"}\n");
	control_client_close(quiet);
	return slot;
}

static void control_accept_fn(void *opaque, u32 events __unused)
{
	struct control *ctl = opaque;
	struct control_client *c;
	int fd, i;

	for (;;) {
		fd = accept4(ctl->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		i = control_free_slot(ctl, control_now_ms());
		c = i >= 0 ? calloc(1, sizeof(*c)) : NULL;
		if (!c) {
			control_tell(fd, "{\"ok\":false,\"error\":\"too many clients\"}\n");
			close(fd);
			continue;
		}
		c->ctl = ctl;
		c->fd = fd;
		c->last_heard_ms = control_now_ms();
		if (ioloop_add(ctl->loop, fd, EPOLLIN, control_client_fn, c)) {
			close(fd);
			free(c);
			continue;
		}
		ctl->clients[i] = c;
	}
}

/*
 * A socket file left by a VMM that died is replaced; one that still accepts
 * connections belongs to a live VMM, and anything else is not ours.
 */
static int control_claim_path(const struct sockaddr_un *addr)
{
	struct stat st;
	int fd, ret;

	if (lstat(addr->sun_path, &st))
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	ret = connect(fd, (const struct sockaddr *)addr, sizeof(*addr));
	close(fd);
	if (!ret)
		return -EADDRINUSE;
	return unlink(addr->sun_path) ? -errno : 0;
}

struct control *control_create(const char *path, struct ioloop *loop,
			       struct virtio_device *balloon)
{
	struct control *ctl;
	mode_t old_umask;
	int ret;

	if (strlen(path) >= sizeof(ctl->addr.sun_path) || !*path) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	ctl = calloc(1, sizeof(*ctl));
	if (!ctl)
		return NULL;
	ctl->loop = loop;
	ctl->balloon = balloon;
	ctl->idle_ms = CONTROL_IDLE_MS;
	ctl->addr.sun_family = AF_UNIX;
	strcpy(ctl->addr.sun_path, path);

	ret = control_claim_path(&ctl->addr);
	if (ret)
		goto err_free;
	ctl->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (ctl->fd < 0) {
		ret = -errno;
		goto err_free;
	}
	/* Created 0600 from the start: no window where others could connect. */
	old_umask = umask(0177);
	ret = bind(ctl->fd, (struct sockaddr *)&ctl->addr, sizeof(ctl->addr)) ? -errno : 0;
	umask(old_umask);
	if (ret)
		goto err_close;
	if (lstat(path, &ctl->path_st) || chmod(path, 0600) ||
	    listen(ctl->fd, CONTROL_MAX_CLIENTS)) {
		ret = -errno;
		goto err_unlink;
	}
	ret = ioloop_add(loop, ctl->fd, EPOLLIN, control_accept_fn, ctl);
	if (ret)
		goto err_unlink;
	return ctl;

err_unlink:
	unlink(path);
err_close:
	close(ctl->fd);
err_free:
	free(ctl);
	errno = -ret;
	return NULL;
}

void control_set_idle_ms(struct control *ctl, unsigned int ms)
{
	ctl->idle_ms = ms;
}

/*
 * Remove our socket file, unless another VMM has taken the path over since
 * (it replaces a file that no longer answers): a VMM slow to exit must not
 * remove its successor's socket.
 */
static void control_release_path(const struct control *ctl)
{
	struct stat st;

	if (lstat(ctl->addr.sun_path, &st) || st.st_dev != ctl->path_st.st_dev ||
	    st.st_ino != ctl->path_st.st_ino)
		return;
	unlink(ctl->addr.sun_path);
}

void control_destroy(struct control *ctl)
{
	int i;

	if (!ctl)
		return;
	for (i = 0; i < CONTROL_MAX_CLIENTS; i++)
		if (ctl->clients[i])
			control_client_close(ctl->clients[i]);
	ioloop_del(ctl->loop, ctl->fd);
	close(ctl->fd);
	control_release_path(ctl);
	free(ctl);
}
