/* A bounded walk over untrusted MessagePack: a value's extent, and the strs and uints fields want. */
#ifndef TURBINE_MP_WALK_H
#define TURBINE_MP_WALK_H

#include <endian.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <rte_branch_prediction.h>

/*
 * msgpack-c's own nesting limit (MSGPACK_EMBED_STACK_SIZE, asserted in
 * mp_walk.c): a value accepted here always decodes there, so the fuzz
 * target can check the walk against msgpack-c both ways.
 */
#define MP_WALK_MAX_DEPTH 32

enum mp_walk_status {
	MP_WALK_OK = 0,
	MP_WALK_TRUNCATED,          /* a length, a count or a header runs past the end */
	MP_WALK_MALFORMED,          /* 0xc1, the one byte MessagePack never uses */
	MP_WALK_TOO_DEEP,           /* nested deeper than MP_WALK_MAX_DEPTH */
};

/* What a value is, as far as a field cares. */
enum mp_walk_kind {
	MP_WALK_OTHER = 0,
	MP_WALK_UINT,               /* any integer format holding a value >= 0, as msgpack-c reads it */
	MP_WALK_STR,
};

/*
 * One value, read in place. Positions are offsets from the start of the
 * buffer. Sixteen bytes, so that it comes back in two registers and the
 * caller's position never has to live in memory.
 */
struct mp_walk_value {
	uint32_t next;              /* where the value after it starts */
	uint8_t kind;               /* enum mp_walk_kind */
	uint8_t st;                 /* enum mp_walk_status; nothing else holds when not OK */
	union {
		uint64_t u;         /* UINT: the value */
		struct {
			uint32_t off;
			uint32_t len;
		} str;              /* STR: where its bytes are */
	};
};

/* Big-endian 1, 2, 4 or 8 bytes: a header's size field, or an integer. */
static inline uint64_t
mp_walk_be(const uint8_t *p, unsigned int n)
{
	uint16_t v16;
	uint32_t v32;
	uint64_t v64;

	switch (n) {
	case 1:
		return p[0];
	case 2:
		memcpy(&v16, p, 2);
		return be16toh(v16);
	case 4:
		memcpy(&v32, p, 4);
		return be32toh(v32);
	default:
		memcpy(&v64, p, 8);
		return be64toh(v64);
	}
}

/*
 * The bytes a value takes when its first byte says so alone. Most of an
 * event is fixstrs, small ints, nil and bools: one load of this table
 * measures them, with no branch on the format. The formats it does not
 * measure (containers, str/bin/ext 8..32, and 0xc1) are marked with a size
 * that takes the walk past any end (a position is below 2^33), so the one
 * bound check the walk makes per value finds them too. Hidden: read
 * straight, not through the GOT, from the inline walk below.
 */
#define MP_WALK_UNMEASURED (1ull << 40)
extern const uint64_t mp_walk_size[256] __attribute__((visibility("hidden")));
/* The values in a fixmap (keys and values: twice its count) and a fixarray, by the low 5 bits of 0x80..0x9f. */
extern const uint8_t mp_walk_fixcount[32] __attribute__((visibility("hidden")));

/*
 * Walk over `count` values in a row from `pos`, each at nesting level
 * `level` (1 for a value on its own, 2 for one inside a map), as kind
 * OTHER. Every count and length is checked against the bytes there are
 * before it is trusted, so the work is bounded by len; nothing is
 * allocated.
 */
struct mp_walk_value mp_walk_skip_n(const uint8_t *p, uint32_t len, uint32_t pos,
				    unsigned int level, uint32_t count);

/*
 * Walk over the one value at `pos`, as mp_walk_skip_n() does. A small event
 * is mostly a scalar, or a fixmap or fixarray of scalars: those are measured
 * here, in line, one table load a value. At the first value the table does
 * not measure (a nested container, a long str), or one that runs to or past
 * the end, the rest of the container is handed to mp_walk_skip_n() as a run
 * of the values still to come, one level down, so no value is walked twice
 * and every error is found and named there. Not for level MP_WALK_MAX_DEPTH
 * and beyond, where a container's values would be too deep to hand on.
 * Always in line: as a call, a small event's walk costs half as much again.
 */
