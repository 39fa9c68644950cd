/* Turbine's configuration: every key declared once in a table, read from the command line and the file. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libconfig.h>
#include <rte_config.h>

#include "config.h"
#include "request.h"

/* Lists hold distinct lcore ids, so a list never outgrows its array. */
_Static_assert(CONFIG_MAX_LCORES >= RTE_MAX_LCORE, "lcore lists shorter than RTE_MAX_LCORE");

enum config_key_type {
	CONFIG_KEY_UINT,       /* integer in min..max, stored in a field of `size` bytes */
	CONFIG_KEY_BOOL,
	CONFIG_KEY_WORD,       /* min..max characters of [A-Za-z0-9] and `extra` */
	CONFIG_KEY_NAMES,      /* at most nb_max words, each as a WORD: "a:b:c" or ["a", "b"] */
	CONFIG_KEY_CHOICE,     /* one of `choices` */
	CONFIG_KEY_DESTINATION, /* one of `choices`, or function:NAME */
	CONFIG_KEY_IPV4,       /* dotted quad, stored as uint32_t in network order */
	CONFIG_KEY_LCORES,     /* lcore ids in min..max: "1,3-5" or [1, 3, 4, 5] */
	CONFIG_KEY_PATH,       /* a file; relative ones resolve against the config file's folder */
	CONFIG_KEY_PARAMS,     /* group of key = string or integer, kept as "key=value" strings */
	CONFIG_KEY_GROUPS,     /* a list of groups (functions, tenants), each read by `section` */
};

struct config_section;

struct config_key {
	const char *name;             /* key in the file */
	enum config_key_type type;
	int64_t min;                  /* value bounds, or length bounds for a word */
	int64_t max;
	const char *def;              /* default, in command-line form; NULL: none */
	bool runtime_modifiable;      /* may change in a running dispatcher (turbinectl) */
	bool required;                /* groups: must be given */
	bool in_arg;                  /* groups: may follow the name in --fn or --tenant */
	size_t offset;                /* field in the struct the table describes */
	size_t size;                  /* its size; for names, the size of one */
	size_t count_offset;          /* lcore, name and params lists: the count field */
	unsigned int nb_max;          /* names: the most a list holds */
	const char *extra;            /* word, names: allowed characters beyond letters and digits */
	const char *const *choices;   /* choice: the accepted values, NULL-terminated */
	const struct config_section *section; /* groups: the keys of one group and how to keep it */
	const char *option;           /* top-level keys: command-line option, NULL if none */
	const char *arg;              /* the option's argument in --help; NULL: a flag */
	const char *help;
};

/* A list of groups in the file, each also given whole by a repeatable option. */
struct config_section {
	const char *what;             /* one group, in messages: "function" */
	const char *title;            /* heading of its keys in --help */
	const char *head;             /* what --fn or --tenant takes before ",key=value" */
	const char *example;          /* a group, for the error when an element is not one */
	const struct config_key *keys;
	size_t nb_keys;
	unsigned int max;             /* the most groups a configuration holds */
	/* Add the group, or replace the one of the same name; -1 when full. */
	int (*commit)(struct turbine_config *cfg, void *entry);
	/* Free what a group read halfway holds; NULL: nothing. */
	void (*release)(void *entry);
	/* Read one option value (--fn, --tenant) and add or replace its group. */
	int (*add_arg)(struct turbine_config *cfg, const char *arg, char *err, size_t errlen);
};

/* One group being read, whatever its section. */
union config_entry {
	struct function_config fn;
	struct tenant_config tenant;
};

#define CONFIG_FIELD(type, field) \
	.offset = offsetof(struct type, field), .size = sizeof(((struct type *)0)->field)
#define CONFIG_LIST(type, field, count) \
	CONFIG_FIELD(type, field), .count_offset = offsetof(struct type, count)
#define CONFIG_NAMES(type, field, count) \
	.offset = offsetof(struct type, field), .size = sizeof(((struct type *)0)->field[0]), \
	.nb_max = sizeof(((struct type *)0)->field) / sizeof(((struct type *)0)->field[0]), \
	.count_offset = offsetof(struct type, count)

/* Room for the longest list of names, in both its forms. */
#define CONFIG_NAMES_BYTES (CONFIG_MAX_TENANTS * (CONFIG_NAME_MAX + 1))
_Static_assert(sizeof(((struct function_config *)0)->tenants) <= CONFIG_NAMES_BYTES,
	       "a function's tenants outgrow the names buffer");

/* The values of a function's isolation key; config_function_isolated() tells them apart. */
static const char *const config_isolations[] = { "thread", "process", NULL };

/* Where an Event's record goes (config.h: CONFIG_DESTINATION_*), besides function:NAME. */
static const char *const config_success_destinations[] = { "none", "log", "dlq", NULL };
static const char *const config_failure_destinations[] = { "dlq", "log", "none", NULL };

/* Counting limits: generous bounds that still catch a slipped digit. */
#define CONFIG_CONCURRENCY_MAX 100000
#define CONFIG_RATE_MAX 10000000

