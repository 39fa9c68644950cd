/* Leases: tenant limits shared by several Turbine nodes through a NATS key-value bucket. */
#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_lcore.h>

#include "dispatch.h"
#include "leases.h"
#include "names.h"
#include "nats_conn.h"

/* How often the thread looks for refusals; renewals themselves follow lease_renew_ms. */
#define LEASES_TICK_MS 50
/* Compare-and-set attempts of one renewal before it waits for the next tick. */
#define LEASES_CAS_TRIES 8
#define LEASES_KEY_PREFIX "tenant."
/*
 * A lease not renewed in time is lost (and the node then admits nothing for
 * that tenant), so the thread that renews must not wait behind busy ones:
 * it runs at this nice value, briefly, twenty times a second.
 */
#define LEASES_NICE -10

/* One tenant's lease, as this node knows it. Guarded by leases.lock. */
struct leases_tenant {
	bool managed;                     /* the tenant has a limit, leased */
	uint64_t limit[LEASE_DIMS];
	uint64_t burst;                   /* the tenant's bucket depth, over every node */
	uint64_t share[LEASE_DIMS];       /* published to the dispatchers */
	uint64_t held[LEASE_DIMS];        /* this node's row as last written */
	uint64_t want[LEASE_DIMS];
	uint64_t expires_ms;              /* of that row; 0: no row */
	uint64_t others[LEASE_DIMS];
	unsigned int nodes;
	uint64_t refused_seen[LEASE_DIMS];
	uint64_t admitted_seen;
	uint64_t last_ms;                 /* the last renewal started; 0: renew now */
	uint64_t generation;              /* bumped by every change of the limits */
	uint64_t renewals, conflicts, failures, expired;
};

static struct {
	bool enabled;
	struct runtime *rt;
	pthread_mutex_t lock;
	natsConnection *nc;
	jsCtx *js;
	kvStore *kv;
	bool reported_down;               /* the operator was told NATS is out of reach */
	pthread_t thread;
	bool running;
	int quit;
	uint32_t ttl_ms, renew_ms, replicas;
	char bucket[CONFIG_NAME_MAX + 1];
	char node[LEASE_NODE_MAX + 1];
	/* The connection is made on the leases thread (below); start-up waits for the outcome. */
	const char *url;
	sem_t opened;
	int open_rc;
	char open_err[256];
	struct leases_tenant t[COUNTING_MAX_TENANTS];
} leases = { .lock = PTHREAD_MUTEX_INITIALIZER };

