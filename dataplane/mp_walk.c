/* Walking untrusted MessagePack in place: extents, strs and uints, with every bound checked. */
#include <stdbool.h>
#include <stddef.h>

#include <rte_common.h>
#include <msgpack/unpack_define.h>

#include "mp_walk.h"

/*
 * Why not msgpack-c: it allocates a container's element array from the
 * header's claimed count before it reads a single element, so a 6-byte
 * array32 header would make it ask for gigabytes. Here every count is
 * checked against the bytes left (each element takes at least one byte) and
 * every length against the end of the buffer, so the work is bounded by the
 * buffer's size. The walk is iterative, with a fixed stack of open
 * containers: nothing to exhaust.
 */
_Static_assert(MP_WALK_MAX_DEPTH == MSGPACK_EMBED_STACK_SIZE,
	       "the walk must accept exactly the nesting msgpack-c accepts");

/* The sizes of formats (mp_walk.h says why a table). */
const uint64_t mp_walk_size[256] = {
	[0x00 ... 0x7f] = 1,                            /* positive fixint */
	[0x80 ... 0x9f] = MP_WALK_UNMEASURED,           /* fixmap, fixarray */
	[0xa0] = 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
	17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, /* fixstr: 0..31 bytes */
	[0xc0] = 1, MP_WALK_UNMEASURED, 1, 1,           /* nil, (never used), false, true */
	[0xc4 ... 0xc9] = MP_WALK_UNMEASURED,           /* bin, ext 8..32 */
	[0xca] = 5, 9,                                  /* float 32, 64 */
	[0xcc] = 2, 3, 5, 9,                            /* uint 8..64 */
	[0xd0] = 2, 3, 5, 9,                            /* int 8..64 */
	[0xd4] = 3, 4, 6, 10, 18,                       /* fixext 1..16: the type byte, then the data */
	[0xd9 ... 0xdf] = MP_WALK_UNMEASURED,           /* str 8..32, array and map 16..32 */
	[0xe0 ... 0xff] = 1,                            /* negative fixint */
};

const uint8_t mp_walk_fixcount[32] = {
	0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30,
	0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
};

/* What mp_walk_head() found. */
struct mp_walk_head {
	size_t step;                /* bytes to move on: the header, and a str's, bin's or ext's body */
	uint32_t items;             /* values in a container (a map counts keys and values), else 0 */
	enum mp_walk_status st;
};

/*
 * A value at p[at] (at < end) that neither the table nor the fixmap and
 * fixarray test measures: str, bin and ext 8..32, array and map 16..32, and
 * 0xc1. `too_deep`: a container here would nest deeper than the limit.
 */
static inline struct mp_walk_head
mp_walk_head(const uint8_t *p, size_t at, size_t end, bool too_deep)
{
	struct mp_walk_head h = { 0, 0, MP_WALK_OK };
	uint8_t b = p[at];
	unsigned int n;             /* bytes of the size field */
	uint64_t count;

	if (b == 0xd9) {
		/* str 8, what a str of 32..255 bytes is (ids, URLs, trace headers): ahead of the rest */
		if (end - at < 2 || p[at + 1] > end - at - 2)
			h.st = MP_WALK_TRUNCATED;
		else
			h.step = 2 + (size_t)p[at + 1];
		return h;
	}
	switch (b) {
	case 0xc4: case 0xc7:              /* (str 8 above) */
		n = 1;
		break;
	case 0xc5: case 0xc8: case 0xda: case 0xdc: case 0xde:
		n = 2;
		break;
	case 0xc6: case 0xc9: case 0xdb: case 0xdd: case 0xdf:
		n = 4;
		break;
	default:
		h.st = MP_WALK_MALFORMED; /* 0xc1 (the table measures every other format) */
		return h;
	}
	if (end - at < 1 + n) {
		h.st = MP_WALK_TRUNCATED;
		return h;
	}
	count = mp_walk_be(p + at + 1, n);
	if (b < 0xdc) {
		/* str, bin, ext (whose type byte follows the size): a body, no values */
		count += b >= 0xc7 && b <= 0xc9;
		if (count > end - at - 1 - n)
			h.st = MP_WALK_TRUNCATED;
		h.step = 1 + n + count;
		return h;
	}
	count <<= b >= 0xde;            /* a map's pairs */
	h.step = 1 + n;
	if (too_deep)
		h.st = MP_WALK_TOO_DEEP;
	else if (count > end - at - h.step)     /* as the walk checks a fixmap's */
		h.st = MP_WALK_TRUNCATED;
	h.items = (uint32_t)count;
	return h;
}

