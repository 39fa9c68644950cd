/* Unit tests of request_parse against every row of PROTOCOL.md's request table. */
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <msgpack.h>

#include "request.h"

static struct request req;
static struct request_error err;

/* A request under construction. */
struct pkt {
	msgpack_sbuffer sb;
	msgpack_packer pk;
};

static void
pkt_init(struct pkt *p)
{
	msgpack_sbuffer_init(&p->sb);
	msgpack_packer_init(&p->pk, &p->sb, msgpack_sbuffer_write);
}

static void
pkt_free(struct pkt *p)
{
	msgpack_sbuffer_destroy(&p->sb);
}

static void
pk_str(msgpack_packer *pk, const char *s)
{
	msgpack_pack_str_with_body(pk, s, strlen(s));
}

static void
pk_kv_str(msgpack_packer *pk, const char *k, const char *v)
{
	pk_str(pk, k);
	pk_str(pk, v);
}

static void
pk_kv_uint(msgpack_packer *pk, const char *k, uint64_t v)
{
	pk_str(pk, k);
	msgpack_pack_uint64(pk, v);
}

/* {id: 7, fn: "echo", ...}: the caller packs `extra` more pairs. */
static void
pkt_begin(struct pkt *p, uint32_t extra)
{
	pkt_init(p);
	msgpack_pack_map(&p->pk, 2 + extra);
	pk_kv_uint(&p->pk, "id", 7);
	pk_kv_str(&p->pk, "fn", "echo");
}

static int
parse_bytes(const void *buf, size_t len)
{
	int rc;

	/* Whatever an earlier parse left must not leak into this one. */
	memset(&req, 0xa5, sizeof(req));
	memset(&err, 0xa5, sizeof(err));
	rc = request_parse(buf, (uint32_t)len, &req, &err);
	if (rc == 0)
		assert_string_equal(err.message, "");
	else
		assert_true(strlen(err.message) > 0);
	return rc;
}

static int
parse_pkt(struct pkt *p)
{
	return parse_bytes(p->sb.data, p->sb.size);
}

static void
expect_ok(struct pkt *p)
{
	int rc = parse_pkt(p);

	if (rc != 0)
		print_error("unexpected rejection: %s\n", err.message);
	assert_int_equal(rc, 0);
}

static void
expect_reject(struct pkt *p, const char *message)
{
	assert_int_equal(parse_pkt(p), -1);
	assert_string_equal(err.message, message);
}

static void
expect_reject_containing(struct pkt *p, const char *needle)
{
	assert_int_equal(parse_pkt(p), -1);
	if (strstr(err.message, needle) == NULL)
		fail_msg("message '%s' does not contain '%s'", err.message, needle);
}

static void
assert_span_str(struct request_span s, const void *payload, const char *want)
{
	assert_int_equal(s.len, strlen(want));
	assert_memory_equal((const uint8_t *)payload + s.off, want, s.len);
}

static void
test_minimal_defaults(void **state)
{
	struct pkt p;

	(void)state;
	pkt_begin(&p, 0);
	expect_ok(&p);
	assert_true(req.has_id);
	assert_int_equal(req.id, 7);
	assert_span_str(req.fn, p.sb.data, "echo");
	assert_int_equal(req.qualifier.len, 0);
	assert_int_equal(req.type, REQUEST_RESPONSE);
	assert_int_equal(req.tenant.len, 0);      /* "default" */
	assert_int_equal(req.event.len, 0);       /* nil */
	assert_int_equal(req.ctx.len, 0);
	assert_int_equal(req.trace.len, 0);
	assert_false(req.log_tail);
	assert_false(req.has_timeout);
	pkt_free(&p);
}

/* Every field present; each span must cover exactly the bytes the client sent. */
static void
test_all_fields_and_spans(void **state)
{
	struct pkt p, ev, cx;

	(void)state;
	pkt_init(&ev);
	msgpack_pack_map(&ev.pk, 2);
	pk_kv_str(&ev.pk, "hello", "world");
	pk_str(&ev.pk, "list");
	msgpack_pack_array(&ev.pk, 3);
	msgpack_pack_int(&ev.pk, -5);
	msgpack_pack_double(&ev.pk, 2.5);
	msgpack_pack_bin_with_body(&ev.pk, "\x00\x01", 2);

	pkt_init(&cx);
	msgpack_pack_array(&cx.pk, 2);
	pk_str(&cx.pk, "client");
	msgpack_pack_nil(&cx.pk);

	pkt_init(&p);
	msgpack_pack_map(&p.pk, 10);
	pk_kv_uint(&p.pk, "v", 1);
	pk_kv_uint(&p.pk, "id", UINT64_MAX);
	pk_kv_str(&p.pk, "fn", "resize-image_2:prod");
	pk_kv_str(&p.pk, "type", "Event");
	pk_kv_str(&p.pk, "tenant", "acme-corp_1");
	pk_str(&p.pk, "event");
	msgpack_sbuffer_write(&p.sb, ev.sb.data, ev.sb.size);
	pk_kv_uint(&p.pk, "timeout_ms", 2500);
	pk_str(&p.pk, "ctx");
	msgpack_sbuffer_write(&p.sb, cx.sb.data, cx.sb.size);
	pk_kv_str(&p.pk, "log", "Tail");
	pk_kv_str(&p.pk, "trace", "Root=1-5759e988-bd862e3fe1be46a994272793");

	expect_ok(&p);
	assert_true(req.has_id);
	assert_int_equal(req.id, UINT64_MAX);
	assert_span_str(req.fn, p.sb.data, "resize-image_2");
	assert_span_str(req.qualifier, p.sb.data, "prod");
	assert_int_equal(req.type, REQUEST_EVENT);
	assert_span_str(req.tenant, p.sb.data, "acme-corp_1");
	assert_int_equal(req.event.len, ev.sb.size);
	assert_memory_equal(p.sb.data + req.event.off, ev.sb.data, ev.sb.size);
	assert_true(req.has_timeout);
	assert_int_equal(req.timeout_ms, 2500);
	assert_int_equal(req.ctx.len, cx.sb.size);
	assert_memory_equal(p.sb.data + req.ctx.off, cx.sb.data, cx.sb.size);
	assert_true(req.log_tail);
	assert_span_str(req.trace, p.sb.data, "Root=1-5759e988-bd862e3fe1be46a994272793");
	pkt_free(&p);
	pkt_free(&ev);
	pkt_free(&cx);
}