static uint64_t
leases_now_ms(void)
{
	struct timespec ts;

	/* Rows are compared across nodes: wall-clock time (nodes' clocks agree through NTP). */
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Publish a share to every dispatcher, as the tenant's limits split over them. */
static void
leases_publish(unsigned int tenant, const uint64_t share[LEASE_DIMS])
{
	struct runtime *rt = leases.rt;
	struct leases_tenant *lt = &leases.t[tenant];
	uint64_t rate = share[LEASE_RATE], burst = 0;
	unsigned int d;

	/* The bucket's depth in the proportion of the rate held, at least one call. */
	if (rate != 0 && lt->limit[LEASE_RATE] != 0) {
		burst = lt->burst * rate / lt->limit[LEASE_RATE];
		if (burst == 0)
			burst = 1;
	}
	for (d = 0; d < rt->nb_dispatchers; d++)
		counting_set_tenant_share(rt->dispatchers[d]->counting.d, tenant,
					  lt->limit[LEASE_CONCURRENCY] != 0,
					  (uint32_t)share[LEASE_CONCURRENCY],
					  lt->limit[LEASE_RATE] != 0, rate, burst, d,
					  rt->nb_dispatchers);
	memcpy(lt->share, share, sizeof(lt->share));
}

bool
leases_manage(unsigned int tenant, const struct tenant_config *cfg)
{
	struct leases_tenant *lt = &leases.t[tenant];
	uint64_t share[LEASE_DIMS];
	unsigned int d;
	bool managed;

	if (!leases.enabled)
		return false;
	pthread_mutex_lock(&leases.lock);
	lt->limit[LEASE_CONCURRENCY] = cfg->concurrency;
	lt->limit[LEASE_RATE] = cfg->rate;
	lt->burst = cfg->burst ? cfg->burst : cfg->rate;
	lt->managed = cfg->concurrency != 0 || cfg->rate != 0;
	lt->generation++;
	lt->last_ms = 0;        /* renewed at the next tick, against the new limits */
	managed = lt->managed;
	if (managed) {
		/* A lowered limit applies at once; a raised one once the bucket says so. */
		for (d = 0; d < LEASE_DIMS; d++)
			share[d] = lt->share[d] < lt->limit[d] ? lt->share[d] : lt->limit[d];
		leases_publish(tenant, share);
	} else {
		memset(lt->share, 0, sizeof(lt->share));
	}
	pthread_mutex_unlock(&leases.lock);
	return managed;
}

/* Before a row that holds less is written: admission must already be within it. */
static void
leases_shrink(unsigned int tenant, uint64_t generation, const uint64_t share[LEASE_DIMS])
{
	struct leases_tenant *lt = &leases.t[tenant];
	uint64_t next[LEASE_DIMS];
	bool less = false;
	unsigned int d;

	pthread_mutex_lock(&leases.lock);
	for (d = 0; d < LEASE_DIMS; d++) {
		next[d] = share[d] < lt->share[d] ? share[d] : lt->share[d];
		less |= next[d] != lt->share[d];
	}
	if (lt->managed && lt->generation == generation && less)
		leases_publish(tenant, next);
	pthread_mutex_unlock(&leases.lock);
}

/* What one renewal read and wrote. */
struct leases_result {
	uint64_t share[LEASE_DIMS], held[LEASE_DIMS], want[LEASE_DIMS], others[LEASE_DIMS];
	uint64_t expires_ms;            /* 0: no row */
	unsigned int nodes;
	unsigned int conflicts;
};

/* Read the tenant's table: 0 (missing: empty, *rev 0), or -1. */
static int
leases_get(const char *key, struct lease_table *table, uint64_t *rev)
{
	kvEntry *e = NULL;
	natsStatus s = kvStore_Get(&e, leases.kv, key);
	char err[128];
	int rc = 0;

	table->nb = 0;
	*rev = 0;
	if (s == NATS_NOT_FOUND)
		return 0;
	if (s != NATS_OK)
		return -1;
	*rev = kvEntry_Revision(e);
	if (lease_table_parse(table, kvEntry_Value(e), (size_t)kvEntry_ValueLen(e), err,
			      sizeof(err)) != 0) {
		/* Not a table this code wrote: leave it alone rather than guess what it holds. */
		fprintf(stderr, "turbine: leases: %s in bucket %s: %s\n", key, leases.bucket, err);
		rc = -1;
	}
	kvEntry_Destroy(e);
	return rc;
}

/*
 * One renewal of this node's row of a tenant's table, by compare-and-set on
 * the key's revision: read, expire, decide, write; again from the read when
 * another node wrote in between. 0, or -1 (NATS unreachable, or too many
 * conflicts): the row stays as it was.
 */
static int
leases_renew(unsigned int tenant, uint64_t generation, const uint64_t limit[LEASE_DIMS],
	     const struct lease_use use[LEASE_DIMS], uint64_t now_ms, struct leases_result *res)
{
	char key[sizeof(LEASES_KEY_PREFIX) + CONFIG_NAME_MAX];
	static char text[LEASE_TABLE_TEXT_MAX];  /* the thread's own */
	struct lease_table table;
	unsigned int try, d;

	memset(res, 0, sizeof(*res));
	snprintf(key, sizeof(key), LEASES_KEY_PREFIX "%s", leases.rt->tenant_names[tenant]);
	for (try = 0; try < LEASES_CAS_TRIES; try++) {
		uint64_t rev, next_rev;
		unsigned int removed;
		bool had_row;
		natsStatus s;
		int len;

		if (leases_get(key, &table, &rev) != 0)
			return -1;
		had_row = lease_table_find(&table, leases.node) != NULL;
		removed = lease_table_expire(&table, now_ms);
		for (d = 0; d < LEASE_DIMS; d++) {
			struct lease_others o = lease_table_others(&table, leases.node, d);

			res->others[d] = o.held;
			res->share[d] = lease_decide(limit[d], &o, &use[d], &res->held[d],
						     &res->want[d]);
		}
		if (lease_table_set(&table, leases.node, res->held, res->want,
				    now_ms + leases.ttl_ms) != 0)
			return -1;
		res->nodes = table.nb;
		res->expires_ms = lease_table_find(&table, leases.node) ? now_ms + leases.ttl_ms : 0;
		/* Nothing held, nothing to hold, nobody's row to clear: no write. */
		if (!had_row && res->expires_ms == 0 && removed == 0)
			return 0;
		leases_shrink(tenant, generation, res->share);
		len = lease_table_format(&table, text, sizeof(text));
		if (len < 0)
			return -1;
		s = rev ? kvStore_Update(&next_rev, leases.kv, key, text, len, rev)
			: kvStore_Create(&next_rev, leases.kv, key, text, len);
		if (s == NATS_OK)
			return 0;
		if (!nats_conn_up(leases.nc))
			return -1;
		res->conflicts++;       /* another node wrote since the read: read again */
	}
	return -1;
}

/* Open (or create) the bucket once NATS is reachable. 0 when open. */
static int
leases_open_bucket(void)
{
	jsOptions jo;
	kvConfig kc;
	natsStatus s;

	if (leases.kv != NULL)
		return 0;
	if (!nats_conn_up(leases.nc))
		return -1;
	if (leases.js == NULL) {
		jsOptions_Init(&jo);
		/* A request NATS does not answer gives up well before a lease could expire. */
		jo.Wait = leases.renew_ms < 1000 ? leases.renew_ms : 1000;
		if (natsConnection_JetStream(&leases.js, leases.nc, &jo) != NATS_OK)
			return -1;
	}
	kvConfig_Init(&kc);
	kc.Bucket = leases.bucket;
	kc.History = 1;
	kc.Replicas = (int)leases.replicas;
	/* A key nobody renews for a lease time is dropped whole (the stream's max age, in ns). */
	kc.TTL = (int64_t)leases.ttl_ms * 1000000;
	s = js_CreateKeyValue(&leases.kv, leases.js, &kc);
	if (s != NATS_OK)       /* there already, made by another node with other settings */
		s = js_KeyValue(&leases.kv, leases.js, leases.bucket);
	if (s != NATS_OK) {
		fprintf(stderr, "turbine: leases: cannot open bucket %s: %s\n", leases.bucket,
			natsStatus_GetText(s));
		leases.kv = NULL;
		return -1;
	}
	return 0;
}

/* Sums over the dispatchers: refusals by each limit, calls in flight, admissions. */
static void
leases_observe(unsigned int tenant, uint64_t refused[LEASE_DIMS], uint64_t *in_flight,
	       uint64_t *admitted)
{
	struct runtime *rt = leases.rt;
	unsigned int d;

	refused[LEASE_CONCURRENCY] = refused[LEASE_RATE] = 0;
	*in_flight = *admitted = 0;
	for (d = 0; d < rt->nb_dispatchers; d++) {
		const struct counting_view *v = &rt->dispatchers[d]->counting;

		refused[LEASE_CONCURRENCY] += counting_tenant_refused(v->d, tenant, false);
		refused[LEASE_RATE] += counting_tenant_refused(v->d, tenant, true);
		*in_flight += counting_tenant_in_flight(v, tenant);
		*admitted += __atomic_load_n(&v->d->tenant_admitted[tenant], __ATOMIC_RELAXED);
	}
}

/* One tenant, one tick: drop a row that expired unrenewed; renew when due. */
static void
leases_step(unsigned int tenant)
{
	static const uint64_t none[LEASE_DIMS] = { 0, 0 };
	struct leases_tenant *lt = &leases.t[tenant];
	uint64_t refused[LEASE_DIMS], in_flight, admitted, limit[LEASE_DIMS], generation;
	uint64_t now = leases_now_ms(), rate_used = 0;
	struct lease_use use[LEASE_DIMS];
	struct leases_result res;
	bool refusals, due;
	unsigned int d;
	int rc;

	pthread_mutex_lock(&leases.lock);
	if (!lt->managed && lt->expires_ms == 0) {
		pthread_mutex_unlock(&leases.lock);
		return;
	}
	if (lt->expires_ms != 0 && now + leases.renew_ms >= lt->expires_ms) {
		/*
		 * Renewals failed until a renewal period before the row expires (a
		 * working renewal keeps it a whole lease time ahead): the other nodes
		 * may take it soon, so admit nothing until a renewal succeeds.
		 */
		if (lt->managed)
			leases_publish(tenant, none);
		memset(lt->held, 0, sizeof(lt->held));
		lt->expires_ms = 0;
		lt->expired++;
	}
	leases_observe(tenant, refused, &in_flight, &admitted);
	refusals = refused[LEASE_CONCURRENCY] != lt->refused_seen[LEASE_CONCURRENCY] ||
		   refused[LEASE_RATE] != lt->refused_seen[LEASE_RATE];
	due = now >= lt->last_ms + leases.renew_ms ||
	      (refusals && now >= lt->last_ms + leases.renew_ms / 4);
	if (!due || leases.kv == NULL) {
		pthread_mutex_unlock(&leases.lock);
		return;
	}
	if (lt->last_ms != 0 && now > lt->last_ms)
		rate_used = (admitted - lt->admitted_seen) * 1000 / (now - lt->last_ms);
	for (d = 0; d < LEASE_DIMS; d++) {
		uint64_t used = d == LEASE_CONCURRENCY ? in_flight : rate_used;

		use[d] = (struct lease_use){
			.share = lt->share[d],
			.used = used,
			.floor = d == LEASE_CONCURRENCY ? in_flight : 0,
			.pressed = refused[d] != lt->refused_seen[d] ||
				   (lt->share[d] != 0 && used >= lt->share[d]),
		};
		/* A tenant no longer limited gives its row back. */
		limit[d] = lt->managed ? lt->limit[d] : 0;
	}
	memcpy(lt->refused_seen, refused, sizeof(lt->refused_seen));
	lt->admitted_seen = admitted;
	lt->last_ms = now;
	generation = lt->generation;
	pthread_mutex_unlock(&leases.lock);

	rc = leases_renew(tenant, generation, limit, use, now, &res);

	pthread_mutex_lock(&leases.lock);
	lt->conflicts += res.conflicts;
	if (rc != 0) {
		lt->failures++;
	} else if (lt->generation == generation) {
		if (lt->managed)
			leases_publish(tenant, res.share);
		memcpy(lt->held, res.held, sizeof(lt->held));
		memcpy(lt->want, res.want, sizeof(lt->want));
		memcpy(lt->others, res.others, sizeof(lt->others));
		lt->nodes = res.nodes;
		lt->expires_ms = res.expires_ms;
		lt->renewals++;
	}
	pthread_mutex_unlock(&leases.lock);
}

static void
leases_report_link(void)
{
	bool up = nats_conn_up(leases.nc);

	if (up == !leases.reported_down)
		return;
	leases.reported_down = !up;
	fprintf(stderr, up ? "turbine: leases: NATS reachable again\n"
			   : "turbine: leases: NATS out of reach: each share is kept until its lease "
			     "expires, then nothing is admitted for that tenant until NATS is back\n");
}

static void *
leases_main(void *arg)
{
	const struct timespec tick = { 0, LEASES_TICK_MS * 1000000L };
	unsigned int t;

	(void)arg;
	if (setpriority(PRIO_PROCESS, (id_t)gettid(), LEASES_NICE) != 0)
		fprintf(stderr, "turbine: leases: cannot raise the leases thread's priority (%s): "
			"on a busy machine a renewal may come late\n", strerror(errno));
	/*
	 * libnats starts its own threads (reading, flushing, timers) from the
	 * thread that connects, and they inherit its CPU set and priority:
	 * nats_conn_open() connects from a control thread started here, so they
	 * stay off the polled cores and keep this thread's priority.
	 */
	leases.open_rc = nats_conn_open(leases.url, leases.node, false, &leases.nc, leases.open_err,
					sizeof(leases.open_err));
	sem_post(&leases.opened);
	if (leases.open_rc != 0)
		return NULL;
	while (!__atomic_load_n(&leases.quit, __ATOMIC_RELAXED)) {
		nanosleep(&tick, NULL);
		leases_report_link();
		leases_open_bucket();
		for (t = 0; t < COUNTING_MAX_TENANTS; t++)
			leases_step(t);
	}
	return NULL;
}

/* HOSTNAME-FILEPREFIX: distinct for every Turbine on a host, the same across its restarts. */
static void
leases_default_node(char *node, size_t len)
{
	char host[256] = "host", dir[PATH_MAX], *c;

	gethostname(host, sizeof(host) - 1);
	snprintf(dir, sizeof(dir), "%s", rte_eal_get_runtime_dir());
	snprintf(node, len, "%.*s-%s", 24, host, basename(dir));
	for (c = node; *c != '\0'; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || *c == '-' || *c == '_' || *c == '.'))
			*c = '_';
}

