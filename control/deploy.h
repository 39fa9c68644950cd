/* Deployments: a function version's module and environments, created, switched live, torn down. */
#ifndef TURBINE_DEPLOY_H
#define TURBINE_DEPLOY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "runtime.h"

/*
 * Load `module` and initialise an environment of it on each of `workers`
 * (on this thread, before any of them gets the function's traffic).
 * Returns the deployment, ready where init succeeded, or NULL with `err`
 * set when the module cannot be loaded at all. Under functions_lock(), or
 * at start-up: it reads the function's configuration.
 */
struct deployment *deploy_create(struct runtime *rt, unsigned int fn, const char *module,
				 const char *version, const uint16_t *workers, unsigned int nb_workers,
				 char *err, size_t errlen);

/* Run every environment's fini, unload the module, free. Nothing may still use it. */
void deploy_free(struct deployment *dep);

/*
 * The exit past the drain's deadline, with lcores still running: fini for
 * every live environment except those on workers `stuck` marks (a stuck
 * worker may come back at any moment and use any of its environments);
 * nothing is unloaded. -EBUSY, and no fini, when a redeploy or the worker
 * manager still holds the deployments after `wait_ms` (a redeploy waits for
 * every lcore to be quiescent, and a stuck one never is).
 */
int deploy_fini_all_but(struct runtime *rt, const bool *stuck, unsigned int wait_ms);

/*
 * Live redeploy: a new version of function `fn` from `module`, initialised on
 * the workers that hold the current one, published to the data plane, and
 * the old one torn down once no lcore can be inside it (RCU). Refused, with
 * nothing changed, when the new version cannot initialise everywhere the old
 * one runs. `version` NULL: the current one plus one when it is a number.
 * This and the two below take functions_lock() themselves. A process-mode
 * function's redeploy runs on the control thread (sandboxes.h); its old
 * sandboxes run fini once their workers have answered what they held.
 */
int deploy_switch(struct runtime *rt, unsigned int fn, const char *module, const char *version,
		  char *err, size_t errlen);

/*
 * The worker manager's moves within the live version: give function `fn` an
 * environment on worker w (initialised before dispatch may use it), or take
 * one away (out of dispatch first, torn down once nothing queued for it can
 * still reach it). A function keeps at least one. 0, or a negative errno.
 */
int deploy_grow(struct runtime *rt, unsigned int fn, unsigned int w, char *err, size_t errlen);
int deploy_shrink(struct runtime *rt, unsigned int fn, unsigned int w);

#endif /* TURBINE_DEPLOY_H */
