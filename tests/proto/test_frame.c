/* Unit tests of frame classification, the in-place ARP/ICMP replies and the response headers. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <rte_ip.h>

#include "frame.h"

/*
 * Frames are built byte by byte here, and checksums computed with a
 * big-endian word sum of the tests' own, so that nothing in the code under
 * test checks itself. The word-at-a-time sum is also held against DPDK's
 * own rte_raw_cksum(), rte_ipv4_cksum() and rte_ipv4_udptcp_cksum().
 */
#define SVC_IP     0x0a000001u  /* 10.0.0.1 */
#define CLI_IP     0x0a000002u  /* 10.0.0.2 */
#define SVC_PORT   9000
#define CLI_PORT   40000
#define ETH_LEN    14
#define IP_LEN     20
#define UDP_LEN    8

static const uint8_t svc_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };
static const uint8_t cli_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x02 };
static const uint8_t request_payload[] = {
	0x82, 0xa2, 'i', 'd', 0x01, 0xa2, 'f', 'n', 0xa4, 'e', 'c', 'h', 'o',
};

static struct frame_service svc;
static struct frame_request req;
static uint8_t f[2048];
static uint8_t copy[2048];

static uint32_t
sum16(const uint8_t *p, size_t n, uint32_t s)
{
	size_t i;

	for (i = 0; i < n; i += 2)
		s += (uint32_t)p[i] << 8 | (i + 1 < n ? p[i + 1] : 0);
	return s;
}

static uint16_t
fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void
put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

static uint32_t
ip_hdr_len(const uint8_t *frame)
{
	return (uint32_t)(frame[ETH_LEN] & 0x0f) * 4;
}

static void
fix_ip_cksum(uint8_t *frame)
{
	uint8_t *ip = frame + ETH_LEN;

	put16(ip + 10, 0);
	put16(ip + 10, (uint16_t)~fold(sum16(ip, ip_hdr_len(frame), 0)));
}

static bool
ip_cksum_ok(const uint8_t *frame)
{
	return fold(sum16(frame + ETH_LEN, ip_hdr_len(frame), 0)) == 0xffff;
}

/* Sum of the UDP pseudo-header of the IPv4 header in `frame`. */
static uint32_t
pseudo_sum(const uint8_t *frame, uint16_t udp_len)
{
	const uint8_t *ip = frame + ETH_LEN;
	uint8_t ph[12];

	memcpy(ph, ip + 12, 8);
	ph[8] = 0;
	ph[9] = ip[9];
	put16(ph + 10, udp_len);
	return sum16(ph, sizeof(ph), 0);
}

static void
fix_udp_cksum(uint8_t *frame)
{
	uint8_t *udp = frame + ETH_LEN + ip_hdr_len(frame);
	uint16_t len = get16(udp + 4);
	uint16_t c;

	put16(udp + 6, 0);
	c = (uint16_t)~fold(sum16(udp, len, pseudo_sum(frame, len)));
	put16(udp + 6, c == 0 ? 0xffff : c);
}

static bool
udp_cksum_ok(const uint8_t *frame)
{
	const uint8_t *udp = frame + ETH_LEN + ip_hdr_len(frame);
	uint16_t len = get16(udp + 4);

	return fold(sum16(udp, len, pseudo_sum(frame, len))) == 0xffff;
}

struct udp_opts {
	uint32_t dst_ip;      /* 0: the service address */
	uint16_t dst_port;    /* 0: the service port */
	uint8_t proto;        /* 0: UDP */
	uint16_t frag;        /* flags and fragment offset word */
	uint8_t opt_words;    /* IPv4 option words (NOPs), 0..10 */
	bool zero_cksum;      /* send without a UDP checksum */
	uint32_t pad;         /* Ethernet padding after the datagram */
};

static void
put_eth(uint8_t *frame, uint16_t type)
{
	memcpy(frame, svc_mac, 6);
	memcpy(frame + 6, cli_mac, 6);
	put16(frame + 12, type);
}

/* A UDP request from the client; returns the frame length. */
static uint32_t
build_udp(uint8_t *frame, const void *payload, uint32_t plen, const struct udp_opts *o)
{
	static const struct udp_opts none;
	uint32_t ihl;
	uint8_t *ip = frame + ETH_LEN;
	uint8_t *udp;
	uint32_t len;

	if (o == NULL)
		o = &none;
	ihl = IP_LEN + 4u * o->opt_words;
	udp = ip + ihl;
	memset(frame, 0, ETH_LEN + ihl + UDP_LEN + plen + o->pad);
	put_eth(frame, 0x0800);
	ip[0] = (uint8_t)(0x40 | ihl / 4);
	put16(ip + 2, (uint16_t)(ihl + UDP_LEN + plen));
	put16(ip + 4, 0x1234);
	put16(ip + 6, o->frag);
	ip[8] = 64;
	ip[9] = o->proto ? o->proto : 17;
	put32(ip + 12, CLI_IP);
	put32(ip + 16, o->dst_ip ? o->dst_ip : SVC_IP);
	memset(ip + IP_LEN, 0x01, ihl - IP_LEN);    /* NOP options */
	put16(udp, CLI_PORT);
	put16(udp + 2, o->dst_port ? o->dst_port : SVC_PORT);
	put16(udp + 4, (uint16_t)(UDP_LEN + plen));
	memcpy(udp + UDP_LEN, payload, plen);
	fix_ip_cksum(frame);
	if (!o->zero_cksum)
		fix_udp_cksum(frame);
	len = ETH_LEN + ihl + UDP_LEN + plen;
	memset(frame + len, 0xee, o->pad);
	return len + o->pad;
}

static uint32_t
build_arp(uint8_t *frame, uint16_t op, uint32_t target_ip)
{
	uint8_t *arp = frame + ETH_LEN;

	memset(frame, 0, 60);
	memset(frame, 0xff, 6);
	memcpy(frame + 6, cli_mac, 6);
	put16(frame + 12, 0x0806);
	put16(arp, 1);
	put16(arp + 2, 0x0800);
	arp[4] = 6;
	arp[5] = 4;
	put16(arp + 6, op);
	memcpy(arp + 8, cli_mac, 6);
	put32(arp + 14, CLI_IP);
	memset(arp + 18, 0, 6);
	put32(arp + 24, target_ip);
	return ETH_LEN + 28;
}

