/* SPDX-License-Identifier: MIT */
/*
 * A TAP 13 producer for the unit tests, kselftest-style: plan, ok/not ok
 * lines, diagnostics behind '#', exit 0 only if every check passed.
 */
#ifndef BALLAST_TAP_H
#define BALLAST_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static int tap_count, tap_failed;

/* The plan goes last ("1..N" after the tests), which TAP 13 allows. */
static inline void tap_start(void)
{
	printf("TAP version 13\n");
}

__attribute__((format(printf, 2, 3)))
static inline int tap_ok(int cond, const char *fmt, ...)
{
	va_list ap;

	printf("%sok %d - ", cond ? "" : "not ", ++tap_count);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	if (!cond)
		tap_failed++;
	fflush(stdout);
	return cond;
}

/* Check an equality and show both sides when it fails. */
#define tap_eq(got, want, name) ({					\
	unsigned long long __g = (got), __w = (want);			\
	if (!tap_ok(__g == __w, "%s", name))				\
		printf("#   got %llu, want %llu (%s:%d)\n", __g, __w,	\
		       __FILE__, __LINE__);				\
	__g == __w; })

static inline int tap_done(void)
{
	printf("1..%d\n", tap_count);
	if (tap_failed)
		printf("# %d of %d checks failed\n", tap_failed, tap_count);
	return tap_failed ? 1 : 0;
}

#endif
