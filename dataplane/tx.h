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

/* Queue a frame for transmission; counted as drop_tx_full when even the backlog is full. */
void tx_send_slow(struct tx_queue *q, struct rte_mbuf *m);

static inline void
tx_send(struct tx_queue *q, struct rte_mbuf *m)
{
	if (q->len == TX_BACKLOG) {
		tx_send_slow(q, m);
		return;
	}
	q->pkts[q->len++] = m;
	if (q->len >= TX_BURST)
		tx_flush(q);
}

#endif /* TURBINE_TX_H */