/* PROTOCOL.md's first example, byte for byte as a Python client packs it. */
static void
test_protocol_example(void **state)
{
	static const uint8_t payload[] = {
		0x83, 0xa2, 'i', 'd', 0x07, 0xa2, 'f', 'n', 0xa4, 'e', 'c', 'h', 'o',
		0xa5, 'e', 'v', 'e', 'n', 't', 0x81, 0xa5, 'h', 'e', 'l', 'l', 'o',
		0xa5, 'w', 'o', 'r', 'l', 'd',
	};

	(void)state;
	assert_int_equal(parse_bytes(payload, sizeof(payload)), 0);
	assert_int_equal(req.id, 7);
	assert_int_equal(req.fn.off, 9);
	assert_int_equal(req.fn.len, 4);
	assert_int_equal(req.event.off, 19);
	assert_int_equal(req.event.len, sizeof(payload) - 19);
}

static void
test_version(void **state)
{
	struct pkt p;

	(void)state;
	pkt_begin(&p, 1);
	pk_kv_uint(&p.pk, "v", 1);
	expect_ok(&p);
	pkt_free(&p);

	pkt_begin(&p, 1);
	pk_kv_uint(&p.pk, "v", 2);
	expect_reject(&p, "unsupported protocol version 2 (expected 1)");
	assert_true(req.has_id);          /* still echoed */
	assert_int_equal(req.id, 7);
	pkt_free(&p);

	pkt_begin(&p, 1);
	pk_kv_uint(&p.pk, "v", 0);
	expect_reject(&p, "unsupported protocol version 0 (expected 1)");
	pkt_free(&p);

	/* The version decides what the other fields mean, so its error wins over theirs. */
	pkt_init(&p);
	msgpack_pack_map(&p.pk, 3);
	pk_kv_str(&p.pk, "type", "Nope");
	pk_kv_uint(&p.pk, "v", 3);
	pk_kv_uint(&p.pk, "id", 1);
	expect_reject(&p, "unsupported protocol version 3 (expected 1)");
	assert_int_equal(req.id, 1);
	pkt_free(&p);
}

static void
test_missing_required(void **state)
{
	struct pkt p;

	(void)state;
	pkt_init(&p);
	msgpack_pack_map(&p.pk, 1);
	pk_kv_str(&p.pk, "fn", "echo");
	expect_reject(&p, "missing required field: id");
	assert_false(req.has_id);
	assert_int_equal(req.id, 0);
	pkt_free(&p);

	pkt_init(&p);
	msgpack_pack_map(&p.pk, 1);
	pk_kv_uint(&p.pk, "id", 3);
	expect_reject(&p, "missing required field: fn");
	assert_true(req.has_id);
	assert_int_equal(req.id, 3);
	pkt_free(&p);

	pkt_init(&p);
	msgpack_pack_map(&p.pk, 0);
	expect_reject(&p, "missing required field: id");
	pkt_free(&p);
}

/* Values of every MessagePack type, to feed each typed field everything it must refuse. */
enum kind { K_NIL, K_TRUE, K_NEG, K_FLOAT, K_UINT, K_STR, K_BIN, K_ARRAY, K_MAP, K_EXT, K_MAX };

static void
pk_kind(msgpack_packer *pk, enum kind k)
{
	switch (k) {
	case K_NIL: msgpack_pack_nil(pk); break;
	case K_TRUE: msgpack_pack_true(pk); break;
	case K_NEG: msgpack_pack_int64(pk, -1); break;
	case K_FLOAT: msgpack_pack_double(pk, 1.0); break;
	case K_UINT: msgpack_pack_uint64(pk, 1); break;
	case K_STR: pk_str(pk, "Tail"); break;
	case K_BIN: msgpack_pack_bin_with_body(pk, "echo", 4); break;
	case K_ARRAY: msgpack_pack_array(pk, 1); msgpack_pack_uint64(pk, 1); break;
	case K_MAP: msgpack_pack_map(pk, 1); pk_kv_uint(pk, "id", 1); break;
	case K_EXT: msgpack_pack_ext_with_body(pk, "ab", 2, 5); break;
	case K_MAX: break;
	}
}

static void
test_ill_typed_fields(void **state)
{
	static const struct {
		const char *field;
		enum kind good;
		const char *message;
	} fields[] = {
		{ "v", K_UINT, "field 'v' must be an unsigned integer" },
		{ "id", K_UINT, "field 'id' must be an unsigned integer" },
		{ "fn", K_STR, "field 'fn' must be a string" },
		{ "type", K_STR, "field 'type' must be a string" },
		{ "tenant", K_STR, "field 'tenant' must be a string" },
		{ "timeout_ms", K_UINT, "field 'timeout_ms' must be an unsigned integer" },
		{ "log", K_STR, "field 'log' must be a string" },
		{ "trace", K_STR, "field 'trace' must be a string" },
	};
	unsigned int f;
	int k;

	(void)state;
	for (f = 0; f < sizeof(fields) / sizeof(fields[0]); f++) {
		for (k = 0; k < K_MAX; k++) {
			struct pkt p;

			if ((enum kind)k == fields[f].good)
				continue;
			pkt_init(&p);
			if (strcmp(fields[f].field, "id") == 0) {
				msgpack_pack_map(&p.pk, 2);
				pk_kv_str(&p.pk, "fn", "echo");
			} else if (strcmp(fields[f].field, "fn") == 0) {
				msgpack_pack_map(&p.pk, 2);
				pk_kv_uint(&p.pk, "id", 7);
			} else {
				msgpack_pack_map(&p.pk, 3);
				pk_kv_uint(&p.pk, "id", 7);
				pk_kv_str(&p.pk, "fn", "echo");
			}
			pk_str(&p.pk, fields[f].field);
			pk_kind(&p.pk, (enum kind)k);
			expect_reject(&p, fields[f].message);
			pkt_free(&p);
		}
	}
}

