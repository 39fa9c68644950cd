/* Dispatch policies: which of a function's environments takes its next call. */
#ifndef TURBINE_POLICY_H
#define TURBINE_POLICY_H

struct dispatcher;
struct deployment;

struct dispatch_policy {
	const char *name;
	/*
	 * Choose the worker for the next call of function `fn_index` among
	 * dep->workers, skipping any this dispatcher has no ring to (its own
	 * lcore's worker) or whose ring is full. Returns the worker's id, or -1
	 * when none can take the call. Runs on the dispatcher's lcore for every
	 * request: no locks, no allocation, no writes outside `d`.
	 */
	int (*pick)(struct dispatcher *d, const struct deployment *dep, unsigned int fn_index);
};

extern const struct dispatch_policy policy_jsq;          /* join the shortest queue (default) */
extern const struct dispatch_policy policy_round_robin;
extern const struct dispatch_policy policy_p2c;          /* the shorter of two random queues */

/* A policy by its configuration name ("jsq", "round-robin", "p2c"); NULL when unknown. */
const struct dispatch_policy *policy_find(const char *name);

/* How many of dep's calls wait for worker w: in d's ring to it and, for a process-mode
 * function, in its sandbox; UINT32_MAX when there is no ring, it is full, the worker is out of
 * dispatch (stale or drained) or the function's sandbox there cannot take a call. */
unsigned int policy_queue_depth(const struct dispatcher *d, const struct deployment *dep,
				unsigned int w);

#endif /* TURBINE_POLICY_H */
