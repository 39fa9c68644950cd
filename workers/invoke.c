/* One invocation: run a handler and build its 200 response around the body it packs. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <rte_cycles.h>

#include "invoke.h"

/* What the client is told when a handler fails without calling turbine_error(). */
#define INVOKE_DEFAULT_ERROR_TYPE "Function.Error"
#define INVOKE_DEFAULT_ERROR_MESSAGE "handler returned an error without a message"

/* Hundredths of a second in `cycles` TSC cycles, split so large values cannot overflow. */
static uint64_t
invoke_cycles_to_cs(uint64_t cycles, uint64_t hz)
{
	if (hz == 0)
		return 0;
	return cycles / hz * 100u + (cycles % hz * 100u + hz / 2) / hz;
}

void
invoke_timeout_text(char *buf, size_t len, uint32_t timeout_ms, uint64_t deadline_tsc,
		    uint64_t start_tsc, uint64_t tsc_hz)
{
	uint64_t cs;

	/* Without the timeout, the time the request waited in the ring is missing. */
	if (timeout_ms != 0)
		cs = ((uint64_t)timeout_ms + 5u) / 10u;
	else if (deadline_tsc > start_tsc)
		cs = invoke_cycles_to_cs(deadline_tsc - start_tsc, tsc_hz);
	else
		cs = 0;
	snprintf(buf, len, "Task timed out after %" PRIu64 ".%02" PRIu64 " seconds",
		 cs / 100u, cs % 100u);
}

/* Replace whatever the handler packed with an error object. */
static void
invoke_body_error(struct response_buf *rb, const struct response_ok *ok, const char *type,
		  const char *message)
{
	response_discard_body(rb, ok);
	/* What came before the body fitted; the discarded part is what overflowed. */
	rb->overflow = false;
	response_body_fn_error(rb, type, message);
}

/* The body does not fit in the datagram (Lambda's 6 MB limit, here the buffer's room). */
static void
invoke_body_too_large(struct response_buf *rb, const struct response_ok *ok,
		      struct invoke_outcome *out)
{
	char message[96];

	out->fn_error = true;
	out->too_large = true;
	snprintf(message, sizeof(message),
		 "Response payload size exceeded maximum allowed payload size (%u bytes).",
		 rb->cap - ok->body_at);
	invoke_body_error(rb, ok, "Function.ResponseSizeTooLarge", message);
}

int
invoke_encode_timeout(struct response_buf *rb, uint64_t request_id, struct turbine_str version,
		      struct turbine_str trace, const char *message, bool log_tail)
{
	struct response_ok ok;

	response_begin_ok_version(rb, &ok, request_id, version.ptr, version.len);
	response_body_fn_error(rb, "Sandbox.Timedout", message);
	if (response_finish_ok(rb, &ok, true, trace.ptr, trace.len, "", 0, log_tail) != 0 ||
	    rb->overflow)
		return -1;
	return 0;
}

/* What invoke_run() leaves to a call that did not end plainly; its head is in place. */
int
invoke_finish(struct invoke_scratch *s, struct invoke_args *args, struct response_buf *rb,
	      struct invoke_outcome *out, const struct response_ok begun, enum turbine_result r)
{
	struct turbine_ctx *ctx = &args->ctx;
	struct response_ok ok = begun;
	char message[64];

	if (out->end_tsc > ctx->deadline_tsc) {
		/* Whatever it produced arrives too late to count: Lambda reports the timeout. */
		out->timed_out = true;
		invoke_timeout_text(message, sizeof(message), args->timeout_ms, ctx->deadline_tsc,
				    args->start_tsc, ctx->tsc_hz);
		invoke_body_error(rb, &ok, "Sandbox.Timedout", message);
	} else if (r != TURBINE_OK) {
		invoke_body_error(rb, &ok,
				  s->error_set ? s->error_type : INVOKE_DEFAULT_ERROR_TYPE,
				  s->error_set ? s->error_message : INVOKE_DEFAULT_ERROR_MESSAGE);
	} else if (rb->overflow) {
		invoke_body_too_large(rb, &ok, out);
	} else if (rb->len == ok.body_at) {
		response_body_nil(rb);
	}
	out->fn_error = out->fn_error || out->timed_out || r != TURBINE_OK;
	if (rb->overflow)
		return -1;
	out->body_at = ok.body_at;
	out->body_len = rb->len - ok.body_at;

	if (response_finish_ok(rb, &ok, out->fn_error, ctx->trace.ptr, ctx->trace.len,
			       s->log, s->log_len, args->log_tail) == 0 && !rb->overflow)
		return 0;
	if (out->fn_error)
		return -1;

	/* The body fitted but left no room for the fields after it: to the
	 * client that is still a result too large to send. */
	ok = begun;
	invoke_body_too_large(rb, &ok, out);
	if (rb->overflow)
		return -1;
	out->body_len = rb->len - ok.body_at;
	if (response_finish_ok(rb, &ok, true, ctx->trace.ptr, ctx->trace.len,
			       s->log, s->log_len, args->log_tail) != 0 || rb->overflow)
		return -1;
	return 0;
}
