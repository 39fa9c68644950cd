/* Test module: a descriptor from a future, incompatible handler ABI. */
#include <turbine/handler.h>

static enum turbine_result
bad_abi_handle(void *state, const struct turbine_event *event, const struct turbine_ctx *ctx,
	       struct turbine_resp *resp)
{
	(void)state;
	(void)event;
	(void)ctx;
	msgpack_pack_nil(&resp->pk);
	return TURBINE_OK;
}

/* Spelled out rather than TURBINE_HANDLER(), which always stamps the current version. */
__attribute__((visibility("default")))
const struct turbine_handler turbine_handler = {
	.abi_version = TURBINE_HANDLER_ABI_VERSION + 1,
	.size = sizeof(struct turbine_handler),
	.name = "bad_abi",
	.handle = bad_abi_handle,
};
