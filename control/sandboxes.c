/* Process-mode environments, the control side: sandboxes started, watched, restarted and retired. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/wait.h>

#include <rte_lcore.h>
#include <rte_malloc.h>

#include "functions.h"
#include "sandboxes.h"
#include "worker.h"
#include "worker_sandbox.h"

/* How long a sandbox being stopped gets to run fini. */
#define SANDBOXES_FINI_GRACE_MS 1000
/* A restart whose init failed is tried again this much later. */
#define SANDBOXES_RETRY_MS 1000
/* While a worker answers what an ended sandbox held, how often the control thread looks. */
#define SANDBOXES_DRAIN_POLL_MS 1
#define SANDBOXES_EVENTS 16
/* A sandbox's buffers for a call's event and its answer: more than a datagram holds. */
#define SANDBOXES_BUF 4096u

static struct {
	struct runtime *rt;
	bool enabled;                /* some function has isolation = "process" */
	cpu_set_t cpus;              /* where sandboxes run */
	bool cpus_polled;            /* ... is also where a data lcore polls: they do not spin */
	int epfd;
	int evfd;                    /* a job for the control thread */
	struct worker_sandbox **all; /* every environment not freed yet */
	unsigned int nb_all, cap_all;
	struct worker_sandbox *retired; /* waiting for their workers to release them */

	pthread_mutex_t lock;        /* the fields below */
	pthread_cond_t cond;
	bool running;                /* the control thread watches */
	pthread_t thread;
	int (*job)(void *arg);
	void *job_arg;
	int job_rc;
	bool job_pending;
	pthread_mutex_t job_lock;    /* one job at a time */
} sandboxes = {
	.epfd = -1,
	.evfd = -1,
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.cond = PTHREAD_COND_INITIALIZER,
	.job_lock = PTHREAD_MUTEX_INITIALIZER,
};

static uint64_t
sandboxes_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void *
sandboxes_probe(void *arg)
{
	pthread_getaffinity_np(pthread_self(), sizeof(cpu_set_t), arg);
	return NULL;
}

/* Where DPDK runs its control threads: ask one. */
static int
sandboxes_find_cpus(struct runtime *rt, char *err, size_t errlen)
{
	cpu_set_t lcore_cpus;
	unsigned int lcore;
	pthread_t t;
	int rc;

	CPU_ZERO(&sandboxes.cpus);
	rc = rte_ctrl_thread_create(&t, "turbine-sbx-cpu", NULL, sandboxes_probe, &sandboxes.cpus);
	if (rc != 0) {
		snprintf(err, errlen, "cannot start a thread: %s", strerror(rc));
		return -rc;
	}
	pthread_join(t, NULL);
	RTE_LCORE_FOREACH(lcore) {
		if (rt->roles[lcore].dispatcher == NULL && rt->roles[lcore].worker == NULL)
			continue;
		rte_cpuset_t c = rte_lcore_cpuset(lcore);

		CPU_AND(&lcore_cpus, &c, &sandboxes.cpus);
		if (CPU_COUNT(&lcore_cpus) != 0)
			sandboxes.cpus_polled = true;
	}
	return 0;
}

int
sandboxes_init(struct runtime *rt, char *err, size_t errlen)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	char exe[PATH_MAX];
	unsigned int f, w;
	int rc;

	sandboxes.rt = rt;
	for (f = 0; f < rt->nb_functions; f++)
		if (config_function_isolated(rt->functions[f].cfg))
			sandboxes.enabled = true;
	if (!sandboxes.enabled)
		return 0;
	rc = sandbox_default_exe(exe, sizeof(exe));
	if (rc < 0) {
		snprintf(err, errlen, "isolation = \"process\" runs handlers in turbine-sandbox, which "
			 "is not next to turbine (%s: %s; it is built when libseccomp is installed)",
			 exe, strerror(-rc));
		return rc;
	}
	rc = sandboxes_find_cpus(rt, err, errlen);
	if (rc != 0)
		return rc;
	for (w = 0; w < rt->nb_workers; w++) {
		rc = worker_sandboxes_create(rt->workers[w]);
		if (rc != 0) {
			snprintf(err, errlen, "worker %u: no room for its sandboxes: %s", w, strerror(-rc));
			return rc;
		}
	}
	sandboxes.epfd = epoll_create1(EPOLL_CLOEXEC);
	sandboxes.evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (sandboxes.epfd < 0 || sandboxes.evfd < 0 ||
	    epoll_ctl(sandboxes.epfd, EPOLL_CTL_ADD, sandboxes.evfd, &ev) != 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot watch sandboxes: %s", strerror(errno));
		return rc;
	}
	return 0;
}

