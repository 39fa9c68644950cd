/* Data-plane counters: the name table, the per-lcore copies and their sum. */
#include <string.h>

#include "counters.h"

const char *const counter_names[COUNTER_MAX] = {
#define COUNTER_NAME(name) [COUNTER_##name] = #name,
	COUNTERS_LIST(COUNTER_NAME)
#undef COUNTER_NAME
};

struct counters counters_lcore[RTE_MAX_LCORE];

enum counter_id
counters_for_status(unsigned int status)
{
	switch (status) {
	case 200: return COUNTER_status_200;
	case 202: return COUNTER_status_202;
	case 204: return COUNTER_status_204;
	case 400: return COUNTER_status_400;
	case 403: return COUNTER_status_403;
	case 404: return COUNTER_status_404;
	case 413: return COUNTER_status_413;
	case 429: return COUNTER_status_429;
	case 500: return COUNTER_status_500;
	case 502: return COUNTER_status_502;
	case 503: return COUNTER_status_503;
	default: return COUNTER_MAX;
	}
}

void
counters_sum(struct counters *sum)
{
	unsigned int lcore, i;

	memset(sum, 0, sizeof(*sum));
	for (lcore = 0; lcore < RTE_MAX_LCORE; lcore++) {
		const volatile uint64_t *v = counters_lcore[lcore].v;

		for (i = 0; i < COUNTER_MAX; i++)
			sum->v[i] += v[i];
	}
}
