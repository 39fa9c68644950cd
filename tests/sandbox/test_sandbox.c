/* Tests of process isolation: real sandboxes started, called, crashed, killed and looked at from outside. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <cmocka.h>
#include <rte_cycles.h>

#include "sandbox.h"

#define TEST_RESP_CAP   (64u * 1024u)
#define TEST_WAIT_MS    20000u   /* a bound on any one call: a hung test fails, it does not hang */

static uint64_t test_tsc_hz;

/* A decoded response. */
struct test_reply {
	struct sandbox_done done;
	uint64_t deadline_tsc;      /* the call's, as submitted */
	uint8_t buf[TEST_RESP_CAP];
	msgpack_zone zone;
	msgpack_object obj;
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

static const char *
test_env(const char *var)
{
	const char *v = getenv(var);

	if (v == NULL || v[0] == '\0')
		fail_msg("%s is not set (run through meson test)", var);
	return v;
}

static const char *
test_module(const char *name)
{
	char var[64];
	size_t i;

	snprintf(var, sizeof(var), "TURBINE_MODULE_%s", name);
	for (i = 0; var[i] != '\0'; i++)
		if (var[i] >= 'a' && var[i] <= 'z')
			var[i] -= 'a' - 'A';
	return test_env(var);
}

static void
test_params(struct sandbox_params *p, const char *module)
{
	memset(p, 0, sizeof(*p));
	p->exe = test_env("TURBINE_SANDBOX");
	p->module = module;
	p->function = "fn";
	p->version = "7";
	p->memory_mb = 128;
	p->timeout_ms = 3000;
	p->worker_id = 2;
}

/* Start a sandbox and wait for init; `want` is sandbox_wait_ready()'s expected result. */
static struct sandbox *
test_start(const struct sandbox_params *p, int want)
{
	struct sandbox *sb;
	char err[256];
	int rc;

	rc = sandbox_create(p, &sb, err, sizeof(err));
	if (rc != 0)
		fail_msg("sandbox_create: %s", err);
	rc = sandbox_wait_ready(sb);
	if (rc != want)
		fail_msg("sandbox_wait_ready: %d (%s), expected %d", rc, sandbox_error(sb), want);
	assert_int_equal(sandbox_state(sb), want == 0 ? SANDBOX_READY : SANDBOX_FAILED);
	return sb;
}

static struct sandbox *
test_start_module(const char *name, int want)
{
	struct sandbox_params p;

	test_params(&p, test_module(name));
	return test_start(&p, want);
}

/* The control thread's part: collect a process whose pidfd says it ended. */
static void
test_reap_if_ended(struct sandbox *sb)
{
	struct pollfd pfd = { .fd = sandbox_pidfd(sb), .events = POLLIN };

	if (sandbox_state(sb) != SANDBOX_DEAD && poll(&pfd, 1, 0) > 0)
		assert_int_equal(sandbox_reap(sb), 1);
}

/* The worker's part: poll until the call comes back, reaping as the control thread would. */
static void
test_wait(struct sandbox *sb, struct sandbox_done *done)
{
	uint64_t end = test_now_ns() + (uint64_t)TEST_WAIT_MS * 1000000u;

	while (sandbox_poll(sb, rte_rdtsc(), done) == 0) {
		if (test_now_ns() > end)
			fail_msg("no answer within %u ms", TEST_WAIT_MS);
		test_reap_if_ended(sb);
		usleep(50);
	}
}

static void
test_submit_cap(struct sandbox *sb, struct test_reply *r, const void *event, uint32_t len,
		uint64_t id, uint32_t timeout_ms, uint32_t cap)
{
	struct invoke_args args;

	memset(&args, 0, sizeof(args));
	args.ctx.request_id = id;
	args.ctx.tenant = (struct turbine_str){ "default", 7 };
	args.ctx.trace = (struct turbine_str){ "trace-1", 7 };
	args.ctx.deadline_tsc = rte_rdtsc() + (uint64_t)timeout_ms * test_tsc_hz / 1000u;
	args.ctx.tsc_hz = test_tsc_hz;
	args.event.data = event;
	args.event.len = len;
	args.timeout_ms = timeout_ms;
	args.log_tail = true;
	r->deadline_tsc = args.ctx.deadline_tsc;
	assert_int_equal(sandbox_submit(sb, &args, r->buf, cap, r), 0);
}

static void
test_submit(struct sandbox *sb, struct test_reply *r, const void *event, uint32_t len,
	    uint64_t id, uint32_t timeout_ms)
{
	test_submit_cap(sb, r, event, len, id, timeout_ms, sizeof(r->buf));
}

/* Decode r's response; the test fails unless it is one whole MessagePack map. */
static void
test_decode(struct test_reply *r)
{
	size_t off = 0;

	assert_int_equal(r->done.kind, SANDBOX_DONE_REPLY);
	msgpack_zone_init(&r->zone, 64 * 1024);
	assert_int_equal(msgpack_unpack((const char *)r->buf, r->done.resp_len, &off, &r->zone,
					&r->obj), MSGPACK_UNPACK_SUCCESS);
	assert_int_equal(off, r->done.resp_len);
	assert_int_equal(r->obj.type, MSGPACK_OBJECT_MAP);
}

/* One call start to finish, its response decoded. */
static struct test_reply *
test_call(struct sandbox *sb, const void *event, uint32_t len, uint64_t id, uint32_t timeout_ms)
{
	struct test_reply *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	test_submit(sb, r, event, len, id, timeout_ms);
	test_wait(sb, &r->done);
	assert_ptr_equal(r->done.cookie, r);
	test_decode(r);
	return r;
}

static void
test_reply_free(struct test_reply *r)
{
	msgpack_zone_destroy(&r->zone);
	free(r);
}

static const msgpack_object *
test_get(const msgpack_object *map, const char *key)
{
	uint32_t i, n = (uint32_t)strlen(key);

	if (map->type != MSGPACK_OBJECT_MAP)
		return NULL;
	for (i = 0; i < map->via.map.size; i++) {
		const msgpack_object_kv *kv = &map->via.map.ptr[i];

		if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == n &&
		    memcmp(kv->key.via.str.ptr, key, n) == 0)
			return &kv->val;
	}
	return NULL;
}

