/* Tests of invoke_run with real modules: every outcome decoded from the encoded response. */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <rte_cycles.h>

#include "invoke.h"
#include "module.h"

/* What fits in one datagram on an MTU 1500 port. */
#define TEST_DATAGRAM 1472u
#define TEST_BIG_BUF (16u * 1024u)

static uint64_t test_tsc_hz;

/* One loaded module with one ready environment, and everything a call needs. */
struct test_fn {
	struct module mod;
	struct environment env;
	struct invoke_scratch scratch;
	struct invoke_args args;
	struct invoke_outcome out;
	struct response_buf rb;
	msgpack_packer pk;
	uint8_t buf[TEST_BIG_BUF];
	msgpack_zone zone;
	msgpack_object resp;   /* the decoded response */
	msgpack_sbuffer event; /* the event, packed by the test */
	msgpack_packer event_pk;
};

static uint64_t
test_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* rte_get_tsc_hz() needs the EAL; these tests do not start it. */
static uint64_t
test_measure_tsc_hz(void)
{
	uint64_t t0 = test_now_ns(), c0 = rte_rdtsc(), t1, c1;

	do {
		t1 = test_now_ns();
	} while (t1 - t0 < 10000000u);
	c1 = rte_rdtsc();
	return (uint64_t)((double)(c1 - c0) * 1e9 / (double)(t1 - t0));
}

static uint64_t
test_ms_to_tsc(uint64_t ms)
{
	return ms * test_tsc_hz / 1000u;
}

static const char *
test_path(const char *name, bool example)
{
	static char path[PATH_MAX];
	char var[64];
	const char *v;
	size_t i;

	if (!example) {
		v = getenv("MODULE_DIR");
		if (v == NULL)
			fail_msg("MODULE_DIR is not set (run through meson test)");
		snprintf(path, sizeof(path), "%s/%s.so", v, name);
		return path;
	}
	snprintf(var, sizeof(var), "EXAMPLE_%s", name);
	for (i = 0; var[i] != '\0'; i++)
		if (var[i] >= 'a' && var[i] <= 'z')
			var[i] -= 'a' - 'A';
	v = getenv(var);
	if (v == NULL)
		fail_msg("%s is not set (run through meson test)", var);
	return v;
}

