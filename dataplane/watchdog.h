/* The watchdog: in each dispatcher's loop, the deadlines of the calls it sent and the queues of stuck workers. */
#ifndef TURBINE_WATCHDOG_H
#define TURBINE_WATCHDOG_H

#include <stdbool.h>
#include <stdint.h>

#include "runtime.h"

struct dispatcher;

/*
 * How often a dispatcher looks at the calls it sent: a TSC timer in its
 * loop, not a look per packet. A caller hears Sandbox.Timedout within this
 * (plus one burst of the loop) of its deadline; the promise is 1 ms. Each
 * look reads a cache line each worker writes twice per call: about 100 ns
 * per worker fed, 0.1% of the dispatcher's time per worker at this period.
 */
#define WATCHDOG_PERIOD_US 100

struct watchdog {
	uint64_t next_tsc;          /* when to look next */
	uint64_t period_tsc;
	uint64_t taken;             /* workers whose ring from this dispatcher it holds */
	/* By worker: no call in this dispatcher's queue to it has an earlier deadline (it
	 * may be earlier than the earliest left: the worker dequeues without saying). */
	uint64_t queued_deadline[RUNTIME_MAX_WORKERS];
};

void watchdog_init(struct watchdog *wd, uint64_t tsc_hz);

/* Dispatcher: it queued a call with this deadline to worker w. */
static inline void
watchdog_queued(struct watchdog *wd, unsigned int w, uint64_t deadline_tsc)
{
	if (deadline_tsc < wd->queued_deadline[w])
		wd->queued_deadline[w] = deadline_tsc;
}

/*
 * On the dispatcher's lcore, every loop (it returns at once between
 * looks). For each worker d feeds: a call d sent that is past its deadline
 * is claimed from its handler and answered Sandbox.Timedout at once; its
 * worker leaves dispatch (RUNTIME_WORKER_STUCK) until the handler returns,
 * and what it held or has queued from d goes to the function's other
 * environments, is answered Timedout when its own deadline passed, or 503
 * saying why no environment can take it. Once the handler returns, d gives
 * the worker its ring back. A call that expires while it waits behind a
 * handler still in time (held by the worker, or in d's queue to it) is
 * answered Timedout at its deadline too.
 */
void watchdog_poll(struct runtime *rt, struct dispatcher *d);

/*
 * Take d's ring to worker w away from w (handover.h), or say it is already
 * taken; false while w is dequeuing (ask again later). Shutdown's takeover
 * shares it, so that the two never disagree about who holds the ring.
 */
bool watchdog_take(struct runtime *rt, struct dispatcher *d, unsigned int w);

#endif /* TURBINE_WATCHDOG_H */