static void
test_id_values(void **state)
{
	static const uint8_t int8_id[] = {
		0x82, 0xa2, 'i', 'd', 0xd0, 0x05, 0xa2, 'f', 'n', 0xa1, 'f',
	};
	static const uint8_t neg_int8_id[] = {
		0x82, 0xa2, 'i', 'd', 0xd0, 0xfb, 0xa2, 'f', 'n', 0xa1, 'f',
	};
	struct pkt p;

	(void)state;
	pkt_init(&p);
	msgpack_pack_map(&p.pk, 2);
	pk_kv_uint(&p.pk, "id", 0);
	pk_kv_str(&p.pk, "fn", "echo");
	expect_ok(&p);
	assert_true(req.has_id);
	assert_int_equal(req.id, 0);
	pkt_free(&p);

	/* A non-negative value in a signed format is still that unsigned value, as msgpack-c reads it. */
	assert_int_equal(parse_bytes(int8_id, sizeof(int8_id)), 0);
	assert_int_equal(req.id, 5);
	assert_int_equal(parse_bytes(neg_int8_id, sizeof(neg_int8_id)), -1);
	assert_string_equal(err.message, "field 'id' must be an unsigned integer");
	assert_false(req.has_id);

	/* A later field error still echoes an id read before or after it. */
	pkt_init(&p);
	msgpack_pack_map(&p.pk, 2);
	pk_kv_uint(&p.pk, "fn", 12);
	pk_kv_uint(&p.pk, "id", 99);
	expect_reject(&p, "field 'fn' must be a string");
	assert_true(req.has_id);
	assert_int_equal(req.id, 99);
	pkt_free(&p);

	/* Duplicate keys: the last one wins. */
	pkt_init(&p);
	msgpack_pack_map(&p.pk, 3);
	pk_kv_uint(&p.pk, "id", 1);
	pk_kv_str(&p.pk, "fn", "echo");
	pk_kv_uint(&p.pk, "id", 2);
	expect_ok(&p);
	assert_int_equal(req.id, 2);
	pkt_free(&p);
}

static void
check_fn(const char *fn, const char *name, const char *qualifier)
{
	struct pkt p;

	pkt_init(&p);
	msgpack_pack_map(&p.pk, 2);
	pk_kv_uint(&p.pk, "id", 1);
	pk_kv_str(&p.pk, "fn", fn);
	if (name == NULL) {
		expect_reject_containing(&p, "'fn'");
	} else {
		expect_ok(&p);
		assert_span_str(req.fn, p.sb.data, name);
		assert_span_str(req.qualifier, p.sb.data, qualifier);
	}
	pkt_free(&p);
}

static void
test_fn_and_qualifier(void **state)
{
	char name64[65], name65[66], fn[200];

	(void)state;
	memset(name64, 'a', 64);
	name64[64] = '\0';
	memset(name65, 'b', 65);
	name65[65] = '\0';

	check_fn("echo", "echo", "");
	check_fn("A-z_09", "A-z_09", "");
	check_fn(name64, name64, "");
	check_fn("echo:3", "echo", "3");
	check_fn("echo:$LATEST", "echo", "$LATEST");
	check_fn("echo:prod-v2_x", "echo", "prod-v2_x");
	snprintf(fn, sizeof(fn), "echo:%s", name64);
	check_fn(fn, "echo", name64);

	check_fn("", NULL, NULL);
	check_fn(name65, NULL, NULL);
	check_fn("ec.ho", NULL, NULL);
	check_fn("ec ho", NULL, NULL);
	check_fn("echo/1", NULL, NULL);
	check_fn("\xc3\xa9t\xc3\xa9", NULL, NULL);
	check_fn(":3", NULL, NULL);
	check_fn("echo:", NULL, NULL);
	check_fn("echo:1:2", NULL, NULL);       /* split at the first ':' */
	check_fn("echo:v 1", NULL, NULL);
	snprintf(fn, sizeof(fn), "echo:%s", name65);
	check_fn(fn, NULL, NULL);
}

static void
test_fn_messages(void **state)
{
	struct pkt p;

	(void)state;
	pkt_init(&p);
	msgpack_pack_map(&p.pk, 2);
	pk_kv_uint(&p.pk, "id", 1);
	pk_kv_str(&p.pk, "fn", "bad.name");
	expect_reject(&p, "field 'fn' must be 1..64 characters of [A-Za-z0-9_-], optionally ':qualifier'");
	pkt_free(&p);

	pkt_init(&p);
	msgpack_pack_map(&p.pk, 2);
	pk_kv_uint(&p.pk, "id", 1);
	pk_kv_str(&p.pk, "fn", "echo:!");
	expect_reject(&p, "qualifier of field 'fn' must be 1..64 characters of [A-Za-z0-9_$-]");
	pkt_free(&p);
}

static void
test_type(void **state)
{
	static const struct {
		const char *s;
		enum request_type t;
	} ok[] = {
		{ "RequestResponse", REQUEST_RESPONSE },
		{ "Event", REQUEST_EVENT },
		{ "DryRun", REQUEST_DRYRUN },
	};
	struct pkt p;
	unsigned int i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		pkt_begin(&p, 1);
		pk_kv_str(&p.pk, "type", ok[i].s);
		expect_ok(&p);
		assert_int_equal(req.type, ok[i].t);
		assert_string_equal(request_type_name(ok[i].t), ok[i].s);
		pkt_free(&p);
	}

	pkt_begin(&p, 1);
	pk_kv_str(&p.pk, "type", "dryrun");
	expect_reject(&p, "field 'type' must be RequestResponse, Event or DryRun, not 'dryrun'");
	pkt_free(&p);

	pkt_begin(&p, 1);
	pk_kv_str(&p.pk, "type", "");
	expect_reject(&p, "field 'type' must be RequestResponse, Event or DryRun, not ''");
	pkt_free(&p);

	/* Client bytes in a message are bounded and made printable. */
	pkt_begin(&p, 1);
	pk_kv_str(&p.pk, "type", "Ev\n\xff""ent-that-goes-on-and-on-and-on-and-on-and-on");
	expect_reject(&p, "field 'type' must be RequestResponse, Event or DryRun, "
		      "not 'Ev??ent-that-goes-on-and-on-and-...'");
	pkt_free(&p);
}