static const struct config_key config_function_keys[] = {
	{ .name = "name", .type = CONFIG_KEY_WORD, .min = 1, .max = CONFIG_NAME_MAX, .extra = "_-",
	  .required = true, CONFIG_FIELD(function_config, name),
	  .help = "function name" },
	{ .name = "module", .type = CONFIG_KEY_PATH, .min = 1, .max = PATH_MAX - 1,
	  .required = true, CONFIG_FIELD(function_config, module),
	  .help = "handler module (shared object)" },
	{ .name = "timeout_ms", .type = CONFIG_KEY_UINT, .min = 1, .max = 900000, .def = "3000",
	  .runtime_modifiable = true, .in_arg = true, CONFIG_FIELD(function_config, timeout_ms),
	  .help = "longest a call may run" },
	{ .name = "memory_mb", .type = CONFIG_KEY_UINT, .min = 128, .max = 10240, .def = "128",
	  .runtime_modifiable = true, .in_arg = true, CONFIG_FIELD(function_config, memory_mb),
	  .help = "memory limit handed to the handler" },
	{ .name = "max_event_bytes", .type = CONFIG_KEY_UINT, .min = 0, .max = UINT16_MAX, .def = "0",
	  .runtime_modifiable = true, .in_arg = true, CONFIG_FIELD(function_config, max_event_bytes),
	  .help = "largest event accepted, 413 above; 0: the datagram's limit" },
	{ .name = "version", .type = CONFIG_KEY_WORD, .min = 1, .max = 31, .extra = "_.-", .def = "1",
	  .in_arg = true, CONFIG_FIELD(function_config, version),
	  .help = "published version" },
	{ .name = "isolation", .type = CONFIG_KEY_CHOICE, .def = "thread", .choices = config_isolations,
	  .in_arg = true, CONFIG_FIELD(function_config, isolation),
	  .help = "thread: on the worker lcores (trusted code); process: each environment a jailed "
		  "sandbox process" },
	{ .name = "network", .type = CONFIG_KEY_BOOL, .def = "false", .in_arg = true,
	  CONFIG_FIELD(function_config, network),
	  .help = "isolation = process: the host's network namespace and client sockets" },
	{ .name = "params", .type = CONFIG_KEY_PARAMS, .max = CONFIG_MAX_PARAMS,
	  CONFIG_LIST(function_config, params, nb_params),
	  .help = "key = string or integer pairs handed to init (file only)" },
	{ .name = "reserved_concurrency", .type = CONFIG_KEY_UINT, .min = 0, .max = CONFIG_CONCURRENCY_MAX,
	  .def = "0", .runtime_modifiable = true, .in_arg = true,
	  CONFIG_FIELD(function_config, reserved_concurrency),
	  .help = "most calls in flight, and so environments; 0: not reserved" },
	{ .name = "rate", .type = CONFIG_KEY_UINT, .min = 0, .max = CONFIG_RATE_MAX, .def = "0",
	  .runtime_modifiable = true, .in_arg = true, CONFIG_FIELD(function_config, rate),
	  .help = "requests per second (token bucket); 0: no limit" },
	{ .name = "burst", .type = CONFIG_KEY_UINT, .min = 0, .max = CONFIG_RATE_MAX, .def = "0",
	  .runtime_modifiable = true, .in_arg = true, CONFIG_FIELD(function_config, burst),
	  .help = "token bucket depth; 0: the rate" },
	{ .name = "max_retry_attempts", .type = CONFIG_KEY_UINT, .min = 0, .max = 10, .def = "2",
	  .runtime_modifiable = true, .in_arg = true,
	  CONFIG_FIELD(function_config, max_retry_attempts),
	  .help = "Event: retries after a function error" },
	{ .name = "retry_delay_ms", .type = CONFIG_KEY_UINT, .min = 0, .max = 3600000, .def = "60000",
	  .runtime_modifiable = true, .in_arg = true, CONFIG_FIELD(function_config, retry_delay_ms),
	  .help = "Event: wait before the first retry, doubling for each next one" },
	{ .name = "max_event_age_s", .type = CONFIG_KEY_UINT, .min = 1, .max = 21600, .def = "21600",
	  .runtime_modifiable = true, .in_arg = true, CONFIG_FIELD(function_config, max_event_age_s),
	  .help = "Event: older than this, it goes to on_failure (EventAgeExceeded)" },
	{ .name = "dedupe_window_s", .type = CONFIG_KEY_UINT, .min = 0, .max = 86400, .def = "300",
	  .runtime_modifiable = true, .in_arg = true, CONFIG_FIELD(function_config, dedupe_window_s),
	  .help = "Event: how long an idempotency_key is remembered" },
	{ .name = "on_success", .type = CONFIG_KEY_DESTINATION, .def = "none",
	  .choices = config_success_destinations, .runtime_modifiable = true, .in_arg = true,
	  CONFIG_FIELD(function_config, on_success),
	  .help = "Event: where the record of a success goes" },
	{ .name = "on_failure", .type = CONFIG_KEY_DESTINATION, .def = "dlq",
	  .choices = config_failure_destinations, .runtime_modifiable = true, .in_arg = true,
	  CONFIG_FIELD(function_config, on_failure),
	  .help = "Event: where the record of a failure goes (retries or age exhausted)" },
	{ .name = "tenants", .type = CONFIG_KEY_NAMES, .min = 1, .max = CONFIG_NAME_MAX, .extra = "_-",
	  .def = "", .runtime_modifiable = true, .in_arg = true,
	  CONFIG_NAMES(function_config, tenants, nb_tenants),
	  .help = "tenants allowed to call it, a:b:c or [\"a\", \"b\"]; none: every tenant" },
};

static const struct config_key config_tenant_keys[] = {
	{ .name = "name", .type = CONFIG_KEY_WORD, .min = 1, .max = CONFIG_NAME_MAX, .extra = "_-",
	  .required = true, CONFIG_FIELD(tenant_config, name),
	  .help = "tenant name" },
	{ .name = "concurrency", .type = CONFIG_KEY_UINT, .min = 0, .max = CONFIG_CONCURRENCY_MAX, .def = "0",
	  .runtime_modifiable = true, .in_arg = true, CONFIG_FIELD(tenant_config, concurrency),
	  .help = "most calls in flight across its functions; 0: no limit" },
	{ .name = "rate", .type = CONFIG_KEY_UINT, .min = 0, .max = CONFIG_RATE_MAX, .def = "0",
	  .runtime_modifiable = true, .in_arg = true, CONFIG_FIELD(tenant_config, rate),
	  .help = "requests per second (token bucket); 0: no limit" },
	{ .name = "burst", .type = CONFIG_KEY_UINT, .min = 0, .max = CONFIG_RATE_MAX, .def = "0",
	  .runtime_modifiable = true, .in_arg = true, CONFIG_FIELD(tenant_config, burst),
	  .help = "token bucket depth; 0: the rate" },
};

#define CONFIG_NB_FUNCTION_KEYS (sizeof(config_function_keys) / sizeof(config_function_keys[0]))
#define CONFIG_NB_TENANT_KEYS (sizeof(config_tenant_keys) / sizeof(config_tenant_keys[0]))

static int config_function_commit(struct turbine_config *cfg, void *entry);
static void config_function_release(void *entry);
static int config_tenant_commit(struct turbine_config *cfg, void *entry);

static const struct config_section config_function_section = {
	.what = "function",
	.title = "Function keys, in a functions entry of the file or as --fn NAME=PATH,key=value",
	.head = "NAME=PATH",
	.example = "{ name = \"...\"; module = \"...\"; }",
	.keys = config_function_keys,
	.nb_keys = CONFIG_NB_FUNCTION_KEYS,
	.max = CONFIG_MAX_FUNCTIONS,
	.commit = config_function_commit,
	.release = config_function_release,
	.add_arg = config_add_function_arg,
};

static const struct config_section config_tenant_section = {
	.what = "tenant",
	.title = "Tenant keys, in a tenants entry of the file or as --tenant NAME,key=value",
	.head = "NAME",
	.example = "{ name = \"...\"; concurrency = N; }",
	.keys = config_tenant_keys,
	.nb_keys = CONFIG_NB_TENANT_KEYS,
	.max = CONFIG_MAX_TENANTS,
	.commit = config_tenant_commit,
	.add_arg = config_add_tenant_arg,
};

/* The names policy_find() in dataplane/policy.c knows; the two lists must agree. */
static const char *const config_dispatch_policies[] = { "jsq", "round-robin", "p2c", NULL };

/* The asynchronous queue's backends (control/async.c picks the ops by name). */
static const char *const config_async_backends[] = { "local", "jetstream", NULL };
/* Where tenant limits are counted (control/leases.h). */
static const char *const config_limits_backends[] = { "local", "nats", NULL };

