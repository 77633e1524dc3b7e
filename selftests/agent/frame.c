// SPDX-License-Identifier: MIT
/*
 * The host side's reply decoder, apart from the socket code so that a
 * fuzzer can drive it: whatever the guest writes on its serial line ends up
 * in rx, and this is what reads it.
 */
#include <stdio.h>
#include <string.h>

#include "agent.h"
#include "frame.h"
#include "protocol.h"

/*
 * Find the reply for seq in rx. Returns 1 with r filled (payload pointing
 * into rx), 0 when more bytes are needed, -1 for a corrupt frame (the frame
 * is dropped from rx).
 */
int agent_parse_reply(struct rxbuf *rx, unsigned long seq, struct reply *r, size_t *consumed)
{
	char hdr[AGENT_HDR_MAX + 1], *start, *nl;
	unsigned long rseq;
	unsigned int crc;
	size_t off = 0, len;
	int status;

	if (!rx->len)
		return 0;	/* rx->data may still be NULL */
	while ((start = memchr(rx->data + off, AGENT_REPLY_START, rx->len - off))) {
		off = start - rx->data;
		nl = memchr(start, '\n', rx->len - off);
		if (!nl)
			return 0;
		/*
		 * sscanf() reads a C string: give it the header line alone,
		 * terminated. rx holds no NUL of its own, and the line's
		 * newline is whitespace it would happily read past.
		 */
		if ((size_t)(nl - start) > AGENT_HDR_MAX) {
			off++;
			continue;
		}
		memcpy(hdr, start + 1, nl - start - 1);
		hdr[nl - start - 1] = '\0';
		if (sscanf(hdr, "RES %lu %d %zu %x", &rseq, &status, &len, &crc) != 4 ||
		    len > AGENT_OUT_MAX + 4096) {
			off++;
			continue;
		}
		if (rseq == seq && (size_t)(nl + 1 - rx->data) + len + 1 > rx->len)
			return 0;
		/*
		 * A reply some earlier client gave up on, or noise that looks
		 * like a header: step over its start byte only, since its length
		 * can't be trusted and our reply may begin inside it.
		 */
		if (rseq != seq) {
			off++;
			continue;
		}
		*consumed = nl + 1 - rx->data + len + 1;
		if (agent_crc32(nl + 1, len) != crc || nl[1 + len] != '\n')
			return -1;
		r->seq = rseq;
		r->status = status;
		r->out = nl + 1;
		r->len = len;
		return 1;
	}
	return 0;
}
