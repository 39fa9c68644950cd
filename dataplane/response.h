/* Response encoding into a bounded buffer (the response's place in the mbuf). */
#ifndef TURBINE_RESPONSE_H
#define TURBINE_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <msgpack.h>
#include <rte_branch_prediction.h>
#include <rte_byteorder.h>

/* A fixed-capacity output buffer; never allocates. */
struct response_buf {
	uint8_t *data;
	uint32_t len;
	uint32_t cap;
	bool overflow;   /* a write did not fit: the response must be replaced */
};

/* Write into data[0..cap) with the writer below, no packer. */
static inline void
response_buf_open(struct response_buf *rb, uint8_t *data, uint32_t cap)
{
	rb->data = data;
	rb->len = 0;
	rb->cap = cap;
	rb->overflow = false;
}

/* Open `rb` and point `pk` at it, for what msgpack-c packs (a handler's body, error replies). */
void response_buf_init(struct response_buf *rb, msgpack_packer *pk, uint8_t *data, uint32_t cap);

/* msgpack_packer_write callback for a response_buf. */
int response_buf_write(void *rb, const char *buf, size_t len);

/*
 * memcpy() in line for the short bodies most handlers return: up to 16
 * bytes as a first and a last word that overlap (8 or 4 bytes each), the
 * last 0-3 bytes one by one; a call to memcpy costs more than such a copy.
 * Longer copies, and only they, go to memcpy (never with len 0, whose
 * pointer may be NULL).
 */
static inline void
response_copy(uint8_t *to, const void *from, size_t len)
{
	const uint8_t *p = from;
	uint64_t w8[2];
	uint32_t w4[2];
	size_t i;

	if (len > 16) {
		memcpy(to, from, len);
	} else if (len >= 8) {
		memcpy(&w8[0], p, 8);
		memcpy(&w8[1], p + len - 8, 8);
		memcpy(to, &w8[0], 8);
		memcpy(to + len - 8, &w8[1], 8);
	} else if (len >= 4) {
		memcpy(&w4[0], p, 4);
		memcpy(&w4[1], p + len - 4, 4);
		memcpy(to, &w4[0], 4);
		memcpy(to + len - 4, &w4[1], 4);
	} else {
		for (i = 0; i < len; i++)
			to[i] = p[i];
	}
}

/*
 * What response_buf_write() does, for a caller that knows its packer's
 * target is a response_buf (turbine_resp_raw()): no call through a pointer.
 * Returns 0, or -1 when it does not fit (then nothing fits after it either).
 */
static inline int
response_buf_put(struct response_buf *rb, const void *buf, size_t len)
{
	uint8_t *to;

	if (rb->overflow || len > rb->cap - rb->len) {
		rb->overflow = true;
		return -1;
	}
	/* The length before the copy: nothing of rb is then needed after memcpy returns,
	 * which spares the caller registers to keep across it. */
	to = rb->data + rb->len;
	rb->len += (uint32_t)len;
	response_copy(to, buf, len);
	return 0;
}

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
 * What every 200 of one deployment starts with: the map header, v, the id
 * key, status 200, version and its value, the body key. Built once when
 * the deployment is (response_head_init); a call copies it whole and
 * patches its id, which is a uint64 of fixed width (0xcf and 8 bytes, as
 * MessagePack allows) so that the copy never depends on the id.
 */
#define RESPONSE_VERSION_MAX 31u   /* a fixstr; deployments keep at most 31 bytes */
#define RESPONSE_HEAD_MAX    80u   /* 41 bytes and the version, rounded up for one fixed copy */
#define RESPONSE_HEAD_ID_AT  10u   /* map16 (3), "v" 1 (3), "id" (3), 0xcf: checked in response.c */
#define RESPONSE_OK_FIELDS   5u    /* v, id, status, version, body */

struct response_head {
	uint8_t bytes[RESPONSE_HEAD_MAX];
	uint8_t len;
};

