/* Counting: Lambda's Counting Service. Limits set on the control thread, admission at line rate. */
#ifndef TURBINE_COUNTING_H
#define TURBINE_COUNTING_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"

/*
 * Each dispatcher admits against its own share of every limit, with state
 * only it writes; each worker counts what it finished, per dispatcher, in
 * state only it writes. A dispatcher's calls in flight for a function are
 * what it admitted minus what the workers say they finished of those: plain
 * loads and stores, no shared counter and no atomic read-modify-write per
 * request.
 *
 * Several dispatchers split every limit evenly, the remainder going to the
 * lowest-numbered ones (counting_share()): a limit of 5 over 2 dispatchers
 * is 3 + 2, and a limit of 1 over 2 dispatchers is 1 + 0. The split is
 * static, so the total never exceeds the limit, at the price of refusing on
 * one dispatcher while another has room when traffic is uneven (RSS spreads
 * flows evenly enough for that to be rare under load).
 */

/* Tenants named anywhere (declared or listed by a function), plus one slot for all others. */
#define COUNTING_MAX_TENANTS (2 * CONFIG_MAX_TENANTS)
#define COUNTING_OTHER_TENANT (COUNTING_MAX_TENANTS - 1)
#define COUNTING_MAX_DISPATCHERS 16

enum counting_verdict {
	COUNTING_ADMIT = 0,
	COUNTING_DENIED,                 /* 403: the tenant may not call the function */
	COUNTING_FN_CONCURRENCY,         /* 429 ReservedFunctionConcurrentInvocationLimitExceeded */
	COUNTING_TENANT_CONCURRENCY,     /* 429 ConcurrentInvocationLimitExceeded */
	COUNTING_FN_RATE,                /* 429 ReservedFunctionInvocationRateLimitExceeded */
	COUNTING_TENANT_RATE,            /* 429 CallerRateLimitExceeded */
	COUNTING_VERDICT_MAX
};

/* A token bucket in fixed point: one token is `hz` units, refilled at `rate` units per cycle. */
struct counting_bucket {
	uint64_t tokens;
	uint64_t last_tsc;
};

/* One limit as one dispatcher applies it: its share, which may be 0 (refuse all). */
struct counting_limit {
	bool has_concurrency;
	bool has_rate;
	uint32_t concurrency;
	uint64_t rate;      /* requests per second */
	uint64_t burst;     /* bucket depth, requests */
};

/*
 * A function's admission limits, published whole: every dispatcher's share
 * of them, and which tenants may call it. The control side builds a new one
 * for each change and never edits one a dispatcher may be reading, so a call
 * is admitted against one version of the limits, never a mix of two.
 */
struct counting_fn_limits {
	/* A reserved concurrency or a rate is set; false: admission has nothing to check. */
	bool limited;
	/* Tenants allowed, a bitmap over tenant indexes; all ones when unrestricted. */
	uint64_t tenants[COUNTING_MAX_TENANTS / 64];
	struct counting_limit share[COUNTING_MAX_DISPATCHERS]; /* by dispatcher index */
};

/* A dispatcher's admission state: tenant limits set by the control side, the rest by itself. */
struct counting_dispatcher {
	/*
	 * Admissions of a function not in flight, or no longer, without a
	 * worker counting them finished: an Event accepted (each run of it is
	 * admitted again), a call cancelled or released. Its calls in flight are
	 * its admissions (fn_verdicts' COUNTING_ADMIT) less these and less what
	 * the workers finished: a call admitted and run pays one count here,
	 * its admission, which telemetry wants anyway.
	 */
	uint64_t fn_not_running[CONFIG_MAX_FUNCTIONS];
	uint64_t tenant_admitted[COUNTING_MAX_TENANTS];
	struct counting_bucket fn_bucket[CONFIG_MAX_FUNCTIONS];
	struct counting_bucket tenant_bucket[COUNTING_MAX_TENANTS];
	struct counting_limit tenant_limit[COUNTING_MAX_TENANTS];
	/* The tenants with a limit in tenant_limit (either kind), a bit each: the one test the
	 * usual admission makes of them. Written by the control side with the limit. */
	uint64_t tenant_limited[COUNTING_MAX_TENANTS / 64];
	/* Admissions and refusals per function and verdict, for telemetry (and, for
	 * COUNTING_ADMIT, the calls in flight: see fn_not_running). */
	uint64_t fn_verdicts[CONFIG_MAX_FUNCTIONS][COUNTING_VERDICT_MAX];
	/* Refusals by a tenant's own limits, concurrency then rate: when a node leases its
	 * share of them (leases.c), a refusal is what makes it ask for more. */
	uint64_t tenant_refused[COUNTING_MAX_TENANTS][2];
};

