/* Test module: the right ABI version but a descriptor of another size (a mismatched header). */
#include <turbine/handler.h>

static enum turbine_result
bad_size_handle(void *state, const struct turbine_event *event, const struct turbine_ctx *ctx,
		struct turbine_resp *resp)
{
	(void)state;
	(void)event;
	(void)ctx;
	msgpack_pack_nil(&resp->pk);
	return TURBINE_OK;
}

__attribute__((visibility("default")))
const struct turbine_handler turbine_handler = {
	.abi_version = TURBINE_HANDLER_ABI_VERSION,
	.size = sizeof(struct turbine_handler) + 8,
	.name = "bad_size",
	.handle = bad_size_handle,
};
