/* libFuzzer target: frame classification, and request parsing checked differentially against msgpack-c. */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "frame.h"
#include "request.h"

/*
 * Every input is used twice: as a whole Ethernet frame (and, when it
 * classifies as a request, its UDP payload is parsed), and as a UDP payload
 * on its own. Each is copied into a buffer of exactly its size so that the
 * address sanitizer sees any read past the end.
 *
 * request_parse() is checked differentially against a reference decode:
 * msgpack-c's msgpack_unpack() of the whole payload, and PROTOCOL.md's
 * request table applied to the objects it returns (fuzz_reference). The two
 * must agree on the verdict, on every field of an accepted request, and, for
 * a refused one whose map decodes, on the id and trace the 400 echoes.
 *
 * msgpack-c allocates a container's elements from the header's claimed
 * count before reading any of them, so a 6-byte array32 header asks for
 * 64 GiB. Its zone is therefore capped here: this target's own
 * msgpack_zone_malloc_expand() (the call msgpack-c makes, through the PLT,
 * whenever a zone chunk is too small) refuses more than FUZZ_ZONE_CAP at
 * once, which msgpack-c reports as MSGPACK_UNPACK_NOMEM_ERROR. A payload of
 * at most 65,535 bytes holds at most 65,535 values, 2 MiB of objects, so
 * only a count no datagram can fill meets the cap, and NOMEM is then as
 * much a refusal as msgpack-c's too-deep nesting (reported the same way).
 */
#define FUZZ_ZONE_CAP (4u << 20)

static msgpack_zone fuzz_ref_zone;      /* the reference's objects */
static msgpack_zone fuzz_check_zone;    /* re-decoding a span */
static struct frame_service fuzz_svc = {
	.mac = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 },
	.max_payload = 1472,
};
static struct frame_udp_head fuzz_head; /* fuzz_svc's, once its address and port are set */

void *
msgpack_zone_malloc_expand(msgpack_zone *zone, size_t size)
{
	static void *(*expand)(msgpack_zone *, size_t);

	if (size > FUZZ_ZONE_CAP)
		return NULL;
	if (expand == NULL)
		expand = (void *(*)(msgpack_zone *, size_t))dlsym(RTLD_NEXT, "msgpack_zone_malloc_expand");
	if (expand == NULL)
		abort();
	return expand(zone, size);
}

static void
fuzz_fail(const char *what, const uint8_t *data, size_t len)
{
	fprintf(stderr, "fuzz_frame_request: %s (input of %zu bytes)\n", what, len);
	(void)data;
	abort();
}

/* What the reference makes of a payload. */
struct fuzz_expect {
	bool accept;
	bool map_read;              /* msgpack-c decoded a map: id and trace are known even if refused */
	bool has_id;
	uint64_t id;
	enum request_type type;
	bool has_timeout;
	uint64_t timeout_ms;
	bool log_tail;
	const msgpack_object_str *fn;      /* the whole str, qualifier included */
	const msgpack_object_str *tenant;
	const msgpack_object_str *trace;
	const msgpack_object_str *idempotency_key;
	const msgpack_object_str *event_key;  /* the key: its value starts right after it */
	const msgpack_object_str *ctx_key;
};

static bool
fuzz_is(const msgpack_object_str *s, const char *name)
{
	return s->size == strlen(name) && memcmp(s->ptr, name, s->size) == 0;
}

/* PROTOCOL.md's names, written out again rather than borrowed from request.c. */
static bool
fuzz_name_ok(const char *s, uint32_t len, bool qualifier)
{
	uint32_t i;

	if (len < 1 || len > 64)
		return false;
	for (i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-' || (qualifier && c == '$')))
			return false;
	}
	return true;
}

static bool
fuzz_fn_ok(const msgpack_object_str *s)
{
	const char *colon;

	if (s->size == 0)
		return false;   /* msgpack-c gives an empty str no pointer to search */
	colon = memchr(s->ptr, ':', s->size);
	if (colon == NULL)
		return fuzz_name_ok(s->ptr, s->size, false);
	return fuzz_name_ok(s->ptr, (uint32_t)(colon - s->ptr), false) &&
	       fuzz_name_ok(colon + 1, (uint32_t)(s->size - (colon - s->ptr) - 1), true);
}

