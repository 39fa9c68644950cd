/* Frame classification and in-place replies: Ethernet, ARP, IPv4, ICMP echo, UDP. */
#ifndef TURBINE_FRAME_H
#define TURBINE_FRAME_H

#include <stdbool.h>
#include <stdint.h>

/*
 * Pure functions over a contiguous frame: no EAL, no mbuf, so they are unit
 * tested and fuzzed directly. Addresses are in network byte order throughout.
 */

/* Every reason a frame is dropped without a response, each counted under its name. */
#define FRAME_DROP_REASONS(X)                                                   \
	X(drop_truncated)        /* shorter than its headers say */                 \
	X(drop_not_ipv4_or_arp)  /* another ethertype (IPv6, VLAN, ...) */          \
	X(drop_arp_other)        /* ARP that is not a request for our address */   \
	X(drop_ip_bad_header)    /* version, IHL or total length inconsistent */   \
	X(drop_ip_bad_checksum)                                                     \
	X(drop_ip_fragment)      /* MF set or fragment offset non-zero */          \
	X(drop_ip_not_ours)      /* IPv4 to another address */                      \
	X(drop_icmp_other)       /* ICMP that is not an echo request */            \
	X(drop_not_udp)          /* another IP protocol */                          \
	X(drop_udp_bad_length)   /* UDP length disagrees with the IP length */     \
	X(drop_udp_bad_checksum) /* wrong, and neither 0 nor left partial */       \
	X(drop_udp_wrong_port)   /* UDP to a port other than the service port */   \
	X(drop_oversize)         /* payload above the port MTU minus 28 */

enum frame_verdict {
	FRAME_REQUEST = 0,   /* UDP to the service address and port: an invoke request */
	FRAME_ARP_REPLY,     /* an ARP request for our address, rewritten in place into the reply */
	FRAME_ICMP_REPLY,    /* an ICMP echo request to us, rewritten in place into the reply */
#define FRAME_VERDICT_DROP(name) FRAME_##name,
	FRAME_DROP_REASONS(FRAME_VERDICT_DROP)
#undef FRAME_VERDICT_DROP
	FRAME_VERDICT_MAX
};

#define FRAME_FIRST_DROP FRAME_drop_truncated

/* Service identity the classifier checks against. */
struct frame_service {
	uint8_t mac[6];
	uint32_t ip;        /* network order */
	uint16_t udp_port;  /* network order */
	uint16_t max_payload; /* largest accepted UDP payload (MTU - 28) */
};

/* Where the request sits in the frame, and who sent it. */
struct frame_request {
	/* The IPv4 header starts at 14, the UDP header 8 bytes before the payload. */
	uint16_t payload_offset;  /* start of the UDP payload (the MessagePack request) */
	uint16_t payload_len;
	uint8_t src_mac[6];
	uint32_t src_ip;          /* network order */
	uint16_t src_port;        /* network order */
	/*
	 * Whatever the verdict: true when the frame is UDP and its checksum
	 * held only the pseudo-header sum, left for a device to complete (a
	 * kernel sending through a veth), and so was not verified.
	 */
	bool udp_cksum_partial;
	/*
	 * Not from the wire: an Event the asynchronous queue hands a dispatcher
	 * to run. Its answer goes back to the queue (tx.h), never to a port.
	 */
	bool queued;
};

/* Checksums frame_classify() verifies: all but those the port found good in hardware. */
#define FRAME_VERIFY_IP_CKSUM  0x1u
#define FRAME_VERIFY_UDP_CKSUM 0x2u
#define FRAME_VERIFY_ALL       (FRAME_VERIFY_IP_CKSUM | FRAME_VERIFY_UDP_CKSUM)

/*
 * Classify a received frame of `len` bytes. For FRAME_REQUEST, *req is filled;
 * req->udp_cksum_partial is set whatever the verdict. For FRAME_ARP_REPLY and
 * FRAME_ICMP_REPLY the frame has been rewritten in place into the reply (same
 * length), ready to transmit. `verify`: FRAME_VERIFY_* flags.
 */
enum frame_verdict frame_classify(uint8_t *frame, uint32_t len, const struct frame_service *svc,
				  unsigned int verify, struct frame_request *req);

/*
 * The one's complement sum of `len` bytes folded to 16 bits, uncomplemented:
 * the value of DPDK's rte_raw_cksum(), 8 bytes a step (frame.c says how).
 */
uint16_t frame_raw_cksum(const void *buf, uint32_t len);

/* Length of the Ethernet + IPv4 + UDP headers frame_write_udp_headers writes. */
#define FRAME_UDP_HEADERS_LEN 42u

/*
 * The headers every datagram a sender sends has in common, built once
 * (frame_udp_head_init()): what does not depend on the receiver or the
 * length, and the parts of both checksums that come from the sender.
 */
struct frame_udp_head {
	uint8_t bytes[FRAME_UDP_HEADERS_LEN]; /* receiver's fields, lengths, checksums: 0 */
	uint64_t ip_sum;     /* the IPv4 header's constant words and source address */
	uint64_t pseudo_sum; /* the UDP pseudo-header's source address and protocol */
	uint16_t src_port;   /* network order */
};

/* The headers `from` (its MAC, address and UDP port) puts on every datagram it sends. */
void frame_udp_head_init(struct frame_udp_head *head, const struct frame_service *from);

/*
 * Write Ethernet, IPv4 (no options) and UDP headers for a datagram of
 * `payload_len` bytes from `head`'s sender to the sender described by `to`,
 * into `hdr` (42 bytes, immediately followed by the payload). With
 * `cksum_offload` false the IPv4 and UDP checksums are computed here;
 * otherwise the IPv4 checksum is zeroed and the UDP checksum set to the
 * pseudo-header sum, as offload expects.
 */
void frame_write_udp_headers(uint8_t *hdr, const struct frame_udp_head *head,
			     const struct frame_request *to, uint16_t payload_len,
			     bool cksum_offload);

/* Name of a verdict, for counters and tests ("drop_ip_fragment"). */
const char *frame_verdict_name(enum frame_verdict v);

#endif /* TURBINE_FRAME_H */
