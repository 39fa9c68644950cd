/* Lcore roles (dispatcher, worker, or both) and the polling loop every data lcore runs. */
#ifndef TURBINE_LCORE_H
#define TURBINE_LCORE_H

#include <stdbool.h>
#include <stddef.h>

#include "port.h"
#include "runtime.h"

/*
 * Give out roles from the configuration (or the default: the main lcore
 * dispatches and the others work; a single lcore does both), create the
 * dispatchers and workers, and decide the port's queue counts.
 */
int lcore_roles_init(struct runtime *rt, const struct port_caps *caps, char *err, size_t errlen);
/* Connect every dispatcher to every worker it hands requests to. */
int lcore_rings_init(struct runtime *rt, char *err, size_t errlen);
void lcore_roles_free(struct runtime *rt);

/* The loop of every lcore (rte_eal_mp_remote_launch); returns once drained after quit,
 * or past the drain's deadline (runtime_stop_stage()) with what it could not finish. */
int lcore_main(void *arg);
/* Has lcore_main returned on this lcore (the main one included)? */
bool lcore_has_returned(unsigned int lcore);

#endif /* TURBINE_LCORE_H */
