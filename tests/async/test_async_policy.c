/* Unit tests for the asynchronous retry rules and the idempotency keys' dedupe table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "async_policy.h"

static const struct async_retry_config defaults = {
	.max_retry_attempts = 2, .retry_delay_ms = 60000, .max_event_age_s = 21600,
};

static void
assert_retry(struct async_decision d, uint64_t delay_ms)
{
	assert_int_equal(d.verdict, ASYNC_RETRY);
	assert_int_equal(d.delay_ms, delay_ms);
}

static void
assert_failed(struct async_decision d, enum async_condition c)
{
	assert_int_equal(d.verdict, ASYNC_FAILED);
	assert_int_equal(d.condition, c);
}

static void
test_function_errors_retry_doubling(void **state)
{
	(void)state;
	/* Lambda's defaults: 1 min, then 2 min, then the failure destination. */
	assert_retry(async_decide(&defaults, ASYNC_RESULT_FUNCTION_ERROR, 1, 0, 0), 60000);
	assert_retry(async_decide(&defaults, ASYNC_RESULT_FUNCTION_ERROR, 2, 0, 60000), 120000);
	assert_failed(async_decide(&defaults, ASYNC_RESULT_FUNCTION_ERROR, 3, 0, 180000),
		      ASYNC_RETRIES_EXHAUSTED);
}

static void
test_no_retries_fails_at_once(void **state)
{
	struct async_retry_config cfg = defaults;

	(void)state;
	cfg.max_retry_attempts = 0;
	assert_failed(async_decide(&cfg, ASYNC_RESULT_FUNCTION_ERROR, 1, 0, 0),
		      ASYNC_RETRIES_EXHAUSTED);
}

static void
test_ten_retries(void **state)
{
	struct async_retry_config cfg = { .max_retry_attempts = 10, .retry_delay_ms = 100,
					  .max_event_age_s = 21600 };

	(void)state;
	assert_retry(async_decide(&cfg, ASYNC_RESULT_FUNCTION_ERROR, 10, 0, 0), 100u << 9);
	assert_failed(async_decide(&cfg, ASYNC_RESULT_FUNCTION_ERROR, 11, 0, 0),
		      ASYNC_RETRIES_EXHAUSTED);
}

static void
test_throttles_back_off_to_five_minutes(void **state)
{
	static const uint64_t expect[] = { 1000, 2000, 4000, 8000, 16000, 32000, 64000, 128000,
					   256000, 300000, 300000 };
	unsigned int i;

	(void)state;
	for (i = 0; i < sizeof(expect) / sizeof(expect[0]); i++)
		assert_retry(async_decide(&defaults, ASYNC_RESULT_THROTTLED, 0, i + 1, 0), expect[i]);
	assert_retry(async_decide(&defaults, ASYNC_RESULT_THROTTLED, 0, 1000, 0), 300000);
	assert_retry(async_decide(&defaults, ASYNC_RESULT_THROTTLED, 0, UINT32_MAX, 0), 300000);
}

static void
test_throttles_are_not_attempts(void **state)
{
	(void)state;
	/* Both calls allowed have run and failed: throttles still retry, until the age runs out. */
	assert_retry(async_decide(&defaults, ASYNC_RESULT_THROTTLED, 2, 1, 0), 1000);
	assert_retry(async_decide(&defaults, ASYNC_RESULT_THROTTLED, 2, 30, 3600000), 300000);
	/* After a run of throttles the next function error is only the first retry. */
	assert_retry(async_decide(&defaults, ASYNC_RESULT_FUNCTION_ERROR, 1, 0, 3600000), 60000);
}

static void
test_event_age(void **state)
{
	struct async_retry_config cfg = defaults;

	(void)state;
	cfg.max_event_age_s = 60;
	assert_false(async_expired(&cfg, 60000));
	assert_true(async_expired(&cfg, 60001));

	/* A delay that ends exactly at the limit is allowed; one past it is not. */
	assert_retry(async_decide(&cfg, ASYNC_RESULT_THROTTLED, 0, 1, 59000), 1000);
	assert_failed(async_decide(&cfg, ASYNC_RESULT_THROTTLED, 0, 1, 59001),
		      ASYNC_EVENT_AGE_EXCEEDED);
	assert_failed(async_decide(&cfg, ASYNC_RESULT_FUNCTION_ERROR, 1, 0, 1),
		      ASYNC_EVENT_AGE_EXCEEDED);
	/* Already past it. */
	assert_failed(async_decide(&cfg, ASYNC_RESULT_THROTTLED, 0, 1, 60001),
		      ASYNC_EVENT_AGE_EXCEEDED);
	assert_failed(async_decide(&defaults, ASYNC_RESULT_THROTTLED, 0, 1, 21600001),
		      ASYNC_EVENT_AGE_EXCEEDED);
	/* Out of retries is said as such even when also old. */
	assert_failed(async_decide(&cfg, ASYNC_RESULT_FUNCTION_ERROR, 3, 0, 70000),
		      ASYNC_RETRIES_EXHAUSTED);
	/* A success is a success whatever the age. */
	assert_int_equal(async_decide(&cfg, ASYNC_RESULT_OK, 1, 0, 70000).verdict, ASYNC_FINISHED);
}

