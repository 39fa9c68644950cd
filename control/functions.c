/* The function table and the name index the data plane looks up. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <rte_rcu_qsbr.h>

#include "functions.h"
#include "names.h"

/*
 * A function's live deployment and its limits are published to the data
 * lcores under RCU: they read them without a lock, report quiescence once
 * per loop, and a writer frees an old version once every one of them has
 * been quiescent since it published the new one (deploy.c, quotas.c).
 *
 * That wait covers the data lcores only. The other threads that read the
 * same state -- the telemetry threads (DPDK runs one per connected client),
 * the control thread's worker manager -- are slow-path threads that come
 * and go, so instead of registering them with the RCU variable they share
 * one mutex with every writer: a writer holds it from before it reads the
 * current version until it has freed the old one, a control-side reader
 * while it uses what it read. A reader therefore sees either the old
 * version, whole, or the new one, never one being freed; and writers
 * (deploys, the manager's grow and shrink, limit changes) run one at a time,
 * so each reads the configuration and the live version as the last one
 * left them. A reader may wait for a deploy to finish its modules' init:
 * acceptable on these threads, never on a data lcore, which never takes it.
 */
static pthread_mutex_t functions_mutex = PTHREAD_MUTEX_INITIALIZER;

void
functions_lock(void)
{
	pthread_mutex_lock(&functions_mutex);
}

int
functions_lock_within(unsigned int wait_ms)
{
	struct timespec until;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += wait_ms / 1000;
	until.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	return pthread_mutex_clocklock(&functions_mutex, CLOCK_MONOTONIC, &until) == 0 ? 0 : -EBUSY;
}

void
functions_unlock(void)
{
	pthread_mutex_unlock(&functions_mutex);
}

void
functions_synchronize(struct runtime *rt)
{
	uint64_t token = rte_rcu_qsbr_start(rt->rcu);

	rte_rcu_qsbr_check(rt->rcu, token, true);
}

int
functions_load(struct runtime *rt, char *err, size_t errlen)
{
	unsigned int i;
	int rc;

	if (rt->cfg.nb_functions == 0) {
		snprintf(err, errlen, "no function declared: give --fn NAME=MODULE.so or --config FILE");
		return -EINVAL;
	}
	rt->function_index = names_create(CONFIG_MAX_FUNCTIONS);
	if (rt->function_index == NULL) {
		snprintf(err, errlen, "cannot create the function index: out of memory");
		return -ENOMEM;
	}
	for (i = 0; i < rt->cfg.nb_functions; i++) {
		const struct function_config *cfg = &rt->cfg.functions[i];
		struct function *fn = &rt->functions[i];

		fn->cfg = cfg;
		fn->name_len = (uint32_t)strlen(cfg->name);
		rt->nb_functions++;
		rc = names_add(rt->function_index, cfg->name, i);
		if (rc != 0) {
			snprintf(err, errlen, "function %s: cannot index it: %s", cfg->name,
				 strerror(-rc));
			return rc;
		}
	}
	return 0;
}

void
functions_unload(struct runtime *rt)
{
	rt->nb_functions = 0;
	names_free(rt->function_index);
	rt->function_index = NULL;
}
