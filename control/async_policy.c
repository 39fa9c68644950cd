/* Lambda's retry rules for asynchronous events, and the table of idempotency keys seen lately. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_hash_crc.h>

#include "async_policy.h"

/* Doublings beyond this are past any cap or age limit; stopping here keeps the shifts defined. */
#define ASYNC_POLICY_MAX_SHIFT 32u

static uint64_t
async_policy_max_age_ms(const struct async_retry_config *cfg)
{
	return (uint64_t)cfg->max_event_age_s * 1000u;
}

bool
async_expired(const struct async_retry_config *cfg, uint64_t age_ms)
{
	return age_ms > async_policy_max_age_ms(cfg);
}

static struct async_decision
async_policy_fail(enum async_condition c)
{
	return (struct async_decision){ .verdict = ASYNC_FAILED, .condition = c };
}

/* The n-th wait (n >= 1): first, doubling each time. */
static uint64_t
async_policy_backoff(uint64_t first, uint32_t n)
{
	uint32_t shift = n > 0 ? n - 1 : 0;

	return first << (shift < ASYNC_POLICY_MAX_SHIFT ? shift : ASYNC_POLICY_MAX_SHIFT);
}

/*
 * Success ends the event whatever its age; a refusal for good and a function
 * error past its retries end it with RetriesExhausted; any other retry is
 * allowed only when the event is still young enough once the delay is over.
 */
struct async_decision
async_decide(const struct async_retry_config *cfg, enum async_result result, uint32_t attempts,
	     uint32_t throttles, uint64_t age_ms)
{
	uint64_t delay;

	switch (result) {
	case ASYNC_RESULT_OK:
		return (struct async_decision){ .verdict = ASYNC_FINISHED, .condition = ASYNC_SUCCESS };
	case ASYNC_RESULT_FUNCTION_ERROR:
		if (attempts > cfg->max_retry_attempts)
			return async_policy_fail(ASYNC_RETRIES_EXHAUSTED);
		delay = async_policy_backoff(cfg->retry_delay_ms, attempts);
		break;
	case ASYNC_RESULT_THROTTLED:
		/* Throttles never count as attempts: a call that did not run used no retry. */
		delay = async_policy_backoff(ASYNC_THROTTLE_FIRST_MS, throttles);
		if (delay > ASYNC_THROTTLE_MAX_MS)
			delay = ASYNC_THROTTLE_MAX_MS;
		break;
	case ASYNC_RESULT_REFUSED:
	default:
		return async_policy_fail(ASYNC_RETRIES_EXHAUSTED);
	}
	if (async_expired(cfg, age_ms) || age_ms + delay > async_policy_max_age_ms(cfg))
		return async_policy_fail(ASYNC_EVENT_AGE_EXCEEDED);
	return (struct async_decision){ .verdict = ASYNC_RETRY, .delay_ms = delay };
}

/*
 * The dedupe table: chained hashing for lookups, and a min-heap of the same
 * entries by expiry, so that expiring looks at the heap's top only and costs
 * nothing when no window has ended.
 *
 * A key is one string of bytes: the three lengths, then tenant, function and
 * idempotency key. The lengths make ("ab", "c") and ("a", "bc") differ, so
 * one memcmp compares all of it.
 */
#define ASYNC_DEDUPE_KEY_MAX (3 + 2 * CONFIG_NAME_MAX + UINT8_MAX)
#define ASYNC_DEDUPE_MIN_BUCKETS 64u

struct async_dedupe_entry {
	struct async_dedupe_entry *next;   /* in its hash chain */
	uint64_t expires_ns;
	uint32_t hash;
	uint32_t heap_index;               /* where it is in the heap, kept by every move */
	struct async_event_id id;
	uint16_t len;
	uint8_t bytes[];                   /* the key, as in struct async_dedupe_key */
};

struct async_dedupe {
	struct async_dedupe_entry **buckets;
	uint32_t nb_buckets;               /* a power of two, at least count */
	uint32_t count;
	struct async_dedupe_entry **heap;
	uint32_t heap_cap;
};

struct async_dedupe_key {
	/* 8-byte aligned: rte_hash_crc() loads words from where the data starts. */
	uint64_t words[(ASYNC_DEDUPE_KEY_MAX + 7) / 8];
	uint16_t len;
	uint32_t hash;
};

/* Names are at most CONFIG_NAME_MAX bytes (config.h): nothing longer can be configured. */
static void
async_dedupe_key(struct async_dedupe_key *k, const char *tenant, const char *function,
		 const uint8_t *key, uint8_t key_len)
{
	size_t tl = strnlen(tenant, CONFIG_NAME_MAX), fl = strnlen(function, CONFIG_NAME_MAX);
	uint8_t *p = (uint8_t *)k->words;

	p[0] = (uint8_t)tl;
	p[1] = (uint8_t)fl;
	p[2] = key_len;
	memcpy(p + 3, tenant, tl);
	memcpy(p + 3 + tl, function, fl);
	memcpy(p + 3 + tl + fl, key, key_len);
	k->len = (uint16_t)(3 + tl + fl + key_len);
	k->hash = rte_hash_crc(p, k->len, 0);
}

static struct async_dedupe_entry **
async_dedupe_slot(const struct async_dedupe *d, uint32_t hash)
{
	return &d->buckets[hash & (d->nb_buckets - 1)];
}

static struct async_dedupe_entry *
async_dedupe_lookup(const struct async_dedupe *d, const struct async_dedupe_key *k)
{
	struct async_dedupe_entry *e;

	for (e = *async_dedupe_slot(d, k->hash); e != NULL; e = e->next)
		if (e->hash == k->hash && e->len == k->len && memcmp(e->bytes, k->words, k->len) == 0)
			return e;
	return NULL;
}

