/* The asynchronous queue's bytes: log entries, destination records (PROTOCOL.md) and event ids. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "async_record.h"
#include "request.h"
#include "response.h"

#define ASYNC_RECORD_VERSION "1.0"
#define ASYNC_LATEST "$LATEST"

/* Elements of each entry's array, its type included. */
#define ASYNC_ENQUEUE_FIELDS 11
#define ASYNC_PROGRESS_FIELDS 4
#define ASYNC_DONE_FIELDS 2

static const char async_hex[] = "0123456789abcdef";

void
async_event_id_format(const struct async_event_id *id, char out[ASYNC_EVENT_ID_TEXT])
{
	unsigned int i;
	char *p = out;

	for (i = 0; i < sizeof(id->b); i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*p++ = '-';
		*p++ = async_hex[id->b[i] >> 4];
		*p++ = async_hex[id->b[i] & 0x0f];
	}
	*p = '\0';
}

static int
async_hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
async_event_id_parse(const char *text, struct async_event_id *id)
{
	struct async_event_id parsed;
	unsigned int i, pos = 0;
	int hi, lo;

	for (i = 0; i < sizeof(parsed.b); i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10) {
			if (text[pos] != '-')
				return -1;
			pos++;
		}
		hi = async_hex_digit(text[pos]);
		lo = hi < 0 ? -1 : async_hex_digit(text[pos + 1]);
		if (lo < 0)
			return -1;
		parsed.b[i] = (uint8_t)(hi << 4 | lo);
		pos += 2;
	}
	if (text[pos] != '\0')
		return -1;
	*id = parsed;
	return 0;
}

struct async_event *
async_event_alloc(uint32_t event_len)
{
	struct async_event *ev = calloc(1, sizeof(*ev) + event_len);

	if (ev != NULL)
		ev->event_len = event_len;
	return ev;
}

/* Packers return 0 or what their write callback refused with: results are OR-ed together. */
static int
async_pack_str(msgpack_packer *pk, const void *s, size_t len)
{
	return msgpack_pack_str(pk, len) | msgpack_pack_str_body(pk, s, len);
}

static int
async_pack_cstr(msgpack_packer *pk, const char *s)
{
	return async_pack_str(pk, s, strlen(s));
}

static int
async_pack_bin(msgpack_packer *pk, const void *s, size_t len)
{
	return msgpack_pack_bin(pk, len) | msgpack_pack_bin_body(pk, s, len);
}

/* A value that is already MessagePack goes in as the bytes it is; none is nil. */
static int
async_pack_value(msgpack_packer *pk, const uint8_t *v, uint32_t len)
{
	if (v == NULL || len == 0)
		return msgpack_pack_nil(pk);
	return pk->callback(pk->data, (const char *)v, len);
}

static size_t
async_entry_finish(const struct response_buf *rb, int rc)
{
	return rc != 0 || rb->overflow ? 0 : rb->len;
}

static uint32_t
async_cap(size_t cap)
{
	return cap > UINT32_MAX ? UINT32_MAX : (uint32_t)cap;
}

size_t
async_entry_enqueue(const struct async_event *ev, uint8_t *buf, size_t cap)
{
	struct response_buf rb;
	msgpack_packer pk;
	int rc;

	response_buf_init(&rb, &pk, buf, async_cap(cap));
	rc = msgpack_pack_array(&pk, ASYNC_ENQUEUE_FIELDS);
	rc |= msgpack_pack_uint8(&pk, ASYNC_ENTRY_ENQUEUE);
	rc |= async_pack_bin(&pk, ev->id.b, sizeof(ev->id.b));
	rc |= msgpack_pack_uint64(&pk, ev->accepted_ns);
	rc |= msgpack_pack_uint32(&pk, ev->attempts);
	rc |= msgpack_pack_uint32(&pk, ev->throttles);
	rc |= async_pack_cstr(&pk, ev->tenant);
	rc |= async_pack_cstr(&pk, ev->function);
	rc |= async_pack_cstr(&pk, ev->qualifier);
	rc |= async_pack_bin(&pk, ev->key, ev->key_len);
	rc |= async_pack_str(&pk, ev->trace, ev->trace_len);
	rc |= async_pack_value(&pk, ev->event, ev->event_len);
	return async_entry_finish(&rb, rc);
}

