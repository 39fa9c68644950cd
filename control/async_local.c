/* The asynchronous queue's embedded default: a segmented log in a local folder, with group commit. */
#include <errno.h>
#include <limits.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sys/random.h>

#include <rte_cycles.h>
#include <rte_ring.h>

#include "async_log.h"
#include "async_policy.h"
#include "async_queue.h"
#include "async_store.h"
#include "hist.h"
#include "request_desc.h"

/* More segments than this behind the oldest unfinished event: it is written again, forward. */
#define LOCAL_COMPACT_SEGMENTS 4
/* Housekeeping (dedupe windows, reclaiming segments, compaction) and redrive folder scans. */
#define LOCAL_HOUSEKEEPING_NS 1000000000ull
#define LOCAL_REDRIVE_SCAN_NS 250000000ull
/* The longest entries that nobody waits for stay unsynced (local_sync). */
#define LOCAL_LAZY_SYNC_NS 10000000ull
/* Events looked at for the age of the oldest. */
#define LOCAL_OLDEST_LOOK 16
/* Room for the largest entry: an event, its names and a destination record around it. */
#define LOCAL_ENTRY_MAX (16u << 10)

struct async_queue {
	const struct runtime *rt;
	char dir[PATH_MAX];
	struct async_log *log;
	struct async_dedupe *dedupe;
	uint64_t id_prefix;           /* random for each run: ids never repeat across restarts */
	uint64_t id_next;

	struct async_job jobs;        /* list head: every job held */
	struct async_job **heap;      /* by (due_ns, order): jobs waiting to run */
	unsigned int heap_len, heap_cap;
	uint64_t order_next;

	/* Waiting for the next sync: answers to hand back, jobs to make runnable, redrive files. */
	struct rte_mbuf **answers;
	unsigned int nb_answers, answers_cap;
	struct async_job **fresh;
	unsigned int nb_fresh, fresh_cap;
	struct async_event_id *redriven;
	unsigned int nb_redriven, redriven_cap;
	bool store_dirty;
	bool broken;                  /* a sync failed: accept nothing more */

	uint64_t next_housekeeping_ns, next_redrive_scan_ns;
	uint64_t last_sync_at_ns;     /* CLOCK_MONOTONIC */
	struct async_queue_stats st;
	struct hist accept_latency;   /* handed over by a dispatcher to handed back, ns */
	uint8_t entry[LOCAL_ENTRY_MAX];
};

