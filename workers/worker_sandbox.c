/* Process-mode environments as a worker lcore runs them: calls handed to sandboxes, answers sent back. */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_malloc.h>

#include "request_desc.h"
#include "reply.h"
#include "worker.h"
#include "worker_sandbox.h"

/* Room for every environment a worker may be handed before it next looks. */
#define WORKER_SANDBOX_ADOPT_RING 256
/*
 * A worker whose sandbox runs on its own CPU gives the CPU up while the
 * sandbox has a call that began this recently: long enough for a short
 * handler to finish before the worker looks again, short enough that a
 * long one does not take more than its share from the watchdog.
 */
#define WORKER_SANDBOX_LEND_US 1000

static const char *const worker_sandbox_why_text[WORKER_SANDBOX_OUT_MAX] = {
	[WORKER_SANDBOX_IN] = "is not ready",
	[WORKER_SANDBOX_CRASHED] = "is restarting after it crashed",
	[WORKER_SANDBOX_OUT_OF_MEMORY] = "is restarting after it ran out of memory",
	[WORKER_SANDBOX_KILLED] = "is restarting after a call overran its timeout",
	[WORKER_SANDBOX_ENDED] = "is restarting after its process ended",
	[WORKER_SANDBOX_FAILED] = "could not be restarted: its init failed",
};

