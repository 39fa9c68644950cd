/* Leases: tenant limits shared by several Turbine nodes through a NATS key-value bucket. */
#ifndef TURBINE_LEASES_H
#define TURBINE_LEASES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "lease_table.h"
#include "runtime.h"

/*
 * With limits_backend = "nats", a limited tenant's concurrency and rate are
 * not this node's to spend: the node holds a lease on a share of them, one
 * row of the tenant's key in the bucket (lease_table.h), and its dispatchers
 * admit against that share exactly as they admit against a local limit
 * (counting_set_tenant_share()): admission stays on the dispatcher, at line
 * rate, and never waits for NATS.
 *
 * A thread of its own (not the control thread, so that a slow NATS never
 * delays heartbeats and sandboxes) renews every lease each lease_renew_ms,
 * and at once (at most four times a renewal period) when a tenant is
 * refused for want of share. What a node holds follows lease_decide(): it
 * starts with nothing, takes what is free when it is refused, keeps it
 * while no other node asks, and gives back what it does not use when one
 * does. A node that dies stops renewing: its row expires after
 * lease_ttl_ms and the next node to write removes it. A node that cannot
 * reach NATS keeps its share until a renewal period before its own row
 * would expire, then admits nothing for that tenant until it can renew
 * again. A clean shutdown gives its rows back.
 */

/* Start step: with limits_backend nats, connect, open the bucket, start the thread. */
int leases_init(struct runtime *rt, char *err, size_t errlen);
/* Give every row back, stop the thread, close the connection. */
void leases_stop(void);

/*
 * quotas.c, publishing a tenant's limits (at start-up, or changed by
 * turbinectl, holding functions_lock()): true when the leases own them (the
 * nats backend and a limit set), and have published this node's share;
 * false: publish them locally as usual.
 */
bool leases_manage(unsigned int tenant, const struct tenant_config *cfg);

/* One tenant's lease, for telemetry. */
struct leases_status {
	unsigned int tenant;                /* counting index */
	uint64_t limit[LEASE_DIMS];         /* the tenant's, over every node */
	uint64_t share[LEASE_DIMS];         /* this node's admission */
	uint64_t held[LEASE_DIMS];          /* this node's row */
	uint64_t want[LEASE_DIMS];
	uint64_t others[LEASE_DIMS];        /* the other live rows, at the last renewal */
	unsigned int nodes;                 /* live rows at the last renewal */
	int64_t expires_in_ms;              /* of this node's row; -1: it has none */
	uint64_t renewals, conflicts, failures, expired;
};

bool leases_enabled(void);
const char *leases_node(void);
bool leases_connected(void);
/* The leased tenants, at most max; how many. */
unsigned int leases_read(struct leases_status *out, unsigned int max);

#endif /* TURBINE_LEASES_H */
