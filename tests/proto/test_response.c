/* Unit tests of response encoding: decoded back with msgpack-c and compared field by field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <msgpack.h>

#include "request.h"
#include "response.h"

static uint8_t out[2048];
static struct response_buf rb;
static msgpack_packer pk;
static msgpack_zone zone;
static msgpack_object resp;

static int
setup(void **state)
{
	(void)state;
	memset(out, 0xa5, sizeof(out));
	response_buf_init(&rb, &pk, out, sizeof(out));
	return msgpack_zone_init(&zone, 4096) ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	msgpack_zone_destroy(&zone);
	return 0;
}

/* The buffer must hold exactly one map and nothing after it. */
static void
decode(void)
{
	size_t off = 0;

	assert_false(rb.overflow);
	assert_int_equal(msgpack_unpack((const char *)rb.data, rb.len, &off, &zone, &resp),
			 MSGPACK_UNPACK_SUCCESS);
	assert_int_equal(off, rb.len);
	assert_int_equal(resp.type, MSGPACK_OBJECT_MAP);
}

static void
assert_obj_str(const msgpack_object *o, const void *want, size_t len)
{
	assert_int_equal(o->type, MSGPACK_OBJECT_STR);
	assert_int_equal(o->via.str.size, len);
	assert_memory_equal(o->via.str.ptr, want, len);
}

static void
assert_obj_cstr(const msgpack_object *o, const char *want)
{
	assert_obj_str(o, want, strlen(want));
}

static void
assert_obj_uint(const msgpack_object *o, uint64_t want)
{
	assert_int_equal(o->type, MSGPACK_OBJECT_POSITIVE_INTEGER);
	assert_int_equal(o->via.u64, want);
}

/* Keys in exactly this order, and no others. */
static void
assert_keys(const msgpack_object *o, const char *const *keys, uint32_t n)
{
	uint32_t i;

	assert_int_equal(o->type, MSGPACK_OBJECT_MAP);
	assert_int_equal(o->via.map.size, n);
	for (i = 0; i < n; i++)
		assert_obj_cstr(&o->via.map.ptr[i].key, keys[i]);
}

static const msgpack_object *
get(const msgpack_object *o, const char *key)
{
	uint32_t i;

	for (i = 0; i < o->via.map.size; i++) {
		const msgpack_object *k = &o->via.map.ptr[i].key;

		if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == strlen(key) &&
		    memcmp(k->via.str.ptr, key, k->via.str.size) == 0)
			return &o->via.map.ptr[i].val;
	}
	fail_msg("no key '%s'", key);
	return NULL;
}

static void
test_error_names(void **state)
{
	static const struct {
		unsigned int status;
		const char *name;
	} table[] = {
		{ 400, "InvalidRequestContentException" },
		{ 403, "AccessDeniedException" },
		{ 404, "ResourceNotFoundException" },
		{ 413, "RequestTooLargeException" },
		{ 429, "TooManyRequestsException" },
		{ 500, "ServiceException" },
		{ 502, "ResourceNotReadyException" },
		{ 503, "ServiceUnavailableException" },
	};
	static const char *const keys[] = { "v", "id", "status", "error", "message" };
	unsigned int i;

	(void)state;
	assert_null(response_error_name(200));
	assert_null(response_error_name(202));
	assert_null(response_error_name(204));
	for (i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		assert_string_equal(response_error_name(table[i].status), table[i].name);

		response_buf_init(&rb, &pk, out, sizeof(out));
		response_encode_error(&pk, 1000 + i, table[i].status, "detail", NULL, 0, NULL, 0);
		decode();
		assert_keys(&resp, keys, 5);
		assert_obj_uint(get(&resp, "v"), 1);
		assert_obj_uint(get(&resp, "id"), 1000 + i);
		assert_obj_uint(get(&resp, "status"), table[i].status);
		assert_obj_cstr(get(&resp, "error"), table[i].name);
		assert_obj_cstr(get(&resp, "message"), "detail");
	}
}

