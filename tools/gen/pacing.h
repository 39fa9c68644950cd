/* Open-loop send schedules: fixed-rate and Poisson (exponential inter-arrival) in TSC ticks. */
#ifndef GEN_PACING_H
#define GEN_PACING_H

#include <stdbool.h>
#include <stdint.h>

#include "rng.h"

enum pacing_kind {
	PACING_FIXED = 0,
	PACING_POISSON,
};

/*
 * The schedule is a sequence of intended send times, independent of when
 * requests actually go out: a sender that falls behind does not move it,
 * which is what lets latency be measured from the intended time.
 */
struct pacing {
	enum pacing_kind kind;
	double period;       /* mean ticks between two requests */
	uint64_t start;      /* TSC of request 0 */
	uint64_t count;      /* intervals drawn so far */
	double offset;       /* ticks from start to the next request */
	uint64_t next;       /* start + offset, rounded down */
	struct rng rng;
};

/* rate in requests per second (> 0), tsc_hz > 0. Returns 0 or -EINVAL. */
int pacing_init(struct pacing *p, enum pacing_kind kind, double rate, uint64_t tsc_hz,
		uint64_t start, uint64_t seed);

/* TSC at which the next request is meant to go. */
static inline uint64_t
pacing_next(const struct pacing *p)
{
	return p->next;
}

/* Move on to the request after it. */
void pacing_advance(struct pacing *p);

/* Advance past every request meant before `until`; returns how many were skipped. */
uint64_t pacing_skip_until(struct pacing *p, uint64_t until);

#endif /* GEN_PACING_H */
