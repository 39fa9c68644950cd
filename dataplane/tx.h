/* Transmit: per-lcore TX batches with a backlog; nothing the port refuses goes uncounted. */
#ifndef TURBINE_TX_H
#define TURBINE_TX_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_mbuf.h>

#include "counters.h"

#define TX_BURST 32
/*
 * Replies held while the port's queue is full, rather than dropped: a
 * receiver that stalls for a moment (a busy client core, a hypervisor
 * hiccup) stops draining the queue, and these carry over to the next
 * loop. Only when the backlog too is full is a reply dropped (counted).
 */
#define TX_BACKLOG 1024

/* One lcore's batch for one TX queue; only that lcore touches it. */
struct tx_queue {
	uint16_t port_id;
	uint16_t queue_id;
	uint16_t len;
	struct counters *counters;
	struct rte_mbuf *pkts[TX_BACKLOG];
};

void tx_queue_init(struct tx_queue *q, uint16_t port_id, uint16_t queue_id,
		   struct counters *counters);

/* Hand the port what it takes now; the rest waits in the backlog for the next call. */
void tx_flush(struct tx_queue *q);

/* At shutdown: keep flushing until the backlog is sent or `timeout_ms` passes; drop the rest (counted). */
void tx_drain(struct tx_queue *q, unsigned int timeout_ms);

/*
 * tx_send_port() from a burst's last place on: the batch is flushed once it
 * holds a burst; counted as drop_tx_full when even the backlog is full.
 */
void tx_send_slow(struct tx_queue *q, struct rte_mbuf *m);

/* Queue a frame for the port, bypassing the queued-answer test below. */
static inline void
tx_send_port(struct tx_queue *q, struct rte_mbuf *m)
{
	/* Short of a burst there is room and nothing to flush: one comparison decides both. */
	if (likely(q->len < TX_BURST - 1)) {
		q->pkts[q->len++] = m;
		return;
	}
	tx_send_slow(q, m);
}

/*
 * The answers of Events the asynchronous queue ran carry this mbuf flag
 * (a dynamic flag; 0 until the queue registers it) and go to this ring
 * instead of a port: every reply, whoever builds it (a worker, a
 * dispatcher's deadline, a refusal), passes through tx_send().
 */
extern uint64_t tx_queued_flag;
extern struct rte_ring *tx_queued_answers;

/* Hand a queued Event's answer back to the queue. */
void tx_send_queued(struct rte_mbuf *m);

static inline void
tx_send(struct tx_queue *q, struct rte_mbuf *m)
{
	if (unlikely(m->ol_flags & tx_queued_flag)) {
		tx_send_queued(m);
		return;
	}
	tx_send_port(q, m);
}

#endif /* TURBINE_TX_H */
