/* turbine-gen's own options (after EAL's and `--`): declared once in a table, checked together. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"

enum options_kind {
	OPT_FLAG,       /* bool, no argument */
	OPT_UINT,       /* uint32_t or uint16_t (by size), bounded */
	OPT_U64,        /* uint64_t, any value */
	OPT_REAL,       /* double, bounded */
	OPT_TEXT,       /* const char *, the argument itself */
	OPT_CUSTOM,     /* the option's own setter */
};

enum options_id {
	OPT_TO, OPT_SRC_IP, OPT_SRC_PORT, OPT_DST_MAC, OPT_PORT,
	OPT_RATE, OPT_POISSON, OPT_OUTSTANDING, OPT_MAX,
	OPT_WARMUP, OPT_DURATION, OPT_DRAIN_MS,
	OPT_FN, OPT_EVENT, OPT_TYPE, OPT_TENANT, OPT_MIX, OPT_MIX_ENTRY,
	OPT_REFLECTOR, OPT_SEED, OPT_BURST, OPT_ARP_TIMEOUT_MS, OPT_JSON, OPT_QUIET,
	OPT_COUNT
};

struct options_def {
	const char *name;
	const char *arg;            /* the argument in --help; NULL: a flag */
	enum options_kind kind;
	size_t offset;
	size_t size;
	double min, max;            /* bounds of numbers */
	bool min_exclusive;         /* the value must be above min, not equal */
	const char *def;            /* default in command-line form; NULL: none */
	int (*set)(struct gen_config *cfg, const char *text, char *msg, size_t msglen);
	const char *help;
};

#define OPTIONS_HELP_WIDTH 80
#define OPTIONS_HELP_INDENT 28

#define OPT_FIELD(field) \
	.offset = offsetof(struct gen_config, field), .size = sizeof(((struct gen_config *)0)->field)

static int options_set_to(struct gen_config *cfg, const char *text, char *msg, size_t msglen);
static int options_set_src_ip(struct gen_config *cfg, const char *text, char *msg, size_t msglen);
static int options_set_dst_mac(struct gen_config *cfg, const char *text, char *msg, size_t msglen);
static int options_set_mix_entry(struct gen_config *cfg, const char *text, char *msg, size_t msglen);

