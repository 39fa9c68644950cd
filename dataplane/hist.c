/* Latency histogram: log-linear buckets with HdrHistogram's layout and percentile semantics. */
#include <string.h>

#include "hist.h"

void
hist_reset(struct hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
}

void
hist_merge(struct hist *dst, const struct hist *src)
{
	unsigned int i;

	if (src->total == 0)
		return;
	for (i = 0; i < HIST_COUNTS; i++)
		dst->counts[i] += src->counts[i];
	dst->total += src->total;
	dst->saturated += src->saturated;
	dst->sum += src->sum;
	if (src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
}

uint64_t
hist_lowest_at(unsigned int i)
{
	int bucket = (int)(i >> HIST_SUB_HALF_BITS) - 1;
	uint64_t sub = (i & (HIST_SUB_HALF - 1)) + HIST_SUB_HALF;

	/* The first 128 counters are the lower half of bucket 0. */
	if (bucket < 0) {
		sub -= HIST_SUB_HALF;
		bucket = 0;
	}
	return sub << bucket;
}

uint64_t
hist_highest_at(unsigned int i)
{
	int bucket = (int)(i >> HIST_SUB_HALF_BITS) - 1;

	if (bucket < 0)
		bucket = 0;
	return hist_lowest_at(i) + ((uint64_t)1 << bucket) - 1;
}

uint64_t
hist_percentile(const struct hist *h, double p)
{
	uint64_t rank, seen = 0;
	unsigned int i;

	if (h->total == 0)
		return 0;
	if (p > 100.0)
		p = 100.0;
	if (p < 0.0)
		p = 0.0;
	rank = (uint64_t)(p / 100.0 * (double)h->total + 0.5);
	if (rank < 1)
		rank = 1;
	for (i = 0; i < HIST_COUNTS; i++) {
		seen += h->counts[i];
		if (seen >= rank) {
			uint64_t v = hist_highest_at(i);

			return v < h->max ? v : h->max;
		}
	}
	return h->max;
}

void
hist_summarize(const struct hist *h, struct hist_summary *s)
{
	memset(s, 0, sizeof(*s));
	s->count = h->total;
	if (h->total == 0)
		return;
	s->min = h->min;
	s->max = h->max;
	s->mean = h->sum / (double)h->total;
	s->p50 = hist_percentile(h, 50.0);
	s->p90 = hist_percentile(h, 90.0);
	s->p99 = hist_percentile(h, 99.0);
	s->p999 = hist_percentile(h, 99.9);
	s->p9999 = hist_percentile(h, 99.99);
}