static const struct config_key config_keys[] = {
	{ .name = "ip", .type = CONFIG_KEY_IPV4, .def = "198.18.0.1",
	  CONFIG_FIELD(turbine_config, ip),
	  .option = "ip", .arg = "A.B.C.D", .help = "service IPv4 address" },
	{ .name = "udp_port", .type = CONFIG_KEY_UINT, .min = 1, .max = UINT16_MAX, .def = "9000",
	  CONFIG_FIELD(turbine_config, udp_port),
	  .option = "udp-port", .arg = "N", .help = "service UDP port" },
	{ .name = "port", .type = CONFIG_KEY_UINT, .min = 0, .max = RTE_MAX_ETHPORTS - 1, .def = "0",
	  CONFIG_FIELD(turbine_config, port_id),
	  .option = "port", .arg = "N", .help = "ethdev port id to serve" },
	{ .name = "dispatch_lcores", .type = CONFIG_KEY_LCORES, .min = 0, .max = RTE_MAX_LCORE - 1,
	  .def = "", CONFIG_LIST(turbine_config, dispatch_lcores, nb_dispatch_lcores),
	  .option = "dispatch-lcores", .arg = "LIST",
	  .help = "lcores that receive and dispatch (none given: the first lcore)" },
	{ .name = "worker_lcores", .type = CONFIG_KEY_LCORES, .min = 0, .max = RTE_MAX_LCORE - 1,
	  .def = "", CONFIG_LIST(turbine_config, worker_lcores, nb_worker_lcores),
	  .option = "worker-lcores", .arg = "LIST",
	  .help = "lcores that run handlers (none given: the other lcores)" },
	{ .name = "dispatch_policy", .type = CONFIG_KEY_CHOICE, .def = "jsq",
	  .choices = config_dispatch_policies, CONFIG_FIELD(turbine_config, dispatch_policy),
	  .option = "dispatch-policy", .arg = "NAME",
	  .help = "how a dispatcher picks among a function's environments" },
	{ .name = "idle_environment_s", .type = CONFIG_KEY_UINT, .min = 0, .max = 86400, .def = "60",
	  CONFIG_FIELD(turbine_config, idle_environment_s),
	  .option = "idle-environment-s", .arg = "S",
	  .help = "an environment idle this long is torn down (one per function stays warm); 0: never" },
	{ .name = "drain_timeout_ms", .type = CONFIG_KEY_UINT, .min = 0, .max = 600000, .def = "5000",
	  CONFIG_FIELD(turbine_config, drain_timeout_ms),
	  .option = "drain-timeout-ms", .arg = "MS",
	  .help = "on SIGINT/SIGTERM, how long admitted calls may still run; past it the rest "
		  "are answered 503 and turbine exits 3" },
	{ .name = "async_dir", .type = CONFIG_KEY_PATH, .min = 1, .max = PATH_MAX - 1,
	  CONFIG_FIELD(turbine_config, async_dir),
	  .option = "async-dir", .arg = "DIR",
	  .help = "the asynchronous queue's folder (default /var/lib/turbine/<file-prefix>)" },
	{ .name = "async_queue_max", .type = CONFIG_KEY_UINT, .min = 1, .max = 100000000,
	  .def = "1000000", CONFIG_FIELD(turbine_config, async_queue_max),
	  .option = "async-queue-max", .arg = "N",
	  .help = "most Events queued and not finished; past it 429 AsyncQueueFull" },
	{ .name = "async_backend", .type = CONFIG_KEY_CHOICE, .def = "local",
	  .choices = config_async_backends, CONFIG_FIELD(turbine_config, async_backend),
	  .option = "async-backend", .arg = "NAME",
	  .help = "the asynchronous queue: local (a log in async_dir) or jetstream (NATS, shared "
		  "by every node)" },
	{ .name = "nats_url", .type = CONFIG_KEY_WORD, .min = 1, .max = 255, .extra = ":/.,_-@[]",
	  .def = "nats://127.0.0.1:4222", CONFIG_FIELD(turbine_config, nats_url),
	  .option = "nats-url", .arg = "URL",
	  .help = "the NATS servers (comma-separated) of the jetstream backend and of limits_backend nats" },
	{ .name = "nats_stream", .type = CONFIG_KEY_WORD, .min = 1, .max = 24, .extra = "_-",
	  .def = "TURBINE", CONFIG_FIELD(turbine_config, nats_stream),
	  .option = "nats-stream", .arg = "NAME",
	  .help = "the JetStream work stream (NAME_DLQ and NAME_OK beside it)" },
	{ .name = "nats_replicas", .type = CONFIG_KEY_UINT, .min = 1, .max = 5, .def = "1",
	  CONFIG_FIELD(turbine_config, nats_replicas),
	  .option = "nats-replicas", .arg = "N",
	  .help = "replicas of the JetStream streams (3 in production)" },
	{ .name = "nats_ack_wait_ms", .type = CONFIG_KEY_UINT, .min = 1000, .max = 3600000,
	  .def = "30000", CONFIG_FIELD(turbine_config, nats_ack_wait_ms),
	  .option = "nats-ack-wait-ms", .arg = "MS",
	  .help = "an Event a dead node held runs elsewhere after this" },
	{ .name = "limits_backend", .type = CONFIG_KEY_CHOICE, .def = "local",
	  .choices = config_limits_backends, CONFIG_FIELD(turbine_config, limits_backend),
	  .option = "limits-backend", .arg = "NAME",
	  .help = "tenant limits: local (this node's own), or nats (shared by every node through "
		  "leases in a NATS key-value bucket)" },
	{ .name = "lease_bucket", .type = CONFIG_KEY_WORD, .min = 1, .max = CONFIG_NAME_MAX,
	  .extra = "_-", .def = "turbine_leases", CONFIG_FIELD(turbine_config, lease_bucket),
	  .option = "lease-bucket", .arg = "NAME",
	  .help = "the key-value bucket of the leases (created if missing)" },
	{ .name = "lease_replicas", .type = CONFIG_KEY_UINT, .min = 1, .max = 5, .def = "1",
	  CONFIG_FIELD(turbine_config, lease_replicas),
	  .option = "lease-replicas", .arg = "N",
	  .help = "copies of the lease bucket when it is created (3 on a three-server NATS "
		  "cluster: leases survive a server's death)" },
	{ .name = "lease_ttl_ms", .type = CONFIG_KEY_UINT, .min = 300, .max = 600000, .def = "3000",
	  CONFIG_FIELD(turbine_config, lease_ttl_ms),
	  .option = "lease-ttl-ms", .arg = "MS",
	  .help = "a node that stops renewing its leases loses them after this" },
	{ .name = "lease_renew_ms", .type = CONFIG_KEY_UINT, .min = 50, .max = 200000, .def = "750",
	  CONFIG_FIELD(turbine_config, lease_renew_ms),
	  .option = "lease-renew-ms", .arg = "MS",
	  .help = "how often leases are renewed (and unused shares given back); below "
		  "lease_ttl_ms / 3" },
	{ .name = "node_id", .type = CONFIG_KEY_WORD, .min = 1, .max = CONFIG_NAME_MAX,
	  .extra = "_.-", CONFIG_FIELD(turbine_config, node_id),
	  .option = "node-id", .arg = "ID",
	  .help = "this node's name in the lease bucket (default HOSTNAME-FILEPREFIX)" },
	{ .name = "quiet", .type = CONFIG_KEY_BOOL, .def = "false",
	  CONFIG_FIELD(turbine_config, quiet),
	  .option = "quiet", .help = "no live status line" },
	{ .name = "functions", .type = CONFIG_KEY_GROUPS, .section = &config_function_section,
	  .option = "fn", .arg = "NAME=PATH[,key=value...]",
	  .help = "serve NAME from the handler module PATH; repeatable, replaces a same-named one" },
	{ .name = "tenants", .type = CONFIG_KEY_GROUPS, .section = &config_tenant_section,
	  .option = "tenant", .arg = "NAME[,key=value...]",
	  .help = "declare a tenant and its limits; repeatable, replaces a same-named one" },
};

#define CONFIG_NB_KEYS (sizeof(config_keys) / sizeof(config_keys[0]))

/* Options that are not configuration keys; table options get ids past these. */
enum {
	CONFIG_OPT_HELP = 'h',
	CONFIG_OPT_CONFIG = 256,
	CONFIG_OPT_KEY_BASE,
};

static int config_fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int
config_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static const struct config_key *
config_key_find(const struct config_key *keys, size_t nb, const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < nb; i++)
		if (strlen(keys[i].name) == len && memcmp(keys[i].name, name, len) == 0)
			return &keys[i];
	return NULL;
}

/* Decimal integer, the whole string; overflow reads as out of range. */
static int
config_parse_int(const char *text, int64_t *v)
{
	char *end;
	long long n;

	if (*text == '\0')
		return -1;
	errno = 0;
	n = strtoll(text, &end, 10);
	if (*end != '\0' || end == text)
		return -1;
	if (errno == ERANGE)
		n = n < 0 ? INT64_MIN : INT64_MAX;
	*v = n;
	return 0;
}

