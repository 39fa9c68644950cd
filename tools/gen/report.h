/* What a run adds up to: totals over the mix, warnings, the live line and the final table. */
#ifndef GEN_REPORT_H
#define GEN_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "gen.h"

#define REPORT_MAX_WARNINGS 16
#define REPORT_WARNING_LEN 256

/* One live line's worth: the second that just ended. */
struct report_second {
	uint32_t t;                 /* seconds since the start of the warm-up */
	enum gen_phase phase;
	uint64_t sent;              /* requests sent in that second */
	uint64_t answered;          /* first replies received in it */
	uint64_t in_flight;
	uint64_t late_sends;
	bool has_latency;
	uint64_t count, p50, p99, max; /* corrected latency of the replies of that second, ns */
};

struct report_totals {
	double duration_s;          /* the measured window */
	double offered_rps;
	double sent_rps;
	double achieved_rps;
	bool rate_met;
	uint64_t sent, received, lost, duplicates, late, fn_errors;
	uint64_t by_status[MATCH_STATUS_SLOTS];
	struct hist corrected;
	struct hist uncorrected;
	unsigned int nb_warnings;
	char warnings[REPORT_MAX_WARNINGS][REPORT_WARNING_LEN];
};

/* Live seconds recorded by the reporter thread, for the JSON timeline. */
struct report_timeline {
	unsigned int nb;
	unsigned int cap;
	struct report_second *seconds;
};

/* Sum the lcores' counts after the run; NULL when out of memory. Free with free(). */
struct report_totals *report_totals(const struct gen *g);
const struct report_timeline *report_timeline(void);
const char *report_phase_name(enum gen_phase p);
/* The final table, for people. */
void report_print(const struct gen *g, const struct report_totals *t, FILE *out);

/* results.c: the --json document */
int results_write(const struct gen *g, const struct report_totals *t, const char *path,
		  char *err, size_t errlen);

#endif /* GEN_REPORT_H */
