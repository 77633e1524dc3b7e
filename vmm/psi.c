// SPDX-License-Identifier: MIT
/* Pressure stall information: triggers and averages (psi.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "psi.h"

/* "12.34" as 1234; at most two decimals, as the kernel prints them. */
static int psi_parse_avg(const char *s, u32 *out, const char **end)
{
	unsigned long whole, frac = 0;
	char *e;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	whole = strtoul(s, &e, 10);
	if (whole > 100)
		return -EINVAL;
	if (*e == '.') {
		s = e + 1;
		if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9')
			return -EINVAL;
		frac = (s[0] - '0') * 10 + (s[1] - '0');
		e = (char *)s + 2;
	}
	*out = whole * 100 + frac;
	*end = e;
	return 0;
}

int psi_parse(const char *text, const char *kind, struct psi_line *out)
{
	size_t klen = strlen(kind);
	const char *line = text, *p;
	char *e;

	/* The kind at the start of a line, then a space. */
	while (line && (strncmp(line, kind, klen) || line[klen] != ' ')) {
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	if (!line)
		return -EINVAL;
	p = line + klen + 1;
	if (strncmp(p, "avg10=", 6) || psi_parse_avg(p + 6, &out->avg10, &p) ||
	    strncmp(p, " avg60=", 7) || psi_parse_avg(p + 7, &out->avg60, &p) ||
	    strncmp(p, " avg300=", 8) || psi_parse_avg(p + 8, &out->avg300, &p) ||
	    strncmp(p, " total=", 7) || p[7] < '0' || p[7] > '9')
		return -EINVAL;
	errno = 0;
	out->total_us = strtoull(p + 7, &e, 10);
	if (errno || (*e && *e != '\n'))
		return -EINVAL;
	return 0;
}

void psi_pick_path(const char *self_cgroup, const char *cgroup_root, char *path, size_t len)
{
	const char *line = self_cgroup;
	size_t n;

	while (line && strncmp(line, "0::", 3)) {
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	if (line) {
		line += 3;
		n = strcspn(line, "\n");
		/* The root cgroup's pressure is the system's: say so plainly. */
		if (n > 1 && line[0] == '/' &&
		    (size_t)snprintf(path, len, "%s%.*s/memory.pressure", cgroup_root,
				     (int)n, line) < len &&
		    !access(path, R_OK | W_OK))
			return;
	}
	snprintf(path, len, "%s", PSI_SYSTEM_MEMORY);
}

int psi_trigger_open(const char *path, u64 stall_us, u64 window_us, char *err, size_t errlen)
{
	char buf[64];
	int fd, n, ret;

	fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "cannot open %s: %s (a kernel without PSI, or booted psi=0?)",
			 path, strerror(errno));
		return ret;
	}
	n = snprintf(buf, sizeof(buf), "some %llu %llu", (unsigned long long)stall_us,
		     (unsigned long long)window_us);
	/* The kernel wants the terminating NUL written too. */
	if (write(fd, buf, n + 1) < 0) {
		ret = -errno;
		snprintf(err, errlen, "%s: cannot arm a trigger '%s': %s", path, buf,
			 strerror(errno));
		close(fd);
		return ret;
	}
	return fd;
}

int psi_read(const char *path, struct psi_line *some, struct psi_line *full)
{
	char buf[256];
	ssize_t n;
	int fd, ret = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0)
		ret = -errno;
	close(fd);
	if (ret)
		return ret;
	buf[n] = '\0';
	if (psi_parse(buf, "some", some))
		return -EINVAL;
	/* Older kernels have no "full" line for the system's CPU; memory has one. */
	if (psi_parse(buf, "full", full))
		*full = (struct psi_line){ 0 };
	return 0;
}