static struct test_fn *
test_fn_open_params(const char *name, bool example, const char *const *params)
{
	struct turbine_env_config cfg = {
		.function = name, .version = "1", .worker_id = 3, .memory_mb = 128,
		.timeout_ms = 3000, .params = params,
	};
	struct test_fn *f = calloc(1, sizeof(*f));
	char err[512];

	assert_non_null(f);
	if (module_load(&f->mod, test_path(name, example), err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(module_env_init(&f->env, &f->mod, &cfg), 0);
	assert_true(msgpack_zone_init(&f->zone, 64 * 1024));
	msgpack_sbuffer_init(&f->event);
	msgpack_packer_init(&f->event_pk, &f->event, msgpack_sbuffer_write);

	f->args.env = &f->env;
	f->args.ctx.request_id = 77;
	f->args.ctx.function = (struct turbine_str){ name, (uint32_t)strlen(name) };
	f->args.ctx.version = (struct turbine_str){ "1", 1 };
	f->args.ctx.tenant = (struct turbine_str){ "default", 7 };
	f->args.ctx.memory_mb = 128;
	f->args.ctx.worker_id = 3;
	f->args.ctx.tsc_hz = test_tsc_hz;
	return f;
}

static struct test_fn *
test_fn_open(const char *name, bool example)
{
	return test_fn_open_params(name, example, NULL);
}

static void
test_fn_close(struct test_fn *f)
{
	module_env_fini(&f->env);
	module_unload(&f->mod);
	msgpack_zone_destroy(&f->zone);
	msgpack_sbuffer_destroy(&f->event);
	free(f);
}

/* Run one call with a deadline `timeout_ms` from now into a buffer of `cap` bytes. */
static int
test_fn_call(struct test_fn *f, uint32_t cap, uint32_t timeout_ms)
{
	size_t off = 0;
	int ret;

	f->args.start_tsc = rte_rdtsc();
	f->args.ctx.deadline_tsc = f->args.start_tsc + test_ms_to_tsc(timeout_ms);
	f->args.event.data = f->event.size > 0 ? f->event.data : NULL;
	f->args.event.len = (uint32_t)f->event.size;
	memset(f->buf, 0xee, sizeof(f->buf));
	response_buf_init(&f->rb, &f->pk, f->buf, cap);
	ret = invoke_run(&f->scratch, &f->args, &f->rb, &f->out);
	if (ret != 0)
		return ret;

	assert_false(f->rb.overflow);
	assert_true(f->rb.len <= cap);
	msgpack_zone_clear(&f->zone);
	assert_int_equal(msgpack_unpack((const char *)f->buf, f->rb.len, &off, &f->zone, &f->resp),
			 MSGPACK_UNPACK_SUCCESS);
	/* The response is exactly one object: nothing after it. */
	assert_int_equal(off, f->rb.len);
	assert_int_equal(f->resp.type, MSGPACK_OBJECT_MAP);
	return 0;
}

static const msgpack_object *
test_get(const msgpack_object *map, const char *key)
{
	size_t len = strlen(key);
	uint32_t i;

	if (map->type != MSGPACK_OBJECT_MAP)
		return NULL;
	for (i = 0; i < map->via.map.size; i++) {
		const msgpack_object_kv *kv = &map->via.map.ptr[i];

		if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == len &&
		    memcmp(kv->key.via.str.ptr, key, len) == 0)
			return &kv->val;
	}
	return NULL;
}

static void
test_assert_str(const msgpack_object *o, const char *want)
{
	assert_non_null(o);
	assert_int_equal(o->type, MSGPACK_OBJECT_STR);
	if (o->via.str.size != strlen(want) || memcmp(o->via.str.ptr, want, o->via.str.size) != 0)
		fail_msg("got \"%.*s\", want \"%s\"", (int)o->via.str.size, o->via.str.ptr, want);
}

static void
test_assert_uint(const msgpack_object *o, uint64_t want)
{
	assert_non_null(o);
	assert_int_equal(o->type, MSGPACK_OBJECT_POSITIVE_INTEGER);
	assert_int_equal(o->via.u64, want);
}

/* The envelope every 200 carries; returns the body. */
static const msgpack_object *
test_ok_envelope(const struct test_fn *f, bool fn_error)
{
	const msgpack_object *body;

	test_assert_uint(test_get(&f->resp, "v"), 1);
	test_assert_uint(test_get(&f->resp, "id"), 77);
	test_assert_uint(test_get(&f->resp, "status"), 200);
	test_assert_str(test_get(&f->resp, "version"), "1");
	assert_null(test_get(&f->resp, "error"));
	if (fn_error)
		test_assert_str(test_get(&f->resp, "fn_error"), "Unhandled");
	else
		assert_null(test_get(&f->resp, "fn_error"));
	assert_int_equal(f->out.fn_error, fn_error);
	body = test_get(&f->resp, "body");
	assert_non_null(body);
	return body;
}

/* {errorType, errorMessage} with the given type; returns the message object. */
static const msgpack_object *
test_fn_error_body(const struct test_fn *f, const char *type)
{
	const msgpack_object *body = test_ok_envelope(f, true);

	assert_int_equal(body->type, MSGPACK_OBJECT_MAP);
	assert_int_equal(body->via.map.size, 2);
	test_assert_str(test_get(body, "errorType"), type);
	assert_non_null(test_get(body, "errorMessage"));
	assert_int_equal(test_get(body, "errorMessage")->type, MSGPACK_OBJECT_STR);
	return test_get(body, "errorMessage");
}

static void
test_echo(void **state)
{
	struct test_fn *f = test_fn_open("echo", true);
	const msgpack_object *body;
	msgpack_object event;
	size_t off = 0;

	(void)state;
	msgpack_pack_map(&f->event_pk, 2);
	msgpack_pack_str_with_body(&f->event_pk, "hello", 5);
	msgpack_pack_str_with_body(&f->event_pk, "world", 5);
	msgpack_pack_str_with_body(&f->event_pk, "n", 1);
	msgpack_pack_array(&f->event_pk, 3);
	msgpack_pack_int(&f->event_pk, -1);
	msgpack_pack_nil(&f->event_pk);
	msgpack_pack_bin_with_body(&f->event_pk, "\0\1", 2);

	assert_int_equal(test_fn_call(f, TEST_DATAGRAM, 1000), 0);
	body = test_ok_envelope(f, false);
	assert_true(f->out.was_cold);
	assert_false(f->out.timed_out);
	assert_false(f->out.too_large);
	assert_null(test_get(&f->resp, "log"));
	assert_null(test_get(&f->resp, "trace"));
	assert_int_equal(msgpack_unpack(f->event.data, f->event.size, &off, &f->zone, &event),
			 MSGPACK_UNPACK_SUCCESS);
	assert_true(msgpack_object_equal(*body, event));

	/* Second call of the same environment is warm. */
	assert_int_equal(test_fn_call(f, TEST_DATAGRAM, 1000), 0);
	assert_false(f->out.was_cold);
	assert_false(f->env.cold);
	test_fn_close(f);
}

static void
test_echo_nil_and_trace(void **state)
{
	struct test_fn *f = test_fn_open("echo", true);
	static const char trace[] = "Root=1-5759e988-bd862e3fe1be46a994272793";

	(void)state;
	f->args.ctx.trace = (struct turbine_str){ trace, sizeof(trace) - 1 };
	assert_int_equal(test_fn_call(f, TEST_DATAGRAM, 1000), 0);
	assert_int_equal(test_ok_envelope(f, false)->type, MSGPACK_OBJECT_NIL);
	test_assert_str(test_get(&f->resp, "trace"), trace);
	test_fn_close(f);
}

/*
 * A deployment's head (args.head) gives the bytes a head made from
 * ctx.version gives; the handler is handed args.ctx itself, and the call's
 * one TSC read after the handler comes back in out.end_tsc.
 */
static void
test_head_and_ctx_in_place(void **state)
{
	struct test_fn *f = test_fn_open("echo", true);
	static uint8_t plain[TEST_DATAGRAM];
	struct response_head head;
	uint32_t len;
	uint64_t after;

	(void)state;
	msgpack_pack_str_with_body(&f->event_pk, "in place", 8);
	f->args.ctx.request_id = UINT64_MAX - 1;
	assert_int_equal(test_fn_call(f, TEST_DATAGRAM, 1000), 0);
	len = f->rb.len;
	memcpy(plain, f->buf, len);

	assert_int_equal(response_head_init(&head, "1", 1), 0);
	f->args.head = &head;
	assert_int_equal(test_fn_call(f, TEST_DATAGRAM, 1000), 0);
	after = rte_rdtsc();
	assert_int_equal(f->rb.len, len);
	assert_memory_equal(f->buf, plain, len);
	test_assert_uint(test_get(&f->resp, "id"), UINT64_MAX - 1);
	assert_ptr_equal(f->args.ctx.internal, &f->scratch);
	assert_true(f->out.end_tsc >= f->args.start_tsc && f->out.end_tsc <= after);
	test_fn_close(f);
}

static void
test_hello(void **state)
{
	struct test_fn *f = test_fn_open("hello", true);
	const msgpack_object *body;

	(void)state;
	msgpack_pack_map(&f->event_pk, 2);
	msgpack_pack_str_with_body(&f->event_pk, "other", 5);
	msgpack_pack_uint8(&f->event_pk, 1);
	msgpack_pack_str_with_body(&f->event_pk, "name", 4);
	msgpack_pack_str_with_body(&f->event_pk, "Ada", 3);
	assert_int_equal(test_fn_call(f, TEST_DATAGRAM, 1000), 0);
	body = test_ok_envelope(f, false);
	assert_int_equal(body->via.map.size, 1);
	test_assert_str(test_get(body, "message"), "Hello, Ada!");
	test_fn_close(f);
}

static void
test_hello_world(void **state)
{
	struct test_fn *f = test_fn_open("hello", true);

	(void)state;
	/* No event at all. */
	assert_int_equal(test_fn_call(f, TEST_DATAGRAM, 1000), 0);
	test_assert_str(test_get(test_ok_envelope(f, false), "message"), "Hello, World!");

	/* A name that is not a str. */
	msgpack_pack_map(&f->event_pk, 1);
	msgpack_pack_str_with_body(&f->event_pk, "name", 4);
	msgpack_pack_uint8(&f->event_pk, 5);
	assert_int_equal(test_fn_call(f, TEST_DATAGRAM, 1000), 0);
	test_assert_str(test_get(test_ok_envelope(f, false), "message"), "Hello, World!");

	/* Not a map. */
	msgpack_sbuffer_clear(&f->event);
	msgpack_pack_array(&f->event_pk, 0);
	assert_int_equal(test_fn_call(f, TEST_DATAGRAM, 1000), 0);
	test_assert_str(test_get(test_ok_envelope(f, false), "message"), "Hello, World!");
	test_fn_close(f);
}

static void
test_spin(void **state)
{
	struct test_fn *f = test_fn_open("spin", true);
	uint64_t t0;

	(void)state;
	msgpack_pack_map(&f->event_pk, 1);
	msgpack_pack_str_with_body(&f->event_pk, "us", 2);
	msgpack_pack_uint32(&f->event_pk, 3000);
	t0 = test_now_ns();
	assert_int_equal(test_fn_call(f, TEST_DATAGRAM, 1000), 0);
	assert_true(test_now_ns() - t0 >= 3000000u);
	test_assert_uint(test_get(test_ok_envelope(f, false), "us"), 3000);

	/* Missing "us": no wait at all. */
	msgpack_sbuffer_clear(&f->event);
	msgpack_pack_map(&f->event_pk, 0);
	assert_int_equal(test_fn_call(f, TEST_DATAGRAM, 1000), 0);
	test_assert_uint(test_get(test_ok_envelope(f, false), "us"), 0);
	test_fn_close(f);
}

static void
test_spin_timeout(void **state)
{
	struct test_fn *f = test_fn_open("spin", true);

	(void)state;
	msgpack_pack_map(&f->event_pk, 1);
	msgpack_pack_str_with_body(&f->event_pk, "us", 2);
	msgpack_pack_uint32(&f->event_pk, 30000);
	f->args.timeout_ms = 10;
	assert_int_equal(test_fn_call(f, TEST_DATAGRAM, 10), 0);
	assert_true(f->out.timed_out);
	assert_false(f->out.too_large);
	test_assert_str(test_fn_error_body(f, "Sandbox.Timedout"),
			"Task timed out after 0.01 seconds");

	f->args.timeout_ms = 3000;
	assert_int_equal(test_fn_call(f, TEST_DATAGRAM, 10), 0);
	test_assert_str(test_fn_error_body(f, "Sandbox.Timedout"),
			"Task timed out after 3.00 seconds");
	test_fn_close(f);
}

/*
 * The answer a watchdog sends while the handler still runs (invoke_encode_timeout) is the
 * one the worker builds when the handler returns late, byte for byte; with log: Tail, its
 * log is there but empty (the handler's is still being written).
 */
static void
test_encode_timeout_matches_late_return(void **state)
{
	struct test_fn *f = test_fn_open("spin", true);
	const char trace[] = "Root=1-5759e988";
	uint8_t buf[TEST_DATAGRAM];
	struct response_buf rb;
	msgpack_packer pk;
	unsigned int i;

	(void)state;
	msgpack_pack_map(&f->event_pk, 1);
	msgpack_pack_str_with_body(&f->event_pk, "us", 2);
	msgpack_pack_uint32(&f->event_pk, 30000);
	f->args.timeout_ms = 10;
	f->args.ctx.trace = (struct turbine_str){ trace, sizeof(trace) - 1 };
	for (i = 0; i < 2; i++) {
		f->args.log_tail = i == 1;
		assert_int_equal(test_fn_call(f, TEST_DATAGRAM, 10), 0);
		assert_true(f->out.timed_out);
		response_buf_init(&rb, &pk, buf, sizeof(buf));
		assert_int_equal(invoke_encode_timeout(&rb, f->args.ctx.request_id,
						       f->args.ctx.version, f->args.ctx.trace,
						       "Task timed out after 0.01 seconds",
						       f->args.log_tail), 0);
		assert_int_equal(rb.len, f->rb.len);
		assert_memory_equal(buf, f->buf, rb.len);
	}
	/* Too small a buffer: refused, not cut. */
	response_buf_init(&rb, &pk, buf, 40);
	assert_int_equal(invoke_encode_timeout(&rb, 1, f->args.ctx.version, f->args.ctx.trace,
					       "Task timed out after 0.01 seconds", false), -1);
	test_fn_close(f);
}

static void
test_sleepy_timeout(void **state)
{
	struct test_fn *f = test_fn_open("sleepy", false);
	const msgpack_object *msg;

	(void)state;
	/* No timeout given: the message is worked out from the deadline and the
	 * call's start, which a busy machine may delay by a few milliseconds. */
	assert_int_equal(test_fn_call(f, TEST_DATAGRAM, 20), 0);
	assert_true(f->out.timed_out);
	msg = test_fn_error_body(f, "Sandbox.Timedout");
	if (msg->via.str.size != 33 ||
	    (memcmp(msg->via.str.ptr, "Task timed out after 0.02 seconds", 33) != 0 &&
	     memcmp(msg->via.str.ptr, "Task timed out after 0.01 seconds", 33) != 0))
		fail_msg("unexpected message \"%.*s\"", (int)msg->via.str.size, msg->via.str.ptr);
	test_fn_close(f);
}

static void
test_fail(void **state)
{
	struct test_fn *f = test_fn_open("fail", true);
	const msgpack_object *log;

	(void)state;
	msgpack_pack_map(&f->event_pk, 2);
	msgpack_pack_str_with_body(&f->event_pk, "type", 4);
	msgpack_pack_str_with_body(&f->event_pk, "InvalidInput", 12);
	msgpack_pack_str_with_body(&f->event_pk, "message", 7);
	msgpack_pack_str_with_body(&f->event_pk, "amount must be positive", 23);
	f->args.log_tail = true;
	assert_int_equal(test_fn_call(f, TEST_DATAGRAM, 1000), 0);
	test_assert_str(test_fn_error_body(f, "InvalidInput"), "amount must be positive");
	assert_false(f->out.timed_out);
	assert_false(f->out.too_large);
	log = test_get(&f->resp, "log");
	test_assert_str(log, "failing: InvalidInput: amount must be positive\n");

	/* Defaults, and nothing of the previous call's error or log is left. */
	msgpack_sbuffer_clear(&f->event);
	f->args.log_tail = false;
	assert_int_equal(test_fn_call(f, TEST_DATAGRAM, 1000), 0);
	test_assert_str(test_fn_error_body(f, "Error"), "failed");
	assert_null(test_get(&f->resp, "log"));
	assert_int_equal(f->scratch.log_len, strlen("failing: Error: failed\n"));
	test_fn_close(f);
}

static void
test_bare_error(void **state)
{
	struct test_fn *f = test_fn_open("bare_error", false);

	(void)state;
	/* A previous call's turbine_error() must not be reported for this one. */
	f->scratch.error_set = true;
	snprintf(f->scratch.error_type, sizeof(f->scratch.error_type), "Stale");
	assert_int_equal(test_fn_call(f, TEST_DATAGRAM, 1000), 0);
	test_assert_str(test_fn_error_body(f, "Function.Error"),
			"handler returned an error without a message");
	test_fn_close(f);
}

static void
test_counter(void **state)
{
	struct test_fn *f = test_fn_open("counter", true);
	const msgpack_object *body;
	uint64_t lines;

	(void)state;
	f->args.log_tail = true;
	lines = f->scratch.log_lines;
	assert_int_equal(test_fn_call(f, TEST_DATAGRAM, 1000), 0);
	body = test_ok_envelope(f, false);
	assert_true(f->out.was_cold);
	test_assert_uint(test_get(body, "calls"), 1);
	test_assert_uint(test_get(body, "worker"), 3);
	assert_non_null(test_get(body, "cold"));
	assert_int_equal(test_get(body, "cold")->type, MSGPACK_OBJECT_BOOLEAN);
	assert_true(test_get(body, "cold")->via.boolean);
	test_assert_str(test_get(&f->resp, "log"), "call 1\n");
	assert_int_equal(f->scratch.log_lines, lines + 1);

	f->args.log_tail = false;
	assert_int_equal(test_fn_call(f, TEST_DATAGRAM, 1000), 0);
	body = test_ok_envelope(f, false);
	assert_false(f->out.was_cold);
	test_assert_uint(test_get(body, "calls"), 2);
	assert_false(test_get(body, "cold")->via.boolean);
	assert_null(test_get(&f->resp, "log"));

	f->args.log_tail = true;
	assert_int_equal(test_fn_call(f, TEST_DATAGRAM, 1000), 0);
	test_assert_uint(test_get(test_ok_envelope(f, false), "calls"), 3);
	test_assert_str(test_get(&f->resp, "log"), "call 3\n");
	assert_int_equal(f->scratch.log_lines, lines + 3);
	test_fn_close(f);
}

static void
test_log_tail_keeps_last_bytes(void **state)
{
	struct test_fn *f = test_fn_open("chatty", false);
	const uint32_t lines = 100;
	const msgpack_object *log;
	char *full;
	size_t len = 0;
	uint32_t i;

	(void)state;
	/* What the module logs, rebuilt here: 100 lines of 100 bytes. */
	full = malloc(lines * 100u + 1);
	assert_non_null(full);
	for (i = 0; i < lines; i++)
		len += (size_t)sprintf(full + len, "line %04u %089u\n", i, i);
	assert_int_equal(len, lines * 100u);

	msgpack_pack_uint32(&f->event_pk, lines);
	f->args.log_tail = true;
	assert_int_equal(test_fn_call(f, TEST_BIG_BUF, 1000), 0);
	test_assert_uint(test_ok_envelope(f, false), lines);
	assert_int_equal(f->scratch.log_lines, lines);
	assert_int_equal(f->scratch.log_len, INVOKE_LOG_TAIL_MAX);
	assert_memory_equal(f->scratch.log, full + len - INVOKE_LOG_TAIL_MAX, INVOKE_LOG_TAIL_MAX);

	log = test_get(&f->resp, "log");
	assert_non_null(log);
	assert_int_equal(log->type, MSGPACK_OBJECT_STR);
	assert_int_equal(log->via.str.size, INVOKE_LOG_TAIL_MAX);
	assert_memory_equal(log->via.str.ptr, full + len - INVOKE_LOG_TAIL_MAX,
			    INVOKE_LOG_TAIL_MAX);

	/* In a datagram, the tail is cut further but still ends with the last line. */
	assert_int_equal(test_fn_call(f, TEST_DATAGRAM, 1000), 0);
	log = test_get(&f->resp, "log");
	assert_non_null(log);
	assert_true(log->via.str.size > 0 && log->via.str.size < INVOKE_LOG_TAIL_MAX);
	assert_memory_equal(log->via.str.ptr, full + len - log->via.str.size, log->via.str.size);
	free(full);
	test_fn_close(f);
}

/* Only the runtime's own code reaches the scratch through ctx.internal; so does this test. */
static void
test_log_cuts_on_characters(void **state)
{
	struct invoke_scratch *s = calloc(1, sizeof(*s));
	struct turbine_ctx ctx = { .internal = s };
	char text[1024];
	uint32_t i;

	(void)state;
	assert_non_null(s);

	/* A line longer than the line buffer is cut, and still ends with its newline. */
	memset(text, 'a', 600);
	text[600] = '\0';
	turbine_log(&ctx, "%s", text);
	assert_int_equal(s->log_lines, 1);
	assert_true(s->log_len > 100 && s->log_len < 600);
	assert_int_equal(s->log[s->log_len - 1], '\n');
	assert_int_equal(s->log[s->log_len - 2], 'a');

	/* Cut inside a two-byte character: the whole character goes. */
	s->log_len = 0;
	text[0] = 'x';
	for (i = 0; i < 300; i++)
		memcpy(text + 1 + 2 * i, "\xc3\xa9", 2);
	text[601] = '\0';
	turbine_log(&ctx, "%s", text);
	assert_int_equal(s->log[s->log_len - 1], '\n');
	assert_int_equal((uint8_t)s->log[s->log_len - 2], 0xa9);
	assert_int_equal((s->log_len - 2) % 2, 0);

	/* Dropping the oldest bytes inside a character drops the rest of it too. */
	s->log_len = 0;
	for (i = 0; i < 200; i++)
		memcpy(text + 2 * i, "\xc3\xa9", 2);
	text[400] = '\0';
	for (i = 0; i < 11; i++)
		turbine_log(&ctx, "%s", text);
	/* 11 lines of 401 bytes: 315 oldest bytes dropped, which ends inside a character. */
	assert_int_equal(s->log_len, INVOKE_LOG_TAIL_MAX - 1);
	assert_int_equal((uint8_t)s->log[0], 0xc3);
	assert_int_equal(s->log[s->log_len - 1], '\n');
	assert_int_equal(s->log_lines, 13);
	free(s);
}

static void
test_too_large(void **state)
{
	static const char prefix[] =
		"Response payload size exceeded maximum allowed payload size (";
	struct test_fn *f = test_fn_open("huge", false);
	const msgpack_object *msg;
	char text[256];
	unsigned int room;
	int i;

	(void)state;
	assert_int_equal(test_fn_call(f, TEST_DATAGRAM, 1000), 0);
	assert_true(f->out.too_large);
	assert_false(f->out.timed_out);
	msg = test_fn_error_body(f, "Function.ResponseSizeTooLarge");
	assert_true(msg->via.str.size < sizeof(text));
	memcpy(text, msg->via.str.ptr, msg->via.str.size);
	text[msg->via.str.size] = '\0';
	assert_memory_equal(text, prefix, sizeof(prefix) - 1);
	/* The limit named is the room the envelope leaves for a body in the datagram. */
	assert_int_equal(sscanf(text + sizeof(prefix) - 1, "%u bytes).", &room), 1);
	assert_true(room > TEST_DATAGRAM - 64 && room < TEST_DATAGRAM);
	test_fn_close(f);

	/* Echo of an event bigger than the room left for a body. */
	f = test_fn_open("echo", true);
	msgpack_pack_bin(&f->event_pk, 1460);
	for (i = 0; i < 1460; i++)
		msgpack_pack_bin_body(&f->event_pk, "x", 1);
	assert_int_equal(test_fn_call(f, TEST_DATAGRAM, 1000), 0);
	assert_true(f->out.too_large);
	test_fn_error_body(f, "Function.ResponseSizeTooLarge");
	test_fn_close(f);
}

static void
test_body_fits_trailer_does_not(void **state)
{
	static const char trace[] = "Root=1-5759e988-bd862e3fe1be46a994272793";
	struct test_fn *f = test_fn_open("echo", true);
	uint32_t body_at, n, i;

	(void)state;
	/* A nil body is one byte: this gives the size of the envelope before it. */
	assert_int_equal(test_fn_call(f, TEST_DATAGRAM, 1000), 0);
	body_at = f->rb.len - 1;

	/* A bin16 event that leaves 5 bytes after it: room for no trace. */
	n = TEST_DATAGRAM - body_at - 5 - 3;
	msgpack_pack_bin(&f->event_pk, n);
	for (i = 0; i < n; i++)
		msgpack_pack_bin_body(&f->event_pk, "y", 1);
	assert_int_equal(f->event.size, TEST_DATAGRAM - body_at - 5);

	assert_int_equal(test_fn_call(f, TEST_DATAGRAM, 1000), 0);
	assert_false(f->out.too_large);
	assert_int_equal(test_ok_envelope(f, false)->via.bin.size, n);

	f->args.ctx.trace = (struct turbine_str){ trace, sizeof(trace) - 1 };
	assert_int_equal(test_fn_call(f, TEST_DATAGRAM, 1000), 0);
	assert_true(f->out.too_large);
	test_fn_error_body(f, "Function.ResponseSizeTooLarge");
	test_assert_str(test_get(&f->resp, "trace"), trace);
	test_fn_close(f);
}

static void
test_no_room_at_all(void **state)
{
	struct test_fn *f = test_fn_open("echo", true);

	(void)state;
	assert_int_equal(test_fn_call(f, 8, 1000), -1);
	test_fn_close(f);
}

/* The journal's file, whole, into buf (NUL-terminated). */
static void
test_read_file(const char *path, char *buf, size_t cap)
{
	FILE *fp = fopen(path, "r");
	size_t n;

	assert_non_null(fp);
	n = fread(buf, 1, cap - 1, fp);
	buf[n] = '\0';
	fclose(fp);
}

static void
test_pack_str(msgpack_packer *pk, const char *s)
{
	msgpack_pack_str_with_body(pk, s, strlen(s));
}

static void
test_journal(void **state)
{
	char path[] = "/tmp/test_journal_XXXXXX", param[64], text[512];
	const char *params[] = { param, NULL };
	struct test_fn *f;
	uint64_t t0;
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	snprintf(param, sizeof(param), "path=%s", path);
	f = test_fn_open_params("journal", true, params);

	/* A tag with a space, and a sleep: one line, then {"tag": ...} after the sleep. */
	msgpack_pack_map(&f->event_pk, 2);
	test_pack_str(&f->event_pk, "tag");
	test_pack_str(&f->event_pk, "a b");
	test_pack_str(&f->event_pk, "sleep_ms");
	msgpack_pack_uint32(&f->event_pk, 30);
	t0 = test_now_ns();
	assert_int_equal(test_fn_call(f, TEST_DATAGRAM, 1000), 0);
	assert_true(test_now_ns() - t0 >= 30000000u);
	test_assert_str(test_get(test_ok_envelope(f, false), "tag"), "a_b");

	/* fail: true fails; fail: "NAME" only in the function NAME. */
	msgpack_sbuffer_clear(&f->event);
	msgpack_pack_map(&f->event_pk, 2);
	test_pack_str(&f->event_pk, "tag");
	test_pack_str(&f->event_pk, "x");
	test_pack_str(&f->event_pk, "fail");
	msgpack_pack_true(&f->event_pk);
	assert_int_equal(test_fn_call(f, TEST_DATAGRAM, 1000), 0);
	test_assert_str(test_fn_error_body(f, "Journal.Failed"), "failed as the event asked: x 3");
	msgpack_sbuffer_clear(&f->event);
	msgpack_pack_map(&f->event_pk, 2);
	test_pack_str(&f->event_pk, "tag");
	test_pack_str(&f->event_pk, "y");
	test_pack_str(&f->event_pk, "fail");
	test_pack_str(&f->event_pk, "journal");
	assert_int_equal(test_fn_call(f, TEST_DATAGRAM, 1000), 0);
	test_fn_error_body(f, "Journal.Failed");
	msgpack_sbuffer_clear(&f->event);
	msgpack_pack_map(&f->event_pk, 2);
	test_pack_str(&f->event_pk, "tag");
	test_pack_str(&f->event_pk, "z");
	test_pack_str(&f->event_pk, "fail");
	test_pack_str(&f->event_pk, "other");
	assert_int_equal(test_fn_call(f, TEST_DATAGRAM, 1000), 0);
	test_assert_str(test_get(test_ok_envelope(f, false), "tag"), "z");

	/* A destination record: the tag of the event it is about, and its condition. */
	msgpack_sbuffer_clear(&f->event);
	msgpack_pack_map(&f->event_pk, 2);
	test_pack_str(&f->event_pk, "requestContext");
	msgpack_pack_map(&f->event_pk, 1);
	test_pack_str(&f->event_pk, "condition");
	test_pack_str(&f->event_pk, "Success");
	test_pack_str(&f->event_pk, "requestPayload");
	msgpack_pack_map(&f->event_pk, 1);
	test_pack_str(&f->event_pk, "tag");
	test_pack_str(&f->event_pk, "r");
	assert_int_equal(test_fn_call(f, TEST_DATAGRAM, 1000), 0);
	test_assert_str(test_get(test_ok_envelope(f, false), "tag"), "r");

	/* No event: "-", and a nil tag. The sleep ends by the deadline. */
	msgpack_sbuffer_clear(&f->event);
	assert_int_equal(test_fn_call(f, TEST_DATAGRAM, 1000), 0);
	assert_int_equal(test_get(test_ok_envelope(f, false), "tag")->type, MSGPACK_OBJECT_NIL);
	msgpack_pack_map(&f->event_pk, 1);
	test_pack_str(&f->event_pk, "sleep_ms");
	msgpack_pack_uint32(&f->event_pk, 60000);
	t0 = test_now_ns();
	assert_int_equal(test_fn_call(f, TEST_DATAGRAM, 50), 0);
	assert_true(test_now_ns() - t0 < 1000000000u);

	test_fn_close(f);
	test_read_file(path, text, sizeof(text));
	assert_string_equal(text, "a_b 3\nx 3\ny 3\nz 3\nr 3 Success\n- 3\n- 3\n");
	unlink(path);
}

static void
test_journal_params(void **state)
{
	static const char *const none[] = { NULL };
	static const char *const other[] = { "path=/tmp/x", "colour=blue", NULL };
	static const char *const unwritable[] = { "path=/nonexistent/dir/journal", NULL };
	struct turbine_env_config cfg = {
		.function = "journal", .version = "1", .memory_mb = 128, .timeout_ms = 3000,
	};
	struct environment env;
	struct module mod;
	char err[512];

	(void)state;
	assert_int_equal(module_load(&mod, test_path("journal", true), err, sizeof(err)), 0);
	cfg.params = none;
	assert_int_equal(module_env_init(&env, &mod, &cfg), -EINVAL);
	assert_string_equal(env.error, "journal: params need path (the file to append to)");
	cfg.params = other;
	assert_int_equal(module_env_init(&env, &mod, &cfg), -EINVAL);
	assert_string_equal(env.error, "journal: unknown param \"colour=blue\" (path)");
	cfg.params = unwritable;
	assert_int_equal(module_env_init(&env, &mod, &cfg), -ENOENT);
	assert_string_equal(env.error, "journal: cannot open /nonexistent/dir/journal: "
			    "No such file or directory");
	module_unload(&mod);
}

static void
test_remaining_ms(void **state)
{
	struct turbine_ctx ctx = { .tsc_hz = test_tsc_hz };
	uint32_t ms;

	(void)state;
	ctx.deadline_tsc = rte_rdtsc() + test_ms_to_tsc(1500);
	ms = turbine_remaining_ms(&ctx);
	assert_true(ms <= 1500 && ms >= 1400);
	ctx.deadline_tsc = rte_rdtsc() - 1;
	assert_int_equal(turbine_remaining_ms(&ctx), 0);
	ctx.deadline_tsc = UINT64_MAX;
	assert_true(turbine_remaining_ms(&ctx) > 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_echo),
		cmocka_unit_test(test_echo_nil_and_trace),
		cmocka_unit_test(test_head_and_ctx_in_place),
		cmocka_unit_test(test_hello),
		cmocka_unit_test(test_hello_world),
		cmocka_unit_test(test_spin),
		cmocka_unit_test(test_spin_timeout),
		cmocka_unit_test(test_encode_timeout_matches_late_return),
		cmocka_unit_test(test_sleepy_timeout),
		cmocka_unit_test(test_fail),
		cmocka_unit_test(test_bare_error),
		cmocka_unit_test(test_counter),
		cmocka_unit_test(test_log_tail_keeps_last_bytes),
		cmocka_unit_test(test_log_cuts_on_characters),
		cmocka_unit_test(test_too_large),
		cmocka_unit_test(test_body_fits_trailer_does_not),
		cmocka_unit_test(test_no_room_at_all),
		cmocka_unit_test(test_remaining_ms),
		cmocka_unit_test(test_journal),
		cmocka_unit_test(test_journal_params),
	};

	test_tsc_hz = test_measure_tsc_hz();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
