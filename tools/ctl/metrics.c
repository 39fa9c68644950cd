/* turbinectl metrics: libmicrohttpd serves /metrics, each scrape read afresh from the telemetry socket. */
#include <err.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "metrics.h"
#include "prometheus.h"

#define METRICS_PATH "/metrics"
/* A client that sends nothing for this long is dropped: the server has one thread. */
#define METRICS_CONNECTION_TIMEOUT_S 10u

struct metrics_server {
	const char *socket_path;
	unsigned int timeout_ms;
	bool reached;           /* the last scrape reached the socket: log changes only */
};

/* One command's data, kept only when it is a dict (a refused command answers null). */
static int
metrics_request(struct telemetry_client *c, const char *req, json_t **data)
{
	json_t *d = telemetry_client_request(c, req);

	if (d == NULL)
		return -EIO;
	if (!json_is_object(d)) {
		json_decref(d);
		d = NULL;
	}
	*data = d;
	return 0;
}

/* {"NAME": data of /turbine/function,NAME} for every function /turbine/functions lists. */
static int
metrics_functions(struct telemetry_client *c, const json_t *functions, json_t **out)
{
	char req[TELEMETRY_CLIENT_MAX_REQUEST + 1];
	const char *name;
	json_t *all, *v, *d;
	int n;

	all = json_object();
	if (all == NULL)
		return -ENOMEM;
	json_object_foreach((json_t *)functions, name, v) {
		n = snprintf(req, sizeof(req), "/turbine/function,%s", name);
		/* A name telemetry would split or cut cannot be asked about: its summary stands in. */
		if (strchr(name, ',') != NULL || n < 0 || (size_t)n >= sizeof(req)) {
			json_object_set(all, name, v);
			continue;
		}
		if (metrics_request(c, req, &d) < 0) {
			json_decref(all);
			return -EIO;
		}
		json_object_set_new(all, name, d != NULL ? d : json_incref(v));
	}
	*out = all;
	return 0;
}

int
metrics_scrape(struct telemetry_client *c, char **text, size_t *len)
{
	json_t *stats = NULL, *list = NULL, *functions = NULL, *workers = NULL, *ports = NULL;
	json_t *async = NULL;
	struct prometheus_input in;
	FILE *out;
	int rc;

	rc = metrics_request(c, "/turbine/stats", &stats);
	if (rc == 0)
		rc = metrics_request(c, "/turbine/functions", &list);
	if (rc == 0 && list != NULL)
		rc = metrics_functions(c, list, &functions);
	if (rc == 0)
		rc = metrics_request(c, "/turbine/workers", &workers);
	if (rc == 0)
		rc = metrics_request(c, "/turbine/ports", &ports);
	if (rc == 0)
		rc = metrics_request(c, "/turbine/async", &async);
	if (rc == 0) {
		in = (struct prometheus_input){ stats, functions, workers, ports, async };
		out = open_memstream(text, len);
		if (out == NULL) {
			rc = -ENOMEM;
		} else {
			rc = prometheus_format(out, &in);
			if (fclose(out) != 0 && rc == 0)
				rc = -ENOMEM;
			if (rc != 0) {
				free(*text);
				*text = NULL;
			}
		}
	}
	json_decref(stats);
	json_decref(list);
	json_decref(functions);
	json_decref(workers);
	json_decref(ports);
	json_decref(async);
	return rc;
}

