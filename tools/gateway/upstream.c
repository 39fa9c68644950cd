/* The UDP side of the gateway: calls wait in a table keyed by id; one thread reads every answer. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "upstream.h"

#define UPSTREAM_RECV_SIZE 65536
/* The receiver looks at deadlines at least this often, even when no answer arrives. */
#define UPSTREAM_TICK_MS 50
#define UPSTREAM_RCVBUF (4 << 20)

const char *const upstream_counter_names[UPSTREAM_NB_COUNTERS] = {
#define UPSTREAM_COUNTER_NAME(name, text) #name,
	UPSTREAM_COUNTERS(UPSTREAM_COUNTER_NAME)
#undef UPSTREAM_COUNTER_NAME
};

uint64_t
upstream_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
upstream_count(struct upstream *u, enum upstream_counter i)
{
	__atomic_fetch_add(&u->counters[i], 1, __ATOMIC_RELAXED);
}

uint64_t
upstream_counter(const struct upstream *u, enum upstream_counter i)
{
	return __atomic_load_n(&u->counters[i], __ATOMIC_RELAXED);
}

int
upstream_init(struct upstream *u, const struct sockaddr_in *to, unsigned int max_inflight)
{
	int pmtu = IP_PMTUDISC_DO, rcvbuf = UPSTREAM_RCVBUF, ret;
	uint64_t nb = 1;

	memset(u, 0, sizeof(*u));
	u->fd = -1;
	while (nb < max_inflight)
		nb <<= 1;
	u->buckets = calloc(nb, sizeof(*u->buckets));
	if (u->buckets == NULL)
		return -ENOMEM;
	u->mask = nb - 1;
	u->max_inflight = max_inflight;
	u->next_scan_ms = UINT64_MAX;
	if (getrandom(&u->next_id, sizeof(u->next_id), 0) != sizeof(u->next_id)) {
		ret = -errno;
		goto fail;
	}
	u->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (u->fd < 0) {
		ret = -errno;
		goto fail;
	}
	/* Turbine drops IP fragments: a datagram that does not fit must fail here, not vanish. */
	setsockopt(u->fd, IPPROTO_IP, IP_MTU_DISCOVER, &pmtu, sizeof(pmtu));
	setsockopt(u->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (connect(u->fd, (const struct sockaddr *)to, sizeof(*to)) < 0) {
		ret = -errno;
		goto fail;
	}
	ret = pthread_mutex_init(&u->lock, NULL);
	if (ret != 0) {
		ret = -ret;
		goto fail;
	}
	return 0;
fail:
	if (u->fd >= 0)
		close(u->fd);
	free(u->buckets);
	u->buckets = NULL;
	return ret;
}

uint64_t
upstream_next_id(struct upstream *u)
{
	return __atomic_fetch_add(&u->next_id, 1, __ATOMIC_RELAXED);
}

/* Unlink the call with this id; NULL when none waits. Under the lock. */
static struct upstream_call *
upstream_take(struct upstream *u, uint64_t id)
{
	struct upstream_call **pp = &u->buckets[id & u->mask], *c;

	for (; (c = *pp) != NULL; pp = &c->next) {
		if (c->id == id) {
			*pp = c->next;
			u->inflight--;
			return c;
		}
	}
	return NULL;
}

static int
upstream_send(struct upstream *u, const struct upstream_call *c)
{
	if (send(u->fd, c->dgram.data, c->dgram.len, 0) < 0) {
		upstream_count(u, UPSTREAM_send_errors);
		return -errno;
	}
	return 0;
}

int
upstream_call(struct upstream *u, struct upstream_call *c, uint64_t wait_ms, unsigned int rto_ms)
{
	uint64_t now = upstream_now_ms();
	int ret;

	c->reply = NULL;
	c->reply_len = 0;
	c->rto_ms = rto_ms;
	c->retransmits_left = rto_ms > 0 ? UPSTREAM_MAX_RETRANSMITS : 0;
	c->next_send_ms = rto_ms > 0 ? now + rto_ms : UINT64_MAX;
	c->deadline_ms = now + wait_ms;
	pthread_mutex_lock(&u->lock);
	if (u->inflight >= u->max_inflight) {
		pthread_mutex_unlock(&u->lock);
		upstream_count(u, UPSTREAM_full);
		return -EBUSY;
	}
	/* Sent under the lock: the answer cannot be matched before the call is in the table. */
	ret = upstream_send(u, c);
	if (ret == 0) {
		c->next = u->buckets[c->id & u->mask];
		u->buckets[c->id & u->mask] = c;
		u->inflight++;
		if (c->next_send_ms < u->next_scan_ms)
			u->next_scan_ms = c->next_send_ms;
		if (c->deadline_ms < u->next_scan_ms)
			u->next_scan_ms = c->deadline_ms;
	}
	pthread_mutex_unlock(&u->lock);
	if (ret == 0)
		upstream_count(u, UPSTREAM_calls);
	return ret;
}

/* Run done() outside the lock: it resumes an HTTP connection, which takes the server's locks. */
static void
upstream_finish(struct upstream_call *list)
{
	struct upstream_call *next;

	for (; list != NULL; list = next) {
		next = list->next;
		list->done(list);
	}
}

static void
upstream_answer(struct upstream *u, const uint8_t *buf, size_t len, struct upstream_call **done)
{
	struct upstream_call *c;
	uint64_t id;

	if (wire_response_id(buf, len, &id) < 0) {
		upstream_count(u, UPSTREAM_garbage);
		return;
	}
	pthread_mutex_lock(&u->lock);
	c = upstream_take(u, id);
	pthread_mutex_unlock(&u->lock);
	if (c == NULL) {
		upstream_count(u, UPSTREAM_duplicates);
		return;
	}
	upstream_count(u, UPSTREAM_answers);
	c->reply = malloc(len);
	if (c->reply != NULL) {
		memcpy(c->reply, buf, len);
		c->reply_len = len;
	}
	c->outcome = UPSTREAM_ANSWERED;
	c->next = *done;
	*done = c;
}

/* Retransmit what is due, give up on what is past its deadline. Under the lock. */
static void
upstream_scan(struct upstream *u, uint64_t now, struct upstream_call **done)
{
	struct upstream_call **pp, *c;
	uint64_t next = UINT64_MAX, i;

	for (i = 0; i <= u->mask; i++) {
		for (pp = &u->buckets[i]; (c = *pp) != NULL;) {
			if (now >= c->deadline_ms) {
				*pp = c->next;
				u->inflight--;
				upstream_count(u, UPSTREAM_timeouts);
				c->outcome = UPSTREAM_TIMED_OUT;
				c->next = *done;
				*done = c;
				continue;
			}
			if (c->retransmits_left > 0 && now >= c->next_send_ms) {
				c->retransmits_left--;
				c->rto_ms *= 2;
				c->next_send_ms = now + c->rto_ms;
				if (upstream_send(u, c) == 0)
					upstream_count(u, UPSTREAM_retransmits);
			}
			if (c->retransmits_left > 0 && c->next_send_ms < next)
				next = c->next_send_ms;
			if (c->deadline_ms < next)
				next = c->deadline_ms;
			pp = &c->next;
		}
	}
	u->next_scan_ms = next;
}

static void *
upstream_receiver(void *arg)
{
	static uint8_t buf[UPSTREAM_RECV_SIZE];
	struct upstream *u = arg;
	struct upstream_call *done;
	struct pollfd pfd = { .fd = u->fd, .events = POLLIN };
	uint64_t now, scan;
	int i, timeout;
	ssize_t n;

	while (!u->quit) {
		now = upstream_now_ms();
		pthread_mutex_lock(&u->lock);
		scan = u->next_scan_ms;
		pthread_mutex_unlock(&u->lock);
		timeout = scan <= now ? 0 : scan - now < UPSTREAM_TICK_MS ? (int)(scan - now) : UPSTREAM_TICK_MS;
		done = NULL;
		if (poll(&pfd, 1, timeout) > 0) {
			/* A burst at a time, then the deadlines get their look. */
			for (i = 0; i < 64; i++) {
				n = recv(u->fd, buf, sizeof(buf), MSG_DONTWAIT);
				if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
					break;
				/* ECONNREFUSED: an ICMP port unreachable; the retransmits will try again. */
				if (n < 0)
					continue;
				upstream_answer(u, buf, (size_t)n, &done);
			}
		}
		now = upstream_now_ms();
		pthread_mutex_lock(&u->lock);
		if (now >= u->next_scan_ms)
			upstream_scan(u, now, &done);
		pthread_mutex_unlock(&u->lock);
		upstream_finish(done);
	}
	return NULL;
}

int
upstream_start(struct upstream *u)
{
	int ret = pthread_create(&u->receiver, NULL, upstream_receiver, u);

	if (ret != 0)
		return -ret;
	u->started = true;
	return 0;
}

void
upstream_stop(struct upstream *u)
{
	struct upstream_call *done = NULL, *c;
	uint64_t i;

	u->quit = true;
	if (u->started)
		pthread_join(u->receiver, NULL);
	u->started = false;
	if (u->buckets == NULL)
		return;
	pthread_mutex_lock(&u->lock);
	for (i = 0; i <= u->mask; i++) {
		while ((c = u->buckets[i]) != NULL) {
			u->buckets[i] = c->next;
			c->outcome = UPSTREAM_STOPPED;
			c->next = done;
			done = c;
		}
	}
	u->inflight = 0;
	pthread_mutex_unlock(&u->lock);
	upstream_finish(done);
	close(u->fd);
	free(u->buckets);
	u->buckets = NULL;
	pthread_mutex_destroy(&u->lock);
}
