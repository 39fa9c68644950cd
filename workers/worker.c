/* A worker lcore: warm environments of its functions, and the loop that runs requests on them. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_malloc.h>
#include <rte_pause.h>

#include "deadline.h"
#include "reply.h"
#include "request_desc.h"
#include "worker.h"
#include "worker_sandbox.h"

int
worker_create(struct runtime *rt, unsigned int id, unsigned int lcore_id, int tx_queue)
{
	struct worker *w;

	/* A burst is what the call slot holds behind the running call. */
	RTE_BUILD_BUG_ON(RUNTIME_BURST != CALL_SLOT_HELD);
	w = rte_zmalloc_socket("worker", sizeof(*w), RTE_CACHE_LINE_SIZE,
			       rte_lcore_to_socket_id(lcore_id));
	if (w == NULL)
		return -ENOMEM;
	w->id = id;
	w->lcore_id = lcore_id;
	w->counters = counters_of_lcore(lcore_id);
	if (tx_queue >= 0)
		tx_queue_init(&w->tx, rt->port_id, (uint16_t)tx_queue, w->counters);
	rt->workers[id] = w;
	rt->roles[lcore_id].worker = w;
	return 0;
}

int
worker_stats_init(struct runtime *rt, struct worker *w)
{
	unsigned int f;

	w->stats = rte_zmalloc_socket("worker_stats", sizeof(*w->stats) * rt->nb_functions,
				      RTE_CACHE_LINE_SIZE, rte_lcore_to_socket_id(w->lcore_id));
	if (w->stats == NULL)
		return -ENOMEM;
	for (f = 0; f < rt->nb_functions; f++)
		hist_reset(&w->stats[f].latency);
	w->ns_per_tsc_q32 = hist_ns_per_tsc_q32(rt->tsc_hz);
	w->heartbeat_tsc = rte_rdtsc();
	return 0;
}

void
worker_free(struct worker *w)
{
	if (w == NULL)
		return;
	worker_sandboxes_free(w);
	rte_free(w->stats);
	rte_free(w);
}

/*
 * Inline into worker_run(), the one caller per call; worker_args() is this
 * for the sandbox's. env, head and names come from the deployment the
 * call runs under (worker_args() may have none).
 */
static __rte_always_inline void
worker_args_fill(const struct runtime *rt, const struct worker *w, struct rte_mbuf *m,
		 struct environment *env, const struct response_head *head,
		 const struct deployment_names *names, struct invoke_args *args)
{
	const struct request_desc *desc = request_desc_of(m);
	const uint8_t *payload = request_payload(m, desc);
	const struct request *req = &desc->req;
	struct turbine_ctx *ctx = &args->ctx;

	/*
	 * Field by field, in place: a compound literal assigned through the
	 * pointer is built on the stack and then copied, padding and all.
	 * ctx->internal and start_tsc are for whoever runs the call to set:
	 * worker_run() sets both, worker_args() clears them for the others.
	 */
	args->env = env;
	args->head = head;
	args->event.data = req->event.len != 0 ? (const char *)payload + req->event.off : NULL;
	args->event.len = req->event.len;
	args->timeout_ms = desc->timeout_ms;
	args->log_tail = req->log_tail;
	ctx->request_id = req->id;
	ctx->function = names->function;
	ctx->version = names->version;
	ctx->tenant = req->tenant.len != 0
		? (struct turbine_str){ (const char *)payload + req->tenant.off, req->tenant.len }
		: (struct turbine_str){ "default", 7 };
	ctx->trace = (struct turbine_str){ (const char *)payload + req->trace.off, req->trace.len };
	ctx->client_context = (struct turbine_str){ (const char *)payload + req->ctx.off,
						    req->ctx.len };
	ctx->memory_mb = desc->memory_mb;
	ctx->worker_id = w->id;
	ctx->deadline_tsc = desc->deadline_tsc;
	ctx->tsc_hz = rt->tsc_hz;
}

void
worker_args(const struct runtime *rt, const struct worker *w, struct rte_mbuf *m,
	    struct deployment *dep, struct invoke_args *args)
{
	const struct function *fn = &rt->functions[request_desc_of(m)->function];
	const struct deployment_names none = {
		.function = { fn->cfg->name, fn->name_len }, .version = { "", 0 },
	};

	if (dep != NULL)
		worker_args_fill(rt, w, m, &dep->envs[w->id], &dep->ok_head, &dep->names, args);
	else
		worker_args_fill(rt, w, m, NULL, NULL, &none, args);
	args->start_tsc = 0;
	args->ctx.internal = NULL;
}