static enum MHD_Result
metrics_reply(struct MHD_Connection *conn, unsigned int status, const char *type, char *body,
	      size_t len, enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
	enum MHD_Result ret;

	if (r == NULL) {
		if (mode == MHD_RESPMEM_MUST_FREE)
			free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result
metrics_text(struct MHD_Connection *conn, unsigned int status, const char *text)
{
	return metrics_reply(conn, status, "text/plain; charset=utf-8", (char *)text, strlen(text),
			     MHD_RESPMEM_PERSISTENT);
}

/* A scrape: 503 while the socket cannot be reached, so Prometheus marks the target down. */
static enum MHD_Result
metrics_get(struct metrics_server *m, struct MHD_Connection *conn)
{
	struct telemetry_client c = { .fd = -1, .path = m->socket_path, .timeout_ms = m->timeout_ms };
	char *text = NULL;
	size_t len = 0;
	int connect_err, rc;

	if (telemetry_client_open(&c, &connect_err) < 0) {
		if (m->reached || connect_err == 0)
			warnx("cannot reach turbine at %s%s%s", m->socket_path,
			      connect_err != 0 ? ": " : "", connect_err != 0 ? strerror(connect_err) : "");
		m->reached = false;
		telemetry_client_close(&c);
		return metrics_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE,
				    "turbine's telemetry socket cannot be reached\n");
	}
	rc = metrics_scrape(&c, &text, &len);
	telemetry_client_close(&c);
	if (rc == -ENOMEM)
		return metrics_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
	if (rc < 0) {
		m->reached = false;
		return metrics_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE,
				    "turbine's telemetry socket failed during the scrape\n");
	}
	if (!m->reached)
		warnx("reading turbine at %s", m->socket_path);
	m->reached = true;
	return metrics_reply(conn, MHD_HTTP_OK, PROMETHEUS_CONTENT_TYPE, text, len,
			     MHD_RESPMEM_MUST_FREE);
}

static enum MHD_Result
metrics_handler(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
		const char *version, const char *upload_data, size_t *upload_data_size,
		void **con_cls)
{
	(void)version;
	(void)upload_data;
	(void)upload_data_size;
	(void)con_cls;

	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return metrics_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "GET " METRICS_PATH "\n");
	if (strcmp(url, METRICS_PATH) != 0)
		return metrics_text(conn, MHD_HTTP_NOT_FOUND, "the metrics are at " METRICS_PATH "\n");
	return metrics_get(cls, conn);
}

/* "ADDR:PORT" or "[ADDR6]:PORT", numeric only: what to bind. */
static int
metrics_parse_listen(const char *listen, struct addrinfo **ai)
{
	const struct addrinfo hints = {
		.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE,
		.ai_socktype = SOCK_STREAM,
	};
	char host[128];
	const char *colon = strrchr(listen, ':');
	size_t hlen;

	if (colon == NULL || colon == listen || colon[1] == '\0')
		return -EINVAL;
	hlen = (size_t)(colon - listen);
	if (listen[0] == '[' && colon[-1] == ']') {
		listen++;
		hlen -= 2;
	}
	if (hlen == 0 || hlen >= sizeof(host))
		return -EINVAL;
	memcpy(host, listen, hlen);
	host[hlen] = '\0';
	return getaddrinfo(host, colon + 1, &hints, ai) == 0 ? 0 : -EINVAL;
}

int
metrics_serve(const char *socket_path, unsigned int timeout_ms, const char *listen)
{
	struct metrics_server m = { socket_path, timeout_ms, true };
	const union MHD_DaemonInfo *info;
	struct MHD_Daemon *d;
	struct addrinfo *ai;
	char host[NI_MAXHOST];
	sigset_t stop;
	int sig;

	if (metrics_parse_listen(listen, &ai) < 0)
		return -EINVAL;
	/* Blocked before the server's thread starts, so that only sigwait() below takes them. */
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG |
			     (ai->ai_family == AF_INET6 ? MHD_USE_IPv6 : 0),
			     0, NULL, NULL, metrics_handler, &m,
			     MHD_OPTION_SOCK_ADDR, ai->ai_addr,
			     MHD_OPTION_CONNECTION_TIMEOUT, METRICS_CONNECTION_TIMEOUT_S,
			     MHD_OPTION_END);
	getnameinfo(ai->ai_addr, ai->ai_addrlen, host, sizeof(host), NULL, 0, NI_NUMERICHOST);
	freeaddrinfo(ai);
	if (d == NULL) {
		warnx("cannot listen on %s (in use, or not an address of this host?)", listen);
		return -1;
	}
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	printf("listening on %s%s%s:%u, reading %s\n", strchr(host, ':') ? "[" : "", host,
	       strchr(host, ':') ? "]" : "", info != NULL ? info->port : 0u, socket_path);
	fflush(stdout);
	sigwait(&stop, &sig);
	MHD_stop_daemon(d);
	return 0;
}
