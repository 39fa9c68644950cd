/* Unit tests of async_record: event ids, log entries, and PROTOCOL.md's destination records. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <msgpack.h>

#include "async_record.h"
#include "response.h"

static const struct async_event_id id1 = { {
	0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10,
} };
#define ID1_TEXT "01234567-89ab-cdef-fedc-ba9876543210"

/* 2026-11-27T09:30:00.250Z, with sub-millisecond digits that must not round up. */
#define TS_NS 1795771800250999999ull
#define TS_TEXT "2026-11-27T09:30:00.250Z"

static void
pk_str(msgpack_packer *pk, const char *s)
{
	msgpack_pack_str_with_body(pk, s, strlen(s));
}

/* {"hello": "world", "n": [1, 2, 3]} */
static void
pack_event_value(msgpack_packer *pk)
{
	msgpack_pack_map(pk, 2);
	pk_str(pk, "hello");
	pk_str(pk, "world");
	pk_str(pk, "n");
	msgpack_pack_array(pk, 3);
	msgpack_pack_int(pk, 1);
	msgpack_pack_int(pk, 2);
	msgpack_pack_int(pk, 3);
}

static struct async_event *
make_event(const void *value, uint32_t len)
{
	struct async_event *ev = async_event_alloc(len);

	assert_non_null(ev);
	assert_int_equal(ev->event_len, len);
	ev->id = id1;
	ev->accepted_ns = TS_NS - 5000000000ull;
	ev->attempts = 3;
	ev->throttles = 7;
	strcpy(ev->tenant, "acme");
	strcpy(ev->function, "echo");
	strcpy(ev->qualifier, "prod");
	ev->key_len = 5;
	memcpy(ev->key, "k\0y-1", 5);
	ev->trace_len = 9;
	memcpy(ev->trace, "trace-abc", 9);
	if (len > 0)
		memcpy(ev->event, value, len);
	return ev;
}

/* A sample event with a map for its value; free() it. */
static struct async_event *
sample_event(void)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	struct async_event *ev;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	pack_event_value(&pk);
	ev = make_event(sb.data, (uint32_t)sb.size);
	msgpack_sbuffer_destroy(&sb);
	return ev;
}

static void
assert_events_equal(const struct async_event *a, const struct async_event *b)
{
	assert_memory_equal(a->id.b, b->id.b, sizeof(a->id.b));
	assert_true(a->accepted_ns == b->accepted_ns);
	assert_int_equal(a->attempts, b->attempts);
	assert_int_equal(a->throttles, b->throttles);
	assert_string_equal(a->tenant, b->tenant);
	assert_string_equal(a->function, b->function);
	assert_string_equal(a->qualifier, b->qualifier);
	assert_int_equal(a->key_len, b->key_len);
	assert_memory_equal(a->key, b->key, a->key_len);
	assert_int_equal(a->trace_len, b->trace_len);
	assert_memory_equal(a->trace, b->trace, a->trace_len);
	assert_int_equal(a->event_len, b->event_len);
	if (a->event_len > 0)
		assert_memory_equal(a->event, b->event, a->event_len);
}

/* ---- event ids ---- */

static void
test_id_format(void **state)
{
	char text[ASYNC_EVENT_ID_TEXT];
	struct async_event_id id;

	(void)state;
	async_event_id_format(&id1, text);
	assert_string_equal(text, ID1_TEXT);
	memset(&id, 0, sizeof(id));
	async_event_id_format(&id, text);
	assert_string_equal(text, "00000000-0000-0000-0000-000000000000");
	memset(&id, 0xff, sizeof(id));
	async_event_id_format(&id, text);
	assert_string_equal(text, "ffffffff-ffff-ffff-ffff-ffffffffffff");
}

static void
test_id_parse(void **state)
{
	char text[ASYNC_EVENT_ID_TEXT];
	struct async_event_id id;
	unsigned int i, j;

	(void)state;
	assert_int_equal(async_event_id_parse(ID1_TEXT, &id), 0);
	assert_memory_equal(id.b, id1.b, sizeof(id.b));
	/* Either case. */
	memset(&id, 0, sizeof(id));
	assert_int_equal(async_event_id_parse("01234567-89AB-CDEF-FEDC-BA9876543210", &id), 0);
	assert_memory_equal(id.b, id1.b, sizeof(id.b));
	/* Round trip of ids with every byte value somewhere. */
	for (i = 0; i < 16; i++) {
		struct async_event_id in, out;

		for (j = 0; j < sizeof(in.b); j++)
			in.b[j] = (uint8_t)(i * 16 + j * 17);
		async_event_id_format(&in, text);
		assert_int_equal(async_event_id_parse(text, &out), 0);
		assert_memory_equal(in.b, out.b, sizeof(in.b));
	}
}

