/* Transmit: per-lcore TX batches; nothing the port refuses goes uncounted. */
#ifndef TURBINE_TX_H
#define TURBINE_TX_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_mbuf.h>

#include "counters.h"

#define TX_BURST 32

/* One lcore's batch for one TX queue; only that lcore touches it. */
struct tx_queue {
	uint16_t port_id;
	uint16_t queue_id;
	uint16_t len;
	struct counters *counters;
	struct rte_mbuf *pkts[TX_BURST];
};

void tx_queue_init(struct tx_queue *q, uint16_t port_id, uint16_t queue_id,
		   struct counters *counters);

/* Send what is batched. What the port will not take after a few tries is counted and freed. */
void tx_flush(struct tx_queue *q);

static inline void
tx_send(struct tx_queue *q, struct rte_mbuf *m)
{
	q->pkts[q->len++] = m;
	if (q->len == TX_BURST)
		tx_flush(q);
}

#endif /* TURBINE_TX_H */
