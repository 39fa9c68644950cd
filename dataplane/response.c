/* Response encoding (PROTOCOL.md, "Response") into a fixed buffer that never grows. */
#include <string.h>

#include "response.h"

#define RESPONSE_VERSION     1
#define RESPONSE_MAP16       0xde
#define RESPONSE_MAP16_LEN   3u
#define RESPONSE_LOG_KEY_LEN 4u   /* fixstr "log" */

void
response_buf_init(struct response_buf *rb, msgpack_packer *pk, uint8_t *data, uint32_t cap)
{
	rb->data = data;
	rb->len = 0;
	rb->cap = cap;
	rb->overflow = false;
	msgpack_packer_init(pk, rb, response_buf_write);
}

/*
 * Once one write has been refused, later ones are refused too: a response
 * with a hole in it must never look complete, whatever fits afterwards.
 */
int
response_buf_write(void *data, const char *buf, size_t len)
{
	struct response_buf *rb = data;

	if (rb->overflow || len > rb->cap - rb->len) {
		rb->overflow = true;
		return -1;
	}
	if (len == 0)
		return 0;   /* an empty str body may come with a NULL pointer */
	memcpy(rb->data + rb->len, buf, len);
	rb->len += (uint32_t)len;
	return 0;
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

/* The three keys every response starts with, in this order. */
static void
response_pack_head(msgpack_packer *pk, uint64_t id, unsigned int status)
{
	response_pack_cstr(pk, "v");
	msgpack_pack_uint64(pk, RESPONSE_VERSION);
	response_pack_cstr(pk, "id");
	msgpack_pack_uint64(pk, id);
	response_pack_cstr(pk, "status");
	msgpack_pack_unsigned_int(pk, status);
}

void
response_encode_error(msgpack_packer *pk, uint64_t id, unsigned int status,
		      const char *message, const char *reason, uint32_t retry_after_ms,
		      const void *trace, uint32_t trace_len)
{
	const char *name = response_error_name(status);
	size_t fields = 5;

	if (reason != NULL)
		fields++;
	if (retry_after_ms != 0)
		fields++;
	if (trace_len > 0)
		fields++;

	msgpack_pack_map(pk, fields);
	response_pack_head(pk, id, status);
	response_pack_cstr(pk, "error");
	response_pack_cstr(pk, name != NULL ? name : "ServiceException");
	response_pack_cstr(pk, "message");
	response_pack_cstr(pk, message != NULL ? message : "");
	if (reason != NULL) {
		response_pack_cstr(pk, "reason");
		response_pack_cstr(pk, reason);
	}
	if (retry_after_ms != 0) {
		response_pack_cstr(pk, "retry_after_ms");
		msgpack_pack_uint32(pk, retry_after_ms);
	}
	if (trace_len > 0) {
		response_pack_cstr(pk, "trace");
		response_pack_bytes(pk, trace, trace_len);
	}
}

void
response_encode_status(msgpack_packer *pk, uint64_t id, unsigned int status,
		       const void *trace, uint32_t trace_len)
{
	msgpack_pack_map(pk, trace_len > 0 ? 4 : 3);
	response_pack_head(pk, id, status);
	if (trace_len > 0) {
		response_pack_cstr(pk, "trace");
		response_pack_bytes(pk, trace, trace_len);
	}
}

void
response_encode_accepted(msgpack_packer *pk, uint64_t id, const char *event_id, bool duplicate,
			 const void *trace, uint32_t trace_len)
{
	msgpack_pack_map(pk, 4 + (trace_len > 0) + duplicate);
	response_pack_head(pk, id, 202);
	response_pack_cstr(pk, "event_id");
	response_pack_cstr(pk, event_id);
	if (duplicate) {
		response_pack_cstr(pk, "duplicate");
		msgpack_pack_true(pk);
	}
	if (trace_len > 0) {
		response_pack_cstr(pk, "trace");
		response_pack_bytes(pk, trace, trace_len);
	}
}

/*
 * The map header is a map16 even when a fixmap would do: its count is only
 * known at the end, and a fixed-size header can be patched in place without
 * moving the body.
 */
void
response_begin_ok(struct response_buf *rb, msgpack_packer *pk, struct response_ok *ok,
		  uint64_t id, const void *version, uint32_t version_len)
{
	static const char map16[RESPONSE_MAP16_LEN] = { (char)RESPONSE_MAP16, 0, 0 };

	ok->map_header_at = rb->len;
	response_buf_write(rb, map16, sizeof(map16));
	response_pack_head(pk, id, 200);
	response_pack_cstr(pk, "version");
	response_pack_bytes(pk, version, version_len);
	response_pack_cstr(pk, "body");
	ok->body_at = rb->len;
	/* Zero keys marks a head that did not fit; response_finish_ok() then refuses. */
	ok->fields = rb->overflow ? 0 : 5;
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
response_body_fn_error(msgpack_packer *pk, const char *type, const char *message)
{
	msgpack_pack_map(pk, 2);
	response_pack_cstr(pk, "errorType");
	response_pack_cstr(pk, type != NULL ? type : "");
	response_pack_cstr(pk, "errorMessage");
	response_pack_cstr(pk, message != NULL ? message : "");
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

int
response_finish_ok(struct response_buf *rb, msgpack_packer *pk, struct response_ok *ok,
		   bool fn_error, const void *trace, uint32_t trace_len,
		   const char *log_tail, uint32_t log_tail_len, bool want_log)
{
	if (ok->fields == 0 || rb->overflow) {
		rb->overflow = true;
		return -1;
	}

	if (fn_error) {
		response_pack_cstr(pk, "fn_error");
		response_pack_cstr(pk, "Unhandled");
		ok->fields++;
	}
	if (trace_len > 0) {
		response_pack_cstr(pk, "trace");
		response_pack_bytes(pk, trace, trace_len);
		ok->fields++;
	}
	if (want_log && !rb->overflow) {
		uint32_t room = rb->cap - rb->len;
		uint32_t keep = 0;
		uint32_t skip;

		if (room > RESPONSE_LOG_KEY_LEN)
			keep = response_str_fit(log_tail_len, room - RESPONSE_LOG_KEY_LEN);
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
		response_pack_cstr(pk, "log");
		response_pack_bytes(pk, keep > 0 ? log_tail + skip : "", keep);
		ok->fields++;
	}
	if (rb->overflow)
		return -1;

	rb->data[ok->map_header_at + 1] = 0;
	rb->data[ok->map_header_at + 2] = ok->fields;
	return 0;
}
