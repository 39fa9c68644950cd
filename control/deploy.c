/* Deployments: a function version's module and environments, created, switched live, torn down. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_rcu_qsbr.h>

#include "deploy.h"
#include "worker.h"

/* Redeploys come from control-plane threads; one at a time. */
static pthread_mutex_t deploy_lock = PTHREAD_MUTEX_INITIALIZER;

struct deployment *
deploy_create(struct runtime *rt, unsigned int fn, const char *module, const char *version,
	      const uint16_t *workers, unsigned int nb_workers, char *err, size_t errlen)
{
	const struct function_config *cfg = rt->functions[fn].cfg;
	struct deployment *dep;
	char why[512];
	unsigned int i;
	int rc;

	dep = rte_zmalloc("deployment", sizeof(*dep), RTE_CACHE_LINE_SIZE);
	if (dep == NULL) {
		snprintf(err, errlen, "function %s: out of memory", cfg->name);
		return NULL;
	}
	rc = module_load(&dep->mod, module, why, sizeof(why));
	if (rc != 0) {
		snprintf(err, errlen, "function %s: %s", cfg->name, why);
		rte_free(dep);
		return NULL;
	}
	snprintf(dep->version, sizeof(dep->version), "%s", version);
	dep->version_len = (uint32_t)strlen(dep->version);
	for (i = 0; i < nb_workers; i++) {
		const struct worker *w = rt->workers[workers[i]];
		struct environment *env = &dep->envs[w->id];
		struct turbine_env_config env_cfg = {
			.function = cfg->name,
			.version = dep->version,
			.worker_id = w->id,
			.socket_id = rte_lcore_to_socket_id(w->lcore_id),
			.memory_mb = cfg->memory_mb,
			.timeout_ms = cfg->timeout_ms,
			.params = (const char *const *)cfg->params,
		};

		if (module_env_init(env, &dep->mod, &env_cfg) != 0) {
			if (dep->not_ready[0] == '\0')
				snprintf(dep->not_ready, sizeof(dep->not_ready), "%s", env->error);
			continue;
		}
		dep->workers[dep->nb_workers++] = (uint16_t)w->id;
	}
	dep->ready = dep->nb_workers > 0;
	return dep;
}

void
deploy_free(struct deployment *dep)
{
	unsigned int w;

	if (dep == NULL)
		return;
	for (w = 0; w < RUNTIME_MAX_WORKERS; w++)
		module_env_fini(&dep->envs[w]);
	module_unload(&dep->mod);
	rte_free(dep);
}

/* The version after `current`: one more when it is a number, else the caller must name one. */
static int
deploy_next_version(const char *current, char *next, size_t len)
{
	char *end;
	unsigned long long v = strtoull(current, &end, 10);

	if (*current == '\0' || *end != '\0')
		return -1;
	snprintf(next, len, "%llu", v + 1);
	return 0;
}

int
deploy_switch(struct runtime *rt, unsigned int fn, const char *module, const char *version,
	      char *err, size_t errlen)
{
	struct function *f = &rt->functions[fn];
	struct deployment *old, *dep;
	char next[32];
	unsigned int i;
	uint64_t token;

	pthread_mutex_lock(&deploy_lock);
	old = f->live;
	if (version == NULL || *version == '\0') {
		if (deploy_next_version(old->version, next, sizeof(next)) != 0) {
			snprintf(err, errlen, "version %s is not a number: give the new version", old->version);
			goto refused;
		}
		version = next;
	}
	dep = deploy_create(rt, fn, module, version, old->workers, old->nb_workers, err, errlen);
	if (dep == NULL)
		goto refused;
	for (i = 0; i < old->nb_workers; i++)
		if (!dep->envs[old->workers[i]].ready) {
			snprintf(err, errlen, "function %s version %s: init failed on worker %u: %s; "
				 "version %s stays", f->cfg->name, dep->version, old->workers[i],
				 dep->envs[old->workers[i]].error, old->version);
			deploy_free(dep);
			goto refused;
		}

	/* From here on every lcore that looks sees the new version... */
	__atomic_store_n(&f->live, dep, __ATOMIC_RELEASE);
	/* ...and once each has been quiescent since, none can still be inside the old one. */
	token = rte_rcu_qsbr_start(rt->rcu);
	rte_rcu_qsbr_check(rt->rcu, token, true);
	deploy_free(old);
	pthread_mutex_unlock(&deploy_lock);
	return 0;

refused:
	pthread_mutex_unlock(&deploy_lock);
	return -EINVAL;
}
