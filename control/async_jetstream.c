/* The asynchronous queue on NATS JetStream: one work-queue stream and one consumer shared by every node. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/random.h>

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_lcore.h>
#include <rte_ring.h>

#include <nats/nats.h>

#include "async_queue.h"
#include "hist.h"
#include "nats_conn.h"
#include "request_desc.h"

/*
 * Publishes in flight at once: each holds a slot until NATS acknowledges it
 * (or the client gives up after JS_PUBLISH_WAIT_MS); with none free, Events
 * are refused 429 AsyncQueueFull rather than waited for.
 */
#define JS_MAX_PENDING 4096
#define JS_PUBLISH_WAIT_MS 5000
/* A destination's event (enqueue_event) is published and waited for: rare, and its caller asks. */
#define JS_SYNC_PUBLISH_MS 2000
/* Deliveries fetched ahead of the pollers, and the longest a fetch waits for them. */
#define JS_READY_MAX 64
#define JS_FETCH_WAIT_MS 100
/* The streams' and the consumer's state, asked for this often by the fetcher thread. */
#define JS_INFO_EVERY_NS 500000000ull
/* A dead-letter record NATS refused, or a retry's counts it could not read: the event is
 * delivered again after this. */
#define JS_REDELIVER_AFTER_FAILURE_MS 1000
#define JS_ENTRY_MAX (16u << 10)
/* Setting up the streams and the consumer is a handful of requests: slower, say so. */
#define JS_SLOW_START_MS 5000

/*
 * A retry's counts stay in <stream>_TRIES this long after their last write:
 * the longest max_event_age_s among the functions, plus the consumer's
 * AckWait (a node died holding the delivery) and this margin. An event
 * read later is past its age anyway; the entries of events settled while
 * NATS could not take the deletion go then, so none piles up.
 */
#define JS_TRIES_MARGIN_S 60
/* Event ids with an entry in <stream>_TRIES, as the fetcher's watcher last saw them. */
#define JS_TRIED_MAX (1u << 16)
/* The watcher's updates applied at most this many at a time, waiting this long for one. */
#define JS_WATCH_BATCH 1024
#define JS_WATCH_WAIT_MS 1
/* ... every this often (each time, the last wait finds none: a bound on its cost). */
#define JS_WATCH_EVERY_NS 10000000ull
/* Ids whose entries the bucket's TTL removed (a watcher hears of no expiry) go this often. */
#define JS_PRUNE_EVERY_NS 10000000000ull
#define JS_PRUNE_BATCH 256

#define JS_HDR_MSG_ID "Nats-Msg-Id"
#define JS_HDR_REF "Turbine-Ref"   /* which pending slot an acknowledgement answers */
#define JS_HDR_KV_OP "KV-Operation"   /* libnats's kvStore_Delete: the key's value is gone */

enum js_kind {
	JS_ACCEPT,        /* an Event from a dispatcher: answered on the acknowledgement */
	JS_RETRY,         /* its counts to <stream>_TRIES: then the delivery is NAKed with the delay */
	JS_DEAD,          /* its record to <stream>_DLQ: then the delivery is acknowledged */
	JS_SUCCESS,       /* its record to <stream>_OK: then the delivery is acknowledged */
	JS_FORGET,        /* a settled event's counts deleted from <stream>_TRIES: nothing follows */
};

enum js_result { JS_STORED, JS_DUPLICATE, JS_REFUSED_FULL, JS_FAILED };

struct js_pending {
	bool busy;                    /* published, its acknowledgement not yet handled */
	enum js_kind kind;
	struct rte_mbuf *m;           /* JS_ACCEPT */
	struct async_job *job;        /* JS_RETRY, JS_DEAD, JS_SUCCESS */
	uint64_t delay_ms;            /* JS_RETRY: the NAK's delay */
};

struct js_done {
	uint32_t slot;
	enum js_result result;
};

struct async_queue {
	const struct runtime *rt;
	natsConnection *nc;
	jsCtx *js;
	natsSubscription *sub;
	kvStore *tries;               /* <stream>_TRIES: the counts of events being retried */
	kvWatcher *watch;             /* the fetcher's: its updates */
	struct rte_hash *tried;       /* the fetcher's: ids with an entry, from `watch` */
	uint64_t next_watch_ns;       /* the fetcher's */
	uint64_t next_prune_ns;       /* the fetcher's */
	int64_t tries_ttl_ns;         /* how long an entry of <stream>_TRIES lives */
	char subject[64], dlq_subject[64], ok_subject[64];
	char stream[32], dlq_stream[40], ok_stream[40], consumer[48];
	char tries_bucket[40], tries_stream[48], tries_prefix[64];   /* $KV.<bucket>. */
	uint64_t id_prefix, id_next;
	uint64_t ack_wait_ns;
	char connected_url[256];

	/* The queue thread's: publishes in flight, answers to hand back, jobs handed out. */
	struct js_pending pending[JS_MAX_PENDING];
	uint32_t free_slots[JS_MAX_PENDING];
	unsigned int nb_free;
	struct rte_mbuf **answers;
	unsigned int nb_answers, answers_cap;
	struct async_job held;        /* list head: jobs handed to the pollers, not yet settled */
	uint64_t next_progress_ns;

	/* Shared with NATS's threads and the fetcher, under lock. */
	pthread_mutex_t lock;
	struct js_done done[JS_MAX_PENDING];
	unsigned int nb_done;
	struct async_job *ready[JS_READY_MAX];
	unsigned int ready_head, nb_ready;
	struct async_queue_stats info;  /* stream and consumer fields only */
	uint64_t torn, tries_read_failed, redelivered_as_first;

	pthread_t fetcher;
	bool fetcher_started;
	int stop;
	bool closing;                 /* js_close: settling publishes nothing more */

	struct async_queue_stats st;
	struct hist accept_latency;
	uint8_t entry[JS_ENTRY_MAX];
};

