/* The dispatcher: receive, classify, parse, admit, and hand requests to workers. */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <sys/eventfd.h>

#include <rte_atomic.h>
#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_malloc.h>
#include <rte_prefetch.h>

#include "dispatch.h"
#include "policy.h"
#include "reply.h"
#include "worker.h"
#include "worker_sandbox.h"

/* Packets ahead of the one being classified whose headers are fetched early. */
#define DISPATCH_PREFETCH 3
/* Queued Events a dispatcher takes per loop at most, when its port left it time. */
#define DISPATCH_QUEUED_BURST 8

/* rx_stopped alone on its cache line (see struct dispatcher). */
static void
dispatch_check_layout(void)
{
	RTE_BUILD_BUG_ON(offsetof(struct dispatcher, rx_stopped) % RTE_CACHE_LINE_SIZE != 0);
	RTE_BUILD_BUG_ON(sizeof(struct dispatcher) - offsetof(struct dispatcher, rx_stopped) !=
			 RTE_CACHE_LINE_SIZE);
	RTE_BUILD_BUG_ON(offsetof(struct dispatcher, tx) + sizeof(struct tx_queue) >
			 offsetof(struct dispatcher, rx_stopped));
}

int
dispatch_create(struct runtime *rt, unsigned int id, unsigned int lcore_id, uint16_t rx_queue,
		uint16_t tx_queue)
{
	struct dispatcher *d;

	dispatch_check_layout();
	d = rte_zmalloc_socket("dispatcher", sizeof(*d), RTE_CACHE_LINE_SIZE,
			       rte_lcore_to_socket_id(lcore_id));
	if (d == NULL)
		return -ENOMEM;
	d->id = id;
	d->lcore_id = lcore_id;
	d->rx_queue = rx_queue;
	d->counters = counters_of_lcore(lcore_id);
	d->worker_out = rt->worker_out;
	watchdog_init(&d->watchdog, rt->tsc_hz);
	tx_queue_init(&d->tx, rt->port_id, tx_queue, d->counters);
	rt->dispatchers[id] = d;
	rt->roles[lcore_id].dispatcher = d;
	return 0;
}

static struct rte_ring *
dispatch_ring(const char *kind, unsigned int d, unsigned int w, unsigned int socket)
{
	char name[RTE_RING_NAMESIZE];

	snprintf(name, sizeof(name), "%s_%u_%u", kind, d, w);
	return rte_ring_create(name, RUNTIME_RING_SIZE, socket, RING_F_SP_ENQ | RING_F_SC_DEQ);
}

/* The pair's two rings live on the socket of the lcore that dequeues from them. */
int
dispatch_connect(struct runtime *rt, struct dispatcher *d, struct worker *w)
{
	struct rte_ring *to, *from = NULL;

	to = dispatch_ring("req", d->id, w->id, rte_lcore_to_socket_id(w->lcore_id));
	if (to == NULL)
		return -rte_errno;
	if (!rt->workers_own_txq) {
		from = dispatch_ring("rep", d->id, w->id, rte_lcore_to_socket_id(d->lcore_id));
		if (from == NULL) {
			rte_ring_free(to);
			return -rte_errno;
		}
	}
	d->to_worker[w->id] = to;
	d->from_worker[w->id] = from;
	w->inbound[w->nb_inbound] = to;
	w->outbound[d->id] = from;
	w->nb_inbound++;
	return 0;
}

void
dispatch_free(struct dispatcher *d)
{
	unsigned int w;

	if (d == NULL)
		return;
	for (w = 0; w < RUNTIME_MAX_WORKERS; w++) {
		rte_ring_free(d->to_worker[w]);
		rte_ring_free(d->from_worker[w]);
	}
	rte_free(d);
}

static __rte_always_inline bool
dispatch_qualifier_matches(const struct deployment *dep, const uint8_t *q, uint32_t len)
{
	static const char latest[] = "$LATEST";

	if (len == 0)
		return true;
	if (len == sizeof(latest) - 1 && memcmp(q, latest, len) == 0)
		return true;
	return len == dep->version_len && memcmp(q, dep->version, len) == 0;
}

