/* Example handler that never returns: a busy loop, for stuck workers and bounded shutdown. */
#include <stdio.h>
#include <stdlib.h>

#include <turbine/handler.h>

struct loop {
	unsigned int worker_id;
};

static int
loop_init(const struct turbine_env_config *cfg, void **state)
{
	struct loop *l = malloc(sizeof(*l));

	if (l == NULL) {
		turbine_init_error(cfg, "loop: out of memory");
		return -1;
	}
	l->worker_id = cfg->worker_id;
	*state = l;
	return 0;
}

/* Says which environments were torn down: only those whose worker is not stuck here. */
static void
loop_fini(void *state)
{
	struct loop *l = state;

	fprintf(stderr, "loop: fini on worker %u\n", l->worker_id);
	free(l);
}

static enum turbine_result
loop_handle(void *state, const struct turbine_event *event, const struct turbine_ctx *ctx,
	    struct turbine_resp *resp)
{
	volatile unsigned long spins = 0;

	(void)state;
	(void)event;
	(void)ctx;
	(void)resp;
	/* Busy, as a handler in an endless loop is: the core never comes back. */
	for (;;)
		spins++;
	return TURBINE_OK;          /* never reached */
}

TURBINE_HANDLER(.name = "loop", .init = loop_init, .handle = loop_handle, .fini = loop_fini);
