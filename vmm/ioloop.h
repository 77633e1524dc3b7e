/* SPDX-License-Identifier: MIT */
/*
 * The I/O thread: one epoll loop that serves ioeventfds (queue notifies),
 * timerfds (stats polling) and the control socket. Devices run their queue
 * handlers here, never on a vCPU thread.
 */
#ifndef BALLAST_IOLOOP_H
#define BALLAST_IOLOOP_H

#include "compiler.h"

struct ioloop;

typedef void (*ioloop_fn)(void *opaque, u32 events);

struct ioloop *ioloop_create(void);
void ioloop_destroy(struct ioloop *loop);
/* events are EPOLLIN/EPOLLOUT/...; returns 0 or a negative errno. */
int ioloop_add(struct ioloop *loop, int fd, u32 events, ioloop_fn fn, void *opaque);
int ioloop_mod(struct ioloop *loop, int fd, u32 events);
int ioloop_del(struct ioloop *loop, int fd);
/* Runs until ioloop_stop(); returns 0 or a negative errno. */
int ioloop_run(struct ioloop *loop);
void ioloop_stop(struct ioloop *loop);

#endif