static int
config_store_uint(void *base, const struct config_key *key, int64_t v, char *msg, size_t msglen)
{
	void *field = (char *)base + key->offset;

	if (v < key->min || v > key->max)
		return config_fail(msg, msglen, "%" PRId64 " is out of range %" PRId64 "..%" PRId64,
				   v, key->min, key->max);
	switch (key->size) {
	case sizeof(uint8_t):
		*(uint8_t *)field = (uint8_t)v;
		break;
	case sizeof(uint16_t):
		*(uint16_t *)field = (uint16_t)v;
		break;
	case sizeof(uint32_t):
		*(uint32_t *)field = (uint32_t)v;
		break;
	default:
		*(uint64_t *)field = (uint64_t)v;
		break;
	}
	return 0;
}

static int
config_word_check(const struct config_key *key, const char *s, char *msg, size_t msglen)
{
	size_t len = strlen(s), i;
	bool valid = len >= (size_t)key->min && len <= (size_t)key->max && len < key->size;

	for (i = 0; i < len && valid; i++) {
		char c = s[i];

		valid = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			strchr(key->extra, c) != NULL;
	}
	if (!valid)
		return config_fail(msg, msglen,
				   "'%s' is not %" PRId64 "..%" PRId64 " characters of [A-Za-z0-9%s]",
				   s, key->min, key->max, key->extra);
	return 0;
}

static int
config_store_word(void *base, const struct config_key *key, const char *s, char *msg, size_t msglen)
{
	if (config_word_check(key, s, msg, msglen) < 0)
		return -1;
	memcpy((char *)base + key->offset, s, strlen(s) + 1);
	return 0;
}

/* One more name for a list in `names` (`key->size` bytes each): a word, not there yet. */
static int
config_names_add(const struct config_key *key, char *names, unsigned int *nb, const char *s,
		 char *msg, size_t msglen)
{
	unsigned int i;

	if (config_word_check(key, s, msg, msglen) < 0)
		return -1;
	for (i = 0; i < *nb; i++)
		if (strcmp(names + i * key->size, s) == 0)
			return config_fail(msg, msglen, "'%s' is listed twice", s);
	if (*nb == key->nb_max)
		return config_fail(msg, msglen, "more than %u names", key->nb_max);
	memcpy(names + (size_t)(*nb)++ * key->size, s, strlen(s) + 1);
	return 0;
}

/* "a:b:c": names separated by ':'; "" is the empty list. */
static int
config_names_parse(const struct config_key *key, const char *text, char *names, unsigned int *nb,
		   char *msg, size_t msglen)
{
	char buf[CONFIG_NAMES_BYTES], *item, *sep;

	*nb = 0;
	if (*text == '\0')
		return 0;
	if (strlen(text) >= sizeof(buf))
		return config_fail(msg, msglen, "list of names is too long");
	strcpy(buf, text);
	for (item = buf; item != NULL; item = sep != NULL ? sep + 1 : NULL) {
		sep = strchr(item, ':');
		if (sep != NULL)
			*sep = '\0';
		if (*item == '\0')
			return config_fail(msg, msglen, "'%s' has an empty name", text);
		if (config_names_add(key, names, nb, item, msg, msglen) < 0)
			return -1;
	}
	return 0;
}

/* Replaces the whole list, so that a shorter one leaves nothing of the longer behind. */
static int
config_store_names(void *base, const struct config_key *key, const char *names, unsigned int nb)
{
	char *field = (char *)base + key->offset;

	memset(field, 0, key->nb_max * key->size);
	memcpy(field, names, nb * key->size);
	*(unsigned int *)((char *)base + key->count_offset) = nb;
	return 0;
}

/* The choices in one line: "jsq, round-robin, p2c". */
static void
config_choices_text(const struct config_key *key, const char *sep, char *buf, size_t len)
{
	const char *const *c;
	size_t n = 0;

	buf[0] = '\0';
	for (c = key->choices; *c != NULL && n < len; c++)
		n += (size_t)snprintf(buf + n, len - n, "%s%s", c == key->choices ? "" : sep, *c);
}

static int
config_store_choice(void *base, const struct config_key *key, const char *s, char *msg, size_t msglen)
{
	const char *const *c;
	char list[128];

	for (c = key->choices; *c != NULL; c++) {
		if (strcmp(*c, s) != 0)
			continue;
		if (strlen(s) >= key->size)
			return config_fail(msg, msglen, "'%s' does not fit in %zu bytes", s, key->size);
		memcpy((char *)base + key->offset, s, strlen(s) + 1);
		return 0;
	}
	config_choices_text(key, ", ", list, sizeof(list));
	return config_fail(msg, msglen, "'%s' is not one of %s", s, list);
}

/* An asynchronous destination: a choice (dlq, log, none) or function:NAME. */
static int
config_store_destination(void *base, const struct config_key *key, const char *s, char *msg,
			 size_t msglen)
{
	static const char prefix[] = CONFIG_DESTINATION_FUNCTION;
	const char *name = s + sizeof(prefix) - 1;
	char list[128];

	if (strncmp(s, prefix, sizeof(prefix) - 1) != 0)
		return config_store_choice(base, key, s, msg, msglen);
	if (!request_name_valid(name, (uint32_t)strlen(name))) {
		config_choices_text(key, ", ", list, sizeof(list));
		return config_fail(msg, msglen, "'%s' is not one of %s or function:NAME", s, list);
	}
	memcpy((char *)base + key->offset, s, strlen(s) + 1);
	return 0;
}

static int
config_store_ipv4(void *base, const struct config_key *key, const char *s, char *msg, size_t msglen)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1)
		return config_fail(msg, msglen, "'%s' is not an IPv4 address (A.B.C.D)", s);
	memcpy((char *)base + key->offset, &a.s_addr, sizeof(uint32_t));
	return 0;
}

static int
config_store_bool_text(void *base, const struct config_key *key, const char *s, char *msg, size_t msglen)
{
	bool *field = (bool *)((char *)base + key->offset);

	if (strcmp(s, "true") == 0)
		*field = true;
	else if (strcmp(s, "false") == 0)
		*field = false;
	else
		return config_fail(msg, msglen, "'%s' is neither true nor false", s);
	return 0;
}

/*
 * A path relative to `dir` (the configuration file's folder) is joined to it.
 * A bare file name gets "./" so that dlopen() looks in that folder rather
 * than along the library search path.
 */
static int
config_store_path(void *base, const struct config_key *key, const char *s, const char *dir,
		  char *msg, size_t msglen)
{
	char *field = (char *)base + key->offset;
	int n;

	if (*s == '\0')
		return config_fail(msg, msglen, "empty path");
	if (s[0] == '/')
		n = snprintf(field, key->size, "%s", s);
	else if (dir != NULL)
		n = snprintf(field, key->size, "%s/%s", dir, s);
	else if (strchr(s, '/') == NULL)
		n = snprintf(field, key->size, "./%s", s);
	else
		n = snprintf(field, key->size, "%s", s);
	if (n < 0 || (size_t)n >= key->size) {
		field[0] = '\0';
		return config_fail(msg, msglen, "path '%s' is too long", s);
	}
	return 0;
}

static int
config_lcores_add(const struct config_key *key, unsigned int *ids, unsigned int *nb, int64_t id,
		  char *msg, size_t msglen)
{
	unsigned int i;

	if (id < key->min || id > key->max)
		return config_fail(msg, msglen, "lcore %" PRId64 " is out of range %" PRId64 "..%" PRId64,
				   id, key->min, key->max);
	for (i = 0; i < *nb; i++)
		if (ids[i] == id)
			return config_fail(msg, msglen, "lcore %" PRId64 " is listed twice", id);
	ids[(*nb)++] = (unsigned int)id;
	return 0;
}

