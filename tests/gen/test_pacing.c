/* Unit tests of the send schedules: fixed rate exactly, Poisson by the moments of its inter-arrivals. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "pacing.h"

#define HZ 2600000000ull
#define START 1000000ull
#define DRAWS 200000

static void
test_rejects_nonsense(void **state)
{
	struct pacing p;

	(void)state;
	assert_int_equal(pacing_init(&p, PACING_FIXED, 0.0, HZ, START, 1), -EINVAL);
	assert_int_equal(pacing_init(&p, PACING_FIXED, -5.0, HZ, START, 1), -EINVAL);
	assert_int_equal(pacing_init(&p, PACING_POISSON, NAN, HZ, START, 1), -EINVAL);
	assert_int_equal(pacing_init(&p, PACING_POISSON, INFINITY, HZ, START, 1), -EINVAL);
	assert_int_equal(pacing_init(&p, PACING_FIXED, 10.0, 0, START, 1), -EINVAL);
}

/* Request k is due at start + floor(k * hz / rate): no drift, whatever the run's length. */
static void
check_fixed(double rate, uint64_t hz, uint64_t n)
{
	double period = (double)hz / rate;
	struct pacing p;
	uint64_t k, prev = 0;

	assert_int_equal(pacing_init(&p, PACING_FIXED, rate, hz, START, 1), 0);
	assert_int_equal(pacing_next(&p), START);
	for (k = 0; k < n; k++) {
		uint64_t want = START + (uint64_t)floor((double)k * period);
		uint64_t got = pacing_next(&p);

		/* Within a tick: the product is rounded once, never summed. */
		if (got + 1 < want || got > want + 1)
			fail_msg("request %llu due at %llu, expected %llu", (unsigned long long)k,
				 (unsigned long long)got, (unsigned long long)want);
		if (k > 0) {
			double gap = (double)(got - prev);

			assert_true(fabs(gap - period) <= 1.0);
		}
		prev = got;
		pacing_advance(&p);
	}
}

static void
test_fixed_integer_period(void **state)
{
	(void)state;
	check_fixed(1000.0, HZ, DRAWS);      /* 2.6e6 ticks */
}

static void
test_fixed_fractional_period(void **state)
{
	(void)state;
	check_fixed(3.0, 1000000000ull, DRAWS);   /* 333333333.33 ticks */
	check_fixed(7919.0, HZ, DRAWS);
}

static void
test_fixed_long_run(void **state)
{
	struct pacing p;
	uint64_t k, n = 10000000;

	(void)state;
	/* Ten million requests at 1 Mrps: the last one is due at exactly 10 s, to the tick. */
	assert_int_equal(pacing_init(&p, PACING_FIXED, 1e6, HZ, START, 1), 0);
	for (k = 0; k < n; k++)
		pacing_advance(&p);
	assert_int_equal(pacing_next(&p), START + 10 * HZ);
}

/* Exponential inter-arrivals: mean 1/rate, variance 1/rate^2, P(gap > mean) = 1/e. */
static void
check_poisson(double rate, uint64_t seed)
{
	double period = (double)HZ / rate;
	double sum = 0, sumsq = 0, mean, var;
	uint64_t k, above = 0, prev;
	struct pacing p;

	assert_int_equal(pacing_init(&p, PACING_POISSON, rate, HZ, START, seed), 0);
	prev = START;
	for (k = 0; k < DRAWS; k++) {
		double gap = (double)(pacing_next(&p) - prev);

		sum += gap;
		sumsq += gap * gap;
		if (gap > period)
			above++;
		prev = pacing_next(&p);
		pacing_advance(&p);
	}
	mean = sum / DRAWS;
	var = sumsq / DRAWS - mean * mean;
	/* Tolerances are about 4.5 standard errors of each estimate over 200k draws. */
	if (fabs(mean / period - 1.0) > 0.01)
		fail_msg("mean inter-arrival %.1f ticks, expected %.1f", mean, period);
	if (fabs(var / (period * period) - 1.0) > 0.03)
		fail_msg("variance %.4g, expected %.4g", var, period * period);
	if (fabs((double)above / DRAWS - exp(-1.0)) > 0.005)
		fail_msg("%.4f of gaps above the mean, expected %.4f", (double)above / DRAWS,
			 exp(-1.0));
	/* The schedule's own clock agrees with the count: DRAWS arrivals take DRAWS periods. */
	assert_true(fabs((double)(prev - START) / (DRAWS * period) - 1.0) < 0.01);
}

static void
test_poisson_moments(void **state)
{
	(void)state;
	check_poisson(100000.0, 42);
	check_poisson(2000.0, 1);
	check_poisson(1e7, 123456789);
}

static void
test_poisson_seeded(void **state)
{
	struct pacing a, b, c;
	unsigned int k, same = 0;

	(void)state;
	pacing_init(&a, PACING_POISSON, 5000.0, HZ, START, 99);
	pacing_init(&b, PACING_POISSON, 5000.0, HZ, START, 99);
	pacing_init(&c, PACING_POISSON, 5000.0, HZ, START, 100);
	/* No arrival at the very start: the first one waits an interval too. */
	assert_true(pacing_next(&a) > START);
	for (k = 0; k < 1000; k++) {
		assert_int_equal(pacing_next(&a), pacing_next(&b));
		same += pacing_next(&a) == pacing_next(&c);
		pacing_advance(&a);
		pacing_advance(&b);
		pacing_advance(&c);
	}
	assert_true(same < 10);
}

static void
test_skip_until(void **state)
{
	struct pacing p;

	(void)state;
	pacing_init(&p, PACING_FIXED, 1000.0, HZ, START, 1);
	/* Due at START + k * 2.6e6 for k = 0..9 lie before START + 2.6e7. */
	assert_int_equal(pacing_skip_until(&p, START + 26000000ull), 10);
	assert_int_equal(pacing_next(&p), START + 26000000ull);
	assert_int_equal(pacing_skip_until(&p, START), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rejects_nonsense),
		cmocka_unit_test(test_fixed_integer_period),
		cmocka_unit_test(test_fixed_fractional_period),
		cmocka_unit_test(test_fixed_long_run),
		cmocka_unit_test(test_poisson_moments),
		cmocka_unit_test(test_poisson_seeded),
		cmocka_unit_test(test_skip_until),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
