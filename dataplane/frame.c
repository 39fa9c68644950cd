/* Frame classification and in-place ARP/ICMP replies, and the UDP headers of a response. */
#include <stddef.h>
#include <string.h>

#include <rte_arp.h>
#include <rte_branch_prediction.h>
#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_udp.h>

#include "frame.h"

/*
 * Ethernet and ARP fields are reached by offset and memcpy: their DPDK
 * structs require 2-byte alignment, and the classifier must accept any frame
 * pointer (the fuzzer's and the tests' buffers included). The IPv4, UDP and
 * ICMP structs are packed, so pointers to them carry no alignment assumption.
 */
#define FRAME_ETH_DST   offsetof(struct rte_ether_hdr, dst_addr)
#define FRAME_ETH_SRC   offsetof(struct rte_ether_hdr, src_addr)
#define FRAME_ETH_TYPE  offsetof(struct rte_ether_hdr, ether_type)
#define FRAME_ETH_LEN   ((uint32_t)sizeof(struct rte_ether_hdr))

#define FRAME_ARP_LEN   ((uint32_t)sizeof(struct rte_arp_hdr))
#define FRAME_ARP_SHA   (offsetof(struct rte_arp_hdr, arp_data) + offsetof(struct rte_arp_ipv4, arp_sha))
#define FRAME_ARP_SIP   (offsetof(struct rte_arp_hdr, arp_data) + offsetof(struct rte_arp_ipv4, arp_sip))
#define FRAME_ARP_THA   (offsetof(struct rte_arp_hdr, arp_data) + offsetof(struct rte_arp_ipv4, arp_tha))
#define FRAME_ARP_TIP   (offsetof(struct rte_arp_hdr, arp_data) + offsetof(struct rte_arp_ipv4, arp_tip))

#define FRAME_IPV4_MIN_LEN ((uint32_t)sizeof(struct rte_ipv4_hdr))
#define FRAME_UDP_LEN      ((uint32_t)sizeof(struct rte_udp_hdr))
#define FRAME_ICMP_LEN     ((uint32_t)sizeof(struct rte_icmp_hdr))
#define FRAME_REPLY_TTL    64

static const char *const frame_verdict_names[FRAME_VERDICT_MAX] = {
	[FRAME_REQUEST] = "request",
	[FRAME_ARP_REPLY] = "arp_reply",
	[FRAME_ICMP_REPLY] = "icmp_reply",
#define FRAME_VERDICT_NAME(name) [FRAME_##name] = #name,
	FRAME_DROP_REASONS(FRAME_VERDICT_NAME)
#undef FRAME_VERDICT_NAME
};

static uint16_t
frame_get_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void
frame_put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/*
 * Checksums in software, for ports without offload (net_pcap, af_packet,
 * memif). DPDK 22.11's rte_raw_cksum() adds 2 bytes a step; the Internet
 * checksum can be summed 8 bytes a step instead (RFC 1071): a 64-bit word
 * is four 16-bit words side by side, and adding words with the carry out of
 * the top added back in at the bottom (end-around carry, add then adc)
 * keeps the sum modulo 2^64 - 1, a multiple of 2^16 - 1. Folded to 16 bits
 * at the end it is the very value rte_raw_cksum() gives, 0 only for bytes
 * all zero. Loads are unaligned (memcpy): a frame may start anywhere.
 */
static inline uint64_t
frame_cksum_add(uint64_t sum, uint64_t w)
{
	sum += w;
	return sum + (sum < w);
}

static inline uint64_t
frame_cksum_load(const uint8_t *p)
{
	uint64_t w;

	memcpy(&w, p, sizeof(w));
	return w;
}

/*
 * 32 bytes added to `sum`. On x86-64 one carry chain (add, three adc, adc 0)
 * does what the C below needs a compare per word for: the compiler cannot
 * see that the carry out of one add is the carry into the next, and the
 * chain halves the instructions of a long datagram's sum. Either way the
 * result is rte_raw_cksum()'s, at every length and alignment
 * (tests/proto/test_frame.c).
 */
