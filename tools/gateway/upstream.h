/* The UDP side of the gateway: one socket to Turbine, the calls waiting for answers, retransmits. */
#ifndef GATEWAY_UPSTREAM_H
#define GATEWAY_UPSTREAM_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "wire.h"

/* A call safe to repeat is sent again after this long without an answer, then doubling, at most
 * this many times. */
#define UPSTREAM_RTO_MS 200
#define UPSTREAM_MAX_RETRANSMITS 4

#define UPSTREAM_COUNTERS(X) \
	X(calls, "requests sent to Turbine (first sends)") \
	X(retransmits, "requests sent again, same id, after no answer within the retransmit time") \
	X(answers, "answers matched to a waiting call") \
	X(duplicates, "answers to an id no longer waiting (a retransmit's second answer, or a late one): discarded") \
	X(garbage, "datagrams that were not a response map with an id and a status: discarded") \
	X(timeouts, "calls given up: no answer within their deadline") \
	X(full, "calls refused: --max-inflight calls already waiting") \
	X(send_errors, "datagrams the socket refused")

enum upstream_counter {
#define UPSTREAM_COUNTER_ENUM(name, text) UPSTREAM_##name,
	UPSTREAM_COUNTERS(UPSTREAM_COUNTER_ENUM)
#undef UPSTREAM_COUNTER_ENUM
	UPSTREAM_NB_COUNTERS
};

extern const char *const upstream_counter_names[UPSTREAM_NB_COUNTERS];

enum upstream_outcome {
	UPSTREAM_ANSWERED,      /* reply holds the answer datagram */
	UPSTREAM_TIMED_OUT,     /* no answer within the deadline */
	UPSTREAM_STOPPED,       /* the gateway is shutting down */
};

/*
 * One call. The caller fills dgram (packed with an id from
 * upstream_next_id()) and done; from upstream_call() until done() runs,
 * the call belongs to the upstream, which runs done() once, on its
 * receiver thread (or on the caller's, from upstream_stop()).
 */
struct upstream_call {
	struct wire_datagram dgram;
	uint64_t id;
	void (*done)(struct upstream_call *c);
	enum upstream_outcome outcome;
	uint8_t *reply;                 /* malloc'd answer, the caller frees it */
	size_t reply_len;
	/* the upstream's own */
	uint64_t next_send_ms;
	uint64_t deadline_ms;
	unsigned int rto_ms;
	unsigned int retransmits_left;
	struct upstream_call *next;     /* hash chain */
};

struct upstream {
	int fd;
	pthread_t receiver;
	bool started;
	volatile bool quit;
	pthread_mutex_t lock;           /* the table, inflight, next_scan_ms */
	struct upstream_call **buckets;
	uint64_t mask;
	unsigned int inflight;
	unsigned int max_inflight;
	uint64_t next_scan_ms;
	uint64_t next_id;               /* atomic; seeded randomly: ids of a restarted gateway differ */
	uint64_t counters[UPSTREAM_NB_COUNTERS];        /* atomic */
};

/* A connected UDP socket to `to` and an empty table for max_inflight calls. 0 or -errno. */
int upstream_init(struct upstream *u, const struct sockaddr_in *to, unsigned int max_inflight);

/* The receiver thread: answers, retransmits, deadlines. 0 or -errno. */
int upstream_start(struct upstream *u);

uint64_t upstream_next_id(struct upstream *u);

/*
 * Send c->dgram and wait for the answer to c->id for at most wait_ms,
 * retransmitting the same datagram after rto_ms, doubling,
 * UPSTREAM_MAX_RETRANSMITS times (rto_ms 0: never). 0 (done() will run),
 * -EBUSY when max_inflight calls wait, or -errno of the first send (done()
 * will not run).
 */
int upstream_call(struct upstream *u, struct upstream_call *c, uint64_t wait_ms, unsigned int rto_ms);

/* Finish every waiting call as UPSTREAM_STOPPED, stop the thread, close the socket. */
void upstream_stop(struct upstream *u);

uint64_t upstream_counter(const struct upstream *u, enum upstream_counter i);

uint64_t upstream_now_ms(void);

#endif /* GATEWAY_UPSTREAM_H */