static void
test_id_parse_rejects(void **state)
{
	static const char *const bad[] = {
		"",
		"0",
		"01234567-89ab-cdef-fedc-ba987654321",     /* 35 */
		"01234567-89ab-cdef-fedc-ba98765432100",   /* 37 */
		"01234567-89ab-cdef-fedc-ba9876543210 ",
		" 01234567-89ab-cdef-fedc-ba9876543210",
		"0123456789ab-cdef-fedc-ba9876543210--",   /* hyphens moved */
		"01234567089ab-cdef-fedc-ba9876543210",
		"01234567-89ab-cdef-fedc0ba9876543210",
		"01234567_89ab_cdef_fedc_ba9876543210",
		"0123456g-89ab-cdef-fedc-ba9876543210",
		"01234567-89ab-cdef-fedc-ba987654321z",
		"0123456789abcdeffedcba9876543210",        /* no hyphens */
		"01234567-89ab-cdef-fedc-ba9876543210.mp",
		"+1234567-89ab-cdef-fedc-ba9876543210",
	};
	struct async_event_id id = id1;
	unsigned int i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(async_event_id_parse(bad[i], &id), -1);
		/* Nothing written on failure. */
		assert_memory_equal(id.b, id1.b, sizeof(id.b));
	}
}

/* ---- log entries ---- */

static void
test_enqueue_round_trip(void **state)
{
	struct async_event *ev = sample_event();
	struct async_entry e;
	uint8_t buf[1024];
	size_t len;

	(void)state;
	len = async_entry_enqueue(ev, buf, sizeof(buf));
	assert_true(len > 0);
	assert_int_equal(async_entry_decode(buf, len, &e), 0);
	assert_int_equal(e.type, ASYNC_ENTRY_ENQUEUE);
	assert_memory_equal(e.id.b, id1.b, sizeof(e.id.b));
	assert_non_null(e.event);
	assert_events_equal(ev, e.event);
	free(e.event);

	/* An event without value, key, trace or qualifier; the largest counts. */
	free(ev);
	ev = make_event(NULL, 0);
	ev->qualifier[0] = '\0';
	ev->key_len = 0;
	ev->trace_len = 0;
	ev->attempts = UINT32_MAX;
	ev->throttles = UINT32_MAX;
	ev->accepted_ns = UINT64_MAX;
	len = async_entry_enqueue(ev, buf, sizeof(buf));
	assert_true(len > 0);
	assert_int_equal(async_entry_decode(buf, len, &e), 0);
	assert_int_equal(e.type, ASYNC_ENTRY_ENQUEUE);
	assert_events_equal(ev, e.event);
	free(e.event);
	free(ev);
}

/* The longest field values there can be still round trip. */
static void
test_enqueue_limits(void **state)
{
	struct async_event *ev = sample_event();
	struct async_entry e;
	uint8_t buf[2048];
	size_t len;

	(void)state;
	memset(ev->tenant, 'T', CONFIG_NAME_MAX);
	ev->tenant[CONFIG_NAME_MAX] = '\0';
	memset(ev->function, 'f', CONFIG_NAME_MAX);
	ev->function[CONFIG_NAME_MAX] = '\0';
	memset(ev->qualifier, 'q', ASYNC_QUALIFIER_MAX);
	ev->qualifier[ASYNC_QUALIFIER_MAX] = '\0';
	memset(ev->key, 0xab, ASYNC_KEY_MAX);
	ev->key_len = ASYNC_KEY_MAX;
	memset(ev->trace, 'x', ASYNC_TRACE_MAX);
	ev->trace_len = ASYNC_TRACE_MAX;
	len = async_entry_enqueue(ev, buf, sizeof(buf));
	assert_true(len > 0);
	assert_int_equal(async_entry_decode(buf, len, &e), 0);
	assert_events_equal(ev, e.event);
	free(e.event);
	free(ev);
}

static void
test_progress_done_round_trip(void **state)
{
	struct async_entry e;
	uint8_t buf[64];
	size_t len;

	(void)state;
	len = async_entry_progress(&id1, 2, 9, buf, sizeof(buf));
	assert_true(len > 0);
	memset(&e, 0xa5, sizeof(e));
	assert_int_equal(async_entry_decode(buf, len, &e), 0);
	assert_int_equal(e.type, ASYNC_ENTRY_PROGRESS);
	assert_memory_equal(e.id.b, id1.b, sizeof(e.id.b));
	assert_int_equal(e.attempts, 2);
	assert_int_equal(e.throttles, 9);
	assert_null(e.event);

	len = async_entry_progress(&id1, UINT32_MAX, 0, buf, sizeof(buf));
	assert_int_equal(async_entry_decode(buf, len, &e), 0);
	assert_int_equal(e.attempts, UINT32_MAX);
	assert_int_equal(e.throttles, 0);

	len = async_entry_done(&id1, buf, sizeof(buf));
	assert_true(len > 0);
	memset(&e, 0xa5, sizeof(e));
	assert_int_equal(async_entry_decode(buf, len, &e), 0);
	assert_int_equal(e.type, ASYNC_ENTRY_DONE);
	assert_memory_equal(e.id.b, id1.b, sizeof(e.id.b));
	assert_null(e.event);
}

/* Every capacity short of the entry's length is refused, never overrun. */
static void
test_entry_does_not_fit(void **state)
{
	struct async_event *ev = sample_event();
	uint8_t full[1024], buf[1024 + 16];
	size_t len, cap;

	(void)state;
	len = async_entry_enqueue(ev, full, sizeof(full));
	assert_true(len > 0);
	for (cap = 0; cap < len; cap++) {
		memset(buf, 0x5a, sizeof(buf));
		assert_int_equal(async_entry_enqueue(ev, buf, cap), 0);
		assert_int_equal(buf[cap], 0x5a);
	}
	assert_int_equal(async_entry_enqueue(ev, buf, len), len);
	assert_memory_equal(buf, full, len);

	len = async_entry_progress(&id1, 1, 1, full, sizeof(full));
	for (cap = 0; cap < len; cap++)
		assert_int_equal(async_entry_progress(&id1, 1, 1, buf, cap), 0);
	len = async_entry_done(&id1, full, sizeof(full));
	for (cap = 0; cap < len; cap++)
		assert_int_equal(async_entry_done(&id1, buf, cap), 0);
	free(ev);
}