/* One field of the map, as PROTOCOL.md's table reads it; false when it makes the request a 400. */
static bool
fuzz_reference_field(const msgpack_object_str *k, const msgpack_object *v, struct fuzz_expect *e,
		     bool *seen_id, bool *seen_fn)
{
	bool uint = v->type == MSGPACK_OBJECT_POSITIVE_INTEGER;
	bool str = v->type == MSGPACK_OBJECT_STR;
	const msgpack_object_str *s = &v->via.str;

	if (fuzz_is(k, "v"))
		return uint && v->via.u64 == 1;
	if (fuzz_is(k, "id")) {
		*seen_id = true;
		e->has_id = uint;
		e->id = uint ? v->via.u64 : 0;
		return uint;
	}
	if (fuzz_is(k, "fn")) {
		*seen_fn = true;
		if (!str || !fuzz_fn_ok(s))
			return false;
		e->fn = s;
		return true;
	}
	if (fuzz_is(k, "type")) {
		if (str && fuzz_is(s, "RequestResponse"))
			e->type = REQUEST_RESPONSE;
		else if (str && fuzz_is(s, "Event"))
			e->type = REQUEST_EVENT;
		else if (str && fuzz_is(s, "DryRun"))
			e->type = REQUEST_DRYRUN;
		else
			return false;
		return true;
	}
	if (fuzz_is(k, "tenant")) {
		if (!str || !fuzz_name_ok(s->ptr, s->size, false))
			return false;
		e->tenant = s;
		return true;
	}
	if (fuzz_is(k, "timeout_ms")) {
		if (!uint || v->via.u64 == 0)
			return false;
		e->has_timeout = true;
		e->timeout_ms = v->via.u64;
		return true;
	}
	if (fuzz_is(k, "log")) {
		if (str && (fuzz_is(s, "Tail") || fuzz_is(s, "None")))
			e->log_tail = fuzz_is(s, "Tail");
		else
			return false;
		return true;
	}
	if (fuzz_is(k, "trace")) {
		if (!str || s->size > 256)
			return false;
		e->trace = s;
		return true;
	}
	if (fuzz_is(k, "idempotency_key")) {
		if (!str || s->size < 1 || s->size > 64)
			return false;
		e->idempotency_key = s;
		return true;
	}
	if (fuzz_is(k, "event"))
		e->event_key = k;
	else if (fuzz_is(k, "ctx"))
		e->ctx_key = k;
	return true;            /* event and ctx take anything; other keys are ignored */
}

static void
fuzz_reference(const uint8_t *p, uint32_t len, struct fuzz_expect *e)
{
	msgpack_object obj;
	size_t off = 0;
	bool seen_id = false, seen_fn = false, ok;
	uint32_t i;
	int rc;

	memset(e, 0, sizeof(*e));
	e->type = REQUEST_RESPONSE;
	if (len > UINT16_MAX)
		return;         /* spans are 16-bit: refused whatever it holds */
	msgpack_zone_clear(&fuzz_ref_zone);
	rc = msgpack_unpack((const char *)p, len, &off, &fuzz_ref_zone, &obj);
	if ((rc != MSGPACK_UNPACK_SUCCESS && rc != MSGPACK_UNPACK_EXTRA_BYTES) ||
	    obj.type != MSGPACK_OBJECT_MAP)
		return;
	e->map_read = true;
	ok = rc == MSGPACK_UNPACK_SUCCESS && off == len;
	for (i = 0; i < obj.via.map.size; i++) {
		const msgpack_object_kv *kv = &obj.via.map.ptr[i];

		if (kv->key.type != MSGPACK_OBJECT_STR)
			ok = false;
		else if (!fuzz_reference_field(&kv->key.via.str, &kv->val, e, &seen_id, &seen_fn))
			ok = false;
	}
	e->accept = ok && seen_id && seen_fn;
}

/*
 * A str the reference found must be the decoder's span. msgpack-c points a
 * str into the payload, but not an empty one, so where it is empty only the
 * length can be compared.
 */
static void
fuzz_same_str(const uint8_t *p, uint32_t len, struct request_span got, const char *s,
	      uint32_t s_len, const char *what)
{
	if (got.len != s_len || (s_len > 0 && got.off != (const uint8_t *)s - p))
		fuzz_fail(what, p, len);
}

/* A raw value span: it starts right after its key, and msgpack-c's decode from there ends where it does. */
static void
fuzz_same_value(const uint8_t *p, uint32_t len, struct request_span got,
		const msgpack_object_str *key, const char *what)
{
	msgpack_object obj;
	size_t off = 0;
	int rc;

	if (key == NULL) {
		if (got.len != 0)
			fuzz_fail(what, p, len);
		return;
	}
	if (got.off != (const uint8_t *)key->ptr + key->size - p || got.len == 0 ||
	    (uint32_t)got.off + got.len > len)
		fuzz_fail(what, p, len);
	msgpack_zone_clear(&fuzz_check_zone);
	rc = msgpack_unpack((const char *)p + got.off, len - got.off, &off, &fuzz_check_zone, &obj);
	if ((rc != MSGPACK_UNPACK_SUCCESS && rc != MSGPACK_UNPACK_EXTRA_BYTES) || off != got.len)
		fuzz_fail(what, p, len);
}

