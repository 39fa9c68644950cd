/* Tests of workers/call_slot.h: exactly one of a worker and its dispatcher's watchdog answers each call. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <rte_common.h>

#include <turbine/handler.h>

#include "call_slot.h"

#define TEST_CALLS 200000
/* More calls while the watchdog has won fewer races than this (the threads may barely overlap
 * on a busy machine), for at most TEST_MAX_SECONDS. Under ThreadSanitizer the watchdog wins about
 * 7 races a second, so 50 take some 7 s there; the limit stays well inside meson's timeout for
 * this test (tests/module/meson.build), so running out of time is a failure, not a kill. */
#define TEST_MIN_CLAIMS 50
#define TEST_MAX_SECONDS 40

/* Stand-ins for request mbufs: the slot only carries the pointers. */
static char test_mbufs[CALL_SLOT_HELD + 1];

static struct rte_mbuf *
test_mbuf(unsigned int i)
{
	return (struct rte_mbuf *)&test_mbufs[i];
}

static const struct turbine_str test_version = { "7", 1 };

static uint64_t
test_begin(struct call_slot *s, uint64_t deadline)
{
	const struct call_slot_call c = {
		.m = test_mbuf(0), .deadline_tsc = deadline, .start_tsc = deadline - 10,
		.version = &test_version, .dispatcher = 2, .function = 5,
	};

	return call_slot_begin(s, &c);
}

static enum call_slot_state
test_state(const struct call_slot *s, uint64_t *gen)
{
	return call_slot_peek(s, gen);
}

/* A handler that returns in time: the worker answers, nobody else may. */
static void
test_settle_in_time(void **state)
{
	struct call_slot s;
	uint64_t gen, seen;

	(void)state;
	memset(&s, 0, sizeof(s));
	gen = test_begin(&s, 1000);
	assert_int_equal(test_state(&s, &seen), CALL_SLOT_RUNNING);
	assert_int_equal(seen, gen);
	assert_int_equal(call_slot_dispatcher(&s), 2);
	assert_int_equal(call_slot_deadline(&s), 1000);
	assert_int_equal(call_slot_settle(&s, gen), CALL_SLOT_ANSWER);
	assert_int_equal(test_state(&s, &seen), CALL_SLOT_IDLE);
	assert_false(call_slot_claim(&s, gen, CALL_SLOT_RUNNING));
	assert_false(call_slot_stuck(&s));
}

/* Claimed at the deadline: the late result is discarded, and the slot is free for the next call. */
static void
test_late_result_discarded(void **state)
{
	struct rte_mbuf *held[CALL_SLOT_HELD];
	struct call_slot s;
	unsigned int function;
	uint64_t gen, seen;

	(void)state;
	memset(&s, 0, sizeof(s));
	s.held[0] = test_mbuf(1);
	s.held[1] = test_mbuf(2);
	s.held[2] = test_mbuf(3);
	/* held[0] runs; held[1] and held[2] wait behind it. */
	call_slot_hold(&s, 1, 3, 1500);
	gen = test_begin(&s, 1000);
	assert_true(call_slot_claim(&s, gen, CALL_SLOT_RUNNING));
	assert_true(call_slot_stuck(&s));
	assert_ptr_equal(s.call.m, test_mbuf(0));
	assert_int_equal(call_slot_started(&s, &function), 990);
	assert_int_equal(function, 5);
	assert_int_equal(call_slot_held_deadline(&s), 1500);
	assert_int_equal(call_slot_take_held(&s, held), 2);
	assert_ptr_equal(held[0], test_mbuf(2));
	assert_ptr_equal(held[1], test_mbuf(3));
	call_slot_answered(&s, gen);
	assert_int_equal(test_state(&s, &seen), CALL_SLOT_TIMED_OUT);
	assert_true(call_slot_stuck(&s));

	/* The handler returns: the worker learns it lost, and the slot is idle again. */
	assert_int_equal(call_slot_settle(&s, gen), CALL_SLOT_LATE);
	assert_int_equal(test_state(&s, &seen), CALL_SLOT_IDLE);
	assert_int_equal(seen, gen);
	assert_false(call_slot_stuck(&s));
	assert_true(call_slot_held_lost(&s));

	/* Nothing held: a claim takes no other call. */
	call_slot_hold(&s, 0, 0, UINT64_MAX);
	gen = test_begin(&s, 2000);
	assert_true(call_slot_claim(&s, gen, CALL_SLOT_RUNNING));
	assert_int_equal(call_slot_take_held(&s, held), 0);
	call_slot_answered(&s, gen);
	assert_int_equal(call_slot_settle(&s, gen), CALL_SLOT_LATE);
}