/* PROTOCOL.md: `[1, 2, 3]` → {v: 1, id: 0, status: 400, error: ..., message: "request must be a map"}. */
static void
test_protocol_example_not_a_map(void **state)
{
	static const uint8_t payload[] = { 0x93, 0x01, 0x02, 0x03 };
	static const uint8_t want[] = {
		0x85, 0xa1, 'v', 0x01, 0xa2, 'i', 'd', 0x00, 0xa6, 's', 't', 'a', 't', 'u', 's',
		0xcd, 0x01, 0x90, 0xa5, 'e', 'r', 'r', 'o', 'r', 0xbe,
		'I', 'n', 'v', 'a', 'l', 'i', 'd', 'R', 'e', 'q', 'u', 'e', 's', 't',
		'C', 'o', 'n', 't', 'e', 'n', 't', 'E', 'x', 'c', 'e', 'p', 't', 'i', 'o', 'n',
		0xa7, 'm', 'e', 's', 's', 'a', 'g', 'e', 0xb5,
		'r', 'e', 'q', 'u', 'e', 's', 't', ' ', 'm', 'u', 's', 't', ' ', 'b', 'e', ' ',
		'a', ' ', 'm', 'a', 'p',
	};
	struct request req;
	struct request_error err;

	(void)state;
	assert_int_equal(request_parse(payload, sizeof(payload), &req, &err), -1);
	response_encode_error(&pk, req.id, 400, err.message, NULL, 0, NULL, 0);
	assert_int_equal(rb.len, sizeof(want));
	assert_memory_equal(rb.data, want, sizeof(want));
}

static void
test_error_429_and_trace(void **state)
{
	static const char *const keys[] = {
		"v", "id", "status", "error", "message", "reason", "retry_after_ms", "trace",
	};
	static const char *const keys_no_retry[] = {
		"v", "id", "status", "error", "message", "reason",
	};

	(void)state;
	response_encode_error(&pk, 12, 429, "Rate exceeded", "CallerRateLimitExceeded", 250,
			      "Root=1-abc", 10);
	decode();
	assert_keys(&resp, keys, 8);
	assert_obj_uint(get(&resp, "status"), 429);
	assert_obj_cstr(get(&resp, "error"), "TooManyRequestsException");
	assert_obj_cstr(get(&resp, "message"), "Rate exceeded");
	assert_obj_cstr(get(&resp, "reason"), "CallerRateLimitExceeded");
	assert_obj_uint(get(&resp, "retry_after_ms"), 250);
	assert_obj_cstr(get(&resp, "trace"), "Root=1-abc");

	/* retry_after_ms 0 means "no hint" and is left out. */
	response_buf_init(&rb, &pk, out, sizeof(out));
	response_encode_error(&pk, 13, 429, "busy", "AsyncQueueFull", 0, NULL, 0);
	decode();
	assert_keys(&resp, keys_no_retry, 6);
	assert_obj_cstr(get(&resp, "reason"), "AsyncQueueFull");

	/* A trace on a plain error goes last. */
	response_buf_init(&rb, &pk, out, sizeof(out));
	response_encode_error(&pk, UINT64_MAX, 404, "Function not found: nope", NULL, 0, "t", 1);
	decode();
	assert_int_equal(resp.via.map.size, 6);
	assert_obj_cstr(&resp.via.map.ptr[5].key, "trace");
	assert_obj_cstr(get(&resp, "trace"), "t");
	assert_obj_uint(get(&resp, "id"), UINT64_MAX);
	assert_obj_cstr(get(&resp, "message"), "Function not found: nope");
}

static void
test_status_only(void **state)
{
	static const char *const keys[] = { "v", "id", "status" };
	static const char *const keys_trace[] = { "v", "id", "status", "trace" };
	/* PROTOCOL.md: {"v": 1, "id": 8, "status": 204} */
	static const uint8_t want_204[] = {
		0x83, 0xa1, 'v', 0x01, 0xa2, 'i', 'd', 0x08, 0xa6, 's', 't', 'a', 't', 'u', 's',
		0xcc, 0xcc,
	};

	(void)state;
	response_encode_status(&pk, 8, 204, NULL, 0);
	decode();
	assert_keys(&resp, keys, 3);
	assert_obj_uint(get(&resp, "v"), 1);
	assert_obj_uint(get(&resp, "id"), 8);
	assert_obj_uint(get(&resp, "status"), 204);
	assert_int_equal(rb.len, sizeof(want_204));
	assert_memory_equal(rb.data, want_204, sizeof(want_204));

	response_buf_init(&rb, &pk, out, sizeof(out));
	response_encode_status(&pk, 9, 202, "trace-9", 7);
	decode();
	assert_keys(&resp, keys_trace, 4);
	assert_obj_uint(get(&resp, "status"), 202);
	assert_obj_cstr(get(&resp, "trace"), "trace-9");
}

