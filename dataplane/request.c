/* The fields of an invoke request (PROTOCOL.md, "Request"), read from its MessagePack map in one pass. */
#include <inttypes.h>
#include <string.h>

#include <rte_common.h>

#include "mp_walk.h"
#include "request.h"
#include "request_fail.h"
#include "request_names.h"

/*
 * One pass over the datagram, nothing allocated: each key and each value is
 * read once, where it stands (mp_walk.c does the MessagePack, and says why
 * not msgpack-c). A key is matched on its header byte and name at once
 * (request_names.h has the keys; `id`, `fn` and `event`, in nearly every
 * request, are tried first as masked word compares); its field picks the
 * reader of its value (a uint, a str, or a walk over any value for `event`,
 * `ctx` and unknown keys) and applies it in the same switch, so each pair
 * costs one dispatch. Error messages are made by cold functions out of the
 * way of the loop, in request_fail.c.
 */
#define REQUEST_TRACE_MAX      256
#define REQUEST_SEEN_ID        0x1
#define REQUEST_SEEN_FN        0x2

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
request_field_fn(const uint8_t *payload, uint32_t off, uint32_t len, uint32_t end,
		 struct request *req, struct request_error *err)
{
	const uint8_t *s = payload + off;
	uint32_t name_len;

	/* One scan checks the name: it runs to the first byte that is no name character, ':' or the end. */
	name_len = request_name_chars(s, len, end - off);
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
	unsigned int seen = 0;      /* REQUEST_SEEN_*: the required fields met */
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
	if (likely(len > 0 && (payload[0] & 0xf0) == 0x80)) {
		pairs = payload[0] & 0x0f;      /* a fixmap: what every request of under 16 fields is */
		pos = 1;
	} else if (len > 0 && (payload[0] == 0xde || payload[0] == 0xdf)) {
		n = payload[0] == 0xde ? 2 : 4;
		if (unlikely(len < 1 + n))
			return request_fail_structure(err, MP_WALK_TRUNCATED, "request");
		pairs = (uint32_t)mp_walk_be(payload + 1, n);
		pos = 1 + n;
	} else {
		request_fail(err, true, "request must be a map");
		return -1;
	}
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

		/*
		 * The three keys of nearly every request, header and name, are
		 * each one masked compare of the next 8 bytes (those fit: the key
		 * and a byte of value at least), straight into their field. (pos
		 * <= len: every value read ended within the bytes.)
		 */
		if (likely(len - pos >= 8)) {
			uint64_t w = request_word(payload + pos);

			if ((w & 0xffffff) == REQUEST_WORD3(0xa2, 'i', 'd')) {
				at = pos + 3;
				if (likely(mp_walk_word_uint(w, 3, at, &val)))
					goto id_read;
				goto field_id;
			}
			if ((w & 0xffffff) == REQUEST_WORD3(0xa2, 'f', 'n')) {
				at = pos + 3;
				if (likely(mp_walk_word_str(w, 3, at, len, &val)))
					goto fn_read;
				goto field_fn;
			}
			if ((w & 0xffffffffffff) == REQUEST_WORD6(0xa5, 'e', 'v', 'e', 'n', 't')) {
				at = pos + 6;
				goto field_event;
			}
		}
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
field_id:
			val = mp_walk_uint(payload, len, at, 2);
			if (unlikely(val.st != MP_WALK_OK))
				goto unreadable;
id_read:
			/* The last `id` wins, and one that is not a uint takes back an earlier one. */
			seen |= REQUEST_SEEN_ID;
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
field_fn:
			val = mp_walk_str(payload, len, at, 2);
			if (unlikely(val.st != MP_WALK_OK))
				goto unreadable;
			if (unlikely(val.kind != MP_WALK_STR)) {
				seen |= REQUEST_SEEN_FN;
				request_fail(err, false, "field 'fn' must be a string");
				break;
			}
fn_read:
			seen |= REQUEST_SEEN_FN;
			request_field_fn(payload, val.str.off, val.str.len, len, req, err);
			break;
		case REQUEST_KEY_TYPE:
			val = mp_walk_str(payload, len, at, 2);
			if (unlikely(val.st != MP_WALK_OK))
				goto unreadable;
			if (val.kind != MP_WALK_STR)
				request_fail(err, false, "field 'type' must be a string");
			else if (!request_type_of(payload + val.str.off, val.str.len, &req->type))
				request_fail_type(err, payload + val.str.off, val.str.len);
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
field_event:
			/* Any value, handed on as its bytes: walked over, not decoded. */
			val = mp_walk_skip(payload, len, at, 2);
			if (unlikely(val.st != MP_WALK_OK))
				goto unreadable;
			req->event = request_span(at, val.next - at);
			break;
		case REQUEST_KEY_CTX:
		case REQUEST_KEY_UNKNOWN:
			/* The same for `ctx`; an unknown key's value is walked over and ignored. */
			val = mp_walk_skip(payload, len, at, 2);
			if (unlikely(val.st != MP_WALK_OK))
				goto unreadable;
			if (k == REQUEST_KEY_CTX)
				req->ctx = request_span(at, val.next - at);
			break;
		}
	}

	if (unlikely(pos != len)) {
		request_fail(err, true, "trailing bytes after the request map");
		return -1;
	}
	if (unlikely(seen != (REQUEST_SEEN_ID | REQUEST_SEEN_FN)))
		request_fail(err, false, "missing required field: %s", seen & REQUEST_SEEN_ID ? "fn" : "id");
	return err->message[0] != '\0' ? -1 : 0;

unreadable:
	return request_fail_value(err, val.st, payload, len, pos);
}
