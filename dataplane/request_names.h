/* The protocol's names (PROTOCOL.md): the request map's keys, and the bytes function names, tenants and qualifiers take. */
#ifndef TURBINE_REQUEST_NAMES_H
#define TURBINE_REQUEST_NAMES_H

#include <endian.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <rte_branch_prediction.h>
#include <rte_common.h>

#include "request.h"
#ifdef __SSE4_2__
#include <nmmintrin.h>
#endif

#define REQUEST_NAME_MAX       64
#define REQUEST_QUALIFIER_MAX  64

/* Which characters names allow: a table rather than range checks, one load per byte. */
#define REQUEST_CHAR_NAME       0x01    /* [A-Za-z0-9_-]: function and tenant names */
#define REQUEST_CHAR_QUALIFIER  0x02    /* the same and '$' (Lambda's "$LATEST") */

/* Hidden: read straight, not through the GOT, from the inline scans below. */
extern const uint8_t request_chars[256] __attribute__((visibility("hidden")));

/*
 * How many bytes of s, from the start, are characters of `class`. A byte at
 * a time: checking eight at once with word arithmetic (two adds per range,
 * five ranges) measured dearer than this loop for names as short as most
 * function names are.
 */
static inline uint32_t
request_chars_of(const uint8_t *s, uint32_t len, uint8_t class)
{
	const uint8_t *c = s, *end = s + len;

	while (c < end && (request_chars[*c] & class))
		c++;
	return (uint32_t)(c - s);
}

/*
 * request_chars_of(s, len, REQUEST_CHAR_NAME) for the name in `fn`, with
 * `room` bytes readable from s. A name of up to 16 bytes with 16 bytes
 * there to load (the rest of the request follows it, usually) is checked
 * in one SSE4.2 string compare against the five ranges, whatever its
 * length: the index of the first byte within len outside them, or 16.
 */
static inline uint32_t
request_name_chars(const uint8_t *s, uint32_t len, uint32_t room)
{
#ifdef __SSE4_2__
	if (likely(len <= 16 && room >= 16)) {
		const __m128i ranges = _mm_setr_epi8('a', 'z', 'A', 'Z', '0', '9', '_', '_', '-', '-',
						     0, 0, 0, 0, 0, 0);
		uint32_t n = (uint32_t)_mm_cmpestri(ranges, 10, _mm_loadu_si128((const __m128i *)s),
						    (int)len, _SIDD_UBYTE_OPS | _SIDD_CMP_RANGES |
						    _SIDD_MASKED_NEGATIVE_POLARITY |
						    _SIDD_LEAST_SIGNIFICANT);

		return n < len ? n : len;
	}
#endif
	return request_chars_of(s, len, REQUEST_CHAR_NAME);
}

enum request_key {
	REQUEST_KEY_UNKNOWN = 0,    /* ignored, for forward compatibility */
	REQUEST_KEY_V,
	REQUEST_KEY_ID,
	REQUEST_KEY_FN,
	REQUEST_KEY_TYPE,
	REQUEST_KEY_TENANT,
	REQUEST_KEY_EVENT,
	REQUEST_KEY_TIMEOUT_MS,
	REQUEST_KEY_CTX,
	REQUEST_KEY_LOG,
	REQUEST_KEY_TRACE,
	REQUEST_KEY_IDEMPOTENCY_KEY,
};

/*
 * Which field the key at p names; `room` bytes from p on may be read. Every
 * key PROTOCOL.md names is a fixstr, so its header byte gives its length and
 * the header and the name compare as one constant, with a memcmp of a
 * constant size that the compiler turns into one or two loads and compares.
 * A match also needs a byte after the key (sizeof counts the constant's NUL
 * for it): the value's. Anything else, including a name at the very end, is
 * left to the general reader. Always inline: as a call (it has two callers)
 * it costs the loop more than it does.
 */
static __rte_always_inline enum request_key
request_key(const uint8_t *p, uint32_t room)
{
#define REQUEST_KEY_IS(key) (room >= sizeof(key) && memcmp(p, key, sizeof(key) - 1) == 0)
	switch (p[0]) {
	case 0xa1:
		return REQUEST_KEY_IS("\xa1" "v") ? REQUEST_KEY_V : REQUEST_KEY_UNKNOWN;
	case 0xa2:
		return REQUEST_KEY_IS("\xa2" "id") ? REQUEST_KEY_ID :
		       REQUEST_KEY_IS("\xa2" "fn") ? REQUEST_KEY_FN : REQUEST_KEY_UNKNOWN;
	case 0xa3:
		return REQUEST_KEY_IS("\xa3" "ctx") ? REQUEST_KEY_CTX :
		       REQUEST_KEY_IS("\xa3" "log") ? REQUEST_KEY_LOG : REQUEST_KEY_UNKNOWN;
	case 0xa4:
		return REQUEST_KEY_IS("\xa4" "type") ? REQUEST_KEY_TYPE : REQUEST_KEY_UNKNOWN;
	case 0xa5:
		return REQUEST_KEY_IS("\xa5" "event") ? REQUEST_KEY_EVENT :
		       REQUEST_KEY_IS("\xa5" "trace") ? REQUEST_KEY_TRACE : REQUEST_KEY_UNKNOWN;
	case 0xa6:
		return REQUEST_KEY_IS("\xa6" "tenant") ? REQUEST_KEY_TENANT : REQUEST_KEY_UNKNOWN;
	case 0xaa:
		return REQUEST_KEY_IS("\xaa" "timeout_ms") ? REQUEST_KEY_TIMEOUT_MS : REQUEST_KEY_UNKNOWN;
	case 0xaf:
		return REQUEST_KEY_IS("\xaf" "idempotency_key") ? REQUEST_KEY_IDEMPOTENCY_KEY :
		       REQUEST_KEY_UNKNOWN;
	}
	return REQUEST_KEY_UNKNOWN;
#undef REQUEST_KEY_IS
}

/* The 8 bytes at p as a little-endian word, whatever the host: a key's header is its low byte. */
static inline uint64_t
request_word(const uint8_t *p)
{
	uint64_t w;

	memcpy(&w, p, 8);
	return le64toh(w);
}

#define REQUEST_WORD3(a, b, c) ((uint64_t)(a) | (uint64_t)(b) << 8 | (uint64_t)(c) << 16)
#define REQUEST_WORD6(a, b, c, d, e, f) \
	(REQUEST_WORD3(a, b, c) | (uint64_t)(d) << 24 | (uint64_t)(e) << 32 | (uint64_t)(f) << 40)

/* The type a `type` string names (PROTOCOL.md: RequestResponse, Event, DryRun); false for any other. */
bool request_type_of(const uint8_t *s, uint32_t len, enum request_type *t);

#endif /* TURBINE_REQUEST_NAMES_H */
