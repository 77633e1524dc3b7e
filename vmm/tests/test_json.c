// SPDX-License-Identifier: MIT
/* The strict JSON reader and the reply writer: what they accept, what not. */
#include <stdio.h>
#include <string.h>

#include "../json.h"
#include "tap.h"

static struct json_object obj;

static int parse(const char *s)
{
	const char *err = NULL;
	int ret = json_parse_object(s, strlen(s), &obj, &err);

	if (ret && !err)
		printf("#   no error message for %s\n", s);
	return ret;
}

static void test_accepts(void)
{
	const struct json_member *m;

	tap_ok(!parse("{\"cmd\":\"balloon\",\"size_mib\":256}"), "simple request");
	m = json_get(&obj, "size_mib");
	tap_ok(obj.nr == 2 && m && m->type == JSON_NUMBER && m->is_int && m->integer == 256,
	       "integer member");
	tap_ok(!strcmp(json_get(&obj, "cmd")->string, "balloon"), "string member");
	tap_ok(!parse(" \t\r\n{ } \r\n"), "empty object with whitespace");
	tap_eq(obj.nr, 0, "no members");
	tap_ok(!parse("{\"a\":true,\"b\":false,\"c\":null}"), "literals");
	tap_ok(json_get(&obj, "a")->boolean && !json_get(&obj, "b")->boolean &&
	       json_get(&obj, "c")->type == JSON_NULL, "literal values");
	tap_ok(!parse("{\"n\":-9223372036854775808}") && json_get(&obj, "n")->is_int &&
	       json_get(&obj, "n")->integer == INT64_MIN, "INT64_MIN");
	tap_ok(!parse("{\"n\":9223372036854775808}") && !json_get(&obj, "n")->is_int,
	       "2^63 is a number but not an integer");
	tap_ok(!parse("{\"n\":99999999999999999999999}") && !json_get(&obj, "n")->is_int,
	       "huge number parsed, not an integer");
	tap_ok(!parse("{\"n\":-0}") && json_get(&obj, "n")->integer == 0, "-0");
	tap_ok(!parse("{\"n\":1.5e3}") && !json_get(&obj, "n")->is_int, "fraction and exponent");
	tap_ok(!parse("{\"n\":1E+2}") && !json_get(&obj, "n")->is_int, "exponent with sign");
	tap_ok(!parse("{\"s\":\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"}") &&
	       !strcmp(json_get(&obj, "s")->string, "a\"b\\c/d\b\f\n\r\t"), "escapes decoded");
	tap_ok(!parse("{\"s\":\"\\u00e9\\u20ac\\ud83d\\ude00\"}") &&
	       !strcmp(json_get(&obj, "s")->string, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"),
	       "\\u escapes and a surrogate pair to UTF-8");
	tap_ok(!parse("{\"s\":\"caf\xc3\xa9\"}"), "raw UTF-8");
	tap_ok(!parse("{\"o\":{\"x\":[1,{\"y\":[]},\"z\"]},\"a\":[]}") &&
	       json_get(&obj, "o")->type == JSON_OBJECT && json_get(&obj, "a")->type == JSON_ARRAY,
	       "nested containers validated and typed");
	tap_ok(!parse("{\"o\":{\"k\":1,\"k\":2}}"), "duplicate keys inside a nested object pass");
}

static void test_rejects(void)
{
	static const char *const bad[] = {
		"", "   ", "[]", "\"x\"", "42", "null", "{", "}", "{\"a\"}", "{\"a\":}",
		"{\"a\":1,}", "{,}", "{\"a\":1 \"b\":2}", "{'a':1}", "{a:1}", "{\"a\":1}x",
		"{\"a\":1}{\"b\":2}", "{\"a\":01}", "{\"a\":1.}", "{\"a\":.5}", "{\"a\":+1}",
		"{\"a\":1e}", "{\"a\":-}", "{\"a\":NaN}", "{\"a\":Infinity}", "{\"a\":tru}",
		"{\"a\":nul}", "{\"a\":True}", "{\"a\":\"x}", "{\"a\":\"\\x\"}", "{\"a\":\"\\u12\"}",
		"{\"a\":\"\\u12g4\"}", "{\"a\":\"\\ud800\"}", "{\"a\":\"\\udc00\"}",
		"{\"a\":\"\\ud800\\u0041\"}", "{\"a\":\"\\u0000\"}", "{\"a\":\"tab\there\"}",
		"{\"a\":\"\xc3\"}", "{\"a\":\"\xc0\xaf\"}", "{\"a\":\"\xed\xa0\x80\"}",
		"{\"a\":\"\xf4\x90\x80\x80\"}", "{\"a\":\"\xff\"}", "{\"a\":1,\"a\":2}",
		"{\"a\":[1,2}", "{\"a\":[1,]}", "{\"a\":{\"b\":1,}}", "{\"a\":1} // c",
		"{\"a\":1}\x01",
	};
	char deep[64], longkey[200], longstr[400], many[2048];
	size_t i;
	int fails = 0;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		if (!parse(bad[i])) {
			printf("#   accepted: %s\n", bad[i]);
			fails++;
		}
	}
	tap_ok(!fails, "%zu malformed inputs rejected", ARRAY_SIZE(bad));
	tap_ok(json_parse_object("{\"a\":1}\0", 8, &obj, NULL) && obj.nr == 0,
	       "embedded NUL after the object rejected, members cleared");
	tap_ok(json_parse_object("{\"a\":\"x\0y\"}", 10, &obj, NULL), "raw NUL in a string rejected");

	memset(deep, 0, sizeof(deep));
	deep[0] = '{';
	strcat(deep, "\"a\":");
	for (i = 0; i < 20; i++)
		strcat(deep, "[");
	for (i = 0; i < 20; i++)
		strcat(deep, "]");
	strcat(deep, "}");
	tap_ok(parse(deep), "nesting deeper than 16 rejected");

	memset(longkey, 'k', sizeof(longkey));
	longkey[0] = '{';
	longkey[1] = '"';
	strcpy(longkey + 100, "\":1}");
	tap_ok(parse(longkey), "98-byte key rejected");
	memset(longstr, 's', sizeof(longstr));
	strcpy(longstr, "{\"a\":\"");
	longstr[6] = 's';
	strcpy(longstr + 380, "\"}");
	tap_ok(parse(longstr), "374-byte string value rejected");
	memset(many, 0, sizeof(many));
	for (i = 0; i <= JSON_MAX_MEMBERS; i++)
		sprintf(many + strlen(many), "%c\"k%zu\":%zu", i ? ',' : '{', i, i);
	strcat(many, "}");
	tap_ok(parse(many), "%d members rejected", JSON_MAX_MEMBERS + 1);
	*strrchr(many, ',') = '\0';
	strcat(many, "}");
	tap_ok(!parse(many) && obj.nr == JSON_MAX_MEMBERS, "%d members accepted", JSON_MAX_MEMBERS);
}

static void test_writer(void)
{
	char small[8], buf[128];
	struct json_buf jb;

	json_buf_init(&jb, buf, sizeof(buf));
	json_buf_printf(&jb, "{\"e\":");
	json_buf_string(&jb, "q\"b\\n\n\x01");
	json_buf_printf(&jb, "}");
	tap_ok(!jb.overflow && !strcmp(buf, "{\"e\":\"q\\\"b\\\\n\\n\\u0001\"}"), "string escaped");
	tap_ok(!parse(buf) && !strcmp(json_get(&obj, "e")->string, "q\"b\\n\n\x01"),
	       "writer output reads back");
	json_buf_init(&jb, small, sizeof(small));
	json_buf_printf(&jb, "0123456789");
	tap_ok(jb.overflow && jb.len == 0 && small[0] == '\0', "overflow noticed, buffer kept sane");
}

int main(void)
{
	tap_start();
	test_accepts();
	test_rejects();
	test_writer();
	return tap_done();
}
