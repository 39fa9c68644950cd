/* The control thread: everything slow, off the polled cores: liveness, load, environments, status. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_lcore.h>

#include "manager.h"
#include "sandboxes.h"
#include "worker.h"

#include "control.h"
#include "status.h"

/* Short naps so that stopping never waits a whole status period. */
#define CONTROL_TICK_MS 100
#define CONTROL_STATUS_TICKS 10

static pthread_t control_thread;
static bool control_running;
static int control_quit;

/* A worker whose loop has not come round for this long is taken out of dispatch. */
#define CONTROL_STALE_MS 1000

static uint64_t control_busy_prev[RUNTIME_MAX_WORKERS];
/* The function each worker was last seen stuck in (NULL: not stuck), to say when it is back. */
static const char *control_stuck_in[RUNTIME_MAX_WORKERS];

/*
 * A dispatcher's watchdog takes a worker out of dispatch the moment a call
 * it sent overruns its deadline, and the worker rejoins when the handler
 * returns; here only the operator hears of it, once each way.
 */
static void
control_report_stuck(const struct runtime *rt, unsigned int w)
{
	struct status_stuck st;
	bool is = status_worker_stuck(rt, w, &st);

	if (is == (control_stuck_in[w] != NULL))
		return;
	if (is) {
		control_stuck_in[w] = st.function ? st.function : "its loop";
		fprintf(stderr, "turbine: worker %u (lcore %u) is stuck: function %s overran its "
			"deadline and has run for %" PRIu64 " ms: out of dispatch until it returns\n",
			w, rt->workers[w]->lcore_id, control_stuck_in[w], st.ms);
	} else {
		fprintf(stderr, "turbine: worker %u (lcore %u) is back from function %s: in dispatch "
			"again\n", w, rt->workers[w]->lcore_id, control_stuck_in[w]);
		control_stuck_in[w] = NULL;
	}
}

/*
 * Heartbeats: a worker stuck in a handler or dead stops beating; dispatchers
 * stop sending it new calls (what is queued to it waits) until it beats again.
 */
static void
control_check_workers(struct runtime *rt)
{
	uint64_t now = rte_rdtsc(), stale = rt->tsc_hz / 1000 * CONTROL_STALE_MS;
	unsigned int w;

	for (w = 0; w < rt->nb_workers; w++) {
		uint64_t beat = __atomic_load_n(&rt->workers[w]->heartbeat_tsc, __ATOMIC_RELAXED);
		uint8_t out = __atomic_load_n(&rt->worker_out[w], __ATOMIC_RELAXED);
		bool was = out & RUNTIME_WORKER_STALE;
		bool is = now > beat && now - beat > stale;

		control_report_stuck(rt, w);
		if (is == was)
			continue;
		if (is)
			__atomic_fetch_or(&rt->worker_out[w], RUNTIME_WORKER_STALE, __ATOMIC_RELAXED);
		else
			__atomic_fetch_and(&rt->worker_out[w], (uint8_t)~RUNTIME_WORKER_STALE,
					   __ATOMIC_RELAXED);
		fprintf(stderr, is ? "turbine: worker %u (lcore %u) stopped beating for over %u ms: "
				     "out of dispatch\n"
				   : "turbine: worker %u (lcore %u) beats again: back in dispatch\n",
			w, rt->workers[w]->lcore_id, CONTROL_STALE_MS);
	}
}

/* The fraction of the last period each worker spent inside handlers. */
static void
control_measure_busy(struct runtime *rt, double seconds)
{
	unsigned int w;

	for (w = 0; w < rt->nb_workers; w++) {
		uint64_t busy = __atomic_load_n(&rt->workers[w]->busy_tsc, __ATOMIC_RELAXED);

		rt->worker_busy[w] = (double)(busy - control_busy_prev[w]) /
				     ((double)rt->tsc_hz * seconds);
		control_busy_prev[w] = busy;
	}
}

static double
control_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *
control_main(void *arg)
{
	struct runtime *rt = arg;
	struct status_snapshot prev, now;
	double prev_at, now_at;
	unsigned int ticks = 0;

	status_read(rt, &prev);
	prev_at = control_now();
	while (!__atomic_load_n(&control_quit, __ATOMIC_RELAXED)) {
		/* The nap watches sandboxes: one that ends is reaped and replaced at once. */
		sandboxes_watch(rt, CONTROL_TICK_MS);
		if (runtime_quitting(rt))
			continue;
		control_check_workers(rt);
		if (++ticks < CONTROL_STATUS_TICKS)
			continue;
		ticks = 0;
		status_read(rt, &now);
		now_at = control_now();
		control_measure_busy(rt, now_at - prev_at);
		manager_step(rt, now_at - prev_at);
		if (!rt->cfg.quiet && !runtime_quitting(rt))
			status_print_line(stdout, &now, &prev, now_at - prev_at);
		prev = now;
		prev_at = now_at;
	}
	sandboxes_stop();
	return NULL;
}

int
control_start(struct runtime *rt, char *err, size_t errlen)
{
	int rc;

	rc = rte_ctrl_thread_create(&control_thread, "turbine-ctl", NULL, control_main, rt);
	if (rc != 0) {
		snprintf(err, errlen, "cannot start the control thread: %s", strerror(rc));
		return -rc;
	}
	control_running = true;
	return 0;
}

void
control_stop(void)
{
	if (!control_running)
		return;
	__atomic_store_n(&control_quit, 1, __ATOMIC_RELAXED);
	pthread_join(control_thread, NULL);
	control_running = false;
}
