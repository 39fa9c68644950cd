/* Power of two choices: the shorter of two queues drawn at random; near-JSQ balance, two reads. */
#include <stdint.h>

#include <rte_random.h>

#include "dispatch.h"
#include "policy.h"

static int
policy_p2c_pick(struct dispatcher *d, const struct deployment *dep, unsigned int fn_index)
{
	const struct worker_set *ws = deployment_workers(dep);
	unsigned int a, b, da, db, i;

	if (ws->nb == 0)
		return -1;
	a = ws->ids[rte_rand_max(ws->nb)];
	b = ws->ids[rte_rand_max(ws->nb)];
	da = policy_queue_depth(d, dep, a);
	db = policy_queue_depth(d, dep, b);
	if (da != UINT32_MAX || db != UINT32_MAX)
		return (int)(da <= db ? a : b);
	/* Both draws full: any queue with room will do rather than refusing the call. */
	for (i = 0; i < ws->nb; i++)
		if (policy_queue_depth(d, dep, ws->ids[i]) != UINT32_MAX)
			return ws->ids[i];
	(void)fn_index;
	return -1;
}

const struct dispatch_policy policy_p2c = {
	.name = "p2c",
	.pick = policy_p2c_pick,
};
