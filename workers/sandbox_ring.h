/* The memory a worker shares with its sandbox process: configuration, two SPSC rings, buffers. */
#ifndef TURBINE_SANDBOX_RING_H
#define TURBINE_SANDBOX_RING_H

/*
 * Plain C11 atomics and nothing from DPDK: the sandbox process includes this
 * header too, and links no DPDK library.
 *
 * The region is a sealed memfd (it can neither shrink nor grow, so the
 * worker never takes a SIGBUS from it), mapped by the worker's process and
 * by the sandbox. Layout:
 *
 *   struct sandbox_region     header, rings' indexes, descriptors (fixed size)
 *   struct sandbox_config     what the sandbox is to run (written before it starts)
 *   in[nb_slots][in_max]      event, tenant, trace, client context of call i
 *   out[nb_slots][out_max]    the response the sandbox encoded for call i
 *   log[nb_slots][log_max]    the log tail of call i
 *
 * Call i (a free-running 32-bit index) uses slot i & (nb_slots - 1) in every
 * array. The request ring carries calls from the worker to the sandbox, the
 * response ring carries results back; each has one producer and one
 * consumer. The worker never reads a producer index or a descriptor the
 * sandbox wrote without checking it against what it submitted: a sandbox
 * runs untrusted code and everything it can write is hostile.
 */

#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>

#define SANDBOX_REGION_MAGIC   0x62737462u  /* "btsb" */
#define SANDBOX_REGION_VERSION 2u
#define SANDBOX_SLOTS_MAX      64u          /* calls in flight per sandbox, a power of two */
#define SANDBOX_ERROR_MAX      256u         /* init's error text, NUL included */
#define SANDBOX_CONFIG_STRINGS 16384u       /* module path, names, params */
#define SANDBOX_CACHE_LINE     64

/* The region fd in the sandbox process: 0-2 are /dev/null, 3 the region, nothing else. */
#define SANDBOX_REGION_FD 3

/* sandbox_region.state: how far the sandbox got. Written by the sandbox's call process. */
enum sandbox_region_state {
	SANDBOX_REGION_STARTING = 0,
	SANDBOX_REGION_READY = 1,    /* init succeeded; calls are served */
	SANDBOX_REGION_FAILED = 2,   /* a jail step or init failed; error[] says why */
};

/* sandbox_resp.status */
enum sandbox_resp_status {
	SANDBOX_RESP_OK = 0,          /* the handler ran; body and log are in the slot */
	SANDBOX_RESP_NO_ROOM = 1,     /* not even an error response fitted resp_cap: answer 500 */
	SANDBOX_RESP_EXPIRED = 2,     /* its deadline had passed before it could start: not run */
};

/* sandbox_config.flags */
#define SANDBOX_CONFIG_NETWORK    0x1u  /* sockets allowed, no network namespace */
#define SANDBOX_CONFIG_NAMESPACES 0x2u  /* started in new mount/PID(/network) namespaces */
#define SANDBOX_CONFIG_SHARED_CPU 0x4u  /* a polling lcore runs on its CPU: yield, do not spin */

/* What the sandbox runs, written by the worker's side before the process starts. */
struct sandbox_config {
	uint32_t flags;
	uint32_t memory_mb;
	uint32_t timeout_ms;
	uint32_t worker_id;
	uint32_t socket_id;
	uint32_t uid;            /* whom to run as when started as root */
	uint32_t gid;
	uint32_t spin_us;        /* how long an idle sandbox polls before it sleeps */
	uint32_t nb_params;
	/* NUL-terminated, one after another: module path, function, version, then nb_params
	 * "key=value" strings. */
	uint32_t strings_len;
	char strings[SANDBOX_CONFIG_STRINGS];
};

/* One call, written by the worker before it publishes the request ring's tail. */
struct sandbox_req {
	uint64_t call_id;        /* unique per sandbox object, across respawns */
	uint64_t request_id;
	uint64_t deadline_tsc;
	uint64_t tsc_hz;
	uint32_t timeout_ms;
	uint32_t resp_cap;       /* bytes the whole response may take */
	/* In the slot's in-buffer, back to back: event, tenant, trace, client context. */
	uint32_t event_len;
	uint32_t tenant_len;
	uint32_t trace_len;
	uint32_t ctx_len;
	uint8_t has_event;       /* 0: the request had none (nil) */
	uint8_t log_tail;
	uint8_t pad[6];
};