static void
check_tenant(const char *tenant, bool valid)
{
	struct pkt p;

	pkt_begin(&p, 1);
	pk_kv_str(&p.pk, "tenant", tenant);
	if (valid) {
		expect_ok(&p);
		assert_span_str(req.tenant, p.sb.data, tenant);
	} else {
		expect_reject(&p, "field 'tenant' must be 1..64 characters of [A-Za-z0-9_-]");
	}
	pkt_free(&p);
}

static void
test_tenant(void **state)
{
	char t64[65], t65[66];

	(void)state;
	memset(t64, 'T', 64);
	t64[64] = '\0';
	memset(t65, 'T', 65);
	t65[65] = '\0';
	check_tenant("acme", true);
	check_tenant("a_b-9", true);
	check_tenant(t64, true);
	check_tenant("default", true);
	check_tenant("", false);
	check_tenant(t65, false);
	check_tenant("acme:prod", false);
	check_tenant("a b", false);
}

static void
test_timeout(void **state)
{
	struct pkt p;

	(void)state;
	pkt_begin(&p, 1);
	pk_kv_uint(&p.pk, "timeout_ms", 1);
	expect_ok(&p);
	assert_true(req.has_timeout);
	assert_int_equal(req.timeout_ms, 1);
	pkt_free(&p);

	pkt_begin(&p, 1);
	pk_kv_uint(&p.pk, "timeout_ms", UINT64_MAX);
	expect_ok(&p);
	assert_int_equal(req.timeout_ms, UINT64_MAX);
	pkt_free(&p);

	pkt_begin(&p, 1);
	pk_kv_uint(&p.pk, "timeout_ms", 0);
	expect_reject(&p, "field 'timeout_ms' must be at least 1");
	assert_false(req.has_timeout);
	pkt_free(&p);
}

static void
test_log(void **state)
{
	static const char *const bad[] = { "tail", "TAIL", "", "Tail ", "Full" };
	struct pkt p;
	unsigned int i;

	(void)state;
	pkt_begin(&p, 1);
	pk_kv_str(&p.pk, "log", "Tail");
	expect_ok(&p);
	assert_true(req.log_tail);
	pkt_free(&p);

	pkt_begin(&p, 1);
	pk_kv_str(&p.pk, "log", "None");
	expect_ok(&p);
	assert_false(req.log_tail);
	pkt_free(&p);

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		pkt_begin(&p, 1);
		pk_kv_str(&p.pk, "log", bad[i]);
		expect_reject(&p, "field 'log' must be Tail or None");
		pkt_free(&p);
	}
}

static void
test_trace(void **state)
{
	char t[258];
	struct pkt p;

	(void)state;
	memset(t, 'x', sizeof(t));
	t[256] = '\0';
	pkt_begin(&p, 1);
	pk_kv_str(&p.pk, "trace", t);
	expect_ok(&p);
	assert_span_str(req.trace, p.sb.data, t);
	pkt_free(&p);

	t[256] = 'x';
	t[257] = '\0';
	pkt_begin(&p, 1);
	pk_kv_str(&p.pk, "trace", t);
	expect_reject(&p, "field 'trace' must be at most 256 bytes");
	pkt_free(&p);
}

/* Strings in every str format, empty ones included, are located from their own header. */
static void
test_str_formats(void **state)
{
	/* {id: 1, fn: str8 "echo", tenant: str16 "acme", trace: str8 ""} */
	static const uint8_t wide[] = {
		0x84, 0xa2, 'i', 'd', 0x01,
		0xa2, 'f', 'n', 0xd9, 0x04, 'e', 'c', 'h', 'o',
		0xa6, 't', 'e', 'n', 'a', 'n', 't', 0xda, 0x00, 0x04, 'a', 'c', 'm', 'e',
		0xa5, 't', 'r', 'a', 'c', 'e', 0xd9, 0x00,
	};
	/* {trace: "", id: 1, fn: str32 "f"} */
	static const uint8_t empty_first[] = {
		0x83, 0xa5, 't', 'r', 'a', 'c', 'e', 0xa0, 0xa2, 'i', 'd', 0x01,
		0xa2, 'f', 'n', 0xdb, 0x00, 0x00, 0x00, 0x01, 'f',
	};

	(void)state;
	assert_int_equal(parse_bytes(wide, sizeof(wide)), 0);
	assert_int_equal(req.fn.off, 10);
	assert_span_str(req.fn, wide, "echo");
	assert_int_equal(req.tenant.off, 24);
	assert_span_str(req.tenant, wide, "acme");
	assert_int_equal(req.trace.len, 0);
	assert_int_equal(req.trace.off, sizeof(wide));

	assert_int_equal(parse_bytes(empty_first, sizeof(empty_first)), 0);
	assert_int_equal(req.trace.len, 0);
	assert_int_equal(req.trace.off, 8);
	assert_int_equal(req.fn.off, sizeof(empty_first) - 1);
	assert_span_str(req.fn, empty_first, "f");
}

/* A key is the same key in any str format: the decoder's fast match of fixstr keys must not miss the others. */
static void
test_wide_keys(void **state)
{
	/* {str8 "id": 9, str16 "fn": "f", str32 "type": "Event", str8 "idempotency_key": "k"} */
	static const uint8_t wide[] = {
		0x84, 0xd9, 0x02, 'i', 'd', 0x09,
		0xda, 0x00, 0x02, 'f', 'n', 0xa1, 'f',
		0xdb, 0x00, 0x00, 0x00, 0x04, 't', 'y', 'p', 'e', 0xa5, 'E', 'v', 'e', 'n', 't',
		0xd9, 0x0f, 'i', 'd', 'e', 'm', 'p', 'o', 't', 'e', 'n', 'c', 'y', '_', 'k', 'e', 'y',
		0xa1, 'k',
	};
	/* {id: 1, fn: "f", "v"}: a known key that ends the datagram, with no value after it */
	static const uint8_t key_last[] = {
		0x83, 0xa2, 'i', 'd', 0x01, 0xa2, 'f', 'n', 0xa1, 'f', 0xa1, 'v',
	};

	(void)state;
	assert_int_equal(parse_bytes(wide, sizeof(wide)), 0);
	assert_true(req.has_id);
	assert_int_equal(req.id, 9);
	assert_span_str(req.fn, wide, "f");
	assert_int_equal(req.type, REQUEST_EVENT);
	assert_span_str(req.idempotency_key, wide, "k");

	assert_int_equal(parse_bytes(key_last, sizeof(key_last)), -1);
	assert_string_equal(err.message, "field 'v' is truncated");
	assert_int_equal(parse_bytes(key_last, sizeof(key_last) - 1), -1);
	assert_string_equal(err.message, "a request key is truncated");
}