/* An ICMP echo request carrying `data_len` bytes; returns the frame length. */
static uint32_t
build_icmp(uint8_t *frame, uint8_t type, uint32_t data_len, uint8_t opt_words)
{
	uint32_t ihl = IP_LEN + 4u * opt_words;
	uint8_t *ip = frame + ETH_LEN;
	uint8_t *icmp = ip + ihl;
	uint32_t i;

	memset(frame, 0, ETH_LEN + ihl + 8 + data_len);
	put_eth(frame, 0x0800);
	ip[0] = (uint8_t)(0x40 | ihl / 4);
	put16(ip + 2, (uint16_t)(ihl + 8 + data_len));
	put16(ip + 4, 0x4242);
	put16(ip + 6, 0x4000);
	ip[8] = 17;
	ip[9] = 1;
	put32(ip + 12, CLI_IP);
	put32(ip + 16, SVC_IP);
	memset(ip + IP_LEN, 0x01, ihl - IP_LEN);
	icmp[0] = type;
	put16(icmp + 4, 0xbeef);     /* identifier */
	put16(icmp + 6, 7);          /* sequence */
	for (i = 0; i < data_len; i++)
		icmp[8 + i] = (uint8_t)i;
	put16(icmp + 2, (uint16_t)~fold(sum16(icmp, 8 + data_len, 0)));
	fix_ip_cksum(frame);
	return ETH_LEN + ihl + 8 + data_len;
}

static enum frame_verdict
classify(uint32_t len, unsigned int verify)
{
	memset(&req, 0x5a, sizeof(req));
	return frame_classify(f, len, &svc, verify, &req);
}

/* Drops must leave the frame alone: it goes back to the pool untouched. */
static void
expect_drop(uint32_t len, enum frame_verdict want)
{
	enum frame_verdict v;

	memcpy(copy, f, len);
	v = classify(len, FRAME_VERIFY_ALL);
	if (v != want)
		fail_msg("got %s, want %s", frame_verdict_name(v), frame_verdict_name(want));
	assert_memory_equal(f, copy, len);
}

static int
setup(void **state)
{
	(void)state;
	memcpy(svc.mac, svc_mac, 6);
	svc.ip = htonl(SVC_IP);
	svc.udp_port = htons(SVC_PORT);
	svc.max_payload = 1472;
	memset(f, 0, sizeof(f));
	return 0;
}

static void
assert_request(uint16_t l4, uint16_t payload_len)
{
	assert_int_equal(req.payload_offset, l4 + UDP_LEN);
	assert_int_equal(req.payload_len, payload_len);
	assert_memory_equal(req.src_mac, cli_mac, 6);
	assert_int_equal(req.src_ip, htonl(CLI_IP));
	assert_int_equal(req.src_port, htons(CLI_PORT));
}

static void
test_udp_request(void **state)
{
	uint32_t len;
	static uint8_t unaligned[2048 + 1];

	(void)state;
	len = build_udp(f, request_payload, sizeof(request_payload), NULL);
	memcpy(copy, f, len);
	assert_int_equal(classify(len, FRAME_VERIFY_ALL), FRAME_REQUEST);
	assert_request(ETH_LEN + IP_LEN, sizeof(request_payload));
	assert_memory_equal(f + req.payload_offset, request_payload, sizeof(request_payload));
	assert_memory_equal(f, copy, len);

	/* Any alignment of the frame will do. */
	memcpy(unaligned + 1, f, len);
	assert_int_equal(frame_classify(unaligned + 1, len, &svc, FRAME_VERIFY_ALL, &req), FRAME_REQUEST);
	assert_int_equal(req.payload_len, sizeof(request_payload));

	/* An empty payload is a request too (it earns a 400). */
	len = build_udp(f, "", 0, NULL);
	assert_int_equal(classify(len, FRAME_VERIFY_ALL), FRAME_REQUEST);
	assert_request(ETH_LEN + IP_LEN, 0);
}

static void
test_ip_options_accepted(void **state)
{
	struct udp_opts o = { .opt_words = 1 };
	uint32_t len;

	(void)state;
	len = build_udp(f, request_payload, sizeof(request_payload), &o);
	assert_int_equal(classify(len, FRAME_VERIFY_ALL), FRAME_REQUEST);
	assert_request(ETH_LEN + IP_LEN + 4, sizeof(request_payload));

	o.opt_words = 10;   /* IHL 15, the most there is */
	len = build_udp(f, request_payload, sizeof(request_payload), &o);
	assert_int_equal(classify(len, FRAME_VERIFY_ALL), FRAME_REQUEST);
	assert_request(ETH_LEN + 60, sizeof(request_payload));
	assert_memory_equal(f + req.payload_offset, request_payload, sizeof(request_payload));
}

/*
 * The checks past the IPv4 header are compiled twice (frame.c): once for a
 * header without options, once for any length. Each verdict they give, with
 * no options, one option word and the most there are.
 */
