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
#include "protocol.h"

#define RESEND_TRIES	3

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

struct rxbuf {
	char *data;
	size_t len, cap;
};

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
 * Find the reply for seq in rx. Returns 1 with r filled (payload pointing
 * into rx), 0 when more bytes are needed, -1 for a corrupt frame (the frame
 * is dropped from rx).
 */
static int parse_reply(struct rxbuf *rx, unsigned long seq, struct reply *r, size_t *consumed)
{
	char *start, *nl;
	unsigned long rseq;
	unsigned int crc;
	size_t off = 0, len;
	int status;

	while ((start = memchr(rx->data + off, AGENT_REPLY_START, rx->len - off))) {
		off = start - rx->data;
		nl = memchr(start, '\n', rx->len - off);
		if (!nl)
			return 0;
		if (sscanf(start + 1, "RES %lu %d %zu %x", &rseq, &status, &len, &crc) != 4 ||
		    len > AGENT_OUT_MAX + 4096) {
			off++;
			continue;
		}
		if (rseq == seq && (size_t)(nl + 1 - rx->data) + len + 1 > rx->len)
			return 0;
		/*
		 * A reply some earlier client gave up on, or noise that looks
		 * like a header: step over its start byte only, since its length
		 * can't be trusted and our reply may begin inside it.
		 */
		if (rseq != seq) {
			off++;
			continue;
		}
		*consumed = nl + 1 - rx->data + len + 1;
		if (agent_crc32(nl + 1, len) != crc || nl[1 + len] != '\n')
			return -1;
		r->seq = rseq;
		r->status = status;
		r->out = nl + 1;
		r->len = len;
		return 1;
	}
	return 0;
}

int agent_exec(const char *sock, const char *cmd, unsigned int timeout_s, bool quiet)
{
	long deadline = now_ms() + (long)timeout_s * 1000;
	unsigned long seq = ((unsigned long)getpid() << 20) ^ (unsigned long)now_ms();
	struct rxbuf rx = { 0 };
	struct reply r;
	int fd, tries = 0, ret = AGENT_EXIT_NO_REPLY;
	const char *why = "no reply";

	fd = connect_until(sock, deadline);
	if (fd < 0) {
		why = strerror(errno);
		goto out;
	}
	/* The agent kills the command a second before we give up on it. */
	if (send_request(fd, "RUN", seq, timeout_s > 1 ? timeout_s - 1 : 1, cmd)) {
		why = strerror(errno);
		goto out;
	}
	for (;;) {
		size_t used = 0;
		int got = parse_reply(&rx, seq, &r, &used);

		if (got > 0) {
			fwrite(r.out, 1, r.len, stdout);
			ret = r.status;
			break;
		}
		if (got < 0) {
			memmove(rx.data, rx.data + used, rx.len - used);
			rx.len -= used;
			if (++tries > RESEND_TRIES) {
				why = "replies kept arriving corrupted";
				break;
			}
			send_request(fd, "RESEND", seq, 0, NULL);
			continue;
		}
		got = rx_more(fd, &rx, deadline);
		if (got <= 0) {
			why = got ? "connection closed" : "no reply before the deadline";
			break;
		}
	}
out:
	if (ret == AGENT_EXIT_NO_REPLY && !quiet)
		fprintf(stderr, "ballast-agent: %s: %s (timeout %us)\n", sock, why, timeout_s);
	if (fd >= 0)
		close(fd);
	free(rx.data);
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
