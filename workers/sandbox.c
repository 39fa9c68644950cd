/* Process isolation, the worker's side: start, watch and replace sandbox processes; pass calls. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
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
#include <sys/syscall.h>
#include <sys/wait.h>

#include <rte_cycles.h>

#include "sandbox.h"

#define SANDBOX_DEFAULT_SLOTS       1u
#define SANDBOX_DEFAULT_BUF         (64u * 1024u)
#define SANDBOX_BUF_MIN             1024u
#define SANDBOX_BUF_MAX             (16u * 1024u * 1024u)
#define SANDBOX_DEFAULT_SPIN_US     20u
#define SANDBOX_DEFAULT_INIT_MS     10000u
#define SANDBOX_NOBODY              65534u
/*
 * How long a call whose deadline passed while it waited behind another may
 * stay untaken before the sandbox is killed. An honest sandbox answers it
 * (unrun) as soon as it gets a CPU, which on a loaded machine can take many
 * milliseconds: only one that stopped taking calls waits this long.
 */
#define SANDBOX_TAKE_GRACE_MS       1000u
/* While waiting for init, how often the process is checked for having ended. */
#define SANDBOX_WAIT_SLICE_MS       10u
/* While waiting for a stopping sandbox, how often it is woken again. */
#define SANDBOX_STOP_SLICE_MS       5

/* The clone3 argument block (linux/sched.h's struct clone_args, whose header clashes with glibc's). */
struct sandbox_clone_args {
	uint64_t flags;
	uint64_t pidfd;
	uint64_t child_tid;
	uint64_t parent_tid;
	uint64_t exit_signal;
	uint64_t stack;
	uint64_t stack_size;
	uint64_t tls;
};

static void __attribute__((format(printf, 3, 4)))
sandbox_set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static uint64_t
sandbox_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int
sandbox_futex_wait(_Atomic uint32_t *word, uint32_t val, uint32_t timeout_ms)
{
	struct timespec ts = { .tv_sec = timeout_ms / 1000u,
			       .tv_nsec = (long)(timeout_ms % 1000u) * 1000000L };

	/* Not FUTEX_PRIVATE_FLAG: the word is in memory shared with another process. */
	return (int)syscall(SYS_futex, word, FUTEX_WAIT, val, &ts, NULL, 0);
}

static void
sandbox_futex_wake(_Atomic uint32_t *word)
{
	syscall(SYS_futex, word, FUTEX_WAKE, 1, NULL, NULL, 0);
}

/*
 * Go's names of the Linux signals (syscall.signals), which Lambda's runtime
 * interface prints: "Runtime exited with error: signal: killed".
 */
static const char *const sandbox_signal_names[] = {
	[SIGHUP] = "hangup",
	[SIGINT] = "interrupt",
	[SIGQUIT] = "quit",
	[SIGILL] = "illegal instruction",
	[SIGTRAP] = "trace/breakpoint trap",
	[SIGABRT] = "aborted",
	[SIGBUS] = "bus error",
	[SIGFPE] = "floating point exception",
	[SIGKILL] = "killed",
	[SIGUSR1] = "user defined signal 1",
	[SIGSEGV] = "segmentation fault",
	[SIGUSR2] = "user defined signal 2",
	[SIGPIPE] = "broken pipe",
	[SIGALRM] = "alarm clock",
	[SIGTERM] = "terminated",
	[SIGSTKFLT] = "stack fault",
	[SIGCHLD] = "child exited",
	[SIGCONT] = "continued",
	[SIGSTOP] = "stopped (signal)",
	[SIGTSTP] = "stopped",
	[SIGTTIN] = "stopped (tty input)",
	[SIGTTOU] = "stopped (tty output)",
	[SIGURG] = "urgent I/O condition",
	[SIGXCPU] = "CPU time limit exceeded",
	[SIGXFSZ] = "file size limit exceeded",
	[SIGVTALRM] = "virtual timer expired",
	[SIGPROF] = "profiling timer expired",
	[SIGWINCH] = "window changed",
	[SIGIO] = "I/O possible",
	[SIGPWR] = "power failure",
	[SIGSYS] = "bad system call",
};

void
sandbox_exit_text(int wait_status, char *buf, size_t len)
{
	int sig;

	if (WIFEXITED(wait_status)) {
		snprintf(buf, len, "exit status %d", WEXITSTATUS(wait_status));
		return;
	}
	if (!WIFSIGNALED(wait_status)) {
		snprintf(buf, len, "wait status %#x", (unsigned int)wait_status);
		return;
	}
	sig = WTERMSIG(wait_status);
	if (sig > 0 && (size_t)sig < sizeof(sandbox_signal_names) / sizeof(sandbox_signal_names[0]) &&
	    sandbox_signal_names[sig] != NULL)
		snprintf(buf, len, "signal: %s%s", sandbox_signal_names[sig],
			 WCOREDUMP(wait_status) ? " (core dumped)" : "");
	else
		snprintf(buf, len, "signal: signal %d%s", sig,
			 WCOREDUMP(wait_status) ? " (core dumped)" : "");
}

