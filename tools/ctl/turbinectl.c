/* turbinectl: list, tune, redeploy and drain a running turbine through DPDK's telemetry socket. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include <jansson.h>

#include "format.h"
#include "metrics.h"
#include "telemetry_client.h"

/* Exit codes, as --help documents them. */
enum {
	CTL_EXIT_OK = 0,
	CTL_EXIT_FAILED = 1,      /* refused: an error reply, or null (unknown command, failed callback) */
	CTL_EXIT_UNREACHABLE = 2, /* no socket, no answer, or an answer that is not telemetry's */
	CTL_EXIT_USAGE = 64,      /* bad option or argument (EX_USAGE) */
};

/* A deploy answers once the new module's init has run on every worker: allow for slow inits. */
#define CTL_DEFAULT_TIMEOUT_MS 30000
#define CTL_MAX_TIMEOUT_MS 3600000
/* metrics answers within Prometheus' default scrape timeout (10 s), even when turbine hangs. */
#define CTL_METRICS_TIMEOUT_MS 5000
#define CTL_STR_(x) #x
#define CTL_STR(x) CTL_STR_(x)

struct ctl_args {
	const char *file_prefix;
	const char *socket_path;
	const char *version;    /* deploy --version */
	const char *listen;     /* metrics --listen */
	unsigned int timeout_ms;
	bool timeout_given;
	bool json;
	int argc;               /* the subcommand's own arguments, after its name */
	char **argv;
};

/* The requests one subcommand sends, in order, over one connection. */
struct ctl_plan {
	char **requests;
	unsigned int n;
};

struct ctl_command {
	const char *name;
	const char *synopsis;
	const char *help;
	int min_args;
	int max_args;           /* -1: no limit */
	/* A mutating command's reply must say "ok"; a query's is data. */
	bool mutates;
	/* Builds the requests from a->argv; prints why and returns -1 on a usage error. */
	int (*plan)(struct ctl_plan *plan, const struct ctl_args *a, const char *cmd);
	/* The human-readable view of one reply's data. */
	int (*show)(FILE *out, const json_t *data);
	/* A command that runs until stopped instead (plan and show unused): an exit code. */
	int (*serve)(const struct ctl_args *a, const char *socket_path);
};

static const char *ctl_prog = "turbinectl";

