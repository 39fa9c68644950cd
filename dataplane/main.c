/* turbine: the dispatcher process. EAL options, then `--`, then Turbine's own. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <numa.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_hash.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>

#include "async.h"
#include "config.h"
#include "control.h"
#include "dispatch.h"
#include "functions.h"
#include "lcore.h"
#include "leases.h"
#include "memif_guard.h"
#include "quotas.h"
#include "environments.h"
#include "policy.h"
#include "port.h"
#include "runtime.h"
#include "sandboxes.h"
#include "shutdown.h"
#include "status.h"
#include "telemetry.h"
#include "tx.h"
#include "worker.h"

/* Room for a full Ethernet frame and, after it, a reply as large as a datagram allows. */
#define MAIN_MBUF_DATA_ROOM (RTE_PKTMBUF_HEADROOM + 2 * RTE_ETHER_MAX_LEN + 128)
#define MAIN_MBUF_CACHE 256

static struct runtime main_rt;
static struct port_caps main_caps;

static int
main_functions(struct runtime *rt, char *err, size_t errlen)
{
	return functions_load(rt, err, errlen);
}

static int
main_port(struct runtime *rt, char *err, size_t errlen)
{
	return port_probe(rt, &main_caps, err, errlen);
}

static int
main_lcores(struct runtime *rt, char *err, size_t errlen)
{
	unsigned int i;
	int rc;

	rc = lcore_roles_init(rt, &main_caps, err, errlen);
	if (rc != 0)
		return rc;
	/* A dispatcher on another socket than its port pays a cross-socket hop per packet. */
	for (i = 0; i < rt->nb_dispatchers; i++) {
		unsigned int lcore = rt->dispatchers[i]->lcore_id;

		if (main_caps.socket_id >= 0 &&
		    rte_lcore_to_socket_id(lcore) != (unsigned int)main_caps.socket_id)
			fprintf(stderr, "turbine: warning: dispatcher lcore %u is on socket %u, "
				"port %u on socket %d\n", lcore, rte_lcore_to_socket_id(lcore),
				rt->port_id, main_caps.socket_id);
	}
	return 0;
}

/* Enough buffers for every descriptor, ring, per-lcore cache and TX backlog at once, and some to spare. */
static int
main_mempool(struct runtime *rt, char *err, size_t errlen)
{
	unsigned int pairs = rt->nb_dispatchers * rt->nb_workers;
	unsigned int n = (rt->nb_rx_queues + rt->nb_tx_queues) * 1024 +
			 pairs * RUNTIME_RING_SIZE * 2 +
			 rte_lcore_count() * (MAIN_MBUF_CACHE + 2 * RUNTIME_BURST + TX_BACKLOG) +
			 /* Events between the dispatchers and the queue's disk, both ways. */
			 2 * RUNTIME_ASYNC_RING_SIZE +
			 2048;
	int socket = main_caps.socket_id >= 0 ? main_caps.socket_id : (int)rte_socket_id();
	uint16_t priv = RTE_ALIGN_CEIL(sizeof(struct request_desc), RTE_MBUF_PRIV_ALIGN);

	n = rte_align32pow2(n) - 1;
	rt->pool = rte_pktmbuf_pool_create("turbine_mbufs", n, MAIN_MBUF_CACHE, priv,
					   MAIN_MBUF_DATA_ROOM, socket);
	if (rt->pool == NULL) {
		snprintf(err, errlen, "cannot create a pool of %u mbufs on socket %d: %s "
			 "(reserve hugepages, or give EAL --no-huge -m 512)", n, socket,
			 rte_strerror(rte_errno));
		return -rte_errno;
	}
	return 0;
}

static int
main_statistics(struct runtime *rt, char *err, size_t errlen)
{
	unsigned int w;

	for (w = 0; w < rt->nb_workers; w++)
		if (worker_stats_init(rt, rt->workers[w]) != 0) {
			snprintf(err, errlen, "cannot allocate worker statistics");
			return -ENOMEM;
		}
	return 0;
}

/* Every data lcore reports quiescence, so that a redeploy knows when an old version is unused. */
static int
main_rcu(struct runtime *rt, char *err, size_t errlen)
{
	size_t size = rte_rcu_qsbr_get_memsize(RTE_MAX_LCORE);
	struct rte_eth_dev_info info;
	unsigned int lcore;

	rt->rcu = rte_zmalloc("turbine_rcu", size, RTE_CACHE_LINE_SIZE);
	if (rt->rcu == NULL || rte_rcu_qsbr_init(rt->rcu, RTE_MAX_LCORE) != 0) {
		snprintf(err, errlen, "cannot set up RCU");
		return -ENOMEM;
	}
	RTE_LCORE_FOREACH(lcore)
		if (rt->roles[lcore].dispatcher != NULL || rt->roles[lcore].worker != NULL)
			rte_rcu_qsbr_thread_register(rt->rcu, lcore);
	/* The memif driver unmaps its rings without waiting for the lcores: see memif_guard.c. */
	if (rte_eth_dev_info_get(rt->port_id, &info) == 0 && info.driver_name != NULL &&
	    strcmp(info.driver_name, "net_memif") == 0)
		memif_guard_enable(rt->rcu);
	return 0;
}

