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
#define CONFIG_MAX_TENANTS 64
#define CONFIG_POLICY_MAX 16
#define CONFIG_ISOLATION_MAX 8
#define CONFIG_DESTINATION_FUNCTION "function:"
#define CONFIG_DESTINATION_MAX (sizeof(CONFIG_DESTINATION_FUNCTION) + CONFIG_NAME_MAX)
#define CONFIG_BACKEND_MAX 8
#define CONFIG_URL_MAX 256

/* A tenant's limits across all its functions (Lambda's account-level limits). */
struct tenant_config {
	char name[CONFIG_NAME_MAX + 1];
	uint32_t concurrency;         /* calls admitted and not finished; 0 = no limit */
	uint32_t rate;                /* requests per second (token bucket); 0 = no limit */
	uint32_t burst;               /* bucket depth; 0 = the rate (at least 1) */
};

struct function_config {
	char name[CONFIG_NAME_MAX + 1];
	char module[PATH_MAX];        /* module path */
	char version[32];             /* published version; default "1" */
	uint32_t timeout_ms;          /* default 3000, 1 .. 900000 */
	uint32_t memory_mb;           /* default 128, 128 .. 10240 (Lambda's range) */
	uint32_t max_event_bytes;     /* largest event accepted (413 above); default 0 = the datagram's limit */
	/* "thread" (default): environments on the worker lcores themselves; "process": each one a
	 * jailed sandbox process (workers/sandbox.h). */
	char isolation[CONFIG_ISOLATION_MAX];
	bool network;                 /* process: the host's network and sockets; default false */
	unsigned int nb_params;
	char *params[CONFIG_MAX_PARAMS + 1]; /* "key=value" strings handed to init (file only), NULL-terminated */

	/* Counting (all may change at run time). */
	uint32_t reserved_concurrency; /* most calls in flight, and environments; 0 = not reserved */
	uint32_t rate;                /* requests per second (token bucket); 0 = no limit */
	uint32_t burst;               /* bucket depth; 0 = the rate (at least 1) */
	unsigned int nb_tenants;      /* tenants allowed to call it; 0 = every tenant */
	char tenants[CONFIG_MAX_TENANTS][CONFIG_NAME_MAX + 1];

	/* Asynchronous invocation (Event; all may change at run time). */
	uint32_t max_retry_attempts;  /* after a function error; default 2, 0 .. 10 */
	uint32_t retry_delay_ms;      /* the first retry's delay, doubling; default 60000 */
	uint32_t max_event_age_s;     /* default 21600, 1 .. 21600 */
	uint32_t dedupe_window_s;     /* idempotency_key remembered; default 300 */
	char on_success[CONFIG_DESTINATION_MAX]; /* none (default), dlq, log, function:NAME */
	char on_failure[CONFIG_DESTINATION_MAX]; /* dlq (default), log, none, function:NAME */
};

struct turbine_config {
	uint32_t ip;                  /* service IPv4 address, network order; default 198.18.0.1 */
	uint16_t udp_port;            /* host order; default 9000 */
	uint16_t port_id;             /* ethdev port to serve; default 0 */
	bool quiet;                   /* no live status line */
	char config_path[PATH_MAX];   /* "" when no --config */

	unsigned int nb_functions;
	struct function_config functions[CONFIG_MAX_FUNCTIONS];

	unsigned int nb_tenants;      /* declared tenants; others have no limit of their own */
	struct tenant_config tenants[CONFIG_MAX_TENANTS];

	/* How a dispatcher picks among a function's environments: "jsq" (default),
	 * "round-robin" or "p2c" (power of two choices). */
	char dispatch_policy[CONFIG_POLICY_MAX];

	/* The worker manager: seconds without a call before a function's extra environments
	 * are torn down (one always stays); 0 = never. */
	uint32_t idle_environment_s;

	/* Shutdown: the longest SIGINT/SIGTERM waits for admitted calls to run; past it what
	 * is still queued is answered 503 and turbine exits 3 (dataplane/shutdown.h). */
	uint32_t drain_timeout_ms;

	/* The asynchronous queue: its folder ("": /var/lib/turbine/<file-prefix>) and the most
	 * Events it holds unfinished (429 AsyncQueueFull past it). */
	char async_dir[PATH_MAX];
	uint32_t async_queue_max;

	/* Where the queue lives: "local" (the folder above) or "jetstream" (a NATS JetStream
	 * stream shared by every node, control/async_jetstream.c). */
	char async_backend[16];
	char nats_url[256];           /* nats://HOST:PORT[,nats://...] */
	char nats_stream[32];         /* the work stream; <name>_DLQ and <name>_OK beside it */
	uint32_t nats_replicas;
	uint32_t nats_ack_wait_ms;    /* an unacknowledged delivery goes to another poller after this */
	/* Tenant limits: "local" (default: this node alone) or "nats" (shared with other nodes
	 * by leases in a NATS key-value bucket, control/leases.h). */
	char limits_backend[CONFIG_BACKEND_MAX];
	char lease_bucket[CONFIG_NAME_MAX + 1];
	uint32_t lease_replicas;        /* the bucket's copies when it is created (NATS cluster) */
	uint32_t lease_ttl_ms;          /* a node that stops renewing loses its leases after this */
	uint32_t lease_renew_ms;        /* renewal period; at most a third of lease_ttl_ms */
	char node_id[CONFIG_NAME_MAX + 1]; /* "": hostname-fileprefix */

	/* Lcore roles. Both empty: the first lcore dispatches, the others work;
	 * with a single lcore, it dispatches and works (run to completion). */
	unsigned int nb_dispatch_lcores;
	unsigned int dispatch_lcores[CONFIG_MAX_LCORES];
	unsigned int nb_worker_lcores;
	unsigned int worker_lcores[CONFIG_MAX_LCORES];
};

/* Is the function's every environment a sandbox process (isolation = "process")? */
static inline bool
config_function_isolated(const struct function_config *fn)
{
	return fn->isolation[0] == 'p';
}

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

/* Parse one --tenant value: NAME[,concurrency=N,rate=R,burst=B]. Adds or replaces the tenant. */
int config_add_tenant_arg(struct turbine_config *cfg, const char *arg, char *err, size_t errlen);

/*
 * Change one key of a function or tenant while running (turbinectl): only
 * keys declared runtime-modifiable are accepted, with the same bounds as at
 * start-up. `value` is text ("5", "a:b:c" for tenants). Returns 0, or -1
 * with `err` saying why. The caller publishes the change to the data plane.
 */
int config_set_function_key(struct function_config *fn, const char *key, const char *value,
			    char *err, size_t errlen);
int config_set_tenant_key(struct tenant_config *t, const char *key, const char *value,
			  char *err, size_t errlen);

/* Find a tenant by name; NULL when absent. */
const struct tenant_config *config_find_tenant(const struct turbine_config *cfg,
					       const char *name, size_t len);

/* Find a function by name; NULL when absent. */
const struct function_config *config_find_function(const struct turbine_config *cfg,
						   const char *name, size_t len);

/* Usage text for --help. */
void config_usage(const char *prog);

/* Free what the parser allocated (params strings). */
void config_free(struct turbine_config *cfg);

#endif /* TURBINE_CONFIG_H */
