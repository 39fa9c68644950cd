/* turbine-sandbox: one environment of a function in a jailed process, serving calls through its region. */
#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <rte_cycles.h>

#include "invoke.h"
#include "jail.h"
#include "module.h"
#include "sandbox_alloc.h"
#include "sandbox_ring.h"

/*
 * Started by sandbox.c with the region on fd 3, an empty environment and
 * every signal blocked, as the first process of new namespaces. It forks:
 *
 *   the init process (this one: PID 1 of the namespace) only waits, and
 *       writes into the region how the other one ended. A PID 1 ignores the
 *       signals it sends itself, so a handler running as PID 1 could not
 *       even abort(): its death would read "segmentation fault" instead of
 *       Lambda's "aborted". When it dies, the kernel kills the namespace.
 *   the call process jails itself, loads the module, runs init, reports
 *       ready (or why not) and serves calls until told to stop.
 */

/* The init process's exit code once the call process's status is in the region. */
#define SANDBOX_MAIN_REPORTED 0
#define SANDBOX_MAIN_FAILED   1
#define SANDBOX_MAIN_BROKEN   2   /* no usable region: nothing could be reported */
#define SANDBOX_MAIN_PARAMS_MAX 1024u

struct sandbox_main {
	struct sandbox_region *r;
	uint8_t *base;
	uint64_t size;
	uint32_t nb_slots, in_max, out_max, log_max;
	struct sandbox_config config;   /* a private copy: the region is writable by the module */
	const char *module, *function, *version;
	uint32_t function_len, version_len;
	const char *params[SANDBOX_MAIN_PARAMS_MAX + 1];
	struct module mod;
	struct environment env;
	struct invoke_scratch scratch;
	struct jail_filters filters;
	char err[SANDBOX_ERROR_MAX];
};

static struct sandbox_main sandbox_main_state;

#if defined(__SANITIZE_ADDRESS__)
/*
 * Sanitizer builds (build-asan): the environment is cleared, so the options
 * come from here. No leak check at exit (it ptraces the process: the filter
 * kills it), and deadly signals left to the kernel, so that a crash ends the
 * process the way it does in a normal build.
 */
__attribute__((visibility("default"))) const char *
__asan_default_options(void)
{
	return "detect_leaks=0:handle_segv=0:handle_sigbus=0:handle_sigfpe=0:handle_sigill=0:"
	       "handle_abort=0";
}
#endif

static uint64_t
sandbox_main_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Tell the control thread, which waits on `events`, that something changed. */
static void
sandbox_main_publish(struct sandbox_region *r)
{
	atomic_fetch_add_explicit(&r->events, 1, memory_order_release);
	syscall(SYS_futex, &r->events, FUTEX_WAKE, INT32_MAX, NULL, NULL, 0);
}

static void __attribute__((noreturn, format(printf, 2, 3)))
sandbox_main_fail(struct sandbox_main *m, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(m->r->error, sizeof(m->r->error), fmt, ap);
	va_end(ap);
	atomic_store_explicit(&m->r->state, SANDBOX_REGION_FAILED, memory_order_release);
	sandbox_main_publish(m->r);
	_exit(SANDBOX_MAIN_FAILED);
}

