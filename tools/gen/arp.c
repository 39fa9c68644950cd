/* ARP, as a host does it: ask who has the target's address, read the answer. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <rte_arp.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_mbuf.h>

#include "arp.h"
#include "gen.h"

/* A host repeats an unanswered request; once every 200 ms resolves quickly without flooding. */
#define ARP_RETRY_MS 200

/*
 * Fields by offset and memcpy, as frame.c does: DPDK's Ethernet and ARP
 * structs want 2-byte alignment that a test's buffer need not have.
 */
#define ARP_ETH_LEN  ((uint32_t)sizeof(struct rte_ether_hdr))
#define ARP_OFF(f)   (ARP_ETH_LEN + offsetof(struct rte_arp_hdr, f))
#define ARP_DATA(f)  (ARP_ETH_LEN + offsetof(struct rte_arp_hdr, arp_data) + \
		      offsetof(struct rte_arp_ipv4, f))

static void
arp_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint16_t
arp_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

void
arp_request_build(uint8_t *frame, const uint8_t mac[6], uint32_t ip, uint32_t target_ip)
{
	memset(frame, 0, ARP_FRAME_LEN);
	memset(frame + offsetof(struct rte_ether_hdr, dst_addr), 0xff, RTE_ETHER_ADDR_LEN);
	memcpy(frame + offsetof(struct rte_ether_hdr, src_addr), mac, RTE_ETHER_ADDR_LEN);
	arp_put16(frame + offsetof(struct rte_ether_hdr, ether_type), RTE_ETHER_TYPE_ARP);
	arp_put16(frame + ARP_OFF(arp_hardware), RTE_ARP_HRD_ETHER);
	arp_put16(frame + ARP_OFF(arp_protocol), RTE_ETHER_TYPE_IPV4);
	frame[ARP_OFF(arp_hlen)] = RTE_ETHER_ADDR_LEN;
	frame[ARP_OFF(arp_plen)] = sizeof(uint32_t);
	arp_put16(frame + ARP_OFF(arp_opcode), RTE_ARP_OP_REQUEST);
	memcpy(frame + ARP_DATA(arp_sha), mac, RTE_ETHER_ADDR_LEN);
	memcpy(frame + ARP_DATA(arp_sip), &ip, sizeof(ip));
	memcpy(frame + ARP_DATA(arp_tip), &target_ip, sizeof(target_ip));
}

bool
arp_reply_parse(const uint8_t *frame, uint32_t len, uint32_t target_ip, uint8_t mac[6])
{
	uint32_t sip;

	if (len < ARP_ETH_LEN + sizeof(struct rte_arp_hdr) ||
	    arp_get16(frame + offsetof(struct rte_ether_hdr, ether_type)) != RTE_ETHER_TYPE_ARP ||
	    arp_get16(frame + ARP_OFF(arp_hardware)) != RTE_ARP_HRD_ETHER ||
	    arp_get16(frame + ARP_OFF(arp_protocol)) != RTE_ETHER_TYPE_IPV4 ||
	    frame[ARP_OFF(arp_hlen)] != RTE_ETHER_ADDR_LEN ||
	    frame[ARP_OFF(arp_plen)] != sizeof(uint32_t) ||
	    arp_get16(frame + ARP_OFF(arp_opcode)) != RTE_ARP_OP_REPLY)
		return false;
	memcpy(&sip, frame + ARP_DATA(arp_sip), sizeof(sip));
	if (sip != target_ip)
		return false;
	memcpy(mac, frame + ARP_DATA(arp_sha), RTE_ETHER_ADDR_LEN);
	return true;
}

static void
arp_send_request(struct gen *g)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(g->pool);

	if (m == NULL)
		return;
	arp_request_build(rte_pktmbuf_mtod(m, uint8_t *), g->mac, g->cfg.src_ip, g->cfg.dst_ip);
	m->data_len = m->pkt_len = ARP_FRAME_LEN;
	if (rte_eth_tx_burst(g->port_id, 0, &m, 1) != 1)
		rte_pktmbuf_free(m);
}

/* Poll for the reply; anything else that arrives now is not ours to keep. */
static bool
arp_poll(struct gen *g)
{
	struct rte_mbuf *pkts[32];
	bool found = false;
	uint16_t n, i;

	n = rte_eth_rx_burst(g->port_id, 0, pkts, RTE_DIM(pkts));
	for (i = 0; i < n; i++) {
		if (!found && rte_pktmbuf_is_contiguous(pkts[i]) &&
		    arp_reply_parse(rte_pktmbuf_mtod(pkts[i], const uint8_t *),
				    rte_pktmbuf_data_len(pkts[i]), g->cfg.dst_ip, g->dst_mac))
			found = true;
	}
	rte_pktmbuf_free_bulk(pkts, n);
	return found;
}

int
arp_resolve(struct gen *g, char *err, size_t errlen)
{
	uint64_t hz = rte_get_tsc_hz();
	uint64_t start = rte_rdtsc();
	uint64_t deadline = start + hz * g->cfg.arp_timeout_ms / 1000;
	uint64_t next = start, now;
	char ip[INET_ADDRSTRLEN];

	if (g->cfg.has_dst_mac) {
		memcpy(g->dst_mac, g->cfg.dst_mac, sizeof(g->dst_mac));
		g->dst_mac_from = "--dst-mac";
		return 0;
	}
	/* A reflector swaps MAC addresses and nothing else: any address reaches it. */
	if (g->cfg.reflector) {
		memset(g->dst_mac, 0xff, sizeof(g->dst_mac));
		g->dst_mac_from = "reflector";
		return 0;
	}
	for (now = start; now < deadline; now = rte_rdtsc()) {
		if (now >= next) {
			arp_send_request(g);
			next = now + hz * ARP_RETRY_MS / 1000;
		}
		if (arp_poll(g)) {
			g->dst_mac_from = "arp";
			g->arp_ns = (uint64_t)((double)(rte_rdtsc() - start) * 1e9 / (double)hz);
			return 0;
		}
	}
	inet_ntop(AF_INET, &g->cfg.dst_ip, ip, sizeof(ip));
	snprintf(err, errlen, "no ARP reply from %s within %u ms on port %u (%s): is the target "
		 "up and is --to right? (--dst-mac skips ARP)", ip, g->cfg.arp_timeout_ms,
		 g->port_id, g->port_name);
	return -EHOSTUNREACH;
}
