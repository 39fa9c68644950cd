/* Lease tables: how Turbine nodes share a tenant's limit, the arithmetic of one bucket entry. */
#ifndef TURBINE_LEASE_TABLE_H
#define TURBINE_LEASE_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * One key of the lease bucket per limited tenant holds a lease table: for
 * every node that holds or wants part of the tenant's limits, what it holds
 * (counted against the limit), what it wants, and when its holding expires.
 * A node rewrites the table by compare-and-set on the key's revision, and
 * changes only its own row and the rows that have expired: the sum of what
 * live rows hold never exceeds the limit, because a node takes only what the
 * other rows leave free (lease_decide()).
 *
 * Nothing here knows of NATS or of the data plane: the leases thread
 * (leases.c) reads and writes tables, the unit tests check the arithmetic.
 */

#define LEASE_MAX_NODES 32
#define LEASE_NODE_MAX 64          /* characters of a node id */
#define LEASE_TABLE_TEXT_MAX (LEASE_MAX_NODES * (LEASE_NODE_MAX + 128) + 8)

/* A tenant's two limits, each leased on its own. */
enum lease_dim {
	LEASE_CONCURRENCY = 0,
	LEASE_RATE,
	LEASE_DIMS
};

struct lease_row {
	char node[LEASE_NODE_MAX + 1];
	uint64_t held[LEASE_DIMS];      /* counted against the limit */
	uint64_t want[LEASE_DIMS];      /* above held: the node waits for more */
	uint64_t expires_ms;            /* wall clock, ms since the epoch */
};

struct lease_table {
	unsigned int nb;
	struct lease_row rows[LEASE_MAX_NODES];
};

/* What one node saw of one limit since its last renewal. */
struct lease_use {
	uint64_t share;     /* what its admission allows now */
	uint64_t used;      /* concurrency: calls in flight; rate: admissions per second */
	uint64_t floor;     /* the least it must keep counted: concurrency, calls in flight */
	bool pressed;       /* refused for this limit, or used reached the share */
};

/* What the other live rows of a table hold of one limit. */
struct lease_others {
	uint64_t held;
	unsigned int wanting;   /* rows that want more than they hold */
};

/* Remove the rows whose holding expired by now_ms; how many were. */
unsigned int lease_table_expire(struct lease_table *t, uint64_t now_ms);

/* The row of `node`, or NULL. */
struct lease_row *lease_table_find(struct lease_table *t, const char *node);

/* What every row but node's holds of limit `dim`. */
struct lease_others lease_table_others(const struct lease_table *t, const char *node,
				       enum lease_dim dim);

/* Sum of every row's holding of `dim`. */
uint64_t lease_table_sum(const struct lease_table *t, enum lease_dim dim);

/*
 * The policy: given the limit, what the others hold and what this node saw,
 * its new share (what its admission may allow) and, in *held, what its row
 * holds (never less than the share; concurrency also keeps its calls in
 * flight counted, so that a node shrinking under load does not let another
 * node's calls join its running ones above the limit), in *want what it
 * asks for. Both never exceed what the others leave free.
 *
 * - pressed (refused, or using all of its share): it takes what is free, up
 *   to the whole limit, or, when other nodes also want more, up to an equal
 *   split among those that want;
 * - others want more: it gives back what it does not use;
 * - nobody else asks: it keeps what it holds (a node that borrowed does not
 *   give back at each renewal what it will need again at the next one).
 */
uint64_t lease_decide(uint64_t limit, const struct lease_others *others,
		      const struct lease_use *use, uint64_t *held, uint64_t *want);

/*
 * Set node's row; a row that holds and wants nothing is removed. -1 when the
 * table is full (LEASE_MAX_NODES rows).
 */
int lease_table_set(struct lease_table *t, const char *node, const uint64_t held[LEASE_DIMS],
		    const uint64_t want[LEASE_DIMS], uint64_t expires_ms);

/*
 * The text a bucket value holds, JSON: {"NODE": {"c": held, "r": held,
 * "wc": want, "wr": want, "exp": ms}, ...}. Node ids are words
 * ([A-Za-z0-9_.-]), so nothing needs escaping. Returns the length, or -1
 * when it does not fit in len.
 */
int lease_table_format(const struct lease_table *t, char *buf, size_t len);
/* Parse a bucket value; 0, or -1 with `err` saying why (the table is then empty). */
int lease_table_parse(struct lease_table *t, const char *text, size_t len, char *err,
		      size_t errlen);

#endif /* TURBINE_LEASE_TABLE_H */