/* Each prefix of a valid entry, and the entry with a byte more, is refused. */
static void
assert_truncations_rejected(const uint8_t *entry, size_t len)
{
	struct async_entry e;
	uint8_t *copy;
	size_t n;

	for (n = 0; n < len; n++) {
		/* A copy of exactly n bytes: a read past them is an ASan report. */
		copy = malloc(n > 0 ? n : 1);
		assert_non_null(copy);
		memcpy(copy, entry, n);
		e.event = NULL;
		assert_int_equal(async_entry_decode(copy, n, &e), -1);
		assert_null(e.event);
		free(copy);
	}
	copy = malloc(len + 1);
	assert_non_null(copy);
	memcpy(copy, entry, len);
	copy[len] = 0xc0;
	assert_int_equal(async_entry_decode(copy, len + 1, &e), -1);
	free(copy);
}

static void
test_decode_truncated(void **state)
{
	struct async_event *ev = sample_event();
	uint8_t buf[1024];
	size_t len;

	(void)state;
	len = async_entry_enqueue(ev, buf, sizeof(buf));
	assert_truncations_rejected(buf, len);
	len = async_entry_progress(&id1, 300, 70000, buf, sizeof(buf));
	assert_truncations_rejected(buf, len);
	len = async_entry_done(&id1, buf, sizeof(buf));
	assert_truncations_rejected(buf, len);
	free(ev);
}

static void
test_decode_garbage(void **state)
{
	static const uint8_t *const bad[] = {
		(const uint8_t *)"\xc0",                        /* nil */
		(const uint8_t *)"\x90",                        /* [] */
		(const uint8_t *)"\x80",                        /* {} */
		(const uint8_t *)"\xc1",                        /* never used */
		(const uint8_t *)"\x91\x03",                    /* DONE without an id */
		(const uint8_t *)"\x92\x03\xc0",                /* DONE with nil */
		(const uint8_t *)"\xdd\xff\xff\xff\xff\x03",    /* array32 claiming 4 G elements */
		(const uint8_t *)"\xdc\xff\xff\x03",            /* array16 claiming 65535 */
		(const uint8_t *)"\x92\x03\xc6\xff\xff\xff\xff",/* bin32 claiming 4 GiB */
		(const uint8_t *)"\x92\xa1\x03\xc4\x10",        /* type as a str */
		(const uint8_t *)"hello world",
	};
	static const size_t lens[] = { 1, 1, 1, 1, 2, 3, 6, 4, 7, 5, 11 };
	struct async_entry e;
	uint8_t noise[256];
	unsigned int i, seed = 12345;
	size_t n;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(async_entry_decode(bad[i], lens[i], &e), -1);
	/* Noise behind a plausible array header: refused or not, it must be read in bounds. */
	for (i = 0; i < 2000; i++) {
		for (n = 0; n < sizeof(noise); n++) {
			seed = seed * 1103515245u + 12345u;
			noise[n] = (uint8_t)(seed >> 16);
		}
		noise[0] = (uint8_t)(0x90 | (i % 16));
		noise[1] = (uint8_t)(1 + i % 3);
		e.event = NULL;
		if (async_entry_decode(noise, 1 + i % sizeof(noise), &e) == 0)
			free(e.event);
	}
}

/* An ENQUEUE written field by field, with one field replaced to be wrong. */
enum field {
	F_TYPE, F_ID, F_ACCEPTED, F_ATTEMPTS, F_THROTTLES, F_TENANT, F_FUNCTION, F_QUALIFIER,
	F_KEY, F_TRACE, F_EVENT, F_COUNT,
};

static void
pack_enqueue_fields(msgpack_packer *pk, int wrong, void (*pack_wrong)(msgpack_packer *),
		    int count)
{
	int f;

	msgpack_pack_array(pk, (size_t)count);
	for (f = 0; f < F_COUNT && f < count; f++) {
		if (f == wrong) {
			pack_wrong(pk);
			continue;
		}
		switch (f) {
		case F_TYPE:
			msgpack_pack_uint8(pk, ASYNC_ENTRY_ENQUEUE);
			break;
		case F_ID:
			msgpack_pack_bin_with_body(pk, id1.b, sizeof(id1.b));
			break;
		case F_ACCEPTED:
		case F_ATTEMPTS:
		case F_THROTTLES:
			msgpack_pack_uint32(pk, 5);
			break;
		case F_TENANT:
			pk_str(pk, "acme");
			break;
		case F_FUNCTION:
			pk_str(pk, "echo");
			break;
		case F_QUALIFIER:
			pk_str(pk, "");
			break;
		case F_KEY:
			msgpack_pack_bin_with_body(pk, "key", 3);
			break;
		case F_TRACE:
			pk_str(pk, "t");
			break;
		case F_EVENT:
			pack_event_value(pk);
			break;
		}
	}
	for (; f < count; f++)
		msgpack_pack_nil(pk);
}

