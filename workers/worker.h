/* A worker lcore: warm environments of its functions, and the loop that runs requests on them. */
#ifndef TURBINE_WORKER_H
#define TURBINE_WORKER_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_mbuf.h>
#include <rte_ring.h>

#include "config.h"
#include "counters.h"
#include "counting.h"
#include "invoke.h"
#include "module.h"
#include "runtime.h"
#include "tx.h"

struct worker {
	unsigned int id;            /* 0-based, stable: the handler's ctx->worker_id */
	unsigned int lcore_id;
	struct counters *counters;
	struct counting_worker *counting; /* calls finished, per admitting dispatcher */
	struct tx_queue tx;         /* used when the port gave workers their own TX queues */
	int done;                   /* set when drained at shutdown; dispatchers read it */
	unsigned int nb_inbound;
	struct rte_ring *inbound[RUNTIME_MAX_DISPATCHERS];  /* from each dispatcher */
	struct rte_ring *outbound[RUNTIME_MAX_DISPATCHERS]; /* replies back, when no own TX queue */
	struct environment envs[CONFIG_MAX_FUNCTIONS];      /* by function index */
	struct invoke_scratch scratch;
} __rte_cache_aligned;

int worker_create(struct runtime *rt, unsigned int id, unsigned int lcore_id, int tx_queue);
/* Run function f's init for this worker (control context, before the worker gets its traffic). */
const struct environment *worker_init_environment(struct runtime *rt, struct worker *w,
						  unsigned int f);
void worker_fini_environments(struct runtime *rt, struct worker *w);
void worker_free(struct worker *w);

/* Run one admitted request and turn its mbuf into the reply. 0: transmit it; -1: free it (counted). */
int worker_invoke(const struct runtime *rt, struct worker *w, struct counters *c,
		   struct rte_mbuf *m);

/* One loop iteration: requests from every dispatcher. Returns how many ran. */
unsigned int worker_poll(struct runtime *rt, struct worker *w);

#endif /* TURBINE_WORKER_H */
