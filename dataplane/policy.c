/* Dispatch policies: the table of them, and the queue depth they compare. */
#include <stdint.h>
#include <string.h>

#include <rte_common.h>

#include "dispatch.h"
#include "policy.h"
#include "worker_sandbox.h"

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
policy_queue_depth(const struct dispatcher *d, const struct deployment *dep, unsigned int w)
{
	const struct rte_ring *r = d->to_worker[w];
	unsigned int held;

	if (r == NULL || __atomic_load_n(&d->worker_out[w], __ATOMIC_RELAXED) || rte_ring_full(r))
		return UINT32_MAX;
	/* A sandbox's calls wait in the worker, not in its ring: they count, and one that is
	 * restarting takes none. */
	if (dep->isolated && dep->sandboxes[w] != NULL) {
		held = worker_sandbox_depth(dep->sandboxes[w]);
		return held == UINT32_MAX ? UINT32_MAX : held + rte_ring_count(r);
	}
	return rte_ring_count(r);
}
