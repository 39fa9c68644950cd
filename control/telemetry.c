/* Telemetry and control through DPDK's rte_telemetry: what turbinectl and dpdk-telemetry.py read. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_telemetry.h>

#include "async.h"
#include "deploy.h"
#include "dispatch.h"
#include "functions.h"
#include "leases.h"
#include "quotas.h"
#include "status.h"
#include "telemetry.h"
#include "worker.h"
#include "worker_sandbox.h"

/* The callbacks take no argument: the runtime they report on and act on, set once at start-up. */
static struct runtime *telemetry_rt;

/*
 * DPDK serves each client on a thread of its own until the process exits,
 * so a command may come in while main() tears the runtime down. Every
 * command runs holding this lock for reading; telemetry_fini() takes it for
 * writing before anything is freed, and commands after it find no runtime.
 * Writers go first, so clients polling in a loop cannot hold shutdown back.
 */
static pthread_rwlock_t telemetry_gate = PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP;

static int
telemetry_stats(const char *cmd __rte_unused, const char *params __rte_unused,
		struct rte_tel_data *d)
{
	struct status_snapshot s;
	unsigned int i;

	status_read(telemetry_rt, &s);
	rte_tel_data_start_dict(d);
	for (i = 0; i < COUNTER_MAX; i++)
		rte_tel_data_add_dict_u64(d, counter_names[i], s.sum.v[i]);
	rte_tel_data_add_dict_u64(d, "mempool_in_use", s.mempool_in_use);
	rte_tel_data_add_dict_u64(d, "mempool_size", s.mempool_size);
	return 0;
}

static uint64_t
telemetry_verdicts(const struct runtime *rt, unsigned int f, enum counting_verdict v)
{
	uint64_t n = 0;
	unsigned int d;

	for (d = 0; d < rt->nb_dispatchers; d++)
		n += counting_verdicts(rt->dispatchers[d]->counting.d, f, v);
	return n;
}

/* A container for nesting, as a dict or as an array of `type`. */
static struct rte_tel_data *
telemetry_new_dict(void)
{
	struct rte_tel_data *t = rte_tel_data_alloc();

	if (t != NULL)
		rte_tel_data_start_dict(t);
	return t;
}

static struct rte_tel_data *
telemetry_new_array(enum rte_tel_value_type type)
{
	struct rte_tel_data *t = rte_tel_data_alloc();

	if (t != NULL)
		rte_tel_data_start_array(t, type);
	return t;
}

/* Put `child` in dict `parent` under `name`; the library frees it with `parent`, or we do now. */
static void
telemetry_nest(struct rte_tel_data *parent, const char *name, struct rte_tel_data *child)
{
	if (rte_tel_data_add_dict_container(parent, name, child, 0) != 0)
		rte_tel_data_free(child);
}

/* The environment's last cold start: init alone in thread mode, the whole process's start and
 * init in a sandbox. */
static uint64_t
telemetry_cold_start_ns(const struct deployment *dep, unsigned int w)
{
	const struct worker_sandbox *ws = dep->sandboxes[w];

	if (ws != NULL && ws->sb != NULL)
		return sandbox_cold_start_ns(ws->sb);
	return dep->envs[w].init_ns;
}

/* A process-mode function's sandboxes, in the order of its environments: pid, state, restarts. */
static int
telemetry_sandbox_summary(struct rte_tel_data *fd, const struct function *fn,
			  const struct deployment *dep)
{
	const struct worker_set *set = deployment_workers(dep);
	struct rte_tel_data *pids = telemetry_new_array(RTE_TEL_INT_VAL);
	struct rte_tel_data *states = telemetry_new_array(RTE_TEL_STRING_VAL);
	struct rte_tel_data *restarts = telemetry_new_array(RTE_TEL_U64_VAL);
	unsigned int i;

	if (pids == NULL || states == NULL || restarts == NULL) {
		rte_tel_data_free(pids);
		rte_tel_data_free(states);
		rte_tel_data_free(restarts);
		return -ENOMEM;
	}
	rte_tel_data_add_dict_int(fd, "network", fn->cfg->network);
	for (i = 0; i < set->nb; i++) {
		const struct worker_sandbox *ws = dep->sandboxes[set->ids[i]];
		bool live = ws != NULL && ws->sb != NULL;

		rte_tel_data_add_array_int(pids, live ? sandbox_pid(ws->sb) : 0);
		rte_tel_data_add_array_string(states, live ? sandbox_state_name(sandbox_state(ws->sb))
							   : "stopped");
		rte_tel_data_add_array_u64(restarts, ws != NULL ? ws->restarts : 0);
	}
	telemetry_nest(fd, "sandbox_pids", pids);
	telemetry_nest(fd, "sandbox_states", states);
	telemetry_nest(fd, "sandbox_restarts", restarts);
	return 0;
}