/* Returns 0, or -1 when the version is longer than RESPONSE_VERSION_MAX. */
int response_head_init(struct response_head *head, const void *version, uint32_t version_len);

/*
 * A 200 response is built around the handler's body:
 *   response_begin_ok()   copies the head (map header, v, id, status, version, "body" key);
 *   the handler packs the body (or response_body_fn_error() writes the error object);
 *   response_finish_ok() appends fn_error/trace/log and fixes the map's size.
 * `log_tail` may be longer than what fits: only its last bytes that fit are kept.
 */
struct response_ok {
	uint32_t map_header_at;  /* offset of the map header byte to patch */
	uint32_t body_at;        /* offset where the body starts (for discarding it) */
	uint8_t fields;          /* keys written so far */
};

/*
 * Inline, as response_finish_ok() below: each runs once per call from
 * another file, and a call would cost a third of what it does. One
 * fixed-size copy (a few vector moves, no call) when the room allows it,
 * as it always does in a reply's buffer: what it writes past the head is
 * the body's room, which the body overwrites.
 */
static inline void
response_begin_ok(struct response_buf *rb, struct response_ok *ok,
		  const struct response_head *head, uint64_t id)
{
	/* Read once: the copies below may alias rb and head as far as the compiler knows. */
	uint32_t at = rb->len, len = head->len;
	uint32_t room = rb->cap - at;
	uint8_t *p = rb->data + at;
	uint64_t id_be = rte_cpu_to_be_64(id);

	ok->map_header_at = at;
	/* Room for the fixed-size copy is room for any head (len <= RESPONSE_HEAD_MAX):
	 * tested first, it is the one test a reply's buffer needs. */
	if (likely(!rb->overflow && room >= RESPONSE_HEAD_MAX)) {
		memcpy(p, head->bytes, RESPONSE_HEAD_MAX);
	} else if (rb->overflow || room < len) {
		rb->overflow = true;
		ok->body_at = at;
		/* Zero keys marks a head that did not fit; response_finish_ok() then refuses. */
		ok->fields = 0;
		return;
	} else {
		memcpy(p, head->bytes, len);
	}
	memcpy(p + RESPONSE_HEAD_ID_AT, &id_be, sizeof(id_be));
	rb->len = at + len;
	ok->body_at = at + len;
	ok->fields = RESPONSE_OK_FIELDS;
}

/* The same from a version string, for answers with no deployment's head at hand. */
void response_begin_ok_version(struct response_buf *rb, struct response_ok *ok, uint64_t id,
			       const void *version, uint32_t version_len);
/* Discard whatever was packed as body (the handler failed or overflowed). */
void response_discard_body(struct response_buf *rb, const struct response_ok *ok);
/* {errorType, errorMessage} as the body. */
void response_body_fn_error(struct response_buf *rb, const char *type, const char *message);
/* A nil body, for a handler that packed nothing. */
void response_body_nil(struct response_buf *rb);
/* response_finish_ok() with keys after the body: fn_error, trace, log. */
int response_finish_ok_trailer(struct response_buf *rb, struct response_ok *ok, bool fn_error,
			       const void *trace, uint32_t trace_len,
			       const char *log_tail, uint32_t log_tail_len, bool want_log);

/* Returns 0, or -1 when even the mandatory parts did not fit. */
static inline int
response_finish_ok(struct response_buf *rb, struct response_ok *ok, bool fn_error,
		   const void *trace, uint32_t trace_len,
		   const char *log_tail, uint32_t log_tail_len, bool want_log)
{
	if (fn_error || trace_len > 0 || want_log)
		return response_finish_ok_trailer(rb, ok, fn_error, trace, trace_len, log_tail,
						  log_tail_len, want_log);
	if (ok->fields == 0 || rb->overflow) {
		rb->overflow = true;
		return -1;
	}
	/* No key added: the head's map header already counts RESPONSE_OK_FIELDS. */
	return 0;
}

#endif /* TURBINE_RESPONSE_H */
