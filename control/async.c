/* The asynchronous queue's thread: durable intake, and pollers that run queued Events to an outcome. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <rte_ring.h>

#include "async.h"
#include "async_policy.h"
#include "functions.h"
#include "request_desc.h"
#include "response.h"
#include "tx.h"

/* Events taken from the dispatchers per pass; several passes may share one group commit. */
#define ASYNC_INTAKE_BURST 256
#define ASYNC_INTAKE_PASSES 8
#define ASYNC_RING_SIZE RUNTIME_ASYNC_RING_SIZE
/*
 * Events running at once. Small against a worker ring (1024), so that a
 * backlog never fills the queues synchronous calls need; it also bounds
 * the answers ring, which must never fill (tx_send_queued waits on it).
 */
#define ASYNC_MAX_RUNNING 256
#define ASYNC_SLOT_BITS 16
/*
 * A run not started within this is dropped by its dispatcher (busy with
 * synchronous calls all that time), and one not answered this long after
 * its start-by time plus its timeout is not coming (its buffer was lost):
 * either way the Event is tried again, as a throttle.
 */
#define ASYNC_START_WITHIN_NS 5000000000ull
#define ASYNC_ANSWER_GRACE_NS 1000000000ull
#define ASYNC_EXPIRE_EVERY_NS 10000000ull
#define ASYNC_STATS_EVERY_NS 100000000ull
/*
 * While Events flow, the queue thread runs at the highest weight among
 * ordinary threads: when its fdatasync returns or its nap ends on a CPU a
 * dispatcher busy-polls, the scheduler lets it run at once instead of at the
 * next tick (4 ms at 250 Hz), which every 202 would wait for. It sleeps
 * whenever it has nothing to do, so it takes from the lcore only the time its
 * work needs. After a second without Events it goes back to the ordinary
 * weight, so that an idle queue never jumps ahead of sandboxes and other
 * control threads.
 */
#define ASYNC_NICE_BUSY -20
#define ASYNC_NICE_IDLE 0
#define ASYNC_CALM_NS 1000000000ull
/*
 * With nothing to do, the thread naps: 50 us at first, doubling while it
 * stays idle, up to 1 ms. Busy, an Event waits at most the short nap. When
 * the backend says it is quiet (nothing stored, due or to sync) and nothing
 * runs, it sleeps until the next Event wakes it (async_sleep()) or its next
 * look at the statistics: each wake-up takes the CPU from a busy-polling
 * lcore, and 1,000 a second cost a lone request's p50 100 to 170 ns on
 * memif (perf/README.md).
 */
#define ASYNC_NAP_FIRST_NS 50000
#define ASYNC_NAP_MAX_NS 1000000

static struct {
	struct runtime *rt;
	const struct async_queue_ops *ops;
	struct async_queue *q;
	pthread_t thread;
	bool started;
	bool wake_open;               /* rt->async.wake_fd is ours to close */
	int stop;

	struct async_job *running[ASYNC_MAX_RUNNING];
	unsigned int nb_running;
	uint64_t call_gen;
	unsigned int next_dispatcher;
	uint64_t next_expire_ns, next_stats_ns;

	struct async_stats st;        /* the thread's own */
	pthread_mutex_t published_lock;
	struct async_stats published;
} async = { .published_lock = PTHREAD_MUTEX_INITIALIZER };

