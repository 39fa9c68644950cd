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
	wd->period_tsc = tsc_hz / 1000000 * WATCHDOG_PERIOD_US;
	wd->next_tsc = 0;
	wd->taken = 0;
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
 * A call d had sent to worker w, back in d's hands (held behind an overdue
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
				    (struct turbine_str){ dep->version, dep->version_len }) == 0)
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

/*
 * The call worker w runs, if d sent it and its deadline passed: answered
 * Sandbox.Timedout now, in a new buffer (the handler still writes into the
 * request's), transmitted on d's queue. The worker is out of dispatch
 * until the handler returns (it clears the bit then).
 */
static void
watchdog_check_call(struct runtime *rt, struct dispatcher *d, unsigned int w, uint64_t now)
{
	struct worker *wk = rt->workers[w];
	struct call_slot *s = &wk->slot;
	struct rte_mbuf *held[CALL_SLOT_HELD], *answer;
	const struct call_slot_call *call;
	unsigned int i, nb;
	uint64_t gen;

	if (call_slot_peek(s, &gen) != CALL_SLOT_RUNNING || call_slot_dispatcher(s) != d->id ||
	    now <= call_slot_deadline(s))
		return;
	/* Before the claim: a claimed call must be answered. With the pool empty, the next
	 * look tries again. */
	answer = rte_pktmbuf_alloc(rt->pool);
	if (answer == NULL)
		return;
	if (!call_slot_claim(s, gen)) {
		rte_pktmbuf_free(answer);
		return;
	}
	call = &s->call;
	if (deadline_answer(rt, d->counters, &wk->stats[call->function], answer, call->m,
			    (struct turbine_str){ call->version, call->version_len }) == 0)
		tx_send(&d->tx, answer);
	else
		rte_pktmbuf_free(answer);
	/* Before the slot says answered: the worker clears the bit after it has seen that. */
	__atomic_fetch_or(&rt->worker_out[w], RUNTIME_WORKER_STUCK, __ATOMIC_RELAXED);
	nb = call_slot_take_held(s, held);
	call_slot_answered(s, gen);
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
		} else if ((d->watchdog.taken & bit) &&
			   runtime_stop_stage(rt) < RUNTIME_TAKING_OVER) {
			/* Its handler returned. Past the drain's deadline the shutdown keeps the ring. */
			handover_give_back(&wk->handover, d->id);
			d->watchdog.taken &= ~bit;
		}
	}
}
