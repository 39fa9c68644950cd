/* Deployments: a function version's module and environments, created, switched live, torn down. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_lcore.h>

#include "deploy.h"
#include "functions.h"
#include "sandboxes.h"
#include "worker.h"
#include "worker_sandbox.h"

/* A process-mode environment: its sandbox started and its init waited for (the cold start). */
static int
deploy_sandbox_init(struct runtime *rt, unsigned int fn, struct deployment *dep, unsigned int w)
{
	struct environment *env = &dep->envs[w];
	struct worker_sandbox *ws;
	int rc;

	rc = sandboxes_start(rt, fn, dep->mod.path, dep->version, w, &ws, env->error,
			     sizeof(env->error));
	if (rc == 0)
		rc = sandboxes_ready(ws, env);
	if (rc == 0)
		__atomic_store_n(&dep->sandboxes[w], ws, __ATOMIC_RELEASE);
	return rc;
}

/* Its worker answers what it holds, then the sandbox ends (fini). Dispatch no longer uses it. */
static void
deploy_sandbox_retire(struct deployment *dep, unsigned int w, const char *why)
{
	struct worker_sandbox *ws = dep->sandboxes[w];

	if (ws == NULL)
		return;
	__atomic_store_n(&dep->sandboxes[w], NULL, __ATOMIC_RELEASE);
	dep->envs[w].ready = false;
	snprintf(dep->envs[w].error, sizeof(dep->envs[w].error), "%s", why);
	sandboxes_retire(ws);
}

/* Initialise the deployment's environment on worker w (this thread; w gets no traffic for it yet). */
static int
deploy_env_init(struct runtime *rt, unsigned int fn, struct deployment *dep, unsigned int w)
{
	const struct function_config *cfg = rt->functions[fn].cfg;
	const struct worker *wk = rt->workers[w];
	struct turbine_env_config env_cfg = {
		.function = cfg->name,
		.version = dep->version,
		.worker_id = wk->id,
		.socket_id = rte_lcore_to_socket_id(wk->lcore_id),
		.memory_mb = cfg->memory_mb,
		.timeout_ms = cfg->timeout_ms,
		.params = (const char *const *)cfg->params,
	};

	if (dep->isolated)
		return deploy_sandbox_init(rt, fn, dep, w);
	return module_env_init(&dep->envs[w], &dep->mod, &env_cfg);
}

/*
 * Every sandbox of a new process-mode deployment: all started first, so
 * that their cold starts overlap, then each waited for. Returns how many
 * are ready, their ids in `ready`.
 */
static unsigned int
deploy_sandboxes(struct runtime *rt, unsigned int fn, struct deployment *dep,
		 const uint16_t *workers, unsigned int nb_workers, uint16_t *ready)
{
	struct worker_sandbox *started[RUNTIME_MAX_WORKERS];
	unsigned int i, n = 0;

	for (i = 0; i < nb_workers; i++)
		if (sandboxes_start(rt, fn, dep->mod.path, dep->version, workers[i], &started[i],
				    dep->envs[workers[i]].error,
				    sizeof(dep->envs[workers[i]].error)) != 0)
			started[i] = NULL;
	for (i = 0; i < nb_workers; i++) {
		struct environment *env = &dep->envs[workers[i]];

		if (started[i] == NULL || sandboxes_ready(started[i], env) != 0)
			continue;
		__atomic_store_n(&dep->sandboxes[workers[i]], started[i], __ATOMIC_RELEASE);
		ready[n++] = workers[i];
	}
	return n;
}

/* Make `next` the set dispatch uses; the previous copy is free again on return. */
static void
deploy_publish(struct runtime *rt, struct deployment *dep, const struct worker_set *next)
{
	struct worker_set *spare = dep->active == &dep->sets[0] ? &dep->sets[1] : &dep->sets[0];

	*spare = *next;
	worker_set_seal(spare);
	__atomic_store_n(&dep->active, spare, __ATOMIC_RELEASE);
	functions_synchronize(rt);
}

