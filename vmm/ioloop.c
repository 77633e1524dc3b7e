// SPDX-License-Identifier: MIT
/*
 * The I/O thread's epoll loop. Handlers are kept in a table indexed by fd
 * and never freed while the loop lives: a vCPU thread may ioloop_del() an fd
 * while the loop is between epoll_wait() and the call, and a stale pointer
 * in an epoll event must still point at a valid (now disabled) entry.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "ioloop.h"
#include "log.h"

struct ioloop_handler {
	int fd;
	ioloop_fn fn;		/* NULL: deleted */
	void *opaque;
	struct ioloop_handler *next;
};

struct ioloop {
	int epfd;
	int stop_fd;
	bool stop;		/* set from any thread: __atomic only */
	pthread_mutex_t lock;
	struct ioloop_handler *handlers;
};

struct ioloop *ioloop_create(void)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	struct ioloop *loop = calloc(1, sizeof(*loop));

	if (!loop)
		return NULL;
	pthread_mutex_init(&loop->lock, NULL);
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0)
		goto err_free;
	loop->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (loop->stop_fd < 0)
		goto err_ep;
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, loop->stop_fd, &ev) < 0)
		goto err_stop;
	return loop;

err_stop:
	close(loop->stop_fd);
err_ep:
	close(loop->epfd);
err_free:
	free(loop);
	return NULL;
}

void ioloop_destroy(struct ioloop *loop)
{
	struct ioloop_handler *h, *next;

	if (!loop)
		return;
	for (h = loop->handlers; h; h = next) {
		next = h->next;
		free(h);
	}
	close(loop->stop_fd);
	close(loop->epfd);
	free(loop);
}

static struct ioloop_handler *find(struct ioloop *loop, int fd)
{
	struct ioloop_handler *h;

	for (h = loop->handlers; h; h = h->next)
		if (h->fd == fd)
			return h;
	return NULL;
}

int ioloop_add(struct ioloop *loop, int fd, u32 events, ioloop_fn fn, void *opaque)
{
	struct epoll_event ev = { .events = events };
	struct ioloop_handler *h;
	int ret = 0;

	if (fd < 0 || !fn)
		return -EINVAL;
	pthread_mutex_lock(&loop->lock);
	h = find(loop, fd);
	if (h && h->fn) {
		ret = -EEXIST;
		goto out;
	}
	if (!h) {
		h = calloc(1, sizeof(*h));
		if (!h) {
			ret = -ENOMEM;
			goto out;
		}
		h->fd = fd;
		h->next = loop->handlers;
		loop->handlers = h;
	}
	h->opaque = opaque;
	h->fn = fn;
	ev.data.ptr = h;
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		ret = -errno;
		h->fn = NULL;
	}
out:
	pthread_mutex_unlock(&loop->lock);
	return ret;
}

int ioloop_mod(struct ioloop *loop, int fd, u32 events)
{
	struct epoll_event ev = { .events = events };
	struct ioloop_handler *h;
	int ret = 0;

	pthread_mutex_lock(&loop->lock);
	h = find(loop, fd);
	if (!h || !h->fn) {
		ret = -ENOENT;
	} else {
		ev.data.ptr = h;
		if (epoll_ctl(loop->epfd, EPOLL_CTL_MOD, fd, &ev) < 0)
			ret = -errno;
	}
	pthread_mutex_unlock(&loop->lock);
	return ret;
}

int ioloop_del(struct ioloop *loop, int fd)
{
	struct ioloop_handler *h;
	int ret = 0;

	pthread_mutex_lock(&loop->lock);
	h = find(loop, fd);
	if (!h || !h->fn) {
		ret = -ENOENT;
	} else {
		h->fn = NULL;
		/* The fd may already be closed; epoll dropped it then. */
		if (epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL) < 0 && errno != EBADF)
			ret = -errno;
	}
	pthread_mutex_unlock(&loop->lock);
	return ret;
}

static bool ioloop_stopping(struct ioloop *loop)
{
	return __atomic_load_n(&loop->stop, __ATOMIC_ACQUIRE);
}

int ioloop_run(struct ioloop *loop)
{
	struct epoll_event events[32];

	while (!ioloop_stopping(loop)) {
		int i, n = epoll_wait(loop->epfd, events, ARRAY_SIZE(events), -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (i = 0; i < n && !ioloop_stopping(loop); i++) {
			struct ioloop_handler *h = events[i].data.ptr;
			ioloop_fn fn;
			void *opaque;

			if (!h)
				continue;	/* the stop eventfd */
			pthread_mutex_lock(&loop->lock);
			fn = h->fn;
			opaque = h->opaque;
			pthread_mutex_unlock(&loop->lock);
			if (fn)
				fn(opaque, events[i].events);
		}
	}
	return 0;
}

void ioloop_stop(struct ioloop *loop)
{
	u64 one = 1;

	__atomic_store_n(&loop->stop, true, __ATOMIC_RELEASE);
	if (write(loop->stop_fd, &one, sizeof(one)) < 0) {
		/* Counter full means a wake-up is already pending. */
	}
}
