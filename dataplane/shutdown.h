/* Shutdown: SIGINT/SIGTERM, a drain bounded by drain_timeout_ms, and the exit when a handler never returns. */
#ifndef TURBINE_SHUTDOWN_H
#define TURBINE_SHUTDOWN_H

#include <stddef.h>

#include "runtime.h"

/* Exit statuses besides 0 (drained, or nothing left undone) and 1 (start-up failed). */
#define SHUTDOWN_EXIT_TIMEOUT 3   /* past drain_timeout_ms, calls were answered 503 or a worker was stuck */
#define SHUTDOWN_EXIT_SIGNAL 4    /* a second SIGINT/SIGTERM: exited at once */

/*
 * Start-up step: catch SIGINT and SIGTERM and start the thread that bounds
 * the drain. The first signal sets quit; drain_timeout_ms after it (or after
 * the lcores start, if later) that thread makes the dispatchers answer what
 * is still queued and exits the process itself, whatever the lcores do. A
 * second signal exits at once.
 */
int shutdown_init(struct runtime *rt, char *err, size_t errlen);

/* The lcores are being launched: the deadline may count from now. */
void shutdown_launched(void);

/*
 * On the main thread once its own lcore_main returned: wait for the other
 * lcores. Returns when every one returned before the deadline (the caller
 * prints the final counters, tears down and exits 0); otherwise the
 * shutdown thread exits the process and this never returns.
 */
void shutdown_wait_lcores(void);

/* `turbine: final {...}`: every counter, one line of JSON on stdout. */
void shutdown_print_final(const struct runtime *rt);

#endif /* TURBINE_SHUTDOWN_H */
