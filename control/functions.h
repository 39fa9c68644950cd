/* The function table and the name index the data plane looks up. */
#ifndef TURBINE_FUNCTIONS_H
#define TURBINE_FUNCTIONS_H

#include <stddef.h>

#include "runtime.h"

/* Fill the function table from the configuration and index the names. */
int functions_load(struct runtime *rt, char *err, size_t errlen);
void functions_unload(struct runtime *rt);

#endif /* TURBINE_FUNCTIONS_H */