static __rte_always_inline uint64_t
frame_cksum_add32(uint64_t sum, const uint8_t *p)
{
#if defined(__x86_64__)
	__asm__("addq 0(%[p]), %[s]\n\t"
		"adcq 8(%[p]), %[s]\n\t"
		"adcq 16(%[p]), %[s]\n\t"
		"adcq 24(%[p]), %[s]\n\t"
		"adcq $0, %[s]"
		: [s] "+r" (sum)
		: [p] "r" (p), "m" (*(const uint8_t (*)[32])p)
		: "cc");
	return sum;
#else
	sum = frame_cksum_add(sum, frame_cksum_load(p));
	sum = frame_cksum_add(sum, frame_cksum_load(p + 8));
	sum = frame_cksum_add(sum, frame_cksum_load(p + 16));
	return frame_cksum_add(sum, frame_cksum_load(p + 24));
#endif
}

/* 16 bytes added to `sum`: the same carry chain, for the tail of a sum and an IPv4 header. */
static __rte_always_inline uint64_t
frame_cksum_add16(uint64_t sum, const uint8_t *p)
{
#if defined(__x86_64__)
	__asm__("addq 0(%[p]), %[s]\n\t"
		"adcq 8(%[p]), %[s]\n\t"
		"adcq $0, %[s]"
		: [s] "+r" (sum)
		: [p] "r" (p), "m" (*(const uint8_t (*)[16])p)
		: "cc");
	return sum;
#else
	sum = frame_cksum_add(sum, frame_cksum_load(p));
	return frame_cksum_add(sum, frame_cksum_load(p + 8));
#endif
}

/* The unfolded sum of `len` bytes, added to `sum`. Inline: a constant `len` unrolls. */
static __rte_always_inline uint64_t
frame_cksum_sum(const void *buf, uint32_t len, uint64_t sum)
{
	const uint8_t *p = buf;
	/* Where the 32-byte blocks end: a loop on the pointer alone, whose set-up is one mask
	 * (counted down on len, it cost as much as a block for a short datagram). */
	const uint8_t *blocks_end = p + (len & ~31u);
	uint32_t w4;
	uint16_t w2;

	for (; p != blocks_end; p += 32)
		sum = frame_cksum_add32(sum, p);
	/*
	 * The last 0-31 bytes by their length's bits, without a loop: datagrams
	 * here are short, and a loop's control would cost as much as its sums.
	 * Every piece starts at an even offset: a 16-bit word counts the same
	 * wherever it sits in a 64-bit one (2^16 is 1 modulo 2^16 - 1), so the
	 * pieces are simply added. The odd byte is the first of a word padded
	 * with zero, as rte_raw_cksum() has it.
	 */
	if (len & 16) {
		sum = frame_cksum_add16(sum, p);
		p += 16;
	}
	if (len & 8) {
		sum = frame_cksum_add(sum, frame_cksum_load(p));
		p += 8;
	}
	if (len & 4) {
		memcpy(&w4, p, 4);
		sum = frame_cksum_add(sum, w4);
		p += 4;
	}
	if (len & 2) {
		memcpy(&w2, p, 2);
		sum = frame_cksum_add(sum, w2);
		p += 2;
	}
	if (len & 1) {
		w2 = 0;
		memcpy(&w2, p, 1);
		sum = frame_cksum_add(sum, w2);
	}
	return sum;
}

/* 64 bits folded to 16, end-around: the checksum, uncomplemented; 0xffff means "verifies". */
static inline uint16_t
frame_cksum_fold(uint64_t sum)
{
	uint32_t hi32 = (uint32_t)(sum >> 32), s32 = (uint32_t)sum + hi32;
	uint16_t hi16, s16;

	s32 += s32 < hi32;
	hi16 = (uint16_t)(s32 >> 16);
	s16 = (uint16_t)((uint16_t)s32 + hi16);
	return (uint16_t)(s16 + (s16 < hi16));
}

static inline uint16_t
frame_cksum(const void *buf, uint32_t len)
{
	return frame_cksum_fold(frame_cksum_sum(buf, len, 0));
}

/*
 * Whether a received block's sum verifies, folds to 0xffff, without the
 * fold: the fold is the sum modulo 2^16 - 1 (of which 2^64 - 1 is a
 * multiple), 0xffff standing for 0, so this is a divisibility test, which
 * the compiler makes one multiplication and one comparison. A sum of 0
 * would fold to 0, not 0xffff: none is 0 here, as each has a word that is
 * not (the IPv4 version, the ICMP type, the UDP protocol in the
 * pseudo-header), and adding with the carry wrapped round never gets back
 * to 0.
 */