/*
 * Only the innermost container's count is kept in a local, counted down once
 * per value; the enclosing ones wait on a stack no deeper than the nesting
 * limit. A container deeper than msgpack-c decodes is refused on its header
 * (an empty one too, as msgpack-c does), a count above the bytes left as
 * truncated.
 *
 * The commonest step, a value the table measures in a container with more to
 * come, is a table load, an add, one compare with the end and one count
 * down. Whatever takes `at` to the end or past it leaves that step: a format
 * the table does not measure, a value cut short (truncated), and the value
 * that ends exactly at the end, which must be the walk's last.
 */
struct mp_walk_value
mp_walk_skip_n(const uint8_t *p, uint32_t len, uint32_t pos, unsigned int level, uint32_t count)
{
	struct mp_walk_value v = { .kind = MP_WALK_OTHER, .st = MP_WALK_TRUNCATED };
	uint32_t outer[MP_WALK_MAX_DEPTH]; /* values still to come in each enclosing container */
	unsigned int open = 0;      /* containers open inside the value (level + open is a new one's level) */
	unsigned int room = MP_WALK_MAX_DEPTH - level; /* how many may be open around a new one (level <= the limit) */
	uint32_t left = count;      /* values still to come in the innermost one (at first, the run's) */
	size_t at = pos;
	size_t end = len;
	struct mp_walk_head h;
	uint8_t b;

	if (unlikely(at >= end))
		return v;
	for (;;) {
		/* Here at < end. */
		at += mp_walk_size[p[at]];
		if (unlikely(at >= end)) {
			if (at < MP_WALK_UNMEASURED) {
				if (at > end)
					return v;
				goto last;
			}
			at -= MP_WALK_UNMEASURED;
			b = p[at];
			if ((b & 0xe0) == 0x80) {
				/* fixmap, fixarray: the usual containers */
				h.step = 1;
				h.items = mp_walk_fixcount[b & 0x1f];
				if (open > room) {
					v.st = MP_WALK_TOO_DEEP;
					return v;
				}
				/* Each value takes a byte at least: a count the bytes left cannot hold is refused at once. */
				if (h.items > end - at - 1)
					return v;
			} else {
				h = mp_walk_head(p, at, end, open > room);
				if (h.st != MP_WALK_OK) {
					v.st = h.st;
					return v;
				}
			}
			at += h.step;
			if (h.items > 0) {
				/* at < end: the count was checked against the bytes left */
				outer[open++] = left;
				left = h.items;
				continue;
			}
			if (at == end)
				goto last;
		}
		if (likely(--left != 0))
			continue;
		/* A value ended its container: so did every enclosing one it was the last of. */
		do {
			if (open == 0)
				goto done;
			left = outer[--open];
		} while (--left == 0);
	}
last:
	/* The value just walked ends where the bytes do: so must every container still open. */
	if (--left != 0)
		return v;
	while (open > 0)
		if (outer[--open] != 1)
			return v;
done:
	v.next = (uint32_t)at;
	v.st = MP_WALK_OK;
	return v;
}

struct mp_walk_value
mp_walk_read_slow(const uint8_t *p, uint32_t len, uint32_t pos, unsigned int level)
{
	struct mp_walk_value v = { .st = MP_WALK_TRUNCATED };
	uint32_t left = len - pos;  /* >= 1: the inline readers checked */
	uint8_t b = p[pos];
	unsigned int n;

	switch (b) {
	case 0x00 ... 0x7f:                     /* positive fixint */
		v.kind = MP_WALK_UINT;
		v.u = b;
		v.next = pos + 1;
		v.st = MP_WALK_OK;
		return v;
	case 0xa0 ... 0xbf:                     /* fixstr */
		n = 0;
		v.str.len = b & 0x1f;
		break;
	case 0xd9: case 0xda: case 0xdb:        /* str 8..32 */
		n = 1u << (b - 0xd9);
		if (left < 1 + n)
			return v;
		v.str.len = (uint32_t)mp_walk_be(p + pos + 1, n);
		break;
	case 0xcc ... 0xd3:                     /* uint and int 8..64 */
		n = 1u << (b & 0x03);
		if (left < 1 + n)
			return v;
		/* A signed format holding a value >= 0 is that unsigned value, as msgpack-c reads it. */
		if (b <= 0xcf || (p[pos + 1] & 0x80) == 0) {
			v.kind = MP_WALK_UINT;
			v.u = mp_walk_be(p + pos + 1, n);
		}
		v.next = pos + 1 + n;
		v.st = MP_WALK_OK;
		return v;
	default:
		return mp_walk_skip_n(p, len, pos, level, 1);
	}
	/* A str: its header of 1 + n bytes, then its bytes, all within the buffer. */
	if (v.str.len > left - 1 - n)
		return v;
	v.kind = MP_WALK_STR;
	v.str.off = pos + 1 + n;
	v.next = v.str.off + v.str.len;
	v.st = MP_WALK_OK;
	return v;
}
