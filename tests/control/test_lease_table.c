/* Unit tests for lease tables: the sum never above the limit, expiry, borrowing, the bucket's text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lease_table.h"

#define TTL_MS 3000

/* A node as leases.c runs it, on one limit: its share, calls in flight, refusals seen. */
struct node {
	const char *id;
	uint64_t share;
	uint64_t in_flight;
	bool refused;
};

/* One renewal of node n's row at now_ms, on concurrency only: what leases.c does under CAS. */
static void
renew(struct lease_table *t, struct node *n, uint64_t limit, uint64_t now_ms)
{
	struct lease_use use = {
		.share = n->share,
		.used = n->in_flight,
		.floor = n->in_flight,
		.pressed = n->refused || (n->share > 0 && n->in_flight >= n->share),
	};
	struct lease_others others;
	uint64_t held[LEASE_DIMS] = { 0, 0 }, want[LEASE_DIMS] = { 0, 0 };

	lease_table_expire(t, now_ms);
	others = lease_table_others(t, n->id, LEASE_CONCURRENCY);
	n->share = lease_decide(limit, &others, &use, &held[LEASE_CONCURRENCY],
				&want[LEASE_CONCURRENCY]);
	assert_int_equal(lease_table_set(t, n->id, held, want, now_ms + TTL_MS), 0);
	n->refused = false;
}

/* Admit up to `calls` against the node's share; the rest are refused (and say so). */
static uint64_t
admit(struct node *n, uint64_t calls)
{
	uint64_t admitted = 0;

	while (calls-- > 0) {
		if (n->in_flight >= n->share) {
			n->refused = true;
			continue;
		}
		n->in_flight++;
		admitted++;
	}
	return admitted;
}

static uint64_t
held_by(struct lease_table *t, const char *node)
{
	struct lease_row *r = lease_table_find(t, node);

	return r ? r->held[LEASE_CONCURRENCY] : 0;
}

/* Issue 12's scenario: concurrency 4 over two nodes, all the calls to A, then to B. */
static void
test_borrowing_two_nodes(void **state)
{
	struct lease_table t = { 0 };
	struct node a = { "a", 0, 0, false }, b = { "b", 0, 0, false };
	uint64_t now = 1000;

	(void)state;
	/* Idle nodes hold nothing: the limit is free for whoever needs it first. */
	renew(&t, &a, 4, now);
	renew(&t, &b, 4, now);
	assert_int_equal(t.nb, 0);
	assert_int_equal(a.share + b.share, 0);

	/* A's first call is refused; A takes everything at its renewal, since B does not ask. */
	assert_int_equal(admit(&a, 1), 0);
	renew(&t, &a, 4, now += 100);
	assert_int_equal(a.share, 4);
	renew(&t, &b, 4, now += 100);
	assert_int_equal(b.share, 0);

	/* Ten calls at once to A: 4 run, 6 refused. */
	assert_int_equal(admit(&a, 10), 4);
	/* B is refused while A's calls run, and asks: A's share shrinks to an equal split, but
	 * its row keeps its 4 calls counted, so B gets nothing yet. */
	assert_int_equal(admit(&b, 1), 0);
	renew(&t, &b, 4, now += 100);
	renew(&t, &a, 4, now += 100);
	assert_int_equal(a.share, 2);
	assert_int_equal(held_by(&t, "a"), 4);
	/* B's client tries again, and is refused again. */
	assert_int_equal(admit(&b, 1), 0);
	renew(&t, &b, 4, now += 100);
	assert_int_equal(b.share, 0);
	assert_true(lease_table_sum(&t, LEASE_CONCURRENCY) <= 4);

	/* A's calls finish: A gives back what it does not use, B takes it all. */
	a.in_flight = 0;
	renew(&t, &a, 4, now += 100);
	assert_int_equal(a.share, 0);
	assert_int_equal(admit(&b, 1), 0);
	renew(&t, &b, 4, now += 100);
	assert_int_equal(b.share, 4);
	assert_int_equal(admit(&b, 5), 4);
}

