/* Example handler: count the calls one environment has served (state kept across calls). */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

#include <turbine/handler.h>

struct counter {
	uint64_t calls;
};

static int
counter_init(const struct turbine_env_config *cfg, void **state)
{
	struct counter *c = calloc(1, sizeof(*c));

	if (c == NULL) {
		turbine_init_error(cfg, "counter: out of memory");
		return -ENOMEM;
	}
	*state = c;
	return 0;
}

static void
counter_fini(void *state)
{
	free(state);
}

static enum turbine_result
counter_handle(void *state, const struct turbine_event *event, const struct turbine_ctx *ctx,
	       struct turbine_resp *resp)
{
	struct counter *c = state;
	uint64_t n = ++c->calls;

	(void)event;
	turbine_log(ctx, "call %" PRIu64, n);

	msgpack_pack_map(&resp->pk, 3);
	msgpack_pack_str_with_body(&resp->pk, "calls", 5);
	msgpack_pack_uint64(&resp->pk, n);
	msgpack_pack_str_with_body(&resp->pk, "worker", 6);
	msgpack_pack_unsigned_int(&resp->pk, ctx->worker_id);
	/* The state is per environment, so its first call is the cold one. */
	msgpack_pack_str_with_body(&resp->pk, "cold", 4);
	if (n == 1)
		msgpack_pack_true(&resp->pk);
	else
		msgpack_pack_false(&resp->pk);
	return TURBINE_OK;
}

TURBINE_HANDLER(.name = "counter", .init = counter_init, .handle = counter_handle,
		.fini = counter_fini);
