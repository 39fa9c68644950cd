/* The process's shared state: set up by the start-up steps, read-only on the data path. */
#ifndef TURBINE_RUNTIME_H
#define TURBINE_RUNTIME_H

#include <stdbool.h>
#include <limits.h>
#include <stdint.h>

#include <rte_common.h>
#include <rte_dev.h>
#include <rte_lcore.h>
#include <rte_rcu_qsbr.h>

#include "config.h"
#include "counting.h"
#include "frame.h"
#include "module.h"
#include "names.h"
#include "response.h"

#define RUNTIME_MAX_DISPATCHERS 16
#define RUNTIME_MAX_WORKERS 64
#define RUNTIME_BURST 32
/* Requests waiting between one dispatcher and one worker. */
#define RUNTIME_RING_SIZE 1024
/* The asynchronous queue's rings (struct runtime_async): Events held on their way in and out. */
#define RUNTIME_ASYNC_RING_SIZE 4096

struct dispatcher;
struct worker;
struct worker_sandbox;

/* Why a worker is out of dispatch (bits of runtime.worker_out). */
#define RUNTIME_WORKER_STALE   0x1  /* its loop stopped coming round */
#define RUNTIME_WORKER_DRAINED 0x2  /* an operator drained it */
#define RUNTIME_WORKER_STUCK   0x4  /* its handler overran its deadline and has not returned */

/*
 * One version of a function: its module and the environments initialised
 * from it, on the workers placement chose. Dispatchers and workers reach it
 * only through function.live, under RCU: a redeploy publishes a new one and
 * finishes the old one once no lcore can still be inside it.
 */
/* The workers a function is dispatched to. */
struct worker_set {
	unsigned int nb;
	uint16_t ids[RUNTIME_MAX_WORKERS];
	/* The same workers as bits (1 << id), made by worker_set_seal() before the set is
	 * published: whether the dispatcher's own worker holds the function is then one test
	 * per call, not a walk over ids. */
	uint64_t mask;
};

/* What the context of a call names, side by side as struct turbine_ctx has them: one copy. */
struct deployment_names {
	struct turbine_str function;
	struct turbine_str version;
};

struct deployment {
	struct module mod;
	char version[32];
	uint32_t version_len;
	struct response_head ok_head; /* what each of its 200s starts with (response.h) */
	struct deployment_names names; /* the function's name and `version`, for ctx */
	bool ready;               /* at least one environment initialised */
	char not_ready[256];      /* why not, for the 502 message */
	struct environment envs[RUNTIME_MAX_WORKERS]; /* by worker id; ready only where placed */
	/*
	 * isolation = "process": the module is never loaded here; each ready
	 * environment is a sandbox process (workers/worker_sandbox.h), and envs[]
	 * keeps only its state for reports (ready, error, cold start).
	 */
	bool isolated;
	struct worker_sandbox *sandboxes[RUNTIME_MAX_WORKERS]; /* by worker id, NULL where none */
	/*
	 * The environments dispatch may use: the worker manager grows and shrinks
	 * the set while the version runs, writing the spare copy and publishing
	 * it; the other is reused only after every lcore has been quiescent.
	 */
	struct worker_set *active;   /* RCU: read with deployment_workers() */
	struct worker_set sets[2];
};

/*
 * The limits the data plane applies to a function's calls: every key of
 * function_config that may change while running, as the data plane reads it.
 * A change builds a new one and publishes it whole (quotas.c), freeing the
 * old one under RCU, like a deployment: a dispatcher loads the pointer once
 * per request, so each call sees one version, never a field old and another
 * new. What the worker needs later travels in the request's descriptor.
 */
struct function_limits {
	uint32_t timeout_ms;      /* the function's own timeout */
	uint32_t memory_mb;
	uint32_t max_event_bytes; /* 0: the datagram's limit */
	uint64_t timeout_tsc;     /* timeout_ms in TSC cycles */
	struct counting_fn_limits counting; /* reserved concurrency, rate, burst, tenants */
};

