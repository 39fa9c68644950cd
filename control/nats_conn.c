/* A NATS connection for the control side: connect to a URL list, reconnect forever, close. */
#include <stdio.h>

#include "nats_conn.h"

/* Between two attempts to reach a server; short, since leases expire in seconds. */
#define NATS_CONN_RECONNECT_WAIT_MS 250
#define NATS_CONN_TIMEOUT_MS 1000

int
nats_conn_open(natsConnection **nc, const char *url, const char *name, char *err, size_t errlen)
{
	natsOptions *opts = NULL;
	natsStatus s;

	*nc = NULL;
	s = natsOptions_Create(&opts);
	if (s == NATS_OK)
		s = natsOptions_SetURL(opts, url);  /* a comma-separated list is several servers */
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
		s = natsOptions_SetRetryOnFailedConnect(opts, true, NULL, NULL);
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
