/* The turbine_* calls handler modules make, resolved from the process's dynamic symbols. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <rte_cycles.h>

#include <turbine/handler.h>

#include "invoke.h"
#include "module.h"

/*
 * Modules resolve these at dlopen time from the executable's dynamic symbol
 * table (it links with export_dynamic); say so explicitly in case the build
 * ever turns on -fvisibility=hidden.
 */
#define RUNTIME_EXPORT __attribute__((visibility("default")))

/* A log line longer than this is cut: the line buffer lives on the worker's stack. */
#define RUNTIME_LOG_LINE_MAX 512u

/*
 * ctx->internal and resp->internal both lead to the worker's invoke_scratch
 * (set by invoke_run for the call in progress); cfg->internal leads to the
 * environment being initialised (set by module_env_init). NULL means the
 * call came from outside a runtime call, and is ignored.
 */
static struct invoke_scratch *
runtime_scratch_of_ctx(const struct turbine_ctx *ctx)
{
	return ctx != NULL ? ctx->internal : NULL;
}

static struct invoke_scratch *
runtime_scratch_of_resp(const struct turbine_resp *resp)
{
	return resp != NULL ? resp->internal : NULL;
}

RUNTIME_EXPORT uint32_t
turbine_remaining_ms(const struct turbine_ctx *ctx)
{
	uint64_t now, left, ms;

	if (ctx == NULL || ctx->tsc_hz == 0)
		return 0;
	now = rte_rdtsc();
	if (now >= ctx->deadline_tsc)
		return 0;
	left = ctx->deadline_tsc - now;
	/* Split so a far-away deadline cannot overflow left * 1000. */
	ms = left / ctx->tsc_hz * 1000u + left % ctx->tsc_hz * 1000u / ctx->tsc_hz;
	return ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
}

RUNTIME_EXPORT enum turbine_result
turbine_error(struct turbine_resp *resp, const char *type, const char *fmt, ...)
{
	struct invoke_scratch *s = runtime_scratch_of_resp(resp);
	va_list ap;

	if (s == NULL)
		return TURBINE_ERROR;
	snprintf(s->error_type, sizeof(s->error_type), "%s",
		 type != NULL && type[0] != '\0' ? type : "Error");
	if (fmt != NULL) {
		va_start(ap, fmt);
		vsnprintf(s->error_message, sizeof(s->error_message), fmt, ap);
		va_end(ap);
	} else {
		s->error_message[0] = '\0';
	}
	s->error_set = true;
	return TURBINE_ERROR;
}

RUNTIME_EXPORT int
turbine_resp_raw(struct turbine_resp *resp, const void *data, size_t len)
{
	if (resp == NULL)
		return -1;
	/* invoke_run()'s packer, always: its buffer written here, not through the pointer
	 * (and the test for a packer without a callback is off this path). */
	if (likely(resp->pk.callback == response_buf_write))
		return len == 0 ? 0 : response_buf_put(resp->pk.data, data, len);
	if (resp->pk.callback == NULL)
		return -1;
	if (len == 0)
		return 0;
	return resp->pk.callback(resp->pk.data, data, len) == 0 ? 0 : -1;
}

/* Bytes to skip so that a log cut at `p` starts on a UTF-8 character, not inside one. */
static uint32_t
runtime_utf8_skip(const char *p, uint32_t len)
{
	uint32_t n = 0;

	while (n < 3 && n < len && ((uint8_t)p[n] & 0xc0) == 0x80)
		n++;
	return n;
}

/*
 * Keep only the last INVOKE_LOG_TAIL_MAX bytes of this call's log, in order,
 * so the tail can go into the response as one contiguous string. Shifting
 * costs at most 4 KiB per line once full; it needs no second buffer and
 * nothing to unroll at the end of the call.
 */
static void
runtime_log_append(struct invoke_scratch *s, const char *p, uint32_t n)
{
	uint32_t drop;

	if (n >= INVOKE_LOG_TAIL_MAX) {
		p += n - INVOKE_LOG_TAIL_MAX;
		n = INVOKE_LOG_TAIL_MAX;
		drop = runtime_utf8_skip(p, n);
		memcpy(s->log, p + drop, n - drop);
		s->log_len = n - drop;
		return;
	}
	if (s->log_len + n > INVOKE_LOG_TAIL_MAX) {
		drop = s->log_len + n - INVOKE_LOG_TAIL_MAX;
		drop += runtime_utf8_skip(s->log + drop, s->log_len - drop);
		memmove(s->log, s->log + drop, s->log_len - drop);
		s->log_len -= drop;
	}
	memcpy(s->log + s->log_len, p, n);
	s->log_len += n;
}

RUNTIME_EXPORT void
turbine_log(const struct turbine_ctx *ctx, const char *fmt, ...)
{
	struct invoke_scratch *s = runtime_scratch_of_ctx(ctx);
	char line[RUNTIME_LOG_LINE_MAX];
	va_list ap;
	int n;

	if (s == NULL || fmt == NULL)
		return;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	/* vsnprintf reports the untruncated length. A cut line keeps room for its
	 * newline and loses the whole character the cut fell into: the tail goes
	 * out as a MessagePack str, which decoders expect to be valid UTF-8. */
	if ((unsigned int)n > sizeof(line) - 2) {
		n = sizeof(line) - 2;
		while (n > 0 && ((uint8_t)line[n] & 0xc0) == 0x80)
			n--;
	}
	line[n++] = '\n';
	runtime_log_append(s, line, (uint32_t)n);
	s->log_lines++;
}

RUNTIME_EXPORT void
turbine_init_error(const struct turbine_env_config *cfg, const char *fmt, ...)
{
	struct environment *env = cfg != NULL ? cfg->internal : NULL;
	va_list ap;

	if (env == NULL || fmt == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(env->error, sizeof(env->error), fmt, ap);
	va_end(ap);
}