int
sandbox_default_exe(char *buf, size_t len)
{
	static const char *const candidates[] = { "turbine-sandbox", "workers/turbine-sandbox" };
	char self[PATH_MAX];
	ssize_t n;
	char *slash;
	size_t i;

	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n < 0)
		return -errno;
	self[n] = '\0';
	slash = strrchr(self, '/');
	if (slash == NULL)
		return -ENOENT;
	*slash = '\0';
	for (i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++) {
		if ((size_t)snprintf(buf, len, "%s/%s", self, candidates[i]) >= len)
			return -ENAMETOOLONG;
		if (access(buf, X_OK) == 0)
			return 0;
	}
	snprintf(buf, len, "%s/%s", self, candidates[0]);
	return -ENOENT;
}

/* Append a NUL-terminated string to the configuration's strings. */
static int
sandbox_config_add(struct sandbox_config *c, const char *s)
{
	size_t n = strlen(s) + 1;

	if (n > sizeof(c->strings) - c->strings_len)
		return -ENAMETOOLONG;
	memcpy(c->strings + c->strings_len, s, n);
	c->strings_len += (uint32_t)n;
	return 0;
}

static int
sandbox_config_build(struct sandbox *sb, const struct sandbox_params *p, char *err, size_t errlen)
{
	struct sandbox_config *c = &sb->config;
	const char *const *kv;
	char module[PATH_MAX];

	memset(c, 0, sizeof(*c));
	c->flags = (p->network ? SANDBOX_CONFIG_NETWORK : 0) |
		   (p->shared_cpu ? SANDBOX_CONFIG_SHARED_CPU : 0);
	/* Namespaces and another user need root; without it the jail is the rest of the list. */
	if (geteuid() == 0)
		c->flags |= SANDBOX_CONFIG_NAMESPACES;
	c->memory_mb = p->memory_mb;
	c->timeout_ms = p->timeout_ms;
	c->worker_id = p->worker_id;
	c->socket_id = p->socket_id;
	c->uid = p->uid != 0 ? p->uid : SANDBOX_NOBODY;
	c->gid = p->gid != 0 ? p->gid : SANDBOX_NOBODY;
	c->spin_us = p->spin_us != 0 ? p->spin_us : SANDBOX_DEFAULT_SPIN_US;
	/* The sandbox starts in "/": a relative path would name another file there. One that
	 * does not resolve goes as it is, for the sandbox to report. */
	if (realpath(p->module, module) == NULL)
		snprintf(module, sizeof(module), "%s", p->module);
	if (sandbox_config_add(c, module) < 0 ||
	    sandbox_config_add(c, p->function != NULL ? p->function : "") < 0 ||
	    sandbox_config_add(c, p->version != NULL ? p->version : "") < 0)
		goto too_long;
	for (kv = p->params; kv != NULL && *kv != NULL; kv++) {
		if (sandbox_config_add(c, *kv) < 0)
			goto too_long;
		c->nb_params++;
	}
	return 0;

too_long:
	sandbox_set_err(err, errlen, "sandbox for %s: module path, names and params exceed %u bytes",
			p->function != NULL ? p->function : p->module, SANDBOX_CONFIG_STRINGS);
	return -ENAMETOOLONG;
}

static uint32_t
sandbox_buf_size(uint32_t v)
{
	return v != 0 ? v : SANDBOX_DEFAULT_BUF;
}

static int
sandbox_params_check(const struct sandbox_params *p, char *err, size_t errlen)
{
	uint32_t slots = p->nb_slots != 0 ? p->nb_slots : SANDBOX_DEFAULT_SLOTS;
	uint32_t in = sandbox_buf_size(p->in_max), out = sandbox_buf_size(p->out_max);

	if (p->module == NULL || p->module[0] == '\0') {
		sandbox_set_err(err, errlen, "sandbox: no module path");
		return -EINVAL;
	}
	if (slots > SANDBOX_SLOTS_MAX || (slots & (slots - 1)) != 0) {
		sandbox_set_err(err, errlen, "sandbox: %u slots: a power of two up to %u", slots,
				SANDBOX_SLOTS_MAX);
		return -EINVAL;
	}
	if (in < SANDBOX_BUF_MIN || in > SANDBOX_BUF_MAX || out < SANDBOX_BUF_MIN ||
	    out > SANDBOX_BUF_MAX) {
		sandbox_set_err(err, errlen, "sandbox: buffers of %u and %u bytes: %u to %u", in, out,
				SANDBOX_BUF_MIN, SANDBOX_BUF_MAX);
		return -EINVAL;
	}
	return 0;
}

/*
 * A new region: a memfd sealed at its size (a sandbox that could shrink it
 * would make the worker fault on its next access), mapped and prefaulted
 * here so that the worker's first calls take no page faults.
 * Returns the memfd (the child's fd 3), or -errno.
 */