/* One result, written by the sandbox before it publishes the response ring's tail. */
struct sandbox_resp {
	uint64_t call_id;        /* the request's */
	uint32_t body_off;       /* the body's bytes in the slot's out-buffer */
	uint32_t body_len;
	uint32_t log_len;        /* the log tail's bytes at the start of the slot's log buffer */
	uint8_t status;          /* enum sandbox_resp_status */
	uint8_t fn_error;
	uint8_t timed_out;
	uint8_t too_large;
	uint8_t was_cold;
	uint8_t pad[7];
};

/*
 * Fields are grouped by writer so that no cache line is written from both
 * sides: the worker's request tail, the sandbox's progress, the worker's
 * response head each on their own line.
 */
struct sandbox_region {
	/* Written by the worker's side before the start; the sandbox only reads them. */
	uint32_t magic;
	uint32_t version;
	uint64_t size;           /* bytes of the whole region */
	uint32_t nb_slots;
	uint32_t in_max;
	uint32_t out_max;
	uint32_t log_max;

	/* Written by the sandbox (its call process, or its init process for `exited`). */
	alignas(SANDBOX_CACHE_LINE) _Atomic uint32_t events; /* bumped after each change below;
								 the control thread waits on it */
	_Atomic uint32_t state;          /* enum sandbox_region_state */
	_Atomic uint32_t jailed;         /* set by the init process once its own filter is in place */
	_Atomic uint32_t exited;         /* set by the init process once the call process ended */
	_Atomic int32_t exit_status;     /* its wait status, valid when exited */
	_Atomic uint64_t alloc_failed;   /* call id (UINT64_MAX: init) in which an allocation
					    failed, 0 if none: tells an out-of-memory death apart */
	uint64_t init_ns;                /* how long init took */
	char error[SANDBOX_ERROR_MAX];

	/* Request ring: the worker produces, the sandbox consumes. */
	alignas(SANDBOX_CACHE_LINE) _Atomic uint32_t req_tail; /* futex word the sandbox sleeps on */
	_Atomic uint32_t stop;           /* set by the worker's side: run fini and exit when idle */
	alignas(SANDBOX_CACHE_LINE) _Atomic uint32_t req_head; /* calls the sandbox has started */
	_Atomic uint32_t sleeping;       /* the sandbox waits on req_tail: a submit must wake it */
	/* Response ring: the sandbox produces, the worker consumes. */
	_Atomic uint32_t resp_tail;
	alignas(SANDBOX_CACHE_LINE) _Atomic uint32_t resp_head;

	alignas(SANDBOX_CACHE_LINE) struct sandbox_req req[SANDBOX_SLOTS_MAX];
	struct sandbox_resp resp[SANDBOX_SLOTS_MAX];
	struct sandbox_config config;
};

/* Where each slot's buffers start, from the layout numbers (each side uses its own copy). */
static inline uint64_t
sandbox_region_in_off(uint32_t nb_slots, uint32_t in_max, uint32_t slot)
{
	(void)nb_slots;
	return sizeof(struct sandbox_region) + (uint64_t)slot * in_max;
}

static inline uint64_t
sandbox_region_out_off(uint32_t nb_slots, uint32_t in_max, uint32_t out_max, uint32_t slot)
{
	return sizeof(struct sandbox_region) + (uint64_t)nb_slots * in_max +
	       (uint64_t)slot * out_max;
}

static inline uint64_t
sandbox_region_log_off(uint32_t nb_slots, uint32_t in_max, uint32_t out_max, uint32_t log_max,
		       uint32_t slot)
{
	return sizeof(struct sandbox_region) + (uint64_t)nb_slots * ((uint64_t)in_max + out_max) +
	       (uint64_t)slot * log_max;
}

static inline uint64_t
sandbox_region_size(uint32_t nb_slots, uint32_t in_max, uint32_t out_max, uint32_t log_max)
{
	uint64_t size = sandbox_region_log_off(nb_slots, in_max, out_max, log_max, nb_slots);

	/* Whole pages: the mapping is, and RLIMIT_AS counts it so. */
	return (size + 4095u) & ~(uint64_t)4095u;
}

/* A polite spin: lets the sibling hyperthread run while a side waits for the other. */
static inline void
sandbox_ring_pause(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ volatile("yield");
#endif
}

#endif /* TURBINE_SANDBOX_RING_H */