static void
test_ok_with_body(void **state)
{
	static const char *const keys[] = { "v", "id", "status", "version", "body" };
	struct response_ok ok;
	const msgpack_object *body;

	(void)state;
	response_begin_ok_version(&rb, &ok, 7, "1", 1);
	assert_int_equal(ok.map_header_at, 0);
	assert_int_equal(rb.data[0], 0xde);    /* map16: patchable in place */
	assert_int_equal(ok.body_at, rb.len);
	msgpack_pack_map(&pk, 1);
	msgpack_pack_str_with_body(&pk, "hello", 5);
	msgpack_pack_str_with_body(&pk, "world", 5);
	assert_int_equal(response_finish_ok(&rb, &ok, false, NULL, 0, NULL, 0, false), 0);
	decode();
	assert_keys(&resp, keys, 5);
	assert_obj_uint(get(&resp, "v"), 1);
	assert_obj_uint(get(&resp, "id"), 7);
	assert_obj_uint(get(&resp, "status"), 200);
	assert_obj_cstr(get(&resp, "version"), "1");
	body = get(&resp, "body");
	assert_int_equal(body->type, MSGPACK_OBJECT_MAP);
	assert_int_equal(body->via.map.size, 1);
	assert_obj_cstr(get(body, "hello"), "world");
}

/*
 * A deployment's head, built once: every 200 from it is its bytes with the
 * call's id in place (a fixed-width uint64), whatever the buffer's room.
 */
