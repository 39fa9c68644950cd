/* A handler module whose init always fails: its requests must get 502 ResourceNotReadyException. */
#include <errno.h>

#include <turbine/handler.h>

static int
initfail_init(const struct turbine_env_config *cfg, void **state)
{
	(void)state;
	turbine_init_error(cfg, "initfail: refusing to initialise %s on worker %u",
			   cfg->function, cfg->worker_id);
	return -EIO;
}

static enum turbine_result
initfail_handle(void *state, const struct turbine_event *event, const struct turbine_ctx *ctx,
		struct turbine_resp *resp)
{
	(void)state;
	(void)event;
	(void)ctx;
	return turbine_error(resp, "InitFail.Called", "handle ran although init failed");
}

TURBINE_HANDLER(.name = "initfail", .init = initfail_init, .handle = initfail_handle);
