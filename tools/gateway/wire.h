/* Turbine's wire protocol (PROTOCOL.md) as the gateway speaks it: requests packed, responses read. */
#ifndef GATEWAY_WIRE_H
#define GATEWAY_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <msgpack.h>

#include "lambda_api.h"

/* A request's UDP payload at most: MTU 1500 less the IPv4 and UDP headers (PROTOCOL.md). */
#define WIRE_MAX_DATAGRAM 1472

struct wire_request {
	uint64_t id;
	const char *fn;
	enum lambda_api_type type;
	const char *tenant;
	const uint8_t *body;            /* the HTTP body: JSON becomes the event, other bytes a bin */
	size_t body_len;
	const json_t *ctx;              /* the decoded client context, or NULL */
	bool log_tail;
	const char *trace;              /* NULL: none */
	const char *idempotency_key;    /* NULL: none */
	uint32_t timeout_ms;            /* 0: not sent */
};

/* A request datagram, packed in place: nothing allocated per call. */
struct wire_datagram {
	uint8_t data[WIRE_MAX_DATAGRAM];
	size_t len;
	bool overflow;
};

/* Pack the request map into d. 0, or -EMSGSIZE when it would exceed WIRE_MAX_DATAGRAM. */
int wire_pack_request(const struct wire_request *r, struct wire_datagram *d);

struct wire_span {
	const char *p;
	uint32_t len;
};

struct wire_response {
	uint64_t id;
	unsigned int status;
	struct wire_span error;
	struct wire_span message;
	struct wire_span reason;
	struct wire_span fn_error;
	struct wire_span version;
	struct wire_span log;
	struct wire_span trace;
	const msgpack_object *body;     /* NULL: none */
	uint64_t retry_after_ms;        /* 0: none */
};

/* Read a response map; -1 when it is not a map with an uint id and status. */
int wire_parse_response(const msgpack_object *o, struct wire_response *r);

/* Only the id of a response datagram, for matching; -1 when it has none. */
int wire_response_id(const uint8_t *p, size_t len, uint64_t *id);

#endif /* GATEWAY_WIRE_H */
