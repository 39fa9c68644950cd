/* Example handler: return the event as it came. */
#include <turbine/handler.h>

static enum turbine_result
echo_handle(void *state, const struct turbine_event *event, const struct turbine_ctx *ctx,
	    struct turbine_resp *resp)
{
	(void)state;
	(void)ctx;

	if (event->len == 0) {
		msgpack_pack_nil(&resp->pk);
		return TURBINE_OK;
	}
	/* The event is one whole MessagePack object already: copy it, no unpacking.
	 * Should it not fit, the runtime sees the overflow and reports it. */
	turbine_resp_raw(resp, event->data, event->len);
	return TURBINE_OK;
}

TURBINE_HANDLER(.name = "echo", .handle = echo_handle);
