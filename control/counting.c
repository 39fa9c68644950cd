/* Counting: Lambda's Counting Service. Limits set on the control thread, admission at line rate. */
#include <string.h>

#include "counting.h"

const char *
counting_reason(enum counting_verdict v)
{
	switch (v) {
	case COUNTING_FN_CONCURRENCY: return "ReservedFunctionConcurrentInvocationLimitExceeded";
	case COUNTING_TENANT_CONCURRENCY: return "ConcurrentInvocationLimitExceeded";
	case COUNTING_FN_RATE: return "ReservedFunctionInvocationRateLimitExceeded";
	case COUNTING_TENANT_RATE: return "CallerRateLimitExceeded";
	default: return NULL;
	}
}

uint64_t
counting_share(uint64_t limit, unsigned int n, unsigned int index)
{
	if (n <= 1)
		return limit;
	return limit / n + (index < limit % n ? 1 : 0);
}

uint64_t
counting_fn_in_flight(const struct counting_view *v, unsigned int fn)
{
	/* First: each of these was admitted before it was counted here (counting_admitted()). */
	uint64_t gone = __atomic_load_n(&v->d->fn_not_running[fn], __ATOMIC_ACQUIRE);
	uint64_t finished = 0;
	unsigned int w;

	for (w = 0; w < v->nb_workers; w++)
		finished += __atomic_load_n(&v->workers[w]->fn_finished[v->dispatcher][fn],
					    __ATOMIC_ACQUIRE);
	/* Loaded after what was finished: a call is admitted before it can finish, so never < 0. */
	return counting_verdicts(v->d, fn, COUNTING_ADMIT) - gone - finished;
}

uint64_t
counting_tenant_in_flight(const struct counting_view *v, unsigned int tenant)
{
	uint64_t finished = 0;
	unsigned int w;

	for (w = 0; w < v->nb_workers; w++)
		finished += __atomic_load_n(&v->workers[w]->tenant_finished[v->dispatcher][tenant],
					    __ATOMIC_ACQUIRE);
	return __atomic_load_n(&v->d->tenant_admitted[tenant], __ATOMIC_RELAXED) - finished;
}

static uint64_t
counting_bucket_depth(const struct counting_limit *l, uint64_t hz)
{
	return l->burst * hz;
}

/* Refill to now; a bucket idle long enough is simply full (and the product cannot overflow). */
static void
counting_refill(struct counting_bucket *b, const struct counting_limit *l, uint64_t now,
		uint64_t hz)
{
	uint64_t depth = counting_bucket_depth(l, hz);
	uint64_t elapsed = now - b->last_tsc;

	b->last_tsc = now;
	if (l->rate == 0) {
		b->tokens = 0;
		return;
	}
	if (b->tokens >= depth || elapsed >= depth / l->rate + 1) {
		b->tokens = depth;
		return;
	}
	b->tokens += elapsed * l->rate;
	if (b->tokens > depth)
		b->tokens = depth;
}

/* Milliseconds until the bucket holds one token again. */
static uint32_t
counting_wait_ms(const struct counting_bucket *b, const struct counting_limit *l, uint64_t hz)
{
	uint64_t missing = hz - b->tokens;
	uint64_t cycles;

	if (l->rate == 0 || l->burst == 0)
		return 1000;    /* this dispatcher's share is nothing: a second is as good a guess as any */
	cycles = (missing + l->rate - 1) / l->rate;

	return (uint32_t)((cycles * 1000 + hz - 1) / hz);
}

/* A tenant's limit as the control thread last published it (in place: see counting_set_tenant). */
static struct counting_limit
counting_limit_load(const struct counting_limit *l)
{
	struct counting_limit out;

	out.has_concurrency = __atomic_load_n(&l->has_concurrency, __ATOMIC_ACQUIRE);
	out.has_rate = __atomic_load_n(&l->has_rate, __ATOMIC_ACQUIRE);
	out.concurrency = __atomic_load_n(&l->concurrency, __ATOMIC_RELAXED);
	out.rate = __atomic_load_n(&l->rate, __ATOMIC_RELAXED);
	out.burst = __atomic_load_n(&l->burst, __ATOMIC_RELAXED);
	return out;
}

