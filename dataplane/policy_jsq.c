/* Join the shortest queue: the environment with the fewest requests waiting from this dispatcher. */
#include <stdint.h>

#include "dispatch.h"
#include "policy.h"

static int
policy_jsq_pick(struct dispatcher *d, const struct deployment *dep, unsigned int fn_index)
{
	const struct worker_set *ws = deployment_workers(dep);
	/* Ties go round-robin from where the last call went, so equal queues share the load. */
	uint32_t start = d->next_worker[fn_index];
	unsigned int best_depth = UINT32_MAX, i;
	int best = -1;

	for (i = 0; i < ws->nb; i++) {
		unsigned int w = ws->ids[(start + i) % ws->nb];
		unsigned int depth = policy_queue_depth(d, dep, w);

		if (depth < best_depth) {
			best_depth = depth;
			best = (int)w;
			if (depth == 0)
				break;
		}
	}
	d->next_worker[fn_index] = start + 1;
	return best;
}

const struct dispatch_policy policy_jsq = {
	.name = "jsq",
	.pick = policy_jsq_pick,
};
