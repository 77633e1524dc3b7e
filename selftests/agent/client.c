// SPDX-License-Identifier: MIT
/*
 * The host side: connect to the Unix socket behind the guest's agent port,
 * send one framed request, wait for the matching reply until a deadline.
 * Every call has a deadline; nothing here waits forever.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "frame.h"
#include "protocol.h"

#define RESEND_TRIES	3
/* How long a repeated request waits for the reply that got lost. */
#define RETRY_S		15
/*
 * The agent's hello: a probe that hears one repeats its request, which the
 * guest may have dropped before its port was open (the UART's receive FIFO
 * is cleared on open). The agent answers a repeated seq without running it
 * again. Other bytes (a reply some earlier client gave up on) prove nothing.
 */
#define HELLO_LEN	(sizeof(AGENT_HELLO) - 1)

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The socket appears only once the VMM is up: retry until the deadline. */
static int connect_until(const char *path, long deadline)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (strlen(path) >= sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sa.sun_path, path);
	do {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd < 0)
			return -1;
		if (!connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
			return fd;
		close(fd);
		usleep(100 * 1000);
	} while (now_ms() < deadline);
	return -1;
}

static int send_request(int fd, const char *verb, unsigned long seq, unsigned int timeout_s,
			const char *cmd)
{
	char hdr[AGENT_HDR_MAX];
	size_t len = cmd ? strlen(cmd) : 0;
	int n = snprintf(hdr, sizeof(hdr), "%c%s %lu %u %zu\n", AGENT_REQ_START, verb, seq,
			 timeout_s, len);

	return agent_write_all(fd, hdr, n) || agent_write_all(fd, cmd, len) ? -1 : 0;
}

/* Did the bytes from rx->data[from] on complete a hello? */
static bool heard_hello(const struct rxbuf *rx, size_t from)
{
	size_t start = from >= HELLO_LEN ? from - HELLO_LEN + 1 : 0;

	return memmem(rx->data + start, rx->len - start, AGENT_HELLO, HELLO_LEN);
}

/* Read more bytes, waiting at most until the deadline: 1 read, 0 timed out, -1 closed. */
static int rx_more(int fd, struct rxbuf *rx, long deadline)
{
	long left = deadline - now_ms();
	ssize_t n;

	if (left <= 0 || poll(&(struct pollfd){ .fd = fd, .events = POLLIN }, 1, left) <= 0)
		return 0;
	if (rx->cap - rx->len < 4096) {
		rx->cap = rx->cap * 2 + 4096;
		rx->data = realloc(rx->data, rx->cap);
		if (!rx->data)
			return -1;
	}
	n = recv(fd, rx->data + rx->len, rx->cap - rx->len, 0);
	if (n <= 0)
		return -1;
	rx->len += n;
	return 1;
}

/*
 * One attempt on a fresh connection: send RUN seq, wait for its reply until
 * the deadline. A probe sends RUN seq again each time it hears a hello.
 * Returns the command's status, or AGENT_EXIT_NO_REPLY with *why saying
 * what went wrong.
 */
static int exec_once(const char *sock, unsigned long seq, const char *cmd,
		     unsigned int cmd_timeout_s, long deadline, bool probe, const char **why)
{
	struct rxbuf rx = { 0 };
	struct reply r;
	int fd, tries = 0, ret = AGENT_EXIT_NO_REPLY;

	*why = "no reply";
	fd = connect_until(sock, deadline);
	if (fd < 0) {
		*why = strerror(errno);
		goto out;
	}
	if (send_request(fd, "RUN", seq, cmd_timeout_s, cmd)) {
		*why = strerror(errno);
		goto out;
	}
	for (;;) {
		size_t used = 0, had;
		int got = agent_parse_reply(&rx, seq, &r, &used);

		if (got > 0) {
			fwrite(r.out, 1, r.len, stdout);
			ret = r.status;
			break;
		}
		if (got < 0) {
			memmove(rx.data, rx.data + used, rx.len - used);
			rx.len -= used;
			if (++tries > RESEND_TRIES) {
				*why = "replies kept arriving corrupted";
				break;
			}
			send_request(fd, "RESEND", seq, 0, NULL);
			continue;
		}
		had = rx.len;
		got = rx_more(fd, &rx, deadline);
		if (got > 0 && probe && heard_hello(&rx, had) &&
		    send_request(fd, "RUN", seq, cmd_timeout_s, cmd))
			got = -1;
		if (got <= 0) {
			*why = got ? "connection closed" : "no reply before the deadline";
			break;
		}
	}
out:
	if (fd >= 0)
		close(fd);
	free(rx.data);
	return ret;
}

int agent_exec(const char *sock, const char *cmd, unsigned int timeout_s, bool quiet)
{
	unsigned long seq = ((unsigned long)getpid() << 20) ^ (unsigned long)now_ms();
	/* The agent's hello is the one reply a client must never take. */
	if (seq == AGENT_SEQ_HELLO)
		seq++;
	/* The agent kills the command a second before we give up on it. */
	unsigned int cmd_timeout_s = timeout_s > 1 ? timeout_s - 1 : 1;
	const char *why;
	int ret;

	ret = exec_once(sock, seq, cmd, cmd_timeout_s, now_ms() + (long)timeout_s * 1000,
			quiet, &why);
	/*
	 * A reply lost on the way (a channel that stalled, a connection the
	 * VMM dropped) may still be had: ask again on a fresh connection. The
	 * agent answers a repeated seq from its last reply and never runs a
	 * command twice. A probe (quiet: `wait`) just asks again later.
	 */
	if (ret == AGENT_EXIT_NO_REPLY && !quiet) {
		fprintf(stderr, "ballast-agent: %s: %s (timeout %us); asking again\n", sock, why,
			timeout_s);
		ret = exec_once(sock, seq, cmd, cmd_timeout_s,
				now_ms() + (long)MIN(timeout_s, RETRY_S) * 1000, false, &why);
	}
	if (ret == AGENT_EXIT_NO_REPLY && !quiet)
		fprintf(stderr, "ballast-agent: %s: %s (timeout %us)\n", sock, why, timeout_s);
	return ret;
}

/*
 * Send standard input to a Unix socket and print what comes back until a
 * line contains `until` (or the deadline passes): a request/reply client for
 * line protocols like QMP without a fixed wait after the reply.
 */
int agent_talk(const char *sock, const char *until, unsigned int timeout_s)
{
	long deadline = now_ms() + (long)timeout_s * 1000;
	struct rxbuf rx = { 0 };
	char in[4096];
	size_t n;
	int fd, ret = AGENT_EXIT_NO_REPLY;

	fd = connect_until(sock, deadline);
	if (fd < 0) {
		fprintf(stderr, "ballast-agent: %s: %s\n", sock, strerror(errno));
		return ret;
	}
	while ((n = fread(in, 1, sizeof(in), stdin)) > 0)
		if (agent_write_all(fd, in, n))
			goto out;
	for (;;) {
		char *hit = rx.len ? memmem(rx.data, rx.len, until, strlen(until)) : NULL;

		if (hit && memchr(hit, '\n', rx.len - (hit - rx.data))) {
			ret = 0;
			break;
		}
		if (rx_more(fd, &rx, deadline) <= 0)
			break;
	}
	fwrite(rx.data, 1, rx.len, stdout);
	if (ret)
		fprintf(stderr, "ballast-agent: %s: no line with '%s' within %us\n", sock, until,
			timeout_s);
out:
	close(fd);
	free(rx.data);
	return ret;
}
