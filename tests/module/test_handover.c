/* Tests of workers/handover.h: a taker consumes a worker's single-consumer ring only while the worker keeps off it. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <rte_ring.h>

#include "handover.h"

#define TEST_RING_SIZE 1024
#define TEST_ITEMS 400000
#define TEST_BURST 32

struct test_pair {
	struct rte_ring *ring;            /* SP/SC: the test thread produces, one side consumes */
	struct handover h;
	uint8_t *seen;                    /* times each item was consumed, by either side */
	int taker_owns;                   /* set while the taker holds the ring */
	int stop;
	uint64_t worker_items;
	uint64_t overlaps;                /* worker dequeues while the taker held the ring */
};

/* A few hundred cycles of work per item, of varying length, as a handler would take. */
static void
test_handle(unsigned int item)
{
	volatile unsigned int spin;

	for (spin = 0; spin < (item * 2654435761u) % 512; spin++)
		;
}

static void *
test_worker(void *arg)
{
	struct test_pair *p = arg;
	void *items[TEST_BURST];
	unsigned int i, n;

	while (!__atomic_load_n(&p->stop, __ATOMIC_ACQUIRE)) {
		if (!handover_begin_dequeue(&p->h))
			continue;
		n = rte_ring_sc_dequeue_burst(p->ring, items, TEST_BURST, NULL);
		/* Between the two calls the ring is the worker's alone. */
		if (__atomic_load_n(&p->taker_owns, __ATOMIC_SEQ_CST))
			p->overlaps++;
		handover_end_dequeue(&p->h);
		for (i = 0; i < n; i++) {
			unsigned int item = (unsigned int)(uintptr_t)items[i];

			__atomic_fetch_add(&p->seen[item], 1, __ATOMIC_RELAXED);
			test_handle(item);
		}
		p->worker_items += n;
	}
	return NULL;
}

/* The taker consumes what is queued, then gives the ring back. */
static unsigned int
test_take_and_consume(struct test_pair *p)
{
	void *items[TEST_BURST];
	unsigned int i, n, total = 0;

	while (!handover_take(&p->h, 0))
		;
	__atomic_store_n(&p->taker_owns, 1, __ATOMIC_SEQ_CST);
	do {
		n = rte_ring_sc_dequeue_burst(p->ring, items, TEST_BURST, NULL);
		for (i = 0; i < n; i++)
			__atomic_fetch_add(&p->seen[(uintptr_t)items[i]], 1, __ATOMIC_RELAXED);
		total += n;
	} while (n != 0);
	__atomic_store_n(&p->taker_owns, 0, __ATOMIC_SEQ_CST);
	handover_give_back(&p->h, 0);
	return total;
}

/*
 * Items 1..TEST_ITEMS go into the ring; after every few dozen the test
 * thread takes the ring over, empties it and gives it back, while the worker
 * thread dequeues bursts and works on them. A dequeue by both at once breaks
 * the single-consumer ring: items lost or consumed twice.
 */
static void
test_take_while_worker_dequeues(void **state)
{
	size_t size = rte_ring_get_memsize(TEST_RING_SIZE);
	struct test_pair p;
	pthread_t worker;
	unsigned int item = 1, taken = 0, takes = 0, i;

	(void)state;
	memset(&p, 0, sizeof(p));
	p.ring = aligned_alloc(RTE_CACHE_LINE_SIZE, RTE_ALIGN_CEIL(size, RTE_CACHE_LINE_SIZE));
	p.seen = calloc(TEST_ITEMS + 1, 1);
	assert_non_null(p.ring);
	assert_non_null(p.seen);
	assert_int_equal(rte_ring_init(p.ring, "test_handover", TEST_RING_SIZE,
				       RING_F_SP_ENQ | RING_F_SC_DEQ), 0);
	assert_int_equal(pthread_create(&worker, NULL, test_worker, &p), 0);

	while (item <= TEST_ITEMS) {
		unsigned int batch = 1 + (item * 40503u) % 64;

		for (i = 0; i < batch && item <= TEST_ITEMS; i++)
			if (rte_ring_sp_enqueue(p.ring, (void *)(uintptr_t)item) == 0)
				item++;
		if (item % 3 == 0) {
			taken += test_take_and_consume(&p);
			takes++;
		}
	}
	while (!rte_ring_empty(p.ring))
		;
	__atomic_store_n(&p.stop, 1, __ATOMIC_RELEASE);
	pthread_join(worker, NULL);

	print_message("%u takes; %u items consumed by the taker, %lu by the worker\n", takes, taken,
		      (unsigned long)p.worker_items);
	assert_int_equal(p.overlaps, 0);
	for (i = 1; i <= TEST_ITEMS; i++)
		if (p.seen[i] != 1)
			fail_msg("item %u consumed %u times", i, p.seen[i]);
	assert_true(taken > 0 && p.worker_items > 0);
	free(p.seen);
	free(p.ring);
}

/* Once the worker has seen `abandoned` it keeps off the ring until it is given back. */
static void
test_worker_keeps_off(void **state)
{
	struct handover h = { 0 };

	(void)state;
	assert_true(handover_begin_dequeue(&h));
	assert_false(handover_take(&h, 0));       /* mid-dequeue: ask again */
	handover_end_dequeue(&h);
	assert_true(handover_take(&h, 0));
	assert_true(handover_abandoned(&h));
	assert_false(handover_begin_dequeue(&h));
	assert_true(handover_take(&h, 0));        /* it stepped back: AWAY */
	handover_give_back(&h, 0);
	assert_false(handover_abandoned(&h));
	assert_true(handover_begin_dequeue(&h));
}

/* Two dispatchers feed one stuck worker: its rings are its own again only when both gave theirs back. */
static void
test_two_takers(void **state)
{
	struct handover h = { 0 };

	(void)state;
	assert_true(handover_take(&h, 0));
	assert_true(handover_take(&h, 5));
	handover_give_back(&h, 0);
	assert_true(handover_abandoned(&h));
	assert_false(handover_begin_dequeue(&h));
	assert_true(handover_take(&h, 0));     /* taken again meanwhile */
	handover_give_back(&h, 5);
	assert_false(handover_begin_dequeue(&h));
	handover_give_back(&h, 0);
	assert_false(handover_abandoned(&h));
	assert_true(handover_begin_dequeue(&h));
	handover_end_dequeue(&h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_worker_keeps_off),
		cmocka_unit_test(test_two_takers),
		cmocka_unit_test(test_take_while_worker_dequeues),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