static void w_str(msgpack_packer *pk) { pk_str(pk, "5"); }
static void w_nil(msgpack_packer *pk) { msgpack_pack_nil(pk); }
static void w_neg(msgpack_packer *pk) { msgpack_pack_int64(pk, -1); }
static void w_big(msgpack_packer *pk) { msgpack_pack_uint64(pk, (uint64_t)UINT32_MAX + 1); }
static void w_float(msgpack_packer *pk) { msgpack_pack_double(pk, 1.0); }
static void w_bin15(msgpack_packer *pk) { msgpack_pack_bin_with_body(pk, id1.b, 15); }
static void w_bin17(msgpack_packer *pk) { msgpack_pack_bin_with_body(pk, "0123456789abcdef0", 17); }
static void w_id_text(msgpack_packer *pk) { pk_str(pk, ID1_TEXT); }
static void w_empty(msgpack_packer *pk) { pk_str(pk, ""); }
static void w_bad_name(msgpack_packer *pk) { pk_str(pk, "a/b"); }
static void w_bin_name(msgpack_packer *pk) { msgpack_pack_bin_with_body(pk, "acme", 4); }
static void w_type_9(msgpack_packer *pk) { msgpack_pack_uint8(pk, 9); }
static void w_type_0(msgpack_packer *pk) { msgpack_pack_uint8(pk, 0); }
static void w_array(msgpack_packer *pk) { msgpack_pack_array(pk, 0); }
static void w_key_str(msgpack_packer *pk) { pk_str(pk, "key"); }
static void w_nul(msgpack_packer *pk) { msgpack_pack_str_with_body(pk, "a\0b", 3); }

static void
w_long_name(msgpack_packer *pk)
{
	char s[CONFIG_NAME_MAX + 2];

	memset(s, 'n', CONFIG_NAME_MAX + 1);
	s[CONFIG_NAME_MAX + 1] = '\0';
	pk_str(pk, s);
}

static void
w_long_qualifier(msgpack_packer *pk)
{
	char s[ASYNC_QUALIFIER_MAX + 2];

	memset(s, 'q', ASYNC_QUALIFIER_MAX + 1);
	s[ASYNC_QUALIFIER_MAX + 1] = '\0';
	pk_str(pk, s);
}

static void
w_long_key(msgpack_packer *pk)
{
	uint8_t k[ASYNC_KEY_MAX + 1] = { 0 };

	msgpack_pack_bin_with_body(pk, k, sizeof(k));
}

static void
w_long_trace(msgpack_packer *pk)
{
	char t[ASYNC_TRACE_MAX + 1];

	memset(t, 't', sizeof(t));
	msgpack_pack_str_with_body(pk, t, sizeof(t));
}

/* An event value that claims more than there is inside a well-sized entry. */
static void
w_event_short(msgpack_packer *pk)
{
	msgpack_pack_array(pk, 3);
	msgpack_pack_int(pk, 1);
}