static void
test_ip_options_every_verdict(void **state)
{
	static const uint8_t words[] = { 0, 1, 10 };
	unsigned int i;

	(void)state;
	for (i = 0; i < sizeof(words); i++) {
		struct udp_opts o = { .opt_words = words[i] };
		uint32_t ihl = IP_LEN + 4u * words[i];
		uint8_t *udp = f + ETH_LEN + ihl;
		uint32_t len;

		len = build_udp(f, request_payload, sizeof(request_payload), &o);
		assert_int_equal(classify(len, FRAME_VERIFY_ALL), FRAME_REQUEST);
		assert_request((uint16_t)(ETH_LEN + ihl), sizeof(request_payload));
		assert_false(req.udp_cksum_partial);

		/* The IPv4 header's own checks. */
		put16(f + ETH_LEN + 2, (uint16_t)(ihl - 1));
		fix_ip_cksum(f);
		expect_drop(len, FRAME_drop_ip_bad_header);
		put16(f + ETH_LEN + 2, (uint16_t)(len - ETH_LEN + 1));
		fix_ip_cksum(f);
		expect_drop(len, FRAME_drop_ip_bad_header);
		len = build_udp(f, request_payload, sizeof(request_payload), &o);
		f[ETH_LEN + 8] ^= 0x01;
		expect_drop(len, FRAME_drop_ip_bad_checksum);
		o.frag = 0x2000;
		len = build_udp(f, request_payload, sizeof(request_payload), &o);
		expect_drop(len, FRAME_drop_ip_fragment);
		o.frag = 0x4000;
		o.dst_ip = SVC_IP + 1;
		len = build_udp(f, request_payload, sizeof(request_payload), &o);
		expect_drop(len, FRAME_drop_ip_not_ours);
		o.dst_ip = 0;
		o.proto = 6;
		len = build_udp(f, request_payload, sizeof(request_payload), &o);
		expect_drop(len, FRAME_drop_not_udp);
		o.proto = 0;

		/* The UDP header's, where the options end. */
		len = build_udp(f, request_payload, sizeof(request_payload), &o);
		put16(f + ETH_LEN + 2, (uint16_t)(ihl + UDP_LEN - 1));
		fix_ip_cksum(f);
		expect_drop(len, FRAME_drop_truncated);
		len = build_udp(f, request_payload, sizeof(request_payload), &o);
		put16(udp + 4, UDP_LEN - 1);
		expect_drop(len, FRAME_drop_udp_bad_length);
		len = build_udp(f, request_payload, sizeof(request_payload), &o);
		udp[UDP_LEN] ^= 0x01;
		expect_drop(len, FRAME_drop_udp_bad_checksum);
		put16(udp + 6, fold(pseudo_sum(f, (uint16_t)(UDP_LEN + sizeof(request_payload)))));
		assert_int_equal(classify(len, FRAME_VERIFY_ALL), FRAME_REQUEST);
		assert_true(req.udp_cksum_partial);
		o.zero_cksum = true;
		len = build_udp(f, request_payload, sizeof(request_payload), &o);
		assert_int_equal(classify(len, FRAME_VERIFY_ALL), FRAME_REQUEST);
		o.zero_cksum = false;
		o.dst_port = SVC_PORT + 1;
		len = build_udp(f, request_payload, sizeof(request_payload), &o);
		expect_drop(len, FRAME_drop_udp_wrong_port);
		o.dst_port = 0;
		svc.max_payload = sizeof(request_payload) - 1;
		len = build_udp(f, request_payload, sizeof(request_payload), &o);
		expect_drop(len, FRAME_drop_oversize);
		svc.max_payload = 1472;

		/* And ICMP, answered or not. */
		len = build_icmp(f, 8, 8, words[i]);
		assert_int_equal(classify(len, FRAME_VERIFY_ALL), FRAME_ICMP_REPLY);
		assert_true(ip_cksum_ok(f));
		len = build_icmp(f, 13, 8, words[i]);
		expect_drop(len, FRAME_drop_icmp_other);
	}
}

static void
test_ethernet_padding_ignored(void **state)
{
	struct udp_opts o = { .pad = 60 - (ETH_LEN + IP_LEN + UDP_LEN + 2) };
	uint32_t len;

	(void)state;
	len = build_udp(f, "\x80\x00", 2, &o);
	assert_int_equal(len, 60);
	assert_int_equal(classify(len, FRAME_VERIFY_ALL), FRAME_REQUEST);
	assert_request(ETH_LEN + IP_LEN, 2);

	/* Padding on a frame that needs none is ignored as well. */
	o.pad = 100;
	len = build_udp(f, request_payload, sizeof(request_payload), &o);
	assert_int_equal(classify(len, FRAME_VERIFY_ALL), FRAME_REQUEST);
	assert_request(ETH_LEN + IP_LEN, sizeof(request_payload));
}

static void
test_arp_request_for_us(void **state)
{
	uint32_t len;

	(void)state;
	len = build_arp(f, 1, SVC_IP);
	assert_int_equal(classify(len, FRAME_VERIFY_ALL), FRAME_ARP_REPLY);
	assert_memory_equal(f, cli_mac, 6);                 /* to the asker */
	assert_memory_equal(f + 6, svc_mac, 6);
	assert_int_equal(get16(f + 12), 0x0806);
	assert_int_equal(get16(f + 14), 1);
	assert_int_equal(get16(f + 16), 0x0800);
	assert_int_equal(f[18], 6);
	assert_int_equal(f[19], 4);
	assert_int_equal(get16(f + 20), 2);                 /* reply */
	assert_memory_equal(f + 22, svc_mac, 6);            /* sender: us */
	assert_int_equal(get32(f + 28), SVC_IP);
	assert_memory_equal(f + 32, cli_mac, 6);            /* target: the asker */
	assert_int_equal(get32(f + 38), CLI_IP);

	/* Padded to the Ethernet minimum: same answer, same length. */
	len = build_arp(f, 1, SVC_IP);
	memset(f + len, 0xee, 60 - len);
	assert_int_equal(classify(60, FRAME_VERIFY_ALL), FRAME_ARP_REPLY);
	assert_int_equal(get16(f + 20), 2);
	assert_int_equal(f[59], 0xee);
}

static void
test_arp_other(void **state)
{
	uint32_t len;

	(void)state;
	len = build_arp(f, 1, CLI_IP + 5);           /* for someone else */
	expect_drop(len, FRAME_drop_arp_other);
	len = build_arp(f, 2, SVC_IP);               /* a reply */
	expect_drop(len, FRAME_drop_arp_other);
	len = build_arp(f, 3, SVC_IP);               /* RARP */
	expect_drop(len, FRAME_drop_arp_other);
	len = build_arp(f, 1, SVC_IP);
	put16(f + 14, 6);                            /* not Ethernet hardware */
	expect_drop(len, FRAME_drop_arp_other);
	len = build_arp(f, 1, SVC_IP);
	put16(f + 16, 0x86dd);                       /* not IPv4 */
	expect_drop(len, FRAME_drop_arp_other);
	len = build_arp(f, 1, SVC_IP);
	f[18] = 8;                                   /* hardware length */
	expect_drop(len, FRAME_drop_arp_other);
	len = build_arp(f, 1, SVC_IP);
	f[19] = 16;                                  /* protocol length */
	expect_drop(len, FRAME_drop_arp_other);
}

static void
check_echo_reply(uint32_t len, uint32_t data_len)
{
	uint32_t ihl = ip_hdr_len(f);
	const uint8_t *ip = f + ETH_LEN;
	const uint8_t *icmp = ip + ihl;
	uint32_t i;

	assert_int_equal(classify(len, FRAME_VERIFY_ALL), FRAME_ICMP_REPLY);
	assert_memory_equal(f, cli_mac, 6);
	assert_memory_equal(f + 6, svc_mac, 6);
	assert_int_equal(get16(f + 12), 0x0800);
	assert_int_equal(ip[0] >> 4, 4);
	assert_int_equal(get16(ip + 2), ihl + 8 + data_len);
	assert_int_equal(ip[8], 64);
	assert_int_equal(ip[9], 1);
	assert_int_equal(get32(ip + 12), SVC_IP);
	assert_int_equal(get32(ip + 16), CLI_IP);
	assert_true(ip_cksum_ok(f));
	assert_int_equal(icmp[0], 0);
	assert_int_equal(icmp[1], 0);
	assert_int_equal(get16(icmp + 4), 0xbeef);
	assert_int_equal(get16(icmp + 6), 7);
	assert_int_equal(fold(sum16(icmp, 8 + data_len, 0)), 0xffff);
	for (i = 0; i < data_len; i++)
		assert_int_equal(icmp[8 + i], (uint8_t)i);
}

