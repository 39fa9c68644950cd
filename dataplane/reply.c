/* Replies built in place in the request's mbuf: the body after the frame, headers in front of it. */
#include <stdarg.h>
#include <stdio.h>

#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "reply.h"
#include "request_desc.h"
#include "tx.h"

void
reply_count(struct counters *c, const struct frame_request *to, unsigned int status)
{
	enum counter_id id = counters_for_status(status);

	/* The counters describe the wire: a queued Event's answer never reaches it. */
	if (unlikely(to->queued)) {
		counters_inc(c, COUNTER_queued_answers);
		return;
	}
	if (id != COUNTER_MAX)
		counters_inc(c, id);
	counters_inc(c, COUNTER_responses);
}

/* Error and bodyless replies go through msgpack-c's packer: none of them is on a call's way. */
static int
reply_open(const struct runtime *rt, struct counters *c, struct rte_mbuf *m,
	   struct response_buf *rb, msgpack_packer *pk)
{
	if (reply_begin(rt, m, rb) < 0) {
		counters_inc(c, COUNTER_drop_alloc);
		return -1;
	}
	msgpack_packer_init(pk, rb, response_buf_write);
	return 0;
}

static int
reply_end(const struct runtime *rt, struct counters *c, struct rte_mbuf *m,
	  const struct response_buf *rb, unsigned int status)
{
	if (rb->overflow) {
		counters_inc(c, COUNTER_drop_alloc);
		return -1;
	}
	reply_finish(rt, m, &request_desc_of(m)->from, rb);
	reply_count(c, &request_desc_of(m)->from, status);
	return 0;
}

static int
reply_error_v(const struct runtime *rt, struct counters *c, struct rte_mbuf *m, unsigned int status,
	      const char *reason, uint32_t retry_after_ms, const char *fmt, va_list ap)
{
	struct request_desc *desc = request_desc_of(m);
	const uint8_t *payload = request_payload(m, desc);
	struct response_buf rb;
	msgpack_packer pk;
	char message[256];

	vsnprintf(message, sizeof(message), fmt, ap);
	if (reply_open(rt, c, m, &rb, &pk) < 0)
		return -1;
	response_encode_error(&pk, desc->req.id, status, message, reason, retry_after_ms,
			      payload + desc->req.trace.off, desc->req.trace.len);
	return reply_end(rt, c, m, &rb, status);
}

int
reply_error(const struct runtime *rt, struct counters *c, struct rte_mbuf *m,
	    unsigned int status, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = reply_error_v(rt, c, m, status, NULL, 0, fmt, ap);
	va_end(ap);
	return rc;
}

int
reply_throttled(const struct runtime *rt, struct counters *c, struct rte_mbuf *m,
		const char *reason, uint32_t retry_after_ms, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = reply_error_v(rt, c, m, 429, reason, retry_after_ms, fmt, ap);
	va_end(ap);
	return rc;
}

int
reply_stopping(const struct runtime *rt, struct counters *c, struct rte_mbuf *m,
	       unsigned int worker)
{
	return reply_error(rt, c, m, 503, "the dispatcher is stopping: drain_timeout_ms passed "
			   "before worker %u could run this call of function %s", worker,
			   rt->functions[request_desc_of(m)->function].cfg->name);
}

int
reply_status(const struct runtime *rt, struct counters *c, struct rte_mbuf *m, unsigned int status)
{
	struct request_desc *desc = request_desc_of(m);
	const uint8_t *payload = request_payload(m, desc);
	struct response_buf rb;
	msgpack_packer pk;

	if (reply_open(rt, c, m, &rb, &pk) < 0)
		return -1;
	response_encode_status(&pk, desc->req.id, status, payload + desc->req.trace.off,
			       desc->req.trace.len);
	return reply_end(rt, c, m, &rb, status);
}

int
reply_queued(const struct runtime *rt, struct counters *c, struct rte_mbuf *m)
{
	struct request_desc *desc = request_desc_of(m);
	const uint8_t *payload = request_payload(m, desc);
	struct response_buf rb;
	msgpack_packer pk;

	switch (desc->queue.answer) {
	case REQUEST_QUEUE_FULL:
		return reply_throttled(rt, c, m, "AsyncQueueFull", 1000,
				       "the asynchronous queue is full: Event not queued");
	case REQUEST_QUEUE_FAILED:
		return reply_error(rt, c, m, 500, "the asynchronous queue could not store the Event");
	default:
		break;
	}
	if (reply_open(rt, c, m, &rb, &pk) < 0)
		return -1;
	response_encode_accepted(&pk, desc->req.id, desc->queue.event_id,
				 desc->queue.answer == REQUEST_QUEUE_DUPLICATE,
				 payload + desc->req.trace.off, desc->req.trace.len);
	return reply_end(rt, c, m, &rb, 202);
}
