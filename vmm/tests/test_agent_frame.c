// SPDX-License-Identifier: MIT
/*
 * The agent client's reply decoder (selftests/agent/frame.c), built here
 * because the agent has no unit tests of its own and this Makefile already
 * runs ours (with and without sanitizers). Regression: a header line that
 * sscanf() could not finish read on past the received bytes (found by
 * fuzz_agent_frame).
 */
#include <stdlib.h>
#include <string.h>

#include "../../selftests/agent/frame.c"
#include "../../selftests/agent/protocol.h"
#include "tap.h"

/* Decode len bytes copied into a block of exactly that size. */
static int decode(const char *bytes, size_t len, unsigned long seq, struct reply *r,
		  size_t *used)
{
	struct rxbuf rx = { .data = malloc(len ? len : 1), .len = len, .cap = len };
	int ret;

	memcpy(rx.data, bytes, len);
	ret = agent_parse_reply(&rx, seq, r, used);
	if (ret > 0)
		r->out = NULL;	/* it pointed into rx, freed here */
	free(rx.data);
	return ret;
}

int main(void)
{
	static const char cut[] = "\x02RES 7 0\n\x02RES 7";
	char good[64];
	struct reply r;
	size_t used = 0;
	int n;

	tap_start();
	tap_eq(decode(cut, sizeof(cut) - 1, 7, &r, &used), 0,
	       "header fields split by a newline: more bytes wanted, nothing read past the end");
	tap_eq(decode("", 0, 7, &r, &used), 0, "nothing received yet");
	n = snprintf(good, sizeof(good), "noise\x02RES 7 3 2 %08x\nhi\n", agent_crc32("hi", 2));
	tap_eq(decode(good, n, 7, &r, &used), 1, "a whole reply after noise");
	tap_ok(r.status == 3 && r.len == 2 && used == (size_t)n, "status, length, bytes consumed");
	good[n - 2] = 'o';
	tap_eq(decode(good, n, 7, &r, &used), (unsigned long long)-1, "a bad CRC is a corrupt frame");
	tap_eq(decode(good, n, 8, &r, &used), 0, "another seq's reply is skipped");
	return tap_done();
}
