/* Reading the counters: one snapshot for the live status line, telemetry and the final report. */
#include <inttypes.h>

#include <rte_cycles.h>
#include <rte_mempool.h>

#include "async.h"
#include "status.h"
#include "worker.h"

bool
status_worker_stuck(const struct runtime *rt, unsigned int w, struct status_stuck *st)
{
	uint64_t since, now = rte_rdtsc();
	int fn;

	if (!(__atomic_load_n(&rt->worker_out[w], __ATOMIC_RELAXED) & RUNTIME_WORKER_STUCK))
		return false;
	since = worker_busy_since(rt->workers[w], &fn);
	st->worker = w;
	st->function = fn >= 0 ? rt->functions[fn].cfg->name : NULL;
	st->ms = now > since ? (now - since) * 1000 / rt->tsc_hz : 0;
	return true;
}

void
status_read(const struct runtime *rt, struct status_snapshot *s)
{
	struct async_stats async_st;
	unsigned int w;

	counters_sum(&s->sum);
	s->mempool_in_use = rt->pool ? rte_mempool_in_use_count(rt->pool) : 0;
	s->mempool_size = rt->pool ? rt->pool->size : 0;
	async_get_stats(&async_st);
	s->queued = async_st.q.depth;
	s->queued_waiting = async_st.q.waiting;
	s->nb_stuck = 0;
	for (w = 0; w < rt->nb_workers; w++)
		if (status_worker_stuck(rt, w, &s->stuck[s->nb_stuck]))
			s->nb_stuck++;
}

static uint64_t
status_errors(const struct counters *c)
{
	uint64_t n = c->v[COUNTER_fn_errors];
	enum counter_id id;

	for (id = COUNTER_status_400; id <= COUNTER_status_503; id++)
		n += c->v[id];
	return n;
}

static uint64_t
status_drops(const struct counters *c)
{
	uint64_t n = 0;
	enum counter_id id;

	for (id = COUNTER_drop_truncated; id <= COUNTER_drop_alloc; id++)
		n += c->v[id];
	return n;
}

void
status_print_line(FILE *out, const struct status_snapshot *now, const struct status_snapshot *prev,
		  double seconds)
{
	const struct counters *c = &now->sum, *p = &prev->sum;
	unsigned int i;

	if (seconds <= 0)
		seconds = 1;
	fprintf(out, "turbine: status: %.0f req/s, %.0f errors/s, %.0f drops/s | "
		"%" PRIu64 " requests, %" PRIu64 " responses, %" PRIu64 " errors, %" PRIu64 " drops, "
		"%u/%u mbufs in use, %" PRIu64 " Events queued (%" PRIu64 " waiting to retry)",
		(c->v[COUNTER_requests] - p->v[COUNTER_requests]) / seconds,
		(status_errors(c) - status_errors(p)) / seconds,
		(status_drops(c) - status_drops(p)) / seconds,
		c->v[COUNTER_requests], c->v[COUNTER_responses], status_errors(c), status_drops(c),
		now->mempool_in_use, now->mempool_size, now->queued, now->queued_waiting);
	for (i = 0; i < now->nb_stuck; i++)
		fprintf(out, "%s worker %u stuck in %s for %" PRIu64 " ms", i == 0 ? " |" : ",",
			now->stuck[i].worker, now->stuck[i].function ? now->stuck[i].function : "its loop",
			now->stuck[i].ms);
	fputc('\n', out);
	fflush(out);
}

void
status_print_json(FILE *out, const struct status_snapshot *s)
{
	unsigned int i;

	fputc('{', out);
	for (i = 0; i < COUNTER_MAX; i++)
		fprintf(out, "\"%s\": %" PRIu64 ", ", counter_names[i], s->sum.v[i]);
	fprintf(out, "\"mempool_in_use\": %u, \"mempool_size\": %u, \"async_queued\": %" PRIu64 "}",
		s->mempool_in_use, s->mempool_size, s->queued);
}