static const struct options_def options_defs[OPT_COUNT] = {
	[OPT_TO] = { "to", "ADDR[:PORT]", OPT_CUSTOM, .def = "198.18.0.1:9000",
		.set = options_set_to, .help = "the dispatcher's IPv4 address and UDP port" },
	[OPT_SRC_IP] = { "src-ip", "ADDR", OPT_CUSTOM, .def = "198.18.0.2",
		.set = options_set_src_ip, .help = "the generator's own IPv4 address" },
	[OPT_SRC_PORT] = { "src-port", "N", OPT_UINT, OPT_FIELD(src_port), .min = 1, .max = 65535,
		.def = "40000", .help = "the generator's UDP port (replies come back to it)" },
	[OPT_DST_MAC] = { "dst-mac", "MAC", OPT_CUSTOM, .set = options_set_dst_mac,
		.help = "the target's MAC address (default: resolved by ARP)" },
	[OPT_PORT] = { "port", "N", OPT_UINT, OPT_FIELD(port_id), .min = 0, .max = 1023, .def = "0",
		.help = "the ethdev port to send on" },
	[OPT_RATE] = { "rate", "R", OPT_REAL, OPT_FIELD(rate), .min = 0, .max = 1e9,
		.min_exclusive = true, .help = "open loop: R requests per second, on a schedule" },
	[OPT_POISSON] = { "poisson", NULL, OPT_FLAG, OPT_FIELD(poisson),
		.help = "with --rate: exponential inter-arrival times (default: fixed)" },
	[OPT_OUTSTANDING] = { "outstanding", "N", OPT_UINT, OPT_FIELD(outstanding), .min = 1,
		.max = 1 << 20, .help = "closed loop: N requests in flight; with --rate: at most N" },
	[OPT_MAX] = { "max", NULL, OPT_FLAG, OPT_FIELD(max),
		.help = "peak throughput: closed loop as fast as replies come (--outstanding, "
			"default 512)" },
	[OPT_WARMUP] = { "warmup", "S", OPT_REAL, OPT_FIELD(warmup_s), .min = 0, .max = 3600,
		.def = "1", .help = "seconds of load before measuring (not counted)" },
	[OPT_DURATION] = { "duration", "S", OPT_REAL, OPT_FIELD(duration_s), .min = 0,
		.max = 86400, .min_exclusive = true, .def = "10", .help = "seconds measured" },
	[OPT_DRAIN_MS] = { "drain-ms", "MS", OPT_UINT, OPT_FIELD(drain_ms), .min = 1,
		.max = 600000, .def = "1000",
		.help = "wait this long for late replies; a request unanswered for this long is "
			"lost (closed loop: its slot is freed)" },
	[OPT_FN] = { "fn", "NAME", OPT_TEXT, OPT_FIELD(fn),
		.help = "one-function load: call NAME (or NAME:QUALIFIER)" },
	[OPT_EVENT] = { "event", "JSON", OPT_TEXT, OPT_FIELD(event),
		.help = "with --fn: the event, as JSON or @FILE (default: none)" },
	[OPT_TYPE] = { "type", "T", OPT_TEXT, OPT_FIELD(type),
		.help = "RequestResponse, Event or DryRun (default: not sent, RequestResponse)" },
	[OPT_TENANT] = { "tenant", "T", OPT_TEXT, OPT_FIELD(tenant),
		.help = "tenant of the calls (default: not sent, the dispatcher's default)" },
	[OPT_MIX] = { "mix", "FILE", OPT_TEXT, OPT_FIELD(mix_path),
		.help = "a JSON array of {fn, event, weight, type, tenant}" },
	[OPT_MIX_ENTRY] = { "mix-entry", "W:FN[:JSON]", OPT_CUSTOM, .set = options_set_mix_entry,
		.help = "one weighted entry of the mix; repeatable (FN without qualifier)" },
	[OPT_REFLECTOR] = { "reflector", NULL, OPT_FLAG, OPT_FIELD(reflector),
		.help = "the target sends our requests back (testpmd macswap): match them by id, "
			"count them as \"reflected\"; no ARP" },
	[OPT_SEED] = { "seed", "N", OPT_U64, OPT_FIELD(seed), .def = "1",
		.help = "seed of the Poisson schedule and of the mix" },
	[OPT_BURST] = { "burst", "N", OPT_UINT, OPT_FIELD(burst), .min = 1, .max = 64,
		.def = "32", .help = "most requests handed to the port at once" },
	[OPT_ARP_TIMEOUT_MS] = { "arp-timeout-ms", "MS", OPT_UINT, OPT_FIELD(arp_timeout_ms),
		.min = 1, .max = 60000, .def = "3000",
		.help = "how long to wait for the port's link and the target's ARP reply" },
	[OPT_JSON] = { "json", "FILE", OPT_TEXT, OPT_FIELD(json_path),
		.help = "write the results and the configuration as JSON to FILE" },
	[OPT_QUIET] = { "quiet", NULL, OPT_FLAG, OPT_FIELD(quiet),
		.help = "no live line each second" },
};

static int options_fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int
options_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static bool
options_given(const struct gen_config *cfg, enum options_id id)
{
	return (cfg->given >> id) & 1;
}

const char *
options_load_name(enum gen_load load)
{
	switch (load) {
	case GEN_LOAD_OPEN:
		return "open";
	case GEN_LOAD_CLOSED:
		return "closed";
	case GEN_LOAD_MAX:
		return "max";
	}
	return "unknown";
}

static int
options_parse_ipv4(const char *text, uint32_t *ip)
{
	struct in_addr a;

	if (inet_pton(AF_INET, text, &a) != 1)
		return -EINVAL;
	*ip = a.s_addr;
	return 0;
}