/* A function's configuration and state, for both function commands; under functions_lock(). */
static int
telemetry_function_summary(struct rte_tel_data *fd, unsigned int f)
{
	const struct runtime *rt = telemetry_rt;
	const struct function *fn = &rt->functions[f];
	const struct deployment *dep = runtime_live(fn);
	const struct worker_set *ws = deployment_workers(dep);
	struct rte_tel_data *cold = telemetry_new_array(RTE_TEL_U64_VAL);
	unsigned int i;

	if (cold == NULL)
		return -ENOMEM;
	rte_tel_data_add_dict_string(fd, "version", dep->version);
	rte_tel_data_add_dict_string(fd, "module", dep->mod.path);
	rte_tel_data_add_dict_string(fd, "isolation", fn->cfg->isolation);
	rte_tel_data_add_dict_int(fd, "ready", dep->ready);
	rte_tel_data_add_dict_u64(fd, "timeout_ms", fn->cfg->timeout_ms);
	rte_tel_data_add_dict_u64(fd, "memory_mb", fn->cfg->memory_mb);
	rte_tel_data_add_dict_u64(fd, "max_event_bytes", fn->cfg->max_event_bytes);
	rte_tel_data_add_dict_u64(fd, "reserved_concurrency", fn->cfg->reserved_concurrency);
	rte_tel_data_add_dict_u64(fd, "rate", fn->cfg->rate);
	rte_tel_data_add_dict_u64(fd, "burst", fn->cfg->burst);
	rte_tel_data_add_dict_u64(fd, "environments", ws->nb);
	rte_tel_data_add_dict_u64(fd, "in_flight", quotas_in_flight(rt, f));
	for (i = 0; i < ws->nb; i++)
		rte_tel_data_add_array_u64(cold, telemetry_cold_start_ns(dep, ws->ids[i]) / 1000);
	telemetry_nest(fd, "cold_start_us", cold);
	return dep->isolated ? telemetry_sandbox_summary(fd, fn, dep) : 0;
}

static int
telemetry_functions(const char *cmd __rte_unused, const char *params __rte_unused,
		    struct rte_tel_data *d)
{
	const struct runtime *rt = telemetry_rt;
	unsigned int f;
	int rc = 0;

	rte_tel_data_start_dict(d);
	functions_lock();
	for (f = 0; f < rt->nb_functions && rc == 0; f++) {
		struct rte_tel_data *fd = telemetry_new_dict();

		if (fd == NULL || telemetry_function_summary(fd, f) != 0) {
			rte_tel_data_free(fd);
			rc = -ENOMEM;
			break;
		}
		telemetry_nest(d, rt->functions[f].cfg->name, fd);
	}
	functions_unlock();
	return rc;
}

/* One sandbox: its process, its state, how often it was replaced, why it is out of dispatch. */
static void
telemetry_sandbox_env(struct rte_tel_data *e, const struct worker_sandbox *ws)
{
	char why[128] = "";

	if (ws == NULL || ws->sb == NULL) {
		rte_tel_data_add_dict_string(e, "sandbox_state", "stopped");
		return;
	}
	rte_tel_data_add_dict_int(e, "sandbox_pid", sandbox_pid(ws->sb));
	rte_tel_data_add_dict_string(e, "sandbox_state", sandbox_state_name(sandbox_state(ws->sb)));
	rte_tel_data_add_dict_u64(e, "restarts", ws->restarts);
	rte_tel_data_add_dict_u64(e, "held", __atomic_load_n(&ws->held, __ATOMIC_RELAXED));
	if (__atomic_load_n(&ws->out, __ATOMIC_RELAXED) != WORKER_SANDBOX_IN)
		worker_sandbox_why(ws, why, sizeof(why));
	rte_tel_data_add_dict_string(e, "out_of_dispatch", why);
}