/* The str at `key` of `map` equals `want`; with `prefix`, only starts with it. */
static void
test_str_is(const msgpack_object *map, const char *key, const char *want, bool prefix)
{
	const msgpack_object *v = test_get(map, key);
	size_t n = strlen(want);

	if (v == NULL || v->type != MSGPACK_OBJECT_STR) {
		msgpack_object_print(stderr, *map);
		fail_msg("%s: no string", key);
	}
	if (prefix ? v->via.str.size < n || memcmp(v->via.str.ptr, want, n) != 0 :
		     v->via.str.size != n || memcmp(v->via.str.ptr, want, n) != 0)
		fail_msg("%s: \"%.*s\", expected %s\"%s\"", key, (int)v->via.str.size,
			 v->via.str.ptr, prefix ? "a start of " : "", want);
}

static int64_t
test_int(const msgpack_object *map, const char *key)
{
	const msgpack_object *v = test_get(map, key);

	if (v == NULL || (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER &&
			  v->type != MSGPACK_OBJECT_NEGATIVE_INTEGER))
		fail_msg("%s: no integer", key);
	return v->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? (int64_t)v->via.u64 : v->via.i64;
}

/* A call that fails: errorType `type`, and errorMessage `message` (or, with prefix, its start). */
static void
test_fn_error(const struct test_reply *r, const char *type, const char *message, bool prefix)
{
	const msgpack_object *body = test_get(&r->obj, "body");

	if (!r->done.out.fn_error) {
		msgpack_object_print(stderr, r->obj);
		fail_msg("not a function error");
	}
	test_str_is(&r->obj, "fn_error", "Unhandled", false);
	assert_non_null(body);
	test_str_is(body, "errorType", type, false);
	test_str_is(body, "errorMessage", message, prefix);
}

/* An event map {"op": op[, "path": path]}, packed into sbuf. */
static void
test_event_op(msgpack_sbuffer *sbuf, const char *op, const char *path)
{
	msgpack_packer pk;

	msgpack_sbuffer_init(sbuf);
	msgpack_packer_init(&pk, sbuf, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, path != NULL ? 2 : 1);
	msgpack_pack_str_with_body(&pk, "op", 2);
	msgpack_pack_str_with_body(&pk, op, strlen(op));
	if (path != NULL) {
		msgpack_pack_str_with_body(&pk, "path", 4);
		msgpack_pack_str_with_body(&pk, path, strlen(path));
	}
}

static struct test_reply *
test_call_op(struct sandbox *sb, const char *op, const char *path, uint64_t id)
{
	msgpack_sbuffer sbuf;
	struct test_reply *r;

	test_event_op(&sbuf, op, path);
	r = test_call(sb, sbuf.data, (uint32_t)sbuf.size, id, 3000);
	msgpack_sbuffer_destroy(&sbuf);
	return r;
}

/* The ended sandbox becomes the control thread's again, and is started anew. */
static void
test_respawn(struct sandbox *sb)
{
	struct sandbox_done done;
	uint64_t end = test_now_ns() + (uint64_t)TEST_WAIT_MS * 1000000u;
	char err[256];

	while (sandbox_state(sb) != SANDBOX_DRAINED) {
		if (test_now_ns() > end)
			fail_msg("not drained: state %d", sandbox_state(sb));
		test_reap_if_ended(sb);
		assert_int_equal(sandbox_poll(sb, rte_rdtsc(), &done), 0);
		usleep(100);
	}
	if (sandbox_respawn(sb, err, sizeof(err)) != 0)
		fail_msg("respawn: %s", err);
	if (sandbox_wait_ready(sb) != 0)
		fail_msg("respawned sandbox not ready: %s", sandbox_error(sb));
}

/* The event, echoed: the body is its very bytes. */
static void
test_echo_round_trip(void **state)
{
	uint8_t blob[3000];
	msgpack_sbuffer sbuf;
	msgpack_packer pk;
	struct sandbox *sb;
	struct test_reply *r;
	const msgpack_object *v;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(blob); i++)
		blob[i] = (uint8_t)(i * 131 + 7);
	msgpack_sbuffer_init(&sbuf);
	msgpack_packer_init(&pk, &sbuf, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 4);
	msgpack_pack_str_with_body(&pk, "blob", 4);
	msgpack_pack_bin_with_body(&pk, blob, sizeof(blob));
	msgpack_pack_str_with_body(&pk, "n", 1);
	msgpack_pack_int64(&pk, -1234567890123);
	msgpack_pack_str_with_body(&pk, "x", 1);
	msgpack_pack_double(&pk, 2.5);
	msgpack_pack_str_with_body(&pk, "nested", 6);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_str_with_body(&pk, "é", strlen("é"));
	msgpack_pack_nil(&pk);

	sb = test_start_module("echo", 0);
	assert_true(sandbox_cold_start_ns(sb) > 0);
	r = test_call(sb, sbuf.data, (uint32_t)sbuf.size, 41, 3000);
	assert_int_equal(test_int(&r->obj, "id"), 41);
	assert_int_equal(test_int(&r->obj, "status"), 200);
	test_str_is(&r->obj, "version", "7", false);
	test_str_is(&r->obj, "trace", "trace-1", false);
	assert_null(test_get(&r->obj, "fn_error"));
	assert_true(r->done.out.was_cold);
	v = test_get(&r->obj, "body");
	assert_non_null(v);
	/* Byte for byte: the event's encoding is inside the response, and decodes to the body. */
	assert_non_null(memmem(r->buf, r->done.resp_len, sbuf.data, sbuf.size));
	assert_int_equal(v->type, MSGPACK_OBJECT_MAP);
	assert_int_equal(v->via.map.size, 4);
	assert_int_equal(test_get(v, "blob")->via.bin.size, sizeof(blob));
	assert_memory_equal(test_get(v, "blob")->via.bin.ptr, blob, sizeof(blob));
	test_reply_free(r);

	/* Warm now; and after a pause long enough that it sleeps, a submit wakes it. */
	usleep(50000);
	assert_int_equal(atomic_load(&sb->region->sleeping), 1);
	r = test_call(sb, sbuf.data, (uint32_t)sbuf.size, 42, 3000);
	assert_false(r->done.out.was_cold);
	assert_int_equal(test_int(&r->obj, "id"), 42);
	test_reply_free(r);

	/* No event: nil comes back. */
	r = test_call(sb, NULL, 0, 43, 3000);
	assert_int_equal(test_get(&r->obj, "body")->type, MSGPACK_OBJECT_NIL);
	test_reply_free(r);
	msgpack_sbuffer_destroy(&sbuf);
	sandbox_destroy(sb, 1000);
}

