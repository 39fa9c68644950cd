/* Test module: a well-formed descriptor without the required handle(). */
#include <turbine/handler.h>

static int
no_handle_init(const struct turbine_env_config *cfg, void **state)
{
	(void)cfg;
	*state = NULL;
	return 0;
}

TURBINE_HANDLER(.name = "no_handle", .init = no_handle_init);