static inline bool
frame_cksum_verifies(uint64_t sum)
{
	return sum % 0xffff == 0;
}

/* An IPv4 header's sum: the usual 20 bytes unrolled in line (three loads), options the long way. */
static __rte_always_inline uint64_t
frame_ipv4_sum(const struct rte_ipv4_hdr *ip, uint32_t ihl_len)
{
	if (likely(ihl_len == FRAME_IPV4_MIN_LEN))
		return frame_cksum_sum(ip, FRAME_IPV4_MIN_LEN, 0);
	return frame_cksum_sum(ip, ihl_len, 0);
}

uint16_t
frame_raw_cksum(const void *buf, uint32_t len)
{
	return frame_cksum(buf, len);
}

/*
 * The unfolded sum of the UDP pseudo-header of `ip` (RFC 768) for a
 * datagram of `udp_len_be` bytes (network order): the same words
 * rte_ipv4_phdr_cksum() sums, added without building the header.
 */
static inline uint64_t
frame_phdr_sum(const struct rte_ipv4_hdr *ip, uint16_t udp_len_be)
{
	return (uint64_t)ip->src_addr + ip->dst_addr + rte_cpu_to_be_16(ip->next_proto_id) +
	       udp_len_be;
}

static __rte_noinline enum frame_verdict
frame_arp(uint8_t *frame, uint32_t len, const struct frame_service *svc)
{
	uint8_t *arp = frame + FRAME_ETH_LEN;
	uint32_t tip;

	if (len < FRAME_ETH_LEN + FRAME_ARP_LEN)
		return FRAME_drop_truncated;

	if (frame_get_be16(arp + offsetof(struct rte_arp_hdr, arp_hardware)) != RTE_ARP_HRD_ETHER ||
	    frame_get_be16(arp + offsetof(struct rte_arp_hdr, arp_protocol)) != RTE_ETHER_TYPE_IPV4 ||
	    arp[offsetof(struct rte_arp_hdr, arp_hlen)] != RTE_ETHER_ADDR_LEN ||
	    arp[offsetof(struct rte_arp_hdr, arp_plen)] != sizeof(uint32_t) ||
	    frame_get_be16(arp + offsetof(struct rte_arp_hdr, arp_opcode)) != RTE_ARP_OP_REQUEST)
		return FRAME_drop_arp_other;

	memcpy(&tip, arp + FRAME_ARP_TIP, sizeof(tip));
	if (tip != svc->ip)
		return FRAME_drop_arp_other;

	/* The reply goes back to the asker: its sender fields become the target fields. */
	memcpy(frame + FRAME_ETH_DST, frame + FRAME_ETH_SRC, RTE_ETHER_ADDR_LEN);
	memcpy(frame + FRAME_ETH_SRC, svc->mac, RTE_ETHER_ADDR_LEN);
	frame_put_be16(arp + offsetof(struct rte_arp_hdr, arp_opcode), RTE_ARP_OP_REPLY);
	memcpy(arp + FRAME_ARP_THA, arp + FRAME_ARP_SHA, RTE_ETHER_ADDR_LEN);
	memcpy(arp + FRAME_ARP_TIP, arp + FRAME_ARP_SIP, sizeof(uint32_t));
	memcpy(arp + FRAME_ARP_SHA, svc->mac, RTE_ETHER_ADDR_LEN);
	memcpy(arp + FRAME_ARP_SIP, &svc->ip, sizeof(uint32_t));
	return FRAME_ARP_REPLY;
}