static void
test_icmp_echo_reply(void **state)
{
	(void)state;
	check_echo_reply(build_icmp(f, 8, 56, 0), 56);
	check_echo_reply(build_icmp(f, 8, 0, 0), 0);
	check_echo_reply(build_icmp(f, 8, 1001, 0), 1001);   /* odd length */
	check_echo_reply(build_icmp(f, 8, 32, 2), 32);       /* with IP options */
}

static void
test_icmp_other(void **state)
{
	uint32_t len;

	(void)state;
	expect_drop(build_icmp(f, 0, 8, 0), FRAME_drop_icmp_other);    /* echo reply */
	expect_drop(build_icmp(f, 13, 12, 0), FRAME_drop_icmp_other);  /* timestamp */
	expect_drop(build_icmp(f, 3, 28, 0), FRAME_drop_icmp_other);   /* unreachable */
	len = build_icmp(f, 8, 56, 0);
	f[ETH_LEN + IP_LEN + 8] ^= 0x40;                               /* corrupted */
	expect_drop(len, FRAME_drop_icmp_other);
}

static void
test_ip_bad_header(void **state)
{
	struct udp_opts o = { .opt_words = 2 };
	uint32_t len;

	(void)state;
	len = build_udp(f, request_payload, sizeof(request_payload), NULL);
	f[ETH_LEN] = 0x65;                       /* version 6 */
	fix_ip_cksum(f);
	expect_drop(len, FRAME_drop_ip_bad_header);

	len = build_udp(f, request_payload, sizeof(request_payload), NULL);
	f[ETH_LEN] = 0x44;                       /* IHL 4 */
	expect_drop(len, FRAME_drop_ip_bad_header);
	f[ETH_LEN] = 0x40;                       /* IHL 0 */
	expect_drop(len, FRAME_drop_ip_bad_header);

	len = build_udp(f, request_payload, sizeof(request_payload), NULL);
	put16(f + ETH_LEN + 2, 19);              /* total length below the header */
	fix_ip_cksum(f);
	expect_drop(len, FRAME_drop_ip_bad_header);

	len = build_udp(f, request_payload, sizeof(request_payload), NULL);
	put16(f + ETH_LEN + 2, (uint16_t)(len - ETH_LEN + 1));    /* one byte beyond the frame */
	fix_ip_cksum(f);
	expect_drop(len, FRAME_drop_ip_bad_header);

	len = build_udp(f, request_payload, sizeof(request_payload), &o);
	put16(f + ETH_LEN + 2, 24);              /* shorter than its own options */
	fix_ip_cksum(f);
	expect_drop(len, FRAME_drop_ip_bad_header);
}

static void
test_ip_bad_checksum(void **state)
{
	struct udp_opts o = { .opt_words = 3 };
	uint32_t len;

	(void)state;
	len = build_udp(f, request_payload, sizeof(request_payload), NULL);
	f[ETH_LEN + 10] ^= 0x01;
	expect_drop(len, FRAME_drop_ip_bad_checksum);
	/* The port already checked it in hardware (and the UDP checksum does not cover it). */
	assert_int_equal(classify(len, FRAME_VERIFY_UDP_CKSUM), FRAME_REQUEST);
	assert_int_equal(classify(len, 0), FRAME_REQUEST);

	len = build_udp(f, request_payload, sizeof(request_payload), NULL);
	f[ETH_LEN + 8] = 63;                     /* TTL changed, checksum not */
	expect_drop(len, FRAME_drop_ip_bad_checksum);

	/* The checksum covers the options. */
	len = build_udp(f, request_payload, sizeof(request_payload), &o);
	f[ETH_LEN + IP_LEN + 5] = 0x00;
	expect_drop(len, FRAME_drop_ip_bad_checksum);
}

static void
test_ip_fragment(void **state)
{
	static const uint16_t frags[] = { 0x2000, 0x0001, 0x2001, 0x1fff, 0x6000, 0x4001 };
	struct udp_opts df = { .frag = 0x4000 };
	unsigned int i;
	uint32_t len;

	(void)state;
	for (i = 0; i < sizeof(frags) / sizeof(frags[0]); i++) {
		struct udp_opts o = { .frag = frags[i] };

		len = build_udp(f, request_payload, sizeof(request_payload), &o);
		expect_drop(len, FRAME_drop_ip_fragment);
	}

	/* DF alone is an ordinary datagram. */
	len = build_udp(f, request_payload, sizeof(request_payload), &df);
	assert_int_equal(classify(len, FRAME_VERIFY_ALL), FRAME_REQUEST);
}

static void
test_ip_not_ours(void **state)
{
	static const uint32_t others[] = { 0x0a000003u, 0xffffffffu, 0x0a0000ffu, 0xe0000001u, 0x010000a0u };
	unsigned int i;
	uint32_t len;

	(void)state;
	for (i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		struct udp_opts o = { .dst_ip = others[i] };

		len = build_udp(f, request_payload, sizeof(request_payload), &o);
		expect_drop(len, FRAME_drop_ip_not_ours);
	}
	/* ICMP to another address is not answered either. */
	len = build_icmp(f, 8, 8, 0);
	put32(f + ETH_LEN + 16, 0x0a000009u);
	fix_ip_cksum(f);
	expect_drop(len, FRAME_drop_ip_not_ours);
}

static void
test_not_udp(void **state)
{
	static const uint8_t protos[] = { 6, 47, 50, 132, 0xff };
	unsigned int i;

	(void)state;
	for (i = 0; i < sizeof(protos); i++) {
		struct udp_opts o = { .proto = protos[i] };
		uint32_t len = build_udp(f, request_payload, sizeof(request_payload), &o);

		expect_drop(len, FRAME_drop_not_udp);
	}
}

