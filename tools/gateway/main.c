/* turbine-gateway: Lambda's Invoke REST API over HTTP, SigV4-checked, forwarded to Turbine over UDP. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway.h"

enum {
	GATEWAY_EXIT_OK = 0,
	GATEWAY_EXIT_START = 1,         /* a start-up step failed */
	GATEWAY_EXIT_USAGE = 64,        /* bad option or argument (EX_USAGE) */
};

#define GATEWAY_DEFAULT_MAX_INFLIGHT 4096
#define GATEWAY_DEFAULT_THREADS 2
#define GATEWAY_DEFAULT_CLIENT_TIMEOUT_S 5
#define GATEWAY_DEFAULT_CALL_TIMEOUT_MS 60000
#define GATEWAY_MAX_CALL_TIMEOUT_MS 900000      /* Lambda's longest function timeout */
/* On SIGTERM, how long the calls still waiting have to send their 500 before the server stops. */
#define GATEWAY_STOP_GRACE_MS 1000

static const char *gateway_prog = "turbine-gateway";

static void
gateway_usage(FILE *out)
{
	fprintf(out,
		"Usage: %s --listen ADDR:PORT --to ADDR:PORT --credentials FILE [options]\n"
		"\n"
		"Serve Lambda's Invoke API (POST /2015-03-31/functions/{FunctionName}/invocations)\n"
		"on HTTP for the aws CLI and the AWS SDKs, check every request's SigV4 signature\n"
		"(service lambda, any region), and forward each call to Turbine over UDP.\n"
		"\n"
		"  --listen ADDR:PORT      HTTP address (PORT 0: any free port, printed when ready)\n"
		"  --to ADDR:PORT          Turbine's service address and UDP port\n"
		"  --credentials FILE      one 'ACCESS_KEY_ID SECRET_ACCESS_KEY TENANT' a line, '#' comments\n"
		"  --max-inflight N        calls waiting for Turbine at most; beyond, 429 (default %d)\n"
		"  --threads N             HTTP threads (default %d)\n"
		"  --client-timeout-s N    a client silent this long mid-request is dropped (default %d)\n"
		"  --call-timeout-ms N     sent as each call's timeout_ms, 1..%d; the gateway gives up\n"
		"                          1 s after it with 500 ServiceException (default %d)\n"
		"  --retransmit-sync-ms N  send a RequestResponse again after N ms without an answer,\n"
		"                          doubling, %d times: only when every function answers well\n"
		"                          within N ms, as each copy runs the handler (default 0: never;\n"
		"                          DryRun and Event, keyed, are always sent again after %d ms)\n"
		"  -h, --help              print this help and exit\n"
		"\n"
		"Prints 'turbine-gateway: ready: ...' once serving, and its counters as one JSON line\n"
		"'turbine-gateway: final {...}' on SIGTERM or SIGINT. Exit status: 0 after a signal,\n"
		"1 when a start-up step fails, 64 for a usage error.\n",
		gateway_prog, GATEWAY_DEFAULT_MAX_INFLIGHT, GATEWAY_DEFAULT_THREADS,
		GATEWAY_DEFAULT_CLIENT_TIMEOUT_S, GATEWAY_MAX_CALL_TIMEOUT_MS, GATEWAY_DEFAULT_CALL_TIMEOUT_MS,
		UPSTREAM_MAX_RETRANSMITS, UPSTREAM_RTO_MS);
}

static void gateway_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
gateway_warn(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", gateway_prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int
gateway_parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *v)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	*v = strtoul(s, &end, 10);
	return errno != 0 || *end != '\0' || *v < min || *v > max ? -1 : 0;
}

