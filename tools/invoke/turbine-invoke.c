/* turbine-invoke: one invoke request over an ordinary kernel UDP socket, the response printed as JSON. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <msgpack.h>

#include "json_msgpack.h"

/* Exit codes, as --help documents them. */
enum {
	INVOKE_EXIT_OK = 0,          /* status 2xx, no fn_error */
	INVOKE_EXIT_FN_ERROR = 1,    /* status 200 with fn_error: the handler failed */
	INVOKE_EXIT_STATUS = 2,      /* status 4xx or 5xx (or no usable status) */
	INVOKE_EXIT_NO_ANSWER = 3,   /* nothing came back before the deadline */
	INVOKE_EXIT_USAGE = 64,      /* bad option, bad argument, bad JSON (EX_USAGE) */
	INVOKE_EXIT_IO = 74,         /* the socket failed: cannot send, request too large (EX_IOERR) */
};

#define INVOKE_DEFAULT_ADDR "198.18.0.1"
#define INVOKE_DEFAULT_PORT 9000
#define INVOKE_DEFAULT_TIMEOUT_MS 3000
#define INVOKE_MAX_TIMEOUT_MS 900000
/* Beyond the deadline, time for the dispatcher's timeout answer to travel back. */
#define INVOKE_GRACE_MS 1000
#define INVOKE_RECV_SIZE 65536

struct invoke_args {
	struct sockaddr_in to;
	const char *fn;
	const char *qualifier;
	const char *type;
	const char *tenant;
	const char *trace;
	const char *idempotency_key;
	const char *event_arg;       /* JSON text, "-" for stdin, NULL: no event */
	uint64_t id;
	bool has_id;
	uint64_t timeout_ms;
	bool has_timeout;
	bool log_tail;
};

static const char *invoke_prog = "turbine-invoke";

static void
invoke_usage(FILE *out)
{
	fprintf(out,
		"Usage: %s [options] FN[:QUALIFIER] [EVENT_JSON]\n"
		"\n"
		"Invoke function FN once, as `aws lambda invoke` does, and print the response map as\n"
		"one JSON object on stdout. EVENT_JSON is any JSON value (\"-\" reads it from stdin);\n"
		"without it the request carries no event. The request is sent once: no retries.\n"
		"\n"
		"Options:\n"
		"  --to ADDR[:PORT]      dispatcher's IPv4 address and UDP port (default %s:%d)\n"
		"  --type T              invocation type: RequestResponse (default), Event or DryRun\n"
		"  --tenant T            tenant the call is made for (default: the dispatcher's \"default\")\n"
		"  --timeout-ms N        caller's deadline, 1..%d, sent with the request; the wait is\n"
		"                        N + %d ms (default: not sent, wait %d + %d ms)\n"
		"  --log-tail            ask for the tail of the handler's log (\"log\" in the output)\n"
		"  --id N                request id, 0..2^64-1 (default: random)\n"
		"  --trace T             trace id, handed to the handler and echoed\n"
		"  --qualifier Q         version or alias; the same as FN:Q\n"
		"  --idempotency-key K   Event: a second Event with the same key (within the function's\n"
		"                        dedupe_window_s) is answered 202 duplicate and not queued\n"
		"  -h, --help            print this help and exit\n"
		"\n"
		"Values are sent as given; the dispatcher checks them. Put `--` before an EVENT_JSON\n"
		"that starts with '-' (a negative number).\n"
		"\n"
		"Output: MessagePack maps and arrays become JSON objects and arrays, keys in the order\n"
		"received; non-string keys are written as strings; bin and ext values become base64\n"
		"strings; invalid UTF-8 in a string becomes U+FFFD; NaN and infinities become null.\n"
		"\n"
		"Exit status:\n"
		"  0   status 2xx without fn_error\n"
		"  1   function error: status 200 with fn_error\n"
		"  2   status 4xx or 5xx\n"
		"  3   no response within the wait (or the port answered ICMP unreachable)\n"
		"  64  usage error: bad option, argument or JSON\n"
		"  74  the socket failed (request larger than the path MTU, unreachable network)\n",
		invoke_prog, INVOKE_DEFAULT_ADDR, INVOKE_DEFAULT_PORT, INVOKE_MAX_TIMEOUT_MS,
		INVOKE_GRACE_MS, INVOKE_DEFAULT_TIMEOUT_MS, INVOKE_GRACE_MS);
}