size_t
async_entry_progress(const struct async_event_id *id, uint32_t attempts, uint32_t throttles,
		     uint8_t *buf, size_t cap)
{
	struct response_buf rb;
	msgpack_packer pk;
	int rc;

	response_buf_init(&rb, &pk, buf, async_cap(cap));
	rc = msgpack_pack_array(&pk, ASYNC_PROGRESS_FIELDS);
	rc |= msgpack_pack_uint8(&pk, ASYNC_ENTRY_PROGRESS);
	rc |= async_pack_bin(&pk, id->b, sizeof(id->b));
	rc |= msgpack_pack_uint32(&pk, attempts);
	rc |= msgpack_pack_uint32(&pk, throttles);
	return async_entry_finish(&rb, rc);
}

size_t
async_entry_done(const struct async_event_id *id, uint8_t *buf, size_t cap)
{
	struct response_buf rb;
	msgpack_packer pk;
	int rc;

	response_buf_init(&rb, &pk, buf, async_cap(cap));
	rc = msgpack_pack_array(&pk, ASYNC_DONE_FIELDS);
	rc |= msgpack_pack_uint8(&pk, ASYNC_ENTRY_DONE);
	rc |= async_pack_bin(&pk, id->b, sizeof(id->b));
	return async_entry_finish(&rb, rc);
}

/*
 * Decoding reads bytes that may be damaged or hostile. Each value's extent is
 * measured first by request_value_len(), which checks every count against the
 * bytes there are; only then does msgpack-c decode it, so no claimed count
 * can make it allocate more than the input's size warrants.
 */
struct async_reader {
	const uint8_t *p;
	uint32_t len;
	uint32_t off;
	msgpack_zone *zone;
};

/* A value read: msgpack-c's object and the bytes it came from. */
struct async_value {
	msgpack_object obj;
	const uint8_t *at;
	uint32_t len;
};

