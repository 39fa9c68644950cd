/* The RX lcore: replies classified, matched by id, counted and timed; ARP and ping answered. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_prefetch.h>

#include "gen.h"

#define RX_BURST 32
#define RX_PREFETCH 4
/* Any reply that fits a jumbo frame; the generator does not police sizes. */
#define RX_MAX_PAYLOAD (UINT16_MAX - 28)

int
rx_init(struct gen *g, char *err, size_t errlen)
{
	int socket = (int)rte_lcore_to_socket_id(g->rx_lcore);
	struct gen_rx *rx;
	unsigned int i;

	rx = rte_zmalloc_socket("gen_rx", sizeof(*rx), RTE_CACHE_LINE_SIZE, socket);
	if (rx == NULL)
		goto nomem;
	g->rx = rx;
	rx->g = g;
	rx->lat = rte_zmalloc_socket("gen_lat", g->cfg.mix.nb * sizeof(rx->lat[0]),
				     RTE_CACHE_LINE_SIZE, socket);
	if (rx->lat == NULL)
		goto nomem;
	if (!msgpack_zone_init(&rx->zone, MATCH_ZONE_CHUNK_SIZE))
		goto nomem;
	for (i = 0; i < g->cfg.mix.nb; i++) {
		hist_reset(&rx->lat[i][0]);
		hist_reset(&rx->lat[i][1]);
	}
	hist_reset(&rx->interval);
	match_stats_init(&rx->match);

	memcpy(rx->svc.mac, g->mac, sizeof(rx->svc.mac));
	rx->svc.max_payload = RX_MAX_PAYLOAD;
	if (g->cfg.reflector) {
		/* Our own request comes back: to the target's address, from ours. */
		rx->svc.ip = g->cfg.dst_ip;
		rx->svc.udp_port = g->cfg.dst_port;
		rx->expect_ip = g->cfg.src_ip;
		rx->expect_port = g->cfg.src_port;
	} else {
		rx->svc.ip = g->cfg.src_ip;
		rx->svc.udp_port = g->cfg.src_port;
		rx->expect_ip = g->cfg.dst_ip;
		rx->expect_port = g->cfg.dst_port;
	}
	rx->ns_per_tick = 1e9 / (double)g->tsc_hz;
	rx->timeout_ticks = g->tsc_hz / 1000 * g->cfg.drain_ms;
	return 0;

nomem:
	snprintf(err, errlen, "cannot allocate the RX lcore's state");
	return -ENOMEM;
}

void
rx_fini(struct gen *g)
{
	struct gen_rx *rx = g->rx;

	if (rx == NULL)
		return;
	msgpack_zone_destroy(&rx->zone);
	rte_free(rx->lat);
	rte_free(rx);
	g->rx = NULL;
}

