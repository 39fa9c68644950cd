/* The fields of an invoke request (PROTOCOL.md, "Request"), read from its MessagePack map in one pass. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <rte_common.h>

#include "mp_walk.h"
#include "request.h"

/*
 * One pass over the datagram, nothing allocated: each key and each value is
 * read once, where it stands (mp_walk.c does the MessagePack, and says why
 * not msgpack-c). A key is matched on its header byte and name at once; its
 * field picks the reader of its value (a uint, a str, or a walk over any
 * value for `event`, `ctx` and unknown keys) and applies it in the same
 * switch, so each pair costs one dispatch. Error messages are made by cold
 * functions, out of the way of the loop.
 */
#define REQUEST_NAME_MAX       64
#define REQUEST_QUALIFIER_MAX  64
#define REQUEST_TRACE_MAX      256
#define REQUEST_EXCERPT_MAX    32

/*
 * Record a 400 message; the first one wins unless `override` (an unsupported
 * version trumps all). Every message is made on the way out of a refused
 * request, never for one that passes: cold, out of the parsing loop.
 */
static void __rte_cold __attribute__((format(printf, 3, 4)))
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

/* The request cannot be read past this point: say where and why, and give up. */
static int __rte_cold
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

/* A value that cannot be read names its field (the key at `pos`, read again), when the key was a string. */
static int __rte_cold
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

/* Which characters names allow: a table rather than range checks, one load per byte. */
#define REQUEST_CHAR_NAME       0x01    /* [A-Za-z0-9_-]: function and tenant names */
#define REQUEST_CHAR_QUALIFIER  0x02    /* the same and '$' (Lambda's "$LATEST") */

static const uint8_t request_chars[256] = {
	['0' ... '9'] = REQUEST_CHAR_NAME | REQUEST_CHAR_QUALIFIER,
	['A' ... 'Z'] = REQUEST_CHAR_NAME | REQUEST_CHAR_QUALIFIER,
	['a' ... 'z'] = REQUEST_CHAR_NAME | REQUEST_CHAR_QUALIFIER,
	['_'] = REQUEST_CHAR_NAME | REQUEST_CHAR_QUALIFIER,
	['-'] = REQUEST_CHAR_NAME | REQUEST_CHAR_QUALIFIER,
	['$'] = REQUEST_CHAR_QUALIFIER,
};

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

bool
request_name_valid(const char *s, uint32_t len)
{
	return len >= 1 && len <= REQUEST_NAME_MAX &&
	       request_chars_of((const uint8_t *)s, len, REQUEST_CHAR_NAME) == len;
}

bool
request_qualifier_valid(const char *s, uint32_t len)
{
	return len >= 1 && len <= REQUEST_QUALIFIER_MAX &&
	       request_chars_of((const uint8_t *)s, len, REQUEST_CHAR_QUALIFIER) == len;
}

