/* turbine-dlq's records in NATS JetStream (async_backend = "jetstream"): list, read, remove, redrive. */
#ifndef TURBINE_DLQ_NATS_H
#define TURBINE_DLQ_NATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <nats/nats.h>

#include "async_record.h"

struct dlq_nats;

/*
 * Connect to `url` and index the records of STREAM_DLQ (STREAM_OK with
 * `success`). 0, or a negative errno with the reason printed.
 */
int dlq_nats_open(const char *url, const char *stream, bool success, struct dlq_nats **n);
void dlq_nats_close(struct dlq_nats *n);
const char *dlq_nats_stream(const struct dlq_nats *n);

/* Every record's event id (calloc'd); the count or a negative errno. */
int dlq_nats_list(struct dlq_nats *n, struct async_event_id **ids);
/* One record's bytes (malloc'd): 0, -ENOENT, or another negative errno, printed. */
int dlq_nats_get(struct dlq_nats *n, const struct async_event_id *id, uint8_t **data, size_t *len);
int dlq_nats_remove(struct dlq_nats *n, const struct async_event_id *id);
/* The event's queue entry published into STREAM.events, acknowledged by the stream. */
int dlq_nats_redrive(struct dlq_nats *n, const struct async_event *ev, const uint8_t *entry,
		     size_t len);

#endif /* TURBINE_DLQ_NATS_H */