/* Out of line, as frame_arp(): neither is a request's way, and inlined they cost it registers. */
static __rte_noinline enum frame_verdict
frame_icmp(uint8_t *frame, struct rte_ipv4_hdr *ip, uint32_t ihl_len, uint32_t ip_len,
	   const struct frame_service *svc)
{
	struct rte_icmp_hdr *icmp = (struct rte_icmp_hdr *)((uint8_t *)ip + ihl_len);
	uint32_t icmp_len = ip_len - ihl_len;
	uint32_t peer;

	if (icmp_len < FRAME_ICMP_LEN)
		return FRAME_drop_truncated;
	if (icmp->icmp_type != RTE_IP_ICMP_ECHO_REQUEST)
		return FRAME_drop_icmp_other;
	/* A corrupted echo request is not answered, as a host stack would not answer it. */
	if (!frame_cksum_verifies(frame_cksum_sum(icmp, icmp_len, 0)))
		return FRAME_drop_icmp_other;

	memcpy(frame + FRAME_ETH_DST, frame + FRAME_ETH_SRC, RTE_ETHER_ADDR_LEN);
	memcpy(frame + FRAME_ETH_SRC, svc->mac, RTE_ETHER_ADDR_LEN);

	peer = ip->src_addr;
	ip->src_addr = svc->ip;
	ip->dst_addr = peer;
	ip->time_to_live = FRAME_REPLY_TTL;
	ip->hdr_checksum = 0;
	ip->hdr_checksum = (uint16_t)~frame_cksum(ip, ihl_len);

	icmp->icmp_type = RTE_IP_ICMP_ECHO_REPLY;
	icmp->icmp_code = 0;
	icmp->icmp_cksum = 0;
	icmp->icmp_cksum = (uint16_t)~frame_cksum(icmp, icmp_len);
	return FRAME_ICMP_REPLY;
}

enum frame_cksum {
	FRAME_CKSUM_OK,       /* verifies, or zero: the sender computed none (RFC 768) */
	FRAME_CKSUM_PARTIAL,  /* the pseudo-header sum alone: the sender computed none either */
	FRAME_CKSUM_BAD,
};

/*
 * A kernel sending through a device that offers checksum offload (a veth
 * does) leaves the UDP checksum partial, the folded pseudo-header sum for the
 * device to complete, and a veth or a packet socket hands the frame on as it
 * is. That value is taken as "not computed" rather than wrong. The
 * pseudo-header sum is needed for the full check anyway, so telling the two
 * apart costs one comparison, and only once the full check has failed.
 */
static __rte_always_inline enum frame_cksum
frame_udp_cksum(const struct rte_ipv4_hdr *ip, const struct rte_udp_hdr *udp, uint32_t udp_len)
{
	uint64_t phdr;

	if (udp->dgram_cksum == 0)
		return FRAME_CKSUM_OK;
	phdr = frame_phdr_sum(ip, udp->dgram_len);
	if (frame_cksum_verifies(frame_cksum_sum(udp, udp_len, phdr)))
		return FRAME_CKSUM_OK;
	return udp->dgram_cksum == frame_cksum_fold(phdr) ? FRAME_CKSUM_PARTIAL : FRAME_CKSUM_BAD;
}

static __rte_always_inline enum frame_verdict
frame_udp(uint8_t *frame, struct rte_ipv4_hdr *ip, uint32_t ihl_len, uint32_t ip_len,
	  const struct frame_service *svc, unsigned int verify, struct frame_request *req)
{
	struct rte_udp_hdr *udp = (struct rte_udp_hdr *)((uint8_t *)ip + ihl_len);
	uint32_t l4_len = ip_len - ihl_len;
	uint32_t udp_len;
	uint32_t payload_len;

	if (l4_len < FRAME_UDP_LEN)
		return FRAME_drop_truncated;

	/* Equal to l4_len, which is at least the header's 8 bytes: no need to check those too. */
	udp_len = rte_be_to_cpu_16(udp->dgram_len);
	if (udp_len != l4_len)
		return FRAME_drop_udp_bad_length;

	if (verify & FRAME_VERIFY_UDP_CKSUM) {
		enum frame_cksum ck = frame_udp_cksum(ip, udp, udp_len);

		if (ck == FRAME_CKSUM_BAD)
			return FRAME_drop_udp_bad_checksum;
		req->udp_cksum_partial = ck == FRAME_CKSUM_PARTIAL;
	}

	if (udp->dst_port != svc->udp_port)
		return FRAME_drop_udp_wrong_port;

	payload_len = udp_len - FRAME_UDP_LEN;
	if (payload_len > svc->max_payload)
		return FRAME_drop_oversize;

	req->payload_offset = (uint16_t)(FRAME_ETH_LEN + ihl_len + FRAME_UDP_LEN);
	req->payload_len = (uint16_t)payload_len;
	memcpy(req->src_mac, frame + FRAME_ETH_SRC, RTE_ETHER_ADDR_LEN);
	req->src_ip = ip->src_addr;
	req->src_port = udp->src_port;
	return FRAME_REQUEST;
}

