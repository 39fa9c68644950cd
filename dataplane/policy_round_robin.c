/* Round-robin: each call to the next environment in turn, passing over full queues. */
#include <stdint.h>

#include "dispatch.h"
#include "policy.h"

static int
policy_round_robin_pick(struct dispatcher *d, const struct deployment *dep, unsigned int fn_index)
{
	const struct worker_set *ws = deployment_workers(dep);
	uint32_t start = d->next_worker[fn_index];
	unsigned int i;

	for (i = 0; i < ws->nb; i++) {
		unsigned int w = ws->ids[(start + i) % ws->nb];

		if (policy_queue_depth(d, dep, w) != UINT32_MAX) {
			d->next_worker[fn_index] = start + i + 1;
			return (int)w;
		}
	}
	return -1;
}

const struct dispatch_policy policy_round_robin = {
	.name = "round-robin",
	.pick = policy_round_robin_pick,
};