static uint64_t
local_clock(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Grow an array of `size`-byte elements to hold one more. */
static int
local_reserve(void **arr, unsigned int len, unsigned int *cap, size_t size)
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

/* --- The timer heap: a binary min-heap of jobs by (due_ns, order). --- */

static bool
local_before(const struct async_job *a, const struct async_job *b)
{
	return a->due_ns < b->due_ns || (a->due_ns == b->due_ns && a->order < b->order);
}

static void
local_heap_set(struct async_queue *q, unsigned int i, struct async_job *job)
{
	q->heap[i] = job;
	job->heap_at = i;
}

static int
local_heap_push(struct async_queue *q, struct async_job *job, uint64_t due_ns)
{
	unsigned int i;

	if (local_reserve((void **)&q->heap, q->heap_len, &q->heap_cap, sizeof(q->heap[0])) < 0)
		return -ENOMEM;
	job->due_ns = due_ns;
	job->order = q->order_next++;
	for (i = q->heap_len++; i > 0 && local_before(job, q->heap[(i - 1) / 2]); i = (i - 1) / 2)
		local_heap_set(q, i, q->heap[(i - 1) / 2]);
	local_heap_set(q, i, job);
	return 0;
}

static struct async_job *
local_heap_pop(struct async_queue *q)
{
	struct async_job *top = q->heap[0], *last = q->heap[--q->heap_len];
	unsigned int i = 0, child;

	while ((child = 2 * i + 1) < q->heap_len) {
		if (child + 1 < q->heap_len && local_before(q->heap[child + 1], q->heap[child]))
			child++;
		if (!local_before(q->heap[child], last))
			break;
		local_heap_set(q, i, q->heap[child]);
		i = child;
	}
	if (q->heap_len > 0)
		local_heap_set(q, i, last);
	top->heap_at = UINT_MAX;
	return top;
}

/* --- Jobs. --- */

static struct async_job *
local_job_new(struct async_queue *q, struct async_event *ev, uint64_t segment)
{
	struct async_job *job = calloc(1, sizeof(*job));

	if (job == NULL)
		return NULL;
	job->ev = ev;
	job->segment = segment;
	job->heap_at = UINT_MAX;
	job->function = runtime_find_function(q->rt, ev->function, (uint32_t)strlen(ev->function));
	job->next = &q->jobs;
	job->prev = q->jobs.prev;
	q->jobs.prev->next = job;
	q->jobs.prev = job;
	q->st.depth++;
	if (job->function >= 0)
		q->st.fn_depth[job->function]++;
	return job;
}

static void
local_job_free(struct async_queue *q, struct async_job *job)
{
	if (job->waiting)
		q->st.waiting--;
	job->prev->next = job->next;
	job->next->prev = job->prev;
	q->st.depth--;
	if (job->function >= 0)
		q->st.fn_depth[job->function]--;
	free(job->last_body);
	free(job->ev);
	free(job);
}

static void
local_new_id(struct async_queue *q, struct async_event_id *id)
{
	uint64_t n = q->id_next++;
	unsigned int i;

	for (i = 0; i < 8; i++) {
		id->b[i] = (uint8_t)(q->id_prefix >> (56 - 8 * i));
		id->b[8 + i] = (uint8_t)(n >> (56 - 8 * i));
	}
}

/* Append an ENQUEUE entry for the job's event and hold the segment it lands in. */
static int
local_write_event(struct async_queue *q, const struct async_event *ev, uint64_t *segment)
{
	size_t len = async_entry_enqueue(ev, q->entry, sizeof(q->entry));
	int rc;

	if (len == 0)
		return -EMSGSIZE;
	rc = async_log_append(q->log, q->entry, (uint32_t)len, segment);
	if (rc == 0)
		async_log_hold(q->log, *segment);
	return rc;
}

static uint32_t
local_dedupe_window_s(const struct async_queue *q, const char *function)
{
	const struct function_config *fc = config_find_function(&q->rt->cfg, function, strlen(function));

	return fc != NULL ? fc->dedupe_window_s : 0;
}

/* Remember the event's idempotency key for its function's window, durably with its segment. */
static void
local_remember_key(struct async_queue *q, const struct async_event *ev, uint64_t segment)
{
	uint64_t until;

	if (ev->key_len == 0)
		return;
	until = ev->accepted_ns + (uint64_t)local_dedupe_window_s(q, ev->function) * 1000000000ull;
	if (until <= local_clock(CLOCK_REALTIME))
		return;
	async_dedupe_add(q->dedupe, ev->tenant, ev->function, ev->key, ev->key_len, &ev->id, until);
	async_log_keep_until(q->log, segment, until);
}

/* --- Replay. --- */

static int
local_id_cmp(const void *a, const void *b)
{
	return memcmp(&((const struct async_job *)a)->ev->id, &((const struct async_job *)b)->ev->id,
		      sizeof(struct async_event_id));
}

struct local_replay {
	struct async_queue *q;
	void *by_id;                  /* tsearch tree of jobs */
	struct async_event key_event; /* a probe for lookups */
};

static struct async_job *
local_replay_find(struct local_replay *r, const struct async_event_id *id)
{
	struct async_job probe = { .ev = &r->key_event };
	void *found;

	r->key_event.id = *id;
	found = tfind(&probe, &r->by_id, local_id_cmp);
	return found != NULL ? *(struct async_job **)found : NULL;
}

static void
local_replay_forget(struct local_replay *r, struct async_job *job)
{
	tdelete(job, &r->by_id, local_id_cmp);
	local_job_free(r->q, job);
}

static int
local_replay_entry(void *arg, uint64_t segment, const uint8_t *payload, uint32_t len)
{
	struct local_replay *r = arg;
	struct async_queue *q = r->q;
	struct async_entry e;
	struct async_job *job;

	if (async_entry_decode(payload, len, &e) < 0) {
		q->st.torn++;
		return 0;
	}
	job = local_replay_find(r, &e.id);
	switch (e.type) {
	case ASYNC_ENTRY_ENQUEUE:
		local_remember_key(q, e.event, segment);
		if (job != NULL) {
			/* Written again by compaction (or redriven): the later copy stands. */
			e.event->attempts = job->ev->attempts;
			e.event->throttles = job->ev->throttles;
			local_replay_forget(r, job);
		}
		job = local_job_new(q, e.event, segment);
		if (job == NULL || tsearch(job, &r->by_id, local_id_cmp) == NULL)
			return -ENOMEM;
		break;
	case ASYNC_ENTRY_PROGRESS:
		if (job != NULL) {
			job->ev->attempts = e.attempts;
			job->ev->throttles = e.throttles;
		}
		break;
	case ASYNC_ENTRY_DONE:
		if (job != NULL)
			local_replay_forget(r, job);
		break;
	}
	return 0;
}

static void
local_noop_free(void *p)
{
	(void)p;
}

/* Every event durable and unfinished runs again, now (at least once). */
static int
local_replay(struct async_queue *q)
{
	struct local_replay r = { .q = q };
	struct async_log_stats ls;
	struct async_job *job;
	uint64_t now = local_clock(CLOCK_MONOTONIC);
	int rc;

	rc = async_log_replay(q->log, local_replay_entry, &r);
	tdestroy(r.by_id, local_noop_free);
	if (rc != 0)
		return rc < 0 ? rc : -EIO;
	for (job = q->jobs.next; job != &q->jobs; job = job->next) {
		async_log_hold(q->log, job->segment);
		if (local_heap_push(q, job, now) < 0)
			return -ENOMEM;
		q->st.replayed++;
	}
	async_log_stats(q->log, &ls);
	q->st.torn += ls.torn;
	return 0;
}

/* --- The ops. --- */

struct async_queue *
async_local_create(void)
{
	struct async_queue *q = calloc(1, sizeof(*q));

	if (q == NULL)
		return NULL;
	q->jobs.next = q->jobs.prev = &q->jobs;
	hist_reset(&q->accept_latency);
	return q;
}

static int
local_open(struct async_queue *q, const struct runtime *rt, const char *dir, char *err,
	   size_t errlen)
{
	int rc;

	q->rt = rt;
	snprintf(q->dir, sizeof(q->dir), "%s", dir);
	if (getrandom(&q->id_prefix, sizeof(q->id_prefix), 0) != sizeof(q->id_prefix)) {
		snprintf(err, errlen, "getrandom: %s", strerror(errno));
		return -errno;
	}
	q->dedupe = async_dedupe_create();
	if (q->dedupe == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	rc = async_store_init(dir, err, errlen);
	if (rc < 0)
		return rc;
	rc = async_log_open(dir, 0, &q->log, err, errlen);
	if (rc < 0)
		return rc;
	rc = local_replay(q);
	if (rc < 0)
		snprintf(err, errlen, "%s: replaying the queue: %s", dir, strerror(-rc));
	return rc;
}

static void
local_close(struct async_queue *q)
{
	if (q == NULL)
		return;
	async_log_close(q->log);
	while (q->jobs.next != &q->jobs)
		local_job_free(q, q->jobs.next);
	async_dedupe_free(q->dedupe);
	free(q->heap);
	free(q->answers);
	free(q->fresh);
	free(q->redriven);
	free(q);
}

static void
local_span_text(char *dst, size_t size, const uint8_t *payload, struct request_span s,
		const char *absent)
{
	if (s.len == 0)
		snprintf(dst, size, "%s", absent);
	else
		snprintf(dst, size, "%.*s", (int)s.len, (const char *)payload + s.off);
}

/* The event in a dispatcher's mbuf, copied out into a queue record (async_queue.h). */
struct async_event *
async_event_from_mbuf(struct rte_mbuf *m)
{
	const struct request_desc *desc = request_desc_of(m);
	const struct request *req = &desc->req;
	const uint8_t *payload = request_payload(m, desc);
	struct async_event *ev = async_event_alloc(req->event.len);

	if (ev == NULL)
		return NULL;
	ev->accepted_ns = local_clock(CLOCK_REALTIME);
	local_span_text(ev->tenant, sizeof(ev->tenant), payload, req->tenant, "default");
	local_span_text(ev->function, sizeof(ev->function), payload, req->fn, "");
	local_span_text(ev->qualifier, sizeof(ev->qualifier), payload, req->qualifier, "");
	ev->key_len = (uint8_t)req->idempotency_key.len;
	memcpy(ev->key, payload + req->idempotency_key.off, ev->key_len);
	ev->trace_len = req->trace.len;
	memcpy(ev->trace, payload + req->trace.off, ev->trace_len);
	memcpy(ev->event, payload + req->event.off, req->event.len);
	return ev;
}

/* A job waiting for the next sync to become runnable. */
static int
local_add_fresh(struct async_queue *q, struct async_job *job)
{
	if (local_reserve((void **)&q->fresh, q->nb_fresh, &q->fresh_cap, sizeof(q->fresh[0])) < 0)
		return -ENOMEM;
	q->fresh[q->nb_fresh++] = job;
	return 0;
}

/* Store a new event: its entry in the log, its key remembered, runnable after the sync. */
static int
local_store_event(struct async_queue *q, struct async_event *ev)
{
	struct async_job *job;
	uint64_t segment;
	int rc;

	rc = local_write_event(q, ev, &segment);
	if (rc < 0)
		return rc;
	local_remember_key(q, ev, segment);
	job = local_job_new(q, ev, segment);
	if (job == NULL)
		return -ENOMEM;
	/* Out of memory here, the entry is written all the same: the event runs after a restart. */
	local_add_fresh(q, job);
	return 0;
}

static enum request_queue_answer
local_accept(struct async_queue *q, struct rte_mbuf *m)
{
	struct request_desc *desc = request_desc_of(m);
	const struct async_event_id *seen;
	struct async_event *ev;

	if (q->broken)
		return REQUEST_QUEUE_FAILED;
	ev = async_event_from_mbuf(m);
	if (ev == NULL)
		return REQUEST_QUEUE_FAILED;
	if (ev->key_len > 0) {
		seen = async_dedupe_find(q->dedupe, ev->tenant, ev->function, ev->key, ev->key_len,
					 ev->accepted_ns);
		if (seen != NULL) {
			async_event_id_format(seen, desc->queue.event_id);
			free(ev);
			q->st.duplicates++;
			return REQUEST_QUEUE_DUPLICATE;
		}
	}
	if (q->st.depth >= q->rt->cfg.async_queue_max) {
		free(ev);
		q->st.refused_full++;
		return REQUEST_QUEUE_FULL;
	}
	local_new_id(q, &ev->id);
	async_event_id_format(&ev->id, desc->queue.event_id);
	if (local_store_event(q, ev) < 0) {
		free(ev);
		return REQUEST_QUEUE_FAILED;
	}
	q->st.accepted++;
	if (desc->function < CONFIG_MAX_FUNCTIONS)
		q->st.fn_accepted[desc->function]++;
	return REQUEST_QUEUE_ACCEPTED;
}

static void
local_enqueue(struct async_queue *q, struct rte_mbuf **pkts, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		request_desc_of(pkts[i])->queue.answer = (uint8_t)local_accept(q, pkts[i]);
		/* Refusals too wait for the sync: the answers leave in order, and a duplicate's
		 * first copy may be in this very batch. */
		if (local_reserve((void **)&q->answers, q->nb_answers, &q->answers_cap,
				  sizeof(q->answers[0])) == 0)
			q->answers[q->nb_answers++] = pkts[i];
		else
			rte_pktmbuf_free(pkts[i]);   /* out of memory: the client retries */
	}
}

static int
local_enqueue_event(struct async_queue *q, struct async_event *ev)
{
	static const struct async_event_id none;
	int rc;

	if (memcmp(&ev->id, &none, sizeof(none)) == 0)
		local_new_id(q, &ev->id);
	if (ev->accepted_ns == 0)
		ev->accepted_ns = local_clock(CLOCK_REALTIME);
	rc = local_store_event(q, ev);
	if (rc < 0)
		free(ev);
	else
		q->st.accepted++;
	return rc;
}

static uint64_t
local_quiet_ns(struct async_queue *q, uint64_t now_ns)
{
	uint64_t until = RTE_MIN(q->next_redrive_scan_ns, q->next_housekeeping_ns);

	if (q->nb_answers != 0 || q->nb_fresh != 0 || q->nb_redriven != 0 || q->store_dirty ||
	    async_log_pending(q->log) > 0)
		return 0;
	if (q->heap_len > 0)
		until = RTE_MIN(until, q->heap[0]->due_ns);
	return until > now_ns ? until - now_ns : 0;
}

static struct async_job *
local_poll(struct async_queue *q, uint64_t now_ns)
{
	struct async_job *job;

	if (q->heap_len == 0 || q->heap[0]->due_ns > now_ns)
		return NULL;
	job = local_heap_pop(q);
	if (job->waiting) {
		job->waiting = false;
		q->st.waiting--;
	}
	return job;
}

/* The job is finished: a DONE entry, and the segment it held is free of it. */
static void
local_finish(struct async_queue *q, struct async_job *job)
{
	size_t len = async_entry_done(&job->ev->id, q->entry, sizeof(q->entry));
	uint64_t segment;

	if (len == 0 || async_log_append(q->log, q->entry, (uint32_t)len, &segment) < 0)
		fprintf(stderr, "turbine: async: cannot log the end of an event; it may run again "
			"after a restart\n");
	async_log_release(q->log, job->segment);
	local_job_free(q, job);
}

/* A destination record to a folder; durable with the next sync, before the DONE entry is. */
static void
local_store_record(struct async_queue *q, enum async_store_kind kind, const struct async_job *job,
		   const struct async_outcome *record)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	int rc;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	rc = async_stored_pack(&pk, job->ev, record);
	if (rc == 0)
		rc = async_store_put(q->dir, kind, &job->ev->id, sb.data, sb.size, false);
	if (rc < 0)
		fprintf(stderr, "turbine: async: cannot write the %s record of an event: %s\n",
			async_store_folder(kind), strerror(-rc));
	else
		q->store_dirty = true;
	msgpack_sbuffer_destroy(&sb);
}