static void ctl_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
ctl_warn(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", ctl_prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int ctl_plan_add(struct ctl_plan *plan, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int
ctl_plan_add(struct ctl_plan *plan, const char *fmt, ...)
{
	char **grown;
	va_list ap;
	char *req;
	int len;

	va_start(ap, fmt);
	len = vasprintf(&req, fmt, ap);
	va_end(ap);
	if (len < 0) {
		ctl_warn("out of memory");
		return -1;
	}
	if (len > TELEMETRY_CLIENT_MAX_REQUEST) {
		ctl_warn("request '%.40s...' is %d bytes; the telemetry socket takes at most %d",
			 req, len, TELEMETRY_CLIENT_MAX_REQUEST);
		free(req);
		return -1;
	}
	grown = realloc(plan->requests, (plan->n + 1) * sizeof(*grown));
	if (grown == NULL) {
		ctl_warn("out of memory");
		free(req);
		return -1;
	}
	plan->requests = grown;
	plan->requests[plan->n++] = req;
	return 0;
}

static void
ctl_plan_free(struct ctl_plan *plan)
{
	unsigned int i;

	for (i = 0; i < plan->n; i++)
		free(plan->requests[i]);
	free(plan->requests);
}

/* Telemetry splits a request's parameters on ',': a value holding one would be split too. */
static int
ctl_check_param(const char *what, const char *s)
{
	if (s[0] == '\0') {
		ctl_warn("%s is empty", what);
		return -1;
	}
	if (strchr(s, ',') != NULL) {
		ctl_warn("%s '%s' contains ',', which telemetry takes as a separator", what, s);
		return -1;
	}
	return 0;
}

static int
ctl_check_pair(const char *s)
{
	const char *eq = strchr(s, '=');

	if (eq == NULL || eq == s) {
		ctl_warn("'%s' is not KEY=VALUE", s);
		return -1;
	}
	return ctl_check_param("KEY=VALUE", s);
}

static int
ctl_plan_query(struct ctl_plan *plan, const struct ctl_args *a __attribute__((unused)),
	       const char *cmd)
{
	return ctl_plan_add(plan, "%s", cmd);
}

static int
ctl_plan_named(struct ctl_plan *plan, const struct ctl_args *a, const char *cmd)
{
	if (ctl_check_param("NAME", a->argv[0]) < 0)
		return -1;
	return ctl_plan_add(plan, "%s,%s", cmd, a->argv[0]);
}

/* Every pair is checked before the first is sent, so a typo in the last changes nothing. */
static int
ctl_plan_pairs(struct ctl_plan *plan, const struct ctl_args *a, const char *cmd)
{
	int i;

	if (ctl_check_param("NAME", a->argv[0]) < 0)
		return -1;
	for (i = 1; i < a->argc; i++)
		if (ctl_check_pair(a->argv[i]) < 0)
			return -1;
	for (i = 1; i < a->argc; i++)
		if (ctl_plan_add(plan, "%s,%s,%s", cmd, a->argv[0], a->argv[i]) < 0)
			return -1;
	return 0;
}

/* The dispatcher loads the module from its own working directory: send an absolute path. */
static int
ctl_plan_deploy(struct ctl_plan *plan, const struct ctl_args *a, const char *cmd)
{
	char *path;
	int rc;

	if (ctl_check_param("FUNCTION", a->argv[0]) < 0)
		return -1;
	if (a->version != NULL && ctl_check_param("--version", a->version) < 0)
		return -1;
	path = realpath(a->argv[1], NULL);
	if (path == NULL) {
		ctl_warn("MODULE_PATH '%s': %s", a->argv[1], strerror(errno));
		return -1;
	}
	if (ctl_check_param("MODULE_PATH", path) < 0) {
		free(path);
		return -1;
	}
	if (a->version != NULL)
		rc = ctl_plan_add(plan, "%s,%s,%s,%s", cmd, a->argv[0], path, a->version);
	else
		rc = ctl_plan_add(plan, "%s,%s,%s", cmd, a->argv[0], path);
	free(path);
	return rc;
}

static int
ctl_plan_worker(struct ctl_plan *plan, const struct ctl_args *a, const char *cmd)
{
	const char *s = a->argv[0];
	unsigned long n;
	char *end;

	errno = 0;
	n = strtoul(s, &end, 10);
	if (s[0] < '0' || s[0] > '9' || *end != '\0' || errno != 0 || n > INT_MAX) {
		ctl_warn("WORKER '%s' is not a worker number (see `%s workers`)", s, ctl_prog);
		return -1;
	}
	return ctl_plan_add(plan, "%s,%lu", cmd, n);
}

static int
ctl_plan_raw(struct ctl_plan *plan, const struct ctl_args *a,
	     const char *cmd __attribute__((unused)))
{
	if (a->argv[0][0] == '\0') {
		ctl_warn("COMMAND is empty");
		return -1;
	}
	return ctl_plan_add(plan, "%s", a->argv[0]);
}

static int
ctl_show_functions(FILE *out, const json_t *data)
{
	static const struct format_column lead[] = {
		{ "version", "VERSION", FORMAT_PLAIN },
		{ "ready", "READY", FORMAT_YESNO },
		{ "isolation", "ISOLATION", FORMAT_PLAIN },
		{ "timeout_ms", "TIMEOUT_MS", FORMAT_PLAIN },
		{ "memory_mb", "MEMORY_MB", FORMAT_PLAIN },
		{ "warm_workers", "WARM", FORMAT_PLAIN },
		{ "reserved_concurrency", "RESERVED", FORMAT_PLAIN },
		{ "rate", "RATE", FORMAT_PLAIN },
		{ "burst", "BURST", FORMAT_PLAIN },
		{ "in_flight", "IN_FLIGHT", FORMAT_PLAIN },
		{ NULL, NULL, FORMAT_PLAIN },
	};
	/* The long ones last, so that the short columns stay on screen. */
	static const struct format_column trail[] = {
		{ "cold_start_us", "COLD_START_US", FORMAT_PLAIN },
		{ "network", "NETWORK", FORMAT_YESNO },
		{ "sandbox_states", "SANDBOXES", FORMAT_PLAIN },
		{ "sandbox_pids", "PIDS", FORMAT_PLAIN },
		{ "sandbox_restarts", "RESTARTS", FORMAT_PLAIN },
		{ "module", "MODULE", FORMAT_PLAIN },
		{ NULL, NULL, FORMAT_PLAIN },
	};
	static const struct format_table_spec spec = { "FUNCTION", lead, trail };
	int rc = format_table(out, data, &spec);

	return rc == -EINVAL ? format_lines(out, data) : rc;
}

static int
ctl_show_workers(FILE *out, const json_t *data)
{
	static const struct format_column lead[] = {
		{ "lcore", "LCORE", FORMAT_PLAIN },
		{ "socket", "SOCKET", FORMAT_PLAIN },
		{ "state", "STATE", FORMAT_PLAIN },
		{ "stuck_function", "STUCK_IN", FORMAT_PLAIN },
		{ "stuck_ms", "STUCK_MS", FORMAT_PLAIN },
		{ "busy_fraction", "BUSY", FORMAT_PERCENT },
		{ "queue_depth", "QUEUE", FORMAT_PLAIN },
		{ "heartbeat_age_ms", "HEARTBEAT_MS", FORMAT_PLAIN },
		{ NULL, NULL, FORMAT_PLAIN },
	};
	static const struct format_column trail[] = {
		{ "functions", "FUNCTIONS", FORMAT_PLAIN },
		{ NULL, NULL, FORMAT_PLAIN },
	};
	static const struct format_table_spec spec = { "WORKER", lead, trail };
	int rc = format_table(out, data, &spec);

	return rc == -EINVAL ? format_lines(out, data) : rc;
}

static int
ctl_show_ports(FILE *out, const json_t *data)
{
	static const struct format_table_spec spec = { "PORT", NULL, NULL };
	int rc = format_table(out, data, &spec);

	return rc == -EINVAL ? format_lines(out, data) : rc;
}

static int
ctl_show_leases(FILE *out, const json_t *data)
{
	static const struct format_column lead[] = {
		{ "node", "NODE", FORMAT_PLAIN },
		{ "connected", "NATS", FORMAT_YESNO },
		{ "concurrency_limit", "CONC_LIMIT", FORMAT_PLAIN },
		{ "concurrency_share", "CONC_SHARE", FORMAT_PLAIN },
		{ "concurrency_held", "CONC_HELD", FORMAT_PLAIN },
		{ "concurrency_wanted", "CONC_WANTED", FORMAT_PLAIN },
		{ "concurrency_others", "CONC_OTHERS", FORMAT_PLAIN },
		{ "rate_limit", "RATE_LIMIT", FORMAT_PLAIN },
		{ "rate_share", "RATE_SHARE", FORMAT_PLAIN },
		{ "rate_held", "RATE_HELD", FORMAT_PLAIN },
		{ "rate_wanted", "RATE_WANTED", FORMAT_PLAIN },
		{ "rate_others", "RATE_OTHERS", FORMAT_PLAIN },
		{ "nodes", "NODES", FORMAT_PLAIN },
		{ "expires_in_ms", "EXPIRES_MS", FORMAT_PLAIN },
		{ NULL, NULL, FORMAT_PLAIN },
	};
	static const struct format_table_spec spec = { "TENANT", lead, NULL };
	int rc = format_table(out, data, &spec);

	/* limits_backend local: {"backend": "local"}, as lines. */
	return rc == -EINVAL ? format_lines(out, data) : rc;
}

/* What a mutation answers besides "ok" (a deploy's new version, a limit's old value). */
static int
ctl_show_mutation(FILE *out, const json_t *data)
{
	json_t *rest;
	int rc;

	if (!json_is_object(data))
		return format_lines(out, data);
	rest = json_deep_copy(data);
	if (rest == NULL)
		return -ENOMEM;
	json_object_del(rest, "ok");
	rc = json_object_size(rest) > 0 ? format_lines(out, rest) : 0;
	json_decref(rest);
	return rc;
}

static int
ctl_serve_metrics(const struct ctl_args *a, const char *socket_path)
{
	int rc;

	if (a->listen == NULL) {
		ctl_warn("metrics needs --listen ADDR:PORT");
		return CTL_EXIT_USAGE;
	}
	rc = metrics_serve(socket_path, a->timeout_given ? a->timeout_ms : CTL_METRICS_TIMEOUT_MS,
			   a->listen);
	if (rc == -EINVAL) {
		ctl_warn("--listen: '%s' is not ADDR:PORT or [ADDR6]:PORT", a->listen);
		return CTL_EXIT_USAGE;
	}
	return rc == 0 ? CTL_EXIT_OK : CTL_EXIT_FAILED;
}

static const struct ctl_command ctl_commands[] = {
	{ "stats", "stats", "every data-plane counter, summed over lcores",
	  0, 0, false, ctl_plan_query, format_lines, NULL },
	{ "functions", "functions", "functions: version, readiness, limits, warm workers, cold starts",
	  0, 0, false, ctl_plan_query, ctl_show_functions, NULL },
	{ "function", "function NAME",
	  "one function: calls, errors, timeouts, throttles, environments, latency",
	  1, 1, false, ctl_plan_named, format_lines, NULL },
	{ "workers", "workers", "workers: lcore, state (stuck: in what, for how long), busy fraction, "
	  "queue depth, functions held",
	  0, 0, false, ctl_plan_query, ctl_show_workers, NULL },
	{ "async", "async", "the asynchronous queue: depth, oldest event's age, accepted, duplicates,\n"
	  "outcomes (succeeded, retried, dead-lettered), 202 latency, its log on disk; with\n"
	  "jetstream, the streams' messages and bytes and the shared consumer's pending",
	  0, 0, false, ctl_plan_query, format_lines, NULL },
	{ "ports", "ports", "ports and their counters",
	  0, 0, false, ctl_plan_query, ctl_show_ports, NULL },
	{ "leases", "leases", "tenant limits shared across nodes (limits_backend nats): this node's\n"
	  "share of each, what its row in the bucket holds and wants, what the others hold",
	  0, 0, false, ctl_plan_query, ctl_show_leases, NULL },
	{ "set", "set FUNCTION KEY=VALUE...",
	  "change a function at run time, one request per pair in order: reserved_concurrency,\n"
	  "rate, burst, tenants (a:b:c), timeout_ms, and the Event keys max_retry_attempts,\n"
	  "retry_delay_ms, max_event_age_s, dedupe_window_s, on_success, on_failure",
	  2, -1, true, ctl_plan_pairs, ctl_show_mutation, NULL },
	{ "tenant", "tenant NAME KEY=VALUE...",
	  "change a tenant's limits, one request per pair: concurrency, rate, burst",
	  2, -1, true, ctl_plan_pairs, ctl_show_mutation, NULL },
	{ "deploy", "deploy FUNCTION MODULE_PATH [--version V]",
	  "load MODULE_PATH (sent as an absolute path) as FUNCTION's new version and switch to it",
	  2, 2, true, ctl_plan_deploy, ctl_show_mutation, NULL },
	{ "drain", "drain WORKER", "take worker WORKER (a number from `workers`) out of dispatch",
	  1, 1, true, ctl_plan_worker, ctl_show_mutation, NULL },
	{ "undrain", "undrain WORKER", "give a drained worker traffic again",
	  1, 1, true, ctl_plan_worker, ctl_show_mutation, NULL },
	{ "raw", "raw COMMAND", "send a telemetry command as is, e.g. /turbine/function,echo or /",
	  1, 1, false, ctl_plan_raw, format_auto, NULL },
	{ "metrics", "metrics --listen ADDR:PORT",
	  "serve Prometheus' /metrics over HTTP on ADDR:PORT ([ADDR6]:PORT; port 0 picks one),\n"
	  "read from the telemetry socket on each scrape (503 while it cannot be reached),\n"
	  "until SIGINT or SIGTERM; --timeout-ms defaults to " CTL_STR(CTL_METRICS_TIMEOUT_MS) " here",
	  0, 0, false, NULL, NULL, ctl_serve_metrics },
};

#define CTL_NB_COMMANDS (sizeof(ctl_commands) / sizeof(ctl_commands[0]))

static void
ctl_usage(FILE *out)
{
	unsigned int i;
	const char *p;

	fprintf(out,
		"Usage: %s [options] COMMAND [ARGS...]\n"
		"\n"
		"Control a running turbine through DPDK's telemetry socket: list functions and workers,\n"
		"change limits, deploy a new module version, drain a worker.\n"
		"\n"
		"Commands:\n", ctl_prog);
	for (i = 0; i < CTL_NB_COMMANDS; i++) {
		fprintf(out, "  %s\n      ", ctl_commands[i].synopsis);
		/* Help texts wrap with '\n'; each continuation keeps the indentation. */
		for (p = ctl_commands[i].help; *p != '\0'; p++) {
			fputc(*p, out);
			if (*p == '\n')
				fputs("      ", out);
		}
		fputc('\n', out);
	}
	fprintf(out,
		"\n"
		"Options:\n"
		"  -f, --file-prefix P   the EAL --file-prefix turbine runs with (default %s): the socket\n"
		"                        is DIR/dpdk/P/%s, DIR being $RUNTIME_DIRECTORY if set,\n"
		"                        else /var/run for root, else $XDG_RUNTIME_DIR or /tmp\n"
		"      --socket PATH     the telemetry socket itself (instead of -f)\n"
		"      --json            print each reply's data as one line of JSON, for scripts\n"
		"      --timeout-ms N    wait at most N ms (1..%d) for each reply (default %d)\n"
		"      --version V       deploy only: the version the new module takes\n"
		"      --listen ADDR:PORT\n"
		"                        metrics only: where to serve /metrics\n"
		"  -h, --help            print this help and exit\n"
		"\n"
		"Without --json, lists print as aligned tables and the rest as \"name value\" lines.\n"
		"\n"
		"Exit status:\n"
		"  0   success (every request of a mutating command answered \"ok\": true)\n"
		"  1   refused: an error reply (printed on stderr), or null for an unknown command or\n"
		"      one that failed\n"
		"  2   the socket cannot be reached, closed, did not answer in time, or answered\n"
		"      something that is not telemetry\n"
		"  64  usage error: bad option, argument or request\n",
		TELEMETRY_CLIENT_DEFAULT_PREFIX, TELEMETRY_CLIENT_SOCKET_NAME, CTL_MAX_TIMEOUT_MS, CTL_DEFAULT_TIMEOUT_MS);
}

static const struct ctl_command *
ctl_find_command(const char *name)
{
	unsigned int i;

	for (i = 0; i < CTL_NB_COMMANDS; i++)
		if (strcmp(ctl_commands[i].name, name) == 0)
			return &ctl_commands[i];
	return NULL;
}

static int
ctl_parse_args(int argc, char **argv, struct ctl_args *a)
{
	enum { OPT_SOCKET = 256, OPT_JSON, OPT_TIMEOUT, OPT_VERSION, OPT_LISTEN };
	static const struct option opts[] = {
		{ "file-prefix", required_argument, NULL, 'f' },
		{ "socket", required_argument, NULL, OPT_SOCKET },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "timeout-ms", required_argument, NULL, OPT_TIMEOUT },
		{ "version", required_argument, NULL, OPT_VERSION },
		{ "listen", required_argument, NULL, OPT_LISTEN },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long n;
	char *end;
	int c;

	a->timeout_ms = CTL_DEFAULT_TIMEOUT_MS;
	opterr = 0;
	/* Options may follow the command too (`turbinectl functions --json`): getopt permutes. */
	while ((c = getopt_long(argc, argv, ":f:h", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			ctl_usage(stdout);
			exit(CTL_EXIT_OK);
		case 'f':
			if (optarg[0] == '\0' || strchr(optarg, '/') != NULL) {
				ctl_warn("--file-prefix: '%s' is not a file prefix", optarg);
				return -1;
			}
			a->file_prefix = optarg;
			break;
		case OPT_SOCKET:
			a->socket_path = optarg;
			break;
		case OPT_JSON:
			a->json = true;
			break;
		case OPT_TIMEOUT:
			errno = 0;
			n = strtoul(optarg, &end, 10);
			if (optarg[0] < '0' || optarg[0] > '9' || *end != '\0' || errno != 0 ||
			    n < 1 || n > CTL_MAX_TIMEOUT_MS) {
				ctl_warn("--timeout-ms: '%s' is not a number in 1..%d", optarg,
					 CTL_MAX_TIMEOUT_MS);
				return -1;
			}
			a->timeout_ms = (unsigned int)n;
			a->timeout_given = true;
			break;
		case OPT_VERSION:
			a->version = optarg;
			break;
		case OPT_LISTEN:
			a->listen = optarg;
			break;
		case ':':
			ctl_warn("%s: missing argument", argv[optind - 1]);
			return -1;
		default:
			if (optopt > 0 && optopt < 256)
				ctl_warn("unknown option '-%c' (see --help)", optopt);
			else if (optopt != 0)
				ctl_warn("'%s': the option takes no argument", argv[optind - 1]);
			else
				ctl_warn("unknown option '%s' (see --help)", argv[optind - 1]);
			return -1;
		}
	}
	if (a->file_prefix != NULL && a->socket_path != NULL) {
		ctl_warn("give either --file-prefix or --socket, not both");
		return -1;
	}
	if (optind >= argc) {
		ctl_warn("missing COMMAND (see --help)");
		return -1;
	}
	a->argc = argc - optind - 1;
	a->argv = argv + optind + 1;
	return optind;
}

/* Given with --socket, or where EAL places it for the file prefix. */
static int
ctl_socket_path(const struct ctl_args *a, char *path, size_t len)
{
	int rc, n;

	if (a->socket_path != NULL) {
		n = snprintf(path, len, "%s", a->socket_path);
		rc = n < 0 || (size_t)n >= len || path[0] == '\0' ? -1 : 0;
	} else {
		rc = telemetry_client_path(a->file_prefix, path, len);
	}
	if (rc < 0) {
		ctl_warn("socket path '%s' is empty or longer than a Unix socket path can be (%zu)",
			 path, len - 1);
		return -1;
	}
	return 0;
}

static void
ctl_connect_failed(const char *path, int err)
{
	ctl_warn("cannot connect to %s: %s", path, strerror(err));
	if (err == EACCES)
		ctl_warn("run as the user turbine runs as (root for /var/run/dpdk)");
	else if (err == ECONNREFUSED)
		ctl_warn("the socket exists but nothing listens: turbine exited, or runs "
			 "with --no-telemetry");
	ctl_warn("is turbine running? Give its EAL --file-prefix with -f/--file-prefix P "
		 "(default %s), or the socket with --socket PATH", TELEMETRY_CLIENT_DEFAULT_PREFIX);
}

/* rte_telemetry has no boolean type: "ok" may come as true/false, 1/0 or "true"/"false". */
static int
ctl_ok(const json_t *data)
{
	const json_t *ok = json_object_get(data, "ok");

	if (json_is_boolean(ok))
		return json_is_true(ok);
	if (json_is_integer(ok))
		return json_integer_value(ok) != 0;
	if (json_is_string(ok) && strcmp(json_string_value(ok), "true") == 0)
		return 1;
	if (json_is_string(ok) && strcmp(json_string_value(ok), "false") == 0)
		return 0;
	return -1;
}

static int
ctl_print(const struct ctl_args *a, const struct ctl_command *cmd, const json_t *data)
{
	char *s;

	if (!a->json)
		return cmd->show(stdout, data);
	s = json_dumps(data, JSON_COMPACT | JSON_ENCODE_ANY);
	if (s == NULL)
		return -ENOMEM;
	printf("%s\n", s);
	free(s);
	return 0;
}

/* Judges one reply: CTL_EXIT_OK, or CTL_EXIT_FAILED with the reason on stderr. */
static int
ctl_judge(const struct ctl_command *cmd, const char *req, const json_t *data)
{
	const json_t *error;
	char *dump;
	int ok;

	if (json_is_null(data)) {
		ctl_warn("unknown command or refused: %s", req);
		return CTL_EXIT_FAILED;
	}
	ok = ctl_ok(data);
	if (ok == 1 || (ok == -1 && !cmd->mutates))
		return CTL_EXIT_OK;
	error = json_object_get(data, "error");
	if (ok == 0 && json_is_string(error)) {
		ctl_warn("%s: %s", req, json_string_value(error));
		return CTL_EXIT_FAILED;
	}
	dump = json_dumps(data, JSON_COMPACT | JSON_ENCODE_ANY);
	ctl_warn("%s: %s: %s", req, ok == 0 ? "refused" : "a reply without \"ok\"",
		 dump != NULL ? dump : "?");
	free(dump);
	return CTL_EXIT_FAILED;
}

static int
ctl_run(const struct ctl_args *a, const struct ctl_command *cmd, const struct ctl_plan *plan,
	struct telemetry_client *c)
{
	int rc = CTL_EXIT_OK;
	unsigned int i;
	int connect_err;
	json_t *data;

	if (telemetry_client_open(c, &connect_err) < 0) {
		if (connect_err != 0)
			ctl_connect_failed(c->path, connect_err);
		return CTL_EXIT_UNREACHABLE;
	}
	for (i = 0; i < plan->n && rc == CTL_EXIT_OK; i++) {
		data = telemetry_client_request(c, plan->requests[i]);
		if (data == NULL) {
			if (i > 0)
				ctl_warn("the %u request%s before it took effect", i, i == 1 ? "" : "s");
			return CTL_EXIT_UNREACHABLE;
		}
		rc = ctl_judge(cmd, plan->requests[i], data);
		/* A script reading --json sees the failed reply too; a person reads stderr. */
		if ((rc == CTL_EXIT_OK || a->json) && !json_is_null(data) &&
		    ctl_print(a, cmd, data) < 0) {
			ctl_warn("out of memory");
			rc = CTL_EXIT_FAILED;
		}
		json_decref(data);
		if (rc != CTL_EXIT_OK && i > 0)
			ctl_warn("the %u request%s before it took effect", i, i == 1 ? "" : "s");
	}
	return rc;
}

int
main(int argc, char **argv)
{
	struct ctl_args a = { 0 };
	struct ctl_plan plan = { 0 };
	struct telemetry_client c = { .fd = -1 };
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	const struct ctl_command *cmd;
	char request[64];
	int first, rc;

	first = ctl_parse_args(argc, argv, &a);
	if (first < 0)
		return CTL_EXIT_USAGE;
	cmd = ctl_find_command(argv[first]);
	if (cmd == NULL) {
		ctl_warn("unknown command '%s' (see --help)", argv[first]);
		return CTL_EXIT_USAGE;
	}
	if (a.argc < cmd->min_args || (cmd->max_args >= 0 && a.argc > cmd->max_args)) {
		ctl_warn("usage: %s %s", ctl_prog, cmd->synopsis);
		return CTL_EXIT_USAGE;
	}
	if (a.version != NULL && strcmp(cmd->name, "deploy") != 0) {
		ctl_warn("--version is for deploy only");
		return CTL_EXIT_USAGE;
	}
	if (a.listen != NULL && cmd->serve == NULL) {
		ctl_warn("--listen is for metrics only");
		return CTL_EXIT_USAGE;
	}
	if (cmd->serve != NULL)
		return ctl_socket_path(&a, path, sizeof(path)) < 0 ? CTL_EXIT_USAGE
								   : cmd->serve(&a, path);
	snprintf(request, sizeof(request), "/turbine/%s", cmd->name);
	if (cmd->plan(&plan, &a, request) < 0 || ctl_socket_path(&a, path, sizeof(path)) < 0) {
		ctl_plan_free(&plan);
		return CTL_EXIT_USAGE;
	}

	c.path = path;
	c.timeout_ms = a.timeout_ms;
	rc = ctl_run(&a, cmd, &plan, &c);
	if (fflush(stdout) != 0 && rc == CTL_EXIT_OK) {
		ctl_warn("writing the output: %s", strerror(errno));
		rc = CTL_EXIT_FAILED;
	}
	telemetry_client_close(&c);
	ctl_plan_free(&plan);
	return rc;
}
