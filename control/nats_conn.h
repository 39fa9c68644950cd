/* One NATS connection for the control side's NATS users (the JetStream queue, tenant leases). */
#ifndef TURBINE_NATS_CONN_H
#define TURBINE_NATS_CONN_H

#include <stdbool.h>
#include <stddef.h>

#include <nats/nats.h>

/*
 * Connect to `url` (one nats:// URL or several, comma-separated) as
 * `name`, reconnecting forever after a loss (what is published meanwhile
 * waits in the client's buffer). With `wait_connected` the first
 * connection must succeed: the queue's node that cannot reach NATS at
 * start-up says so and does not start. Without it, servers out of reach
 * are tried again in the background (the leases: admission falls back on
 * its own until NATS answers; nats_conn_up() tells). The client's threads
 * are made from a DPDK control thread, so they inherit the control cores,
 * never a polled one. Returns 0 or a negative errno with err set.
 */
int nats_conn_open(const char *url, const char *name, bool wait_connected, natsConnection **nc,
		   char *err, size_t errlen);

/* Is the connection up now? */
bool nats_conn_up(natsConnection *nc);

/* Flush what is buffered (up to a second), close and free. NULL is a no-op. */
void nats_conn_close(natsConnection *nc);

#endif /* TURBINE_NATS_CONN_H */