/* Hand the request to the worker the policy picks. Returns false when no queue has room. */
static bool
dispatch_to_worker(const struct runtime *rt, struct dispatcher *d, const struct deployment *dep,
		   unsigned int fn_index, struct rte_mbuf *m)
{
	int w = rt->policy->pick(d, dep, fn_index);

	/* Single producer: a ring the policy saw with room still has it. */
	if (w < 0 || rte_ring_sp_enqueue(d->to_worker[w], m) != 0)
		return false;
	watchdog_queued(&d->watchdog, (unsigned int)w, request_desc_of(m)->deadline_tsc);
	return true;
}

/* What becomes of a request's mbuf once the dispatcher is done with it. */
enum dispatch_fate {
	DISPATCH_TX,      /* it holds a reply: transmit */
	DISPATCH_FREE,    /* no reply could be built (counted): free */
	DISPATCH_QUEUED,  /* a worker owns it now */
};

static enum dispatch_fate
dispatch_replied(int rc)
{
	return rc == 0 ? DISPATCH_TX : DISPATCH_FREE;
}

static bool
dispatch_limit_is_tenant(enum counting_verdict v)
{
	return v == COUNTING_TENANT_CONCURRENCY || v == COUNTING_TENANT_RATE;
}

static const char *
dispatch_limit_owner(enum counting_verdict v)
{
	return dispatch_limit_is_tenant(v) ? "tenant" : "function";
}

static const char *
dispatch_limit_kind(enum counting_verdict v)
{
	return v == COUNTING_FN_CONCURRENCY ? "reserved concurrency"
	       : v == COUNTING_TENANT_CONCURRENCY ? "concurrency"
	       : "rate";
}

/*
 * Why no worker could take a call of `fn`: worked out only once the policy
 * found none, so the fast path pays nothing for it. Every worker holding
 * the function that this dispatcher sends to is out of dispatch (stuck in a
 * handler past its deadline or not beating, or drained by an operator) or
 * has a full queue; the operator acts differently on each, so each is
 * named. True when a queue was full.
 */
static bool
dispatch_why_unavailable(const struct runtime *rt, const struct dispatcher *d,
			 const struct deployment *dep, char *why, size_t len)
{
	const struct worker_set *ws = deployment_workers(dep);
	uint64_t now = rte_rdtsc();
	unsigned int i, full = 0, out = 0;
	size_t used = 0;

	why[0] = '\0';
	for (i = 0; i < ws->nb && used < len; i++) {
		unsigned int w = ws->ids[i];
		uint8_t state = __atomic_load_n(&d->worker_out[w], __ATOMIC_RELAXED);
		const char *sep = used == 0 ? "" : "; ";
		uint64_t since;
		int fn, n = 0;

		if (d->to_worker[w] == NULL)
			continue;
		if (state & (RUNTIME_WORKER_STUCK | RUNTIME_WORKER_STALE)) {
			since = worker_busy_since(rt->workers[w], &fn);
			since = now > since ? (now - since) * 1000 / rt->tsc_hz : 0;
			n = fn >= 0 ? snprintf(why + used, len - used, "%sworker %u is out of dispatch, "
					       "stuck: its handler (function %s) has been running for %"
					       PRIu64 " ms", sep, w, rt->functions[fn].cfg->name, since)
				    : snprintf(why + used, len - used, "%sworker %u is out of dispatch, "
					       "stuck: its loop has not come round for %" PRIu64 " ms",
					       sep, w, since);
		} else if (state & RUNTIME_WORKER_DRAINED) {
			n = snprintf(why + used, len - used,
				     "%sworker %u is out of dispatch, drained by an operator", sep, w);
		} else if (dep->isolated && dep->sandboxes[w] != NULL &&
			   __atomic_load_n(&dep->sandboxes[w]->out, __ATOMIC_RELAXED) != 0) {
			n = snprintf(why + used, len - used, "%s", sep);
			if (n > 0 && (size_t)n < len - used)
				worker_sandbox_why(dep->sandboxes[w], why + used + n, len - used - n);
			n = (int)strlen(why + used);
		} else if (rte_ring_full(d->to_worker[w])) {
			full++;
			continue;
		}
		if (n > 0) {
			out++;
			used += (size_t)n;
		}
	}
	/* Full queues are the usual case under overload: one short phrase for all of them
	 * (also when a queue found room again since the policy looked). */
	if (out == 0)
		snprintf(why, len, "its queues are full");
	else if (full > 0 && used < len)
		snprintf(why + used, len - used, "; the other queues are full");
	return out == 0 || full > 0;
}

