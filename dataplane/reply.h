/* Replies built in place in the request's mbuf: the body after the frame, headers in front of it. */
#ifndef TURBINE_REPLY_H
#define TURBINE_REPLY_H

#include <stdint.h>

#include <msgpack.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "counters.h"
#include "frame.h"
#include "response.h"
#include "runtime.h"
#include "tx.h"

/*
 * The body is packed after the received frame, in the same buffer, so the
 * request's bytes (event, trace) stay readable while it is written.
 * reply_begin() opens rb there, bounded by the datagram limit and the
 * buffer's tailroom; reply_finish() writes the UDP headers in front of the
 * body and makes the mbuf hold just the reply. Returns -1 when the buffer
 * has no room for a reply at all (not reachable with the pool's sizing).
 */
static inline int
reply_begin(const struct runtime *rt, struct rte_mbuf *m, struct response_buf *rb)
{
	/* The smallest error reply: map header, v, id, status, error, a short message. */
	const uint32_t min_room = 128;
	uint32_t room = rte_pktmbuf_tailroom(m);

	if (room < FRAME_UDP_HEADERS_LEN + min_room)
		return -1;
	room -= FRAME_UDP_HEADERS_LEN;
	response_buf_open(rb, rte_pktmbuf_mtod_offset(m, uint8_t *,
						      m->data_len + FRAME_UDP_HEADERS_LEN),
			  RTE_MIN(room, (uint32_t)rt->svc.max_payload));
	return 0;
}

/* Inline: every call's reply ends here, and the call itself cost a third of what it does. */
static inline void
reply_finish(const struct runtime *rt, struct rte_mbuf *m, const struct frame_request *to,
	     const struct response_buf *rb)
{
	uint8_t *hdr = rb->data - FRAME_UDP_HEADERS_LEN;

	frame_write_udp_headers(hdr, &rt->reply_head, to, rb->len, rt->tx_cksum_offload);
	m->data_off = (uint16_t)(hdr - (uint8_t *)m->buf_addr);
	m->data_len = (uint16_t)(FRAME_UDP_HEADERS_LEN + rb->len);
	m->pkt_len = m->data_len;
	if (rt->tx_cksum_offload) {
		m->ol_flags = RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_UDP_CKSUM;
		m->l2_len = sizeof(struct rte_ether_hdr);
		m->l3_len = sizeof(struct rte_ipv4_hdr);
	} else {
		m->ol_flags = 0;
	}
	if (unlikely(to->queued))
		m->ol_flags |= tx_queued_flag;
}

/*
 * A whole error reply for the request in `m` (desc already filled): PROTOCOL.md's
 * {v, id, status, error, message[, trace]}, counted under its status.
 * Returns -1 (counted as drop_alloc) when it cannot be built: free the mbuf.
 */
int reply_error(const struct runtime *rt, struct counters *c, struct rte_mbuf *m,
		 unsigned int status, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* A 429 with PROTOCOL.md's `reason` and a retry_after_ms hint (0: none). */
int reply_throttled(const struct runtime *rt, struct counters *c, struct rte_mbuf *m,
		    const char *reason, uint32_t retry_after_ms, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

/* The 503 for an admitted call that drain_timeout_ms left unrun on worker `worker`. */
int reply_stopping(const struct runtime *rt, struct counters *c, struct rte_mbuf *m,
		   unsigned int worker);

/*
 * The answer to an Event the asynchronous queue took (desc->queue says how):
 * 202 with its event_id (and duplicate), 429 AsyncQueueFull, or 500.
 */
int reply_queued(const struct runtime *rt, struct counters *c, struct rte_mbuf *m);

/* A bodyless reply (204 DryRun), counted under its status. */
int reply_status(const struct runtime *rt, struct counters *c, struct rte_mbuf *m,
		  unsigned int status);

/* Count a finished reply to `to`: `responses` and its status (queued_answers for a queued Event). */
void reply_count(struct counters *c, const struct frame_request *to, unsigned int status);

/* reply_count() of a 200, the status every call that ran is answered with. */
static inline void
reply_count_ok(struct counters *c, const struct frame_request *to)
{
	if (unlikely(to->queued)) {
		counters_inc(c, COUNTER_queued_answers);
		return;
	}
	counters_inc(c, COUNTER_status_200);
	counters_inc(c, COUNTER_responses);
}

#endif /* TURBINE_REPLY_H */
