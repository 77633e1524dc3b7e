// SPDX-License-Identifier: MIT
/*
 * The agent client's reply decoder (selftests/agent/frame.c): a guest can
 * write anything on its serial line, and the host reads it through this.
 * The input is the seq the client waits for, then the received bytes, in a
 * heap block of exactly their size (nothing after them to lean on). The
 * decoder is called the way agent_exec() calls it, dropping corrupt frames,
 * until it wants more bytes. Checked:
 *
 *   - a reply returned has our seq, a payload inside the buffer, its CRC
 *     and its closing newline, and consumed covers it exactly;
 *   - a corrupt frame consumes at least one byte and no more than there is.
 */
#include "../../selftests/agent/frame.h"
#include "../../selftests/agent/protocol.h"
#include "fuzz.h"

/*
 * Some header on the line just before payload announces this seq, length
 * and CRC (the decoder may have skipped other start bytes on that line as
 * noise, so each is tried). Parsed here from a terminated copy.
 */
static bool header_announces(const struct rxbuf *rx, const char *payload, unsigned long seq,
			     size_t len, unsigned int crc)
{
	const char *line = memrchr(rx->data, '\n', payload - 1 - rx->data);
	const char *p = line ? line + 1 : rx->data, *end = payload - 1;
	char hdr[AGENT_HDR_MAX + 1];
	unsigned long s;
	unsigned int c;
	size_t l, n;
	int st;

	for (; (p = memchr(p, AGENT_REPLY_START, end - p)); p++) {
		n = MIN((size_t)(end - p - 1), (size_t)AGENT_HDR_MAX);
		memcpy(hdr, p + 1, n);
		hdr[n] = '\0';
		if (sscanf(hdr, "RES %lu %d %zu %x", &s, &st, &l, &c) == 4 && s == seq &&
		    l == len && c == crc)
			return true;
	}
	return false;
}

int LLVMFuzzerTestOneInput(const u8 *data, size_t size);
int LLVMFuzzerTestOneInput(const u8 *data, size_t size)
{
	struct fuzz_in in;
	struct rxbuf rx;
	struct reply r;
	unsigned long seq;
	int rounds = 0;

	fuzz_in_init(&in, data, size);
	seq = fuzz_u8(&in);
	rx.len = rx.cap = in.left;
	rx.data = malloc(rx.len ? rx.len : 1);
	if (!rx.data)
		return 0;
	fuzz_bytes(&in, rx.data, rx.len);

	while (rounds++ < 64) {
		size_t used = 0;
		int got = agent_parse_reply(&rx, seq, &r, &used);

		if (got == 0)
			break;
		fuzz_check(used > 0 && used <= rx.len, "consumed %zu of %zu bytes", used, rx.len);
		if (got > 0) {
			fuzz_check(got == 1, "decoder returned %d", got);
			fuzz_check(r.seq == seq, "reply for seq %lu, waiting for %lu", r.seq, seq);
			fuzz_check(r.out > rx.data && r.out + r.len + 1 == rx.data + used,
				   "payload not where consumed ends");
			fuzz_check(r.out[-1] == '\n' && r.out[r.len] == '\n', "payload not framed");
			fuzz_check(header_announces(&rx, r.out, seq, r.len, agent_crc32(r.out, r.len)),
				   "no header announces this payload's length and CRC");
			break;
		}
		fuzz_check(got == -1, "decoder returned %d", got);
		memmove(rx.data, rx.data + used, rx.len - used);
		rx.len -= used;
	}
	free(rx.data);
	return 0;
}
