/* The control side of counting: the tenant index, and limits published to every dispatcher. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_malloc.h>

#include "dispatch.h"
#include "functions.h"
#include "leases.h"
#include "quotas.h"
#include "names.h"
#include "worker.h"

unsigned int
runtime_find_named_tenant(const struct runtime *rt, const char *name, uint32_t len)
{
	int t = names_find(rt->tenant_index, name, len);

	return t < 0 ? COUNTING_OTHER_TENANT : (unsigned int)t;
}

/* The index of a tenant name, adding it when new. -1 when the table is full. */
static int
quotas_tenant_slot(struct runtime *rt, const char *name)
{
	int t = names_find(rt->tenant_index, name, (uint32_t)strlen(name));

	if (t >= 0)
		return t;
	if (rt->nb_tenants >= COUNTING_OTHER_TENANT)
		return -1;
	t = (int)rt->nb_tenants;
	snprintf(rt->tenant_names[t], sizeof(rt->tenant_names[t]), "%s", name);
	if (names_add(rt->tenant_index, name, (unsigned int)t) != 0)
		return -1;
	rt->nb_tenants++;
	/* Calls that name no tenant take this index from now on, without a lookup each. */
	if (strcmp(name, RUNTIME_DEFAULT_TENANT) == 0)
		__atomic_store_n(&rt->default_tenant, (unsigned int)t, __ATOMIC_RELEASE);
	return t;
}

/*
 * The apply step of every runtime-modifiable function key: build function
 * f's limits from `cfg` and publish them whole. Once the data lcores have
 * all moved past the old limits, they are freed (the caller holds
 * functions_lock(), so no control-side reader holds them either).
 */
static int
quotas_publish_function(struct runtime *rt, unsigned int f, const struct function_config *cfg,
			char *err, size_t errlen)
{
	struct function *fn = &rt->functions[f];
	bool allowed[COUNTING_MAX_TENANTS] = { false };
	struct function_limits *next, *old;
	unsigned int i;

	for (i = 0; i < cfg->nb_tenants; i++) {
		int t = quotas_tenant_slot(rt, cfg->tenants[i]);

		if (t < 0) {
			snprintf(err, errlen, "function %s: too many tenants (at most %u)", cfg->name,
				 COUNTING_OTHER_TENANT);
			return -ENOSPC;
		}
		allowed[t] = true;
	}
	/* On the C heap, like a deployment (deploy.c): a use after free shows under ASan. */
	next = calloc(1, sizeof(*next));
	if (next == NULL) {
		snprintf(err, errlen, "function %s: out of memory for its limits", cfg->name);
		return -ENOMEM;
	}
	next->timeout_ms = cfg->timeout_ms;
	next->timeout_tsc = (uint64_t)cfg->timeout_ms * rt->tsc_hz / 1000;
	next->memory_mb = cfg->memory_mb;
	next->max_event_bytes = cfg->max_event_bytes;
	counting_fn_limits_init(&next->counting, cfg, cfg->nb_tenants ? allowed : NULL,
				rt->nb_dispatchers);

	old = fn->limits;
	__atomic_store_n(&fn->limits, next, __ATOMIC_RELEASE);
	if (old != NULL) {
		functions_synchronize(rt);
		free(old);
	}
	return 0;
}

static void
quotas_publish_tenant(struct runtime *rt, const struct tenant_config *cfg)
{
	int t = names_find(rt->tenant_index, cfg->name, (uint32_t)strlen(cfg->name));
	unsigned int d;

	/* Shared with other nodes (limits_backend nats): this node's lease says what it admits. */
	if (t >= 0 && leases_manage((unsigned int)t, cfg))
		return;
	for (d = 0; t >= 0 && d < rt->nb_dispatchers; d++)
		counting_set_tenant(rt->dispatchers[d]->counting.d, (unsigned int)t, cfg, d,
				    rt->nb_dispatchers);
}