static void
fuzz_compare(const uint8_t *p, uint32_t len, int rc, const struct request *req,
	     const struct fuzz_expect *e)
{
	const msgpack_object_str *fn = e->fn;
	const char *colon;
	uint32_t name_len;

	if ((rc == 0) != e->accept)
		fuzz_fail(rc == 0 ? "accepted what the reference refuses" :
			  "refused what the reference accepts", p, len);
	if (e->map_read) {
		if (req->has_id != e->has_id || req->id != e->id)
			fuzz_fail("id differs from the reference's", p, len);
		if (e->trace != NULL)
			fuzz_same_str(p, len, req->trace, e->trace->ptr, e->trace->size, "trace span");
		else if (req->trace.len != 0)
			fuzz_fail("trace the reference has not", p, len);
	}
	if (rc != 0)
		return;

	colon = memchr(fn->ptr, ':', fn->size);
	name_len = colon ? (uint32_t)(colon - fn->ptr) : fn->size;
	fuzz_same_str(p, len, req->fn, fn->ptr, name_len, "fn span");
	if (colon != NULL)
		fuzz_same_str(p, len, req->qualifier, colon + 1, fn->size - name_len - 1, "qualifier span");
	else if (req->qualifier.len != 0)
		fuzz_fail("qualifier without ':'", p, len);
	if (e->tenant != NULL)
		fuzz_same_str(p, len, req->tenant, e->tenant->ptr, e->tenant->size, "tenant span");
	else if (req->tenant.len != 0)
		fuzz_fail("tenant the reference has not", p, len);
	if (e->idempotency_key != NULL)
		fuzz_same_str(p, len, req->idempotency_key, e->idempotency_key->ptr,
			      e->idempotency_key->size, "idempotency_key span");
	else if (req->idempotency_key.len != 0)
		fuzz_fail("idempotency_key the reference has not", p, len);
	fuzz_same_value(p, len, req->event, e->event_key, "event span");
	fuzz_same_value(p, len, req->ctx, e->ctx_key, "ctx span");
	if (req->type != e->type || req->log_tail != e->log_tail ||
	    req->has_timeout != e->has_timeout || (e->has_timeout && req->timeout_ms != e->timeout_ms))
		fuzz_fail("type, log or timeout_ms differs from the reference's", p, len);
}

/* request_value_len() (the async queue's reader) measures the first value as msgpack-c does. */
static void
fuzz_value_len(const uint8_t *p, uint32_t len)
{
	msgpack_object obj;
	uint32_t got = 0;
	size_t off = 0;
	int rc, want;

	if (len > UINT16_MAX)
		return;         /* past what FUZZ_ZONE_CAP is sized for */
	msgpack_zone_clear(&fuzz_check_zone);
	want = msgpack_unpack((const char *)p, len, &off, &fuzz_check_zone, &obj);
	rc = request_value_len(p, len, &got);
	if ((rc == 0) != (want == MSGPACK_UNPACK_SUCCESS || want == MSGPACK_UNPACK_EXTRA_BYTES))
		fuzz_fail("request_value_len and msgpack-c disagree on a value", p, len);
	if (rc == 0 && got != off)
		fuzz_fail("request_value_len measures a value msgpack-c ends elsewhere", p, len);
}

static void
fuzz_parse(const uint8_t *data, uint32_t len)
{
	struct request req;
	struct request_error err;
	struct fuzz_expect e;
	uint8_t *p;
	size_t i;
	int rc;

	p = malloc(len ? len : 1);
	if (p == NULL)
		abort();
	memcpy(p, data, len);

	/* Poisoned first: request_parse() must set every field itself. */
	memset(&req, 0xa5, sizeof(req));
	memset(&err, 0xa5, sizeof(err));
	rc = request_parse(p, len, &req, &err);
	if (memchr(err.message, '\0', sizeof(err.message)) == NULL)
		fuzz_fail("error message not terminated", p, len);
	for (i = 0; err.message[i] != '\0'; i++)
		if (err.message[i] < 0x20 || err.message[i] > 0x7e)
			fuzz_fail("error message not printable ASCII", p, len);
	if ((rc != 0 && rc != -1) || (rc == 0) != (err.message[0] == '\0'))
		fuzz_fail("verdict and message disagree", p, len);
	if (!req.has_id && req.id != 0)
		fuzz_fail("id without has_id", p, len);
	if ((uint32_t)req.trace.off + req.trace.len > len)
		fuzz_fail("trace span past the end", p, len);

	fuzz_reference(p, len, &e);
	fuzz_compare(p, len, rc, &req, &e);
	fuzz_value_len(p, len);
	free(p);
}