/* What one worker finished, by the dispatcher that admitted it. Written only by that worker. */
struct counting_worker {
	uint64_t fn_finished[COUNTING_MAX_DISPATCHERS][CONFIG_MAX_FUNCTIONS];
	uint64_t tenant_finished[COUNTING_MAX_DISPATCHERS][COUNTING_MAX_TENANTS];
};


/* PROTOCOL.md's `reason` for a 429 verdict; NULL for the others. */
const char *counting_reason(enum counting_verdict v);

/* This dispatcher's share of `limit` split over `n` dispatchers. */
uint64_t counting_share(uint64_t limit, unsigned int n, unsigned int index);

/* The view one admission needs: the dispatcher's state and every worker's. */
struct counting_view {
	struct counting_dispatcher *d;
	unsigned int dispatcher;             /* index of d */
	struct counting_worker *const *workers;
	unsigned int nb_workers;
	uint64_t hz;                         /* TSC cycles per second */
};

/* Calls this dispatcher admitted for the function (or tenant) and no worker finished yet. */
uint64_t counting_fn_in_flight(const struct counting_view *v, unsigned int fn);
uint64_t counting_tenant_in_flight(const struct counting_view *v, unsigned int tenant);

/*
 * Admissions, refusals and calls in flight are counted in state one thread
 * writes (a dispatcher, or a worker) and others read (telemetry, the worker
 * manager, the dispatcher reading what workers finished): each such store and
 * each load from another thread is atomic, relaxed unless said otherwise
 * (a plain load or store on x86-64, and no race for ThreadSanitizer).
 */
/* The load atomic too (relaxed: this thread wrote it last): the load and the store then
 * share one address, where a plain load had the compiler work it out twice. */
static inline void
counting_add(uint64_t *count, int64_t n)
{
	__atomic_store_n(count, __atomic_load_n(count, __ATOMIC_RELAXED) + (uint64_t)n,
			 __ATOMIC_RELAXED);
}

/* The single writer's increment, published with release: a reader that acquires the new
 * count sees what was written before it (counting_fn_in_flight()). */
static inline void
counting_add_release(uint64_t *count)
{
	__atomic_store_n(count, __atomic_load_n(count, __ATOMIC_RELAXED) + 1, __ATOMIC_RELEASE);
}

static inline void
counting_count_verdict(struct counting_dispatcher *d, unsigned int fn, enum counting_verdict v)
{
	counting_add(&d->fn_verdicts[fn][v], 1);
}

/* How many calls of fn the dispatcher gave verdict v: from any thread. */
static inline uint64_t
counting_verdicts(const struct counting_dispatcher *d, unsigned int fn, enum counting_verdict v)
{
	return __atomic_load_n(&d->fn_verdicts[fn][v], __ATOMIC_RELAXED);
}

/* Is the tenant allowed to call the function (403 otherwise)? No side effect. */
static inline bool
counting_allowed(const struct counting_fn_limits *fl, unsigned int tenant)
{
	return (fl->tenants[tenant / 64] >> (tenant % 64)) & 1;
}

/*
 * Admit one call of function fn, under its limits `fl`, or say which limit
 * refuses it. On COUNTING_ADMIT the call is counted in flight and a token
 * taken from each bucket; a refusal changes nothing. *retry_after_ms gets a
 * hint for 429s (0 when none can be given).
 */
enum counting_verdict counting_admit(const struct counting_view *v, unsigned int fn,
				     const struct counting_fn_limits *fl, unsigned int tenant,
				     uint64_t now_tsc, uint32_t *retry_after_ms);

/*
 * Part of an admission: an Event pays its rate tokens when it is accepted
 * (COUNTING_CHECK_RATE: nothing is in flight yet), and each of its runs
 * then counts against concurrency only (COUNTING_CHECK_CONCURRENCY).
 */
#define COUNTING_CHECK_CONCURRENCY 0x1u
#define COUNTING_CHECK_RATE        0x2u
#define COUNTING_CHECK_ALL         (COUNTING_CHECK_CONCURRENCY | COUNTING_CHECK_RATE)

/* counting_admit_only() for a function or a tenant with a limit. */
enum counting_verdict counting_admit_limited(const struct counting_view *v, unsigned int fn,
					     const struct counting_fn_limits *fl,
					     unsigned int tenant, uint64_t now_tsc,
					     uint32_t *retry_after_ms, unsigned int checks);

