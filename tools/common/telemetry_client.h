/* A client of a running turbine's DPDK telemetry socket (lib/telemetry's v2 protocol). */
#ifndef TOOLS_TELEMETRY_CLIENT_H
#define TOOLS_TELEMETRY_CLIENT_H

#include <stddef.h>

#include <jansson.h>

#define TELEMETRY_CLIENT_SOCKET_NAME "dpdk_telemetry.v2"
#define TELEMETRY_CLIENT_DEFAULT_PREFIX "rte"
/* rte_telemetry reads a request into 1024 bytes and keeps the last for its terminator: a longer
 * request would be cut short silently. */
#define TELEMETRY_CLIENT_MAX_REQUEST 1023

struct telemetry_client {
	int fd;                 /* -1 until open */
	const char *path;
	unsigned int timeout_ms;  /* for connect, each send and each reply */
	char *buf;              /* one reply: the server's max_output_len bytes */
	size_t buf_len;
};

/*
 * Where EAL puts the socket of the process run with --file-prefix
 * file_prefix (NULL: DPDK's default), as dpdk-telemetry.py finds it:
 * $RUNTIME_DIRECTORY, else /var/run for root, else $XDG_RUNTIME_DIR or /tmp.
 * 0, or -ENAMETOOLONG when it does not fit a Unix socket address.
 */
int telemetry_client_path(const char *file_prefix, char *path, size_t len);

/*
 * Connect to c->path and read the greeting. Returns 0, or -1: when connect()
 * itself failed, *connect_err is its errno and nothing is printed (whether
 * that means "not running" is the caller's to say); otherwise *connect_err
 * is 0 and the reason is on stderr.
 */
int telemetry_client_open(struct telemetry_client *c, int *connect_err);

/*
 * Send one request and return its reply's data (JSON null when the command
 * is unknown or refused), or NULL with the reason on stderr.
 */
json_t *telemetry_client_request(struct telemetry_client *c, const char *req);

void telemetry_client_close(struct telemetry_client *c);

#endif /* TOOLS_TELEMETRY_CLIENT_H */
