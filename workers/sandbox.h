/* Process isolation: an environment run by a jailed sandbox process, seen from the worker's side. */
#ifndef TURBINE_SANDBOX_H
#define TURBINE_SANDBOX_H

/*
 * A sandbox is one environment of a function (isolation = "process"): a plain
 * process started from the turbine-sandbox executable, jailed, that loads the
 * module, runs init (its cold start is the process start plus init) and then
 * serves calls. It shares with its worker only a sealed memory region
 * (sandbox_ring.h): the worker copies each call in and each result out,
 * checking every length, and builds the response's envelope itself.
 *
 * Who calls what:
 *
 *   control thread (may block): sandbox_create, sandbox_wait_ready,
 *       sandbox_reap (when sandbox_pidfd() is readable), sandbox_respawn,
 *       sandbox_destroy;
 *   worker lcore (never blocks, never allocates, makes no system call except
 *       FUTEX_WAKE for a sleeping sandbox and the SIGKILL of one that overran):
 *       sandbox_submit (or sandbox_queue and sandbox_wake), sandbox_poll,
 *       sandbox_expire;
 *   either: sandbox_kill, sandbox_state and the read-only getters.
 *
 * Lifecycle (sandbox_state()):
 *
 *   STARTING --wait_ready--> READY --reap--> DEAD --poll--> DRAINED --respawn--> STARTING
 *       |                                                      ^
 *       +--wait_ready (init failed, died or took too long)--> FAILED --respawn--+
 *
 * Only the control thread moves a sandbox to READY, FAILED, DEAD or
 * STARTING; only the worker moves DEAD to DRAINED, once every call it had
 * submitted has been answered. The control thread may respawn or destroy a
 * sandbox only when it is DRAINED or FAILED (or before the worker was ever
 * given it): then the worker holds nothing of it.
 *
 * Every sandbox process ends with the thread that created it (its parent:
 * PR_SET_PDEATHSIG), however the dispatcher ends, so create sandboxes from
 * the long-lived control thread.
 */

#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "invoke.h"
#include "sandbox_ring.h"

enum sandbox_state {
	SANDBOX_STARTING = 0,  /* the process starts and runs init */
	SANDBOX_READY,         /* serving calls */
	SANDBOX_FAILED,        /* it never became ready: sandbox_error() says why (a 502) */
	SANDBOX_DEAD,          /* the process ended (reaped); the worker answers what it had */
	SANDBOX_DRAINED,       /* dead and nothing in flight: the control thread's again */
};

struct sandbox_params {
	const char *exe;             /* turbine-sandbox; NULL: next to the running executable
					(sandbox_default_exe) */
	const char *module;          /* the handler module's path */
	const char *function;
	const char *version;
	const char *const *params;   /* NULL-terminated "key=value" list, or NULL */
	unsigned int worker_id;
	unsigned int socket_id;
	uint32_t memory_mb;          /* RLIMIT_AS of the sandbox (plus the shared region) */
	uint32_t timeout_ms;         /* the function's, for init's cfg */
	uint32_t init_timeout_ms;    /* how long sandbox_wait_ready waits for init; 0: 10 s */
	bool network;                /* sockets allowed, and the host's network namespace */
	uint32_t nb_slots;           /* calls in flight, a power of two <= SANDBOX_SLOTS_MAX; 0: 1 */
	uint32_t in_max;             /* bytes of a call's event and strings; 0: 64 KiB */
	uint32_t out_max;            /* bytes of a response; 0: 64 KiB */
	uint32_t spin_us;            /* an idle sandbox polls this long before it sleeps; 0: 20 */
	bool shared_cpu;             /* it runs on the CPU of a polling lcore: instead of spinning
					it gives the CPU back once before it sleeps */
	uint32_t uid, gid;           /* who the sandbox runs as when turbine is root; 0: 65534 */
	const cpu_set_t *cpus;       /* the CPUs it may run on; NULL: the creating thread's */
};

/* The worker's record of one submitted call; private to sandbox.c. */
struct sandbox_inflight {
	void *cookie;
	uint64_t call_id;
	uint64_t request_id;
	uint64_t deadline_tsc;
	uint64_t submit_tsc;
	uint64_t tsc_hz;
	const char *trace;           /* the request's bytes: they outlive the call */
	uint8_t *resp;
	uint32_t resp_cap;
	uint32_t timeout_ms;
	uint32_t trace_len;
	bool log_tail;
};