/* `event` and `ctx` take any value; the span is the value's raw bytes. */
static void
test_event_and_ctx_any_type(void **state)
{
	int k;

	(void)state;
	for (k = 0; k < K_MAX; k++) {
		struct pkt p, v;

		pkt_init(&v);
		pk_kind(&v.pk, (enum kind)k);

		pkt_begin(&p, 2);
		pk_str(&p.pk, "event");
		pk_kind(&p.pk, (enum kind)k);
		pk_str(&p.pk, "ctx");
		pk_kind(&p.pk, (enum kind)k);
		expect_ok(&p);
		assert_int_equal(req.event.len, v.sb.size);
		assert_memory_equal(p.sb.data + req.event.off, v.sb.data, v.sb.size);
		assert_int_equal(req.ctx.len, v.sb.size);
		assert_memory_equal(p.sb.data + req.ctx.off, v.sb.data, v.sb.size);
		assert_true(req.ctx.off > req.event.off);
		pkt_free(&p);
		pkt_free(&v);
	}
}

static void
test_unknown_keys_ignored(void **state)
{
	struct pkt p;
	int k;

	(void)state;
	pkt_begin(&p, K_MAX + 2);
	for (k = 0; k < K_MAX; k++) {
		char key[16];

		snprintf(key, sizeof(key), "future%d", k);
		pk_str(&p.pk, key);
		pk_kind(&p.pk, (enum kind)k);
	}
	/* Nested containers holding the names of real fields must not be mistaken for them. */
	pk_str(&p.pk, "nested");
	msgpack_pack_map(&p.pk, 2);
	pk_kv_str(&p.pk, "fn", "other");
	pk_str(&p.pk, "deeper");
	msgpack_pack_array(&p.pk, 2);
	msgpack_pack_map(&p.pk, 1);
	pk_kv_uint(&p.pk, "id", 42);
	msgpack_pack_array(&p.pk, 0);
	pk_str(&p.pk, "");
	msgpack_pack_map(&p.pk, 0);
	expect_ok(&p);
	assert_int_equal(req.id, 7);
	assert_span_str(req.fn, p.sb.data, "echo");
	pkt_free(&p);
}

static void
test_not_a_map(void **state)
{
	static const uint8_t array[] = { 0x93, 0x01, 0x02, 0x03 };   /* [1, 2, 3] */
	static const uint8_t str[] = { 0xa2, 'h', 'i' };
	static const uint8_t num[] = { 0x07 };
	static const uint8_t nil[] = { 0xc0 };
	static const uint8_t never[] = { 0xc1 };
	static const uint8_t json[] = "{\"id\": 1, \"fn\": \"echo\"}";

	(void)state;
	assert_int_equal(parse_bytes(array, sizeof(array)), -1);
	assert_string_equal(err.message, "request must be a map");
	assert_false(req.has_id);
	assert_int_equal(req.id, 0);
	assert_int_equal(parse_bytes(str, sizeof(str)), -1);
	assert_string_equal(err.message, "request must be a map");
	assert_int_equal(parse_bytes(num, sizeof(num)), -1);
	assert_string_equal(err.message, "request must be a map");
	assert_int_equal(parse_bytes(nil, sizeof(nil)), -1);
	assert_string_equal(err.message, "request must be a map");
	assert_int_equal(parse_bytes(never, sizeof(never)), -1);
	assert_string_equal(err.message, "request must be a map");
	assert_int_equal(parse_bytes(json, sizeof(json) - 1), -1);
	assert_string_equal(err.message, "request must be a map");
	assert_int_equal(parse_bytes("", 0), -1);
	assert_string_equal(err.message, "request must be a map");
}

static void
test_non_string_keys(void **state)
{
	struct pkt p;

	(void)state;
	pkt_begin(&p, 1);
	msgpack_pack_uint64(&p.pk, 1);
	msgpack_pack_uint64(&p.pk, 2);
	expect_reject(&p, "request keys must be strings");
	assert_int_equal(req.id, 7);
	pkt_free(&p);

	pkt_begin(&p, 1);
	msgpack_pack_bin_with_body(&p.pk, "fn", 2);
	pk_str(&p.pk, "echo");
	expect_reject(&p, "request keys must be strings");
	pkt_free(&p);

	/* A container as a key is skipped whole, and a later id is still read. */
	pkt_init(&p);
	msgpack_pack_map(&p.pk, 3);
	msgpack_pack_array(&p.pk, 1);
	pk_str(&p.pk, "id");
	msgpack_pack_nil(&p.pk);
	pk_kv_uint(&p.pk, "id", 5);
	pk_kv_str(&p.pk, "fn", "echo");
	expect_reject(&p, "request keys must be strings");
	assert_true(req.has_id);
	assert_int_equal(req.id, 5);
	pkt_free(&p);
}

static void
test_trailing_bytes(void **state)
{
	struct pkt p;

	(void)state;
	pkt_begin(&p, 0);
	msgpack_pack_nil(&p.pk);
	expect_reject(&p, "trailing bytes after the request map");
	pkt_free(&p);

	/* Two whole requests in one datagram are not one request. */
	pkt_begin(&p, 0);
	msgpack_pack_map(&p.pk, 2);
	pk_kv_uint(&p.pk, "id", 8);
	pk_kv_str(&p.pk, "fn", "echo");
	expect_reject(&p, "trailing bytes after the request map");
	pkt_free(&p);
}