static void
test_udp_bad_length(void **state)
{
	uint8_t *udp = f + ETH_LEN + IP_LEN;
	uint32_t len;

	(void)state;
	len = build_udp(f, request_payload, sizeof(request_payload), NULL);
	put16(udp + 4, 7);
	expect_drop(len, FRAME_drop_udp_bad_length);
	put16(udp + 4, 0);
	expect_drop(len, FRAME_drop_udp_bad_length);
	put16(udp + 4, UDP_LEN + sizeof(request_payload) + 1);
	expect_drop(len, FRAME_drop_udp_bad_length);
	put16(udp + 4, UDP_LEN + sizeof(request_payload) - 1);
	expect_drop(len, FRAME_drop_udp_bad_length);
	put16(udp + 4, 0xffff);
	expect_drop(len, FRAME_drop_udp_bad_length);
}

static void
test_udp_checksum(void **state)
{
	struct udp_opts zero = { .zero_cksum = true };
	uint8_t *udp = f + ETH_LEN + IP_LEN;
	uint32_t len;

	(void)state;
	len = build_udp(f, request_payload, sizeof(request_payload), NULL);
	assert_true(udp_cksum_ok(f));
	udp[UDP_LEN + 3] ^= 0x10;                       /* payload corrupted */
	expect_drop(len, FRAME_drop_udp_bad_checksum);
	/* The port already checked it in hardware. */
	assert_int_equal(classify(len, FRAME_VERIFY_IP_CKSUM), FRAME_REQUEST);

	len = build_udp(f, request_payload, sizeof(request_payload), NULL);
	put16(udp + 6, (uint16_t)(get16(udp + 6) ^ 0x0100));
	expect_drop(len, FRAME_drop_udp_bad_checksum);

	/* The pseudo-header is covered: the source address is part of it. */
	len = build_udp(f, request_payload, sizeof(request_payload), NULL);
	put32(f + ETH_LEN + 12, CLI_IP + 1);
	fix_ip_cksum(f);
	expect_drop(len, FRAME_drop_udp_bad_checksum);

	/* No checksum sent: nothing to verify. */
	len = build_udp(f, request_payload, sizeof(request_payload), &zero);
	assert_int_equal(get16(udp + 6), 0);
	assert_int_equal(classify(len, FRAME_VERIFY_ALL), FRAME_REQUEST);
	assert_request(ETH_LEN + IP_LEN, sizeof(request_payload));
}

static void
test_udp_wrong_port(void **state)
{
	struct udp_opts o = { .dst_port = 9001 };
	uint32_t len;

	(void)state;
	len = build_udp(f, request_payload, sizeof(request_payload), &o);
	expect_drop(len, FRAME_drop_udp_wrong_port);
	o.dst_port = 53;
	len = build_udp(f, request_payload, sizeof(request_payload), &o);
	expect_drop(len, FRAME_drop_udp_wrong_port);
}

static void
test_oversize(void **state)
{
	static uint8_t payload[1473];
	uint32_t len;

	(void)state;
	memset(payload, 0x61, sizeof(payload));
	len = build_udp(f, payload, 1472, NULL);
	assert_int_equal(classify(len, FRAME_VERIFY_ALL), FRAME_REQUEST);
	assert_int_equal(req.payload_len, 1472);

	len = build_udp(f, payload, 1473, NULL);
	expect_drop(len, FRAME_drop_oversize);

	svc.max_payload = 100;
	len = build_udp(f, payload, 101, NULL);
	expect_drop(len, FRAME_drop_oversize);
	len = build_udp(f, payload, 100, NULL);
	assert_int_equal(classify(len, FRAME_VERIFY_ALL), FRAME_REQUEST);
}

static void
test_truncated_every_header(void **state)
{
	struct udp_opts o = { .opt_words = 10 };
	uint32_t len, cut;

	(void)state;
	/* Ethernet, then the fixed IPv4 header. */
	len = build_udp(f, request_payload, sizeof(request_payload), NULL);
	for (cut = 0; cut < ETH_LEN + IP_LEN; cut++)
		expect_drop(cut, FRAME_drop_truncated);

	/* IPv4 options claimed by the IHL but cut off. */
	len = build_udp(f, request_payload, sizeof(request_payload), &o);
	for (cut = ETH_LEN + IP_LEN; cut < ETH_LEN + 60; cut++)
		expect_drop(cut, FRAME_drop_truncated);

	/* ARP. */
	len = build_arp(f, 1, SVC_IP);
	for (cut = 0; cut < len; cut++)
		expect_drop(cut, FRAME_drop_truncated);

	/* A datagram too short for the UDP header it claims. */
	len = build_udp(f, request_payload, sizeof(request_payload), NULL);
	put16(f + ETH_LEN + 2, IP_LEN + 4);
	fix_ip_cksum(f);
	expect_drop(ETH_LEN + IP_LEN + 4, FRAME_drop_truncated);
	put16(f + ETH_LEN + 2, IP_LEN);
	fix_ip_cksum(f);
	expect_drop(ETH_LEN + IP_LEN, FRAME_drop_truncated);

	/* ... and for the ICMP header. */
	len = build_icmp(f, 8, 0, 0);
	put16(f + ETH_LEN + 2, IP_LEN + 7);
	fix_ip_cksum(f);
	expect_drop(ETH_LEN + IP_LEN + 7, FRAME_drop_truncated);

	/* A frame shorter than its IPv4 total length is an inconsistent IPv4 header. */
	len = build_udp(f, request_payload, sizeof(request_payload), NULL);
	for (cut = ETH_LEN + IP_LEN; cut < len; cut++)
		expect_drop(cut, FRAME_drop_ip_bad_header);
}

static void
test_not_ipv4_or_arp(void **state)
{
	static const uint16_t types[] = { 0x86dd, 0x8100, 0x88a8, 0x8035, 0x0000, 0x05dc };
	unsigned int i;
	uint32_t len;

	(void)state;
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		len = build_udp(f, request_payload, sizeof(request_payload), NULL);
		put16(f + 12, types[i]);
		expect_drop(len, FRAME_drop_not_ipv4_or_arp);
	}
}

static void
test_verdict_names(void **state)
{
	static const char *const names[FRAME_VERDICT_MAX] = {
		"request", "arp_reply", "icmp_reply", "drop_truncated", "drop_not_ipv4_or_arp",
		"drop_arp_other", "drop_ip_bad_header", "drop_ip_bad_checksum", "drop_ip_fragment",
		"drop_ip_not_ours", "drop_icmp_other", "drop_not_udp", "drop_udp_bad_length",
		"drop_udp_bad_checksum", "drop_udp_wrong_port", "drop_oversize",
	};
	int v;

	(void)state;
	assert_int_equal(FRAME_VERDICT_MAX, 16);
	assert_int_equal(FRAME_FIRST_DROP, 3);
	for (v = 0; v < FRAME_VERDICT_MAX; v++)
		assert_string_equal(frame_verdict_name((enum frame_verdict)v), names[v]);
	assert_string_equal(frame_verdict_name(FRAME_drop_ip_fragment), "drop_ip_fragment");
}

