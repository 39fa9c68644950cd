/* What the asynchronous queue writes: its log entries, PROTOCOL.md's destination records, event ids. */
#ifndef TURBINE_ASYNC_RECORD_H
#define TURBINE_ASYNC_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "config.h"

/* An event's id: 16 bytes, written as a UUID (8-4-4-4-12 lowercase hex digits). */
struct async_event_id {
	uint8_t b[16];
};
#define ASYNC_EVENT_ID_TEXT 37   /* with its NUL */

void async_event_id_format(const struct async_event_id *id, char out[ASYNC_EVENT_ID_TEXT]);
/* Returns 0, or -1 when `text` is not one (exactly 36 characters, either case). */
int async_event_id_parse(const char *text, struct async_event_id *id);

#define ASYNC_KEY_MAX 64         /* idempotency_key: 1..64 bytes (PROTOCOL.md) */
#define ASYNC_QUALIFIER_MAX 64   /* a request's qualifier: REQUEST_QUALIFIER_MAX */
#define ASYNC_TRACE_MAX 256

/* An event as the queue keeps it, in memory and (async_entry_enqueue) on disk. */
struct async_event {
	struct async_event_id id;
	uint64_t accepted_ns;          /* CLOCK_REALTIME when it was accepted */
	uint32_t attempts;             /* calls that ran (approximateInvokeCount) */
	uint32_t throttles;            /* tries refused by a limit since the last call ran */
	char tenant[CONFIG_NAME_MAX + 1];   /* never empty: "default" when the request had none */
	char function[CONFIG_NAME_MAX + 1];
	char qualifier[ASYNC_QUALIFIER_MAX + 1]; /* "" when none */
	uint8_t key_len;               /* idempotency_key's length, 0 when none */
	uint8_t key[ASYNC_KEY_MAX];
	uint16_t trace_len;            /* 0 when none */
	char trace[ASYNC_TRACE_MAX];
	uint32_t event_len;            /* the event: one MessagePack value; 0 means nil */
	uint8_t event[];
};

/* One allocation holding an event of event_len bytes (free() it); NULL when out of memory. */
struct async_event *async_event_alloc(uint32_t event_len);

/* Log entries (async_log.h payloads): each a MessagePack array whose first element is its type. */
enum async_entry_type {
	ASYNC_ENTRY_ENQUEUE = 1,   /* a new event, whole */
	ASYNC_ENTRY_PROGRESS = 2,  /* an event's counts after a call or a throttle */
	ASYNC_ENTRY_DONE = 3,      /* finished: succeeded, or handed to its destination */
};

/*
 * Encode an entry into buf (cap bytes). Returns its length, or 0 when it
 * does not fit.
 */
size_t async_entry_enqueue(const struct async_event *ev, uint8_t *buf, size_t cap);
size_t async_entry_progress(const struct async_event_id *id, uint32_t attempts, uint32_t throttles,
			    uint8_t *buf, size_t cap);
size_t async_entry_done(const struct async_event_id *id, uint8_t *buf, size_t cap);

struct async_entry {
	enum async_entry_type type;
	struct async_event_id id;
	uint32_t attempts;             /* PROGRESS */
	uint32_t throttles;            /* PROGRESS */
	struct async_event *event;     /* ENQUEUE: allocated here, the caller frees it */
};

/* Decode an entry. Returns 0, or -1 when it is not a well-formed entry (nothing allocated). */
int async_entry_decode(const uint8_t *p, size_t len, struct async_entry *out);

/* How an event ended, for its destination record. */
enum async_condition {
	ASYNC_SUCCESS,             /* "Success" */
	ASYNC_RETRIES_EXHAUSTED,   /* "RetriesExhausted" */
	ASYNC_EVENT_AGE_EXCEEDED,  /* "EventAgeExceeded" */
};

const char *async_condition_name(enum async_condition c);

struct async_outcome {
	enum async_condition condition;
	uint64_t timestamp_ns;         /* CLOCK_REALTIME when the record is made */
	uint32_t status;               /* of the last call (0: no call ran, e.g. aged while throttled) */
	char version[32];              /* the version that ran; "" when none did */
	bool fn_error;                 /* the last call failed: functionError "Unhandled" */
	const uint8_t *response;       /* the last call's body, one MessagePack value; NULL: nil */
	uint32_t response_len;
};

/*
 * PROTOCOL.md's "Asynchronous records" table as one MessagePack map:
 * version, timestamp (RFC 3339 UTC, milliseconds), requestContext
 * {requestId, function "name:version", condition, approximateInvokeCount},
 * requestPayload (the event as sent), responseContext {statusCode,
 * executedVersion, functionError when it failed}, responsePayload.
 * The version in "name:version" is the one that ran, else the qualifier
 * asked for, else "$LATEST"; executedVersion is nil when no call ran.
 * Returns 0, or -1 when the packer's writes failed.
 */
int async_record_pack(msgpack_packer *pk, const struct async_event *ev,
		      const struct async_outcome *out);

/*
 * A destination file (the dead-letter queue, the success log): a map
 * {tenant, function, record}, where record is async_record_pack()'s map;
 * tenant and function (as a request names it, name[:qualifier]) let a
 * redrive enqueue the event again.
 */
int async_stored_pack(msgpack_packer *pk, const struct async_event *ev,
		      const struct async_outcome *out);

/*
 * Read a destination file back into the event it was about (id, tenant,
 * function, qualifier, the event, attempts = approximateInvokeCount;
 * accepted_ns 0).
 * `record` (may be NULL) is set to the record map inside `zone`'s objects.
 * Returns the event (free() it) or NULL when the bytes are not one.
 */
struct async_event *async_stored_event(const uint8_t *p, size_t len, msgpack_zone *zone,
				       msgpack_object *record);

#endif /* TURBINE_ASYNC_RECORD_H */