int
leases_init(struct runtime *rt, char *err, size_t errlen)
{
	const struct turbine_config *cfg = &rt->cfg;
	unsigned int i;
	int rc;

	if (strcmp(cfg->limits_backend, "nats") != 0)
		return 0;
	if ((uint64_t)cfg->lease_renew_ms * 3 >= cfg->lease_ttl_ms) {
		snprintf(err, errlen, "lease_renew_ms (%u) must be below a third of lease_ttl_ms (%u): "
			 "a lease must survive a missed renewal or two", cfg->lease_renew_ms,
			 cfg->lease_ttl_ms);
		return -EINVAL;
	}
	leases.rt = rt;
	leases.ttl_ms = cfg->lease_ttl_ms;
	leases.renew_ms = cfg->lease_renew_ms;
	leases.replicas = cfg->lease_replicas;
	snprintf(leases.bucket, sizeof(leases.bucket), "%s", cfg->lease_bucket);
	if (cfg->node_id[0] != '\0')
		snprintf(leases.node, sizeof(leases.node), "%s", cfg->node_id);
	else
		leases_default_node(leases.node, sizeof(leases.node));
	leases.url = cfg->nats_url;
	if (sem_init(&leases.opened, 0, 0) != 0) {
		snprintf(err, errlen, "cannot start the leases thread: %s", strerror(errno));
		return -errno;
	}
	leases.enabled = true;
	/* quotas_init() published the full limits; from here each tenant starts at a share of 0. */
	for (i = 0; i < cfg->nb_tenants; i++) {
		int t = names_find(rt->tenant_index, cfg->tenants[i].name,
				   (uint32_t)strlen(cfg->tenants[i].name));

		if (t >= 0)
			leases_manage((unsigned int)t, &cfg->tenants[i]);
	}
	rc = rte_ctrl_thread_create(&leases.thread, "turbine-leases", NULL, leases_main, NULL);
	if (rc != 0) {
		snprintf(err, errlen, "cannot start the leases thread: %s", strerror(rc));
		return -rc;
	}
	leases.running = true;
	sem_wait(&leases.opened);
	if (leases.open_rc != 0) {
		snprintf(err, errlen, "%s", leases.open_err);
		return -EINVAL;   /* the thread has ended; leases_stop() joins it */
	}
	return 0;
}

