/* Test module: returns a result, but only after its deadline has passed. */
#include <time.h>

#include <turbine/handler.h>

static enum turbine_result
sleepy_handle(void *state, const struct turbine_event *event, const struct turbine_ctx *ctx,
	      struct turbine_resp *resp)
{
	struct timespec ts = { .tv_sec = 0, .tv_nsec = 1000000 };

	(void)state;
	(void)event;
	/* remaining_ms rounds down, so 0 can still be up to 1 ms early: sleep past it. */
	while (turbine_remaining_ms(ctx) > 0)
		nanosleep(&ts, NULL);
	ts.tv_nsec = 3000000;
	nanosleep(&ts, NULL);
	msgpack_pack_str_with_body(&resp->pk, "late", 4);
	return TURBINE_OK;
}

TURBINE_HANDLER(.name = "sleepy", .handle = sleepy_handle);