/* The checks a call that reaches a worker was admitted under (dispatch_admit()): a queued
 * Event's run counts against concurrency only, its rate was paid when it was accepted. */
static unsigned int
dispatch_admitted_checks(const struct request_desc *desc)
{
	return desc->from.queued ? COUNTING_CHECK_CONCURRENCY : COUNTING_CHECK_ALL;
}

/*
 * An admitted call (desc filled) to the worker the policy picks; when none
 * can take it, its admission is undone (under `lim`, the limits it was
 * admitted under) and it is answered 503 with the reason.
 */
static enum dispatch_fate
dispatch_place(const struct runtime *rt, struct dispatcher *d, const struct deployment *dep,
	       const struct function_limits *lim, struct rte_mbuf *m)
{
	const struct request_desc *desc = request_desc_of(m);
	char why[192];

	if (dispatch_to_worker(rt, d, dep, desc->function, m))
		return DISPATCH_QUEUED;
	counting_cancel(&d->counting, desc->function, &lim->counting, desc->tenant,
			dispatch_admitted_checks(desc));
	if (dispatch_why_unavailable(rt, d, dep, why, sizeof(why)))
		counters_inc(d->counters, COUNTER_drop_ring_full);
	return dispatch_replied(reply_error(rt, d->counters, m, 503,
					    "no worker can take function %s now: %s",
					    rt->functions[desc->function].cfg->name, why));
}

/*
 * An admitted Event to the asynchronous queue's persist thread, which hands
 * it back once it is durable (dispatch_answer_queued). Its intake ring full
 * means the disk is behind: refused with 429 AsyncQueueFull, never dropped.
 */
static enum dispatch_fate
dispatch_to_queue(const struct runtime *rt, struct dispatcher *d, struct rte_mbuf *m,
		  uint64_t now)
{
	struct request_desc *desc = request_desc_of(m);

	desc->queue.handed_tsc = now;
	if (rte_ring_mp_enqueue(rt->async.accepted, m) == 0) {
		/* The ring's tail stored, then the flag read: see async_sleep(). */
		rte_atomic_thread_fence(__ATOMIC_SEQ_CST);
		if (unlikely(__atomic_load_n(&rt->async.sleeping, __ATOMIC_RELAXED)))
			eventfd_write(rt->async.wake_fd, 1);
		return DISPATCH_QUEUED;
	}
	counters_inc(d->counters, COUNTER_queue_intake_full);
	desc->queue.answer = REQUEST_QUEUE_FULL;
	return dispatch_replied(reply_queued(rt, d->counters, m));
}

/*
 * Admission of one parsed request: PROTOCOL.md's checks in its order, then a
 * worker. *now is the time of its burst (dispatch_rx()), read once for all
 * of it: rate buckets and the deadline use it. A call run to completion here
 * moves it on to the TSC its worker read as the handler returned, so that the
 * next one's deadline does not count the time this one ran.
 */
static __rte_always_inline enum dispatch_fate
dispatch_admit(const struct runtime *rt, struct dispatcher *d, struct rte_mbuf *m,
	       struct request_desc *desc, const uint8_t *payload, uint64_t *now)
{
	struct counters *c = d->counters;
	const struct request *req = &desc->req;
	const char *name = (const char *)payload + req->fn.off;
	const uint8_t *qualifier = payload + req->qualifier.off;
	enum counting_verdict verdict;
	const struct function_limits *lim;
	const struct deployment *dep;
	const struct function *fn;
	uint64_t timeout_tsc;
	unsigned int tenant;
	unsigned int checks;
	uint32_t retry_ms;
	int index;