void
leases_stop(void)
{
	static const struct lease_use idle[LEASE_DIMS];
	static const uint64_t none[LEASE_DIMS] = { 0, 0 };
	struct leases_result res;
	unsigned int t;

	if (!leases.enabled)
		return;
	if (leases.running) {
		__atomic_store_n(&leases.quit, 1, __ATOMIC_RELAXED);
		pthread_join(leases.thread, NULL);
		leases.running = false;
	}
	/* Give back every row now, rather than let the others wait a lease time for it. */
	for (t = 0; t < COUNTING_MAX_TENANTS && leases.kv != NULL; t++) {
		if (leases.t[t].expires_ms == 0)
			continue;
		pthread_mutex_lock(&leases.lock);
		leases.t[t].managed = false;
		leases.t[t].generation++;
		leases_publish(t, none);
		pthread_mutex_unlock(&leases.lock);
		if (leases_renew(t, leases.t[t].generation, none, idle, leases_now_ms(), &res) != 0)
			fprintf(stderr, "turbine: leases: could not give back tenant %s's lease: "
				"it expires in %u ms\n", leases.rt->tenant_names[t], leases.ttl_ms);
	}
	kvStore_Destroy(leases.kv);
	jsCtx_Destroy(leases.js);
	nats_conn_close(leases.nc);
	sem_destroy(&leases.opened);
	leases.kv = NULL;
	leases.js = NULL;
	leases.nc = NULL;
	leases.enabled = false;
}