static int
sandboxes_remember(struct worker_sandbox *ws)
{
	struct worker_sandbox **all;
	unsigned int cap;

	if (sandboxes.nb_all == sandboxes.cap_all) {
		cap = sandboxes.cap_all != 0 ? sandboxes.cap_all * 2 : 16;
		all = realloc(sandboxes.all, cap * sizeof(*all));
		if (all == NULL)
			return -ENOMEM;
		sandboxes.all = all;
		sandboxes.cap_all = cap;
	}
	sandboxes.all[sandboxes.nb_all++] = ws;
	return 0;
}

static void
sandboxes_forget(struct worker_sandbox *ws)
{
	unsigned int i;

	for (i = 0; i < sandboxes.nb_all; i++)
		if (sandboxes.all[i] == ws) {
			sandboxes.all[i] = sandboxes.all[--sandboxes.nb_all];
			return;
		}
}

static void
sandboxes_watch_pidfd(struct worker_sandbox *ws, bool on)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = ws };

	if (ws->watched == on)
		return;
	epoll_ctl(sandboxes.epfd, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, sandbox_pidfd(ws->sb), &ev);
	ws->watched = on;
}

/* The sandbox ends (fini when it is idle and ready) and the environment is freed. */
static void
sandboxes_free(struct worker_sandbox *ws)
{
	if (ws->sb != NULL) {
		sandboxes_watch_pidfd(ws, false);
		sandbox_destroy(ws->sb, SANDBOXES_FINI_GRACE_MS);
	}
	sandboxes_forget(ws);
	rte_free(ws);
}

int
sandboxes_start(struct runtime *rt, unsigned int fn, const char *module, const char *version,
		unsigned int w, struct worker_sandbox **wsp, char *err, size_t errlen)
{
	const struct function_config *cfg = rt->functions[fn].cfg;
	const struct worker *wk = rt->workers[w];
	rte_cpuset_t lcore = rte_lcore_cpuset(wk->lcore_id);
	struct sandbox_params p = {
		.module = module,
		.function = cfg->name,
		.version = version,
		.params = (const char *const *)cfg->params,
		.worker_id = w,
		.socket_id = rte_lcore_to_socket_id(wk->lcore_id),
		.memory_mb = cfg->memory_mb,
		.timeout_ms = cfg->timeout_ms,
		.network = cfg->network,
		.nb_slots = WORKER_SANDBOX_SLOTS,
		/* A call's event, strings and answer are one datagram's bytes at most. */
		.in_max = SANDBOXES_BUF,
		.out_max = SANDBOXES_BUF,
		.cpus = &sandboxes.cpus,
	};
	struct worker_sandbox *ws;
	cpu_set_t shared;
	int rc;

	/*
	 * Where a data lcore polls, a sandbox that spins waiting for its next
	 * call only takes the CPU from it. On its own worker's CPU it gives the
	 * CPU back once and stays runnable (the worker lends it the CPU with the
	 * next call); on another lcore's it sleeps at once, so that the wake-up
	 * of the next call is what brings it onto the CPU.
	 */
	CPU_AND(&shared, &lcore, &sandboxes.cpus);
	p.shared_cpu = CPU_COUNT(&shared) != 0;
	if (sandboxes.cpus_polled && !p.shared_cpu)
		p.spin_us = 1;

	*wsp = NULL;
	ws = rte_zmalloc_socket("worker_sandbox", sizeof(*ws), RTE_CACHE_LINE_SIZE, p.socket_id);
	if (ws == NULL) {
		snprintf(err, errlen, "function %s: no memory for an environment on worker %u",
			 cfg->name, w);
		return -ENOMEM;
	}
	ws->function = (uint16_t)fn;
	ws->worker = (uint16_t)w;
	ws->spawns = 1;
	ws->shares_cpu = p.shared_cpu;
	rc = sandbox_create(&p, &ws->sb, err, errlen);
	if (rc == 0)
		rc = sandboxes_remember(ws);
	if (rc != 0) {
		if (ws->sb != NULL)
			sandbox_destroy(ws->sb, 0);
		rte_free(ws);
		return rc;
	}
	*wsp = ws;
	return 0;
}

int
sandboxes_ready(struct worker_sandbox *ws, struct environment *env)
{
	struct runtime *rt = sandboxes.rt;
	int rc;

	memset(env, 0, sizeof(*env));
	rc = sandbox_wait_ready(ws->sb);
	if (rc == 0) {
		sandboxes_watch_pidfd(ws, true);
		rc = worker_sandbox_hand(rt->workers[ws->worker], ws);
		if (rc != 0)
			snprintf(env->error, sizeof(env->error), "worker %u cannot take another "
				 "environment now", ws->worker);
	} else {
		snprintf(env->error, sizeof(env->error), "%s", sandbox_error(ws->sb));
	}
	if (rc != 0) {
		sandboxes_free(ws);
		return rc;
	}
	env->ready = true;
	env->cold = true;
	env->init_ns = sandbox_cold_start_ns(ws->sb);
	return 0;
}

