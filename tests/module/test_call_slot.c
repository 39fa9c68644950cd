/* Tests of workers/call_slot.h: exactly one of a worker and its dispatcher's watchdog answers each call. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "call_slot.h"

#define TEST_CALLS 200000
/* More calls while the watchdog has won fewer races than this (the threads may barely overlap
 * on a busy machine), up to TEST_MAX_CALLS. */
#define TEST_MIN_CLAIMS 200
#define TEST_MAX_CALLS (20 * TEST_CALLS)

/* Stand-ins for request mbufs: the slot only carries the pointers. */
static char test_mbufs[CALL_SLOT_HELD + 1];

static struct rte_mbuf *
test_mbuf(unsigned int i)
{
	return (struct rte_mbuf *)&test_mbufs[i];
}

static uint64_t
test_begin(struct call_slot *s, uint64_t deadline)
{
	const struct call_slot_call c = {
		.m = test_mbuf(0), .deadline_tsc = deadline, .start_tsc = deadline - 10,
		.version = "7", .version_len = 1, .dispatcher = 2, .function = 5,
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
	assert_true(call_slot_settle(&s, gen));
	assert_int_equal(test_state(&s, &seen), CALL_SLOT_IDLE);
	assert_false(call_slot_claim(&s, gen));
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
	call_slot_hold(&s, 1, 3);
	gen = test_begin(&s, 1000);
	assert_true(call_slot_claim(&s, gen));
	assert_true(call_slot_stuck(&s));
	assert_ptr_equal(s.call.m, test_mbuf(0));
	assert_int_equal(call_slot_started(&s, &function), 990);
	assert_int_equal(function, 5);
	assert_int_equal(call_slot_take_held(&s, held), 2);
	assert_ptr_equal(held[0], test_mbuf(2));
	assert_ptr_equal(held[1], test_mbuf(3));
	call_slot_answered(&s, gen);
	assert_int_equal(test_state(&s, &seen), CALL_SLOT_TIMED_OUT);
	assert_true(call_slot_stuck(&s));

	/* The handler returns: the worker learns it lost, and the slot is idle again. */
	assert_false(call_slot_settle(&s, gen));
	assert_int_equal(test_state(&s, &seen), CALL_SLOT_IDLE);
	assert_int_equal(seen, gen);
	assert_false(call_slot_stuck(&s));

	/* Nothing held: a claim takes no other call. */
	call_slot_hold(&s, 0, 0);
	gen = test_begin(&s, 2000);
	assert_true(call_slot_claim(&s, gen));
	assert_int_equal(call_slot_take_held(&s, held), 0);
	call_slot_answered(&s, gen);
	assert_false(call_slot_settle(&s, gen));
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
	assert_true(call_slot_settle(&s, old));
	gen = test_begin(&s, 5000);
	assert_int_equal(gen, old + 1);

	/* A watchdog that read the old call as overdue claims too late. */
	assert_false(call_slot_claim(&s, old));
	/* An old generation cannot settle the new call either, nor disturb it. */
	assert_false(call_slot_settle(&s, old));
	assert_int_equal(test_state(&s, &seen), CALL_SLOT_RUNNING);
	assert_int_equal(seen, gen);
	/* The new call is still claimable, and still settles. */
	assert_true(call_slot_settle(&s, gen));

	/* A claimed call's generation is not reused: the next call is claimed on its own. */
	gen = test_begin(&s, 6000);
	assert_true(call_slot_claim(&s, gen));
	call_slot_answered(&s, gen);
	assert_false(call_slot_settle(&s, gen));
	old = gen;
	gen = test_begin(&s, 7000);
	assert_true(gen > old);
	assert_false(call_slot_claim(&s, old));
	assert_true(call_slot_settle(&s, gen));
}

/*
 * A worker runs TEST_CALLS calls, each held a little while; a watchdog
 * thread meanwhile claims whatever it finds running with an even deadline
 * ("overdue"). Per call, exactly one of them must answer: never both (a
 * second answer), never neither (a caller left without one).
 */
struct test_race {
	struct call_slot slot;
	uint8_t *answered;       /* by generation: times answered */
	uint64_t calls;          /* made by the worker */
	uint64_t late;           /* results the worker discarded */
	uint64_t claimed;        /* calls the watchdog answered */
	int watching;
	int done;
};

static void *
test_race_worker(void *arg)
{
	struct test_race *r = arg;
	unsigned int i;

	/* Not before the watchdog looks: on a busy machine it could start after the last call. */
	while (!__atomic_load_n(&r->watching, __ATOMIC_ACQUIRE))
		;
	for (i = 1; i <= TEST_MAX_CALLS; i++) {
		volatile unsigned int spin;
		uint64_t gen = test_begin(&r->slot, i);

		for (spin = 0; spin < (i * 2654435761u) % 256; spin++)
			;
		if (call_slot_settle(&r->slot, gen))
			__atomic_fetch_add(&r->answered[gen], 1, __ATOMIC_RELAXED);
		else
			r->late++;
		if (i >= TEST_CALLS && __atomic_load_n(&r->claimed, __ATOMIC_RELAXED) >= TEST_MIN_CLAIMS)
			break;
	}
	r->calls = i > TEST_MAX_CALLS ? TEST_MAX_CALLS : i;
	__atomic_store_n(&r->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void *
test_race_watchdog(void *arg)
{
	struct test_race *r = arg;

	__atomic_store_n(&r->watching, 1, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&r->done, __ATOMIC_ACQUIRE)) {
		uint64_t gen;

		if (call_slot_peek(&r->slot, &gen) != CALL_SLOT_RUNNING ||
		    call_slot_deadline(&r->slot) % 2 != 0)
			continue;
		if (!call_slot_claim(&r->slot, gen))
			continue;
		/* What the watchdog reads while it builds its answer is the claimed call's. */
		if (call_slot_deadline(&r->slot) % 2 != 0 || r->slot.call.m != test_mbuf(0))
			fail_msg("claimed call %lu changed under the watchdog", (unsigned long)gen);
		__atomic_fetch_add(&r->answered[gen], 1, __ATOMIC_RELAXED);
		__atomic_fetch_add(&r->claimed, 1, __ATOMIC_RELAXED);
		call_slot_answered(&r->slot, gen);
	}
	return NULL;
}

static void
test_one_winner(void **state)
{
	struct test_race *r = aligned_alloc(64, sizeof(*r));
	pthread_t worker, watchdog;
	unsigned int i;

	(void)state;
	assert_non_null(r);
	memset(r, 0, sizeof(*r));
	r->answered = calloc(TEST_MAX_CALLS + 1, 1);
	assert_non_null(r->answered);
	assert_int_equal(pthread_create(&watchdog, NULL, test_race_watchdog, r), 0);
	assert_int_equal(pthread_create(&worker, NULL, test_race_worker, r), 0);
	pthread_join(worker, NULL);
	pthread_join(watchdog, NULL);

	print_message("%lu of %lu calls answered by the watchdog, %lu late results discarded\n",
		      (unsigned long)r->claimed, (unsigned long)r->calls, (unsigned long)r->late);
	for (i = 1; i <= r->calls; i++)
		if (r->answered[i] != 1)
			fail_msg("call %u answered %u times", i, r->answered[i]);
	assert_int_equal(r->late, r->claimed);
	assert_true(r->claimed >= TEST_MIN_CLAIMS);
	free(r->answered);
	free(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_settle_in_time),
		cmocka_unit_test(test_late_result_discarded),
		cmocka_unit_test(test_generations),
		cmocka_unit_test(test_one_winner),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