/* A held call past its deadline behind one in time: the held calls go, the running one stays. */
static void
test_shed_held(void **state)
{
	struct rte_mbuf *held[CALL_SLOT_HELD];
	struct call_slot s;
	uint64_t gen, seen;

	(void)state;
	memset(&s, 0, sizeof(s));
	s.held[0] = test_mbuf(1);
	s.held[1] = test_mbuf(2);
	call_slot_hold(&s, 1, 2, 500);
	gen = test_begin(&s, 1000);
	assert_false(call_slot_held_lost(&s));
	assert_true(call_slot_begin_shed(&s, gen));
	assert_int_equal(test_state(&s, &seen), CALL_SLOT_SHEDDING);
	assert_false(call_slot_stuck(&s));
	assert_int_equal(call_slot_take_held(&s, held), 1);
	assert_ptr_equal(held[0], test_mbuf(2));
	call_slot_shed(&s, gen);
	/* Shed once: a second shed finds no running call to shed from. */
	assert_false(call_slot_begin_shed(&s, gen));
	/* The worker still answers its call, and knows its burst is gone. */
	assert_int_equal(call_slot_settle(&s, gen), CALL_SLOT_ANSWER_SHED);
	assert_true(call_slot_held_lost(&s));
	assert_int_equal(test_state(&s, &seen), CALL_SLOT_IDLE);

	/* Shed, then overdue too: claimed from SHED, with nothing more to take. */
	call_slot_hold(&s, 1, 2, 500);
	gen = test_begin(&s, 1000);
	assert_true(call_slot_begin_shed(&s, gen));
	call_slot_shed(&s, gen);
	assert_false(call_slot_claim(&s, gen, CALL_SLOT_RUNNING));
	assert_true(call_slot_claim(&s, gen, CALL_SLOT_SHED));
	assert_true(call_slot_stuck(&s));
	call_slot_answered(&s, gen);
	assert_int_equal(call_slot_settle(&s, gen), CALL_SLOT_LATE);

	/* A claim first: nothing left to shed. */
	call_slot_hold(&s, 1, 2, 500);
	gen = test_begin(&s, 1000);
	assert_true(call_slot_claim(&s, gen, CALL_SLOT_RUNNING));
	assert_false(call_slot_begin_shed(&s, gen));
	call_slot_answered(&s, gen);
	assert_int_equal(call_slot_settle(&s, gen), CALL_SLOT_LATE);
}

/* A decision taken on an old call never lands on a newer one, from either side. */
static void
test_generations(void **state)
{
	struct call_slot s;
	uint64_t old, gen, seen;

	(void)state;
	memset(&s, 0, sizeof(s));
	old = test_begin(&s, 1000);
	assert_int_equal(call_slot_settle(&s, old), CALL_SLOT_ANSWER);
	gen = test_begin(&s, 5000);
	assert_int_equal(gen, old + 1);

	/* A watchdog that read the old call as overdue claims, or sheds, too late. */
	assert_false(call_slot_claim(&s, old, CALL_SLOT_RUNNING));
	assert_false(call_slot_begin_shed(&s, old));
	/* An old generation cannot settle the new call either, nor disturb it. */
	assert_int_equal(call_slot_settle(&s, old), CALL_SLOT_LATE);
	assert_int_equal(test_state(&s, &seen), CALL_SLOT_RUNNING);
	assert_int_equal(seen, gen);
	/* The new call is still claimable, and still settles. */
	assert_int_equal(call_slot_settle(&s, gen), CALL_SLOT_ANSWER);

	/* A claimed call's generation is not reused: the next call is claimed on its own. */
	gen = test_begin(&s, 6000);
	assert_true(call_slot_claim(&s, gen, CALL_SLOT_RUNNING));
	call_slot_answered(&s, gen);
	assert_int_equal(call_slot_settle(&s, gen), CALL_SLOT_LATE);
	old = gen;
	gen = test_begin(&s, 7000);
	assert_true(gen > old);
	assert_false(call_slot_claim(&s, old, CALL_SLOT_RUNNING));
	assert_int_equal(call_slot_settle(&s, gen), CALL_SLOT_ANSWER);
}

