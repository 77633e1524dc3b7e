/* SPDX-License-Identifier: MIT */
/*
 * The --api-socket: a Unix stream socket (mode 0600) served on the I/O
 * thread, one JSON object per line in, one JSON object per line out.
 *
 *   {"cmd":"balloon","size_mib":N}     balloon size (num_pages = N MiB)
 *   {"cmd":"balloon","target_mib":N}   guest-visible memory (RAM - balloon)
 *   {"cmd":"balloon","num_pages":N}    num_pages itself, any u32 (above RAM too)
 *   {"cmd":"query"}                    target, actual, bitmap, RSS, counters
 *   {"cmd":"stats"}                    latest guest stats and their age
 *   {"cmd":"hint","action":"start"}    free page hint run ("stop" ends it, "done" says DONE now)
 *   {"cmd":"stress","action":"config_notify","count":N}
 *                                      N empty config interrupts (1..1000)
 *   {"cmd":"stress","action":"needs_reset"}
 *                                      DEVICE_NEEDS_RESET and its notification
 *
 * Replies carry "ok":true, or "ok":false with "error"; a rejected request
 * changes nothing. `ballast-vmm ctl SOCKET JSON` is the client.
 */
#ifndef BALLAST_CONTROL_H
#define BALLAST_CONTROL_H

#include <stdio.h>

#include "ioloop.h"
#include "virtio/virtio.h"

#define CONTROL_LINE_MAX	4096	/* request bytes, newline excluded */
#define CONTROL_MAX_CLIENTS	16
#define CONTROL_REPLY_MAX	16384
#define CONTROL_TIMEOUT_S	5	/* client default */
/* A client silent this long yields its slot when a new one finds none free. */
#define CONTROL_IDLE_MS		5000

struct control;

/*
 * Listen on path and serve on loop; balloon may be NULL (no device: balloon
 * commands fail, query still answers). A stale socket file is replaced, a
 * live one (something accepts on it) or a non-socket file is not. Returns
 * NULL with errno set.
 */
struct control *control_create(const char *path, struct ioloop *loop,
			       struct virtio_device *balloon);
/* Close every connection and remove the socket file (loop stopped). */
void control_destroy(struct control *ctl);
/* Change CONTROL_IDLE_MS for this server (unit tests); call before serving. */
void control_set_idle_ms(struct control *ctl, unsigned int ms);

/*
 * Answer one request line (no newline) into reply[size]: one compact JSON
 * object, a newline and a NUL; size CONTROL_REPLY_MAX always suffices.
 * Returns 0 for ok:true, a negative errno for ok:false.
 */
int control_handle_request(struct virtio_device *balloon, const char *line, size_t len,
			   char *reply, size_t size);

/*
 * `ballast-vmm ctl [--timeout SECONDS] SOCKET JSON`, called with main()'s
 * argc/argv (argv[1] is "ctl"). Prints the reply line; returns 0 if it said
 * ok:true, 1 if ok:false, 2 on usage, connect, timeout or protocol errors.
 */
int control_client_main(int argc, char **argv);
/* The same with explicit output streams (unit tests). */
int control_client_run(int argc, char **argv, FILE *out, FILE *err);

#endif