static uint64_t
async_be(const uint8_t *p, unsigned int n)
{
	uint64_t v = 0;
	unsigned int i;

	for (i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/*
 * An array (want_map false) or map header; *count is its elements (pairs for
 * a map), each of which takes at least one byte of what is left.
 */
static int
async_read_header(struct async_reader *r, bool want_map, uint32_t *count)
{
	const uint8_t *p = r->p + r->off;
	uint32_t left = r->len - r->off;
	uint8_t fix = want_map ? 0x80 : 0x90;
	uint8_t b16 = want_map ? 0xde : 0xdc;
	unsigned int n;
	uint64_t c;

	if (left == 0)
		return -1;
	if ((p[0] & 0xf0) == fix) {
		c = p[0] & 0x0f;
		n = 0;
	} else if (p[0] == b16 || p[0] == b16 + 1) {
		n = p[0] == b16 ? 2 : 4;
		if (left < 1 + n)
			return -1;
		c = async_be(p + 1, n);
	} else {
		return -1;
	}
	left -= 1 + n;
	if (c > left || (want_map && c * 2 > left))
		return -1;
	r->off += 1 + n;
	*count = (uint32_t)c;
	return 0;
}

static int
async_read_value(struct async_reader *r, struct async_value *v)
{
	uint32_t len;
	size_t off = 0;

	if (request_value_len(r->p + r->off, r->len - r->off, &len) < 0)
		return -1;
	v->at = r->p + r->off;
	v->len = len;
	r->off += len;
	if (msgpack_unpack((const char *)v->at, len, &off, r->zone, &v->obj) !=
	    MSGPACK_UNPACK_SUCCESS || off != len)
		return -1;
	return 0;
}

static int
async_read_uint(struct async_reader *r, uint64_t max, uint64_t *out)
{
	struct async_value v;

	if (async_read_value(r, &v) < 0 || v.obj.type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
	    v.obj.via.u64 > max)
		return -1;
	*out = v.obj.via.u64;
	return 0;
}

static int
async_read_u32(struct async_reader *r, uint32_t *out)
{
	uint64_t u;

	if (async_read_uint(r, UINT32_MAX, &u) < 0)
		return -1;
	*out = (uint32_t)u;
	return 0;
}

/*
 * A str (or bin) of at most max bytes. msgpack-c hands back no usable
 * pointer for an empty one, so the bytes are found from the value's end.
 */
static int
async_read_bytes(struct async_reader *r, msgpack_object_type type, uint32_t max,
		 const uint8_t **s, uint32_t *len)
{
	struct async_value v;
	uint32_t size;

	if (async_read_value(r, &v) < 0 || v.obj.type != type)
		return -1;
	size = type == MSGPACK_OBJECT_STR ? v.obj.via.str.size : v.obj.via.bin.size;
	if (size > max)
		return -1;
	*s = v.at + v.len - size;
	*len = size;
	return 0;
}

static int
async_read_id(struct async_reader *r, struct async_event_id *id)
{
	const uint8_t *s;
	uint32_t len;

	if (async_read_bytes(r, MSGPACK_OBJECT_BIN, sizeof(id->b), &s, &len) < 0 ||
	    len != sizeof(id->b))
		return -1;
	memcpy(id->b, s, sizeof(id->b));
	return 0;
}

static int
async_read_name(struct async_reader *r, char dst[CONFIG_NAME_MAX + 1])
{
	const uint8_t *s;
	uint32_t len;

	if (async_read_bytes(r, MSGPACK_OBJECT_STR, CONFIG_NAME_MAX, &s, &len) < 0 ||
	    !request_name_valid((const char *)s, len))
		return -1;
	memcpy(dst, s, len);
	dst[len] = '\0';
	return 0;
}

/* The event last: its size is only known once the fields before it are read. */
static struct async_event *
async_read_enqueue(struct async_reader *r)
{
	struct async_event head = { 0 };
	struct async_value event;
	struct async_event *ev;
	const uint8_t *s;
	uint32_t len;

	if (async_read_id(r, &head.id) < 0 ||
	    async_read_uint(r, UINT64_MAX, &head.accepted_ns) < 0 ||
	    async_read_u32(r, &head.attempts) < 0 ||
	    async_read_u32(r, &head.throttles) < 0 ||
	    async_read_name(r, head.tenant) < 0 ||
	    async_read_name(r, head.function) < 0)
		return NULL;
	if (async_read_bytes(r, MSGPACK_OBJECT_STR, ASYNC_QUALIFIER_MAX, &s, &len) < 0 ||
	    (len > 0 && !request_qualifier_valid((const char *)s, len)))
		return NULL;
	memcpy(head.qualifier, s, len);
	head.qualifier[len] = '\0';
	if (async_read_bytes(r, MSGPACK_OBJECT_BIN, ASYNC_KEY_MAX, &s, &len) < 0)
		return NULL;
	memcpy(head.key, s, len);
	head.key_len = (uint8_t)len;
	if (async_read_bytes(r, MSGPACK_OBJECT_STR, ASYNC_TRACE_MAX, &s, &len) < 0)
		return NULL;
	memcpy(head.trace, s, len);
	head.trace_len = (uint16_t)len;
	if (async_read_value(r, &event) < 0)
		return NULL;
	if (event.obj.type == MSGPACK_OBJECT_NIL)
		event.len = 0;

	ev = async_event_alloc(event.len);
	if (ev == NULL)
		return NULL;
	memcpy(ev, &head, sizeof(head));
	ev->event_len = event.len;
	if (event.len > 0)
		memcpy(ev->event, event.at, event.len);
	return ev;
}

int
async_entry_decode(const uint8_t *p, size_t len, struct async_entry *out)
{
	struct async_reader r = { .p = p, .len = (uint32_t)len };
	struct async_event *ev = NULL;
	struct async_entry e = { 0 };
	msgpack_zone zone;
	uint32_t count;
	uint64_t type;
	int rc = -1;

	if (len == 0 || len > UINT32_MAX || !msgpack_zone_init(&zone, 256))
		return -1;
	r.zone = &zone;
	if (async_read_header(&r, false, &count) < 0 || count == 0 ||
	    async_read_uint(&r, UINT8_MAX, &type) < 0)
		goto out;
	switch (type) {
	case ASYNC_ENTRY_ENQUEUE:
		if (count != ASYNC_ENQUEUE_FIELDS)
			goto out;
		ev = async_read_enqueue(&r);
		if (ev == NULL)
			goto out;
		e.id = ev->id;
		e.event = ev;
		break;
	case ASYNC_ENTRY_PROGRESS:
		if (count != ASYNC_PROGRESS_FIELDS || async_read_id(&r, &e.id) < 0 ||
		    async_read_u32(&r, &e.attempts) < 0 || async_read_u32(&r, &e.throttles) < 0)
			goto out;
		break;
	case ASYNC_ENTRY_DONE:
		if (count != ASYNC_DONE_FIELDS || async_read_id(&r, &e.id) < 0)
			goto out;
		break;
	default:
		goto out;
	}
	if (r.off != r.len)
		goto out;
	e.type = (enum async_entry_type)type;
	*out = e;
	ev = NULL;
	rc = 0;
out:
	free(ev);
	msgpack_zone_destroy(&zone);
	return rc;
}

const char *
async_condition_name(enum async_condition c)
{
	switch (c) {
	case ASYNC_SUCCESS:
		return "Success";
	case ASYNC_RETRIES_EXHAUSTED:
		return "RetriesExhausted";
	case ASYNC_EVENT_AGE_EXCEEDED:
		return "EventAgeExceeded";
	}
	return "Unknown";
}

/* RFC 3339 in UTC with milliseconds: 2026-11-27T09:30:00.250Z. */
static int
async_pack_timestamp(msgpack_packer *pk, uint64_t ns)
{
	time_t secs = (time_t)(ns / 1000000000u);
	char text[64];
	struct tm tm;
	size_t n;

	if (gmtime_r(&secs, &tm) == NULL)
		return -1;
	n = strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%S", &tm);
	if (n == 0)
		return -1;
	snprintf(text + n, sizeof(text) - n, ".%03uZ", (unsigned int)(ns / 1000000u % 1000u));
	return async_pack_cstr(pk, text);
}

/* "name:version": the version that ran, else the one asked for, else $LATEST. */
static int
async_pack_function(msgpack_packer *pk, const struct async_event *ev,
		    const struct async_outcome *out)
{
	const char *version = out->version[0] != '\0' ? out->version :
			      ev->qualifier[0] != '\0' ? ev->qualifier : ASYNC_LATEST;
	size_t name_len = strnlen(ev->function, sizeof(ev->function));
	size_t version_len = strnlen(version, sizeof(out->version));
	char text[sizeof(ev->function) + 1 + sizeof(out->version)];

	memcpy(text, ev->function, name_len);
	text[name_len] = ':';
	memcpy(text + name_len + 1, version, version_len);
	return async_pack_str(pk, text, name_len + 1 + version_len);
}

static int
async_pack_request_context(msgpack_packer *pk, const struct async_event *ev,
			   const struct async_outcome *out)
{
	char id[ASYNC_EVENT_ID_TEXT];
	int rc;

	async_event_id_format(&ev->id, id);
	rc = msgpack_pack_map(pk, 4);
	rc |= async_pack_cstr(pk, "requestId");
	rc |= async_pack_cstr(pk, id);
	rc |= async_pack_cstr(pk, "function");
	rc |= async_pack_function(pk, ev, out);
	rc |= async_pack_cstr(pk, "condition");
	rc |= async_pack_cstr(pk, async_condition_name(out->condition));
	rc |= async_pack_cstr(pk, "approximateInvokeCount");
	rc |= msgpack_pack_uint32(pk, ev->attempts);
	return rc;
}

/* executedVersion is nil when no call ran (an event that aged out while throttled). */
static int
async_pack_response_context(msgpack_packer *pk, const struct async_outcome *out)
{
	int rc;

	rc = msgpack_pack_map(pk, out->fn_error ? 3 : 2);
	rc |= async_pack_cstr(pk, "statusCode");
	rc |= msgpack_pack_uint32(pk, out->status);
	rc |= async_pack_cstr(pk, "executedVersion");
	if (out->version[0] != '\0')
		rc |= async_pack_str(pk, out->version, strnlen(out->version, sizeof(out->version)));
	else
		rc |= msgpack_pack_nil(pk);
	if (out->fn_error) {
		rc |= async_pack_cstr(pk, "functionError");
		rc |= async_pack_cstr(pk, "Unhandled");
	}
	return rc;
}

int
async_record_pack(msgpack_packer *pk, const struct async_event *ev,
		  const struct async_outcome *out)
{
	int rc;

	rc = msgpack_pack_map(pk, 6);
	rc |= async_pack_cstr(pk, "version");
	rc |= async_pack_cstr(pk, ASYNC_RECORD_VERSION);
	rc |= async_pack_cstr(pk, "timestamp");
	rc |= async_pack_timestamp(pk, out->timestamp_ns);
	rc |= async_pack_cstr(pk, "requestContext");
	rc |= async_pack_request_context(pk, ev, out);
	rc |= async_pack_cstr(pk, "requestPayload");
	rc |= async_pack_value(pk, ev->event, ev->event_len);
	rc |= async_pack_cstr(pk, "responseContext");
	rc |= async_pack_response_context(pk, out);
	rc |= async_pack_cstr(pk, "responsePayload");
	rc |= async_pack_value(pk, out->response, out->response_len);
	return rc != 0 ? -1 : 0;
}

/* The function as a request names it, so that a redrive reaches the same qualifier. */
static int
async_pack_stored_function(msgpack_packer *pk, const struct async_event *ev)
{
	char text[sizeof(ev->function) + 1 + sizeof(ev->qualifier)];
	int n;

	if (ev->qualifier[0] == '\0')
		return async_pack_cstr(pk, ev->function);
	n = snprintf(text, sizeof(text), "%s:%s", ev->function, ev->qualifier);
	return async_pack_str(pk, text, (size_t)n);
}

int
async_stored_pack(msgpack_packer *pk, const struct async_event *ev,
		  const struct async_outcome *out)
{
	int rc;

	rc = msgpack_pack_map(pk, 3);
	rc |= async_pack_cstr(pk, "tenant");
	rc |= async_pack_cstr(pk, ev->tenant);
	rc |= async_pack_cstr(pk, "function");
	rc |= async_pack_stored_function(pk, ev);
	rc |= async_pack_cstr(pk, "record");
	rc |= async_record_pack(pk, ev, out);
	return rc != 0 ? -1 : 0;
}

static bool
async_key_is(const msgpack_object *k, const char *name)
{
	size_t len = strlen(name);

	return k->type == MSGPACK_OBJECT_STR && k->via.str.size == len &&
	       memcmp(k->via.str.ptr, name, len) == 0;
}

static const msgpack_object *
async_map_get(const msgpack_object *map, const char *name)
{
	uint32_t i;

	for (i = 0; i < map->via.map.size; i++)
		if (async_key_is(&map->via.map.ptr[i].key, name))
			return &map->via.map.ptr[i].val;
	return NULL;
}

/*
 * A map read by hand, each value decoded on its own. msgpack-c stops at 32
 * levels: a payload may nest 31 (as deep as a request lets an event), so
 * the record, one level above it, decodes whole, but the file's map around
 * that would not. The values' bytes are kept in `at` (one per pair).
 */
static int
async_read_map(struct async_reader *r, msgpack_object *map, struct async_value **at)
{
	struct async_value key, *vals;
	msgpack_object_kv *kv;
	uint32_t count, i;

	if (async_read_header(r, true, &count) < 0)
		return -1;
	kv = msgpack_zone_malloc(r->zone, (count > 0 ? count : 1) * sizeof(*kv));
	vals = msgpack_zone_malloc(r->zone, (count > 0 ? count : 1) * sizeof(*vals));
	if (kv == NULL || vals == NULL)
		return -1;
	for (i = 0; i < count; i++) {
		if (async_read_value(r, &key) < 0 || async_read_value(r, &vals[i]) < 0)
			return -1;
		kv[i].key = key.obj;
		kv[i].val = vals[i].obj;
	}
	map->type = MSGPACK_OBJECT_MAP;
	map->via.map.size = count;
	map->via.map.ptr = kv;
	*at = vals;
	return 0;
}

/* The raw bytes of the value under `name` in a map read by async_read_map(). */
static const struct async_value *
async_map_value(const msgpack_object *map, const struct async_value *vals, const char *name)
{
	uint32_t i;

	for (i = 0; i < map->via.map.size; i++)
		if (async_key_is(&map->via.map.ptr[i].key, name))
			return &vals[i];
	return NULL;
}

/* "name" or "name:qualifier", as async_pack_stored_function() wrote it. */
static int
async_stored_function(const msgpack_object *o, struct async_event *head)
{
	const char *s, *colon;
	uint32_t len, name_len;

	if (o == NULL || o->type != MSGPACK_OBJECT_STR)
		return -1;
	s = o->via.str.ptr;
	len = o->via.str.size;
	colon = len > 0 ? memchr(s, ':', len) : NULL;
	name_len = colon != NULL ? (uint32_t)(colon - s) : len;
	if (!request_name_valid(s, name_len))
		return -1;
	memcpy(head->function, s, name_len);
	head->function[name_len] = '\0';
	if (colon == NULL)
		return 0;
	len -= name_len + 1;
	if (len > ASYNC_QUALIFIER_MAX || !request_qualifier_valid(colon + 1, len))
		return -1;
	memcpy(head->qualifier, colon + 1, len);
	head->qualifier[len] = '\0';
	return 0;
}

static int
async_stored_head(const msgpack_object *stored, const msgpack_object *rec,
		  struct async_event *head)
{
	const msgpack_object *tenant = async_map_get(stored, "tenant");
	const msgpack_object *ctx = async_map_get(rec, "requestContext");
	const msgpack_object *id, *count;
	char text[ASYNC_EVENT_ID_TEXT];

	if (tenant == NULL || tenant->type != MSGPACK_OBJECT_STR ||
	    !request_name_valid(tenant->via.str.ptr, tenant->via.str.size))
		return -1;
	memcpy(head->tenant, tenant->via.str.ptr, tenant->via.str.size);
	head->tenant[tenant->via.str.size] = '\0';
	if (async_stored_function(async_map_get(stored, "function"), head) < 0)
		return -1;
	if (ctx == NULL || ctx->type != MSGPACK_OBJECT_MAP)
		return -1;
	id = async_map_get(ctx, "requestId");
	count = async_map_get(ctx, "approximateInvokeCount");
	if (id == NULL || id->type != MSGPACK_OBJECT_STR || id->via.str.size != ASYNC_EVENT_ID_TEXT - 1)
		return -1;
	memcpy(text, id->via.str.ptr, ASYNC_EVENT_ID_TEXT - 1);
	text[ASYNC_EVENT_ID_TEXT - 1] = '\0';
	if (async_event_id_parse(text, &head->id) < 0)
		return -1;
	if (count == NULL || count->type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
	    count->via.u64 > UINT32_MAX)
		return -1;
	head->attempts = (uint32_t)count->via.u64;
	return 0;
}

struct async_event *
async_stored_event(const uint8_t *p, size_t len, msgpack_zone *zone, msgpack_object *record)
{
	struct async_reader r = { .p = p, .len = (uint32_t)len, .zone = zone };
	struct async_value *stored_vals, *rec_vals;
	const struct async_value *rec_at, *payload;
	struct async_event head = { 0 };
	msgpack_object stored, rec;
	struct async_reader sub;
	struct async_event *ev;
	uint32_t event_len;

	if (len == 0 || len > UINT32_MAX || async_read_map(&r, &stored, &stored_vals) < 0 ||
	    r.off != r.len)
		return NULL;
	/* Read once more by hand, for the bytes of its requestPayload. */
	rec_at = async_map_value(&stored, stored_vals, "record");
	if (rec_at == NULL)
		return NULL;
	sub = (struct async_reader){ .p = rec_at->at, .len = rec_at->len, .zone = zone };
	if (async_read_map(&sub, &rec, &rec_vals) < 0 || async_stored_head(&stored, &rec, &head) < 0)
		return NULL;
	payload = async_map_value(&rec, rec_vals, "requestPayload");
	if (payload == NULL)
		return NULL;
	event_len = payload->obj.type == MSGPACK_OBJECT_NIL ? 0 : payload->len;

	ev = async_event_alloc(event_len);
	if (ev == NULL)
		return NULL;
	memcpy(ev, &head, sizeof(head));
	ev->event_len = event_len;
	if (event_len > 0)
		memcpy(ev->event, payload->at, event_len);
	if (record != NULL)
		*record = rec;
	return ev;
}