/* "1,3-5": comma-separated lcore ids and inclusive ranges; "" is the empty list. */
static int
config_lcores_parse(const struct config_key *key, const char *text, unsigned int *ids, unsigned int *nb,
		    char *msg, size_t msglen)
{
	char buf[1024], *item, *save = NULL, *dash;
	int64_t lo, hi, id;

	*nb = 0;
	if (*text == '\0')
		return 0;
	if (strlen(text) >= sizeof(buf))
		return config_fail(msg, msglen, "lcore list is too long");
	/* strtok_r skips empty items: ",1" and "1,,2" must not pass for lists. */
	if (text[0] == ',' || text[strlen(text) - 1] == ',' || strstr(text, ",,") != NULL)
		return config_fail(msg, msglen, "'%s' has an empty item", text);
	strcpy(buf, text);
	for (item = strtok_r(buf, ",", &save); item != NULL; item = strtok_r(NULL, ",", &save)) {
		dash = strchr(item + 1, '-');
		if (dash != NULL)
			*dash = '\0';
		if (config_parse_int(item, &lo) < 0 || (dash != NULL && config_parse_int(dash + 1, &hi) < 0)) {
			if (dash != NULL)
				*dash = '-';
			return config_fail(msg, msglen, "'%s' is not an lcore id or range such as 1-3", item);
		}
		if (dash == NULL)
			hi = lo;
		if (hi < lo)
			return config_fail(msg, msglen, "range %" PRId64 "-%" PRId64 " runs backwards", lo, hi);
		for (id = lo; id <= hi; id++)
			if (config_lcores_add(key, ids, nb, id, msg, msglen) < 0)
				return -1;
	}
	return 0;
}

static int
config_store_lcores(void *base, const struct config_key *key, const unsigned int *ids, unsigned int nb)
{
	memcpy((char *)base + key->offset, ids, nb * sizeof(ids[0]));
	*(unsigned int *)((char *)base + key->count_offset) = nb;
	return 0;
}

/* A value in command-line form: an option's argument, a --fn key, a table default. */
static int
config_store_text(void *base, const struct config_key *key, const char *text, char *msg, size_t msglen)
{
	unsigned int ids[CONFIG_MAX_LCORES], nb;
	char names[CONFIG_NAMES_BYTES];
	int64_t v;

	switch (key->type) {
	case CONFIG_KEY_UINT:
		if (config_parse_int(text, &v) < 0)
			return config_fail(msg, msglen, "'%s' is not a number", text);
		return config_store_uint(base, key, v, msg, msglen);
	case CONFIG_KEY_BOOL:
		return config_store_bool_text(base, key, text, msg, msglen);
	case CONFIG_KEY_WORD:
		return config_store_word(base, key, text, msg, msglen);
	case CONFIG_KEY_NAMES:
		if (config_names_parse(key, text, names, &nb, msg, msglen) < 0)
			return -1;
		return config_store_names(base, key, names, nb);
	case CONFIG_KEY_CHOICE:
		return config_store_choice(base, key, text, msg, msglen);
	case CONFIG_KEY_DESTINATION:
		return config_store_destination(base, key, text, msg, msglen);
	case CONFIG_KEY_IPV4:
		return config_store_ipv4(base, key, text, msg, msglen);
	case CONFIG_KEY_PATH:
		return config_store_path(base, key, text, NULL, msg, msglen);
	case CONFIG_KEY_LCORES:
		if (config_lcores_parse(key, text, ids, &nb, msg, msglen) < 0)
			return -1;
		return config_store_lcores(base, key, ids, nb);
	case CONFIG_KEY_PARAMS:
	case CONFIG_KEY_GROUPS:
		break;
	}
	return config_fail(msg, msglen, "cannot be set on the command line");
}

static void
config_params_free(struct function_config *fn)
{
	unsigned int i;

	for (i = 0; i < fn->nb_params; i++) {
		free(fn->params[i]);
		fn->params[i] = NULL;
	}
	fn->nb_params = 0;
}

/* Params: each member of the group becomes "key=value". */
static int
config_store_params(struct function_config *fn, const struct config_key *key, const config_setting_t *s,
		    const config_setting_t **bad, char *msg, size_t msglen)
{
	const config_setting_t *p;
	const char *name;
	char *kv;
	int i, n, len;

	*bad = s;
	if (!config_setting_is_group(s))
		return config_fail(msg, msglen, "expected a group: params = { key = \"value\"; }");
	n = config_setting_length(s);
	if (n > key->max)
		return config_fail(msg, msglen, "%d params, at most %" PRId64, n, key->max);
	config_params_free(fn);
	for (i = 0; i < n; i++) {
		p = config_setting_get_elem(s, (unsigned int)i);
		*bad = p;
		name = config_setting_name(p);
		switch (config_setting_type(p)) {
		case CONFIG_TYPE_STRING:
			len = asprintf(&kv, "%s=%s", name, config_setting_get_string(p));
			break;
		case CONFIG_TYPE_INT:
		case CONFIG_TYPE_INT64:
			len = asprintf(&kv, "%s=%lld", name, config_setting_get_int64(p));
			break;
		default:
			return config_fail(msg, msglen, "expected a string or an integer");
		}
		if (len < 0)
			return config_fail(msg, msglen, "out of memory");
		fn->params[fn->nb_params++] = kv;
	}
	fn->params[fn->nb_params] = NULL;
	return 0;
}

/*
 * A value from the file. `bad` is left pointing at the setting to blame
 * (an element of a list, a member of params) for the error's line and key.
 */
static int
config_store_setting(void *base, const struct config_key *key, const config_setting_t *s, const char *dir,
		     const config_setting_t **bad, char *msg, size_t msglen)
{
	unsigned int ids[CONFIG_MAX_LCORES], nb = 0;
	char names[CONFIG_NAMES_BYTES];
	const config_setting_t *e;
	int i, t = config_setting_type(s);

	*bad = s;
	switch (key->type) {
	case CONFIG_KEY_UINT:
		if (t != CONFIG_TYPE_INT && t != CONFIG_TYPE_INT64)
			return config_fail(msg, msglen, "expected an integer");
		return config_store_uint(base, key, config_setting_get_int64(s), msg, msglen);
	case CONFIG_KEY_BOOL:
		if (t != CONFIG_TYPE_BOOL)
			return config_fail(msg, msglen, "expected true or false");
		*(bool *)((char *)base + key->offset) = config_setting_get_bool(s);
		return 0;
	case CONFIG_KEY_WORD:
	case CONFIG_KEY_CHOICE:
	case CONFIG_KEY_DESTINATION:
	case CONFIG_KEY_IPV4:
	case CONFIG_KEY_PATH:
		if (t != CONFIG_TYPE_STRING)
			return config_fail(msg, msglen, "expected a string");
		if (key->type == CONFIG_KEY_PATH)
			return config_store_path(base, key, config_setting_get_string(s), dir, msg, msglen);
		return config_store_text(base, key, config_setting_get_string(s), msg, msglen);
	case CONFIG_KEY_LCORES:
		if (t == CONFIG_TYPE_STRING) {
			if (config_lcores_parse(key, config_setting_get_string(s), ids, &nb, msg, msglen) < 0)
				return -1;
			return config_store_lcores(base, key, ids, nb);
		}
		if (t != CONFIG_TYPE_ARRAY && t != CONFIG_TYPE_LIST)
			return config_fail(msg, msglen, "expected a list of lcore ids: [1, 2] or \"1-2\"");
		for (i = 0; i < config_setting_length(s); i++) {
			e = config_setting_get_elem(s, (unsigned int)i);
			t = config_setting_type(e);
			if (t != CONFIG_TYPE_INT && t != CONFIG_TYPE_INT64)
				return config_fail(msg, msglen, "expected a list of lcore ids: [1, 2] or \"1-2\"");
			if (config_lcores_add(key, ids, &nb, config_setting_get_int64(e), msg, msglen) < 0)
				return -1;
		}
		return config_store_lcores(base, key, ids, nb);
	case CONFIG_KEY_NAMES:
		if (t == CONFIG_TYPE_STRING) {
			if (config_names_parse(key, config_setting_get_string(s), names, &nb, msg, msglen) < 0)
				return -1;
			return config_store_names(base, key, names, nb);
		}
		if (t != CONFIG_TYPE_ARRAY && t != CONFIG_TYPE_LIST)
			return config_fail(msg, msglen, "expected a list of names: [\"a\", \"b\"] or \"a:b\"");
		for (i = 0; i < config_setting_length(s); i++) {
			e = config_setting_get_elem(s, (unsigned int)i);
			*bad = e;
			if (config_setting_type(e) != CONFIG_TYPE_STRING)
				return config_fail(msg, msglen, "expected a list of names: [\"a\", \"b\"] or \"a:b\"");
			if (config_names_add(key, names, &nb, config_setting_get_string(e), msg, msglen) < 0)
				return -1;
		}
		*bad = s;
		return config_store_names(base, key, names, nb);
	case CONFIG_KEY_PARAMS:
		return config_store_params(base, key, s, bad, msg, msglen);
	case CONFIG_KEY_GROUPS:
		break;
	}
	return config_fail(msg, msglen, "unexpected key");
}

