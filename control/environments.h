/* Environments: each function's module initialised on the workers placement chose, before traffic. */
#ifndef TURBINE_ENVIRONMENTS_H
#define TURBINE_ENVIRONMENTS_H

#include <stdio.h>

#include "runtime.h"

/*
 * Plan placement from the machine's topology, run each chosen (worker,
 * function) pair's init on this thread, and record per function the
 * workers whose init succeeded: dispatchers send it only there. A function
 * no worker could initialise answers 502 with the reason. Reports each
 * function's environments and cold start on `out`.
 */
void environments_init(struct runtime *rt, FILE *out);
void environments_fini(struct runtime *rt);

#endif /* TURBINE_ENVIRONMENTS_H */
