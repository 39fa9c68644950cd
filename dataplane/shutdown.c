/* Shutdown: SIGINT/SIGTERM, a drain bounded by drain_timeout_ms, and the exit when a handler never returns. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_common.h>
#include <rte_lcore.h>

#include "deploy.h"
#include "lcore.h"
#include "memif_guard.h"
#include "port.h"
#include "shutdown.h"
#include "status.h"
#include "worker.h"

/*
 * Past the deadline: how long workers get to finish the burst they are in
 * once their rings are taken, then how long the other lcores get to send
 * what they hold and return. What still runs after both is reported stuck.
 */
#define SHUTDOWN_GRACE_MS 300
#define SHUTDOWN_LEAVE_MS 300
/* How long the forced exit waits for a redeploy in progress before it skips every fini. */
#define SHUTDOWN_FINI_WAIT_MS 200
/* How often the waits look again; before the lcores start, how often the deadline is looked for. */
#define SHUTDOWN_TICK_MS 1
#define SHUTDOWN_START_TICK_MS 10

enum shutdown_state {
	SHUTDOWN_SERVING,
	SHUTDOWN_DRAINING,        /* a signal came */
	SHUTDOWN_FINISHING,       /* every lcore returned in time: main tears down */
	SHUTDOWN_FORCED,          /* the deadline passed, or a second signal: the shutdown thread exits */
};

static struct runtime *shutdown_rt;
static sem_t shutdown_sem;          /* one post per signal */
static int shutdown_signals;
static int shutdown_state;
static uint64_t shutdown_launched_ns; /* 0 until the lcores are launched */

static uint64_t
shutdown_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static bool
shutdown_move(int from, int to)
{
	return __atomic_compare_exchange_n(&shutdown_state, &from, to, false, __ATOMIC_ACQ_REL,
					   __ATOMIC_ACQUIRE);
}

/* Async-signal-safe: atomics, sem_post(), write() and _exit() only. */
static void
shutdown_on_signal(int sig __rte_unused)
{
	static const char msg[] = "turbine: second signal: exiting at once\n";
	int saved = errno, state;

	if (__atomic_add_fetch(&shutdown_signals, 1, __ATOMIC_SEQ_CST) == 1) {
		shutdown_move(SHUTDOWN_SERVING, SHUTDOWN_DRAINING);
		__atomic_store_n(&shutdown_rt->quit, 1, __ATOMIC_RELAXED);
	} else {
		/* Main tearing down, or the shutdown thread busy exiting: nothing to wait for. */
		state = __atomic_load_n(&shutdown_state, __ATOMIC_ACQUIRE);
		if (state == SHUTDOWN_FINISHING || state == SHUTDOWN_FORCED) {
			ssize_t n = write(STDERR_FILENO, msg, sizeof(msg) - 1);

			(void)n;
			_exit(SHUTDOWN_EXIT_SIGNAL);
		}
	}
	sem_post(&shutdown_sem);
	errno = saved;
}

void
shutdown_print_final(const struct runtime *rt)
{
	struct status_snapshot final;

	status_read(rt, &final);
	printf("turbine: final ");
	status_print_json(stdout, &final);
	printf("\n");
	fflush(stdout);
}

/* Poll `done` every tick for at most `ms`. */
static bool
shutdown_wait_for(const struct runtime *rt, bool (*done)(const struct runtime *rt), unsigned int ms)
{
	const struct timespec tick = { 0, SHUTDOWN_TICK_MS * 1000000L };
	uint64_t until = shutdown_now_ns() + (uint64_t)ms * 1000000u;

	while (!done(rt)) {
		if (shutdown_now_ns() >= until)
			return false;
		nanosleep(&tick, NULL);
	}
	return true;
}

static bool
shutdown_workers_done(const struct runtime *rt)
{
	unsigned int w;

	for (w = 0; w < rt->nb_workers; w++)
		if (!__atomic_load_n(&rt->workers[w]->done, __ATOMIC_ACQUIRE))
			return false;
	return true;
}

