/* The request descriptor: what travels with an admitted call from its dispatcher to its worker. */
#ifndef TURBINE_REQUEST_DESC_H
#define TURBINE_REQUEST_DESC_H

#include <stdint.h>

#include <rte_mbuf.h>

#include "frame.h"
#include "request.h"

/* How the asynchronous queue answers an Event it was handed (the dispatcher replies). */
enum request_queue_answer {
	REQUEST_QUEUE_ACCEPTED = 0,  /* 202 event_id: durable */
	REQUEST_QUEUE_DUPLICATE,     /* 202 event_id, duplicate: its idempotency_key was seen */
	REQUEST_QUEUE_FULL,          /* 429 AsyncQueueFull */
	REQUEST_QUEUE_FAILED,        /* 500: it could not be made durable */
};

struct request_queue_verdict {
	uint64_t handed_tsc;         /* when the dispatcher handed it over: the 202's latency */
	uint64_t start_by_tsc;       /* a queued run not started by then is dropped: the queue has
				      * given up on it and tries again (async.c) */
	uint8_t answer;              /* enum request_queue_answer */
	char event_id[37];           /* the queue's id, as text (a UUID) */
};

/*
 * Kept in the mbuf's private area: the ring carries only the mbuf pointer,
 * and no byte of the payload is copied. A header of its own (DESIGN.md,
 * "Structure", layer 1), so that whoever runs or answers a call (workers/,
 * reply.c) reads it without knowing the dispatcher that filled it.
 */
struct request_desc {
	struct frame_request from;  /* where the request sits and whom to answer */
	struct request req;         /* parsed fields, as spans of the payload */
	uint64_t deadline_tsc;
	uint32_t timeout_ms;        /* the effective one: the smaller of the caller's and the function's */
	uint32_t memory_mb;         /* from the limits it was admitted under */
	uint16_t function;          /* index in runtime.functions */
	uint16_t tenant;            /* counting index of the tenant */
	uint16_t dispatcher;        /* who received it (and transmits it, without own TX queues) */
	struct request_queue_verdict queue; /* Event: what the asynchronous queue made of it */
};

static inline struct request_desc *
request_desc_of(struct rte_mbuf *m)
{
	return rte_mbuf_to_priv(m);
}

/* The request's UDP payload inside its mbuf. */
static inline const uint8_t *
request_payload(struct rte_mbuf *m, const struct request_desc *desc)
{
	return rte_pktmbuf_mtod_offset(m, const uint8_t *, desc->from.payload_offset);
}

#endif /* TURBINE_REQUEST_DESC_H */
