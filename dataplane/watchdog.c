/* The watchdog: in each dispatcher's loop, the deadlines of the calls it sent and the queues of stuck workers. */
#include <rte_cycles.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "deadline.h"
#include "dispatch.h"
#include "request_desc.h"
#include "watchdog.h"
#include "worker.h"

void
watchdog_init(struct watchdog *wd, uint64_t tsc_hz)
{
	unsigned int w;

	wd->period_tsc = tsc_hz / 1000000 * WATCHDOG_PERIOD_US;
	wd->next_tsc = 0;
	wd->taken = 0;
	for (w = 0; w < RUNTIME_MAX_WORKERS; w++)
		wd->queued_deadline[w] = UINT64_MAX;
}

bool
watchdog_take(struct runtime *rt, struct dispatcher *d, unsigned int w)
{
	uint64_t bit = UINT64_C(1) << w;

	RTE_BUILD_BUG_ON(RUNTIME_MAX_WORKERS > 64);
	RTE_BUILD_BUG_ON(RUNTIME_MAX_DISPATCHERS > HANDOVER_MAX_TAKERS);
	if (!(d->watchdog.taken & bit) && handover_take(&rt->workers[w]->handover, d->id))
		d->watchdog.taken |= bit;
	return (d->watchdog.taken & bit) != 0;
}

/*
 * A call d had sent to worker w, back in d's hands (held behind a running
 * call, or queued to a stuck worker). Past its deadline it is answered
 * Sandbox.Timedout here; otherwise another environment runs it, or 503. It
 * keeps its admission either way until whoever answers it ends that.
 */
static void
watchdog_requeue(const struct runtime *rt, struct dispatcher *d, unsigned int w,
		 struct rte_mbuf *m, uint64_t now)
{
	struct request_desc *desc = request_desc_of(m);

	if (now > desc->deadline_tsc) {
		const struct deployment *dep = runtime_live(&rt->functions[desc->function]);

		/* It ends here, never run: no worker will count it finished. */
		counting_release(&d->counting, desc->function, desc->tenant);
		if (deadline_answer(rt, d->counters, &rt->workers[w]->stats[desc->function], m, m,
				    dep->names.version) == 0)
			tx_send(&d->tx, m);
		else
			rte_pktmbuf_free(m);
		return;
	}
	/* Stopping: workers that finished their drain take nothing new, so it waits where it
	 * was, for the handler's return or the drain's deadline, as the calls queued there do. */
	if (__atomic_load_n(&d->rx_stopped, __ATOMIC_RELAXED) &&
	    rte_ring_sp_enqueue(d->to_worker[w], m) == 0)
		return;
	dispatch_requeue(rt, d, m);
}

/* Claimed overdue call: answered from a new buffer (the handler still writes into the request's). */
static void
watchdog_claimed(struct runtime *rt, struct dispatcher *d, unsigned int w, uint64_t gen,
		 struct rte_mbuf *answer, bool held_too, uint64_t now)
{
	struct worker *wk = rt->workers[w];
	struct call_slot *s = &wk->slot;
	const struct call_slot_call *call = &s->call;
	struct rte_mbuf *held[CALL_SLOT_HELD];
	unsigned int i, nb = 0;

	if (deadline_answer(rt, d->counters, &wk->stats[call->function], answer, call->m,
			    *call->version) == 0)
		tx_send(&d->tx, answer);
	else
		rte_pktmbuf_free(answer);
	/* Before the slot says answered: the worker clears the bit after it has seen that. */
	__atomic_fetch_or(&rt->worker_out[w], RUNTIME_WORKER_STUCK, __ATOMIC_RELAXED);
	if (held_too)
		nb = call_slot_take_held(s, held);
	call_slot_answered(s, gen);
	for (i = 0; i < nb; i++)
		watchdog_requeue(rt, d, w, held[i], now);
}

/*
 * The call worker w runs, if d sent it. Past its deadline: answered
 * Sandbox.Timedout now, transmitted on d's queue, and the worker is out of
 * dispatch until the handler returns (it clears the bit then), what it
 * held behind the call handed on. In time, but with a held call past its
 * own deadline: the held calls are handed on, the running one left alone.
 */
