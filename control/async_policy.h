/* What happens to an asynchronous event after each try: Lambda's retry rules, as pure functions. */
#ifndef TURBINE_ASYNC_POLICY_H
#define TURBINE_ASYNC_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#include "async_record.h"

/* A function's asynchronous keys (config.h has their bounds and defaults). */
struct async_retry_config {
	uint32_t max_retry_attempts;   /* 0..10, default 2 */
	uint32_t retry_delay_ms;       /* first delay after a function error, default 60000, doubling */
	uint32_t max_event_age_s;      /* 1..21600, default 21600 */
};

/* How one try ended. */
enum async_result {
	ASYNC_RESULT_OK,               /* 200 without fn_error */
	ASYNC_RESULT_FUNCTION_ERROR,   /* 200 with fn_error: handler error, Sandbox.Timedout, Runtime.ExitError... */
	ASYNC_RESULT_THROTTLED,        /* refused before running: 429 from a limit, 503/502/500, or no answer */
	ASYNC_RESULT_REFUSED,          /* refused for good: another 4xx (permission withdrawn, ...) */
};

enum async_verdict {
	ASYNC_FINISHED,                /* succeeded: on_success */
	ASYNC_RETRY,                   /* try again after delay_ms */
	ASYNC_FAILED,                  /* on_failure with `condition` */
};

struct async_decision {
	enum async_verdict verdict;
	enum async_condition condition; /* ASYNC_FAILED: RetriesExhausted or EventAgeExceeded */
	uint64_t delay_ms;             /* ASYNC_RETRY */
};

/* Throttled tries wait 1 s, doubling, at most 5 min (PROTOCOL.md). */
#define ASYNC_THROTTLE_FIRST_MS 1000u
#define ASYNC_THROTTLE_MAX_MS 300000u

/*
 * After a try that ended with `result`: `attempts` is the number of calls
 * that ran, this one included when it ran; `throttles` the number of
 * throttled tries since the last call ran, this one included when it was
 * one; age_ms the event's age now. A retry whose delay would take the event
 * past max_event_age_s fails now with EventAgeExceeded, as does an event
 * already past it.
 */
struct async_decision async_decide(const struct async_retry_config *cfg, enum async_result result,
				   uint32_t attempts, uint32_t throttles, uint64_t age_ms);

/* Before a try: has the event outlived max_event_age_s? */
bool async_expired(const struct async_retry_config *cfg, uint64_t age_ms);

/*
 * The idempotency keys seen in the last dedupe_window_s of each function:
 * (tenant, function, key) -> the event id first accepted with it, until its
 * window ends. Not thread-safe; the queue's persist thread owns it.
 */
struct async_dedupe;

struct async_dedupe *async_dedupe_create(void);
void async_dedupe_free(struct async_dedupe *d);

/* The id of a live entry, or NULL. Expired entries are never returned. */
const struct async_event_id *async_dedupe_find(struct async_dedupe *d, const char *tenant,
					       const char *function, const uint8_t *key,
					       uint8_t key_len, uint64_t now_ns);

/* Remember a key until expires_ns (replacing an expired entry). Returns 0 or -ENOMEM. */
int async_dedupe_add(struct async_dedupe *d, const char *tenant, const char *function,
		     const uint8_t *key, uint8_t key_len, const struct async_event_id *id,
		     uint64_t expires_ns);

/* Forget every entry whose window ended by now_ns; returns how many. Cheap when none did. */
unsigned int async_dedupe_expire(struct async_dedupe *d, uint64_t now_ns);

unsigned int async_dedupe_count(const struct async_dedupe *d);

#endif /* TURBINE_ASYNC_POLICY_H */
