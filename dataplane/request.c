/* Parsing and validation of an invoke request's MessagePack map (PROTOCOL.md, "Request"). */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <msgpack/unpack_define.h>

#include "request.h"

/*
 * The request is walked by a small validating reader before msgpack-c sees
 * any of it. msgpack-c allocates a container's element array from the
 * header's claimed count before it reads a single element, so a 6-byte
 * array32 header would make it ask the zone for gigabytes. The reader checks
 * every count against the bytes left and every length against the end of
 * the datagram, which bounds the work by the payload size and never
 * allocates; msgpack_unpack() then only decodes the scalars the typed fields
 * read as numbers, which need no zone memory at all.
 *
 * The nesting limit is msgpack-c's own, counting the request map as the
 * first level, so a value accepted here always decodes there.
 */
#define REQUEST_MAX_DEPTH      32
#define REQUEST_NAME_MAX       64
#define REQUEST_QUALIFIER_MAX  64
#define REQUEST_TRACE_MAX      256
#define REQUEST_EXCERPT_MAX    32

_Static_assert(REQUEST_MAX_DEPTH <= MSGPACK_EMBED_STACK_SIZE,
	       "the reader must not accept nesting msgpack-c rejects");

enum request_mp_status {
	REQUEST_MP_OK = 0,
	REQUEST_MP_TRUNCATED,
	REQUEST_MP_MALFORMED,
	REQUEST_MP_TOO_DEEP,
};

/* One MessagePack header: what follows it and how much of it. */
struct request_mp_head {
	uint32_t hdr_len;     /* bytes of the type byte and its length/count fields */
	uint64_t body_len;    /* bytes of data after the header (scalars, str, bin, ext) */
	uint64_t items;       /* values contained (maps count keys and values) */
	bool container;
	bool str;
};

struct request_reader {
	const uint8_t *p;
	uint32_t len;
	uint32_t off;
};