static void
config_apply_defaults(void *base, const struct config_key *keys, size_t nb)
{
	char msg[128];
	size_t i;

	for (i = 0; i < nb; i++)
		if (keys[i].def != NULL && config_store_text(base, &keys[i], keys[i].def, msg, sizeof(msg)) < 0)
			abort(); /* a default outside its own bounds: the table is wrong */
}

void
config_defaults(struct turbine_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	config_apply_defaults(cfg, config_keys, CONFIG_NB_KEYS);
}

const struct function_config *
config_find_function(const struct turbine_config *cfg, const char *name, size_t len)
{
	unsigned int i;

	for (i = 0; i < cfg->nb_functions; i++)
		if (strlen(cfg->functions[i].name) == len && memcmp(cfg->functions[i].name, name, len) == 0)
			return &cfg->functions[i];
	return NULL;
}

const struct tenant_config *
config_find_tenant(const struct turbine_config *cfg, const char *name, size_t len)
{
	unsigned int i;

	for (i = 0; i < cfg->nb_tenants; i++)
		if (strlen(cfg->tenants[i].name) == len && memcmp(cfg->tenants[i].name, name, len) == 0)
			return &cfg->tenants[i];
	return NULL;
}

/* Add a function, or replace the one of the same name; takes over its params. */
static int
config_function_commit(struct turbine_config *cfg, void *entry)
{
	struct function_config *fn = entry, *old;

	old = (struct function_config *)config_find_function(cfg, fn->name, strlen(fn->name));
	if (old == NULL) {
		if (cfg->nb_functions == CONFIG_MAX_FUNCTIONS)
			return -1;
		old = &cfg->functions[cfg->nb_functions++];
	} else {
		config_params_free(old);
	}
	*old = *fn;
	return 0;
}

static void
config_function_release(void *entry)
{
	config_params_free(entry);
}

/* Add a tenant, or replace the one of the same name. */
static int
config_tenant_commit(struct turbine_config *cfg, void *entry)
{
	struct tenant_config *t = entry, *old;

	old = (struct tenant_config *)config_find_tenant(cfg, t->name, strlen(t->name));
	if (old == NULL) {
		if (cfg->nb_tenants == CONFIG_MAX_TENANTS)
			return -1;
		old = &cfg->tenants[cfg->nb_tenants++];
	}
	*old = *t;
	return 0;
}

/* The ",key=value..." that follows the name in --fn and --tenant; `comma` is the first ','. */
static int
config_store_arg_keys(void *entry, const struct config_section *sec, const char *option,
		      const char *comma, char *err, size_t errlen)
{
	const struct config_key *key;
	const char *item, *kv_eq;
	char value[CONFIG_NAMES_BYTES], msg[256];
	size_t len;

	while (comma != NULL) {
		item = comma + 1;
		comma = strchr(item, ',');
		len = comma != NULL ? (size_t)(comma - item) : strlen(item);
		kv_eq = memchr(item, '=', len);
		if (kv_eq == NULL)
			return config_fail(err, errlen, "--%s: missing '=' in '%.*s' (key=value)", option,
					   (int)len, item);
		key = config_key_find(sec->keys, sec->nb_keys, item, (size_t)(kv_eq - item));
		if (key == NULL)
			return config_fail(err, errlen, "--%s: unknown %s key '%.*s'", option, sec->what,
					   (int)(kv_eq - item), item);
		if (key->required)
			return config_fail(err, errlen, "--%s: '%s' is given as %s", option, key->name, sec->head);
		if (!key->in_arg)
			return config_fail(err, errlen, "--%s: %s key '%s' cannot be set on the command line",
					   option, sec->what, key->name);
		len -= (size_t)(kv_eq + 1 - item);
		if (len >= sizeof(value))
			return config_fail(err, errlen, "--%s: %s: value is too long", option, key->name);
		memcpy(value, kv_eq + 1, len);
		value[len] = '\0';
		if (config_store_text(entry, key, value, msg, sizeof(msg)) < 0)
			return config_fail(err, errlen, "--%s: %s: %s", option, key->name, msg);
	}
	return 0;
}

int
config_add_function_arg(struct turbine_config *cfg, const char *arg, char *err, size_t errlen)
{
	struct function_config fn;
	const struct config_key *key;
	const char *eq, *comma;
	char name[CONFIG_NAME_MAX + 2], path[PATH_MAX], msg[256];
	size_t len;

	memset(&fn, 0, sizeof(fn));
	config_apply_defaults(&fn, config_function_keys, CONFIG_NB_FUNCTION_KEYS);

	eq = strchr(arg, '=');
	if (eq == NULL)
		return config_fail(err, errlen, "--fn: missing '=' in '%s' (NAME=PATH[,key=value...])", arg);
	len = (size_t)(eq - arg);
	if (len >= sizeof(name))
		len = sizeof(name) - 1;
	memcpy(name, arg, len);
	name[len] = '\0';
	key = config_key_find(config_function_keys, CONFIG_NB_FUNCTION_KEYS, "name", 4);
	if (config_store_word(&fn, key, name, msg, sizeof(msg)) < 0)
		return config_fail(err, errlen, "--fn: name: %s", msg);

	comma = strchr(eq + 1, ',');
	len = comma != NULL ? (size_t)(comma - eq - 1) : strlen(eq + 1);
	if (len == 0)
		return config_fail(err, errlen, "--fn: missing module path in '%s'", arg);
	if (len >= sizeof(path))
		return config_fail(err, errlen, "--fn: module: path is too long");
	memcpy(path, eq + 1, len);
	path[len] = '\0';
	key = config_key_find(config_function_keys, CONFIG_NB_FUNCTION_KEYS, "module", 6);
	if (config_store_path(&fn, key, path, NULL, msg, sizeof(msg)) < 0)
		return config_fail(err, errlen, "--fn: module: %s", msg);

	if (config_store_arg_keys(&fn, &config_function_section, "fn", comma, err, errlen) < 0)
		return -1;
	if (config_function_commit(cfg, &fn) < 0)
		return config_fail(err, errlen, "--fn: more than %d functions", CONFIG_MAX_FUNCTIONS);
	return 0;
}