static void invoke_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
invoke_warn(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", invoke_prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Decimal, the whole string, within min..max. */
static int
invoke_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *v)
{
	unsigned long long n;
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	n = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || n < min || n > max)
		return -1;
	*v = n;
	return 0;
}

static int
invoke_parse_to(const char *s, struct sockaddr_in *to)
{
	char addr[INET_ADDRSTRLEN];
	const char *colon = strchr(s, ':');
	uint64_t port = INVOKE_DEFAULT_PORT;
	size_t len = colon != NULL ? (size_t)(colon - s) : strlen(s);

	if (len >= sizeof(addr))
		return -1;
	memcpy(addr, s, len);
	addr[len] = '\0';
	if (inet_pton(AF_INET, addr, &to->sin_addr) != 1)
		return -1;
	if (colon != NULL && invoke_parse_u64(colon + 1, 1, UINT16_MAX, &port) < 0)
		return -1;
	to->sin_family = AF_INET;
	to->sin_port = htons((uint16_t)port);
	return 0;
}

static int
invoke_parse_args(int argc, char **argv, struct invoke_args *a)
{
	enum { OPT_TO = 256, OPT_TYPE, OPT_TENANT, OPT_TIMEOUT, OPT_LOG_TAIL, OPT_ID, OPT_TRACE, OPT_QUALIFIER,
	       OPT_IDEMPOTENCY_KEY };
	static const struct option opts[] = {
		{ "to", required_argument, NULL, OPT_TO },
		{ "type", required_argument, NULL, OPT_TYPE },
		{ "tenant", required_argument, NULL, OPT_TENANT },
		{ "timeout-ms", required_argument, NULL, OPT_TIMEOUT },
		{ "log-tail", no_argument, NULL, OPT_LOG_TAIL },
		{ "id", required_argument, NULL, OPT_ID },
		{ "trace", required_argument, NULL, OPT_TRACE },
		{ "qualifier", required_argument, NULL, OPT_QUALIFIER },
		{ "idempotency-key", required_argument, NULL, OPT_IDEMPOTENCY_KEY },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	invoke_parse_to(INVOKE_DEFAULT_ADDR, &a->to);
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			invoke_usage(stdout);
			exit(INVOKE_EXIT_OK);
		case OPT_TO:
			if (invoke_parse_to(optarg, &a->to) < 0) {
				invoke_warn("--to: '%s' is not A.B.C.D[:PORT] with PORT 1..65535", optarg);
				return -1;
			}
			break;
		case OPT_TYPE:
			a->type = optarg;
			break;
		case OPT_TENANT:
			a->tenant = optarg;
			break;
		case OPT_TIMEOUT:
			if (invoke_parse_u64(optarg, 1, INVOKE_MAX_TIMEOUT_MS, &a->timeout_ms) < 0) {
				invoke_warn("--timeout-ms: '%s' is not a number in 1..%d", optarg,
					    INVOKE_MAX_TIMEOUT_MS);
				return -1;
			}
			a->has_timeout = true;
			break;
		case OPT_LOG_TAIL:
			a->log_tail = true;
			break;
		case OPT_ID:
			if (invoke_parse_u64(optarg, 0, UINT64_MAX, &a->id) < 0) {
				invoke_warn("--id: '%s' is not a number in 0..%" PRIu64, optarg, UINT64_MAX);
				return -1;
			}
			a->has_id = true;
			break;
		case OPT_TRACE:
			a->trace = optarg;
			break;
		case OPT_QUALIFIER:
			a->qualifier = optarg;
			break;
		case OPT_IDEMPOTENCY_KEY:
			a->idempotency_key = optarg;
			break;
		case ':':
			invoke_warn("%s: missing argument", argv[optind - 1]);
			return -1;
		default:
			if (optopt > 0 && optopt < 256)
				invoke_warn("unknown option '-%c' (see --help)", optopt);
			else if (optopt != 0)
				invoke_warn("'%s': the option takes no argument", argv[optind - 1]);
			else
				invoke_warn("unknown option '%s' (see --help)", argv[optind - 1]);
			return -1;
		}
	}
	if (optind >= argc) {
		invoke_warn("missing FN (see --help)");
		return -1;
	}
	if (argc - optind > 2) {
		invoke_warn("unexpected argument '%s' (see --help)", argv[optind + 2]);
		return -1;
	}
	a->fn = argv[optind];
	a->event_arg = optind + 1 < argc ? argv[optind + 1] : NULL;
	if (a->fn[0] == '\0') {
		invoke_warn("FN is empty");
		return -1;
	}
	if (a->qualifier != NULL && strchr(a->fn, ':') != NULL) {
		invoke_warn("both FN:QUALIFIER and --qualifier given");
		return -1;
	}
	return 0;
}