/* Every proper prefix of a good request is refused as truncated. */
static void
test_truncated_everywhere(void **state)
{
	struct pkt p;
	size_t cut;
	uint16_t event_at;

	(void)state;
	pkt_begin(&p, 6);
	pk_kv_str(&p.pk, "tenant", "acme");
	pk_str(&p.pk, "event");
	msgpack_pack_map(&p.pk, 2);
	pk_kv_str(&p.pk, "k", "a string long enough for str8 .....................");
	pk_str(&p.pk, "n");
	msgpack_pack_array(&p.pk, 4);
	msgpack_pack_uint64(&p.pk, 70000);
	msgpack_pack_int64(&p.pk, -70000);
	msgpack_pack_double(&p.pk, 0.5);
	msgpack_pack_ext_with_body(&p.pk, "abcd", 4, 1);
	pk_kv_uint(&p.pk, "timeout_ms", 300);
	pk_str(&p.pk, "ctx");
	msgpack_pack_bin_with_body(&p.pk, "0123456789", 10);
	pk_kv_str(&p.pk, "log", "Tail");
	pk_kv_str(&p.pk, "trace", "t-1");
	expect_ok(&p);
	event_at = req.event.off;

	assert_int_equal(parse_bytes(p.sb.data, 0), -1);
	assert_string_equal(err.message, "request must be a map");
	for (cut = 1; cut < p.sb.size; cut++) {
		assert_int_equal(parse_bytes(p.sb.data, cut), -1);
		if (strstr(err.message, "truncated") == NULL)
			fail_msg("cut at %zu: '%s'", cut, err.message);
	}

	/* A cut inside a value names its field. */
	assert_int_equal(parse_bytes(p.sb.data, event_at + 3), -1);
	assert_string_equal(err.message, "field 'event' is truncated");
	pkt_free(&p);
}

static void
pack_nested_event(struct pkt *p, unsigned int depth, bool maps)
{
	unsigned int i;

	pkt_begin(p, 1);
	pk_str(&p->pk, "event");
	for (i = 0; i < depth; i++) {
		if (maps) {
			msgpack_pack_map(&p->pk, 1);
			pk_str(&p->pk, "k");
		} else {
			msgpack_pack_array(&p->pk, 1);
		}
	}
	msgpack_pack_nil(&p->pk);
}

static int
msgpack_c_verdict(const struct pkt *p)
{
	msgpack_zone z;
	msgpack_object obj;
	size_t off = 0;
	int rc;

	assert_true(msgpack_zone_init(&z, 4096));
	rc = msgpack_unpack(p->sb.data, p->sb.size, &off, &z, &obj);
	msgpack_zone_destroy(&z);
	return rc;
}

/* The nesting limit is msgpack-c's: what is accepted here decodes there, and the reverse. */
static void
test_nesting_limit(void **state)
{
	struct pkt p;

	(void)state;
	/* The request map is level 1, so the event may open 31 more. */
	pack_nested_event(&p, 31, false);
	expect_ok(&p);
	assert_int_equal(msgpack_c_verdict(&p), MSGPACK_UNPACK_SUCCESS);
	pkt_free(&p);

	pack_nested_event(&p, 32, false);
	expect_reject(&p, "field 'event' nests deeper than 32 levels");
	assert_int_not_equal(msgpack_c_verdict(&p), MSGPACK_UNPACK_SUCCESS);
	pkt_free(&p);

	pack_nested_event(&p, 31, true);
	expect_ok(&p);
	pkt_free(&p);

	pack_nested_event(&p, 32, true);
	expect_reject(&p, "field 'event' nests deeper than 32 levels");
	pkt_free(&p);

	/* An empty container at the limit still counts, as in msgpack-c. */
	pack_nested_event(&p, 31, false);
	p.sb.data[p.sb.size - 1] = (char)0x90;
	expect_reject(&p, "field 'event' nests deeper than 32 levels");
	assert_int_not_equal(msgpack_c_verdict(&p), MSGPACK_UNPACK_SUCCESS);
	pkt_free(&p);
}

static void
test_deep_nesting_does_not_crash(void **state)
{
	struct pkt p;
	uint8_t *top;

	(void)state;
	pack_nested_event(&p, 10000, false);
	expect_reject(&p, "field 'event' nests deeper than 32 levels");
	pkt_free(&p);

	pack_nested_event(&p, 10000, true);
	expect_reject(&p, "field 'event' nests deeper than 32 levels");
	pkt_free(&p);

	/* Under an unknown key, and inside a key. */
	pkt_begin(&p, 1);
	pk_str(&p.pk, "x");
	for (int i = 0; i < 10000; i++)
		msgpack_pack_array(&p.pk, 1);
	msgpack_pack_nil(&p.pk);
	expect_reject(&p, "field 'x' nests deeper than 32 levels");
	pkt_free(&p);

	pkt_begin(&p, 1);
	for (int i = 0; i < 10000; i++)
		msgpack_pack_array(&p.pk, 1);
	msgpack_pack_nil(&p.pk);
	msgpack_pack_nil(&p.pk);
	expect_reject(&p, "a request key nests deeper than 32 levels");
	pkt_free(&p);

	/* 10000 nested arrays as the whole request: not a map, and no stack to exhaust. */
	top = malloc(10001);
	assert_non_null(top);
	memset(top, 0x91, 10000);
	top[10000] = 0xc0;
	assert_int_equal(parse_bytes(top, 10001), -1);
	assert_string_equal(err.message, "request must be a map");
	free(top);
}

