/* SPDX-License-Identifier: MIT */
#ifndef BALLAST_AGENT_FRAME_H
#define BALLAST_AGENT_FRAME_H

#include <stddef.h>

#include "agent.h"

/* Bytes received so far: data[0..len), room for cap. */
struct rxbuf {
	char *data;
	size_t len, cap;
};

/*
 * Find the reply for seq in rx. Returns 1 with r filled (payload pointing
 * into rx), 0 when more bytes are needed, -1 for a corrupt frame (the frame
 * is dropped from rx).
 */
int agent_parse_reply(struct rxbuf *rx, unsigned long seq, struct reply *r, size_t *consumed);

#endif
