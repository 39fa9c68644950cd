/* One request to one response with Turbine's own parser, runtime and encoder. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <rte_cycles.h>

#include "request.h"
#include "response.h"
#include "serve.h"

/* Every function has the dispatcher's default version: the only qualifier besides $LATEST. */
#define SERVE_VERSION "1"

const char *const serve_counter_names[SERVE_COUNTER_MAX] = {
	[SERVE_requests] = "requests",
	[SERVE_status_200] = "status_200",
	[SERVE_status_204] = "status_204",
	[SERVE_status_400] = "status_400",
	[SERVE_status_404] = "status_404",
	[SERVE_status_500] = "status_500",
	[SERVE_status_502] = "status_502",
	[SERVE_status_503] = "status_503",
	[SERVE_fn_errors] = "fn_errors",
	[SERVE_send_errors] = "send_errors",
};

int
serve_thread_init(struct serve_thread *t, unsigned int id, const struct serve_function *fns,
		  unsigned int nb_functions, uint64_t tsc_hz)
{
	unsigned int f;

	memset(t, 0, sizeof(*t));
	t->id = id;
	t->tsc_hz = tsc_hz;
	response_head_init(&t->head, SERVE_VERSION, sizeof(SERVE_VERSION) - 1);
	t->functions = fns;
	t->nb_functions = nb_functions;
	for (f = 0; f < nb_functions; f++) {
		struct turbine_env_config cfg = {
			.function = fns[f].name,
			.version = SERVE_VERSION,
			.worker_id = id,
			.memory_mb = 128,
			.timeout_ms = fns[f].timeout_ms,
		};

		/* A failed init leaves the environment not ready: its requests get 502. */
		module_env_init(&t->envs[f], &fns[f].mod, &cfg);
	}
	return 0;
}

void
serve_thread_fini(struct serve_thread *t)
{
	unsigned int f;

	for (f = 0; f < t->nb_functions; f++)
		module_env_fini(&t->envs[f]);
}

static void
serve_count_status(struct serve_thread *t, unsigned int status)
{
	switch (status) {
	case 200: t->counters[SERVE_status_200]++; break;
	case 204: t->counters[SERVE_status_204]++; break;
	case 400: t->counters[SERVE_status_400]++; break;
	case 404: t->counters[SERVE_status_404]++; break;
	case 500: t->counters[SERVE_status_500]++; break;
	case 502: t->counters[SERVE_status_502]++; break;
	case 503: t->counters[SERVE_status_503]++; break;
	}
}

