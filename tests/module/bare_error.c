/* Test module: packs part of a body, then fails without calling turbine_error(). */
#include <turbine/handler.h>

static enum turbine_result
bare_error_handle(void *state, const struct turbine_event *event, const struct turbine_ctx *ctx,
		  struct turbine_resp *resp)
{
	(void)state;
	(void)event;
	(void)ctx;
	msgpack_pack_map(&resp->pk, 1);
	msgpack_pack_str_with_body(&resp->pk, "half", 4);
	return TURBINE_ERROR;
}

TURBINE_HANDLER(.name = "bare_error", .handle = bare_error_handle);
