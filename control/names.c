/* Name indexes: function and tenant names to table indexes, read lock-free by the data plane. */
#include <errno.h>
#include <stdlib.h>

#include "names.h"

/*
 * A small open-addressing table rather than rte_hash: rte_hash keys have
 * one fixed length, so each lookup zero-padded the name to 64 bytes and
 * hashed all 64 (about 400 instructions a request, for a function and a
 * tenant). Here a name is taken as the words of its own bytes, 8 at a time
 * with its length; the hash and the compare both read only those words.
 *
 * Entries are only ever added, never changed or removed, by one writer at a
 * time: functions_load() before any lcore starts, quotas.c under
 * functions_lock() (a tenant first named by turbinectl or a redeploy's
 * `tenants`). An entry is written whole first, then published by a release
 * store of its tag, which no empty slot has; a reader that loads a tag with
 * acquire sees the whole entry behind it. A lookup racing an insertion finds
 * the new name or does not, as if it had come just before: no RCU, no lock.
 */

/*
 * The name (1..CONFIG_NAME_MAX bytes) as words and its hash. Both sides of
 * a compare are made here or, for a one-word name, by names_find() the same
 * way: every word but the last a plain load, the last (1..8 bytes, so the
 * only one of a short name) names_tail()'s. Returns how many words.
 */
static inline unsigned int
names_words(const char *name, uint32_t len, uint64_t w[NAMES_WORDS], uint32_t *tag)
{
	unsigned int i, nb = (len + 7) / 8;
	uint64_t h = len;

	for (i = 0; i + 1 < nb; i++) {
		memcpy(&w[i], name + 8 * i, 8);
		h = names_mix(h, w[i]);
	}
	w[i] = names_tail(name + 8 * i, len - 8 * i);
	h = names_mix(h, w[i]);
	*tag = (uint32_t)(h >> 32) | 1;
	return nb;
}

static inline bool
names_match(const struct names_entry *e, const uint64_t *w, unsigned int nb, uint32_t len)
{
	uint64_t diff = 0;
	unsigned int i;

	if (e->len != len)
		return false;
	for (i = 0; i < nb; i++)
		diff |= e->words[i] ^ w[i];
	return diff == 0;
}

struct names *
names_create(unsigned int max)
{
	uint32_t slots = 2;
	struct names *n;

	while (slots < 2 * max)
		slots *= 2;
	n = calloc(1, sizeof(*n) + slots * sizeof(n->slots[0]));
	if (n == NULL)
		return NULL;
	n->mask = slots - 1;
	n->max = max;
	return n;
}

void
names_free(struct names *n)
{
	free(n);
}

int
names_find_long(const struct names *n, const char *name, uint32_t len)
{
	uint64_t w[NAMES_WORDS];
	unsigned int nb;
	uint32_t tag, i;

	if (len == 0 || len > CONFIG_NAME_MAX)
		return -1;
	nb = names_words(name, len, w, &tag);
	/* At most half full: an empty slot ends every probe. */
	for (i = tag >> 1;; i++) {
		const struct names_entry *e = &n->slots[i & n->mask];
		uint32_t t = __atomic_load_n(&e->tag, __ATOMIC_ACQUIRE);

		if (t == 0)
			return -1;
		if (t == tag && names_match(e, w, nb, len))
			return e->index;
	}
}

int
names_add(struct names *n, const char *name, unsigned int index)
{
	uint32_t len = (uint32_t)strnlen(name, CONFIG_NAME_MAX + 1);
	uint64_t words[NAMES_WORDS] = { 0 };
	struct names_entry *e;
	uint32_t tag, i;

	if (len == 0 || len > CONFIG_NAME_MAX || index > UINT16_MAX)
		return -EINVAL;
	if (names_find(n, name, len) >= 0)
		return -EEXIST;
	if (n->nb >= n->max)
		return -ENOSPC;
	names_words(name, len, words, &tag);
	for (i = tag >> 1; n->slots[i & n->mask].tag != 0; i++)
		;
	e = &n->slots[i & n->mask];
	memcpy(e->words, words, sizeof(words));
	e->len = (uint16_t)len;
	e->index = (uint16_t)index;
	/* Last, and with release: a reader that sees the tag sees the rest. */
	__atomic_store_n(&e->tag, tag, __ATOMIC_RELEASE);
	n->nb++;
	return 0;
}