int
quotas_init(struct runtime *rt, char *err, size_t errlen)
{
	unsigned int i;
	int rc;

	/* Until a tenant called "default" is named, calls without a tenant count with the others. */
	rt->default_tenant = COUNTING_OTHER_TENANT;
	rt->tenant_index = names_create(COUNTING_OTHER_TENANT);
	if (rt->tenant_index == NULL) {
		snprintf(err, errlen, "cannot create the tenant index: out of memory");
		return -ENOMEM;
	}
	for (i = 0; i < rt->nb_workers; i++) {
		struct worker *w = rt->workers[i];

		w->counting = rte_zmalloc_socket("counting", sizeof(*w->counting), RTE_CACHE_LINE_SIZE,
						 rte_lcore_to_socket_id(w->lcore_id));
		if (w->counting == NULL)
			goto nomem;
		rt->counting_workers[i] = w->counting;
	}
	for (i = 0; i < rt->nb_dispatchers; i++) {
		struct dispatcher *d = rt->dispatchers[i];

		d->counting.d = rte_zmalloc_socket("counting", sizeof(*d->counting.d),
						   RTE_CACHE_LINE_SIZE,
						   rte_lcore_to_socket_id(d->lcore_id));
		if (d->counting.d == NULL)
			goto nomem;
		d->counting.dispatcher = i;
		d->counting.workers = rt->counting_workers;
		d->counting.nb_workers = rt->nb_workers;
		d->counting.hz = rt->tsc_hz;
	}
	for (i = 0; i < rt->cfg.nb_tenants; i++) {
		if (quotas_tenant_slot(rt, rt->cfg.tenants[i].name) < 0) {
			snprintf(err, errlen, "too many tenants (at most %u)", COUNTING_OTHER_TENANT);
			return -ENOSPC;
		}
		quotas_publish_tenant(rt, &rt->cfg.tenants[i]);
	}
	for (i = 0; i < rt->nb_functions; i++) {
		rc = quotas_publish_function(rt, i, rt->functions[i].cfg, err, errlen);
		if (rc != 0)
			return rc;
	}
	return 0;

nomem:
	snprintf(err, errlen, "cannot allocate the counting state");
	return -ENOMEM;
}

void
quotas_fini(struct runtime *rt)
{
	unsigned int i;

	functions_lock();
	for (i = 0; i < rt->nb_functions; i++) {
		free(rt->functions[i].limits);
		rt->functions[i].limits = NULL;
	}
	functions_unlock();
	for (i = 0; i < rt->nb_dispatchers; i++)
		if (rt->dispatchers[i] != NULL) {
			rte_free(rt->dispatchers[i]->counting.d);
			rt->dispatchers[i]->counting.d = NULL;
		}
	for (i = 0; i < rt->nb_workers; i++)
		if (rt->workers[i] != NULL) {
			rte_free(rt->workers[i]->counting);
			rt->workers[i]->counting = NULL;
		}
	names_free(rt->tenant_index);
	rt->tenant_index = NULL;
}

int
quotas_set_function(struct runtime *rt, const char *function, const char *key, const char *value,
		    char *err, size_t errlen)
{
	int f = runtime_find_function(rt, function, (uint32_t)strlen(function));
	struct function_config *cfg;
	struct function_config next;
	int rc;

	if (f < 0) {
		snprintf(err, errlen, "no function %s", function);
		return -ENOENT;
	}
	functions_lock();
	cfg = &rt->cfg.functions[f];
	/* Checked and applied on a copy: a change that cannot be published leaves no trace. */
	next = *cfg;
	rc = config_set_function_key(&next, key, value, err, errlen);
	if (rc == 0)
		rc = quotas_publish_function(rt, (unsigned int)f, &next, err, errlen);
	/* Published: the configuration says so too (only the key is written; names are read unlocked). */
	if (rc == 0)
		rc = config_set_function_key(cfg, key, value, err, errlen);
	functions_unlock();
	return rc;
}

int
quotas_set_tenant(struct runtime *rt, const char *tenant, const char *key, const char *value,
		  char *err, size_t errlen)
{
	struct turbine_config *cfg = &rt->cfg;
	struct tenant_config *t = NULL;
	unsigned int i;
	int rc = 0;

	functions_lock();
	for (i = 0; i < cfg->nb_tenants; i++)
		if (strcmp(cfg->tenants[i].name, tenant) == 0)
			t = &cfg->tenants[i];
	if (t == NULL) {
		char arg[CONFIG_NAME_MAX + 1];

		snprintf(arg, sizeof(arg), "%s", tenant);
		rc = config_add_tenant_arg(cfg, arg, err, errlen);
		if (rc == 0)
			t = &cfg->tenants[cfg->nb_tenants - 1];
	}
	if (rc == 0 && quotas_tenant_slot(rt, t->name) < 0) {
		snprintf(err, errlen, "too many tenants (at most %u)", COUNTING_OTHER_TENANT);
		rc = -ENOSPC;
	}
	if (rc == 0)
		rc = config_set_tenant_key(t, key, value, err, errlen);
	if (rc == 0)
		quotas_publish_tenant(rt, t);
	functions_unlock();
	return rc;
}

uint64_t
quotas_in_flight(const struct runtime *rt, unsigned int f)
{
	uint64_t n = 0;
	unsigned int d;

	for (d = 0; d < rt->nb_dispatchers; d++)
		n += counting_fn_in_flight(&rt->dispatchers[d]->counting, f);
	return n;
}
