/* turbine-gateway's shared state: the keys, the UDP side, the HTTP server and the HTTP counters. */
#ifndef GATEWAY_GATEWAY_H
#define GATEWAY_GATEWAY_H

#include <netinet/in.h>
#include <stdint.h>

#include "credentials.h"
#include "upstream.h"

#define GATEWAY_COUNTERS(X) \
	X(requests, "HTTP requests read") \
	X(auth_failures, "requests refused by SigV4 (400 IncompleteSignature, 403 the others)") \
	X(bad_requests, "requests refused before Turbine: 400, or 404 for a path that is not Invoke") \
	X(too_large, "requests answered 413: the body or the datagram it makes is too large") \
	X(throttled, "requests answered 429: --max-inflight calls were already waiting") \
	X(answered, "calls answered with Turbine's response") \
	X(failed, "calls answered 500 ServiceException: no answer within the deadline, or shutting down")

enum gateway_counter {
#define GATEWAY_COUNTER_ENUM(name, text) GATEWAY_##name,
	GATEWAY_COUNTERS(GATEWAY_COUNTER_ENUM)
#undef GATEWAY_COUNTER_ENUM
	GATEWAY_NB_COUNTERS
};

extern const char *const gateway_counter_names[GATEWAY_NB_COUNTERS];

struct MHD_Daemon;

struct gateway {
	struct sockaddr_in listen;
	struct sockaddr_in to;
	struct credentials creds;
	struct upstream up;
	struct MHD_Daemon *daemon;
	unsigned int threads;
	unsigned int client_timeout_s;  /* a client silent this long mid-request is dropped */
	uint32_t call_timeout_ms;       /* sent as timeout_ms; the gateway waits this and a grace */
	unsigned int retransmit_sync_ms;        /* RequestResponse's first retransmit; 0: none */
	uint64_t counters[GATEWAY_NB_COUNTERS];         /* atomic */
	unsigned int suspended;         /* atomic: calls suspended whose answer is not sent yet */
};

static inline void
gateway_count(struct gateway *gw, enum gateway_counter i)
{
	__atomic_fetch_add(&gw->counters[i], 1, __ATOMIC_RELAXED);
}

/* http.c: start the HTTP server on gw->listen (port 0: any; gw->listen gets the port). 0 or -errno. */
int http_start(struct gateway *gw);

/*
 * Shutting down: stop taking connections (http_quiesce), then, once
 * upstream_stop() has finished the waiting calls, give their connections
 * up to wait_ms to send those answers (http_drain), then stop the server.
 */
void http_quiesce(struct gateway *gw);
void http_drain(struct gateway *gw, unsigned int wait_ms);
void http_stop(struct gateway *gw);

#endif /* GATEWAY_GATEWAY_H */
