// SPDX-License-Identifier: MIT
/*
 * The sampler's pure parsing, on text as the kernel and both VMMs write it:
 * a thread's stat line, smaps_rollup, statm, ballast-vmm's query reply and QMP's
 * replies and events. TAP 13 through the VMM's unit-test header.
 */
#define SAMPLER_TEST
#include "sampler.c"
#include "../vmm/tests/tap.h"

/* A vCPU thread of QEMU: a name with a space and a '/', guest_time 2900. */
static const char stat_vcpu[] =
	"4242 (CPU 0/KVM) S 4200 4200 4100 0 -1 4194624 512 0 0 0 "
	"1234 567 0 0 20 0 4 0 1209830 3133440 414 18446744073709551615 1 1 0 0 0 0 "
	"0 4096 0 0 0 0 -1 1 0 0 0 2900 0 0 0 0 0 0 0 0\n";
/* A thread whose name holds ") S 1 2 (" to fool a parser that stops at the first ')'. */
static const char stat_tricky[] =
	"77 (a) S 1 2 (b) R 1 77 77 0 -1 4194304 99 0 0 0 "
	"10 20 0 0 20 0 1 0 1209830 3133440 414 18446744073709551615 1 1 0 0 0 0 "
	"0 0 0 0 0 0 17 0 0 0 0 0 0 1 1 1 1 1 1 1 0\n";

static const char smaps[] =
	"562123efd000-7ffef2da7000 ---p 00000000 00:00 0                          [rollup]\n"
	"Rss:             1048576 kB\n"
	"Pss:                 196 kB\n"
	"Pss_Anon:            112 kB\n"
	"Anonymous:        524288 kB\n";

static const char ballast_query[] =
	"{\"ok\":true,\"rss_kib\":312000,\"balloon\":true,\"ram_mib\":512,"
	"\"num_pages\":65536,\"actual\":65536,\"ballooned_pages\":65536,"
	"\"balloon_mib\":256,\"actual_mib\":256,\"features_offered\":[\"stats_vq\"],"
	"\"counters\":{\"inflate_pfns\":65536,\"madvise_calls\":17,\"bytes_released\":268435456},"
	"\"queues\":[{\"index\":0,\"size\":256}]}";

/* QMP: query-balloon's reply (guest memory in bytes), an event, an error. */
static const char qmp_reply[] = "{\"return\": {\"actual\": 268435456}, \"id\": 7}";
static const char qmp_event[] =
	"{\"timestamp\": {\"seconds\": 1764470000, \"microseconds\": 12}, "
	"\"event\": \"BALLOON_CHANGE\", \"data\": {\"actual\": 402653184}}";
static const char qmp_error[] =
	"{\"id\": 8, \"error\": {\"class\": \"GenericError\", \"desc\": \"No balloon device\"}}";

static void test_stat(void)
{
	struct task_cpu tc;

	tap_ok(!stat_parse(stat_vcpu, &tc), "stat: a vCPU thread's line parses");
	tap_eq(tc.utime, 1234, "stat: utime is field 14");
	tap_eq(tc.stime, 567, "stat: stime is field 15");
	tap_eq(tc.guest_time, 2900, "stat: guest_time is field 43");
	tap_ok(!stat_parse(stat_tricky, &tc) && tc.utime == 10 && tc.stime == 20 &&
	       tc.guest_time == 0, "stat: fields count from the last ')' of the name");
	tap_ok(stat_parse("4242 (qemu) S 1 2 3", &tc) < 0, "stat: a cut line is refused");
	tap_eq(task_dev_ns(30000000000LL, 2900, 10000000), 1000000000,
	       "stat: a vCPU thread's time outside the guest: run time less guest_time");
	tap_eq(task_dev_ns(28000000000LL, 2900, 10000000), 0,
	       "stat: guest_time (sampled) above the run time gives 0, not less");
	tap_ok(stat_parse("4242 qemu S 1 2 3", &tc) < 0, "stat: no name, refused");
	tap_ok(stat_parse("1 (x) S 1 1 1 0 -1 0 0 0 0 0 12a 1", &tc) < 0,
	       "stat: a field that is not a number is refused");
}

static void test_smaps(void)
{
	long long kib = -1;

	tap_ok(!smaps_field_kib(smaps, "Rss", &kib) && kib == 1048576, "smaps_rollup: Rss");
	tap_ok(!smaps_field_kib(smaps, "Anonymous", &kib) && kib == 524288,
	       "smaps_rollup: the last field");
	tap_ok(!smaps_field_kib(smaps, "Pss", &kib) && kib == 196,
	       "smaps_rollup: Pss, not Pss_Anon");
	tap_ok(smaps_field_kib(smaps, "Swap", &kib) < 0, "smaps_rollup: a missing field fails");
	tap_ok(smaps_field_kib("Rss: lots kB\n", "Rss", &kib) < 0,
	       "smaps_rollup: a value that is not a number fails");
	tap_ok(smaps_field_kib("", "Rss", &kib) < 0, "smaps_rollup: empty text fails");
}

