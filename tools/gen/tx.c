/* The TX lcore: requests on the schedule (or as the window frees), stamped, tracked, never dropped. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>

#include "gen.h"

/* The mix draws from its own stream, apart from the Poisson schedule's. */
#define TX_MIX_SEED_SALT 0x6d69782d73656564ULL
#define TX_IP_UDP_HEADERS 28

int
tx_init(struct gen *g, char *err, size_t errlen)
{
	struct frame_service from = { 0 };
	struct frame_request to = { 0 };
	struct gen_tx *tx;
	unsigned int i;

	tx = rte_zmalloc_socket("gen_tx", sizeof(*tx), RTE_CACHE_LINE_SIZE,
				(int)rte_lcore_to_socket_id(g->tx_lcore));
	if (tx == NULL) {
		snprintf(err, errlen, "cannot allocate the TX lcore's state");
		return -ENOMEM;
	}
	tx->g = g;
	g->tx = tx;
	memcpy(from.mac, g->mac, sizeof(from.mac));
	from.ip = g->cfg.src_ip;
	from.udp_port = g->cfg.src_port;
	memcpy(to.src_mac, g->dst_mac, sizeof(to.src_mac));
	to.src_ip = g->cfg.dst_ip;
	to.src_port = g->cfg.dst_port;
	for (i = 0; i < g->cfg.mix.nb; i++) {
		const struct mix_entry *e = &g->cfg.mix.entries[i];

		if (e->payload_len > g->mtu - TX_IP_UDP_HEADERS) {
			snprintf(err, errlen, "%s: the request is %u bytes, more than port %u's MTU of "
				 "%u allows (%u)", e->fn, e->payload_len, g->port_id, g->mtu,
				 g->mtu - TX_IP_UDP_HEADERS);
			return -EMSGSIZE;
		}
		stamp_build(&tx->stamps[i], &from, &to, e->payload, e->payload_len,
			    g->tx_cksum_offload);
	}
	rng_seed(&tx->mix_rng, g->cfg.seed ^ TX_MIX_SEED_SALT);
	tx->late_ticks = g->tsc_hz / (1000000000u / GEN_LATE_NS);
	return 0;
}

void
tx_fini(struct gen *g)
{
	struct gen_tx *tx = g->tx;

	if (tx == NULL)
		return;
	rte_pktmbuf_free_bulk(tx->pending, tx->nb_pending);
	rte_pktmbuf_free_bulk(tx->cache, tx->nb_cache);
	rte_free(tx);
	g->tx = NULL;
}

void
tx_start(struct gen_tx *tx)
{
	struct gen *g = tx->g;

	if (g->cfg.load == GEN_LOAD_OPEN)
		pacing_init(&tx->pacing, g->cfg.poisson ? PACING_POISSON : PACING_FIXED, g->cfg.rate,
			    g->tsc_hz, g->t_start, g->cfg.seed);
}

/* ARP and ICMP replies the RX lcore prepared: this lcore owns the TX queue. */
static void
tx_ctl(struct gen_tx *tx)
{
	struct gen *g = tx->g;
	struct rte_mbuf *pkts[32];
	unsigned int n;
	uint16_t k;

	n = rte_ring_sc_dequeue_burst(g->ctl, (void **)pkts, RTE_DIM(pkts), NULL);
	if (n == 0)
		return;
	k = rte_eth_tx_burst(g->port_id, 0, pkts, (uint16_t)n);
	gen_add(&tx->st.ctl_sent, k);
	if (k < n) {
		gen_add(&tx->st.ctl_dropped, n - k);
		rte_pktmbuf_free_bulk(pkts + k, n - k);
	}
}

/* Hand the port what it refused before; they leave now, so their send time is now. */
static uint16_t
tx_flush(struct gen_tx *tx, uint64_t now)
{
	struct gen *g = tx->g;
	uint16_t i, k;

	for (i = 0; i < tx->nb_pending; i++)
		match_restamp(&g->match, tx->pending_ids[i], now);
	k = rte_eth_tx_burst(g->port_id, 0, tx->pending, tx->nb_pending);
	tx->nb_pending -= k;
	memmove(tx->pending, tx->pending + k, tx->nb_pending * sizeof(tx->pending[0]));
	memmove(tx->pending_ids, tx->pending_ids + k, tx->nb_pending * sizeof(tx->pending_ids[0]));
	return tx->nb_pending;
}

/* The window is over: what the schedule had due in it and could not send is counted, not hidden. */
static void
tx_finish(struct gen_tx *tx, uint64_t now, uint64_t end)
{
	struct gen *g = tx->g;
	uint64_t unsent = 0;

	if (g->cfg.load == GEN_LOAD_OPEN) {
		while (pacing_next(&tx->pacing) < end) {
			if (pacing_next(&tx->pacing) >= g->t_measure)
				unsent++;
			pacing_advance(&tx->pacing);
		}
	}
	gen_set(&tx->st.unsent, unsent);
	if (tx->nb_pending > 0) {
		gen_add(&tx->st.abandoned, tx->nb_pending);
		rte_pktmbuf_free_bulk(tx->pending, tx->nb_pending);
		tx->nb_pending = 0;
	}
	tx->done = true;
	g->t_sent_end = now;
	__atomic_store_n(&g->tx_done, 1, __ATOMIC_RELEASE);
}