static void
test_decode_wrong_types(void **state)
{
	static const struct {
		int field;
		void (*pack)(msgpack_packer *);
	} cases[] = {
		{ F_TYPE, w_str }, { F_TYPE, w_type_9 }, { F_TYPE, w_type_0 }, { F_TYPE, w_neg },
		{ F_TYPE, w_nil },
		{ F_ID, w_bin15 }, { F_ID, w_bin17 }, { F_ID, w_id_text }, { F_ID, w_nil },
		{ F_ACCEPTED, w_str }, { F_ACCEPTED, w_neg }, { F_ACCEPTED, w_float },
		{ F_ATTEMPTS, w_big }, { F_ATTEMPTS, w_neg }, { F_ATTEMPTS, w_nil },
		{ F_THROTTLES, w_big }, { F_THROTTLES, w_str },
		{ F_TENANT, w_empty }, { F_TENANT, w_bad_name }, { F_TENANT, w_long_name },
		{ F_TENANT, w_bin_name }, { F_TENANT, w_nil },
		{ F_FUNCTION, w_empty }, { F_FUNCTION, w_bad_name }, { F_FUNCTION, w_long_name },
		{ F_FUNCTION, w_array },
		{ F_QUALIFIER, w_long_qualifier }, { F_QUALIFIER, w_nul }, { F_QUALIFIER, w_nil },
		{ F_KEY, w_long_key }, { F_KEY, w_key_str }, { F_KEY, w_nil },
		{ F_TRACE, w_long_trace }, { F_TRACE, w_nil }, { F_TRACE, w_bin_name },
		{ F_EVENT, w_event_short },
	};
	msgpack_sbuffer sb;
	msgpack_packer pk;
	struct async_entry e;
	unsigned int i;

	(void)state;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);

	/* The builder itself is right: unchanged, it decodes. */
	pack_enqueue_fields(&pk, -1, NULL, F_COUNT);
	assert_int_equal(async_entry_decode((const uint8_t *)sb.data, sb.size, &e), 0);
	free(e.event);

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		msgpack_sbuffer_clear(&sb);
		pack_enqueue_fields(&pk, cases[i].field, cases[i].pack, F_COUNT);
		e.event = NULL;
		if (async_entry_decode((const uint8_t *)sb.data, sb.size, &e) != -1)
			fail_msg("case %u (field %d) was accepted", i, cases[i].field);
		assert_null(e.event);
	}
	/* One element too few, one too many. */
	msgpack_sbuffer_clear(&sb);
	pack_enqueue_fields(&pk, -1, NULL, F_COUNT - 1);
	assert_int_equal(async_entry_decode((const uint8_t *)sb.data, sb.size, &e), -1);
	msgpack_sbuffer_clear(&sb);
	pack_enqueue_fields(&pk, -1, NULL, F_COUNT + 1);
	assert_int_equal(async_entry_decode((const uint8_t *)sb.data, sb.size, &e), -1);
	/* A map where the array belongs. */
	msgpack_sbuffer_clear(&sb);
	msgpack_pack_map(&pk, 1);
	msgpack_pack_uint8(&pk, ASYNC_ENTRY_DONE);
	msgpack_pack_bin_with_body(&pk, id1.b, sizeof(id1.b));
	assert_int_equal(async_entry_decode((const uint8_t *)sb.data, sb.size, &e), -1);
	/* PROGRESS and DONE with the wrong counts or types. */
	msgpack_sbuffer_clear(&sb);
	msgpack_pack_array(&pk, 3);
	msgpack_pack_uint8(&pk, ASYNC_ENTRY_PROGRESS);
	msgpack_pack_bin_with_body(&pk, id1.b, sizeof(id1.b));
	msgpack_pack_uint8(&pk, 1);
	assert_int_equal(async_entry_decode((const uint8_t *)sb.data, sb.size, &e), -1);
	msgpack_sbuffer_clear(&sb);
	msgpack_pack_array(&pk, 4);
	msgpack_pack_uint8(&pk, ASYNC_ENTRY_PROGRESS);
	msgpack_pack_bin_with_body(&pk, id1.b, sizeof(id1.b));
	msgpack_pack_uint8(&pk, 1);
	msgpack_pack_int64(&pk, -2);
	assert_int_equal(async_entry_decode((const uint8_t *)sb.data, sb.size, &e), -1);
	msgpack_sbuffer_clear(&sb);
	msgpack_pack_array(&pk, 3);
	msgpack_pack_uint8(&pk, ASYNC_ENTRY_DONE);
	msgpack_pack_bin_with_body(&pk, id1.b, sizeof(id1.b));
	msgpack_pack_nil(&pk);
	assert_int_equal(async_entry_decode((const uint8_t *)sb.data, sb.size, &e), -1);
	msgpack_sbuffer_destroy(&sb);
}

/* ---- destination records ---- */

static const msgpack_object *
map_get(const msgpack_object *map, const char *key)
{
	uint32_t i;

	assert_int_equal(map->type, MSGPACK_OBJECT_MAP);
	for (i = 0; i < map->via.map.size; i++) {
		const msgpack_object *k = &map->via.map.ptr[i].key;

		assert_int_equal(k->type, MSGPACK_OBJECT_STR);
		if (k->via.str.size == strlen(key) && memcmp(k->via.str.ptr, key, k->via.str.size) == 0)
			return &map->via.map.ptr[i].val;
	}
	return NULL;
}

/* The map's keys, exactly these, in this order. */
static void
assert_keys(const msgpack_object *map, const char *const *keys, uint32_t n)
{
	uint32_t i;

	assert_int_equal(map->type, MSGPACK_OBJECT_MAP);
	assert_int_equal(map->via.map.size, n);
	for (i = 0; i < n; i++) {
		const msgpack_object *k = &map->via.map.ptr[i].key;

		assert_int_equal(k->type, MSGPACK_OBJECT_STR);
		assert_int_equal(k->via.str.size, strlen(keys[i]));
		assert_memory_equal(k->via.str.ptr, keys[i], k->via.str.size);
	}
}

static void
assert_str(const msgpack_object *o, const char *s)
{
	assert_non_null(o);
	assert_int_equal(o->type, MSGPACK_OBJECT_STR);
	assert_int_equal(o->via.str.size, strlen(s));
	assert_memory_equal(o->via.str.ptr, s, o->via.str.size);
}

static void
assert_uint(const msgpack_object *o, uint64_t v)
{
	assert_non_null(o);
	assert_int_equal(o->type, MSGPACK_OBJECT_POSITIVE_INTEGER);
	assert_true(o->via.u64 == v);
}

/* The object is the MessagePack value `bytes` hold. */
static void
assert_value(const msgpack_object *o, const void *bytes, size_t len)
{
	msgpack_unpacked want;
	size_t off = 0;

	assert_non_null(o);
	msgpack_unpacked_init(&want);
	assert_int_equal(msgpack_unpack_next(&want, bytes, len, &off), MSGPACK_UNPACK_SUCCESS);
	assert_int_equal(off, len);
	assert_true(msgpack_object_equal(*o, want.data));
	msgpack_unpacked_destroy(&want);
}

struct record_case {
	enum async_condition condition;
	const char *condition_name;
	uint32_t status;
	const char *version;       /* executed */
	const char *qualifier;     /* asked for */
	bool fn_error;
	bool with_event;
	bool with_response;
	const char *function;      /* requestContext.function expected */
};

