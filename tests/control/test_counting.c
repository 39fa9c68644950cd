/* Unit tests for counting: shares, token buckets, calls in flight, tenants, refusals' reasons. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "counting.h"

#define HZ 1000000000ull  /* a 1 GHz clock: one cycle is one nanosecond */

struct fixture {
	struct counting_fn_limits limits[2];   /* of functions 0 and 1, as published */
	struct counting_dispatcher d[2];
	struct counting_worker w[3];
	struct counting_worker *workers[3];
	struct counting_view view[2];
};

static int
fixture_setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct function_config none;
	unsigned int i;

	memset(&none, 0, sizeof(none));

	for (i = 0; i < 3; i++)
		f->workers[i] = &f->w[i];
	for (i = 0; i < 2; i++) {
		f->view[i] = (struct counting_view){ .d = &f->d[i], .dispatcher = i,
						      .workers = f->workers, .nb_workers = 3, .hz = HZ };
		counting_fn_limits_init(&f->limits[i], &none, NULL, 2);
	}
	*state = f;
	return 0;
}

static int
fixture_teardown(void **state)
{
	free(*state);
	return 0;
}

static struct function_config
function_limits(uint32_t concurrency, uint32_t rate, uint32_t burst)
{
	struct function_config cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.reserved_concurrency = concurrency;
	cfg.rate = rate;
	cfg.burst = burst;
	return cfg;
}

/* Dispatcher d admits a call of function fn under the function's published limits. */
static enum counting_verdict
admit(struct fixture *f, unsigned int d, unsigned int fn, unsigned int tenant, uint64_t now,
      uint32_t *retry)
{
	return counting_admit(&f->view[d], fn, &f->limits[fn], tenant, now, retry);
}

static void
test_share_splits_exactly(void **state)
{
	(void)state;
	assert_int_equal(counting_share(5, 2, 0), 3);
	assert_int_equal(counting_share(5, 2, 1), 2);
	assert_int_equal(counting_share(1, 2, 0), 1);
	assert_int_equal(counting_share(1, 2, 1), 0);
	assert_int_equal(counting_share(7, 1, 0), 7);
	assert_int_equal(counting_share(0, 3, 2), 0);
}

static void
test_no_limits_admit_everything(void **state)
{
	struct fixture *f = *state;
	uint32_t retry;
	unsigned int i;

	for (i = 0; i < 10000; i++)
		assert_int_equal(admit(f, 0, 0, 3, i, &retry), COUNTING_ADMIT);
	assert_int_equal(counting_fn_in_flight(&f->view[0], 0), 10000);
	assert_int_equal(counting_tenant_in_flight(&f->view[0], 3), 10000);
}

/*
 * Without limits admission takes its inline way, which checks nothing but
 * still counts what the rest needs: the calls in flight (a limit set later
 * finds them), the admissions (telemetry). A tenant given a limit takes the
 * checked way again, for a function without one too.
 */