static void
invoke_pack_cstr(msgpack_packer *pk, const char *s)
{
	size_t len = strlen(s);

	msgpack_pack_str(pk, len);
	msgpack_pack_str_body(pk, s, len);
}

static json_t *
invoke_load_event(const char *arg)
{
	const size_t flags = JSON_DECODE_ANY | JSON_ALLOW_NUL;
	json_error_t error;
	json_t *j;

	if (strcmp(arg, "-") == 0)
		j = json_loadf(stdin, flags, &error);
	else
		j = json_loads(arg, flags, &error);
	if (j == NULL)
		invoke_warn("EVENT_JSON: %s at line %d, column %d", error.text, error.line, error.column);
	return j;
}

/* The request map, keys in PROTOCOL.md's order. */
static void
invoke_pack_request(msgpack_packer *pk, const struct invoke_args *a, const json_t *event)
{
	size_t n = 3;
	size_t len;

	n += a->type != NULL;
	n += a->tenant != NULL;
	n += event != NULL;
	n += a->has_timeout;
	n += a->log_tail;
	n += a->trace != NULL;
	n += a->idempotency_key != NULL;
	msgpack_pack_map(pk, n);

	invoke_pack_cstr(pk, "v");
	msgpack_pack_uint64(pk, 1);
	invoke_pack_cstr(pk, "id");
	msgpack_pack_uint64(pk, a->id);
	invoke_pack_cstr(pk, "fn");
	if (a->qualifier != NULL) {
		len = strlen(a->fn) + 1 + strlen(a->qualifier);
		msgpack_pack_str(pk, len);
		msgpack_pack_str_body(pk, a->fn, strlen(a->fn));
		msgpack_pack_str_body(pk, ":", 1);
		msgpack_pack_str_body(pk, a->qualifier, strlen(a->qualifier));
	} else {
		invoke_pack_cstr(pk, a->fn);
	}
	if (a->type != NULL) {
		invoke_pack_cstr(pk, "type");
		invoke_pack_cstr(pk, a->type);
	}
	if (a->tenant != NULL) {
		invoke_pack_cstr(pk, "tenant");
		invoke_pack_cstr(pk, a->tenant);
	}
	if (event != NULL) {
		invoke_pack_cstr(pk, "event");
		json_msgpack_pack(pk, event);
	}
	if (a->has_timeout) {
		invoke_pack_cstr(pk, "timeout_ms");
		msgpack_pack_uint64(pk, a->timeout_ms);
	}
	if (a->log_tail) {
		invoke_pack_cstr(pk, "log");
		invoke_pack_cstr(pk, "Tail");
	}
	if (a->trace != NULL) {
		invoke_pack_cstr(pk, "trace");
		invoke_pack_cstr(pk, a->trace);
	}
	if (a->idempotency_key != NULL) {
		invoke_pack_cstr(pk, "idempotency_key");
		invoke_pack_cstr(pk, a->idempotency_key);
	}
}

static void
invoke_print_base64(FILE *out, const uint8_t *p, size_t len)
{
	fputc('"', out);
	json_msgpack_base64(out, p, len);
	fputc('"', out);
}

static void
invoke_print_string(FILE *out, const uint8_t *p, size_t len)
{
	size_t i = 0, n;

	fputc('"', out);
	while (i < len) {
		n = json_msgpack_utf8_len(p + i, len - i);
		if (n == 0) {
			fputs("\\ufffd", out);
			i++;
			continue;
		}
		if (n > 1) {
			fwrite(p + i, 1, n, out);
			i += n;
			continue;
		}
		switch (p[i]) {
		case '"':
			fputs("\\\"", out);
			break;
		case '\\':
			fputs("\\\\", out);
			break;
		case '\n':
			fputs("\\n", out);
			break;
		case '\r':
			fputs("\\r", out);
			break;
		case '\t':
			fputs("\\t", out);
			break;
		case '\b':
			fputs("\\b", out);
			break;
		case '\f':
			fputs("\\f", out);
			break;
		default:
			if (p[i] < 0x20 || p[i] == 0x7f)
				fprintf(out, "\\u%04x", p[i]);
			else
				fputc(p[i], out);
			break;
		}
		i++;
	}
	fputc('"', out);
}