/* A response is bounded by the caller's buffer, as a datagram bounds thread mode's. */
static void
test_response_room(void **state)
{
	uint8_t event[1000] = { 0xc5, 0x03, 0xe5 };   /* bin 16 of 997 bytes */
	struct sandbox *sb;
	struct test_reply *r = calloc(1, sizeof(*r));

	(void)state;
	assert_non_null(r);
	sb = test_start_module("echo", 0);
	test_submit_cap(sb, r, event, sizeof(event), 1, 3000, 300);
	test_wait(sb, &r->done);
	test_decode(r);
	assert_true(r->done.resp_len <= 300);
	assert_true(r->done.out.too_large);
	test_fn_error(r, "Function.ResponseSizeTooLarge",
		      "Response payload size exceeded maximum allowed payload size", true);
	msgpack_zone_destroy(&r->zone);

	/* Not even the envelope fits: the caller answers 500. */
	memset(r, 0, sizeof(*r));
	test_submit_cap(sb, r, event, sizeof(event), 2, 3000, 16);
	test_wait(sb, &r->done);
	assert_int_equal(r->done.kind, SANDBOX_DONE_NO_ROOM);
	free(r);

	/* The sandbox is none the worse for it. */
	r = test_call(sb, event, sizeof(event), 3, 3000);
	assert_null(test_get(&r->obj, "fn_error"));
	test_reply_free(r);
	sandbox_destroy(sb, 1000);
}

/* A function error and its log tail come back as in thread mode. */
static void
test_function_error_and_log(void **state)
{
	struct sandbox *sb;
	struct test_reply *r;
	msgpack_sbuffer sbuf;
	msgpack_packer pk;

	(void)state;
	msgpack_sbuffer_init(&sbuf);
	msgpack_packer_init(&pk, &sbuf, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 2);
	msgpack_pack_str_with_body(&pk, "type", 4);
	msgpack_pack_str_with_body(&pk, "Oops", 4);
	msgpack_pack_str_with_body(&pk, "message", 7);
	msgpack_pack_str_with_body(&pk, "it broke", 8);
	sb = test_start_module("fail", 0);
	r = test_call(sb, sbuf.data, (uint32_t)sbuf.size, 5, 3000);
	test_fn_error(r, "Oops", "it broke", false);
	test_str_is(&r->obj, "log", "failing: Oops: it broke\n", false);
	test_reply_free(r);
	msgpack_sbuffer_destroy(&sbuf);
	sandbox_destroy(sb, 1000);
}

/* init's reason reaches the caller, as for the 502 of thread mode. */
static void
test_init_failure(void **state)
{
	struct sandbox_params p;
	struct sandbox *sb;
	struct test_reply r;
	const char *params[] = { "init=crash", NULL };

	(void)state;
	sb = test_start_module("init_fail", -EIO);
	assert_string_equal(sandbox_error(sb), "cannot connect");
	memset(&r, 0, sizeof(r));
	assert_int_equal(sandbox_submit(sb, &(struct invoke_args){ 0 }, r.buf, sizeof(r.buf), &r),
			 -ENOTCONN);
	sandbox_destroy(sb, 0);

	/* An init that crashes: the process's end is the reason. */
	test_params(&p, test_module("probe"));
	p.params = params;
	sb = test_start(&p, -ECHILD);
	if (strstr(sandbox_error(sb), "signal: segmentation fault") == NULL)
		fail_msg("init crash reported as: %s", sandbox_error(sb));
	sandbox_destroy(sb, 0);

	/* A module that is not there. */
	test_params(&p, "/nonexistent/module.so");
	sb = test_start(&p, -EIO);
	if (strstr(sandbox_error(sb), "cannot open /nonexistent/module.so") == NULL)
		fail_msg("missing module reported as: %s", sandbox_error(sb));
	sandbox_destroy(sb, 0);
}

/* A crash is Runtime.ExitError in Lambda's words, and the replacement crashes the same way. */
static void
test_crash(void **state)
{
	struct sandbox *sb;
	struct test_reply *r;
	int round;

	(void)state;
	sb = test_start_module("crash", 0);
	for (round = 0; round < 2; round++) {
		r = test_call(sb, NULL, 0, 77, 3000);
		test_fn_error(r, "Runtime.ExitError",
			      "RequestId: 77 Error: Runtime exited with error: "
			      "signal: segmentation fault", false);
		assert_true(r->done.exited);
		assert_false(r->done.out_of_memory);
		assert_int_equal(test_int(&r->obj, "status"), 200);
		test_reply_free(r);
		assert_int_equal(sandbox_state(sb), SANDBOX_DEAD);
		assert_true(WIFSIGNALED(sb->wait_status) && WTERMSIG(sb->wait_status) == SIGSEGV);
		test_respawn(sb);
		assert_int_equal(sandbox_state(sb), SANDBOX_READY);
	}
	sandbox_destroy(sb, 0);
}

