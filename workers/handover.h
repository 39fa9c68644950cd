/* Handing a worker's inbound rings to another thread: a handshake once per burst, not per request. */
#ifndef TURBINE_HANDOVER_H
#define TURBINE_HANDOVER_H

#include <stdbool.h>

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
 * Several takers (one per ring) may take the same worker.
 */
enum handover_phase {
	HANDOVER_AWAY = 0,      /* not touching its rings: running calls, or between bursts */
	HANDOVER_DEQUEUING,     /* from its check of `abandoned` to the end of one dequeue */
};

struct handover {
	int phase;              /* written by the worker */
	int abandoned;          /* written by takers */
};

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
 * Taker: ask for the worker's rings. True: the worker will not dequeue again
 * until handover_give_back(), and the taker may consume its ring to the
 * worker. False: the worker is dequeuing now; ask again later. Once it has
 * returned true the rings stay the taker's, but a later call may still
 * return false (the worker stores DEQUEUING before it reads `abandoned`):
 * remember the first true.
 */
static inline bool
handover_take(struct handover *h)
{
	__atomic_store_n(&h->abandoned, 1, __ATOMIC_SEQ_CST);
	return __atomic_load_n(&h->phase, __ATOMIC_SEQ_CST) != HANDOVER_DEQUEUING;
}

/* Has a taker asked for the worker's rings? */
static inline bool
handover_abandoned(const struct handover *h)
{
	return __atomic_load_n(&h->abandoned, __ATOMIC_ACQUIRE) != 0;
}

/* Taker: the rings are the worker's again. Only once every taker has stopped consuming them. */
static inline void
handover_give_back(struct handover *h)
{
	__atomic_store_n(&h->abandoned, 0, __ATOMIC_RELEASE);
}

#endif /* TURBINE_HANDOVER_H */
