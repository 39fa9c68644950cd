/* Why a request is refused: the 400 messages request.c records, made only on the way out of a refused request. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "request_fail.h"

/*
 * Every message here is made for a refused request, never for one that
 * passes: in a file of its own, cold, so that the parsing loop in
 * request.c stays small and reads as the protocol's fields.
 */
#define REQUEST_EXCERPT_MAX 32

void
request_fail(struct request_error *err, bool override, const char *fmt, ...)
{
	va_list ap;

	if (err->message[0] != '\0' && !override)
		return;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
}

/* A printable excerpt of client bytes for an error message: bounded and plain ASCII. */
static void __rte_cold
request_excerpt(char *dst, size_t cap, const uint8_t *s, uint32_t len)
{
	size_t n = len < REQUEST_EXCERPT_MAX ? len : REQUEST_EXCERPT_MAX;
	size_t i;

	if (n > cap - 4)
		n = cap - 4;
	for (i = 0; i < n; i++)
		dst[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? (char)s[i] : '?';
	if (n < len) {
		memcpy(dst + n, "...", 3);
		n += 3;
	}
	dst[n] = '\0';
}

int
request_fail_structure(struct request_error *err, enum mp_walk_status st, const char *where)
{
	switch (st) {
	case MP_WALK_TOO_DEEP:
		request_fail(err, true, "%s nests deeper than %d levels", where, MP_WALK_MAX_DEPTH);
		break;
	case MP_WALK_MALFORMED:
		request_fail(err, true, "%s is not valid MessagePack", where);
		break;
	default:
		request_fail(err, true, "%s is truncated", where);
		break;
	}
	return -1;
}

/* The key at `pos` is read again: a refused request's cost does not matter. */
int
request_fail_value(struct request_error *err, enum mp_walk_status st, const uint8_t *payload,
		   uint32_t len, uint32_t pos)
{
	struct mp_walk_value key = mp_walk_str(payload, len, pos, 2);
	char excerpt[REQUEST_EXCERPT_MAX + 4];
	char where[REQUEST_EXCERPT_MAX + 16];

	if (key.st != MP_WALK_OK || key.kind != MP_WALK_STR)
		return request_fail_structure(err, st, "a request value");
	request_excerpt(excerpt, sizeof(excerpt), payload + key.str.off, key.str.len);
	snprintf(where, sizeof(where), "field '%s'", excerpt);
	return request_fail_structure(err, st, where);
}

void
request_fail_type(struct request_error *err, const uint8_t *s, uint32_t len)
{
	char excerpt[REQUEST_EXCERPT_MAX + 4];

	request_excerpt(excerpt, sizeof(excerpt), s, len);
	request_fail(err, false, "field 'type' must be RequestResponse, Event or DryRun, not '%s'", excerpt);
}
