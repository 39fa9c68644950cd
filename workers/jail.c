/* The jail of a sandbox process: mounts, limits, identity, no_new_privs and seccomp filters. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/seccomp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include <seccomp.h>

#include "jail.h"

/* Descriptors a sandbox may hold: its stdio, the region, the module's sockets and files. */
#define JAIL_NOFILE 256u

static int __attribute__((format(printf, 4, 5)))
jail_fail(int ret, char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return ret;
}

int
jail_mounts(char *err, size_t errlen)
{
	struct mount_attr attr = {
		.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID,
	};

	/* Nothing done here propagates back to the host's mounts. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
		return jail_fail(-errno, err, errlen, "jail: making the mounts private: %s",
				 strerror(errno));
	/* A /proc that shows this PID namespace only: the sandbox sees no other process. */
	if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0)
		return jail_fail(-errno, err, errlen, "jail: mounting /proc: %s", strerror(errno));
	/* Read-only everywhere, /proc included: a sandbox keeps no state outside its memory. */
	if (mount_setattr(AT_FDCWD, "/", AT_RECURSIVE, &attr, sizeof(attr)) != 0)
		return jail_fail(-errno, err, errlen, "jail: remounting read-only: %s",
				 strerror(errno));
	return 0;
}

int
jail_limits(uint64_t as_bytes, char *err, size_t errlen)
{
	struct rlimit none = { 0, 0 };
	struct rlimit files = { JAIL_NOFILE, JAIL_NOFILE };
	struct rlimit as = { as_bytes, as_bytes };

#if defined(__SANITIZE_ADDRESS__)
	/* AddressSanitizer reserved terabytes of shadow before main(): no limit can apply. */
	as_bytes = 0;
#endif
	if (as_bytes != 0 && setrlimit(RLIMIT_AS, &as) != 0)
		return jail_fail(-errno, err, errlen, "jail: RLIMIT_AS %llu: %s",
				 (unsigned long long)as_bytes, strerror(errno));
	if (setrlimit(RLIMIT_CORE, &none) != 0 || setrlimit(RLIMIT_NOFILE, &files) != 0)
		return jail_fail(-errno, err, errlen, "jail: RLIMIT_CORE/NOFILE: %s",
				 strerror(errno));
	return 0;
}

int
jail_drop_privileges(uid_t uid, gid_t gid, char *err, size_t errlen)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;

	if (setgroups(0, NULL) != 0 || setresgid(gid, gid, gid) != 0 ||
	    setresuid(uid, uid, uid) != 0)
		return jail_fail(-errno, err, errlen, "jail: becoming %u:%u: %s",
				 (unsigned int)uid, (unsigned int)gid, strerror(errno));
	if (getresuid(&ru, &eu, &su) != 0 || getresgid(&rg, &eg, &sg) != 0 || ru != uid ||
	    eu != uid || su != uid || rg != gid || eg != gid || sg != gid)
		return jail_fail(-EPERM, err, errlen, "jail: still holding another user or group");
	return 0;
}

int
jail_no_new_privs(char *err, size_t errlen)
{
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return jail_fail(-errno, err, errlen, "jail: PR_SET_NO_NEW_PRIVS: %s",
				 strerror(errno));
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		return jail_fail(-errno, err, errlen, "jail: PR_SET_DUMPABLE: %s", strerror(errno));
	return 0;
}

/* Which filter a system call is allowed in. */
#define JAIL_INIT  0x1u
#define JAIL_CALLS 0x2u
#define JAIL_BOTH  (JAIL_INIT | JAIL_CALLS)
#define JAIL_NET   0x4u   /* and only with network = true */

struct jail_syscall {
	int nr;
	unsigned int where;
};

#define JAIL_SYS(name, where) { SCMP_SYS(name), where }

/*
 * Allowed without looking at the arguments. Everything else kills the
 * process (SCMP_ACT_KILL_PROCESS), except the few answered with an error
 * below, which libraries are known to try and to do without.
 */
