/* The worker manager: each period, grows the environments of busy functions and shrinks idle ones. */
#include <stdio.h>
#include <string.h>

#include <rte_ethdev.h>
#include <rte_lcore.h>

#include "deploy.h"
#include "dispatch.h"
#include "manager.h"
#include "placement.h"
#include "worker.h"

/* What the manager remembers of each function between periods. */
static uint64_t manager_calls[CONFIG_MAX_FUNCTIONS];
static double manager_idle_s[CONFIG_MAX_FUNCTIONS];

static void
manager_topology(const struct runtime *rt, struct placement_topology *topo,
		 unsigned int *load)
{
	int port_socket = rte_eth_dev_socket_id(rt->port_id);
	unsigned int w, f, i;

	memset(topo, 0, sizeof(*topo));
	topo->nb_workers = rt->nb_workers;
	topo->home_socket = port_socket >= 0 ? (unsigned int)port_socket
					     : rte_lcore_to_socket_id(rt->dispatchers[0]->lcore_id);
	for (w = 0; w < rt->nb_workers; w++) {
		topo->worker_socket[w] = rte_lcore_to_socket_id(rt->workers[w]->lcore_id);
		load[w] = 0;
	}
	for (f = 0; f < rt->nb_functions; f++) {
		const struct worker_set *ws = deployment_workers(runtime_live(&rt->functions[f]));

		for (i = 0; i < ws->nb; i++)
			load[ws->ids[i]]++;
	}
}

static uint64_t
manager_in_flight(const struct runtime *rt, unsigned int f)
{
	uint64_t n = 0;
	unsigned int d;

	for (d = 0; d < rt->nb_dispatchers; d++)
		n += counting_fn_in_flight(&rt->dispatchers[d]->counting, f);
	return n;
}

void
manager_step(struct runtime *rt, double seconds)
{
	unsigned int load[RUNTIME_MAX_WORKERS];
	struct placement_topology topo;
	unsigned int f, w, i;

	manager_topology(rt, &topo, load);
	for (f = 0; f < rt->nb_functions; f++) {
		const struct deployment *dep = runtime_live(&rt->functions[f]);
		const struct worker_set *ws = deployment_workers(dep);
		bool held[RUNTIME_MAX_WORKERS] = { false };
		struct placement_load fl;
		uint64_t calls = 0;
		char err[256];
		int pick;

		if (!dep->ready)
			continue;
		for (w = 0; w < rt->nb_workers; w++)
			calls += __atomic_load_n(&rt->workers[w]->stats[f].calls, __ATOMIC_RELAXED);
		manager_idle_s[f] = calls != manager_calls[f] ? 0 : manager_idle_s[f] + seconds;
		manager_calls[f] = calls;
		for (i = 0; i < ws->nb; i++)
			held[ws->ids[i]] = true;
		fl = (struct placement_load){
			.environments = ws->nb,
			.in_flight = manager_in_flight(rt, f),
			.idle_s = (uint32_t)manager_idle_s[f],
			.reserved_concurrency = rt->functions[f].cfg->reserved_concurrency,
		};
		switch (placement_decide(&fl, rt->nb_workers, rt->cfg.idle_environment_s)) {
		case PLACEMENT_GROW:
			pick = placement_pick_grow(&topo, load, held);
			if (pick < 0)
				break;
			if (deploy_grow(rt, f, (unsigned int)pick, err, sizeof(err)) != 0) {
				fprintf(stderr, "turbine: function %s: no environment on worker %d: %s\n",
					rt->functions[f].cfg->name, pick, err);
				break;
			}
			load[pick]++;
			break;
		case PLACEMENT_SHRINK:
			pick = placement_pick_shrink(&topo, load, held);
			if (pick >= 0 && deploy_shrink(rt, f, (unsigned int)pick) == 0)
				load[pick]--;
			break;
		case PLACEMENT_KEEP:
			break;
		}
	}
}