static void test_statm(void)
{
	long long kib = -1;

	tap_ok(!statm_rss_kib("1212416 262144 1024 1500 0 280000 0\n", 4, &kib) &&
	       kib == 1048576, "statm: resident pages of 4 KiB in KiB");
	tap_ok(statm_rss_kib("1212416\n", 4, &kib) < 0, "statm: no resident field fails");
	tap_ok(statm_rss_kib("10 20 0 0 0 0 0\n", 4, &kib) < 0,
	       "statm: more resident than mapped is refused");
}

static void test_json(void)
{
	long long v = -1;

	tap_ok(!json_int(ballast_query, "actual", &v) && v == 65536,
	       "json: ballast-vmm's actual, not actual_mib");
	tap_ok(!json_int(ballast_query, "madvise_calls", &v) && v == 17,
	       "json: a counter nested in \"counters\"");
	tap_ok(json_int(ballast_query, "features_offered", &v) < 0,
	       "json: a key whose value is not a number fails");
	tap_ok(json_int(ballast_query, "missing", &v) < 0, "json: an absent key fails");
	tap_ok(json_int("{\"actual\": 12x}", "actual", &v) < 0, "json: trailing junk fails");
	tap_ok(json_int("{\"x\":\"actual\",\"actual\":3}", "actual", &v) == 0 && v == 3,
	       "json: a string equal to the key is not the key");
}

static void test_replies(void)
{
	long long kib = -1;

	tap_ok(reply_matches(PROTO_BALLAST, ballast_query, 1), "ballast-vmm: any line is the reply");
	tap_ok(!actual_kib(PROTO_BALLAST, ballast_query, 0, &kib) && kib == 256 * 1024,
	       "ballast-vmm: actual in 4 KiB pages is 256 MiB");
	tap_ok(reply_ok(PROTO_BALLAST, ballast_query), "ballast-vmm: ok:true");
	tap_ok(!reply_ok(PROTO_BALLAST, "{\"ok\":false,\"error\":\"x\"}"),
	       "ballast-vmm: ok:false is a refusal");

	tap_ok(reply_matches(PROTO_QMP, qmp_reply, 7), "qmp: the reply with our id");
	tap_ok(!reply_matches(PROTO_QMP, qmp_reply, 6), "qmp: a reply to another id is skipped");
	tap_ok(!reply_matches(PROTO_QMP, qmp_event, 7), "qmp: a BALLOON_CHANGE event is skipped");
	tap_ok(reply_matches(PROTO_QMP, qmp_error, 8) && !reply_ok(PROTO_QMP, qmp_error),
	       "qmp: an error is the reply, and a refusal");
	tap_ok(!reply_matches(PROTO_QMP, "{\"QMP\": {\"version\": {}}}", 1),
	       "qmp: the greeting is no reply");
	tap_ok(!actual_kib(PROTO_QMP, qmp_reply, 512, &kib) && kib == 256 * 1024,
	       "qmp: 256 MiB of a 512 MiB guest left is a 256 MiB balloon");
	tap_ok(!actual_kib(PROTO_QMP, "{\"return\": {\"actual\": 536870912}, \"id\": 1}", 512, &kib) &&
	       kib == 0, "qmp: all of the RAM is an empty balloon");
	tap_ok(actual_kib(PROTO_QMP, "{\"return\": {\"actual\": 536870913}, \"id\": 1}", 512, &kib) < 0,
	       "qmp: more than the RAM is refused");
	tap_ok(actual_kib(PROTO_QMP, "{\"return\": {}, \"id\": 1}", 512, &kib) < 0,
	       "qmp: a reply without actual fails");
}

static void test_parse_num(void)
{
	long long v;

	tap_ok(!parse_num("20", 1, 100, &v) && v == 20, "parse_num: in range");
	tap_ok(parse_num("0", 1, 100, &v) < 0, "parse_num: below the range");
	tap_ok(parse_num("101", 1, 100, &v) < 0, "parse_num: above the range");
	tap_ok(parse_num("", 1, 100, &v) < 0, "parse_num: empty");
	tap_ok(parse_num("2O", 1, 100, &v) < 0, "parse_num: trailing junk");
	tap_ok(parse_num("99999999999999999999", 1, 100, &v) < 0, "parse_num: overflow");
}

/* When a resize counts as done, from one sample at a time. */
static void test_work_done(void)
{
	struct args a = { .target_mib = 0, .actual_only = true };
	struct progress p = { .actual_us = -1 };
	struct sample s = { .t_us = 1000, .actual_kib = 0, .rss_kib = 300 * 1024 };

	tap_ok(work_done(&a, &p, &s, 290 * 1024),
	       "done: a deflate at its target whose Rss rose (no drop asked for)");
	a = (struct args){ .target_mib = 0, .actual_only = true, .drop_kib = 64 * 1024 };
	p = (struct progress){ .actual_us = -1 };
	tap_ok(!work_done(&a, &p, &s, 290 * 1024), "not done: -d asks for a drop that has not come");
	a = (struct args){ .target_mib = 256, .actual_only = true };
	p = (struct progress){ .actual_us = -1 };
	tap_ok(!work_done(&a, &p, &s, 290 * 1024), "not done: actual short of the target");
}

int main(void)
{
	tap_start();
	test_stat();
	test_smaps();
	test_statm();
	test_json();
	test_replies();
	test_parse_num();
	test_work_done();
	return tap_done();
}