struct deployment *
deploy_create(struct runtime *rt, unsigned int fn, const char *module, const char *version,
	      const uint16_t *workers, unsigned int nb_workers, char *err, size_t errlen)
{
	const struct function_config *cfg = rt->functions[fn].cfg;
	struct deployment *dep;
	char why[512];
	unsigned int i;
	int rc;

	/*
	 * The C heap rather than DPDK's: no other process maps it and nothing in
	 * it wants hugepages, and AddressSanitizer watches this heap, so a
	 * thread still reading a freed version is reported (DPDK's allocator is
	 * not instrumented and would hand the memory to the next version).
	 */
	dep = calloc(1, sizeof(*dep));
	if (dep == NULL) {
		snprintf(err, errlen, "function %s: out of memory", cfg->name);
		return NULL;
	}
	/* A process-mode module is loaded only in its sandboxes: its code (constructors
	 * included) never runs in the dispatcher. Here it has to be there to be read. */
	dep->isolated = config_function_isolated(cfg);
	if (dep->isolated) {
		rc = access(module, R_OK) == 0 ? 0 : -errno;
		snprintf(why, sizeof(why), "cannot load %s: %s", module, strerror(-rc));
		if (rc == 0 && (size_t)snprintf(dep->mod.path, sizeof(dep->mod.path), "%s", module) >=
		    sizeof(dep->mod.path))
			rc = -ENAMETOOLONG;
	} else {
		rc = module_load(&dep->mod, module, why, sizeof(why));
	}
	if (rc != 0) {
		snprintf(err, errlen, "function %s: %s", cfg->name, why);
		free(dep);
		return NULL;
	}
	snprintf(dep->version, sizeof(dep->version), "%s", version);
	dep->version_len = (uint32_t)strlen(dep->version);
	/* Built here, once: every call of this version copies it (cannot fail: the version
	 * was cut to what dep->version holds). */
	RTE_BUILD_BUG_ON(sizeof(dep->version) - 1 > RESPONSE_VERSION_MAX);
	response_head_init(&dep->ok_head, dep->version, dep->version_len);
	dep->names.function = (struct turbine_str){ cfg->name, rt->functions[fn].name_len };
	dep->names.version = (struct turbine_str){ dep->version, dep->version_len };
	if (dep->isolated) {
		dep->sets[0].nb = deploy_sandboxes(rt, fn, dep, workers, nb_workers, dep->sets[0].ids);
		for (i = 0; i < nb_workers && dep->not_ready[0] == '\0'; i++)
			if (!dep->envs[workers[i]].ready)
				snprintf(dep->not_ready, sizeof(dep->not_ready), "%s",
					 dep->envs[workers[i]].error);
		nb_workers = 0;
	}
	for (i = 0; i < nb_workers; i++) {
		if (deploy_env_init(rt, fn, dep, workers[i]) != 0) {
			if (dep->not_ready[0] == '\0')
				snprintf(dep->not_ready, sizeof(dep->not_ready), "%s",
					 dep->envs[workers[i]].error);
			continue;
		}
		dep->sets[0].ids[dep->sets[0].nb++] = workers[i];
	}
	worker_set_seal(&dep->sets[0]);
	dep->active = &dep->sets[0];
	dep->ready = dep->sets[0].nb > 0;
	return dep;
}

void
deploy_free(struct deployment *dep)
{
	unsigned int w;

	if (dep == NULL)
		return;
	for (w = 0; w < RUNTIME_MAX_WORKERS; w++) {
		deploy_sandbox_retire(dep, w, "version retired");
		module_env_fini(&dep->envs[w]);
	}
	module_unload(&dep->mod);
	free(dep);
}

