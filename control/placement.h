/* Placement: which workers hold a warm environment of which function. */
#ifndef TURBINE_PLACEMENT_H
#define TURBINE_PLACEMENT_H

#include <stdio.h>

#include "runtime.h"

/*
 * Initialise environments (each module's init, once per worker, before any
 * traffic) and record, per function, the workers whose init succeeded; the
 * dispatchers send a function only there. Every worker holds every function
 * for now; a function no worker could initialise answers 502 with the reason.
 * Reports each function's cold start on `out`.
 */
void placement_init(struct runtime *rt, FILE *out);
void placement_fini(struct runtime *rt);

#endif /* TURBINE_PLACEMENT_H */
