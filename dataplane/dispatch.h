/* The dispatcher: receive, classify, parse, admit, and hand requests to workers. */
#ifndef TURBINE_DISPATCH_H
#define TURBINE_DISPATCH_H

#include <stdbool.h>
#include <stdint.h>

#include <msgpack.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "counters.h"
#include "counting.h"
#include "frame.h"
#include "request.h"
#include "request_desc.h"
#include "runtime.h"
#include "tx.h"
#include "watchdog.h"

struct dispatcher {
	/* Hot, read every loop. */
	unsigned int id;
	uint16_t rx_queue;
	struct counters *counters;
	struct worker *local;       /* this lcore also works: run to completion */
	struct tx_queue tx;
	struct counting_view counting; /* this dispatcher's admission state and the workers' counts */

	unsigned int lcore_id;
	const uint8_t *worker_out;  /* runtime.worker_out: workers not to send to */
	struct rte_ring *to_worker[RUNTIME_MAX_WORKERS];   /* SP/SC, this dispatcher -> worker w */
	struct rte_ring *from_worker[RUNTIME_MAX_WORKERS]; /* SP/SC, worker w -> this dispatcher, replies */
	uint32_t next_worker[CONFIG_MAX_FUNCTIONS];        /* round-robin cursor per function */
	struct watchdog watchdog;   /* the deadlines of the calls it sent (watchdog.h) */

	/*
	 * Set once the quit flag was seen. Every worker reads it on every loop
	 * (lcore.c), so it has a cache line to itself: on a line with the TX
	 * batch above, which this dispatcher writes on every loop, each write
	 * would take the line from every worker. Last, so that nothing can be
	 * added after it on its line (dispatch.c checks the layout).
	 */
	int rx_stopped __rte_cache_aligned;
} __rte_cache_aligned;

int dispatch_create(struct runtime *rt, unsigned int id, unsigned int lcore_id, uint16_t rx_queue,
		    uint16_t tx_queue);
int dispatch_connect(struct runtime *rt, struct dispatcher *d, struct worker *w);
void dispatch_free(struct dispatcher *d);

/* One loop iteration: a burst off the RX queue (unless stopped), replies back from workers, TX. */
void dispatch_poll(struct runtime *rt, struct dispatcher *d);

/* Send the replies workers handed back (no own TX queues). Returns how many. */
unsigned int dispatch_collect(const struct runtime *rt, struct dispatcher *d);

/*
 * A call d admitted, back in its hands from a stuck worker: hand it to
 * another environment of its function (the policy passes over workers out
 * of dispatch), or answer 503 saying why none can take it.
 */
void dispatch_requeue(const struct runtime *rt, struct dispatcher *d, struct rte_mbuf *m);

/*
 * Answer 503 (the dispatcher is stopping) to every call queued from d to
 * worker w, whose rings d has taken over (watchdog_take()). Returns how many.
 */
unsigned int dispatch_refuse_queued(const struct runtime *rt, struct dispatcher *d,
				    unsigned int w);

#endif /* TURBINE_DISPATCH_H */