static void
check_record(const struct record_case *c)
{
	static const char *const record_keys[] = {
		"version", "timestamp", "requestContext", "requestPayload", "responseContext",
		"responsePayload",
	};
	static const char *const request_keys[] = {
		"requestId", "function", "condition", "approximateInvokeCount",
	};
	static const char *const response_keys[] = {
		"statusCode", "executedVersion", "functionError",
	};
	static const uint8_t response[] = { 0x82, 0xa9, 'e', 'r', 'r', 'o', 'r', 'T', 'y', 'p', 'e',
		0xa1, 'E', 0xac, 'e', 'r', 'r', 'o', 'r', 'M', 'e', 's', 's', 'a', 'g', 'e', 0xa1, 'm' };
	struct async_event *ev = sample_event();
	struct async_outcome out = {
		.condition = c->condition,
		.timestamp_ns = TS_NS,
		.status = c->status,
		.fn_error = c->fn_error,
		.response = c->with_response ? response : NULL,
		.response_len = c->with_response ? sizeof(response) : 0,
	};
	const msgpack_object *rec, *ctx, *rctx;
	msgpack_unpacked u;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	size_t off = 0;

	strcpy(out.version, c->version);
	strcpy(ev->qualifier, c->qualifier);
	if (!c->with_event)
		ev->event_len = 0;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	assert_int_equal(async_record_pack(&pk, ev, &out), 0);
	msgpack_unpacked_init(&u);
	assert_int_equal(msgpack_unpack_next(&u, sb.data, sb.size, &off), MSGPACK_UNPACK_SUCCESS);
	assert_int_equal(off, sb.size);
	rec = &u.data;

	assert_keys(rec, record_keys, 6);
	assert_str(map_get(rec, "version"), "1.0");
	assert_str(map_get(rec, "timestamp"), TS_TEXT);

	ctx = map_get(rec, "requestContext");
	assert_keys(ctx, request_keys, 4);
	assert_str(map_get(ctx, "requestId"), ID1_TEXT);
	assert_str(map_get(ctx, "function"), c->function);
	assert_str(map_get(ctx, "condition"), c->condition_name);
	assert_string_equal(async_condition_name(c->condition), c->condition_name);
	assert_uint(map_get(ctx, "approximateInvokeCount"), 3);

	if (c->with_event)
		assert_value(map_get(rec, "requestPayload"), ev->event, ev->event_len);
	else
		assert_int_equal(map_get(rec, "requestPayload")->type, MSGPACK_OBJECT_NIL);

	rctx = map_get(rec, "responseContext");
	assert_keys(rctx, response_keys, c->fn_error ? 3 : 2);
	assert_uint(map_get(rctx, "statusCode"), c->status);
	if (c->version[0] != '\0')
		assert_str(map_get(rctx, "executedVersion"), c->version);
	else
		assert_int_equal(map_get(rctx, "executedVersion")->type, MSGPACK_OBJECT_NIL);
	if (c->fn_error)
		assert_str(map_get(rctx, "functionError"), "Unhandled");
	else
		assert_null(map_get(rctx, "functionError"));

	if (c->with_response)
		assert_value(map_get(rec, "responsePayload"), response, sizeof(response));
	else
		assert_int_equal(map_get(rec, "responsePayload")->type, MSGPACK_OBJECT_NIL);

	msgpack_unpacked_destroy(&u);
	msgpack_sbuffer_destroy(&sb);
	free(ev);
}

static void
test_record_table(void **state)
{
	static const struct record_case cases[] = {
		/* Succeeded on version 3, asked for by alias. */
		{ ASYNC_SUCCESS, "Success", 200, "3", "prod", false, true, true, "echo:3" },
		/* Failed every try: the error object is the response. */
		{ ASYNC_RETRIES_EXHAUSTED, "RetriesExhausted", 200, "7", "", true, true, true,
		  "echo:7" },
		/* Aged out while throttled: no call ran, the qualifier names the function. */
		{ ASYNC_EVENT_AGE_EXCEEDED, "EventAgeExceeded", 0, "", "prod", false, true, false,
		  "echo:prod" },
		/* Nothing asked for, nothing ran: $LATEST; no event (nil). */
		{ ASYNC_EVENT_AGE_EXCEEDED, "EventAgeExceeded", 429, "", "", false, false, false,
		  "echo:$LATEST" },
		/* A success without a body. */
		{ ASYNC_SUCCESS, "Success", 200, "$LATEST", "", false, false, false,
		  "echo:$LATEST" },
		/* Failed with a body-less error. */
		{ ASYNC_RETRIES_EXHAUSTED, "RetriesExhausted", 200, "1", "", true, true, false,
		  "echo:1" },
	};
	unsigned int i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_record(&cases[i]);
}