static bool
sandboxes_running(void)
{
	bool running;

	pthread_mutex_lock(&sandboxes.lock);
	running = sandboxes.running;
	pthread_mutex_unlock(&sandboxes.lock);
	return running;
}

void
sandboxes_retire(struct worker_sandbox *ws)
{
	if (ws == NULL)
		return;
	if (!sandboxes_running()) {
		sandboxes_free(ws);
		return;
	}
	__atomic_store_n(&ws->retire, 1, __ATOMIC_RELEASE);
	ws->next_retired = sandboxes.retired;
	sandboxes.retired = ws;
}

static const char *
sandboxes_name(const struct worker_sandbox *ws)
{
	return sandboxes.rt->functions[ws->function].cfg->name;
}

/* Its pidfd says the process ended: collect it; its worker answers what it held. */
static void
sandboxes_ended(struct worker_sandbox *ws)
{
	struct sandbox *sb = ws->sb;
	int rc;

	functions_lock();
	rc = sandbox_reap(sb);
	if (rc == 1) {
		sandboxes_watch_pidfd(ws, false);
		/* The worker, when it saw the death in a call, said why already. */
		worker_sandbox_set_out(ws, sb->out_of_memory ? WORKER_SANDBOX_OUT_OF_MEMORY
					   : WIFSIGNALED(sb->wait_status) ? WORKER_SANDBOX_CRASHED
					   : WORKER_SANDBOX_ENDED);
		ws->draining = true;
		if (!__atomic_load_n(&ws->retire, __ATOMIC_RELAXED))
			fprintf(stderr, "turbine: function %s: its sandbox on worker %u ended (%s)%s\n",
				sandboxes_name(ws), ws->worker, sandbox_error(sb),
				runtime_quitting(sandboxes.rt) ? "" : "; starting a new one");
	}
	functions_unlock();
}

/* A new process for an environment whose worker holds nothing of the old one. */
static void
sandboxes_restart(struct worker_sandbox *ws)
{
	char err[256] = "";
	int rc;

	functions_lock();
	ws->draining = false;
	rc = sandbox_respawn(ws->sb, err, sizeof(err));
	if (rc == 0)
		rc = sandbox_wait_ready(ws->sb);
	if (rc == 0) {
		ws->restarts++;
		ws->retry_ns = 0;
		sandboxes_watch_pidfd(ws, true);
		__atomic_add_fetch(&ws->spawns, 1, __ATOMIC_RELEASE);
		__atomic_store_n(&ws->out, WORKER_SANDBOX_IN, __ATOMIC_RELEASE);
		fprintf(stderr, "turbine: function %s: a new sandbox on worker %u (pid %d), "
			"cold start %.3f ms\n", sandboxes_name(ws), ws->worker, sandbox_pid(ws->sb),
			sandbox_cold_start_ns(ws->sb) / 1e6);
	} else {
		ws->retry_ns = sandboxes_now_ns() + (uint64_t)SANDBOXES_RETRY_MS * 1000000u;
		__atomic_store_n(&ws->out, WORKER_SANDBOX_FAILED, __ATOMIC_RELEASE);
		fprintf(stderr, "turbine: function %s: no new sandbox on worker %u: %s; trying again "
			"in %u ms\n", sandboxes_name(ws), ws->worker,
			err[0] != '\0' ? err : sandbox_error(ws->sb), SANDBOXES_RETRY_MS);
	}
	functions_unlock();
}

/* Restart what its worker has drained; free what its worker has released. */
static bool
sandboxes_tend(struct runtime *rt)
{
	struct worker_sandbox **link, *ws;
	bool draining = false;
	unsigned int i;
	uint64_t now = sandboxes_now_ns();

	for (link = &sandboxes.retired; (ws = *link) != NULL; ) {
		if (__atomic_load_n(&ws->released, __ATOMIC_ACQUIRE)) {
			*link = ws->next_retired;
			sandboxes_free(ws);
			continue;
		}
		link = &ws->next_retired;
	}
	for (i = 0; i < sandboxes.nb_all; i++) {
		ws = sandboxes.all[i];
		if (__atomic_load_n(&ws->retire, __ATOMIC_RELAXED) || runtime_quitting(rt))
			continue;
		if (ws->draining && sandbox_state(ws->sb) == SANDBOX_DRAINED)
			sandboxes_restart(ws);
		else if (ws->retry_ns != 0 && now >= ws->retry_ns &&
			 sandbox_state(ws->sb) == SANDBOX_FAILED)
			sandboxes_restart(ws);
		draining = draining || ws->draining;
	}
	return draining;
}