/* Two nodes both pressed converge on an equal split, never above the limit. */
static void
test_pressed_nodes_split_evenly(void **state)
{
	struct lease_table t = { 0 };
	struct node a = { "a", 0, 0, true }, b = { "b", 0, 0, true };
	uint64_t now = 1000;
	int round;

	(void)state;
	renew(&t, &a, 6, now);
	assert_int_equal(a.share, 6);
	for (round = 0; round < 6; round++) {
		/* Each is saturated: calls finish and others come in, all it is allowed. */
		a.in_flight = a.in_flight > 1 ? a.in_flight - 1 : 0;
		admit(&a, 10);
		admit(&b, 10);
		renew(&t, &b, 6, now += 100);
		renew(&t, &a, 6, now += 100);
		assert_true(lease_table_sum(&t, LEASE_CONCURRENCY) <= 6);
		assert_true(a.in_flight + b.in_flight <= 6);
	}
	assert_int_equal(a.share, 3);
	assert_int_equal(b.share, 3);
}

/* Random renewals of eight nodes: the live rows' sum never exceeds the limit. */
static void
test_sum_never_above_limit(void **state)
{
	static const char *ids[] = { "n0", "n1", "n2", "n3", "n4", "n5", "n6", "n7" };
	struct node nodes[8];
	struct lease_table t = { 0 };
	uint64_t now = 1000, limit = 13;
	unsigned int i, step;

	(void)state;
	srand(12);
	for (i = 0; i < 8; i++)
		nodes[i] = (struct node){ ids[i], 0, 0, false };
	for (step = 0; step < 20000; step++) {
		struct node *n = &nodes[rand() % 8];
		uint64_t in_flight = 0;

		switch (rand() % 4) {
		case 0:
			admit(n, (uint64_t)(rand() % 6));
			break;
		case 1:
			n->in_flight -= n->in_flight ? (uint64_t)(rand() % (int)(n->in_flight + 1)) : 0;
			break;
		default:
			/* A millisecond a step: every node renews well within the lease time. */
			renew(&t, n, limit, now += 1);
		}
		assert_true(lease_table_sum(&t, LEASE_CONCURRENCY) <= limit);
		/* What runs is bounded too: every node's calls in flight are within its row. */
		for (i = 0; i < 8; i++)
			in_flight += nodes[i].in_flight;
		assert_true(in_flight <= limit);
	}
}

/* A dead node's row expires: its share returns to the others within the lease time. */
static void
test_expiry_returns_a_dead_nodes_share(void **state)
{
	struct lease_table t = { 0 };
	struct node a = { "a", 0, 0, true }, b = { "b", 0, 0, true };
	uint64_t now = 1000;

	(void)state;
	renew(&t, &a, 4, now);
	assert_int_equal(a.share, 4);
	/* A dies (stops renewing). Before its row expires B gets nothing. */
	renew(&t, &b, 4, now + TTL_MS - 1);
	assert_int_equal(b.share, 0);
	b.refused = true;
	renew(&t, &b, 4, now + TTL_MS);
	assert_int_equal(b.share, 4);
	assert_null(lease_table_find(&t, "a"));
	assert_int_equal(lease_table_expire(&t, now + 2 * TTL_MS + 1), 1);
}

/* A lowered limit: nobody takes more, and each row shrinks to it at its renewal. */
static void
test_lowered_limit(void **state)
{
	struct lease_table t = { 0 };
	struct node a = { "a", 0, 0, true }, b = { "b", 0, 0, true };
	uint64_t now = 1000;

	(void)state;
	renew(&t, &a, 8, now);
	assert_int_equal(admit(&a, 8), 8);
	renew(&t, &b, 2, now += 10);
	assert_int_equal(b.share, 0);
	renew(&t, &a, 2, now += 10);
	assert_true(a.share <= 2);
	assert_true(lease_table_sum(&t, LEASE_CONCURRENCY) <= 2);
	/* Its calls keep running (none is cut short), but it admits no more above the limit. */
	assert_int_equal(admit(&a, 1), 0);
}

