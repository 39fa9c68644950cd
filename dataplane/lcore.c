/* Lcore roles (dispatcher, worker, or both) and the polling loop every data lcore runs. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_lcore.h>
#include <rte_rcu_qsbr.h>
#include <rte_errno.h>
#include <rte_ring.h>

#include "dispatch.h"
#include "handover.h"
#include "lcore.h"
#include "policy.h"
#include "watchdog.h"
#include "worker.h"
#include "worker_sandbox.h"

static bool
lcore_listed(const unsigned int *list, unsigned int n, unsigned int lcore)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (list[i] == lcore)
			return true;
	return false;
}

/* Fill the role lists with the default when none was configured. */
static void
lcore_default_roles(struct turbine_config *cfg)
{
	unsigned int lcore;

	if (cfg->nb_dispatch_lcores != 0 || cfg->nb_worker_lcores != 0)
		return;
	cfg->dispatch_lcores[cfg->nb_dispatch_lcores++] = rte_get_main_lcore();
	if (rte_lcore_count() == 1) {
		cfg->worker_lcores[cfg->nb_worker_lcores++] = rte_get_main_lcore();
		return;
	}
	RTE_LCORE_FOREACH_WORKER(lcore)
		cfg->worker_lcores[cfg->nb_worker_lcores++] = lcore;
}

static int
lcore_check_list(const char *what, const unsigned int *list, unsigned int n, unsigned int max,
		 char *err, size_t errlen)
{
	unsigned int i;

	if (n == 0) {
		snprintf(err, errlen, "no %s lcore: give at least one", what);
		return -EINVAL;
	}
	if (n > max) {
		snprintf(err, errlen, "%u %s lcores: at most %u are supported", n, what, max);
		return -EINVAL;
	}
	for (i = 0; i < n; i++) {
		if (list[i] >= RTE_MAX_LCORE || !rte_lcore_is_enabled(list[i])) {
			snprintf(err, errlen, "%s lcore %u is not one of EAL's lcores (-l/--lcores)",
				 what, list[i]);
			return -EINVAL;
		}
		if (lcore_listed(list, i, list[i])) {
			snprintf(err, errlen, "%s lcore %u is listed twice", what, list[i]);
			return -EINVAL;
		}
	}
	return 0;
}

