/* Test module: packs a body far larger than any datagram. */
#include <turbine/handler.h>

#define HUGE_BODY_SIZE (256u * 1024u)

static enum turbine_result
huge_handle(void *state, const struct turbine_event *event, const struct turbine_ctx *ctx,
	    struct turbine_resp *resp)
{
	static const char chunk[1024];
	uint32_t i;

	(void)state;
	(void)event;
	(void)ctx;
	msgpack_pack_bin(&resp->pk, HUGE_BODY_SIZE);
	for (i = 0; i < HUGE_BODY_SIZE / sizeof(chunk); i++)
		msgpack_pack_bin_body(&resp->pk, chunk, sizeof(chunk));
	return TURBINE_OK;
}

TURBINE_HANDLER(.name = "huge", .handle = huge_handle);
