/* Latency histogram: log-linear buckets with HdrHistogram's layout and percentile semantics. */
#ifndef TURBINE_HIST_H
#define TURBINE_HIST_H

#include <stdint.h>

/*
 * Values are nanoseconds. Each power-of-two range is split into 128 linear
 * sub-buckets (256 in the first range), so a recorded value is known to
 * within 1/128 (0.78%) of itself: inside the 1% the reports promise, from
 * 1 ns to HIST_HIGHEST (68.7 s, past the 60 s required). Below 256 ns values
 * are exact. This is HdrHistogram with unit magnitude 0 and 2 significant
 * digits; Debian ships no C HdrHistogram, and this much of it is small.
 */
#define HIST_SUB_HALF_BITS 7
#define HIST_SUB_HALF      (1u << HIST_SUB_HALF_BITS)            /* 128 */
#define HIST_SUB_COUNT     (2u * HIST_SUB_HALF)                  /* 256 */
#define HIST_BUCKETS       29u
#define HIST_COUNTS        ((HIST_BUCKETS + 1) * HIST_SUB_HALF)  /* 3840 */
#define HIST_HIGHEST       ((uint64_t)HIST_SUB_COUNT << (HIST_BUCKETS - 1)) /* exclusive */
#define HIST_MAX_RELATIVE_ERROR (1.0 / HIST_SUB_HALF)

struct hist {
	uint64_t total;
	uint64_t min;        /* exact, UINT64_MAX when empty */
	uint64_t max;        /* exact */
	uint64_t saturated;  /* values at or above HIST_HIGHEST, recorded as HIST_HIGHEST - 1 */
	uint64_t sum;        /* for an exact mean; in integers, as recording stays on the call's
				way (2^64 ns: 584 years of recorded time) */
	uint64_t counts[HIST_COUNTS];
};

/* What the reports print: HdrHistogram percentiles, exact min, max and mean. */
struct hist_summary {
	uint64_t count;
	uint64_t min, max;
	double mean;
	uint64_t p50, p90, p99, p999, p9999;
};

void hist_reset(struct hist *h);
void hist_merge(struct hist *dst, const struct hist *src);

/*
 * TSC cycles to nanoseconds for what is recorded, in integers: one
 * 64x64->128-bit multiply by 10^9 * 2^32 / tsc_hz and a shift, exact to
 * about 2^-31 relative for any span, without the double conversions that
 * cost a recording on a call's way as much as the recording itself.
 */
static inline uint64_t
hist_ns_per_tsc_q32(uint64_t tsc_hz)
{
	/* 10^9 << 32 fits in 64 bits; a TSC under 1 GHz only makes the factor larger. */
	return (UINT64_C(1000000000) << 32) / tsc_hz;
}

static inline uint64_t
hist_tsc_to_ns(uint64_t cycles, uint64_t ns_per_tsc_q32)
{
	return (uint64_t)(((unsigned __int128)cycles * ns_per_tsc_q32) >> 32);
}

/* Index of the counter a value falls in. */
static inline unsigned int
hist_index(uint64_t v)
{
	/*
	 * Bucket b holds [128 << b, 256 << b) at a resolution of 1 << b; bucket 0 holds [0, 256).
	 * From the top bit's position (63 ^ clz is one bsr): b = top - 7, and the index
	 * ((b + 1) << 7) + (v >> b) - 128 is (top << 7) + (v >> b) - 896.
	 */
	unsigned int top = 63 ^ (unsigned int)__builtin_clzll(v | (HIST_SUB_COUNT - 1));
	unsigned int bucket = top - HIST_SUB_HALF_BITS;

	return (top << HIST_SUB_HALF_BITS) + (unsigned int)(v >> bucket) -
	       (HIST_SUB_HALF_BITS * HIST_SUB_HALF);
}

static inline void
hist_record(struct hist *h, uint64_t v)
{
	if (v >= HIST_HIGHEST) {
		h->saturated++;
		v = HIST_HIGHEST - 1;
	}
	h->counts[hist_index(v)]++;
	h->total++;
	h->sum += v;
	if (v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
}

/* Smallest and largest value that fall in the same counter as index i. */
uint64_t hist_lowest_at(unsigned int i);
uint64_t hist_highest_at(unsigned int i);

/*
 * The value at percentile p (0..100), as HdrHistogram reports it: the
 * highest value equivalent to the sample of rank round(p/100 * total), at
 * least 1; clamped to the exact max. 0 when empty.
 */
uint64_t hist_percentile(const struct hist *h, double p);

void hist_summarize(const struct hist *h, struct hist_summary *s);

#endif /* TURBINE_HIST_H */