static void
test_unlimited_still_counted(void **state)
{
	struct fixture *f = *state;
	struct function_config cfg = function_limits(3, 0, 0);
	struct tenant_config t = { .name = "acme", .concurrency = 1 };
	uint32_t retry = 7;

	assert_false(f->limits[0].limited);
	assert_int_equal(admit(f, 0, 0, 0, 1, &retry), COUNTING_ADMIT);
	assert_int_equal(retry, 0);
	assert_int_equal(counting_admit_only(&f->view[0], 0, &f->limits[0], 0, 2, &retry,
					     COUNTING_CHECK_ALL), COUNTING_ADMIT);
	/* An Event accepted: rate only, nothing in flight yet. */
	assert_int_equal(counting_admit_only(&f->view[0], 0, &f->limits[0], 0, 3, &retry,
					     COUNTING_CHECK_RATE), COUNTING_ADMIT);
	assert_int_equal(counting_fn_in_flight(&f->view[0], 0), 2);
	assert_int_equal(counting_tenant_in_flight(&f->view[0], 0), 2);
	assert_int_equal(counting_verdicts(&f->d[0], 0, COUNTING_ADMIT), 3);

	/* Reserved now: the two already running count against it. */
	counting_fn_limits_init(&f->limits[0], &cfg, NULL, 1);
	assert_true(f->limits[0].limited);
	assert_int_equal(admit(f, 0, 0, 0, 4, &retry), COUNTING_ADMIT);
	assert_int_equal(admit(f, 0, 0, 0, 5, &retry), COUNTING_FN_CONCURRENCY);
	assert_int_equal(counting_verdicts(&f->d[0], 0, COUNTING_ADMIT), 4);
	assert_int_equal(counting_verdicts(&f->d[0], 0, COUNTING_FN_CONCURRENCY), 1);

	/* Function 1 has no limit; tenant 5 now has one, on dispatcher 0 only. */
	counting_set_tenant(&f->d[0], 5, &t, 0, 1);
	assert_int_equal(admit(f, 0, 1, 5, 6, &retry), COUNTING_ADMIT);
	assert_int_equal(admit(f, 0, 1, 5, 7, &retry), COUNTING_TENANT_CONCURRENCY);
	assert_int_equal(admit(f, 1, 1, 5, 7, &retry), COUNTING_ADMIT);

	/* Its limit lifted: admitted without checks again, and still counted in flight. */
	t.concurrency = 0;
	counting_set_tenant(&f->d[0], 5, &t, 0, 1);
	assert_false(counting_tenant_limited(&f->d[0], 5));
	assert_int_equal(admit(f, 0, 1, 5, 8, &retry), COUNTING_ADMIT);
	assert_int_equal(counting_tenant_in_flight(&f->view[0], 5), 2);
	assert_int_equal(counting_fn_in_flight(&f->view[0], 1), 2);

	/* A tenant past the first 64: its own bit of the second word, no other's. */
	t.concurrency = 1;
	counting_set_tenant(&f->d[0], 70, &t, 0, 1);
	assert_true(counting_tenant_limited(&f->d[0], 70));
	assert_false(counting_tenant_limited(&f->d[0], 6));
	assert_false(counting_tenant_limited(&f->d[0], 71));
	assert_int_equal(admit(f, 0, 1, 70, 9, &retry), COUNTING_ADMIT);
	assert_int_equal(admit(f, 0, 1, 70, 9, &retry), COUNTING_TENANT_CONCURRENCY);
	assert_int_equal(counting_fn_in_flight(&f->view[0], 1), 3);
}

static void
test_reserved_concurrency_holds_and_frees(void **state)
{
	struct fixture *f = *state;
	struct function_config cfg = function_limits(3, 0, 0);
	uint32_t retry;

	counting_fn_limits_init(&f->limits[0], &cfg, NULL, 1);
	assert_int_equal(admit(f, 0, 0, 0, 1, &retry), COUNTING_ADMIT);
	assert_int_equal(admit(f, 0, 0, 0, 2, &retry), COUNTING_ADMIT);
	assert_int_equal(admit(f, 0, 0, 0, 3, &retry), COUNTING_ADMIT);
	assert_int_equal(admit(f, 0, 0, 0, 4, &retry), COUNTING_FN_CONCURRENCY);
	assert_int_equal(retry, 1);
	assert_string_equal(counting_reason(COUNTING_FN_CONCURRENCY),
			    "ReservedFunctionConcurrentInvocationLimitExceeded");
	/* Another function is not limited by this one's reservation. */
	assert_int_equal(admit(f, 0, 1, 0, 5, &retry), COUNTING_ADMIT);
	/* A worker finishing one call of function 0 frees exactly one slot. */
	counting_finished(&f->w[2], 0, 0, 0);
	assert_int_equal(counting_fn_in_flight(&f->view[0], 0), 2);
	assert_int_equal(admit(f, 0, 0, 0, 6, &retry), COUNTING_ADMIT);
	assert_int_equal(admit(f, 0, 0, 0, 7, &retry), COUNTING_FN_CONCURRENCY);
}

/*
 * An Event pays its rate when accepted (nothing in flight then), and each
 * run of it counts against concurrency without paying again.
 */
static void
test_event_pays_rate_once_and_runs_count_concurrency(void **state)
{
	struct fixture *f = *state;
	struct function_config cfg = function_limits(1, 1, 1);
	uint32_t retry;

	counting_fn_limits_init(&f->limits[0], &cfg, NULL, 1);
	/* At HZ, a second in: the bucket is full. */
	assert_int_equal(counting_admit_only(&f->view[0], 0, &f->limits[0], 0, HZ, &retry,
					     COUNTING_CHECK_RATE), COUNTING_ADMIT);
	assert_int_equal(counting_fn_in_flight(&f->view[0], 0), 0);
	/* The one token is spent: a second Event at once is refused by the rate... */
	assert_int_equal(counting_admit_only(&f->view[0], 0, &f->limits[0], 0, HZ + 1, &retry,
					     COUNTING_CHECK_RATE), COUNTING_FN_RATE);
	/* ...while the first one's run needs no token, only a concurrency slot. */
	assert_int_equal(counting_admit_only(&f->view[0], 0, &f->limits[0], 0, HZ + 2, &retry,
					     COUNTING_CHECK_CONCURRENCY), COUNTING_ADMIT);
	assert_int_equal(counting_fn_in_flight(&f->view[0], 0), 1);
	assert_int_equal(counting_admit_only(&f->view[0], 0, &f->limits[0], 0, HZ + 3, &retry,
					     COUNTING_CHECK_CONCURRENCY), COUNTING_FN_CONCURRENCY);
	/* An accept never takes a slot, even when they are all taken. */
	assert_int_equal(counting_admit_only(&f->view[0], 0, &f->limits[0], 0, 3 * HZ, &retry,
					     COUNTING_CHECK_RATE), COUNTING_ADMIT);
}

