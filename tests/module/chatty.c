/* Test module: logs event (a uint) numbered lines of 100 bytes each, then returns their count. */
#include <turbine/handler.h>

static enum turbine_result
chatty_handle(void *state, const struct turbine_event *event, const struct turbine_ctx *ctx,
	      struct turbine_resp *resp)
{
	uint64_t lines = 0, i;
	msgpack_unpacked u;
	size_t off = 0;

	(void)state;
	/* A test fixture: a per-call unpacker zone is fine here. */
	msgpack_unpacked_init(&u);
	if (event->len != 0 &&
	    msgpack_unpack_next(&u, event->data, event->len, &off) >= 0 &&
	    u.data.type == MSGPACK_OBJECT_POSITIVE_INTEGER)
		lines = u.data.via.u64;
	msgpack_unpacked_destroy(&u);

	/* 10 + 89 + '\n' = 100 bytes a line, so the expected tail is easy to rebuild. */
	for (i = 0; i < lines; i++)
		turbine_log(ctx, "line %04u %089u", (unsigned int)i, (unsigned int)i);
	msgpack_pack_uint64(&resp->pk, lines);
	return TURBINE_OK;
}

TURBINE_HANDLER(.name = "chatty", .handle = chatty_handle);
