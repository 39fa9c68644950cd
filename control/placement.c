/* Placement: which workers hold a warm environment of which function. */
#include <string.h>

#include "placement.h"
#include "worker.h"

void
placement_init(struct runtime *rt, FILE *out)
{
	unsigned int f, w;

	for (w = 0; w < rt->nb_workers; w++)
		worker_init_environments(rt, rt->workers[w]);

	for (f = 0; f < rt->nb_functions; f++) {
		struct function *fn = &rt->functions[f];
		uint64_t slowest_ns = 0;

		fn->nb_workers = 0;
		for (w = 0; w < rt->nb_workers; w++) {
			const struct environment *env = &rt->workers[w]->envs[f];

			if (!env->ready) {
				fprintf(out, "turbine: function %s: init failed on worker %u: %s "
					"(its requests there get 502)\n", fn->cfg->name, w, env->error);
				if (fn->not_ready[0] == '\0')
					snprintf(fn->not_ready, sizeof(fn->not_ready), "%s", env->error);
				continue;
			}
			fn->workers[fn->nb_workers++] = (uint16_t)w;
			if (env->init_ns > slowest_ns)
				slowest_ns = env->init_ns;
		}
		fn->ready = fn->nb_workers > 0;
		if (fn->ready)
			fprintf(out, "turbine: function %s version %s (%s): warm on %u worker(s), "
				"cold start %.3f ms\n", fn->cfg->name, fn->cfg->version,
				fn->mod.handler->name ? fn->mod.handler->name : fn->cfg->module,
				fn->nb_workers, slowest_ns / 1e6);
	}
}

void
placement_fini(struct runtime *rt)
{
	unsigned int w;

	for (w = 0; w < rt->nb_workers; w++)
		worker_fini_environments(rt, rt->workers[w]);
}
