/* The jail of a sandbox process: mounts, limits, identity, no_new_privs and seccomp filters. */
#ifndef TURBINE_JAIL_H
#define TURBINE_JAIL_H

/*
 * The steps, in the order turbine-sandbox takes them (sandbox_main.c), the
 * way Firecracker's jailer prepares a microVM before the VMM runs guest code:
 *
 *   the dispatcher: new mount, PID, IPC, UTS (and network) namespaces, every
 *       descriptor but the region closed, an empty environment, death with
 *       its parent (sandbox.c);
 *   init process:   oom_score_adj 1000, jail_mounts (private propagation, a
 *                   /proc of its own PID namespace, everything read-only and
 *                   nosuid), then it forks the call process, then
 *                   jail_no_new_privs and jail_seccomp_reaper (it only waits)
 *                   and says it is jailed;
 *   call process:   jail_limits (RLIMIT_AS from memory_mb), chdir /, the
 *                   module opened, jail_drop_privileges, PR_SET_PDEATHSIG
 *                   again (a change of user clears it), jail_no_new_privs,
 *                   the region's fd closed, a wait for the init process to
 *                   be jailed, the init filter (jail_seccomp_load), dlopen
 *                   and init, the calls filter, ready.
 *
 * Every function returns 0 or -errno with `err` naming the step.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* In a new mount namespace, as root: what the sandbox sees of the file system. */
int jail_mounts(char *err, size_t errlen);

/* RLIMIT_AS (0: none), no core dumps, a bounded number of descriptors. */
int jail_limits(uint64_t as_bytes, char *err, size_t errlen);

/* setgroups, setresgid, setresuid, then a check that none of root's ids is left. */
int jail_drop_privileges(uid_t uid, gid_t gid, char *err, size_t errlen);

/* PR_SET_NO_NEW_PRIVS and not dumpable (no ptrace, no /proc/PID/mem for its peers). */
int jail_no_new_privs(char *err, size_t errlen);

/* The init process's filter: wait for its child, report, exit. */
int jail_seccomp_reaper(char *err, size_t errlen);

enum jail_stage {
	JAIL_STAGE_INIT,   /* loading the module and running init: read-only opens too */
	JAIL_STAGE_CALLS,  /* serving calls: no new files, no new executable memory */
};

/*
 * Both filters are built before the first is loaded (libseccomp probes the
 * kernel while nothing restricts it); loading one only adds to what came
 * before, so the calls filter narrows the init filter.
 */
struct jail_filters {
	void *init;   /* scmp_filter_ctx */
	void *calls;
};

int jail_seccomp_prepare(struct jail_filters *f, bool network, char *err, size_t errlen);
int jail_seccomp_load(struct jail_filters *f, enum jail_stage stage, char *err, size_t errlen);
void jail_seccomp_release(struct jail_filters *f);

#endif /* TURBINE_JAIL_H */
