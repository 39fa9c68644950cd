/* Placement: which workers hold a warm environment of which function, from a topology given as data. */
#include <stdbool.h>
#include <string.h>

#include "placement.h"

/* Is worker a a better home for the next environment than worker b? */
static int
placement_better(const struct placement_topology *topo, const unsigned int *load, unsigned int a,
		 unsigned int b)
{
	int a_home = topo->worker_socket[a] == topo->home_socket;
	int b_home = topo->worker_socket[b] == topo->home_socket;

	if (a_home != b_home)
		return a_home;
	if (load[a] != load[b])
		return load[a] < load[b];
	return a < b;
}

void
placement_plan(const struct placement_topology *topo, const struct placement_demand *demand,
	       unsigned int nb_functions, struct placement_plan *plan)
{
	unsigned int load[PLACEMENT_MAX_WORKERS] = { 0 };
	unsigned int f, n, i, w;

	memset(plan, 0, sizeof(*plan));
	for (f = 0; f < nb_functions && f < PLACEMENT_MAX_FUNCTIONS; f++) {
		bool taken[PLACEMENT_MAX_WORKERS] = { false };

		n = topo->nb_workers;
		if (demand[f].reserved_concurrency != 0 && demand[f].reserved_concurrency < n)
			n = demand[f].reserved_concurrency;
		for (i = 0; i < n; i++) {
			int best = -1;

			for (w = 0; w < topo->nb_workers; w++)
				if (!taken[w] && (best < 0 || placement_better(topo, load, w, (unsigned int)best)))
					best = (int)w;
			taken[best] = true;
			load[best]++;
			plan->workers[f][plan->nb_workers[f]++] = (uint16_t)best;
			if (topo->worker_socket[best] != topo->home_socket)
				plan->away[f]++;
		}
	}
}

enum placement_move
placement_decide(const struct placement_load *load, unsigned int nb_workers, uint32_t idle_limit_s)
{
	bool may_grow = load->environments < nb_workers &&
			(load->reserved_concurrency == 0 ||
			 load->environments < load->reserved_concurrency);

	/* More calls in flight than environments: some wait in a queue for one. */
	if (load->in_flight > load->environments && may_grow)
		return PLACEMENT_GROW;
	if (idle_limit_s != 0 && load->idle_s >= idle_limit_s && load->environments > 1)
		return PLACEMENT_SHRINK;
	return PLACEMENT_KEEP;
}

int
placement_pick_grow(const struct placement_topology *topo, const unsigned int *load,
		    const bool *held)
{
	int best = -1;
	unsigned int w;

	for (w = 0; w < topo->nb_workers; w++)
		if (!held[w] && (best < 0 || placement_better(topo, load, w, (unsigned int)best)))
			best = (int)w;
	return best;
}

int
placement_pick_shrink(const struct placement_topology *topo, const unsigned int *load,
		      const bool *held)
{
	int worst = -1;
	unsigned int w;

	/* The worst home for an environment is the one placement would pick last. */
	for (w = 0; w < topo->nb_workers; w++)
		if (held[w] && (worst < 0 || placement_better(topo, load, (unsigned int)worst, w)))
			worst = (int)w;
	return worst;
}