static void
tx_build(struct gen_tx *tx, struct rte_mbuf *m, unsigned int entry, uint64_t intended,
	 uint64_t sent, uint64_t *id)
{
	struct gen *g = tx->g;
	const struct stamp *s = &tx->stamps[entry];
	uint8_t *data = rte_pktmbuf_mtod(m, uint8_t *);
	bool measured = intended >= g->t_measure;

	memcpy(data, s->frame, s->len);
	m->data_len = m->pkt_len = s->len;
	if (s->cksum_offload) {
		m->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_UDP_CKSUM;
		m->l2_len = sizeof(struct rte_ether_hdr);
		m->l3_len = sizeof(struct rte_ipv4_hdr);
	}
	*id = match_track(&g->match, intended, sent, (uint16_t)entry, measured);
	stamp_id(s, data, *id);
	if (measured) {
		uint64_t lag = sent > intended ? sent - intended : 0;

		gen_add(&tx->st.sent_measured, 1);
		gen_add(&tx->st.entry_sent[entry], 1);
		if (lag > tx->late_ticks)
			gen_add(&tx->st.late_sends, 1);
		if (lag > tx->st.max_lag)
			gen_set(&tx->st.max_lag, lag);
	} else {
		gen_add(&tx->st.sent_warmup, 1);
	}
}

/* What may go now: due on the schedule (open loop) or free in the window, and room to track it. */
static bool
tx_may_send(struct gen_tx *tx, uint64_t now, uint64_t end, uint64_t *intended)
{
	struct gen *g = tx->g;
	bool full;

	if (g->cfg.load == GEN_LOAD_OPEN) {
		*intended = pacing_next(&tx->pacing);
		if (*intended > now || *intended >= end)
			return false;
	} else {
		*intended = now;
	}
	full = g->cfg.outstanding != 0 && match_in_flight(&g->match) >= g->cfg.outstanding;
	/* A full window is the closed loop's normal state; for an open loop it holds requests back. */
	if (full && g->cfg.load == GEN_LOAD_OPEN && !tx->waiting[0])
		gen_add(&tx->st.window_waits, 1);
	tx->waiting[0] = full;
	if (full)
		return false;
	full = !match_has_room(&g->match);
	if (full && !tx->waiting[1])
		gen_add(&tx->st.table_waits, 1);
	tx->waiting[1] = full;
	return !full;
}

static void
tx_send(struct gen_tx *tx, uint64_t end)
{
	struct gen *g = tx->g;
	struct rte_mbuf *pkts[GEN_BURST_MAX];
	uint64_t ids[GEN_BURST_MAX];
	uint16_t burst = (uint16_t)g->cfg.burst;
	uint16_t n = 0, k;
	uint64_t now, intended;

	if (tx->nb_cache < burst) {
		if (rte_pktmbuf_alloc_bulk(g->pool, tx->cache + tx->nb_cache, burst - tx->nb_cache) == 0)
			tx->nb_cache = burst;
		else
			gen_add(&tx->st.alloc_failures, 1);
	}
	now = rte_rdtsc();
	while (n < burst && tx->nb_cache > 0 && tx_may_send(tx, now, end, &intended)) {
		unsigned int entry = mix_pick(&g->cfg.mix, rng_next(&tx->mix_rng));

		pkts[n] = tx->cache[--tx->nb_cache];
		tx_build(tx, pkts[n], entry, intended, now, &ids[n]);
		n++;
		if (g->cfg.load == GEN_LOAD_OPEN)
			pacing_advance(&tx->pacing);
	}
	if (n == 0)
		return;
	gen_add(&tx->st.sent, n);
	k = rte_eth_tx_burst(g->port_id, 0, pkts, n);
	if (k < n) {
		/* Kept and retried first thing next time: a request is late, never dropped. */
		gen_add(&tx->st.short_bursts, 1);
		memcpy(tx->pending, pkts + k, (n - k) * sizeof(pkts[0]));
		memcpy(tx->pending_ids, ids + k, (n - k) * sizeof(ids[0]));
		tx->nb_pending = n - k;
	}
}

void
tx_poll(struct gen_tx *tx)
{
	struct gen *g = tx->g;
	uint64_t now = rte_rdtsc();
	uint64_t end;

	tx_ctl(tx);
	if (tx->done)
		return;
	if (__atomic_load_n(&g->stop, __ATOMIC_RELAXED) && now < g->t_end) {
		/*
		 * Interrupted: the measured window ends once what is due by now has
		 * gone out; during the warm-up it becomes empty.
		 */
		if (now < g->t_measure)
			__atomic_store_n(&g->t_measure, now + 1, __ATOMIC_RELAXED);
		__atomic_store_n(&g->t_end, now + 1, __ATOMIC_RELAXED);
		g->interrupted = true;
	}
	end = g->t_end;
	if (tx->nb_pending > 0 && tx_flush(tx, now) > 0 &&
	    now < end + g->tsc_hz / 1000 * g->cfg.drain_ms)
		return;
	if (now >= end) {
		tx_finish(tx, now, end);
		return;
	}
	tx_send(tx, end);
}

int
tx_main(void *arg)
{
	struct gen *g = arg;

	while (!__atomic_load_n(&g->quit, __ATOMIC_RELAXED))
		tx_poll(g->tx);
	return 0;
}