/* The IPv4 header past its first byte, and what it carries. */
static __rte_always_inline enum frame_verdict
frame_ipv4_rest(uint8_t *frame, struct rte_ipv4_hdr *ip, uint32_t ihl_len, uint32_t avail,
		const struct frame_service *svc, unsigned int verify, struct frame_request *req)
{
	uint32_t ip_len = rte_be_to_cpu_16(ip->total_length);

	/*
	 * Bytes past the total length are Ethernet padding (short frames are
	 * padded to 60). The length must cover the header and fit what arrived,
	 * ihl_len <= ip_len <= avail: one unsigned comparison, as a length below
	 * the header's wraps round to above avail - ihl_len (itself not negative).
	 */
	if (ip_len - ihl_len > avail - ihl_len)
		return FRAME_drop_ip_bad_header;

	if ((verify & FRAME_VERIFY_IP_CKSUM) && !frame_cksum_verifies(frame_ipv4_sum(ip, ihl_len)))
		return FRAME_drop_ip_bad_checksum;

	if (ip->fragment_offset & rte_cpu_to_be_16(RTE_IPV4_HDR_MF_FLAG | RTE_IPV4_HDR_OFFSET_MASK))
		return FRAME_drop_ip_fragment;

	if (ip->dst_addr != svc->ip)
		return FRAME_drop_ip_not_ours;

	switch (ip->next_proto_id) {
	case IPPROTO_ICMP:
		return frame_icmp(frame, ip, ihl_len, ip_len, svc);
	case IPPROTO_UDP:
		return frame_udp(frame, ip, ihl_len, ip_len, svc, verify, req);
	default:
		return FRAME_drop_not_udp;
	}
}

static enum frame_verdict
frame_ipv4(uint8_t *frame, uint32_t len, const struct frame_service *svc, unsigned int verify,
	   struct frame_request *req)
{
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(frame + FRAME_ETH_LEN);
	uint32_t avail = len - FRAME_ETH_LEN;
	uint32_t ihl_len;

	if (avail < FRAME_IPV4_MIN_LEN)
		return FRAME_drop_truncated;
	/*
	 * Version 4 without options, as nearly every datagram is: the rest is
	 * compiled a second time for this constant header length, which makes
	 * the version and length checks one comparison and every offset past
	 * the header a constant (and frees the registers they took).
	 */
	if (likely(ip->version_ihl == RTE_IPV4_VHL_DEF))
		return frame_ipv4_rest(frame, ip, FRAME_IPV4_MIN_LEN, avail, svc, verify, req);
	if ((ip->version_ihl >> 4) != 4)
		return FRAME_drop_ip_bad_header;
	ihl_len = (uint32_t)(ip->version_ihl & RTE_IPV4_HDR_IHL_MASK) * RTE_IPV4_IHL_MULTIPLIER;
	if (ihl_len < FRAME_IPV4_MIN_LEN)
		return FRAME_drop_ip_bad_header;
	if (ihl_len > avail)
		return FRAME_drop_truncated;
	return frame_ipv4_rest(frame, ip, ihl_len, avail, svc, verify, req);
}

enum frame_verdict
frame_classify(uint8_t *frame, uint32_t len, const struct frame_service *svc, unsigned int verify,
	       struct frame_request *req)
{
	req->udp_cksum_partial = false;
	req->queued = false;
	if (len < FRAME_ETH_LEN)
		return FRAME_drop_truncated;

	switch (frame_get_be16(frame + FRAME_ETH_TYPE)) {
	case RTE_ETHER_TYPE_ARP:
		return frame_arp(frame, len, svc);
	case RTE_ETHER_TYPE_IPV4:
		return frame_ipv4(frame, len, svc, verify, req);
	default:
		return FRAME_drop_not_ipv4_or_arp;
	}
}

/*
 * The sum of a reply's IPv4 header words that never change: version and
 * IHL, TOS 0, id 0, DF, TTL and protocol. Each as it lies in memory, like
 * every other word summed here: the sum's byte order is the words' (RFC 1071).
 */
