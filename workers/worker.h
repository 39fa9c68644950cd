/* A worker lcore: warm environments of its functions, and the loop that runs requests on them. */
#ifndef TURBINE_WORKER_H
#define TURBINE_WORKER_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_mbuf.h>
#include <rte_ring.h>

#include "call_slot.h"
#include "config.h"
#include "counters.h"
#include "hist.h"
#include "counting.h"
#include "handover.h"
#include "invoke.h"
#include "module.h"
#include "runtime.h"
#include "tx.h"

/*
 * One function's figures on one worker: written by the worker, read by
 * telemetry. A watchdog answering a call sent to the worker adds to
 * fn_errors and timeouts too: those two are atomic adds on both sides.
 */
struct worker_fn_stats {
	uint64_t calls;
	uint64_t fn_errors;
	uint64_t timeouts;
	struct hist latency;        /* time inside the handler, ns */
};

struct worker_sandboxes;

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
	struct invoke_scratch scratch;

	/* Read by the control thread: liveness and load. */
	uint64_t heartbeat_tsc;     /* when the loop last came round */
	uint64_t busy_tsc;          /* cycles spent inside handlers */
	struct handover handover;   /* its inbound rings, taken over when it is stuck (handover.h) */
	struct worker_sandboxes *sandboxes; /* process-mode environments (worker_sandbox.h); NULL
					       when no function has isolation = "process" */
	uint64_t ns_per_tsc_q32;    /* for hist_tsc_to_ns() */
	struct worker_fn_stats *stats; /* by function index */
	/* The call in its handler, and the burst dequeued with it: on lines of their own,
	 * read by the watchdogs of the dispatchers that feed it (call_slot.h). */
	struct call_slot slot;
} __rte_cache_aligned;

int worker_create(struct runtime *rt, unsigned int id, unsigned int lcore_id, int tx_queue);
/* Per-function figures, once the function table is known. */
int worker_stats_init(struct runtime *rt, struct worker *w);
void worker_free(struct worker *w);

/* worker_invoke(): its dispatcher answered the call at the deadline; this result is discarded. */
#define WORKER_LATE 1

/*
 * Run one admitted request and turn its mbuf into the reply. 0: transmit
 * it; -1: free it (counted); WORKER_LATE: free it, the handler returned
 * after its dispatcher's watchdog answered Sandbox.Timedout (counted as
 * late_results_discarded); WORKER_HELD (worker_sandbox.h): a sandbox runs
 * it, and the worker's loop transmits its answer later. A call whose
 * deadline passed before it started is answered Sandbox.Timedout without
 * running. When it ran a handler, *now is the TSC read as the handler
 * returned; otherwise *now is left as it was.
 */
int worker_invoke(const struct runtime *rt, struct worker *w, struct counters *c,
		   struct rte_mbuf *m, uint64_t *now);

/* The handler's arguments for the call in `m`; without `dep`, no environment or version. */
void worker_args(const struct runtime *rt, const struct worker *w, struct rte_mbuf *m,
		 struct deployment *dep, struct invoke_args *args);

/* Send the answer a call's mbuf now holds: the worker's TX queue, or its dispatcher's ring. */
void worker_send_reply(const struct runtime *rt, struct worker *w, struct rte_mbuf *m);

/* One loop iteration: requests from every dispatcher. Returns how many ran. Takes none
 * while a taker holds its rings (handover.h). */
unsigned int worker_poll(struct runtime *rt, struct worker *w);

/*
 * For a worker that is stuck or stopped beating (or has not finished at
 * shutdown): since when it has been busy, in TSC cycles, and in which
 * function (*fn, an index in runtime.functions; -1 when it is not inside a
 * call but its loop still does not come round). Racy reads of a worker
 * that is not stuck give a recent call's figures, which is all a message
 * needs.
 */
uint64_t worker_busy_since(const struct worker *w, int *fn);

#endif /* TURBINE_WORKER_H */