static void
local_ack(struct async_queue *q, struct async_job *job, const struct async_outcome *record)
{
	if (record != NULL)
		local_store_record(q, ASYNC_STORE_SUCCESS, job, record);
	local_finish(q, job);
}

static void
local_dead_letter(struct async_queue *q, struct async_job *job, const struct async_outcome *record)
{
	local_store_record(q, ASYNC_STORE_DLQ, job, record);
	local_finish(q, job);
}

static void
local_retry_later(struct async_queue *q, struct async_job *job, uint64_t delay_ms)
{
	size_t len = async_entry_progress(&job->ev->id, job->ev->attempts, job->ev->throttles,
					  q->entry, sizeof(q->entry));
	uint64_t segment;

	/* Lost, the counts only make a retry after a restart start over: no need to fail. */
	if (len != 0)
		async_log_append(q->log, q->entry, (uint32_t)len, &segment);
	if (local_heap_push(q, job, local_clock(CLOCK_MONOTONIC) + delay_ms * 1000000ull) < 0) {
		local_finish(q, job);   /* out of memory: it runs again after a restart */
		return;
	}
	job->waiting = true;
	q->st.waiting++;
}

/* Events an operator sent back (turbine-dlq redrive): enqueued, their files removed after the sync. */
static void
local_scan_redrive(struct async_queue *q)
{
	struct async_event_id *ids = NULL;
	struct async_entry e;
	uint8_t *data;
	size_t len;
	int i, n;

	n = async_store_list(q->dir, ASYNC_STORE_REDRIVE, &ids);
	for (i = 0; i < n; i++) {
		if (async_store_get(q->dir, ASYNC_STORE_REDRIVE, &ids[i], &data, &len) < 0)
			continue;
		if (async_entry_decode(data, len, &e) == 0 && e.type == ASYNC_ENTRY_ENQUEUE &&
		    local_reserve((void **)&q->redriven, q->nb_redriven, &q->redriven_cap,
				  sizeof(q->redriven[0])) == 0 &&
		    local_enqueue_event(q, e.event) == 0)
			q->redriven[q->nb_redriven++] = ids[i];
		else if (e.type == ASYNC_ENTRY_ENQUEUE)
			fprintf(stderr, "turbine: async: cannot take a redriven event\n");
		free(data);
	}
	free(ids);
}