int
config_add_tenant_arg(struct turbine_config *cfg, const char *arg, char *err, size_t errlen)
{
	struct tenant_config t;
	const struct config_key *key;
	const char *comma;
	char name[CONFIG_NAME_MAX + 2], msg[256];
	size_t len;

	memset(&t, 0, sizeof(t));
	config_apply_defaults(&t, config_tenant_keys, CONFIG_NB_TENANT_KEYS);

	comma = strchr(arg, ',');
	len = comma != NULL ? (size_t)(comma - arg) : strlen(arg);
	if (len >= sizeof(name))
		len = sizeof(name) - 1;
	memcpy(name, arg, len);
	name[len] = '\0';
	key = config_key_find(config_tenant_keys, CONFIG_NB_TENANT_KEYS, "name", 4);
	if (config_store_word(&t, key, name, msg, sizeof(msg)) < 0)
		return config_fail(err, errlen, "--tenant: name: %s", msg);

	if (config_store_arg_keys(&t, &config_tenant_section, "tenant", comma, err, errlen) < 0)
		return -1;
	if (config_tenant_commit(cfg, &t) < 0)
		return config_fail(err, errlen, "--tenant: more than %d tenants", CONFIG_MAX_TENANTS);
	return 0;
}

/*
 * One key from text while running. Only keys declared runtime-modifiable
 * pass; the store helpers check the value in full before writing it, so a
 * refused value leaves the struct as it was.
 */
static int
config_set_key(void *base, const struct config_section *sec, const char *name, const char *value,
	       char *err, size_t errlen)
{
	const struct config_key *key;
	char msg[256];

	key = config_key_find(sec->keys, sec->nb_keys, name, strlen(name));
	if (key == NULL)
		return config_fail(err, errlen, "unknown %s key '%s'", sec->what, name);
	if (!key->runtime_modifiable)
		return config_fail(err, errlen, "%s cannot change while running", key->name);
	if (config_store_text(base, key, value, msg, sizeof(msg)) < 0)
		return config_fail(err, errlen, "%s: %s", key->name, msg);
	return 0;
}

int
config_set_function_key(struct function_config *fn, const char *key, const char *value,
			char *err, size_t errlen)
{
	return config_set_key(fn, &config_function_section, key, value, err, errlen);
}

int
config_set_tenant_key(struct tenant_config *t, const char *key, const char *value,
		      char *err, size_t errlen)
{
	return config_set_key(t, &config_tenant_section, key, value, err, errlen);
}

/* Where a setting was written: its file (an @include may differ) and line. */
static int
config_fail_at(char *err, size_t errlen, const char *path, const config_setting_t *s,
	       const char *key, const char *msg)
{
	const char *file = config_setting_source_file(s);

	return config_fail(err, errlen, "%s:%u: %s: %s", file != NULL ? file : path,
			   config_setting_source_line(s), key, msg);
}

/* Element `index` of the list `list_key` names: read the group, check it, keep it. */
static int
config_load_group(struct turbine_config *cfg, const struct config_key *list_key, const config_setting_t *list,
		  unsigned int index, const char *path, const char *dir, char *err, size_t errlen)
{
	const struct config_section *sec = list_key->section;
	const config_setting_t *group = config_setting_get_elem(list, index), *s, *bad;
	const struct config_key *key;
	union config_entry entry;
	const char *name, *earlier, *entry_name;
	char where[192], msg[256];
	unsigned int i, j;
	int n;

	memset(&entry, 0, sizeof(entry));
	config_apply_defaults(&entry, sec->keys, sec->nb_keys);
	snprintf(where, sizeof(where), "%s.[%u]", list_key->name, index);
	if (!config_setting_is_group(group)) {
		snprintf(msg, sizeof(msg), "expected a group: %s", sec->example);
		return config_fail_at(err, errlen, path, group, where, msg);
	}

	n = config_setting_length(group);
	for (i = 0; i < (unsigned int)n; i++) {
		s = config_setting_get_elem(group, i);
		name = config_setting_name(s);
		snprintf(where, sizeof(where), "%s.[%u].%s", list_key->name, index, name);
		key = config_key_find(sec->keys, sec->nb_keys, name, strlen(name));
		if (key == NULL) {
			snprintf(msg, sizeof(msg), "unknown %s key", sec->what);
			config_fail_at(err, errlen, path, s, where, msg);
			goto out;
		}
		if (config_store_setting(&entry, key, s, dir, &bad, msg, sizeof(msg)) < 0) {
			if (bad != s && config_setting_name(bad) != NULL)
				snprintf(where, sizeof(where), "%s.[%u].%s.%s", list_key->name, index, name,
					 config_setting_name(bad));
			else if (bad != s)
				snprintf(where, sizeof(where), "%s.[%u].%s.[%d]", list_key->name, index, name,
					 config_setting_index(bad));
			config_fail_at(err, errlen, path, bad, where, msg);
			goto out;
		}
	}

	for (j = 0; j < sec->nb_keys; j++) {
		key = &sec->keys[j];
		if (key->required && config_setting_get_member(group, key->name) == NULL) {
			snprintf(where, sizeof(where), "%s.[%u]", list_key->name, index);
			snprintf(msg, sizeof(msg), "missing '%s'", key->name);
			config_fail_at(err, errlen, path, group, where, msg);
			goto out;
		}
	}

	key = config_key_find(sec->keys, sec->nb_keys, "name", 4);
	entry_name = (const char *)&entry + key->offset;
	for (j = 0; j < index; j++) {
		if (config_setting_lookup_string(config_setting_get_elem(list, j), "name", &earlier) ==
		    CONFIG_TRUE && strcmp(earlier, entry_name) == 0) {
			snprintf(where, sizeof(where), "%s.[%u].name", list_key->name, index);
			snprintf(msg, sizeof(msg), "%s '%s' is declared twice", sec->what, entry_name);
			config_fail_at(err, errlen, path, config_setting_get_member(group, "name"), where, msg);
			goto out;
		}
	}

	if (sec->commit(cfg, &entry) < 0) {
		snprintf(where, sizeof(where), "%s.[%u]", list_key->name, index);
		snprintf(msg, sizeof(msg), "more than %u %s", sec->max, list_key->name);
		config_fail_at(err, errlen, path, group, where, msg);
		goto out;
	}
	return 0;

out:
	if (sec->release != NULL)
		sec->release(&entry);
	return -1;
}

/*
 * Groups the file declares are added to those already known; one that
 * shares its name with an earlier option or file replaces it, but a name
 * declared twice in this file is a mistake.
 */
static int
config_load_groups(struct turbine_config *cfg, const struct config_key *list_key, const config_setting_t *list,
		   const char *path, const char *dir, char *err, size_t errlen)
{
	char msg[128];
	unsigned int i;
	int n;

	if (!config_setting_is_list(list)) {
		snprintf(msg, sizeof(msg), "expected a list of groups: %s = ( { ... } );", list_key->name);
		return config_fail_at(err, errlen, path, list, list_key->name, msg);
	}
	n = config_setting_length(list);
	for (i = 0; i < (unsigned int)n; i++)
		if (config_load_group(cfg, list_key, list, i, path, dir, err, errlen) < 0)
			return -1;
	return 0;
}

