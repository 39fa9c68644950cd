/* Process-mode environments, the control side: sandboxes started, watched, restarted and retired. */
#ifndef TURBINE_SANDBOXES_H
#define TURBINE_SANDBOXES_H

#include <stddef.h>

#include "module.h"
#include "runtime.h"

/*
 * A sandbox process dies with the thread that started it (PR_SET_PDEATHSIG),
 * so sandboxes are started only by threads that live as long as the process:
 * the main thread during start-up and the control thread afterwards. Work
 * that starts sandboxes on behalf of another thread (a redeploy asked for
 * through telemetry) runs on the control thread (sandboxes_call).
 *
 * The control thread watches every sandbox's pidfd: a sandbox that ended is
 * reaped, its worker answers what it held, and a new process takes its place
 * (a cold start, counted). Sandboxes run where DPDK runs its control threads
 * (the CPUs no lcore polls, or the main lcore's when there are none).
 */

struct worker_sandbox;

/* Start-up step, before the environments: the workers' state, the pidfd watch. */
int sandboxes_init(struct runtime *rt, char *err, size_t errlen);

/*
 * Start the sandbox of function `fn` (its configuration, `module` and
 * `version`) for worker w, without waiting for it: *wsp, or NULL and -errno
 * with `err` set. Then sandboxes_ready().
 */
int sandboxes_start(struct runtime *rt, unsigned int fn, const char *module, const char *version,
		    unsigned int w, struct worker_sandbox **wsp, char *err, size_t errlen);

/*
 * Wait for a started sandbox's init. Ready: it is watched, handed to its
 * worker, and `env` says so (ready, its cold start as init_ns); 0. Otherwise
 * the sandbox is gone, `env` holds the reason, -errno.
 */
int sandboxes_ready(struct worker_sandbox *ws, struct environment *env);

/*
 * Done with an environment (out of dispatch: no new call can reach it): its
 * worker answers what it holds, then the sandbox runs fini and ends. While
 * the control thread runs this happens later, on it; otherwise now.
 */
void sandboxes_retire(struct worker_sandbox *ws);

/* Control thread: wait up to `ms` for sandboxes that end, and tend them. */
void sandboxes_watch(struct runtime *rt, unsigned int ms);

/* Control thread, as it stops (every lcore has returned): every sandbox runs fini and ends. */
void sandboxes_stop(void);

/*
 * Run fn(arg) on the control thread and return what it returns: for work
 * that starts sandboxes, asked for by a thread that may not outlive them.
 * -EAGAIN when the control thread is not running.
 */
int sandboxes_call(int (*fn)(void *arg), void *arg);

#endif /* TURBINE_SANDBOXES_H */
