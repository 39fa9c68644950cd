/* An invoke request as PROTOCOL.md defines it, parsed from its MessagePack map. */
#ifndef TURBINE_REQUEST_H
#define TURBINE_REQUEST_H

#include <stdbool.h>
#include <stdint.h>

enum request_type {
	REQUEST_RESPONSE = 0,  /* "RequestResponse" (default) */
	REQUEST_EVENT,         /* "Event" */
	REQUEST_DRYRUN,        /* "DryRun" */
};

/* A slice of the request's bytes: offset from the start of the payload and length. */
struct request_span {
	uint16_t off;
	uint16_t len;
};

struct request {
	uint64_t id;                 /* 0 when absent or unreadable */
	bool has_id;
	bool log_tail;               /* log: "Tail" */
	bool has_timeout;
	enum request_type type;
	uint64_t timeout_ms;         /* valid when has_timeout */
	struct request_span fn;      /* name, without the qualifier */
	struct request_span qualifier; /* after ':'; len 0 when none */
	struct request_span tenant;  /* len 0 means "default" */
	struct request_span event;   /* the raw MessagePack value; len 0 when absent (means nil) */
	struct request_span ctx;     /* raw MessagePack value of `ctx`; len 0 when absent */
	struct request_span trace;   /* the string's bytes; len 0 when absent */
	struct request_span idempotency_key; /* the string's bytes (1..64); len 0 when absent */
};

/* `idempotency_key`: 1..64 bytes (PROTOCOL.md); it matters for `Event`s only. */
#define REQUEST_IDEMPOTENCY_KEY_MAX 64

/* Why a request was refused with 400; the message names the field. */
struct request_error {
	char message[128];
};

/*
 * Parse `len` bytes of UDP payload in one pass, allocating nothing.
 * Returns 0, or -1 with err->message set (the request gets 400
 * InvalidRequestContentException); req->id/has_id (and req->trace) are
 * still set when they were readable, so the error can echo them.
 */
int request_parse(const uint8_t *payload, uint32_t len, struct request *req,
		  struct request_error *err);

/* 1..64 chars of [A-Za-z0-9_-]: the rule for function and tenant names. */
bool request_name_valid(const char *s, uint32_t len);

/* 1..64 chars of [A-Za-z0-9_$-]: a version number or alias ('$' admits Lambda's "$LATEST"). */
bool request_qualifier_valid(const char *s, uint32_t len);

const char *request_type_name(enum request_type t);

/*
 * The length of the one MessagePack value at p (within len bytes), checked
 * as request_parse() checks a request: every count and length against the
 * bytes there are, nesting no deeper than msgpack-c decodes, nothing
 * allocated. Returns 0 with *value_len set, or -1 when the bytes do not
 * start with one complete value. What passes msgpack_unpack()s into a zone
 * of a size bounded by len.
 */
int request_value_len(const uint8_t *p, uint32_t len, uint32_t *value_len);

#endif /* TURBINE_REQUEST_H */
