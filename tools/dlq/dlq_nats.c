/* turbine-dlq's records in NATS JetStream: the <stream>_DLQ and <stream>_OK streams of the jetstream queue. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <err.h>

#include "dlq_nats.h"

#define DLQ_NATS_WAIT_MS 5000

struct dlq_nats_entry {
	struct async_event_id id;
	uint64_t seq;
};

struct dlq_nats {
	natsConnection *nc;
	jsCtx *js;
	char stream[64];          /* the records' stream: NAME_DLQ or NAME_OK */
	char events_subject[64];  /* where a redrive publishes: NAME.events */
	struct dlq_nats_entry *index;
	int nb;
};

static int
dlq_nats_fail(const char *what, natsStatus s)
{
	const char *last = nats_GetLastError(NULL);

	warnx("NATS: %s: %s%s%s", what, natsStatus_GetText(s), last ? ": " : "", last ? last : "");
	return -EIO;
}

/* Every record's event id and sequence, read once: the stream is small and ids are not subjects. */
static int
dlq_nats_scan(struct dlq_nats *n)
{
	jsStreamInfo *si = NULL;
	msgpack_zone *zone;
	struct async_event *ev;
	msgpack_object rec;
	uint64_t seq;
	natsMsg *msg;
	natsStatus s;
	void *p;

	s = js_GetStreamInfo(&si, n->js, n->stream, NULL, NULL);
	if (s == NATS_NOT_FOUND)
		return 0;   /* no node has made it yet: empty */
	if (s != NATS_OK)
		return dlq_nats_fail(n->stream, s);
	zone = msgpack_zone_new(MSGPACK_ZONE_CHUNK_SIZE);
	for (seq = si->State.FirstSeq; zone != NULL && si->State.Msgs > 0 &&
	     seq <= si->State.LastSeq; seq++) {
		msg = NULL;
		if (js_GetMsg(&msg, n->js, n->stream, seq, NULL, NULL) != NATS_OK)
			continue;   /* deleted */
		msgpack_zone_clear(zone);
		ev = async_stored_event((const uint8_t *)natsMsg_GetData(msg),
					(size_t)natsMsg_GetDataLength(msg), zone, &rec);
		natsMsg_Destroy(msg);
		if (ev == NULL) {
			warnx("%s: message %" PRIu64 " is not a destination record", n->stream, seq);
			continue;
		}
		p = realloc(n->index, (size_t)(n->nb + 1) * sizeof(n->index[0]));
		if (p == NULL) {
			free(ev);
			break;
		}
		n->index = p;
		n->index[n->nb].id = ev->id;
		n->index[n->nb].seq = seq;
		n->nb++;
		free(ev);
	}
	if (zone != NULL)
		msgpack_zone_free(zone);
	jsStreamInfo_Destroy(si);
	return 0;
}

int
dlq_nats_open(const char *url, const char *stream, bool success, struct dlq_nats **out)
{
	struct dlq_nats *n = calloc(1, sizeof(*n));
	natsStatus s;
	int rc;

	if (n == NULL)
		return -ENOMEM;
	snprintf(n->stream, sizeof(n->stream), "%s_%s", stream, success ? "OK" : "DLQ");
	snprintf(n->events_subject, sizeof(n->events_subject), "%s.events", stream);
	s = natsConnection_ConnectTo(&n->nc, url);
	if (s == NATS_OK)
		s = natsConnection_JetStream(&n->js, n->nc, NULL);
	if (s != NATS_OK) {
		rc = dlq_nats_fail(url, s);
		dlq_nats_close(n);
		return rc;
	}
	rc = dlq_nats_scan(n);
	if (rc < 0) {
		dlq_nats_close(n);
		return rc;
	}
	*out = n;
	return 0;
}

void
dlq_nats_close(struct dlq_nats *n)
{
	if (n == NULL)
		return;
	jsCtx_Destroy(n->js);
	natsConnection_Destroy(n->nc);
	free(n->index);
	free(n);
	nats_Close();
}

const char *
dlq_nats_stream(const struct dlq_nats *n)
{
	return n->stream;
}

int
dlq_nats_list(struct dlq_nats *n, struct async_event_id **ids)
{
	int i;

	*ids = calloc((size_t)n->nb + 1, sizeof(**ids));
	if (*ids == NULL)
		return -ENOMEM;
	for (i = 0; i < n->nb; i++)
		(*ids)[i] = n->index[i].id;
	return n->nb;
}

static struct dlq_nats_entry *
dlq_nats_find(struct dlq_nats *n, const struct async_event_id *id)
{
	int i;

	for (i = 0; i < n->nb; i++)
		if (n->index[i].seq != 0 && memcmp(&n->index[i].id, id, sizeof(*id)) == 0)
			return &n->index[i];
	return NULL;
}

int
dlq_nats_get(struct dlq_nats *n, const struct async_event_id *id, uint8_t **data, size_t *len)
{
	struct dlq_nats_entry *e = dlq_nats_find(n, id);
	natsMsg *msg = NULL;
	natsStatus s;

	if (e == NULL)
		return -ENOENT;
	s = js_GetMsg(&msg, n->js, n->stream, e->seq, NULL, NULL);
	if (s == NATS_NOT_FOUND)
		return -ENOENT;
	if (s != NATS_OK)
		return dlq_nats_fail(n->stream, s);
	*len = (size_t)natsMsg_GetDataLength(msg);
	*data = malloc(*len + 1);
	if (*data != NULL)
		memcpy(*data, natsMsg_GetData(msg), *len);
	natsMsg_Destroy(msg);
	return *data != NULL ? 0 : -ENOMEM;
}

int
dlq_nats_remove(struct dlq_nats *n, const struct async_event_id *id)
{
	struct dlq_nats_entry *e = dlq_nats_find(n, id);
	natsStatus s;

	if (e == NULL)
		return -ENOENT;
	s = js_DeleteMsg(n->js, n->stream, e->seq, NULL, NULL);
	if (s == NATS_NOT_FOUND)
		return -ENOENT;
	if (s != NATS_OK)
		return dlq_nats_fail(n->stream, s);
	e->seq = 0;
	return 0;
}

int
dlq_nats_redrive(struct dlq_nats *n, const struct async_event *ev, const uint8_t *entry, size_t len)
{
	char msg_id[ASYNC_EVENT_ID_TEXT + 32];
	jsPubOptions po;
	natsStatus s;

	/* A redrive is a new acceptance: its own message id, not deduplicated against the first. */
	async_event_id_format(&ev->id, msg_id);
	snprintf(msg_id + ASYNC_EVENT_ID_TEXT - 1, sizeof(msg_id) - ASYNC_EVENT_ID_TEXT + 1,
		 ".%" PRIu64, ev->accepted_ns);
	jsPubOptions_Init(&po);
	po.MsgId = msg_id;
	po.MaxWait = DLQ_NATS_WAIT_MS;
	s = js_Publish(NULL, n->js, n->events_subject, entry, (int)len, &po, NULL);
	if (s != NATS_OK)
		return dlq_nats_fail(n->events_subject, s);
	return 0;
}