/*
 * A worker runs calls, each held a little while; a watchdog thread
 * meanwhile claims whatever it finds running with an even deadline
 * ("overdue") and sheds the held calls of those with a deadline a multiple
 * of 3 (some of which it then claims, from SHED). Per call, exactly one of
 * them must answer: never both (a second answer), never neither (a caller
 * left without one); and the held calls are taken by the watchdog exactly
 * when the worker hears they were. Each call's record is checked and
 * cleared TEST_LAG calls later, when neither side can touch it any more.
 */
#define TEST_RECORDS (1u << 16)
#define TEST_LAG (TEST_RECORDS / 2)

struct test_race {
	struct call_slot slot;
	uint8_t answered[TEST_RECORDS];   /* by generation: times answered */
	uint8_t held_taken[TEST_RECORDS]; /* times the watchdog took the held calls */
	uint8_t held_lost[TEST_RECORDS];  /* the worker heard they were taken */
	uint64_t calls;                   /* made by the worker */
	uint64_t late;                    /* results the worker discarded */
	uint64_t claimed;                 /* calls the watchdog answered */
	uint64_t wrong;                   /* records that were not exactly right */
	int watching;
	int done;
};

static uint64_t
test_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec;
}

static void
test_race_check(struct test_race *r, uint64_t gen)
{
	unsigned int i = gen % TEST_RECORDS;

	if (__atomic_load_n(&r->answered[i], __ATOMIC_RELAXED) != 1 ||
	    __atomic_load_n(&r->held_taken[i], __ATOMIC_RELAXED) != r->held_lost[i]) {
		if (r->wrong++ == 0)
			print_message("call %lu: answered %u times; held calls taken %u times, the "
				      "worker heard %u\n", (unsigned long)gen, r->answered[i],
				      r->held_taken[i], r->held_lost[i]);
	}
	__atomic_store_n(&r->answered[i], 0, __ATOMIC_RELAXED);
	__atomic_store_n(&r->held_taken[i], 0, __ATOMIC_RELAXED);
	r->held_lost[i] = 0;
}

