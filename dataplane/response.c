/* Response encoding (PROTOCOL.md, "Response") into a fixed buffer that never grows. */
#include <string.h>

#include <rte_byteorder.h>

#include "response.h"

#define RESPONSE_VERSION     1
#define RESPONSE_MAP16       0xde
#define RESPONSE_FIXMAP      0x80
#define RESPONSE_FIXSTR      0xa0
#define RESPONSE_NIL         0xc0
#define RESPONSE_UINT64      0xcf

/*
 * A constant key (or value) as the bytes MessagePack has for it, a fixstr
 * header and the text, laid out by the compiler: nothing is measured or
 * packed per response, and a key is written with one copy.
 */
#define RESPONSE_KEY(name, text) \
	static const struct { \
		uint8_t tag; \
		char s[sizeof(text) - 1]; \
	} name = { RESPONSE_FIXSTR | (sizeof(text) - 1), text }; \
	_Static_assert(sizeof(text) - 1 < 32 && sizeof(name) == sizeof(text), "a fixstr")

RESPONSE_KEY(response_key_v, "v");
RESPONSE_KEY(response_key_id, "id");
RESPONSE_KEY(response_key_status, "status");
RESPONSE_KEY(response_key_version, "version");
RESPONSE_KEY(response_key_body, "body");
RESPONSE_KEY(response_key_error, "error");
RESPONSE_KEY(response_key_message, "message");
RESPONSE_KEY(response_key_reason, "reason");
RESPONSE_KEY(response_key_retry_after_ms, "retry_after_ms");
RESPONSE_KEY(response_key_trace, "trace");
RESPONSE_KEY(response_key_event_id, "event_id");
RESPONSE_KEY(response_key_duplicate, "duplicate");
RESPONSE_KEY(response_key_fn_error, "fn_error");
RESPONSE_KEY(response_key_log, "log");
RESPONSE_KEY(response_key_error_type, "errorType");
RESPONSE_KEY(response_key_error_message, "errorMessage");
RESPONSE_KEY(response_unhandled, "Unhandled");

/* The head's layout up to its id: map16, "v" 1, "id", 0xcf; then 8 bytes of id. */
_Static_assert(RESPONSE_HEAD_ID_AT == 3 + sizeof(response_key_v) + 1 + sizeof(response_key_id) + 1,
	       "the id's place in a head");
#define RESPONSE_HEAD_FIXED  (RESPONSE_HEAD_ID_AT + 8 + sizeof(response_key_status) + 2 + \
			      sizeof(response_key_version) + 1 + sizeof(response_key_body))
_Static_assert(RESPONSE_HEAD_FIXED + RESPONSE_VERSION_MAX <= RESPONSE_HEAD_MAX,
	       "a head with the longest version fits");

/*
 * The writer. Each write is checked against the capacity once, for all its
 * bytes; once one has been refused, later ones are refused too: a response
 * with a hole in it must never look complete, whatever fits afterwards.
 */
static inline uint8_t *
response_reserve(struct response_buf *rb, uint64_t n)
{
	uint8_t *p;

	if (rb->overflow || n > rb->cap - rb->len) {
		rb->overflow = true;
		return NULL;
	}
	p = rb->data + rb->len;
	rb->len += (uint32_t)n;
	return p;
}

static inline void
response_put(struct response_buf *rb, const void *s, uint32_t n)
{
	uint8_t *p = response_reserve(rb, n);

	/* An empty str may come with a NULL pointer, which memcpy must not see. */
	if (p != NULL && n != 0)
		memcpy(p, s, n);
}

#define response_put_key(rb, key) response_put((rb), &(key), sizeof(key))

static void
response_put_byte(struct response_buf *rb, uint8_t b)
{
	response_put(rb, &b, 1);
}

static uint32_t
response_str_header_len(uint32_t n)
{
	if (n < 32)
		return 1;
	if (n <= UINT8_MAX)
		return 2;
	if (n <= UINT16_MAX)
		return 3;
	return 5;
}

/* A str, header and bytes, as msgpack_pack_str() and msgpack_pack_str_body() write it. */
static void
response_put_str(struct response_buf *rb, const void *s, uint32_t n)
{
	uint32_t h = response_str_header_len(n);
	uint8_t *p = response_reserve(rb, (uint64_t)h + n);
	uint16_t n16 = rte_cpu_to_be_16((uint16_t)n);
	uint32_t n32 = rte_cpu_to_be_32(n);

	if (p == NULL)
		return;
	if (h == 1) {
		p[0] = (uint8_t)(RESPONSE_FIXSTR | n);
	} else if (h == 2) {
		p[0] = 0xd9;
		p[1] = (uint8_t)n;
	} else if (h == 3) {
		p[0] = 0xda;
		memcpy(p + 1, &n16, 2);
	} else {
		p[0] = 0xdb;
		memcpy(p + 1, &n32, 4);
	}
	if (n != 0)
		memcpy(p + h, s, n);
}