static uint64_t
async_clock(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* --- Intake: Events dispatchers admitted, to the backend, answered once durable. --- */

static unsigned int
async_intake(void)
{
	struct rte_mbuf *pkts[ASYNC_INTAKE_BURST];
	unsigned int pass, n, total = 0;

	for (pass = 0; pass < ASYNC_INTAKE_PASSES; pass++) {
		n = rte_ring_sc_dequeue_burst(async.rt->async.accepted, (void **)pkts,
					      ASYNC_INTAKE_BURST, NULL);
		if (n == 0)
			break;
		async.ops->enqueue(async.q, pkts, n);
		total += n;
	}
	return total;
}

/* --- Outcomes. --- */

/* The function's asynchronous keys now (they may change while running). */
static void
async_function_keys(int fn, struct async_retry_config *rc, char *on_success, char *on_failure)
{
	const struct function_config *cfg;

	functions_lock();
	cfg = async.rt->functions[fn].cfg;
	rc->max_retry_attempts = cfg->max_retry_attempts;
	rc->retry_delay_ms = cfg->retry_delay_ms;
	rc->max_event_age_s = cfg->max_event_age_s;
	memcpy(on_success, cfg->on_success, CONFIG_DESTINATION_MAX);
	memcpy(on_failure, cfg->on_failure, CONFIG_DESTINATION_MAX);
	functions_unlock();
}

/* The record as the event of a call of `function`, which the queue takes as a new Event. */
static int
async_send_on(struct async_job *job, const char *function, const struct async_outcome *out)
{
	struct async_event *ev;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	int rc = -ENOMEM;

	if (runtime_find_function(async.rt, function, (uint32_t)strlen(function)) < 0)
		return -ENOENT;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	if (async_record_pack(&pk, job->ev, out) == 0 && (ev = async_event_alloc((uint32_t)sb.size))) {
		memcpy(ev->tenant, job->ev->tenant, sizeof(ev->tenant));
		snprintf(ev->function, sizeof(ev->function), "%s", function);
		memcpy(ev->event, sb.data, sb.size);
		rc = async.ops->enqueue_event(async.q, ev);
	}
	msgpack_sbuffer_destroy(&sb);
	return rc;
}

/* The job's record to a destination (config.h: none, log, dlq, function:NAME); the job ends. */
static void
async_deliver(struct async_job *job, const char *dest, enum async_condition condition)
{
	static const char prefix[] = CONFIG_DESTINATION_FUNCTION;
	struct async_outcome out = {
		.condition = condition,
		.timestamp_ns = async_clock(CLOCK_REALTIME),
		.status = job->last_status,
		.fn_error = job->last_fn_error,
		.response = job->last_body,
		.response_len = job->last_body_len,
	};
	int fn = job->function;

	memcpy(out.version, job->last_version, sizeof(out.version));
	if (condition == ASYNC_SUCCESS) {
		async.st.succeeded++;
		if (fn >= 0)
			async.st.fn_succeeded[fn]++;
	} else {
		async.st.retries_exhausted += condition == ASYNC_RETRIES_EXHAUSTED;
		async.st.aged_out += condition == ASYNC_EVENT_AGE_EXCEEDED;
	}
	if (strncmp(dest, prefix, sizeof(prefix) - 1) == 0) {
		if (async_send_on(job, dest + sizeof(prefix) - 1, &out) == 0) {
			async.st.to_function++;
			async.ops->ack(async.q, job, NULL);
			return;
		}
		/* The function is gone or the record too large for it: keep it where it can be seen. */
		fprintf(stderr, "turbine: async: cannot send an event's record to %s; it goes to the "
			"dead-letter queue\n", dest);
		dest = "dlq";
	}
	if (strcmp(dest, "dlq") == 0) {
		async.st.dead_lettered++;
		if (fn >= 0)
			async.st.fn_dead_lettered[fn]++;
		async.ops->dead_letter(async.q, job, &out);
	} else if (strcmp(dest, "log") == 0) {
		async.st.to_success_log++;
		async.ops->ack(async.q, job, &out);
	} else {
		async.ops->ack(async.q, job, NULL);
	}
}

/* How a try ended, and what follows. */
static void
async_decide_job(struct async_job *job, enum async_result result)
{
	struct async_retry_config rc = { .max_retry_attempts = 0, .max_event_age_s = 1 };
	char on_success[CONFIG_DESTINATION_MAX] = "none", on_failure[CONFIG_DESTINATION_MAX] = "dlq";
	uint64_t now = async_clock(CLOCK_REALTIME);
	uint64_t age_ms = now > job->ev->accepted_ns ? (now - job->ev->accepted_ns) / 1000000 : 0;
	struct async_decision d;

	if (job->function >= 0)
		async_function_keys(job->function, &rc, on_success, on_failure);
	else
		result = ASYNC_RESULT_REFUSED;   /* its function is no longer declared */
	d = async_decide(&rc, result, job->ev->attempts, job->ev->throttles, age_ms);
	switch (d.verdict) {
	case ASYNC_FINISHED:
		async_deliver(job, on_success, ASYNC_SUCCESS);
		break;
	case ASYNC_RETRY:
		if (result == ASYNC_RESULT_FUNCTION_ERROR)
			async.st.retried_error++;
		else
			async.st.retried_throttle++;
		if (job->function >= 0)
			async.st.fn_retried[job->function]++;
		async.ops->retry_later(async.q, job, d.delay_ms);
		break;
	case ASYNC_FAILED:
		async_deliver(job, on_failure, d.condition);
		break;
	}
}

/* --- Runs: a due Event to a dispatcher, as an ordinary call marked queued. --- */

/* The request the Event makes: PROTOCOL.md's map, with the call id to match the answer. */
static int
async_pack_request(const struct async_job *job, msgpack_packer *pk, struct response_buf *rb)
{
	const struct async_event *ev = job->ev;
	char fn[CONFIG_NAME_MAX + ASYNC_QUALIFIER_MAX + 2];

	snprintf(fn, sizeof(fn), "%s%s%s", ev->function, ev->qualifier[0] ? ":" : "", ev->qualifier);
	msgpack_pack_map(pk, 4 + (ev->trace_len > 0));
	response_pack_cstr(pk, "id");
	msgpack_pack_uint64(pk, job->call_id);
	response_pack_cstr(pk, "fn");
	response_pack_cstr(pk, fn);
	response_pack_cstr(pk, "tenant");
	response_pack_cstr(pk, ev->tenant);
	response_pack_cstr(pk, "event");
	if (ev->event_len == 0)
		msgpack_pack_nil(pk);
	else
		response_buf_write(rb, (const char *)ev->event, ev->event_len);
	if (ev->trace_len > 0) {
		response_pack_cstr(pk, "trace");
		response_pack_bytes(pk, ev->trace, ev->trace_len);
	}
	return rb->overflow ? -EMSGSIZE : 0;
}

/*
 * The Event as a request in an mbuf, laid out as if received: the payload
 * after room for the headers, so that the reply is built the usual way;
 * room left after it for the largest reply.
 */
static struct rte_mbuf *
async_build_run(const struct async_job *job, int *why)
{
	const struct runtime *rt = async.rt;
	struct rte_mbuf *m = rte_pktmbuf_alloc(rt->pool);
	struct request_desc *desc;
	struct response_buf rb;
	msgpack_packer pk;
	int64_t room;

	*why = -ENOBUFS;
	if (m == NULL)
		return NULL;
	room = (int64_t)rte_pktmbuf_tailroom(m) - 2 * FRAME_UDP_HEADERS_LEN - rt->svc.max_payload;
	*why = -EMSGSIZE;
	if (room <= 0)
		goto fail;
	response_buf_init(&rb, &pk, rte_pktmbuf_mtod_offset(m, uint8_t *, FRAME_UDP_HEADERS_LEN),
			  (uint32_t)room);
	if (async_pack_request(job, &pk, &rb) < 0)
		goto fail;
	m->data_len = (uint16_t)(FRAME_UDP_HEADERS_LEN + rb.len);
	m->pkt_len = m->data_len;
	desc = request_desc_of(m);
	memset(&desc->from, 0, sizeof(desc->from));
	desc->from.payload_offset = FRAME_UDP_HEADERS_LEN;
	desc->from.payload_len = (uint16_t)rb.len;
	desc->from.queued = true;
	return m;
fail:
	rte_pktmbuf_free(m);
	return NULL;
}

static void
async_record_answer(struct async_job *job, uint32_t status, bool fn_error, const char *version,
		    size_t version_len, const uint8_t *body, size_t body_len)
{
	job->last_status = status;
	job->last_fn_error = fn_error;
	snprintf(job->last_version, sizeof(job->last_version), "%.*s", (int)version_len, version);
	free(job->last_body);
	job->last_body = NULL;
	job->last_body_len = 0;
	if (body_len > 0 && (job->last_body = malloc(body_len)) != NULL) {
		memcpy(job->last_body, body, body_len);
		job->last_body_len = (uint32_t)body_len;
	}
}

/* A try ended without a call running: a throttle (429, 5xx, no answer) or a refusal (4xx). */
static void
async_not_run(struct async_job *job, uint32_t status, const char *error, const char *message)
{
	enum async_result result = status == 0 || status == 429 || status >= 500
				   ? ASYNC_RESULT_THROTTLED : ASYNC_RESULT_REFUSED;
	msgpack_sbuffer sb;
	msgpack_packer pk;

	/* The last call's body stays for the record when one ran; else say why none did. */
	if (job->ev->attempts == 0) {
		msgpack_sbuffer_init(&sb);
		msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
		msgpack_pack_map(&pk, 2);
		response_pack_cstr(&pk, "errorType");
		response_pack_cstr(&pk, error);
		response_pack_cstr(&pk, "errorMessage");
		response_pack_cstr(&pk, message);
		async_record_answer(job, status, false, "", 0, (const uint8_t *)sb.data, sb.size);
		msgpack_sbuffer_destroy(&sb);
	}
	if (result == ASYNC_RESULT_THROTTLED)
		job->ev->throttles++;
	async_decide_job(job, result);
}

static unsigned int
async_launch(uint64_t now)
{
	const struct runtime *rt = async.rt;
	unsigned int launched = 0, slot;
	struct async_job *job;
	struct rte_mbuf *m;
	uint32_t timeout_ms;
	int why;

	if (runtime_quitting(rt))
		return 0;
	while (async.nb_running < ASYNC_MAX_RUNNING) {
		unsigned int d = async.next_dispatcher;

		if (rte_ring_free_count(rt->async.runs[d]) == 0)
			break;
		job = async.ops->poll(async.q, now);
		if (job == NULL)
			break;
		async.next_dispatcher = (d + 1) % rt->nb_dispatchers;
		for (slot = 0; async.running[slot] != NULL; slot++)
			;
		job->call_id = (++async.call_gen << ASYNC_SLOT_BITS) | slot;
		m = job->function >= 0 ? async_build_run(job, &why) : NULL;
		if (m == NULL) {
			if (job->function < 0)
				async_not_run(job, 404, "ResourceNotFoundException", "the function is not declared");
			else if (why == -EMSGSIZE)
				async_not_run(job, 413, "RequestTooLargeException", "the event does not fit a call");
			else
				async_not_run(job, 503, "ServiceException", "no buffer for the call");
			continue;
		}
		timeout_ms = rt->functions[job->function].cfg->timeout_ms;
		job->sent_ns = now;
		job->give_up_ns = now + ASYNC_START_WITHIN_NS + (uint64_t)timeout_ms * 1000000ull +
				  ASYNC_ANSWER_GRACE_NS;
		request_desc_of(m)->queue.start_by_tsc =
			rte_rdtsc() + ASYNC_START_WITHIN_NS / 1000000 * (rte_get_tsc_hz() / 1000);
		async.running[slot] = job;
		async.nb_running++;
		async.st.runs++;
		rte_ring_sp_enqueue(rt->async.runs[d], m);
		launched++;
	}
	return launched;
}

/* --- Answers. --- */

static const msgpack_object *
async_field(const msgpack_object *map, const char *key)
{
	size_t len = strlen(key);
	uint32_t i;

	for (i = 0; i < map->via.map.size; i++) {
		const msgpack_object_kv *kv = &map->via.map.ptr[i];

		if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == len &&
		    memcmp(kv->key.via.str.ptr, key, len) == 0)
			return &kv->val;
	}
	return NULL;
}

