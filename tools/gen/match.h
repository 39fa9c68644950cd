/* Reply matching by request id: first replies, late ones, duplicates, strays; per status and per error name. */
#ifndef GEN_MATCH_H
#define GEN_MATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "mix.h"

/*
 * Every request sent gets a sequence number; its id is id_base + seq. The
 * slot of seq in a power-of-two table holds when it was meant to go, when it
 * went, its mix entry and its state. The sender writes a slot and then its
 * tag (seq and state in one word, released); the receiver checks the tag's
 * seq before trusting the rest and changes the state with a compare-and-swap,
 * so a slot the sender has reused is never mistaken for the old request.
 * The sender reuses a slot only once the receiver's cursor has passed it,
 * i.e. its request was answered or given up.
 */
enum match_state {
	MATCH_SENT = 1,     /* waiting for its reply */
	MATCH_REPLIED,      /* answered */
	MATCH_EXPIRED,      /* given up after the timeout, no reply yet */
	MATCH_LATE,         /* answered after it had been given up */
};

#define MATCH_STATE_BITS 3
#define MATCH_STATE_MASK ((1u << MATCH_STATE_BITS) - 1)

struct match_slot {
	uint64_t tag;       /* seq << MATCH_STATE_BITS | state */
	uint64_t intended;  /* TSC the schedule meant it to go */
	uint64_t sent;      /* TSC it went */
	uint16_t entry;     /* mix entry */
	uint8_t measured;   /* sent inside the measured window (not warm-up) */
	uint8_t pad[5];
};

struct match_table {
	struct match_slot *slots;
	uint64_t size;
	uint64_t mask;
	uint64_t id_base;
	/* The sender's line: it alone writes next_seq. */
	_Alignas(64) uint64_t next_seq;
	/* The receiver's line: it alone writes these; the sender reads them for its window. */
	_Alignas(64) uint64_t cursor;   /* oldest seq not yet answered nor given up */
	uint64_t resolved;              /* requests answered (first reply) or given up */
};

enum match_verdict {
	MATCH_FIRST = 0,    /* the first reply to a request in flight */
	MATCH_LATE_REPLY,   /* the first reply to a request already given up */
	MATCH_DUPLICATE,    /* another reply to an answered request */
	MATCH_STALE,        /* an id too old to be told apart any more */
	MATCH_UNKNOWN,      /* an id never sent */
};

/* size: a power of two, the most requests that can be unresolved at once. Returns 0 or -errno. */
int match_init(struct match_table *t, uint64_t size, uint64_t id_base);
void match_free(struct match_table *t);

/* Sender: may another request be tracked without reusing an unresolved slot? */
static inline bool
match_has_room(const struct match_table *t)
{
	return t->next_seq - __atomic_load_n(&t->cursor, __ATOMIC_ACQUIRE) < t->size;
}

/* Requests sent and neither answered nor given up (the sender's window; the live line). */
static inline uint64_t
match_in_flight(const struct match_table *t)
{
	return __atomic_load_n(&t->next_seq, __ATOMIC_RELAXED) -
	       __atomic_load_n(&t->resolved, __ATOMIC_ACQUIRE);
}

/* Sender: track the next request (call match_has_room first); returns its id. */
static inline uint64_t
match_track(struct match_table *t, uint64_t intended, uint64_t sent, uint16_t entry,
	    bool measured)
{
	uint64_t seq = t->next_seq;
	struct match_slot *s = &t->slots[seq & t->mask];

	s->intended = intended;
	s->sent = sent;
	s->entry = entry;
	s->measured = measured;
	__atomic_store_n(&s->tag, seq << MATCH_STATE_BITS | MATCH_SENT, __ATOMIC_RELEASE);
	__atomic_store_n(&t->next_seq, seq + 1, __ATOMIC_RELEASE);
	return t->id_base + seq;
}