static void
response_put_cstr(struct response_buf *rb, const char *s)
{
	response_put_str(rb, s, (uint32_t)strlen(s));
}

/*
 * The first 200 of a deployment: the same bytes every other one starts
 * with, its id aside. The map header is a map16 even when a fixmap would
 * do: its count is only known at the end, and a fixed-size header can be
 * patched in place without moving the body.
 */
int
response_head_init(struct response_head *head, const void *version, uint32_t version_len)
{
	static const uint8_t map16[3] = { RESPONSE_MAP16, 0, RESPONSE_OK_FIELDS };
	static const uint8_t status_200[2] = { 0xcc, 200 };
	struct response_buf rb;

	memset(head, 0, sizeof(*head));
	if (version_len > RESPONSE_VERSION_MAX)
		return -1;
	response_buf_open(&rb, head->bytes, sizeof(head->bytes));
	response_put(&rb, map16, sizeof(map16));
	response_put_key(&rb, response_key_v);
	response_put_byte(&rb, RESPONSE_VERSION);
	response_put_key(&rb, response_key_id);
	response_put_byte(&rb, RESPONSE_UINT64);
	response_reserve(&rb, 8);   /* the id's place, patched per call */
	response_put_key(&rb, response_key_status);
	response_put(&rb, status_200, sizeof(status_200));
	response_put_key(&rb, response_key_version);
	response_put_str(&rb, version, version_len);
	response_put_key(&rb, response_key_body);
	head->len = (uint8_t)rb.len;
	return 0;
}

void
response_begin_ok_version(struct response_buf *rb, struct response_ok *ok, uint64_t id,
			  const void *version, uint32_t version_len)
{
	struct response_head head;

	/* A version no deployment can have: refused as a head that does not fit. */
	if (response_head_init(&head, version, version_len) != 0)
		rb->overflow = true;
	response_begin_ok(rb, ok, &head, id);
}

void
response_discard_body(struct response_buf *rb, const struct response_ok *ok)
{
	/* The overflow, if any, was in the body just dropped; the head before it is intact. */
	rb->len = ok->body_at;
	if (ok->fields != 0)
		rb->overflow = false;
}

void
response_body_fn_error(struct response_buf *rb, const char *type, const char *message)
{
	response_put_byte(rb, RESPONSE_FIXMAP | 2);
	response_put_key(rb, response_key_error_type);
	response_put_cstr(rb, type != NULL ? type : "");
	response_put_key(rb, response_key_error_message);
	response_put_cstr(rb, message != NULL ? message : "");
}

void
response_body_nil(struct response_buf *rb)
{
	response_put_byte(rb, RESPONSE_NIL);
}

/* The largest n <= want such that a str of n bytes fits in `room` bytes. */
static uint32_t
response_str_fit(uint32_t want, uint32_t room)
{
	static const uint32_t header_max[] = { 1, 2, 3, 5 };
	uint32_t best = 0;
	unsigned int i;

	for (i = 0; i < sizeof(header_max) / sizeof(header_max[0]); i++) {
		uint32_t n;

		if (room < header_max[i])
			break;
		n = room - header_max[i];
		if (n > want)
			n = want;
		if (response_str_header_len(n) + n <= room && n > best)
			best = n;
	}
	return best;
}

/* As much of the log's tail as the room left holds, cut on a character boundary. */
static void
response_put_log(struct response_buf *rb, const char *log_tail, uint32_t log_tail_len)
{
	uint32_t room = rb->cap - rb->len;
	uint32_t keep = 0;
	uint32_t skip;

	if (room > sizeof(response_key_log))
		keep = response_str_fit(log_tail_len, room - (uint32_t)sizeof(response_key_log));
	skip = log_tail_len - keep;
	/*
	 * Where the tail was cut, start it on a character boundary: a str
	 * that opens with half a UTF-8 sequence is refused by strict decoders.
	 */
	if (skip > 0) {
		uint32_t n = 0;

		while (n < 3 && n < keep && ((uint8_t)log_tail[skip + n] & 0xc0) == 0x80)
			n++;
		skip += n;
		keep -= n;
	}
	response_put_key(rb, response_key_log);
	response_put_str(rb, keep > 0 ? log_tail + skip : "", keep);
}

