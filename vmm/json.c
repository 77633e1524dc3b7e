// SPDX-License-Identifier: MIT
/*
 * Strict JSON reader and reply writer; see json.h. Strict because the
 * control socket promises that a malformed request changes nothing: the
 * reader accepts exactly RFC 8259 (no comments, no trailing commas, no
 * single quotes, no NaN, no raw control characters, valid UTF-8 only).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "json.h"

struct json_parser {
	const char *p;
	const char *end;
	const char *err;
	int depth;
};

static int json_fail(struct json_parser *ps, const char *msg)
{
	if (!ps->err)
		ps->err = msg;
	return -EINVAL;
}

static void json_skip_ws(struct json_parser *ps)
{
	while (ps->p < ps->end &&
	       (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

static int json_hex4(struct json_parser *ps, u32 *out)
{
	u32 v = 0;
	int i;

	if (ps->end - ps->p < 4)
		return json_fail(ps, "truncated \\u escape");
	for (i = 0; i < 4; i++) {
		char c = *ps->p++;

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return json_fail(ps, "bad \\u escape");
	}
	*out = v;
	return 0;
}

/* Length of the valid UTF-8 sequence at p (RFC 3629), or 0. */
static int json_utf8_len(const u8 *p, const u8 *end)
{
	u8 c = p[0], lo = 0x80, hi = 0xbf;
	int n, i;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0;
	/* Overlong forms, surrogates and code points above U+10FFFF. */
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (end - p < n)
		return 0;
	for (i = 1; i < n; i++) {
		if (p[i] < (i == 1 ? lo : 0x80) || p[i] > (i == 1 ? hi : 0xbf))
			return 0;
	}
	return n;
}

struct json_out {
	char *buf;
	size_t size;
	size_t len;
};

static int json_put(struct json_parser *ps, struct json_out *o, const char *s, size_t n)
{
	if (!o)
		return 0;
	if (o->len + n >= o->size)
		return json_fail(ps, "string too long");
	memcpy(o->buf + o->len, s, n);
	o->len += n;
	o->buf[o->len] = '\0';
	return 0;
}

static int json_put_codepoint(struct json_parser *ps, struct json_out *o, u32 cp)
{
	char b[4];
	size_t n;

	/* The decoded string is a C string: an embedded NUL cannot be kept. */
	if (!cp && o)
		return json_fail(ps, "\\u0000 not allowed here");
	if (cp < 0x80) {
		b[0] = cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = 0xc0 | (cp >> 6);
		b[1] = 0x80 | (cp & 0x3f);
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = 0xe0 | (cp >> 12);
		b[1] = 0x80 | ((cp >> 6) & 0x3f);
		b[2] = 0x80 | (cp & 0x3f);
		n = 3;
	} else {
		b[0] = 0xf0 | (cp >> 18);
		b[1] = 0x80 | ((cp >> 12) & 0x3f);
		b[2] = 0x80 | ((cp >> 6) & 0x3f);
		b[3] = 0x80 | (cp & 0x3f);
		n = 4;
	}
	return json_put(ps, o, b, n);
}

static int json_escape(struct json_parser *ps, struct json_out *o)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const char *e;
	u32 cp, lo;

	if (ps->p >= ps->end)
		return json_fail(ps, "truncated escape");
	e = *ps->p ? strchr(from, *ps->p) : NULL;
	if (e) {
		ps->p++;
		return json_put(ps, o, &to[e - from], 1);
	}
	if (*ps->p++ != 'u')
		return json_fail(ps, "bad escape");
	if (json_hex4(ps, &cp))
		return -EINVAL;
	if (cp >= 0xdc00 && cp <= 0xdfff)
		return json_fail(ps, "lone low surrogate");
	if (cp >= 0xd800 && cp <= 0xdbff) {
		if (ps->end - ps->p < 2 || ps->p[0] != '\\' || ps->p[1] != 'u')
			return json_fail(ps, "lone high surrogate");
		ps->p += 2;
		if (json_hex4(ps, &lo))
			return -EINVAL;
		if (lo < 0xdc00 || lo > 0xdfff)
			return json_fail(ps, "bad surrogate pair");
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
	}
	return json_put_codepoint(ps, o, cp);
}

