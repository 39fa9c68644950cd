/* The function table: modules loaded at start-up and the name index the data plane looks up. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_jhash.h>

#include "functions.h"

/* Hash keys are names zero-padded to a fixed length, as rte_hash wants. */
struct functions_key {
	char name[CONFIG_NAME_MAX];
};

int
runtime_find_function(const struct runtime *rt, const char *name, uint32_t len)
{
	struct functions_key key;
	void *index;

	if (len == 0 || len > sizeof(key.name))
		return -1;
	memset(&key, 0, sizeof(key));
	memcpy(key.name, name, len);
	if (rte_hash_lookup_data(rt->function_index, &key, &index) < 0)
		return -1;
	return (int)(uintptr_t)index;
}

int
functions_load(struct runtime *rt, char *err, size_t errlen)
{
	struct rte_hash_parameters params = {
		.name = "turbine_functions",
		.entries = CONFIG_MAX_FUNCTIONS * 2,
		.key_len = sizeof(struct functions_key),
		.hash_func = rte_jhash,
		.socket_id = (int)rte_socket_id(),
	};
	unsigned int i;
	int rc;

	if (rt->cfg.nb_functions == 0) {
		snprintf(err, errlen, "no function declared: give --fn NAME=MODULE.so or --config FILE");
		return -EINVAL;
	}
	rt->function_index = rte_hash_create(&params);
	if (rt->function_index == NULL) {
		snprintf(err, errlen, "cannot create the function index: %s", rte_strerror(rte_errno));
		return -rte_errno;
	}
	for (i = 0; i < rt->cfg.nb_functions; i++) {
		const struct function_config *cfg = &rt->cfg.functions[i];
		struct function *fn = &rt->functions[i];
		struct functions_key key;
		char why[512];

		fn->cfg = cfg;
		fn->name_len = (uint32_t)strlen(cfg->name);
		fn->version_len = (uint32_t)strlen(cfg->version);
		fn->timeout_tsc = (uint64_t)cfg->timeout_ms * rt->tsc_hz / 1000;
		rc = module_load(&fn->mod, cfg->module, why, sizeof(why));
		if (rc != 0) {
			snprintf(err, errlen, "function %s: %s", cfg->name, why);
			return rc;
		}
		rt->nb_functions++;
		memset(&key, 0, sizeof(key));
		memcpy(key.name, cfg->name, strnlen(cfg->name, sizeof(key.name)));
		/* The index of the hash entry is not the table's: store the table index as data. */
		rc = rte_hash_add_key_data(rt->function_index, &key, (void *)(uintptr_t)i);
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
	unsigned int i;

	for (i = 0; i < rt->nb_functions; i++)
		module_unload(&rt->functions[i].mod);
	rt->nb_functions = 0;
	rte_hash_free(rt->function_index);
	rt->function_index = NULL;
}