/* abort(), exit(3) and a forbidden system call, each in Go's (Lambda's) words. */
static void
test_exit_texts(void **state)
{
	static const struct {
		const char *op;
		const char *how;
	} cases[] = {
		{ "abort", "signal: aborted" },
		{ "exit", "exit status 3" },
		{ "ptrace", "signal: bad system call" },
		{ "exec_memory", "signal: bad system call" },
	};
	char want[128];
	struct sandbox *sb;
	struct test_reply *r;
	size_t i;

	(void)state;
	sb = test_start_module("probe", 0);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		r = test_call_op(sb, cases[i].op, NULL, 100 + i);
		snprintf(want, sizeof(want), "RequestId: %zu Error: Runtime exited with error: %s",
			 100 + i, cases[i].how);
		test_fn_error(r, "Runtime.ExitError", want, false);
		test_reply_free(r);
		test_respawn(sb);
	}
	sandbox_destroy(sb, 0);

	char buf[64];

	sandbox_exit_text(SIGSEGV | 0x80, buf, sizeof(buf));
	assert_string_equal(buf, "signal: segmentation fault (core dumped)");
	sandbox_exit_text(40, buf, sizeof(buf));
	assert_string_equal(buf, "signal: signal 40");
	sandbox_exit_text(0, buf, sizeof(buf));
	assert_string_equal(buf, "exit status 0");
}

/* An overrun is killed at its deadline and answered Sandbox.Timedout then, not at its end. */
static void
test_overrun(void **state)
{
	static const uint8_t forever[] = { 0x81, 0xa2, 'u', 's', 0xce, 0x3b, 0x9a, 0xca, 0x00 };
	static const uint8_t short_spin[] = { 0x81, 0xa2, 'u', 's', 0xcd, 0x03, 0xe8 };
	struct sandbox *sb;
	struct test_reply *r;
	uint64_t start, took_ms;

	(void)state;
	sb = test_start_module("spin", 0);
	start = test_now_ns();
	r = test_call(sb, forever, sizeof(forever), 9, 300);   /* spins 1000 s */
	took_ms = (test_now_ns() - start) / 1000000u;
	test_fn_error(r, "Sandbox.Timedout", "Task timed out after 0.30 seconds", false);
	assert_true(r->done.out.timed_out);
	assert_false(r->done.exited);
	if (took_ms < 300 || took_ms > 2000)
		fail_msg("answered after %llu ms, the deadline was 300 ms", (unsigned long long)took_ms);
	test_reply_free(r);

	test_respawn(sb);
	assert_true(WIFSIGNALED(sb->wait_status) || sandbox_state(sb) == SANDBOX_READY);
	r = test_call(sb, short_spin, sizeof(short_spin), 10, 3000);
	assert_null(test_get(&r->obj, "fn_error"));
	assert_int_equal(test_int(test_get(&r->obj, "body"), "us"), 1000);
	assert_true(r->done.out.was_cold);
	test_reply_free(r);
	sandbox_destroy(sb, 1000);
}

#define TEST_BOUND_TRIES 20

/*
 * The watchdog's bound. A worker that polls its sandbox hears an overrun
 * answered Sandbox.Timedout at the first poll at or after the deadline,
 * never before it, and the call is marked as the one the sandbox was killed
 * in: the answer is late by at most one turn of the worker's loop. How late
 * that is in time depends on the CPU the poller gets: on a loaded machine
 * this test is preempted now and then, so it tries up to 20 times for one
 * answer within 1 ms of its deadline.
 */
static void
test_deadline_bound(void **state)
{
	static const uint8_t forever[] = { 0x81, 0xa2, 'u', 's', 0xce, 0x3b, 0x9a, 0xca, 0x00 };
	uint64_t late_us = UINT64_MAX, now, prev;
	struct test_reply *r;
	struct sandbox *sb;
	unsigned int i;
	bool started;

	(void)state;
	sb = test_start_module("spin", 0);
	for (i = 0; i < TEST_BOUND_TRIES && late_us >= 1000; i++) {
		r = calloc(1, sizeof(*r));
		assert_non_null(r);
		test_submit(sb, r, forever, sizeof(forever), 20 + i, 10);
		/* The worker's loop: nothing but polling. */
		prev = rte_rdtsc();
		started = false;
		for (;;) {
			now = rte_rdtsc();
			started = started || atomic_load_explicit(&sb->region->req_head,
								   memory_order_acquire) == sb->req_tail;
			if (sandbox_poll(sb, now, &r->done) != 0)
				break;
			/* A sandbox that has not taken the call by its deadline (this machine
			 * did not run it) is given time to refuse it: this try says nothing. */
			if (now >= r->deadline_tsc && !started)
				break;
			if (now >= r->deadline_tsc)
				fail_msg("a poll past the deadline did not answer");
			prev = now;
		}
		if (!started) {
			print_message("try %u: the sandbox did not start the call in time\n", i + 1);
			test_wait(sb, &r->done);
			test_reply_free(r);
			if (sandbox_state(sb) != SANDBOX_READY)
				test_respawn(sb);
			continue;
		}
		if (now < r->deadline_tsc || prev >= r->deadline_tsc)
			fail_msg("not answered by the first poll at the deadline");
		assert_true(r->done.killed);
		assert_true(r->done.out.timed_out);
		assert_false(r->done.exited);
		late_us = (now - r->deadline_tsc) * 1000000u / test_tsc_hz;
		print_message("try %u: answered %llu us after the deadline\n", i + 1,
			      (unsigned long long)late_us);
		test_decode(r);
		test_fn_error(r, "Sandbox.Timedout", "Task timed out after 0.01 seconds", false);
		test_reply_free(r);
		test_respawn(sb);
	}
	if (late_us >= 1000)
		fail_msg("%u answers, each over 1 ms after its deadline", TEST_BOUND_TRIES);
	sandbox_destroy(sb, 1000);
}

