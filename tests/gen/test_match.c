/* Unit tests of reply matching: synthetic sends and replies with drops, duplicates, strays and timeouts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "match.h"
#include "rng.h"

#define BASE 1000000ull
#define TIMEOUT 1000ull

static struct match_table t;
static struct match_stats st;
static msgpack_zone zone;

static int
setup(void **state)
{
	(void)state;
	match_stats_init(&st);
	return match_init(&t, 1024, BASE) == 0 && msgpack_zone_init(&zone, 65536) ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	match_free(&t);
	msgpack_zone_destroy(&zone);
	return 0;
}

/* A 200 reply to id (or whatever status), counted as the receiver counts it. */
static enum match_verdict
reply(uint64_t id, unsigned int status)
{
	struct match_decoded d = { .has_id = true, .id = id, .has_status = true, .status = status };
	struct match_slot slot;
	enum match_verdict v;

	memset(&slot, 0, sizeof(slot));
	v = match_reply(&t, id, &slot);
	match_count(&st, v, &slot, &d, match_status_slot(&d, false));
	return v;
}

static uint64_t
send_one(uint64_t now, uint16_t entry, bool measured)
{
	assert_true(match_has_room(&t));
	return match_track(&t, now, now, entry, measured);
}

static void
test_rejects_bad_tables(void **state)
{
	struct match_table x;

	(void)state;
	assert_int_not_equal(match_init(&x, 1000, BASE), 0);   /* not a power of two */
	assert_int_not_equal(match_init(&x, 1024, 0), 0);      /* id 0 means "no id" */
}

static void
test_all_answered(void **state)
{
	uint64_t ids[10];
	unsigned int i;

	(void)state;
	for (i = 0; i < 10; i++)
		ids[i] = send_one(i, 0, true);
	assert_int_equal(ids[0], BASE);
	assert_int_equal(match_in_flight(&t), 10);
	/* In reverse: order does not matter. */
	for (i = 10; i-- > 0;)
		assert_int_equal(reply(ids[i], 200), MATCH_FIRST);
	assert_int_equal(match_in_flight(&t), 0);
	assert_int_equal(st.entries[0].received, 10);
	assert_int_equal(st.entries[0].by_status[200], 10);
	assert_int_equal(st.entries[0].duplicates, 0);
	assert_int_equal(match_expire(&t, 10, TIMEOUT), 0);
	assert_int_equal(t.cursor, 10);
}

static void
test_drops_and_duplicates(void **state)
{
	uint64_t ids[100], sent = 100;
	unsigned int i;

	(void)state;
	for (i = 0; i < sent; i++)
		ids[i] = send_one(i, (uint16_t)(i % 2), true);
	for (i = 0; i < sent; i++) {
		if (i == 7 || i == 50)
			continue;    /* dropped */
		assert_int_equal(reply(ids[i], 200), MATCH_FIRST);
	}
	assert_int_equal(reply(ids[3], 200), MATCH_DUPLICATE);
	assert_int_equal(reply(ids[10], 200), MATCH_DUPLICATE);
	assert_int_equal(reply(ids[10], 200), MATCH_DUPLICATE);
	/* Entry 1 had the odd ids: 7 was lost, 3 came twice. */
	assert_int_equal(st.entries[0].received, 49);
	assert_int_equal(st.entries[1].received, 49);
	assert_int_equal(st.entries[0].duplicates, 2);
	assert_int_equal(st.entries[1].duplicates, 1);
	assert_int_equal(sent - st.entries[0].received - st.entries[1].received, 2);
	/* The two unanswered hold the cursor until they time out. */
	assert_int_equal(match_expire(&t, 100, TIMEOUT), 0);
	assert_int_equal(t.cursor, 7);
	assert_int_equal(match_in_flight(&t), 2);
	assert_int_equal(match_expire(&t, 51 + TIMEOUT, TIMEOUT), 2);
	assert_int_equal(t.cursor, 100);
	assert_int_equal(match_in_flight(&t), 0);
}

static void
test_strays(void **state)
{
	uint64_t id;

	(void)state;
	id = send_one(0, 0, true);
	assert_int_equal(reply(id + 1, 200), MATCH_UNKNOWN);       /* not sent yet */
	assert_int_equal(reply(BASE - 1, 200), MATCH_UNKNOWN);     /* below the base */
	assert_int_equal(reply(0, 200), MATCH_UNKNOWN);
	assert_int_equal(reply(UINT64_MAX, 200), MATCH_UNKNOWN);
	assert_int_equal(st.unknown, 4);
	assert_int_equal(st.entries[0].received, 0);
	assert_int_equal(reply(id, 200), MATCH_FIRST);
}