/* A declared function as the data plane sees it. */
struct function {
	/* Its configuration: the data plane reads only the name, which never changes. */
	const struct function_config *cfg;
	uint32_t name_len;        /* of cfg->name, for the handler's ctx */
	struct function_limits *limits; /* RCU-protected: read with runtime_limits() */
	struct deployment *live;  /* RCU-protected: read with runtime_live() */
};

/*
 * Both are for data lcores, which report quiescence to runtime.rcu; any
 * other thread holds functions_lock() (functions.h) while it uses what they
 * return.
 */
static inline struct deployment *
runtime_live(const struct function *fn)
{
	return __atomic_load_n(&fn->live, __ATOMIC_ACQUIRE);
}

static inline const struct function_limits *
runtime_limits(const struct function *fn)
{
	return __atomic_load_n(&fn->limits, __ATOMIC_ACQUIRE);
}

static inline const struct worker_set *
deployment_workers(const struct deployment *dep)
{
	return __atomic_load_n(&dep->active, __ATOMIC_ACQUIRE);
}

static inline bool
worker_set_has(const struct worker_set *ws, unsigned int w)
{
	unsigned int i;

	for (i = 0; i < ws->nb; i++)
		if (ws->ids[i] == w)
			return true;
	return false;
}

/* worker_set_has() by the mask: for a published (sealed) set only, on the call's way. */
static inline bool
worker_set_holds(const struct worker_set *ws, unsigned int w)
{
	return (ws->mask >> w) & 1;
}

/* Make ws->mask from ws->ids: the last step before a set is published. */
static inline void
worker_set_seal(struct worker_set *ws)
{
	unsigned int i;

	RTE_BUILD_BUG_ON(RUNTIME_MAX_WORKERS > 64);
	ws->mask = 0;
	for (i = 0; i < ws->nb; i++)
		ws->mask |= 1ull << ws->ids[i];
}

/*
 * The asynchronous queue's rings (control/async.c creates them). The queue
 * thread is their single consumer or producer, as named.
 */
struct runtime_async {
	struct rte_ring *accepted;   /* MP/SC: Events dispatchers admitted, to be made durable */
	struct rte_ring *answers;    /* MP/SC: the answers of queued Events that ran (tx.h) */
	struct rte_ring *durable[RUNTIME_MAX_DISPATCHERS]; /* SP/SC: accepted Events to answer */
	struct rte_ring *runs[RUNTIME_MAX_DISPATCHERS];    /* SP/SC: queued Events to run */
	/*
	 * With nothing stored, running or due, the queue thread sleeps on
	 * wake_fd (an eventfd) instead of waking every millisecond on a CPU
	 * that a dispatcher busy-polls; `sleeping` says so, and a dispatcher
	 * that queues an Event then writes wake_fd (dispatch_to_queue()).
	 */
	int wake_fd;
	int sleeping;
};

/* What a given lcore does; both set means it runs requests to completion itself. */
struct lcore_role {
	struct dispatcher *dispatcher;
	struct worker *worker;
};

struct runtime {
	struct turbine_config cfg;
	struct frame_service svc;
	struct frame_udp_head reply_head; /* svc's, for every reply's headers (reply.h) */
	uint16_t port_id;
	char port_name[RTE_DEV_NAME_MAX_LEN];
	bool tx_cksum_offload;    /* the port computes IPv4 and UDP checksums */
	bool rx_cksum_offload;    /* the port reports IPv4 or UDP checksum verdicts */
	bool workers_own_txq;     /* else workers hand responses back to their dispatcher */
	char memif_socket[PATH_MAX]; /* the embedded default's socket, "" when a port was given */
	bool port_started;
	uint16_t nb_rx_queues;
	uint16_t nb_tx_queues;
	struct rte_mempool *pool;
	struct rte_rcu_qsbr *rcu;        /* every data lcore reports quiescence once per loop */
	const struct dispatch_policy *policy; /* how dispatchers pick among environments */
	struct names *function_index;    /* name -> index in functions[] (names.h) */
	struct names *tenant_index;      /* tenant name -> counting index */
	unsigned int default_tenant;     /* counting index of calls without a tenant (quotas.c) */
	unsigned int nb_tenants;         /* named tenants: declared, or listed by a function */
	char tenant_names[COUNTING_MAX_TENANTS][CONFIG_NAME_MAX + 1];
	struct counting_worker *counting_workers[RUNTIME_MAX_WORKERS];
	uint64_t tsc_hz;

