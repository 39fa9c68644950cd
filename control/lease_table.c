/* Lease tables: how Turbine nodes share a tenant's limit, the arithmetic of one bucket entry. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "lease_table.h"

static const char *const lease_held_keys[LEASE_DIMS] = { "c", "r" };
static const char *const lease_want_keys[LEASE_DIMS] = { "wc", "wr" };

static uint64_t
lease_min(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static uint64_t
lease_max(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

unsigned int
lease_table_expire(struct lease_table *t, uint64_t now_ms)
{
	unsigned int i = 0, removed = 0;

	while (i < t->nb) {
		if (t->rows[i].expires_ms > now_ms) {
			i++;
			continue;
		}
		t->rows[i] = t->rows[--t->nb];
		removed++;
	}
	return removed;
}

struct lease_row *
lease_table_find(struct lease_table *t, const char *node)
{
	unsigned int i;

	for (i = 0; i < t->nb; i++)
		if (strcmp(t->rows[i].node, node) == 0)
			return &t->rows[i];
	return NULL;
}

struct lease_others
lease_table_others(const struct lease_table *t, const char *node, enum lease_dim dim)
{
	struct lease_others o = { 0, 0 };
	unsigned int i;

	for (i = 0; i < t->nb; i++) {
		const struct lease_row *r = &t->rows[i];

		if (strcmp(r->node, node) == 0)
			continue;
		o.held += r->held[dim];
		if (r->want[dim] > r->held[dim])
			o.wanting++;
	}
	return o;
}

uint64_t
lease_table_sum(const struct lease_table *t, enum lease_dim dim)
{
	uint64_t sum = 0;
	unsigned int i;

	for (i = 0; i < t->nb; i++)
		sum += t->rows[i].held[dim];
	return sum;
}

uint64_t
lease_decide(uint64_t limit, const struct lease_others *others, const struct lease_use *use,
	     uint64_t *held, uint64_t *want)
{
	/* Others may hold more than a lowered limit until they renew: then nothing is free. */
	uint64_t free = limit > others->held ? limit - others->held : 0;
	uint64_t target, share;

	if (use->pressed) {
		unsigned int n = others->wanting + 1;

		target = others->wanting ? (limit + n - 1) / n : limit;
		*want = limit;
	} else if (others->wanting) {
		target = use->used;
		*want = target;
	} else {
		target = lease_max(use->share, use->used);
		*want = target;
	}
	share = lease_min(target, free);
	*held = lease_min(lease_max(share, use->floor), free);
	*want = lease_min(*want, limit);
	return share;
}

int
lease_table_set(struct lease_table *t, const char *node, const uint64_t held[LEASE_DIMS],
		const uint64_t want[LEASE_DIMS], uint64_t expires_ms)
{
	struct lease_row *r = lease_table_find(t, node);
	bool empty = true;
	unsigned int d;

	for (d = 0; d < LEASE_DIMS; d++)
		if (held[d] != 0 || want[d] != 0)
			empty = false;
	if (empty) {
		if (r != NULL)
			*r = t->rows[--t->nb];
		return 0;
	}
	if (r == NULL) {
		if (t->nb >= LEASE_MAX_NODES)
			return -1;
		r = &t->rows[t->nb++];
		snprintf(r->node, sizeof(r->node), "%s", node);
	}
	memcpy(r->held, held, sizeof(r->held));
	memcpy(r->want, want, sizeof(r->want));
	r->expires_ms = expires_ms;
	return 0;
}

int
lease_table_format(const struct lease_table *t, char *buf, size_t len)
{
	size_t off = 0;
	unsigned int i;
	int n;

	n = snprintf(buf, len, "{");
	if (n < 0 || (size_t)n >= len)
		return -1;
	off = (size_t)n;
	for (i = 0; i < t->nb; i++) {
		const struct lease_row *r = &t->rows[i];

		n = snprintf(buf + off, len - off,
			     "%s\"%s\":{\"c\":%" PRIu64 ",\"r\":%" PRIu64 ",\"wc\":%" PRIu64
			     ",\"wr\":%" PRIu64 ",\"exp\":%" PRIu64 "}",
			     i ? "," : "", r->node, r->held[LEASE_CONCURRENCY], r->held[LEASE_RATE],
			     r->want[LEASE_CONCURRENCY], r->want[LEASE_RATE], r->expires_ms);
		if (n < 0 || (size_t)n >= len - off)
			return -1;
		off += (size_t)n;
	}
	n = snprintf(buf + off, len - off, "}");
	if (n < 0 || (size_t)n >= len - off)
		return -1;
	return (int)(off + (size_t)n);
}

/* A member that must be a non-negative integer. */
static int
lease_parse_u64(const json_t *row, const char *key, uint64_t *v)
{
	const json_t *x = json_object_get(row, key);

	if (!json_is_integer(x) || json_integer_value(x) < 0)
		return -1;
	*v = (uint64_t)json_integer_value(x);
	return 0;
}

int
lease_table_parse(struct lease_table *t, const char *text, size_t len, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *doc = json_loadb(text, len, 0, &jerr), *row;
	const char *node;
	unsigned int d;

	t->nb = 0;
	if (!json_is_object(doc)) {
		snprintf(err, errlen, "not a JSON object: %s", doc ? "another value" : jerr.text);
		json_decref(doc);
		return -1;
	}
	json_object_foreach(doc, node, row) {
		struct lease_row *r;

		if (t->nb >= LEASE_MAX_NODES || strlen(node) > LEASE_NODE_MAX) {
			snprintf(err, errlen, "more than %u nodes, or a node id too long",
				 LEASE_MAX_NODES);
			goto fail;
		}
		r = &t->rows[t->nb];
		snprintf(r->node, sizeof(r->node), "%s", node);
		for (d = 0; d < LEASE_DIMS; d++)
			if (lease_parse_u64(row, lease_held_keys[d], &r->held[d]) != 0 ||
			    lease_parse_u64(row, lease_want_keys[d], &r->want[d]) != 0)
				goto bad_row;
		if (lease_parse_u64(row, "exp", &r->expires_ms) != 0)
			goto bad_row;
		t->nb++;
	}
	json_decref(doc);
	return 0;

bad_row:
	snprintf(err, errlen, "node %s: expected c, r, wc, wr and exp as integers", node);
fail:
	t->nb = 0;
	json_decref(doc);
	return -1;
}
