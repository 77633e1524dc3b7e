// SPDX-License-Identifier: MIT
/*
 * The guest side: read framed requests from a serial device, run each as
 * /bin/sh -c with a deadline, send back the framed output and exit status.
 * One request at a time; the channel is a serial line, not a network.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "protocol.h"

static void send_reply(int fd, const struct reply *r)
{
	char hdr[AGENT_HDR_MAX];
	int n = snprintf(hdr, sizeof(hdr), "%cRES %lu %d %zu %08x\n", AGENT_REPLY_START,
			 r->seq, r->status, r->len, agent_crc32(r->out, r->len));

	if (agent_write_all(fd, hdr, n) || agent_write_all(fd, r->out, r->len) || agent_write_all(fd, "\n", 1))
		fprintf(stderr, "ballast-agent: reply %lu not sent: %s\n", r->seq, strerror(errno));
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Keep reading output until the command exits; a background job that keeps
 * the pipe open must not hold the reply back. */
static void run_command(const char *cmd, unsigned int timeout_s, struct reply *r)
{
	int pipefd[2], pidfd, wstatus = 0;
	long deadline = now_ms() + (long)timeout_s * 1000;
	bool exited = false, killed = false;
	pid_t pid;

	r->len = 0;
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		goto fail;
	pid = fork();
	if (pid < 0)
		goto fail;
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		setsid();
		dup2(null, 0);
		dup2(pipefd[1], 1);
		dup2(pipefd[1], 2);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(pipefd[1]);
	fcntl(pipefd[0], F_SETFL, O_NONBLOCK);
	pidfd = syscall(SYS_pidfd_open, pid, 0);

	while (!exited) {
		struct pollfd pfd[2] = {
			{ .fd = pipefd[0], .events = POLLIN },
			{ .fd = pidfd, .events = POLLIN },
		};
		long left = deadline - now_ms();

		if (left <= 0 && !killed) {
			kill(-pid, SIGKILL);
			killed = true;
			left = 1000;
		}
		/* Without a pidfd, poll for the exit ten times a second. */
		poll(pfd, pidfd >= 0 ? 2 : 1, pidfd >= 0 ? (int)MIN(left, 1000) : 100);
		agent_drain(pipefd[0], r);
		if (waitpid(pid, &wstatus, WNOHANG) == pid)
			exited = true;
	}
	agent_drain(pipefd[0], r);
	close(pipefd[0]);
	if (pidfd >= 0)
		close(pidfd);
	if (killed)
		r->status = AGENT_STATUS_TIMEOUT;
	else if (WIFEXITED(wstatus))
		r->status = WEXITSTATUS(wstatus);
	else
		r->status = 128 + WTERMSIG(wstatus);
	return;
fail:
	r->status = 126;
	r->len = snprintf(r->out, AGENT_OUT_MAX, "ballast-agent: cannot run: %s\n", strerror(errno));
}

void agent_drain(int fd, struct reply *r)
{
	char sink[4096];
	ssize_t n;

	for (;;) {
		size_t room = AGENT_OUT_MAX - r->len;
		char *dst = room ? r->out + r->len : sink;

		n = read(fd, dst, room ? room : sizeof(sink));
		if (n <= 0)
			return;
		if (room)
			r->len += n;
	}
}

/* Tolerate a terminal (set it raw) or any other character device. */
static int open_channel(const char *path)
{
	struct termios tio;
	int fd = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	if (tcgetattr(fd, &tio) == 0) {
		cfmakeraw(&tio);
		tcsetattr(fd, TCSANOW, &tio);
	}
	return fd;
}

/* Read one byte; on end-of-file (a virtio port whose host end is closed)
 * wait and try again instead of spinning. */
static int read_byte(int fd)
{
	unsigned char c;

	for (;;) {
		ssize_t n = read(fd, &c, 1);

		if (n == 1)
			return c;
		if (n < 0 && errno != EINTR && errno != EAGAIN)
			return -1;
		usleep(50 * 1000);
	}
}

static int read_request(int fd, char *verb, unsigned long *seq, unsigned int *timeout_s,
			char *cmd)
{
	char hdr[AGENT_HDR_MAX];
	size_t i = 0, len;
	int c;

	while ((c = read_byte(fd)) != AGENT_REQ_START)
		if (c < 0)
			return -1;
	while ((c = read_byte(fd)) != '\n') {
		if (c < 0)
			return -1;
		if (i + 1 >= sizeof(hdr) || c == AGENT_REQ_START)
			return 0;	/* garbage: resynchronise on the next frame */
		hdr[i++] = c;
	}
	hdr[i] = '\0';
	if (sscanf(hdr, "%7s %lu %u %zu", verb, seq, timeout_s, &len) != 4 || len >= AGENT_CMD_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		if ((c = read_byte(fd)) < 0)
			return -1;
		cmd[i] = c;
	}
	cmd[len] = '\0';
	return 1;
}

/*
 * Say "up" (a reply to seq 0, which no client uses) every half second until
 * the first byte of a request arrives. A client's request sent before this
 * guest opened its port may have been thrown away with the port's receive
 * FIFO; a client that hears this asks again at once instead of sitting out
 * its timeout. A client that finds hellos queued ahead of its reply skips
 * them, as it skips any reply to another seq.
 */
static void announce_until_input(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	do
		agent_write_all(fd, AGENT_HELLO "\n", sizeof(AGENT_HELLO "\n") - 1);
	while (poll(&pfd, 1, 500) == 0);
}

int agent_serve(const char *path)
{
	struct reply last = { .out = malloc(AGENT_OUT_MAX) };
	char *cmd = malloc(AGENT_CMD_MAX);
	bool ran = false;
	char verb[8];
	int fd;

	fd = open_channel(path);
	if (fd < 0 || !cmd || !last.out) {
		fprintf(stderr, "ballast-agent: cannot open %s: %s\n", path, strerror(errno));
		return 1;
	}
	announce_until_input(fd);
	for (;;) {
		unsigned long seq;
		unsigned int timeout_s;
		int got = read_request(fd, verb, &seq, &timeout_s, cmd);

		if (got < 0) {
			fprintf(stderr, "ballast-agent: %s: %s\n", path, strerror(errno));
			return 1;
		}
		if (!got)
			continue;
		/* A repeated RUN is a client retrying after a lost reply. */
		if (!strcmp(verb, "RUN") && !(ran && seq == last.seq)) {
			last.seq = seq;
			run_command(cmd, timeout_s ? timeout_s : 60, &last);
			ran = true;
			send_reply(fd, &last);
		} else if (ran && seq == last.seq) {
			send_reply(fd, &last);
		}
	}
}