/* The keys after the body, none of them on a plain call's way. */
int
response_finish_ok_trailer(struct response_buf *rb, struct response_ok *ok, bool fn_error,
			   const void *trace, uint32_t trace_len,
			   const char *log_tail, uint32_t log_tail_len, bool want_log)
{
	if (ok->fields == 0 || rb->overflow) {
		rb->overflow = true;
		return -1;
	}
	if (fn_error) {
		response_put_key(rb, response_key_fn_error);
		response_put_key(rb, response_unhandled);
		ok->fields++;
	}
	if (trace_len > 0) {
		response_put_key(rb, response_key_trace);
		response_put_str(rb, trace, trace_len);
		ok->fields++;
	}
	if (want_log && !rb->overflow) {
		response_put_log(rb, log_tail, log_tail_len);
		ok->fields++;
	}
	if (rb->overflow)
		return -1;
	rb->data[ok->map_header_at + 2] = ok->fields;
	return 0;
}

/* ------------------------------------------------------------------ through a packer */

void
response_buf_init(struct response_buf *rb, msgpack_packer *pk, uint8_t *data, uint32_t cap)
{
	response_buf_open(rb, data, cap);
	msgpack_packer_init(pk, rb, response_buf_write);
}

/* The handler's writes arrive here, through msgpack-c's packer (handler.h's ABI). */
int
response_buf_write(void *data, const char *buf, size_t len)
{
	return response_buf_put(data, buf, len);
}

void
response_pack_cstr(msgpack_packer *pk, const char *s)
{
	response_pack_bytes(pk, s, strlen(s));
}

void
response_pack_bytes(msgpack_packer *pk, const void *s, size_t len)
{
	msgpack_pack_str(pk, len);
	msgpack_pack_str_body(pk, s, len);
}

/* A constant key through a packer: one write of its bytes. */
#define response_pack_key(pk, key) msgpack_pack_str_body((pk), &(key), sizeof(key))

const char *
response_error_name(unsigned int status)
{
	switch (status) {
	case 400:
		return "InvalidRequestContentException";
	case 403:
		return "AccessDeniedException";
	case 404:
		return "ResourceNotFoundException";
	case 413:
		return "RequestTooLargeException";
	case 429:
		return "TooManyRequestsException";
	case 500:
		return "ServiceException";
	case 502:
		return "ResourceNotReadyException";
	case 503:
		return "ServiceUnavailableException";
	default:
		/* An error status outside the table is still an error: name it as ours. */
		return status >= 400 ? "ServiceException" : NULL;
	}
}

/* The three keys every other response starts with, in this order, the id at its shortest. */
static void
response_pack_head(msgpack_packer *pk, uint64_t id, unsigned int status)
{
	response_pack_key(pk, response_key_v);
	msgpack_pack_uint64(pk, RESPONSE_VERSION);
	response_pack_key(pk, response_key_id);
	msgpack_pack_uint64(pk, id);
	response_pack_key(pk, response_key_status);
	msgpack_pack_unsigned_int(pk, status);
}

static void
response_pack_trace(msgpack_packer *pk, const void *trace, uint32_t trace_len)
{
	if (trace_len > 0) {
		response_pack_key(pk, response_key_trace);
		response_pack_bytes(pk, trace, trace_len);
	}
}

void
response_encode_error(msgpack_packer *pk, uint64_t id, unsigned int status,
		      const char *message, const char *reason, uint32_t retry_after_ms,
		      const void *trace, uint32_t trace_len)
{
	const char *name = response_error_name(status);

	msgpack_pack_map(pk, 5 + (reason != NULL) + (retry_after_ms != 0) + (trace_len > 0));
	response_pack_head(pk, id, status);
	response_pack_key(pk, response_key_error);
	response_pack_cstr(pk, name != NULL ? name : "ServiceException");
	response_pack_key(pk, response_key_message);
	response_pack_cstr(pk, message != NULL ? message : "");
	if (reason != NULL) {
		response_pack_key(pk, response_key_reason);
		response_pack_cstr(pk, reason);
	}
	if (retry_after_ms != 0) {
		response_pack_key(pk, response_key_retry_after_ms);
		msgpack_pack_uint32(pk, retry_after_ms);
	}
	response_pack_trace(pk, trace, trace_len);
}

void
response_encode_status(msgpack_packer *pk, uint64_t id, unsigned int status,
		       const void *trace, uint32_t trace_len)
{
	msgpack_pack_map(pk, trace_len > 0 ? 4 : 3);
	response_pack_head(pk, id, status);
	response_pack_trace(pk, trace, trace_len);
}

void
response_encode_accepted(msgpack_packer *pk, uint64_t id, const char *event_id, bool duplicate,
			 const void *trace, uint32_t trace_len)
{
	msgpack_pack_map(pk, 4 + (trace_len > 0) + duplicate);
	response_pack_head(pk, id, 202);
	response_pack_key(pk, response_key_event_id);
	response_pack_cstr(pk, event_id);
	if (duplicate) {
		response_pack_key(pk, response_key_duplicate);
		msgpack_pack_true(pk);
	}
	response_pack_trace(pk, trace, trace_len);
}
