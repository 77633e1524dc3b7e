// SPDX-License-Identifier: MIT
/*
 * ballast-sampler: resize a VMM's balloon and watch what follows, from
 * inside the machine the VMM runs on. Every -i ms it reads the VMM's Rss
 * and CPU from /proc, every -a ms it asks the VMM for the balloon's
 * `actual`, one CSV row a sample, until `actual` has reached the target and
 * Rss has held still for a second. A process start costs ~60 ms in the
 * nested test host, so a shell loop could not sample every 20 ms; this one
 * connects once.
 *
 *   ballast-sampler -p PID -s SOCKET -P ballast|qmp -t MIB -o CSV
 *                   [-m RAM_MIB] [-i MS] [-a MS] [-T SECONDS] [-b MS]
 *                   [-d KIB] [-n] [-S] [-A]
 *
 * The balloon command goes out at t = 0, after -b ms of samples that give
 * the idle VMM's CPU rate (polling included). bench/README.md has each
 * option. Last, one summary line of
 * key=value pairs on stdout. Exit 0 done, 1 timeout or VMM error (one line
 * on stderr), 2 bad arguments.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define KIB_PER_MIB	1024LL
#define LINE_MAX_LEN	(64 * 1024)	/* ballast-vmm's query is ~2 KiB */
#define IO_TIMEOUT_S	10		/* one request's reply, at most */
#define STABLE_MS	1000		/* Rss within STABLE_PCT this long: done */
#define STABLE_PCT	1

enum proto { PROTO_BALLAST, PROTO_QMP };

struct task_cpu {
	unsigned long long utime, stime, guest_time;	/* clock ticks */
};

/* One reading. cpu_ns: every thread; dev_ns: the part outside guest mode. */
struct sample {
	long long t_us, actual_kib, rss_kib, cpu_ns, dev_ns;
};

/* ---- pure parsing: what test_sampler.c checks ---- */

/*
 * One /proc/PID/task/TID/stat line. The command name sits in parentheses
 * and may hold anything, ')' and spaces too, so fields count from the last
 * ')'. utime, stime and guest_time are fields 14, 15 and 43.
 */
static int stat_parse(const char *line, struct task_cpu *out)
{
	const char *p = strrchr(line, ')');
	unsigned long long v;
	int field = 2;
	char *end;

	if (!p)
		return -1;
	p++;
	memset(out, 0, sizeof(*out));
	while (field < 43) {
		while (*p == ' ')
			p++;
		if (!*p || *p == '\n')
			return -1;
		field++;
		if (field == 3) {	/* state: one letter */
			p++;
			continue;
		}
		errno = 0;
		v = strtoull(p, &end, 10);
		if (end == p || errno)
			return -1;
		p = end;
		if (field == 14)
			out->utime = v;
		else if (field == 15)
			out->stime = v;
		else if (field == 43)
			out->guest_time = v;
	}
	return 0;
}

/*
 * A thread's CPU outside guest mode: what the VMM itself costs. Not "the
 * threads that never ran the guest": QEMU (nested, 7.2) releases balloon
 * pages from its vCPU thread (strace -ff put every madvise there), between
 * two runs of the guest, where ballast-vmm's device thread does it. So each
 * thread's guest_time (ticks, sampled) comes off its run time; utime counts
 * guest time too.
 */
static long long task_dev_ns(long long ns, unsigned long long guest_ticks, long tick_ns)
{
	long long dev = ns - (long long)guest_ticks * tick_ns;

	return dev > 0 ? dev : 0;
}