int
worker_sandboxes_create(struct worker *w)
{
	unsigned int socket = rte_lcore_to_socket_id(w->lcore_id);
	struct worker_sandboxes *s;
	char name[RTE_RING_NAMESIZE];

	s = rte_zmalloc_socket("worker_sandboxes", sizeof(*s), RTE_CACHE_LINE_SIZE, socket);
	if (s == NULL)
		return -ENOMEM;
	snprintf(name, sizeof(name), "sbx_adopt_%u", w->id);
	s->adopt = rte_ring_create(name, WORKER_SANDBOX_ADOPT_RING, socket,
				   RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (s->adopt == NULL) {
		rte_free(s);
		return -ENOMEM;
	}
	w->sandboxes = s;
	return 0;
}

void
worker_sandboxes_free(struct worker *w)
{
	if (w->sandboxes == NULL)
		return;
	rte_ring_free(w->sandboxes->adopt);
	rte_free(w->sandboxes);
	w->sandboxes = NULL;
}

int
worker_sandbox_hand(struct worker *w, struct worker_sandbox *ws)
{
	return rte_ring_sp_enqueue(w->sandboxes->adopt, ws) == 0 ? 0 : -ENOBUFS;
}

void
worker_sandbox_set_out(struct worker_sandbox *ws, enum worker_sandbox_out why)
{
	uint8_t in = WORKER_SANDBOX_IN;

	__atomic_compare_exchange_n(&ws->out, &in, (uint8_t)why, false, __ATOMIC_RELEASE,
				    __ATOMIC_RELAXED);
}

void
worker_sandbox_why(const struct worker_sandbox *ws, char *buf, size_t len)
{
	uint8_t out = __atomic_load_n(&ws->out, __ATOMIC_RELAXED);

	snprintf(buf, len, "its environment on worker %u %s", ws->worker,
		 worker_sandbox_why_text[out < WORKER_SANDBOX_OUT_MAX ? out : WORKER_SANDBOX_IN]);
}

/* Into the worker's list; false when the list is full (it is polled once there is room). */
static bool
worker_sandbox_adopt(struct worker_sandboxes *s, struct worker_sandbox *ws)
{
	if (ws->adopted)
		return true;
	if (s->nb == WORKER_SANDBOXES_MAX)
		return false;
	s->list[s->nb++] = ws;
	ws->adopted = true;
	return true;
}

/* What dispatchers see of the environment's load: its calls in the slots and `backlog` more. */
static void
worker_sandbox_publish_held(struct worker_sandbox *ws, uint32_t backlog)
{
	__atomic_store_n(&ws->held, ws->call_tail - ws->call_head + backlog, __ATOMIC_RELAXED);
}

static void
worker_sandbox_publish(struct worker_sandbox *ws)
{
	worker_sandbox_publish_held(ws, ws->backlog_count);
}

/* A 503 for a call this environment cannot take now, saying why. */
static int
worker_sandbox_refuse(const struct runtime *rt, struct counters *c, struct rte_mbuf *m,
		      const struct worker_sandbox *ws)
{
	char why[128];

	worker_sandbox_why(ws, why, sizeof(why));
	return reply_error(rt, c, m, 503, "no worker can take function %s now: %s",
			   rt->functions[request_desc_of(m)->function].cfg->name, why);
}

/* The call's answer is in `m` (rc 0) or could not be built (-1): it no longer counts, out it goes. */
static void
worker_sandbox_answered(const struct runtime *rt, struct worker *w, struct rte_mbuf *m, int rc)
{
	const struct request_desc *desc = request_desc_of(m);

	counting_finished(w->counting, desc->dispatcher, desc->function, desc->tenant);
	if (rc == 0)
		worker_send_reply(rt, w, m);
	else
		rte_pktmbuf_free(m);
}

/* Hand one call to the sandbox. 0, or sandbox_submit()'s error with nothing changed. */
static int
worker_sandbox_submit(const struct runtime *rt, struct worker_sandbox *ws, struct rte_mbuf *m,
		      const struct invoke_args *args)
{
	struct worker_sandbox_call *call = &ws->calls[ws->call_tail & (WORKER_SANDBOX_SLOTS - 1)];
	uint32_t spawns = __atomic_load_n(&ws->spawns, __ATOMIC_ACQUIRE);
	struct response_buf rb;
	int rc;

	if (reply_begin(rt, m, &rb) < 0)
		return -ENOSPC;
	/* Woken once for all the calls of this loop (worker_sandboxes_poll). */
	rc = sandbox_queue(ws->sb, args, rb.data, rb.cap, call);
	if (rc != 0)
		return rc;
	ws->wake = true;
	call->m = m;
	call->submit_tsc = rte_rdtsc();
	call->cold = spawns != ws->seen_spawns;
	ws->seen_spawns = spawns;
	ws->call_tail++;
	ws->last_deadline = args->ctx.deadline_tsc;
	return 0;
}

/* May a call with this deadline join the slots now (see worker_sandbox.h)? */
static bool
worker_sandbox_may_submit(const struct worker_sandbox *ws, uint64_t deadline_tsc)
{
	uint32_t inflight = ws->call_tail - ws->call_head;

	return inflight == 0 || (inflight < WORKER_SANDBOX_SLOTS && deadline_tsc >= ws->last_deadline);
}

static bool
worker_sandbox_ready(const struct worker_sandbox *ws)
{
	return sandbox_state(ws->sb) == SANDBOX_READY &&
	       __atomic_load_n(&ws->out, __ATOMIC_RELAXED) == WORKER_SANDBOX_IN;
}

int
worker_sandbox_invoke(const struct runtime *rt, struct worker *w, struct counters *c,
		      struct rte_mbuf *m, struct worker_sandbox *ws, const struct invoke_args *args)
{
	const struct request_desc *desc = request_desc_of(m);
	int rc;

	if (!worker_sandbox_adopt(w->sandboxes, ws))
		return reply_error(rt, c, m, 503, "no worker can take function %s now: worker %u "
				   "polls %u environments already", rt->functions[desc->function].cfg->name,
				   w->id, WORKER_SANDBOXES_MAX);
	if (!worker_sandbox_ready(ws))
		return worker_sandbox_refuse(rt, c, m, ws);
	if (ws->backlog_count == 0 && worker_sandbox_may_submit(ws, desc->deadline_tsc)) {
		rc = worker_sandbox_submit(rt, ws, m, args);
		if (rc == 0) {
			worker_sandbox_publish(ws);
			return WORKER_HELD;
		}
		if (rc == -ENOSPC) {
			counters_inc(c, COUNTER_drop_alloc);
			return -1;
		}
		if (rc != -ENOBUFS)
			return rc == -E2BIG ? reply_error(rt, c, m, 413, "the event and context of this "
							  "call do not fit function %s's sandbox",
							  rt->functions[desc->function].cfg->name)
					    : worker_sandbox_refuse(rt, c, m, ws);
	}
	if (ws->backlog_count == WORKER_SANDBOX_BACKLOG)
		return reply_error(rt, c, m, 503, "no worker can take function %s now: its environment "
				   "on worker %u has %u calls waiting",
				   rt->functions[desc->function].cfg->name, w->id, ws->backlog_count);
	ws->backlog[(ws->backlog_head + ws->backlog_count++) % WORKER_SANDBOX_BACKLOG] = m;
	if (ws->backlog_count == 1 || desc->deadline_tsc < ws->backlog_due)
		ws->backlog_due = desc->deadline_tsc;
	worker_sandbox_publish(ws);
	return WORKER_HELD;
}

/* What came back for the oldest call in the slots: its answer, figures and counters. */
static void
worker_sandbox_finish(const struct runtime *rt, struct worker *w, struct worker_sandbox *ws,
		      const struct sandbox_done *done)
{
	struct worker_sandbox_call *call = done->cookie;
	struct rte_mbuf *m = call->m;
	const struct request_desc *desc = request_desc_of(m);
	struct worker_fn_stats *stats = &w->stats[desc->function];
	struct counters *c = w->counters;
	struct response_buf rb;
	int rc = -1;

	ws->call_head++;
	/* Before the answer goes out: its caller's next call may be dispatched as soon as it lands. */
	worker_sandbox_publish(ws);
	if (done->killed) {
		worker_sandbox_set_out(ws, WORKER_SANDBOX_KILLED);
		counters_inc(c, COUNTER_sandbox_kills);
	} else if (done->exited) {
		worker_sandbox_set_out(ws, done->out_of_memory ? WORKER_SANDBOX_OUT_OF_MEMORY
							       : WORKER_SANDBOX_CRASHED);
		counters_inc(c, COUNTER_sandbox_crashes);
	}
	if (done->kind == SANDBOX_DONE_UNRUN) {
		w->sandboxes->refused += ws->stop_killed;
		worker_sandbox_answered(rt, w, m, ws->stop_killed ? reply_stopping(rt, c, m, w->id)
								  : worker_sandbox_refuse(rt, c, m, ws));
		return;
	}
	stats->calls++;
	hist_record(&stats->latency,
		    hist_tsc_to_ns(rte_rdtsc() - call->submit_tsc, w->ns_per_tsc_q32));
	if (call->cold)
		counters_inc(c, COUNTER_cold_starts);
	if (done->out.fn_error) {
		counters_inc(c, COUNTER_fn_errors);
		stats->fn_errors++;
	}
	if (done->out.timed_out) {
		counters_inc(c, COUNTER_fn_timeouts);
		stats->timeouts++;
	}
	if (done->kind == SANDBOX_DONE_REPLY && reply_begin(rt, m, &rb) == 0) {
		rb.len = done->resp_len;
		reply_finish(rt, m, &desc->from, &rb);
		reply_count_ok(c, &desc->from);
		rc = 0;
	} else {
		rc = reply_error(rt, c, m, 500, "the response of function %s could not be encoded",
				 rt->functions[desc->function].cfg->name);
	}
	worker_sandbox_answered(rt, w, m, rc);
}

/* A call that waited in the backlog until its deadline: Sandbox.Timedout, as if it had run. */
static int
worker_sandbox_expire(const struct runtime *rt, struct worker *w, struct worker_sandbox *ws,
		      struct rte_mbuf *m)
{
	const struct request_desc *desc = request_desc_of(m);
	struct worker_fn_stats *stats = &w->stats[desc->function];
	struct sandbox_done done;
	struct invoke_args args;
	struct response_buf rb;

	if (reply_begin(rt, m, &rb) < 0) {
		counters_inc(w->counters, COUNTER_drop_alloc);
		return -1;
	}
	worker_args(rt, w, m, NULL, &args);
	sandbox_expire(ws->sb, &args, rb.data, rb.cap, &done);
	if (done.kind != SANDBOX_DONE_REPLY)
		return reply_error(rt, w->counters, m, 500, "the response of function %s could not "
				   "be encoded", rt->functions[desc->function].cfg->name);
	counters_inc(w->counters, COUNTER_fn_errors);
	counters_inc(w->counters, COUNTER_fn_timeouts);
	stats->fn_errors++;
	stats->timeouts++;
	rb.len = done.resp_len;
	reply_finish(rt, m, &desc->from, &rb);
	reply_count_ok(w->counters, &desc->from);
	return 0;
}

/* Answer, in place, every backlog call whose deadline has passed; the others keep their order. */
static unsigned int
worker_sandbox_expire_backlog(const struct runtime *rt, struct worker *w,
			      struct worker_sandbox *ws, uint64_t now)
{
	uint32_t i, kept = 0, n = ws->backlog_count;
	unsigned int answered = 0;

	ws->backlog_due = UINT64_MAX;
	for (i = 0; i < n; i++) {
		struct rte_mbuf *m = ws->backlog[(ws->backlog_head + i) % WORKER_SANDBOX_BACKLOG];
		uint64_t deadline = request_desc_of(m)->deadline_tsc;

		if (now >= deadline) {
			worker_sandbox_publish_held(ws, n - answered - 1);
			worker_sandbox_answered(rt, w, m, worker_sandbox_expire(rt, w, ws, m));
			answered++;
			continue;
		}
		if (deadline < ws->backlog_due)
			ws->backlog_due = deadline;
		ws->backlog[(ws->backlog_head + kept++) % WORKER_SANDBOX_BACKLOG] = m;
	}
	ws->backlog_count = kept;
	return answered;
}

/* The backlog: refused when the sandbox cannot take calls, expired, or into the slots in turn. */
static unsigned int
worker_sandbox_backlog(const struct runtime *rt, struct worker *w, struct worker_sandbox *ws,
		       uint64_t now, bool stopping)
{
	unsigned int answered = 0;
	struct invoke_args args;
	struct rte_mbuf *m;
	int rc;

	if (stopping || !worker_sandbox_ready(ws)) {
		while (ws->backlog_count != 0) {
			m = ws->backlog[ws->backlog_head];
			ws->backlog_head = (ws->backlog_head + 1) % WORKER_SANDBOX_BACKLOG;
			ws->backlog_count--;
			worker_sandbox_publish(ws);
			rc = stopping ? reply_stopping(rt, w->counters, m, w->id)
				      : worker_sandbox_refuse(rt, w->counters, m, ws);
			w->sandboxes->refused += stopping;
			worker_sandbox_answered(rt, w, m, rc);
			answered++;
		}
		return answered;
	}
	if (now >= ws->backlog_due)
		answered += worker_sandbox_expire_backlog(rt, w, ws, now);
	while (ws->backlog_count != 0) {
		m = ws->backlog[ws->backlog_head];
		if (!worker_sandbox_may_submit(ws, request_desc_of(m)->deadline_tsc))
			break;
		worker_args(rt, w, m, NULL, &args);
		rc = worker_sandbox_submit(rt, ws, m, &args);
		if (rc == -ENOBUFS)
			break;
		ws->backlog_head = (ws->backlog_head + 1) % WORKER_SANDBOX_BACKLOG;
		ws->backlog_count--;
		if (rc == 0)
			continue;
		worker_sandbox_answered(rt, w, m, rc == -ENOSPC ? -1 : worker_sandbox_refuse(rt,
					w->counters, m, ws));
		answered++;
	}
	return answered;
}

/* Every answer the sandbox has ready, deadlines checked at `now`. */
static unsigned int
worker_sandbox_collect(const struct runtime *rt, struct worker *w, struct worker_sandbox *ws,
		       uint64_t now)
{
	struct sandbox_done done;
	unsigned int n = 0;

	while (sandbox_poll(ws->sb, now, &done) == 1) {
		worker_sandbox_finish(rt, w, ws, &done);
		n++;
	}
	return n;
}

/* One environment, one loop: true when it was released (retired and idle). */
static bool
worker_sandbox_poll_one(const struct runtime *rt, struct worker *w, struct worker_sandbox *ws,
			uint64_t now, bool stopping, unsigned int *answered)
{
	struct sandbox_done done;

	*answered += worker_sandbox_collect(rt, w, ws, now);
	if (ws->backlog_count != 0)
		*answered += worker_sandbox_backlog(rt, w, ws, now, stopping);
	/* Past the drain's deadline nothing more will be waited for: what it runs is cut short,
	 * and what it held is answered at once. */
	if (stopping && !ws->stop_killed && ws->call_tail != ws->call_head) {
		sandbox_abandon(ws->sb);
		ws->stop_killed = true;
		*answered += worker_sandbox_collect(rt, w, ws, now);
	}
	if (ws->wake) {
		sandbox_wake(ws->sb);
		ws->wake = false;
		/* On this lcore's CPU a sleeping sandbox took it at the wake, and has answered. */
		if (ws->shares_cpu)
			*answered += worker_sandbox_collect(rt, w, ws, rte_rdtsc());
	}
	worker_sandbox_publish(ws);
	if (ws->call_tail != ws->call_head || ws->backlog_count != 0 ||
	    !__atomic_load_n(&ws->retire, __ATOMIC_ACQUIRE))
		return false;
	/* A last look: a retired sandbox that died is DRAINED for the control thread here. */
	sandbox_poll(ws->sb, now, &done);
	ws->adopted = false;
	__atomic_store_n(&ws->released, 1, __ATOMIC_RELEASE);
	return true;
}

/* Does a sandbox that shares this lcore's CPU have a call it just began? */
static bool
worker_sandbox_lends(const struct worker_sandbox *ws, uint64_t now, uint64_t lend_tsc)
{
	return ws->shares_cpu && ws->call_tail != ws->call_head &&
	       now - ws->calls[ws->call_head & (WORKER_SANDBOX_SLOTS - 1)].submit_tsc < lend_tsc;
}

unsigned int
worker_sandboxes_poll(struct runtime *rt, struct worker *w, bool stopping)
{
	struct worker_sandboxes *s = w->sandboxes;
	struct worker_sandbox *ws;
	uint64_t now = rte_rdtsc(), lend_tsc = rt->tsc_hz / 1000000 * WORKER_SANDBOX_LEND_US;
	unsigned int i, answered = 0;
	bool lend = false;

	while (s->nb < WORKER_SANDBOXES_MAX && rte_ring_sc_dequeue(s->adopt, (void **)&ws) == 0)
		worker_sandbox_adopt(s, ws);
	for (i = 0; i < s->nb; ) {
		ws = s->list[i];
		if (worker_sandbox_poll_one(rt, w, ws, now, stopping, &answered)) {
			s->list[i] = s->list[--s->nb];
			continue;
		}
		lend = lend || worker_sandbox_lends(ws, now, lend_tsc);
		i++;
	}
	/*
	 * The sandbox can only run when this lcore lets it: a busy-polling lcore
	 * would hold the CPU until the scheduler's next tick. It runs the calls
	 * handed to it, then sleeps, and the lcore comes back to their answers.
	 */
	if (s->refused != 0) {
		__atomic_fetch_add(&rt->refused_at_stop, s->refused, __ATOMIC_RELAXED);
		s->refused = 0;
	}
	if (!lend || answered != 0)
		return answered;
	sched_yield();
	for (i = 0; i < s->nb; i++)
		if (s->list[i]->shares_cpu)
			answered += worker_sandbox_collect(rt, w, s->list[i], rte_rdtsc());
	return answered;
}

bool
worker_sandboxes_idle(const struct worker *w)
{
	const struct worker_sandboxes *s = w->sandboxes;
	unsigned int i;

	if (s == NULL)
		return true;
	for (i = 0; i < s->nb; i++)
		if (s->list[i]->call_tail != s->list[i]->call_head || s->list[i]->backlog_count != 0)
			return false;
	return true;
}