/* A function's environments by worker (this release cannot nest an array of dicts in a dict). */
static int
telemetry_function_envs(struct rte_tel_data *d, unsigned int f)
{
	const struct deployment *dep = runtime_live(&telemetry_rt->functions[f]);
	const struct worker_set *ws = deployment_workers(dep);
	struct rte_tel_data *envs = telemetry_new_dict();
	unsigned int i;

	if (envs == NULL)
		return -ENOMEM;
	for (i = 0; i < ws->nb; i++) {
		struct rte_tel_data *e = telemetry_new_dict();
		char key[16];

		if (e == NULL) {
			rte_tel_data_free(envs);
			return -ENOMEM;
		}
		rte_tel_data_add_dict_u64(e, "cold_start_us",
					  telemetry_cold_start_ns(dep, ws->ids[i]) / 1000);
		if (dep->isolated)
			telemetry_sandbox_env(e, dep->sandboxes[ws->ids[i]]);
		else
			rte_tel_data_add_dict_int(e, "warm", !dep->envs[ws->ids[i]].cold);
		snprintf(key, sizeof(key), "%u", ws->ids[i]);
		telemetry_nest(envs, key, e);
	}
	telemetry_nest(d, "environments_by_worker", envs);
	return 0;
}

/* Calls, errors and the handler's latency over every worker; `merged` is the caller's scratch. */
static int
telemetry_function_calls(struct rte_tel_data *d, unsigned int f, struct hist *merged)
{
	const struct runtime *rt = telemetry_rt;
	struct rte_tel_data *throttles, *latency;
	uint64_t calls = 0, errors = 0, timeouts = 0;
	enum counting_verdict v;
	unsigned int w;

	hist_reset(merged);
	for (w = 0; w < rt->nb_workers; w++) {
		const struct worker_fn_stats *s = &rt->workers[w]->stats[f];

		calls += s->calls;
		errors += s->fn_errors;
		timeouts += s->timeouts;
		hist_merge(merged, &s->latency);
	}
	rte_tel_data_add_dict_u64(d, "calls", calls);
	rte_tel_data_add_dict_u64(d, "fn_errors", errors);
	rte_tel_data_add_dict_u64(d, "timeouts", timeouts);
	rte_tel_data_add_dict_u64(d, "admitted", telemetry_verdicts(rt, f, COUNTING_ADMIT));
	rte_tel_data_add_dict_u64(d, "denied", telemetry_verdicts(rt, f, COUNTING_DENIED));

	throttles = telemetry_new_dict();
	latency = telemetry_new_dict();
	if (throttles == NULL || latency == NULL) {
		rte_tel_data_free(throttles);
		rte_tel_data_free(latency);
		return -ENOMEM;
	}
	for (v = COUNTING_FN_CONCURRENCY; v < COUNTING_VERDICT_MAX; v++)
		rte_tel_data_add_dict_u64(throttles, counting_reason(v), telemetry_verdicts(rt, f, v));
	telemetry_nest(d, "throttles", throttles);
	rte_tel_data_add_dict_u64(latency, "count", merged->total);
	rte_tel_data_add_dict_u64(latency, "p50", hist_percentile(merged, 50));
	rte_tel_data_add_dict_u64(latency, "p99", hist_percentile(merged, 99));
	rte_tel_data_add_dict_u64(latency, "p999", hist_percentile(merged, 99.9));
	rte_tel_data_add_dict_u64(latency, "max", merged->total ? merged->max : 0);
	telemetry_nest(d, "latency_ns", latency);
	return 0;
}

/* The function's Events: queued, accepted, succeeded, retried, dead-lettered. */
static int
telemetry_function_async(struct rte_tel_data *d, unsigned int f)
{
	struct async_stats *st = malloc(sizeof(*st));

	if (st == NULL)
		return -ENOMEM;
	async_get_stats(st);
	if (st->q.fn_depth_known)
		rte_tel_data_add_dict_u64(d, "async_depth", st->q.fn_depth[f]);
	rte_tel_data_add_dict_u64(d, "async_accepted", st->q.fn_accepted[f]);
	rte_tel_data_add_dict_u64(d, "async_succeeded", st->fn_succeeded[f]);
	rte_tel_data_add_dict_u64(d, "async_retried", st->fn_retried[f]);
	rte_tel_data_add_dict_u64(d, "async_dead_lettered", st->fn_dead_lettered[f]);
	free(st);
	return 0;
}

