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

#endif /* TURBINE_ENVIRONMENTS_H */