int
lcore_roles_init(struct runtime *rt, const struct port_caps *caps, char *err, size_t errlen)
{
	struct turbine_config *cfg = &rt->cfg;
	unsigned int i, nb_own_txq = 0;
	int rc;

	lcore_default_roles(cfg);
	rc = lcore_check_list("dispatcher", cfg->dispatch_lcores, cfg->nb_dispatch_lcores,
			      RUNTIME_MAX_DISPATCHERS, err, errlen);
	if (rc == 0)
		rc = lcore_check_list("worker", cfg->worker_lcores, cfg->nb_worker_lcores,
				      RUNTIME_MAX_WORKERS, err, errlen);
	if (rc != 0)
		return rc;
	if (cfg->nb_dispatch_lcores > caps->max_rx_queues) {
		snprintf(err, errlen, "%u dispatcher lcores need one RX queue each; port %u has %u "
			 "(for net_af_packet, raise qpairs=)", cfg->nb_dispatch_lcores, rt->port_id,
			 caps->max_rx_queues);
		return -EINVAL;
	}
	if (cfg->nb_dispatch_lcores > caps->max_tx_queues) {
		snprintf(err, errlen, "%u dispatcher lcores need one TX queue each; port %u has %u",
			 cfg->nb_dispatch_lcores, rt->port_id, caps->max_tx_queues);
		return -EINVAL;
	}
	/* Workers that are not also dispatchers transmit on queues of their own when the port
	 * has enough; otherwise their replies go back through their dispatcher. */
	for (i = 0; i < cfg->nb_worker_lcores; i++)
		if (!lcore_listed(cfg->dispatch_lcores, cfg->nb_dispatch_lcores, cfg->worker_lcores[i]))
			nb_own_txq++;
	rt->workers_own_txq = cfg->nb_dispatch_lcores + nb_own_txq <= caps->max_tx_queues;
	rt->policy = policy_find(cfg->dispatch_policy[0] ? cfg->dispatch_policy : "jsq");
	if (rt->policy == NULL) {
		snprintf(err, errlen, "unknown dispatch policy %s", cfg->dispatch_policy);
		return -EINVAL;
	}
	rt->nb_rx_queues = (uint16_t)cfg->nb_dispatch_lcores;
	rt->nb_tx_queues = (uint16_t)(cfg->nb_dispatch_lcores + (rt->workers_own_txq ? nb_own_txq : 0));

	for (i = 0; i < cfg->nb_dispatch_lcores; i++) {
		rc = dispatch_create(rt, i, cfg->dispatch_lcores[i], (uint16_t)i, (uint16_t)i);
		if (rc != 0)
			goto nomem;
		rt->nb_dispatchers++;
	}
	nb_own_txq = 0;
	for (i = 0; i < cfg->nb_worker_lcores; i++) {
		unsigned int lcore = cfg->worker_lcores[i];
		struct dispatcher *d = rt->roles[lcore].dispatcher;
		int txq = -1;

		if (d != NULL)
			txq = d->tx.queue_id;
		else if (rt->workers_own_txq)
			txq = (int)(cfg->nb_dispatch_lcores + nb_own_txq++);
		rc = worker_create(rt, i, lcore, txq);
		if (rc != 0)
			goto nomem;
		rt->nb_workers++;
		if (d != NULL)
			d->local = rt->workers[i];
	}
	return 0;

nomem:
	snprintf(err, errlen, "cannot allocate lcore state: %s", strerror(-rc));
	return rc;
}

int
lcore_rings_init(struct runtime *rt, char *err, size_t errlen)
{
	unsigned int d, w;
	int rc;

	for (d = 0; d < rt->nb_dispatchers; d++) {
		struct dispatcher *disp = rt->dispatchers[d];

		for (w = 0; w < rt->nb_workers; w++) {
			/* Its own lcore's worker it calls directly, to completion. */
			if (rt->workers[w] == disp->local)
				continue;
			rc = dispatch_connect(rt, disp, rt->workers[w]);
			if (rc != 0) {
				snprintf(err, errlen, "cannot create the rings between dispatcher %u "
					 "and worker %u: %s", d, w, rte_strerror(-rc));
				return rc;
			}
		}
	}
	return 0;
}

void
lcore_roles_free(struct runtime *rt)
{
	unsigned int i;

	for (i = 0; i < rt->nb_dispatchers; i++)
		dispatch_free(rt->dispatchers[i]);
	for (i = 0; i < rt->nb_workers; i++)
		worker_free(rt->workers[i]);
}

/* At shutdown, how long a port that will not take the last replies is waited for. */
#define LCORE_DRAIN_MS 1000
/* The same past the drain's deadline, when the process exits soon after. */
#define LCORE_LEAVE_DRAIN_MS 100

/* Set by each lcore as its lcore_main returns (the main lcore's state is not tracked by EAL). */
static int lcore_returned[RTE_MAX_LCORE];

static unsigned int
lcore_drain_ms(const struct runtime *rt)
{
	return runtime_stop_stage(rt) == RUNTIME_DRAINING ? LCORE_DRAIN_MS : LCORE_LEAVE_DRAIN_MS;
}

/*
 * Shutdown, in order: each dispatcher stops admitting; a worker finishes
 * what is queued to it once every dispatcher has stopped; a dispatcher
 * leaves once every worker is done and their replies are sent. Past the
 * deadline (runtime_stop_stage()) dispatchers take over the rings of the
 * workers not done and answer what waits there, and then leave anyway.
 */