/* /turbine/async: the asynchronous queue. */
static int
telemetry_async(const char *cmd __rte_unused, const char *params __rte_unused,
		struct rte_tel_data *d)
{
	struct async_stats *st = malloc(sizeof(*st));
	uint64_t now, oldest;
	struct timespec ts;

	if (st == NULL)
		return -ENOMEM;
	async_get_stats(st);
	clock_gettime(CLOCK_REALTIME, &ts);
	now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	oldest = st->q.oldest_accepted_ns;
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_string(d, "backend", st->backend);
	rte_tel_data_add_dict_string(d, "dir", st->dir);
	rte_tel_data_add_dict_u64(d, "depth", st->q.depth);
	rte_tel_data_add_dict_u64(d, "waiting", st->q.waiting);
	rte_tel_data_add_dict_u64(d, "running", st->running);
	/* With jetstream, depth is the whole stream's (NATS's last word) and running this node's. */
	rte_tel_data_add_dict_u64(d, "ready", st->q.depth > st->q.waiting + st->running ?
				  st->q.depth - st->q.waiting - st->running : 0);
	rte_tel_data_add_dict_u64(d, "oldest_age_ms",
				  oldest != 0 && now > oldest ? (now - oldest) / 1000000 : 0);
	rte_tel_data_add_dict_u64(d, "accepted", st->q.accepted);
	rte_tel_data_add_dict_u64(d, "duplicates", st->q.duplicates);
	rte_tel_data_add_dict_u64(d, "refused_full", st->q.refused_full);
	rte_tel_data_add_dict_u64(d, "runs", st->runs);
	rte_tel_data_add_dict_u64(d, "succeeded", st->succeeded);
	rte_tel_data_add_dict_u64(d, "retried_error", st->retried_error);
	rte_tel_data_add_dict_u64(d, "retried_throttle", st->retried_throttle);
	rte_tel_data_add_dict_u64(d, "unanswered", st->unanswered);
	rte_tel_data_add_dict_u64(d, "woken", st->woken);
	rte_tel_data_add_dict_u64(d, "dead_lettered", st->dead_lettered);
	rte_tel_data_add_dict_u64(d, "retries_exhausted", st->retries_exhausted);
	rte_tel_data_add_dict_u64(d, "aged_out", st->aged_out);
	rte_tel_data_add_dict_u64(d, "to_success_log", st->to_success_log);
	rte_tel_data_add_dict_u64(d, "to_function", st->to_function);
	rte_tel_data_add_dict_u64(d, "accept_p50_us", st->q.accept_p50_ns / 1000);
	rte_tel_data_add_dict_u64(d, "accept_p99_us", st->q.accept_p99_ns / 1000);
	rte_tel_data_add_dict_u64(d, "replayed", st->q.replayed);
	rte_tel_data_add_dict_u64(d, "torn", st->q.torn);
	rte_tel_data_add_dict_u64(d, "segments", st->q.segments);
	rte_tel_data_add_dict_u64(d, "reclaimed", st->q.reclaimed);
	rte_tel_data_add_dict_u64(d, "log_bytes", st->q.log_bytes);
	rte_tel_data_add_dict_u64(d, "syncs", st->q.syncs);
	rte_tel_data_add_dict_u64(d, "last_sync_us", st->q.last_sync_ns / 1000);
	if (strcmp(st->backend, "jetstream") == 0) {
		rte_tel_data_add_dict_u64(d, "nats_connected", st->q.nats_connected);
		rte_tel_data_add_dict_u64(d, "stream_msgs", st->q.stream_msgs);
		rte_tel_data_add_dict_u64(d, "stream_bytes", st->q.stream_bytes);
		rte_tel_data_add_dict_u64(d, "consumer_pending", st->q.consumer_pending);
		rte_tel_data_add_dict_u64(d, "consumer_ack_pending", st->q.consumer_ack_pending);
		rte_tel_data_add_dict_u64(d, "consumer_redelivered", st->q.consumer_redelivered);
		rte_tel_data_add_dict_u64(d, "dlq_msgs", st->q.dlq_msgs);
		rte_tel_data_add_dict_u64(d, "ok_msgs", st->q.ok_msgs);
		rte_tel_data_add_dict_u64(d, "publish_failed", st->q.publish_failed);
		rte_tel_data_add_dict_u64(d, "tries_msgs", st->q.tries_msgs);
		rte_tel_data_add_dict_u64(d, "tries_write_failed", st->q.tries_write_failed);
		rte_tel_data_add_dict_u64(d, "tries_read_failed", st->q.tries_read_failed);
		rte_tel_data_add_dict_u64(d, "redelivered_as_first", st->q.redelivered_as_first);
	}
	free(st);
	return 0;
}