/* A response to a classified request must come back through the classifier intact. */
static void
fuzz_reply_round_trip(const struct frame_request *req)
{
	static const uint8_t payload[] = { 0x83, 0xa1, 'v', 0x01, 0xa2, 'i', 'd', 0x00,
					   0xa6, 's', 't', 'a', 't', 'u', 's', 0xcc, 0xcc };
	uint8_t out[FRAME_UDP_HEADERS_LEN + sizeof(payload)];
	struct frame_service client;
	struct frame_request back;

	memcpy(client.mac, req->src_mac, sizeof(client.mac));
	client.ip = req->src_ip;
	client.udp_port = req->src_port;
	client.max_payload = UINT16_MAX;
	memcpy(out + FRAME_UDP_HEADERS_LEN, payload, sizeof(payload));
	frame_write_udp_headers(out, &fuzz_head, req, sizeof(payload), false);
	/* A checksum computed in full is never taken for one left partial. */
	if (frame_classify(out, sizeof(out), &client, FRAME_VERIFY_ALL, &back) != FRAME_REQUEST ||
	    back.udp_cksum_partial ||
	    back.payload_offset != FRAME_UDP_HEADERS_LEN || back.payload_len != sizeof(payload) ||
	    memcmp(out + FRAME_UDP_HEADERS_LEN, payload, sizeof(payload)) != 0)
		fuzz_fail("reply headers do not classify", out, sizeof(out));

	/* With offload the IPv4 checksum is left to the NIC and the UDP one holds the pseudo-header seed. */
	frame_write_udp_headers(out, &fuzz_head, req, sizeof(payload), true);
	if (out[14 + 10] != 0 || out[14 + 11] != 0 || (out[34 + 6] == 0 && out[34 + 7] == 0))
		fuzz_fail("offloaded reply checksums", out, sizeof(out));
}

static void
fuzz_frame(const uint8_t *data, size_t size, unsigned int verify)
{
	struct frame_request req;
	struct frame_service peer;
	enum frame_verdict v;
	uint8_t *f;
	uint32_t len = size > UINT32_MAX ? UINT32_MAX : (uint32_t)size;

	f = malloc(size ? size : 1);
	if (f == NULL)
		abort();
	memcpy(f, data, size);
	v = frame_classify(f, len, &fuzz_svc, verify, &req);
	if ((unsigned int)v >= FRAME_VERDICT_MAX || frame_verdict_name(v) == NULL)
		fuzz_fail("verdict out of range", data, size);
	/* Partial is only reported for a checksum checked here, and only past the check. */
	if (req.udp_cksum_partial &&
	    (!(verify & FRAME_VERIFY_UDP_CKSUM) || (v != FRAME_REQUEST &&
						     v != FRAME_drop_udp_wrong_port &&
						     v != FRAME_drop_oversize)))
		fuzz_fail("partial checksum reported where none was checked", data, size);

	switch (v) {
	case FRAME_REQUEST:
		if (req.payload_offset < 42 || req.payload_offset > 82 ||
		    req.payload_offset % 4 != 2 ||
		    (uint32_t)req.payload_offset + req.payload_len > len ||
		    req.payload_len > fuzz_svc.max_payload)
			fuzz_fail("request offsets", data, size);
		if (memcmp(f, data, size) != 0)
			fuzz_fail("a request was modified", data, size);
		fuzz_parse(f + req.payload_offset, req.payload_len);
		fuzz_reply_round_trip(&req);
		break;
	case FRAME_ARP_REPLY:
		if (memcmp(f + 6, fuzz_svc.mac, 6) != 0)
			fuzz_fail("ARP reply not from us", data, size);
		break;
	case FRAME_ICMP_REPLY:
		/* Seen from the pinger, the reply has a good IPv4 header and is ICMP but not a request. */
		memcpy(&peer, &fuzz_svc, sizeof(peer));
		memcpy(&peer.ip, f + 14 + 16, sizeof(peer.ip));
		if (frame_classify(f, len, &peer, verify, &req) != FRAME_drop_icmp_other)
			fuzz_fail("ICMP reply does not classify", data, size);
		break;
	default:
		if (memcmp(f, data, size) != 0)
			fuzz_fail("a dropped frame was modified", data, size);
		break;
	}
	free(f);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_svc.ip = htonl(0x0a000001);        /* 10.0.0.1 */
	fuzz_svc.udp_port = htons(9000);
	frame_udp_head_init(&fuzz_head, &fuzz_svc);
	if (!msgpack_zone_init(&fuzz_ref_zone, 64 * 1024) ||
	    !msgpack_zone_init(&fuzz_check_zone, 64 * 1024))
		abort();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Every checksum summed here; the port found UDP's good; it found both good. */
	fuzz_frame(data, size, FRAME_VERIFY_ALL);
	fuzz_frame(data, size, FRAME_VERIFY_IP_CKSUM);
	fuzz_frame(data, size, 0);
	fuzz_parse(data, size > UINT32_MAX ? UINT32_MAX : (uint32_t)size);
	return 0;
}
