/* Open-loop send schedules: fixed-rate and Poisson (exponential inter-arrival) in TSC ticks. */
#include <errno.h>
#include <math.h>

#include "pacing.h"

int
pacing_init(struct pacing *p, enum pacing_kind kind, double rate, uint64_t tsc_hz,
	    uint64_t start, uint64_t seed)
{
	if (!(rate > 0.0) || !isfinite(rate) || tsc_hz == 0 ||
	    (kind != PACING_FIXED && kind != PACING_POISSON))
		return -EINVAL;
	p->kind = kind;
	p->period = (double)tsc_hz / rate;
	p->start = start;
	p->count = 0;
	p->offset = 0.0;
	p->next = start;
	rng_seed(&p->rng, seed);
	/* A Poisson process has no request at time 0: the first one waits an interval too. */
	if (kind == PACING_POISSON)
		pacing_advance(p);
	return 0;
}

void
pacing_advance(struct pacing *p)
{
	p->count++;
	/*
	 * Fixed: count * period from the start rather than a running sum, so
	 * rounding never accumulates over a long run.
	 */
	if (p->kind == PACING_FIXED)
		p->offset = (double)p->count * p->period;
	else
		p->offset += -log(rng_uniform_open0(&p->rng)) * p->period;
	p->next = p->start + (uint64_t)p->offset;
}

uint64_t
pacing_skip_until(struct pacing *p, uint64_t until)
{
	uint64_t n = 0;

	while (p->next < until) {
		pacing_advance(p);
		n++;
	}
	return n;
}