/* Headers for a reply to the request in `f`; the payload follows them in `out`. */
/*
 * A kernel leaves the checksum partial, the folded pseudo-header sum, for a
 * device to complete; over a veth nobody does. That is "not computed", on
 * every port, and reported; anything else wrong is still dropped.
 */
static void
test_udp_checksum_partial(void **state)
{
	struct udp_opts zero = { .zero_cksum = true };
	struct udp_opts other_port = { .dst_port = SVC_PORT + 1 };
	uint8_t *udp = f + ETH_LEN + IP_LEN;
	uint16_t partial;
	uint32_t len;

	(void)state;
	/* A correct sum: accepted, not reported. */
	len = build_udp(f, request_payload, sizeof(request_payload), NULL);
	assert_int_equal(classify(len, FRAME_VERIFY_ALL), FRAME_REQUEST);
	assert_false(req.udp_cksum_partial);

	/* The partial sum: accepted as a request, reported, the frame untouched. */
	partial = fold(pseudo_sum(f, (uint16_t)(UDP_LEN + sizeof(request_payload))));
	put16(udp + 6, partial);
	assert_false(udp_cksum_ok(f));
	memcpy(copy, f, len);
	assert_int_equal(classify(len, FRAME_VERIFY_ALL), FRAME_REQUEST);
	assert_true(req.udp_cksum_partial);
	assert_request(ETH_LEN + IP_LEN, sizeof(request_payload));
	assert_memory_equal(f, copy, len);
	/* Verified in hardware: nothing checked here, nothing reported. */
	assert_int_equal(classify(len, FRAME_VERIFY_IP_CKSUM), FRAME_REQUEST);
	assert_false(req.udp_cksum_partial);

	/* A sum wrong by one, or partial over another pseudo-header: dropped, not reported. */
	put16(udp + 6, (uint16_t)(partial ^ 1));
	expect_drop(len, FRAME_drop_udp_bad_checksum);
	assert_false(req.udp_cksum_partial);
	put16(udp + 6, partial);
	put32(f + ETH_LEN + 12, CLI_IP + 1);
	fix_ip_cksum(f);
	expect_drop(len, FRAME_drop_udp_bad_checksum);
	assert_false(req.udp_cksum_partial);

	/* Zero: no checksum (RFC 768), accepted and not reported as partial. */
	len = build_udp(f, request_payload, sizeof(request_payload), &zero);
	assert_int_equal(classify(len, FRAME_VERIFY_ALL), FRAME_REQUEST);
	assert_false(req.udp_cksum_partial);

	/* The rule holds on every port: the frame is dropped for its port, not its checksum. */
	len = build_udp(f, request_payload, sizeof(request_payload), &other_port);
	put16(udp + 6, fold(pseudo_sum(f, (uint16_t)(UDP_LEN + sizeof(request_payload)))));
	expect_drop(len, FRAME_drop_udp_wrong_port);
	assert_true(req.udp_cksum_partial);

	/* Another frame after a partial one is not reported. */
	len = build_arp(f, 1, SVC_IP);
	req.udp_cksum_partial = true;
	assert_int_equal(frame_classify(f, len, &svc, FRAME_VERIFY_ALL, &req), FRAME_ARP_REPLY);
	assert_false(req.udp_cksum_partial);
}

/* A correct checksum that happens to equal the pseudo-header sum is just correct. */
static void
test_udp_checksum_equal_to_pseudo_sum(void **state)
{
	uint8_t payload[4] = { 0x12, 0x34, 0x00, 0x00 };
	uint8_t *udp = f + ETH_LEN + IP_LEN;
	uint16_t ph, rest;
	uint32_t len;

	(void)state;
	len = build_udp(f, payload, sizeof(payload), NULL);
	ph = fold(pseudo_sum(f, UDP_LEN + sizeof(payload)));
	/* With the field at ph, the last payload word that makes the whole sum 0xffff. */
	put16(udp + 6, ph);
	rest = fold(sum16(udp, UDP_LEN + sizeof(payload), ph));
	put16(udp + UDP_LEN + 2, (uint16_t)~rest);
	assert_true(udp_cksum_ok(f));
	assert_int_equal(get16(udp + 6), ph);
	assert_int_equal(classify(len, FRAME_VERIFY_ALL), FRAME_REQUEST);
	assert_false(req.udp_cksum_partial);
}

static void
write_reply(uint8_t *out, const void *payload, uint16_t plen, bool offload)
{
	uint32_t len = build_udp(f, request_payload, sizeof(request_payload), NULL);
	struct frame_udp_head head;

	assert_int_equal(classify(len, FRAME_VERIFY_ALL), FRAME_REQUEST);
	memset(out, 0xcc, FRAME_UDP_HEADERS_LEN);
	memcpy(out + FRAME_UDP_HEADERS_LEN, payload, plen);
	frame_udp_head_init(&head, &svc);
	frame_write_udp_headers(out, &head, &req, plen, offload);
}

static void
test_write_udp_headers(void **state)
{
	static uint8_t out[2048];
	static const uint8_t payload[] = { 0x83, 0xa1, 'v', 0x01, 0xa2, 'i', 'd', 0x01,
					   0xa6, 's', 't', 'a', 't', 'u', 's', 0xcc, 0xcc, 0x00 };
	struct frame_service client;
	uint8_t *ip = out + ETH_LEN;
	uint8_t *udp = ip + IP_LEN;
	uint16_t plen = sizeof(payload);   /* odd: the last word is padded */

	(void)state;
	write_reply(out, payload, plen, false);
	assert_memory_equal(out, cli_mac, 6);
	assert_memory_equal(out + 6, svc_mac, 6);
	assert_int_equal(get16(out + 12), 0x0800);
	assert_int_equal(ip[0], 0x45);
	assert_int_equal(get16(ip + 2), IP_LEN + UDP_LEN + plen);
	assert_int_equal(get16(ip + 6) & 0x3fff, 0);       /* not a fragment */
	assert_int_equal(ip[8], 64);
	assert_int_equal(ip[9], 17);
	assert_int_equal(get32(ip + 12), SVC_IP);
	assert_int_equal(get32(ip + 16), CLI_IP);
	assert_true(ip_cksum_ok(out));
	assert_int_equal(get16(udp), SVC_PORT);
	assert_int_equal(get16(udp + 2), CLI_PORT);
	assert_int_equal(get16(udp + 4), UDP_LEN + plen);
	assert_int_not_equal(get16(udp + 6), 0);
	assert_true(udp_cksum_ok(out));
	assert_memory_equal(out + FRAME_UDP_HEADERS_LEN, payload, plen);

	/* The client's own classifier takes it as a well-formed datagram to it. */
	memcpy(client.mac, cli_mac, 6);
	client.ip = htonl(CLI_IP);
	client.udp_port = htons(CLI_PORT);
	client.max_payload = 1472;
	assert_int_equal(frame_classify(out, FRAME_UDP_HEADERS_LEN + plen, &client, FRAME_VERIFY_ALL,
					&req), FRAME_REQUEST);
	assert_int_equal(req.payload_offset, FRAME_UDP_HEADERS_LEN);
	assert_int_equal(req.payload_len, plen);
	assert_int_equal(req.src_port, htons(SVC_PORT));
}

