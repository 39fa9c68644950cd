/* Frame templates: one ready Ethernet/IPv4/UDP request per mix entry, stamped with an id per send. */
#ifndef GEN_STAMP_H
#define GEN_STAMP_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <rte_ip.h>

#include "frame.h"
#include "mix.h"

#define STAMP_FRAME_MAX (FRAME_UDP_HEADERS_LEN + MIX_PAYLOAD_MAX)

struct stamp {
	uint16_t len;            /* frame length */
	uint16_t id_at;          /* where the request id goes */
	uint16_t cksum_at;       /* where the UDP checksum is */
	uint16_t sum_without_id; /* UDP sum (pseudo-header included) with the id bytes zero */
	bool cksum_offload;      /* the port completes the checksums */
	uint8_t frame[STAMP_FRAME_MAX];
};

/*
 * A frame from `from` (the generator's MAC, IPv4 and UDP port) to `to`
 * (src_mac/src_ip/src_port: the target's), carrying `payload`, whose id sits
 * at MIX_ID_OFFSET. With cksum_offload the checksums are left to the port.
 */
void stamp_build(struct stamp *s, const struct frame_service *from, const struct frame_request *to,
		 const uint8_t *payload, uint16_t payload_len, bool cksum_offload);

/*
 * Put `id` into `frame` (a copy of s->frame) and fix the UDP checksum
 * incrementally: the 8 id bytes are the only change, so their sum is added
 * to the template's instead of summing the whole datagram again.
 */
static inline void
stamp_id(const struct stamp *s, uint8_t *frame, uint64_t id)
{
	uint32_t sum;
	uint16_t ck;

	mix_put_id(frame + s->id_at, id);
	if (s->cksum_offload)
		return;
	sum = (uint32_t)s->sum_without_id + rte_raw_cksum(frame + s->id_at, 8);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	ck = (uint16_t)~sum;
	/* 0 would mean "no checksum" (RFC 768): the same value is sent as 0xffff. */
	if (ck == 0)
		ck = 0xffff;
	memcpy(frame + s->cksum_at, &ck, sizeof(ck));
}

#endif /* GEN_STAMP_H */