/* A call that was cold, failed or timed out: its counters, off the plain call's path. */
static void
worker_count_outcome(struct counters *c, struct worker_fn_stats *stats,
		     const struct invoke_outcome *out)
{
	if (out->was_cold)
		counters_inc(c, COUNTER_cold_starts);
	/* A timeout is a function error too (invoke_run()). */
	if (out->fn_error) {
		counters_inc(c, COUNTER_fn_errors);
		__atomic_fetch_add(&stats->fn_errors, 1, __ATOMIC_RELAXED);
		if (out->timed_out) {
			counters_inc(c, COUNTER_fn_timeouts);
			__atomic_fetch_add(&stats->timeouts, 1, __ATOMIC_RELAXED);
		}
	}
}

/* Inline into worker_invoke(): measured, a call of its own costs more than it saves. */
static __rte_always_inline int
worker_run(const struct runtime *rt, struct worker *w, struct counters *c, struct rte_mbuf *m,
	   uint64_t *now)
{
	struct request_desc *desc = request_desc_of(m);
	const struct function *fn = &rt->functions[desc->function];
	/* Read once: a redeploy switching versions now takes effect from the next call. */
	struct deployment *dep = runtime_live(fn);
	struct environment *env = &dep->envs[w->id];
	struct worker_sandbox *ws = NULL;
	struct worker_fn_stats *stats;
	struct invoke_outcome out;
	uint64_t start, elapsed, gen;
	struct invoke_args args;
	struct response_buf rb;
	int rc;

	if (dep->isolated)
		ws = __atomic_load_n(&dep->sandboxes[w->id], __ATOMIC_ACQUIRE);
	if (ws != NULL) {
		worker_args(rt, w, m, dep, &args);
		return worker_sandbox_invoke(rt, w, c, m, ws, &args);
	}
	if (!env->ready || dep->isolated) {
		/* Placement only sends a function to workers whose init succeeded; kept for safety. */
		if (reply_error(rt, c, m, 502, "function %s is not ready on worker %u: %s",
				fn->cfg->name, w->id, env->error) < 0)
			return -1;
		return 0;
	}
	stats = &w->stats[desc->function];
	/* The call's one TSC read before its handler; invoke_run() makes the one after. */
	start = rte_rdtsc();
	/* It waited past its deadline: too late to run, and the answer is known. */
	if (start > desc->deadline_tsc)
		return deadline_answer(rt, c, stats, m, m, dep->names.version);
	gen = call_slot_begin(&w->slot, &(struct call_slot_call){
		.m = m, .deadline_tsc = desc->deadline_tsc, .start_tsc = start,
		.version = &dep->names.version,
		.dispatcher = desc->dispatcher, .function = desc->function,
	});
	/*
	 * What the handler is handed is built after the slot's word is
	 * published, not before: the word's release would otherwise send it
	 * to the stack and back before invoke_run() reads it.
	 */
	if (unlikely(reply_begin(rt, m, &rb) < 0)) {
		counters_inc(c, COUNTER_drop_alloc);
		return call_slot_settle(&w->slot, gen) == CALL_SLOT_LATE ? WORKER_LATE : -1;
	}
	worker_args_fill(rt, w, m, env, &dep->ok_head, &dep->names, &args);
	args.start_tsc = start;
	rc = invoke_run(&w->scratch, &args, &rb, &out);
	*now = out.end_tsc;
	elapsed = out.end_tsc - start;
	w->busy_tsc += elapsed;
	stats->calls++;
	hist_record(&stats->latency, hist_tsc_to_ns(elapsed, w->ns_per_tsc_q32));
	if (call_slot_settle(&w->slot, gen) == CALL_SLOT_LATE) {
		/* Its dispatcher answered Sandbox.Timedout at the deadline: this would be a
		 * second answer. */
		counters_inc(c, COUNTER_late_results_discarded);
		return WORKER_LATE;
	}
	if (rc < 0) {
		if (reply_error(rt, c, m, 500, "the response of function %s could not be encoded",
				fn->cfg->name) < 0)
			return -1;
		return 0;
	}
	if (unlikely(out.any))
		worker_count_outcome(c, stats, &out);
	reply_finish(rt, m, &desc->from, &rb);
	reply_count_ok(c, &desc->from);
	return 0;
}

int
worker_invoke(const struct runtime *rt, struct worker *w, struct counters *c, struct rte_mbuf *m,
	      uint64_t *now)
{
	const struct request_desc *desc = request_desc_of(m);
	int rc = worker_run(rt, w, c, m, now);

	/* Finished, answered or not: the call no longer counts against its limits. A sandbox's
	 * call counts until its answer comes back (worker_sandbox.c). Read after the run, not
	 * kept across it: a reply leaves the descriptor as it was, and until worker_poll()
	 * sends or frees the mbuf it is this worker's, late or not. */
	if (rc != WORKER_HELD)
		counting_finished(w->counting, desc->dispatcher, desc->function, desc->tenant);
	return rc;
}