const char *
request_type_name(enum request_type t)
{
	switch (t) {
	case REQUEST_RESPONSE:
		return "RequestResponse";
	case REQUEST_EVENT:
		return "Event";
	case REQUEST_DRYRUN:
		return "DryRun";
	}
	return "unknown";
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

/* A short name sent in a wider str format than it needs: matched as the fixstr it could have been. */
static enum request_key __rte_cold
request_key_wide(const uint8_t *name, uint32_t len)
{
	uint8_t fix[1 + 15 + 1] = { (uint8_t)(0xa0 | len) };

	memcpy(fix + 1, name, len);
	return request_key(fix, len + 2);       /* the header, the name, and room for a value */
}

/* A span of the request's bytes (len <= UINT16_MAX: request_parse refuses more). */
static inline struct request_span
request_span(uint32_t off, uint32_t len)
{
	return (struct request_span){ .off = (uint16_t)off, .len = (uint16_t)len };
}

/* `name` or `name:qualifier` (the `len` bytes at payload + off), split at the first ':'. */
static void
request_field_fn(const uint8_t *payload, uint32_t off, uint32_t len, struct request *req,
		 struct request_error *err)
{
	const uint8_t *s = payload + off;
	uint32_t name_len;

	/* One scan checks the name: it runs to the first byte that is no name character, ':' or the end. */
	name_len = request_chars_of(s, len, REQUEST_CHAR_NAME);
	req->fn = request_span(off, name_len);
	req->qualifier = (struct request_span){ 0, 0 };
	if (unlikely(name_len == 0 || name_len > REQUEST_NAME_MAX ||
		     (name_len < len && s[name_len] != ':'))) {
		request_fail(err, false, "field 'fn' must be 1..%d characters of [A-Za-z0-9_-], optionally ':qualifier'",
			     REQUEST_NAME_MAX);
		return;
	}
	if (name_len == len)
		return;
	req->qualifier = request_span(off + name_len + 1, len - name_len - 1);
	if (!request_qualifier_valid((const char *)s + name_len + 1, req->qualifier.len))
		request_fail(err, false, "qualifier of field 'fn' must be 1..%d characters of [A-Za-z0-9_$-]",
			     REQUEST_QUALIFIER_MAX);
}

static void
request_field_type(const uint8_t *s, struct mp_walk_value v, struct request *req,
		   struct request_error *err)
{
	char excerpt[REQUEST_EXCERPT_MAX + 4];

	if (v.kind != MP_WALK_STR) {
		request_fail(err, false, "field 'type' must be a string");
		return;
	}
	if (v.str.len == 15 && memcmp(s, "RequestResponse", 15) == 0) {
		req->type = REQUEST_RESPONSE;
	} else if (v.str.len == 5 && memcmp(s, "Event", 5) == 0) {
		req->type = REQUEST_EVENT;
	} else if (v.str.len == 6 && memcmp(s, "DryRun", 6) == 0) {
		req->type = REQUEST_DRYRUN;
	} else {
		request_excerpt(excerpt, sizeof(excerpt), s, v.str.len);
		request_fail(err, false, "field 'type' must be RequestResponse, Event or DryRun, not '%s'",
			     excerpt);
	}
}

int
request_value_len(const uint8_t *p, uint32_t len, uint32_t *value_len)
{
	struct mp_walk_value v = mp_walk_skip(p, len, 0, 1);

	if (v.st != MP_WALK_OK)
		return -1;
	*value_len = v.next;
	return 0;
}

int
request_parse(const uint8_t *payload, uint32_t len, struct request *req, struct request_error *err)
{
	struct mp_walk_value key, val;
	bool seen_id = false;
	bool seen_fn = false;
	uint32_t pairs, pos;
	unsigned int n;

	/* The one initialisation of the struct: absent fields are zero, type RequestResponse. */
	*req = (struct request){ .type = REQUEST_RESPONSE };
	err->message[0] = '\0';

	/* Spans are 16-bit; no UDP payload over IPv4 comes near this. */
	if (unlikely(len > UINT16_MAX)) {
		request_fail(err, true, "request is larger than %u bytes", UINT16_MAX);
		return -1;
	}
	if (unlikely(len == 0 || !((payload[0] >= 0x80 && payload[0] <= 0x8f) ||
				   payload[0] == 0xde || payload[0] == 0xdf))) {
		request_fail(err, true, "request must be a map");
		return -1;
	}
	n = payload[0] <= 0x8f ? 0 : payload[0] == 0xde ? 2 : 4;
	if (unlikely(len < 1 + n))
		return request_fail_structure(err, MP_WALK_TRUNCATED, "request");
	pairs = n == 0 ? (payload[0] & 0x0f) : (uint32_t)mp_walk_be(payload + 1, n);
	pos = 1 + n;
	/* Each key and value takes a byte at least: a count the bytes cannot hold is refused at once. */
	if (unlikely((uint64_t)pairs * 2 > len - pos))
		return request_fail_structure(err, MP_WALK_TRUNCATED, "request");

	/*
	 * Each key picks the reader for its value: a uint, a str, or a walk
	 * over any value. A field's own errors are recorded and parsing goes
	 * on, so that a later `id` is still echoed; a value that cannot be
	 * read ends it.
	 */
	for (; pairs > 0; pairs--, pos = val.next) {
		enum request_key k;
		uint32_t at;            /* where the value starts */

		if (unlikely(pos >= len))
			return request_fail_structure(err, MP_WALK_TRUNCATED, "a request key");
		k = request_key(payload + pos, len - pos);
		if (likely(k != REQUEST_KEY_UNKNOWN)) {
			at = pos + 1 + (payload[pos] & 0x1f);
		} else {
			key = mp_walk_str(payload, len, pos, 2);
			if (unlikely(key.st != MP_WALK_OK))
				return request_fail_structure(err, key.st, "a request key");
			if (unlikely(key.kind != MP_WALK_STR))
				/* Not a field we know, but keep going: a later `id` can still be echoed. */
				request_fail(err, false, "request keys must be strings");
			else if (payload[pos] >= 0xd9 && key.str.len <= 15)
				k = request_key_wide(payload + key.str.off, key.str.len);
			at = key.next;
		}
		switch (k) {
		case REQUEST_KEY_V:
			val = mp_walk_uint(payload, len, at, 2);
			if (unlikely(val.st != MP_WALK_OK))
				goto unreadable;
			if (val.kind != MP_WALK_UINT)
				request_fail(err, true, "field 'v' must be an unsigned integer");
			else if (val.u != 1)
				request_fail(err, true, "unsupported protocol version %" PRIu64 " (expected 1)",
					     val.u);
			break;
		case REQUEST_KEY_ID:
			val = mp_walk_uint(payload, len, at, 2);
			if (unlikely(val.st != MP_WALK_OK))
				goto unreadable;
			/* The last `id` wins, and one that is not a uint takes back an earlier one. */
			seen_id = true;
			req->has_id = val.kind == MP_WALK_UINT;
			req->id = req->has_id ? val.u : 0;
			if (unlikely(!req->has_id))
				request_fail(err, false, "field 'id' must be an unsigned integer");
			break;
		case REQUEST_KEY_TIMEOUT_MS:
			val = mp_walk_uint(payload, len, at, 2);
			if (unlikely(val.st != MP_WALK_OK))
				goto unreadable;
			if (val.kind != MP_WALK_UINT) {
				request_fail(err, false, "field 'timeout_ms' must be an unsigned integer");
			} else if (val.u == 0) {
				request_fail(err, false, "field 'timeout_ms' must be at least 1");
			} else {
				req->timeout_ms = val.u;
				req->has_timeout = true;
			}
			break;
		case REQUEST_KEY_FN:
			val = mp_walk_str(payload, len, at, 2);
			if (unlikely(val.st != MP_WALK_OK))
				goto unreadable;
			seen_fn = true;
			if (likely(val.kind == MP_WALK_STR))
				request_field_fn(payload, val.str.off, val.str.len, req, err);
			else
				request_fail(err, false, "field 'fn' must be a string");
			break;
		case REQUEST_KEY_TYPE:
			val = mp_walk_str(payload, len, at, 2);
			if (unlikely(val.st != MP_WALK_OK))
				goto unreadable;
			request_field_type(payload + val.str.off, val, req, err);
			break;
		case REQUEST_KEY_TENANT:
			val = mp_walk_str(payload, len, at, 2);
			if (unlikely(val.st != MP_WALK_OK))
				goto unreadable;
			if (val.kind != MP_WALK_STR)
				request_fail(err, false, "field 'tenant' must be a string");
			else if (!request_name_valid((const char *)payload + val.str.off, val.str.len))
				request_fail(err, false, "field 'tenant' must be 1..%d characters of [A-Za-z0-9_-]",
					     REQUEST_NAME_MAX);
			else
				req->tenant = request_span(val.str.off, val.str.len);
			break;
		case REQUEST_KEY_LOG:
			val = mp_walk_str(payload, len, at, 2);
			if (unlikely(val.st != MP_WALK_OK))
				goto unreadable;
			if (val.kind == MP_WALK_STR && val.str.len == 4 &&
			    (memcmp(payload + val.str.off, "Tail", 4) == 0 ||
			     memcmp(payload + val.str.off, "None", 4) == 0))
				req->log_tail = payload[val.str.off] == 'T';
			else
				request_fail(err, false, val.kind == MP_WALK_STR ? "field 'log' must be Tail or None" :
					     "field 'log' must be a string");
			break;
		case REQUEST_KEY_TRACE:
			val = mp_walk_str(payload, len, at, 2);
			if (unlikely(val.st != MP_WALK_OK))
				goto unreadable;
			if (val.kind != MP_WALK_STR)
				request_fail(err, false, "field 'trace' must be a string");
			else if (val.str.len > REQUEST_TRACE_MAX)
				request_fail(err, false, "field 'trace' must be at most %d bytes", REQUEST_TRACE_MAX);
			else
				req->trace = request_span(val.str.off, val.str.len);
			break;
		case REQUEST_KEY_IDEMPOTENCY_KEY:
			val = mp_walk_str(payload, len, at, 2);
			if (unlikely(val.st != MP_WALK_OK))
				goto unreadable;
			if (val.kind != MP_WALK_STR)
				request_fail(err, false, "field 'idempotency_key' must be a string");
			else if (val.str.len < 1 || val.str.len > REQUEST_IDEMPOTENCY_KEY_MAX)
				request_fail(err, false, "field 'idempotency_key' must be 1..%d bytes",
					     REQUEST_IDEMPOTENCY_KEY_MAX);
			else
				req->idempotency_key = request_span(val.str.off, val.str.len);
			break;
		case REQUEST_KEY_EVENT:
		case REQUEST_KEY_CTX:
		case REQUEST_KEY_UNKNOWN:
			/* Any value, handed on as its bytes (or ignored): walked over, not decoded. */
			val = mp_walk_skip(payload, len, at, 2);
			if (unlikely(val.st != MP_WALK_OK))
				goto unreadable;
			if (k == REQUEST_KEY_EVENT)
				req->event = request_span(at, val.next - at);
			else if (k == REQUEST_KEY_CTX)
				req->ctx = request_span(at, val.next - at);
			break;
		}
	}

	if (unlikely(pos != len)) {
		request_fail(err, true, "trailing bytes after the request map");
		return -1;
	}
	if (unlikely(!seen_id))
		request_fail(err, false, "missing required field: id");
	else if (unlikely(!seen_fn))
		request_fail(err, false, "missing required field: fn");
	return err->message[0] != '\0' ? -1 : 0;

unreadable:
	return request_fail_value(err, val.st, payload, len, pos);
}