static int
options_set_to(struct gen_config *cfg, const char *text, char *msg, size_t msglen)
{
	char addr[INET_ADDRSTRLEN];
	const char *colon = strchr(text, ':');
	size_t len = colon != NULL ? (size_t)(colon - text) : strlen(text);
	unsigned long port = 9000;
	char *end;

	if (len == 0 || len >= sizeof(addr))
		return options_fail(msg, msglen, "'%s' is not ADDR[:PORT]", text);
	memcpy(addr, text, len);
	addr[len] = '\0';
	if (options_parse_ipv4(addr, &cfg->dst_ip) != 0)
		return options_fail(msg, msglen, "'%s' is not an IPv4 address", addr);
	if (colon != NULL) {
		errno = 0;
		port = strtoul(colon + 1, &end, 10);
		if (colon[1] < '0' || colon[1] > '9' || *end != '\0' || errno != 0 ||
		    port < 1 || port > 65535)
			return options_fail(msg, msglen, "port '%s' is not 1..65535", colon + 1);
	}
	cfg->dst_port = htons((uint16_t)port);
	return 0;
}

static int
options_set_src_ip(struct gen_config *cfg, const char *text, char *msg, size_t msglen)
{
	if (options_parse_ipv4(text, &cfg->src_ip) != 0)
		return options_fail(msg, msglen, "'%s' is not an IPv4 address", text);
	return 0;
}

static int
options_set_dst_mac(struct gen_config *cfg, const char *text, char *msg, size_t msglen)
{
	unsigned int b[6];
	char tail;
	int i;

	if (sscanf(text, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
		   &tail) != 6 || strlen(text) != 17)
		return options_fail(msg, msglen, "'%s' is not a MAC address (xx:xx:xx:xx:xx:xx)", text);
	for (i = 0; i < 6; i++)
		cfg->dst_mac[i] = (uint8_t)b[i];
	cfg->has_dst_mac = true;
	return 0;
}

static int
options_set_mix_entry(struct gen_config *cfg, const char *text, char *msg, size_t msglen)
{
	if (cfg->nb_mix_specs >= MIX_MAX_ENTRIES)
		return options_fail(msg, msglen, "at most %u entries", MIX_MAX_ENTRIES);
	cfg->mix_specs[cfg->nb_mix_specs++] = text;
	return 0;
}

/* Decimal, the whole string, no sign. */
static int
options_parse_u64(const char *text, uint64_t *v)
{
	char *end;

	if (text[0] < '0' || text[0] > '9')
		return -EINVAL;
	errno = 0;
	*v = strtoull(text, &end, 10);
	return errno != 0 || *end != '\0' ? -EINVAL : 0;
}

static int
options_check_bounds(const struct options_def *d, double v, const char *text, char *msg,
		     size_t msglen)
{
	if (d->min_exclusive && (v <= d->min || v > d->max))
		return options_fail(msg, msglen, "%s: must be above %g and at most %g", text,
				    d->min, d->max);
	if (v < d->min || v > d->max)
		return options_fail(msg, msglen, "%s: must be %g..%g", text, d->min, d->max);
	return 0;
}

static int
options_store(struct gen_config *cfg, const struct options_def *d, const char *text, char *msg,
	      size_t msglen)
{
	char *field = (char *)cfg + d->offset;
	uint64_t u;
	double r;
	char *end;
	int rc;

	switch (d->kind) {
	case OPT_FLAG:
		*(bool *)field = true;
		return 0;
	case OPT_TEXT:
		*(const char **)field = text;
		return 0;
	case OPT_CUSTOM:
		return d->set(cfg, text, msg, msglen);
	case OPT_U64:
		if (options_parse_u64(text, &u) != 0)
			return options_fail(msg, msglen, "'%s' is not a whole number", text);
		*(uint64_t *)field = u;
		return 0;
	case OPT_UINT:
		if (options_parse_u64(text, &u) != 0)
			return options_fail(msg, msglen, "'%s' is not a whole number", text);
		rc = options_check_bounds(d, (double)u, text, msg, msglen);
		if (rc != 0)
			return rc;
		if (d->size == sizeof(uint16_t))
			*(uint16_t *)field = htons((uint16_t)u);
		else
			*(uint32_t *)field = (uint32_t)u;
		return 0;
	case OPT_REAL:
		errno = 0;
		r = strtod(text, &end);
		if (errno != 0 || end == text || *end != '\0' || !isfinite(r))
			return options_fail(msg, msglen, "'%s' is not a number", text);
		rc = options_check_bounds(d, r, text, msg, msglen);
		if (rc != 0)
			return rc;
		*(double *)field = r;
		return 0;
	}
	return -EINVAL;
}