/*
 * Private to sandbox.c; visible so that a worker can keep sandboxes in its
 * own arrays. Three groups, each on its own cache lines: what only the
 * worker writes, what the control thread and the worker hand each other,
 * and what only the control thread touches.
 */
struct sandbox {
	/* The worker's. */
	struct sandbox_region *region;
	uint8_t *base;               /* the region as bytes, for the slots' buffers */
	uint32_t nb_slots, in_max, out_max, log_max;
	uint32_t req_tail;           /* calls submitted */
	uint32_t resp_head;          /* calls answered */
	uint32_t nb_inflight;
	bool killed;                 /* SIGKILL sent: nothing more will come from it */
	bool abandoned_head;         /* sandbox_abandon() cut the oldest call short as it ran */
	uint64_t next_call_id;
	struct sandbox_inflight inflight[SANDBOX_SLOTS_MAX];

	/* Handed over between the control thread and the worker. */
	alignas(SANDBOX_CACHE_LINE) _Atomic int state;  /* enum sandbox_state */
	int wait_status;             /* how the call process ended, valid once DEAD */
	bool out_of_memory;          /* it ended after an allocation failed in call `oom_call` */
	uint64_t oom_call;

	/* The control thread's. */
	alignas(SANDBOX_CACHE_LINE) int pidfd;
	pid_t pid;                   /* the sandbox's init process (the namespace's pid 1) */
	uint64_t region_size;
	uint64_t spawn_ns;           /* CLOCK_MONOTONIC at the start */
	uint64_t cold_start_ns;      /* start to ready: process start, jail, load, init */
	uint64_t init_ns;            /* init alone, as the sandbox measured it */
	uint32_t init_timeout_ms;
	uint32_t version_len;
	char *version;               /* for the responses' envelope */
	char exe[4096];
	bool pinned;                 /* run on `cpus`, not on the creating thread's CPUs */
	cpu_set_t cpus;
	struct sandbox_config config; /* written into every new region */
	char error[SANDBOX_ERROR_MAX + 128];
};

/* A call's outcome, from sandbox_poll(). */
enum sandbox_done_kind {
	SANDBOX_DONE_REPLY = 0,  /* a complete 200 response is in the call's buffer */
	SANDBOX_DONE_NO_ROOM,    /* not even an error response fits the buffer: answer 500 */
	SANDBOX_DONE_UNRUN,      /* the sandbox ended before this call started: nothing was
				    written; run it elsewhere or answer it */
};

struct sandbox_done {
	void *cookie;                /* as given to sandbox_submit */
	enum sandbox_done_kind kind;
	uint32_t resp_len;           /* bytes of the response, with SANDBOX_DONE_REPLY */
	struct invoke_outcome out;   /* fn_error, timed_out, too_large, was_cold (body_*: 0) */
	bool exited;                 /* the sandbox died in this call (Runtime.ExitError or
					Runtime.OutOfMemory); it must be replaced */
	bool killed;                 /* it overran: the sandbox was killed at its deadline and
					must be replaced */
	bool out_of_memory;          /* ... after an allocation failed in it */
};

/*
 * The turbine-sandbox next to the running executable (/proc/self/exe's
 * folder), or in its workers/ subfolder (the build tree). 0 or -errno.
 */
int sandbox_default_exe(char *buf, size_t len);

/*
 * Create the region and start the process; returns at once with the sandbox
 * STARTING (call sandbox_wait_ready). 0, or -errno with `err` saying why.
 */
int sandbox_create(const struct sandbox_params *p, struct sandbox **sbp, char *err,
		   size_t errlen);

/*
 * Wait until a STARTING sandbox is READY: 0. Otherwise it is FAILED and
 * sandbox_error() says why: -EIO (init or a jail step failed), -ECHILD (the
 * process ended), -ETIMEDOUT (killed after init_timeout_ms).
 */
int sandbox_wait_ready(struct sandbox *sb);

/*
 * The pidfd of the sandbox's process: readable when it has ended. Watch it
 * (epoll) and call sandbox_reap() then; take it out of the epoll set after
 * that, it stays readable. It stays open until respawn or destroy, so that
 * sandbox_kill() never signals a reused descriptor.
 */
int sandbox_pidfd(const struct sandbox *sb);