/* A "Name:   value kB" field of /proc/PID/smaps_rollup text, in KiB. */
static int smaps_field_kib(const char *text, const char *name, long long *kib)
{
	size_t n = strlen(name);
	const char *p = text;
	char *end;

	while (p && *p) {
		if (!strncmp(p, name, n) && p[n] == ':') {
			errno = 0;
			*kib = strtoll(p + n + 1, &end, 10);
			return end == p + n + 1 || errno || *kib < 0 ? -1 : 0;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return -1;
}

/* Resident memory in KiB from /proc/PID/statm (its second field, in pages). */
static int statm_rss_kib(const char *text, long page_kib, long long *kib)
{
	long long size, pages;

	if (sscanf(text, "%lld %lld", &size, &pages) != 2 || pages < 0 || pages > size)
		return -1;
	*kib = pages * page_kib;
	return 0;
}

/*
 * The integer after "key": in one line of JSON, wherever it nests. Both
 * VMMs' replies are flat enough for that (no string value holds a quoted
 * key), and a full parser would be a dependency.
 */
static int json_int(const char *line, const char *key, long long *v)
{
	size_t n = strlen(key);
	const char *p = line;
	char *end;

	while ((p = strchr(p, '"'))) {
		p++;
		if (strncmp(p, key, n) || p[n] != '"')
			continue;
		p += n + 1;
		while (*p == ' ')
			p++;
		if (*p != ':')
			continue;
		p++;
		while (*p == ' ')
			p++;
		errno = 0;
		*v = strtoll(p, &end, 10);
		if (end == p || errno || (*end && !strchr(" ,}]\r\n", *end)))
			return -1;
		return 0;
	}
	return -1;
}

/* `"key":` is present at all (QMP's "return", "error", "event"). */
static bool json_has(const char *line, const char *key)
{
	char pat[64];

	snprintf(pat, sizeof(pat), "\"%s\"", key);
	return strstr(line, pat);
}

/*
 * Is this line the reply to request id? ballast-vmm answers each request
 * with exactly one line; QMP interleaves events (BALLOON_CHANGE carries an
 * "actual" of its own) and answers with "return" or "error" and our id.
 */
static bool reply_matches(enum proto proto, const char *line, long long id)
{
	long long got;

	if (proto == PROTO_BALLAST)
		return true;
	if (json_has(line, "event") || !(json_has(line, "return") || json_has(line, "error")))
		return false;
	return !json_int(line, "id", &got) && got == id;
}

/* The request succeeded: "ok":true, or QMP's "return". */
static bool reply_ok(enum proto proto, const char *line)
{
	if (proto == PROTO_QMP)
		return json_has(line, "return");
	return strstr(line, "\"ok\":true") || strstr(line, "\"ok\": true");
}

/*
 * The balloon's size in KiB from a query reply: ballast-vmm's "actual" is
 * the driver's count of 4 KiB pages; QEMU's is the guest's memory in bytes
 * (RAM minus the balloon).
 */
static int actual_kib(enum proto proto, const char *line, long long ram_mib, long long *kib)
{
	long long v;

	if (json_int(line, "actual", &v) || v < 0)
		return -1;
	if (proto == PROTO_BALLAST) {
		*kib = v * 4;
	} else {
		if (v > ram_mib * KIB_PER_MIB * 1024)
			return -1;
		*kib = ram_mib * KIB_PER_MIB - v / 1024;
	}
	return 0;
}

/* A whole decimal number in [min, max], or -1 with errno set. */
static int parse_num(const char *s, long long min, long long max, long long *v)
{
	char *end;

	errno = 0;
	*v = strtoll(s, &end, 10);
	if (!*s || *end || errno || *v < min || *v > max) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

struct args {
	int pid;
	const char *sock, *csv;
	enum proto proto;
	long long target_mib, ram_mib, interval_ms, query_ms, timeout_s, baseline_ms, drop_kib;
	bool proto_set, no_command, smaps, actual_only;
};

/* Rss held within STABLE_PCT since since_us; a sample outside starts anew. */
struct band {
	long long lo, hi, since_us;
};

struct progress {
	struct band band;
	long long actual_us;	/* when `actual` reached the target, or -1 */
};

static void band_add(struct band *b, const struct sample *s)
{
	long long lo = s->rss_kib < b->lo ? s->rss_kib : b->lo;
	long long hi = s->rss_kib > b->hi ? s->rss_kib : b->hi;

	if (!b->since_us || (hi - lo) * 100 > hi * STABLE_PCT) {
		lo = hi = s->rss_kib;
		b->since_us = s->t_us;
	}
	b->lo = lo;
	b->hi = hi;
}

/* After the command: has the work ended with this sample? */
static bool work_done(const struct args *a, struct progress *p, const struct sample *s,
		      long long rss0)
{
	band_add(&p->band, s);
	if (s->actual_kib != a->target_mib * KIB_PER_MIB)
		p->actual_us = -1;
	else if (p->actual_us < 0)
		p->actual_us = s->t_us;
	/*
	 * A drop is awaited only when asked for (-d): a deflate's Rss may
	 * rise (QEMU touches pages it gets back), and must not hold it up.
	 */
	if (p->actual_us < 0 || (a->drop_kib && rss0 - s->rss_kib < a->drop_kib))
		return false;
	return a->actual_only || s->t_us - p->band.since_us >= STABLE_MS * 1000LL;
}

#ifndef SAMPLER_TEST

/* ---- the VMM's control socket ---- */

struct conn {
	int fd;
	enum proto proto;
	long long next_id;
	long long queries, last_query_us, last_actual_kib;
	char buf[LINE_MAX_LEN];
	size_t len;	/* bytes in buf, the next line first */
};

static long long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

static __attribute__((noreturn, format(printf, 2, 3))) void fail(int rc, const char *fmt, ...)
{
	va_list ap;

	fputs("ballast-sampler: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(rc);
}

/* The next line (without '\n') into line; the socket's timeout bounds the wait. */
static void conn_line(struct conn *c, char *line)
{
	char *nl;
	ssize_t n;

	while (!(nl = memchr(c->buf, '\n', c->len))) {
		if (c->len == sizeof(c->buf))
			fail(1, "a reply longer than %d bytes", LINE_MAX_LEN);
		n = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
		if (n == 0)
			fail(1, "the VMM closed its control socket");
		if (n < 0)
			fail(1, "no reply from the VMM within %d s (%s)", IO_TIMEOUT_S,
			     strerror(errno));
		c->len += n;
	}
	*nl = '\0';
	memcpy(line, c->buf, nl - c->buf + 1);
	c->len -= nl + 1 - c->buf;
	memmove(c->buf, nl + 1, c->len);
}

/* Send one request (QMP: with an id) and return its reply line in line. */
static void conn_request(struct conn *c, const char *req, char *line)
{
	char msg[512];
	long long id = ++c->next_id;
	int n;

	if (c->proto == PROTO_QMP)
		n = snprintf(msg, sizeof(msg), "%.*s,\"id\":%lld}\n",
			     (int)strlen(req) - 1, req, id);
	else
		n = snprintf(msg, sizeof(msg), "%s\n", req);
	/* A VMM gone mid-run is an error line, not a silent SIGPIPE. */
	if (send(c->fd, msg, n, MSG_NOSIGNAL) != n)
		fail(1, "writing to the VMM's control socket: %s", strerror(errno));
	do
		conn_line(c, line);
	while (!reply_matches(c->proto, line, id));
}

static void conn_open(struct conn *c, const char *path, enum proto proto, char *line)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = IO_TIMEOUT_S };

	c->proto = proto;
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	strcpy(sa.sun_path, path);	/* length checked with the arguments */
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		fail(1, "cannot connect to %s: %s", path, strerror(errno));
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (proto == PROTO_QMP) {
		conn_line(c, line);	/* the greeting */
		conn_request(c, "{\"execute\":\"qmp_capabilities\"}", line);
		if (!reply_ok(proto, line))
			fail(1, "qmp_capabilities refused: %s", line);
	}
}

/* ---- /proc ---- */

static int read_file(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "re");
	size_t n;

	if (!f)
		return -1;
	n = fread(buf, 1, size - 1, f);
	fclose(f);
	buf[n] = '\0';
	return 0;
}

/*
 * CPU of every thread, summed: the scheduler's run time in ns from
 * schedstat (stat's utime+stime is the same figure cut to 10 ms ticks; the
 * fallback where schedstat is missing), and its part outside the guest.
 */
static int nr_threads, nr_vcpus;	/* as last seen, for the summary */

static int read_cpu(int pid, long long *cpu_ns, long long *dev_ns)
{
	static long tick_ns;
	char path[64], buf[1024];
	struct task_cpu tc;
	struct dirent *d;
	unsigned long long run;
	long long ns;
	DIR *dir;

	if (!tick_ns)
		tick_ns = 1000000000L / sysconf(_SC_CLK_TCK);
	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	dir = opendir(path);
	if (!dir)
		return -1;
	*cpu_ns = *dev_ns = 0;
	nr_threads = nr_vcpus = 0;
	while ((d = readdir(dir))) {
		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%.16s/stat", pid, d->d_name);
		if (read_file(path, buf, sizeof(buf)) || stat_parse(buf, &tc))
			continue;	/* a thread that just exited */
		ns = (long long)(tc.utime + tc.stime) * tick_ns;
		snprintf(path, sizeof(path), "/proc/%d/task/%.16s/schedstat", pid, d->d_name);
		if (!read_file(path, buf, sizeof(buf)) && sscanf(buf, "%llu", &run) == 1)
			ns = run;
		*cpu_ns += ns;
		*dev_ns += task_dev_ns(ns, tc.guest_time, tick_ns);
		nr_threads++;
		if (tc.guest_time)
			nr_vcpus++;
	}
	closedir(dir);
	return 0;
}

/*
 * Rss from smaps_rollup, which walks every page table of the VMM: ~7 ms a
 * read for a 512 MiB guest's VMM in the test host, a third of a CPU at one
 * read every 20 ms, taken from the VMM being measured. So the samples read
 * statm, the kernel's running count of the same pages, and smaps_rollup
 * (what the harness and the suite assert on) is read before and after only,
 * or every time with -S.
 */
static int read_rss(int pid, bool smaps, long long *kib)
{
	char path[64], buf[4096];

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, smaps ? "smaps_rollup" : "statm");
	if (read_file(path, buf, sizeof(buf)))
		return -1;
	if (smaps)
		return smaps_field_kib(buf, "Rss", kib);
	return statm_rss_kib(buf, sysconf(_SC_PAGESIZE) / 1024, kib);
}

