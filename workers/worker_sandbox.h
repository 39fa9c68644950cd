/* Process-mode environments as a worker lcore runs them: calls handed to sandboxes, answers sent back. */
#ifndef TURBINE_WORKER_SANDBOX_H
#define TURBINE_WORKER_SANDBOX_H

/*
 * A function with isolation = "process" has, on each worker that holds it,
 * a worker_sandbox: its sandbox process (sandbox.h) and what the worker
 * keeps for it. The worker never runs the handler: it copies a call into
 * the sandbox's region and goes on polling; every loop it polls each of its
 * sandboxes, answers what came back (or what passed its deadline: the
 * sandbox is killed, sandbox_poll()) and transmits.
 *
 * A sandbox takes up to WORKER_SANDBOX_SLOTS calls at once and runs them one
 * after the other (Lambda's model: one call at a time per environment);
 * further calls wait in the worker's backlog. A call joins the slots only if
 * its deadline is not earlier than any call ahead of it there, so that every
 * call in a slot is answered by its deadline: the ones ahead either finish
 * before theirs or are killed at theirs. Calls in the backlog are answered
 * Sandbox.Timedout by the worker itself when their deadline passes.
 *
 * Who writes what: the control thread creates an environment, hands it to
 * its worker (worker_sandbox_hand) and later retires it; the worker adopts
 * it, polls it, and releases it once retired and idle; only then may the
 * control thread destroy it. Dispatchers read `held` and `out` to choose an
 * environment (worker_sandbox_depth).
 */

#include <stdalign.h>
#include <stdbool.h>
#include <stdint.h>

#include <rte_common.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "config.h"
#include "counters.h"
#include "invoke.h"
#include "runtime.h"
#include "sandbox.h"

struct worker;

/* Calls one sandbox holds at once, and calls that wait in the worker behind them (as many
 * as one of its rings would hold). */
#define WORKER_SANDBOX_SLOTS   SANDBOX_SLOTS_MAX
#define WORKER_SANDBOX_BACKLOG RUNTIME_RING_SIZE
/* Environments one worker polls: one per process-mode function, two while it is redeployed. */
#define WORKER_SANDBOXES_MAX   (2 * CONFIG_MAX_FUNCTIONS)

/* worker_invoke()'s answer for a call a sandbox now holds: neither transmit nor free it. */
#define WORKER_HELD 2    /* distinct from worker.h's WORKER_LATE */

/* Why an environment is out of dispatch (worker_sandbox.out). */
enum worker_sandbox_out {
	WORKER_SANDBOX_IN = 0,
	WORKER_SANDBOX_CRASHED,        /* it died in a call: Runtime.ExitError */
	WORKER_SANDBOX_OUT_OF_MEMORY,  /* ... after an allocation failed: Runtime.OutOfMemory */
	WORKER_SANDBOX_KILLED,         /* killed at a call's deadline: Sandbox.Timedout */
	WORKER_SANDBOX_ENDED,          /* its process ended between calls */
	WORKER_SANDBOX_FAILED,         /* its restart failed (init); tried again later */
	WORKER_SANDBOX_OUT_MAX,
};

/* A call in one of the sandbox's slots. */
struct worker_sandbox_call {
	struct rte_mbuf *m;
	uint64_t submit_tsc;
	bool cold;                  /* the first call of its process: a cold start */
};

/* One process-mode environment: a function's sandbox on one worker. */
struct worker_sandbox {
	/* The worker's, once it has adopted the environment. */
	struct sandbox *sb;         /* set before it is handed over; never changes */
	uint32_t call_head;         /* calls answered */
	uint32_t call_tail;         /* calls submitted */
	uint64_t last_deadline;     /* of the latest call submitted */
	uint32_t backlog_head;
	uint32_t backlog_count;
	uint64_t backlog_due;       /* the earliest deadline in the backlog */
	uint32_t seen_spawns;       /* `spawns` at the last submit */
	bool adopted;               /* in the worker's list */
	bool wake;                  /* calls queued since the sandbox was last woken */
	bool stop_killed;           /* killed because the drain's deadline passed */
	struct worker_sandbox_call calls[WORKER_SANDBOX_SLOTS];
	struct rte_mbuf *backlog[WORKER_SANDBOX_BACKLOG];