/* A.B.C.D:PORT, PORT 0..65535 where port 0 is allowed. */
static int
gateway_parse_addr(const char *s, struct sockaddr_in *sa, unsigned long min_port)
{
	const char *colon = strrchr(s, ':');
	char addr[INET_ADDRSTRLEN];
	unsigned long port;

	if (colon == NULL || (size_t)(colon - s) >= sizeof(addr))
		return -1;
	memcpy(addr, s, (size_t)(colon - s));
	addr[colon - s] = '\0';
	memset(sa, 0, sizeof(*sa));
	if (inet_pton(AF_INET, addr, &sa->sin_addr) != 1 || gateway_parse_uint(colon + 1, min_port, 65535, &port) < 0)
		return -1;
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	return 0;
}

static int
gateway_parse_args(int argc, char **argv, struct gateway *gw, const char **credentials, unsigned int *max_inflight)
{
	enum { OPT_LISTEN = 256, OPT_TO, OPT_CREDENTIALS, OPT_MAX_INFLIGHT, OPT_THREADS, OPT_CLIENT_TIMEOUT,
	       OPT_CALL_TIMEOUT, OPT_RETRANSMIT_SYNC };
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, OPT_LISTEN },
		{ "to", required_argument, NULL, OPT_TO },
		{ "credentials", required_argument, NULL, OPT_CREDENTIALS },
		{ "max-inflight", required_argument, NULL, OPT_MAX_INFLIGHT },
		{ "threads", required_argument, NULL, OPT_THREADS },
		{ "client-timeout-s", required_argument, NULL, OPT_CLIENT_TIMEOUT },
		{ "call-timeout-ms", required_argument, NULL, OPT_CALL_TIMEOUT },
		{ "retransmit-sync-ms", required_argument, NULL, OPT_RETRANSMIT_SYNC },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool have_listen = false, have_to = false;
	unsigned long v;
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			gateway_usage(stdout);
			exit(GATEWAY_EXIT_OK);
		case OPT_LISTEN:
			if (gateway_parse_addr(optarg, &gw->listen, 0) < 0) {
				gateway_warn("--listen: '%s' is not A.B.C.D:PORT", optarg);
				return -1;
			}
			have_listen = true;
			break;
		case OPT_TO:
			if (gateway_parse_addr(optarg, &gw->to, 1) < 0) {
				gateway_warn("--to: '%s' is not A.B.C.D:PORT with PORT 1..65535", optarg);
				return -1;
			}
			have_to = true;
			break;
		case OPT_CREDENTIALS:
			*credentials = optarg;
			break;
		case OPT_MAX_INFLIGHT:
			if (gateway_parse_uint(optarg, 1, 1000000, &v) < 0) {
				gateway_warn("--max-inflight: '%s' is not a number in 1..1000000", optarg);
				return -1;
			}
			*max_inflight = (unsigned int)v;
			break;
		case OPT_THREADS:
			if (gateway_parse_uint(optarg, 1, 64, &v) < 0) {
				gateway_warn("--threads: '%s' is not a number in 1..64", optarg);
				return -1;
			}
			gw->threads = (unsigned int)v;
			break;
		case OPT_CLIENT_TIMEOUT:
			if (gateway_parse_uint(optarg, 1, 3600, &v) < 0) {
				gateway_warn("--client-timeout-s: '%s' is not a number in 1..3600", optarg);
				return -1;
			}
			gw->client_timeout_s = (unsigned int)v;
			break;
		case OPT_CALL_TIMEOUT:
			if (gateway_parse_uint(optarg, 1, GATEWAY_MAX_CALL_TIMEOUT_MS, &v) < 0) {
				gateway_warn("--call-timeout-ms: '%s' is not a number in 1..%d", optarg,
					     GATEWAY_MAX_CALL_TIMEOUT_MS);
				return -1;
			}
			gw->call_timeout_ms = (uint32_t)v;
			break;
		case OPT_RETRANSMIT_SYNC:
			if (gateway_parse_uint(optarg, 0, 60000, &v) < 0) {
				gateway_warn("--retransmit-sync-ms: '%s' is not a number in 0..60000", optarg);
				return -1;
			}
			gw->retransmit_sync_ms = (unsigned int)v;
			break;
		case ':':
			gateway_warn("%s: missing argument", argv[optind - 1]);
			return -1;
		default:
			gateway_warn("unknown option '%s' (see --help)", argv[optind - 1]);
			return -1;
		}
	}
	if (optind < argc) {
		gateway_warn("unexpected argument '%s' (see --help)", argv[optind]);
		return -1;
	}
	if (!have_listen || !have_to || *credentials == NULL) {
		gateway_warn("--listen, --to and --credentials are required (see --help)");
		return -1;
	}
	return 0;
}