/* ---- arguments ---- */


#define USAGE \
	"usage: ballast-sampler -p PID -s SOCKET -P ballast|qmp -t MIB -o CSV\n" \
	"       [-m RAM_MIB] [-i MS] [-a MS] [-T SECONDS] [-b MS] [-d KIB] [-n] [-S] [-A]\n"

/* A bad argument: one line that names it, status 2. */
static __attribute__((noreturn)) void usage_fail(const char *what)
{
	fprintf(stderr, "ballast-sampler: %s\n", what);
	exit(2);
}

static long long num_arg(int opt, const char *s, long long min, long long max)
{
	char msg[160];
	long long v;

	if (parse_num(s, min, max, &v)) {
		snprintf(msg, sizeof(msg), "-%c: '%.40s' is not a whole number in %lld..%lld",
			 opt, s, min, max);
		usage_fail(msg);
	}
	return v;
}

static void parse_args(int argc, char **argv, struct args *a)
{
	char msg[160];
	FILE *csv;
	int opt;

	*a = (struct args){ .interval_ms = 20, .timeout_s = 300, .baseline_ms = 1000,
			    .target_mib = -1 };
	while ((opt = getopt(argc, argv, ":hp:s:P:t:o:m:i:a:T:b:d:nSA")) != -1) {
		switch (opt) {
		case 'h':
			fputs(USAGE, stdout);
			exit(0);
		case 'p':
			a->pid = num_arg(opt, optarg, 1, INT_MAX);
			break;
		case 's':
			a->sock = optarg;
			break;
		case 'P':
			if (!strcmp(optarg, "ballast"))
				a->proto = PROTO_BALLAST;
			else if (!strcmp(optarg, "qmp"))
				a->proto = PROTO_QMP;
			else
				usage_fail("-P: the protocol is ballast or qmp");
			a->proto_set = true;
			break;
		case 't':
			a->target_mib = num_arg(opt, optarg, 0, 1 << 24);
			break;
		case 'o':
			a->csv = optarg;
			break;
		case 'm':
			a->ram_mib = num_arg(opt, optarg, 1, 1 << 24);
			break;
		case 'i':
			a->interval_ms = num_arg(opt, optarg, 1, 10000);
			break;
		case 'a':
			a->query_ms = num_arg(opt, optarg, 1, 10000);
			break;
		case 'T':
			a->timeout_s = num_arg(opt, optarg, 1, 3600);
			break;
		case 'b':
			a->baseline_ms = num_arg(opt, optarg, 0, 60000);
			break;
		case 'd':
			a->drop_kib = num_arg(opt, optarg, 0, 1LL << 40);
			break;
		case 'n':
			a->no_command = true;
			break;
		case 'S':
			a->smaps = true;
			break;
		case 'A':
			a->actual_only = true;
			break;
		case ':':
			snprintf(msg, sizeof(msg), "-%c needs a value", optopt);
			usage_fail(msg);
		default:
			snprintf(msg, sizeof(msg), "unknown option -%c", optopt);
			usage_fail(msg);
		}
	}
	if (!a->query_ms)
		a->query_ms = a->interval_ms;
	if (optind < argc)
		usage_fail("stray arguments after the options");
	if (!a->pid || !a->sock || !a->proto_set || a->target_mib < 0 || !a->csv)
		usage_fail("-p, -s, -P, -t and -o are required");
	if (!*a->sock || strlen(a->sock) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		usage_fail("-s: not a Unix socket path (empty or too long)");
	if (a->proto == PROTO_QMP && !a->ram_mib)
		usage_fail("-m: QMP speaks of the guest's memory, so give its RAM in MiB");
	if (a->ram_mib && a->target_mib > a->ram_mib)
		usage_fail("-t: a balloon larger than the guest's RAM");
	if (kill(a->pid, 0) && errno == ESRCH) {
		snprintf(msg, sizeof(msg), "-p: no process %d", a->pid);
		usage_fail(msg);
	}
	/* Written only at the end: find out now that it cannot be. */
	csv = *a->csv ? fopen(a->csv, "we") : NULL;
	if (!csv) {
		snprintf(msg, sizeof(msg), "-o: cannot write '%.80s'", a->csv);
		usage_fail(msg);
	}
	fclose(csv);
}

/* ---- the run ---- */

struct run {
	struct sample *s;
	size_t n, cap;
};

static struct sample *run_next(struct run *r)
{
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 1024;
		r->s = realloc(r->s, r->cap * sizeof(*r->s));
		if (!r->s)
			fail(1, "out of memory after %zu samples", r->n);
	}
	return &r->s[r->n++];
}

