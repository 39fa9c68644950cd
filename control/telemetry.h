/* Telemetry and control through DPDK's rte_telemetry: what turbinectl and dpdk-telemetry.py read. */
#ifndef TURBINE_TELEMETRY_H
#define TURBINE_TELEMETRY_H

#include <stddef.h>

#include "runtime.h"

int telemetry_init(struct runtime *rt, char *err, size_t errlen);

#endif /* TURBINE_TELEMETRY_H */
