/* The ethdev port: one RX and one TX queue, checksum offload where the port has it, link up. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>

#include "gen.h"

#define PORT_RX_DESC 1024
#define PORT_TX_DESC 1024
#define PORT_MBUF_CACHE 256
/* The IPv4 and UDP headers: a datagram's payload is the MTU minus these (PROTOCOL.md, Transport). */
#define PORT_IP_UDP_HEADERS 28
#define PORT_LINK_POLL_MS 10

static int
port_fail(char *err, size_t errlen, int rc, const char *what, struct gen *g)
{
	snprintf(err, errlen, "port %u (%s): %s: %s", g->port_id, g->port_name, what,
		 rte_strerror(rc < 0 ? -rc : rc));
	return rc < 0 ? rc : -rc;
}

/* Every descriptor of both rings, the TX lcore's cache and pending burst, and the control ring. */
static int
port_pool(struct gen *g, int socket, char *err, size_t errlen)
{
	unsigned int n = rte_align32pow2(PORT_RX_DESC + PORT_TX_DESC +
					 4 * GEN_BURST_MAX + 2 * PORT_MBUF_CACHE + 2048) - 1;

	g->pool = rte_pktmbuf_pool_create("gen_mbufs", n, PORT_MBUF_CACHE, 0,
					  RTE_MBUF_DEFAULT_BUF_SIZE, socket);
	if (g->pool == NULL) {
		snprintf(err, errlen, "cannot create a pool of %u mbufs on socket %d: %s "
			 "(reserve hugepages, or give EAL --no-huge -m 256)", n, socket,
			 rte_strerror(rte_errno));
		return -rte_errno;
	}
	return 0;
}

static int
port_wait_link(struct gen *g, char *err, size_t errlen)
{
	uint64_t waited = 0;
	struct rte_eth_link link;

	for (;;) {
		memset(&link, 0, sizeof(link));
		if (rte_eth_link_get_nowait(g->port_id, &link) == 0 &&
		    link.link_status == RTE_ETH_LINK_UP)
			return 0;
		if (waited >= g->cfg.arp_timeout_ms)
			break;
		usleep(PORT_LINK_POLL_MS * 1000);
		waited += PORT_LINK_POLL_MS;
	}
	snprintf(err, errlen, "port %u (%s): the link is still down after %u ms (a memif client "
		 "needs its server running; --arp-timeout-ms sets the wait)", g->port_id,
		 g->port_name, g->cfg.arp_timeout_ms);
	return -ENETDOWN;
}

int
port_init(struct gen *g, char *err, size_t errlen)
{
	uint64_t cksum = RTE_ETH_TX_OFFLOAD_IPV4_CKSUM | RTE_ETH_TX_OFFLOAD_UDP_CKSUM;
	struct rte_eth_conf conf = { 0 };
	struct rte_eth_dev_info info;
	struct rte_eth_txconf txconf;
	struct rte_ether_addr mac;
	uint16_t nb_rxd = PORT_RX_DESC, nb_txd = PORT_TX_DESC;
	uint16_t mtu = RTE_ETHER_MTU;
	int socket, rc;

	g->port_id = (uint16_t)g->cfg.port_id;
	snprintf(g->port_name, sizeof(g->port_name), "?");
	if (rte_eth_dev_count_avail() == 0) {
		snprintf(err, errlen, "no DPDK port: give one to EAL, e.g. --vdev "
			 "net_memif0,role=client,socket=/var/run/dpdk/<turbine's prefix>/memif.sock, "
			 "or bind a NIC");
		return -ENODEV;
	}
	if (!rte_eth_dev_is_valid_port(g->port_id)) {
		snprintf(err, errlen, "port %u does not exist (%u port(s) available)", g->port_id,
			 rte_eth_dev_count_avail());
		return -ENODEV;
	}
	rte_eth_dev_get_name_by_port(g->port_id, g->port_name);
	rc = rte_eth_dev_info_get(g->port_id, &info);
	if (rc != 0)
		return port_fail(err, errlen, rc, "cannot read device info", g);
	snprintf(g->driver, sizeof(g->driver), "%s", info.driver_name);
	rc = rte_eth_macaddr_get(g->port_id, &mac);
	if (rc != 0)
		return port_fail(err, errlen, rc, "cannot read its MAC address", g);
	memcpy(g->mac, mac.addr_bytes, sizeof(g->mac));
	/* A port that cannot say its MTU is taken to have Ethernet's. */
	if (rte_eth_dev_get_mtu(g->port_id, &mtu) != 0 || mtu <= PORT_IP_UDP_HEADERS)
		mtu = RTE_ETHER_MTU;
	g->mtu = mtu;

	socket = rte_eth_dev_socket_id(g->port_id);
	if (socket < 0)
		socket = (int)rte_socket_id();
	rc = port_pool(g, socket, err, errlen);
	if (rc != 0)
		return rc;

	g->tx_cksum_offload = (info.tx_offload_capa & cksum) == cksum;
	if (g->tx_cksum_offload)
		conf.txmode.offloads |= cksum;
	rc = rte_eth_dev_configure(g->port_id, 1, 1, &conf);
	if (rc != 0)
		return port_fail(err, errlen, rc, "cannot configure 1 RX and 1 TX queue", g);
	rc = rte_eth_dev_adjust_nb_rx_tx_desc(g->port_id, &nb_rxd, &nb_txd);
	if (rc != 0)
		return port_fail(err, errlen, rc, "cannot size its rings", g);
	rc = rte_eth_rx_queue_setup(g->port_id, 0, nb_rxd, socket, NULL, g->pool);
	if (rc != 0)
		return port_fail(err, errlen, rc, "cannot set up its RX queue", g);
	txconf = info.default_txconf;
	txconf.offloads = conf.txmode.offloads;
	rc = rte_eth_tx_queue_setup(g->port_id, 0, nb_txd, socket, &txconf);
	if (rc != 0)
		return port_fail(err, errlen, rc, "cannot set up its TX queue", g);
	rc = rte_eth_dev_start(g->port_id);
	if (rc != 0)
		return port_fail(err, errlen, rc, "cannot start", g);
	g->port_started = true;
	return port_wait_link(g, err, errlen);
}

void
port_fini(struct gen *g)
{
	if (g->port_started) {
		g->port_started = false;
		rte_eth_dev_stop(g->port_id);
		rte_eth_dev_close(g->port_id);
	}
	rte_mempool_free(g->pool);
	g->pool = NULL;
}