/*
 * /proc every sample; the VMM every -a ms only, or when force: a query is
 * work for the VMM under test (QEMU's QMP cost its main loop 5 ms a query
 * nested, 28% of a CPU at one every 20 ms), which slows what is measured.
 */
static void take_sample(const struct args *a, struct conn *c, char *line,
			struct sample *s, long long *madvise, bool force)
{
	static const char *query[] = {
		[PROTO_BALLAST] = "{\"cmd\":\"query\"}",
		[PROTO_QMP] = "{\"execute\":\"query-balloon\"}",
	};

	if (force || now_us() - c->last_query_us >= a->query_ms * 1000) {
		c->last_query_us = now_us();
		c->queries++;
		conn_request(c, query[a->proto], line);
		if (actual_kib(a->proto, line, a->ram_mib, &c->last_actual_kib))
			fail(1, "no \"actual\" in the VMM's reply: %.200s", line);
		/* Only ballast-vmm counts its releases; QEMU's come from strace. */
		if (json_int(line, "madvise_calls", madvise))
			*madvise = -1;
	}
	s->actual_kib = c->last_actual_kib;
	if (read_rss(a->pid, a->smaps, &s->rss_kib) || read_cpu(a->pid, &s->cpu_ns, &s->dev_ns))
		fail(1, "process %d is gone", a->pid);
	s->t_us = now_us();
}

