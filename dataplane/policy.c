/* Dispatch policies: the table of them, and the queue depth they compare. */
#include <stdint.h>
#include <string.h>

#include <rte_common.h>

#include "dispatch.h"
#include "policy.h"

static const struct dispatch_policy *const policy_all[] = {
	&policy_jsq, &policy_round_robin, &policy_p2c,
};

const struct dispatch_policy *
policy_find(const char *name)
{
	unsigned int i;

	for (i = 0; i < RTE_DIM(policy_all); i++)
		if (strcmp(policy_all[i]->name, name) == 0)
			return policy_all[i];
	return NULL;
}

unsigned int
policy_queue_depth(const struct dispatcher *d, unsigned int w)
{
	const struct rte_ring *r = d->to_worker[w];

	if (r == NULL || __atomic_load_n(&d->worker_out[w], __ATOMIC_RELAXED) || rte_ring_full(r))
		return UINT32_MAX;
	return rte_ring_count(r);
}
