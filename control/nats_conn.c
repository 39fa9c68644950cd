/* One NATS connection for the control side: made on a control thread, reconnecting forever. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <rte_lcore.h>

#include "nats_conn.h"

#define NATS_CONN_MAX_SERVERS 16
#define NATS_CONN_RECONNECT_WAIT_MS 250
/* Published while reconnecting: kept in the client up to this, then refused. */
#define NATS_CONN_RECONNECT_BUF (64 << 20)
#define NATS_CONN_FLUSH_MS 1000

/* A connect attempt's own limit: leases expire in seconds, so a slow server is not waited on. */
#define NATS_CONN_TIMEOUT_MS 1000

struct nats_conn_args {
	const char *url;
	const char *name;
	bool wait_connected;
	natsConnection *nc;
	natsStatus s;
};

/* Given, so that a server out of reach at start-up is retried in the background, not waited for. */
static void
nats_conn_connected(natsConnection *nc, void *closure)
{
	(void)nc;
	(void)closure;
}

/* The URL list into servers[], cut in place in buf. */
static int
nats_conn_servers(char *buf, const char **servers)
{
	char *save = NULL, *tok;
	int n = 0;

	for (tok = strtok_r(buf, ",", &save); tok != NULL && n < NATS_CONN_MAX_SERVERS;
	     tok = strtok_r(NULL, ",", &save))
		servers[n++] = tok;
	return n;
}

static void *
nats_conn_main(void *arg)
{
	struct nats_conn_args *a = arg;
	const char *servers[NATS_CONN_MAX_SERVERS];
	natsOptions *opts = NULL;
	char buf[1024];
	int n;

	snprintf(buf, sizeof(buf), "%s", a->url);
	/* Split here: the client's own comma-separated form did not connect (libnats 3.4). */
	n = nats_conn_servers(buf, servers);
	if (n == 0) {
		a->s = NATS_INVALID_ARG;
		return NULL;
	}
	a->s = natsOptions_Create(&opts);
	if (a->s == NATS_OK)
		a->s = natsOptions_SetServers(opts, servers, n);
	if (a->s == NATS_OK)
		a->s = natsOptions_SetName(opts, a->name);
	if (a->s == NATS_OK)
		a->s = natsOptions_SetTimeout(opts, NATS_CONN_TIMEOUT_MS);
	if (a->s == NATS_OK)
		a->s = natsOptions_SetMaxReconnect(opts, -1);
	if (a->s == NATS_OK)
		a->s = natsOptions_SetReconnectWait(opts, NATS_CONN_RECONNECT_WAIT_MS);
	if (a->s == NATS_OK)
		a->s = natsOptions_SetReconnectBufSize(opts, NATS_CONN_RECONNECT_BUF);
	if (a->s == NATS_OK && !a->wait_connected)
		a->s = natsOptions_SetRetryOnFailedConnect(opts, true, nats_conn_connected, NULL);
	if (a->s == NATS_OK) {
		a->s = natsConnection_Connect(&a->nc, opts);
		if (a->s == NATS_NOT_YET_CONNECTED && !a->wait_connected)
			a->s = NATS_OK;
	}
	natsOptions_Destroy(opts);
	if (a->s != NATS_OK) {
		natsConnection_Destroy(a->nc);
		a->nc = NULL;
	}
	return NULL;
}

int
nats_conn_open(const char *url, const char *name, bool wait_connected, natsConnection **nc,
	       char *err, size_t errlen)
{
	struct nats_conn_args a = { .url = url, .name = name, .wait_connected = wait_connected };
	pthread_t t;
	int rc;

	/* The client starts its threads (reader, flusher, timers) from the connecting one:
	 * connect from a control thread so that they run where control threads run. */
	rc = rte_ctrl_thread_create(&t, "turbine-nats", NULL, nats_conn_main, &a);
	if (rc != 0) {
		snprintf(err, errlen, "cannot start a thread for NATS: %s", strerror(rc));
		return -rc;
	}
	pthread_join(t, NULL);
	if (a.s != NATS_OK) {
		snprintf(err, errlen, "NATS at %s: %s", url, natsStatus_GetText(a.s));
		return -ECONNREFUSED;
	}
	*nc = a.nc;
	return 0;
}

bool
nats_conn_up(natsConnection *nc)
{
	return nc != NULL && natsConnection_Status(nc) == NATS_CONN_STATUS_CONNECTED;
}

void
nats_conn_close(natsConnection *nc)
{
	if (nc == NULL)
		return;
	natsConnection_FlushTimeout(nc, NATS_CONN_FLUSH_MS);
	natsConnection_Destroy(nc);
}