static int
sandbox_region_create(struct sandbox *sb, char *err, size_t errlen)
{
	struct sandbox_region *r;
	int fd, ret;
	void *p;

	fd = memfd_create("turbine-sandbox", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0) {
		ret = -errno;
		sandbox_set_err(err, errlen, "sandbox: memfd_create: %s", strerror(-ret));
		return ret;
	}
	if (ftruncate(fd, (off_t)sb->region_size) != 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
		ret = -errno;
		sandbox_set_err(err, errlen, "sandbox: sizing and sealing its region: %s",
				strerror(-ret));
		close(fd);
		return ret;
	}
	p = mmap(NULL, sb->region_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
	if (p == MAP_FAILED) {
		ret = -errno;
		sandbox_set_err(err, errlen, "sandbox: mapping its region of %" PRIu64 " bytes: %s",
				sb->region_size, strerror(-ret));
		close(fd);
		return ret;
	}
	r = p;
	r->magic = SANDBOX_REGION_MAGIC;
	r->version = SANDBOX_REGION_VERSION;
	r->size = sb->region_size;
	r->nb_slots = sb->nb_slots;
	r->in_max = sb->in_max;
	r->out_max = sb->out_max;
	r->log_max = sb->log_max;
	r->config = sb->config;
	sb->region = r;
	sb->base = p;
	return fd;
}

static void
sandbox_region_free(struct sandbox *sb)
{
	if (sb->region != NULL)
		munmap(sb->region, sb->region_size);
	sb->region = NULL;
	sb->base = NULL;
}

/*
 * The child between clone3 and execve: a copy of a multi-threaded process,
 * so system calls only. It dies with the thread that created it; the
 * dispatcher may already have gone before that was set, which the pidfd of
 * the dispatcher tells (getppid() says 0 in a new PID namespace).
 */
static void __attribute__((noreturn))
sandbox_child(int memfd, int parent_pidfd, const cpu_set_t *cpus, const char *exe,
	      char *const argv[], char *const envp[])
{
	struct pollfd pfd = { .fd = parent_pidfd, .events = POLLIN };
	int nul, high;

	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || poll(&pfd, 1, 0) != 0)
		_exit(127);
	if (cpus != NULL && sched_setaffinity(0, sizeof(*cpus), cpus) != 0)
		_exit(127);
	/* 0-2 on /dev/null, the region on 3 and nothing else: the region is first moved
	 * out of the way in case it was one of 0-3. */
	nul = open("/dev/null", O_RDWR);
	high = fcntl(memfd, F_DUPFD, 64);
	if (nul < 0 || high < 0 || dup2(nul, 0) < 0 || dup2(nul, 1) < 0 || dup2(nul, 2) < 0 ||
	    dup2(high, SANDBOX_REGION_FD) < 0 ||
	    syscall(SYS_close_range, SANDBOX_REGION_FD + 1, ~0u, 0) != 0)
		_exit(127);
	/* Signals stay blocked through execve; the sandbox resets them before it unblocks. */
	execve(exe, argv, envp);
	_exit(127);
}