static uint64_t
js_clock(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* --- Event ids. --- */

static uint64_t
js_fnv(uint64_t h, const void *p, size_t len)
{
	const uint8_t *b = p;
	size_t i;

	for (i = 0; i < len; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

/*
 * A keyed Event's id comes from its (tenant, function, key): every node
 * that sees the key again names the same event, so that a duplicate is
 * answered with the first copy's id without asking anyone, and the id is
 * the stream's Nats-Msg-Id, which JetStream deduplicates across nodes.
 */
static void
js_key_id(const struct async_event *ev, struct async_event_id *id)
{
	uint64_t h[2] = { 0xcbf29ce484222325ull, 0x84222325cbf29ce4ull };
	unsigned int i, k;

	for (k = 0; k < 2; k++) {
		h[k] = js_fnv(h[k], ev->tenant, strlen(ev->tenant) + 1);
		h[k] = js_fnv(h[k], ev->function, strlen(ev->function) + 1);
		h[k] = js_fnv(h[k], ev->key, ev->key_len);
	}
	for (i = 0; i < 8; i++) {
		id->b[i] = (uint8_t)(h[0] >> (56 - 8 * i));
		id->b[8 + i] = (uint8_t)(h[1] >> (56 - 8 * i));
	}
	id->b[6] = (uint8_t)((id->b[6] & 0x0f) | 0x80);   /* a UUID version 8: made by us */
	id->b[8] = (uint8_t)((id->b[8] & 0x3f) | 0x80);
}

static void
js_new_id(struct async_queue *q, struct async_event_id *id)
{
	uint64_t n = q->id_next++;
	unsigned int i;

	for (i = 0; i < 8; i++) {
		id->b[i] = (uint8_t)(q->id_prefix >> (56 - 8 * i));
		id->b[8 + i] = (uint8_t)(n >> (56 - 8 * i));
	}
}

static uint32_t
js_dedupe_window_s(const struct runtime *rt, const char *function)
{
	const struct function_config *fc = config_find_function(&rt->cfg, function, strlen(function));

	return fc != NULL ? fc->dedupe_window_s : 0;
}

/* The stream's deduplication window: the longest of the functions' (documented in README). */
static uint32_t
js_stream_window_s(const struct runtime *rt)
{
	uint32_t w = 0;
	unsigned int i;

	for (i = 0; i < rt->cfg.nb_functions; i++)
		if (rt->cfg.functions[i].dedupe_window_s > w)
			w = rt->cfg.functions[i].dedupe_window_s;
	return w > 0 ? w : 1;
}

/* --- Publishing. --- */

/* A NATS acknowledgement (or its failure), on a NATS thread: queued for the queue thread. */
static void
js_on_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure)
{
	struct async_queue *q = closure;
	enum js_result result = JS_FAILED;
	const char *ref;

	(void)js;
	if (pa != NULL)
		result = pa->Duplicate ? JS_DUPLICATE : JS_STORED;
	else if (pae != NULL && pae->ErrCode == JSStreamStoreFailedErr)
		result = JS_REFUSED_FULL;   /* the stream's MaxMsgs (async_queue_max), discard new */
	if (natsMsgHeader_Get(msg, JS_HDR_REF, &ref) == NATS_OK) {
		pthread_mutex_lock(&q->lock);
		/* One acknowledgement per publish in flight: never more than the slots. */
		q->done[q->nb_done].slot = (uint32_t)strtoul(ref, NULL, 10);
		q->done[q->nb_done].result = result;
		q->nb_done++;
		pthread_mutex_unlock(&q->lock);
	}
	natsMsg_Destroy(msg);
}

/*
 * Publish `len` bytes of `data` to `subject`, with `msg_id` and a KV
 * operation `kv_op` unless NULL, asynchronously, into a pending slot.
 * Returns the slot or -1 (nothing is in flight then).
 */
static int
js_publish(struct async_queue *q, const char *subject, const void *data, size_t len,
	   const char *msg_id, const char *kv_op, const struct js_pending *what)
{
	jsPubOptions po;
	natsMsg *msg = NULL;
	char ref[16];
	uint32_t slot;
	natsStatus s;

	if (q->nb_free == 0)
		return -1;
	slot = q->free_slots[q->nb_free - 1];
	snprintf(ref, sizeof(ref), "%" PRIu32, slot);
	s = natsMsg_Create(&msg, subject, NULL, data, (int)len);
	if (s == NATS_OK && msg_id != NULL)
		s = natsMsgHeader_Set(msg, JS_HDR_MSG_ID, msg_id);
	if (s == NATS_OK && kv_op != NULL)
		s = natsMsgHeader_Set(msg, JS_HDR_KV_OP, kv_op);
	if (s == NATS_OK)
		s = natsMsgHeader_Set(msg, JS_HDR_REF, ref);
	if (s == NATS_OK) {
		jsPubOptions_Init(&po);
		po.MaxWait = JS_PUBLISH_WAIT_MS;
		q->pending[slot] = *what;
		q->pending[slot].busy = true;
		s = js_PublishMsgAsync(q->js, &msg, &po);
	}
	natsMsg_Destroy(msg);   /* NULL once the client took it */
	if (s != NATS_OK) {
		/* The client calls no handler for a publish it refused. */
		q->pending[slot].busy = false;
		q->st.publish_failed++;
		return -1;
	}
	q->nb_free--;
	return (int)slot;
}

static int
js_reserve(void **arr, unsigned int len, unsigned int *cap, size_t size)
{
	unsigned int want = *cap == 0 ? 64 : *cap * 2;
	void *p;

	if (len < *cap)
		return 0;
	p = realloc(*arr, (size_t)want * size);
	if (p == NULL)
		return -ENOMEM;
	*arr = p;
	*cap = want;
	return 0;
}

static void
js_answer_later(struct async_queue *q, struct rte_mbuf *m, enum request_queue_answer answer)
{
	request_desc_of(m)->queue.answer = (uint8_t)answer;
	if (js_reserve((void **)&q->answers, q->nb_answers, &q->answers_cap,
		       sizeof(q->answers[0])) == 0)
		q->answers[q->nb_answers++] = m;
	else
		rte_pktmbuf_free(m);   /* out of memory: the client retries */
}

/* An Event from a dispatcher: published; answered when NATS acknowledges it. */
static void
js_accept(struct async_queue *q, struct rte_mbuf *m)
{
	struct request_desc *desc = request_desc_of(m);
	struct js_pending what = { .kind = JS_ACCEPT, .m = m };
	char msg_id[ASYNC_EVENT_ID_TEXT];
	struct async_event *ev;
	size_t len;

	if (q->nb_free == 0) {
		q->st.refused_full++;
		js_answer_later(q, m, REQUEST_QUEUE_FULL);
		return;
	}
	ev = async_event_from_mbuf(m);
	if (ev == NULL) {
		js_answer_later(q, m, REQUEST_QUEUE_FAILED);
		return;
	}
	if (ev->key_len > 0 && js_dedupe_window_s(q->rt, ev->function) > 0)
		js_key_id(ev, &ev->id);
	else
		js_new_id(q, &ev->id);
	async_event_id_format(&ev->id, desc->queue.event_id);
	memcpy(msg_id, desc->queue.event_id, sizeof(msg_id));
	len = async_entry_enqueue(ev, q->entry, sizeof(q->entry));
	free(ev);
	if (len == 0 || js_publish(q, q->subject, q->entry, len, msg_id, NULL, &what) < 0)
		js_answer_later(q, m, REQUEST_QUEUE_FAILED);
}

static void
js_enqueue(struct async_queue *q, struct rte_mbuf **pkts, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		js_accept(q, pkts[i]);
}

/* A destination's event: published and waited for, so that the caller knows. */
static int
js_enqueue_event(struct async_queue *q, struct async_event *ev)
{
	static const struct async_event_id none;
	char msg_id[ASYNC_EVENT_ID_TEXT];
	jsPubOptions po;
	natsMsg *msg = NULL;
	size_t len;
	natsStatus s;

	if (memcmp(&ev->id, &none, sizeof(none)) == 0)
		js_new_id(q, &ev->id);
	if (ev->accepted_ns == 0)
		ev->accepted_ns = js_clock(CLOCK_REALTIME);
	async_event_id_format(&ev->id, msg_id);
	len = async_entry_enqueue(ev, q->entry, sizeof(q->entry));
	free(ev);
	if (len == 0)
		return -EMSGSIZE;
	s = natsMsg_Create(&msg, q->subject, NULL, (const char *)q->entry, (int)len);
	if (s == NATS_OK)
		s = natsMsgHeader_Set(msg, JS_HDR_MSG_ID, msg_id);
	if (s == NATS_OK) {
		jsPubOptions_Init(&po);
		po.MaxWait = JS_SYNC_PUBLISH_MS;
		s = js_PublishMsg(NULL, q->js, msg, &po, NULL);
	}
	natsMsg_Destroy(msg);
	if (s != NATS_OK) {
		q->st.publish_failed++;
		return -EIO;
	}
	q->st.accepted++;
	return 0;
}

/* --- Jobs: deliveries of the shared consumer. --- */

static void
js_job_free(struct async_job *job)
{
	natsMsg_Destroy(job->msg);
	free(job->last_body);
	free(job->ev);
	free(job);
}

static void
js_unhold(struct async_queue *q, struct async_job *job)
{
	job->prev->next = job->next;
	job->next->prev = job->prev;
	q->st.depth--;
}

/*
 * An event's key in <stream>_TRIES: its id and its acceptance's time. A
 * keyed event's id is the same for every acceptance of its key, and a
 * second acceptance (after the deduplication window) may be in the stream
 * while the first still retries: each keeps its own counts.
 */
struct js_tries_key {
	struct async_event_id id;
	uint64_t accepted_ns;
};

#define JS_TRIES_KEY_TEXT (ASYNC_EVENT_ID_TEXT + 21)   /* "<id>.<accepted_ns>" */

/* Also the Nats-Msg-Id of its DLQ and success records: one record per acceptance. */
static void
js_tries_key_format(const struct async_event *ev, char *key)
{
	async_event_id_format(&ev->id, key);
	snprintf(key + ASYNC_EVENT_ID_TEXT - 1, JS_TRIES_KEY_TEXT - ASYNC_EVENT_ID_TEXT + 1,
		 ".%" PRIu64, ev->accepted_ns);
}

static int
js_tries_key_parse(const char *text, struct js_tries_key *k)
{
	char id[ASYNC_EVENT_ID_TEXT];
	const char *dot = strchr(text, '.');
	char *end;

	if (dot == NULL || (size_t)(dot - text) != ASYNC_EVENT_ID_TEXT - 1)
		return -1;
	memcpy(id, text, ASYNC_EVENT_ID_TEXT - 1);
	id[ASYNC_EVENT_ID_TEXT - 1] = '\0';
	memset(k, 0, sizeof(*k));
	if (async_event_id_parse(id, &k->id) != 0)
		return -1;
	k->accepted_ns = strtoull(dot + 1, &end, 10);
	return *end == '\0' ? 0 : -1;
}

static void
js_tries_subject(const struct async_queue *q, const struct async_event *ev, char *subject,
		 size_t len)
{
	char key[JS_TRIES_KEY_TEXT];

	js_tries_key_format(ev, key);
	snprintf(subject, len, "%s%s", q->tries_prefix, key);
}

/*
 * A settled event's counts, deleted (a kvStore_Delete, published
 * asynchronously). Only a redelivered event can have any (js_fetch): the
 * first delivery of each one, nearly all of them, costs nothing more. Best
 * effort: with no slot free, or NATS refusing, the entry ages out (the
 * bucket's TTL), and a stale one is never read as a later acceptance's
 * counts (they carry the acceptance's time).
 */
static void
js_forget(struct async_queue *q, const struct async_job *job)
{
	struct js_pending what = { .kind = JS_FORGET };
	char subject[sizeof(q->tries_prefix) + JS_TRIES_KEY_TEXT];

	/* Closing: nothing more is published (js_close); the entry ages out. */
	if (!job->retried || q->closing)
		return;
	js_tries_subject(q, job->ev, subject, sizeof(subject));
	js_publish(q, subject, NULL, 0, NULL, "DEL", &what);
}

/* Settled: acknowledged (its counts deleted), or given back after a delay; forgotten. */
static void
js_settle(struct async_queue *q, struct async_job *job, bool ack, uint64_t nak_delay_ms)
{
	if (ack) {
		natsMsg_Ack(job->msg, NULL);
		js_forget(q, job);
	} else {
		natsMsg_NakWithDelay(job->msg, (int64_t)nak_delay_ms, NULL);
	}
	js_unhold(q, job);
	js_job_free(job);
}

/* The next delivery the fetcher made ready: NATS delivers a retry only once its delay is over. */
static struct async_job *
js_poll(struct async_queue *q, uint64_t now_ns)
{
	struct async_job *job = NULL;

	pthread_mutex_lock(&q->lock);
	if (q->nb_ready > 0) {
		job = q->ready[q->ready_head];
		q->ready_head = (q->ready_head + 1) % JS_READY_MAX;
		q->nb_ready--;
	}
	pthread_mutex_unlock(&q->lock);
	if (job == NULL)
		return NULL;
	job->function = runtime_find_function(q->rt, job->ev->function,
					      (uint32_t)strlen(job->ev->function));
	job->held_ns = now_ns;
	job->next = &q->held;
	job->prev = q->held.prev;
	q->held.prev->next = job;
	q->held.prev = job;
	q->st.depth++;
	return job;
}

static void
js_ack(struct async_queue *q, struct async_job *job, const struct async_outcome *record)
{
	struct js_pending what = { .kind = JS_SUCCESS, .job = job };
	char msg_id[JS_TRIES_KEY_TEXT];
	msgpack_sbuffer sb;
	msgpack_packer pk;
	int slot = -1;

	if (record == NULL) {
		js_settle(q, job, true, 0);
		return;
	}
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	js_tries_key_format(job->ev, msg_id);   /* once per acceptance */
	if (async_stored_pack(&pk, job->ev, record) == 0)
		slot = js_publish(q, q->ok_subject, sb.data, sb.size, msg_id, NULL, &what);
	msgpack_sbuffer_destroy(&sb);
	if (slot < 0) {
		/* The call succeeded: it is not run again for the sake of its log record. */
		fprintf(stderr, "turbine: async: cannot publish a success record to %s\n",
			q->ok_stream);
		js_settle(q, job, true, 0);
	}
}

static void
js_dead_letter(struct async_queue *q, struct async_job *job, const struct async_outcome *record)
{
	struct js_pending what = { .kind = JS_DEAD, .job = job };
	char msg_id[JS_TRIES_KEY_TEXT];
	msgpack_sbuffer sb;
	msgpack_packer pk;
	int slot = -1;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	js_tries_key_format(job->ev, msg_id);   /* once per acceptance */
	if (async_stored_pack(&pk, job->ev, record) == 0)
		slot = js_publish(q, q->dlq_subject, sb.data, sb.size, msg_id, NULL, &what);
	msgpack_sbuffer_destroy(&sb);
	if (slot < 0) {
		fprintf(stderr, "turbine: async: cannot publish a dead-letter record to %s; the event "
			"runs again\n", q->dlq_stream);
		js_settle(q, job, false, JS_REDELIVER_AFTER_FAILURE_MS);
	}
}

/*
 * A retry is a negative acknowledgement of the delivery with the retry's
 * delay: the stream's one message comes back after it, to whichever node
 * pulls then. Its counts (calls that ran, throttles since) go first to
 * <stream>_TRIES under the event id, and the NAK is sent once NATS has
 * stored them (js_completed), so that the node the redelivery goes to reads
 * them back (js_restore_counts). NATS's delivery count cannot stand for
 * them: it mixes calls that ran, throttles and deliveries lost with a dead
 * node, which the policy tells apart. The write is a KV put published
 * asynchronously like every other publish here, so the queue thread never
 * waits on NATS; the delivery stays held (kept alive by js_progress) until
 * its acknowledgement. Should the write fail, the delivery is NAKed with
 * the delay all the same: the counts of this try are lost (one more try at
 * worst), and counted.
 */
static void
js_retry_later(struct async_queue *q, struct async_job *job, uint64_t delay_ms)
{
	struct js_pending what = { .kind = JS_RETRY, .job = job, .delay_ms = delay_ms };
	char subject[sizeof(q->tries_prefix) + JS_TRIES_KEY_TEXT], value[64];
	int len;

	js_tries_subject(q, job->ev, subject, sizeof(subject));
	/* Text, so that `nats kv get` shows it; the acceptance's time tells a redriven event's
	 * counts from a stale entry of its earlier life. */
	len = snprintf(value, sizeof(value), "%" PRIu64 " %" PRIu32 " %" PRIu32,
		       job->ev->accepted_ns, job->ev->attempts, job->ev->throttles);
	if (js_publish(q, subject, value, (size_t)len, NULL, NULL, &what) < 0) {
		q->st.tries_write_failed++;
		js_settle(q, job, false, delay_ms);
	}
}

/* --- The queue thread's side of the acknowledgements. --- */

static void
js_completed(struct async_queue *q, const struct js_done *d)
{
	struct js_pending what = q->pending[d->slot % JS_MAX_PENDING], *p = &what;
	bool stored = d->result == JS_STORED || d->result == JS_DUPLICATE;
	struct request_desc *desc;

	if (d->slot >= JS_MAX_PENDING || !p->busy)
		return;   /* not one of ours: the header was not the one we set */
	/* Freed first: settling may publish again (js_forget) into this very slot. */
	memset(&q->pending[d->slot], 0, sizeof(q->pending[0]));
	q->free_slots[q->nb_free++] = d->slot;
	if (!stored)
		q->st.publish_failed++;
	switch (p->kind) {
	case JS_ACCEPT:
		desc = request_desc_of(p->m);
		if (d->result == JS_STORED) {
			q->st.accepted++;
			if (desc->function < CONFIG_MAX_FUNCTIONS)
				q->st.fn_accepted[desc->function]++;
		}
		q->st.duplicates += d->result == JS_DUPLICATE;
		q->st.refused_full += d->result == JS_REFUSED_FULL;
		js_answer_later(q, p->m, d->result == JS_STORED ? REQUEST_QUEUE_ACCEPTED :
				d->result == JS_DUPLICATE ? REQUEST_QUEUE_DUPLICATE :
				d->result == JS_REFUSED_FULL ? REQUEST_QUEUE_FULL : REQUEST_QUEUE_FAILED);
		break;
	case JS_RETRY:
		q->st.tries_write_failed += !stored;
		js_settle(q, p->job, false, p->delay_ms);
		break;
	case JS_DEAD:
		if (!stored)
			fprintf(stderr, "turbine: async: %s refused a dead-letter record; the event "
				"runs again\n", q->dlq_stream);
		js_settle(q, p->job, stored, JS_REDELIVER_AFTER_FAILURE_MS);
		break;
	case JS_SUCCESS:
		if (!stored)
			fprintf(stderr, "turbine: async: %s refused a success record\n", q->ok_stream);
		js_settle(q, p->job, true, 0);
		break;
	case JS_FORGET:
		break;   /* a deletion NATS refused: the entry ages out */
	}
}

static void
js_drain_done(struct async_queue *q)
{
	static struct js_done done[JS_MAX_PENDING];   /* the queue thread's only */
	unsigned int i, n;

	pthread_mutex_lock(&q->lock);
	n = q->nb_done;
	memcpy(done, q->done, n * sizeof(done[0]));
	q->nb_done = 0;
	pthread_mutex_unlock(&q->lock);
	for (i = 0; i < n; i++)
		js_completed(q, &done[i]);
}

/* Jobs running long (or waiting for their record's or counts' publish): NATS is told they are
 * alive. */
static void
js_progress(struct async_queue *q, uint64_t now_ns)
{
	uint64_t every = q->ack_wait_ns / 3;
	struct async_job *job;
	unsigned int i;

	if (now_ns < q->next_progress_ns)
		return;
	q->next_progress_ns = now_ns + every / 4;
	for (job = q->held.next; job != &q->held; job = job->next)
		if (now_ns - job->held_ns >= every) {
			natsMsg_InProgress(job->msg, NULL);
			job->held_ns = now_ns;
		}
	pthread_mutex_lock(&q->lock);
	for (i = 0; i < q->nb_ready; i++) {
		job = q->ready[(q->ready_head + i) % JS_READY_MAX];
		if (now_ns - job->held_ns >= every) {
			natsMsg_InProgress(job->msg, NULL);
			job->held_ns = now_ns;
		}
	}
	pthread_mutex_unlock(&q->lock);
}

static unsigned int
js_answer(struct async_queue *q)
{
	return async_hand_back(q->rt, q->answers, &q->nb_answers, &q->accept_latency);
}

static unsigned int
js_sync(struct async_queue *q, uint64_t now_ns)
{
	js_drain_done(q);
	js_progress(q, now_ns);
	return js_answer(q);
}

/* --- The fetcher thread: deliveries into the ready list, and the state of the streams. --- */

static struct async_job *
js_job_from(natsMsg *msg)
{
	jsMsgMetaData *meta = NULL;
	struct async_entry e;
	struct async_job *job;

	if (async_entry_decode((const uint8_t *)natsMsg_GetData(msg),
			       (size_t)natsMsg_GetDataLength(msg), &e) < 0 ||
	    e.type != ASYNC_ENTRY_ENQUEUE)
		return NULL;
	job = calloc(1, sizeof(*job));
	if (job == NULL) {
		free(e.event);
		return NULL;
	}
	job->ev = e.event;
	job->msg = msg;
	job->function = -1;
	job->held_ns = js_clock(CLOCK_MONOTONIC);
	job->delivered = 0;   /* unknown: treated as redelivered */
	if (natsMsg_GetMetaData(&meta, msg) == NATS_OK) {
		job->delivered = meta->NumDelivered;
		jsMsgMetaData_Destroy(meta);
	}
	return job;
}

/*
 * A redelivered event's counts, as its last retry stored them in
 * <stream>_TRIES (js_retry_later); the first delivery has none to read.
 * None found: no retry was stored for this acceptance (the deliveries
 * before were lost with a dead node or handed back unrun), and the
 * message's own counts stand. The read goes to the bucket stream's leader
 * (js_ensure_tries), which has every write whose acknowledgement preceded
 * the NAK. On the fetcher thread: it may wait for NATS. Returns 1 when the
 * counts were restored, 0 when there were none, or -EIO when NATS did not
 * answer (the counts are unknown: the event is not run).
 */
static int
js_restore_counts(struct async_queue *q, struct async_job *job)
{
	char key[JS_TRIES_KEY_TEXT], value[64];
	uint32_t attempts, throttles;
	kvEntry *e = NULL;
	uint64_t accepted;
	natsStatus s;
	int len;

	js_tries_key_format(job->ev, key);
	s = kvStore_Get(&e, q->tries, key);
	if (s == NATS_NOT_FOUND)
		return 0;
	if (s != NATS_OK)
		return -EIO;
	len = kvEntry_ValueLen(e);
	snprintf(value, sizeof(value), "%.*s", len < 0 ? 0 : len, (const char *)kvEntry_Value(e));
	kvEntry_Destroy(e);
	if (sscanf(value, "%" SCNu64 " %" SCNu32 " %" SCNu32, &accepted, &attempts, &throttles) != 3 ||
	    accepted != job->ev->accepted_ns)
		return 0;
	job->ev->attempts = attempts;
	job->ev->throttles = throttles;
	return 1;
}

/*
 * Ids whose last put is older than the bucket's TTL: their entries are gone
 * (NATS expired them: a deletion that failed, or an event settled before
 * this watcher saw its put), and so must they be, or the set would fill up
 * over a node's life. A batch at a time: the rest go at the next pass.
 */
static void
js_tried_prune(struct async_queue *q)
{
	struct js_tries_key gone[JS_PRUNE_BATCH];
	uint64_t now_s = js_clock(CLOCK_REALTIME) / 1000000000ull;
	uint64_t ttl_s = (uint64_t)(q->tries_ttl_ns / 1000000000ll) + 1;
	unsigned int n = 0, i;
	uint32_t next = 0;
	const void *key;
	void *data;

	while (n < JS_PRUNE_BATCH && rte_hash_iterate(q->tried, &key, &data, &next) >= 0)
		if ((uint64_t)(uintptr_t)data + ttl_s < now_s)
			memcpy(&gone[n++], key, sizeof(gone[0]));
	/* Deleted after the walk: the table is not changed under its iterator. */
	for (i = 0; i < n; i++)
		rte_hash_del_key(q->tried, &gone[i]);
}

/*
 * Which events have counts in <stream>_TRIES, kept from a watcher of the
 * bucket: every node sees every put and deletion (retries are rare next to
 * Events). NATS's delivery count alone would not do: nats-server 2.9 hands
 * out a redelivery that falls due while no pull request waits as a new
 * delivery of the message, NumDelivered 1 (consumer.go's loopAndGatherMsgs
 * steps its sequence back rather than requeueing the redelivery), and its
 * counts would start over. A first delivery whose id is here is read like
 * a redelivery; the set only says whether to read, the counts still come
 * from the bucket's leader. Should the watcher lag by more than a retry's
 * delay (or the set be full), such a delivery starts its counts over: more
 * tries than max_retry_attempts, within max_event_age_s.
 */
static void
js_watch_drain(struct async_queue *q, uint64_t now_ns)
{
	struct js_tries_key k;
	kvEntry *e;
	unsigned int n;

	if (now_ns < q->next_watch_ns)
		return;
	q->next_watch_ns = now_ns + JS_WATCH_EVERY_NS;
	if (now_ns >= q->next_prune_ns) {
		q->next_prune_ns = now_ns + JS_PRUNE_EVERY_NS;
		js_tried_prune(q);
	}
	for (n = 0; n < JS_WATCH_BATCH; n++) {
		e = NULL;
		if (kvWatcher_Next(&e, q->watch, JS_WATCH_WAIT_MS) != NATS_OK)
			return;
		if (e == NULL)
			continue;   /* the marker: the bucket's entries at the start are all in */
		if (js_tries_key_parse(kvEntry_Key(e), &k) == 0) {
			if (kvEntry_Operation(e) == kvOp_Put)
				/* With the put's time in seconds, for js_tried_prune(); full: see
				 * above. */
				rte_hash_add_key_data(q->tried, &k, (void *)(uintptr_t)
						      (kvEntry_Created(e) / 1000000000ll));
			else
				rte_hash_del_key(q->tried, &k);
		}
		kvEntry_Destroy(e);
	}
}

/*
 * Restore a delivery's counts if it may have any; -EIO: unknown
 * (js_restore_counts), or not asked because `unreadable`: a read of this
 * batch already failed, and each would wait for NATS in turn while the
 * batch's deliveries, held by no one, ran out of their ack wait.
 */
static int
js_job_counts(struct async_queue *q, struct async_job *job, bool unreadable)
{
	struct js_tries_key k = { .id = job->ev->id, .accepted_ns = job->ev->accepted_ns };
	int rc;

	job->retried = job->delivered != 1 || rte_hash_lookup(q->tried, &k) >= 0;
	if (!job->retried)
		return 0;
	if (unreadable)
		return -EIO;
	rc = js_restore_counts(q, job);
	if (rc > 0 && job->delivered == 1) {
		pthread_mutex_lock(&q->lock);
		q->redelivered_as_first++;
		pthread_mutex_unlock(&q->lock);
	}
	return rc < 0 ? rc : 0;
}

static void
js_fetch(struct async_queue *q)
{
	natsMsgList list = { 0 };
	struct async_job *job;
	unsigned int room;
	int i, left_over = 0;
	bool unreadable = false;
	natsStatus s;

	pthread_mutex_lock(&q->lock);
	room = JS_READY_MAX - q->nb_ready;
	pthread_mutex_unlock(&q->lock);
	if (room < JS_READY_MAX / 2) {
		js_watch_drain(q, js_clock(CLOCK_MONOTONIC));
		usleep(1000);
		return;
	}
	/*
	 * libnats 3.4.1's Fetch first takes what earlier pull requests left in
	 * the subscription (deliveries that came after their fetch timed out,
	 * as in a failover), then asks for the batch's rest and stops only when
	 * its count equals that rest: with more than half a batch left over it
	 * writes past its array (nats.c #749, fixed in 3.8). Left-overs are
	 * therefore taken one per fetch, which cannot overrun.
	 */
	natsSubscription_GetPending(q->sub, &left_over, NULL);
	s = natsSubscription_Fetch(&list, q->sub, left_over > 0 ? 1 : (int)room, JS_FETCH_WAIT_MS,
				   NULL);
	js_watch_drain(q, js_clock(CLOCK_MONOTONIC));
	if (s != NATS_OK) {
		if (s != NATS_TIMEOUT)
			usleep(JS_FETCH_WAIT_MS * 1000);   /* disconnected: the client reconnects */
		return;
	}
	for (i = 0; i < list.Count; i++) {
		job = js_job_from(list.Msgs[i]);
		if (job == NULL) {
			/* Not an event of ours: it would come back forever. */
			natsMsg_Term(list.Msgs[i], NULL);
			natsMsg_Destroy(list.Msgs[i]);
			pthread_mutex_lock(&q->lock);
			q->torn++;
			pthread_mutex_unlock(&q->lock);
			continue;
		}
		list.Msgs[i] = NULL;   /* the job's now */
		if (js_job_counts(q, job, unreadable) < 0) {
			unreadable = true;
			natsMsg_NakWithDelay(job->msg, JS_REDELIVER_AFTER_FAILURE_MS, NULL);
			js_job_free(job);
			pthread_mutex_lock(&q->lock);
			q->tries_read_failed++;
			pthread_mutex_unlock(&q->lock);
			continue;
		}
		pthread_mutex_lock(&q->lock);
		q->ready[(q->ready_head + q->nb_ready) % JS_READY_MAX] = job;
		q->nb_ready++;
		pthread_mutex_unlock(&q->lock);
	}
	natsMsgList_Destroy(&list);
}

static void
js_stream_msgs(struct async_queue *q, const char *stream, uint64_t *msgs, uint64_t *bytes)
{
	jsStreamInfo *si = NULL;

	if (js_GetStreamInfo(&si, q->js, stream, NULL, NULL) != NATS_OK)
		return;
	*msgs = si->State.Msgs;
	if (bytes != NULL)
		*bytes = si->State.Bytes;
	jsStreamInfo_Destroy(si);
}

static void
js_refresh_info(struct async_queue *q)
{
	struct async_queue_stats in = { 0 };
	jsConsumerInfo *ci = NULL;

	in.nats_connected = natsConnection_Status(q->nc) == NATS_CONN_STATUS_CONNECTED;
	js_stream_msgs(q, q->stream, &in.stream_msgs, &in.stream_bytes);
	js_stream_msgs(q, q->dlq_stream, &in.dlq_msgs, NULL);
	js_stream_msgs(q, q->ok_stream, &in.ok_msgs, NULL);
	js_stream_msgs(q, q->tries_stream, &in.tries_msgs, NULL);
	if (js_GetConsumerInfo(&ci, q->js, q->stream, q->consumer, NULL, NULL) == NATS_OK) {
		in.consumer_pending = ci->NumPending;
		in.consumer_ack_pending = (uint64_t)ci->NumAckPending;
		in.consumer_redelivered = (uint64_t)ci->NumRedelivered;
		jsConsumerInfo_Destroy(ci);
	}
	pthread_mutex_lock(&q->lock);
	q->info = in;
	pthread_mutex_unlock(&q->lock);
}

static void *
js_fetcher_main(void *arg)
{
	struct async_queue *q = arg;
	uint64_t next_info = 0, now;

	while (!__atomic_load_n(&q->stop, __ATOMIC_ACQUIRE)) {
		now = js_clock(CLOCK_MONOTONIC);
		if (now >= next_info) {
			next_info = now + JS_INFO_EVERY_NS;
			js_refresh_info(q);
		}
		js_fetch(q);
	}
	return NULL;
}

/* --- Open and close. --- */

static int
js_fail(char *err, size_t errlen, const char *what, natsStatus s, jsErrCode jerr)
{
	snprintf(err, errlen, "NATS JetStream: %s: %s (error %d; %s)", what, natsStatus_GetText(s),
		 (int)jerr, nats_GetLastError(NULL) ? nats_GetLastError(NULL) : "");
	return -EIO;
}

/* Create a stream, or bring an existing one to this configuration. */
static int
js_put_stream(struct async_queue *q, jsStreamConfig *sc, char *err, size_t errlen)
{
	jsStreamInfo *si = NULL;
	jsErrCode jerr = 0;
	natsStatus s;

	s = js_GetStreamInfo(&si, q->js, sc->Name, NULL, &jerr);
	jsStreamInfo_Destroy(si);
	si = NULL;
	if (s == NATS_NOT_FOUND)
		s = js_AddStream(&si, q->js, sc, NULL, &jerr);
	else if (s == NATS_OK)
		s = js_UpdateStream(&si, q->js, sc, NULL, &jerr);
	jsStreamInfo_Destroy(si);
	if (s != NATS_OK)
		return js_fail(err, errlen, sc->Name, s, jerr);
	return 0;
}

static int
js_ensure_stream(struct async_queue *q, const char *name, const char *subject,
		 jsRetentionPolicy retention, int64_t max_msgs, int64_t dupe_window_ns,
		 char *err, size_t errlen)
{
	const char *subjects[1] = { subject };
	jsStreamConfig sc;

	jsStreamConfig_Init(&sc);
	sc.Name = name;
	sc.Subjects = subjects;
	sc.SubjectsLen = 1;
	sc.Retention = retention;
	sc.Storage = js_FileStorage;
	sc.Replicas = q->rt->cfg.nats_replicas;
	sc.Duplicates = dupe_window_ns;
	if (max_msgs > 0) {
		sc.MaxMsgs = max_msgs;
		sc.Discard = js_DiscardNew;
	}
	return js_put_stream(q, &sc, err, errlen);
}

/* How long an entry of <stream>_TRIES lives after its last write (JS_TRIES_MARGIN_S). */
static int64_t
js_tries_ttl_ns(const struct async_queue *q)
{
	uint32_t age = 0;
	unsigned int i;

	for (i = 0; i < q->rt->cfg.nb_functions; i++)
		if (q->rt->cfg.functions[i].max_event_age_s > age)
			age = q->rt->cfg.functions[i].max_event_age_s;
	return ((int64_t)age + JS_TRIES_MARGIN_S) * 1000000000ll + (int64_t)q->ack_wait_ns;
}

/*
 * <stream>_TRIES, the retries' counts: a key-value bucket (history 1, file
 * storage, the streams' replicas), made as libnats's js_CreateKeyValue
 * makes one but for AllowDirect, then opened with js_KeyValue. libnats
 * 3.4's buckets allow direct gets, and kvStore_Get then asks any replica
 * (nats-server 2.9 answers a direct get from a follower that may not yet
 * hold the write acknowledged a moment ago); without it, kvStore_Get is a
 * js_GetLastMsg, which the stream's leader answers, and the leader has
 * applied every write it acknowledged. Like the streams' other settings,
 * the TTL follows the functions' ages at each start.
 */
static int
js_ensure_tries(struct async_queue *q, char *err, size_t errlen)
{
	struct rte_hash_parameters hp = {
		.entries = JS_TRIED_MAX,
		.key_len = sizeof(struct js_tries_key),
		.hash_func = rte_hash_crc,
		.socket_id = SOCKET_ID_ANY,
	};
	char subject[sizeof(q->tries_prefix) + 1], name[RTE_HASH_NAMESIZE];
	const char *subjects[1] = { subject };
	kvWatchOptions wo;
	jsStreamConfig sc;
	natsStatus s;
	int rc;

	snprintf(subject, sizeof(subject), "%s>", q->tries_prefix);
	jsStreamConfig_Init(&sc);
	sc.Name = q->tries_stream;
	sc.Subjects = subjects;
	sc.SubjectsLen = 1;
	sc.MaxMsgsPerSubject = 1;
	q->tries_ttl_ns = js_tries_ttl_ns(q);
	sc.MaxAge = q->tries_ttl_ns;
	sc.Storage = js_FileStorage;
	sc.Replicas = q->rt->cfg.nats_replicas;
	sc.AllowRollup = true;
	sc.DenyDelete = true;
	sc.AllowDirect = false;
	sc.Discard = js_DiscardNew;
	rc = js_put_stream(q, &sc, err, errlen);
	if (rc < 0)
		return rc;
	s = js_KeyValue(&q->tries, q->js, q->tries_bucket);
	if (s != NATS_OK)
		return js_fail(err, errlen, q->tries_bucket, s, 0);
	kvWatchOptions_Init(&wo);
	s = kvStore_WatchAll(&q->watch, q->tries, &wo);
	if (s != NATS_OK)
		return js_fail(err, errlen, "watching the retries' counts", s, 0);
	snprintf(name, sizeof(name), "js_%.24s", q->stream);   /* nats_stream: 24 at most */
	hp.name = name;
	q->tried = rte_hash_create(&hp);
	if (q->tried == NULL) {
		snprintf(err, errlen, "cannot make the set of retried events: %s",
			 rte_strerror(rte_errno));
		return -ENOMEM;
	}
	return 0;
}

static int
js_ensure_consumer(struct async_queue *q, char *err, size_t errlen)
{
	jsConsumerInfo *ci = NULL;
	jsConsumerConfig cc;
	jsSubOptions so;
	jsErrCode jerr = 0;
	natsStatus s;

	jsConsumerConfig_Init(&cc);
	cc.Durable = q->consumer;
	cc.AckPolicy = js_AckExplicit;
	cc.AckWait = (int64_t)q->ack_wait_ns;
	cc.MaxDeliver = -1;           /* retries are async_policy's, not NATS's */
	cc.MaxAckPending = -1;        /* delayed retries are pending too: never stop the flow */
	cc.FilterSubject = q->subject;
	cc.DeliverPolicy = js_DeliverAll;
	s = js_GetConsumerInfo(&ci, q->js, q->stream, q->consumer, NULL, &jerr);
	jsConsumerInfo_Destroy(ci);
	ci = NULL;
	if (s == NATS_NOT_FOUND)
		s = js_AddConsumer(&ci, q->js, q->stream, &cc, NULL, &jerr);
	else if (s == NATS_OK)
		s = js_UpdateConsumer(&ci, q->js, q->stream, &cc, NULL, &jerr);
	jsConsumerInfo_Destroy(ci);
	if (s != NATS_OK)
		return js_fail(err, errlen, q->consumer, s, jerr);
	jsSubOptions_Init(&so);
	so.Stream = q->stream;
	so.Consumer = q->consumer;
	s = js_PullSubscribe(&q->sub, q->js, q->subject, q->consumer, NULL, &so, &jerr);
	if (s != NATS_OK)
		return js_fail(err, errlen, "subscribing to the consumer", s, jerr);
	return 0;
}

struct async_queue *
async_jetstream_create(void)
{
	struct async_queue *q = calloc(1, sizeof(*q));
	unsigned int i;

	if (q == NULL)
		return NULL;
	pthread_mutex_init(&q->lock, NULL);
	q->held.next = q->held.prev = &q->held;
	for (i = 0; i < JS_MAX_PENDING; i++)
		q->free_slots[i] = JS_MAX_PENDING - 1 - i;
	q->nb_free = JS_MAX_PENDING;
	hist_reset(&q->accept_latency);
	return q;
}

static int
js_open(struct async_queue *q, const struct runtime *rt, const char *dir, char *err, size_t errlen)
{
	const struct turbine_config *cfg = &rt->cfg;
	int64_t window_ns = (int64_t)js_stream_window_s(rt) * 1000000000ll;
	jsOptions jo;
	natsStatus s;
	int rc;

	uint64_t started = js_clock(CLOCK_MONOTONIC), took_ms;

	(void)dir;
	q->rt = rt;
	q->ack_wait_ns = (uint64_t)cfg->nats_ack_wait_ms * 1000000ull;
	snprintf(q->stream, sizeof(q->stream), "%s", cfg->nats_stream);
	snprintf(q->dlq_stream, sizeof(q->dlq_stream), "%s_DLQ", cfg->nats_stream);
	snprintf(q->ok_stream, sizeof(q->ok_stream), "%s_OK", cfg->nats_stream);
	snprintf(q->consumer, sizeof(q->consumer), "%s_pollers", cfg->nats_stream);
	snprintf(q->tries_bucket, sizeof(q->tries_bucket), "%s_TRIES", cfg->nats_stream);
	snprintf(q->tries_stream, sizeof(q->tries_stream), "KV_%s", q->tries_bucket);
	snprintf(q->tries_prefix, sizeof(q->tries_prefix), "$KV.%s.", q->tries_bucket);
	snprintf(q->subject, sizeof(q->subject), "%s.events", cfg->nats_stream);
	snprintf(q->dlq_subject, sizeof(q->dlq_subject), "%s.dlq", cfg->nats_stream);
	snprintf(q->ok_subject, sizeof(q->ok_subject), "%s.ok", cfg->nats_stream);
	if (getrandom(&q->id_prefix, sizeof(q->id_prefix), 0) != sizeof(q->id_prefix)) {
		snprintf(err, errlen, "getrandom: %s", strerror(errno));
		return -errno;
	}
	rc = nats_conn_open(cfg->nats_url, "turbine-async", true, &q->nc, err, errlen);
	if (rc < 0)
		return rc;
	jsOptions_Init(&jo);
	jo.PublishAsync.MaxPending = JS_MAX_PENDING;
	jo.PublishAsync.AckHandler = js_on_ack;
	jo.PublishAsync.AckHandlerClosure = q;
	s = natsConnection_JetStream(&q->js, q->nc, &jo);
	if (s != NATS_OK)
		return js_fail(err, errlen, "JetStream context", s, 0);
	rc = js_ensure_stream(q, q->stream, q->subject, js_WorkQueuePolicy, cfg->async_queue_max,
			      window_ns, err, errlen);
	if (rc == 0)
		rc = js_ensure_stream(q, q->dlq_stream, q->dlq_subject, js_LimitsPolicy, 0, window_ns,
				      err, errlen);
	if (rc == 0)
		rc = js_ensure_stream(q, q->ok_stream, q->ok_subject, js_LimitsPolicy, 0, window_ns,
				      err, errlen);
	if (rc == 0)
		rc = js_ensure_tries(q, err, errlen);
	if (rc == 0)
		rc = js_ensure_consumer(q, err, errlen);
	if (rc < 0)
		return rc;
	js_refresh_info(q);
	rc = rte_ctrl_thread_create(&q->fetcher, "turbine-js-fetch", NULL, js_fetcher_main, q);
	if (rc != 0) {
		snprintf(err, errlen, "cannot start the JetStream fetcher: %s", strerror(rc));
		return -rc;
	}
	q->fetcher_started = true;
	took_ms = (js_clock(CLOCK_MONOTONIC) - started) / 1000000;
	printf("turbine: async: jetstream: stream %s (%u replica(s)), consumer %s, at %s, ready in "
	       "%" PRIu64 " ms\n", q->stream, cfg->nats_replicas, q->consumer,
	       natsConnection_GetConnectedUrl(q->nc, q->connected_url, sizeof(q->connected_url)) ==
	       NATS_OK ? q->connected_url : "?", took_ms);
	fflush(stdout);
	if (took_ms > JS_SLOW_START_MS)
		fprintf(stderr, "turbine: async: warning: NATS took %" PRIu64 " ms to set up the "
			"streams (each JetStream request waits up to 5 s for an answer)\n", took_ms);
	return 0;
}

static void
js_close(struct async_queue *q)
{
	jsPubOptions po;
	unsigned int i;

	if (q == NULL)
		return;
	if (q->fetcher_started) {
		__atomic_store_n(&q->stop, 1, __ATOMIC_RELEASE);
		pthread_join(q->fetcher, NULL);
	}
	q->closing = true;
	if (q->js != NULL) {
		/* What is in flight lands (or not) before the answers are dropped: unanswered
		 * Events were not promised; their clients retry. */
		jsPubOptions_Init(&po);
		po.MaxWait = JS_PUBLISH_WAIT_MS;
		js_PublishAsyncComplete(q->js, &po);
		js_drain_done(q);
	}
	/* Deliveries not run here go to another node at once. */
	while (q->held.next != &q->held)
		js_settle(q, q->held.next, false, 0);
	for (i = 0; i < q->nb_ready; i++) {
		struct async_job *job = q->ready[(q->ready_head + i) % JS_READY_MAX];

		natsMsg_Nak(job->msg, NULL);
		js_job_free(job);
	}
	for (i = 0; i < JS_MAX_PENDING; i++)
		if (q->pending[i].busy && q->pending[i].kind == JS_ACCEPT)
			rte_pktmbuf_free(q->pending[i].m);
	for (i = 0; i < q->nb_answers; i++)
		rte_pktmbuf_free(q->answers[i]);
	natsSubscription_Destroy(q->sub);
	kvWatcher_Destroy(q->watch);
	kvStore_Destroy(q->tries);
	rte_hash_free(q->tried);
	jsCtx_Destroy(q->js);
	nats_conn_close(q->nc);
	pthread_mutex_destroy(&q->lock);
	free(q->answers);
	free(q);
}

static void
js_stats(struct async_queue *q, struct async_queue_stats *st)
{
	struct hist_summary hs;

	hist_summarize(&q->accept_latency, &hs);
	pthread_mutex_lock(&q->lock);
	q->st.stream_msgs = q->info.stream_msgs;
	q->st.stream_bytes = q->info.stream_bytes;
	q->st.dlq_msgs = q->info.dlq_msgs;
	q->st.ok_msgs = q->info.ok_msgs;
	q->st.consumer_pending = q->info.consumer_pending;
	q->st.consumer_ack_pending = q->info.consumer_ack_pending;
	q->st.consumer_redelivered = q->info.consumer_redelivered;
	q->st.nats_connected = q->info.nats_connected;
	q->st.torn = q->torn;
	q->st.tries_msgs = q->info.tries_msgs;
	q->st.tries_read_failed = q->tries_read_failed;
	q->st.redelivered_as_first = q->redelivered_as_first;
	pthread_mutex_unlock(&q->lock);
	q->st.accept_p50_ns = hs.count ? hs.p50 : 0;
	q->st.accept_p99_ns = hs.count ? hs.p99 : 0;
	*st = q->st;
	/* The depth the operator asks about is the stream's, every node's together. */
	st->depth = q->st.consumer_pending + q->st.consumer_ack_pending;
}

const struct async_queue_ops async_jetstream_ops = {
	.name = "jetstream",
	.open = js_open,
	.close = js_close,
	.enqueue = js_enqueue,
	.enqueue_event = js_enqueue_event,
	.poll = js_poll,
	.ack = js_ack,
	.retry_later = js_retry_later,
	.dead_letter = js_dead_letter,
	.sync = js_sync,
	.stats = js_stats,
};