/* /turbine/function,NAME: the summary, plus calls, errors, throttles and handler latency. */
static int
telemetry_function(const char *cmd __rte_unused, const char *params, struct rte_tel_data *d)
{
	const struct runtime *rt = telemetry_rt;
	/* DPDK serves each client on its own thread, so each call merges into its own (30 KiB). */
	struct hist *merged;
	int f, rc;

	if (params == NULL || (f = runtime_find_function(rt, params, (uint32_t)strlen(params))) < 0)
		return -EINVAL;
	merged = malloc(sizeof(*merged));
	if (merged == NULL)
		return -ENOMEM;
	rte_tel_data_start_dict(d);
	functions_lock();
	rc = telemetry_function_summary(d, (unsigned int)f);
	if (rc == 0)
		rc = telemetry_function_calls(d, (unsigned int)f, merged);
	if (rc == 0)
		rc = telemetry_function_envs(d, (unsigned int)f);
	functions_unlock();
	if (rc == 0)
		rc = telemetry_function_async(d, (unsigned int)f);
	free(merged);
	return rc;
}

/* Stuck first: of the reasons a worker is out of dispatch, the one an operator must act on. */
static const char *
telemetry_worker_state(uint8_t out)
{
	return out & RUNTIME_WORKER_STUCK ? "stuck" : out & RUNTIME_WORKER_DRAINED ? "drained"
	       : out & RUNTIME_WORKER_STALE ? "stale" : "ok";
}

static int
telemetry_workers(const char *cmd __rte_unused, const char *params __rte_unused,
		  struct rte_tel_data *d)
{
	const struct runtime *rt = telemetry_rt;
	uint64_t now = rte_rdtsc();
	unsigned int w, f, r;

	rte_tel_data_start_dict(d);
	for (w = 0; w < rt->nb_workers; w++) {
		const struct worker *wk = rt->workers[w];
		struct rte_tel_data *wd = telemetry_new_dict();
		struct rte_tel_data *fns = telemetry_new_array(RTE_TEL_STRING_VAL);
		unsigned int depth = 0;
		char key[16], busy[32];
		struct status_stuck stuck;
		uint64_t beat;

		if (wd == NULL || fns == NULL) {
			rte_tel_data_free(wd);
			rte_tel_data_free(fns);
			return -ENOMEM;
		}
		for (r = 0; r < wk->nb_inbound; r++)
			depth += rte_ring_count(wk->inbound[r]);
		functions_lock();
		for (f = 0; f < rt->nb_functions; f++)
			if (worker_set_has(deployment_workers(runtime_live(&rt->functions[f])), w))
				rte_tel_data_add_array_string(fns, rt->functions[f].cfg->name);
		functions_unlock();
		rte_tel_data_add_dict_u64(wd, "lcore", wk->lcore_id);
		rte_tel_data_add_dict_u64(wd, "socket", rte_lcore_to_socket_id(wk->lcore_id));
		rte_tel_data_add_dict_string(wd, "state", telemetry_worker_state(
			__atomic_load_n(&rt->worker_out[w], __ATOMIC_RELAXED)));
		/* In which handler, and for how long: the worker rejoins when it returns. */
		if (status_worker_stuck(rt, w, &stuck)) {
			rte_tel_data_add_dict_string(wd, "stuck_function",
						     stuck.function ? stuck.function : "");
			rte_tel_data_add_dict_u64(wd, "stuck_ms", stuck.ms);
		}
		/* rte_telemetry has no float in this release: the fraction goes as text. */
		snprintf(busy, sizeof(busy), "%.3f", rt->worker_busy[w]);
		rte_tel_data_add_dict_string(wd, "busy_fraction", busy);
		rte_tel_data_add_dict_u64(wd, "queue_depth", depth);
		beat = __atomic_load_n(&wk->heartbeat_tsc, __ATOMIC_RELAXED);
		/* A beat newer than our clock read is a beat now. */
		rte_tel_data_add_dict_u64(wd, "heartbeat_age_ms",
					  beat >= now ? 0 : (now - beat) * 1000 / rt->tsc_hz);
		telemetry_nest(wd, "functions", fns);
		snprintf(key, sizeof(key), "%u", w);
		telemetry_nest(d, key, wd);
	}
	return 0;
}

