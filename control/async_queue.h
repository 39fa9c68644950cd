/* The asynchronous queue behind an ops struct: the local log today, NATS JetStream for several nodes. */
#ifndef TURBINE_ASYNC_QUEUE_H
#define TURBINE_ASYNC_QUEUE_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_mbuf.h>

#include "async_record.h"
#include "hist.h"
#include "runtime.h"

/*
 * One queued event while the queue holds it. The backend owns it from
 * enqueue to ack or dead-letter; between poll() and the next call about it,
 * the pollers (async.c) run it.
 */
struct async_job {
	struct async_event *ev;
	/* The last call's answer, for the destination record (async_outcome). */
	uint32_t last_status;
	bool last_fn_error;
	char last_version[32];
	uint8_t *last_body;         /* malloc'd, NULL: nil */
	uint32_t last_body_len;
	/* The pollers' while it runs. */
	uint64_t call_id;           /* the request id it was sent with */
	uint64_t sent_ns;           /* CLOCK_MONOTONIC */
	uint64_t give_up_ns;        /* no answer by then: counted as lost, tried again */
	int function;               /* index in runtime.functions */
	/* The backend's. */
	uint64_t segment;           /* local log: the segment holding its ENQUEUE entry */
	uint64_t due_ns;            /* local log: CLOCK_MONOTONIC, when it may run */
	uint64_t order;             /* first in, first out among equal due times */
	unsigned int heap_at;       /* place in the timer heap; UINT_MAX when not in it */
	bool waiting;               /* in the heap for a retry's delay */
	void *msg;                  /* jetstream: the delivery (natsMsg) to acknowledge */
	uint64_t held_ns;           /* jetstream: CLOCK_MONOTONIC of its delivery or last progress */
	uint64_t delivered;         /* jetstream: NATS's delivery count (1: the first, 0: unknown) */
	bool retried;               /* jetstream: may have counts in NAME_TRIES (async_jetstream.c) */
	struct async_job *next, *prev; /* every job the backend holds */
};

struct async_queue_stats {
	uint64_t depth;             /* accepted and not finished */
	uint64_t waiting;           /* of which waiting for a retry's delay */
	uint64_t oldest_accepted_ns; /* CLOCK_REALTIME; 0 when empty */
	uint64_t accepted, duplicates, refused_full;
	uint64_t replayed, torn;
	uint64_t segments, log_bytes, syncs, last_sync_ns, reclaimed;
	uint64_t accept_p50_ns, accept_p99_ns;  /* handed over by a dispatcher to answered */
	/* jetstream: the streams and the shared consumer, as NATS last reported them. */
	uint64_t stream_msgs, stream_bytes, dlq_msgs, ok_msgs;
	uint64_t consumer_pending, consumer_ack_pending, consumer_redelivered;
	uint64_t publish_failed;    /* publishes NATS refused or never acknowledged */
	uint64_t tries_msgs;        /* NAME_TRIES: retries' counts and deletion markers */
	uint64_t tries_write_failed; /* retries NAKed without their counts stored */
	uint64_t tries_read_failed; /* redeliveries handed back: their counts could not be read */
	uint64_t redelivered_as_first; /* redeliveries NATS counted as first, found by the watcher */
	bool nats_connected;
	/* Whether fn_depth is kept: JetStream holds every function's Events in one stream, and
	 * this node knows only the stream's depth; a 0 there would be a figure never measured. */
	bool fn_depth_known;
	uint64_t fn_depth[CONFIG_MAX_FUNCTIONS];
	uint64_t fn_accepted[CONFIG_MAX_FUNCTIONS];
};

struct async_queue;

struct async_queue_ops {
	const char *name;
	/* Open (replaying what is durable and unfinished). 0 or a negative errno with err set. */
	int (*open)(struct async_queue *q, const struct runtime *rt, const char *dir,
		    char *err, size_t errlen);
	void (*close)(struct async_queue *q);
	/*
	 * Events dispatchers admitted, still in their mbufs: store each and hand
	 * the mbuf back to its dispatcher (runtime.async.durable) with
	 * desc->queue filled, once durable (at the next sync) or refused.
	 */
	void (*enqueue)(struct async_queue *q, struct rte_mbuf **pkts, unsigned int n);
	/* An event made on the control side (a redrive, a destination); the queue takes ev. */
	int (*enqueue_event)(struct async_queue *q, struct async_event *ev);
	/* The next job due by now_ns (CLOCK_MONOTONIC), or NULL. */
	struct async_job *(*poll)(struct async_queue *q, uint64_t now_ns);
	/* Finished: forgotten; `record` (may be NULL) goes to the success log. */
	void (*ack)(struct async_queue *q, struct async_job *job, const struct async_outcome *record);
	/* Not finished: run it again after delay_ms (its counts kept durably). */
	void (*retry_later)(struct async_queue *q, struct async_job *job, uint64_t delay_ms);
	/* Failed for good: its record to the dead-letter queue, and forgotten. */
	void (*dead_letter)(struct async_queue *q, struct async_job *job,
			    const struct async_outcome *record);
	/*
	 * Make everything since the last sync durable at once (group commit),
	 * then answer the Events that waited for it; plus housekeeping due at
	 * now_ns. Returns how many Events were answered.
	 */
	unsigned int (*sync)(struct async_queue *q, uint64_t now_ns);
	void (*stats)(struct async_queue *q, struct async_queue_stats *st);
	/*
	 * How long from now_ns the backend has nothing to do unless an Event
	 * arrives through this node's dispatchers: nothing to sync or answer,
	 * no job due, no housekeeping. 0: work now, or soon. NULL: work may
	 * come from elsewhere at any time (JetStream's fetcher), never quiet.
	 */
	uint64_t (*quiet_ns)(struct async_queue *q, uint64_t now_ns);
};

/* The embedded default: a segmented log in a local folder (async_local.c). */
extern const struct async_queue_ops async_local_ops;
struct async_queue *async_local_create(void);

/* Several nodes sharing one NATS JetStream stream (async_jetstream.c). */
extern const struct async_queue_ops async_jetstream_ops;
struct async_queue *async_jetstream_create(void);

/* The Event in a dispatcher's mbuf as a queue record, accepted now; NULL: out of memory. */
struct async_event *async_event_from_mbuf(struct rte_mbuf *m);

/*
 * Hand each answered Event in answers[0..*nb) back to the dispatcher that
 * received it, recording the 202's latency; those whose dispatcher's ring
 * is full stay, compacted to the front, for the next call. Returns how many
 * went. Both backends answer through it (async.c).
 */
unsigned int async_hand_back(const struct runtime *rt, struct rte_mbuf **answers,
			     unsigned int *nb, struct hist *accept_latency);

#endif /* TURBINE_ASYNC_QUEUE_H */
