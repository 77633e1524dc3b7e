// SPDX-License-Identifier: MIT
/*
 * `ballast-vmm ctl [--timeout SECONDS] SOCKET JSON`: send one request line,
 * print the reply line, exit by its "ok". Scripts rely on the status: 0 ok,
 * 1 refused by the VMM, 2 anything that kept us from getting an answer.
 */
#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "control.h"

#define CONTROL_EXIT_OK		0
#define CONTROL_EXIT_REFUSED	1
#define CONTROL_EXIT_ERROR	2

static void control_usage(FILE *f)
{
	fprintf(f, "usage: ballast-vmm ctl [--timeout SECONDS] SOCKET JSON\n"
		   "  e.g. ballast-vmm ctl /run/vm.sock '{\"cmd\":\"balloon\",\"size_mib\":256}'\n"
		   "  commands: balloon (size_mib | target_mib), query, stats,\n"
		   "            hint (action: start | stop)\n"
		   "  exit status: 0 ok, 1 refused by the VMM, 2 usage, connect or timeout error\n");
}

static long long control_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* Wait for events on fd until deadline; 0, or -ETIMEDOUT. */
static int control_wait(int fd, short events, long long deadline)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	long long left;
	int n;

	for (;;) {
		left = deadline - control_now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		n = poll(&pfd, 1, left > 60000 ? 60000 : (int)left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

static int control_connect(const char *path, long long deadline)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd, ret;

	if (strlen(path) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* A full backlog makes a non-blocking Unix connect fail with EAGAIN: retry. */
	while (connect(fd, (struct sockaddr *)&addr, sizeof(addr))) {
		ret = -errno;
		if (ret != -EAGAIN || control_now_ms() >= deadline) {
			close(fd);
			return ret == -EAGAIN ? -ETIMEDOUT : ret;
		}
		usleep(10000);
	}
	return fd;
}

static int control_send(int fd, const char *buf, size_t len, long long deadline)
{
	ssize_t n;
	int ret;

	while (len) {
		n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n > 0) {
			buf += n;
			len -= n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN)
			return -errno;
		ret = control_wait(fd, POLLOUT, deadline);
		if (ret)
			return ret;
	}
	return 0;
}

/* One line into buf (newline kept, NUL-terminated). */
static int control_recv_line(int fd, char *buf, size_t size, long long deadline)
{
	size_t len = 0;
	ssize_t n;
	int ret;

	while (len + 1 < size) {
		n = recv(fd, buf + len, size - 1 - len, 0);
		if (n > 0) {
			len += n;
			buf[len] = '\0';
			if (memchr(buf, '\n', len))
				return 0;
			continue;
		}
		if (n == 0)
			return -ECONNRESET;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return -errno;
		ret = control_wait(fd, POLLIN, deadline);
		if (ret)
			return ret;
	}
	return -EMSGSIZE;
}

/* 0 if the reply says ok:true, 1 if ok:false, 2 if it is not a reply. */
static int control_reply_status(const char *line)
{
	json_t *obj = json_loadb(line, strcspn(line, "\n"), JSON_REJECT_DUPLICATES, NULL);
	const json_t *ok = json_object_get(obj, "ok");
	int status = CONTROL_EXIT_ERROR;

	if (json_is_boolean(ok))
		status = json_is_true(ok) ? CONTROL_EXIT_OK : CONTROL_EXIT_REFUSED;
	json_decref(obj);
	return status;
}

int control_client_run(int argc, char **argv, FILE *out, FILE *err)
{
	char reply[4 * CONTROL_REPLY_MAX];
	const char *path, *req;
	long long deadline;
	long timeout = CONTROL_TIMEOUT_S;
	char *end, *line;
	int i = 2, fd, ret, status;

	if (argc > i && (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))) {
		control_usage(out);
		return CONTROL_EXIT_OK;
	}
	if (argc > i && !strcmp(argv[i], "--timeout")) {
		if (argc <= i + 1) {
			control_usage(err);
			return CONTROL_EXIT_ERROR;
		}
		errno = 0;
		timeout = strtol(argv[i + 1], &end, 10);
		if (errno || *end || end == argv[i + 1] || timeout < 1 || timeout > 3600) {
			fprintf(err, "ballast-vmm ctl: --timeout: '%s' is not 1..3600 seconds\n",
				argv[i + 1]);
			return CONTROL_EXIT_ERROR;
		}
		i += 2;
	}
	if (argc - i != 2) {
		control_usage(err);
		return CONTROL_EXIT_ERROR;
	}
	path = argv[i];
	req = argv[i + 1];
	if (strchr(req, '\n') || strlen(req) > CONTROL_LINE_MAX) {
		fprintf(err, "ballast-vmm ctl: the request must be one line of at most %d bytes\n",
			CONTROL_LINE_MAX);
		return CONTROL_EXIT_ERROR;
	}
	line = malloc(strlen(req) + 2);
	if (!line)
		return CONTROL_EXIT_ERROR;
	sprintf(line, "%s\n", req);

	deadline = control_now_ms() + timeout * 1000;
	fd = control_connect(path, deadline);
	if (fd < 0) {
		fprintf(err, "ballast-vmm ctl: cannot connect to %s: %s\n", path, strerror(-fd));
		free(line);
		return CONTROL_EXIT_ERROR;
	}
	ret = control_send(fd, line, strlen(line), deadline);
	if (!ret)
		ret = control_recv_line(fd, reply, sizeof(reply), deadline);
	close(fd);
	free(line);
	if (ret) {
		fprintf(err, "ballast-vmm ctl: %s: %s\n", path,
			ret == -ETIMEDOUT ? "no reply before the timeout" : strerror(-ret));
		return CONTROL_EXIT_ERROR;
	}
	reply[strcspn(reply, "\n")] = '\0';
	fprintf(out, "%s\n", reply);
	fflush(out);
	status = control_reply_status(reply);
	if (status == CONTROL_EXIT_ERROR)
		fprintf(err, "ballast-vmm ctl: the reply is not a control reply\n");
	return status;
}

int control_client_main(int argc, char **argv)
{
	return control_client_run(argc, argv, stdout, stderr);
}