static void
test_finished_elsewhere_does_not_free(void **state)
{
	struct fixture *f = *state;
	struct function_config cfg = function_limits(1, 0, 0);
	uint32_t retry;

	counting_fn_limits_init(&f->limits[0], &cfg, NULL, 1);
	assert_int_equal(admit(f, 0, 0, 0, 1, &retry), COUNTING_ADMIT);
	/* A call dispatcher 1 admitted finishing is no business of dispatcher 0. */
	counting_finished(&f->w[0], 1, 0, 0);
	assert_int_equal(admit(f, 0, 0, 0, 2, &retry), COUNTING_FN_CONCURRENCY);
}

static void
test_tenant_concurrency_spans_functions(void **state)
{
	struct fixture *f = *state;
	struct tenant_config t = { .name = "acme", .concurrency = 2 };
	uint32_t retry;

	counting_set_tenant(&f->d[0], 4, &t, 0, 1);
	assert_int_equal(admit(f, 0, 0, 4, 1, &retry), COUNTING_ADMIT);
	assert_int_equal(admit(f, 0, 1, 4, 2, &retry), COUNTING_ADMIT);
	assert_int_equal(admit(f, 0, 1, 4, 3, &retry), COUNTING_TENANT_CONCURRENCY);
	assert_string_equal(counting_reason(COUNTING_TENANT_CONCURRENCY),
			    "ConcurrentInvocationLimitExceeded");
	/* Other tenants are not held back. */
	assert_int_equal(admit(f, 0, 1, 5, 4, &retry), COUNTING_ADMIT);
}

static void
test_rate_bucket_refills_at_the_rate(void **state)
{
	struct fixture *f = *state;
	struct function_config cfg = function_limits(0, 1000, 10);  /* 1000/s, burst 10 */
	uint64_t now = 5 * HZ;
	unsigned int admitted = 0, i;
	uint32_t retry = 0;

	counting_fn_limits_init(&f->limits[0], &cfg, NULL, 1);
	/* A full bucket: exactly the burst goes through at one instant. */
	for (i = 0; i < 20; i++)
		admitted += admit(f, 0, 0, 0, now, &retry) == COUNTING_ADMIT;
	assert_int_equal(admitted, 10);
	assert_int_equal(admit(f, 0, 0, 0, now, &retry), COUNTING_FN_RATE);
	assert_int_equal(retry, 1);  /* one token every millisecond */
	assert_string_equal(counting_reason(COUNTING_FN_RATE),
			    "ReservedFunctionInvocationRateLimitExceeded");
	/* Over the next second, at one try per 100 us, the rate and no more gets through. */
	admitted = 0;
	for (i = 1; i <= 10000; i++)
		admitted += admit(f, 0, 0, 0, now + i * (HZ / 10000), &retry) ==
			    COUNTING_ADMIT;
	assert_in_range(admitted, 999, 1001);
	/* Idle for an hour: full again, but never more than the burst. */
	admitted = 0;
	for (i = 0; i < 50; i++)
		admitted += admit(f, 0, 0, 0, now + 3600 * HZ, &retry) ==
			    COUNTING_ADMIT;
	assert_int_equal(admitted, 10);
}