static void
test_ok_head(void **state)
{
	/* PROTOCOL.md: {"v": 1, "id": 7, "status": 200, "version": "1", "body": {"hello": "world"}} */
	static const uint8_t want[] = {
		0xde, 0x00, 0x05, 0xa1, 'v', 0x01, 0xa2, 'i', 'd',
		0xcf, 0, 0, 0, 0, 0, 0, 0, 0x07,
		0xa6, 's', 't', 'a', 't', 'u', 's', 0xcc, 0xc8,
		0xa7, 'v', 'e', 'r', 's', 'i', 'o', 'n', 0xa1, '1',
		0xa4, 'b', 'o', 'd', 'y',
		0x81, 0xa5, 'h', 'e', 'l', 'l', 'o', 0xa5, 'w', 'o', 'r', 'l', 'd',
	};
	static const uint64_t ids[] = { 0, 1, 127, 128, 65536, UINT64_MAX };
	char version[RESPONSE_VERSION_MAX + 1];
	struct response_head head;
	struct response_ok ok;
	uint32_t cap;
	unsigned int i;

	(void)state;
	assert_int_equal(response_head_init(&head, "1", 1), 0);
	response_begin_ok(&rb, &ok, &head, 7);
	msgpack_pack_map(&pk, 1);
	msgpack_pack_str_with_body(&pk, "hello", 5);
	msgpack_pack_str_with_body(&pk, "world", 5);
	assert_int_equal(response_finish_ok(&rb, &ok, false, NULL, 0, NULL, 0, false), 0);
	assert_int_equal(rb.len, sizeof(want));
	assert_memory_equal(rb.data, want, sizeof(want));

	/* One head, any id, and the same bytes as a head made for the call. */
	for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		uint8_t again[64];
		struct response_buf b;
		msgpack_packer p;

		response_buf_init(&rb, &pk, out, sizeof(out));
		response_begin_ok(&rb, &ok, &head, ids[i]);
		msgpack_pack_nil(&pk);
		assert_int_equal(response_finish_ok(&rb, &ok, false, "t", 1, NULL, 0, false), 0);
		decode();
		assert_obj_uint(get(&resp, "id"), ids[i]);
		assert_obj_uint(get(&resp, "status"), 200);
		assert_obj_cstr(get(&resp, "trace"), "t");

		response_buf_init(&b, &p, again, sizeof(again));
		response_begin_ok_version(&b, &ok, ids[i], "1", 1);
		msgpack_pack_nil(&p);
		assert_int_equal(response_finish_ok(&b, &ok, false, "t", 1, NULL, 0, false), 0);
		assert_int_equal(b.len, rb.len);
		assert_memory_equal(again, out, b.len);
	}

	/* Rooms around the head's length: it fits whole or not at all, never past the room. */
	for (cap = head.len - 1; cap <= RESPONSE_HEAD_MAX + 1; cap++) {
		memset(out, 0xa5, sizeof(out));
		response_buf_init(&rb, &pk, out, cap);
		response_begin_ok(&rb, &ok, &head, 9);
		assert_int_equal(out[cap], 0xa5);
		if (cap < head.len) {
			assert_true(rb.overflow);
			assert_int_equal(response_finish_ok(&rb, &ok, false, NULL, 0, NULL, 0, false),
					 -1);
			continue;
		}
		assert_int_equal(rb.len, head.len);
		response_body_nil(&rb);
		assert_int_equal(response_finish_ok(&rb, &ok, false, NULL, 0, NULL, 0, false),
				 cap > head.len ? 0 : -1);
		if (cap > head.len) {
			decode();
			assert_obj_uint(get(&resp, "id"), 9);
		}
	}

	/* The longest version a deployment keeps fits; a longer one is refused, not cut. */
	memset(version, 'x', sizeof(version));
	assert_int_equal(response_head_init(&head, version, RESPONSE_VERSION_MAX), 0);
	assert_true(head.len <= RESPONSE_HEAD_MAX);
	response_buf_init(&rb, &pk, out, sizeof(out));
	response_begin_ok(&rb, &ok, &head, 1);
	response_body_nil(&rb);
	assert_int_equal(response_finish_ok(&rb, &ok, false, NULL, 0, NULL, 0, false), 0);
	decode();
	assert_obj_str(get(&resp, "version"), version, RESPONSE_VERSION_MAX);
	assert_int_equal(response_head_init(&head, version, RESPONSE_VERSION_MAX + 1), -1);
	response_buf_init(&rb, &pk, out, sizeof(out));
	response_begin_ok_version(&rb, &ok, 1, version, RESPONSE_VERSION_MAX + 1);
	assert_true(rb.overflow);
	assert_int_equal(response_finish_ok(&rb, &ok, false, NULL, 0, NULL, 0, false), -1);
}

static void
test_ok_fn_error_trace_log(void **state)
{
	static const char *const keys[] = {
		"v", "id", "status", "version", "body", "fn_error", "trace", "log",
	};
	struct response_ok ok;
	const msgpack_object *body;
	static const char log[] = "line 1\nline 2\n";

	(void)state;
	response_begin_ok_version(&rb, &ok, 21, "$LATEST", 7);
	msgpack_pack_array(&pk, 2);            /* a half-packed body, then the handler fails */
	msgpack_pack_uint64(&pk, 1);
	response_discard_body(&rb, &ok);
	assert_int_equal(rb.len, ok.body_at);
	response_body_fn_error(&rb, "Sandbox.Timedout", "Task timed out after 3.00 seconds");
	assert_int_equal(response_finish_ok(&rb, &ok, true, "Root=1", 6, log, sizeof(log) - 1, true), 0);
	decode();
	assert_keys(&resp, keys, 8);
	assert_obj_cstr(get(&resp, "version"), "$LATEST");
	body = get(&resp, "body");
	assert_int_equal(body->type, MSGPACK_OBJECT_MAP);
	assert_int_equal(body->via.map.size, 2);
	assert_obj_cstr(&body->via.map.ptr[0].key, "errorType");
	assert_obj_cstr(&body->via.map.ptr[0].val, "Sandbox.Timedout");
	assert_obj_cstr(&body->via.map.ptr[1].key, "errorMessage");
	assert_obj_cstr(&body->via.map.ptr[1].val, "Task timed out after 3.00 seconds");
	assert_obj_cstr(get(&resp, "fn_error"), "Unhandled");
	assert_obj_cstr(get(&resp, "trace"), "Root=1");
	assert_obj_cstr(get(&resp, "log"), log);
}