/* Abandoned (the drain's deadline passed): what it holds comes back at once, before any reap. */
static void
test_abandon(void **state)
{
	static const uint8_t forever[] = { 0x81, 0xa2, 'u', 's', 0xce, 0x3b, 0x9a, 0xca, 0x00 };
	struct test_reply *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	struct sandbox_params p;
	struct sandbox *sb;
	uint64_t end;

	(void)state;
	assert_true(a != NULL && b != NULL);
	test_params(&p, test_module("spin"));
	p.nb_slots = 2;
	sb = test_start(&p, 0);
	test_submit(sb, a, forever, sizeof(forever), 1, 10000);
	test_submit(sb, b, forever, sizeof(forever), 2, 10000);
	/* Until the sandbox runs the first one. */
	end = test_now_ns() + (uint64_t)TEST_WAIT_MS * 1000000u;
	while (atomic_load_explicit(&sb->region->req_head, memory_order_acquire) == 0) {
		if (test_now_ns() > end)
			fail_msg("the sandbox never started the call");
		usleep(100);
	}
	sandbox_abandon(sb);
	assert_int_equal(sandbox_poll(sb, rte_rdtsc(), &a->done), 1);
	assert_ptr_equal(a->done.cookie, a);
	assert_true(a->done.exited);
	test_decode(a);
	test_fn_error(a, "Runtime.ExitError", "RequestId: 1 Error: Runtime exited with error: "
		      "signal: killed", false);
	assert_int_equal(sandbox_poll(sb, rte_rdtsc(), &b->done), 1);
	assert_ptr_equal(b->done.cookie, b);
	assert_int_equal(b->done.kind, SANDBOX_DONE_UNRUN);
	assert_int_equal(sandbox_submit(sb, &(struct invoke_args){ 0 }, b->buf, sizeof(b->buf), b),
			 -ENOTCONN);
	test_reply_free(a);
	free(b);            /* nothing decoded in it */
	/* The control thread's part is unchanged: reaped, drained, a new process. */
	test_respawn(sb);
	a = test_call(sb, NULL, 0, 3, 3000);
	assert_null(test_get(&a->obj, "fn_error"));
	test_reply_free(a);
	sandbox_destroy(sb, 1000);
}

/* A call that waited in its worker until its deadline: Sandbox.Timedout in the sandbox's envelope. */
static void
test_expire(void **state)
{
	struct test_reply *r = calloc(1, sizeof(*r));
	struct invoke_args args;
	struct sandbox *sb;
	size_t off = 0;

	(void)state;
	assert_non_null(r);
	sb = test_start_module("echo", 0);
	memset(&args, 0, sizeof(args));
	args.ctx.request_id = 77;
	args.ctx.trace = (struct turbine_str){ "trace-9", 7 };
	args.ctx.deadline_tsc = rte_rdtsc();
	args.ctx.tsc_hz = test_tsc_hz;
	args.timeout_ms = 250;
	sandbox_expire(sb, &args, r->buf, sizeof(r->buf), &r->done);
	assert_int_equal(r->done.kind, SANDBOX_DONE_REPLY);
	assert_true(r->done.out.timed_out);
	assert_false(r->done.killed);
	msgpack_zone_init(&r->zone, 64 * 1024);
	assert_int_equal(msgpack_unpack((const char *)r->buf, r->done.resp_len, &off, &r->zone,
					&r->obj), MSGPACK_UNPACK_SUCCESS);
	test_fn_error(r, "Sandbox.Timedout", "Task timed out after 0.25 seconds", false);
	test_str_is(&r->obj, "version", "7", false);
	test_str_is(&r->obj, "trace", "trace-9", false);
	assert_int_equal(test_get(&r->obj, "id")->via.u64, 77);
	/* Nothing was submitted: the sandbox serves its next call as ever. */
	test_reply_free(r);
	r = test_call(sb, NULL, 0, 78, 3000);
	assert_null(test_get(&r->obj, "fn_error"));
	test_reply_free(r);
	sandbox_destroy(sb, 1000);
}

/*
 * Two slots: a call whose deadline passes while it waits behind another is
 * refused unrun, Sandbox.Timedout, and the sandbox is not killed for it.
 */
static void
test_expired_in_queue(void **state)
{
	static const uint8_t spin_200ms[] = { 0x81, 0xa2, 'u', 's', 0xce, 0x00, 0x03, 0x0d, 0x40 };
	struct sandbox_params p;
	struct sandbox *sb;
	struct test_reply *a, *b, *c;

	(void)state;
	test_params(&p, test_module("spin"));
	p.nb_slots = 2;
	sb = test_start(&p, 0);
	a = calloc(1, sizeof(*a));
	b = calloc(1, sizeof(*b));
	test_submit(sb, a, spin_200ms, sizeof(spin_200ms), 1, 3000);
	test_submit(sb, b, spin_200ms, sizeof(spin_200ms), 2, 50);
	test_wait(sb, &a->done);
	assert_ptr_equal(a->done.cookie, a);
	test_decode(a);
	assert_null(test_get(&a->obj, "fn_error"));
	test_wait(sb, &b->done);
	assert_ptr_equal(b->done.cookie, b);
	test_decode(b);
	test_fn_error(b, "Sandbox.Timedout", "Task timed out after 0.05 seconds", false);
	assert_int_equal(sandbox_state(sb), SANDBOX_READY);
	c = test_call(sb, NULL, 0, 3, 3000);
	assert_null(test_get(&c->obj, "fn_error"));
	test_reply_free(a);
	test_reply_free(b);
	test_reply_free(c);
	sandbox_destroy(sb, 1000);
}

