/* libFuzzer target: frame classification and request parsing, cross-checked against msgpack-c. */
#include <arpa/inet.h>
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
 * msgpack-c is the reference: whatever request_parse() accepts must be one
 * complete MessagePack map to msgpack_unpack(), and its event/ctx spans must
 * each be one complete value. msgpack_unpack() is only ever run on input
 * request_parse() has accepted, because on arbitrary input it sizes its
 * allocations from the claimed element counts and would ask for gigabytes;
 * "msgpack-c rejects => request_parse rejected" is checked as its
 * contrapositive.
 */

static msgpack_zone fuzz_request_zone;
static msgpack_zone fuzz_check_zone;
static struct frame_service fuzz_svc = {
	.mac = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 },
	.max_payload = 1472,
};

static void
fuzz_fail(const char *what, const uint8_t *data, size_t len)
{
	fprintf(stderr, "fuzz_frame_request: %s (input of %zu bytes)\n", what, len);
	(void)data;
	abort();
}

static void
fuzz_check_span(struct request_span s, uint32_t len, const char *what, const uint8_t *p)
{
	if ((uint32_t)s.off + s.len > len)
		fuzz_fail(what, p, len);
}

/* The span must hold exactly one complete MessagePack value, ending where the span ends. */
static void
fuzz_check_value(const uint8_t *p, uint32_t len, struct request_span s, const char *what)
{
	msgpack_object obj;
	size_t off = 0;
	int rc;

	if (s.len == 0)
		return;
	msgpack_zone_clear(&fuzz_check_zone);
	rc = msgpack_unpack((const char *)p + s.off, s.len, &off, &fuzz_check_zone, &obj);
	if (rc != MSGPACK_UNPACK_SUCCESS || off != s.len)
		fuzz_fail(what, p, len);
	off = 0;
	rc = msgpack_unpack((const char *)p + s.off, len - s.off, &off, &fuzz_check_zone, &obj);
	if ((rc != MSGPACK_UNPACK_SUCCESS && rc != MSGPACK_UNPACK_EXTRA_BYTES) || off != s.len)
		fuzz_fail(what, p, len);
}

static void
fuzz_parse(const uint8_t *data, uint32_t len)
{
	struct request req;
	struct request_error err;
	msgpack_object obj;
	uint8_t *p;
	size_t off = 0;
	size_t i;
	int rc;

	p = malloc(len ? len : 1);
	if (p == NULL)
		abort();
	memcpy(p, data, len);

	rc = request_parse(p, len, &fuzz_request_zone, &req, &err);
	/* The zone's first chunk is never touched: parsing allocates nothing. */
	if (fuzz_request_zone.chunk_list.free != REQUEST_ZONE_CHUNK_SIZE)
		fuzz_fail("request_parse used the zone", p, len);
	if (memchr(err.message, '\0', sizeof(err.message)) == NULL)
		fuzz_fail("error message not terminated", p, len);
	for (i = 0; err.message[i] != '\0'; i++)
		if (err.message[i] < 0x20 || err.message[i] > 0x7e)
			fuzz_fail("error message not printable ASCII", p, len);
	if (!req.has_id && req.id != 0)
		fuzz_fail("id without has_id", p, len);

	if (rc != 0) {
		if (rc != -1 || err.message[0] == '\0')
			fuzz_fail("rejection without a message", p, len);
		free(p);
		return;
	}

	if (err.message[0] != '\0' || !req.has_id)
		fuzz_fail("accepted with a message or without an id", p, len);
	fuzz_check_span(req.fn, len, "fn span", p);
	fuzz_check_span(req.qualifier, len, "qualifier span", p);
	fuzz_check_span(req.tenant, len, "tenant span", p);
	fuzz_check_span(req.event, len, "event span", p);
	fuzz_check_span(req.ctx, len, "ctx span", p);
	fuzz_check_span(req.trace, len, "trace span", p);
	if (!request_name_valid((const char *)p + req.fn.off, req.fn.len))
		fuzz_fail("accepted an invalid fn", p, len);
	if (req.tenant.len > 0 && !request_name_valid((const char *)p + req.tenant.off, req.tenant.len))
		fuzz_fail("accepted an invalid tenant", p, len);
	if (req.trace.len > 256)
		fuzz_fail("accepted a long trace", p, len);
	if (req.has_timeout && req.timeout_ms == 0)
		fuzz_fail("accepted timeout_ms 0", p, len);
	if (req.type != REQUEST_RESPONSE && req.type != REQUEST_EVENT && req.type != REQUEST_DRYRUN)
		fuzz_fail("bad type", p, len);

	fuzz_check_value(p, len, req.event, "event span is not one value");
	fuzz_check_value(p, len, req.ctx, "ctx span is not one value");

	/* Accepted input is one complete map and nothing else. */
	msgpack_zone_clear(&fuzz_check_zone);
	rc = msgpack_unpack((const char *)p, len, &off, &fuzz_check_zone, &obj);
	if (rc != MSGPACK_UNPACK_SUCCESS || off != len || obj.type != MSGPACK_OBJECT_MAP)
		fuzz_fail("accepted what msgpack-c rejects", p, len);
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
	frame_write_udp_headers(out, &fuzz_svc, req, sizeof(payload), false);
	/* A checksum computed in full is never taken for one left partial. */
	if (frame_classify(out, sizeof(out), &client, FRAME_VERIFY_ALL, &back) != FRAME_REQUEST ||
	    back.udp_cksum_partial ||
	    back.payload_offset != FRAME_UDP_HEADERS_LEN || back.payload_len != sizeof(payload) ||
	    memcmp(out + FRAME_UDP_HEADERS_LEN, payload, sizeof(payload)) != 0)
		fuzz_fail("reply headers do not classify", out, sizeof(out));

	/* With offload the IPv4 checksum is left to the NIC and the UDP one holds the pseudo-header seed. */
	frame_write_udp_headers(out, &fuzz_svc, req, sizeof(payload), true);
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
		if (req.l3_offset != 14 || req.l4_offset < 34 || req.l4_offset > 74 ||
		    req.payload_offset != req.l4_offset + 8 ||
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
	if (!msgpack_zone_init(&fuzz_request_zone, REQUEST_ZONE_CHUNK_SIZE) ||
	    !msgpack_zone_init(&fuzz_check_zone, REQUEST_ZONE_CHUNK_SIZE))
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