static void invoke_print_json(FILE *out, const msgpack_object *o);

/* A map key: strings as they are, anything else as its JSON text inside a string. */
static void
invoke_print_key(FILE *out, const msgpack_object *k)
{
	char *text = NULL;
	size_t len = 0;
	FILE *mem;

	if (k->type == MSGPACK_OBJECT_STR) {
		invoke_print_string(out, (const uint8_t *)k->via.str.ptr, k->via.str.size);
		return;
	}
	mem = open_memstream(&text, &len);
	if (mem == NULL) {
		fputs("\"\"", out);
		return;
	}
	invoke_print_json(mem, k);
	fclose(mem);
	invoke_print_string(out, (const uint8_t *)text, len);
	free(text);
}

static void
invoke_print_double(FILE *out, double d)
{
	char buf[40];
	int prec;

	if (!isfinite(d)) {
		fputs("null", out);
		return;
	}
	/* The shortest text that reads back as the same double. */
	for (prec = 15; prec < 17; prec++) {
		snprintf(buf, sizeof(buf), "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	snprintf(buf, sizeof(buf), "%.*g", prec, d);
	/* Keep a real a real: 2.0 must not read back as the integer 2. */
	if (strpbrk(buf, ".eE") == NULL)
		strcat(buf, ".0");
	fputs(buf, out);
}

static void
invoke_print_json(FILE *out, const msgpack_object *o)
{
	uint32_t i;

	switch (o->type) {
	case MSGPACK_OBJECT_NIL:
		fputs("null", out);
		break;
	case MSGPACK_OBJECT_BOOLEAN:
		fputs(o->via.boolean ? "true" : "false", out);
		break;
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		fprintf(out, "%" PRIu64, o->via.u64);
		break;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		fprintf(out, "%" PRId64, o->via.i64);
		break;
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		invoke_print_double(out, o->via.f64);
		break;
	case MSGPACK_OBJECT_STR:
		invoke_print_string(out, (const uint8_t *)o->via.str.ptr, o->via.str.size);
		break;
	case MSGPACK_OBJECT_BIN:
		invoke_print_base64(out, (const uint8_t *)o->via.bin.ptr, o->via.bin.size);
		break;
	case MSGPACK_OBJECT_EXT:
		invoke_print_base64(out, (const uint8_t *)o->via.ext.ptr, o->via.ext.size);
		break;
	case MSGPACK_OBJECT_ARRAY:
		fputc('[', out);
		for (i = 0; i < o->via.array.size; i++) {
			if (i > 0)
				fputs(", ", out);
			invoke_print_json(out, &o->via.array.ptr[i]);
		}
		fputc(']', out);
		break;
	case MSGPACK_OBJECT_MAP:
		fputc('{', out);
		for (i = 0; i < o->via.map.size; i++) {
			if (i > 0)
				fputs(", ", out);
			invoke_print_key(out, &o->via.map.ptr[i].key);
			fputs(": ", out);
			invoke_print_json(out, &o->via.map.ptr[i].val);
		}
		fputc('}', out);
		break;
	}
}

static const msgpack_object *
invoke_map_get(const msgpack_object *map, const char *key)
{
	size_t len = strlen(key);
	const msgpack_object_kv *kv;
	uint32_t i;

	for (i = 0; i < map->via.map.size; i++) {
		kv = &map->via.map.ptr[i];
		if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == len &&
		    memcmp(kv->key.via.str.ptr, key, len) == 0)
			return &kv->val;
	}
	return NULL;
}

static int
invoke_exit_code(const msgpack_object *resp)
{
	const msgpack_object *status = invoke_map_get(resp, "status");

	if (status == NULL || status->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return INVOKE_EXIT_STATUS;
	if (status->via.u64 < 200 || status->via.u64 > 299)
		return INVOKE_EXIT_STATUS;
	if (invoke_map_get(resp, "fn_error") != NULL)
		return INVOKE_EXIT_FN_ERROR;
	return INVOKE_EXIT_OK;
}

static int64_t
invoke_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Is this datagram, from this sender, the answer to request `id`? */
static bool
invoke_is_answer(const msgpack_object *o, uint64_t id)
{
	const msgpack_object *rid;

	if (o->type != MSGPACK_OBJECT_MAP)
		return false;
	rid = invoke_map_get(o, "id");
	return rid != NULL && rid->type == MSGPACK_OBJECT_POSITIVE_INTEGER && rid->via.u64 == id;
}

/*
 * Send once and wait for the answer until the deadline. Datagrams from
 * elsewhere, unreadable ones and answers to other ids are skipped.
 */
static int
invoke_exchange(const struct invoke_args *a, const msgpack_sbuffer *req, uint64_t wait_ms)
{
	static uint8_t buf[INVOKE_RECV_SIZE];
	int pmtu = IP_PMTUDISC_DO, fd, ret = INVOKE_EXIT_NO_ANSWER;
	struct sockaddr_in from;
	socklen_t fromlen;
	msgpack_unpacked msg;
	char addr[INET_ADDRSTRLEN];
	int64_t deadline, left;
	struct pollfd pfd;
	size_t off;
	ssize_t n;

	inet_ntop(AF_INET, &a->to.sin_addr, addr, sizeof(addr));
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		invoke_warn("socket: %s", strerror(errno));
		return INVOKE_EXIT_IO;
	}
	/* The dispatcher drops IP fragments: better to fail here than to time out. */
	setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &pmtu, sizeof(pmtu));
	if (connect(fd, (const struct sockaddr *)&a->to, sizeof(a->to)) < 0 ||
	    send(fd, req->data, req->size, 0) < 0) {
		if (errno == EMSGSIZE)
			invoke_warn("%s:%u: the request is %zu bytes, more than one unfragmented datagram",
				    addr, ntohs(a->to.sin_port), req->size);
		else
			invoke_warn("%s:%u: %s", addr, ntohs(a->to.sin_port), strerror(errno));
		close(fd);
		return INVOKE_EXIT_IO;
	}

	msgpack_unpacked_init(&msg);
	deadline = invoke_now_ms() + (int64_t)wait_ms;
	pfd.fd = fd;
	pfd.events = POLLIN;
	while ((left = deadline - invoke_now_ms()) > 0) {
		n = poll(&pfd, 1, (int)left);
		if (n < 0 && errno != EINTR) {
			invoke_warn("poll: %s", strerror(errno));
			ret = INVOKE_EXIT_IO;
			break;
		}
		if (n <= 0)
			continue;
		fromlen = sizeof(from);
		n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from, &fromlen);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			/* ICMP port unreachable: no one listens there; the request was not run. */
			invoke_warn("%s:%u: %s", addr, ntohs(a->to.sin_port), strerror(errno));
			break;
		}
		if (from.sin_addr.s_addr != a->to.sin_addr.s_addr || from.sin_port != a->to.sin_port)
			continue;
		off = 0;
		if (msgpack_unpack_next(&msg, (const char *)buf, (size_t)n, &off) != MSGPACK_UNPACK_SUCCESS ||
		    !invoke_is_answer(&msg.data, a->id))
			continue;
		invoke_print_json(stdout, &msg.data);
		fputc('\n', stdout);
		ret = invoke_exit_code(&msg.data);
		break;
	}
	if (ret == INVOKE_EXIT_NO_ANSWER && left <= 0)
		invoke_warn("no response from %s:%u within %" PRIu64 " ms", addr, ntohs(a->to.sin_port),
			    wait_ms);
	msgpack_unpacked_destroy(&msg);
	close(fd);
	return ret;
}

