/* Sandbox.Timedout for a call whose handler cannot answer in time: still running, or never started. */
#ifndef TURBINE_DEADLINE_H
#define TURBINE_DEADLINE_H

#include <rte_mbuf.h>

#include <turbine/handler.h>

#include "counters.h"
#include "runtime.h"

struct worker_fn_stats;

/*
 * Answer the call in `req` with Sandbox.Timedout ("Task timed out after
 * N.NN seconds", from its effective timeout), built in `out`: req itself
 * for a call that never started, a buffer of the caller's for one whose
 * handler still runs (and may still write into req's tailroom). `version`:
 * the deployment it was to run under. Counted as a 200 with fn_error and a
 * timeout, on the caller's counters and in `stats`, the function's figures
 * on the worker it was sent to (which the watchdog shares: atomics).
 * Returns 0: transmit `out`; -1: free it (counted as drop_alloc).
 */
int deadline_answer(const struct runtime *rt, struct counters *c, struct worker_fn_stats *stats,
		    struct rte_mbuf *out, struct rte_mbuf *req, struct turbine_str version);

#endif /* TURBINE_DEADLINE_H */