/* Beyond memory_mb: Runtime.OutOfMemory, the test process (the dispatcher) untouched. */
static void
test_memory_limit(void **state)
{
	static const uint8_t hog_200[] = { 0x81, 0xa2, 'm', 'b', 0xcc, 200 };
	static const uint8_t hog_8[] = { 0x81, 0xa2, 'm', 'b', 0x08 };
	struct sandbox_params p;
	struct sandbox *sb;
	struct test_reply *r;

	(void)state;
#if defined(__SANITIZE_ADDRESS__)
	/* AddressSanitizer's shadow memory leaves no room for RLIMIT_AS: nothing to enforce. */
	skip();
#endif
	test_params(&p, test_module("hog"));
	p.memory_mb = 64;
	sb = test_start(&p, 0);
	r = test_call(sb, hog_8, sizeof(hog_8), 1, 5000);
	assert_null(test_get(&r->obj, "fn_error"));
	assert_int_equal(test_int(test_get(&r->obj, "body"), "mb"), 8);
	test_reply_free(r);

	r = test_call(sb, hog_200, sizeof(hog_200), 2, 5000);
	assert_true(r->done.exited);
	assert_true(r->done.out_of_memory);
	test_fn_error(r, "Runtime.OutOfMemory",
		      "RequestId: 2 Error: Runtime exited with error: signal: aborted", false);
	test_reply_free(r);
	test_respawn(sb);
	r = test_call(sb, hog_8, sizeof(hog_8), 3, 5000);
	assert_null(test_get(&r->obj, "fn_error"));
	test_reply_free(r);
	sandbox_destroy(sb, 1000);
}

/* /proc/PID/<name> into buf. */
static ssize_t
test_proc_read(pid_t pid, const char *name, char *buf, size_t len)
{
	char path[64];
	ssize_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	n = (ssize_t)fread(buf, 1, len - 1, f);
	fclose(f);
	buf[n] = '\0';
	return n;
}

/* The call process: the sandbox's init process's only child. */
static pid_t
test_call_pid(struct sandbox *sb)
{
	char name[64], buf[64];

	snprintf(name, sizeof(name), "task/%d/children", (int)sandbox_pid(sb));
	if (test_proc_read(sandbox_pid(sb), name, buf, sizeof(buf)) <= 0)
		fail_msg("the sandbox %d has no child", (int)sandbox_pid(sb));
	return (pid_t)atoi(buf);
}

/* A "Key:\tvalue" line of /proc/PID/status starts with `want`. */
static void
test_status_has(pid_t pid, const char *key, const char *want)
{
	char buf[8192], line[128];
	char *p;

	assert_true(test_proc_read(pid, "status", buf, sizeof(buf)) > 0);
	snprintf(line, sizeof(line), "\n%s:\t", key);
	p = strstr(buf, line);
	if (p == NULL)
		fail_msg("pid %d: no %s in its status", (int)pid, key);
	p += strlen(line);
	if (strncmp(p, want, strlen(want)) != 0)
		fail_msg("pid %d: %s is \"%.*s\", expected \"%s\"", (int)pid, key,
			 (int)strcspn(p, "\n"), p, want);
}

static bool
test_same_ns(pid_t pid, const char *ns)
{
	char a[64], b[64], path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)pid, ns);
	n = readlink(path, a, sizeof(a) - 1);
	assert_true(n > 0);
	a[n] = '\0';
	snprintf(path, sizeof(path), "/proc/self/ns/%s", ns);
	n = readlink(path, b, sizeof(b) - 1);
	assert_true(n > 0);
	b[n] = '\0';
	return strcmp(a, b) == 0;
}

/* /proc/PID/limits' RLIMIT_AS line says `bytes` (no limit under AddressSanitizer). */
static void
test_address_space_limit(const char *limits, unsigned long long bytes)
{
	const char *line = strstr(limits, "Max address space");
	char want[32];

	assert_non_null(line);
	snprintf(want, sizeof(want), "%llu", bytes);
#if defined(__SANITIZE_ADDRESS__)
	(void)want;
#else
	if (strstr(line, want) == NULL)
		fail_msg("RLIMIT_AS is not %s: %.80s", want, line);
#endif
}

/* Does `path` (followed by the kernel) name the null device, 1:3? */
static bool
test_is_dev_null(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISCHR(st.st_mode) && major(st.st_rdev) == 1 &&
	       minor(st.st_rdev) == 3;
}

/* Descriptors, environment and limits of the sandbox's processes. */
static void
test_jail_inside(const struct sandbox *sb, pid_t call, pid_t init)
{
	char buf[16384], path[64];
	char *line, *save;
	struct dirent *e;
	int nfd = 0;
	DIR *d;

	/* Descriptors: stdio on /dev/null and nothing beyond fd 3. */
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)call);
	d = opendir(path);
	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (atoi(e->d_name) > 3)
			fail_msg("the call process holds fd %s", e->d_name);
		nfd++;
	}
	closedir(d);
	assert_true(nfd >= 3);
	/* By what it is, not by its name: under a chroot the link reads as the host's path. */
	snprintf(path, sizeof(path), "/proc/%d/fd/1", (int)call);
	assert_true(test_is_dev_null(path));
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)init);
	d = opendir(path);
	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.' && atoi(e->d_name) > 3)
			fail_msg("the init process holds fd %s", e->d_name);
	closedir(d);

	/* Every mount read-only (and nosuid) in its mount namespace. */
	assert_true(test_proc_read(call, "mountinfo", buf, sizeof(buf)) > 0);
	for (line = strtok_r(buf, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		char opts[256];

		if (sscanf(line, "%*s %*s %*s %*s %*s %255s", opts) != 1 ||
		    strncmp(opts, "ro,", 3) != 0 || strstr(opts, "nosuid") == NULL)
			fail_msg("a mount the sandbox can write to: %s", line);
	}

	/* An empty environment, a limit on its address space. */
	assert_int_equal(test_proc_read(call, "environ", buf, sizeof(buf)), 0);
	assert_int_equal(test_proc_read(init, "environ", buf, sizeof(buf)), 0);
	assert_true(test_proc_read(call, "limits", buf, sizeof(buf)) > 0);
	test_address_space_limit(buf, (128ull << 20) + sb->region_size);
}