/* Settings that make sense alone but not together, and the mix. */
static int
options_check(struct gen_config *cfg, char *err, size_t errlen)
{
	json_t *event = NULL;
	unsigned int i;
	int rc;

	if (cfg->max && options_given(cfg, OPT_RATE))
		return options_fail(err, errlen, "--max and --rate are alternatives: --max finds the "
				    "peak, --rate holds a rate");
	if (cfg->max) {
		cfg->load = GEN_LOAD_MAX;
		if (cfg->outstanding == 0)
			cfg->outstanding = OPTIONS_MAX_OUTSTANDING;
	} else if (options_given(cfg, OPT_RATE)) {
		cfg->load = GEN_LOAD_OPEN;
	} else if (options_given(cfg, OPT_OUTSTANDING)) {
		cfg->load = GEN_LOAD_CLOSED;
	} else {
		return options_fail(err, errlen, "no load given: --rate R (open loop), "
				    "--outstanding N (closed loop) or --max");
	}
	if (cfg->poisson && cfg->load != GEN_LOAD_OPEN)
		return options_fail(err, errlen, "--poisson shapes an open loop: it needs --rate");
	if (cfg->load == GEN_LOAD_OPEN && cfg->rate * cfg->duration_s < 1.0)
		return options_fail(err, errlen, "--rate %g for --duration %g sends no request",
				    cfg->rate, cfg->duration_s);

	if (cfg->fn != NULL && (cfg->mix_path != NULL || cfg->nb_mix_specs > 0))
		return options_fail(err, errlen, "--fn and --mix/--mix-entry are alternatives");
	if (cfg->event != NULL && cfg->fn == NULL)
		return options_fail(err, errlen, "--event goes with --fn (a mix entry carries its "
				    "own event)");

	mix_init(&cfg->mix);
	if (cfg->fn != NULL) {
		if (cfg->event != NULL) {
			event = mix_load_event(cfg->event, err, errlen);
			if (event == NULL)
				return -EINVAL;
		}
		rc = mix_add(&cfg->mix, cfg->fn, event, 1.0, cfg->type, cfg->tenant, err, errlen);
		json_decref(event);
		if (rc != 0)
			return rc;
	}
	if (cfg->mix_path != NULL) {
		rc = mix_load_file(&cfg->mix, cfg->mix_path, cfg->type, cfg->tenant, err, errlen);
		if (rc != 0)
			return rc;
	}
	for (i = 0; i < cfg->nb_mix_specs; i++) {
		rc = mix_add_spec(&cfg->mix, cfg->mix_specs[i], cfg->type, cfg->tenant, err, errlen);
		if (rc != 0)
			return rc;
	}
	return mix_finish(&cfg->mix, err, errlen);
}