static bool
lcore_worker_drained(const struct runtime *rt, struct worker *w)
{
	unsigned int i;

	if (w->done)
		return true;
	/* What its sandboxes hold is answered first (past the deadline too: they are killed). */
	if (!worker_sandboxes_idle(w))
		return false;
	/* Its rings were taken over past the deadline: it will not run anything more. (Before
	 * it, a taker is a watchdog, which gives them back once the handler returns.) */
	if (runtime_stop_stage(rt) >= RUNTIME_TAKING_OVER && handover_abandoned(&w->handover))
		goto done;
	for (i = 0; i < rt->nb_dispatchers; i++)
		if (!__atomic_load_n(&rt->dispatchers[i]->rx_stopped, __ATOMIC_ACQUIRE))
			return false;
	for (i = 0; i < w->nb_inbound; i++)
		if (!rte_ring_empty(w->inbound[i]))
			return false;
done:
	tx_drain(&w->tx, lcore_drain_ms(rt));
	__atomic_store_n(&w->done, 1, __ATOMIC_RELEASE);
	return true;
}

/* Past the deadline: take the rings of the workers not done (the watchdog may hold some
 * already) and answer what is queued in them. A worker in the middle of a dequeue is asked
 * again later. */
static void
lcore_take_over(struct runtime *rt, struct dispatcher *d)
{
	unsigned int i, n = 0;

	for (i = 0; i < rt->nb_workers; i++) {
		struct worker *w = rt->workers[i];

		if (d->to_worker[i] == NULL || __atomic_load_n(&w->done, __ATOMIC_ACQUIRE))
			continue;
		if (watchdog_take(rt, d, i))
			n += dispatch_refuse_queued(rt, d, i);
	}
	if (n != 0)
		__atomic_fetch_add(&rt->refused_at_stop, n, __ATOMIC_RELAXED);
}

static bool
lcore_dispatcher_drained(struct runtime *rt, struct dispatcher *d)
{
	enum runtime_stop_stage stage = runtime_stop_stage(rt);
	bool finished = true;
	unsigned int i;

	if (!__atomic_load_n(&d->rx_stopped, __ATOMIC_RELAXED))
		return false;
	if (stage >= RUNTIME_TAKING_OVER)
		lcore_take_over(rt, d);
	for (i = 0; i < rt->nb_workers; i++)
		if (!__atomic_load_n(&rt->workers[i]->done, __ATOMIC_ACQUIRE))
			finished = false;
	if (!finished && stage < RUNTIME_LEAVING)
		return false;
	/* The workers that are done put their last replies in the rings: send them all. */
	while (dispatch_collect(rt, d) != 0)
		tx_flush(&d->tx);
	tx_drain(&d->tx, lcore_drain_ms(rt));
	return true;
}

bool
lcore_has_returned(unsigned int lcore)
{
	return __atomic_load_n(&lcore_returned[lcore], __ATOMIC_ACQUIRE) != 0;
}

int
lcore_main(void *arg)
{
	struct runtime *rt = arg;
	const struct lcore_role *role = &rt->roles[rte_lcore_id()];
	struct dispatcher *d = role->dispatcher;
	struct worker *w = role->worker;
	bool worker_done = w == NULL;
	unsigned int lcore = rte_lcore_id();

	if (d == NULL && w == NULL)
		goto out;
	rte_rcu_qsbr_thread_online(rt->rcu, lcore);
	for (;;) {
		if (d != NULL)
			dispatch_poll(rt, d);
		if (!worker_done) {
			worker_poll(rt, w);
			worker_done = lcore_worker_drained(rt, w);
		}
		/* Between iterations this lcore holds no deployment: a redeploy may retire one. */
		rte_rcu_qsbr_quiescent(rt->rcu, lcore);
		if (worker_done && (d == NULL || lcore_dispatcher_drained(rt, d)))
			break;
	}
	rte_rcu_qsbr_thread_offline(rt->rcu, lcore);
out:
	__atomic_store_n(&lcore_returned[lcore], 1, __ATOMIC_RELEASE);
	return 0;
}