/*
 * One old event keeps every later segment on disk (segments go oldest
 * first): when it holds back more than a few, write its events again into
 * the current segment, so the old one can go.
 */
static void
local_compact(struct async_queue *q)
{
	uint64_t holders, oldest = async_log_oldest_held(q->log, &holders), segment;
	struct async_job *job;

	if (holders == 0 || async_log_current(q->log) - oldest < LOCAL_COMPACT_SEGMENTS)
		return;
	for (job = q->jobs.next; job != &q->jobs; job = job->next) {
		if (job->segment != oldest || local_write_event(q, job->ev, &segment) < 0)
			continue;
		async_log_release(q->log, job->segment);
		job->segment = segment;
	}
}

static void
local_housekeeping(struct async_queue *q, uint64_t now_ns)
{
	uint64_t now_real = local_clock(CLOCK_REALTIME);

	if (now_ns >= q->next_redrive_scan_ns) {
		q->next_redrive_scan_ns = now_ns + LOCAL_REDRIVE_SCAN_NS;
		local_scan_redrive(q);
	}
	if (now_ns < q->next_housekeeping_ns)
		return;
	q->next_housekeeping_ns = now_ns + LOCAL_HOUSEKEEPING_NS;
	async_dedupe_expire(q->dedupe, now_real);
	local_compact(q);
	q->st.reclaimed += async_log_reclaim(q->log, now_real);
}

