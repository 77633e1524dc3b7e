/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the in-guest tests: reading ballast.ko's debugfs files,
 * /proc/meminfo and /proc/vmstat, polling with a deadline.  Include after
 * kselftest_harness.h.
 */
#ifndef BALLAST_TEST_H
#define BALLAST_TEST_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define BALLAST_DIR	"/sys/kernel/debug/ballast"
#define PAGES_PER_MIB	256

/* virtio-balloon feature bits (virtio 1.2, 5.5.3) and VERSION_1. */
#define F_MUST_TELL_HOST	(1ULL << 0)
#define F_STATS_VQ		(1ULL << 1)
#define F_DEFLATE_ON_OOM	(1ULL << 2)
#define F_FREE_PAGE_HINT	(1ULL << 3)
#define F_PAGE_POISON		(1ULL << 4)
#define F_REPORTING		(1ULL << 5)
#define F_VERSION_1		(1ULL << 32)
/* What ballast.ko can accept among the device-specific bits 0-23. */
#define DRIVER_FEATURES	(F_MUST_TELL_HOST | F_STATS_VQ | F_DEFLATE_ON_OOM | F_FREE_PAGE_HINT | \
			 F_REPORTING)

static inline int read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return n;
}

static inline int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	n = n < 0 ? -errno : 0;
	close(fd);
	return n;
}

/* A counter of ballast.ko (decimal or 0x hex); -1 when unreadable. */
static inline long long bl(const char *name)
{
	char path[256], buf[64];

	snprintf(path, sizeof(path), BALLAST_DIR "/%s", name);
	if (read_file(path, buf, sizeof(buf)) < 0)
		return -1;
	return strtoull(buf, NULL, 0);
}

static inline int bl_set(const char *name, long long v)
{
	char path[256], buf[32];

	snprintf(path, sizeof(path), BALLAST_DIR "/%s", name);
	snprintf(buf, sizeof(buf), "%lld\n", v);
	return write_file(path, buf);
}

/* Pull one "key value" line out of a file such as inject/result. */
static inline long long kv(const char *path, const char *key)
{
	char buf[4096], *p;
	size_t klen = strlen(key);

	if (read_file(path, buf, sizeof(buf)) < 0)
		return -1;
	for (p = buf; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (!strncmp(p, key, klen) && p[klen] == ' ')
			return strtoll(p + klen + 1, NULL, 0);
	return -1;
}

/* A /proc/meminfo field in KiB, a /proc/vmstat field; -1 if absent. */
static inline long long proc_field(const char *path, const char *key)
{
	char buf[8192], *p;
	size_t klen = strlen(key);

	if (read_file(path, buf, sizeof(buf)) < 0)
		return -1;
	for (p = buf; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (!strncmp(p, key, klen) && (p[klen] == ':' || p[klen] == ' '))
			return strtoll(p + klen + 1 + (p[klen] == ':'), NULL, 10);
	return -1;
}
#define meminfo(k)	proc_field("/proc/meminfo", k)
#define vmstat(k)	proc_field("/proc/vmstat", k)

static inline double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Poll COND every 100 ms for up to SECS seconds; true if it held. */
#define WAIT_FOR(secs, cond) ({						\
	double __end = now_s() + (secs);				\
	int __ok;							\
	while (!(__ok = !!(cond)) && now_s() < __end)			\
		usleep(100000);						\
	__ok; })

/* Run ARGV (argv[0] a path) in a child process: its pid, or -1. */
static inline pid_t spawn(char *const argv[])
{
	pid_t pid = fork();

	if (!pid) {
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

/* The balloon settled: actual == num_pages == pages in the balloon. */
static inline int balloon_settled(void)
{
	long long n = bl("num_pages");

	return n >= 0 && bl("actual") == n && bl("balloon_pages") == n;
}

static inline int ballast_loaded(void)
{
	return access(BALLAST_DIR "/status", R_OK) == 0;
}

/* Dump the status file into the TAP stream as comments. */
static inline void dump_status(void)
{
	char buf[8192], *line, *save;

	if (read_file(BALLAST_DIR "/status", buf, sizeof(buf)) < 0)
		return;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		printf("# %s\n", line);
}

/* main() for every test: skip (exit 4) unless ballast.ko is loaded. */
#define BALLAST_MAIN(parse)						\
	int main(int argc, char **argv)					\
	{								\
		parse(argc, argv);					\
		if (!ballast_loaded()) {				\
			ksft_print_header();				\
			ksft_set_plan(0);				\
			ksft_exit_skip("ballast.ko is not loaded (no " BALLAST_DIR ")\n"); \
		}							\
		return test_harness_run(argc, argv);			\
	}

static inline void no_args(int argc, char **argv) { (void)argc; (void)argv; }

/* An empty fixture, only to get TEST_F_TIMEOUT. */
FIXTURE(bl) {};
FIXTURE_SETUP(bl) {}
FIXTURE_TEARDOWN(bl) {}

#endif /* BALLAST_TEST_H */