static int
main_start_port(struct runtime *rt, char *err, size_t errlen)
{
	return port_start(rt, err, errlen);
}

/* Start-up, in order; the first failure stops it with one message. */
static const struct {
	const char *name;
	int (*init)(struct runtime *rt, char *err, size_t errlen);
} main_steps[] = {
	{ "signals", shutdown_init },
	{ "functions", main_functions },
	{ "port", main_port },
	{ "lcores", main_lcores },
	{ "mempool", main_mempool },
	{ "sandboxes", sandboxes_init },
	{ "environments", environments_init },
	{ "rcu", main_rcu },
	{ "statistics", main_statistics },
	{ "rings", lcore_rings_init },
	{ "limits", quotas_init },
	{ "leases", leases_init },
	{ "asynchronous queue", async_init },
	{ "port start", main_start_port },
	{ "telemetry", telemetry_init },
	{ "control thread", control_start },
};

static void
main_teardown(struct runtime *rt)
{
	telemetry_fini();
	memif_guard_disable();
	control_stop();
	leases_stop();
	async_stop();
	environments_fini(rt);
	port_stop(rt);
	quotas_fini(rt);
	lcore_roles_free(rt);
	functions_unload(rt);
	config_free(&rt->cfg);
	rte_free(rt->rcu);
	rte_eal_cleanup();
}

/*
 * On the ready line: where a thread-mode handler runs on a dispatcher's own
 * lcore, nothing can watch it (the watchdog is that dispatcher's loop):
 * ARP, ping, other calls and deadlines all wait for the handler to return.
 */
static void
main_print_layout_note(const struct runtime *rt)
{
	unsigned int i, nb_local = 0;

	for (i = 0; i < rt->nb_dispatchers; i++)
		if (rt->dispatchers[i]->local != NULL)
			nb_local++;
	if (nb_local == 0)
		return;
	if (rt->nb_dispatchers == 1 && rt->nb_workers == 1)
		printf("; thread mode on one lcore: a handler holds the lcore until it returns "
		       "(benchmark layout)");
	else
		printf("; thread mode on %u dispatcher lcore(s) that also work: a handler there holds "
		       "its lcore until it returns", nb_local);
}

static void
main_print_ready(const struct runtime *rt)
{
	char ip[INET_ADDRSTRLEN];
	int nodes = numa_available() < 0 ? 1 : numa_num_configured_nodes();
	const struct rte_ether_addr *mac = (const struct rte_ether_addr *)rt->svc.mac;
	char mac_text[RTE_ETHER_ADDR_FMT_SIZE];

	inet_ntop(AF_INET, &rt->svc.ip, ip, sizeof(ip));
	rte_ether_format_addr(mac_text, sizeof(mac_text), mac);
	printf("turbine: ready: port %u %s %s:%u, %u dispatcher(s), %u worker(s) "
	       "(%s, %s, %s dispatch, %u RX/%u TX queue(s), checksums in %s, %d NUMA node(s))",
	       rt->port_id, mac_text, ip, rt->cfg.udp_port, rt->nb_dispatchers, rt->nb_workers,
	       rt->port_name,
	       rt->nb_dispatchers == 1 && rt->dispatchers[0]->local ? "run to completion"
	       : rt->workers_own_txq ? "workers transmit" : "replies via dispatchers",
	       rt->policy->name, rt->nb_rx_queues, rt->nb_tx_queues, rt->tx_cksum_offload ? "hardware" : "software",
	       nodes);
	main_print_layout_note(rt);
	printf("\n");
	if (rt->memif_socket[0] != '\0')
		printf("turbine: no port given: serving the embedded default, a memif server at %s\n",
		       rt->memif_socket);
	fflush(stdout);
}

int
main(int argc, char **argv)
{
	struct runtime *rt = &main_rt;
	char err[1024] = "";
	unsigned int step;
	int rc;

	rc = rte_eal_init(argc, argv);
	if (rc < 0) {
		fprintf(stderr, "turbine: cannot initialise DPDK (EAL): %s\n", rte_strerror(rte_errno));
		return 1;
	}
	argc -= rc;
	argv += rc;

	config_defaults(&rt->cfg);
	rc = config_parse_args(&rt->cfg, argc, argv, err, sizeof(err));
	if (rc != 0) {
		if (rc < 0)
			fprintf(stderr, "turbine: %s\n", err);
		config_free(&rt->cfg);
		rte_eal_cleanup();
		return rc < 0 ? 1 : 0;
	}
	rt->tsc_hz = rte_get_tsc_hz();

	for (step = 0; step < RTE_DIM(main_steps); step++) {
		rc = main_steps[step].init(rt, err, sizeof(err));
		if (rc != 0) {
			fprintf(stderr, "turbine: %s: %s\n", main_steps[step].name, err);
			main_teardown(rt);
			return 1;
		}
	}
	main_print_ready(rt);

	shutdown_launched();
	rte_eal_mp_remote_launch(lcore_main, rt, CALL_MAIN);
	/* Not rte_eal_mp_wait_lcore(): an lcore stuck in a handler would block it for ever. */
	shutdown_wait_lcores();
	rte_eal_mp_wait_lcore();

	control_stop();
	leases_stop();
	async_stop();
	shutdown_print_final(rt);
	main_teardown(rt);
	return 0;
}
