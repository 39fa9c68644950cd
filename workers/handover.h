/* Handing a worker's inbound rings to another thread: a handshake once per burst, not per request. */
#ifndef TURBINE_HANDOVER_H
#define TURBINE_HANDOVER_H

#include <stdbool.h>
#include <stdint.h>

/*
 * A worker's inbound rings are single-consumer. When the worker will not
 * get to what is queued in time (stuck in a handler, or the drain's
 * deadline passed), another thread (a taker: the dispatcher that fills a
 * ring) may consume it instead, but never while the worker is dequeuing.
 *
 * The worker touches its rings only between handover_begin_dequeue() and
 * handover_end_dequeue(). The taker calls handover_take(). This is Dekker's
 * pattern on two words: the worker stores its phase, then reads `abandoned`;
 * the taker stores `abandoned`, then reads the phase; both orders are
 * sequentially consistent, so at least one of them sees the other's store.
 * Either the worker sees `abandoned` and does not dequeue, or the taker sees
 * DEQUEUING and tries again later (the window is one dequeue long). When
 * the taker sees the worker AWAY, the worker's last dequeue is complete and
 * it will see `abandoned` before its next one.
 *
 * The worker pays one sequentially consistent store, a load and a release
 * store per burst; a stuck worker pays nothing, it is not running this code.
 *
 * Several takers may hold the same worker at once, each consuming only its
 * own ring to it (the dispatchers that feed a stuck worker): `abandoned`
 * has one bit per taker, and the rings are the worker's again only once
 * every taker has given its bit back.
 */
enum handover_phase {
	HANDOVER_AWAY = 0,      /* not touching its rings: running calls, or between bursts */
	HANDOVER_DEQUEUING,     /* from its check of `abandoned` to the end of one dequeue */
};

struct handover {
	int phase;              /* written by the worker */
	uint32_t abandoned;     /* one bit per taker holding the rings; written by takers */
};

#define HANDOVER_MAX_TAKERS 32

/* Worker: before each dequeue. False: the rings are not the worker's now; do not touch them. */
static inline bool
handover_begin_dequeue(struct handover *h)
{
	__atomic_store_n(&h->phase, HANDOVER_DEQUEUING, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&h->abandoned, __ATOMIC_SEQ_CST) == 0)
		return true;
	__atomic_store_n(&h->phase, HANDOVER_AWAY, __ATOMIC_RELEASE);
	return false;
}

/* Worker: after each dequeue, before running what it took. Release: a taker that reads
 * AWAY also sees the dequeue complete. */
static inline void
handover_end_dequeue(struct handover *h)
{
	__atomic_store_n(&h->phase, HANDOVER_AWAY, __ATOMIC_RELEASE);
}

/*
 * Taker `taker` (0 .. HANDOVER_MAX_TAKERS - 1): ask for the worker's rings.
 * True: the worker will not dequeue again until every taker has called
 * handover_give_back(), and this taker may consume its ring to the worker.
 * False: the worker is dequeuing now; ask again later. Once it has returned
 * true the rings stay the taker's, but a later call may still return false
 * (the worker stores DEQUEUING before it reads `abandoned`): remember the
 * first true.
 */
static inline bool
handover_take(struct handover *h, unsigned int taker)
{
	__atomic_fetch_or(&h->abandoned, UINT32_C(1) << taker, __ATOMIC_SEQ_CST);
	return __atomic_load_n(&h->phase, __ATOMIC_SEQ_CST) != HANDOVER_DEQUEUING;
}

/* Has a taker asked for the worker's rings? */
static inline bool
handover_abandoned(const struct handover *h)
{
	return __atomic_load_n(&h->abandoned, __ATOMIC_ACQUIRE) != 0;
}

/* Taker: it stopped consuming its ring; once no taker is left, the rings are the worker's again. */
static inline void
handover_give_back(struct handover *h, unsigned int taker)
{
	__atomic_fetch_and(&h->abandoned, ~(UINT32_C(1) << taker), __ATOMIC_RELEASE);
}

#endif /* TURBINE_HANDOVER_H */