/* Rate is leased the same way, without calls in flight to keep counted. */
static void
test_rate_split(void **state)
{
	struct lease_others none = { 0, 0 }, a_holds = { 700, 0 }, a_wants = { 300, 1 };
	struct lease_use pressed = { .share = 0, .used = 0, .floor = 0, .pressed = true };
	struct lease_use idle = { .share = 700, .used = 120, .floor = 0, .pressed = false };
	uint64_t held, want;

	(void)state;
	assert_int_equal(lease_decide(1000, &none, &pressed, &held, &want), 1000);
	assert_int_equal(lease_decide(1000, &a_holds, &pressed, &held, &want), 300);
	assert_int_equal(held, 300);
	assert_int_equal(want, 1000);
	/* Nobody else asks: a node keeps its share although it uses less. */
	assert_int_equal(lease_decide(1000, &none, &idle, &held, &want), 700);
	/* Someone asks: it keeps what it uses. */
	assert_int_equal(lease_decide(1000, &a_wants, &idle, &held, &want), 120);
	assert_int_equal(want, 120);
}

static void
test_text_round_trip(void **state)
{
	struct lease_table t = { 0 }, back;
	uint64_t held[LEASE_DIMS] = { 3, 250 }, want[LEASE_DIMS] = { 4, 250 };
	char text[LEASE_TABLE_TEXT_MAX], err[128];
	const char *bad;
	int len;

	(void)state;
	assert_int_equal(lease_table_set(&t, "host-1.node_a", held, want, 1700000000123ull), 0);
	held[0] = 1;
	assert_int_equal(lease_table_set(&t, "b", held, want, 5), 0);
	len = lease_table_format(&t, text, sizeof(text));
	assert_true(len > 0);
	assert_string_equal(text, "{\"host-1.node_a\":{\"c\":3,\"r\":250,\"wc\":4,\"wr\":250,"
				  "\"exp\":1700000000123},\"b\":{\"c\":1,\"r\":250,\"wc\":4,"
				  "\"wr\":250,\"exp\":5}}");
	assert_int_equal(lease_table_parse(&back, text, (size_t)len, err, sizeof(err)), 0);
	assert_int_equal(back.nb, 2);
	assert_int_equal(lease_table_find(&back, "host-1.node_a")->expires_ms, 1700000000123ull);
	assert_int_equal(lease_table_find(&back, "b")->held[LEASE_CONCURRENCY], 1);
	assert_int_equal(lease_table_format(&t, text, 20), -1);

	assert_int_equal(lease_table_parse(&back, "[]", 2, err, sizeof(err)), -1);
	bad = "{\"a\":{\"c\":-1,\"r\":0,\"wc\":0,\"wr\":0,\"exp\":1}}";
	assert_int_equal(lease_table_parse(&back, bad, strlen(bad), err, sizeof(err)), -1);
	assert_int_equal(back.nb, 0);
	assert_int_equal(lease_table_parse(&back, "{}", 2, err, sizeof(err)), 0);
	assert_int_equal(back.nb, 0);
	/* A row that holds and wants nothing is no row. */
	held[0] = held[1] = want[0] = want[1] = 0;
	assert_int_equal(lease_table_set(&t, "b", held, want, 9), 0);
	assert_int_equal(t.nb, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_borrowing_two_nodes),
		cmocka_unit_test(test_pressed_nodes_split_evenly),
		cmocka_unit_test(test_sum_never_above_limit),
		cmocka_unit_test(test_expiry_returns_a_dead_nodes_share),
		cmocka_unit_test(test_lowered_limit),
		cmocka_unit_test(test_rate_split),
		cmocka_unit_test(test_text_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