static void
gateway_print_final(struct gateway *gw)
{
	int i;

	printf("turbine-gateway: final {");
	for (i = 0; i < GATEWAY_NB_COUNTERS; i++)
		printf("%s\"%s\": %" PRIu64, i > 0 ? ", " : "", gateway_counter_names[i],
		       __atomic_load_n(&gw->counters[i], __ATOMIC_RELAXED));
	for (i = 0; i < UPSTREAM_NB_COUNTERS; i++)
		printf(", \"%s\": %" PRIu64, upstream_counter_names[i],
		       upstream_counter(&gw->up, (enum upstream_counter)i));
	printf("}\n");
	fflush(stdout);
}

int
main(int argc, char **argv)
{
	static struct gateway gw;
	const char *credentials = NULL;
	unsigned int max_inflight = GATEWAY_DEFAULT_MAX_INFLIGHT;
	char err[512], listen[INET_ADDRSTRLEN], to[INET_ADDRSTRLEN];
	sigset_t sigs;
	int ret, sig;

	gw.threads = GATEWAY_DEFAULT_THREADS;
	gw.client_timeout_s = GATEWAY_DEFAULT_CLIENT_TIMEOUT_S;
	gw.call_timeout_ms = GATEWAY_DEFAULT_CALL_TIMEOUT_MS;
	if (gateway_parse_args(argc, argv, &gw, &credentials, &max_inflight) < 0)
		return GATEWAY_EXIT_USAGE;

	/* Every thread started from here on leaves SIGINT and SIGTERM to sigwait() below. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	ret = credentials_load(&gw.creds, credentials, err, sizeof(err));
	if (ret < 0) {
		gateway_warn("credentials: %s", err);
		return GATEWAY_EXIT_START;
	}
	inet_ntop(AF_INET, &gw.to.sin_addr, to, sizeof(to));
	ret = upstream_init(&gw.up, &gw.to, max_inflight);
	if (ret < 0) {
		gateway_warn("upstream %s:%u: %s", to, ntohs(gw.to.sin_port), strerror(-ret));
		credentials_free(&gw.creds);
		return GATEWAY_EXIT_START;
	}
	ret = upstream_start(&gw.up);
	if (ret < 0) {
		gateway_warn("receiver thread: %s", strerror(-ret));
		goto stop_upstream;
	}
	inet_ntop(AF_INET, &gw.listen.sin_addr, listen, sizeof(listen));
	ret = http_start(&gw);
	if (ret < 0) {
		gateway_warn("cannot serve HTTP on %s:%u (address in use or not local?)", listen,
			     ntohs(gw.listen.sin_port));
		goto stop_upstream;
	}
	printf("turbine-gateway: ready: listening on %s:%u, forwarding to %s:%u, %zu access keys, "
	       "max-inflight %u\n", listen, ntohs(gw.listen.sin_port), to, ntohs(gw.to.sin_port),
	       gw.creds.nb_keys, max_inflight);
	fflush(stdout);

	while (sigwait(&sigs, &sig) != 0)
		;
	/* No new connections; the waiting calls are answered 500 (shutting down); then stop. */
	http_quiesce(&gw);
	upstream_stop(&gw.up);
	http_drain(&gw, GATEWAY_STOP_GRACE_MS);
	http_stop(&gw);
	gateway_print_final(&gw);
	credentials_free(&gw.creds);
	return GATEWAY_EXIT_OK;

stop_upstream:
	upstream_stop(&gw.up);
	credentials_free(&gw.creds);
	return GATEWAY_EXIT_START;
}