static void
test_huge_length_claims(void **state)
{
	/* {id: 1, fn: "f", event: <header claiming 4 GiB, then 3 bytes>} */
	static const uint8_t prefix[] = {
		0x83, 0xa2, 'i', 'd', 0x01, 0xa2, 'f', 'n', 0xa1, 'f',
		0xa5, 'e', 'v', 'e', 'n', 't',
	};
	static const uint8_t claims[][5] = {
		{ 0xdb, 0xff, 0xff, 0xff, 0xff },   /* str32 */
		{ 0xc6, 0xff, 0xff, 0xff, 0xff },   /* bin32 */
		{ 0xc9, 0xff, 0xff, 0xff, 0xff },   /* ext32: size + 1 wraps in 32 bits */
		{ 0xdd, 0xff, 0xff, 0xff, 0xff },   /* array32 */
		{ 0xdf, 0xff, 0xff, 0xff, 0xff },   /* map32 */
		{ 0xdd, 0x00, 0x01, 0x00, 0x00 },   /* array32, 65536 elements */
	};
	static const uint8_t huge_map[] = { 0xdf, 0xff, 0xff, 0xff, 0xff, 0xa2, 'i', 'd', 0x01 };
	static const uint8_t huge_key[] = { 0x81, 0xdb, 0x80, 0x00, 0x00, 0x00, 'i', 'd' };
	uint8_t buf[sizeof(prefix) + 5 + 3];
	uint8_t *big;
	unsigned int i;

	(void)state;
	for (i = 0; i < sizeof(claims) / sizeof(claims[0]); i++) {
		memcpy(buf, prefix, sizeof(prefix));
		memcpy(buf + sizeof(prefix), claims[i], 5);
		memcpy(buf + sizeof(prefix) + 5, "abc", 3);
		assert_int_equal(parse_bytes(buf, sizeof(buf)), -1);
		assert_string_equal(err.message, "field 'event' is truncated");
		assert_true(req.has_id);
		assert_int_equal(req.id, 1);
	}
	assert_int_equal(parse_bytes(huge_map, sizeof(huge_map)), -1);
	assert_string_equal(err.message, "request is truncated");
	assert_int_equal(parse_bytes(huge_key, sizeof(huge_key)), -1);
	assert_string_equal(err.message, "a request key is truncated");

	/* More than a 16-bit span can address. */
	big = calloc(1, 70000);
	assert_non_null(big);
	big[0] = 0x80;
	assert_int_equal(parse_bytes(big, 70000), -1);
	assert_string_equal(err.message, "request is larger than 65535 bytes");
	free(big);
}

static void
test_malformed_byte(void **state)
{
	struct pkt p;

	(void)state;
	pkt_begin(&p, 1);
	pk_str(&p.pk, "event");
	msgpack_pack_array(&p.pk, 2);
	msgpack_pack_nil(&p.pk);
	msgpack_pack_nil(&p.pk);
	p.sb.data[p.sb.size - 1] = (char)0xc1;
	expect_reject(&p, "field 'event' is not valid MessagePack");
	assert_int_equal(req.id, 7);
	pkt_free(&p);
}

