/* One invocation: call a handler and encode its 200 response around the body it packs. */
#ifndef TURBINE_INVOKE_H
#define TURBINE_INVOKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rte_branch_prediction.h>
#include <rte_cycles.h>

#include <turbine/handler.h>

#include "module.h"
#include "../dataplane/response.h"

#define INVOKE_LOG_TAIL_MAX 4096u

/* Per-worker scratch for one call at a time; allocated at start-up, never per call. */
struct invoke_scratch {
	char error_type[128];
	char error_message[512];
	bool error_set;
	uint32_t log_len;               /* bytes in log[] */
	uint64_t log_lines;             /* lines logged, all calls */
	char log[INVOKE_LOG_TAIL_MAX];  /* the last 4 KiB logged during the current call */
};

struct invoke_args {
	struct environment *env;
	const struct response_head *head; /* the deployment's 200 head; NULL: made from
					     ctx.version for this call */
	struct turbine_ctx ctx;   /* filled by the caller except `internal`; the handler is
				     handed this one, not a copy */
	struct turbine_event event; /* raw MessagePack, data NULL for nil (len 0 then): the
				       handler is handed this one, as it is */
	uint32_t timeout_ms;      /* the effective timeout behind ctx.deadline_tsc, for the
				     Sandbox.Timedout message; 0 = derive it from the deadline */
	uint64_t start_tsc;       /* the caller's one TSC read before the call */
	bool log_tail;
};

struct invoke_outcome {
	union {
		struct {
			bool fn_error;  /* the handler returned an error, overflowed or timed out */
			bool timed_out; /* it returned after the deadline: Sandbox.Timedout */
			bool too_large; /* its result did not fit: Function.ResponseSizeTooLarge */
			bool was_cold;  /* the environment's first call */
		};
		/* Non-zero when any of the four is set: a plain call's one test (worker.c). */
		uint32_t any;
	};
	uint32_t body_at; /* where the body (the handler's, or the error object) lies in rb: */
	uint32_t body_len; /* a sandbox hands just these bytes back to its worker */
	uint64_t end_tsc; /* the one TSC read after the handler returned */
};

/*
 * Everything after the handler that a plain call does not need: a late,
 * failed, overflowed or empty body, and the keys after it (fn_error, trace,
 * log). `ok` is the head invoke_run() began; `r` the handler's result.
 */
int invoke_finish(struct invoke_scratch *s, struct invoke_args *args, struct response_buf *rb,
		  struct invoke_outcome *out, struct response_ok ok, enum turbine_result r);

/*
 * Run one call of args->env's handler and encode the complete 200 response
 * (with fn_error when the function failed) into rb; the handler packs its
 * body through a packer pointing there. Returns 0, or -1 when not even an
 * error response fits in rb (the caller answers 500).
 *
 * Inline, with the rare endings in invoke_finish(): a worker runs this once
 * per call, and the plain call (on time, a body, no trace or log asked for)
 * then costs no call of its own and keeps `out` in registers. The caller
 * answers 502 itself for an environment that is not ready: running one
 * here would hand a handler a state its init never produced. One TSC read
 * here, after the handler: the caller read the one before.
 */
static inline int
invoke_run(struct invoke_scratch *s, struct invoke_args *args, struct response_buf *rb,
	   struct invoke_outcome *out)
{
	struct environment *env = args->env;
	struct turbine_ctx *ctx = &args->ctx;
	struct turbine_resp resp = { .internal = s };
	struct response_ok ok;
	enum turbine_result r;

	out->any = 0;
	out->was_cold = env->cold;
	env->cold = false;
	/* Per call, not per environment: the log tail and the error belong to this call only
	 * (error_set says whether error_type and error_message hold anything). */
	s->error_set = false;
	s->log_len = 0;
	/* How turbine_log() and turbine_error() in runtime.c find this call's scratch. */
	ctx->internal = s;
	/* The handler packs through a packer made here, in its resp, straight into rb. */
	msgpack_packer_init(&resp.pk, rb, response_buf_write);

	if (args->head != NULL)
		response_begin_ok(rb, &ok, args->head, ctx->request_id);
	else
		response_begin_ok_version(rb, &ok, ctx->request_id, ctx->version.ptr,
					  ctx->version.len);
	/* Its keys, not rb->overflow: `ok` is a local the compiler can follow, rb is not. */
	if (unlikely(ok.fields == 0)) {
		out->end_tsc = args->start_tsc;
		return -1;
	}

	r = env->mod->handler->handle(env->state, &args->event, ctx, &resp);

	out->end_tsc = rte_rdtsc();
	if (likely(r == TURBINE_OK && out->end_tsc <= ctx->deadline_tsc && !rb->overflow &&
		   rb->len != ok.body_at && ctx->trace.len == 0 && !args->log_tail)) {
		out->body_at = ok.body_at;
		out->body_len = rb->len - ok.body_at;
		/* The head's map header already counts its RESPONSE_OK_FIELDS keys. */
		return 0;
	}
	/* `ok` by value: its address not taken, it need not live in memory on the plain path. */
	return invoke_finish(s, args, rb, out, ok, r);
}

/*
 * Sandbox.Timedout's message, "Task timed out after 3.00 seconds" as Lambda
 * words it, from the timeout the dispatcher applied; without one (0), from
 * the deadline minus the call's start.
 */
void invoke_timeout_text(char *buf, size_t len, uint32_t timeout_ms, uint64_t deadline_tsc,
			 uint64_t start_tsc, uint64_t tsc_hz);

/*
 * The whole 200 response for a call whose handler's result will not be
 * used: still running past the deadline, or never started because the
 * deadline passed while it waited. The same bytes invoke_run() builds for
 * a handler that returns late ({errorType: "Sandbox.Timedout", errorMessage:
 * `message`}, fn_error, trace), except the log tail: present when asked
 * for, but empty, since the handler may still be writing it. Returns 0, or
 * -1 when it does not fit in rb.
 */
int invoke_encode_timeout(struct response_buf *rb, uint64_t request_id,
			  struct turbine_str version, struct turbine_str trace, const char *message,
			  bool log_tail);

#endif /* TURBINE_INVOKE_H */
