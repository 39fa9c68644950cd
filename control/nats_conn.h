/* One NATS connection for the control side's NATS users (the JetStream queue, tenant leases). */
#ifndef TURBINE_NATS_CONN_H
#define TURBINE_NATS_CONN_H

#include <stddef.h>

#include <nats/nats.h>

/*
 * Connect to `url` (one nats:// URL or several, comma-separated) as
 * `name`, reconnecting forever after a loss (what is published meanwhile
 * waits in the client's buffer). The first connection must succeed: a
 * node that cannot reach NATS at start-up says so and does not start. The
 * client's threads are made from a DPDK control thread, so they inherit the
 * control cores, never a polled one. Returns 0 or a negative errno with
 * err set.
 */
int nats_conn_open(const char *url, const char *name, natsConnection **nc, char *err,
		   size_t errlen);

/* Flush what is buffered (up to a second), close and free. NULL is a no-op. */
void nats_conn_close(natsConnection *nc);

#endif /* TURBINE_NATS_CONN_H */