/* request_value_len(), the async queue's reader: one value's extent, checked as a request's values are. */
static void
test_value_len(void **state)
{
	static const uint8_t scalar_then_more[] = { 0xcd, 0x01, 0x02, 0xc0 };
	static const uint8_t map[] = { 0x81, 0xa1, 'k', 0x92, 0xc3, 0xd4, 0x01, 0x02, 0xff };
	static const uint8_t claims[][6] = {
		{ 0xdd, 0xff, 0xff, 0xff, 0xff, 0x01 },     /* array32 of 4 G items */
		{ 0xdf, 0x00, 0x00, 0x00, 0x03, 0x01 },     /* map32 of 3 pairs in one byte */
		{ 0xdb, 0x00, 0x00, 0x00, 0x02, 'a' },      /* str32 one byte short */
		{ 0xc9, 0xff, 0xff, 0xff, 0xff, 0x01 },     /* ext32 whose size + 1 wraps in 32 bits */
	};
	uint8_t deep[34];
	uint32_t n = 0;
	unsigned int i;

	(void)state;
	assert_int_equal(request_value_len(scalar_then_more, sizeof(scalar_then_more), &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(request_value_len(map, sizeof(map), &n), 0);
	assert_int_equal(n, sizeof(map) - 1);
	for (i = 1; i < sizeof(map) - 1; i++)
		assert_int_equal(request_value_len(map, i, &n), -1);
	for (i = 0; i < sizeof(claims) / sizeof(claims[0]); i++)
		assert_int_equal(request_value_len(claims[i], sizeof(claims[i]), &n), -1);
	assert_int_equal(request_value_len((const uint8_t *)"\xc1", 1, &n), -1);

	/* On its own a value is level 1: 32 nested arrays decode in msgpack-c, 33 do not. */
	memset(deep, 0x91, sizeof(deep));
	deep[32] = 0xc0;
	assert_int_equal(request_value_len(deep, 33, &n), 0);
	assert_int_equal(n, 33);
	deep[32] = 0x90;
	assert_int_equal(request_value_len(deep, 33, &n), -1);
}

static void
test_name_valid(void **state)
{
	(void)state;
	assert_true(request_name_valid("a", 1));
	assert_true(request_name_valid("Az09_-", 6));
	assert_false(request_name_valid("", 0));
	assert_false(request_name_valid("a$", 2));     /* '$' only in qualifiers */
	assert_false(request_name_valid("a:b", 3));
	assert_false(request_name_valid("a\0b", 3));
	assert_true(request_name_valid("abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcd", 64));
	assert_false(request_name_valid("abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcde", 65));
	/* Only `len` bytes count. */
	assert_true(request_name_valid("ab!", 2));
}

/*
 * An event that is a fixmap of scalars is measured in line; at its first
 * nested or long value the rest is walked by mp_walk_skip_n(). Either way
 * its span, and the error a bad one gets, are the walk's.
 */
#define EV(s) s, sizeof(s) - 1

static void
test_event_flat_and_handed_on(void **state)
{
	/* {id: 7, fn: "f", event: ..., ctx: "c"}, the event's bytes in the middle */
	static const uint8_t head[] = { 0x84, 0xa2, 'i', 'd', 0x07, 0xa2, 'f', 'n', 0xa1, 'f',
					0xa5, 'e', 'v', 'e', 'n', 't' };
	static const uint8_t tail[] = { 0xa3, 'c', 't', 'x', 0xa1, 'c' };
	static const struct {
		const char *bytes;
		uint32_t len;
		const char *message;    /* NULL: accepted */
	} events[] = {
		{ EV("\x82\xa1" "a\x01\xa1" "b\xa1x"), NULL },                   /* flat */
		{ EV("\x83\xa1" "a\x01\xa1" "b\x92\x01\x81\xa1" "c\x02\xa1" "d\xc0"), NULL }, /* nested in the middle */
		{ EV("\x82\xa1" "a\xd9\x03xyz\xa1" "b\xc3"), NULL },            /* a str 8 in the middle */
		{ EV("\x92\xcd\x01\x02\xc2"), NULL },                            /* a fixarray */
		{ EV("\x80"), NULL },
		{ EV("\x82\xa1" "a\xc1\xa1" "b\x01"), "field 'event' is not valid MessagePack" },
		{ EV("\x82\xa1" "a\x91\xc1\xa1" "b\x01"), "field 'event' is not valid MessagePack" },
		/* A count the bytes cannot hold is truncated on the header, before the 0xc1 in them. */
		{ EV("\x8f\xc1"), "field 'event' is truncated" },
		{ EV("\x82\xa1" "a\xa5xy"), "field 'event' is truncated" },
	};
	uint8_t buf[64];
	unsigned int i;

	(void)state;
	for (i = 0; i < sizeof(events) / sizeof(events[0]); i++) {
		uint32_t n = 0;

		memcpy(buf, head, sizeof(head));
		n += sizeof(head);
		memcpy(buf + n, events[i].bytes, events[i].len);
		n += events[i].len;
		/* A refused event is cut short at the end of the payload, where nothing follows to mend it. */
		if (events[i].message == NULL) {
			memcpy(buf + n, tail, sizeof(tail));
			n += sizeof(tail);
			assert_int_equal(parse_bytes(buf, n), 0);
			assert_int_equal(req.event.off, sizeof(head));
			assert_int_equal(req.event.len, events[i].len);
			assert_span_str(req.ctx, buf, "\xa1" "c");
		} else {
			buf[0] = 0x83;
			assert_int_equal(parse_bytes(buf, n), -1);
			assert_string_equal(err.message, events[i].message);
		}
	}
}

/*
 * Every byte at every place of names of 1, 15, 16 and 17 characters, with
 * the rest of the request after the name (the 16-byte check) and without
 * (the name at the payload's end): a name character or a refusal.
 */
static void
test_fn_every_byte(void **state)
{
	static const unsigned int lens[] = { 1, 15, 16, 17 };
	uint8_t buf[64];
	unsigned int l, at, c, last;

	(void)state;
	for (l = 0; l < sizeof(lens) / sizeof(lens[0]); l++) {
		for (last = 0; last < 2; last++) {
			for (at = 0; at < lens[l]; at++) {
				for (c = 0; c < 256; c++) {
					bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
						  (c >= '0' && c <= '9') || c == '_' || c == '-';
					uint32_t n = 0;

					if (c == ':')
						continue;       /* a qualifier follows: test_fn_and_qualifier */
					buf[n++] = last ? 0x82 : 0x83;
					memcpy(buf + n, "\xa2id\x07\xa2" "fn", 7);
					n += 7;
					buf[n++] = (uint8_t)(0xa0 | lens[l]);
					memset(buf + n, 'x', lens[l]);
					buf[n + at] = (uint8_t)c;
					n += lens[l];
					if (!last) {
						memcpy(buf + n, "\xa5" "event\xd9\x14" "twenty bytes of text", 28);
						n += 28;
					}
					if (ok) {
						assert_int_equal(parse_bytes(buf, n), 0);
						assert_int_equal(req.fn.len, lens[l]);
					} else {
						assert_int_equal(parse_bytes(buf, n), -1);
						assert_string_equal(err.message,
								    "field 'fn' must be 1..64 characters of [A-Za-z0-9_-], optionally ':qualifier'");
					}
				}
			}
		}
	}
}

/* Keys too near the end for a word's load are read as before. */
static void
test_keys_near_the_end(void **state)
{
	static const uint8_t fn_then_id[] = { 0x82, 0xa2, 'f', 'n', 0xa1, 'f', 0xa2, 'i', 'd', 0x09 };
	static const uint8_t id_then_fn[] = { 0x82, 0xa2, 'i', 'd', 0x09, 0xa2, 'f', 'n', 0xa1, 'f' };
	static const uint8_t event_last[] = { 0x83, 0xa2, 'i', 'd', 0x09, 0xa2, 'f', 'n', 0xa1, 'f',
					      0xa5, 'e', 'v', 'e', 'n', 't', 0xc0 };

	(void)state;
	assert_int_equal(parse_bytes(fn_then_id, sizeof(fn_then_id)), 0);
	assert_int_equal(req.id, 9);
	assert_span_str(req.fn, fn_then_id, "f");
	assert_int_equal(parse_bytes(id_then_fn, sizeof(id_then_fn)), 0);
	assert_int_equal(req.id, 9);
	assert_span_str(req.fn, id_then_fn, "f");
	assert_int_equal(parse_bytes(event_last, sizeof(event_last)), 0);
	assert_int_equal(req.event.off, sizeof(event_last) - 1);
	assert_int_equal(req.event.len, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_minimal_defaults),
		cmocka_unit_test(test_all_fields_and_spans),
		cmocka_unit_test(test_protocol_example),
		cmocka_unit_test(test_version),
		cmocka_unit_test(test_missing_required),
		cmocka_unit_test(test_ill_typed_fields),
		cmocka_unit_test(test_id_values),
		cmocka_unit_test(test_fn_and_qualifier),
		cmocka_unit_test(test_fn_messages),
		cmocka_unit_test(test_type),
		cmocka_unit_test(test_tenant),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_log),
		cmocka_unit_test(test_trace),
		cmocka_unit_test(test_str_formats),
		cmocka_unit_test(test_wide_keys),
		cmocka_unit_test(test_event_and_ctx_any_type),
		cmocka_unit_test(test_unknown_keys_ignored),
		cmocka_unit_test(test_not_a_map),
		cmocka_unit_test(test_non_string_keys),
		cmocka_unit_test(test_trailing_bytes),
		cmocka_unit_test(test_truncated_everywhere),
		cmocka_unit_test(test_nesting_limit),
		cmocka_unit_test(test_deep_nesting_does_not_crash),
		cmocka_unit_test(test_huge_length_claims),
		cmocka_unit_test(test_malformed_byte),
		cmocka_unit_test(test_value_len),
		cmocka_unit_test(test_name_valid),
		cmocka_unit_test(test_event_flat_and_handed_on),
		cmocka_unit_test(test_fn_every_byte),
		cmocka_unit_test(test_keys_near_the_end),
	};

	return cmocka_run_group_tests_name("request", tests, NULL, NULL);
}