int
config_load_file(struct turbine_config *cfg, const char *path, char *err, size_t errlen)
{
	const struct config_key *key;
	const config_setting_t *root, *s, *bad;
	char dir[PATH_MAX], msg[256];
	const char *slash, *name;
	config_t cf;
	int i, n, ret = 0;

	slash = strrchr(path, '/');
	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	if (strlen(path) >= sizeof(cfg->config_path))
		return config_fail(err, errlen, "--config: path is too long");

	config_init(&cf);
	config_set_include_dir(&cf, dir);
	if (config_read_file(&cf, path) != CONFIG_TRUE) {
		if (config_error_type(&cf) == CONFIG_ERR_FILE_IO)
			config_fail(err, errlen, "%s: cannot read the file", path);
		else
			config_fail(err, errlen, "%s:%d: %s",
				    config_error_file(&cf) != NULL ? config_error_file(&cf) : path,
				    config_error_line(&cf), config_error_text(&cf));
		config_destroy(&cf);
		return -1;
	}

	root = config_root_setting(&cf);
	n = config_setting_length(root);
	for (i = 0; i < n && ret == 0; i++) {
		s = config_setting_get_elem(root, (unsigned int)i);
		name = config_setting_name(s);
		key = config_key_find(config_keys, CONFIG_NB_KEYS, name, strlen(name));
		if (key == NULL)
			ret = config_fail_at(err, errlen, path, s, name, "unknown key");
		else if (key->type == CONFIG_KEY_GROUPS)
			ret = config_load_groups(cfg, key, s, path, dir, err, errlen);
		else if (config_store_setting(cfg, key, s, dir, &bad, msg, sizeof(msg)) < 0)
			ret = config_fail_at(err, errlen, path, bad, name, msg);
	}
	config_destroy(&cf);
	if (ret == 0)
		snprintf(cfg->config_path, sizeof(cfg->config_path), "%s", path);
	return ret;
}

int
config_parse_args(struct turbine_config *cfg, int argc, char **argv, char *err, size_t errlen)
{
	struct option opts[CONFIG_NB_KEYS + 3];
	const struct config_key *key;
	char msg[256];
	size_t i, nb = 0;
	int c;

	opts[nb++] = (struct option){ "help", no_argument, NULL, CONFIG_OPT_HELP };
	opts[nb++] = (struct option){ "config", required_argument, NULL, CONFIG_OPT_CONFIG };
	for (i = 0; i < CONFIG_NB_KEYS; i++)
		if (config_keys[i].option != NULL)
			opts[nb++] = (struct option){ config_keys[i].option,
				config_keys[i].arg != NULL ? required_argument : no_argument,
				NULL, CONFIG_OPT_KEY_BASE + (int)i };
	opts[nb] = (struct option){ NULL, 0, NULL, 0 };

	/* 0 rather than 1: glibc then also forgets the state of EAL's own getopt run. */
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:h", opts, NULL)) != -1) {
		switch (c) {
		case CONFIG_OPT_HELP:
			config_usage(argv[0]);
			return 1;
		case CONFIG_OPT_CONFIG:
			if (config_load_file(cfg, optarg, err, errlen) < 0)
				return -1;
			break;
		case ':':
			return config_fail(err, errlen, "%s: missing argument", argv[optind - 1]);
		case '?':
			if (optopt >= CONFIG_OPT_KEY_BASE)
				return config_fail(err, errlen, "--%s takes no argument",
						   config_keys[optopt - CONFIG_OPT_KEY_BASE].option);
			if (optopt == CONFIG_OPT_HELP)
				return config_fail(err, errlen, "--help takes no argument");
			if (optopt != 0)
				return config_fail(err, errlen, "unknown option '-%c' (see --help)", optopt);
			return config_fail(err, errlen, "unknown option '%s' (see --help)", argv[optind - 1]);
		default:
			key = &config_keys[c - CONFIG_OPT_KEY_BASE];
			if (key->type == CONFIG_KEY_GROUPS) {
				if (key->section->add_arg(cfg, optarg, err, errlen) < 0)
					return -1;
			} else if (config_store_text(cfg, key, key->arg != NULL ? optarg : "true",
						     msg, sizeof(msg)) < 0) {
				return config_fail(err, errlen, "--%s: %s", key->option, msg);
			}
			break;
		}
	}
	if (optind < argc)
		return config_fail(err, errlen, "unexpected argument '%s' (see --help)", argv[optind]);
	return 0;
}

static void
config_usage_bounds(const struct config_key *key, char *buf, size_t len)
{
	switch (key->type) {
	case CONFIG_KEY_UINT:
		snprintf(buf, len, "%" PRId64 "..%" PRId64, key->min, key->max);
		break;
	case CONFIG_KEY_LCORES:
		snprintf(buf, len, "ids %" PRId64 "..%" PRId64, key->min, key->max);
		break;
	case CONFIG_KEY_WORD:
		snprintf(buf, len, "%" PRId64 "..%" PRId64 " of [A-Za-z0-9%s]", key->min, key->max, key->extra);
		break;
	case CONFIG_KEY_NAMES:
		snprintf(buf, len, "<=%u, each %" PRId64 "..%" PRId64 " [A-Za-z0-9%s]",
			 key->nb_max, key->min, key->max, key->extra);
		break;
	case CONFIG_KEY_CHOICE:
		config_choices_text(key, "|", buf, len);
		break;
	case CONFIG_KEY_DESTINATION:
		config_choices_text(key, "|", buf, len);
		snprintf(buf + strlen(buf), len - strlen(buf), "|function:NAME");
		break;
	case CONFIG_KEY_PARAMS:
		snprintf(buf, len, "at most %" PRId64, key->max);
		break;
	default:
		buf[0] = '\0';
		break;
	}
}

/* A section's keys; `*` marks those that may change while running. */
static void
config_usage_section(const struct config_section *sec)
{
	const struct config_key *key;
	char bounds[64], def[48];
	size_t i;

	printf("\n%s:\n", sec->title);
	for (i = 0; i < sec->nb_keys; i++) {
		key = &sec->keys[i];
		config_usage_bounds(key, bounds, sizeof(bounds));
		if (key->def != NULL && key->def[0] != '\0')
			snprintf(def, sizeof(def), "default %s", key->def);
		else
			snprintf(def, sizeof(def), "%s", key->required ? "required" : "");
		printf("  %-20s %c %-30s %-12s %s\n", key->name, key->runtime_modifiable ? '*' : ' ',
		       bounds, def, key->help);
	}
}

void
config_usage(const char *prog)
{
	char left[64], bounds[64], def[48];
	const struct config_key *key;
	size_t i;

	printf("Usage: %s [EAL options] -- [options]\n\nOptions:\n", prog);
	printf("  %-28s %s\n", "--config FILE",
	       "read a configuration file (libconfig syntax) here; later options override it");
	for (i = 0; i < CONFIG_NB_KEYS; i++) {
		key = &config_keys[i];
		if (key->option == NULL)
			continue;
		snprintf(left, sizeof(left), "--%s%s%s", key->option, key->arg != NULL ? " " : "",
			 key->arg != NULL ? key->arg : "");
		config_usage_bounds(key, bounds, sizeof(bounds));
		if (key->def != NULL && key->def[0] != '\0' && key->type != CONFIG_KEY_BOOL)
			snprintf(def, sizeof(def), "default %s", key->def);
		else
			def[0] = '\0';
		if (strlen(left) > 28)
			printf("  %s\n  %-28s", left, "");
		else
			printf("  %-28s", left);
		printf(" %s", key->help);
		if (bounds[0] != '\0' || def[0] != '\0')
			printf(": %s%s%s", bounds, bounds[0] != '\0' && def[0] != '\0' ? ", " : "", def);
		printf(" [%s]\n", key->name);
	}
	printf("  %-28s %s\n", "-h, --help", "print this help and exit");

	for (i = 0; i < CONFIG_NB_KEYS; i++)
		if (config_keys[i].type == CONFIG_KEY_GROUPS)
			config_usage_section(config_keys[i].section);
	printf("\n[key]: the option's key in the configuration file. *: may change while running.\n"
	       "Relative module paths in a file are relative to the file's folder.\n");
}

void
config_free(struct turbine_config *cfg)
{
	unsigned int i;

	for (i = 0; i < cfg->nb_functions; i++)
		config_params_free(&cfg->functions[i]);
}
