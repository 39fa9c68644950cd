/* Parsing and validation of an invoke request's MessagePack map (PROTOCOL.md, "Request"). */
#include <endian.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <msgpack/unpack_define.h>

#include "request.h"

/*
 * One pass over the datagram. Each key and each value is decoded once, where
 * it stands: the integers and strings a field wants are read straight from
 * their header, a key is told apart by its length and first byte and
 * confirmed by one memcmp, and everything else (`event`, `ctx`, unknown
 * keys, ill-typed values) is skipped by the same walk that checks it. No
 * allocator, no msgpack-c: msgpack-c allocates a container's element array
 * from the header's claimed count before it reads a single element, so a
 * 6-byte array32 header would make it ask for gigabytes. Here every count is
 * checked against the bytes left (each element takes at least one byte) and
 * every length against the end of the datagram before anything trusts it,
 * so the work is bounded by the payload's size. The walk is iterative, with
 * a fixed stack of open containers: nothing to exhaust.
 *
 * The nesting limit is msgpack-c's own, counting the request map as the
 * first level, so a value accepted here always decodes there (the fuzz
 * target, tests/fuzz, checks the decoder against msgpack-c both ways).
 */
#define REQUEST_MAX_DEPTH      32
#define REQUEST_NAME_MAX       64
#define REQUEST_QUALIFIER_MAX  64
#define REQUEST_TRACE_MAX      256
#define REQUEST_EXCERPT_MAX    32

_Static_assert(REQUEST_MAX_DEPTH == MSGPACK_EMBED_STACK_SIZE,
	       "the decoder must accept exactly the nesting msgpack-c accepts");

enum request_status {
	REQUEST_OK = 0,
	REQUEST_TRUNCATED,
	REQUEST_MALFORMED,
	REQUEST_TOO_DEEP,
};

/* What a value is, as far as the fields care. */
enum request_kind {
	REQUEST_KIND_OTHER = 0,
	REQUEST_KIND_UINT,          /* any integer format holding a value >= 0 */
	REQUEST_KIND_STR,
};

/* One key or value, decoded in place. */
struct request_value {
	struct request_span raw;    /* all its bytes (a value of the map, once read) */
	const uint8_t *str;         /* a str's bytes (located from its header: there may be none) */
	uint32_t len;               /* a str's length */
	enum request_kind kind;
	uint64_t u;                 /* an unsigned integer's value */
};

/* A header as the walk needs it: how many bytes follow, or how many values. */
struct request_head {
	uint32_t hdr;               /* the type byte and its size field */
	bool container;
	uint64_t body;              /* data bytes after the header (not a container) */
	uint64_t items;             /* values inside (a container; a map counts keys and values) */
};

/* Big-endian 1, 2, 4 or 8 bytes. */
static inline uint64_t
request_be(const uint8_t *p, unsigned int n)
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

/* Decode the header at p; its size field must be there, its body is checked by the caller. */
static enum request_status
request_head(const uint8_t *p, const uint8_t *end, struct request_head *h)
{
	size_t left = (size_t)(end - p);
	unsigned int n;             /* bytes of the size field */

	if (left == 0)
		return REQUEST_TRUNCATED;
	h->hdr = 1;
	h->container = false;
	h->body = 0;
	h->items = 0;
	/* The fixed formats, which most of an event is, by two tests rather than the switch. */
	if (p[0] >= 0xa0 && p[0] <= 0xbf) {
		h->body = p[0] & 0x1f;              /* fixstr */
		return REQUEST_OK;
	}
	if (p[0] >= 0x80 && p[0] <= 0x9f) {
		h->container = true;                /* fixmap (keys and values), fixarray */
		h->items = p[0] <= 0x8f ? (p[0] & 0x0f) * 2u : p[0] & 0x0f;
		return REQUEST_OK;
	}
	switch (p[0]) {
	case 0x00 ... 0x7f: case 0xc0: case 0xc2: case 0xc3: case 0xe0 ... 0xff:
		return REQUEST_OK;  /* fixint, nil, bool: the byte is the value */
	case 0xca: case 0xcb:       /* float 32/64 */
		h->body = p[0] == 0xca ? 4 : 8;
		return REQUEST_OK;
	case 0xcc ... 0xd3:         /* uint and int 8..64 */
		h->body = 1u << (p[0] & 0x03);
		return REQUEST_OK;
	case 0xd4 ... 0xd8:         /* fixext 1..16: the type byte, then the data */
		h->body = 1 + (1u << (p[0] - 0xd4));
		return REQUEST_OK;
	case 0xc4: case 0xc7: case 0xd9:
		n = 1;
		break;
	case 0xc5: case 0xc8: case 0xda: case 0xdc: case 0xde:
		n = 2;
		break;
	case 0xc6: case 0xc9: case 0xdb: case 0xdd: case 0xdf:
		n = 4;
		break;
	default:
		return REQUEST_MALFORMED; /* 0xc1, never used */
	}

	/* The rest carry a 1, 2 or 4 byte big-endian length or count. */
	if (left < 1 + n)
		return REQUEST_TRUNCATED;
	h->hdr = 1 + n;
	switch (p[0]) {
	case 0xc7: case 0xc8: case 0xc9:    /* ext: the type byte follows the size */
		h->body = request_be(p + 1, n) + 1;
		break;
	case 0xdc: case 0xdd:               /* array */
		h->container = true;
		h->items = request_be(p + 1, n);
		break;
	case 0xde: case 0xdf:               /* map */
		h->container = true;
		h->items = request_be(p + 1, n) * 2;
		break;
	default:                            /* str, bin */
		h->body = request_be(p + 1, n);
		break;
	}
	return REQUEST_OK;
}