/* Has the control thread given this tenant a limit on this dispatcher (counting_set_tenant())? */
static inline bool
counting_tenant_limited(const struct counting_dispatcher *d, unsigned int tenant)
{
	return (__atomic_load_n(&d->tenant_limited[tenant / 64], __ATOMIC_RELAXED) >>
		(tenant % 64)) & 1;
}

/* An admission the caller decided: counted, and, when it runs now, counted in flight. */
static inline void
counting_admitted(struct counting_dispatcher *d, unsigned int fn, unsigned int tenant,
		  unsigned int checks)
{
	counting_count_verdict(d, fn, COUNTING_ADMIT);
	if (checks & COUNTING_CHECK_CONCURRENCY)
		counting_add(&d->tenant_admitted[tenant], 1);
	else    /* released after the admission: whoever sees it sees that too */
		counting_add_release(&d->fn_not_running[fn]);
}

/*
 * counting_admit() once the caller has found the tenant allowed
 * (counting_allowed(): the dispatcher answers 403 before anything else is
 * decided), for the `checks` asked. The usual call is inline: a function
 * and a tenant without limits have nothing to check, and what is left to
 * count is its admission (telemetry's) and the call in flight for its
 * tenant: the function's calls in flight follow from its admissions
 * (fn_not_running). The worker manager and telemetry read them, and a
 * limit set later must find the calls already running.
 */
static inline enum counting_verdict
counting_admit_only(const struct counting_view *v, unsigned int fn,
		    const struct counting_fn_limits *fl, unsigned int tenant, uint64_t now_tsc,
		    uint32_t *retry_after_ms, unsigned int checks)
{
	struct counting_dispatcher *d = v->d;

	if (fl->limited || counting_tenant_limited(d, tenant))
		return counting_admit_limited(v, fn, fl, tenant, now_tsc, retry_after_ms, checks);
	*retry_after_ms = 0;
	counting_admitted(d, fn, tenant, checks);
	return COUNTING_ADMIT;
}

/*
 * Undo an admission whose call never reached a worker (every queue was
 * full); `fl` and `checks` as admitted. Only an admission that checked the
 * rate took tokens: a queued Event's run (COUNTING_CHECK_CONCURRENCY) gives
 * none back, or the bucket would end up with tokens it never lost.
 */
void counting_cancel(const struct counting_view *v, unsigned int fn,
		     const struct counting_fn_limits *fl, unsigned int tenant, unsigned int checks);

/*
 * A call the dispatcher ended itself, with no worker to count it finished
 * (its deadline passed while it waited): no longer in flight. Unlike
 * counting_cancel() its tokens stay spent: the caller was answered.
 */
void counting_release(const struct counting_view *v, unsigned int fn, unsigned int tenant);

/* A worker finished a call a dispatcher admitted: single writer, so a plain store. */
static inline void
counting_finished(struct counting_worker *w, unsigned int dispatcher, unsigned int fn,
		  unsigned int tenant)
{
	counting_add_release(&w->fn_finished[dispatcher][fn]);
	counting_add_release(&w->tenant_finished[dispatcher][tenant]);
}

/*
 * Control side: fill a function's limits, not yet published, from its
 * configuration, split over `n` dispatchers; `allowed` (by tenant index)
 * says which tenants may call it, NULL every tenant.
 */
void counting_fn_limits_init(struct counting_fn_limits *fl, const struct function_config *cfg,
			     const bool *allowed, unsigned int n);
/* Control thread: publish a tenant's limits as dispatcher `index` of `n` applies them. */
void counting_set_tenant(struct counting_dispatcher *d, unsigned int tenant,
			 const struct tenant_config *cfg, unsigned int index, unsigned int n);
/*
 * The same for a node's lease of a tenant's limits (leases.c): a limit the
 * node holds a share of applies even when the share is 0 (refuse all),
 * where 0 in a tenant_config means no limit.
 */
void counting_set_tenant_share(struct counting_dispatcher *d, unsigned int tenant,
			       bool has_concurrency, uint32_t concurrency, bool has_rate,
			       uint64_t rate, uint64_t burst, unsigned int index, unsigned int n);

/* Refusals of the tenant by its own concurrency (rate: false) or rate limit: from any thread. */
static inline uint64_t
counting_tenant_refused(const struct counting_dispatcher *d, unsigned int tenant, bool rate)
{
	return __atomic_load_n(&d->tenant_refused[tenant][rate], __ATOMIC_RELAXED);
}

#endif /* TURBINE_COUNTING_H */
