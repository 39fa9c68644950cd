/* Name indexes: function and tenant names to table indexes, read lock-free by the data plane. */
#ifndef TURBINE_NAMES_H
#define TURBINE_NAMES_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "config.h"

/*
 * The table is here rather than opaque so that names_find() of a short
 * name is in line in the caller (names.c says how the table works): a
 * function or tenant name of up to 8 bytes, most of them, is one word, one
 * multiply and, in a table at most half full, usually one slot.
 */
#define NAMES_WORDS (CONFIG_NAME_MAX / 8)
/* 2^64 / the golden ratio: a multiplier that spreads any bit of a word into the high ones. */
#define NAMES_MUL 0x9e3779b97f4a7c15ull

struct names_entry {
	uint32_t tag;                     /* the hash with its low bit set; 0: empty */
	uint16_t len;
	uint16_t index;
	uint64_t words[NAMES_WORDS];      /* as names_words() makes them; zero past the name */
};

struct names {
	uint32_t mask;                    /* slots - 1: at least twice `max`, a power of two */
	unsigned int nb;
	unsigned int max;
	struct names_entry slots[];
};

/* An index for up to `max` names; one writer at a time adds, any thread finds. NULL: no memory. */
struct names *names_create(unsigned int max);
void names_free(struct names *n);
/* 0, -EINVAL (empty or longer than CONFIG_NAME_MAX), -EEXIST, or -ENOSPC (`max` reached). */
int names_add(struct names *n, const char *name, unsigned int index);
/* names_find() of a name of 9..CONFIG_NAME_MAX bytes (or of any other length: -1). */
int names_find_long(const struct names *n, const char *name, uint32_t len);

/*
 * n (1..8) bytes at p as one word, zero above them: the value a plain load
 * of them zero-padded would give on a little-endian host, made without
 * reading a byte beyond them. 4..8 bytes are two 4-byte loads that overlap
 * (the bytes in both are the same); 1..3 bytes are the first, the middle
 * and the last, which for so few are all of them.
 */
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
/* On a big-endian host the overlapping loads' shared bytes would not line up, and two
 * different names could make one word. Debian's DPDK hosts (amd64, arm64, ppc64el) are all
 * little-endian. */
#error "names_tail() assumes a little-endian host"
#endif
static inline uint64_t
names_tail(const char *p, uint32_t n)
{
	uint32_t lo, hi;

	if (n >= 4) {
		memcpy(&lo, p, 4);
		memcpy(&hi, p + n - 4, 4);
		return (uint64_t)lo | (uint64_t)hi << (8 * (n - 4));
	}
	return (uint64_t)(uint8_t)p[0] | (uint64_t)(uint8_t)p[n / 2] << (8 * (n / 2)) |
	       (uint64_t)(uint8_t)p[n - 1] << (8 * (n - 1));
}

/* One step of the hash: the length first, then each word of the name. */
static inline uint64_t
names_mix(uint64_t h, uint64_t w)
{
	return (h ^ w) * NAMES_MUL;
}

/*
 * The index of a name given as `len` bytes, or -1. A name of 1..8 bytes is
 * its one word: hashed and compared as that word and its length, with the
 * same hash names_words() gives it (an entry's words past its name are
 * zero, so word 0 and the length are the whole name).
 */
static inline int
names_find(const struct names *n, const char *name, uint32_t len)
{
	uint64_t w;
	uint32_t tag, i;

	if (__builtin_expect(len - 1 >= 8, 0))       /* 0, or more than a word */
		return names_find_long(n, name, len);
	w = names_tail(name, len);
	tag = (uint32_t)(names_mix(len, w) >> 32) | 1;
	/* At most half full: an empty slot ends every probe. */
	for (i = tag >> 1;; i++) {
		const struct names_entry *e = &n->slots[i & n->mask];
		uint32_t t = __atomic_load_n(&e->tag, __ATOMIC_ACQUIRE);

		if (t == tag && e->words[0] == w && e->len == len)
			return e->index;
		if (t == 0)
			return -1;
	}
}

#endif /* TURBINE_NAMES_H */