	unsigned int nb_functions;
	struct function functions[CONFIG_MAX_FUNCTIONS];

	unsigned int nb_dispatchers;
	struct dispatcher *dispatchers[RUNTIME_MAX_DISPATCHERS];
	unsigned int nb_workers;
	struct worker *workers[RUNTIME_MAX_WORKERS];
	struct lcore_role roles[RTE_MAX_LCORE];
	struct runtime_async async;

	/*
	 * Workers out of dispatch, read by dispatchers' policies. Several threads
	 * write each byte (the control thread STALE, telemetry DRAINED, a
	 * dispatcher sets STUCK and the worker clears it), each only its own bit,
	 * always with an atomic fetch_or/fetch_and.
	 */
	uint8_t worker_out[RUNTIME_MAX_WORKERS];
	double worker_busy[RUNTIME_MAX_WORKERS]; /* fraction of the last second in handlers */

	int quit;                 /* set by SIGINT/SIGTERM; read with __atomic_load_n */
	int stop_stage;           /* enum runtime_stop_stage, past the drain's deadline */
	uint64_t refused_at_stop; /* calls answered 503 past the deadline (dispatchers add to it) */
};

/*
 * Past drain_timeout_ms (shutdown.c sets it; each stage implies quit):
 * dispatchers first take over the rings of workers that have not finished
 * and answer what is queued there, then they leave whatever is unfinished.
 */
enum runtime_stop_stage {
	RUNTIME_DRAINING = 0,     /* serving, or draining within the deadline */
	RUNTIME_TAKING_OVER,      /* the deadline passed: answer what is still queued */
	RUNTIME_LEAVING,          /* and the grace after it: every lcore that can, returns */
};

static inline enum runtime_stop_stage
runtime_stop_stage(const struct runtime *rt)
{
	return (enum runtime_stop_stage)__atomic_load_n(&rt->stop_stage, __ATOMIC_ACQUIRE);
}

static inline bool
runtime_quitting(const struct runtime *rt)
{
	return __atomic_load_n(&rt->quit, __ATOMIC_RELAXED) != 0;
}

/* The tenant of a call that names none. */
#define RUNTIME_DEFAULT_TENANT "default"

/* Index of a function by name, or -1. Lock-free: safe from any lcore. */
static inline int
runtime_find_function(const struct runtime *rt, const char *name, uint32_t len)
{
	return names_find(rt->function_index, name, len);
}

/* Counting index of a named tenant; tenants never named in the configuration share one slot. */
unsigned int runtime_find_named_tenant(const struct runtime *rt, const char *name, uint32_t len);

/*
 * Counting index of a tenant by name (len 0: RUNTIME_DEFAULT_TENANT). The
 * default's index is resolved when tenants are named (quotas.c), not looked
 * up per call; tenants are never removed, so it changes at most once, from
 * the shared slot to its own.
 */
static inline unsigned int
runtime_find_tenant(const struct runtime *rt, const char *name, uint32_t len)
{
	if (len == 0)
		return __atomic_load_n(&rt->default_tenant, __ATOMIC_ACQUIRE);
	return runtime_find_named_tenant(rt, name, len);
}

#endif /* TURBINE_RUNTIME_H */