static uint64_t
request_be(const uint8_t *p, unsigned int n)
{
	uint64_t v = 0;
	unsigned int i;

	for (i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/* Decode the header at r->off without consuming it. */
static enum request_mp_status
request_mp_head(const struct request_reader *r, struct request_mp_head *h)
{
	const uint8_t *p = r->p + r->off;
	uint32_t left = r->len - r->off;
	uint8_t b;
	unsigned int n;

	if (left == 0)
		return REQUEST_MP_TRUNCATED;
	b = p[0];
	memset(h, 0, sizeof(*h));
	h->hdr_len = 1;

	if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
		return REQUEST_MP_OK;   /* fixint, nil, bool: the byte is the value */
	if (b >= 0x80 && b <= 0x8f) {
		h->container = true;
		h->items = (uint64_t)(b & 0x0f) * 2;
		return REQUEST_MP_OK;
	}
	if (b >= 0x90 && b <= 0x9f) {
		h->container = true;
		h->items = b & 0x0f;
		return REQUEST_MP_OK;
	}
	if (b >= 0xa0 && b <= 0xbf) {
		h->str = true;
		h->body_len = b & 0x1f;
		return REQUEST_MP_OK;
	}

	switch (b) {
	case 0xca: case 0xcb:                       /* float 32/64 */
		h->body_len = b == 0xca ? 4 : 8;
		return REQUEST_MP_OK;
	case 0xcc: case 0xcd: case 0xce: case 0xcf: /* uint 8..64 */
	case 0xd0: case 0xd1: case 0xd2: case 0xd3: /* int 8..64 */
		h->body_len = 1u << (b & 0x03);
		return REQUEST_MP_OK;
	case 0xd4: case 0xd5: case 0xd6: case 0xd7: /* fixext 1..8: type byte + data */
		h->body_len = 1 + (1u << (b & 0x03));
		return REQUEST_MP_OK;
	case 0xd8:                                  /* fixext 16 */
		h->body_len = 1 + 16;
		return REQUEST_MP_OK;
	default:
		break;
	}

	/* The remaining formats carry a 1, 2 or 4 byte big-endian length or count. */
	switch (b) {
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
		return REQUEST_MP_MALFORMED;        /* 0xc1, never used */
	}
	if (left < 1 + n)
		return REQUEST_MP_TRUNCATED;
	h->hdr_len = 1 + n;

	switch (b) {
	case 0xc4: case 0xc5: case 0xc6:            /* bin */
		h->body_len = request_be(p + 1, n);
		break;
	case 0xc7: case 0xc8: case 0xc9:            /* ext: the type byte follows the size */
		h->body_len = request_be(p + 1, n) + 1;
		break;
	case 0xd9: case 0xda: case 0xdb:            /* str */
		h->str = true;
		h->body_len = request_be(p + 1, n);
		break;
	case 0xdc: case 0xdd:                       /* array */
		h->container = true;
		h->items = request_be(p + 1, n);
		break;
	default:                                    /* map */
		h->container = true;
		h->items = request_be(p + 1, n) * 2;
		break;
	}
	return REQUEST_MP_OK;
}

/*
 * Consume a header decoded at r->off and, for a non-container, its body.
 * Every container element takes at least one byte, so a count above the
 * bytes left can only be a truncated (or hostile) value and is refused
 * before anything trusts it.
 */
static enum request_mp_status
request_mp_consume(struct request_reader *r, const struct request_mp_head *h)
{
	uint32_t left = r->len - r->off - h->hdr_len;

	if (h->body_len > left || h->items > left)
		return REQUEST_MP_TRUNCATED;
	r->off += h->hdr_len + (uint32_t)h->body_len;
	return REQUEST_MP_OK;
}

static enum request_mp_status
request_mp_take(struct request_reader *r, struct request_mp_head *h)
{
	enum request_mp_status st = request_mp_head(r, h);

	return st != REQUEST_MP_OK ? st : request_mp_consume(r, h);
}

/* Skip one complete value; `open` containers already enclose it. Iterative: no recursion to exhaust. */
static enum request_mp_status
request_mp_skip(struct request_reader *r, unsigned int open)
{
	uint64_t remaining[REQUEST_MAX_DEPTH + 1];
	unsigned int top = 1;
	struct request_mp_head h;
	enum request_mp_status st;

	remaining[0] = 1;
	while (top > 0) {
		if (remaining[top - 1] == 0) {
			top--;
			continue;
		}
		remaining[top - 1]--;
		st = request_mp_head(r, &h);
		if (st != REQUEST_MP_OK)
			return st;
		/* Checked on the header, as msgpack-c does, so an empty container counts too. */
		if (h.container && open + top - 1 >= REQUEST_MAX_DEPTH)
			return REQUEST_MP_TOO_DEEP;
		st = request_mp_consume(r, &h);
		if (st != REQUEST_MP_OK)
			return st;
		if (h.container && h.items > 0)
			remaining[top++] = h.items;
	}
	return REQUEST_MP_OK;
}

static bool
request_failed(const struct request_error *err)
{
	return err->message[0] != '\0';
}

/* Record a 400 message; the first one wins unless `override` (an unsupported version trumps all). */
static void __attribute__((format(printf, 3, 4)))
request_fail(struct request_error *err, bool override, const char *fmt, ...)
{
	va_list ap;

	if (request_failed(err) && !override)
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

static void
request_fail_structure(struct request_error *err, enum request_mp_status st, const char *where)
{
	switch (st) {
	case REQUEST_MP_TOO_DEEP:
		request_fail(err, true, "%s nests deeper than %d levels", where, REQUEST_MAX_DEPTH);
		break;
	case REQUEST_MP_MALFORMED:
		request_fail(err, true, "%s is not valid MessagePack", where);
		break;
	default:
		request_fail(err, true, "%s is truncated", where);
		break;
	}
}

bool
request_name_valid(const char *s, uint32_t len)
{
	uint32_t i;

	if (len == 0 || len > REQUEST_NAME_MAX)
		return false;
	for (i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return false;
	}
	return true;
}

bool
request_qualifier_valid(const char *s, uint32_t len)
{
	uint32_t i;

	if (len == 0 || len > REQUEST_QUALIFIER_MAX)
		return false;
	for (i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '$'))
			return false;
	}
	return true;
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

/* The value of one field: its raw bytes and, for integers, msgpack-c's decoding of them. */
struct request_value {
	struct request_span span;
	struct request_span str;  /* the bytes of a str value */
	bool is_str;
	bool decoded;             /* obj holds the value (scalars other than str) */
	msgpack_object obj;
};

static bool
request_value_uint(const struct request_value *v, uint64_t *out)
{
	if (!v->decoded || v->obj.type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return false;
	*out = v->obj.via.u64;
	return true;
}

static bool
request_value_str(const struct request_value *v, struct request_span *out)
{
	if (!v->is_str)
		return false;
	*out = v->str;
	return true;
}

static bool
request_key_is(const uint8_t *key, uint32_t key_len, const char *name)
{
	return key_len == strlen(name) && memcmp(key, name, key_len) == 0;
}

static void
request_field_fn(const uint8_t *payload, const struct request_value *v, struct request *req,
		 struct request_error *err)
{
	struct request_span s;
	const char *name;
	const char *colon;

	if (!request_value_str(v, &s)) {
		request_fail(err, false, "field 'fn' must be a string");
		return;
	}
	name = (const char *)payload + s.off;
	colon = memchr(name, ':', s.len);
	req->fn.off = s.off;
	req->fn.len = colon ? (uint16_t)(colon - name) : s.len;
	req->qualifier.off = 0;
	req->qualifier.len = 0;
	if (!request_name_valid(name, req->fn.len)) {
		request_fail(err, false, "field 'fn' must be 1..%d characters of [A-Za-z0-9_-], optionally ':qualifier'",
			     REQUEST_NAME_MAX);
		return;
	}
	if (colon == NULL)
		return;
	req->qualifier.off = (uint16_t)(s.off + req->fn.len + 1);
	req->qualifier.len = (uint16_t)(s.len - req->fn.len - 1);
	if (!request_qualifier_valid(colon + 1, req->qualifier.len))
		request_fail(err, false, "qualifier of field 'fn' must be 1..%d characters of [A-Za-z0-9_$-]",
			     REQUEST_QUALIFIER_MAX);
}

static void
request_field_type(const uint8_t *payload, const struct request_value *v, struct request *req,
		   struct request_error *err)
{
	static const enum request_type types[] = { REQUEST_RESPONSE, REQUEST_EVENT, REQUEST_DRYRUN };
	char excerpt[REQUEST_EXCERPT_MAX + 4];
	struct request_span s;
	unsigned int i;

	if (!request_value_str(v, &s)) {
		request_fail(err, false, "field 'type' must be a string");
		return;
	}
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		const char *name = request_type_name(types[i]);

		if (s.len == strlen(name) && memcmp(payload + s.off, name, s.len) == 0) {
			req->type = types[i];
			return;
		}
	}
	request_excerpt(excerpt, sizeof(excerpt), payload + s.off, s.len);
	request_fail(err, false, "field 'type' must be RequestResponse, Event or DryRun, not '%s'", excerpt);
}

static void
request_field_log(const uint8_t *payload, const struct request_value *v, struct request *req,
		  struct request_error *err)
{
	struct request_span s;

	if (!request_value_str(v, &s)) {
		request_fail(err, false, "field 'log' must be a string");
		return;
	}
	if (s.len == 4 && memcmp(payload + s.off, "Tail", 4) == 0)
		req->log_tail = true;
	else if (s.len == 4 && memcmp(payload + s.off, "None", 4) == 0)
		req->log_tail = false;
	else
		request_fail(err, false, "field 'log' must be Tail or None");
}

/* Apply one key/value pair; unknown keys are ignored for forward compatibility. */
static void
request_field(const uint8_t *payload, const uint8_t *key, uint32_t key_len,
	      const struct request_value *v, struct request *req, struct request_error *err)
{
	struct request_span s;
	uint64_t u;

	if (request_key_is(key, key_len, "v")) {
		if (!request_value_uint(v, &u))
			request_fail(err, true, "field 'v' must be an unsigned integer");
		else if (u != 1)
			request_fail(err, true, "unsupported protocol version %" PRIu64 " (expected 1)", u);
	} else if (request_key_is(key, key_len, "id")) {
		if (request_value_uint(v, &u)) {
			req->id = u;
			req->has_id = true;
		} else {
			req->id = 0;
			req->has_id = false;
			request_fail(err, false, "field 'id' must be an unsigned integer");
		}
	} else if (request_key_is(key, key_len, "fn")) {
		request_field_fn(payload, v, req, err);
	} else if (request_key_is(key, key_len, "type")) {
		request_field_type(payload, v, req, err);
	} else if (request_key_is(key, key_len, "tenant")) {
		if (!request_value_str(v, &s))
			request_fail(err, false, "field 'tenant' must be a string");
		else if (!request_name_valid((const char *)payload + s.off, s.len))
			request_fail(err, false, "field 'tenant' must be 1..%d characters of [A-Za-z0-9_-]",
				     REQUEST_NAME_MAX);
		else
			req->tenant = s;
	} else if (request_key_is(key, key_len, "event")) {
		req->event = v->span;
	} else if (request_key_is(key, key_len, "timeout_ms")) {
		if (!request_value_uint(v, &u)) {
			request_fail(err, false, "field 'timeout_ms' must be an unsigned integer");
		} else if (u == 0) {
			request_fail(err, false, "field 'timeout_ms' must be at least 1");
		} else {
			req->timeout_ms = u;
			req->has_timeout = true;
		}
	} else if (request_key_is(key, key_len, "ctx")) {
		req->ctx = v->span;
	} else if (request_key_is(key, key_len, "log")) {
		request_field_log(payload, v, req, err);
	} else if (request_key_is(key, key_len, "trace")) {
		if (!request_value_str(v, &s))
			request_fail(err, false, "field 'trace' must be a string");
		else if (s.len > REQUEST_TRACE_MAX)
			request_fail(err, false, "field 'trace' must be at most %d bytes", REQUEST_TRACE_MAX);
		else
			req->trace = s;
	} else if (request_key_is(key, key_len, "idempotency_key")) {
		if (!request_value_str(v, &s))
			request_fail(err, false, "field 'idempotency_key' must be a string");
		else if (s.len < 1 || s.len > REQUEST_IDEMPOTENCY_KEY_MAX)
			request_fail(err, false, "field 'idempotency_key' must be 1..%d bytes",
				     REQUEST_IDEMPOTENCY_KEY_MAX);
		else
			req->idempotency_key = s;
	}
}

/*
 * Read and validate one value. A str's bytes are located from its header
 * here: msgpack-c hands back no usable pointer for an empty one.
 */
static enum request_mp_status
request_read_value(struct request_reader *r, msgpack_zone *zone, struct request_value *v)
{
	struct request_mp_head h;
	enum request_mp_status st;
	uint32_t start = r->off;
	size_t off = 0;

	st = request_mp_head(r, &h);
	if (st != REQUEST_MP_OK)
		return st;
	st = request_mp_skip(r, 1);
	if (st != REQUEST_MP_OK)
		return st;
	v->span.off = (uint16_t)start;
	v->span.len = (uint16_t)(r->off - start);
	v->is_str = h.str;
	v->str.off = (uint16_t)(start + h.hdr_len);
	v->str.len = (uint16_t)h.body_len;
	v->decoded = !h.container && !h.str &&
		     msgpack_unpack((const char *)r->p + start, v->span.len, &off, zone, &v->obj) ==
		     MSGPACK_UNPACK_SUCCESS;
	return REQUEST_MP_OK;
}

int
request_value_len(const uint8_t *p, uint32_t len, uint32_t *value_len)
{
	struct request_reader r = { .p = p, .len = len, .off = 0 };

	if (request_mp_skip(&r, 0) != REQUEST_MP_OK)
		return -1;
	*value_len = r.off;
	return 0;
}

int
request_parse(const uint8_t *payload, uint32_t len, msgpack_zone *zone,
	      struct request *req, struct request_error *err)
{
	struct request_reader r = { .p = payload, .len = len, .off = 0 };
	struct request_mp_head h;
	enum request_mp_status st;
	bool seen_id = false;
	bool seen_fn = false;
	uint64_t pairs;
	uint64_t i;

	memset(req, 0, sizeof(*req));
	req->type = REQUEST_RESPONSE;
	err->message[0] = '\0';
	if (zone != NULL)
		msgpack_zone_clear(zone);

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
	st = request_mp_take(&r, &h);
	if (st != REQUEST_MP_OK) {
		request_fail_structure(err, st, "request");
		return -1;
	}

	pairs = h.items / 2;
	for (i = 0; i < pairs; i++) {
		struct request_value v;
		const uint8_t *key;
		uint32_t key_len;
		uint32_t key_at = r.off;
		char where[REQUEST_EXCERPT_MAX + 16];
		char excerpt[REQUEST_EXCERPT_MAX + 4];

		if (request_mp_head(&r, &h) == REQUEST_MP_OK && !h.str) {
			/* Not a field we know, but keep going: a later `id` can still be echoed. */
			request_fail(err, false, "request keys must be strings");
			st = request_mp_skip(&r, 1);
			if (st != REQUEST_MP_OK) {
				request_fail_structure(err, st, "a request key");
				return -1;
			}
			key = NULL;
			key_len = 0;
		} else {
			st = request_mp_take(&r, &h);
			if (st != REQUEST_MP_OK) {
				request_fail_structure(err, st, "a request key");
				return -1;
			}
			key = payload + key_at + h.hdr_len;
			key_len = (uint32_t)h.body_len;
		}

		st = request_read_value(&r, zone, &v);
		if (st != REQUEST_MP_OK) {
			if (key != NULL) {
				request_excerpt(excerpt, sizeof(excerpt), key, key_len);
				snprintf(where, sizeof(where), "field '%s'", excerpt);
			} else {
				snprintf(where, sizeof(where), "a request value");
			}
			request_fail_structure(err, st, where);
			return -1;
		}
		if (key == NULL)
			continue;
		request_field(payload, key, key_len, &v, req, err);
		if (request_key_is(key, key_len, "id"))
			seen_id = true;
		else if (request_key_is(key, key_len, "fn"))
			seen_fn = true;
	}

	if (r.off != len) {
		request_fail(err, true, "trailing bytes after the request map");
		return -1;
	}
	if (!seen_id)
		request_fail(err, false, "missing required field: id");
	else if (!seen_fn)
		request_fail(err, false, "missing required field: fn");
	return request_failed(err) ? -1 : 0;
}