static void send_balloon(const struct args *a, struct conn *c, char *line)
{
	char req[128];

	if (a->proto == PROTO_QMP)
		snprintf(req, sizeof(req), "{\"execute\":\"balloon\",\"arguments\":{\"value\":%lld}}",
			 (a->ram_mib - a->target_mib) * KIB_PER_MIB * 1024);
	else
		snprintf(req, sizeof(req), "{\"cmd\":\"balloon\",\"size_mib\":%lld}", a->target_mib);
	conn_request(c, req, line);
	if (!reply_ok(a->proto, line))
		fail(1, "the VMM refused the balloon command: %.200s", line);
}

static void sleep_until(long long t_us)
{
	struct timespec ts = { .tv_sec = t_us / 1000000, .tv_nsec = t_us % 1000000 * 1000 };

	clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}

/* Sleep to the next tick; after a slow sample, no burst to catch up. */
static void tick(const struct args *a, long long *next)
{
	*next += a->interval_ms * 1000;
	if (*next < now_us())
		*next = now_us();
	sleep_until(*next);
}

static void write_csv(const struct args *a, const struct run *r, long long t_cmd)
{
	FILE *f = fopen(a->csv, "we");
	size_t i;

	if (!f)
		fail(1, "cannot write %s: %s", a->csv, strerror(errno));
	fprintf(f, "t_s,target_mib,actual_mib,rss_mib,cpu_ms,dev_ms\n");
	for (i = 0; i < r->n; i++)
		fprintf(f, "%.3f,%lld,%.2f,%.1f,%.1f,%.1f\n", (r->s[i].t_us - t_cmd) / 1e6,
			a->target_mib, r->s[i].actual_kib / 1024.0, r->s[i].rss_kib / 1024.0,
			(r->s[i].cpu_ns - r->s[0].cpu_ns) / 1e6,
			(r->s[i].dev_ns - r->s[0].dev_ns) / 1e6);
	if (fclose(f))
		fail(1, "cannot write %s: %s", a->csv, strerror(errno));
}

/*
 * One line: when `actual` arrived and when Rss settled (s after the
 * command), the VMM's CPU up to the later of the two, the idle CPU rate of
 * the baseline (ms per s: subtract it for the work's own share), Rss before
 * and after, and ballast-vmm's count of release calls.
 */