static void
test_ok_empty_log(void **state)
{
	static const char *const keys[] = { "v", "id", "status", "version", "body", "log" };
	struct response_ok ok;

	(void)state;
	response_begin_ok_version(&rb, &ok, 1, "2", 1);
	msgpack_pack_nil(&pk);
	assert_int_equal(response_finish_ok(&rb, &ok, false, NULL, 0, NULL, 0, true), 0);
	decode();
	assert_keys(&resp, keys, 6);
	assert_int_equal(get(&resp, "body")->type, MSGPACK_OBJECT_NIL);
	assert_obj_cstr(get(&resp, "log"), "");
}

/* Size of a 200 response with a nil body and no log, to place the log at a chosen capacity. */
static uint32_t
ok_len_without_log(void)
{
	uint8_t tmp[256];
	struct response_buf b;
	msgpack_packer p;
	struct response_ok ok;

	response_buf_init(&b, &p, tmp, sizeof(tmp));
	response_begin_ok_version(&b, &ok, 5, "1", 1);
	msgpack_pack_nil(&p);
	assert_int_equal(response_finish_ok(&b, &ok, false, NULL, 0, NULL, 0, false), 0);
	return b.len;
}

static void
finish_with_log_in(uint32_t cap, const char *log, uint32_t log_len, int want_rc)
{
	struct response_ok ok;

	memset(out, 0xa5, sizeof(out));
	response_buf_init(&rb, &pk, out, cap);
	response_begin_ok_version(&rb, &ok, 5, "1", 1);
	msgpack_pack_nil(&pk);
	assert_int_equal(response_finish_ok(&rb, &ok, false, NULL, 0, log, log_len, true), want_rc);
	/* Never a byte past the capacity. */
	assert_int_equal(out[cap], 0xa5);
}

static void
test_log_tail_keeps_last_bytes(void **state)
{
	char log[1000];
	uint32_t base = ok_len_without_log();
	const msgpack_object *l;
	unsigned int i;

	(void)state;
	for (i = 0; i < sizeof(log); i++)
		log[i] = (char)('a' + i % 26);

	/* Room for "log" (4 bytes) + fixstr header + 20 bytes: the last 20 are kept. */
	finish_with_log_in(base + 4 + 1 + 20, log, sizeof(log), 0);
	decode();
	l = get(&resp, "log");
	assert_obj_str(l, log + sizeof(log) - 20, 20);
	assert_int_equal(rb.len, rb.cap);

	/* One byte short of a str8 for 32 bytes: 31 fit with a fixstr header. */
	finish_with_log_in(base + 4 + 2 + 32 - 1, log, sizeof(log), 0);
	decode();
	assert_obj_str(get(&resp, "log"), log + sizeof(log) - 31, 31);

	/* str8 territory. */
	finish_with_log_in(base + 4 + 2 + 200, log, sizeof(log), 0);
	decode();
	assert_obj_str(get(&resp, "log"), log + sizeof(log) - 200, 200);
	assert_int_equal(rb.len, rb.cap);

	/* str16 territory, and a log that fits whole leaves room unused. */
	finish_with_log_in(base + 4 + 3 + 600, log, sizeof(log), 0);
	decode();
	assert_obj_str(get(&resp, "log"), log + sizeof(log) - 600, 600);
	finish_with_log_in(base + 4 + 3 + 1500, log, sizeof(log), 0);
	decode();
	assert_obj_str(get(&resp, "log"), log, sizeof(log));

	/* Room for the key and an empty string only. */
	finish_with_log_in(base + 4 + 1, log, sizeof(log), 0);
	decode();
	assert_obj_cstr(get(&resp, "log"), "");

	/* Not even that: the response is refused. */
	finish_with_log_in(base + 4, log, sizeof(log), -1);
	assert_true(rb.overflow);
}

