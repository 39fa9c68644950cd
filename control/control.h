/* The control thread: everything slow, off the polled cores: liveness, load, environments, status. */
#ifndef TURBINE_CONTROL_H
#define TURBINE_CONTROL_H

#include <stddef.h>

#include "runtime.h"

int control_start(struct runtime *rt, char *err, size_t errlen);
/* Stop the thread and wait for it. */
void control_stop(void);

#endif /* TURBINE_CONTROL_H */
