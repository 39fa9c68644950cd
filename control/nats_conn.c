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

struct nats_conn_args {
	const char *url;
	const char *name;
	natsConnection *nc;
	natsStatus s;
};

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
	n = nats_conn_servers(buf, servers);
	a->s = natsOptions_Create(&opts);
	if (a->s == NATS_OK)
		a->s = natsOptions_SetServers(opts, servers, n);
	if (a->s == NATS_OK)
		a->s = natsOptions_SetName(opts, a->name);
	if (a->s == NATS_OK)
		a->s = natsOptions_SetMaxReconnect(opts, -1);
	if (a->s == NATS_OK)
		a->s = natsOptions_SetReconnectWait(opts, NATS_CONN_RECONNECT_WAIT_MS);
	if (a->s == NATS_OK)
		a->s = natsOptions_SetReconnectBufSize(opts, NATS_CONN_RECONNECT_BUF);
	if (a->s == NATS_OK)
		a->s = natsConnection_Connect(&a->nc, opts);
	natsOptions_Destroy(opts);
	return NULL;
}

int
nats_conn_open(const char *url, const char *name, natsConnection **nc, char *err, size_t errlen)
{
	struct nats_conn_args a = { .url = url, .name = name };
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

void
nats_conn_close(natsConnection *nc)
{
	if (nc == NULL)
		return;
	natsConnection_FlushTimeout(nc, NATS_CONN_FLUSH_MS);
	natsConnection_Destroy(nc);
}