/* Sender: a tracked request the port refused went out later than stamped. */
static inline void
match_restamp(struct match_table *t, uint64_t id, uint64_t sent)
{
	__atomic_store_n(&t->slots[(id - t->id_base) & t->mask].sent, sent, __ATOMIC_RELAXED);
}

/* Receiver: classify a reply by its id; for FIRST, LATE_REPLY and DUPLICATE *out is the request's slot. */
enum match_verdict match_reply(struct match_table *t, uint64_t id, struct match_slot *out);

/*
 * Receiver: give up, oldest first, on requests sent more than `timeout` ticks
 * before `now`, and move the cursor past everything resolved. Returns how
 * many were given up.
 */
uint64_t match_expire(struct match_table *t, uint64_t now, uint64_t timeout);

/* ------------------------------------------------------------------ replies */

/* The fields of a response map the generator counts (PROTOCOL.md, Response). */
struct match_decoded {
	bool has_id;
	bool has_status;
	bool fn_error;
	uint64_t id;
	uint64_t status;
	const char *error;      /* not NUL-terminated; NULL when absent */
	uint32_t error_len;
	const char *reason;
	uint32_t reason_len;
};

/*
 * Decode a response (or, with a reflector, the request coming back) from a
 * UDP payload. `zone` is cleared here and must have a first chunk big enough
 * for a datagram, so that no call allocates. Returns 0, or -1 when the
 * payload is not a MessagePack map.
 */
int match_decode(const uint8_t *payload, uint32_t len, msgpack_zone *zone, struct match_decoded *r);

/* Chunk size for match_decode()'s zone: enough for the objects of one datagram. */
#define MATCH_ZONE_CHUNK_SIZE (64u * 1024u)

/* ------------------------------------------------------------------ counts */

/* Status slots: 100..599 are themselves; the low ones name what is not a status. */
#define MATCH_STATUS_SLOTS 600
enum {
	MATCH_STATUS_NONE = 0,       /* a reply without a readable status */
	MATCH_STATUS_REFLECTED = 1,  /* a reflector sent our request back */
	MATCH_STATUS_OTHER = 2,      /* a status outside 100..599 */
};

/* The slot a decoded reply is counted under. */
unsigned int match_status_slot(const struct match_decoded *r, bool reflector);
/* "200", "reflected", "none", "other"; buf holds at least 12 bytes. */
const char *match_status_name(unsigned int slot, char *buf, size_t len);

#define MATCH_NAMES_MAX 32
#define MATCH_NAME_LEN 64

/* Counts by name, for error names and 429 reasons: a small table filled as names arrive. */
struct match_names {
	unsigned int nb;
	uint64_t other;              /* names that did not fit */
	uint64_t count[MATCH_NAMES_MAX];
	char name[MATCH_NAMES_MAX][MATCH_NAME_LEN];
};

struct match_entry_counts {
	uint64_t received;     /* measured requests answered (late replies included) */
	uint64_t late;         /* of which after they had been given up */
	uint64_t duplicates;   /* further replies to measured requests */
	uint64_t fn_errors;    /* 200 with fn_error */
	uint64_t by_status[MATCH_STATUS_SLOTS];
};

/* What the receiver counted; only measured requests count, warm-up ones apart. */
struct match_stats {
	struct match_entry_counts entries[MIX_MAX_ENTRIES];
	struct match_names errors;
	struct match_names reasons;
	uint64_t warmup_received;
	uint64_t warmup_duplicates;
	uint64_t stale;
	uint64_t unknown;
};

void match_stats_init(struct match_stats *st);

/* Count one reply: its verdict, the request's slot (FIRST, LATE_REPLY, DUPLICATE) and its fields. */
void match_count(struct match_stats *st, enum match_verdict v, const struct match_slot *slot,
		 const struct match_decoded *r, unsigned int status_slot);

void match_names_add(struct match_names *n, const char *name, uint32_t len);

#endif /* GEN_MATCH_H */
