/* Frame templates: one ready Ethernet/IPv4/UDP request per mix entry, stamped with an id per send. */
#include <stddef.h>

#include <rte_udp.h>

#include "stamp.h"

void
stamp_build(struct stamp *s, const struct frame_service *from, const struct frame_request *to,
	    const uint8_t *payload, uint16_t payload_len, bool cksum_offload)
{
	struct frame_udp_head head;
	uint16_t ck;

	memset(s, 0, sizeof(*s));
	s->len = (uint16_t)(FRAME_UDP_HEADERS_LEN + payload_len);
	s->id_at = (uint16_t)(FRAME_UDP_HEADERS_LEN + MIX_ID_OFFSET);
	s->cksum_at = (uint16_t)(FRAME_UDP_HEADERS_LEN - sizeof(struct rte_udp_hdr) +
				 offsetof(struct rte_udp_hdr, dgram_cksum));
	s->cksum_offload = cksum_offload;
	memcpy(s->frame + FRAME_UDP_HEADERS_LEN, payload, payload_len);
	memset(s->frame + s->id_at, 0, 8);
	frame_udp_head_init(&head, from);
	frame_write_udp_headers(s->frame, &head, to, payload_len, cksum_offload);
	memcpy(&ck, s->frame + s->cksum_at, sizeof(ck));
	/* The header holds the complement of the sum; 0xffff and 0 both stand for a zero sum. */
	s->sum_without_id = (uint16_t)~ck;
}