#define FRAME_REPLY_IP_CONST_SUM                                                 \
	((uint64_t)rte_cpu_to_be_16(RTE_IPV4_VHL_DEF << 8) +                     \
	 rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG) +                                \
	 rte_cpu_to_be_16(FRAME_REPLY_TTL << 8 | IPPROTO_UDP))

void
frame_udp_head_init(struct frame_udp_head *head, const struct frame_service *from)
{
	uint8_t *hdr = head->bytes;
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(hdr + FRAME_ETH_LEN);
	struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(hdr + FRAME_ETH_LEN + FRAME_IPV4_MIN_LEN);

	memset(head, 0, sizeof(*head));
	memcpy(hdr + FRAME_ETH_SRC, from->mac, RTE_ETHER_ADDR_LEN);
	frame_put_be16(hdr + FRAME_ETH_TYPE, RTE_ETHER_TYPE_IPV4);
	ip->version_ihl = RTE_IPV4_VHL_DEF;
	/* One datagram, never fragmented: DF set and a zero id (RFC 6864). */
	ip->fragment_offset = rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG);
	ip->time_to_live = FRAME_REPLY_TTL;
	ip->next_proto_id = IPPROTO_UDP;
	ip->src_addr = from->ip;
	udp->src_port = from->udp_port;
	head->ip_sum = (uint64_t)from->ip + FRAME_REPLY_IP_CONST_SUM;
	head->pseudo_sum = (uint64_t)from->ip + rte_cpu_to_be_16(IPPROTO_UDP);
	head->src_port = from->udp_port;
}

/*
 * The sender's part copied whole (a few vector moves), then the receiver's
 * fields and the lengths written over it.
 */
void
frame_write_udp_headers(uint8_t *hdr, const struct frame_udp_head *head,
			const struct frame_request *to, uint16_t payload_len,
			bool cksum_offload)
{
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(hdr + FRAME_ETH_LEN);
	struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(hdr + FRAME_ETH_LEN + FRAME_IPV4_MIN_LEN);
	uint16_t udp_len = (uint16_t)(FRAME_UDP_LEN + payload_len);
	uint16_t udp_len_be = rte_cpu_to_be_16(udp_len);
	uint16_t ip_len_be = rte_cpu_to_be_16((uint16_t)(FRAME_IPV4_MIN_LEN + udp_len));
	/* The receiver's address is in both sums: the IPv4 header's and the UDP pseudo-header's. */
	uint64_t phdr = head->pseudo_sum + to->src_ip + udp_len_be;
	uint64_t sum;
	uint16_t cksum;

	memcpy(hdr, head->bytes, FRAME_UDP_HEADERS_LEN);
	memcpy(hdr + FRAME_ETH_DST, to->src_mac, RTE_ETHER_ADDR_LEN);
	ip->total_length = ip_len_be;
	ip->dst_addr = to->src_ip;
	udp->dst_port = to->src_port;
	udp->dgram_len = udp_len_be;

	if (cksum_offload) {
		/* The NIC fills in the IPv4 checksum and completes the UDP one from this seed. */
		udp->dgram_cksum = frame_cksum_fold(phdr);
		return;
	}
	/*
	 * Both checksums from the values just written, rather than summed
	 * again from the header: the IPv4 header is its constant words, the
	 * addresses and the length; the UDP header adds the ports and the
	 * length once more to the pseudo-header, and only the payload is read.
	 */
	ip->hdr_checksum = (uint16_t)~frame_cksum_fold(head->ip_sum + to->src_ip + ip_len_be);
	sum = phdr + head->src_port + to->src_port + udp_len_be;
	cksum = (uint16_t)~frame_cksum_fold(frame_cksum_sum(hdr + FRAME_UDP_HEADERS_LEN,
							    payload_len, sum));
	/* A sum of zero goes as all ones: zero would say "no checksum" (RFC 768). */
	udp->dgram_cksum = cksum == 0 ? 0xffff : cksum;
}

const char *
frame_verdict_name(enum frame_verdict v)
{
	if ((unsigned int)v >= FRAME_VERDICT_MAX)
		return "unknown";
	return frame_verdict_names[v];
}