static void
test_timeout_then_late_reply(void **state)
{
	uint64_t ids[4];
	unsigned int i;

	(void)state;
	for (i = 0; i < 4; i++)
		ids[i] = send_one(0, 0, true);
	assert_int_equal(match_expire(&t, TIMEOUT - 1, TIMEOUT), 0);
	assert_int_equal(match_expire(&t, TIMEOUT, TIMEOUT), 4);
	assert_int_equal(match_in_flight(&t), 0);
	/* Given up, then answered: received (and late), freeing nothing twice. */
	assert_int_equal(reply(ids[2], 200), MATCH_LATE_REPLY);
	assert_int_equal(reply(ids[2], 200), MATCH_DUPLICATE);
	assert_int_equal(match_in_flight(&t), 0);
	assert_int_equal(st.entries[0].received, 1);
	assert_int_equal(st.entries[0].late, 1);
	assert_int_equal(st.entries[0].duplicates, 1);
}

static void
test_stale_after_reuse(void **state)
{
	struct match_table small;
	struct match_slot slot;
	uint64_t old, id;
	unsigned int i;

	(void)state;
	assert_int_equal(match_init(&small, 8, BASE), 0);
	old = match_track(&small, 0, 0, 0, true);
	for (i = 1; i < 8; i++)
		match_track(&small, 0, 0, 0, true);
	/* Eight unresolved: the table is full until the oldest is answered or given up. */
	assert_false(match_has_room(&small));
	assert_int_equal(match_expire(&small, TIMEOUT, TIMEOUT), 8);
	assert_true(match_has_room(&small));
	id = match_track(&small, TIMEOUT, TIMEOUT, 1, true);
	assert_int_equal(id, old + 8);
	/* The old id's slot now holds another request: the old reply is stale, not a match. */
	assert_int_equal(match_reply(&small, old, &slot), MATCH_STALE);
	assert_int_equal(match_reply(&small, id, &slot), MATCH_FIRST);
	assert_int_equal(slot.entry, 1);
	match_free(&small);
}

static void
test_warmup_kept_apart(void **state)
{
	uint64_t w, m;

	(void)state;
	w = send_one(0, 0, false);
	m = send_one(1, 0, true);
	assert_int_equal(reply(w, 200), MATCH_FIRST);
	assert_int_equal(reply(w, 200), MATCH_DUPLICATE);
	assert_int_equal(reply(m, 503), MATCH_FIRST);
	assert_int_equal(st.warmup_received, 1);
	assert_int_equal(st.warmup_duplicates, 1);
	assert_int_equal(st.entries[0].received, 1);
	assert_int_equal(st.entries[0].by_status[200], 0);
	assert_int_equal(st.entries[0].by_status[503], 1);
}

static void
test_times_come_back(void **state)
{
	struct match_slot slot;
	uint64_t id;

	(void)state;
	id = match_track(&t, 100, 250, 3, true);
	match_restamp(&t, id, 260);
	assert_int_equal(match_reply(&t, id, &slot), MATCH_FIRST);
	assert_int_equal(slot.intended, 100);
	assert_int_equal(slot.sent, 260);
	assert_int_equal(slot.entry, 3);
	assert_true(slot.measured);
}

/*
 * Pack a response map as the dispatcher would, and decode it. Decoded
 * strings point into the payload, as into a received mbuf: it is kept.
 */
static int
decode_packed(void (*pack)(msgpack_packer *pk), struct match_decoded *d)
{
	static uint8_t payload[1024];
	msgpack_sbuffer sb;
	msgpack_packer pk;
	size_t len;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	pack(&pk);
	len = sb.size;
	assert_true(len <= sizeof(payload));
	memcpy(payload, sb.data, len);
	msgpack_sbuffer_destroy(&sb);
	return match_decode(payload, (uint32_t)len, &zone, d);
}

static void
pack_ok(msgpack_packer *pk)
{
	msgpack_pack_map(pk, 5);
	msgpack_pack_str_with_body(pk, "v", 1);
	msgpack_pack_uint8(pk, 1);
	msgpack_pack_str_with_body(pk, "id", 2);
	msgpack_pack_uint64(pk, 0xfedcba9876543210ull);
	msgpack_pack_str_with_body(pk, "status", 6);
	msgpack_pack_uint16(pk, 200);
	msgpack_pack_str_with_body(pk, "body", 4);
	msgpack_pack_map(pk, 1);
	msgpack_pack_str_with_body(pk, "status", 6);   /* a body key named like ours is not ours */
	msgpack_pack_uint16(pk, 500);
	msgpack_pack_str_with_body(pk, "fn_error", 8);
	msgpack_pack_str_with_body(pk, "Unhandled", 9);
}

