/* turbinectl metrics: /metrics over HTTP for Prometheus, read from the telemetry socket per scrape. */
#ifndef TOOLS_CTL_METRICS_H
#define TOOLS_CTL_METRICS_H

#include <stdio.h>

#include <jansson.h>

#include "telemetry_client.h"

/*
 * One scrape over the open client c: every telemetry command the exposition
 * needs, formatted into a malloc'd *text of *len bytes. 0, or -EIO when the
 * socket failed part way (the reason on stderr), or -ENOMEM.
 */
int metrics_scrape(struct telemetry_client *c, char **text, size_t *len);

/*
 * Serve GET /metrics on listen ("ADDR:PORT", "[ADDR6]:PORT"; port 0 picks
 * one) until SIGINT or SIGTERM, each scrape on a new connection to the socket
 * at socket_path. Prints "listening on ADDR:PORT" once serving. 0 after a
 * signal, -EINVAL for a listen address that is not one, or -1 when the
 * server could not start (the reason on stderr).
 */
int metrics_serve(const char *socket_path, unsigned int timeout_ms, const char *listen);

#endif /* TOOLS_CTL_METRICS_H */
