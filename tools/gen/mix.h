/* The request mix: weighted functions, each a pre-encoded MessagePack request with its id patched per send. */
#ifndef GEN_MIX_H
#define GEN_MIX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "request.h"

#define MIX_MAX_ENTRIES 64
/* "name:qualifier", each part 1..64 characters (PROTOCOL.md, Request). */
#define MIX_FN_MAX (64 + 1 + 64)
#define MIX_TENANT_MAX 64
/* The UDP payload of one datagram on an Ethernet MTU of 1500 (PROTOCOL.md, Transport). */
#define MIX_PAYLOAD_MAX 1472
/*
 * The id is the second key, after "v": 1, and always a uint 64 (0xcf and
 * 8 bytes), so it sits at a fixed, even offset (16 from the UDP header:
 * its checksum is patched 16 bits at a time).
 */
#define MIX_ID_OFFSET 8

struct mix_entry {
	char fn[MIX_FN_MAX + 1];
	char tenant[MIX_TENANT_MAX + 1];  /* "": not sent, the dispatcher's default */
	enum request_type type;
	bool type_given;                  /* "type" is sent only when it was given */
	double weight;
	json_t *event;                    /* NULL: the request has no "event" */
	uint16_t payload_len;
	uint8_t payload[MIX_PAYLOAD_MAX]; /* the request with id 0 */
};

struct mix {
	unsigned int nb;
	unsigned int pick_last;           /* last entry with a weight above 0 */
	double total_weight;
	uint64_t cumulative[MIX_MAX_ENTRIES]; /* entry i is picked for r < cumulative[i] */
	struct mix_entry entries[MIX_MAX_ENTRIES];
};

void mix_init(struct mix *m);
void mix_free(struct mix *m);

/*
 * Add one entry. `type` and `tenant` may be NULL (not sent); `event` NULL
 * means no event (a reference is taken). Names are checked as the dispatcher
 * checks them, so a run never starts with requests it would refuse with 400.
 */
int mix_add(struct mix *m, const char *fn, json_t *event, double weight, const char *type,
	    const char *tenant, char *err, size_t errlen);

/* "WEIGHT:FN[:EVENT_JSON]" (--mix-entry); type and tenant as for mix_add. */
int mix_add_spec(struct mix *m, const char *spec, const char *type, const char *tenant,
		 char *err, size_t errlen);

/*
 * A JSON array of {fn, event, weight, type, tenant} (--mix FILE). `type` and
 * `tenant` are the defaults for entries that do not name their own.
 */
int mix_load_file(struct mix *m, const char *path, const char *type, const char *tenant,
		  char *err, size_t errlen);

/* An event argument: inline JSON, or @FILE for a file holding it. New reference, or NULL. */
json_t *mix_load_event(const char *arg, char *err, size_t errlen);

/* After the last add: check the weights and build the pick table. */
int mix_finish(struct mix *m, char *err, size_t errlen);

/* The entry for a uniformly random 64-bit r; each entry with probability weight / total. */
static inline unsigned int
mix_pick(const struct mix *m, uint64_t r)
{
	unsigned int lo = 0, hi = m->pick_last;

	while (lo < hi) {
		unsigned int mid = (lo + hi) / 2;

		if (r < m->cumulative[mid])
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

/* Write id into a request at MIX_ID_OFFSET (big endian, as MessagePack has it). */
static inline void
mix_put_id(uint8_t *id_at, uint64_t id)
{
	unsigned int i;

	for (i = 0; i < 8; i++)
		id_at[i] = (uint8_t)(id >> (56 - 8 * i));
}

const char *mix_type_name(const struct mix_entry *e);

#endif /* GEN_MIX_H */