/* At the opening quote; decodes into o (NULL: validate only). */
static int json_string(struct json_parser *ps, struct json_out *o)
{
	ps->p++;
	while (ps->p < ps->end) {
		u8 c = *ps->p;
		int n;

		if (c == '"') {
			ps->p++;
			return 0;
		}
		if (c == '\\') {
			ps->p++;
			if (json_escape(ps, o))
				return -EINVAL;
			continue;
		}
		if (c < 0x20)
			return json_fail(ps, "control character in string");
		n = json_utf8_len((const u8 *)ps->p, (const u8 *)ps->end);
		if (!n)
			return json_fail(ps, "invalid UTF-8");
		if (json_put(ps, o, ps->p, n))
			return -EINVAL;
		ps->p += n;
	}
	return json_fail(ps, "unterminated string");
}

static bool json_digit(struct json_parser *ps)
{
	return ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9';
}

static int json_number(struct json_parser *ps, struct json_member *m)
{
	bool neg = false, is_int = true, overflow = false;
	u64 mag = 0;

	if (*ps->p == '-') {
		neg = true;
		ps->p++;
	}
	if (!json_digit(ps))
		return json_fail(ps, "bad number");
	if (*ps->p == '0') {
		ps->p++;
		if (json_digit(ps))
			return json_fail(ps, "leading zero in number");
	} else {
		while (json_digit(ps)) {
			u64 d = *ps->p++ - '0';

			if (mag > (UINT64_MAX - d) / 10)
				overflow = true;
			else
				mag = mag * 10 + d;
		}
	}
	if (ps->p < ps->end && *ps->p == '.') {
		is_int = false;
		ps->p++;
		if (!json_digit(ps))
			return json_fail(ps, "bad fraction");
		while (json_digit(ps))
			ps->p++;
	}
	if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
		is_int = false;
		ps->p++;
		if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-'))
			ps->p++;
		if (!json_digit(ps))
			return json_fail(ps, "bad exponent");
		while (json_digit(ps))
			ps->p++;
	}
	if (!m)
		return 0;
	m->type = JSON_NUMBER;
	if (overflow || mag > (neg ? (u64)INT64_MAX + 1 : (u64)INT64_MAX))
		is_int = false;
	m->is_int = is_int;
	if (is_int)
		m->integer = neg ? (s64)(0 - mag) : (s64)mag;
	return 0;
}

static int json_literal(struct json_parser *ps, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n))
		return json_fail(ps, "unexpected character");
	ps->p += n;
	return 0;
}

static int json_value(struct json_parser *ps, struct json_member *m);

/* At '{' or '['. A nested container is validated, not stored. */
static int json_container(struct json_parser *ps, struct json_object *obj)
{
	bool object = *ps->p == '{';
	char close = object ? '}' : ']';
	bool first = true;

	if (++ps->depth > JSON_MAX_DEPTH)
		return json_fail(ps, "nested too deeply");
	ps->p++;
	for (;;) {
		struct json_member *m = NULL;
		struct json_out key;

		json_skip_ws(ps);
		if (ps->p >= ps->end)
			return json_fail(ps, "unterminated object or array");
		if (*ps->p == close && first)
			break;
		if (!first) {
			if (*ps->p == close)
				break;
			if (*ps->p != ',')
				return json_fail(ps, "expected ',' or end of object/array");
			ps->p++;
			json_skip_ws(ps);
		}
		first = false;
		if (object) {
			if (ps->p >= ps->end || *ps->p != '"')
				return json_fail(ps, "expected a string key");
			if (obj) {
				if (obj->nr >= JSON_MAX_MEMBERS)
					return json_fail(ps, "too many members");
				m = &obj->members[obj->nr];
				memset(m, 0, sizeof(*m));
				key = (struct json_out){ m->key, sizeof(m->key), 0 };
				if (json_string(ps, &key))
					return json_fail(ps, "bad key");
				if (json_get(obj, m->key))
					return json_fail(ps, "duplicate key");
				obj->nr++;
			} else if (json_string(ps, NULL)) {
				return -EINVAL;
			}
			json_skip_ws(ps);
			if (ps->p >= ps->end || *ps->p != ':')
				return json_fail(ps, "expected ':'");
			ps->p++;
		}
		if (json_value(ps, m))
			return -EINVAL;
	}
	ps->p++;
	ps->depth--;
	return 0;
}