int
main(int argc, char **argv)
{
	struct invoke_args a;
	msgpack_sbuffer req;
	msgpack_packer pk;
	json_t *event = NULL;
	uint64_t wait_ms;
	int ret;

	memset(&a, 0, sizeof(a));
	if (invoke_parse_args(argc, argv, &a) < 0)
		return INVOKE_EXIT_USAGE;
	if (a.event_arg != NULL) {
		event = invoke_load_event(a.event_arg);
		if (event == NULL)
			return INVOKE_EXIT_USAGE;
	}
	if (!a.has_id && getrandom(&a.id, sizeof(a.id), 0) != sizeof(a.id)) {
		invoke_warn("getrandom: %s", strerror(errno));
		json_decref(event);
		return INVOKE_EXIT_IO;
	}

	msgpack_sbuffer_init(&req);
	msgpack_packer_init(&pk, &req, msgpack_sbuffer_write);
	invoke_pack_request(&pk, &a, event);
	json_decref(event);

	wait_ms = (a.has_timeout ? a.timeout_ms : INVOKE_DEFAULT_TIMEOUT_MS) + INVOKE_GRACE_MS;
	ret = invoke_exchange(&a, &req, wait_ms);
	msgpack_sbuffer_destroy(&req);
	fflush(stdout);
	return ret;
}