static inline __attribute__((always_inline)) struct mp_walk_value
mp_walk_skip(const uint8_t *p, uint32_t len, uint32_t pos, unsigned int level)
{
	struct mp_walk_value v = { .kind = MP_WALK_OTHER, .st = MP_WALK_OK };
	uint64_t at = pos, next;
	uint32_t left;
	uint8_t b;

	if (unlikely(pos >= len || level >= MP_WALK_MAX_DEPTH))
		return mp_walk_skip_n(p, len, pos, level, 1);
	b = p[pos];
	if ((b & 0xe0) != 0x80) {
		next = at + mp_walk_size[b];
		if (unlikely(next > len))
			return mp_walk_skip_n(p, len, pos, level, 1);
		v.next = (uint32_t)next;
		return v;
	}
	left = mp_walk_fixcount[b & 0x1f];
	/* A count the bytes left cannot hold is truncated on the header, as mp_walk_skip_n() finds it. */
	if (unlikely(left > len - pos - 1))
		return mp_walk_skip_n(p, len, pos, level, 1);
	/* So at < len while a value is left; each step keeps it so, or leaves. */
	for (at++; left > 1; left--) {
		next = at + mp_walk_size[p[at]];
		if (unlikely(next >= len))      /* not measured, cut short, or more to come after the end */
			goto rest;
		at = next;
	}
	if (left == 1) {
		next = at + mp_walk_size[p[at]];
		if (unlikely(next > len))
			goto rest;
		at = next;
	}
	v.next = (uint32_t)at;
	return v;
rest:
	return mp_walk_skip_n(p, len, (uint32_t)at, level + 1, left);
}

/* The value at `pos` (< len) as a str or a uint if it is one, else walked over: what the inline readers leave. */
struct mp_walk_value mp_walk_read_slow(const uint8_t *p, uint32_t len, uint32_t pos,
				       unsigned int level);

/*
 * Read the value at `pos` as a str if it is one, or walk over it (kind
 * OTHER) if not. Keys and most field values are fixstrs: read inline in the
 * caller's loop; the other formats take a call.
 */
static inline struct mp_walk_value
mp_walk_str(const uint8_t *p, uint32_t len, uint32_t pos, unsigned int level)
{
	struct mp_walk_value v = { .st = MP_WALK_TRUNCATED };
	uint8_t b;

	if (unlikely(pos >= len))
		return v;
	b = p[pos];
	if (unlikely((b & 0xe0) != 0xa0))
		return mp_walk_read_slow(p, len, pos, level);
	if (likely((b & 0x1fu) < len - pos)) {     /* the header byte, then as many as it says */
		v.str.off = pos + 1;
		v.str.len = b & 0x1f;
		v.next = v.str.off + v.str.len;
		v.kind = MP_WALK_STR;
		v.st = MP_WALK_OK;
	}
	return v;
}

/*
 * Read the value at `pos` as a uint if it is one, or walk over it (kind
 * OTHER) if not. A positive fixint, and the uint 8 and 16 most ids are, are
 * read inline; the other formats take a call.
 */
static inline struct mp_walk_value
mp_walk_uint(const uint8_t *p, uint32_t len, uint32_t pos, unsigned int level)
{
	struct mp_walk_value v = { .kind = MP_WALK_UINT, .st = MP_WALK_OK };
	uint8_t b;

	if (unlikely(pos >= len))
		return (struct mp_walk_value){ .st = MP_WALK_TRUNCATED };
	b = p[pos];
	if (b <= 0x7f) {
		v.next = pos + 1;
		v.u = b;
	} else if (b == 0xcd && likely(len - pos > 2)) {
		v.next = pos + 3;
		v.u = mp_walk_be(p + pos + 1, 2);
	} else if (b == 0xcc && likely(len - pos > 1)) {
		v.next = pos + 2;
		v.u = p[pos + 1];
	} else {
		return mp_walk_read_slow(p, len, pos, level);
	}
	return v;
}

/*
 * The uint whose first byte is byte `k` of w (a little-endian word of 8
 * bytes already in bounds), at position `at`, when it is a positive fixint
 * or a uint 16 that ends within the word (k <= 5): no bound needs checking.
 * True with *v set (as mp_walk_uint() sets it), or false: to be read in
 * full by mp_walk_uint().
 */
static inline bool
mp_walk_word_uint(uint64_t w, unsigned int k, uint32_t at, struct mp_walk_value *v)
{
	uint8_t b = (uint8_t)(w >> (8 * k));

	if (b <= 0x7f) {
		v->u = b;
		v->next = at + 1;
	} else if (b == 0xcd && k <= 5) {
		v->u = (w >> (8 * k) & 0xff00) | (w >> (8 * (k + 2)) & 0xff);        /* big-endian */
		v->next = at + 3;
	} else {
		return false;
	}
	v->kind = MP_WALK_UINT;
	v->st = MP_WALK_OK;
	return true;
}

/*
 * The same for a fixstr whose header is byte `k` of w: its header is in
 * bounds, so only its end is checked against len. True with *v set (as
 * mp_walk_str() sets it), or false.
 */
static inline bool
mp_walk_word_str(uint64_t w, unsigned int k, uint32_t at, uint32_t len, struct mp_walk_value *v)
{
	uint8_t b = (uint8_t)(w >> (8 * k));

	if (unlikely((b & 0xe0) != 0xa0 || (b & 0x1fu) >= len - at))
		return false;
	v->str.off = at + 1;
	v->str.len = b & 0x1f;
	v->next = v->str.off + v->str.len;
	v->kind = MP_WALK_STR;
	v->st = MP_WALK_OK;
	return true;
}

#endif /* TURBINE_MP_WALK_H */