/* Hand each answered Event back to the dispatcher that received it. */
static unsigned int
local_answer(struct async_queue *q)
{
	return async_hand_back(q->rt, q->answers, &q->nb_answers, &q->accept_latency);
}

static unsigned int
local_sync(struct async_queue *q, uint64_t now_ns)
{
	uint64_t started;
	unsigned int i;
	int rc = 0;

	local_housekeeping(q, now_ns);
	/*
	 * Only what someone waits for needs a sync now: an answer, a new event
	 * to run, a record or a redrive file. Entries that only say how an
	 * event went (finished, tried again) ride with the next one, or wait at
	 * most LOCAL_LAZY_SYNC_NS: lost in a crash, they make an event run once
	 * more, which at least once allows. On a machine whose every sync costs
	 * CPU time (a virtual disk's notifications), this halves the syncs.
	 */
	if (q->nb_answers == 0 && q->nb_fresh == 0 && q->nb_redriven == 0 && !q->store_dirty &&
	    (async_log_pending(q->log) == 0 || now_ns - q->last_sync_at_ns < LOCAL_LAZY_SYNC_NS))
		return 0;
	if (q->store_dirty) {
		rc = async_store_sync(q->dir);
		q->store_dirty = false;
	}
	if (rc == 0 && async_log_pending(q->log) > 0) {
		started = local_clock(CLOCK_MONOTONIC);
		rc = async_log_sync(q->log);
		q->st.last_sync_ns = local_clock(CLOCK_MONOTONIC) - started;
		q->last_sync_at_ns = now_ns;
	}
	if (rc < 0 && !q->broken) {
		/* What was written may or may not be on disk: refuse from now on rather than
		 * promise what the disk may not keep. */
		fprintf(stderr, "turbine: async: the queue's disk failed (%s): Events are refused "
			"with 500 from now on\n", strerror(-rc));
		q->broken = true;
	}
	for (i = 0; rc < 0 && i < q->nb_answers; i++)
		request_desc_of(q->answers[i])->queue.answer = REQUEST_QUEUE_FAILED;
	for (i = 0; i < q->nb_fresh; i++)
		if (local_heap_push(q, q->fresh[i], now_ns) < 0)
			local_finish(q, q->fresh[i]);
	q->nb_fresh = 0;
	for (i = 0; rc == 0 && i < q->nb_redriven; i++)
		async_store_remove(q->dir, ASYNC_STORE_REDRIVE, &q->redriven[i]);
	q->nb_redriven = 0;
	return local_answer(q);
}

