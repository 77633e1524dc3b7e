/* SPDX-License-Identifier: MIT */
/*
 * Logging. Everything goes to stderr, prefixed with "ballast-vmm: " so that a
 * harness reading the console on stdout never sees VMM chatter.
 *
 * die() is for set-up only (before any vCPU runs): one clear line, exit 2.
 * Anything the guest can trigger at run time goes through pr_ratelimited()
 * and a counter instead, so a misbehaving guest cannot flood the log.
 */
#ifndef BALLAST_LOG_H
#define BALLAST_LOG_H

#include <stdnoreturn.h>
#include <time.h>

#include "compiler.h"

enum log_level {
	LOG_ERR,
	LOG_WARN,
	LOG_INFO,
	LOG_DEBUG,
};

/* Set once from the command line before any thread starts. */
extern int log_level;

__attribute__((format(printf, 2, 3)))
void log_printf(int level, const char *fmt, ...);

/* Exit status for bad input detected before the guest runs. */
#define EXIT_SETUP_ERROR	2

__attribute__((format(printf, 1, 2)))
noreturn void die(const char *fmt, ...);

#define pr_err(fmt, ...)	log_printf(LOG_ERR, fmt, ##__VA_ARGS__)
#define pr_warn(fmt, ...)	log_printf(LOG_WARN, fmt, ##__VA_ARGS__)
#define pr_info(fmt, ...)	log_printf(LOG_INFO, fmt, ##__VA_ARGS__)
#define pr_debug(fmt, ...)	log_printf(LOG_DEBUG, fmt, ##__VA_ARGS__)

/*
 * At most LOG_RATELIMIT_BURST messages per LOG_RATELIMIT_INTERVAL seconds
 * from one call site; the number dropped is reported with the next one.
 */
#define LOG_RATELIMIT_BURST	10
#define LOG_RATELIMIT_INTERVAL	5

struct log_ratelimit {
	time_t begin;
	unsigned int printed;
	unsigned int missed;
};

/* True if the caller may print now. Not exact under races, never unsafe. */
bool log_ratelimit(struct log_ratelimit *rl);

#define pr_ratelimited(level, fmt, ...) do {				\
	static struct log_ratelimit __rl;				\
	if (log_level >= (level) && log_ratelimit(&__rl))		\
		log_printf(level, fmt, ##__VA_ARGS__);			\
} while (0)

#endif