/* The jail, seen from outside: identity, filters, namespaces, descriptors, environment, limits. */
static void
test_jail_properties(void **state)
{
	char buf[8192], want[64];
	struct sandbox_params p;
	struct sandbox *sb;
	pid_t init, call;

	(void)state;
	sb = test_start_module("echo", 0);
	init = sandbox_pid(sb);
	call = test_call_pid(sb);
	assert_true(call > 0);

	test_status_has(call, "NoNewPrivs", "1");
	test_status_has(call, "Seccomp", "2");
	test_status_has(init, "NoNewPrivs", "1");
	test_status_has(init, "Seccomp", "2");
	if (geteuid() == 0) {
		test_status_has(call, "Uid", "65534\t65534\t65534\t65534");
		test_status_has(call, "Gid", "65534\t65534\t65534\t65534");
		test_status_has(call, "CapEff", "0000000000000000");
		assert_false(test_same_ns(call, "net"));
		assert_false(test_same_ns(call, "pid"));
		assert_false(test_same_ns(call, "mnt"));
		/* In its own PID namespace the sandbox is pid 1 and the call process pid 2. */
		assert_true(test_proc_read(call, "status", buf, sizeof(buf)) > 0);
		snprintf(want, sizeof(want), "NSpid:\t%d\t2\n", (int)call);
		assert_non_null(strstr(buf, want));
	}

	/* Not dumpable: only root may look at its descriptors, environment and limits. */
	if (geteuid() == 0)
		test_jail_inside(sb, call, init);
	sandbox_destroy(sb, 1000);

	/* network = true: the host's network namespace, sockets allowed. */
	test_params(&p, test_module("echo"));
	p.network = true;
	sb = test_start(&p, 0);
	if (geteuid() == 0)
		assert_true(test_same_ns(test_call_pid(sb), "net"));
	sandbox_destroy(sb, 1000);
}

/* What the filters allow, from inside: no socket without network, no file opened in a call. */
static void
test_filters_from_inside(void **state)
{
	struct sandbox *sb;
	struct test_reply *r;

	(void)state;
	sb = test_start_module("probe", 0);
	r = test_call_op(sb, "socket", NULL, 1);
	assert_int_equal(test_int(test_get(&r->obj, "body"), "errno"), EACCES);
	test_reply_free(r);
	r = test_call_op(sb, "open", NULL, 2);
	assert_int_equal(test_int(test_get(&r->obj, "body"), "errno"), EACCES);
	test_reply_free(r);
	r = test_call_op(sb, "pid", NULL, 3);
	if (geteuid() == 0)
		assert_int_equal(test_int(test_get(&r->obj, "body"), "pid"), 2);
	test_reply_free(r);
	sandbox_destroy(sb, 1000);
}

/* A Unix socket server that answers every "ping" with "pong", a thread per connection. */
#define TEST_SERVER_CONNS 4

struct test_server {
	char dir[64];
	char path[108];
	int fd;
	int conns[TEST_SERVER_CONNS];
	pthread_t serving[TEST_SERVER_CONNS];
	int nb_conns;
	pthread_t thread;
};

static _Atomic int test_server_finis;

static void *
test_server_serve(void *arg)
{
	int c = (int)(intptr_t)arg;
	char buf[16];
	ssize_t n;

	while ((n = read(c, buf, sizeof(buf))) > 0) {
		if (n == 4 && memcmp(buf, "fini", 4) == 0) {
			test_server_finis++;
			continue;
		}
		if (write(c, "pong", 4) != 4)
			break;
	}
	return NULL;
}

static void *
test_server_run(void *arg)
{
	struct test_server *s = arg;
	int c;

	while (s->nb_conns < TEST_SERVER_CONNS) {
		c = accept(s->fd, NULL, NULL);
		if (c < 0)
			break;
		s->conns[s->nb_conns] = c;
		if (pthread_create(&s->serving[s->nb_conns], NULL, test_server_serve,
				   (void *)(intptr_t)c) != 0) {
			close(c);
			break;
		}
		s->nb_conns++;
	}
	return NULL;
}

