/* Telemetry through DPDK's rte_telemetry: /turbine/stats and /turbine/functions. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_telemetry.h>

#include "status.h"
#include "telemetry.h"
#include "worker.h"

/* The callbacks take no argument: the runtime they report on, set once at start-up. */
static const struct runtime *telemetry_rt;

static int
telemetry_stats(const char *cmd __rte_unused, const char *params __rte_unused,
		struct rte_tel_data *d)
{
	struct status_snapshot s;
	unsigned int i;

	status_read(telemetry_rt, &s);
	rte_tel_data_start_dict(d);
	for (i = 0; i < COUNTER_MAX; i++)
		rte_tel_data_add_dict_u64(d, counter_names[i], s.sum.v[i]);
	rte_tel_data_add_dict_u64(d, "mempool_in_use", s.mempool_in_use);
	rte_tel_data_add_dict_u64(d, "mempool_size", s.mempool_size);
	return 0;
}

/* Per function: version, readiness, the workers holding it and each one's cold start. */
static int
telemetry_functions(const char *cmd __rte_unused, const char *params __rte_unused,
		    struct rte_tel_data *d)
{
	const struct runtime *rt = telemetry_rt;
	unsigned int f, w;

	rte_tel_data_start_dict(d);
	for (f = 0; f < rt->nb_functions; f++) {
		const struct function *fn = &rt->functions[f];
		struct rte_tel_data *fd = rte_tel_data_alloc();
		struct rte_tel_data *init_us = rte_tel_data_alloc();

		if (fd == NULL || init_us == NULL) {
			rte_tel_data_free(fd);
			rte_tel_data_free(init_us);
			return -ENOMEM;
		}
		rte_tel_data_start_dict(fd);
		rte_tel_data_add_dict_string(fd, "version", fn->cfg->version);
		rte_tel_data_add_dict_string(fd, "module", fn->cfg->module);
		rte_tel_data_add_dict_int(fd, "ready", fn->ready);
		rte_tel_data_add_dict_u64(fd, "timeout_ms", fn->cfg->timeout_ms);
		rte_tel_data_add_dict_u64(fd, "memory_mb", fn->cfg->memory_mb);
		rte_tel_data_add_dict_u64(fd, "warm_workers", fn->nb_workers);
		rte_tel_data_start_array(init_us, RTE_TEL_U64_VAL);
		for (w = 0; w < rt->nb_workers; w++)
			rte_tel_data_add_array_u64(init_us, rt->workers[w]->envs[f].init_ns / 1000);
		rte_tel_data_add_dict_container(fd, "cold_start_us", init_us, 0);
		rte_tel_data_add_dict_container(d, fn->cfg->name, fd, 0);
	}
	return 0;
}

int
telemetry_init(struct runtime *rt, char *err, size_t errlen)
{
	int rc;

	telemetry_rt = rt;
	rc = rte_telemetry_register_cmd("/turbine/stats", telemetry_stats,
					"Every data-plane counter, summed over lcores, and mbufs in use");
	if (rc == 0)
		rc = rte_telemetry_register_cmd("/turbine/functions", telemetry_functions,
						"Functions: version, readiness, warm workers, cold starts");
	if (rc != 0)
		snprintf(err, errlen, "cannot register telemetry commands: %s", strerror(-rc));
	return rc;
}