static void
test_tenant_rate_and_order_of_checks(void **state)
{
	struct fixture *f = *state;
	struct tenant_config t = { .name = "acme", .rate = 2, .burst = 2 };
	struct function_config cfg = function_limits(0, 1, 1);
	uint32_t retry;

	counting_set_tenant(&f->d[0], 7, &t, 0, 1);
	assert_int_equal(admit(f, 0, 1, 7, HZ, &retry), COUNTING_ADMIT);
	assert_int_equal(admit(f, 0, 1, 7, HZ, &retry), COUNTING_ADMIT);
	assert_int_equal(admit(f, 0, 1, 7, HZ, &retry), COUNTING_TENANT_RATE);
	assert_string_equal(counting_reason(COUNTING_TENANT_RATE), "CallerRateLimitExceeded");
	/* The function's own limit is checked first; a refusal takes no token from the tenant. */
	counting_fn_limits_init(&f->limits[0], &cfg, NULL, 1);
	assert_int_equal(admit(f, 0, 0, 8, 2 * HZ, &retry), COUNTING_ADMIT);
	assert_int_equal(admit(f, 0, 0, 7, 2 * HZ, &retry), COUNTING_FN_RATE);
	assert_int_equal(admit(f, 0, 1, 7, 2 * HZ, &retry), COUNTING_ADMIT);
}

static void
test_tenants_allowed(void **state)
{
	struct fixture *f = *state;
	struct function_config none = function_limits(0, 0, 0);
	bool allowed[COUNTING_MAX_TENANTS] = { false };
	uint32_t retry;

	allowed[2] = true;
	counting_fn_limits_init(&f->limits[0], &none, allowed, 2);
	assert_true(counting_allowed(&f->limits[0], 2));
	assert_false(counting_allowed(&f->limits[0], 3));
	assert_false(counting_allowed(&f->limits[0], COUNTING_OTHER_TENANT));
	assert_true(counting_allowed(&f->limits[1], 3));
	assert_int_equal(admit(f, 0, 0, 3, 1, &retry), COUNTING_DENIED);
	assert_null(counting_reason(COUNTING_DENIED));
	assert_int_equal(counting_fn_in_flight(&f->view[0], 0), 0);
	counting_fn_limits_init(&f->limits[0], &none, NULL, 2);
	assert_true(counting_allowed(&f->limits[0], COUNTING_OTHER_TENANT));
}

static void
test_two_dispatchers_never_exceed_the_limit(void **state)
{
	struct fixture *f = *state;
	struct function_config cfg = function_limits(5, 0, 0);
	unsigned int admitted = 0, i, d;
	uint32_t retry;

	counting_fn_limits_init(&f->limits[0], &cfg, NULL, 2);
	for (i = 0; i < 20; i++)
		for (d = 0; d < 2; d++)
			admitted += admit(f, d, 0, 0, i, &retry) == COUNTING_ADMIT;
	assert_int_equal(admitted, 5);
	/* A limit of 1 over two dispatchers: one gets it, the other refuses everything. */
	cfg = function_limits(1, 0, 0);
	counting_fn_limits_init(&f->limits[1], &cfg, NULL, 2);
	assert_int_equal(admit(f, 1, 1, 0, 1, &retry), COUNTING_FN_CONCURRENCY);
	assert_int_equal(admit(f, 0, 1, 0, 1, &retry), COUNTING_ADMIT);
	assert_int_equal(admit(f, 0, 1, 0, 1, &retry), COUNTING_FN_CONCURRENCY);
}

static void
test_cancel_gives_back(void **state)
{
	struct fixture *f = *state;
	struct function_config cfg = function_limits(1, 1, 1);
	uint32_t retry;

	counting_fn_limits_init(&f->limits[0], &cfg, NULL, 1);
	assert_int_equal(admit(f, 0, 0, 0, HZ, &retry), COUNTING_ADMIT);
	counting_cancel(&f->view[0], 0, &f->limits[0], 0, COUNTING_CHECK_ALL);
	assert_int_equal(counting_fn_in_flight(&f->view[0], 0), 0);
	assert_int_equal(admit(f, 0, 0, 0, HZ, &retry), COUNTING_ADMIT);
}

/* A queued Event's run took no token (its Event paid the rate when accepted): none goes back. */
static void
test_cancelled_run_gives_back_no_token(void **state)
{
	struct fixture *f = *state;
	struct function_config cfg = function_limits(2, 1, 1);
	uint32_t retry;

	counting_fn_limits_init(&f->limits[0], &cfg, NULL, 1);
	/* The bucket's one token goes to a call; then a run is admitted and finds every queue full. */
	assert_int_equal(admit(f, 0, 0, 0, HZ, &retry), COUNTING_ADMIT);
	assert_int_equal(counting_admit_only(&f->view[0], 0, &f->limits[0], 0, HZ, &retry,
					     COUNTING_CHECK_CONCURRENCY), COUNTING_ADMIT);
	counting_cancel(&f->view[0], 0, &f->limits[0], 0, COUNTING_CHECK_CONCURRENCY);
	assert_int_equal(counting_fn_in_flight(&f->view[0], 0), 1);
	/* Still no token at the same instant: the rate refuses. */
	assert_int_equal(admit(f, 0, 0, 0, HZ, &retry), COUNTING_FN_RATE);
}