static void
test_server_start(struct test_server *s)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	snprintf(s->dir, sizeof(s->dir), "/tmp/tb-sandbox-XXXXXX");
	assert_non_null(mkdtemp(s->dir));
	/* The sandbox runs as nobody: it must be able to reach the socket. */
	assert_int_equal(chmod(s->dir, 0755), 0);
	snprintf(s->path, sizeof(s->path), "%s/sock", s->dir);
	s->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(s->fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", s->path);
	assert_int_equal(bind(s->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(chmod(s->path, 0777), 0);
	assert_int_equal(listen(s->fd, 4), 0);
	s->nb_conns = 0;
	assert_int_equal(pthread_create(&s->thread, NULL, test_server_run, s), 0);
}

static void
test_server_stop(struct test_server *s)
{
	int i;

	shutdown(s->fd, SHUT_RDWR);
	pthread_join(s->thread, NULL);
	for (i = 0; i < s->nb_conns; i++) {
		shutdown(s->conns[i], SHUT_RDWR);
		pthread_join(s->serving[i], NULL);
		close(s->conns[i]);
	}
	close(s->fd);
	unlink(s->path);
	rmdir(s->dir);
}

/* network = true: a connection made in init serves calls, and calls may connect too (dbcount). */
static void
test_network(void **state)
{
	struct test_server srv;
	struct sandbox_params p;
	struct sandbox *sb;
	struct test_reply *r;
	char param[160];
	uint64_t end;
	const char *params[] = { param, NULL };

	(void)state;
	test_server_start(&srv);
	snprintf(param, sizeof(param), "connect=%s", srv.path);
	test_params(&p, test_module("probe"));
	p.params = params;
	p.network = true;
	sb = test_start(&p, 0);
	r = test_call_op(sb, "ping_init", NULL, 1);
	test_str_is(test_get(&r->obj, "body"), "reply", "pong", false);
	test_reply_free(r);
	r = test_call_op(sb, "connect", srv.path, 2);
	test_str_is(test_get(&r->obj, "body"), "reply", "pong", false);
	test_reply_free(r);
	/* Stopped with a grace period, it runs fini, which says so on its connection. */
	sandbox_destroy(sb, 5000);
	end = test_now_ns() + 5000000000ull;
	while (test_server_finis == 0 && test_now_ns() < end)
		usleep(1000);
	assert_int_equal(test_server_finis, 1);

	/* Without the network, the same init cannot even make the socket. */
	p.network = false;
	sb = test_start(&p, -EIO);
	if (strstr(sandbox_error(sb), "Permission denied") == NULL)
		fail_msg("connect in init without network: %s", sandbox_error(sb));
	sandbox_destroy(sb, 0);
	test_server_stop(&srv);
}

/* A sandbox that lies in its results is killed; the worker's side reads nothing outside. */
static void
test_hostile_results(void **state)
{
	static const char *const lies[] = { "wrong-id", "body-out", "log-out", "flood", "status" };
	struct sandbox_params p;
	struct sandbox *sb;
	struct test_reply *r;
	size_t i;

	(void)state;
	test_params(&p, "ok");
	p.exe = test_env("TURBINE_SANDBOX_HOSTILE");
	sb = test_start(&p, 0);
	r = test_call(sb, NULL, 0, 1, 3000);
	assert_int_equal(test_get(&r->obj, "body")->type, MSGPACK_OBJECT_NIL);
	test_reply_free(r);
	sandbox_destroy(sb, 0);

	for (i = 0; i < sizeof(lies) / sizeof(lies[0]); i++) {
		test_params(&p, lies[i]);
		p.exe = test_env("TURBINE_SANDBOX_HOSTILE");
		sb = test_start(&p, 0);
		r = test_call(sb, NULL, 0, 1, 3000);
		test_fn_error(r, "Runtime.ExitError",
			      "RequestId: 1 Error: Runtime exited with error: signal: killed (", true);
		assert_true(r->done.exited);
		test_reply_free(r);
		/* Killed: its pidfd turns readable. */
		struct pollfd pfd = { .fd = sandbox_pidfd(sb), .events = POLLIN };

		assert_int_equal(poll(&pfd, 1, 5000), 1);
		sandbox_destroy(sb, 0);
	}
}

/* However the dispatcher ends, its sandboxes end with it. */
static void
test_parent_death(void **state)
{
	int pipefd[2], status = 0;
	pid_t child, pids[2], got;
	uint64_t end;

	(void)state;
	/* Orphans come to this process, which can then see how they ended. */
	assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	assert_int_equal(pipe(pipefd), 0);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		struct sandbox_params p;
		struct sandbox *sb;
		char err[256];

		test_params(&p, test_module("echo"));
		if (sandbox_create(&p, &sb, err, sizeof(err)) != 0 || sandbox_wait_ready(sb) != 0)
			_exit(1);
		pids[0] = sandbox_pid(sb);
		pids[1] = test_call_pid(sb);
		if (write(pipefd[1], pids, sizeof(pids)) != sizeof(pids))
			_exit(1);
		pause();
		_exit(0);
	}
	close(pipefd[1]);
	assert_int_equal(read(pipefd[0], pids, sizeof(pids)), sizeof(pids));
	close(pipefd[0]);
	assert_int_equal(kill(pids[0], 0), 0);
	assert_int_equal(kill(pids[1], 0), 0);

	assert_int_equal(kill(child, SIGKILL), 0);
	assert_int_equal(waitpid(child, &status, 0), child);
	end = test_now_ns() + 5000000000ull;
	do {
		got = waitpid(pids[0], &status, WNOHANG | __WALL);
		if (got == 0)
			usleep(1000);
	} while (got == 0 && test_now_ns() < end);
	if (got != pids[0]) {
		/* It outlived its parent: end it here, not in whoever inherits it next. */
		kill(pids[0], SIGKILL);
		waitpid(pids[0], &status, __WALL);
		fail_msg("the sandbox %d survived the dispatcher's death", (int)pids[0]);
	}
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	/* The call process went with its namespace (without one, as root is needed for it, it
	 * died with its parent too, and came to this process to be collected). */
	while (kill(pids[1], 0) == 0 && test_now_ns() < end) {
		waitpid(pids[1], &status, WNOHANG | __WALL);
		usleep(1000);
	}
	assert_int_equal(kill(pids[1], 0), -1);
	assert_int_equal(errno, ESRCH);
	assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 0), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_echo_round_trip),
		cmocka_unit_test(test_response_room),
		cmocka_unit_test(test_function_error_and_log),
		cmocka_unit_test(test_init_failure),
		cmocka_unit_test(test_crash),
		cmocka_unit_test(test_exit_texts),
		cmocka_unit_test(test_overrun),
		cmocka_unit_test(test_deadline_bound),
		cmocka_unit_test(test_expire),
		cmocka_unit_test(test_abandon),
		cmocka_unit_test(test_expired_in_queue),
		cmocka_unit_test(test_memory_limit),
		cmocka_unit_test(test_jail_properties),
		cmocka_unit_test(test_filters_from_inside),
		cmocka_unit_test(test_network),
		cmocka_unit_test(test_hostile_results),
		cmocka_unit_test(test_parent_death),
	};

	test_tsc_hz = test_measure_tsc_hz();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