/*
 * Collect the ended process's status and mark the sandbox DEAD (FAILED stays
 * FAILED). 1 when it had ended, 0 when it still runs, -errno.
 */
int sandbox_reap(struct sandbox *sb);

/* Start a new process for a DRAINED or FAILED sandbox: STARTING again. 0 or -errno. */
int sandbox_respawn(struct sandbox *sb, char *err, size_t errlen);

/*
 * End the process and free everything. A READY, idle sandbox gets up to
 * `grace_ms` to run fini and exit; then, or otherwise, SIGKILL. Blocks until
 * it has been reaped. The worker must hold nothing of it.
 */
void sandbox_destroy(struct sandbox *sb, uint32_t grace_ms);

/*
 * Worker: hand a call to the sandbox. args->env is not used; args->ctx's
 * function, version, memory_mb and worker_id are the sandbox's own. The
 * response will be written to resp[0..resp_cap) and the bytes args->ctx.trace
 * points at are read again then: both must stay valid until the call is
 * answered (the request's mbuf does). 0; -ENOTCONN when not READY (or killed);
 * -ENOBUFS when nb_slots calls are in flight; -E2BIG when the event and
 * strings do not fit in_max.
 */
int sandbox_submit(struct sandbox *sb, const struct invoke_args *args, uint8_t *resp,
		   uint32_t resp_cap, void *cookie);

/*
 * Worker: sandbox_submit() in two halves, for a burst of calls: queue each,
 * then wake the sandbox once. A sandbox woken at the first call of a burst
 * that shares the worker's CPU takes the CPU at once and runs that call
 * alone; woken after the last one, it runs them all.
 */
int sandbox_queue(struct sandbox *sb, const struct invoke_args *args, uint8_t *resp,
		  uint32_t resp_cap, void *cookie);
void sandbox_wake(struct sandbox *sb);

/*
 * Worker: the next answered call, in submission order. 1 with *done filled,
 * 0 when none is ready. A call that passes its deadline (now_tsc) is
 * answered Sandbox.Timedout at once and the sandbox killed; a call the
 * sandbox died in is answered Runtime.ExitError (Runtime.OutOfMemory); the
 * calls behind either come back SANDBOX_DONE_UNRUN. A DEAD sandbox with
 * nothing in flight becomes DRAINED here.
 */
int sandbox_poll(struct sandbox *sb, uint64_t now_tsc, struct sandbox_done *done);

/*
 * Worker: the Sandbox.Timedout response, into resp[0..resp_cap), of a call
 * that was never submitted (it waited in the worker until its deadline), in
 * the sandbox's own envelope (version). Fills done as sandbox_poll() would
 * (kind, resp_len, out); cookie is left to the caller.
 */
void sandbox_expire(const struct sandbox *sb, const struct invoke_args *args, uint8_t *resp,
		    uint32_t resp_cap, struct sandbox_done *done);

/*
 * Worker: give up on the sandbox now (the drain's deadline passed): SIGKILL,
 * and the calls it holds come back from the next sandbox_poll()s at once,
 * without waiting for the control thread to reap it: the one it was running
 * as Runtime.ExitError (signal: killed), the others SANDBOX_DONE_UNRUN.
 */
void sandbox_abandon(struct sandbox *sb);

/* SIGKILL through the pidfd. 0 or -errno. */
int sandbox_kill(struct sandbox *sb);

static inline enum sandbox_state
sandbox_state(const struct sandbox *sb)
{
	return (enum sandbox_state)atomic_load_explicit(&sb->state, memory_order_acquire);
}

/* "starting", "ready", "failed", "dead", "drained". */
const char *sandbox_state_name(enum sandbox_state s);

/* Why the sandbox is FAILED, or how it ended once DEAD. */
const char *sandbox_error(const struct sandbox *sb);
/* The sandbox's init process, as the dispatcher sees it. */
pid_t sandbox_pid(const struct sandbox *sb);
/* Start to READY (process, jail, load, init), and init alone, of the last start. */
uint64_t sandbox_cold_start_ns(const struct sandbox *sb);
uint64_t sandbox_init_ns(const struct sandbox *sb);

/*
 * Go's (and so Lambda's) words for a wait status: "exit status 1",
 * "signal: segmentation fault", "signal: aborted (core dumped)".
 */
void sandbox_exit_text(int wait_status, char *buf, size_t len);

#endif /* TURBINE_SANDBOX_H */