static void
test_limit_changes_apply_at_once(void **state)
{
	struct fixture *f = *state;
	struct function_config cfg = function_limits(1, 0, 0);
	uint32_t retry;

	counting_fn_limits_init(&f->limits[0], &cfg, NULL, 1);
	assert_int_equal(admit(f, 0, 0, 0, 1, &retry), COUNTING_ADMIT);
	assert_int_equal(admit(f, 0, 0, 0, 1, &retry), COUNTING_FN_CONCURRENCY);
	cfg.reserved_concurrency = 2;
	counting_fn_limits_init(&f->limits[0], &cfg, NULL, 1);
	assert_int_equal(admit(f, 0, 0, 0, 1, &retry), COUNTING_ADMIT);
	cfg.reserved_concurrency = 0;  /* no longer reserved: no limit */
	counting_fn_limits_init(&f->limits[0], &cfg, NULL, 1);
	assert_int_equal(admit(f, 0, 0, 0, 1, &retry), COUNTING_ADMIT);
}

static void
test_limits_split_into_one_snapshot(void **state)
{
	struct function_config cfg = function_limits(5, 10, 0);
	bool allowed[COUNTING_MAX_TENANTS] = { false };
	struct counting_fn_limits fl;
	static const uint32_t concurrency[3] = { 2, 2, 1 };
	static const uint64_t rate[3] = { 4, 3, 3 };
	unsigned int d;

	(void)state;
	allowed[70] = true;
	counting_fn_limits_init(&fl, &cfg, allowed, 3);
	for (d = 0; d < 3; d++) {
		assert_true(fl.share[d].has_concurrency);
		assert_true(fl.share[d].has_rate);
		assert_int_equal(fl.share[d].concurrency, concurrency[d]);
		assert_int_equal(fl.share[d].rate, rate[d]);
		assert_int_equal(fl.share[d].burst, rate[d]);  /* no burst given: the rate */
	}
	assert_true(counting_allowed(&fl, 70));
	assert_false(counting_allowed(&fl, 6));
	assert_false(counting_allowed(&fl, COUNTING_OTHER_TENANT));
}

static void
test_each_call_under_the_limits_it_was_given(void **state)
{
	struct fixture *f = *state;
	struct function_config cfg = function_limits(1, 0, 0);
	struct counting_fn_limits before;
	uint32_t retry;

	/* A change builds new limits; one admission still holding the old ones applies them whole. */
	counting_fn_limits_init(&before, &cfg, NULL, 2);
	cfg = function_limits(3, 0, 0);
	counting_fn_limits_init(&f->limits[0], &cfg, NULL, 2);
	assert_int_equal(counting_admit(&f->view[0], 0, &before, 0, 1, &retry), COUNTING_ADMIT);
	assert_int_equal(counting_admit(&f->view[0], 0, &before, 0, 1, &retry),
			 COUNTING_FN_CONCURRENCY);
	assert_int_equal(admit(f, 0, 0, 0, 1, &retry), COUNTING_ADMIT);
	assert_int_equal(admit(f, 0, 0, 0, 1, &retry), COUNTING_FN_CONCURRENCY);  /* 3 over 2: 2 */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_share_splits_exactly),
		cmocka_unit_test_setup_teardown(test_no_limits_admit_everything, fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_unlimited_still_counted, fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_reserved_concurrency_holds_and_frees, fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_event_pays_rate_once_and_runs_count_concurrency,
						fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_finished_elsewhere_does_not_free, fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_tenant_concurrency_spans_functions, fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_rate_bucket_refills_at_the_rate, fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_tenant_rate_and_order_of_checks, fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_tenants_allowed, fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_two_dispatchers_never_exceed_the_limit, fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_cancel_gives_back, fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_cancelled_run_gives_back_no_token, fixture_setup,
						fixture_teardown),
		cmocka_unit_test_setup_teardown(test_limit_changes_apply_at_once, fixture_setup, fixture_teardown),
		cmocka_unit_test(test_limits_split_into_one_snapshot),
		cmocka_unit_test_setup_teardown(test_each_call_under_the_limits_it_was_given, fixture_setup,
						fixture_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