/* Milliseconds are cut, not rounded; the date is UTC whatever TZ says. */
static void
test_record_timestamp(void **state)
{
	static const struct {
		uint64_t ns;
		const char *text;
	} cases[] = {
		{ 0, "1970-01-01T00:00:00.000Z" },
		{ 946684799007000000ull, "1999-12-31T23:59:59.007Z" },
		{ 946684799999999999ull, "1999-12-31T23:59:59.999Z" },
		{ TS_NS, TS_TEXT },
	};
	struct async_event *ev = sample_event();
	struct async_outcome out = { .condition = ASYNC_SUCCESS };
	msgpack_unpacked u;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	unsigned int i;

	(void)state;
	setenv("TZ", "America/Los_Angeles", 1);
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_unpacked_init(&u);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		msgpack_sbuffer_clear(&sb);
		out.timestamp_ns = cases[i].ns;
		assert_int_equal(async_record_pack(&pk, ev, &out), 0);
		assert_int_equal(msgpack_unpack_next(&u, sb.data, sb.size, NULL),
				 MSGPACK_UNPACK_SUCCESS);
		assert_str(map_get(&u.data, "timestamp"), cases[i].text);
	}
	msgpack_unpacked_destroy(&u);
	msgpack_sbuffer_destroy(&sb);
	free(ev);
}

/* A packer that runs out of room makes the pack fail, at any point. */
static void
test_record_does_not_fit(void **state)
{
	struct async_event *ev = sample_event();
	struct async_outcome out = { .condition = ASYNC_SUCCESS, .status = 200, .version = "1" };
	struct response_buf rb;
	msgpack_packer pk;
	uint8_t buf[1024];
	uint32_t cap, full;

	(void)state;
	response_buf_init(&rb, &pk, buf, sizeof(buf));
	assert_int_equal(async_stored_pack(&pk, ev, &out), 0);
	full = rb.len;
	for (cap = 0; cap < full; cap++) {
		response_buf_init(&rb, &pk, buf, cap);
		assert_int_equal(async_stored_pack(&pk, ev, &out), -1);
	}
	response_buf_init(&rb, &pk, buf, sizeof(buf));
	assert_int_equal(async_record_pack(&pk, ev, &out), 0);
	full = rb.len;
	for (cap = 0; cap < full; cap++) {
		response_buf_init(&rb, &pk, buf, cap);
		assert_int_equal(async_record_pack(&pk, ev, &out), -1);
	}
	free(ev);
}

/* ---- destination files ---- */

static uint8_t *
stored_bytes(const struct async_event *ev, const struct async_outcome *out, size_t *len)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	assert_int_equal(async_stored_pack(&pk, ev, out), 0);
	*len = sb.size;
	return (uint8_t *)msgpack_sbuffer_release(&sb);
}

static void
test_stored_round_trip(void **state)
{
	static const char *const stored_keys[] = { "tenant", "function", "record" };
	struct async_event *ev = sample_event(), *back;
	struct async_outcome out = {
		.condition = ASYNC_RETRIES_EXHAUSTED, .timestamp_ns = TS_NS, .status = 200,
		.version = "4", .fn_error = true,
	};
	msgpack_object record;
	msgpack_unpacked u;
	msgpack_zone *zone;
	uint8_t *bytes;
	size_t len;

	(void)state;
	bytes = stored_bytes(ev, &out, &len);
	msgpack_unpacked_init(&u);
	assert_int_equal(msgpack_unpack_next(&u, (const char *)bytes, len, NULL),
			 MSGPACK_UNPACK_SUCCESS);
	assert_keys(&u.data, stored_keys, 3);
	assert_str(map_get(&u.data, "tenant"), "acme");
	assert_str(map_get(&u.data, "function"), "echo:prod");

	zone = msgpack_zone_new(1024);
	assert_non_null(zone);
	back = async_stored_event(bytes, len, zone, &record);
	assert_non_null(back);
	assert_memory_equal(back->id.b, id1.b, sizeof(id1.b));
	assert_string_equal(back->tenant, "acme");
	assert_string_equal(back->function, "echo");
	assert_string_equal(back->qualifier, "prod");
	assert_int_equal(back->attempts, 3);
	assert_true(back->accepted_ns == 0);
	assert_int_equal(back->throttles, 0);
	assert_int_equal(back->key_len, 0);
	assert_int_equal(back->trace_len, 0);
	assert_int_equal(back->event_len, ev->event_len);
	assert_memory_equal(back->event, ev->event, ev->event_len);
	/* The record handed back is the record that was written. */
	assert_true(msgpack_object_equal(record, *map_get(&u.data, "record")));
	free(back);
	msgpack_unpacked_destroy(&u);
	free(bytes);

	/* No qualifier, no event; record may be NULL. */
	free(ev);
	ev = make_event(NULL, 0);
	ev->qualifier[0] = '\0';
	bytes = stored_bytes(ev, &out, &len);
	back = async_stored_event(bytes, len, zone, NULL);
	assert_non_null(back);
	assert_string_equal(back->function, "echo");
	assert_string_equal(back->qualifier, "");
	assert_int_equal(back->event_len, 0);
	free(back);
	free(bytes);
	msgpack_zone_free(zone);
	free(ev);
}

