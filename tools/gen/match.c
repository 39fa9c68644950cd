/* Reply matching by request id: first replies, late ones, duplicates, strays; per status and per error name. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "match.h"

int
match_init(struct match_table *t, uint64_t size, uint64_t id_base)
{
	memset(t, 0, sizeof(*t));
	if (size < 2 || (size & (size - 1)) != 0 || id_base == 0)
		return -EINVAL;
	t->slots = aligned_alloc(64, size * sizeof(*t->slots));
	if (t->slots == NULL)
		return -ENOMEM;
	/* Written now rather than on first use: no page faults on the sending path. */
	memset(t->slots, 0, size * sizeof(*t->slots));
	t->size = size;
	t->mask = size - 1;
	t->id_base = id_base;
	return 0;
}

void
match_free(struct match_table *t)
{
	free(t->slots);
	t->slots = NULL;
}

static bool
match_move(struct match_slot *s, uint64_t *tag, uint64_t seq, enum match_state to)
{
	return __atomic_compare_exchange_n(&s->tag, tag, seq << MATCH_STATE_BITS | to, false,
					   __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}

static void
match_resolved(struct match_table *t)
{
	/* Only the receiver writes it: a plain add, published for the sender. */
	__atomic_store_n(&t->resolved, t->resolved + 1, __ATOMIC_RELEASE);
}

enum match_verdict
match_reply(struct match_table *t, uint64_t id, struct match_slot *out)
{
	uint64_t seq = id - t->id_base;
	uint64_t next = __atomic_load_n(&t->next_seq, __ATOMIC_ACQUIRE);
	struct match_slot *s;
	uint64_t tag;

	if (seq >= next)
		return MATCH_UNKNOWN;
	if (next - seq > t->size)
		return MATCH_STALE;
	s = &t->slots[seq & t->mask];
	tag = __atomic_load_n(&s->tag, __ATOMIC_ACQUIRE);
	if (tag >> MATCH_STATE_BITS != seq)
		return MATCH_STALE;
	out->intended = s->intended;
	out->sent = __atomic_load_n(&s->sent, __ATOMIC_RELAXED);
	out->entry = s->entry;
	out->measured = s->measured;
	out->tag = tag;
	switch (tag & MATCH_STATE_MASK) {
	case MATCH_SENT:
		if (!match_move(s, &tag, seq, MATCH_REPLIED))
			return MATCH_STALE;
		match_resolved(t);
		return MATCH_FIRST;
	case MATCH_EXPIRED:
		if (!match_move(s, &tag, seq, MATCH_LATE))
			return MATCH_STALE;
		return MATCH_LATE_REPLY;
	default:
		return MATCH_DUPLICATE;
	}
}

uint64_t
match_expire(struct match_table *t, uint64_t now, uint64_t timeout)
{
	uint64_t next = __atomic_load_n(&t->next_seq, __ATOMIC_ACQUIRE);
	uint64_t cursor = t->cursor;
	uint64_t expired = 0;

	while (cursor < next) {
		struct match_slot *s = &t->slots[cursor & t->mask];
		uint64_t tag = __atomic_load_n(&s->tag, __ATOMIC_ACQUIRE);

		if ((tag & MATCH_STATE_MASK) == MATCH_SENT) {
			uint64_t sent = __atomic_load_n(&s->sent, __ATOMIC_RELAXED);

			/* Signed: the sender may have stamped it after `now` was read. */
			if ((int64_t)(now - sent) < (int64_t)timeout)
				break;
			if (!match_move(s, &tag, cursor, MATCH_EXPIRED))
				continue;   /* answered meanwhile: look again */
			expired++;
			match_resolved(t);
		}
		cursor++;
	}
	__atomic_store_n(&t->cursor, cursor, __ATOMIC_RELEASE);
	return expired;
}

/* ------------------------------------------------------------------ replies */

static bool
match_key_is(const msgpack_object *k, const char *name, uint32_t len)
{
	return k->type == MSGPACK_OBJECT_STR && k->via.str.size == len &&
	       memcmp(k->via.str.ptr, name, len) == 0;
}

int
match_decode(const uint8_t *payload, uint32_t len, msgpack_zone *zone, struct match_decoded *r)
{
	msgpack_unpack_return ret;
	msgpack_object obj;
	size_t off = 0;
	uint32_t i;

	memset(r, 0, sizeof(*r));
	msgpack_zone_clear(zone);
	/* CONTINUE is a truncated map: as undecodable as garbage. */
	ret = msgpack_unpack((const char *)payload, len, &off, zone, &obj);
	if ((ret != MSGPACK_UNPACK_SUCCESS && ret != MSGPACK_UNPACK_EXTRA_BYTES) ||
	    obj.type != MSGPACK_OBJECT_MAP)
		return -1;
	for (i = 0; i < obj.via.map.size; i++) {
		const msgpack_object *k = &obj.via.map.ptr[i].key;
		const msgpack_object *v = &obj.via.map.ptr[i].val;

		if (match_key_is(k, "id", 2) && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
			r->has_id = true;
			r->id = v->via.u64;
		} else if (match_key_is(k, "status", 6) && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
			r->has_status = true;
			r->status = v->via.u64;
		} else if (match_key_is(k, "error", 5) && v->type == MSGPACK_OBJECT_STR) {
			r->error = v->via.str.ptr;
			r->error_len = v->via.str.size;
		} else if (match_key_is(k, "reason", 6) && v->type == MSGPACK_OBJECT_STR) {
			r->reason = v->via.str.ptr;
			r->reason_len = v->via.str.size;
		} else if (match_key_is(k, "fn_error", 8)) {
			r->fn_error = v->type != MSGPACK_OBJECT_NIL;
		}
	}
	return 0;
}

/* ------------------------------------------------------------------ counts */

unsigned int
match_status_slot(const struct match_decoded *r, bool reflector)
{
	if (reflector)
		return MATCH_STATUS_REFLECTED;
	if (!r->has_status)
		return MATCH_STATUS_NONE;
	if (r->status < 100 || r->status >= MATCH_STATUS_SLOTS)
		return MATCH_STATUS_OTHER;
	return (unsigned int)r->status;
}

const char *
match_status_name(unsigned int slot, char *buf, size_t len)
{
	switch (slot) {
	case MATCH_STATUS_NONE:
		return "none";
	case MATCH_STATUS_REFLECTED:
		return "reflected";
	case MATCH_STATUS_OTHER:
		return "other";
	}
	snprintf(buf, len, "%u", slot);
	return buf;
}

void
match_stats_init(struct match_stats *st)
{
	memset(st, 0, sizeof(*st));
}

void
match_names_add(struct match_names *n, const char *name, uint32_t len)
{
	unsigned int i;

	if (len == 0 || len >= MATCH_NAME_LEN) {
		n->other++;
		return;
	}
	for (i = 0; i < n->nb; i++) {
		if (strncmp(n->name[i], name, len) == 0 && n->name[i][len] == '\0') {
			n->count[i]++;
			return;
		}
	}
	if (n->nb == MATCH_NAMES_MAX) {
		n->other++;
		return;
	}
	memcpy(n->name[n->nb], name, len);
	n->name[n->nb][len] = '\0';
	n->count[n->nb++] = 1;
}

void
match_count(struct match_stats *st, enum match_verdict v, const struct match_slot *slot,
	    const struct match_decoded *r, unsigned int status_slot)
{
	struct match_entry_counts *e;

	switch (v) {
	case MATCH_STALE:
		st->stale++;
		return;
	case MATCH_UNKNOWN:
		st->unknown++;
		return;
	case MATCH_DUPLICATE:
		if (slot->measured)
			st->entries[slot->entry].duplicates++;
		else
			st->warmup_duplicates++;
		return;
	case MATCH_FIRST:
	case MATCH_LATE_REPLY:
		break;
	}
	if (!slot->measured) {
		st->warmup_received++;
		return;
	}
	e = &st->entries[slot->entry];
	e->received++;
	if (v == MATCH_LATE_REPLY)
		e->late++;
	e->by_status[status_slot < MATCH_STATUS_SLOTS ? status_slot : MATCH_STATUS_OTHER]++;
	if (r->fn_error)
		e->fn_errors++;
	if (r->error != NULL)
		match_names_add(&st->errors, r->error, r->error_len);
	if (r->reason != NULL)
		match_names_add(&st->reasons, r->reason, r->reason_len);
}
