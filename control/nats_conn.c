/* A NATS connection for the control side: connect to a URL list, reconnect forever, close. */
#include <stdio.h>
#include <string.h>

#include "nats_conn.h"

/* Between two attempts to reach a server; short, since leases expire in seconds. */
#define NATS_CONN_RECONNECT_WAIT_MS 250
#define NATS_CONN_TIMEOUT_MS 1000

/* Given, so that a server out of reach at start-up is retried in the background, not waited for. */
static void
nats_conn_connected(natsConnection *nc, void *closure)
{
	(void)nc;
	(void)closure;
}

#define NATS_CONN_MAX_SERVERS 16

int
nats_conn_open(natsConnection **nc, const char *url, const char *name, char *err, size_t errlen)
{
	char list[1024], *servers[NATS_CONN_MAX_SERVERS], *save = NULL, *tok;
	natsOptions *opts = NULL;
	natsStatus s;
	int n = 0;

	*nc = NULL;
	/* Split here: the client's own comma-separated form did not connect (libnats 3.4). */
	snprintf(list, sizeof(list), "%s", url);
	for (tok = strtok_r(list, ",", &save); tok != NULL && n < NATS_CONN_MAX_SERVERS;
	     tok = strtok_r(NULL, ",", &save))
		servers[n++] = tok;
	if (n == 0) {
		snprintf(err, errlen, "NATS: no server in '%s'", url);
		return -1;
	}
	s = natsOptions_Create(&opts);
	if (s == NATS_OK)
		s = natsOptions_SetServers(opts, (const char **)servers, n);
	if (s == NATS_OK)
		s = natsOptions_SetName(opts, name);
	if (s == NATS_OK)
		s = natsOptions_SetTimeout(opts, NATS_CONN_TIMEOUT_MS);
	if (s == NATS_OK)
		s = natsOptions_SetMaxReconnect(opts, -1);
	if (s == NATS_OK)
		s = natsOptions_SetReconnectWait(opts, NATS_CONN_RECONNECT_WAIT_MS);
	/* Not there yet at start-up: keep trying in the background rather than fail. */
	if (s == NATS_OK)
		s = natsOptions_SetRetryOnFailedConnect(opts, true, nats_conn_connected, NULL);
	if (s == NATS_OK) {
		s = natsConnection_Connect(nc, opts);
		if (s == NATS_NOT_YET_CONNECTED)
			s = NATS_OK;
	}
	natsOptions_Destroy(opts);
	if (s != NATS_OK) {
		snprintf(err, errlen, "NATS at %s: %s", url, natsStatus_GetText(s));
		natsConnection_Destroy(*nc);
		*nc = NULL;
		return -1;
	}
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
	natsConnection_Close(nc);
	natsConnection_Destroy(nc);
}
