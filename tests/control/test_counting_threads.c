/* Counting across threads as Turbine runs it; built with -Db_sanitize=thread, a race fails it. */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "counting.h"

#define HZ 1000000000ull
#define CALLS 100000
#define WORKERS 2
#define TENANT 1

/*
 * One dispatcher admits calls of function 0 and hands them to two workers,
 * which finish them; a control thread meanwhile publishes the function's
 * limits (two versions, by pointer, as quotas.c does), changes the tenant's
 * in place, and reads what telemetry and the worker manager read: calls in
 * flight and verdicts.
 */
struct shared {
	struct counting_dispatcher d;
	struct counting_worker w[WORKERS];
	struct counting_worker *workers[WORKERS];
	struct counting_view view;
	struct counting_fn_limits versions[2];   /* reserved concurrency 3, then 5 */
	const struct counting_fn_limits *live;   /* the version a call is admitted under */
	uint64_t handed[WORKERS];                /* calls handed to each worker: the "ring" */
	int done;
	/* What the dispatcher saw. */
	uint64_t admitted;
	uint64_t over_fn_limit;                  /* in flight above the version admitted under */
	uint64_t over_tenant_limit;              /* above the larger tenant limit */
	/* What the control thread saw. */
	uint64_t reads;
	uint64_t negative;                       /* calls in flight read as "negative" */
};

static void *
dispatcher_main(void *arg)
{
	struct shared *s = arg;
	unsigned int i, next = 0;
	uint32_t retry;

	for (i = 0; i < CALLS; i++) {
		const struct counting_fn_limits *fl = __atomic_load_n(&s->live, __ATOMIC_ACQUIRE);
		uint64_t h;

		if (counting_admit(&s->view, 0, fl, TENANT, i, &retry) != COUNTING_ADMIT) {
			sched_yield();
			continue;
		}
		s->admitted++;
		if (counting_fn_in_flight(&s->view, 0) > fl->share[0].concurrency)
			s->over_fn_limit++;
		if (counting_tenant_in_flight(&s->view, TENANT) > 6)
			s->over_tenant_limit++;
		/* Every tenth call finds its worker's queue full and is given back. */
		if (i % 10 == 0) {
			counting_cancel(&s->view, 0, fl, TENANT, COUNTING_CHECK_ALL);
			continue;
		}
		h = s->handed[next];
		__atomic_store_n(&s->handed[next], h + 1, __ATOMIC_RELEASE);
		next = (next + 1) % WORKERS;
	}
	__atomic_store_n(&s->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

struct worker_arg {
	struct shared *s;
	unsigned int id;
};

static void *
worker_main(void *arg)
{
	struct worker_arg *a = arg;
	struct shared *s = a->s;
	uint64_t finished = 0;

	for (;;) {
		int done = __atomic_load_n(&s->done, __ATOMIC_ACQUIRE);
		uint64_t handed = __atomic_load_n(&s->handed[a->id], __ATOMIC_ACQUIRE);

		while (finished < handed) {
			counting_finished(&s->w[a->id], 0, 0, TENANT);
			finished++;
		}
		if (done && finished == __atomic_load_n(&s->handed[a->id], __ATOMIC_ACQUIRE))
			return NULL;
		sched_yield();
	}
}

static void *
control_main(void *arg)
{
	struct shared *s = arg;
	struct tenant_config t = { .name = "acme" };
	unsigned int round = 0;

	while (!__atomic_load_n(&s->done, __ATOMIC_ACQUIRE)) {
		uint64_t fn, tenant;

		__atomic_store_n(&s->live, &s->versions[round % 2], __ATOMIC_RELEASE);
		t.concurrency = round % 2 ? 6 : 4;
		t.rate = round % 3 ? 0 : 1000000;
		counting_set_tenant(&s->d, TENANT, &t, 0, 1);
		fn = counting_fn_in_flight(&s->view, 0);
		tenant = counting_tenant_in_flight(&s->view, TENANT);
		if ((int64_t)fn < 0 || (int64_t)tenant < 0)
			s->negative++;
		(void)counting_verdicts(&s->d, 0, COUNTING_ADMIT);
		s->reads++;
		round++;
		sched_yield();
	}
	return NULL;
}

static void
test_admission_across_threads(void **state)
{
	struct shared *s = calloc(1, sizeof(*s));
	struct function_config cfg;
	struct worker_arg wa[WORKERS];
	pthread_t dispatcher, control, workers[WORKERS];
	unsigned int i;

	(void)state;
	assert_non_null(s);
	for (i = 0; i < WORKERS; i++)
		s->workers[i] = &s->w[i];
	s->view = (struct counting_view){ .d = &s->d, .dispatcher = 0, .workers = s->workers,
					   .nb_workers = WORKERS, .hz = HZ };
	memset(&cfg, 0, sizeof(cfg));
	cfg.reserved_concurrency = 3;
	counting_fn_limits_init(&s->versions[0], &cfg, NULL, 1);
	cfg.reserved_concurrency = 5;
	counting_fn_limits_init(&s->versions[1], &cfg, NULL, 1);
	s->live = &s->versions[0];

	assert_int_equal(pthread_create(&control, NULL, control_main, s), 0);
	for (i = 0; i < WORKERS; i++) {
		wa[i] = (struct worker_arg){ s, i };
		assert_int_equal(pthread_create(&workers[i], NULL, worker_main, &wa[i]), 0);
	}
	assert_int_equal(pthread_create(&dispatcher, NULL, dispatcher_main, s), 0);
	pthread_join(dispatcher, NULL);
	for (i = 0; i < WORKERS; i++)
		pthread_join(workers[i], NULL);
	pthread_join(control, NULL);

	assert_true(s->admitted > 0);
	assert_int_equal(s->over_fn_limit, 0);
	assert_int_equal(s->over_tenant_limit, 0);
	assert_int_equal(s->negative, 0);
	assert_true(s->reads > 0);
	/* Everything handed was finished, everything else given back. */
	assert_int_equal(counting_fn_in_flight(&s->view, 0), 0);
	assert_int_equal(counting_tenant_in_flight(&s->view, TENANT), 0);
	assert_int_equal(counting_verdicts(&s->d, 0, COUNTING_ADMIT), s->admitted);
	free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_admission_across_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