static const struct jail_syscall jail_allowed[] = {
	/* The call loop and the runtime: waiting on the region, time, memory. */
	JAIL_SYS(futex, JAIL_BOTH),
	JAIL_SYS(clock_gettime, JAIL_BOTH),
	JAIL_SYS(clock_getres, JAIL_BOTH),
	JAIL_SYS(gettimeofday, JAIL_BOTH),
	JAIL_SYS(clock_nanosleep, JAIL_BOTH),
	JAIL_SYS(nanosleep, JAIL_BOTH),
	JAIL_SYS(sched_yield, JAIL_BOTH),
	JAIL_SYS(brk, JAIL_BOTH),
	JAIL_SYS(munmap, JAIL_BOTH),
	JAIL_SYS(mremap, JAIL_BOTH),
	JAIL_SYS(madvise, JAIL_BOTH),
	/* Descriptors it already holds: stdio on /dev/null, the module's own files and sockets. */
	JAIL_SYS(read, JAIL_BOTH),
	JAIL_SYS(write, JAIL_BOTH),
	JAIL_SYS(readv, JAIL_BOTH),
	JAIL_SYS(writev, JAIL_BOTH),
	JAIL_SYS(pread64, JAIL_BOTH),
	JAIL_SYS(pwrite64, JAIL_BOTH),
	JAIL_SYS(lseek, JAIL_BOTH),
	JAIL_SYS(close, JAIL_BOTH),
	JAIL_SYS(fstat, JAIL_BOTH),
	JAIL_SYS(fcntl, JAIL_BOTH),
	/* Signals to itself (abort, raise): its PID namespace holds nobody else it may signal. */
	JAIL_SYS(getpid, JAIL_BOTH),
	JAIL_SYS(gettid, JAIL_BOTH),
	JAIL_SYS(tgkill, JAIL_BOTH),
	JAIL_SYS(rt_sigprocmask, JAIL_BOTH),
	JAIL_SYS(rt_sigaction, JAIL_BOTH),
	JAIL_SYS(rt_sigreturn, JAIL_BOTH),
	JAIL_SYS(sigaltstack, JAIL_BOTH),
	JAIL_SYS(restart_syscall, JAIL_BOTH),
	/* What libraries ask about the process they run in. */
	JAIL_SYS(getuid, JAIL_BOTH),
	JAIL_SYS(geteuid, JAIL_BOTH),
	JAIL_SYS(getgid, JAIL_BOTH),
	JAIL_SYS(getegid, JAIL_BOTH),
	JAIL_SYS(uname, JAIL_BOTH),
	JAIL_SYS(getrandom, JAIL_BOTH),
	JAIL_SYS(exit, JAIL_BOTH),
	JAIL_SYS(exit_group, JAIL_BOTH),
	/* Init: the dynamic loader, the module's libraries and their configuration files. */
	JAIL_SYS(newfstatat, JAIL_INIT),
	JAIL_SYS(statx, JAIL_INIT),
	JAIL_SYS(readlink, JAIL_INIT),
	JAIL_SYS(readlinkat, JAIL_INIT),
	JAIL_SYS(access, JAIL_INIT),
	JAIL_SYS(faccessat, JAIL_INIT),
	JAIL_SYS(faccessat2, JAIL_INIT),
	JAIL_SYS(getdents64, JAIL_INIT),
	JAIL_SYS(getcwd, JAIL_INIT),
	JAIL_SYS(sysinfo, JAIL_INIT),
	JAIL_SYS(sched_getaffinity, JAIL_INIT),
	JAIL_SYS(prlimit64, JAIL_INIT),
	/* network = true: a client's sockets (dbcount's MariaDB connection). No bind, no listen. */
	JAIL_SYS(socket, JAIL_BOTH | JAIL_NET),
	JAIL_SYS(connect, JAIL_BOTH | JAIL_NET),
	JAIL_SYS(sendto, JAIL_BOTH | JAIL_NET),
	JAIL_SYS(recvfrom, JAIL_BOTH | JAIL_NET),
	JAIL_SYS(sendmsg, JAIL_BOTH | JAIL_NET),
	JAIL_SYS(recvmsg, JAIL_BOTH | JAIL_NET),
	JAIL_SYS(shutdown, JAIL_BOTH | JAIL_NET),
	JAIL_SYS(getsockopt, JAIL_BOTH | JAIL_NET),
	JAIL_SYS(setsockopt, JAIL_BOTH | JAIL_NET),
	JAIL_SYS(getsockname, JAIL_BOTH | JAIL_NET),
	JAIL_SYS(getpeername, JAIL_BOTH | JAIL_NET),
	JAIL_SYS(poll, JAIL_BOTH | JAIL_NET),
	JAIL_SYS(ppoll, JAIL_BOTH | JAIL_NET),
	JAIL_SYS(select, JAIL_BOTH | JAIL_NET),
	JAIL_SYS(pselect6, JAIL_BOTH | JAIL_NET),
	JAIL_SYS(epoll_create1, JAIL_BOTH | JAIL_NET),
	JAIL_SYS(epoll_ctl, JAIL_BOTH | JAIL_NET),
	JAIL_SYS(epoll_wait, JAIL_BOTH | JAIL_NET),
	JAIL_SYS(epoll_pwait, JAIL_BOTH | JAIL_NET),
#if defined(__SANITIZE_ADDRESS__)
	/* build-asan: the sanitizers' runtime finds its own executable when it reports. */
	JAIL_SYS(readlink, JAIL_CALLS),
#endif
};