static int
telemetry_ports(const char *cmd __rte_unused, const char *params __rte_unused,
		struct rte_tel_data *d)
{
	const struct runtime *rt = telemetry_rt;
	struct rte_eth_stats st;
	char mac[RTE_ETHER_ADDR_FMT_SIZE];

	if (rte_eth_stats_get(rt->port_id, &st) != 0)
		return -EIO;
	rte_ether_format_addr(mac, sizeof(mac), (const struct rte_ether_addr *)rt->svc.mac);
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "port", rt->port_id);
	rte_tel_data_add_dict_string(d, "name", rt->port_name);
	rte_tel_data_add_dict_string(d, "mac", mac);
	rte_tel_data_add_dict_u64(d, "rx_queues", rt->nb_rx_queues);
	rte_tel_data_add_dict_u64(d, "tx_queues", rt->nb_tx_queues);
	rte_tel_data_add_dict_int(d, "checksum_offload", rt->tx_cksum_offload);
	rte_tel_data_add_dict_u64(d, "ipackets", st.ipackets);
	rte_tel_data_add_dict_u64(d, "opackets", st.opackets);
	rte_tel_data_add_dict_u64(d, "ibytes", st.ibytes);
	rte_tel_data_add_dict_u64(d, "obytes", st.obytes);
	rte_tel_data_add_dict_u64(d, "imissed", st.imissed);
	rte_tel_data_add_dict_u64(d, "ierrors", st.ierrors);
	rte_tel_data_add_dict_u64(d, "oerrors", st.oerrors);
	rte_tel_data_add_dict_u64(d, "rx_nombuf", st.rx_nombuf);
	return 0;
}

/*
 * /turbine/leases: this node's lease of every tenant limited across nodes, a
 * row per tenant; with limits_backend local, just that.
 */
static int
telemetry_leases(const char *cmd __rte_unused, const char *params __rte_unused,
		 struct rte_tel_data *d)
{
	static struct leases_status st[COUNTING_MAX_TENANTS];  /* telemetry_gate: one at a time */
	static const char *const dims[LEASE_DIMS] = { "concurrency", "rate" };
	unsigned int i, k, n;
	char key[64];

	rte_tel_data_start_dict(d);
	if (!leases_enabled()) {
		rte_tel_data_add_dict_string(d, "backend", "local");
		return 0;
	}
	n = leases_read(st, RTE_DIM(st));
	for (i = 0; i < n; i++) {
		struct rte_tel_data *row = rte_tel_data_alloc();

		if (row == NULL)
			return -ENOMEM;
		rte_tel_data_start_dict(row);
		rte_tel_data_add_dict_string(row, "node", leases_node());
		rte_tel_data_add_dict_int(row, "connected", leases_connected());
		for (k = 0; k < LEASE_DIMS; k++) {
			snprintf(key, sizeof(key), "%s_limit", dims[k]);
			rte_tel_data_add_dict_u64(row, key, st[i].limit[k]);
			snprintf(key, sizeof(key), "%s_share", dims[k]);
			rte_tel_data_add_dict_u64(row, key, st[i].share[k]);
			snprintf(key, sizeof(key), "%s_held", dims[k]);
			rte_tel_data_add_dict_u64(row, key, st[i].held[k]);
			snprintf(key, sizeof(key), "%s_wanted", dims[k]);
			rte_tel_data_add_dict_u64(row, key, st[i].want[k]);
			snprintf(key, sizeof(key), "%s_others", dims[k]);
			rte_tel_data_add_dict_u64(row, key, st[i].others[k]);
		}
		rte_tel_data_add_dict_u64(row, "nodes", st[i].nodes);
		rte_tel_data_add_dict_int(row, "expires_in_ms", (int)st[i].expires_in_ms);
		rte_tel_data_add_dict_u64(row, "renewals", st[i].renewals);
		rte_tel_data_add_dict_u64(row, "conflicts", st[i].conflicts);
		rte_tel_data_add_dict_u64(row, "failures", st[i].failures);
		rte_tel_data_add_dict_u64(row, "expired", st[i].expired);
		telemetry_nest(d, telemetry_rt->tenant_names[st[i].tenant], row);
	}
	return 0;
}