/*
 * Skip the one value at *pp, which sits at nesting level `level` (the
 * request map is level 1). Every header is checked before it is trusted: a
 * container deeper than msgpack-c decodes is refused on its header (an
 * empty one too, as msgpack-c does), a count above the bytes left or a body
 * past the end as truncated. Only the innermost container's count is kept
 * in a local, counted down once per value; the enclosing ones wait on a
 * stack no deeper than the nesting limit.
 */
static enum request_status
request_skip(const uint8_t **pp, const uint8_t *end, unsigned int level)
{
	uint32_t outer[REQUEST_MAX_DEPTH]; /* values still to come in each enclosing container */
	unsigned int open = 0;
	uint64_t left = 1;          /* values still to come in the innermost one (at first, this value) */
	const uint8_t *p = *pp;
	struct request_head h;
	enum request_status st;

	for (;;) {
		st = request_head(p, end, &h);
		if (st != REQUEST_OK)
			return st;
		if (h.container && level + open > REQUEST_MAX_DEPTH)
			return REQUEST_TOO_DEEP;
		p += h.hdr;
		/* At most one of the two is not 0, and their sum cannot wrap. */
		if (h.body + h.items > (size_t)(end - p))
			return REQUEST_TRUNCATED;
		p += h.body;
		if (h.items > 0) {
			outer[open++] = (uint32_t)left;
			left = h.items;
			continue;
		}
		/* A value ended: so did every container it was the last of. */
		while (--left == 0) {
			if (open == 0) {
				*pp = p;
				return REQUEST_OK;
			}
			left = outer[--open];
		}
	}
}

/* The str of `len` bytes after the `hdr` bytes of its header at *pp, if the datagram holds it. */
static enum request_status
request_str(const uint8_t **pp, const uint8_t *end, unsigned int hdr, uint64_t len,
	    struct request_value *v)
{
	if (len > (size_t)(end - *pp) - hdr)
		return REQUEST_TRUNCATED;
	v->kind = REQUEST_KIND_STR;
	v->str = *pp + hdr;
	v->len = (uint32_t)len;
	*pp = v->str + len;
	return REQUEST_OK;
}

/*
 * Read one key or value of the request map at *pp and move past it. The
 * formats a field can want, integers and strings, are decoded right here;
 * anything else is skipped as a whole.
 */