/* A cut tail starts on a UTF-8 character boundary. */
static void
test_log_tail_utf8_boundary(void **state)
{
	/* "x" "é" "é" "abc", where "é" is 0xc3 0xa9. */
	static const char log[] = "x\xc3\xa9\xc3\xa9" "abc";
	uint32_t base = ok_len_without_log();

	(void)state;
	finish_with_log_in(base + 4 + 1 + 7, log, sizeof(log) - 1, 0);
	decode();
	assert_obj_cstr(get(&resp, "log"), "\xc3\xa9\xc3\xa9" "abc");
	/* Six bytes would start inside the first "é": it is dropped whole. */
	finish_with_log_in(base + 4 + 1 + 6, log, sizeof(log) - 1, 0);
	decode();
	assert_obj_cstr(get(&resp, "log"), "\xc3\xa9" "abc");
	finish_with_log_in(base + 4 + 1 + 4, log, sizeof(log) - 1, 0);
	decode();
	assert_obj_cstr(get(&resp, "log"), "abc");
}

/*
 * response_buf_put() copies short writes itself (overlapping words) and long
 * ones with memcpy: every length from 0 to 40 at every start in a word, the
 * bytes written exactly those given, nothing before or after them touched.
 */
static void
test_buf_put_every_length(void **state)
{
	uint8_t src[48], dst[64], want[64];
	struct response_buf b;
	uint32_t len, at, i;

	(void)state;
	for (i = 0; i < sizeof(src); i++)
		src[i] = (uint8_t)(i * 7 + 1);
	for (len = 0; len <= 40; len++) {
		for (at = 0; at < 8; at++) {
			memset(dst, 0xee, sizeof(dst));
			memset(want, 0xee, sizeof(want));
			response_buf_open(&b, dst + at, 48);
			assert_int_equal(response_buf_put(&b, src + at, len), 0);
			assert_int_equal(b.len, len);
			memcpy(want + at, src + at, len);
			assert_memory_equal(dst, want, sizeof(dst));
		}
	}
	/* An empty write may come with a NULL pointer. */
	response_buf_open(&b, dst, 48);
	assert_int_equal(response_buf_put(&b, NULL, 0), 0);
	assert_int_equal(b.len, 0);
}

static void
test_buf_write_overflow(void **state)
{
	uint8_t small[8];
	struct response_buf b;
	msgpack_packer p;

	(void)state;
	memset(small, 0, sizeof(small));
	response_buf_init(&b, &p, small, 6);
	assert_int_equal(response_buf_write(&b, "abcd", 4), 0);
	assert_int_equal(b.len, 4);
	assert_false(b.overflow);
	assert_int_equal(response_buf_write(&b, "efg", 3), -1);
	assert_int_equal(b.len, 4);           /* unchanged */
	assert_true(b.overflow);
	assert_int_equal(small[4], 0);
	/* Later writes that would fit are refused too: the response already has a hole. */
	assert_int_equal(response_buf_write(&b, "e", 1), -1);
	assert_int_equal(b.len, 4);
	assert_memory_equal(small, "abcd", 4);
	assert_int_equal(small[4], 0);
	assert_int_equal(small[6], 0);

	/* Exactly full is not an overflow. */
	response_buf_init(&b, &p, small, 4);
	assert_int_equal(response_buf_write(&b, "abcd", 4), 0);
	assert_false(b.overflow);
	assert_int_equal(response_buf_write(&b, "", 0), 0);
}

static void
test_encode_overflow_reported(void **state)
{
	uint8_t small[40];
	struct response_buf b;
	msgpack_packer p;

	(void)state;
	response_buf_init(&b, &p, small, sizeof(small));
	response_encode_error(&p, 1, 400, "a message that will not fit in forty bytes", NULL, 0, NULL, 0);
	assert_true(b.overflow);
	assert_true(b.len <= sizeof(small));

	response_buf_init(&b, &p, small, 5);
	response_encode_status(&p, 1, 204, NULL, 0);
	assert_true(b.overflow);
}

