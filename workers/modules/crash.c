/* Example handler: dereference NULL, to show what a crash costs in each isolation mode. */
#include <turbine/handler.h>

static enum turbine_result
crash_handle(void *state, const struct turbine_event *event, const struct turbine_ctx *ctx,
	     struct turbine_resp *resp)
{
	/* Volatile both: a NULL the compiler can see becomes a trap (SIGILL), or a store it drops. */
	volatile int *volatile nowhere = NULL;

	(void)state;
	(void)event;
	turbine_log(ctx, "about to crash");
	*nowhere = 1;
	msgpack_pack_nil(&resp->pk);
	return TURBINE_OK;
}

TURBINE_HANDLER(.name = "crash", .handle = crash_handle);
