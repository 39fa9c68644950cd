/* The function table and the name index the data plane looks up. */
#ifndef TURBINE_FUNCTIONS_H
#define TURBINE_FUNCTIONS_H

#include <stddef.h>

#include "runtime.h"

/* Fill the function table from the configuration and index the names. */
int functions_load(struct runtime *rt, char *err, size_t errlen);
void functions_unload(struct runtime *rt);

/*
 * The lock of the functions' published state (each function's live
 * deployment, its limits and its configuration) on the control side: every
 * thread but the data lcores holds it while it reads or changes that state.
 * See functions.c for why.
 */
void functions_lock(void);
void functions_unlock(void);
/* The same, giving up after wait_ms (a writer stuck behind a stuck lcore): 0 or -EBUSY. */
int functions_lock_within(unsigned int wait_ms);

/* Wait until no data lcore can hold anything it read before now: then an old version may go. */
void functions_synchronize(struct runtime *rt);

#endif /* TURBINE_FUNCTIONS_H */
