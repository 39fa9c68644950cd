/* Reading the counters: one snapshot for the live status line, telemetry and the final report. */
#ifndef TURBINE_STATUS_H
#define TURBINE_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "counters.h"
#include "runtime.h"

/* A worker out of dispatch because its handler overran its deadline and has not returned. */
struct status_stuck {
	unsigned int worker;
	const char *function;     /* NULL: not inside a handler (its loop stopped) */
	uint64_t ms;              /* for how long */
};

struct status_snapshot {
	struct counters sum;      /* every lcore's counters added up */
	unsigned int mempool_in_use;
	unsigned int mempool_size;
	uint64_t queued;          /* Events in the asynchronous queue, not finished */
	uint64_t queued_waiting;  /* of which waiting for a retry */
	unsigned int nb_stuck;
	struct status_stuck stuck[RUNTIME_MAX_WORKERS];
};

void status_read(const struct runtime *rt, struct status_snapshot *s);

/* Is worker w stuck (RUNTIME_WORKER_STUCK)? If so, in what and since how long, in *st. */
bool status_worker_stuck(const struct runtime *rt, unsigned int w, struct status_stuck *st);

/* One line: rates since `prev`, `seconds` ago, totals, and the workers stuck now. */
void status_print_line(FILE *out, const struct status_snapshot *now,
		       const struct status_snapshot *prev, double seconds);

/* Every counter and the mempool's use as one JSON object on one line. */
void status_print_json(FILE *out, const struct status_snapshot *s);

#endif /* TURBINE_STATUS_H */