	/* Published by the worker: dispatchers read them for every call of the function. */
	alignas(RTE_CACHE_LINE_SIZE) uint32_t held; /* calls in the slots and the backlog */
	uint8_t out;                /* enum worker_sandbox_out: set (from IN only) by the worker or
				       the control thread, cleared by the control thread */
	uint8_t released;           /* retired, idle, and out of the worker's list */

	/* Written by the control thread. */
	alignas(RTE_CACHE_LINE_SIZE) uint32_t spawns; /* processes started */
	uint8_t retire;             /* to be released once idle */
	bool shares_cpu;            /* the sandbox runs on its worker's CPU: the worker lends it */
	uint16_t function;
	uint16_t worker;
	uint32_t restarts;
	/* Private to the control thread (control/sandboxes.c). */
	bool watched;               /* its pidfd is in the control thread's epoll set */
	bool draining;              /* ended: waiting for the worker to answer what it held */
	uint64_t retry_ns;          /* when a failed restart is tried again */
	struct worker_sandbox *next_retired;
};

/* What a worker keeps of its environments. */
struct worker_sandboxes {
	struct rte_ring *adopt;     /* control thread -> worker: environments to poll */
	unsigned int refused;       /* answered 503 past the drain's deadline, this loop */
	unsigned int nb;
	struct worker_sandbox *list[WORKER_SANDBOXES_MAX];
};

/* Give worker w the state it needs for process-mode environments (start-up). */
int worker_sandboxes_create(struct worker *w);
void worker_sandboxes_free(struct worker *w);

/* Control thread: hand a READY environment to its worker, which polls it from its next loop. */
int worker_sandbox_hand(struct worker *w, struct worker_sandbox *ws);

/* Set why the environment is out of dispatch, unless a reason is there already. */
void worker_sandbox_set_out(struct worker_sandbox *ws, enum worker_sandbox_out why);

/* "its environment on worker 2 is restarting after it crashed" */
void worker_sandbox_why(const struct worker_sandbox *ws, char *buf, size_t len);

/*
 * Worker: one admitted call of a process-mode function, its environment
 * `ws` (args as worker_args() builds them). Returns WORKER_HELD when a
 * sandbox or the backlog holds it, else as worker_invoke(): 0 when `m`
 * holds an answer to transmit, -1 to free it (counted).
 */
int worker_sandbox_invoke(const struct runtime *rt, struct worker *w, struct counters *c,
			  struct rte_mbuf *m, struct worker_sandbox *ws,
			  const struct invoke_args *args);

/*
 * Worker, every loop: answers back from every sandbox, deadlines, the
 * backlogs, environments handed over or retired. `stopping`: past the
 * drain's deadline; what the backlogs hold is answered 503 and sandboxes
 * with calls in flight are killed. Returns how many calls were answered.
 */
unsigned int worker_sandboxes_poll(struct runtime *rt, struct worker *w, bool stopping);

/* Worker: nothing held in any sandbox or backlog (the drain may end). */
bool worker_sandboxes_idle(const struct worker *w);

/* Dispatchers: how loaded an environment is, UINT32_MAX when it cannot take a call. */
static inline unsigned int
worker_sandbox_depth(const struct worker_sandbox *ws)
{
	uint32_t held;

	if (__atomic_load_n(&ws->out, __ATOMIC_RELAXED) != WORKER_SANDBOX_IN)
		return UINT32_MAX;
	held = __atomic_load_n(&ws->held, __ATOMIC_RELAXED);
	return held >= WORKER_SANDBOX_SLOTS + WORKER_SANDBOX_BACKLOG ? UINT32_MAX : held;
}

#endif /* TURBINE_WORKER_SANDBOX_H */
