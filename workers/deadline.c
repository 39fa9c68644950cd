/* Sandbox.Timedout for a call whose handler cannot answer in time: still running, or never started. */
#include <stdint.h>

#include "deadline.h"
#include "invoke.h"
#include "reply.h"
#include "request_desc.h"
#include "worker.h"

int
deadline_answer(const struct runtime *rt, struct counters *c, struct worker_fn_stats *stats,
		struct rte_mbuf *out, struct rte_mbuf *req, struct turbine_str version)
{
	struct request_desc *desc = request_desc_of(req);
	const uint8_t *payload = request_payload(req, desc);
	struct turbine_str trace = {
		(const char *)payload + desc->req.trace.off, desc->req.trace.len
	};
	struct response_buf rb;
	char message[64];

	/* The timeout the dispatcher applied is always known here: the message needs no start. */
	invoke_timeout_text(message, sizeof(message), desc->timeout_ms, desc->deadline_tsc,
			    desc->deadline_tsc, rt->tsc_hz);
	if (reply_begin(rt, out, &rb) < 0 ||
	    invoke_encode_timeout(&rb, desc->req.id, version, trace, message,
				  desc->req.log_tail) < 0) {
		counters_inc(c, COUNTER_drop_alloc);
		return -1;
	}
	reply_finish(rt, out, &desc->from, &rb);
	reply_count_ok(c, &desc->from);
	counters_inc(c, COUNTER_fn_errors);
	counters_inc(c, COUNTER_fn_timeouts);
	__atomic_fetch_add(&stats->fn_errors, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&stats->timeouts, 1, __ATOMIC_RELAXED);
	return 0;
}