/* Past the drain's deadline (its rings taken over): answer a call it holds without running it. */
static int
worker_refuse(struct runtime *rt, struct worker *w, struct rte_mbuf *m)
{
	const struct request_desc *desc = request_desc_of(m);
	unsigned int dispatcher = desc->dispatcher, function = desc->function, tenant = desc->tenant;
	int rc = reply_stopping(rt, w->counters, m, w->id);

	counting_finished(w->counting, dispatcher, function, tenant);
	__atomic_fetch_add(&rt->refused_at_stop, 1, __ATOMIC_RELAXED);
	return rc;
}

/* A reply goes out on the worker's own TX queue, or back to the dispatcher that received it. */
static void
worker_send(struct worker *w, struct rte_ring *back, struct rte_mbuf *m)
{
	if (back == NULL) {
		tx_send(&w->tx, m);
		return;
	}
	/* The ring holds as many as the dispatcher could have queued to us, so this waits only
	 * for a dispatcher that is mid-burst: a reply is never dropped here. */
	while (rte_ring_sp_enqueue(back, m) != 0)
		rte_pause();
}

/* rest[i]: the earliest deadline among pkts[i .. n), what the call slot publishes as held. */
static void
worker_held_deadlines(struct rte_mbuf **pkts, unsigned int n, uint64_t *rest)
{
	unsigned int i;

	rest[n] = UINT64_MAX;
	for (i = n; i-- > 0;)
		rest[i] = RTE_MIN(rest[i + 1], request_desc_of(pkts[i])->deadline_tsc);
}

void
worker_send_reply(const struct runtime *rt, struct worker *w, struct rte_mbuf *m)
{
	worker_send(w, rt->workers_own_txq ? NULL : w->outbound[request_desc_of(m)->dispatcher], m);
}

unsigned int
worker_poll(struct runtime *rt, struct worker *w)
{
	struct rte_mbuf **pkts = w->slot.held;
	uint64_t rest[RUNTIME_BURST + 1];
	unsigned int r, i, n, total = 0;
	uint64_t now; /* worker_invoke()'s clock: not needed here */

	/* The control thread takes a worker whose loop stops coming round out of dispatch. */
	__atomic_store_n(&w->heartbeat_tsc, rte_rdtsc(), __ATOMIC_RELAXED);
	for (r = 0; r < w->nb_inbound; r++) {
		if (!handover_begin_dequeue(&w->handover))
			break;
		/* Into the call slot: a watchdog that answers a call at its deadline takes
		 * the calls dequeued with it too, rather than leave them behind a handler
		 * that may never return. */
		n = rte_ring_sc_dequeue_burst(w->inbound[r], (void **)pkts, RUNTIME_BURST, NULL);
		handover_end_dequeue(&w->handover);
		worker_held_deadlines(pkts, n, rest);
		for (i = 0; i < n; i++) {
			struct rte_mbuf *m = pkts[i];
			/* The rest of a burst is still this worker's when its rings are taken over:
			 * past the drain's deadline it answers them rather than run them. */
			bool refuse = handover_abandoned(&w->handover) &&
				      runtime_stop_stage(rt) >= RUNTIME_TAKING_OVER;
			int rc;

			call_slot_hold(&w->slot, i + 1, n, rest[i + 1]);
			rc = refuse ? worker_refuse(rt, w, m)
				    : worker_invoke(rt, w, w->counters, m, &now);
			if (rc == WORKER_LATE) {
				rte_pktmbuf_free(m);
				/* Back from the handler its dispatcher gave up on: in dispatch again
				 * once the dispatchers give its rings back. */
				__atomic_fetch_and(&rt->worker_out[w->id], (uint8_t)~RUNTIME_WORKER_STUCK,
						   __ATOMIC_RELAXED);
			} else if (rc < 0) {
				rte_pktmbuf_free(m);
			} else if (rc != WORKER_HELD) {
				worker_send_reply(rt, w, m);
			}
			/* The rest of the burst went to its dispatcher while the handler ran. */
			if (call_slot_held_lost(&w->slot))
				break;
		}
		call_slot_hold(&w->slot, 0, 0, UINT64_MAX);
		total += n;
	}
	if (w->sandboxes != NULL)
		total += worker_sandboxes_poll(rt, w, handover_abandoned(&w->handover) &&
						      runtime_stop_stage(rt) >= RUNTIME_TAKING_OVER);
	/* A run-to-completion lcore sends its sandboxes' answers on its own queue too. */
	if (rt->workers_own_txq || w->sandboxes != NULL)
		tx_flush(&w->tx);
	return total;
}

uint64_t
worker_busy_since(const struct worker *w, int *fn)
{
	uint64_t beat = __atomic_load_n(&w->heartbeat_tsc, __ATOMIC_RELAXED);
	unsigned int function;
	uint64_t gen, start;

	/* In a handler: the call in the slot is the one the loop is still in. */
	if (call_slot_peek(&w->slot, &gen) != CALL_SLOT_IDLE) {
		start = call_slot_started(&w->slot, &function);
		*fn = (int)function;
		return start;
	}
	*fn = -1;
	return beat;
}
