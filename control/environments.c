/* Environments: each function's module initialised on the workers placement chose, before traffic. */
#include <string.h>

#include <rte_ethdev.h>
#include <rte_lcore.h>

#include "dispatch.h"
#include "environments.h"
#include "placement.h"
#include "worker.h"

static void
environments_topology(const struct runtime *rt, struct placement_topology *topo)
{
	int port_socket = rte_eth_dev_socket_id(rt->port_id);
	unsigned int w;

	memset(topo, 0, sizeof(*topo));
	topo->nb_workers = rt->nb_workers;
	for (w = 0; w < rt->nb_workers; w++)
		topo->worker_socket[w] = rte_lcore_to_socket_id(rt->workers[w]->lcore_id);
	/* Home is the port's socket; a port that does not say is served from the first dispatcher's. */
	topo->home_socket = port_socket >= 0 ? (unsigned int)port_socket
					     : rte_lcore_to_socket_id(rt->dispatchers[0]->lcore_id);
}

void
environments_init(struct runtime *rt, FILE *out)
{
	static struct placement_plan plan;
	struct placement_demand demand[CONFIG_MAX_FUNCTIONS];
	struct placement_topology topo;
	unsigned int f, i;

	environments_topology(rt, &topo);
	for (f = 0; f < rt->nb_functions; f++)
		demand[f].reserved_concurrency = rt->functions[f].cfg->reserved_concurrency;
	placement_plan(&topo, demand, rt->nb_functions, &plan);

	for (f = 0; f < rt->nb_functions; f++) {
		struct function *fn = &rt->functions[f];
		uint64_t slowest_ns = 0;

		fn->nb_workers = 0;
		for (i = 0; i < plan.nb_workers[f]; i++) {
			unsigned int w = plan.workers[f][i];
			const struct environment *env = worker_init_environment(rt, rt->workers[w], f);

			if (!env->ready) {
				fprintf(out, "turbine: function %s: init failed on worker %u: %s\n",
					fn->cfg->name, w, env->error);
				if (fn->not_ready[0] == '\0')
					snprintf(fn->not_ready, sizeof(fn->not_ready), "%s", env->error);
				continue;
			}
			fn->workers[fn->nb_workers++] = (uint16_t)w;
			if (env->init_ns > slowest_ns)
				slowest_ns = env->init_ns;
		}
		fn->ready = fn->nb_workers > 0;
		if (!fn->ready) {
			fprintf(out, "turbine: function %s: no environment could start: its requests get 502\n",
				fn->cfg->name);
			continue;
		}
		fprintf(out, "turbine: function %s version %s (%s): %u environment(s)%s, cold start %.3f ms\n",
			fn->cfg->name, fn->cfg->version,
			fn->mod.handler->name ? fn->mod.handler->name : fn->cfg->module, fn->nb_workers,
			plan.away[f] ? " (some off the port's socket)" : "", slowest_ns / 1e6);
	}
}

void
environments_fini(struct runtime *rt)
{
	unsigned int w;

	for (w = 0; w < rt->nb_workers; w++)
		worker_fini_environments(rt, rt->workers[w]);
}
