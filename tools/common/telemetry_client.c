/* A client of a running turbine's DPDK telemetry socket: greeting, one request, one reply. */
#include <err.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "telemetry_client.h"

/* The server formats its greeting into 1024 bytes; the rest is margin for other DPDK versions. */
#define TELEMETRY_CLIENT_GREETING_SIZE 4096
/* DPDK announces 16 KiB; anything beyond this bound is not a telemetry server worth trusting. */
#define TELEMETRY_CLIENT_MAX_OUTPUT_LEN (64u << 20)

int
telemetry_client_path(const char *file_prefix, char *path, size_t len)
{
	const char *dir = getenv("RUNTIME_DIRECTORY");
	int n;

	if (dir == NULL || dir[0] == '\0') {
		dir = getenv("XDG_RUNTIME_DIR");
		if (getuid() == 0)
			dir = "/var/run";
		else if (dir == NULL || dir[0] == '\0')
			dir = "/tmp";
	}
	n = snprintf(path, len, "%s/dpdk/%s/%s", dir,
		     file_prefix != NULL ? file_prefix : TELEMETRY_CLIENT_DEFAULT_PREFIX,
		     TELEMETRY_CLIENT_SOCKET_NAME);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* One message: SOCK_SEQPACKET keeps the boundaries, and flags one that did not fit. */
static ssize_t
telemetry_client_recv(struct telemetry_client *c, char *buf, size_t len, const char *what)
{
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	do
		n = recvmsg(c->fd, &msg, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		warnx("%s: no %s within %u ms", c->path, what, c->timeout_ms);
		return -1;
	}
	if (n < 0) {
		warnx("%s: reading the %s: %s", c->path, what, strerror(errno));
		return -1;
	}
	if (n == 0) {
		/* rte_telemetry closes at once, without a greeting, a connection beyond its limit. */
		warnx("%s: the server closed the connection instead of sending its %s%s", c->path,
		      what, strcmp(what, "greeting") == 0 ? " (too many telemetry clients at once?)" : "");
		return -1;
	}
	if (msg.msg_flags & MSG_TRUNC) {
		warnx("%s: the %s is longer than the %zu bytes the server announced", c->path,
		      what, len);
		return -1;
	}
	return n;
}

/* Counters are u64: one beyond INT64_MAX is read as a real rather than refused. */
static json_t *
telemetry_client_parse(const char *buf, size_t len, json_error_t *error)
{
	json_t *j = json_loadb(buf, len, 0, error);

	if (j == NULL && json_error_code(error) == json_error_numeric_overflow)
		j = json_loadb(buf, len, JSON_DECODE_INT_AS_REAL, error);
	return j;
}

int
telemetry_client_open(struct telemetry_client *c, int *connect_err)
{
	struct timeval tv = {
		.tv_sec = c->timeout_ms / 1000,
		.tv_usec = (c->timeout_ms % 1000) * 1000,
	};
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	char greeting[TELEMETRY_CLIENT_GREETING_SIZE];
	json_error_t error;
	json_t *j, *max;
	ssize_t n;

	*connect_err = 0;
	if (strlen(c->path) >= sizeof(addr.sun_path)) {
		warnx("socket path '%s' is longer than a Unix socket path can be (%zu)", c->path,
		      sizeof(addr.sun_path) - 1);
		return -1;
	}
	strcpy(addr.sun_path, c->path);
	c->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		warnx("socket: %s", strerror(errno));
		return -1;
	}
	/* The send timeout also bounds connect() when the server's backlog is full. */
	if (setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0) {
		warnx("setsockopt: %s", strerror(errno));
		return -1;
	}
	if (connect(c->fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		*connect_err = errno;
		return -1;
	}

	n = telemetry_client_recv(c, greeting, sizeof(greeting), "greeting");
	if (n < 0)
		return -1;
	j = telemetry_client_parse(greeting, (size_t)n, &error);
	max = json_object_get(j, "max_output_len");
	if (!json_is_integer(max) || json_integer_value(max) < 2 ||
	    json_integer_value(max) > TELEMETRY_CLIENT_MAX_OUTPUT_LEN) {
		warnx("%s: not a DPDK telemetry v2 socket (greeting '%.*s')", c->path,
		      (int)(n > 200 ? 200 : n), greeting);
		json_decref(j);
		return -1;
	}
	c->buf_len = (size_t)json_integer_value(max);
	json_decref(j);
	c->buf = malloc(c->buf_len);
	if (c->buf == NULL) {
		warnx("out of memory");
		return -1;
	}
	return 0;
}

json_t *
telemetry_client_request(struct telemetry_client *c, const char *req)
{
	json_error_t error;
	json_t *reply, *data;
	const char *key;
	ssize_t n;

	do
		n = send(c->fd, req, strlen(req), MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		warnx("%s: sending '%s': %s", c->path, req, strerror(errno));
		return NULL;
	}
	n = telemetry_client_recv(c, c->buf, c->buf_len, "reply");
	if (n < 0)
		return NULL;
	reply = telemetry_client_parse(c->buf, (size_t)n, &error);
	/* {"<command>": data}: the key is the command without its parameters, cut to 56 bytes. */
	if (!json_is_object(reply) || json_object_size(reply) != 1) {
		warnx("%s: the reply to '%s' is not one {\"command\": data} object: %s", c->path,
		      req, reply == NULL ? error.text : "another shape");
		json_decref(reply);
		return NULL;
	}
	key = json_object_iter_key(json_object_iter(reply));
	data = json_incref(json_object_get(reply, key));
	json_decref(reply);
	return data;
}

void
telemetry_client_close(struct telemetry_client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	free(c->buf);
	c->buf = NULL;
}
