// SPDX-License-Identifier: MIT
/*
 * The referee's protocol duties (virtio/balloon/referee_proto.c): each
 * check fires where the spec makes the breach certain, once, and stays
 * quiet on a conforming sequence; the duties with no deadline are only
 * exposed, whatever time passes.
 */
#include <endian.h>
#include <string.h>

#include "../virtio/balloon/defs.h"
#include "../virtio/balloon/referee.h"
#include "tap.h"

#define MS		1000000ULL
#define T0		(1000 * MS)
#define HOUR		(3600 * 1000 * MS)

static struct referee ref;

static void fresh(void)
{
	referee_free(&ref);
	if (referee_init(&ref, 64)) {
		printf("Bail out! no memory\n");
		exit(1);
	}
}

#define V(clause) (ref.c[REFEREE_##clause].violations)
#define CHECKS(clause) (ref.c[REFEREE_##clause].checks)
#define SHOWN(clause, i) (ref.c[REFEREE_##clause].shown[i])

static u64 all_violations(void)
{
	u64 n = 0;
	unsigned int c;

	for (c = 0; c < REFEREE_NR_CLAUSES; c++)
		n += ref.c[c].violations;
	return n;
}

/* Debian 6.1's ten statistics, in the order its driver sends them. */
static const u16 linux_tags[] = { 0, 1, 2, 3, 8, 9, 4, 5, 6, 7 };

/* n entries with these tags into buf (room for 16); returns its bytes. */
static size_t stats(u8 *buf, const u16 *tags, size_t n)
{
	size_t i;

	for (i = 0; i < n && i < 16; i++) {
		u16 t = htole16(tags[i]);
		u64 val = htole64(i * 4096);

		memcpy(buf + i * BALLOON_STAT_SIZE, &t, 2);
		memcpy(buf + i * BALLOON_STAT_SIZE + 2, &val, 8);
	}
	return i * BALLOON_STAT_SIZE;
}

/* The device takes a buffer of these entries, then uses it (a request). */
static void send(u32 in_bytes, const u16 *tags, size_t n, bool use)
{
	u8 buf[16 * BALLOON_STAT_SIZE];
	size_t len = stats(buf, tags, n);

	referee_stats_buffer(&ref, in_bytes, len, buf, len);
	if (use)
		referee_stats_used(&ref, T0);
}

