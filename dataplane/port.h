/* The ethdev port: what it can do, and its queues set up for the lcore roles. */
#ifndef TURBINE_PORT_H
#define TURBINE_PORT_H

#include <stddef.h>
#include <stdint.h>

#include "runtime.h"

/* What the port offers, read before roles are given out. */
struct port_caps {
	uint16_t max_rx_queues;
	uint16_t max_tx_queues;
	int socket_id;
};

/* Check the configured port exists; fill caps, MAC, MTU-derived limits into rt. */
int port_probe(struct runtime *rt, struct port_caps *caps, char *err, size_t errlen);
/* Configure rt->nb_rx_queues/nb_tx_queues (RSS over several RX queues), offloads, and start. */
int port_start(struct runtime *rt, char *err, size_t errlen);
void port_stop(struct runtime *rt);

#endif /* TURBINE_PORT_H */