/* Has every lcore returned, but those of workers still running a call? */
static bool
shutdown_lcores_left(const struct runtime *rt)
{
	unsigned int lcore;

	RTE_LCORE_FOREACH(lcore) {
		const struct worker *w = rt->roles[lcore].worker;

		if (lcore_has_returned(lcore))
			continue;
		if (w == NULL || __atomic_load_n(&w->done, __ATOMIC_ACQUIRE))
			return false;
	}
	return true;
}

/* May the port be stopped under the lcores still running? Only if none of them can touch it. */
static bool
shutdown_port_unused(const struct runtime *rt)
{
	unsigned int lcore;

	RTE_LCORE_FOREACH(lcore) {
		if (lcore_has_returned(lcore))
			continue;
		if (rt->roles[lcore].dispatcher != NULL ||
		    (rt->roles[lcore].worker != NULL && rt->workers_own_txq))
			return false;
	}
	return true;
}

/* Name a worker that has not finished; true when it has not. */
static bool
shutdown_report_busy(const struct runtime *rt, unsigned int w)
{
	const struct worker *wk = rt->workers[w];
	uint64_t since, now = rte_rdtsc();
	double seconds;
	int fn;

	if (__atomic_load_n(&wk->done, __ATOMIC_ACQUIRE))
		return false;
	since = worker_busy_since(wk, &fn);
	seconds = now > since ? (double)(now - since) / (double)rt->tsc_hz : 0;
	if (fn >= 0)
		fprintf(stderr, "turbine: worker %u (lcore %u) still busy in function %s for %.1f s\n",
			w, wk->lcore_id, rt->functions[fn].cfg->name, seconds);
	else
		fprintf(stderr, "turbine: worker %u (lcore %u) still busy, its loop stopped for %.1f s\n",
			w, wk->lcore_id, seconds);
	return true;
}

/*
 * Past the deadline, on the shutdown thread: have the dispatchers answer
 * what is still queued, give everyone a moment, then exit without joining
 * the lcores that did not return (a handler that never returns cannot be
 * joined). The EAL is not cleaned up: its memory may still be in use by
 * such an lcore. Exits 0 when, after all, nothing was left undone.
 */
static void __rte_noreturn
shutdown_forced(struct runtime *rt)
{
	bool stuck[RUNTIME_MAX_WORKERS] = { false };
	unsigned int w, nb_stuck = 0;
	uint64_t refused;

	/* A stuck lcore never reports quiescent: nothing on the way out may wait for one. */
	memif_guard_disable();
	__atomic_store_n(&rt->stop_stage, RUNTIME_TAKING_OVER, __ATOMIC_RELEASE);
	shutdown_wait_for(rt, shutdown_workers_done, SHUTDOWN_GRACE_MS);
	__atomic_store_n(&rt->stop_stage, RUNTIME_LEAVING, __ATOMIC_RELEASE);
	shutdown_wait_for(rt, shutdown_lcores_left, SHUTDOWN_LEAVE_MS);

	refused = __atomic_load_n(&rt->refused_at_stop, __ATOMIC_RELAXED);
	for (w = 0; w < rt->nb_workers; w++)
		if (shutdown_report_busy(rt, w)) {
			stuck[w] = true;
			nb_stuck++;
		}
	if (refused != 0 || nb_stuck != 0)
		fprintf(stderr, "turbine: drain_timeout_ms (%u ms) passed: %" PRIu64 " queued call(s) "
			"answered 503, %u worker(s) still busy (their environments' fini is skipped)\n",
			rt->cfg.drain_timeout_ms, refused, nb_stuck);
	shutdown_print_final(rt);
	if (deploy_fini_all_but(rt, stuck, SHUTDOWN_FINI_WAIT_MS) != 0)
		fprintf(stderr, "turbine: a redeploy is still waiting for the lcores: no fini ran\n");
	if (shutdown_port_unused(rt))
		port_stop(rt);
	fflush(stdout);
	fflush(stderr);
	_exit(refused != 0 || nb_stuck != 0 ? SHUTDOWN_EXIT_TIMEOUT : 0);
}

