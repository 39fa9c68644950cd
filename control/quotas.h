/* The control side of counting: the tenant index, and limits published to every dispatcher. */
#ifndef TURBINE_QUOTAS_H
#define TURBINE_QUOTAS_H

#include <stddef.h>
#include <stdint.h>

#include "runtime.h"

/* Index the tenants, allocate each dispatcher's and worker's counting state, publish every limit. */
int quotas_init(struct runtime *rt, char *err, size_t errlen);
void quotas_fini(struct runtime *rt);

/*
 * Change a function's or a tenant's key while running (turbinectl): checked
 * against the configuration table, then published to every dispatcher.
 * A tenant not known yet is declared. Safe from any control-plane thread.
 */
int quotas_set_function(struct runtime *rt, const char *function, const char *key,
			const char *value, char *err, size_t errlen);
int quotas_set_tenant(struct runtime *rt, const char *tenant, const char *key, const char *value,
		      char *err, size_t errlen);

/* Calls of function f admitted by any dispatcher and not yet finished by any worker. */
uint64_t quotas_in_flight(const struct runtime *rt, unsigned int f);

#endif /* TURBINE_QUOTAS_H */