	index = runtime_find_function(rt, name, req->fn.len);
	if (index < 0)
		return dispatch_replied(reply_error(rt, c, m, 404, "Function not found: %.*s",
						    (int)req->fn.len, name));
	fn = &rt->functions[index];
	dep = runtime_live(fn);
	/* Loaded once: this call is checked and run under one version of the limits. */
	lim = runtime_limits(fn);
	if (!dispatch_qualifier_matches(dep, qualifier, req->qualifier.len))
		return dispatch_replied(reply_error(rt, c, m, 404, "Function not found: %.*s:%.*s",
						    (int)req->fn.len, name, (int)req->qualifier.len,
						    (const char *)qualifier));
	if (lim->max_event_bytes != 0 && req->event.len > lim->max_event_bytes)
		return dispatch_replied(reply_error(rt, c, m, 413,
						    "event is %u bytes; function %s accepts at most %u",
						    req->event.len, fn->cfg->name, lim->max_event_bytes));
	if (!dep->ready)
		return dispatch_replied(reply_error(rt, c, m, 502, "function %s is not ready: %s",
						    fn->cfg->name, dep->not_ready));
	tenant = runtime_find_tenant(rt, (const char *)payload + req->tenant.off, req->tenant.len);
	if (!counting_allowed(&lim->counting, tenant)) {
		counting_count_verdict(d->counting.d, (unsigned int)index, COUNTING_DENIED);
		return dispatch_replied(reply_error(rt, c, m, 403,
						    "tenant %.*s may not invoke function %s",
						    req->tenant.len ? (int)req->tenant.len : 7,
						    req->tenant.len ? (const char *)payload + req->tenant.off
								    : "default", fn->cfg->name));
	}
	/* A RequestResponse call off the wire is checked for everything; the other kinds are
	 * told apart only past this one test. */
	checks = COUNTING_CHECK_ALL;
	if (unlikely(req->type != REQUEST_RESPONSE || desc->from.queued)) {
		if (req->type == REQUEST_DRYRUN)
			return dispatch_replied(reply_status(rt, c, m, 204));
		/* An Event pays its rate when accepted; each run of it counts against
		 * concurrency only. */
		checks = req->type == REQUEST_EVENT ? COUNTING_CHECK_RATE
						    : COUNTING_CHECK_CONCURRENCY;
	}
	/* Draining: the workers finish what was queued before, nothing new joins it. */
	if (__atomic_load_n(&d->rx_stopped, __ATOMIC_RELAXED))
		return dispatch_replied(reply_error(rt, c, m, 503, "no worker can take function %s "
						    "now: the dispatcher is stopping", fn->cfg->name));

	verdict = counting_admit_only(&d->counting, (unsigned int)index, &lim->counting, tenant,
				      *now, &retry_ms, checks);
	if (verdict != COUNTING_ADMIT)
		return dispatch_replied(reply_throttled(rt, c, m, counting_reason(verdict), retry_ms,
							"%s %s is at its %s limit",
							dispatch_limit_owner(verdict),
							dispatch_limit_is_tenant(verdict)
								? rt->tenant_names[tenant]
								: fn->cfg->name,
							dispatch_limit_kind(verdict)));

	desc->timeout_ms = lim->timeout_ms;
	timeout_tsc = lim->timeout_tsc;
	if (req->has_timeout && req->timeout_ms < lim->timeout_ms) {
		desc->timeout_ms = (uint32_t)req->timeout_ms;
		timeout_tsc = req->timeout_ms * rt->tsc_hz / 1000;
	}
	desc->deadline_tsc = *now + timeout_tsc;
	desc->memory_mb = lim->memory_mb;
	desc->function = (uint16_t)index;
	desc->tenant = (uint16_t)tenant;
	desc->dispatcher = (uint16_t)d->id;
	if (req->type == REQUEST_EVENT)
		return dispatch_to_queue(rt, d, m, *now);