static json_t *await_json(void)
{
	struct referee_balloon_view v = { .balloon_pages = 16, .exact = true, .actual = 15 };
	json_t *o = json_object();

	if (o && referee_await_json(o, &ref, &v, T0 + HOUR)) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_int_t await_int(const char *key)
{
	json_t *o = await_json();
	json_int_t v = json_integer_value(json_object_get(o, key));

	json_decref(o);
	return v;
}

static void test_stats_conforming(void)
{
	u16 reordered[] = { 7, 6, 5, 4, 9, 8, 3, 2, 1, 0 };
	int i;

	fresh();
	referee_driver_ok(&ref, false, true, T0);
	send(0, linux_tags, 10, true);
	for (i = 0; i < 3; i++)
		send(0, i == 1 ? reordered : linux_tags, 10, true);
	send(0, linux_tags, 10, false);
	tap_ok(!all_violations() && CHECKS(R17) == 5 && CHECKS(R20) == 5 && CHECKS(R22) == 4,
	       "stats: Linux's five buffers, one reordered (R-21), break nothing");
	tap_ok(await_int("stats_buffers") == 5 && await_int("stats_used") == 4 &&
	       await_int("stats_owed_ms") == -1, "stats: 5 taken, 4 used, one held: nothing owed");
	referee_stats_used(&ref, T0);
	send(0, NULL, 0, false);
	tap_ok(!all_violations() && CHECKS(R22) == 4, "R-22: an empty buffer is no subset");
}

static void test_stats_broken(void)
{
	u16 twice[] = { 0, 1, 2, 3, 8, 9, 4, 5, 6, 7, 4, 4 }, fewer[] = { 0, 1, 2, 3, 8, 9, 4, 5, 6 };
	u16 more[] = { 0, 1, 2, 3, 8, 9, 4, 5, 6, 7, 99 };
	u8 buf[32];

	fresh();
	send(0, linux_tags, 10, false);
	send(0, linux_tags, 10, false);
	tap_ok(V(R17) == 1 && SHOWN(R17, 0) == 2, "R-17: a second buffer while the device holds one");
	tap_ok(await_int("stats_used") == 1 && await_int("stats_buffers") == 2,
	       "R-17: the one held goes back, counted as used");
	referee_stats_used(&ref, T0);
	send(0, fewer, 9, true);
	tap_ok(V(R22) == 1 && SHOWN(R22, 0) == 7, "R-22: tag 7 left out, shown");
	send(0, more, 11, true);
	tap_ok(V(R22) == 2 && SHOWN(R22, 1) == 99, "R-22: tag 99 added (unknown tags count too)");
	tap_eq(V(R20), 0, "R-20: whole entries, one per tag, so far");

	send(0, twice, 12, true);
	tap_ok(V(R20) == 1 && SHOWN(R20, 0) == 4 && V(R22) == 2,
	       "R-20: tag 4 three times, counted once; the same subset");
	send(8, NULL, 0, true);
	tap_ok(V(R20) == 2 && SHOWN(R20, 1) == 8, "R-20: 8 device-writable bytes");
	stats(buf, linux_tags, 2);
	referee_stats_buffer(&ref, 0, 25, buf, 25);
	tap_ok(V(R20) == 3 && SHOWN(R20, 2) == 25, "R-20: 25 bytes, a partial entry");
	referee_stats_used(&ref, T0);
	tap_eq(V(R22), 2, "R-22: a buffer with a partial entry is not judged");
	/* 100 bytes sent, 20 read: R-20 fine, but too little read for a subset. */
	referee_stats_buffer(&ref, 0, 100, buf, 20);
	tap_ok(V(R20) == 3 && V(R22) == 2, "R-20, R-22: a buffer read in part judges no subset");
}

static void test_stats_owed(void)
{
	fresh();
	tap_eq(await_int("stats_owed_ms"), -1, "R-18: nothing owed before DRIVER_OK");
	referee_driver_ok(&ref, false, true, T0);
	tap_eq(await_int("stats_owed_ms"), 3600 * 1000, "R-18: owed an hour after DRIVER_OK, exposed");
	tap_eq(all_violations(), 0, "R-18: and no violation, whatever the time");
	send(0, linux_tags, 10, false);
	referee_stats_used(&ref, T0 + HOUR / 2);
	tap_eq(await_int("stats_owed_ms"), 1800 * 1000, "R-19: owed since the use, exposed");
	referee_stats_used(&ref, T0 + HOUR / 4);
	tap_ok(await_int("stats_used") == 1 && await_int("stats_owed_ms") == 1800 * 1000,
	       "R-19: no use without a buffer held");
	referee_reset(&ref);
	tap_eq(await_int("stats_owed_ms"), -1, "a reset: nothing owed");
}

static void hint(const struct referee_hint_view *v, u32 out_bytes, u32 id, u32 page_bytes)
{
	referee_hint_chain(&ref, v, out_bytes, id, page_bytes);
}

static void test_hint_conforming(void)
{
	struct referee_hint_view v = { .current_id = 2, .ids_issued = 1 };

	fresh();
	/* Linux's run: the id, a 4 MiB block per chain, STOP. */
	hint(&v, 4, 2, 0);
	hint(&v, 0, 0, 4 << 20);
	tap_eq(await_int("hint_run_id"), 2, "R-28: the run's id exposed while it is open");
	hint(&v, 0, 0, 4 << 20);
	hint(&v, 4, BALLOON_HINT_CMD_ID_STOP, 0);
	tap_ok(!all_violations() && CHECKS(R23) == 2 && CHECKS(R24) == 3 && CHECKS(R25) == 1,
	       "hint: a Linux run breaks nothing");
	tap_ok(await_int("hint_run_id") == 0 && await_int("hint_starts") == 1 &&
	       await_int("hint_stops") == 1, "R-28: STOP seen, exposed");
	/* The device moved on: a new id; the driver starts it without STOP first. */
	v = (struct referee_hint_view){ .current_id = 3, .ids_issued = 2 };
	hint(&v, 4, 3, 0);
	v = (struct referee_hint_view){ .current_id = 4, .ids_issued = 3 };
	hint(&v, 4, 4, 0);
	tap_eq(all_violations(), 0, "R-28: a run the device ended by a new id needs no STOP");
	hint(&v, 4, 3, 0);
	hint(&v, 4, 2, 4096);
	tap_eq(all_violations(), 0, "R-24, R-25: stale ids, even again, with pages: no violation");
	v.done_issued = true;
	hint(&v, 4, BALLOON_HINT_CMD_ID_DONE, 0);
	tap_eq(V(R24), 0, "R-24: DONE once the device had set it may have been read as current");
}

static void test_hint_broken(void)
{
	struct referee_hint_view v = { .current_id = 2, .ids_issued = 1 };

	fresh();
	hint(&v, 0, 0, 4096);
	tap_ok(V(R24) == 1 && SHOWN(R24, 0) == 0, "R-24: pages before any id");
	hint(&v, 8, 2, 4096);
	tap_ok(V(R23) == 1 && SHOWN(R23, 0) == 8 && V(R24) == 1,
	       "R-23: an 8-byte command; its pages not judged");
	hint(&v, 4, 2, 0);
	hint(&v, 4, BALLOON_HINT_CMD_ID_STOP, 4096);
	tap_eq(V(R24), 2, "R-24: pages after STOP in the same chain");
	hint(&v, 4, BALLOON_HINT_CMD_ID_DONE, 0);
	tap_ok(V(R24) == 3 && SHOWN(R24, 2) == 1, "R-24: a run started with DONE, never set");
	hint(&v, 4, 7, 0);
	tap_ok(V(R24) == 4 && SHOWN(R24, 3) == 7, "R-24: id 7, never issued");
	v.ids_issued = 1ULL << 32;
	hint(&v, 4, 7, 0);
	tap_eq(V(R24), 4, "R-24: once the ids went round, every id was issued");

	fresh();
	v = (struct referee_hint_view){ .current_id = 3, .ids_issued = 2 };
	hint(&v, 4, 3, 0);
	hint(&v, 4, BALLOON_HINT_CMD_ID_STOP, 0);
	hint(&v, 4, 3, 0);
	tap_ok(V(R25) == 1 && SHOWN(R25, 0) == 3 && CHECKS(R25) == 2,
	       "R-25: the current id 3 started twice");
	v = (struct referee_hint_view){ .current_id = 3, .ids_issued = (1ULL << 32) + 1 };
	hint(&v, 4, 3, 0);
	tap_eq(V(R25), 1, "R-25: the same id issued anew (the ids went round) may start again");
	referee_reset(&ref);
	hint(&v, 0, 0, 4096);
	tap_eq(V(R24), 1, "R-24: a reset ends the driver's run");
}

static void test_poison(void)
{
	fresh();
	referee_poison_write(&ref, false, 0, 0xaaaaaaaa);
	referee_driver_ok(&ref, true, false, T0);
	tap_ok(CHECKS(R34) == 1 && V(R34) == 0, "R-34: poison_val written before DRIVER_OK");
	referee_poison_write(&ref, true, 0xaaaaaaaa, 0xaaaaaaaa);
	tap_ok(CHECKS(R35) == 1 && V(R35) == 0, "R-35: the same value written again is no change");
	referee_poison_write(&ref, true, 0xaaaaaaaa, 0x55);
	tap_ok(V(R35) == 1 && SHOWN(R35, 0) == 0x55, "R-35: changed to 0x55 while DRIVER_OK");

	referee_reset(&ref);
	referee_driver_ok(&ref, true, false, T0);
	tap_eq(V(R34), 1, "R-34: DRIVER_OK with PAGE_POISON and poison_val never written");
	referee_reset(&ref);
	referee_driver_ok(&ref, false, false, T0);
	tap_ok(V(R34) == 1 && CHECKS(R34) == 2, "R-34: not judged without PAGE_POISON");
}

static void test_json(void)
{
	json_t *o;

	fresh();
	referee_poison_write(&ref, true, 1, 2);
	o = referee_json(&ref);
	tap_ok(o && json_integer_value(json_object_get(o, "r35_violations")) == 1 &&
	       json_integer_value(json_array_get(json_object_get(o, "r35_values"), 0)) == 2 &&
	       json_integer_value(json_object_get(o, "r35_checks")) == 1 &&
	       json_object_get(o, "r12_pfns") && !json_object_get(o, "r12_checks"),
	       "JSON: r35_violations 1, r35_values [2], r35_checks 1; page duties keep _pfns");
	tap_ok(!json_object_get(o, "r14_violations") && !json_object_get(o, "r19_violations"),
	       "JSON: no count for R-14, R-18, R-19");
	json_decref(o);
	o = await_json();
	tap_ok(o && json_integer_value(json_object_get(o, "balloon_pages")) == 16 &&
	       json_integer_value(json_object_get(o, "actual")) == 15 &&
	       json_is_true(json_object_get(o, "balloon_pages_exact")) &&
	       json_is_false(json_object_get(o, "requests_waiting")) &&
	       json_is_false(json_object_get(o, "stats_held")),
	       "JSON: R-14's actual and balloon_pages, exposed for a test's wait");
	json_decref(o);
	tap_ok(!strcmp(referee_clause_name(REFEREE_R35), "R-35") &&
	       referee_clause_pfn(REFEREE_R13) && !referee_clause_pfn(REFEREE_R17),
	       "clause names as in the notes; PFN evidence up to R-13");
}

int main(void)
{
	tap_start();
	test_stats_conforming();
	test_stats_broken();
	test_stats_owed();
	test_hint_conforming();
	test_hint_broken();
	test_poison();
	test_json();
	referee_free(&ref);
	return tap_done();
}
