/* SPDX-License-Identifier: MIT */
/*
 * The agent's wire format. The channel is a serial line that may carry other
 * bytes too (a kernel message printed on the same port, a stale reply from a
 * client that gave up), so every message starts with a marker byte and a
 * header, and a reply carries its length and a CRC-32 of its payload:
 *
 *   request  @RUN <seq> <timeout_s> <len>\n<len bytes: shell command>
 *            @RESEND <seq> 0 0\n
 *   reply    \x02RES <seq> <status> <len> <crc32, 8 hex>\n<len bytes>\n
 *   hello    \x02RES 0 0 0 00000000\n\n   every 0.5 s from the agent's start
 *            until a request begins: a client that hears it repeats a
 *            request the guest may have dropped before its port was open
 *
 * Requests carry no control characters: some VMMs put a terminal layer
 * between the host and the guest's UART that eats them (kvmtool reads 0x01
 * as its escape key). Replies travel the other way, where terminal layers
 * pass bytes through.
 *
 * Anything outside a frame is ignored; a reply with another seq or a bad CRC
 * is dropped by the client, which then asks for a resend. A RUN whose seq is
 * the last one run is answered from that reply, not run again: a client may
 * repeat a request on a fresh connection when a reply got lost.
 */
#ifndef BALLAST_AGENT_PROTOCOL_H
#define BALLAST_AGENT_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>

#define AGENT_REQ_START		'@'
#define AGENT_REPLY_START	'\x02'
#define AGENT_HDR_MAX		96
#define AGENT_CMD_MAX		(64 * 1024)
/* Output beyond this is cut and a note appended: replies cross a slow line. */
#define AGENT_OUT_MAX		(256 * 1024)
/* Exit status the agent reports for a command it had to kill. */
#define AGENT_STATUS_TIMEOUT	124
/*
 * The agent's hello is this header and an empty payload's newline: a reply
 * to the seq no request uses, so a client waiting for its own skips it.
 */
#define AGENT_SEQ_HELLO		0
#define AGENT_HELLO		"\x02RES 0 0 0 00000000\n"

static inline uint32_t agent_crc32(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint32_t crc = 0xffffffffu;

	while (len--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xedb88320u & -(crc & 1));
	}
	return ~crc;
}

#endif