static void
watchdog_check_call(struct runtime *rt, struct dispatcher *d, unsigned int w, uint64_t now)
{
	struct call_slot *s = &rt->workers[w]->slot;
	struct rte_mbuf *held[CALL_SLOT_HELD], *answer;
	enum call_slot_state state;
	unsigned int i, nb;
	uint64_t gen;

	state = call_slot_peek(s, &gen);
	if ((state != CALL_SLOT_RUNNING && state != CALL_SLOT_SHED) ||
	    call_slot_dispatcher(s) != d->id)
		return;
	if (now > call_slot_deadline(s)) {
		/* Before the claim: a claimed call must be answered. With the pool empty, the
		 * next look tries again. */
		answer = rte_pktmbuf_alloc(rt->pool);
		if (answer == NULL)
			return;
		if (call_slot_claim(s, gen, state))
			watchdog_claimed(rt, d, w, gen, answer, state == CALL_SLOT_RUNNING, now);
		else
			rte_pktmbuf_free(answer);
		return;
	}
	if (state != CALL_SLOT_RUNNING || now <= call_slot_held_deadline(s) ||
	    !call_slot_begin_shed(s, gen))
		return;
	nb = call_slot_take_held(s, held);
	call_slot_shed(s, gen);
	for (i = 0; i < nb; i++)
		watchdog_requeue(rt, d, w, held[i], now);
}

/* What d has queued to stuck worker w, which holds its ring: everything that was there now. */
static void
watchdog_empty_queue(const struct runtime *rt, struct dispatcher *d, unsigned int w, uint64_t now)
{
	struct rte_mbuf *pkts[RUNTIME_BURST];
	unsigned int i, n, left = rte_ring_count(d->to_worker[w]);

	/* Bounded: a call the policy puts back in this ring is not looked at twice. */
	while (left > 0) {
		n = rte_ring_sc_dequeue_burst(d->to_worker[w], (void **)pkts,
					      RTE_MIN(left, (unsigned int)RUNTIME_BURST), NULL);
		if (n == 0)
			break;
		left -= n;
		for (i = 0; i < n; i++)
			watchdog_requeue(rt, d, w, pkts[i], now);
	}
	d->watchdog.queued_deadline[w] = UINT64_MAX;
}

/*
 * A call in d's queue to worker w is past its deadline while w is busy
 * (in time) with others: take the queue for a moment, answer the expired
 * calls Sandbox.Timedout, put the others back in their order, and give it
 * back. Not while stopping: a worker that sees its queues empty then may
 * finish its drain, and what was put back would be left.
 */
static void
watchdog_expire_queue(struct runtime *rt, struct dispatcher *d, unsigned int w, uint64_t now)
{
	struct rte_ring *r = d->to_worker[w];
	struct rte_mbuf *m;
	uint64_t earliest = UINT64_MAX;
	unsigned int left = rte_ring_count(r);

	if (left == 0) {
		d->watchdog.queued_deadline[w] = UINT64_MAX;
		return;
	}
	if (__atomic_load_n(&d->rx_stopped, __ATOMIC_RELAXED) || !watchdog_take(rt, d, w))
		return;
	/* Only this thread produces into r, and it now consumes too: what it puts back fits. */
	for (; left > 0 && rte_ring_sc_dequeue(r, (void **)&m) == 0; left--) {
		struct request_desc *desc = request_desc_of(m);

		if (now > desc->deadline_tsc) {
			watchdog_requeue(rt, d, w, m, now);
			continue;
		}
		earliest = RTE_MIN(earliest, desc->deadline_tsc);
		rte_ring_sp_enqueue(r, m);
	}
	d->watchdog.queued_deadline[w] = earliest;
	if (runtime_stop_stage(rt) < RUNTIME_TAKING_OVER) {
		handover_give_back(&rt->workers[w]->handover, d->id);
		d->watchdog.taken &= ~(UINT64_C(1) << w);
	}
}

void
watchdog_poll(struct runtime *rt, struct dispatcher *d)
{
	uint64_t now = rte_rdtsc();
	unsigned int w;

	if (now < d->watchdog.next_tsc)
		return;
	d->watchdog.next_tsc = now + d->watchdog.period_tsc;
	for (w = 0; w < rt->nb_workers; w++) {
		struct worker *wk = rt->workers[w];
		uint64_t bit = UINT64_C(1) << w;

		/* Its own lcore's worker runs to completion: nobody is free to watch it. */
		if (d->to_worker[w] == NULL)
			continue;
		watchdog_check_call(rt, d, w, now);
		if (call_slot_stuck(&wk->slot)) {
			/* Stopping: what is queued waits for the drain's deadline, as it did before. */
			if (!__atomic_load_n(&d->rx_stopped, __ATOMIC_RELAXED) &&
			    watchdog_take(rt, d, w))
				watchdog_empty_queue(rt, d, w, now);
		} else if (d->watchdog.taken & bit) {
			/* Its handler returned. Past the drain's deadline the shutdown keeps the ring. */
			if (runtime_stop_stage(rt) < RUNTIME_TAKING_OVER) {
				handover_give_back(&wk->handover, d->id);
				d->watchdog.taken &= ~bit;
			}
		} else if (now > d->watchdog.queued_deadline[w]) {
			watchdog_expire_queue(rt, d, w, now);
		}
	}
}
