/* Unit tests of the wire side: stamped request frames and ARP, read back by the dispatcher's own classifier. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <rte_ip.h>
#include <rte_udp.h>

#include "arp.h"
#include "frame.h"
#include "mix.h"
#include "request.h"
#include "rng.h"
#include "stamp.h"

static const uint8_t gen_mac[6] = { 0x02, 0, 0, 0, 0, 0x02 };
static const uint8_t sut_mac[6] = { 0x02, 0, 0, 0, 0, 0x01 };

static struct frame_service gen_side;   /* who sends: the generator */
static struct frame_service sut_side;   /* who receives: the dispatcher */
static struct frame_request to_sut;
static struct mix m;

static int
setup(void **state)
{
	char err[256];
	json_t *ev = json_loads("{\"us\": 12, \"pad\": \"abc\"}", 0, NULL);

	(void)state;
	memcpy(gen_side.mac, gen_mac, 6);
	gen_side.ip = htonl(0xc6120002);      /* 198.18.0.2 */
	gen_side.udp_port = htons(40000);
	memcpy(sut_side.mac, sut_mac, 6);
	sut_side.ip = htonl(0xc6120001);      /* 198.18.0.1 */
	sut_side.udp_port = htons(9000);
	sut_side.max_payload = 1472;
	memcpy(to_sut.src_mac, sut_mac, 6);
	to_sut.src_ip = sut_side.ip;
	to_sut.src_port = sut_side.udp_port;
	mix_init(&m);
	if (mix_add(&m, "spin", ev, 1.0, NULL, NULL, err, sizeof(err)) != 0 ||
	    mix_add(&m, "echo", NULL, 1.0, NULL, NULL, err, sizeof(err)) != 0)
		return -1;
	json_decref(ev);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	mix_free(&m);
	return 0;
}

/* Stamp id, then let the dispatcher classify (checking every checksum) and parse it. */
static void
check_stamped(const struct stamp *s, uint64_t id)
{
	uint8_t frame[STAMP_FRAME_MAX];
	struct frame_request req;
	struct request_error rerr;
	struct request r;
	struct rte_udp_hdr *udp;
	uint16_t carried, recomputed;

	memcpy(frame, s->frame, s->len);
	stamp_id(s, frame, id);
	udp = (struct rte_udp_hdr *)(frame + FRAME_UDP_HEADERS_LEN - sizeof(*udp));
	carried = udp->dgram_cksum;
	udp->dgram_cksum = 0;
	recomputed = rte_ipv4_udptcp_cksum((struct rte_ipv4_hdr *)(frame + 14), udp);
	udp->dgram_cksum = carried;
	if (carried != recomputed)
		fail_msg("id %llx: checksum %04x, a full computation gives %04x",
			 (unsigned long long)id, carried, recomputed);
	assert_int_equal(frame_classify(frame, s->len, &sut_side, FRAME_VERIFY_ALL, &req), FRAME_REQUEST);
	assert_memory_equal(req.src_mac, gen_mac, 6);
	assert_int_equal(req.src_ip, gen_side.ip);
	assert_int_equal(req.src_port, gen_side.udp_port);
	assert_int_equal(request_parse(frame + req.payload_offset, req.payload_len, &r, &rerr), 0);
	assert_true(r.has_id && r.id == id);
	assert_memory_equal(frame, sut_mac, 6);
	assert_memory_equal(frame + 6, gen_mac, 6);
}

static void
test_stamped_frames_verify(void **state)
{
	struct stamp s;
	struct rng r;
	unsigned int e, k;

	(void)state;
	rng_seed(&r, 77);
	for (e = 0; e < m.nb; e++) {
		stamp_build(&s, &gen_side, &to_sut, m.entries[e].payload, m.entries[e].payload_len,
			    false);
		assert_int_equal(s.len, FRAME_UDP_HEADERS_LEN + m.entries[e].payload_len);
		check_stamped(&s, 1);
		check_stamped(&s, UINT64_MAX);
		check_stamped(&s, 0x8000000000000000ull);
		for (k = 0; k < 20000; k++)
			check_stamped(&s, rng_next(&r));
		/* Consecutive ids, as a run sends them. */
		for (k = 0; k < 20000; k++)
			check_stamped(&s, 0x1234567800000000ull + k);
	}
}

/* An id whose sum cancels the rest: the checksum would be 0, which means "none"; 0xffff is sent. */
static void
test_zero_checksum_substitute(void **state)
{
	uint8_t frame[STAMP_FRAME_MAX];
	struct frame_request req;
	struct stamp s;
	uint16_t ck, want;
	uint32_t sum;

	(void)state;
	stamp_build(&s, &gen_side, &to_sut, m.entries[1].payload, m.entries[1].payload_len, false);
	/* Put the whole sum in the id's last word: one's complement sum then folds to 0xffff. */
	want = (uint16_t)~s.sum_without_id;
	sum = ((uint32_t)(want & 0xff) << 8) | (want >> 8);   /* raw memory order, little endian */
	memcpy(frame, s.frame, s.len);
	stamp_id(&s, frame, sum);
	memcpy(&ck, frame + s.cksum_at, 2);
	assert_int_equal(ck, 0xffff);
	assert_int_equal(frame_classify(frame, s.len, &sut_side, FRAME_VERIFY_ALL, &req), FRAME_REQUEST);
}

static void
test_offload_leaves_checksum_to_port(void **state)
{
	uint8_t frame[STAMP_FRAME_MAX];
	struct stamp s;
	uint16_t before, after;

	(void)state;
	stamp_build(&s, &gen_side, &to_sut, m.entries[0].payload, m.entries[0].payload_len, true);
	memcpy(&before, s.frame + s.cksum_at, 2);
	memcpy(frame, s.frame, s.len);
	stamp_id(&s, frame, 99);
	memcpy(&after, frame + s.cksum_at, 2);
	/* The pseudo-header seed does not depend on the payload. */
	assert_int_equal(before, after);
	assert_true(s.cksum_offload);
}

static void
test_arp_round_trip(void **state)
{
	uint8_t frame[ARP_FRAME_LEN], mac[6];
	struct frame_request req;

	(void)state;
	arp_request_build(frame, gen_mac, gen_side.ip, sut_side.ip);
	assert_false(arp_reply_parse(frame, sizeof(frame), sut_side.ip, mac));
	/* The dispatcher answers it in place, as it answers any host. */
	assert_int_equal(frame_classify(frame, sizeof(frame), &sut_side, FRAME_VERIFY_ALL, &req),
			 FRAME_ARP_REPLY);
	assert_memory_equal(frame, gen_mac, 6);
	assert_true(arp_reply_parse(frame, sizeof(frame), sut_side.ip, mac));
	assert_memory_equal(mac, sut_mac, 6);
	/* Not from the address asked about: not the answer. */
	assert_false(arp_reply_parse(frame, sizeof(frame), gen_side.ip, mac));
	assert_false(arp_reply_parse(frame, 30, sut_side.ip, mac));
	/* A request for someone else's address is not answered. */
	arp_request_build(frame, gen_mac, gen_side.ip, htonl(0xc6120009));
	assert_int_equal(frame_classify(frame, sizeof(frame), &sut_side, FRAME_VERIFY_ALL, &req),
			 FRAME_drop_arp_other);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stamped_frames_verify),
		cmocka_unit_test(test_zero_checksum_substitute),
		cmocka_unit_test(test_offload_leaves_checksum_to_port),
		cmocka_unit_test(test_arp_round_trip),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
