/* Environments: each function's module initialised on the workers placement chose, before traffic. */
#ifndef TURBINE_ENVIRONMENTS_H
#define TURBINE_ENVIRONMENTS_H

#include <stddef.h>

#include "runtime.h"

/*
 * Plan placement from the machine's topology, load each function's module
 * and run each chosen (worker, function) pair's init on this thread: the
 * first deployment of every function. Dispatchers send a function only to
 * workers whose init succeeded; a function no worker could initialise
 * answers 502 with the reason. Reports each function's environments and
 * cold start on stdout. A module that cannot be loaded fails start-up.
 */
int environments_init(struct runtime *rt, char *err, size_t errlen);
void environments_fini(struct runtime *rt);

/* The machine as placement sees it: workers' sockets, and the port's as home. */
struct placement_topology;
void environments_topology(const struct runtime *rt, struct placement_topology *topo);

#endif /* TURBINE_ENVIRONMENTS_H */