static uint32_t __attribute__((format(printf, 6, 7)))
serve_error(struct serve_thread *t, const struct request *req, const uint8_t *in, uint8_t *out,
	    unsigned int status, const char *fmt, ...)
{
	struct response_buf rb;
	msgpack_packer pk;
	char message[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	response_buf_init(&rb, &pk, out, SERVE_MAX_PAYLOAD);
	response_encode_error(&pk, req->id, status, message, NULL, 0, in + req->trace.off,
			      req->trace.len);
	if (rb.overflow)
		return 0;
	serve_count_status(t, status);
	return rb.len;
}

static int
serve_find(const struct serve_thread *t, const uint8_t *name, uint32_t len)
{
	unsigned int f;

	for (f = 0; f < t->nb_functions; f++)
		if (t->functions[f].name_len == len && memcmp(t->functions[f].name, name, len) == 0)
			return (int)f;
	return -1;
}

static bool
serve_qualifier_matches(const uint8_t *q, uint32_t len)
{
	static const char latest[] = "$LATEST";

	return len == 0 ||
	       (len == sizeof(latest) - 1 && memcmp(q, latest, len) == 0) ||
	       (len == sizeof(SERVE_VERSION) - 1 && memcmp(q, SERVE_VERSION, len) == 0);
}

/* The 200 path: the worker's invoke_run, around the handler's body, as in workers/worker.c. */
static uint32_t
serve_invoke(struct serve_thread *t, const struct request *req, const uint8_t *in, uint8_t *out,
	     unsigned int f)
{
	const struct serve_function *fn = &t->functions[f];
	uint64_t timeout_tsc = fn->timeout_tsc;
	uint32_t timeout_ms = fn->timeout_ms;
	struct invoke_outcome outcome;
	struct response_buf rb;
	struct invoke_args args;

	if (req->has_timeout && req->timeout_ms < fn->timeout_ms) {
		timeout_ms = (uint32_t)req->timeout_ms;
		timeout_tsc = req->timeout_ms * t->tsc_hz / 1000;
	}
	memset(&args, 0, sizeof(args));
	args.env = &t->envs[f];
	args.head = &t->head;
	args.ctx.request_id = req->id;
	args.ctx.function = (struct turbine_str){ fn->name, fn->name_len };
	args.ctx.version = (struct turbine_str){ SERVE_VERSION, sizeof(SERVE_VERSION) - 1 };
	args.ctx.tenant = req->tenant.len != 0
		? (struct turbine_str){ (const char *)in + req->tenant.off, req->tenant.len }
		: (struct turbine_str){ "default", 7 };
	args.ctx.trace = (struct turbine_str){ (const char *)in + req->trace.off, req->trace.len };
	args.ctx.client_context = (struct turbine_str){ (const char *)in + req->ctx.off, req->ctx.len };
	args.ctx.memory_mb = 128;
	args.ctx.worker_id = t->id;
	args.start_tsc = rte_rdtsc();
	args.ctx.deadline_tsc = args.start_tsc + timeout_tsc;
	args.ctx.tsc_hz = t->tsc_hz;
	args.event.data = req->event.len != 0 ? (const char *)in + req->event.off : NULL;
	args.event.len = req->event.len;
	args.timeout_ms = timeout_ms;
	args.log_tail = req->log_tail;

	response_buf_open(&rb, out, SERVE_MAX_PAYLOAD);
	if (invoke_run(&t->scratch, &args, &rb, &outcome) < 0)
		return serve_error(t, req, in, out, 500,
				   "the response of function %s could not be encoded", fn->name);
	if (outcome.fn_error)
		t->counters[SERVE_fn_errors]++;
	serve_count_status(t, 200);
	return rb.len;
}

/* PROTOCOL.md's checks in the dispatcher's order (dataplane/dispatch.c), then the call. */
uint32_t
serve_datagram(struct serve_thread *t, const uint8_t *in, uint32_t len, uint8_t *out)
{
	struct request_error err;
	struct response_buf rb;
	struct request req;
	msgpack_packer pk;
	int f;

	t->counters[SERVE_requests]++;
	if (request_parse(in, len, &req, &err) < 0)
		return serve_error(t, &req, in, out, 400, "%s", err.message);

	f = serve_find(t, in + req.fn.off, req.fn.len);
	if (f < 0)
		return serve_error(t, &req, in, out, 404, "Function not found: %.*s",
				   (int)req.fn.len, (const char *)in + req.fn.off);
	if (!serve_qualifier_matches(in + req.qualifier.off, req.qualifier.len))
		return serve_error(t, &req, in, out, 404, "Function not found: %.*s:%.*s",
				   (int)req.fn.len, (const char *)in + req.fn.off,
				   (int)req.qualifier.len, (const char *)in + req.qualifier.off);
	if (!t->envs[f].ready)
		return serve_error(t, &req, in, out, 502, "function %s is not ready: %s",
				   t->functions[f].name, t->envs[f].error);
	if (req.type == REQUEST_EVENT)
		return serve_error(t, &req, in, out, 503,
				   "asynchronous invocation is not enabled on this dispatcher");
	if (req.type == REQUEST_DRYRUN) {
		response_buf_init(&rb, &pk, out, SERVE_MAX_PAYLOAD);
		response_encode_status(&pk, req.id, 204, in + req.trace.off, req.trace.len);
		serve_count_status(t, 204);
		return rb.overflow ? 0 : rb.len;
	}
	return serve_invoke(t, &req, in, out, (unsigned int)f);
}