/* The limits of a call the fast path (counting_admit_only()) could not admit alone. */
static enum counting_verdict
counting_check(const struct counting_view *v, unsigned int fn,
	       const struct counting_fn_limits *limits, unsigned int tenant, uint64_t now_tsc,
	       uint32_t *retry_after_ms, unsigned int checks)
{
	bool concurrency = checks & COUNTING_CHECK_CONCURRENCY, rate = checks & COUNTING_CHECK_RATE;
	struct counting_dispatcher *d = v->d;
	const struct counting_limit *fl = &limits->share[v->dispatcher];
	const struct counting_limit tenant_limit = counting_limit_load(&d->tenant_limit[tenant]);
	const struct counting_limit *tl = &tenant_limit;
	struct counting_bucket *fb = &d->fn_bucket[fn], *tb = &d->tenant_bucket[tenant];

	*retry_after_ms = 0;
	/* A slot frees when some call finishes: the soonest that can be is now. */
	if (concurrency && fl->has_concurrency && counting_fn_in_flight(v, fn) >= fl->concurrency) {
		*retry_after_ms = 1;
		return COUNTING_FN_CONCURRENCY;
	}
	if (concurrency && tl->has_concurrency &&
	    counting_tenant_in_flight(v, tenant) >= tl->concurrency) {
		*retry_after_ms = 1;
		return COUNTING_TENANT_CONCURRENCY;
	}
	if (rate && fl->has_rate) {
		counting_refill(fb, fl, now_tsc, v->hz);
		if (fb->tokens < v->hz) {
			*retry_after_ms = counting_wait_ms(fb, fl, v->hz);
			return COUNTING_FN_RATE;
		}
	}
	if (rate && tl->has_rate) {
		counting_refill(tb, tl, now_tsc, v->hz);
		if (tb->tokens < v->hz) {
			*retry_after_ms = counting_wait_ms(tb, tl, v->hz);
			return COUNTING_TENANT_RATE;
		}
	}
	if (rate && fl->has_rate)
		fb->tokens -= v->hz;
	if (rate && tl->has_rate)
		tb->tokens -= v->hz;
	return COUNTING_ADMIT;
}

enum counting_verdict
counting_admit(const struct counting_view *v, unsigned int fn, const struct counting_fn_limits *fl,
	       unsigned int tenant, uint64_t now_tsc, uint32_t *retry_after_ms)
{
	if (!counting_allowed(fl, tenant)) {
		*retry_after_ms = 0;
		counting_count_verdict(v->d, fn, COUNTING_DENIED);
		return COUNTING_DENIED;
	}
	return counting_admit_only(v, fn, fl, tenant, now_tsc, retry_after_ms, COUNTING_CHECK_ALL);
}

enum counting_verdict
counting_admit_limited(const struct counting_view *v, unsigned int fn,
		       const struct counting_fn_limits *fl, unsigned int tenant, uint64_t now_tsc,
		       uint32_t *retry_after_ms, unsigned int checks)
{
	enum counting_verdict verdict = counting_check(v, fn, fl, tenant, now_tsc, retry_after_ms,
						       checks);

	if (verdict == COUNTING_ADMIT)
		counting_admitted(v->d, fn, tenant, checks);
	else
		counting_count_verdict(v->d, fn, verdict);
	if (verdict == COUNTING_TENANT_CONCURRENCY || verdict == COUNTING_TENANT_RATE)
		counting_add(&v->d->tenant_refused[tenant][verdict == COUNTING_TENANT_RATE], 1);
	return verdict;
}

void
counting_release(const struct counting_view *v, unsigned int fn, unsigned int tenant)
{
	counting_add_release(&v->d->fn_not_running[fn]);
	counting_add(&v->d->tenant_admitted[tenant], -1);
}