/* A body that overflows is discarded; the error object then fits and the response is whole. */
static void
test_body_overflow_then_discard(void **state)
{
	static char big[4096];
	struct response_ok ok;

	(void)state;
	memset(big, 'z', sizeof(big));
	response_buf_init(&rb, &pk, out, 200);
	response_begin_ok_version(&rb, &ok, 3, "1", 1);
	msgpack_pack_str_with_body(&pk, big, sizeof(big));
	assert_true(rb.overflow);
	assert_int_equal(response_finish_ok(&rb, &ok, false, NULL, 0, NULL, 0, false), -1);

	response_buf_init(&rb, &pk, out, 200);
	response_begin_ok_version(&rb, &ok, 3, "1", 1);
	msgpack_pack_str_with_body(&pk, big, sizeof(big));
	response_discard_body(&rb, &ok);
	assert_false(rb.overflow);
	response_body_fn_error(&rb, "Function.ResponseSizeTooLarge", "response too large");
	assert_int_equal(response_finish_ok(&rb, &ok, true, NULL, 0, NULL, 0, false), 0);
	decode();
	assert_obj_cstr(get(get(&resp, "body"), "errorType"), "Function.ResponseSizeTooLarge");
	assert_obj_cstr(get(&resp, "fn_error"), "Unhandled");
}

/* When not even the head fits, discarding the body must not make the response look whole. */
static void
test_head_overflow_is_final(void **state)
{
	struct response_ok ok;

	(void)state;
	response_buf_init(&rb, &pk, out, 10);
	response_begin_ok_version(&rb, &ok, 3, "1", 1);
	assert_true(rb.overflow);
	response_discard_body(&rb, &ok);
	msgpack_pack_nil(&pk);
	assert_int_equal(response_finish_ok(&rb, &ok, false, NULL, 0, NULL, 0, false), -1);
	assert_true(rb.overflow);

	/* Trace that does not fit after the body. */
	response_buf_init(&rb, &pk, out, ok_len_without_log() + 3);
	response_begin_ok_version(&rb, &ok, 5, "1", 1);
	msgpack_pack_nil(&pk);
	assert_int_equal(response_finish_ok(&rb, &ok, false, "0123456789", 10, NULL, 0, false), -1);
}

static void
test_pack_helpers(void **state)
{
	msgpack_object o;
	size_t off = 0;
	char s300[300];

	(void)state;
	memset(s300, 'q', sizeof(s300));
	response_pack_cstr(&pk, "abc");
	response_pack_bytes(&pk, s300, sizeof(s300));
	response_pack_bytes(&pk, "", 0);
	assert_int_equal(msgpack_unpack((const char *)rb.data, rb.len, &off, &zone, &o),
			 MSGPACK_UNPACK_EXTRA_BYTES);
	assert_obj_cstr(&o, "abc");
	assert_int_equal(msgpack_unpack((const char *)rb.data, rb.len, &off, &zone, &o),
			 MSGPACK_UNPACK_EXTRA_BYTES);
	assert_obj_str(&o, s300, sizeof(s300));
	assert_int_equal(msgpack_unpack((const char *)rb.data, rb.len, &off, &zone, &o),
			 MSGPACK_UNPACK_SUCCESS);
	assert_obj_cstr(&o, "");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_error_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_protocol_example_not_a_map, setup, teardown),
		cmocka_unit_test_setup_teardown(test_error_429_and_trace, setup, teardown),
		cmocka_unit_test_setup_teardown(test_status_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ok_with_body, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ok_head, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ok_fn_error_trace_log, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ok_empty_log, setup, teardown),
		cmocka_unit_test_setup_teardown(test_log_tail_keeps_last_bytes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_log_tail_utf8_boundary, setup, teardown),
		cmocka_unit_test_setup_teardown(test_buf_put_every_length, setup, teardown),
		cmocka_unit_test_setup_teardown(test_buf_write_overflow, setup, teardown),
		cmocka_unit_test_setup_teardown(test_encode_overflow_reported, setup, teardown),
		cmocka_unit_test_setup_teardown(test_body_overflow_then_discard, setup, teardown),
		cmocka_unit_test_setup_teardown(test_head_overflow_is_final, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pack_helpers, setup, teardown),
	};

	return cmocka_run_group_tests_name("response", tests, NULL, NULL);
}
