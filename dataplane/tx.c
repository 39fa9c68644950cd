/* Transmit: per-lcore TX batches; nothing the port refuses goes uncounted. */
#include <rte_ethdev.h>

#include "tx.h"

/* A full TX ring usually drains within a few polls; past that, the frame is dropped and counted. */
#define TX_RETRIES 8

void
tx_queue_init(struct tx_queue *q, uint16_t port_id, uint16_t queue_id, struct counters *counters)
{
	q->port_id = port_id;
	q->queue_id = queue_id;
	q->len = 0;
	q->counters = counters;
}

void
tx_flush(struct tx_queue *q)
{
	uint16_t sent = 0;
	unsigned int tries;

	if (q->len == 0)
		return;
	for (tries = 0; sent < q->len && tries < TX_RETRIES; tries++)
		sent += rte_eth_tx_burst(q->port_id, q->queue_id, q->pkts + sent, q->len - sent);
	counters_add(q->counters, COUNTER_tx_packets, sent);
	if (sent < q->len) {
		counters_add(q->counters, COUNTER_drop_tx_full, q->len - sent);
		rte_pktmbuf_free_bulk(q->pkts + sent, q->len - sent);
	}
	q->len = 0;
}