static void
pack_throttled(msgpack_packer *pk)
{
	msgpack_pack_map(pk, 5);
	msgpack_pack_str_with_body(pk, "id", 2);
	msgpack_pack_uint8(pk, 9);
	msgpack_pack_str_with_body(pk, "status", 6);
	msgpack_pack_uint16(pk, 429);
	msgpack_pack_str_with_body(pk, "error", 5);
	msgpack_pack_str_with_body(pk, "TooManyRequestsException", 24);
	msgpack_pack_str_with_body(pk, "reason", 6);
	msgpack_pack_str_with_body(pk, "CallerRateLimitExceeded", 23);
	msgpack_pack_str_with_body(pk, "message", 7);
	msgpack_pack_str_with_body(pk, "slow down", 9);
}

static void
pack_array(msgpack_packer *pk)
{
	msgpack_pack_array(pk, 1);
	msgpack_pack_uint8(pk, 1);
}

static void
pack_no_id(msgpack_packer *pk)
{
	msgpack_pack_map(pk, 1);
	msgpack_pack_str_with_body(pk, "status", 6);
	msgpack_pack_uint16(pk, 400);
}

static void
test_decode(void **state)
{
	static const uint8_t truncated[] = { 0x82, 0xa2, 'i', 'd' };
	struct match_decoded d;
	char buf[16];

	(void)state;
	assert_int_equal(decode_packed(pack_ok, &d), 0);
	assert_true(d.has_id && d.has_status && d.fn_error);
	assert_true(d.id == 0xfedcba9876543210ull);
	assert_int_equal(d.status, 200);
	assert_null(d.error);
	assert_int_equal(match_status_slot(&d, false), 200);
	assert_int_equal(match_status_slot(&d, true), MATCH_STATUS_REFLECTED);

	assert_int_equal(decode_packed(pack_throttled, &d), 0);
	assert_int_equal(d.status, 429);
	assert_int_equal(d.error_len, 24);
	assert_memory_equal(d.error, "TooManyRequestsException", 24);
	assert_memory_equal(d.reason, "CallerRateLimitExceeded", 23);
	assert_false(d.fn_error);

	assert_int_equal(decode_packed(pack_array, &d), -1);
	assert_int_equal(decode_packed(pack_no_id, &d), 0);
	assert_false(d.has_id);
	assert_int_equal(match_status_slot(&d, false), 400);
	assert_int_equal(match_decode(truncated, sizeof(truncated), &zone, &d), -1);

	d.has_status = false;
	assert_int_equal(match_status_slot(&d, false), MATCH_STATUS_NONE);
	d.has_status = true;
	d.status = 700;
	assert_int_equal(match_status_slot(&d, false), MATCH_STATUS_OTHER);
	assert_string_equal(match_status_name(404, buf, sizeof(buf)), "404");
	assert_string_equal(match_status_name(MATCH_STATUS_REFLECTED, buf, sizeof(buf)), "reflected");
	assert_string_equal(match_status_name(MATCH_STATUS_NONE, buf, sizeof(buf)), "none");
}

static void
test_counts_by_name(void **state)
{
	struct match_decoded d;
	struct match_slot slot;
	uint64_t id;
	unsigned int i;

	(void)state;
	for (i = 0; i < 6; i++) {
		memset(&d, 0, sizeof(d));
		id = send_one(i, 0, true);
		d.has_id = true;
		d.id = id;
		d.has_status = true;
		d.status = i < 3 ? 404 : 429;
		d.error = i < 3 ? "ResourceNotFoundException" : "TooManyRequestsException";
		d.error_len = (uint32_t)strlen(d.error);
		if (i >= 3) {
			d.reason = i == 5 ? "AsyncQueueFull" : "CallerRateLimitExceeded";
			d.reason_len = (uint32_t)strlen(d.reason);
		}
		d.fn_error = i == 0;
		match_count(&st, match_reply(&t, id, &slot), &slot, &d, match_status_slot(&d, false));
	}
	assert_int_equal(st.errors.nb, 2);
	assert_string_equal(st.errors.name[0], "ResourceNotFoundException");
	assert_int_equal(st.errors.count[0], 3);
	assert_string_equal(st.errors.name[1], "TooManyRequestsException");
	assert_int_equal(st.errors.count[1], 3);
	assert_int_equal(st.reasons.nb, 2);
	assert_int_equal(st.reasons.count[0], 2);
	assert_int_equal(st.reasons.count[1], 1);
	assert_int_equal(st.entries[0].fn_errors, 1);
	assert_int_equal(st.entries[0].by_status[404], 3);
	assert_int_equal(st.entries[0].by_status[429], 3);
}

