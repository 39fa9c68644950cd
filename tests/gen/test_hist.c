/* Unit tests of the latency histogram: buckets, and percentiles against exact ones from the raw samples. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hist.h"
#include "rng.h"

#define LOW_NS 100ull
#define HIGH_NS 60000000000ull   /* 60 s */
#define SAMPLES 200000

static const double percentiles[] = {
	0.001, 0.1, 1, 10, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 99.99, 99.999, 100,
};

static struct hist h;
static uint64_t samples[SAMPLES];

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The sample of rank round(p/100 * n), at least 1: the definition percentiles are reported by. */
static uint64_t
exact_percentile(const uint64_t *sorted, size_t n, double p)
{
	uint64_t rank = (uint64_t)(p / 100.0 * (double)n + 0.5);

	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return sorted[rank - 1];
}

/* Log-uniform over [lo, hi]: every decade as likely as the next, as latencies spread. */
static uint64_t
log_uniform(struct rng *r, double lo, double hi)
{
	return (uint64_t)exp(log(lo) + rng_uniform_open0(r) * (log(hi) - log(lo)));
}

/* Record, sort, and hold every percentile to within 1% above the exact one (never below it). */
static void
check_against_exact(uint64_t *v, size_t n)
{
	double sum = 0;
	unsigned int i;
	size_t k;

	hist_reset(&h);
	for (k = 0; k < n; k++) {
		hist_record(&h, v[k]);
		sum += (double)v[k];
	}
	qsort(v, n, sizeof(v[0]), cmp_u64);
	for (i = 0; i < sizeof(percentiles) / sizeof(percentiles[0]); i++) {
		uint64_t exact = exact_percentile(v, n, percentiles[i]);
		uint64_t got = hist_percentile(&h, percentiles[i]);

		if (got < exact || (double)(got - exact) > 0.01 * (double)exact)
			fail_msg("p%g: histogram %llu, exact %llu (%.4f%% off)", percentiles[i],
				 (unsigned long long)got, (unsigned long long)exact,
				 100.0 * ((double)got - (double)exact) / (double)exact);
	}
	assert_int_equal(h.total, n);
	assert_int_equal(h.min, v[0]);
	assert_int_equal(h.max, v[n - 1]);
	assert_true(fabs(h.sum / (double)n - sum / (double)n) <= 1e-9 * (sum / (double)n));
	assert_int_equal(h.saturated, 0);
}

static void
test_buckets(void **state)
{
	uint64_t v;
	unsigned int i;

	(void)state;
	/* Below 256 every value has a counter of its own. */
	for (v = 0; v < 256; v++) {
		assert_int_equal(hist_lowest_at(hist_index(v)), v);
		assert_int_equal(hist_highest_at(hist_index(v)), v);
	}
	/* Above, a counter spans at most 1/128 of its lowest value, and holds v. */
	for (v = 256; v < HIGH_NS; v = v + v / 61 + 1) {
		unsigned int idx = hist_index(v);
		uint64_t lo = hist_lowest_at(idx), hi = hist_highest_at(idx);

		assert_true(idx < HIST_COUNTS);
		assert_true(lo <= v && v <= hi);
		assert_true((double)(hi - lo + 1) <= (double)lo / 128.0);
	}
	/* Counters tile the range: each starts right after the one before. */
	for (i = 1; i < HIST_COUNTS; i++)
		assert_int_equal(hist_lowest_at(i), hist_highest_at(i - 1) + 1);
	assert_true(hist_highest_at(HIST_COUNTS - 1) >= HIGH_NS);
	assert_int_equal(hist_index(HIST_HIGHEST - 1), HIST_COUNTS - 1);
}

static void
test_log_uniform_100ns_to_60s(void **state)
{
	struct rng r;
	size_t k;

	(void)state;
	rng_seed(&r, 7);
	for (k = 0; k < SAMPLES; k++)
		samples[k] = log_uniform(&r, (double)LOW_NS, (double)HIGH_NS);
	samples[0] = LOW_NS;
	samples[1] = HIGH_NS;
	check_against_exact(samples, SAMPLES);
	assert_int_equal(h.min, LOW_NS);
	assert_int_equal(h.max, HIGH_NS);
}

/* A narrow band in each decade: where a coarse bucket would show first. */
static void
test_each_decade(void **state)
{
	double lo;
	struct rng r;
	size_t k;

	(void)state;
	rng_seed(&r, 11);
	for (lo = (double)LOW_NS; lo < (double)HIGH_NS; lo *= 10) {
		for (k = 0; k < 20000; k++)
			samples[k] = log_uniform(&r, lo, lo * 1.05);
		check_against_exact(samples, 20000);
	}
}

/* 99.5% short and 0.5% long requests, the bimodal benchmark's shape. */
static void
test_bimodal(void **state)
{
	struct rng r;
	size_t k;

	(void)state;
	rng_seed(&r, 3);
	for (k = 0; k < SAMPLES; k++) {
		bool slow = rng_next(&r) % 1000 < 5;

		samples[k] = slow ? log_uniform(&r, 100e3, 150e3) : log_uniform(&r, 2e3, 4e3);
	}
	check_against_exact(samples, SAMPLES);
	assert_true(hist_percentile(&h, 99.0) < 4100);
	assert_true(hist_percentile(&h, 99.9) > 99000);
}

