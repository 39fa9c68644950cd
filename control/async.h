/* Asynchronous invocation: the queue thread, its pollers and what it reports. */
#ifndef TURBINE_ASYNC_H
#define TURBINE_ASYNC_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "async_queue.h"
#include "runtime.h"

struct async_stats {
	char backend[16];
	char dir[PATH_MAX];
	struct async_queue_stats q;   /* the backend's: depth, accepted, log... */
	uint64_t running;             /* handed to a dispatcher, answer not back yet */
	uint64_t runs;                /* tries started */
	uint64_t succeeded;
	uint64_t retried_error;       /* function errors given another try */
	uint64_t retried_throttle;    /* tries refused by a limit (or unanswered), tried later */
	uint64_t dead_lettered;       /* records to the dead-letter queue */
	uint64_t retries_exhausted;   /* failures by condition */
	uint64_t aged_out;
	uint64_t to_success_log;      /* records to the `log` destination */
	uint64_t to_function;         /* records sent on to a function */
	uint64_t unanswered;          /* runs whose answer never came (counted in retried_throttle) */
	uint64_t woken;               /* times an Event woke the thread from its idle sleep */
	uint64_t fn_succeeded[CONFIG_MAX_FUNCTIONS];
	uint64_t fn_retried[CONFIG_MAX_FUNCTIONS];
	uint64_t fn_dead_lettered[CONFIG_MAX_FUNCTIONS];
};

/*
 * Start-up step: open the queue in async_dir (default
 * /var/lib/turbine/<file-prefix>), replaying what was durable and not
 * finished, create the rings dispatchers use, and start the queue thread.
 */
int async_init(struct runtime *rt, char *err, size_t errlen);

/* Stop the thread (after the lcores): a last group commit, then close. */
void async_stop(void);

/* The last figures the queue thread published (every 100 ms); from any thread. */
void async_get_stats(struct async_stats *st);

#endif /* TURBINE_ASYNC_H */