static int json_value(struct json_parser *ps, struct json_member *m)
{
	struct json_out str;
	char c;

	json_skip_ws(ps);
	if (ps->p >= ps->end)
		return json_fail(ps, "expected a value");
	c = *ps->p;
	switch (c) {
	case '{':
	case '[':
		if (m)
			m->type = c == '{' ? JSON_OBJECT : JSON_ARRAY;
		return json_container(ps, NULL);
	case '"':
		if (!m)
			return json_string(ps, NULL);
		m->type = JSON_STRING;
		str = (struct json_out){ m->string, sizeof(m->string), 0 };
		return json_string(ps, &str);
	case 't':
	case 'f':
		if (m) {
			m->type = JSON_BOOL;
			m->boolean = c == 't';
		}
		return json_literal(ps, c == 't' ? "true" : "false");
	case 'n':
		if (m)
			m->type = JSON_NULL;
		return json_literal(ps, "null");
	default:
		if (c == '-' || (c >= '0' && c <= '9'))
			return json_number(ps, m);
		return json_fail(ps, "unexpected character");
	}
}

int json_parse_object(const char *text, size_t len, struct json_object *obj, const char **err)
{
	struct json_parser ps = { .p = text, .end = text + len };

	obj->nr = 0;
	json_skip_ws(&ps);
	if (ps.p >= ps.end || *ps.p != '{') {
		json_fail(&ps, "expected a JSON object");
		goto fail;
	}
	if (json_container(&ps, obj))
		goto fail;
	json_skip_ws(&ps);
	if (ps.p != ps.end) {
		json_fail(&ps, "trailing characters after the object");
		goto fail;
	}
	return 0;
fail:
	obj->nr = 0;
	if (err)
		*err = ps.err;
	return -EINVAL;
}

const struct json_member *json_get(const struct json_object *obj, const char *key)
{
	int i;

	for (i = 0; i < obj->nr; i++)
		if (!strcmp(obj->members[i].key, key))
			return &obj->members[i];
	return NULL;
}

const char *json_type_name(enum json_type type)
{
	static const char *const names[] = {
		[JSON_NULL] = "null", [JSON_BOOL] = "boolean", [JSON_NUMBER] = "number",
		[JSON_STRING] = "string", [JSON_OBJECT] = "object", [JSON_ARRAY] = "array",
	};

	return (unsigned int)type < ARRAY_SIZE(names) ? names[type] : "?";
}

void json_buf_init(struct json_buf *jb, char *buf, size_t size)
{
	jb->buf = buf;
	jb->size = size;
	jb->len = 0;
	jb->overflow = false;
	if (size)
		buf[0] = '\0';
}

void json_buf_printf(struct json_buf *jb, const char *fmt, ...)
{
	size_t room = jb->size - jb->len;
	va_list ap;
	int n;

	if (jb->overflow || !room)
		return;
	va_start(ap, fmt);
	n = vsnprintf(jb->buf + jb->len, room, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= room) {
		jb->overflow = true;
		jb->buf[jb->len] = '\0';
		return;
	}
	jb->len += n;
}

void json_buf_string(struct json_buf *jb, const char *s)
{
	json_buf_printf(jb, "\"");
	for (; *s; s++) {
		u8 c = *s;

		if (c == '"' || c == '\\')
			json_buf_printf(jb, "\\%c", c);
		else if (c == '\n')
			json_buf_printf(jb, "\\n");
		else if (c < 0x20 || c == 0x7f)
			json_buf_printf(jb, "\\u%04x", c);
		else
			json_buf_printf(jb, "%c", c);
	}
	json_buf_printf(jb, "\"");
}