int
options_parse(struct gen_config *cfg, int argc, char **argv, char *err, size_t errlen)
{
	struct option longopts[OPT_COUNT + 2];
	char msg[512];
	unsigned int i;
	int c, rc;

	memset(cfg, 0, sizeof(*cfg));
	for (i = 0; i < OPT_COUNT; i++) {
		if (options_defs[i].def == NULL)
			continue;
		rc = options_store(cfg, &options_defs[i], options_defs[i].def, msg, sizeof(msg));
		if (rc != 0)
			return options_fail(err, errlen, "default of --%s: %s", options_defs[i].name,
					    msg);
	}
	for (i = 0; i < OPT_COUNT; i++)
		longopts[i] = (struct option){ options_defs[i].name,
			options_defs[i].arg != NULL ? required_argument : no_argument, NULL, 256 + (int)i };
	longopts[OPT_COUNT] = (struct option){ "help", no_argument, NULL, 'h' };
	longopts[OPT_COUNT + 1] = (struct option){ NULL, 0, NULL, 0 };

	/* 0 rather than 1: glibc then also forgets the state of an earlier getopt run. */
	optind = 0;
	opterr = 0;
	rc = 0;
	while (rc == 0 && (c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		if (c == 'h') {
			options_usage(stdout, argv[0]);
			rc = 1;
		} else if (c == ':') {
			rc = options_fail(err, errlen, "%s needs an argument (see --help)",
					  argv[optind - 1]);
		} else if (c == '?') {
			rc = options_fail(err, errlen, "unknown option '%s' (see --help)",
					  argv[optind - 1]);
		} else {
			const struct options_def *d = &options_defs[c - 256];

			/* --mix-entry is the one option meant to be repeated. */
			if (c - 256 != OPT_MIX_ENTRY && options_given(cfg, (enum options_id)(c - 256)))
				rc = options_fail(err, errlen, "--%s is given twice", d->name);
			if (rc == 0 && options_store(cfg, d, optarg, msg, sizeof(msg)) != 0)
				rc = options_fail(err, errlen, "--%s: %s", d->name, msg);
			cfg->given |= 1ull << (c - 256);
		}
	}
	if (rc == 0 && optind < argc)
		rc = options_fail(err, errlen, "unexpected argument '%s' (see --help)", argv[optind]);
	optind = 0;
	if (rc != 0)
		return rc;
	return options_check(cfg, err, errlen);
}

void
options_free(struct gen_config *cfg)
{
	mix_free(&cfg->mix);
}

/* Help text folded at word boundaries to fit 80 columns, continued under itself. */
static void
options_wrap(FILE *out, const char *text)
{
	const char *p = text;
	int width = OPTIONS_HELP_WIDTH - OPTIONS_HELP_INDENT;

	while (strlen(p) > (size_t)width) {
		int cut = width;

		while (cut > 0 && p[cut] != ' ')
			cut--;
		if (cut == 0)
			cut = width;
		fprintf(out, "%.*s\n%*s", cut, p, OPTIONS_HELP_INDENT, "");
		p += cut;
		while (*p == ' ')
			p++;
	}
	fprintf(out, "%s\n", p);
}

void
options_usage(FILE *out, const char *prog)
{
	char left[64], help[512];
	unsigned int i;

	fprintf(out,
		"Usage: %s [EAL options] -- [options]\n"
		"\n"
		"Load generator for Turbine (PROTOCOL.md) on any DPDK port. Latency is measured from\n"
		"each request's intended send time (corrected for coordinated omission) and from its\n"
		"actual send time (uncorrected). Runs on one lcore (TX and RX) or two (TX, RX).\n"
		"\n"
		"Options:\n", prog);
	for (i = 0; i < OPT_COUNT; i++) {
		const struct options_def *d = &options_defs[i];

		snprintf(left, sizeof(left), "--%s%s%s", d->name, d->arg != NULL ? " " : "",
			 d->arg != NULL ? d->arg : "");
		if (d->def != NULL)
			snprintf(help, sizeof(help), "%s (default %s)", d->help, d->def);
		else
			snprintf(help, sizeof(help), "%s", d->help);
		fprintf(out, "  %-*s ", OPTIONS_HELP_INDENT - 3, left);
		options_wrap(out, help);
	}
	fprintf(out,
		"  %-*s %s\n"
		"\n"
		"One load: --rate (open loop; with --poisson), --outstanding (closed loop) or --max.\n"
		"One workload: --fn [--event], or --mix FILE and/or --mix-entry (repeatable).\n"
		"--type and --tenant apply to --fn and to mix entries that do not set their own.\n"
		"\n"
		"Example, against a turbine serving its embedded memif socket:\n"
		"  %s --lcores 0@1 --file-prefix gen --no-pci \\\n"
		"      --vdev net_memif0,role=client,socket=/var/run/dpdk/SUT/memif.sock -- \\\n"
		"      --fn echo --event '{\"a\":1}' --rate 10000 --duration 5 --json out.json\n"
		"\n"
		"Exit status: 0 the run completed (see its warnings), 1 it could not run,\n"
		"%d bad options.\n", OPTIONS_HELP_INDENT - 3, "-h, --help", "print this help and exit", prog,
		OPTIONS_EXIT_USAGE);
}
