/* Unit tests for placement on synthetic machines: socket affinity, reservations, spreading. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "placement.h"

static struct placement_plan plan;

/* A machine of `sockets` sockets with `per_socket` workers each, worker ids in socket order. */
static struct placement_topology
machine(unsigned int sockets, unsigned int per_socket, unsigned int home)
{
	struct placement_topology t;
	unsigned int w;

	memset(&t, 0, sizeof(t));
	t.nb_workers = sockets * per_socket;
	for (w = 0; w < t.nb_workers; w++)
		t.worker_socket[w] = w / per_socket;
	t.home_socket = home;
	return t;
}

static unsigned int
on_socket(const struct placement_topology *t, unsigned int f, unsigned int socket)
{
	unsigned int i, n = 0;

	for (i = 0; i < plan.nb_workers[f]; i++)
		n += t->worker_socket[plan.workers[f][i]] == socket;
	return n;
}

static void
assert_distinct_workers(unsigned int f)
{
	bool seen[PLACEMENT_MAX_WORKERS] = { false };
	unsigned int i;

	for (i = 0; i < plan.nb_workers[f]; i++) {
		assert_false(seen[plan.workers[f][i]]);
		seen[plan.workers[f][i]] = true;
	}
}

static void
test_unreserved_function_is_everywhere(void **state)
{
	struct placement_topology t = machine(2, 4, 0);
	struct placement_demand d[1] = { { 0 } };

	(void)state;
	placement_plan(&t, d, 1, &plan);
	assert_int_equal(plan.nb_workers[0], 8);
	assert_int_equal(plan.away[0], 4);
	assert_distinct_workers(0);
}

static void
test_reservation_caps_environments_on_the_home_socket(void **state)
{
	struct placement_topology t = machine(2, 4, 1);
	struct placement_demand d[1] = { { 3 } };

	(void)state;
	placement_plan(&t, d, 1, &plan);
	assert_int_equal(plan.nb_workers[0], 3);
	assert_int_equal(on_socket(&t, 0, 1), 3);
	assert_int_equal(plan.away[0], 0);
}

static void
test_overflow_goes_to_other_sockets_and_says_so(void **state)
{
	struct placement_topology t = machine(4, 2, 2);
	struct placement_demand d[1] = { { 5 } };

	(void)state;
	placement_plan(&t, d, 1, &plan);
	assert_int_equal(plan.nb_workers[0], 5);
	assert_int_equal(on_socket(&t, 0, 2), 2);
	assert_int_equal(plan.away[0], 3);
	assert_distinct_workers(0);
}

static void
test_functions_spread_over_home_workers(void **state)
{
	struct placement_topology t = machine(2, 4, 0);
	struct placement_demand d[4] = { { 1 }, { 1 }, { 1 }, { 1 } };
	bool used[8] = { false };
	unsigned int f;

	(void)state;
	placement_plan(&t, d, 4, &plan);
	for (f = 0; f < 4; f++) {
		assert_int_equal(plan.nb_workers[f], 1);
		assert_int_equal(t.worker_socket[plan.workers[f][0]], 0);
		assert_false(used[plan.workers[f][0]]);
		used[plan.workers[f][0]] = true;
	}
}

static void
test_reservation_larger_than_the_machine(void **state)
{
	struct placement_topology t = machine(1, 2, 0);
	struct placement_demand d[2] = { { 100 }, { 2 } };

	(void)state;
	placement_plan(&t, d, 2, &plan);
	assert_int_equal(plan.nb_workers[0], 2);
	assert_int_equal(plan.nb_workers[1], 2);
	assert_int_equal(plan.away[0] + plan.away[1], 0);
}

static void
test_decide_grows_only_when_calls_wait_and_room_remains(void **state)
{
	struct placement_load l = { .environments = 2, .in_flight = 3 };

	(void)state;
	assert_int_equal(placement_decide(&l, 4, 60), PLACEMENT_GROW);
	l.in_flight = 2;
	assert_int_equal(placement_decide(&l, 4, 60), PLACEMENT_KEEP);
	l.in_flight = 9;
	assert_int_equal(placement_decide(&l, 2, 60), PLACEMENT_KEEP);   /* every worker holds it */
	l.reserved_concurrency = 2;
	assert_int_equal(placement_decide(&l, 4, 60), PLACEMENT_KEEP);   /* at its reservation */
	l.reserved_concurrency = 3;
	assert_int_equal(placement_decide(&l, 4, 60), PLACEMENT_GROW);
}

static void
test_decide_shrinks_idle_functions_to_one(void **state)
{
	struct placement_load l = { .environments = 3, .idle_s = 59 };

	(void)state;
	assert_int_equal(placement_decide(&l, 4, 60), PLACEMENT_KEEP);
	l.idle_s = 60;
	assert_int_equal(placement_decide(&l, 4, 60), PLACEMENT_SHRINK);
	assert_int_equal(placement_decide(&l, 4, 0), PLACEMENT_KEEP);    /* 0: never */
	l.environments = 1;
	assert_int_equal(placement_decide(&l, 4, 60), PLACEMENT_KEEP);   /* one always stays */
}

static void
test_pick_grow_and_shrink_follow_the_sockets(void **state)
{
	struct placement_topology t = machine(2, 2, 1);   /* workers 0,1 on socket 0; 2,3 home */
	unsigned int load[4] = { 0, 0, 3, 1 };
	bool held[4] = { false, false, false, true };

	(void)state;
	assert_int_equal(placement_pick_grow(&t, load, held), 2);       /* home, though loaded */
	held[2] = true;
	assert_int_equal(placement_pick_grow(&t, load, held), 0);       /* then away, least loaded */
	held[0] = true;
	assert_int_equal(placement_pick_shrink(&t, load, held), 0);     /* away goes first */
	held[0] = false;
	assert_int_equal(placement_pick_shrink(&t, load, held), 2);     /* then the most loaded */
	memset(held, 1, sizeof(held));
	assert_int_equal(placement_pick_grow(&t, load, held), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unreserved_function_is_everywhere),
		cmocka_unit_test(test_reservation_caps_environments_on_the_home_socket),
		cmocka_unit_test(test_overflow_goes_to_other_sockets_and_says_so),
		cmocka_unit_test(test_functions_spread_over_home_workers),
		cmocka_unit_test(test_reservation_larger_than_the_machine),
		cmocka_unit_test(test_decide_grows_only_when_calls_wait_and_room_remains),
		cmocka_unit_test(test_decide_shrinks_idle_functions_to_one),
		cmocka_unit_test(test_pick_grow_and_shrink_follow_the_sockets),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
