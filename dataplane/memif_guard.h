/* A guard for DPDK 22.11's memif driver: shared memory is unmapped only after every data lcore is quiescent. */
#ifndef TURBINE_MEMIF_GUARD_H
#define TURBINE_MEMIF_GUARD_H

struct rte_rcu_qsbr;

/* Guard unmaps by other threads with this RCU variable (the data lcores report to it). */
void memif_guard_enable(struct rte_rcu_qsbr *rcu);
/* Stop guarding; an unmap waiting for a quiescent state now passes on too. */
void memif_guard_disable(void);

#endif /* TURBINE_MEMIF_GUARD_H */
