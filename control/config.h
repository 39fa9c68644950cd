/* Turbine's configuration: command-line options and the configuration file, one table of keys. */
#ifndef TURBINE_CONFIG_H
#define TURBINE_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONFIG_MAX_FUNCTIONS 64
#define CONFIG_MAX_LCORES 128
#define CONFIG_MAX_PARAMS 16
#define CONFIG_NAME_MAX 64

struct function_config {
	char name[CONFIG_NAME_MAX + 1];
	char module[PATH_MAX];        /* module path */
	char version[32];             /* published version; default "1" */
	uint32_t timeout_ms;          /* default 3000, 1 .. 900000 */
	uint32_t memory_mb;           /* default 128, 128 .. 10240 (Lambda's range) */
	uint32_t max_event_bytes;     /* largest event accepted (413 above); default 0 = the datagram's limit */
	unsigned int nb_params;
	char *params[CONFIG_MAX_PARAMS + 1]; /* "key=value" strings handed to init (file only), NULL-terminated */
};

struct turbine_config {
	uint32_t ip;                  /* service IPv4 address, network order; default 198.18.0.1 */
	uint16_t udp_port;            /* host order; default 9000 */
	uint16_t port_id;             /* ethdev port to serve; default 0 */
	bool quiet;                   /* no live status line */
	char config_path[PATH_MAX];   /* "" when no --config */

	unsigned int nb_functions;
	struct function_config functions[CONFIG_MAX_FUNCTIONS];

	/* Lcore roles. Both empty: the first lcore dispatches, the others work;
	 * with a single lcore, it dispatches and works (run to completion). */
	unsigned int nb_dispatch_lcores;
	unsigned int dispatch_lcores[CONFIG_MAX_LCORES];
	unsigned int nb_worker_lcores;
	unsigned int worker_lcores[CONFIG_MAX_LCORES];
};

/* Set every default. */
void config_defaults(struct turbine_config *cfg);

/*
 * Parse Turbine's own arguments (those after EAL's `--`). `--config FILE`
 * is read where it appears, so later options override the file. Returns 0,
 * 1 when --help was printed, or -1 with `err` naming the option or the
 * file, line and key at fault.
 */
int config_parse_args(struct turbine_config *cfg, int argc, char **argv, char *err, size_t errlen);

/* Read a configuration file (libconfig syntax) into cfg. Same return convention. */
int config_load_file(struct turbine_config *cfg, const char *path, char *err, size_t errlen);

/* Parse one --fn value: NAME=PATH[,key=value...]. Adds or replaces the function. */
int config_add_function_arg(struct turbine_config *cfg, const char *arg, char *err, size_t errlen);

/* Find a function by name; NULL when absent. */
const struct function_config *config_find_function(const struct turbine_config *cfg,
						   const char *name, size_t len);

/* Usage text for --help. */
void config_usage(const char *prog);

/* Free what the parser allocated (params strings). */
void config_free(struct turbine_config *cfg);

#endif /* TURBINE_CONFIG_H */
