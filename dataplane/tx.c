/* Transmit: per-lcore TX batches with a backlog; nothing the port refuses goes uncounted. */
#include <string.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_pause.h>
#include <rte_ring.h>

#include "tx.h"

uint64_t tx_queued_flag;
struct rte_ring *tx_queued_answers;

void
tx_send_queued(struct rte_mbuf *m)
{
	/* The queue keeps fewer Events running than the ring holds: this never waits long. */
	while (rte_ring_mp_enqueue(tx_queued_answers, m) != 0)
		rte_pause();
}

void
tx_queue_init(struct tx_queue *q, uint16_t port_id, uint16_t queue_id, struct counters *counters)
{
	q->port_id = port_id;
	q->queue_id = queue_id;
	q->len = 0;
	q->counters = counters;
}

/* A full TX queue usually drains within a few tries; past that the rest waits in the backlog. */
#define TX_RETRIES 8

void
tx_flush(struct tx_queue *q)
{
	unsigned int tries;
	uint16_t sent = 0;

	if (q->len == 0)
		return;
	for (tries = 0; sent < q->len && tries < TX_RETRIES; tries++)
		sent += rte_eth_tx_burst(q->port_id, q->queue_id, q->pkts + sent, q->len - sent);
	counters_add(q->counters, COUNTER_tx_packets, sent);
	if (sent == q->len) {
		q->len = 0;
		return;
	}
	/* Oldest first: what the port did not take goes to the front, in order. */
	memmove(q->pkts, q->pkts + sent, (q->len - sent) * sizeof(q->pkts[0]));
	q->len -= sent;
}

void
tx_send_slow(struct tx_queue *q, struct rte_mbuf *m)
{
	if (q->len == TX_BACKLOG) {
		tx_flush(q);
		if (q->len == TX_BACKLOG) {
			counters_inc(q->counters, COUNTER_drop_tx_full);
			rte_pktmbuf_free(m);
			return;
		}
	}
	q->pkts[q->len++] = m;
	if (q->len >= TX_BURST)
		tx_flush(q);
}

void
tx_drain(struct tx_queue *q, unsigned int timeout_ms)
{
	uint64_t deadline = rte_rdtsc() + rte_get_tsc_hz() / 1000 * timeout_ms;

	for (tx_flush(q); q->len != 0 && rte_rdtsc() < deadline; tx_flush(q))
		rte_delay_us_block(10);
	if (q->len != 0) {
		counters_add(q->counters, COUNTER_drop_tx_full, q->len);
		rte_pktmbuf_free_bulk(q->pkts, q->len);
		q->len = 0;
	}
}
