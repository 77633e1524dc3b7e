/* SPDX-License-Identifier: MIT */
/*
 * A small strict JSON reader for the control socket's one-object-per-line
 * protocol (RFC 8259 grammar, UTF-8 checked, duplicate keys rejected), and a
 * writer that builds replies into a fixed buffer. Only the top-level
 * object's members are kept; nested objects and arrays are validated and
 * reported by type only, which is all a request needs.
 */
#ifndef BALLAST_JSON_H
#define BALLAST_JSON_H

#include <stddef.h>

#include "compiler.h"

#define JSON_MAX_MEMBERS	64
#define JSON_MAX_KEY		64	/* bytes, with the terminating NUL */
#define JSON_MAX_STRING		256
#define JSON_MAX_DEPTH		16

enum json_type {
	JSON_NULL,
	JSON_BOOL,
	JSON_NUMBER,
	JSON_STRING,
	JSON_OBJECT,
	JSON_ARRAY,
};

struct json_member {
	char key[JSON_MAX_KEY];
	enum json_type type;
	bool boolean;
	/* A number without fraction or exponent that fits in s64. */
	bool is_int;
	s64 integer;
	char string[JSON_MAX_STRING];	/* decoded, NUL-terminated */
};

struct json_object {
	int nr;
	struct json_member members[JSON_MAX_MEMBERS];
};

/*
 * Parse text[0..len) as exactly one JSON object, surrounded by optional
 * whitespace. Returns 0, or -EINVAL with *err set to a static message.
 */
int json_parse_object(const char *text, size_t len, struct json_object *obj, const char **err);

/* The member called key, or NULL. */
const struct json_member *json_get(const struct json_object *obj, const char *key);

const char *json_type_name(enum json_type type);

/* Reply builder: appends into buf, remembers if anything did not fit. */
struct json_buf {
	char *buf;
	size_t size;
	size_t len;
	bool overflow;
};

void json_buf_init(struct json_buf *jb, char *buf, size_t size);
__attribute__((format(printf, 2, 3)))
void json_buf_printf(struct json_buf *jb, const char *fmt, ...);
/* s as a quoted JSON string, escaped. */
void json_buf_string(struct json_buf *jb, const char *s);

#endif