static void
test_names_overflow(void **state)
{
	struct match_names n;
	char name[16];
	unsigned int i;

	(void)state;
	memset(&n, 0, sizeof(n));
	for (i = 0; i < MATCH_NAMES_MAX + 3; i++) {
		snprintf(name, sizeof(name), "E%u", i);
		match_names_add(&n, name, (uint32_t)strlen(name));
	}
	match_names_add(&n, "E0", 2);
	assert_int_equal(n.nb, MATCH_NAMES_MAX);
	assert_int_equal(n.other, 3);
	assert_int_equal(n.count[0], 2);
	/* Only `len` bytes are the name: no terminator is needed. */
	match_names_add(&n, "E1x", 2);
	assert_int_equal(n.count[1], 2);
}

/*
 * A reflector that drops and duplicates on purpose: every request is dropped
 * with probability 5%, else answered once, twice (3%) or three times (1%),
 * the answers shuffled within windows of 64 as a multi-queue path would. The
 * counts must come out as the reflector's own tally.
 */
static void
test_lossy_duplicating_reflector(void **state)
{
	enum { N = 20000, WINDOW = 64 };
	static uint64_t out[3 * N];
	uint64_t dropped = 0, dup = 0, n_out = 0, warm_answers = 0, start, i, j;
	uint64_t received = 0, warm_sent = 0;
	struct rng r;

	(void)state;
	rng_seed(&r, 2024);
	start = 0;
	for (i = 0; i < N; i++) {
		bool measured = i >= 1000;
		uint64_t id = send_one(i, (uint16_t)(i % 3), measured);
		uint64_t roll = rng_next(&r) % 1000, copies;

		warm_sent += !measured;
		copies = roll < 50 ? 0 : roll < 60 ? 3 : roll < 90 ? 2 : 1;
		if (copies == 0 && measured)
			dropped++;
		if (copies > 1 && measured)
			dup += copies - 1;
		if (!measured && copies > 0)
			warm_answers++;
		for (j = 0; j < copies; j++)
			out[n_out++] = id;
		/* Replies arrive while requests are still going out: keep the table from filling. */
		if (n_out - start >= WINDOW) {
			for (j = start; j < n_out; j++) {
				uint64_t k = start + rng_next(&r) % (n_out - start), tmp = out[j];

				out[j] = out[k];
				out[k] = tmp;
			}
			for (j = start; j < n_out; j++)
				reply(out[j], 200);
			start = n_out;
		}
		/* Answered ones wait at most a window; only the dropped ones time out. */
		match_expire(&t, i, 4 * WINDOW);
	}
	for (j = start; j < n_out; j++)
		reply(out[j], 200);
	match_expire(&t, N + TIMEOUT, TIMEOUT);

	for (i = 0; i < 3; i++)
		received += st.entries[i].received;
	assert_int_equal(st.warmup_received, warm_answers);
	assert_int_equal(received, (N - warm_sent) - dropped);
	assert_int_equal(st.entries[0].duplicates + st.entries[1].duplicates +
			 st.entries[2].duplicates, dup);
	assert_int_equal(st.entries[0].by_status[200] + st.entries[1].by_status[200] +
			 st.entries[2].by_status[200], received);
	assert_int_equal(st.unknown + st.stale, 0);
	assert_int_equal(match_in_flight(&t), 0);
	assert_true(dropped > 800 && dup > 400);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rejects_bad_tables),
		cmocka_unit_test_setup_teardown(test_all_answered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_drops_and_duplicates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_strays, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeout_then_late_reply, setup, teardown),
		cmocka_unit_test(test_stale_after_reuse),
		cmocka_unit_test_setup_teardown(test_warmup_kept_apart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_times_come_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_decode, setup, teardown),
		cmocka_unit_test_setup_teardown(test_counts_by_name, setup, teardown),
		cmocka_unit_test(test_names_overflow),
		cmocka_unit_test_setup_teardown(test_lossy_duplicating_reflector, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