static struct async_job *
async_take_running(uint64_t call_id)
{
	unsigned int slot = call_id & ((1u << ASYNC_SLOT_BITS) - 1);
	struct async_job *job;

	if (slot >= ASYNC_MAX_RUNNING || (job = async.running[slot]) == NULL || job->call_id != call_id)
		return NULL;
	async.running[slot] = NULL;
	async.nb_running--;
	return job;
}

static void
async_str(const msgpack_object *o, const char **s, size_t *len)
{
	*s = "";
	*len = 0;
	if (o != NULL && o->type == MSGPACK_OBJECT_STR) {
		*s = o->via.str.ptr;
		*len = o->via.str.size;
	}
}

/* One answer: the dispatcher's reply to a run, as any client would read it. */
static void
async_answer(struct rte_mbuf *m, msgpack_zone *zone)
{
	const uint8_t *body = rte_pktmbuf_mtod_offset(m, const uint8_t *, FRAME_UDP_HEADERS_LEN);
	size_t len = m->data_len > FRAME_UDP_HEADERS_LEN ? m->data_len - FRAME_UDP_HEADERS_LEN : 0;
	const msgpack_object *id, *status, *fn_error, *result;
	const char *version, *error, *message;
	size_t version_len, error_len, message_len, off = 0;
	char error_text[64], message_text[256];
	struct async_job *job;
	msgpack_object o;
	msgpack_sbuffer sb;
	msgpack_packer pk;

	msgpack_zone_clear(zone);
	if (msgpack_unpack((const char *)body, len, &off, zone, &o) != MSGPACK_UNPACK_SUCCESS ||
	    o.type != MSGPACK_OBJECT_MAP || (id = async_field(&o, "id")) == NULL ||
	    id->type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
	    (status = async_field(&o, "status")) == NULL ||
	    status->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return;   /* not an answer of ours: its run will be given up on and tried again */
	job = async_take_running(id->via.u64);
	if (job == NULL)
		return;   /* given up on already */
	if (status->via.u64 != 200) {
		async_str(async_field(&o, "error"), &error, &error_len);
		async_str(async_field(&o, "message"), &message, &message_len);
		snprintf(error_text, sizeof(error_text), "%.*s", (int)error_len, error);
		snprintf(message_text, sizeof(message_text), "%.*s", (int)message_len, message);
		async_not_run(job, (uint32_t)status->via.u64, error_text, message_text);
		return;
	}
	fn_error = async_field(&o, "fn_error");
	async_str(async_field(&o, "version"), &version, &version_len);
	result = async_field(&o, "body");
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	if (result != NULL)
		msgpack_pack_object(&pk, *result);
	async_record_answer(job, 200, fn_error != NULL, version, version_len,
			    (const uint8_t *)sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
	job->ev->attempts++;
	job->ev->throttles = 0;
	async_decide_job(job, fn_error != NULL ? ASYNC_RESULT_FUNCTION_ERROR : ASYNC_RESULT_OK);
}

/*
 * Every answer waiting, up to the most that can be running: a pass ends in
 * a sync, so one burst a pass would hold the pollers to 32 runs per fdatasync.
 */
static unsigned int
async_collect(msgpack_zone *zone)
{
	struct rte_mbuf *pkts[RUNTIME_BURST];
	unsigned int i, n, total = 0;

	do {
		n = rte_ring_sc_dequeue_burst(async.rt->async.answers, (void **)pkts, RUNTIME_BURST,
					      NULL);
		for (i = 0; i < n; i++) {
			async_answer(pkts[i], zone);
			rte_pktmbuf_free(pkts[i]);
		}
		total += n;
	} while (n == RUNTIME_BURST && total < ASYNC_MAX_RUNNING);
	return total;
}

/* Runs whose answer is long overdue (its buffer was dropped somewhere): tried again. */
static void
async_expire_running(uint64_t now)
{
	unsigned int slot;

	if (now < async.next_expire_ns)
		return;
	async.next_expire_ns = now + ASYNC_EXPIRE_EVERY_NS;
	for (slot = 0; slot < ASYNC_MAX_RUNNING; slot++) {
		struct async_job *job = async.running[slot];

		if (job == NULL || now < job->give_up_ns)
			continue;
		async_take_running(job->call_id);
		async.st.unanswered++;
		async_not_run(job, 0, "ServiceException", "the call was never answered");
	}
}

static void
async_publish(uint64_t now)
{
	if (now < async.next_stats_ns)
		return;
	async.next_stats_ns = now + ASYNC_STATS_EVERY_NS;
	async.ops->stats(async.q, &async.st.q);
	async.st.running = async.nb_running;
	pthread_mutex_lock(&async.published_lock);
	async.published = async.st;
	pthread_mutex_unlock(&async.published_lock);
}

/* True when the thread's nice value is now `nice`; without the privilege it runs as it is. */
static bool
async_set_nice(int nice)
{
	static bool warned;

	if (warned)
		return false;
	if (setpriority(PRIO_PROCESS, (id_t)gettid(), nice) == 0)
		return true;
	if (!warned)
		fprintf(stderr, "turbine: async: cannot set the queue thread's priority (%s); its "
			"202s may wait for the scheduler's tick\n", strerror(errno));
	warned = true;
	return false;
}

/*
 * How long the thread may sleep past its nap: 0 while anything runs or the
 * backend has work, else until the backend's next due work or the next
 * statistics, whichever comes first.
 */
static uint64_t
async_quiet_ns(uint64_t now)
{
	uint64_t quiet;

	if (async.nb_running != 0 || async.ops->quiet_ns == NULL)
		return 0;
	quiet = async.ops->quiet_ns(async.q, now);
	return RTE_MIN(quiet, async.next_stats_ns > now ? async.next_stats_ns - now : 0);
}

/*
 * Sleep on the wake eventfd for at most `ns`. Dekker's pattern with
 * dispatch_to_queue(): the thread publishes `sleeping` and then looks at
 * the intake ring, the dispatcher enqueues and then looks at `sleeping`;
 * both orders are sequentially consistent, so an Event is either seen here
 * or wakes the thread.
 */
static void
async_sleep(uint64_t ns)
{
	struct runtime_async *ra = &async.rt->async;
	struct pollfd pfd = { .fd = ra->wake_fd, .events = POLLIN };
	eventfd_t count;

	__atomic_store_n(&ra->sleeping, 1, __ATOMIC_SEQ_CST);
	if (rte_ring_empty(ra->accepted) && !__atomic_load_n(&async.stop, __ATOMIC_SEQ_CST) &&
	    poll(&pfd, 1, (int)(ns / 1000000)) > 0 && eventfd_read(ra->wake_fd, &count) == 0)
		async.st.woken++;
	__atomic_store_n(&ra->sleeping, 0, __ATOMIC_RELAXED);
}

static void *
async_main(void *arg)
{
	struct timespec nap = { .tv_nsec = ASYNC_NAP_FIRST_NS };
	msgpack_zone *zone = msgpack_zone_new(MSGPACK_ZONE_CHUNK_SIZE);
	uint64_t now, last_work = 0, quiet;
	bool boosted = false;
	unsigned int work;

	(void)arg;
	while (!__atomic_load_n(&async.stop, __ATOMIC_ACQUIRE)) {
		now = async_clock(CLOCK_MONOTONIC);
		work = async_intake();
		work += async_collect(zone);
		async_expire_running(now);
		work += async_launch(now);
		work += async.ops->sync(async.q, now);
		async_publish(now);
		if (work != 0) {
			nap.tv_nsec = ASYNC_NAP_FIRST_NS;
			last_work = now;
			if (!boosted)
				boosted = async_set_nice(ASYNC_NICE_BUSY);
			continue;
		}
		if (boosted && now - last_work > ASYNC_CALM_NS)
			boosted = !async_set_nice(ASYNC_NICE_IDLE);
		/* After a millisecond of naps: an Event that follows another soon finds the
		 * thread napping, not asleep. */
		if (nap.tv_nsec == ASYNC_NAP_MAX_NS && (quiet = async_quiet_ns(now)) > ASYNC_NAP_MAX_NS) {
			async_sleep(quiet);
			continue;
		}
		nanosleep(&nap, NULL);
		nap.tv_nsec = RTE_MIN(nap.tv_nsec * 2, ASYNC_NAP_MAX_NS);
	}
	async_intake();
	async.ops->sync(async.q, async_clock(CLOCK_MONOTONIC));
	async.next_stats_ns = 0;
	async_publish(0);
	msgpack_zone_free(zone);
	return NULL;
}

/* --- Start and stop. --- */

static struct rte_ring *
async_ring(const char *kind, unsigned int d, unsigned int flags)
{
	char name[RTE_RING_NAMESIZE];

	snprintf(name, sizeof(name), "async_%s_%u", kind, d);
	return rte_ring_create(name, ASYNC_RING_SIZE, (int)rte_socket_id(), flags);
}

static int
async_rings(struct runtime *rt, char *err, size_t errlen)
{
	static const struct rte_mbuf_dynflag flag = { .name = "turbine_queued_answer" };
	unsigned int d;
	int bit;

	rt->async.wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (rt->async.wake_fd < 0) {
		int rc = -errno;

		snprintf(err, errlen, "cannot create the queue thread's eventfd: %s", strerror(-rc));
		return rc;
	}
	async.wake_open = true;
	rt->async.accepted = async_ring("accepted", 0, RING_F_SC_DEQ);
	rt->async.answers = async_ring("answers", 0, RING_F_SC_DEQ);
	for (d = 0; d < rt->nb_dispatchers; d++) {
		rt->async.durable[d] = async_ring("durable", d, RING_F_SP_ENQ | RING_F_SC_DEQ);
		rt->async.runs[d] = async_ring("runs", d, RING_F_SP_ENQ | RING_F_SC_DEQ);
		if (rt->async.durable[d] == NULL || rt->async.runs[d] == NULL)
			break;
	}
	if (rt->async.accepted == NULL || rt->async.answers == NULL || d < rt->nb_dispatchers) {
		snprintf(err, errlen, "cannot create the queue's rings: %s", rte_strerror(rte_errno));
		return -ENOMEM;
	}
	bit = rte_mbuf_dynflag_register(&flag);
	if (bit < 0) {
		snprintf(err, errlen, "cannot register an mbuf flag: %s", rte_strerror(rte_errno));
		return -rte_errno;
	}
	tx_queued_answers = rt->async.answers;
	tx_queued_flag = 1ull << bit;
	return 0;
}

/* async_dir, or /var/lib/turbine/<file-prefix> (EAL's runtime folder ends with the prefix). */
static void
async_default_dir(const struct runtime *rt, char *dir, size_t len)
{
	const char *runtime_dir = rte_eal_get_runtime_dir();
	const char *prefix = strrchr(runtime_dir, '/');

	if (rt->cfg.async_dir[0] != '\0')
		snprintf(dir, len, "%s", rt->cfg.async_dir);
	else
		snprintf(dir, len, "/var/lib/turbine/%s", prefix != NULL ? prefix + 1 : runtime_dir);
}

/* The configured backend's ops: async_backend = "local" | "jetstream". */
static const struct async_queue_ops *
async_backend(const struct runtime *rt)
{
	if (strcmp(rt->cfg.async_backend, async_jetstream_ops.name) == 0)
		return &async_jetstream_ops;
	return &async_local_ops;
}

int
async_init(struct runtime *rt, char *err, size_t errlen)
{
	char why[512];
	int rc;

	async.rt = rt;
	async.ops = async_backend(rt);
	snprintf(async.st.backend, sizeof(async.st.backend), "%s", async.ops->name);
	if (async.ops == &async_jetstream_ops)
		snprintf(async.st.dir, sizeof(async.st.dir), "%s %s", rt->cfg.nats_url,
			 rt->cfg.nats_stream);
	else
		async_default_dir(rt, async.st.dir, sizeof(async.st.dir));
	rc = async_rings(rt, err, errlen);
	if (rc < 0)
		return rc;
	async.q = async.ops == &async_jetstream_ops ? async_jetstream_create() : async_local_create();
	if (async.q == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	rc = async.ops->open(async.q, rt, async.st.dir, why, sizeof(why));
	if (rc < 0) {
		snprintf(err, errlen, "%s", why);
		async.ops->close(async.q);
		async.q = NULL;
		return rc;
	}
	async.ops->stats(async.q, &async.st.q);
	async.published = async.st;
	rc = rte_ctrl_thread_create(&async.thread, "turbine-async", NULL, async_main, NULL);
	if (rc != 0) {
		snprintf(err, errlen, "cannot start the queue thread: %s", strerror(rc));
		return -rc;
	}
	async.started = true;
	if (async.st.q.replayed > 0)
		printf("turbine: async: %" PRIu64 " unfinished Event(s) from %s run again\n",
		       async.st.q.replayed, async.st.dir);
	return 0;
}

/* Free the buffers left in a ring: nobody will answer or run them now. */
static void
async_free_ring(struct rte_ring *r)
{
	struct rte_mbuf *pkts[RUNTIME_BURST];
	unsigned int n;

	if (r == NULL)
		return;
	while ((n = rte_ring_dequeue_burst(r, (void **)pkts, RUNTIME_BURST, NULL)) > 0)
		rte_pktmbuf_free_bulk(pkts, n);
}

void
async_stop(void)
{
	unsigned int d;

	if (async.started) {
		__atomic_store_n(&async.stop, 1, __ATOMIC_SEQ_CST);
		eventfd_write(async.rt->async.wake_fd, 1);
		pthread_join(async.thread, NULL);
		async.started = false;
		/* The lcores have stopped: Events accepted but never answered 202 were not
		 * promised (the client retries), and unfinished runs are in the log. */
		async_free_ring(async.rt->async.accepted);
		async_free_ring(async.rt->async.answers);
		for (d = 0; d < async.rt->nb_dispatchers; d++) {
			async_free_ring(async.rt->async.durable[d]);
			async_free_ring(async.rt->async.runs[d]);
		}
	}
	if (async.q != NULL) {
		async.ops->close(async.q);
		async.q = NULL;
	}
	if (async.wake_open) {
		close(async.rt->async.wake_fd);
		async.wake_open = false;
	}
}

void
async_get_stats(struct async_stats *st)
{
	pthread_mutex_lock(&async.published_lock);
	*st = async.published;
	pthread_mutex_unlock(&async.published_lock);
}

unsigned int
async_hand_back(const struct runtime *rt, struct rte_mbuf **answers, unsigned int *nb,
		struct hist *accept_latency)
{
	uint64_t now = rte_rdtsc(), hz = rte_get_tsc_hz();
	unsigned int i, kept = 0, sent = 0;

	for (i = 0; i < *nb; i++) {
		struct rte_mbuf *m = answers[i];
		struct request_desc *desc = request_desc_of(m);

		if (rte_ring_sp_enqueue(rt->async.durable[desc->dispatcher], m) != 0) {
			answers[kept++] = m;   /* that dispatcher is behind: next time */
			continue;
		}
		if (desc->queue.answer == REQUEST_QUEUE_ACCEPTED ||
		    desc->queue.answer == REQUEST_QUEUE_DUPLICATE)
			hist_record(accept_latency, (now - desc->queue.handed_tsc) * 1000000000ull / hz);
		sent++;
	}
	*nb = kept;
	return sent;
}