/* What exec left: handled signals are default already, ignored ones not, and all are blocked. */
static void
sandbox_main_signals(void)
{
	sigset_t none;
	int sig;

	for (sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			signal(sig, SIG_DFL);
	/* As Lambda's runtimes do: a write to a closed socket fails with EPIPE, it does not kill. */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/* Split the configuration's strings: module, function, version, then the params. */
static int
sandbox_main_config(struct sandbox_main *m)
{
	struct sandbox_config *c = &m->config;
	const char *p = c->strings, *end;
	const char **fields[3] = { &m->module, &m->function, &m->version };
	uint32_t i;

	if (c->strings_len == 0 || c->strings_len > sizeof(c->strings) ||
	    c->strings[c->strings_len - 1] != '\0' || c->nb_params > SANDBOX_MAIN_PARAMS_MAX)
		return -EINVAL;
	end = c->strings + c->strings_len;
	for (i = 0; i < 3 + c->nb_params; i++) {
		if (p >= end)
			return -EINVAL;
		if (i < 3)
			*fields[i] = p;
		else
			m->params[i - 3] = p;
		p += strlen(p) + 1;
	}
	m->params[c->nb_params] = NULL;
	m->function_len = (uint32_t)strlen(m->function);
	m->version_len = (uint32_t)strlen(m->version);
	return m->module[0] != '\0' ? 0 : -EINVAL;
}

static int
sandbox_main_map(struct sandbox_main *m)
{
	struct sandbox_region *r;
	struct stat st;
	void *p;

	if (fstat(SANDBOX_REGION_FD, &st) != 0 || (uint64_t)st.st_size < sizeof(*r))
		return -EINVAL;
	p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		 SANDBOX_REGION_FD, 0);
	if (p == MAP_FAILED)
		return -errno;
	r = p;
	m->r = r;
	m->base = p;
	m->size = (uint64_t)st.st_size;
	m->nb_slots = r->nb_slots;
	m->in_max = r->in_max;
	m->out_max = r->out_max;
	m->log_max = r->log_max;
	if (r->magic != SANDBOX_REGION_MAGIC || r->version != SANDBOX_REGION_VERSION ||
	    r->size != m->size || m->nb_slots == 0 || m->nb_slots > SANDBOX_SLOTS_MAX ||
	    (m->nb_slots & (m->nb_slots - 1)) != 0 || m->log_max < INVOKE_LOG_TAIL_MAX ||
	    sandbox_region_size(m->nb_slots, m->in_max, m->out_max, m->log_max) > m->size)
		return -EINVAL;
	m->config = r->config;
	return sandbox_main_config(m);
}

/* The init process: wait for the call process and say how it ended. */
static void __attribute__((noreturn))
sandbox_main_reaper(struct sandbox_main *m, pid_t child)
{
	int status = 0;
	pid_t pid;

	close(SANDBOX_REGION_FD);
	if (jail_no_new_privs(m->err, sizeof(m->err)) < 0 ||
	    jail_seccomp_reaper(m->err, sizeof(m->err)) < 0) {
		kill(child, SIGKILL);
		sandbox_main_fail(m, "%s", m->err);
	}
	atomic_store_explicit(&m->r->jailed, 1, memory_order_release);
	syscall(SYS_futex, &m->r->jailed, FUTEX_WAKE, 1, NULL, NULL, 0);
	/* As PID 1 it inherits any orphan; the call process cannot fork, but wait for it by name. */
	for (;;) {
		pid = waitpid(-1, &status, 0);
		if (pid == child)
			break;
		if (pid < 0 && errno != EINTR)
			_exit(SANDBOX_MAIN_FAILED);
	}
	atomic_store_explicit(&m->r->exit_status, status, memory_order_relaxed);
	atomic_store_explicit(&m->r->exited, 1, memory_order_release);
	sandbox_main_publish(m->r);
	/* _exit: nothing of libc's clean-up runs under the filter. */
	_exit(SANDBOX_MAIN_REPORTED);
}

/*
 * Wait for call `idx`: spin a little (a busy function's next call is near),
 * then sleep. On the CPU of a polling lcore spinning would only keep that
 * lcore from handing over the next call: the sandbox gives the CPU back
 * instead, once, and stays runnable, so that a call handed over before the
 * scheduler comes back to it needs no wake-up (the lcore lends it the CPU).
 */
static bool
sandbox_main_wait(struct sandbox_main *m, uint32_t idx)
{
	struct sandbox_region *r = m->r;
	bool shared = m->config.flags & SANDBOX_CONFIG_SHARED_CPU, yielded = false;
	uint64_t spin_ns = shared ? 0 : (uint64_t)m->config.spin_us * 1000u;
	uint64_t until = sandbox_main_now_ns() + spin_ns;

	for (;;) {
		if (atomic_load_explicit(&r->req_tail, memory_order_acquire) != idx)
			return true;
		if (atomic_load_explicit(&r->stop, memory_order_relaxed))
			return false;
		if (sandbox_main_now_ns() < until) {
			sandbox_ring_pause();
			continue;
		}
		if (shared && !yielded) {
			yielded = true;
			sched_yield();
			continue;
		}
		/* Say it, then look once more: sandbox_submit() stores the tail, then looks. */
		atomic_store_explicit(&r->sleeping, 1, memory_order_seq_cst);
		if (atomic_load_explicit(&r->req_tail, memory_order_seq_cst) == idx &&
		    !atomic_load_explicit(&r->stop, memory_order_seq_cst))
			syscall(SYS_futex, &r->req_tail, FUTEX_WAIT, idx, NULL, NULL, 0);
		atomic_store_explicit(&r->sleeping, 0, memory_order_relaxed);
		until = sandbox_main_now_ns() + spin_ns;
		yielded = false;
	}
}

static void
sandbox_main_answer(struct sandbox_main *m, uint32_t slot, const struct sandbox_resp *d,
		    uint32_t idx)
{
	m->r->resp[slot] = *d;
	atomic_store_explicit(&m->r->resp_tail, idx + 1, memory_order_release);
}

/* One call: run it through invoke_run as a worker lcore would, and hand back body and log. */
static void
sandbox_main_call(struct sandbox_main *m, uint32_t idx)
{
	struct sandbox_region *r = m->r;
	uint32_t slot = idx & (m->nb_slots - 1);
	struct sandbox_req q = r->req[slot];
	struct sandbox_resp d = { .call_id = q.call_id };
	const char *in = (const char *)m->base +
		sandbox_region_in_off(m->nb_slots, m->in_max, slot);
	uint8_t *out = m->base + sandbox_region_out_off(m->nb_slots, m->in_max, m->out_max, slot);
	char *log = (char *)m->base +
		sandbox_region_log_off(m->nb_slots, m->in_max, m->out_max, m->log_max, slot);
	uint64_t need = (uint64_t)q.event_len + q.tenant_len + q.trace_len + q.ctx_len;
	struct invoke_outcome o;
	struct response_buf rb;
	struct invoke_args args;
	uint64_t now = rte_rdtsc();

	if (need > m->in_max || q.resp_cap > m->out_max) {
		d.status = SANDBOX_RESP_NO_ROOM;
		sandbox_main_answer(m, slot, &d, idx);
		atomic_store_explicit(&r->req_head, idx + 1, memory_order_release);
		return;
	}
	/* It waited behind another call past its deadline: refused unrun, answered before it
	 * counts as started, so the worker does not take it for an overrun. */
	if (now >= q.deadline_tsc) {
		d.status = SANDBOX_RESP_EXPIRED;
		sandbox_main_answer(m, slot, &d, idx);
		atomic_store_explicit(&r->req_head, idx + 1, memory_order_release);
		return;
	}
	atomic_store_explicit(&r->req_head, idx + 1, memory_order_release);

	memset(&args, 0, sizeof(args));
	args.env = &m->env;
	args.ctx.request_id = q.request_id;
	args.ctx.function = (struct turbine_str){ m->function, m->function_len };
	args.ctx.version = (struct turbine_str){ m->version, m->version_len };
	args.ctx.tenant = (struct turbine_str){ in + q.event_len, q.tenant_len };
	args.ctx.trace = (struct turbine_str){ in + q.event_len + q.tenant_len, q.trace_len };
	args.ctx.client_context = (struct turbine_str){
		in + q.event_len + q.tenant_len + q.trace_len, q.ctx_len };
	args.ctx.memory_mb = m->config.memory_mb;
	args.ctx.worker_id = m->config.worker_id;
	args.ctx.deadline_tsc = q.deadline_tsc;
	args.ctx.tsc_hz = q.tsc_hz;
	args.event.data = q.has_event ? in : NULL;
	args.event.len = q.event_len;
	args.timeout_ms = q.timeout_ms;
	args.log_tail = q.log_tail != 0;
	args.start_tsc = now;

	response_buf_open(&rb, out, q.resp_cap);
	sandbox_alloc_call(q.call_id);
	if (invoke_run(&m->scratch, &args, &rb, &o) < 0) {
		d.status = SANDBOX_RESP_NO_ROOM;
	} else {
		d.status = SANDBOX_RESP_OK;
		d.body_off = o.body_at;
		d.body_len = o.body_len;
		d.fn_error = o.fn_error;
		d.timed_out = o.timed_out;
		d.too_large = o.too_large;
		d.was_cold = o.was_cold;
		if (args.log_tail) {
			d.log_len = m->scratch.log_len < m->log_max ? m->scratch.log_len : m->log_max;
			memcpy(log, m->scratch.log, d.log_len);
		}
	}
	sandbox_alloc_call(0);
	sandbox_main_answer(m, slot, &d, idx);
}

/* The call process: jail, load, init, then calls until the worker's side says stop. */
static void __attribute__((noreturn))
sandbox_main_calls(struct sandbox_main *m, pid_t parent)
{
	struct sandbox_config *c = &m->config;
	struct turbine_env_config cfg;
	uint64_t as = c->memory_mb != 0 ? ((uint64_t)c->memory_mb << 20) + m->size : 0;
	uint32_t idx = 0;
	int fd;

	sandbox_alloc_watch(&m->r->alloc_failed);
	if (jail_limits(as, m->err, sizeof(m->err)) < 0)
		sandbox_main_fail(m, "%s", m->err);
	if (chdir("/") != 0)
		sandbox_main_fail(m, "jail: chdir /: %s", strerror(errno));
	/* Opened while it may still reach it: the module's directory need not be nobody's. */
	fd = open(m->module, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		sandbox_main_fail(m, "cannot open %s: %s", m->module, strerror(errno));
	if (geteuid() == 0 && jail_drop_privileges(c->uid, c->gid, m->err, sizeof(m->err)) < 0)
		sandbox_main_fail(m, "%s", m->err);
	/* After the change of user, which clears it; and the init process may be gone already. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
		sandbox_main_fail(m, "jail: the sandbox's init process is gone");
	if (jail_no_new_privs(m->err, sizeof(m->err)) < 0)
		sandbox_main_fail(m, "%s", m->err);
	close(SANDBOX_REGION_FD);
	/* No module code runs, and no readiness is reported, before both processes are jailed. */
	while (atomic_load_explicit(&m->r->jailed, memory_order_acquire) == 0)
		syscall(SYS_futex, &m->r->jailed, FUTEX_WAIT, 0, NULL, NULL, 0);
	if (jail_seccomp_prepare(&m->filters, c->flags & SANDBOX_CONFIG_NETWORK, m->err,
				 sizeof(m->err)) < 0 ||
	    jail_seccomp_load(&m->filters, JAIL_STAGE_INIT, m->err, sizeof(m->err)) < 0)
		sandbox_main_fail(m, "%s", m->err);

	if (module_load_fd(&m->mod, fd, m->module, m->err, sizeof(m->err)) < 0)
		sandbox_main_fail(m, "%s", m->err);
	close(fd);
	memset(&cfg, 0, sizeof(cfg));
	cfg.function = m->function;
	cfg.version = m->version;
	cfg.worker_id = c->worker_id;
	cfg.socket_id = c->socket_id;
	cfg.memory_mb = c->memory_mb;
	cfg.timeout_ms = c->timeout_ms;
	cfg.params = c->nb_params > 0 ? m->params : NULL;
	sandbox_alloc_call(SANDBOX_ALLOC_INIT);
	if (module_env_init(&m->env, &m->mod, &cfg) < 0)
		sandbox_main_fail(m, "%s", m->env.error);
	sandbox_alloc_call(0);

	if (jail_seccomp_load(&m->filters, JAIL_STAGE_CALLS, m->err, sizeof(m->err)) < 0)
		sandbox_main_fail(m, "%s", m->err);
	jail_seccomp_release(&m->filters);
	m->r->init_ns = m->env.init_ns;
	atomic_store_explicit(&m->r->state, SANDBOX_REGION_READY, memory_order_release);
	sandbox_main_publish(m->r);

	while (sandbox_main_wait(m, idx))
		sandbox_main_call(m, idx++);
	module_env_fini(&m->env);
	_exit(0);
}

int
main(int argc, char **argv)
{
	struct sandbox_main *m = &sandbox_main_state;
	pid_t child, self;
	int fd;

	(void)argc;
	(void)argv;
	sandbox_main_signals();
	if (sandbox_main_map(m) < 0)
		return SANDBOX_MAIN_BROKEN;
	/* The host's OOM killer, should it ever run, takes a sandbox before anything else;
	 * the call process inherits it. */
	fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, "1000", 4) != 4)
		sandbox_main_fail(m, "jail: oom_score_adj: %s", strerror(errno));
	close(fd);
	if ((m->config.flags & SANDBOX_CONFIG_NAMESPACES) && jail_mounts(m->err, sizeof(m->err)) < 0)
		sandbox_main_fail(m, "%s", m->err);

	self = getpid();
	child = fork();
	if (child < 0)
		sandbox_main_fail(m, "fork: %s", strerror(errno));
	if (child == 0)
		sandbox_main_calls(m, self);
	sandbox_main_reaper(m, child);
}
