/* Test module: init outcomes chosen by the mode= param; counts its init and fini calls. */
#include <errno.h>
#include <string.h>
#include <time.h>

#include <turbine/handler.h>

/* Read by the tests through dlsym(), to see that fini runs once and only after a good init. */
__attribute__((visibility("default"))) unsigned int init_fail_inits;
__attribute__((visibility("default"))) unsigned int init_fail_finis;

static const char *
init_fail_mode(const struct turbine_env_config *cfg)
{
	const char *const *p;

	for (p = cfg->params; p != NULL && *p != NULL; p++)
		if (strncmp(*p, "mode=", 5) == 0)
			return *p + 5;
	return "reason";
}

static int
init_fail_init(const struct turbine_env_config *cfg, void **state)
{
	/* Long enough that the measured cold start cannot be mistaken for noise. */
	struct timespec ts = { .tv_sec = 0, .tv_nsec = 2000000 };
	const char *mode = init_fail_mode(cfg);

	init_fail_inits++;
	nanosleep(&ts, NULL);
	*state = &init_fail_inits;
	if (strcmp(mode, "ok") == 0)
		return 0;
	if (strcmp(mode, "silent") == 0)
		return -EIO;
	turbine_init_error(cfg, "cannot connect");
	return -ECONNREFUSED;
}

static enum turbine_result
init_fail_handle(void *state, const struct turbine_event *event, const struct turbine_ctx *ctx,
		 struct turbine_resp *resp)
{
	(void)state;
	(void)event;
	(void)ctx;
	msgpack_pack_true(&resp->pk);
	return TURBINE_OK;
}

static void
init_fail_fini(void *state)
{
	(void)state;
	init_fail_finis++;
}

TURBINE_HANDLER(.name = "init_fail", .init = init_fail_init, .handle = init_fail_handle,
		.fini = init_fail_fini);
