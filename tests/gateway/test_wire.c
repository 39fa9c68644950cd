/* Unit tests of the gateway's wire requests and responses: the event from the body, the datagram's limit. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "wire.h"

static msgpack_unpacked msg;

static const msgpack_object *
get(const msgpack_object *map, const char *key)
{
	uint32_t i;

	for (i = 0; i < map->via.map.size; i++)
		if (map->via.map.ptr[i].key.via.str.size == strlen(key) &&
		    memcmp(map->via.map.ptr[i].key.via.str.ptr, key, strlen(key)) == 0)
			return &map->via.map.ptr[i].val;
	return NULL;
}

static const msgpack_object *
pack(const struct wire_request *r, struct wire_datagram *d)
{
	size_t off = 0;

	assert_int_equal(wire_pack_request(r, d), 0);
	msgpack_unpacked_destroy(&msg);
	msgpack_unpacked_init(&msg);
	assert_int_equal(msgpack_unpack_next(&msg, (const char *)d->data, d->len, &off), MSGPACK_UNPACK_SUCCESS);
	assert_int_equal(off, d->len);
	assert_int_equal(msg.data.type, MSGPACK_OBJECT_MAP);
	return &msg.data;
}

static void
assert_str(const msgpack_object *o, const char *s)
{
	assert_non_null(o);
	assert_int_equal(o->type, MSGPACK_OBJECT_STR);
	assert_int_equal(o->via.str.size, strlen(s));
	assert_memory_equal(o->via.str.ptr, s, strlen(s));
}

static void
test_json_body(void **state)
{
	static const char body[] = "{\"name\": \"x\", \"n\": [1, -2, true, null]}";
	struct wire_datagram d;
	struct wire_request r = {
		.id = 42, .fn = "hello:1", .type = LAMBDA_API_REQUEST_RESPONSE, .tenant = "alpha",
		.body = (const uint8_t *)body, .body_len = strlen(body), .log_tail = true,
		.trace = "Root=1-abc", .timeout_ms = 3000,
	};
	const msgpack_object *m, *ev;

	(void)state;
	m = pack(&r, &d);
	assert_int_equal(get(m, "v")->via.u64, 1);
	assert_int_equal(get(m, "id")->via.u64, 42);
	assert_str(get(m, "fn"), "hello:1");
	assert_str(get(m, "type"), "RequestResponse");
	assert_str(get(m, "tenant"), "alpha");
	assert_str(get(m, "log"), "Tail");
	assert_str(get(m, "trace"), "Root=1-abc");
	assert_int_equal(get(m, "timeout_ms")->via.u64, 3000);
	assert_null(get(m, "idempotency_key"));
	assert_null(get(m, "ctx"));
	ev = get(m, "event");
	assert_int_equal(ev->type, MSGPACK_OBJECT_MAP);
	assert_str(get(ev, "name"), "x");
	assert_int_equal(get(ev, "n")->via.array.size, 4);
	assert_int_equal(get(ev, "n")->via.array.ptr[1].via.i64, -2);
}

static void
test_other_bodies(void **state)
{
	static const char bad_json[] = "{\"a\": 1,,}";
	struct wire_datagram d;
	struct wire_request r = {
		.id = 1, .fn = "echo", .type = LAMBDA_API_EVENT, .tenant = "t",
		.body = (const uint8_t *)bad_json, .body_len = strlen(bad_json), .idempotency_key = "k1",
	};
	json_t *ctx = json_pack("{s:s}", "client", "app");
	const msgpack_object *m, *ev;

	(void)state;
	/* Not JSON: passed through as the body's bytes. */
	m = pack(&r, &d);
	ev = get(m, "event");
	assert_int_equal(ev->type, MSGPACK_OBJECT_BIN);
	assert_int_equal(ev->via.bin.size, strlen(bad_json));
	assert_memory_equal(ev->via.bin.ptr, bad_json, strlen(bad_json));
	assert_str(get(m, "type"), "Event");
	assert_str(get(m, "idempotency_key"), "k1");
	assert_null(get(m, "timeout_ms"));
	/* A JSON string, a number; no body: no event. */
	r.body = (const uint8_t *)"\"s\"";
	r.body_len = 3;
	assert_str(get(pack(&r, &d), "event"), "s");
	r.body = NULL;
	r.body_len = 0;
	r.ctx = ctx;
	m = pack(&r, &d);
	assert_null(get(m, "event"));
	assert_str(get(get(m, "ctx"), "client"), "app");
	json_decref(ctx);
}

static void
test_datagram_limit(void **state)
{
	static uint8_t body[WIRE_MAX_DATAGRAM];
	struct wire_datagram d;
	struct wire_request r = { .id = 1, .fn = "echo", .tenant = "t", .body = body };

	(void)state;
	/* Raw bytes as a bin: header bytes plus the body must fit 1472. */
	memset(body, 'x', sizeof(body));
	r.body_len = 1400;
	assert_int_equal(wire_pack_request(&r, &d), 0);
	assert_true(d.len <= WIRE_MAX_DATAGRAM);
	r.body_len = sizeof(body);
	assert_int_equal(wire_pack_request(&r, &d), -EMSGSIZE);
}

static void
test_response(void **state)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	struct wire_response resp;
	uint64_t id = 0;
	size_t off = 0;

	(void)state;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 6);
	msgpack_pack_str_with_body(&pk, "v", 1);
	msgpack_pack_uint64(&pk, 1);
	msgpack_pack_str_with_body(&pk, "id", 2);
	msgpack_pack_uint64(&pk, UINT64_MAX);
	msgpack_pack_str_with_body(&pk, "status", 6);
	msgpack_pack_uint64(&pk, 429);
	msgpack_pack_str_with_body(&pk, "error", 5);
	msgpack_pack_str_with_body(&pk, "TooManyRequestsException", 24);
	msgpack_pack_str_with_body(&pk, "reason", 6);
	msgpack_pack_str_with_body(&pk, "CallerRateLimitExceeded", 23);
	msgpack_pack_str_with_body(&pk, "retry_after_ms", 14);
	msgpack_pack_uint64(&pk, 1500);
	assert_int_equal(wire_response_id((const uint8_t *)sb.data, sb.size, &id), 0);
	assert_true(id == UINT64_MAX);
	msgpack_unpacked_destroy(&msg);
	msgpack_unpacked_init(&msg);
	assert_int_equal(msgpack_unpack_next(&msg, sb.data, sb.size, &off), MSGPACK_UNPACK_SUCCESS);
	assert_int_equal(wire_parse_response(&msg.data, &resp), 0);
	assert_int_equal(resp.status, 429);
	assert_int_equal(resp.reason.len, 23);
	assert_int_equal(resp.retry_after_ms, 1500);
	assert_null(resp.body);
	/* Not a response: a map without a status, an array. */
	assert_int_equal(wire_response_id((const uint8_t *)"\x81\xa2id\x01", 5, &id), -1);
	assert_int_equal(wire_response_id((const uint8_t *)"\x91\x01", 2, &id), -1);
	msgpack_sbuffer_destroy(&sb);
}

static int
teardown(void **state)
{
	(void)state;
	msgpack_unpacked_destroy(&msg);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_body),
		cmocka_unit_test(test_other_bodies),
		cmocka_unit_test(test_datagram_limit),
		cmocka_unit_test(test_response),
	};

	msgpack_unpacked_init(&msg);
	return cmocka_run_group_tests(tests, NULL, teardown);
}
