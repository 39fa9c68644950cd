/* Environments: each function's module initialised on the workers placement chose, before traffic. */
#include <errno.h>
#include <string.h>

#include <rte_ethdev.h>
#include <rte_lcore.h>

#include "dispatch.h"
#include "deploy.h"
#include "environments.h"
#include "functions.h"
#include "worker.h"
#include "placement.h"

void
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

int
environments_init(struct runtime *rt, char *err, size_t errlen)
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
		struct deployment *dep;
		uint64_t slowest_ns = 0;

		dep = deploy_create(rt, f, fn->cfg->module, fn->cfg->version, plan.workers[f],
				    plan.nb_workers[f], err, errlen);
		if (dep == NULL)
			return -EINVAL;
		fn->live = dep;
		for (i = 0; i < plan.nb_workers[f]; i++) {
			const struct environment *env = &dep->envs[plan.workers[f][i]];

			if (!env->ready)
				fprintf(stdout, "turbine: function %s: init failed on worker %u: %s\n",
					fn->cfg->name, plan.workers[f][i], env->error);
			else if (env->init_ns > slowest_ns)
				slowest_ns = env->init_ns;
		}
		if (!dep->ready) {
			fprintf(stdout, "turbine: function %s: no environment could start: "
				"its requests get 502\n", fn->cfg->name);
			continue;
		}
		fprintf(stdout, "turbine: function %s version %s (%s): %u environment(s)%s%s, "
			"cold start %.3f ms\n", fn->cfg->name, dep->version,
			dep->isolated ? fn->cfg->module : dep->mod.handler->name ?
			dep->mod.handler->name : fn->cfg->module,
			dep->active->nb, dep->isolated ? ", each a sandbox process" : "",
			plan.away[f] ? " (some off the port's socket)" : "", slowest_ns / 1e6);
	}
	return 0;
}

void
environments_fini(struct runtime *rt)
{
	unsigned int f;

	functions_lock();
	for (f = 0; f < rt->nb_functions; f++) {
		deploy_free(rt->functions[f].live);
		rt->functions[f].live = NULL;
	}
	functions_unlock();
}
