/* Data-plane counters: one list, per-lcore copies, summed by whoever reads them. */
#ifndef TURBINE_COUNTERS_H
#define TURBINE_COUNTERS_H

#include <stdint.h>

#include <rte_common.h>
#include <rte_lcore.h>

#include "frame.h"

/*
 * The order is the order of the stats output. Drop reasons come from the
 * classifier's own list so that a new reason cannot go uncounted.
 */
#define COUNTERS_LIST(X)                                                         \
	X(rx_packets)                                                            \
	X(tx_packets)                                                            \
	X(requests)          /* datagrams to the service port */                 \
	X(responses)         /* responses handed to the port */                  \
	X(arp_replies)                                                           \
	X(icmp_replies)                                                          \
	X(status_200)                                                            \
	X(status_202)                                                            \
	X(status_204)                                                            \
	X(status_400)                                                            \
	X(status_403)                                                            \
	X(status_404)                                                            \
	X(status_413)                                                            \
	X(status_429)                                                            \
	X(status_500)                                                            \
	X(status_502)                                                            \
	X(status_503)                                                            \
	X(fn_errors)         /* 200 with fn_error: Unhandled */                  \
	X(fn_timeouts)       /* of which Sandbox.Timedout */                     \
	X(late_results_discarded) /* handlers that returned after their call was answered Timedout */ \
	X(cold_starts)       /* first calls of an environment */                 \
	X(sandbox_crashes)   /* a sandbox died in a call: Runtime.ExitError/OutOfMemory */ \
	X(sandbox_kills)     /* a sandbox killed at a call's deadline: Sandbox.Timedout */ \
	X(rx_csum_partial)   /* UDP checksum the sender left partial */          \
	X(queued_runs)       /* Events the asynchronous queue handed this lcore to run */ \
	X(queued_answers)    /* their answers, back to the queue (not in responses) */ \
	X(queued_runs_expired) /* handed over too late: the queue had given up on them */ \
	X(queue_intake_full) /* Events answered 429 AsyncQueueFull: the queue's intake ring was full */ \
	FRAME_DROP_REASONS(X)                                                    \
	X(drop_tx_full)      /* the port's queue and the TX backlog were both full */ \
	X(drop_multiseg)     /* a frame spread over several buffers */           \
	X(drop_ring_full)    /* answered 503: no worker ring had room */         \
	X(drop_alloc)        /* no buffer to build a reply in */

enum counter_id {
#define COUNTER_ENUM(name) COUNTER_##name,
	COUNTERS_LIST(COUNTER_ENUM)
#undef COUNTER_ENUM
	COUNTER_MAX
};

/* One lcore's counters, written only by that lcore. */
struct counters {
	uint64_t v[COUNTER_MAX];
} __rte_cache_aligned;

extern const char *const counter_names[COUNTER_MAX];

/* Every lcore's counters, indexed by lcore id; each lcore writes only its own. */
extern struct counters counters_lcore[RTE_MAX_LCORE];

static inline struct counters *
counters_of_lcore(unsigned int lcore_id)
{
	return &counters_lcore[lcore_id];
}

static inline void
counters_inc(struct counters *c, enum counter_id id)
{
	c->v[id]++;
}

static inline void
counters_add(struct counters *c, enum counter_id id, uint64_t n)
{
	c->v[id] += n;
}

/* The counter a response status is counted under; COUNTER_MAX when none. */
enum counter_id counters_for_status(unsigned int status);

/* Sum every lcore's counters into *sum (a racy but tear-free read of each 64-bit word). */
void counters_sum(struct counters *sum);

#endif /* TURBINE_COUNTERS_H */