/* The last second's latency for the live line, under a sequence lock; then a new second begins. */
static void
rx_live_publish(struct gen_rx *rx)
{
	struct gen_live *l = &rx->live;
	uint64_t seq = l->seq;

	__atomic_store_n(&l->seq, seq + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	gen_set(&l->second, rx->second);
	gen_set(&l->count, rx->interval.total);
	gen_set(&l->p50, hist_percentile(&rx->interval, 50.0));
	gen_set(&l->p99, hist_percentile(&rx->interval, 99.0));
	gen_set(&l->max, rx->interval.total ? rx->interval.max : 0);
	__atomic_store_n(&l->seq, seq + 2, __ATOMIC_RELEASE);
	hist_reset(&rx->interval);
}

static uint64_t
rx_ns(const struct gen_rx *rx, uint64_t from, uint64_t to)
{
	/* Signed: TSCs of two cores may differ by a few ticks. */
	if ((int64_t)(to - from) <= 0)
		return 0;
	return (uint64_t)((double)(to - from) * rx->ns_per_tick);
}

static void
rx_reply(struct gen_rx *rx, const uint8_t *payload, uint16_t len, uint64_t now)
{
	struct gen *g = rx->g;
	struct match_decoded d;
	struct match_slot slot;
	enum match_verdict v;
	uint64_t corrected;

	if (match_decode(payload, len, &rx->zone, &d) != 0 || !d.has_id) {
		gen_add(&rx->st.undecodable, 1);
		return;
	}
	v = match_reply(&g->match, d.id, &slot);
	match_count(&rx->match, v, &slot, &d, match_status_slot(&d, g->cfg.reflector));
	if (v != MATCH_FIRST && v != MATCH_LATE_REPLY)
		return;
	gen_add(&rx->st.answered, 1);
	corrected = rx_ns(rx, slot.intended, now);
	/* The live line shows the warm-up too; the results only the measured window. */
	hist_record(&rx->interval, corrected);
	if (slot.measured) {
		hist_record(&rx->lat[slot.entry][0], corrected);
		hist_record(&rx->lat[slot.entry][1], rx_ns(rx, slot.sent, now));
	}
}

/* Returns true when the mbuf was handed on (an ARP or ICMP reply to transmit). */
static bool
rx_one(struct gen_rx *rx, struct rte_mbuf *m, uint64_t now)
{
	struct gen *g = rx->g;
	struct frame_request req;
	enum frame_verdict v;

	if (!rte_pktmbuf_is_contiguous(m)) {
		gen_add(&rx->st.multiseg, 1);
		return false;
	}
	/* Turbine's own classifier: a kernel server's replies, checksum left partial, pass here too. */
	v = frame_classify(rte_pktmbuf_mtod(m, uint8_t *), rte_pktmbuf_data_len(m), &rx->svc,
			   FRAME_VERIFY_ALL, &req);
	switch (v) {
	case FRAME_REQUEST:
		if (req.src_ip != rx->expect_ip || req.src_port != rx->expect_port) {
			gen_add(&rx->st.foreign, 1);
			return false;
		}
		rx_reply(rx, rte_pktmbuf_mtod_offset(m, const uint8_t *, req.payload_offset),
			 req.payload_len, now);
		return false;
	case FRAME_ARP_REPLY:
	case FRAME_ICMP_REPLY:
		/* With a reflector the frame was read as the target's: not ours to answer. */
		if (g->cfg.reflector || rte_ring_sp_enqueue(g->ctl, m) != 0) {
			gen_add(&rx->st.other, 1);
			return false;
		}
		gen_add(v == FRAME_ARP_REPLY ? &rx->st.arp_replies : &rx->st.icmp_replies, 1);
		return true;
	default:
		gen_add(&rx->st.other, 1);
		return false;
	}
}

void
rx_poll(struct gen_rx *rx)
{
	struct gen *g = rx->g;
	struct rte_mbuf *pkts[RX_BURST];
	struct rte_mbuf *done[RX_BURST];
	uint16_t n, i, nb_done = 0;
	uint64_t now, expired;

	n = rte_eth_rx_burst(g->port_id, 0, pkts, RX_BURST);
	now = rte_rdtsc();
	if (n > 0) {
		gen_add(&rx->st.rx_packets, n);
		for (i = 0; i < n && i < RX_PREFETCH; i++)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void *));
		for (i = 0; i < n; i++) {
			if (i + RX_PREFETCH < n)
				rte_prefetch0(rte_pktmbuf_mtod(pkts[i + RX_PREFETCH], void *));
			if (!rx_one(rx, pkts[i], now))
				done[nb_done++] = pkts[i];
		}
		rte_pktmbuf_free_bulk(done, nb_done);
	}
	expired = match_expire(&g->match, now, rx->timeout_ticks);
	if (expired > 0)
		gen_add(&rx->st.expired, expired);
	/* The first snapshot is due one second after the start, then one a second. */
	if (now >= rx->next_tick) {
		if (rx->next_tick != 0)
			rx_live_publish(rx);
		rx->second = rx->next_tick == 0 ? 1 : rx->second + 1;
		rx->next_tick = g->t_start + rx->second * g->tsc_hz;
	}
}

bool
rx_finished(struct gen_rx *rx, uint64_t now)
{
	struct gen *g = rx->g;

	if (!__atomic_load_n(&g->tx_done, __ATOMIC_ACQUIRE))
		return false;
	if (rx->st.answered < g->match.next_seq && now < g->t_sent_end + rx->timeout_ticks)
		return false;
	g->t_finish = now;
	return true;
}

int
rx_main(void *arg)
{
	struct gen *g = arg;
	struct gen_rx *rx = g->rx;

	while (!__atomic_load_n(&g->quit, __ATOMIC_RELAXED)) {
		rx_poll(rx);
		if (rx_finished(rx, rte_rdtsc()))
			__atomic_store_n(&g->quit, 1, __ATOMIC_RELAXED);
	}
	return 0;
}
