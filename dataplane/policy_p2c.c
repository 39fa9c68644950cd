/* Power of two choices: the shorter of two queues drawn at random; near-JSQ balance, two reads. */
#include <stdint.h>

#include <rte_random.h>

#include "dispatch.h"
#include "policy.h"

static int
policy_p2c_pick(struct dispatcher *d, const struct deployment *dep, unsigned int fn_index)
{
	unsigned int a, b, da, db, i;

	if (dep->nb_workers == 0)
		return -1;
	a = dep->workers[rte_rand_max(dep->nb_workers)];
	b = dep->workers[rte_rand_max(dep->nb_workers)];
	da = policy_queue_depth(d, a);
	db = policy_queue_depth(d, b);
	if (da != UINT32_MAX || db != UINT32_MAX)
		return (int)(da <= db ? a : b);
	/* Both draws full: any queue with room will do rather than refusing the call. */
	for (i = 0; i < dep->nb_workers; i++)
		if (policy_queue_depth(d, dep->workers[i]) != UINT32_MAX)
			return dep->workers[i];
	(void)fn_index;
	return -1;
}

const struct dispatch_policy policy_p2c = {
	.name = "p2c",
	.pick = policy_p2c_pick,
};