/* A mutating command's answer: {"ok": true} or {"ok": false, "error": why}. */
static int
telemetry_result(struct rte_tel_data *d, int rc, const char *err)
{
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_int(d, "ok", rc == 0);
	if (rc != 0)
		rte_tel_data_add_dict_string(d, "error", err);
	return 0;
}

/* Split "a,b,c" params in place into at most n fields; returns how many. */
static unsigned int
telemetry_fields(char *text, char **fields, unsigned int n)
{
	unsigned int i = 0;
	char *save = NULL, *tok;

	for (tok = strtok_r(text, ",", &save); tok != NULL && i < n; tok = strtok_r(NULL, ",", &save))
		fields[i++] = tok;
	return i;
}

/*
 * A function's limits and its versions are replaced under RCU: the change
 * waits, holding functions_lock(), until every data lcore has been
 * quiescent, which a worker inside a handler it has not returned from never
 * is. Refused at once instead, naming the worker, rather than left hanging
 * (and every command that needs the lock with it).
 */
static bool
telemetry_must_wait(const struct runtime *rt, char *err, size_t errlen)
{
	struct status_stuck st;
	unsigned int w;

	for (w = 0; w < rt->nb_workers; w++) {
		if (status_worker_stuck(rt, w, &st)) {
			snprintf(err, errlen, "worker %u is stuck in function %s (for %" PRIu64 " ms): "
				 "this change waits for every worker to come round; try again once "
				 "it is back", w, st.function ? st.function : "?", st.ms);
			return true;
		}
		if (__atomic_load_n(&rt->worker_out[w], __ATOMIC_RELAXED) & RUNTIME_WORKER_STALE) {
			snprintf(err, errlen, "worker %u is not beating: this change waits for every "
				 "worker to come round; try again once it is back", w);
			return true;
		}
	}
	return false;
}

/* /turbine/set,FUNCTION,KEY=VALUE and /turbine/tenant,TENANT,KEY=VALUE */
static int
telemetry_set(const char *cmd, const char *params, struct rte_tel_data *d)
{
	char text[512], err[256] = "", *f[2], *eq;
	int rc;

	if (params == NULL || snprintf(text, sizeof(text), "%s", params) >= (int)sizeof(text) ||
	    telemetry_fields(text, f, 2) != 2 || (eq = strchr(f[1], '=')) == NULL)
		return telemetry_result(d, -EINVAL, "expected NAME,KEY=VALUE");
	*eq = '\0';
	if (strcmp(cmd, "/turbine/set") == 0 && telemetry_must_wait(telemetry_rt, err, sizeof(err)))
		return telemetry_result(d, -EBUSY, err);
	if (strcmp(cmd, "/turbine/set") == 0)
		rc = quotas_set_function(telemetry_rt, f[0], f[1], eq + 1, err, sizeof(err));
	else
		rc = quotas_set_tenant(telemetry_rt, f[0], f[1], eq + 1, err, sizeof(err));
	return telemetry_result(d, rc, err);
}

/* /turbine/deploy,FUNCTION,MODULE_PATH[,VERSION] */
static int
telemetry_deploy(const char *cmd __rte_unused, const char *params, struct rte_tel_data *d)
{
	char text[1024], err[768] = "", *f[3];
	unsigned int n;
	int fn;

	if (params == NULL || snprintf(text, sizeof(text), "%s", params) >= (int)sizeof(text) ||
	    (n = telemetry_fields(text, f, 3)) < 2)
		return telemetry_result(d, -EINVAL, "expected FUNCTION,MODULE_PATH[,VERSION]");
	fn = runtime_find_function(telemetry_rt, f[0], (uint32_t)strlen(f[0]));
	if (fn < 0) {
		snprintf(err, sizeof(err), "no function %s", f[0]);
		return telemetry_result(d, -ENOENT, err);
	}
	if (telemetry_must_wait(telemetry_rt, err, sizeof(err)))
		return telemetry_result(d, -EBUSY, err);
	return telemetry_result(d, deploy_switch(telemetry_rt, (unsigned int)fn, f[1],
						 n == 3 ? f[2] : NULL, err, sizeof(err)), err);
}

