/* A NATS connection for the control side: connect to a URL list, reconnect forever, close. */
#ifndef TURBINE_NATS_CONN_H
#define TURBINE_NATS_CONN_H

#include <stdbool.h>
#include <stddef.h>

#include <nats/nats.h>

/*
 * Open a connection to `url` (one or several servers, comma-separated).
 * Servers that cannot be reached yet are retried in the background, and a
 * lost connection is reconnected forever: the caller finds out from
 * nats_conn_up() and from failing calls, never by the connection going
 * away. Returns 0, or -1 with `err` saying why (a malformed URL, no memory).
 */
int nats_conn_open(natsConnection **nc, const char *url, const char *name, char *err,
		   size_t errlen);

/* Is the connection up now? */
bool nats_conn_up(natsConnection *nc);

/* Close and free it (NULL: nothing). */
void nats_conn_close(natsConnection *nc);

#endif /* TURBINE_NATS_CONN_H */