static void
local_stats(struct async_queue *q, struct async_queue_stats *st)
{
	struct async_log_stats ls;
	struct hist_summary hs;
	struct async_job *job;
	uint64_t oldest = 0;
	unsigned int n;

	async_log_stats(q->log, &ls);
	hist_summarize(&q->accept_latency, &hs);
	/* The list is in arrival order, but for redriven events and those replayed after
	 * compaction, which carry older times: the first few tell the oldest closely enough. */
	for (job = q->jobs.next, n = 0; job != &q->jobs && n < LOCAL_OLDEST_LOOK; job = job->next, n++)
		if (oldest == 0 || job->ev->accepted_ns < oldest)
			oldest = job->ev->accepted_ns;
	q->st.oldest_accepted_ns = oldest;
	q->st.segments = ls.segments;
	q->st.log_bytes = ls.bytes;
	q->st.syncs = ls.syncs;
	q->st.accept_p50_ns = hs.count ? hs.p50 : 0;
	q->st.accept_p99_ns = hs.count ? hs.p99 : 0;
	q->st.fn_depth_known = true;
	*st = q->st;
}

const struct async_queue_ops async_local_ops = {
	.name = "local",
	.open = local_open,
	.close = local_close,
	.enqueue = local_enqueue,
	.enqueue_event = local_enqueue_event,
	.poll = local_poll,
	.ack = local_ack,
	.retry_later = local_retry_later,
	.dead_letter = local_dead_letter,
	.sync = local_sync,
	.stats = local_stats,
	.quiet_ns = local_quiet_ns,
};