/* /turbine/drain,WORKER and /turbine/undrain,WORKER */
static int
telemetry_drain(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct runtime *rt = telemetry_rt;
	char *end;
	unsigned long w;

	if (params == NULL || (w = strtoul(params, &end, 10), *end != '\0') || w >= rt->nb_workers)
		return telemetry_result(d, -EINVAL, "expected a worker id");
	if (strcmp(cmd, "/turbine/drain") == 0)
		__atomic_fetch_or(&rt->worker_out[w], RUNTIME_WORKER_DRAINED, __ATOMIC_RELAXED);
	else
		__atomic_fetch_and(&rt->worker_out[w], (uint8_t)~RUNTIME_WORKER_DRAINED,
				   __ATOMIC_RELAXED);
	return telemetry_result(d, 0, NULL);
}

static const struct {
	const char *cmd;
	telemetry_cb fn;
	const char *help;
} telemetry_commands[] = {
	{ "/turbine/stats", telemetry_stats,
	  "Every data-plane counter, summed over lcores, and mbufs in use" },
	{ "/turbine/functions", telemetry_functions,
	  "Functions: version, limits, environments, in flight, cold starts" },
	{ "/turbine/function", telemetry_function,
	  "One function (param: name): calls, errors, throttles by reason, handler latency" },
	{ "/turbine/workers", telemetry_workers,
	  "Workers: state (stuck: in which function, for how long), busy fraction, queue depth, "
	  "heartbeat age, functions held" },
	{ "/turbine/async", telemetry_async,
	  "The asynchronous queue: depth, oldest age, accepted, duplicates, outcomes, 202 latency, log" },
	{ "/turbine/ports", telemetry_ports, "The port: name, MAC, queues, packet counts" },
	{ "/turbine/leases", telemetry_leases,
	  "Tenant limits shared by nodes: this node's lease of each (share, held, others)" },
	{ "/turbine/set", telemetry_set,
	  "Change a function's limit (params: FUNCTION,KEY=VALUE)" },
	{ "/turbine/tenant", telemetry_set,
	  "Change or declare a tenant's limit (params: TENANT,KEY=VALUE)" },
	{ "/turbine/deploy", telemetry_deploy,
	  "Deploy a new version live (params: FUNCTION,MODULE_PATH[,VERSION])" },
	{ "/turbine/drain", telemetry_drain, "Take a worker out of dispatch (param: worker id)" },
	{ "/turbine/undrain", telemetry_drain, "Put a drained worker back (param: worker id)" },
};

/* Every command goes through here: the one the table names for it, while the runtime exists. */
static int
telemetry_call(const char *cmd, const char *params, struct rte_tel_data *d)
{
	unsigned int i;
	int rc = -ENODEV;

	pthread_rwlock_rdlock(&telemetry_gate);
	for (i = 0; telemetry_rt != NULL && i < RTE_DIM(telemetry_commands); i++)
		if (strcmp(cmd, telemetry_commands[i].cmd) == 0) {
			rc = telemetry_commands[i].fn(cmd, params, d);
			break;
		}
	pthread_rwlock_unlock(&telemetry_gate);
	return rc;
}

int
telemetry_init(struct runtime *rt, char *err, size_t errlen)
{
	unsigned int i;
	int rc;

	pthread_rwlock_wrlock(&telemetry_gate);
	telemetry_rt = rt;
	pthread_rwlock_unlock(&telemetry_gate);
	for (i = 0; i < RTE_DIM(telemetry_commands); i++) {
		rc = rte_telemetry_register_cmd(telemetry_commands[i].cmd, telemetry_call,
						telemetry_commands[i].help);
		if (rc != 0) {
			snprintf(err, errlen, "cannot register telemetry command %s: %s",
				 telemetry_commands[i].cmd, strerror(-rc));
			return rc;
		}
	}
	return 0;
}

void
telemetry_fini(void)
{
	pthread_rwlock_wrlock(&telemetry_gate);
	telemetry_rt = NULL;
	pthread_rwlock_unlock(&telemetry_gate);
}
