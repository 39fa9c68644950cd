/* Prometheus' text exposition format (0.0.4) from turbine's telemetry replies: JSON in, text out. */
#ifndef TOOLS_CTL_PROMETHEUS_H
#define TOOLS_CTL_PROMETHEUS_H

#include <stdio.h>

#include <jansson.h>

#define PROMETHEUS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/*
 * The replies of one scrape, each the data of a telemetry command. Any may
 * be NULL or JSON null (a command refused, or an older turbine without it):
 * its metrics are left out and the rest still written.
 */
struct prometheus_input {
	const json_t *stats;      /* /turbine/stats */
	const json_t *functions;  /* {"NAME": the data of /turbine/function,NAME, ...} */
	const json_t *workers;    /* /turbine/workers */
	const json_t *ports;      /* /turbine/ports */
	const json_t *async;      /* /turbine/async */
};

/*
 * Write every metric the input holds, each family once with its # HELP and
 * # TYPE, values in base units (seconds, bytes). 0, or -EIO when writing failed.
 */
int prometheus_format(FILE *out, const struct prometheus_input *in);

#endif /* TOOLS_CTL_PROMETHEUS_H */
