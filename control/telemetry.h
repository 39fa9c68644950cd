/* Telemetry through DPDK's rte_telemetry: /turbine/stats and /turbine/functions. */
#ifndef TURBINE_TELEMETRY_H
#define TURBINE_TELEMETRY_H

#include <stddef.h>

#include "runtime.h"

int telemetry_init(struct runtime *rt, char *err, size_t errlen);

#endif /* TURBINE_TELEMETRY_H */