static void
test_refused_fails_at_once(void **state)
{
	(void)state;
	assert_failed(async_decide(&defaults, ASYNC_RESULT_REFUSED, 0, 0, 0), ASYNC_RETRIES_EXHAUSTED);
	assert_failed(async_decide(&defaults, ASYNC_RESULT_REFUSED, 1, 3, 1000),
		      ASYNC_RETRIES_EXHAUSTED);
	assert_int_equal(async_decide(&defaults, ASYNC_RESULT_OK, 1, 0, 0).verdict, ASYNC_FINISHED);
}

static struct async_event_id
make_id(uint32_t n)
{
	struct async_event_id id;

	memset(&id, 0xa5, sizeof(id));
	memcpy(id.b, &n, sizeof(n));
	return id;
}

static void
assert_found(struct async_dedupe *d, const char *tenant, const char *fn, const char *key,
	     uint8_t key_len, uint64_t now, uint32_t n)
{
	const struct async_event_id *got = async_dedupe_find(d, tenant, fn, (const uint8_t *)key,
							      key_len, now);
	struct async_event_id want = make_id(n);

	assert_non_null(got);
	assert_memory_equal(got, &want, sizeof(want));
}

static void
assert_absent(struct async_dedupe *d, const char *tenant, const char *fn, const char *key,
	      uint8_t key_len, uint64_t now)
{
	assert_null(async_dedupe_find(d, tenant, fn, (const uint8_t *)key, key_len, now));
}

static void
add(struct async_dedupe *d, const char *tenant, const char *fn, const char *key, uint8_t key_len,
    uint32_t n, uint64_t expires)
{
	struct async_event_id id = make_id(n);

	assert_int_equal(async_dedupe_add(d, tenant, fn, (const uint8_t *)key, key_len, &id, expires),
			 0);
}

static void
test_dedupe_window(void **state)
{
	struct async_dedupe *d = async_dedupe_create();

	(void)state;
	assert_absent(d, "t", "f", "k1", 2, 0);
	add(d, "t", "f", "k1", 2, 1, 1000);
	assert_found(d, "t", "f", "k1", 2, 0, 1);
	assert_found(d, "t", "f", "k1", 2, 999, 1);
	assert_absent(d, "t", "f", "k1", 2, 1000);
	assert_absent(d, "t", "f", "k1", 2, 5000);
	assert_absent(d, "t", "f", "k2", 2, 0);

	/* After its window the key may be accepted again, with the new event's id. */
	add(d, "t", "f", "k1", 2, 2, 3000);
	assert_int_equal(async_dedupe_count(d), 1);
	assert_found(d, "t", "f", "k1", 2, 2000, 2);
	async_dedupe_free(d);
}

static void
test_dedupe_keys_are_distinct(void **state)
{
	struct async_dedupe *d = async_dedupe_create();

	(void)state;
	add(d, "t1", "f1", "k", 1, 1, 1000);
	assert_absent(d, "t2", "f1", "k", 1, 0);
	assert_absent(d, "t1", "f2", "k", 1, 0);
	add(d, "t2", "f1", "k", 1, 2, 1000);
	add(d, "t1", "f2", "k", 1, 3, 1000);
	assert_found(d, "t1", "f1", "k", 1, 0, 1);
	assert_found(d, "t2", "f1", "k", 1, 0, 2);
	assert_found(d, "t1", "f2", "k", 1, 0, 3);

	/* The same bytes split differently between tenant and function. */
	add(d, "ab", "c", "k", 1, 4, 1000);
	assert_absent(d, "a", "bc", "k", 1, 0);
	add(d, "a", "bc", "k", 1, 5, 1000);
	assert_found(d, "ab", "c", "k", 1, 0, 4);
	assert_found(d, "a", "bc", "k", 1, 0, 5);

	/* Keys are bytes: a shorter key is another key, NUL bytes included. */
	add(d, "t", "f", "abcd", 4, 6, 1000);
	assert_absent(d, "t", "f", "abcd", 3, 0);
	add(d, "t", "f", "abcd", 3, 7, 1000);
	add(d, "t", "f", "x\0y", 3, 8, 1000);
	assert_absent(d, "t", "f", "x\0z", 3, 0);
	assert_absent(d, "t", "f", "x", 1, 0);
	assert_found(d, "t", "f", "abcd", 4, 0, 6);
	assert_found(d, "t", "f", "abcd", 3, 0, 7);
	assert_found(d, "t", "f", "x\0y", 3, 0, 8);
	assert_int_equal(async_dedupe_count(d), 8);
	async_dedupe_free(d);
}