bool
leases_enabled(void)
{
	return leases.enabled;
}

const char *
leases_node(void)
{
	return leases.node;
}

bool
leases_connected(void)
{
	return nats_conn_up(leases.nc);
}

unsigned int
leases_read(struct leases_status *out, unsigned int max)
{
	uint64_t now = leases_now_ms();
	unsigned int t, n = 0;

	pthread_mutex_lock(&leases.lock);
	for (t = 0; t < COUNTING_MAX_TENANTS && n < max; t++) {
		const struct leases_tenant *lt = &leases.t[t];
		struct leases_status *s = &out[n];

		if (!lt->managed && lt->expires_ms == 0)
			continue;
		s->tenant = t;
		memcpy(s->limit, lt->limit, sizeof(s->limit));
		memcpy(s->share, lt->share, sizeof(s->share));
		memcpy(s->held, lt->held, sizeof(s->held));
		memcpy(s->want, lt->want, sizeof(s->want));
		memcpy(s->others, lt->others, sizeof(s->others));
		s->nodes = lt->nodes;
		s->expires_in_ms = lt->expires_ms == 0 ? -1
			: lt->expires_ms > now ? (int64_t)(lt->expires_ms - now) : 0;
		s->renewals = lt->renewals;
		s->conflicts = lt->conflicts;
		s->failures = lt->failures;
		s->expired = lt->expired;
		n++;
	}
	pthread_mutex_unlock(&leases.lock);
	return n;
}
