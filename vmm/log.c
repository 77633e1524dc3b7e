// SPDX-License-Identifier: MIT
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "log.h"

int log_level = LOG_WARN;

static const char *const level_names[] = {
	[LOG_ERR] = "error",
	[LOG_WARN] = "warning",
	[LOG_INFO] = "info",
	[LOG_DEBUG] = "debug",
};

void log_printf(int level, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	if (level > log_level)
		return;
	/* One write per message so lines from different threads don't mix. */
	n = snprintf(buf, sizeof(buf), "ballast-vmm: %s: ", level_names[level]);
	va_start(ap, fmt);
	vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s\n", buf);
}

noreturn void die(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fprintf(stderr, "ballast-vmm: error: %s\n", buf);
	exit(EXIT_SETUP_ERROR);
}

bool log_ratelimit(struct log_ratelimit *rl)
{
	time_t now = time(NULL);

	if (now - rl->begin >= LOG_RATELIMIT_INTERVAL) {
		if (rl->missed)
			fprintf(stderr, "ballast-vmm: warning: %u messages suppressed\n",
				rl->missed);
		rl->begin = now;
		rl->printed = 0;
		rl->missed = 0;
	}
	if (rl->printed >= LOG_RATELIMIT_BURST) {
		rl->missed++;
		return false;
	}
	rl->printed++;
	return true;
}