	/* This lcore also works and holds the function: run it here, to completion (or hand it
	 * to the function's sandbox, whose answer this lcore sends when it comes back). */
	if (d->local != NULL && worker_set_holds(deployment_workers(dep), d->local->id)) {
		int rc = worker_invoke(rt, d->local, c, m, now);

		return rc == 0 ? DISPATCH_TX : rc == WORKER_HELD ? DISPATCH_QUEUED : DISPATCH_FREE;
	}
	return dispatch_place(rt, d, dep, lim, m);
}

/*
 * Always in line, with dispatch_admit() and what it calls once: as a call
 * of its own, each request paid for saving and restoring the registers the
 * RX loop around it had saved already (about 13 instructions a request).
 */
static __rte_always_inline enum dispatch_fate
dispatch_request(const struct runtime *rt, struct dispatcher *d, struct rte_mbuf *m,
		 struct request_desc *desc, uint64_t *now)
{
	const uint8_t *payload = request_payload(m, desc);
	struct request_error err;

	if (likely(!desc->from.queued))
		counters_inc(d->counters, COUNTER_requests);
	if (request_parse(payload, desc->from.payload_len, &desc->req, &err) < 0)
		return dispatch_replied(reply_error(rt, d->counters, m, 400, "%s", err.message));
	return dispatch_admit(rt, d, m, desc, payload, now);
}

/* The drop counters follow the classifier's verdicts one for one. */
static enum counter_id
dispatch_drop_counter(enum frame_verdict v)
{
	RTE_BUILD_BUG_ON(COUNTER_drop_oversize - COUNTER_drop_truncated !=
			 FRAME_drop_oversize - FRAME_drop_truncated);
	return COUNTER_drop_truncated + (v - FRAME_FIRST_DROP);
}

static enum dispatch_fate
dispatch_one(const struct runtime *rt, struct dispatcher *d, struct rte_mbuf *m, uint64_t *now)
{
	struct request_desc *desc = request_desc_of(m);
	unsigned int verify = FRAME_VERIFY_ALL;
	enum frame_verdict v;

	if (m->nb_segs > 1) {
		counters_inc(d->counters, COUNTER_drop_multiseg);
		return DISPATCH_FREE;
	}
	/*
	 * What the port found good is not summed again; anything else (bad,
	 * unknown) is. Ports without offload say nothing: one test for them.
	 */
	if (unlikely(m->ol_flags & (RTE_MBUF_F_RX_IP_CKSUM_GOOD | RTE_MBUF_F_RX_L4_CKSUM_GOOD))) {
		if ((m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK) == RTE_MBUF_F_RX_IP_CKSUM_GOOD)
			verify &= ~FRAME_VERIFY_IP_CKSUM;
		if ((m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK) == RTE_MBUF_F_RX_L4_CKSUM_GOOD)
			verify &= ~FRAME_VERIFY_UDP_CKSUM;
	}
	v = frame_classify(rte_pktmbuf_mtod(m, uint8_t *), m->data_len, &rt->svc, verify,
			   &desc->from);
	if (desc->from.udp_cksum_partial)
		counters_inc(d->counters, COUNTER_rx_csum_partial);
	/* Tested first: in a switch the compiler tried the rarer verdicts before it. */
	if (likely(v == FRAME_REQUEST))
		return dispatch_request(rt, d, m, desc, now);
	switch (v) {
	case FRAME_ARP_REPLY:
		counters_inc(d->counters, COUNTER_arp_replies);
		m->ol_flags = 0;
		return DISPATCH_TX;
	case FRAME_ICMP_REPLY:
		counters_inc(d->counters, COUNTER_icmp_replies);
		m->ol_flags = 0;
		return DISPATCH_TX;
	default:
		counters_inc(d->counters, dispatch_drop_counter(v));
		return DISPATCH_FREE;
	}
}