/* A second signal while draining: the final counters, and out. */
static void __rte_noreturn
shutdown_at_once(const struct runtime *rt)
{
	if (!shutdown_move(SHUTDOWN_DRAINING, SHUTDOWN_FORCED) &&
	    !shutdown_move(SHUTDOWN_SERVING, SHUTDOWN_FORCED))
		_exit(SHUTDOWN_EXIT_SIGNAL);  /* main is tearing down: nothing is safe to read */
	fprintf(stderr, "turbine: second signal: exiting at once, without waiting for the drain\n");
	shutdown_print_final(rt);
	fflush(stderr);
	_exit(SHUTDOWN_EXIT_SIGNAL);
}

/* Wait for a signal until `until_ns` (CLOCK_MONOTONIC). True when one came. */
static bool
shutdown_next_signal(uint64_t until_ns)
{
	struct timespec ts = {
		.tv_sec = (time_t)(until_ns / 1000000000u),
		.tv_nsec = (long)(until_ns % 1000000000u),
	};

	return sem_clockwait(&shutdown_sem, CLOCK_MONOTONIC, &ts) == 0;
}

static void *
shutdown_main(void *arg)
{
	struct runtime *rt = arg;
	uint64_t signalled_ns, launched_ns, deadline_ns = 0;

	while (sem_wait(&shutdown_sem) != 0)
		;
	signalled_ns = shutdown_now_ns();
	for (;;) {
		launched_ns = __atomic_load_n(&shutdown_launched_ns, __ATOMIC_ACQUIRE);
		/* A signal during start-up: the drain begins with the lcores. */
		if (deadline_ns == 0 && launched_ns != 0) {
			deadline_ns = RTE_MAX(signalled_ns, launched_ns) +
				      (uint64_t)rt->cfg.drain_timeout_ms * 1000000u;
			printf("turbine: stopping: draining for at most %u ms (a second signal exits "
			       "at once)\n", rt->cfg.drain_timeout_ms);
			fflush(stdout);
		}
		if (shutdown_next_signal(deadline_ns != 0 ? deadline_ns
				: shutdown_now_ns() + SHUTDOWN_START_TICK_MS * 1000000u))
			shutdown_at_once(rt);
		if (deadline_ns != 0 && shutdown_now_ns() >= deadline_ns)
			break;
	}
	if (shutdown_move(SHUTDOWN_DRAINING, SHUTDOWN_FORCED))
		shutdown_forced(rt);
	/* Every lcore returned in time and main is tearing down; a second signal exits from the handler. */
	return NULL;
}

void
shutdown_launched(void)
{
	__atomic_store_n(&shutdown_launched_ns, shutdown_now_ns(), __ATOMIC_RELEASE);
}

void
shutdown_wait_lcores(void)
{
	const struct timespec tick = { 0, SHUTDOWN_TICK_MS * 1000000L };
	unsigned int lcore;

	RTE_LCORE_FOREACH(lcore)
		while (!lcore_has_returned(lcore) &&
		       __atomic_load_n(&shutdown_state, __ATOMIC_ACQUIRE) != SHUTDOWN_FORCED)
			nanosleep(&tick, NULL);
	/* Unless the deadline passed meanwhile, main finishes; otherwise the shutdown thread does. */
	if (shutdown_move(SHUTDOWN_DRAINING, SHUTDOWN_FINISHING))
		return;
	for (;;)
		pause();
}

int
shutdown_init(struct runtime *rt, char *err, size_t errlen)
{
	struct sigaction sa;
	pthread_t thread;
	int rc;

	shutdown_rt = rt;
	if (sem_init(&shutdown_sem, 0, 0) != 0) {
		snprintf(err, errlen, "cannot create a semaphore: %s", strerror(errno));
		return -errno;
	}
	rc = rte_ctrl_thread_create(&thread, "turbine-stop", NULL, shutdown_main, rt);
	if (rc != 0) {
		snprintf(err, errlen, "cannot start the shutdown thread: %s", strerror(rc));
		return -rc;
	}
	pthread_detach(thread);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = shutdown_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	return 0;
}