/* The init process only waits for the call process and reports how it ended. */
static const int jail_reaper_allowed[] = {
	SCMP_SYS(wait4), SCMP_SYS(waitid), SCMP_SYS(futex), SCMP_SYS(exit), SCMP_SYS(exit_group),
	SCMP_SYS(rt_sigreturn), SCMP_SYS(restart_syscall), SCMP_SYS(brk), SCMP_SYS(munmap),
	SCMP_SYS(madvise), SCMP_SYS(sigaltstack),
};

static int
jail_rule(scmp_filter_ctx ctx, uint32_t action, int nr, unsigned int nb,
	  const struct scmp_arg_cmp *cmp, char *err, size_t errlen)
{
	int ret = seccomp_rule_add_array(ctx, action, nr, nb, cmp);
	char *name;

	if (ret == 0)
		return 0;
	name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
	jail_fail(ret, err, errlen, "jail: seccomp rule for %s: %s", name != NULL ? name : "?",
		  strerror(-ret));
	free(name);
	return ret;
}

static int
jail_allow(scmp_filter_ctx ctx, int nr, char *err, size_t errlen)
{
	return jail_rule(ctx, SCMP_ACT_ALLOW, nr, 0, NULL, err, errlen);
}

#define JAIL_NO_NET 0x8u  /* only with network = false */
#define JAIL_ARG(n, cmp, a, b) \
	.has_arg = true, .arg = { .arg = (n), .op = (cmp), .datum_a = (a), .datum_b = (b) }

/* Rules that look at an argument, or answer with an error instead of killing. */
struct jail_rule {
	int nr;
	unsigned int where;
	uint32_t action;
	bool has_arg;
	struct scmp_arg_cmp arg;
};

static const struct jail_rule jail_rules[] = {
	/* Init: the loader maps libraries executable; files are opened for reading only (a
	 * write open is answered as the read-only mounts would answer it). */
	{ SCMP_SYS(mmap), JAIL_INIT, SCMP_ACT_ALLOW, false, { 0 } },
	{ SCMP_SYS(mprotect), JAIL_INIT, SCMP_ACT_ALLOW, false, { 0 } },
	{ SCMP_SYS(openat), JAIL_INIT, SCMP_ACT_ALLOW,
	  JAIL_ARG(2, SCMP_CMP_MASKED_EQ, O_ACCMODE, O_RDONLY) },
	{ SCMP_SYS(openat), JAIL_INIT, SCMP_ACT_ERRNO(EROFS),
	  JAIL_ARG(2, SCMP_CMP_MASKED_EQ, O_ACCMODE, O_WRONLY) },
	{ SCMP_SYS(openat), JAIL_INIT, SCMP_ACT_ERRNO(EROFS),
	  JAIL_ARG(2, SCMP_CMP_MASKED_EQ, O_ACCMODE, O_RDWR) },
	{ SCMP_SYS(newfstatat), JAIL_INIT, SCMP_ACT_ALLOW, false, { 0 } },
	/* To load the calls filter on top of the init filter. */
	{ SCMP_SYS(seccomp), JAIL_INIT, SCMP_ACT_ALLOW,
	  JAIL_ARG(0, SCMP_CMP_EQ, SECCOMP_SET_MODE_FILTER, 0) },
	/* Calls: no new code, no new files (what a call needs, init opened). */
	{ SCMP_SYS(mmap), JAIL_CALLS, SCMP_ACT_ALLOW,
	  JAIL_ARG(2, SCMP_CMP_MASKED_EQ, PROT_EXEC, 0) },
	{ SCMP_SYS(mprotect), JAIL_CALLS, SCMP_ACT_ALLOW,
	  JAIL_ARG(2, SCMP_CMP_MASKED_EQ, PROT_EXEC, 0) },
	{ SCMP_SYS(openat), JAIL_CALLS, SCMP_ACT_ERRNO(EACCES), false, { 0 } },
	/* fstat() is newfstatat(fd, "", AT_EMPTY_PATH): a descriptor's, not a path's. */
	{ SCMP_SYS(newfstatat), JAIL_CALLS, SCMP_ACT_ALLOW,
	  JAIL_ARG(3, SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH, AT_EMPTY_PATH) },
	/* isatty() on stdio, which stdio asks before it buffers. */
	{ SCMP_SYS(ioctl), JAIL_BOTH, SCMP_ACT_ALLOW, JAIL_ARG(1, SCMP_CMP_EQ, TCGETS, 0) },
	{ SCMP_SYS(ioctl), JAIL_BOTH | JAIL_NET, SCMP_ACT_ALLOW,
	  JAIL_ARG(1, SCMP_CMP_EQ, FIONBIO, 0) },
	{ SCMP_SYS(ioctl), JAIL_BOTH | JAIL_NET, SCMP_ACT_ALLOW,
	  JAIL_ARG(1, SCMP_CMP_EQ, FIONREAD, 0) },
	/* Without the network not even a Unix socket; glibc's nscd lookup does without. */
	{ SCMP_SYS(socket), JAIL_BOTH | JAIL_NO_NET, SCMP_ACT_ERRNO(EACCES), false, { 0 } },
#if defined(__SANITIZE_ADDRESS__)
	/* build-asan: the sanitizers' reports read /proc/self/cmdline with open(2); without
	 * it they still report (to /dev/null) and the process goes on to its real end. */
	{ SCMP_SYS(open), JAIL_BOTH, SCMP_ACT_ERRNO(EACCES), false, { 0 } },
#endif
};