static void
dispatch_settle(struct dispatcher *d, struct rte_mbuf *m, enum dispatch_fate fate)
{
	switch (fate) {
	case DISPATCH_TX:
		tx_send(&d->tx, m);
		break;
	case DISPATCH_FREE:
		rte_pktmbuf_free(m);
		break;
	case DISPATCH_QUEUED:
		break;
	}
}

static uint16_t
dispatch_rx(const struct runtime *rt, struct dispatcher *d)
{
	struct rte_mbuf *pkts[RUNTIME_BURST];
	enum dispatch_fate fate;
	uint16_t nb_rx, i;
	uint64_t now;

	nb_rx = rte_eth_rx_burst(rt->port_id, d->rx_queue, pkts, RUNTIME_BURST);
	if (nb_rx == 0)
		return 0;
	/* One TSC read for the burst: its requests arrived together (see dispatch_admit()). */
	now = rte_rdtsc();
	counters_add(d->counters, COUNTER_rx_packets, nb_rx);
	for (i = 0; i < nb_rx && i < DISPATCH_PREFETCH; i++)
		rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void *));
	for (i = 0; i < nb_rx; i++) {
		if (i + DISPATCH_PREFETCH < nb_rx)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i + DISPATCH_PREFETCH], void *));
		fate = dispatch_one(rt, d, pkts[i], &now);
		/* A frame from the port is never a queued Event's (frame_classify() clears
		 * desc->from.queued), nor is its reply: no need for tx_send()'s test. */
		if (likely(fate == DISPATCH_TX))
			tx_send_port(&d->tx, pkts[i]);
		else
			dispatch_settle(d, pkts[i], fate);
	}
	return nb_rx;
}

/* Workers this dispatcher sends to with nothing queued: where a queued Event may go now. */
static unsigned int
dispatch_idle_workers(const struct runtime *rt, const struct dispatcher *d)
{
	unsigned int w, idle = d->local != NULL;

	for (w = 0; w < rt->nb_workers && idle < DISPATCH_QUEUED_BURST; w++)
		if (d->to_worker[w] != NULL && rte_ring_count(d->to_worker[w]) == 0 &&
		    __atomic_load_n(&d->worker_out[w], __ATOMIC_RELAXED) == 0)
			idle++;
	return idle;
}

/*
 * Events the queue hands this dispatcher to run: parsed and admitted like
 * any request (desc->from filled by the queue, marked queued).
 * Synchronous calls come first: a dispatcher takes queued Events only when
 * its last receive burst was short, and only as many as it has workers with
 * empty queues, so that a synchronous call finds at most the one Event a
 * worker is running ahead of it, never a backlog.
 */
static void
dispatch_queued_runs(const struct runtime *rt, struct dispatcher *d)
{
	struct rte_mbuf *pkts[DISPATCH_QUEUED_BURST];
	unsigned int i, n = dispatch_idle_workers(rt, d);
	uint64_t now;

	if (n == 0)
		return;
	n = rte_ring_sc_dequeue_burst(rt->async.runs[d->id], (void **)pkts, n, NULL);
	now = rte_rdtsc();
	for (i = 0; i < n; i++) {
		/* The queue gave up on it and sends it again: running this one too would
		 * run the Event twice. */
		if (now > request_desc_of(pkts[i])->queue.start_by_tsc) {
			counters_inc(d->counters, COUNTER_queued_runs_expired);
			rte_pktmbuf_free(pkts[i]);
			continue;
		}
		counters_inc(d->counters, COUNTER_queued_runs);
		dispatch_settle(d, pkts[i], dispatch_request(rt, d, pkts[i], request_desc_of(pkts[i]),
							     &now));
	}
}

/* Events the queue made durable (or refused): answer them. */
static void
dispatch_answer_queued(const struct runtime *rt, struct dispatcher *d)
{
	struct rte_mbuf *pkts[RUNTIME_BURST];
	unsigned int i, n;

	n = rte_ring_sc_dequeue_burst(rt->async.durable[d->id], (void **)pkts, RUNTIME_BURST, NULL);
	for (i = 0; i < n; i++)
		dispatch_settle(d, pkts[i], dispatch_replied(reply_queued(rt, d->counters, pkts[i])));
}

