/* The function table and the name index the data plane looks up. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_errno.h>

#include "functions.h"
#include "names.h"

int
runtime_find_function(const struct runtime *rt, const char *name, uint32_t len)
{
	return names_find(rt->function_index, name, len);
}

int
functions_load(struct runtime *rt, char *err, size_t errlen)
{
	unsigned int i;
	int rc;

	if (rt->cfg.nb_functions == 0) {
		snprintf(err, errlen, "no function declared: give --fn NAME=MODULE.so or --config FILE");
		return -EINVAL;
	}
	rt->function_index = names_create("turbine_functions", CONFIG_MAX_FUNCTIONS * 2);
	if (rt->function_index == NULL) {
		snprintf(err, errlen, "cannot create the function index: %s", rte_strerror(rte_errno));
		return -rte_errno;
	}
	for (i = 0; i < rt->cfg.nb_functions; i++) {
		const struct function_config *cfg = &rt->cfg.functions[i];
		struct function *fn = &rt->functions[i];

		fn->cfg = cfg;
		fn->name_len = (uint32_t)strlen(cfg->name);
		fn->timeout_tsc = (uint64_t)cfg->timeout_ms * rt->tsc_hz / 1000;
		rt->nb_functions++;
		rc = names_add(rt->function_index, cfg->name, i);
		if (rc != 0) {
			snprintf(err, errlen, "function %s: cannot index it: %s", cfg->name,
				 rte_strerror(-rc));
			return rc;
		}
	}
	return 0;
}

void
functions_unload(struct runtime *rt)
{
	rt->nb_functions = 0;
	names_free(rt->function_index);
	rt->function_index = NULL;
}
