/* Reading the counters: one snapshot for the live status line, telemetry and the final report. */
#ifndef TURBINE_STATUS_H
#define TURBINE_STATUS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "counters.h"
#include "runtime.h"

struct status_snapshot {
	struct counters sum;      /* every lcore's counters added up */
	unsigned int mempool_in_use;
	unsigned int mempool_size;
};

void status_read(const struct runtime *rt, struct status_snapshot *s);

/* One line: rates since `prev`, `seconds` ago, and totals. */
void status_print_line(FILE *out, const struct status_snapshot *now,
		       const struct status_snapshot *prev, double seconds);

/* Every counter and the mempool's use as one JSON object on one line. */
void status_print_json(FILE *out, const struct status_snapshot *s);

#endif /* TURBINE_STATUS_H */