static void
test_write_udp_headers_offload(void **state)
{
	static uint8_t out[2048];
	static const uint8_t payload[] = { 0x80 };
	uint8_t *udp = out + ETH_LEN + IP_LEN;

	(void)state;
	write_reply(out, payload, sizeof(payload), true);
	assert_int_equal(get16(out + ETH_LEN + 10), 0);   /* left to the NIC */
	assert_int_equal(get16(udp + 4), UDP_LEN + 1);
	/* The seed is the folded, uncomplemented pseudo-header sum. */
	assert_int_equal(get16(udp + 6), fold(pseudo_sum(out, UDP_LEN + 1)));
	/* Completed as the NIC would, it verifies. */
	put16(udp + 6, 0);
	put16(udp + 6, (uint16_t)~fold(sum16(udp, UDP_LEN + 1, pseudo_sum(out, UDP_LEN + 1))));
	assert_true(udp_cksum_ok(out));
}

/* What offload leaves in the UDP checksum is what the classifier takes as partial. */
static void
test_write_udp_headers_offload_classifies_partial(void **state)
{
	static uint8_t out[2048];
	static const uint8_t payload[] = { 0x80 };
	struct frame_service client;

	(void)state;
	write_reply(out, payload, sizeof(payload), true);
	fix_ip_cksum(out);
	memcpy(client.mac, cli_mac, 6);
	client.ip = htonl(CLI_IP);
	client.udp_port = htons(CLI_PORT);
	client.max_payload = 1472;
	memset(&req, 0x5a, sizeof(req));
	assert_int_equal(frame_classify(out, FRAME_UDP_HEADERS_LEN + sizeof(payload), &client,
					FRAME_VERIFY_ALL, &req), FRAME_REQUEST);
	assert_true(req.udp_cksum_partial);
}

/* A sum of exactly zero is sent as 0xffff, since 0 would mean "no checksum". */
static void
test_write_udp_headers_zero_sum(void **state)
{
	static uint8_t out[2048];
	uint8_t payload[4] = { 0x12, 0x34, 0x00, 0x00 };
	uint8_t *udp = out + ETH_LEN + IP_LEN;
	uint16_t c;

	(void)state;
	write_reply(out, payload, sizeof(payload), false);
	c = get16(udp + 6);
	/* Adding the complement of the sum as a payload word makes the sum 0xffff. */
	put16(payload + 2, c);
	write_reply(out, payload, sizeof(payload), false);
	assert_int_equal(get16(udp + 6), 0xffff);
	assert_true(udp_cksum_ok(out));
}

/* A fixed sequence (xorshift64): a failure repeats. */
static uint8_t
random_byte(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return (uint8_t)(*x >> 24);
}

/*
 * frame_raw_cksum() gives rte_raw_cksum()'s value on random bytes of every
 * length an Ethernet payload can have, at every alignment; each buffer has
 * exactly its length, so that a sanitizer sees any read past its end.
 */
static void
test_raw_cksum_matches_dpdk(void **state)
{
	static const uint8_t fills[] = { 0x00, 0xff };
	uint64_t x = 0x243f6a8885a308d3ull;
	uint32_t len, align, i, k;
	uint8_t *buf, *p;

	(void)state;
	for (len = 0; len <= 1500; len++) {
		for (align = 0; align < 8; align++) {
			buf = malloc(align + len + 1);
			assert_non_null(buf);
			p = buf + align;
			for (i = 0; i < len; i++)
				p[i] = random_byte(&x);
			assert_int_equal(frame_raw_cksum(p, len), rte_raw_cksum(p, len));
			/* Summed in either byte order, one's complement sums differ by a swap. */
			assert_int_equal(ntohs(frame_raw_cksum(p, len)), fold(sum16(p, len, 0)));
			/* All zeros sum to 0, all ones to 0xffff: never the other zero. */
			for (k = 0; k < sizeof(fills) && len <= 64; k++) {
				memset(p, fills[k], len);
				assert_int_equal(frame_raw_cksum(p, len), rte_raw_cksum(p, len));
			}
			free(buf);
		}
	}
}

/*
 * Requests of every payload length classify (and one flipped bit is caught),
 * and replies of every length carry the very checksums DPDK computes.
 */
static void
test_checksums_every_length(void **state)
{
	static uint8_t payload[1472], out[2048], ref[2048], at[2048 + 8];
	uint8_t *ip = ref + ETH_LEN, *udp = ip + IP_LEN;
	struct frame_service client;
	uint64_t x = 0x13198a2e03707344ull;
	uint16_t plen, c;
	uint32_t len, i, tx_len;

	(void)state;
	memcpy(client.mac, cli_mac, 6);
	client.ip = htonl(CLI_IP);
	client.udp_port = htons(CLI_PORT);
	client.max_payload = 1472;
	for (plen = 0; plen <= sizeof(payload); plen++) {
		for (i = 0; i < plen; i++)
			payload[i] = random_byte(&x);

		len = build_udp(f, payload, plen, NULL);
		memcpy(at + plen % 8, f, len);
		memset(&req, 0x5a, sizeof(req));
		assert_int_equal(frame_classify(at + plen % 8, len, &svc, FRAME_VERIFY_ALL, &req),
				 FRAME_REQUEST);
		assert_false(req.udp_cksum_partial);
		if (plen > 0) {
			f[ETH_LEN + IP_LEN + UDP_LEN + random_byte(&x) % plen] ^=
				(uint8_t)(1u << random_byte(&x) % 8);
			assert_int_equal(classify(len, FRAME_VERIFY_ALL), FRAME_drop_udp_bad_checksum);
		}

		write_reply(out, payload, plen, false);
		tx_len = FRAME_UDP_HEADERS_LEN + plen;
		memcpy(ref, out, tx_len);
		memset(ip + 10, 0, 2);
		memset(udp + 6, 0, 2);
		c = rte_ipv4_cksum((const struct rte_ipv4_hdr *)ip);
		assert_memory_equal(out + ETH_LEN + 10, &c, 2);
		c = rte_ipv4_udptcp_cksum((const struct rte_ipv4_hdr *)ip, udp);
		assert_memory_equal(out + ETH_LEN + IP_LEN + 6, &c, 2);
		assert_int_equal(frame_classify(out, tx_len, &client, FRAME_VERIFY_ALL, &req),
				 FRAME_REQUEST);
		assert_int_equal(req.payload_len, plen);

		/* Offloaded, the UDP field holds the pseudo-header seed DPDK computes. */
		write_reply(out, payload, plen, true);
		memcpy(ref, out, tx_len);
		c = rte_ipv4_phdr_cksum((const struct rte_ipv4_hdr *)ip, 0);
		assert_memory_equal(out + ETH_LEN + IP_LEN + 6, &c, 2);
	}
}