static int
sandbox_spawn(struct sandbox *sb, char *err, size_t errlen)
{
	char *argv[] = { "turbine-sandbox", sb->config.strings + strlen(sb->config.strings) + 1,
			 NULL };
	char *envp[] = { NULL };
	struct sandbox_clone_args ca;
	int memfd, self, pidfd = -1, ret;
	sigset_t all, old;
	long pid;

	if (access(sb->exe, X_OK) != 0) {
		ret = -errno;
		sandbox_set_err(err, errlen, "sandbox: cannot run %s: %s", sb->exe, strerror(-ret));
		return ret;
	}
	memfd = sandbox_region_create(sb, err, errlen);
	if (memfd < 0)
		return memfd;
	self = (int)syscall(SYS_pidfd_open, getpid(), 0);
	if (self < 0) {
		ret = -errno;
		sandbox_set_err(err, errlen, "sandbox: pidfd_open: %s", strerror(-ret));
		goto fail_region;
	}

	memset(&ca, 0, sizeof(ca));
	ca.flags = CLONE_PIDFD;
	if (sb->config.flags & SANDBOX_CONFIG_NAMESPACES) {
		ca.flags |= CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS;
		if (!(sb->config.flags & SANDBOX_CONFIG_NETWORK))
			ca.flags |= CLONE_NEWNET;
	}
	ca.pidfd = (uint64_t)(uintptr_t)&pidfd;
	/* No SIGCHLD: the dispatcher's handlers and anyone's waitpid(-1) leave it alone;
	 * only a waitid on its pidfd (with __WALL) collects it. */
	ca.exit_signal = 0;

	/* No handler of the dispatcher's may run in the child before it execs. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pid = syscall(SYS_clone3, &ca, sizeof(ca));
	if (pid == 0)
		sandbox_child(memfd, self, sb->pinned ? &sb->cpus : NULL, sb->exe, argv, envp);
	ret = pid < 0 ? -errno : 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	close(self);
	close(memfd);
	if (ret < 0) {
		sandbox_set_err(err, errlen, "sandbox: clone3: %s", strerror(-ret));
		sandbox_region_free(sb);
		return ret;
	}
	sb->pid = (pid_t)pid;
	sb->pidfd = pidfd;
	sb->spawn_ns = sandbox_now_ns();
	return 0;

fail_region:
	close(memfd);
	sandbox_region_free(sb);
	return ret;
}

/* The worker's indexes start again with each process; call ids never do. */
static void
sandbox_reset(struct sandbox *sb)
{
	sb->req_tail = 0;
	sb->resp_head = 0;
	sb->nb_inflight = 0;
	sb->killed = false;
	sb->abandoned_head = false;
	sb->wait_status = 0;
	sb->out_of_memory = false;
	sb->oom_call = 0;
	sb->cold_start_ns = 0;
	sb->init_ns = 0;
	sb->error[0] = '\0';
}

int
sandbox_create(const struct sandbox_params *p, struct sandbox **sbp, char *err, size_t errlen)
{
	struct sandbox *sb;
	int ret;

	*sbp = NULL;
	ret = sandbox_params_check(p, err, errlen);
	if (ret < 0)
		return ret;
	if (posix_memalign((void **)&sb, SANDBOX_CACHE_LINE, sizeof(*sb)) != 0) {
		sandbox_set_err(err, errlen, "sandbox: out of memory");
		return -ENOMEM;
	}
	memset(sb, 0, sizeof(*sb));
	sb->pidfd = -1;
	sb->next_call_id = 1;
	sb->nb_slots = p->nb_slots != 0 ? p->nb_slots : SANDBOX_DEFAULT_SLOTS;
	sb->in_max = sandbox_buf_size(p->in_max);
	sb->out_max = sandbox_buf_size(p->out_max);
	sb->log_max = INVOKE_LOG_TAIL_MAX;
	sb->region_size = sandbox_region_size(sb->nb_slots, sb->in_max, sb->out_max, sb->log_max);
	sb->init_timeout_ms = p->init_timeout_ms != 0 ? p->init_timeout_ms : SANDBOX_DEFAULT_INIT_MS;
	sb->version = strdup(p->version != NULL ? p->version : "");
	if (sb->version == NULL) {
		sandbox_set_err(err, errlen, "sandbox: out of memory");
		ret = -ENOMEM;
		goto fail;
	}
	sb->version_len = (uint32_t)strlen(sb->version);
	if (p->cpus != NULL) {
		sb->pinned = true;
		sb->cpus = *p->cpus;
	}

	if (p->exe != NULL) {
		if ((size_t)snprintf(sb->exe, sizeof(sb->exe), "%s", p->exe) >= sizeof(sb->exe)) {
			sandbox_set_err(err, errlen, "sandbox: executable path too long");
			ret = -ENAMETOOLONG;
			goto fail;
		}
	} else {
		ret = sandbox_default_exe(sb->exe, sizeof(sb->exe));
		if (ret < 0) {
			sandbox_set_err(err, errlen, "sandbox: no executable at %s: %s", sb->exe,
					strerror(-ret));
			goto fail;
		}
	}
	ret = sandbox_config_build(sb, p, err, errlen);
	if (ret < 0)
		goto fail;

	atomic_store_explicit(&sb->state, SANDBOX_STARTING, memory_order_release);
	ret = sandbox_spawn(sb, err, errlen);
	if (ret < 0)
		goto fail;
	*sbp = sb;
	return 0;

fail:
	free(sb->version);
	free(sb);
	return ret;
}

static void
sandbox_set_state(struct sandbox *sb, enum sandbox_state s)
{
	atomic_store_explicit(&sb->state, s, memory_order_release);
}

/* The wait status a siginfo from waitid describes. */
static int
sandbox_status_of(const siginfo_t *si)
{
	switch (si->si_code) {
	case CLD_EXITED:
		return (si->si_status & 0xff) << 8;
	case CLD_DUMPED:
		return (si->si_status & 0x7f) | 0x80;
	default:
		return si->si_status & 0x7f;
	}
}

/*
 * Collect the process. The sandbox's init process exits 0 only after it
 * wrote the call process's status into the region (and the call process,
 * which could have written anything there, was gone by then); any other end
 * (SIGKILL at a deadline, the OOM killer, a failed jail step) is its own.
 */
static int
sandbox_collect(struct sandbox *sb, int options)
{
	struct sandbox_region *r = sb->region;
	char how[64];
	siginfo_t si;
	int status;
	uint64_t alloc;

	memset(&si, 0, sizeof(si));
	if (waitid(P_PIDFD, (id_t)sb->pidfd, &si, WEXITED | __WALL | options) != 0)
		return -errno;
	if (si.si_pid == 0)
		return 0;
	status = sandbox_status_of(&si);
	if (si.si_code == CLD_EXITED && si.si_status == 0 &&
	    atomic_load_explicit(&r->exited, memory_order_acquire)) {
		int reported = atomic_load_explicit(&r->exit_status, memory_order_relaxed);

		if (WIFEXITED(reported) || WIFSIGNALED(reported))
			status = reported;
	}
	sb->wait_status = status;
	alloc = atomic_load_explicit(&r->alloc_failed, memory_order_relaxed);
	sb->out_of_memory = alloc != 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	sb->oom_call = alloc;
	sb->pid = 0;
	sandbox_exit_text(status, how, sizeof(how));
	if (sandbox_state(sb) != SANDBOX_FAILED)
		snprintf(sb->error, sizeof(sb->error), "sandbox exited: %s%s", how,
			 sb->out_of_memory ? " after an allocation failed" : "");
	return 1;
}

int
sandbox_reap(struct sandbox *sb)
{
	enum sandbox_state s;
	int ret;

	if (sb->pidfd < 0 || sb->pid == 0)
		return 1;
	ret = sandbox_collect(sb, WNOHANG);
	if (ret <= 0)
		return ret;
	s = sandbox_state(sb);
	if (s == SANDBOX_READY || s == SANDBOX_STARTING)
		sandbox_set_state(sb, SANDBOX_DEAD);
	return 1;
}

int
sandbox_kill(struct sandbox *sb)
{
	if (sb->pidfd < 0)
		return -EBADF;
	if (syscall(SYS_pidfd_send_signal, sb->pidfd, SIGKILL, NULL, 0) != 0)
		return errno == ESRCH ? 0 : -errno;
	return 0;
}

static bool
sandbox_pidfd_ended(const struct sandbox *sb)
{
	struct pollfd pfd = { .fd = sb->pidfd, .events = POLLIN };

	return poll(&pfd, 1, 0) > 0;
}

/* Kill and collect, waiting: for a sandbox that has to go now. */
static void
sandbox_end(struct sandbox *sb)
{
	if (sb->pid == 0)
		return;
	sandbox_kill(sb);
	while (sandbox_collect(sb, 0) == -EINTR)
		;
	sb->pid = 0;
}

/* FAILED with the reason; the process, if it still runs, is ended. */
static int
sandbox_fail(struct sandbox *sb, int ret, const char *fmt, ...)
{
	char reason[SANDBOX_ERROR_MAX + 64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	sandbox_set_state(sb, SANDBOX_FAILED);
	sandbox_end(sb);
	snprintf(sb->error, sizeof(sb->error), "%s", reason);
	return ret;
}

/* The sandbox's text, which it may have left unterminated: copied, bounded, printable. */
static void
sandbox_copy_text(char *dst, size_t cap, const char *src, size_t src_max)
{
	size_t i;

	for (i = 0; i + 1 < cap && i < src_max; i++) {
		char c = ((volatile const char *)src)[i];

		if (c == '\0')
			break;
		dst[i] = (c >= 0x20 && c < 0x7f) ? c : '?';
	}
	dst[i] = '\0';
}

int
sandbox_wait_ready(struct sandbox *sb)
{
	struct sandbox_region *r = sb->region;
	uint64_t deadline = sb->spawn_ns + (uint64_t)sb->init_timeout_ms * 1000000u;
	char text[SANDBOX_ERROR_MAX], how[64];
	uint32_t ev, state;
	uint64_t now;

	if (sandbox_state(sb) != SANDBOX_STARTING)
		return sandbox_state(sb) == SANDBOX_READY ? 0 : -EINVAL;
	for (;;) {
		ev = atomic_load_explicit(&r->events, memory_order_acquire);
		state = atomic_load_explicit(&r->state, memory_order_acquire);
		now = sandbox_now_ns();
		if (state == SANDBOX_REGION_READY) {
			sb->cold_start_ns = now - sb->spawn_ns;
			sb->init_ns = ((volatile struct sandbox_region *)r)->init_ns;
			sandbox_set_state(sb, SANDBOX_READY);
			return 0;
		}
		if (state == SANDBOX_REGION_FAILED) {
			sandbox_copy_text(text, sizeof(text), r->error, sizeof(r->error));
			return sandbox_fail(sb, -EIO, "%s", text[0] != '\0' ? text : "init failed");
		}
		if (sandbox_pidfd_ended(sb)) {
			sandbox_collect(sb, 0);
			sandbox_exit_text(sb->wait_status, how, sizeof(how));
			return sandbox_fail(sb, -ECHILD, "sandbox exited before it was ready: %s%s",
					    how, sb->out_of_memory ?
					    " after an allocation failed (memory_mb too small?)" : "");
		}
		if (now >= deadline)
			return sandbox_fail(sb, -ETIMEDOUT,
					    "sandbox not ready after %u ms (init too slow): killed",
					    sb->init_timeout_ms);
		sandbox_futex_wait(&r->events, ev, SANDBOX_WAIT_SLICE_MS);
	}
}

int
sandbox_pidfd(const struct sandbox *sb)
{
	return sb->pidfd;
}

int
sandbox_respawn(struct sandbox *sb, char *err, size_t errlen)
{
	enum sandbox_state s = sandbox_state(sb);
	int ret;

	if (s != SANDBOX_DRAINED && s != SANDBOX_FAILED) {
		sandbox_set_err(err, errlen, "sandbox: respawn while %s",
				s == SANDBOX_DEAD ? "the worker still answers its calls" : "in use");
		return -EBUSY;
	}
	sandbox_end(sb);
	if (sb->pidfd >= 0)
		close(sb->pidfd);
	sb->pidfd = -1;
	sandbox_region_free(sb);
	sandbox_reset(sb);
	sandbox_set_state(sb, SANDBOX_STARTING);
	ret = sandbox_spawn(sb, err, errlen);
	if (ret < 0) {
		snprintf(sb->error, sizeof(sb->error), "%s", err != NULL ? err : "respawn failed");
		sandbox_set_state(sb, SANDBOX_FAILED);
	}
	return ret;
}

void
sandbox_destroy(struct sandbox *sb, uint32_t grace_ms)
{
	uint64_t deadline;
	struct pollfd pfd;

	if (sb == NULL)
		return;
	if (sb->pid != 0 && grace_ms > 0 && sandbox_state(sb) == SANDBOX_READY &&
	    sb->nb_inflight == 0) {
		/*
		 * Idle: ask it to run fini and exit, as a drained environment does. The
		 * wake is repeated: one sent while it was between its last look at
		 * `stop` and its futex wait would be lost.
		 */
		atomic_store_explicit(&sb->region->stop, 1, memory_order_seq_cst);
		deadline = sandbox_now_ns() + (uint64_t)grace_ms * 1000000u;
		pfd.fd = sb->pidfd;
		pfd.events = POLLIN;
		do
			sandbox_futex_wake(&sb->region->req_tail);
		while (poll(&pfd, 1, SANDBOX_STOP_SLICE_MS) == 0 && sandbox_now_ns() < deadline);
	}
	sandbox_end(sb);
	if (sb->pidfd >= 0)
		close(sb->pidfd);
	sandbox_region_free(sb);
	free(sb->version);
	free(sb);
}

const char *
sandbox_state_name(enum sandbox_state s)
{
	static const char *const names[] = {
		[SANDBOX_STARTING] = "starting",
		[SANDBOX_READY] = "ready",
		[SANDBOX_FAILED] = "failed",
		[SANDBOX_DEAD] = "dead",
		[SANDBOX_DRAINED] = "drained",
	};

	return (unsigned int)s < sizeof(names) / sizeof(names[0]) ? names[s] : "?";
}

const char *
sandbox_error(const struct sandbox *sb)
{
	return sb->error;
}

pid_t
sandbox_pid(const struct sandbox *sb)
{
	return sb->pid;
}

uint64_t
sandbox_cold_start_ns(const struct sandbox *sb)
{
	return sb->cold_start_ns;
}

uint64_t
sandbox_init_ns(const struct sandbox *sb)
{
	return sb->init_ns;
}

/* The worker's side from here on. */

/* Copy len bytes (src may be NULL when there are none); returns the end of the copy. */
static uint8_t *
sandbox_copy(uint8_t *dst, const void *src, uint32_t len)
{
	if (len != 0)
		memcpy(dst, src, len);
	return dst + len;
}

int
sandbox_queue(struct sandbox *sb, const struct invoke_args *args, uint8_t *resp,
	      uint32_t resp_cap, void *cookie)
{
	const struct turbine_ctx *ctx = &args->ctx;
	struct sandbox_region *r = sb->region;
	uint32_t event_len = args->event.data != NULL ? args->event.len : 0;
	uint32_t slot = sb->req_tail & (sb->nb_slots - 1);
	struct sandbox_inflight *f = &sb->inflight[slot];
	struct sandbox_req *q = &r->req[slot];
	uint8_t *in = sb->base + sandbox_region_in_off(sb->nb_slots, sb->in_max, slot);
	uint64_t need;

	if (sandbox_state(sb) != SANDBOX_READY || sb->killed)
		return -ENOTCONN;
	if (sb->nb_inflight == sb->nb_slots)
		return -ENOBUFS;
	need = (uint64_t)event_len + ctx->tenant.len + ctx->trace.len + ctx->client_context.len;
	if (need > sb->in_max)
		return -E2BIG;

	in = sandbox_copy(in, args->event.data, event_len);
	in = sandbox_copy(in, ctx->tenant.ptr, ctx->tenant.len);
	in = sandbox_copy(in, ctx->trace.ptr, ctx->trace.len);
	sandbox_copy(in, ctx->client_context.ptr, ctx->client_context.len);

	q->call_id = sb->next_call_id;
	q->request_id = ctx->request_id;
	q->deadline_tsc = ctx->deadline_tsc;
	q->tsc_hz = ctx->tsc_hz;
	q->timeout_ms = args->timeout_ms;
	q->resp_cap = resp_cap < sb->out_max ? resp_cap : sb->out_max;
	q->event_len = event_len;
	q->tenant_len = ctx->tenant.len;
	q->trace_len = ctx->trace.len;
	q->ctx_len = ctx->client_context.len;
	q->has_event = args->event.data != NULL;
	q->log_tail = args->log_tail;

	f->cookie = cookie;
	f->call_id = sb->next_call_id++;
	f->request_id = ctx->request_id;
	f->deadline_tsc = ctx->deadline_tsc;
	f->submit_tsc = rte_rdtsc();
	f->tsc_hz = ctx->tsc_hz;
	f->trace = ctx->trace.ptr;
	f->trace_len = ctx->trace.len;
	f->resp = resp;
	f->resp_cap = resp_cap;
	f->timeout_ms = args->timeout_ms;
	f->log_tail = args->log_tail;
	sb->nb_inflight++;
	atomic_store_explicit(&r->req_tail, ++sb->req_tail, memory_order_seq_cst);
	return 0;
}

void
sandbox_wake(struct sandbox *sb)
{
	/*
	 * The tail was published (sandbox_queue), now look whether it sleeps;
	 * the sandbox says it sleeps, then looks at the tail once more before it
	 * waits. Both sides sequentially consistent: one of them sees the other,
	 * so no wake-up is lost.
	 */
	if (atomic_load_explicit(&sb->region->sleeping, memory_order_seq_cst))
		sandbox_futex_wake(&sb->region->req_tail);
}

int
sandbox_submit(struct sandbox *sb, const struct invoke_args *args, uint8_t *resp,
	       uint32_t resp_cap, void *cookie)
{
	int rc = sandbox_queue(sb, args, resp, resp_cap, cookie);

	if (rc == 0)
		sandbox_wake(sb);
	return rc;
}

/* The next call leaves the ring, answered. */
static int
sandbox_complete(struct sandbox *sb)
{
	sb->resp_head++;
	sb->nb_inflight--;
	atomic_store_explicit(&sb->region->resp_head, sb->resp_head, memory_order_release);
	return 1;
}

/* A 200 whose body is an error object the worker words itself (timeouts, deaths). */
static void
sandbox_reply_error(const struct sandbox *sb, const struct sandbox_inflight *f,
		    struct sandbox_done *done, const char *type, const char *message)
{
	struct response_buf rb;
	struct response_ok ok;

	done->out.fn_error = true;
	response_buf_open(&rb, f->resp, f->resp_cap);
	response_begin_ok_version(&rb, &ok, f->request_id, sb->version, sb->version_len);
	response_body_fn_error(&rb, type, message);
	if (rb.overflow || response_finish_ok(&rb, &ok, true, f->trace, f->trace_len, "", 0,
					      f->log_tail) != 0) {
		done->kind = SANDBOX_DONE_NO_ROOM;
		return;
	}
	done->kind = SANDBOX_DONE_REPLY;
	done->resp_len = rb.len;
}

static void
sandbox_reply_timedout(const struct sandbox *sb, const struct sandbox_inflight *f,
		       struct sandbox_done *done)
{
	char message[64];

	done->out.timed_out = true;
	invoke_timeout_text(message, sizeof(message), f->timeout_ms, f->deadline_tsc,
			    f->submit_tsc, f->tsc_hz);
	sandbox_reply_error(sb, f, done, "Sandbox.Timedout", message);
}

/* Lambda's words for a runtime that died in a call. */
static void
sandbox_reply_exited(const struct sandbox *sb, const struct sandbox_inflight *f,
		     struct sandbox_done *done, const char *how)
{
	char message[160];

	done->exited = true;
	done->out_of_memory = sb->out_of_memory && sb->oom_call == f->call_id;
	snprintf(message, sizeof(message),
		 "RequestId: %" PRIu64 " Error: Runtime exited with error: %s", f->request_id, how);
	sandbox_reply_error(sb, f, done,
			    done->out_of_memory ? "Runtime.OutOfMemory" : "Runtime.ExitError",
			    message);
}

/* Anything a sandbox writes that no honest one would: it is killed, its call answered. */
static int
sandbox_broken(struct sandbox *sb, const struct sandbox_inflight *f, struct sandbox_done *done,
	       const char *what)
{
	char how[96];

	sandbox_kill(sb);
	sb->killed = true;
	snprintf(how, sizeof(how), "signal: killed (%s)", what);
	sandbox_reply_exited(sb, f, done, how);
	return sandbox_complete(sb);
}

/*
 * The sandbox's result, into the call's buffer: the envelope from the
 * worker's own record of the call, the body and log tail copied from the
 * region once their offsets and lengths are known to lie inside it. The
 * bytes themselves are the function's to choose.
 */
static int
sandbox_take_result(struct sandbox *sb, const struct sandbox_inflight *f, uint32_t tail,
		    struct sandbox_done *done)
{
	uint32_t slot = sb->resp_head & (sb->nb_slots - 1);
	const uint8_t *out = sb->base + sandbox_region_out_off(sb->nb_slots, sb->in_max,
							      sb->out_max, slot);
	const char *log = (const char *)sb->base +
		sandbox_region_log_off(sb->nb_slots, sb->in_max, sb->out_max, sb->log_max, slot);
	struct response_ok ok, ok_before_finish;
	struct sandbox_resp d;
	struct response_buf rb;
	char message[96];

	/* One copy, checked, then used: the sandbox may rewrite the region meanwhile. */
	memcpy(&d, (const void *)&sb->region->resp[slot], sizeof(d));
	if (tail - sb->resp_head > sb->nb_inflight)
		return sandbox_broken(sb, f, done, "more results than calls");
	if (d.call_id != f->call_id)
		return sandbox_broken(sb, f, done, "a result for another call");

	switch (d.status) {
	case SANDBOX_RESP_OK:
		break;
	case SANDBOX_RESP_NO_ROOM:
		done->kind = SANDBOX_DONE_NO_ROOM;
		return sandbox_complete(sb);
	case SANDBOX_RESP_EXPIRED:
		sandbox_reply_timedout(sb, f, done);
		return sandbox_complete(sb);
	default:
		return sandbox_broken(sb, f, done, "an unknown result status");
	}
	if (d.body_len == 0 || d.body_off > sb->out_max || d.body_len > sb->out_max - d.body_off ||
	    d.log_len > sb->log_max)
		return sandbox_broken(sb, f, done, "a result outside its buffers");

	done->out.fn_error = d.fn_error != 0;
	done->out.timed_out = d.timed_out != 0;
	done->out.too_large = d.too_large != 0;
	done->out.was_cold = d.was_cold != 0;

	response_buf_open(&rb, f->resp, f->resp_cap);
	response_begin_ok_version(&rb, &ok, f->request_id, sb->version, sb->version_len);
	if (rb.overflow) {
		done->kind = SANDBOX_DONE_NO_ROOM;
		return sandbox_complete(sb);
	}
	ok_before_finish = ok;
	if (d.body_len <= rb.cap - rb.len) {
		response_buf_write(&rb, (const char *)out + d.body_off, d.body_len);
		if (response_finish_ok(&rb, &ok, done->out.fn_error, f->trace, f->trace_len,
				       log, d.log_len, f->log_tail) == 0 && !rb.overflow)
			goto done;
	}
	/* It did not fit here although it fitted the sandbox's bound: too large all the same. */
	ok = ok_before_finish;
	response_discard_body(&rb, &ok);
	done->out.fn_error = true;
	done->out.too_large = true;
	snprintf(message, sizeof(message),
		 "Response payload size exceeded maximum allowed payload size (%u bytes).",
		 rb.cap - ok.body_at);
	response_body_fn_error(&rb, "Function.ResponseSizeTooLarge", message);
	if (rb.overflow || response_finish_ok(&rb, &ok, true, f->trace, f->trace_len, log,
					      d.log_len, f->log_tail) != 0 || rb.overflow) {
		done->kind = SANDBOX_DONE_NO_ROOM;
		return sandbox_complete(sb);
	}
done:
	done->kind = SANDBOX_DONE_REPLY;
	done->resp_len = rb.len;
	return sandbox_complete(sb);
}

int
sandbox_poll(struct sandbox *sb, uint64_t now_tsc, struct sandbox_done *done)
{
	struct sandbox_region *r = sb->region;
	const struct sandbox_inflight *f;
	uint32_t started, tail, idx = sb->resp_head;
	enum sandbox_state state;
	char how[64];

	if (sb->nb_inflight == 0) {
		if (sandbox_state(sb) == SANDBOX_DEAD)
			sandbox_set_state(sb, SANDBOX_DRAINED);
		return 0;
	}
	f = &sb->inflight[idx & (sb->nb_slots - 1)];
	memset(done, 0, sizeof(*done));
	done->cookie = f->cookie;
	if (sb->abandoned_head) {
		sb->abandoned_head = false;
		sandbox_reply_exited(sb, f, done, "signal: killed");
		return sandbox_complete(sb);
	}
	if (sb->killed) {
		done->kind = SANDBOX_DONE_UNRUN;
		return sandbox_complete(sb);
	}

	/*
	 * In this order: a death seen here happened after every result the
	 * sandbox published, so the tail read next holds them all; a start seen
	 * here of a call answered without running is followed by its result.
	 */
	state = sandbox_state(sb);
	started = atomic_load_explicit(&r->req_head, memory_order_acquire);
	tail = atomic_load_explicit(&r->resp_tail, memory_order_acquire);
	if (tail != idx)
		return sandbox_take_result(sb, f, tail, done);

	if (state == SANDBOX_DEAD) {
		sb->killed = true;
		if ((int32_t)(started - idx) <= 0) {
			done->kind = SANDBOX_DONE_UNRUN;
			return sandbox_complete(sb);
		}
		sandbox_exit_text(sb->wait_status, how, sizeof(how));
		sandbox_reply_exited(sb, f, done, how);
		return sandbox_complete(sb);
	}
	/* Overran: killed at its deadline. One not taken yet gets a moment to be refused. */
	if (now_tsc >= f->deadline_tsc &&
	    ((int32_t)(started - idx) > 0 ||
	     now_tsc - f->deadline_tsc >= f->tsc_hz / 1000u * SANDBOX_TAKE_GRACE_MS)) {
		sandbox_kill(sb);
		sb->killed = true;
		done->killed = true;
		sandbox_reply_timedout(sb, f, done);
		return sandbox_complete(sb);
	}
	return 0;
}

void
sandbox_abandon(struct sandbox *sb)
{
	struct sandbox_region *r = sb->region;
	uint32_t started = atomic_load_explicit(&r->req_head, memory_order_acquire);
	uint32_t tail = atomic_load_explicit(&r->resp_tail, memory_order_acquire);

	if (sb->killed)
		return;
	sandbox_kill(sb);
	sb->killed = true;
	/* The oldest call had started and had no result yet: it was running. */
	sb->abandoned_head = sb->nb_inflight != 0 && (int32_t)(started - sb->resp_head) > 0 &&
			     tail == sb->resp_head;
}

void
sandbox_expire(const struct sandbox *sb, const struct invoke_args *args, uint8_t *resp,
	       uint32_t resp_cap, struct sandbox_done *done)
{
	const struct turbine_ctx *ctx = &args->ctx;
	struct sandbox_inflight f = {
		.request_id = ctx->request_id,
		.deadline_tsc = ctx->deadline_tsc,
		.submit_tsc = ctx->deadline_tsc,
		.tsc_hz = ctx->tsc_hz,
		.trace = ctx->trace.ptr,
		.resp = resp,
		.resp_cap = resp_cap,
		.timeout_ms = args->timeout_ms,
		.trace_len = ctx->trace.len,
		.log_tail = args->log_tail,
	};

	memset(done, 0, sizeof(*done));
	sandbox_reply_timedout(sb, &f, done);
}