static void
test_dedupe_expire_removes_only_ended(void **state)
{
	struct async_dedupe *d = async_dedupe_create();

	(void)state;
	add(d, "t", "f", "a", 1, 1, 100);
	add(d, "t", "f", "c", 1, 3, 300);
	add(d, "t", "f", "b", 1, 2, 200);
	assert_int_equal(async_dedupe_expire(d, 99), 0);
	assert_int_equal(async_dedupe_count(d), 3);
	assert_int_equal(async_dedupe_expire(d, 200), 2);
	assert_int_equal(async_dedupe_count(d), 1);
	/* b is gone for good, not merely out of its window. */
	assert_absent(d, "t", "f", "b", 1, 150);
	assert_found(d, "t", "f", "c", 1, 250, 3);
	assert_int_equal(async_dedupe_expire(d, 200), 0);

	/* A replaced entry moves in the expiry order both ways. */
	add(d, "t", "f", "d", 1, 4, 1000);
	add(d, "t", "f", "d", 1, 5, 250);    /* sooner */
	add(d, "t", "f", "c", 1, 6, 2000);   /* later */
	assert_int_equal(async_dedupe_expire(d, 260), 1);
	assert_absent(d, "t", "f", "d", 1, 0);
	assert_found(d, "t", "f", "c", 1, 1999, 6);
	assert_int_equal(async_dedupe_expire(d, 2000), 1);
	assert_int_equal(async_dedupe_count(d), 0);
	async_dedupe_free(d);
}

#define MANY 100000u

static void
test_dedupe_many(void **state)
{
	struct async_dedupe *d = async_dedupe_create();
	char key[32];
	uint32_t i, k;

	(void)state;
	/* Added in a shuffled order of expiry: entry k expires at 1000 + k. */
	for (i = 0; i < MANY; i++) {
		k = (uint32_t)(((uint64_t)i * 7919) % MANY);
		snprintf(key, sizeof(key), "key-%u", k);
		add(d, k % 2 ? "odd" : "even", "fn", key, (uint8_t)strlen(key), k, 1000 + k);
	}
	assert_int_equal(async_dedupe_count(d), MANY);
	for (k = 0; k < MANY; k++) {
		snprintf(key, sizeof(key), "key-%u", k);
		assert_found(d, k % 2 ? "odd" : "even", "fn", key, (uint8_t)strlen(key), 0, k);
		assert_absent(d, k % 2 ? "even" : "odd", "fn", key, (uint8_t)strlen(key), 0);
	}

	assert_int_equal(async_dedupe_expire(d, 1000 + MANY / 2 - 1), MANY / 2);
	assert_int_equal(async_dedupe_count(d), MANY / 2);
	assert_int_equal(async_dedupe_expire(d, 1000 + MANY / 2 - 1), 0);
	for (k = 0; k < MANY; k++) {
		snprintf(key, sizeof(key), "key-%u", k);
		if (k < MANY / 2)
			assert_absent(d, k % 2 ? "odd" : "even", "fn", key, (uint8_t)strlen(key), 0);
		else
			assert_found(d, k % 2 ? "odd" : "even", "fn", key, (uint8_t)strlen(key), 0, k);
	}
	/* The rest go one by one, in order. */
	for (k = MANY / 2; k < MANY; k += 1000)
		assert_int_equal(async_dedupe_expire(d, 1000 + k + 999), 1000);
	assert_int_equal(async_dedupe_count(d), 0);

	/* And the table still works once emptied, with entries left for free() to release. */
	add(d, "t", "f", "k", 1, 1, 10);
	add(d, "t", "f", "l", 1, 2, 20);
	assert_found(d, "t", "f", "l", 1, 15, 2);
	async_dedupe_free(d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_function_errors_retry_doubling),
		cmocka_unit_test(test_no_retries_fails_at_once),
		cmocka_unit_test(test_ten_retries),
		cmocka_unit_test(test_throttles_back_off_to_five_minutes),
		cmocka_unit_test(test_throttles_are_not_attempts),
		cmocka_unit_test(test_event_age),
		cmocka_unit_test(test_refused_fails_at_once),
		cmocka_unit_test(test_dedupe_window),
		cmocka_unit_test(test_dedupe_keys_are_distinct),
		cmocka_unit_test(test_dedupe_expire_removes_only_ended),
		cmocka_unit_test(test_dedupe_many),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
