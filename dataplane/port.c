/* The ethdev port: what it can do, and its queues set up for the lcore roles. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_errno.h>
#include <rte_dev.h>
#include <rte_eal.h>
#include <rte_ethdev.h>

#include "port.h"

#define PORT_RX_DESC 1024
#define PORT_TX_DESC 1024
/* UDP payload limit: the MTU minus the IPv4 and UDP headers (PROTOCOL.md, Transport). */
#define PORT_IP_UDP_HEADERS 28
/* The receive checksum verdicts asked of a port that can give them. */
#define PORT_RX_CKSUM (RTE_ETH_RX_OFFLOAD_IPV4_CKSUM | RTE_ETH_RX_OFFLOAD_UDP_CKSUM)

/*
 * The embedded default: with no port given, serve a memif socket of our own,
 * so that Turbine runs with no NIC and no kernel interface, and a DPDK client
 * (or dpdk-testpmd bridging to a kernel interface) attaches to it.
 */
static int
port_embedded_default(struct runtime *rt, char *err, size_t errlen)
{
	char args[PATH_MAX + 32];
	int rc;

	snprintf(rt->memif_socket, sizeof(rt->memif_socket), "%s/memif.sock",
		 rte_eal_get_runtime_dir());
	snprintf(args, sizeof(args), "net_memif0,role=server,socket=%s", rt->memif_socket);
	rc = rte_dev_probe(args);
	if (rc != 0) {
		snprintf(err, errlen, "no DPDK port was given (--vdev or a bound NIC), and the "
			 "embedded default, a memif server at %s, could not start: %s",
			 rt->memif_socket, rte_strerror(-rc));
		rt->memif_socket[0] = '\0';
		return rc;
	}
	return 0;
}

int
port_probe(struct runtime *rt, struct port_caps *caps, char *err, size_t errlen)
{
	struct rte_eth_dev_info info;
	struct rte_ether_addr mac;
	uint16_t mtu = RTE_ETHER_MTU;
	int rc;

	rt->port_id = rt->cfg.port_id;
	if (rte_eth_dev_count_avail() == 0) {
		rc = port_embedded_default(rt, err, errlen);
		if (rc != 0)
			return rc;
	}
	if (!rte_eth_dev_is_valid_port(rt->port_id)) {
		snprintf(err, errlen, "port %u does not exist (%u port(s) available)",
			 rt->port_id, rte_eth_dev_count_avail());
		return -ENODEV;
	}
	rc = rte_eth_dev_info_get(rt->port_id, &info);
	if (rc != 0) {
		snprintf(err, errlen, "port %u: cannot read device info: %s", rt->port_id,
			 rte_strerror(-rc));
		return rc;
	}
	rte_eth_dev_get_name_by_port(rt->port_id, rt->port_name);
	rc = rte_eth_macaddr_get(rt->port_id, &mac);
	if (rc != 0) {
		snprintf(err, errlen, "port %u: cannot read its MAC address: %s", rt->port_id,
			 rte_strerror(-rc));
		return rc;
	}
	/* A port that cannot report its MTU is taken to have Ethernet's. */
	if (rte_eth_dev_get_mtu(rt->port_id, &mtu) != 0 || mtu <= PORT_IP_UDP_HEADERS)
		mtu = RTE_ETHER_MTU;
	memcpy(rt->svc.mac, mac.addr_bytes, sizeof(rt->svc.mac));
	rt->svc.ip = rt->cfg.ip;
	rt->svc.udp_port = rte_cpu_to_be_16(rt->cfg.udp_port);
	rt->svc.max_payload = (uint16_t)RTE_MIN(mtu, RTE_ETHER_MTU) - PORT_IP_UDP_HEADERS;
	frame_udp_head_init(&rt->reply_head, &rt->svc);

	rt->tx_cksum_offload =
		(info.tx_offload_capa & (RTE_ETH_TX_OFFLOAD_IPV4_CKSUM | RTE_ETH_TX_OFFLOAD_UDP_CKSUM)) ==
		(RTE_ETH_TX_OFFLOAD_IPV4_CKSUM | RTE_ETH_TX_OFFLOAD_UDP_CKSUM);
	rt->rx_cksum_offload = (info.rx_offload_capa & PORT_RX_CKSUM) != 0;

	caps->max_rx_queues = info.max_rx_queues;
	caps->max_tx_queues = info.max_tx_queues;
	caps->socket_id = rte_eth_dev_socket_id(rt->port_id);
	return 0;
}

int
port_start(struct runtime *rt, char *err, size_t errlen)
{
	struct rte_eth_conf conf = { 0 };
	struct rte_eth_dev_info info;
	struct rte_eth_txconf txconf;
	uint16_t nb_rxd = PORT_RX_DESC, nb_txd = PORT_TX_DESC;
	int socket = rte_eth_dev_socket_id(rt->port_id);
	uint16_t q;
	int rc;

	rc = rte_eth_dev_info_get(rt->port_id, &info);
	if (rc != 0)
		goto fail;
	if (rt->nb_rx_queues > 1) {
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf.rss_hf =
			(RTE_ETH_RSS_IP | RTE_ETH_RSS_UDP) & info.flow_type_rss_offloads;
		if (conf.rx_adv_conf.rss_conf.rss_hf == 0) {
			/* Without RSS the extra queues stay empty: say so rather than hide it. */
			fprintf(stderr, "turbine: warning: port %u cannot spread traffic by RSS; "
				"dispatchers other than the first will see little traffic\n", rt->port_id);
			conf.rxmode.mq_mode = RTE_ETH_MQ_RX_NONE;
		}
	}
	if (rt->tx_cksum_offload)
		conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_IPV4_CKSUM | RTE_ETH_TX_OFFLOAD_UDP_CKSUM;
	/* Each checksum the port verifies is one the dispatcher does not sum (dispatch_one()). */
	if (rt->rx_cksum_offload)
		conf.rxmode.offloads |= info.rx_offload_capa & PORT_RX_CKSUM;

	rc = rte_eth_dev_configure(rt->port_id, rt->nb_rx_queues, rt->nb_tx_queues, &conf);
	if (rc != 0)
		goto fail;
	rc = rte_eth_dev_adjust_nb_rx_tx_desc(rt->port_id, &nb_rxd, &nb_txd);
	if (rc != 0)
		goto fail;
	for (q = 0; q < rt->nb_rx_queues; q++) {
		rc = rte_eth_rx_queue_setup(rt->port_id, q, nb_rxd, socket, NULL, rt->pool);
		if (rc != 0)
			goto fail;
	}
	txconf = info.default_txconf;
	txconf.offloads = conf.txmode.offloads;
	for (q = 0; q < rt->nb_tx_queues; q++) {
		rc = rte_eth_tx_queue_setup(rt->port_id, q, nb_txd, socket, &txconf);
		if (rc != 0)
			goto fail;
	}
	rc = rte_eth_dev_start(rt->port_id);
	if (rc != 0)
		goto fail;
	rt->port_started = true;
	return 0;

fail:
	snprintf(err, errlen, "port %u (%s): cannot set up %u RX and %u TX queue(s): %s",
		 rt->port_id, rt->port_name, rt->nb_rx_queues, rt->nb_tx_queues, rte_strerror(-rc));
	return rc;
}

void
port_stop(struct runtime *rt)
{
	if (!rt->port_started)
		return;
	rt->port_started = false;
	rte_eth_dev_stop(rt->port_id);
	/* Closing flushes what some vdevs buffer (net_pcap's output file). */
	rte_eth_dev_close(rt->port_id);
}