static void *
test_race_worker(void *arg)
{
	struct test_race *r = arg;
	uint64_t i, until = test_now_s() + TEST_MAX_SECONDS;

	/* Not before the watchdog looks: on a busy machine it could start after the last call. */
	while (!__atomic_load_n(&r->watching, __ATOMIC_ACQUIRE))
		;
	for (i = 1;; i++) {
		volatile unsigned int spin;
		uint64_t gen;

		/* One call held behind each (the slot carries pointers: test_mbuf(0) will do). */
		call_slot_hold(&r->slot, 0, 1, UINT64_MAX);
		gen = test_begin(&r->slot, i);
		for (spin = 0; spin < (i * 2654435761u) % 256; spin++)
			;
		switch (call_slot_settle(&r->slot, gen)) {
		case CALL_SLOT_ANSWER:
			__atomic_fetch_add(&r->answered[gen % TEST_RECORDS], 1, __ATOMIC_RELAXED);
			break;
		case CALL_SLOT_ANSWER_SHED:
			__atomic_fetch_add(&r->answered[gen % TEST_RECORDS], 1, __ATOMIC_RELAXED);
			r->held_lost[gen % TEST_RECORDS] = 1;
			break;
		case CALL_SLOT_LATE:
			r->held_lost[gen % TEST_RECORDS] = 1;
			r->late++;
			break;
		}
		if (gen > TEST_LAG)
			test_race_check(r, gen - TEST_LAG);
		/* Enough calls, and enough of them won by the watchdog (the two threads may
		 * barely overlap on a busy machine), or out of time. */
		if (i >= TEST_CALLS && (__atomic_load_n(&r->claimed, __ATOMIC_RELAXED) >=
					TEST_MIN_CLAIMS || (i % 4096 == 0 && test_now_s() > until)))
			break;
	}
	r->calls = i;
	__atomic_store_n(&r->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void *
test_race_watchdog(void *arg)
{
	struct test_race *r = arg;

	__atomic_store_n(&r->watching, 1, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&r->done, __ATOMIC_ACQUIRE)) {
		struct rte_mbuf *held[CALL_SLOT_HELD];
		enum call_slot_state state;
		uint64_t gen, deadline;

		state = call_slot_peek(&r->slot, &gen);
		if (state != CALL_SLOT_RUNNING && state != CALL_SLOT_SHED)
			continue;
		deadline = call_slot_deadline(&r->slot);
		if (state == CALL_SLOT_RUNNING && deadline % 3 == 0) {
			if (!call_slot_begin_shed(&r->slot, gen))
				continue;
			if (call_slot_take_held(&r->slot, held) != 0)
				__atomic_fetch_add(&r->held_taken[gen % TEST_RECORDS], 1,
						   __ATOMIC_RELAXED);
			call_slot_shed(&r->slot, gen);
			continue;
		}
		if (deadline % 2 != 0 || !call_slot_claim(&r->slot, gen, state))
			continue;
		if (state == CALL_SLOT_RUNNING && call_slot_take_held(&r->slot, held) != 0)
			__atomic_fetch_add(&r->held_taken[gen % TEST_RECORDS], 1, __ATOMIC_RELAXED);
		/* What the watchdog reads while it builds its answer is the claimed call's. */
		if (call_slot_deadline(&r->slot) % 2 != 0 || r->slot.call.m != test_mbuf(0))
			fail_msg("claimed call %lu changed under the watchdog", (unsigned long)gen);
		__atomic_fetch_add(&r->answered[gen % TEST_RECORDS], 1, __ATOMIC_RELAXED);
		__atomic_fetch_add(&r->claimed, 1, __ATOMIC_RELAXED);
		call_slot_answered(&r->slot, gen);
	}
	return NULL;
}

static void
test_one_winner(void **state)
{
	struct test_race *r = aligned_alloc(64, RTE_ALIGN_CEIL(sizeof(*r), 64));
	pthread_t worker, watchdog;
	uint64_t gen;

	(void)state;
	assert_non_null(r);
	memset(r, 0, sizeof(*r));
	assert_int_equal(pthread_create(&watchdog, NULL, test_race_watchdog, r), 0);
	assert_int_equal(pthread_create(&worker, NULL, test_race_worker, r), 0);
	pthread_join(worker, NULL);
	pthread_join(watchdog, NULL);
	for (gen = r->calls > TEST_LAG ? r->calls - TEST_LAG + 1 : 1; gen <= r->calls; gen++)
		test_race_check(r, gen);

	print_message("%lu of %lu calls answered by the watchdog, %lu late results discarded\n",
		      (unsigned long)r->claimed, (unsigned long)r->calls, (unsigned long)r->late);
	assert_int_equal(r->wrong, 0);
	assert_int_equal(r->late, r->claimed);
	assert_true(r->claimed >= TEST_MIN_CLAIMS);
	free(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_settle_in_time),
		cmocka_unit_test(test_late_result_discarded),
		cmocka_unit_test(test_shed_held),
		cmocka_unit_test(test_generations),
		cmocka_unit_test(test_one_winner),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