/* Take the job another thread posted, run it, and wake that thread. */
static void
sandboxes_run_job(void)
{
	uint64_t n;
	int (*job)(void *arg);
	void *arg;
	int rc;

	if (read(sandboxes.evfd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		return;
	pthread_mutex_lock(&sandboxes.lock);
	job = sandboxes.job_pending ? sandboxes.job : NULL;
	arg = sandboxes.job_arg;
	pthread_mutex_unlock(&sandboxes.lock);
	if (job == NULL)
		return;
	rc = job(arg);
	pthread_mutex_lock(&sandboxes.lock);
	sandboxes.job_rc = rc;
	sandboxes.job_pending = false;
	pthread_cond_broadcast(&sandboxes.cond);
	pthread_mutex_unlock(&sandboxes.lock);
}

void
sandboxes_watch(struct runtime *rt, unsigned int ms)
{
	const struct timespec nap = { ms / 1000, (long)(ms % 1000) * 1000000L };
	struct epoll_event ev[SANDBOXES_EVENTS];
	uint64_t until = sandboxes_now_ns() + (uint64_t)ms * 1000000u, now;
	bool draining = false;
	int i, n, wait_ms;

	if (!sandboxes.enabled) {
		nanosleep(&nap, NULL);
		return;
	}
	pthread_mutex_lock(&sandboxes.lock);
	if (!sandboxes.running) {
		sandboxes.running = true;
		sandboxes.thread = pthread_self();
	}
	pthread_mutex_unlock(&sandboxes.lock);
	for (;;) {
		now = sandboxes_now_ns();
		if (now >= until)
			break;
		wait_ms = (int)((until - now + 999999u) / 1000000u);
		if (draining && wait_ms > SANDBOXES_DRAIN_POLL_MS)
			wait_ms = SANDBOXES_DRAIN_POLL_MS;
		n = epoll_wait(sandboxes.epfd, ev, SANDBOXES_EVENTS, wait_ms);
		for (i = 0; i < n; i++) {
			if (ev[i].data.ptr == NULL)
				sandboxes_run_job();
			else
				sandboxes_ended(ev[i].data.ptr);
		}
		draining = sandboxes_tend(rt);
	}
}

void
sandboxes_stop(void)
{
	struct worker_sandbox *ws;
	unsigned int i;

	pthread_mutex_lock(&sandboxes.lock);
	sandboxes.running = false;
	if (sandboxes.job_pending) {
		sandboxes.job_rc = -EAGAIN;
		sandboxes.job_pending = false;
		pthread_cond_broadcast(&sandboxes.cond);
	}
	pthread_mutex_unlock(&sandboxes.lock);
	/* The lcores have returned: nothing is held, and nothing will be. */
	while ((ws = sandboxes.retired) != NULL) {
		sandboxes.retired = ws->next_retired;
		sandboxes_free(ws);
	}
	/* The others still belong to their deployments, which free them; their processes end
	 * now, while the thread that started some of them still runs, so that fini runs. */
	functions_lock();
	for (i = 0; i < sandboxes.nb_all; i++) {
		ws = sandboxes.all[i];
		sandboxes_watch_pidfd(ws, false);
		sandbox_destroy(ws->sb, SANDBOXES_FINI_GRACE_MS);
		ws->sb = NULL;
	}
	functions_unlock();
}

int
sandboxes_call(int (*fn)(void *arg), void *arg)
{
	const uint64_t one = 1;
	int rc;

	pthread_mutex_lock(&sandboxes.lock);
	if (sandboxes.running && pthread_equal(sandboxes.thread, pthread_self())) {
		pthread_mutex_unlock(&sandboxes.lock);
		return fn(arg);
	}
	pthread_mutex_unlock(&sandboxes.lock);

	pthread_mutex_lock(&sandboxes.job_lock);
	pthread_mutex_lock(&sandboxes.lock);
	if (!sandboxes.running) {
		rc = -EAGAIN;
		goto out;
	}
	sandboxes.job = fn;
	sandboxes.job_arg = arg;
	sandboxes.job_pending = true;
	if (write(sandboxes.evfd, &one, sizeof(one)) != sizeof(one)) {
		sandboxes.job_pending = false;
		rc = -errno;
		goto out;
	}
	while (sandboxes.job_pending)
		pthread_cond_wait(&sandboxes.cond, &sandboxes.lock);
	rc = sandboxes.job_rc;
out:
	pthread_mutex_unlock(&sandboxes.lock);
	pthread_mutex_unlock(&sandboxes.job_lock);
	return rc;
}
