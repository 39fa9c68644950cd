/* The worker manager: each period, grows the environments of busy functions and shrinks idle ones. */
#include <stdio.h>
#include <string.h>

#include "deploy.h"
#include "dispatch.h"
#include "environments.h"
#include "functions.h"
#include "manager.h"
#include "placement.h"
#include "quotas.h"
#include "worker.h"

/* What the manager remembers of each function between periods. */
static uint64_t manager_calls[CONFIG_MAX_FUNCTIONS];
static double manager_idle_s[CONFIG_MAX_FUNCTIONS];

/* Environments per worker, over every function's live version. Under functions_lock(). */
static void
manager_load(const struct runtime *rt, unsigned int *load)
{
	unsigned int f, i;

	memset(load, 0, sizeof(*load) * rt->nb_workers);
	for (f = 0; f < rt->nb_functions; f++) {
		const struct worker_set *ws = deployment_workers(runtime_live(&rt->functions[f]));

		for (i = 0; i < ws->nb; i++)
			load[ws->ids[i]]++;
	}
}

/*
 * What placement needs of function f now: where it holds environments and
 * its load. Under functions_lock(): false when its live version is not ready.
 */
static bool
manager_look(const struct runtime *rt, unsigned int f, double seconds, bool *held,
	     struct placement_load *fl)
{
	const struct deployment *dep = runtime_live(&rt->functions[f]);
	const struct worker_set *ws = deployment_workers(dep);
	uint64_t calls = 0;
	unsigned int w, i;

	if (!dep->ready)
		return false;
	for (w = 0; w < rt->nb_workers; w++)
		calls += __atomic_load_n(&rt->workers[w]->stats[f].calls, __ATOMIC_RELAXED);
	manager_idle_s[f] = calls != manager_calls[f] ? 0 : manager_idle_s[f] + seconds;
	manager_calls[f] = calls;
	for (i = 0; i < ws->nb; i++)
		held[ws->ids[i]] = true;
	*fl = (struct placement_load){
		.environments = ws->nb,
		.in_flight = quotas_in_flight(rt, f),
		.idle_s = (uint32_t)manager_idle_s[f],
		.reserved_concurrency = rt->functions[f].cfg->reserved_concurrency,
	};
	return true;
}

/*
 * Every change the manager publishes waits, holding functions_lock(), until
 * each data lcore has been quiescent, and a worker inside a handler it has
 * not returned from never is: the control thread would wait with it (no
 * status line, no liveness, telemetry blocked on the lock). So nothing
 * moves while a worker is stuck or not beating; what the manager would have
 * done waits for it to come back.
 */
static bool
manager_must_wait(const struct runtime *rt)
{
	unsigned int w;

	for (w = 0; w < rt->nb_workers; w++)
		if (__atomic_load_n(&rt->worker_out[w], __ATOMIC_RELAXED) &
		    (RUNTIME_WORKER_STUCK | RUNTIME_WORKER_STALE))
			return true;
	return false;
}

/*
 * Decisions are taken on what was read under the lock and carried out by
 * deploy_grow() and deploy_shrink(), which take it again and check the
 * version they find: a redeploy in between makes a move at worst one period
 * late or early, never wrong.
 */
void
manager_step(struct runtime *rt, double seconds)
{
	unsigned int load[RUNTIME_MAX_WORKERS];
	struct placement_topology topo;
	unsigned int f;
	bool ready;

	if (manager_must_wait(rt))
		return;
	environments_topology(rt, &topo);
	functions_lock();
	manager_load(rt, load);
	functions_unlock();
	for (f = 0; f < rt->nb_functions; f++) {
		bool held[RUNTIME_MAX_WORKERS] = { false };
		struct placement_load fl;
		char err[256];
		int pick;

		functions_lock();
		ready = manager_look(rt, f, seconds, held, &fl);
		functions_unlock();
		if (!ready)
			continue;
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
