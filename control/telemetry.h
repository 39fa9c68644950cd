/* Telemetry and control through DPDK's rte_telemetry: what turbinectl and dpdk-telemetry.py read. */
#ifndef TURBINE_TELEMETRY_H
#define TURBINE_TELEMETRY_H

#include <stddef.h>

#include "runtime.h"

int telemetry_init(struct runtime *rt, char *err, size_t errlen);
/* Before the runtime is torn down: waits for the commands running, refuses those to come. */
void telemetry_fini(void);

#endif /* TURBINE_TELEMETRY_H */