void
counting_cancel(const struct counting_view *v, unsigned int fn,
		const struct counting_fn_limits *fl, unsigned int tenant, unsigned int checks)
{
	struct counting_dispatcher *d = v->d;

	counting_release(v, fn, tenant);
	if (!(checks & COUNTING_CHECK_RATE))
		return;
	/* The tokens it took are given back: the call did not happen. */
	if (fl->share[v->dispatcher].has_rate)
		d->fn_bucket[fn].tokens += v->hz;
	if (__atomic_load_n(&d->tenant_limit[tenant].has_rate, __ATOMIC_ACQUIRE))
		d->tenant_bucket[tenant].tokens += v->hz;
}

/* A limit (0 = none) as dispatcher `index` of `n` applies it: its share. */
static struct counting_limit
counting_limit_share(uint64_t concurrency, uint64_t rate, uint64_t burst, unsigned int index,
		     unsigned int n)
{
	return (struct counting_limit){
		.has_concurrency = concurrency != 0,
		.has_rate = rate != 0,
		.concurrency = (uint32_t)counting_share(concurrency, n, index),
		.rate = counting_share(rate, n, index),
		.burst = counting_share(burst ? burst : rate, n, index),
	};
}

void
counting_fn_limits_init(struct counting_fn_limits *fl, const struct function_config *cfg,
			const bool *allowed, unsigned int n)
{
	unsigned int d, t;

	memset(fl, 0, sizeof(*fl));
	fl->limited = cfg->reserved_concurrency != 0 || cfg->rate != 0;
	for (d = 0; d < n && d < COUNTING_MAX_DISPATCHERS; d++)
		fl->share[d] = counting_limit_share(cfg->reserved_concurrency, cfg->rate, cfg->burst,
						    d, n);
	memset(fl->tenants, allowed ? 0 : 0xff, sizeof(fl->tenants));
	for (t = 0; allowed != NULL && t < COUNTING_MAX_TENANTS; t++)
		if (allowed[t])
			fl->tenants[t / 64] |= 1ull << (t % 64);
}

/*
 * A tenant's limits are published field by field, in place: the dispatcher
 * may read them mid-update; each is a single aligned store, and a call
 * admitted against a half-published limit is admitted against the old or
 * the new one, both valid.
 */
static void
counting_publish_tenant(struct counting_dispatcher *d, unsigned int tenant,
			const struct counting_limit *next)
{
	struct counting_limit *l = &d->tenant_limit[tenant];

	__atomic_store_n(&l->concurrency, next->concurrency, __ATOMIC_RELAXED);
	__atomic_store_n(&l->rate, next->rate, __ATOMIC_RELAXED);
	__atomic_store_n(&l->burst, next->burst, __ATOMIC_RELAXED);
	__atomic_store_n(&l->has_concurrency, next->has_concurrency, __ATOMIC_RELEASE);
	__atomic_store_n(&l->has_rate, next->has_rate, __ATOMIC_RELEASE);
	/* Atomic read-modify-write: another tenant's bit may share the word. */
	if (next->has_concurrency || next->has_rate)
		__atomic_fetch_or(&d->tenant_limited[tenant / 64], 1ull << (tenant % 64),
				  __ATOMIC_RELEASE);
	else
		__atomic_fetch_and(&d->tenant_limited[tenant / 64], ~(1ull << (tenant % 64)),
				   __ATOMIC_RELEASE);
}

void
counting_set_tenant(struct counting_dispatcher *d, unsigned int tenant,
		    const struct tenant_config *cfg, unsigned int index, unsigned int n)
{
	struct counting_limit next = counting_limit_share(cfg->concurrency, cfg->rate, cfg->burst,
							  index, n);

	counting_publish_tenant(d, tenant, &next);
}

void
counting_set_tenant_share(struct counting_dispatcher *d, unsigned int tenant,
			  bool has_concurrency, uint32_t concurrency, bool has_rate, uint64_t rate,
			  uint64_t burst, unsigned int index, unsigned int n)
{
	struct counting_limit next = {
		.has_concurrency = has_concurrency,
		.has_rate = has_rate,
		.concurrency = (uint32_t)counting_share(concurrency, n, index),
		.rate = counting_share(rate, n, index),
		.burst = counting_share(burst, n, index),
	};

	counting_publish_tenant(d, tenant, &next);
}