static void
test_small_counts(void **state)
{
	uint64_t v[] = { 5000, 100 };

	(void)state;
	/* With two values, p50 is the first one and p50.1 onward the second. */
	check_against_exact(v, 2);
	assert_int_equal(hist_percentile(&h, 50.0), 100);
	assert_int_equal(hist_percentile(&h, 100.0), 5000);
	assert_int_equal(hist_percentile(&h, 0.0), 100);
}

static void
test_empty_and_saturated(void **state)
{
	struct hist_summary s;

	(void)state;
	hist_reset(&h);
	assert_int_equal(hist_percentile(&h, 99.0), 0);
	hist_summarize(&h, &s);
	assert_int_equal(s.count, 0);

	hist_record(&h, HIST_HIGHEST + 12345);
	hist_record(&h, 1000);
	assert_int_equal(h.saturated, 1);
	assert_int_equal(h.max, HIST_HIGHEST - 1);
	assert_int_equal(hist_percentile(&h, 100.0), HIST_HIGHEST - 1);
}

static void
test_merge(void **state)
{
	static struct hist a, b, all;
	struct hist_summary sa, sall;
	struct rng r;
	size_t k;

	(void)state;
	hist_reset(&a);
	hist_reset(&b);
	hist_reset(&all);
	rng_seed(&r, 5);
	for (k = 0; k < 50000; k++) {
		uint64_t v = log_uniform(&r, 1e3, 1e7);

		hist_record(k % 3 ? &a : &b, v);
		hist_record(&all, v);
	}
	hist_merge(&a, &b);
	assert_memory_equal(a.counts, all.counts, sizeof(a.counts));
	hist_summarize(&a, &sa);
	hist_summarize(&all, &sall);
	assert_int_equal(sa.count, sall.count);
	assert_int_equal(sa.min, sall.min);
	assert_int_equal(sa.max, sall.max);
	assert_int_equal(sa.p99, sall.p99);
	assert_int_equal(sa.p9999, sall.p9999);
}

static void
test_summary_order(void **state)
{
	struct hist_summary s;
	struct rng r;
	size_t k;

	(void)state;
	hist_reset(&h);
	rng_seed(&r, 9);
	for (k = 0; k < SAMPLES; k++)
		hist_record(&h, log_uniform(&r, 1e3, 1e9));
	hist_summarize(&h, &s);
	assert_true(s.min <= s.p50 && s.p50 <= s.p90 && s.p90 <= s.p99 && s.p99 <= s.p999 &&
		    s.p999 <= s.p9999 && s.p9999 <= s.max);
	assert_true(s.mean > (double)s.min && s.mean < (double)s.max);
}

/* The sum behind the mean is exact where a double's would not be (past 2^53). */
static void
test_sum_exact(void **state)
{
	uint64_t want = 0;
	size_t k;

	(void)state;
	hist_reset(&h);
	for (k = 0; k < 200001; k++) {
		hist_record(&h, HIST_HIGHEST - 1);
		want += HIST_HIGHEST - 1;
	}
	assert_true(want > (UINT64_C(1) << 53));
	assert_true(h.sum == want);
}

/* TSC cycles to ns in integers, against the exact figure, from 1 cycle to a day, 1 MHz to 5 GHz. */
static void
test_tsc_to_ns(void **state)
{
	static const uint64_t rates[] = {
		1000000, 1000000000, 2095078000, 2400000000, 3699999999, 5000000000,
	};
	static const uint64_t spans_s[] = { 0, 1, 60, 86400 };
	unsigned int i, j;

	(void)state;
	for (i = 0; i < sizeof(rates) / sizeof(rates[0]); i++) {
		uint64_t q32 = hist_ns_per_tsc_q32(rates[i]);

		for (j = 0; j < sizeof(spans_s) / sizeof(spans_s[0]); j++) {
			uint64_t cycles[] = { 1, 333, spans_s[j] * rates[i] + 12345 };
			unsigned int k;

			for (k = 0; k < 3; k++) {
				long double exact = (long double)cycles[k] * 1e9L / (long double)rates[i];
				uint64_t got = hist_tsc_to_ns(cycles[k], q32);

				/* Truncated, never above; at most a nanosecond and 2^-31 below. */
				if ((long double)got > exact + 1e-6L ||
				    (long double)got < exact * (1 - 0x1p-31L) - 1)
					fail_msg("%llu cycles at %llu Hz: %llu ns, exact %.3Lf",
						 (unsigned long long)cycles[k],
						 (unsigned long long)rates[i], (unsigned long long)got,
						 exact);
			}
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buckets),
		cmocka_unit_test(test_log_uniform_100ns_to_60s),
		cmocka_unit_test(test_each_decade),
		cmocka_unit_test(test_bimodal),
		cmocka_unit_test(test_small_counts),
		cmocka_unit_test(test_empty_and_saturated),
		cmocka_unit_test(test_merge),
		cmocka_unit_test(test_summary_order),
		cmocka_unit_test(test_sum_exact),
		cmocka_unit_test(test_tsc_to_ns),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