static void
async_dedupe_heap_set(struct async_dedupe *d, uint32_t i, struct async_dedupe_entry *e)
{
	d->heap[i] = e;
	e->heap_index = i;
}

/* Restore the heap's order around position i after its entry's expiry changed. */
static void
async_dedupe_heap_fix(struct async_dedupe *d, uint32_t i)
{
	struct async_dedupe_entry *e = d->heap[i];

	while (i > 0 && d->heap[(i - 1) / 2]->expires_ns > e->expires_ns) {
		async_dedupe_heap_set(d, i, d->heap[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	for (;;) {
		uint32_t c = 2 * i + 1;

		if (c >= d->count)
			break;
		if (c + 1 < d->count && d->heap[c + 1]->expires_ns < d->heap[c]->expires_ns)
			c++;
		if (d->heap[c]->expires_ns >= e->expires_ns)
			break;
		async_dedupe_heap_set(d, i, d->heap[c]);
		i = c;
	}
	async_dedupe_heap_set(d, i, e);
}

struct async_dedupe *
async_dedupe_create(void)
{
	struct async_dedupe *d = calloc(1, sizeof(*d));

	if (d == NULL)
		return NULL;
	d->nb_buckets = ASYNC_DEDUPE_MIN_BUCKETS;
	d->buckets = calloc(d->nb_buckets, sizeof(*d->buckets));
	if (d->buckets == NULL) {
		free(d);
		return NULL;
	}
	return d;
}

void
async_dedupe_free(struct async_dedupe *d)
{
	uint32_t i;

	if (d == NULL)
		return;
	for (i = 0; i < d->count; i++)
		free(d->heap[i]);
	free(d->heap);
	free(d->buckets);
	free(d);
}

const struct async_event_id *
async_dedupe_find(struct async_dedupe *d, const char *tenant, const char *function,
		  const uint8_t *key, uint8_t key_len, uint64_t now_ns)
{
	struct async_dedupe_key k;
	const struct async_dedupe_entry *e;

	async_dedupe_key(&k, tenant, function, key, key_len);
	e = async_dedupe_lookup(d, &k);
	return e != NULL && e->expires_ns > now_ns ? &e->id : NULL;
}

/* Double the buckets (and the heap's room) before the table holds more entries than buckets. */
static int
async_dedupe_grow(struct async_dedupe *d)
{
	struct async_dedupe_entry **b, **h, *e;
	uint32_t n, i;

	if (d->count == d->heap_cap) {
		n = d->heap_cap ? d->heap_cap * 2 : ASYNC_DEDUPE_MIN_BUCKETS;
		h = realloc(d->heap, n * sizeof(*h));
		if (h == NULL)
			return -ENOMEM;
		d->heap = h;
		d->heap_cap = n;
	}
	if (d->count < d->nb_buckets)
		return 0;
	n = d->nb_buckets * 2;
	b = calloc(n, sizeof(*b));
	if (b == NULL)
		return -ENOMEM;
	/* Every entry is in the heap: rebuilding the chains from it needs no walk of the old ones. */
	for (i = 0; i < d->count; i++) {
		e = d->heap[i];
		e->next = b[e->hash & (n - 1)];
		b[e->hash & (n - 1)] = e;
	}
	free(d->buckets);
	d->buckets = b;
	d->nb_buckets = n;
	return 0;
}

int
async_dedupe_add(struct async_dedupe *d, const char *tenant, const char *function,
		 const uint8_t *key, uint8_t key_len, const struct async_event_id *id,
		 uint64_t expires_ns)
{
	struct async_dedupe_entry *e, **slot;
	struct async_dedupe_key k;

	async_dedupe_key(&k, tenant, function, key, key_len);
	e = async_dedupe_lookup(d, &k);
	if (e != NULL) {
		e->id = *id;
		e->expires_ns = expires_ns;
		async_dedupe_heap_fix(d, e->heap_index);
		return 0;
	}
	if (async_dedupe_grow(d) < 0)
		return -ENOMEM;
	e = malloc(sizeof(*e) + k.len);
	if (e == NULL)
		return -ENOMEM;
	e->expires_ns = expires_ns;
	e->hash = k.hash;
	e->id = *id;
	e->len = k.len;
	memcpy(e->bytes, k.words, k.len);

	slot = async_dedupe_slot(d, k.hash);
	e->next = *slot;
	*slot = e;
	d->heap[d->count++] = e;
	async_dedupe_heap_fix(d, d->count - 1);
	return 0;
}

/* Take the heap's top (the entry that ends first) out of the table and free it. */
static void
async_dedupe_pop(struct async_dedupe *d)
{
	struct async_dedupe_entry *top = d->heap[0], **p;

	for (p = async_dedupe_slot(d, top->hash); *p != top; p = &(*p)->next)
		;
	*p = top->next;
	d->count--;
	if (d->count > 0) {
		async_dedupe_heap_set(d, 0, d->heap[d->count]);
		async_dedupe_heap_fix(d, 0);
	}
	free(top);
}

unsigned int
async_dedupe_expire(struct async_dedupe *d, uint64_t now_ns)
{
	unsigned int n = 0;

	while (d->count > 0 && d->heap[0]->expires_ns <= now_ns) {
		async_dedupe_pop(d);
		n++;
	}
	return n;
}

unsigned int
async_dedupe_count(const struct async_dedupe *d)
{
	return d->count;
}