int
deploy_fini_all_but(struct runtime *rt, const bool *stuck, unsigned int wait_ms)
{
	unsigned int f, w;

	/* Kept locked: the process exits next, and no deploy may start on what is torn down. */
	if (functions_lock_within(wait_ms) != 0)
		return -EBUSY;
	for (f = 0; f < rt->nb_functions; f++) {
		struct deployment *dep = rt->functions[f].live;

		for (w = 0; w < rt->nb_workers; w++)
			if (!stuck[w])
				module_env_fini(&dep->envs[w]);
	}
	return 0;
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

static int
deploy_switch_here(struct runtime *rt, unsigned int fn, const char *module, const char *version,
		   char *err, size_t errlen)
{
	struct function *f = &rt->functions[fn];
	struct deployment *old, *dep;
	const struct worker_set *ws;
	char next[32];
	unsigned int i;

	functions_lock();
	old = f->live;
	if (version == NULL || *version == '\0') {
		if (deploy_next_version(old->version, next, sizeof(next)) != 0) {
			snprintf(err, errlen, "version %s is not a number: give the new version", old->version);
			goto refused;
		}
		version = next;
	}
	ws = deployment_workers(old);
	dep = deploy_create(rt, fn, module, version, ws->ids, ws->nb, err, errlen);
	if (dep == NULL)
		goto refused;
	for (i = 0; i < ws->nb; i++)
		if (!dep->envs[ws->ids[i]].ready) {
			snprintf(err, errlen, "function %s version %s: init failed on worker %u: %s; "
				 "version %s stays", f->cfg->name, dep->version, ws->ids[i],
				 dep->envs[ws->ids[i]].error, old->version);
			deploy_free(dep);
			goto refused;
		}

	/* From here on every lcore that looks sees the new version... */
	__atomic_store_n(&f->live, dep, __ATOMIC_RELEASE);
	/* ...and once each has been quiescent since, none can still be inside the old one. */
	functions_synchronize(rt);
	deploy_free(old);
	functions_unlock();
	return 0;

refused:
	functions_unlock();
	return -EINVAL;
}

/* A redeploy of a process-mode function, as the control thread runs it. */
struct deploy_switch_job {
	struct runtime *rt;
	unsigned int fn;
	const char *module, *version;
	char *err;
	size_t errlen;
};

static int
deploy_switch_job(void *arg)
{
	struct deploy_switch_job *j = arg;

	return deploy_switch_here(j->rt, j->fn, j->module, j->version, j->err, j->errlen);
}

int
deploy_switch(struct runtime *rt, unsigned int fn, const char *module, const char *version,
	      char *err, size_t errlen)
{
	struct deploy_switch_job job = { rt, fn, module, version, err, errlen };
	int rc;

	if (!config_function_isolated(rt->functions[fn].cfg))
		return deploy_switch_here(rt, fn, module, version, err, errlen);
	/* The new sandboxes must outlive the thread that asked (a telemetry client's). */
	rc = sandboxes_call(deploy_switch_job, &job);
	if (rc == -EAGAIN)
		snprintf(err, errlen, "function %s runs in sandboxes, which only the control thread "
			 "starts, and it is not running (turbine is starting or stopping)",
			 rt->functions[fn].cfg->name);
	return rc;
}

int
deploy_grow(struct runtime *rt, unsigned int fn, unsigned int w, char *err, size_t errlen)
{
	struct deployment *dep;
	struct worker_set next;
	int rc = 0;

	functions_lock();
	dep = rt->functions[fn].live;
	next = *deployment_workers(dep);
	if (worker_set_has(&next, w))
		goto out;
	/* Ready before it is published: no call ever waits for this cold start. */
	rc = deploy_env_init(rt, fn, dep, w);
	if (rc != 0) {
		snprintf(err, errlen, "%s", dep->envs[w].error);
		goto out;
	}
	next.ids[next.nb++] = (uint16_t)w;
	deploy_publish(rt, dep, &next);
out:
	functions_unlock();
	return rc;
}

/*
 * Calls already queued to worker w may be for this function: wait until the
 * worker has dequeued everything queued before now, and finished that burst.
 */
static void
deploy_wait_queued(struct runtime *rt, const struct worker *w)
{
	const struct timespec nap = { 0, 1000000 };
	unsigned int i;

	for (i = 0; i < w->nb_inbound; i++) {
		const struct rte_ring *r = w->inbound[i];
		uint32_t queued = __atomic_load_n(&r->prod.tail, __ATOMIC_ACQUIRE);

		while ((int32_t)(__atomic_load_n(&r->cons.tail, __ATOMIC_ACQUIRE) - queued) < 0 &&
		       !__atomic_load_n(&w->done, __ATOMIC_ACQUIRE))
			nanosleep(&nap, NULL);
	}
	functions_synchronize(rt);
}

int
deploy_shrink(struct runtime *rt, unsigned int fn, unsigned int w)
{
	struct deployment *dep;
	struct worker_set next;
	unsigned int i, n = 0;
	int rc = -ENOENT;

	functions_lock();
	dep = rt->functions[fn].live;
	next = *deployment_workers(dep);
	if (!worker_set_has(&next, w) || next.nb <= 1)
		goto out;
	for (i = 0; i < next.nb; i++)
		if (next.ids[i] != w)
			next.ids[n++] = next.ids[i];
	next.nb = n;
	deploy_publish(rt, dep, &next);
	deploy_wait_queued(rt, rt->workers[w]);
	deploy_sandbox_retire(dep, w, "taken away by the worker manager");
	module_env_fini(&dep->envs[w]);
	rc = 0;
out:
	functions_unlock();
	return rc;
}