/* Read once each side of the work: release calls, Rss from smaps_rollup. */
struct ends {
	long long mad0, mad, smaps0, smaps;
};

static void summarize(const struct run *r, size_t nb, long long t_cmd, const struct conn *c,
		      const struct progress *p, const struct ends *e)
{
	struct rusage ru;
	const struct sample *b0 = &r->s[0], *cmd = &r->s[nb - 1], *last = &r->s[r->n - 1];
	long long t_actual = p->actual_us - t_cmd, t_rss = p->band.since_us - t_cmd;
	long long t_done, base_us = cmd->t_us - b0->t_us;
	size_t i = nb;

	if (t_rss < 0)
		t_rss = 0;	/* Rss never moved: settled at the command */
	t_done = t_actual > t_rss ? t_actual : t_rss;
	while (i + 1 < r->n && r->s[i].t_us - t_cmd < t_done)
		i++;
	printf("t_actual_s=%.3f t_rss_s=%.3f cpu_ms=%.1f dev_ms=%.1f", t_actual / 1e6,
	       t_rss / 1e6, (r->s[i].cpu_ns - cmd->cpu_ns) / 1e6, (r->s[i].dev_ns - cmd->dev_ns) / 1e6);
	if (base_us > 0)
		printf(" base_cpu_ms_per_s=%.2f base_dev_ms_per_s=%.2f",
		       (double)(cmd->cpu_ns - b0->cpu_ns) / base_us,
		       (double)(cmd->dev_ns - b0->dev_ns) / base_us);
	printf(" rss_before_mib=%.1f rss_after_mib=%.1f statm_before_mib=%.1f statm_after_mib=%.1f",
	       e->smaps0 / 1024.0, e->smaps / 1024.0, cmd->rss_kib / 1024.0, last->rss_kib / 1024.0);
	printf(" samples=%zu period_ms=%.1f", r->n,
	       r->n > 1 ? (last->t_us - b0->t_us) / 1e3 / (r->n - 1) : 0.0);
	if (e->mad0 >= 0 && e->mad >= 0)
		printf(" madvise_calls=%lld", e->mad - e->mad0);
	/* What watching cost: the VMM's queries, the sampler's own CPU. */
	getrusage(RUSAGE_SELF, &ru);
	printf(" threads=%d vcpu_threads=%d queries=%lld sampler_cpu_ms=%.1f\n",
	       nr_threads, nr_vcpus, c->queries,
	       (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3);
}

int main(int argc, char **argv)
{
	static char line[LINE_MAX_LEN];
	static struct conn c;
	struct progress p = { .actual_us = -1 };
	struct ends e = { .mad0 = -1, .mad = -1 };
	long long start, next, t_cmd;
	struct run r = { 0 };
	struct sample *s;
	struct args a;
	size_t nb;

	parse_args(argc, argv, &a);
	conn_open(&c, a.sock, a.proto, line);

	/* The baseline: the VMM idle but polled, and Rss before. */
	start = next = now_us();
	for (;;) {
		s = run_next(&r);
		take_sample(&a, &c, line, s, &e.mad0, r.n == 1);
		band_add(&p.band, s);
		if (s->t_us - start >= a.baseline_ms * 1000)
			break;
		tick(&a, &next);
	}
	nb = r.n;
	if (read_rss(a.pid, true, &e.smaps0))
		fail(1, "process %d is gone", a.pid);

	t_cmd = next = now_us();
	if (!a.no_command)
		send_balloon(&a, &c, line);
	for (;;) {
		s = run_next(&r);
		take_sample(&a, &c, line, s, &e.mad, false);
		if (work_done(&a, &p, s, r.s[0].rss_kib))
			break;
		if (s->t_us - t_cmd > a.timeout_s * 1000000LL) {
			write_csv(&a, &r, t_cmd);
			fail(1, "timeout after %lld s: actual %.1f MiB, target %lld MiB, Rss %.1f MiB",
			     a.timeout_s, s->actual_kib / 1024.0, a.target_mib, s->rss_kib / 1024.0);
		}
		tick(&a, &next);
	}
	if (read_rss(a.pid, true, &e.smaps))
		fail(1, "process %d is gone", a.pid);
	write_csv(&a, &r, t_cmd);
	summarize(&r, nb, t_cmd, &c, &p, &e);
	return 0;
}
#endif /* SAMPLER_TEST */