/* Whether an entry of either table belongs in the filter of `stage`. */
static bool
jail_applies(unsigned int where, unsigned int stage, bool network)
{
	if (!(where & stage))
		return false;
	if ((where & JAIL_NET) && !network)
		return false;
	return !((where & JAIL_NO_NET) && network);
}

static int
jail_build(scmp_filter_ctx *out, unsigned int stage, bool network, char *err, size_t errlen)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	size_t i;
	int ret;

	*out = NULL;
	if (ctx == NULL)
		return jail_fail(-ENOMEM, err, errlen, "jail: seccomp_init failed");
	/* no_new_privs is set by jail_no_new_privs(), before the first filter. */
	ret = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
	if (ret != 0) {
		jail_fail(ret, err, errlen, "jail: seccomp attributes: %s", strerror(-ret));
		goto fail;
	}
	for (i = 0; i < sizeof(jail_allowed) / sizeof(jail_allowed[0]); i++) {
		const struct jail_syscall *s = &jail_allowed[i];

		if (!jail_applies(s->where, stage, network))
			continue;
		ret = jail_allow(ctx, s->nr, err, errlen);
		if (ret != 0)
			goto fail;
	}
	for (i = 0; i < sizeof(jail_rules) / sizeof(jail_rules[0]); i++) {
		const struct jail_rule *r = &jail_rules[i];

		if (!jail_applies(r->where, stage, network))
			continue;
		ret = jail_rule(ctx, r->action, r->nr, r->has_arg ? 1 : 0, &r->arg, err, errlen);
		if (ret != 0)
			goto fail;
	}
	*out = ctx;
	return 0;

fail:
	seccomp_release(ctx);
	return ret;
}

int
jail_seccomp_prepare(struct jail_filters *f, bool network, char *err, size_t errlen)
{
	int ret;

	f->init = NULL;
	f->calls = NULL;
	ret = jail_build((scmp_filter_ctx *)&f->init, JAIL_INIT, network, err, errlen);
	if (ret == 0)
		ret = jail_build((scmp_filter_ctx *)&f->calls, JAIL_CALLS, network, err, errlen);
	if (ret != 0)
		jail_seccomp_release(f);
	return ret;
}

int
jail_seccomp_load(struct jail_filters *f, enum jail_stage stage, char *err, size_t errlen)
{
	void **ctx = stage == JAIL_STAGE_INIT ? &f->init : &f->calls;
	int ret;

	if (*ctx == NULL)
		return jail_fail(-EINVAL, err, errlen, "jail: no seccomp filter prepared");
	ret = seccomp_load(*ctx);
	if (ret != 0)
		return jail_fail(ret, err, errlen, "jail: loading the %s seccomp filter: %s",
				 stage == JAIL_STAGE_INIT ? "init" : "calls", strerror(-ret));
	return 0;
}

void
jail_seccomp_release(struct jail_filters *f)
{
	if (f->init != NULL)
		seccomp_release(f->init);
	if (f->calls != NULL)
		seccomp_release(f->calls);
	f->init = NULL;
	f->calls = NULL;
}

int
jail_seccomp_reaper(char *err, size_t errlen)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	size_t i;
	int ret = 0;

	if (ctx == NULL)
		return jail_fail(-ENOMEM, err, errlen, "jail: seccomp_init failed");
	ret = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
	for (i = 0; ret == 0 && i < sizeof(jail_reaper_allowed) / sizeof(jail_reaper_allowed[0]);
	     i++)
		ret = jail_allow(ctx, jail_reaper_allowed[i], err, errlen);
	if (ret == 0) {
		ret = seccomp_load(ctx);
		if (ret != 0)
			jail_fail(ret, err, errlen, "jail: loading the init process's filter: %s",
				  strerror(-ret));
	}
	seccomp_release(ctx);
	return ret;
}
