/* Response encoding into a bounded buffer (the response's place in the mbuf). */
#ifndef TURBINE_RESPONSE_H
#define TURBINE_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

/* A fixed-capacity output buffer a msgpack_packer writes into; never allocates. */
struct response_buf {
	uint8_t *data;
	uint32_t len;
	uint32_t cap;
	bool overflow;   /* a write did not fit: the response must be replaced */
};

/* Point `pk` at `rb`, which writes into data[0..cap). */
void response_buf_init(struct response_buf *rb, msgpack_packer *pk, uint8_t *data, uint32_t cap);

/* msgpack_packer_write callback for a response_buf. */
int response_buf_write(void *rb, const char *buf, size_t len);

/* Pack a str from a NUL-terminated C string / from bytes. */
void response_pack_cstr(msgpack_packer *pk, const char *s);
void response_pack_bytes(msgpack_packer *pk, const void *s, size_t len);

/* Error names of PROTOCOL.md, by status. NULL for statuses below 400. */
const char *response_error_name(unsigned int status);

/*
 * A complete error response: {v, id, status, error, message[, reason,
 * retry_after_ms][, trace]}. `reason` NULL unless 429; retry_after_ms 0 = omit.
 */
void response_encode_error(msgpack_packer *pk, uint64_t id, unsigned int status,
			   const char *message, const char *reason, uint32_t retry_after_ms,
			   const void *trace, uint32_t trace_len);

/* A bodyless response: {v, id, status[, trace]}: 202 and 204. */
/* 202: an Event is durable in the queue as `event_id` (PROTOCOL.md), or was already (duplicate). */
void response_encode_accepted(msgpack_packer *pk, uint64_t id, const char *event_id, bool duplicate,
			      const void *trace, uint32_t trace_len);
void response_encode_status(msgpack_packer *pk, uint64_t id, unsigned int status,
			    const void *trace, uint32_t trace_len);

/*
 * A 200 response is built around the handler's body:
 *   response_begin_ok()   writes the map header and v/id/status/version, then the "body" key;
 *   the handler packs the body (or response_body_fn_error() packs the error object);
 *   response_finish_ok() appends fn_error/trace/log and fixes the map's size.
 * `log_tail` may be longer than what fits: only its last bytes that fit are kept.
 */
struct response_ok {
	uint32_t map_header_at;  /* offset of the map header byte to patch */
	uint32_t body_at;        /* offset where the body starts (for discarding it) */
	uint8_t fields;          /* keys written so far */
};

void response_begin_ok(struct response_buf *rb, msgpack_packer *pk, struct response_ok *ok,
		       uint64_t id, const void *version, uint32_t version_len);
/* Discard whatever was packed as body (the handler failed or overflowed). */
void response_discard_body(struct response_buf *rb, const struct response_ok *ok);
/* {errorType, errorMessage} as the body. */
void response_body_fn_error(msgpack_packer *pk, const char *type, const char *message);
/* Returns 0, or -1 when even the mandatory parts did not fit. */
int response_finish_ok(struct response_buf *rb, msgpack_packer *pk, struct response_ok *ok,
		       bool fn_error, const void *trace, uint32_t trace_len,
		       const char *log_tail, uint32_t log_tail_len, bool want_log);

#endif /* TURBINE_RESPONSE_H */
