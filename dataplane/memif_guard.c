/* A guard for DPDK 22.11's memif driver: shared memory is unmapped only after every data lcore is quiescent. */
#include <dlfcn.h>
#include <stddef.h>
#include <sys/mman.h>

#include <rte_lcore.h>
#include <rte_pause.h>
#include <rte_rcu_qsbr.h>

#include "memif_guard.h"

/*
 * When a memif peer disconnects, the driver clears its "connected" flag and
 * unmaps the shared rings from the interrupt thread, without waiting for a
 * polling lcore that checked the flag a moment before and is still reading
 * the rings: that lcore then faults. The driver offers no hook between the
 * two, so the unmap itself is guarded: this definition of munmap() comes
 * first in the process's symbol lookup (the executable exports its
 * symbols), and before passing a call from a thread that is not a data
 * lcore on to the C library it waits until every data lcore has been
 * quiescent once. By then each has finished the burst it was in and will
 * see the cleared flag in its next one. Only while a memif port is served;
 * lcores' own calls and calls before or after serving pass straight on.
 *
 * A worker stuck in a handler never reports quiescent, so the wait is
 * polled and ends when the guard is disabled: the exit path past the
 * drain's deadline disables it first, and any unmap then (a module's
 * fini freeing memory, the port's close) or one already waiting passes on.
 * The stuck lcore is not marked offline instead: that would also let a
 * redeploy waiting on RCU unload the module the lcore is still running.
 */

static int (*memif_guard_real_munmap)(void *addr, size_t len);
static struct rte_rcu_qsbr *memif_guard_rcu;

/* Found before main(): the next munmap in lookup order (the C library's, or a sanitizer's). */
__attribute__((constructor)) static void
memif_guard_resolve(void)
{
	memif_guard_real_munmap = (int (*)(void *, size_t))dlsym(RTLD_NEXT, "munmap");
}

void
memif_guard_enable(struct rte_rcu_qsbr *rcu)
{
	__atomic_store_n(&memif_guard_rcu, rcu, __ATOMIC_RELEASE);
}

void
memif_guard_disable(void)
{
	__atomic_store_n(&memif_guard_rcu, NULL, __ATOMIC_RELEASE);
}

__attribute__((visibility("default"))) int
munmap(void *addr, size_t len)
{
	struct rte_rcu_qsbr *rcu = __atomic_load_n(&memif_guard_rcu, __ATOMIC_ACQUIRE);

	if (rcu != NULL && rte_lcore_id() == LCORE_ID_ANY) {
		uint64_t token = rte_rcu_qsbr_start(rcu);

		while (rte_rcu_qsbr_check(rcu, token, false) == 0 &&
		       __atomic_load_n(&memif_guard_rcu, __ATOMIC_ACQUIRE) != NULL)
			rte_pause();
	}
	return memif_guard_real_munmap(addr, len);
}