static inline enum request_status
request_value(const uint8_t **pp, const uint8_t *end, struct request_value *v)
{
	const uint8_t *p = *pp;
	size_t left = (size_t)(end - p);
	unsigned int n;

	v->kind = REQUEST_KIND_OTHER;
	if (left == 0)
		return REQUEST_TRUNCATED;
	/* Keys and most values are fixstrs: one test finds them. */
	if ((p[0] & 0xe0) == 0xa0)
		return request_str(pp, end, 1, p[0] & 0x1f, v);
	v->str = p;                 /* what is not a str has none */
	v->len = 0;
	switch (p[0]) {
	case 0x00 ... 0x7f:
		v->kind = REQUEST_KIND_UINT;
		v->u = p[0];
		*pp = p + 1;
		return REQUEST_OK;
	case 0xd9: case 0xda: case 0xdb:
		n = 1u << (p[0] - 0xd9);
		if (left < 1 + n)
			return REQUEST_TRUNCATED;
		return request_str(pp, end, 1 + n, request_be(p + 1, n), v);
	case 0xcc ... 0xd3:
		n = 1u << (p[0] & 0x03);
		if (left < 1 + n)
			return REQUEST_TRUNCATED;
		/* A signed format holding a value >= 0 is that unsigned value, as msgpack-c reads it. */
		if (p[0] <= 0xcf || (p[1] & 0x80) == 0) {
			v->kind = REQUEST_KIND_UINT;
			v->u = request_be(p + 1, n);
		}
		*pp = p + 1 + n;
		return REQUEST_OK;
	default:
		return request_skip(pp, end, 2);
	}
}

/* Record a 400 message; the first one wins unless `override` (an unsupported version trumps all). */
static void __attribute__((format(printf, 3, 4)))
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
static void
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
static int
request_fail_structure(struct request_error *err, enum request_status st, const char *where)
{
	switch (st) {
	case REQUEST_TOO_DEEP:
		request_fail(err, true, "%s nests deeper than %d levels", where, REQUEST_MAX_DEPTH);
		break;
	case REQUEST_MALFORMED:
		request_fail(err, true, "%s is not valid MessagePack", where);
		break;
	default:
		request_fail(err, true, "%s is truncated", where);
		break;
	}
	return -1;
}