/*
 * The reply's checksums are summed from the addresses, ports and length it
 * writes, not read back from its header: DPDK's values over random
 * addresses and ports (the all-ones and zero words included) of both sides.
 */
static void
test_write_udp_headers_any_peer(void **state)
{
	static const uint32_t ips[] = { 0x00000000, 0xffffffff, 0xc6120001, 0x0000ffff };
	static uint8_t payload[64], out[2048];
	uint8_t *ip = out + ETH_LEN, *udp = ip + IP_LEN;
	struct frame_service from;
	struct frame_udp_head head;
	struct frame_request to;
	uint64_t x = 0xa4093822299f31d0ull;
	uint16_t c, plen;
	unsigned int i, k;

	(void)state;
	memcpy(from.mac, svc_mac, 6);
	from.max_payload = 1472;
	memset(&to, 0, sizeof(to));
	memcpy(to.src_mac, cli_mac, 6);
	for (i = 0; i < 4000; i++) {
		for (k = 0; k < sizeof(payload); k++)
			payload[k] = random_byte(&x);
		plen = random_byte(&x) % (sizeof(payload) + 1);
		if (i < 16) {
			from.ip = ips[i % 4];
			to.src_ip = ips[i / 4];
			from.udp_port = (uint16_t)(i % 2 ? 0xffff : 0);
			to.src_port = (uint16_t)(i % 3 ? 0xffff : 1);
		} else {
			from.ip = (uint32_t)random_byte(&x) << 24 | (uint32_t)random_byte(&x) << 16 |
				  (uint32_t)random_byte(&x) << 8 | random_byte(&x);
			to.src_ip = (uint32_t)random_byte(&x) << 24 | (uint32_t)random_byte(&x) << 16 |
				    (uint32_t)random_byte(&x) << 8 | random_byte(&x);
			from.udp_port = (uint16_t)(random_byte(&x) << 8 | random_byte(&x));
			to.src_port = (uint16_t)(random_byte(&x) << 8 | random_byte(&x));
		}
		memset(out, 0xcc, FRAME_UDP_HEADERS_LEN);
		memcpy(out + FRAME_UDP_HEADERS_LEN, payload, plen);
		frame_udp_head_init(&head, &from);
		frame_write_udp_headers(out, &head, &to, plen, false);
		memcpy(&c, ip + 10, 2);
		memset(ip + 10, 0, 2);
		assert_int_equal(c, rte_ipv4_cksum((const struct rte_ipv4_hdr *)ip));
		memcpy(ip + 10, &c, 2);
		memcpy(&c, udp + 6, 2);
		memset(udp + 6, 0, 2);
		assert_int_equal(c, rte_ipv4_udptcp_cksum((const struct rte_ipv4_hdr *)ip, udp));
		memcpy(udp + 6, &c, 2);
		assert_true(ip_cksum_ok(out));
		assert_true(udp_cksum_ok(out));

		frame_write_udp_headers(out, &head, &to, plen, true);
		assert_int_equal(get16(ip + 10), 0);
		memcpy(&c, udp + 6, 2);
		assert_int_equal(c, rte_ipv4_phdr_cksum((const struct rte_ipv4_hdr *)ip, 0));
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_udp_request, setup),
		cmocka_unit_test_setup(test_ip_options_accepted, setup),
		cmocka_unit_test_setup(test_ip_options_every_verdict, setup),
		cmocka_unit_test_setup(test_ethernet_padding_ignored, setup),
		cmocka_unit_test_setup(test_arp_request_for_us, setup),
		cmocka_unit_test_setup(test_arp_other, setup),
		cmocka_unit_test_setup(test_icmp_echo_reply, setup),
		cmocka_unit_test_setup(test_icmp_other, setup),
		cmocka_unit_test_setup(test_ip_bad_header, setup),
		cmocka_unit_test_setup(test_ip_bad_checksum, setup),
		cmocka_unit_test_setup(test_ip_fragment, setup),
		cmocka_unit_test_setup(test_ip_not_ours, setup),
		cmocka_unit_test_setup(test_not_udp, setup),
		cmocka_unit_test_setup(test_udp_bad_length, setup),
		cmocka_unit_test_setup(test_udp_checksum, setup),
		cmocka_unit_test_setup(test_udp_checksum_partial, setup),
		cmocka_unit_test_setup(test_udp_checksum_equal_to_pseudo_sum, setup),
		cmocka_unit_test_setup(test_udp_wrong_port, setup),
		cmocka_unit_test_setup(test_oversize, setup),
		cmocka_unit_test_setup(test_truncated_every_header, setup),
		cmocka_unit_test_setup(test_not_ipv4_or_arp, setup),
		cmocka_unit_test_setup(test_verdict_names, setup),
		cmocka_unit_test_setup(test_write_udp_headers, setup),
		cmocka_unit_test_setup(test_write_udp_headers_offload, setup),
		cmocka_unit_test_setup(test_write_udp_headers_offload_classifies_partial, setup),
		cmocka_unit_test_setup(test_write_udp_headers_zero_sum, setup),
		cmocka_unit_test_setup(test_write_udp_headers_any_peer, setup),
		cmocka_unit_test_setup(test_raw_cksum_matches_dpdk, setup),
		cmocka_unit_test_setup(test_checksums_every_length, setup),
	};

	return cmocka_run_group_tests_name("frame", tests, NULL, NULL);
}