/* Replies workers handed back because they have no TX queue of their own. */
unsigned int
dispatch_collect(const struct runtime *rt, struct dispatcher *d)
{
	struct rte_mbuf *pkts[RUNTIME_BURST];
	unsigned int w, n, i, total = 0;

	if (rt->workers_own_txq)
		return 0;
	for (w = 0; w < rt->nb_workers; w++) {
		if (d->from_worker[w] == NULL)
			continue;
		n = rte_ring_sc_dequeue_burst(d->from_worker[w], (void **)pkts, RUNTIME_BURST, NULL);
		for (i = 0; i < n; i++)
			tx_send(&d->tx, pkts[i]);
		total += n;
	}
	return total;
}

/*
 * After quit the dispatcher still receives, so that ARP goes on and every
 * new request hears at once that it is stopping (503) rather than nothing;
 * it only stops handing requests to workers.
 */
void
dispatch_poll(struct runtime *rt, struct dispatcher *d)
{
	if (!__atomic_load_n(&d->rx_stopped, __ATOMIC_RELAXED) && runtime_quitting(rt))
		/* Release: a worker that sees the flag also sees every request queued before it. */
		__atomic_store_n(&d->rx_stopped, 1, __ATOMIC_RELEASE);
	if (dispatch_rx(rt, d) < RUNTIME_BURST && rt->async.runs[d->id] != NULL)
		dispatch_queued_runs(rt, d);
	if (rt->async.durable[d->id] != NULL)
		dispatch_answer_queued(rt, d);
	dispatch_collect(rt, d);
	watchdog_poll(rt, d);
	/* Flushed every iteration: under load the batch fills anyway, when idle nothing waits. */
	tx_flush(&d->tx);
}

void
dispatch_requeue(const struct runtime *rt, struct dispatcher *d, struct rte_mbuf *m)
{
	const struct request_desc *desc = request_desc_of(m);
	const struct function *fn = &rt->functions[desc->function];
	enum dispatch_fate fate;

	/* The limits it was admitted under may have been replaced since: today's give its
	 * tokens back, as at shutdown. */
	if (__atomic_load_n(&d->rx_stopped, __ATOMIC_RELAXED)) {
		counting_cancel(&d->counting, desc->function, &runtime_limits(fn)->counting,
				desc->tenant, dispatch_admitted_checks(desc));
		fate = dispatch_replied(reply_error(rt, d->counters, m, 503, "no worker can take "
						    "function %s now: the dispatcher is stopping",
						    fn->cfg->name));
	} else {
		fate = dispatch_place(rt, d, runtime_live(fn), runtime_limits(fn), m);
	}
	dispatch_settle(d, m, fate);
}

unsigned int
dispatch_refuse_queued(const struct runtime *rt, struct dispatcher *d, unsigned int w)
{
	struct rte_mbuf *pkts[RUNTIME_BURST];
	unsigned int i, n, total = 0;

	do {
		n = rte_ring_sc_dequeue_burst(d->to_worker[w], (void **)pkts, RUNTIME_BURST, NULL);
		for (i = 0; i < n; i++) {
			const struct request_desc *desc = request_desc_of(pkts[i]);

			/* Admitted by this dispatcher, never run: it no longer counts (the
			 * tokens go back by today's limits: at shutdown they are not used again). */
			counting_cancel(&d->counting, desc->function,
					&runtime_limits(&rt->functions[desc->function])->counting,
					desc->tenant, dispatch_admitted_checks(desc));
			if (reply_stopping(rt, d->counters, pkts[i], w) == 0)
				tx_send(&d->tx, pkts[i]);
			else
				rte_pktmbuf_free(pkts[i]);
		}
		total += n;
	} while (n != 0);
	return total;
}