/* A value that cannot be read names its field, when the key was a string. */
static int
request_fail_value(struct request_error *err, enum request_status st, const struct request_value *key)
{
	char excerpt[REQUEST_EXCERPT_MAX + 4];
	char where[REQUEST_EXCERPT_MAX + 16];

	if (key->kind != REQUEST_KIND_STR)
		return request_fail_structure(err, st, "a request value");
	request_excerpt(excerpt, sizeof(excerpt), key->str, key->len);
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

/* How many bytes of s, from the start, are characters of `class`. */
static inline uint32_t
request_chars_of(const uint8_t *s, uint32_t len, uint8_t class)
{
	uint32_t i = 0;

	while (i < len && (request_chars[s[i]] & class))
		i++;
	return i;
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

/* `key` when the n bytes at s are `name`: a constant-size memcmp the compiler inlines. */
static inline enum request_key
request_key_if(const uint8_t *s, const char *name, size_t n, enum request_key key)
{
	return memcmp(s, name, n) == 0 ? key : REQUEST_KEY_UNKNOWN;
}

/* No two known keys share both their length and their first byte. */
static enum request_key
request_key(const uint8_t *s, uint32_t len)
{
	switch (len) {
	case 1:
		return s[0] == 'v' ? REQUEST_KEY_V : REQUEST_KEY_UNKNOWN;
	case 2:
		if (s[0] == 'i')
			return request_key_if(s, "id", 2, REQUEST_KEY_ID);
		if (s[0] == 'f')
			return request_key_if(s, "fn", 2, REQUEST_KEY_FN);
		break;
	case 3:
		if (s[0] == 'c')
			return request_key_if(s, "ctx", 3, REQUEST_KEY_CTX);
		if (s[0] == 'l')
			return request_key_if(s, "log", 3, REQUEST_KEY_LOG);
		break;
	case 4:
		return request_key_if(s, "type", 4, REQUEST_KEY_TYPE);
	case 5:
		if (s[0] == 'e')
			return request_key_if(s, "event", 5, REQUEST_KEY_EVENT);
		if (s[0] == 't')
			return request_key_if(s, "trace", 5, REQUEST_KEY_TRACE);
		break;
	case 6:
		return request_key_if(s, "tenant", 6, REQUEST_KEY_TENANT);
	case 10:
		return request_key_if(s, "timeout_ms", 10, REQUEST_KEY_TIMEOUT_MS);
	case 15:
		return request_key_if(s, "idempotency_key", 15, REQUEST_KEY_IDEMPOTENCY_KEY);
	}
	return REQUEST_KEY_UNKNOWN;
}

/* The request's bytes a str value covers. */
static struct request_span
request_span_of(const uint8_t *payload, const uint8_t *s, uint32_t len)
{
	return (struct request_span){ .off = (uint16_t)(s - payload), .len = (uint16_t)len };
}

/* `name` or `name:qualifier`, split at the first ':'. */
static void
request_field_fn(const uint8_t *payload, const struct request_value *v, struct request *req,
		 struct request_error *err)
{
	uint32_t name_len;

	if (v->kind != REQUEST_KIND_STR) {
		request_fail(err, false, "field 'fn' must be a string");
		return;
	}
	/* One scan checks the name: it runs to the first byte that is no name character, ':' or the end. */
	name_len = request_chars_of(v->str, v->len, REQUEST_CHAR_NAME);
	req->fn = request_span_of(payload, v->str, name_len);
	req->qualifier = (struct request_span){ 0, 0 };
	if (name_len == 0 || name_len > REQUEST_NAME_MAX ||
	    (name_len < v->len && v->str[name_len] != ':')) {
		request_fail(err, false, "field 'fn' must be 1..%d characters of [A-Za-z0-9_-], optionally ':qualifier'",
			     REQUEST_NAME_MAX);
		return;
	}
	if (name_len == v->len)
		return;
	req->qualifier = request_span_of(payload, v->str + name_len + 1, v->len - name_len - 1);
	if (!request_qualifier_valid((const char *)v->str + name_len + 1, req->qualifier.len))
		request_fail(err, false, "qualifier of field 'fn' must be 1..%d characters of [A-Za-z0-9_$-]",
			     REQUEST_QUALIFIER_MAX);
}

static void
request_field_type(const struct request_value *v, struct request *req, struct request_error *err)
{
	char excerpt[REQUEST_EXCERPT_MAX + 4];

	if (v->kind != REQUEST_KIND_STR) {
		request_fail(err, false, "field 'type' must be a string");
		return;
	}
	if (v->len == 15 && memcmp(v->str, "RequestResponse", 15) == 0) {
		req->type = REQUEST_RESPONSE;
	} else if (v->len == 5 && memcmp(v->str, "Event", 5) == 0) {
		req->type = REQUEST_EVENT;
	} else if (v->len == 6 && memcmp(v->str, "DryRun", 6) == 0) {
		req->type = REQUEST_DRYRUN;
	} else {
		request_excerpt(excerpt, sizeof(excerpt), v->str, v->len);
		request_fail(err, false, "field 'type' must be RequestResponse, Event or DryRun, not '%s'",
			     excerpt);
	}
}

/* Apply one field. Its errors are recorded and parsing goes on, so that a later `id` is still echoed. */
static void
request_field(const uint8_t *payload, enum request_key key, const struct request_value *v,
	      struct request *req, struct request_error *err)
{
	bool str = v->kind == REQUEST_KIND_STR;
	bool uint = v->kind == REQUEST_KIND_UINT;

	switch (key) {
	case REQUEST_KEY_V:
		if (!uint)
			request_fail(err, true, "field 'v' must be an unsigned integer");
		else if (v->u != 1)
			request_fail(err, true, "unsupported protocol version %" PRIu64 " (expected 1)", v->u);
		break;
	case REQUEST_KEY_ID:
		/* The last `id` wins, and one that is not a uint takes back an earlier one. */
		req->has_id = uint;
		req->id = uint ? v->u : 0;
		if (!uint)
			request_fail(err, false, "field 'id' must be an unsigned integer");
		break;
	case REQUEST_KEY_FN:
		request_field_fn(payload, v, req, err);
		break;
	case REQUEST_KEY_TYPE:
		request_field_type(v, req, err);
		break;
	case REQUEST_KEY_TENANT:
		if (!str)
			request_fail(err, false, "field 'tenant' must be a string");
		else if (!request_name_valid((const char *)v->str, v->len))
			request_fail(err, false, "field 'tenant' must be 1..%d characters of [A-Za-z0-9_-]",
				     REQUEST_NAME_MAX);
		else
			req->tenant = request_span_of(payload, v->str, v->len);
		break;
	case REQUEST_KEY_EVENT:
		req->event = v->raw;    /* any value, handed on as its bytes */
		break;
	case REQUEST_KEY_CTX:
		req->ctx = v->raw;
		break;
	case REQUEST_KEY_TIMEOUT_MS:
		if (!uint) {
			request_fail(err, false, "field 'timeout_ms' must be an unsigned integer");
		} else if (v->u == 0) {
			request_fail(err, false, "field 'timeout_ms' must be at least 1");
		} else {
			req->timeout_ms = v->u;
			req->has_timeout = true;
		}
		break;
	case REQUEST_KEY_LOG:
		if (str && v->len == 4 && memcmp(v->str, "Tail", 4) == 0)
			req->log_tail = true;
		else if (str && v->len == 4 && memcmp(v->str, "None", 4) == 0)
			req->log_tail = false;
		else
			request_fail(err, false, str ? "field 'log' must be Tail or None" :
				     "field 'log' must be a string");
		break;
	case REQUEST_KEY_TRACE:
		if (!str)
			request_fail(err, false, "field 'trace' must be a string");
		else if (v->len > REQUEST_TRACE_MAX)
			request_fail(err, false, "field 'trace' must be at most %d bytes", REQUEST_TRACE_MAX);
		else
			req->trace = request_span_of(payload, v->str, v->len);
		break;
	case REQUEST_KEY_IDEMPOTENCY_KEY:
		if (!str)
			request_fail(err, false, "field 'idempotency_key' must be a string");
		else if (v->len < 1 || v->len > REQUEST_IDEMPOTENCY_KEY_MAX)
			request_fail(err, false, "field 'idempotency_key' must be 1..%d bytes",
				     REQUEST_IDEMPOTENCY_KEY_MAX);
		else
			req->idempotency_key = request_span_of(payload, v->str, v->len);
		break;
	case REQUEST_KEY_UNKNOWN:
		break;
	}
}

int
request_value_len(const uint8_t *p, uint32_t len, uint32_t *value_len)
{
	const uint8_t *q = p;

	if (request_skip(&q, p + len, 1) != REQUEST_OK)
		return -1;
	*value_len = (uint32_t)(q - p);
	return 0;
}

int
request_parse(const uint8_t *payload, uint32_t len, struct request *req, struct request_error *err)
{
	const uint8_t *end = payload + len;
	const uint8_t *p = payload;
	bool seen_id = false;
	bool seen_fn = false;
	uint64_t pairs;
	unsigned int n;

	/* The one initialisation of the struct: absent fields are zero, type RequestResponse. */
	*req = (struct request){ .type = REQUEST_RESPONSE };
	err->message[0] = '\0';

	/* Spans are 16-bit; no UDP payload over IPv4 comes near this. */
	if (len > UINT16_MAX) {
		request_fail(err, true, "request is larger than %u bytes", UINT16_MAX);
		return -1;
	}
	if (len == 0 || !((payload[0] >= 0x80 && payload[0] <= 0x8f) ||
			  payload[0] == 0xde || payload[0] == 0xdf)) {
		request_fail(err, true, "request must be a map");
		return -1;
	}
	n = payload[0] <= 0x8f ? 0 : payload[0] == 0xde ? 2 : 4;
	if (len < 1 + n)
		return request_fail_structure(err, REQUEST_TRUNCATED, "request");
	pairs = n == 0 ? (payload[0] & 0x0f) : request_be(payload + 1, n);
	p += 1 + n;
	if (pairs * 2 > (size_t)(end - p))
		return request_fail_structure(err, REQUEST_TRUNCATED, "request");

	for (; pairs > 0; pairs--) {
		struct request_value key, val;
		const uint8_t *at;
		enum request_key k;
		enum request_status st;

		st = request_value(&p, end, &key);
		if (st != REQUEST_OK)
			return request_fail_structure(err, st, "a request key");
		at = p;
		st = request_value(&p, end, &val);
		if (st != REQUEST_OK)
			return request_fail_value(err, st, &key);
		val.raw = request_span_of(payload, at, (uint32_t)(p - at));
		if (key.kind != REQUEST_KIND_STR) {
			/* Not a field we know, but keep going: a later `id` can still be echoed. */
			request_fail(err, false, "request keys must be strings");
			continue;
		}
		k = request_key(key.str, key.len);
		seen_id |= k == REQUEST_KEY_ID;
		seen_fn |= k == REQUEST_KEY_FN;
		request_field(payload, k, &val, req, err);
	}

	if (p != end) {
		request_fail(err, true, "trailing bytes after the request map");
		return -1;
	}
	if (!seen_id)
		request_fail(err, false, "missing required field: id");
	else if (!seen_fn)
		request_fail(err, false, "missing required field: fn");
	return err->message[0] != '\0' ? -1 : 0;
}