/* An event as deep as a request lets one be (31 levels) still reads back from its file. */
static void
test_stored_deep_event(void **state)
{
	struct async_outcome out = { .condition = ASYNC_RETRIES_EXHAUSTED, .status = 200 };
	uint8_t value[32], *bytes, entry[256];
	struct async_event *ev, *back;
	msgpack_object record;
	struct async_entry e;
	msgpack_zone *zone;
	size_t len;

	(void)state;
	memset(value, 0x91, 31);   /* 31 nested one-element arrays around a 0 */
	value[31] = 0x00;
	ev = make_event(value, sizeof(value));
	bytes = stored_bytes(ev, &out, &len);
	/* Whole, the file nests 33 levels: more than msgpack-c decodes in one go. */
	{
		msgpack_unpacked u;

		msgpack_unpacked_init(&u);
		assert_int_not_equal(msgpack_unpack_next(&u, (const char *)bytes, len, NULL),
				     MSGPACK_UNPACK_SUCCESS);
		msgpack_unpacked_destroy(&u);
	}
	zone = msgpack_zone_new(1024);
	back = async_stored_event(bytes, len, zone, &record);
	assert_non_null(back);
	assert_int_equal(back->event_len, sizeof(value));
	assert_memory_equal(back->event, value, sizeof(value));
	assert_int_equal(record.type, MSGPACK_OBJECT_MAP);
	free(back);
	free(bytes);

	len = async_entry_enqueue(ev, entry, sizeof(entry));
	assert_int_equal(async_entry_decode(entry, len, &e), 0);
	assert_events_equal(ev, e.event);
	free(e.event);
	msgpack_zone_free(zone);
	free(ev);
}

static void
test_stored_rejects(void **state)
{
	struct async_event *ev = sample_event();
	struct async_outcome out = { .condition = ASYNC_SUCCESS, .status = 200, .version = "1" };
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_zone *zone;
	uint8_t *bytes, *copy;
	size_t len, n;

	(void)state;
	zone = msgpack_zone_new(1024);
	bytes = stored_bytes(ev, &out, &len);
	for (n = 0; n < len; n++) {
		copy = malloc(n > 0 ? n : 1);
		memcpy(copy, bytes, n);
		assert_null(async_stored_event(copy, n, zone, NULL));
		free(copy);
	}
	copy = malloc(len + 1);
	memcpy(copy, bytes, len);
	copy[len] = 0xc0;
	assert_null(async_stored_event(copy, len + 1, zone, NULL));
	free(copy);
	free(bytes);

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	/* A log entry is not a destination file. */
	{
		uint8_t entry[512];

		len = async_entry_enqueue(ev, entry, sizeof(entry));
		assert_null(async_stored_event(entry, len, zone, NULL));
	}
	/* Without tenant; with a bad function; the record not a map; a bad request id. */
	msgpack_pack_map(&pk, 2);
	pk_str(&pk, "function");
	pk_str(&pk, "echo");
	pk_str(&pk, "record");
	assert_int_equal(async_record_pack(&pk, ev, &out), 0);
	assert_null(async_stored_event((const uint8_t *)sb.data, sb.size, zone, NULL));

	msgpack_sbuffer_clear(&sb);
	msgpack_pack_map(&pk, 3);
	pk_str(&pk, "tenant");
	pk_str(&pk, "acme");
	pk_str(&pk, "function");
	pk_str(&pk, "echo:");
	pk_str(&pk, "record");
	assert_int_equal(async_record_pack(&pk, ev, &out), 0);
	assert_null(async_stored_event((const uint8_t *)sb.data, sb.size, zone, NULL));

	msgpack_sbuffer_clear(&sb);
	msgpack_pack_map(&pk, 3);
	pk_str(&pk, "tenant");
	pk_str(&pk, "acme");
	pk_str(&pk, "function");
	pk_str(&pk, "echo");
	pk_str(&pk, "record");
	msgpack_pack_array(&pk, 0);
	assert_null(async_stored_event((const uint8_t *)sb.data, sb.size, zone, NULL));

	msgpack_sbuffer_clear(&sb);
	msgpack_pack_map(&pk, 3);
	pk_str(&pk, "tenant");
	pk_str(&pk, "acme");
	pk_str(&pk, "function");
	pk_str(&pk, "echo");
	pk_str(&pk, "record");
	msgpack_pack_map(&pk, 2);
	pk_str(&pk, "requestContext");
	msgpack_pack_map(&pk, 2);
	pk_str(&pk, "requestId");
	pk_str(&pk, "not-an-id");
	pk_str(&pk, "approximateInvokeCount");
	msgpack_pack_uint8(&pk, 1);
	pk_str(&pk, "requestPayload");
	msgpack_pack_nil(&pk);
	assert_null(async_stored_event((const uint8_t *)sb.data, sb.size, zone, NULL));

	/* A map32 header claiming 4 G pairs. */
	assert_null(async_stored_event((const uint8_t *)"\xdf\xff\xff\xff\xff\xa1t", 7, zone, NULL));
	msgpack_sbuffer_destroy(&sb);
	msgpack_zone_free(zone);
	free(ev);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_id_format),
		cmocka_unit_test(test_id_parse),
		cmocka_unit_test(test_id_parse_rejects),
		cmocka_unit_test(test_enqueue_round_trip),
		cmocka_unit_test(test_enqueue_limits),
		cmocka_unit_test(test_progress_done_round_trip),
		cmocka_unit_test(test_entry_does_not_fit),
		cmocka_unit_test(test_decode_truncated),
		cmocka_unit_test(test_decode_garbage),
		cmocka_unit_test(test_decode_wrong_types),
		cmocka_unit_test(test_record_table),
		cmocka_unit_test(test_record_timestamp),
		cmocka_unit_test(test_record_does_not_fit),
		cmocka_unit_test(test_stored_round_trip),
		cmocka_unit_test(test_stored_deep_event),
		cmocka_unit_test(test_stored_rejects),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
