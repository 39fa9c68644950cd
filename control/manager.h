/* The worker manager: each period, grows the environments of busy functions and shrinks idle ones. */
#ifndef TURBINE_MANAGER_H
#define TURBINE_MANAGER_H

#include "runtime.h"

/* One period's look at every function (the control thread, once a second). */
void manager_step(struct runtime *rt, double seconds);

#endif /* TURBINE_MANAGER_H */
