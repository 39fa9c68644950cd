/* The call a worker is running: stamped by the worker, claimed at its deadline by the dispatcher that sent it. */
#ifndef TURBINE_CALL_SLOT_H
#define TURBINE_CALL_SLOT_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_pause.h>

struct rte_mbuf;
struct turbine_str;

/*
 * A handler past its deadline is never interrupted (no signal, no longjmp:
 * it could leave malloc or a mempool cache half-updated). Instead its
 * caller is answered by someone else: the watchdog, in the loop of the
 * dispatcher that sent the call. Who answers is decided by one
 * compare-and-swap on `word`, which holds the call's generation and state:
 *
 *   worker:    begin: RUNNING(g)  ... handler ...  settle: RUNNING(g) -> IDLE(g): it answers
 *   watchdog:  claim: RUNNING(g) -> CLAIMED(g), builds the answer, then TIMED_OUT(g)
 *   worker, late: settle finds CLAIMED(g) or TIMED_OUT(g): it waits for
 *              TIMED_OUT(g), stores IDLE(g) and discards what the handler made
 *   watchdog:  shed: RUNNING(g) -> SHEDDING(g) -> SHED(g): the call is not
 *              overdue, but one held behind it is (below)
 *   worker:    settle: SHED(g) -> IDLE(g): it answers, and runs no more of what it held
 *
 * Each call has a new generation. A watchdog reads the word, then the
 * deadline, then claims with a CAS on the generation it read: had the
 * worker settled that call and begun the next one meanwhile, the word would
 * hold the next generation and the claim would fail. So a decision taken on
 * an old call never lands on a newer one, and an old generation can neither
 * claim nor settle a newer call.
 *
 * CLAIMED lasts while the watchdog reads the request (in the worker's mbuf)
 * to build its answer in a buffer of its own; a worker whose handler
 * returns meanwhile waits for TIMED_OUT before it frees or reuses anything
 * (the time to build one reply). A claim also takes the calls the worker
 * dequeued with the overdue one and has not started (`held`): they would
 * wait behind a handler that may never return. When the running call is in
 * time but a held one's deadline (`held_deadline`, the earliest of them)
 * has passed, the watchdog sheds them instead: it takes the held calls and
 * leaves the running one to the worker (which may still be claimed later).
 *
 * Every field is written by the worker before the word that publishes it
 * (release) and read by the watchdog after the word (acquire); reads of a
 * field before a claim are only trusted when the claim succeeds.
 */
enum call_slot_state {
	CALL_SLOT_IDLE = 0,      /* between calls: the worker owns everything */
	CALL_SLOT_RUNNING,       /* in its handler; whoever moves it on answers the call */
	CALL_SLOT_CLAIMED,       /* overdue: its dispatcher is answering it */
	CALL_SLOT_TIMED_OUT,     /* answered by its dispatcher; the handler has not returned yet */
	CALL_SLOT_SHEDDING,      /* running; its dispatcher is taking the held calls */
	CALL_SLOT_SHED,          /* running; the held calls are its dispatcher's */
};

#define CALL_SLOT_STATE_BITS 3
#define CALL_SLOT_STATE_MASK ((UINT64_C(1) << CALL_SLOT_STATE_BITS) - 1)
/* The most calls a worker dequeues at once (RUNTIME_BURST, checked in worker.c). */
#define CALL_SLOT_HELD 32

/* What the worker stamps when it calls a handler. */
struct call_slot_call {
	struct rte_mbuf *m;         /* the request, and where the worker builds its reply */
	uint64_t deadline_tsc;
	uint64_t start_tsc;
	const struct turbine_str *version; /* of the deployment it runs under, for the answer:
					      the deployment's own, which outlives the call */
	uint16_t dispatcher;        /* who sent it: the only one that may claim it */
	uint16_t function;
};

/*
 * One per worker. The first cache line is what the watchdog reads on every
 * check; the worker writes it twice per call. `held` fills the lines after
 * it, read only by a watchdog that won a claim or a shed.
 */
struct call_slot {
	uint64_t word;              /* generation << CALL_SLOT_STATE_BITS | state */
	struct call_slot_call call;
	uint32_t held_next;         /* held[held_next .. held_nb): dequeued, not started */
	uint32_t held_nb;
	uint64_t held_deadline;     /* the earliest deadline among them; UINT64_MAX: none */
	struct rte_mbuf *held[CALL_SLOT_HELD];
	bool held_lost;             /* the worker's own: its last settle found them taken */
} __attribute__((aligned(64)));

/* Settled: what became of the call and of the calls held behind it. */
enum call_slot_verdict {
	CALL_SLOT_ANSWER = 0,       /* the worker answers; it keeps what it holds */
	CALL_SLOT_ANSWER_SHED,      /* the worker answers; what it held is its dispatcher's */
	CALL_SLOT_LATE,             /* answered at the deadline: discard; what it held went too */
};

static inline uint64_t
call_slot_word(uint64_t gen, enum call_slot_state state)
{
	return gen << CALL_SLOT_STATE_BITS | state;
}

static inline enum call_slot_state
call_slot_state_of(uint64_t word)
{
	return (enum call_slot_state)(word & CALL_SLOT_STATE_MASK);
}

static inline uint64_t
call_slot_gen_of(uint64_t word)
{
	return word >> CALL_SLOT_STATE_BITS;
}

/*
 * Worker: it holds held[next .. nb), dequeued and not started, the earliest
 * deadline among them `deadline`; the next call it begins is not one of
 * them. call_slot_hold(s, 0, 0, UINT64_MAX) when it holds nothing (a call
 * run to completion by its dispatcher's lcore).
 */
static inline void
call_slot_hold(struct call_slot *s, uint32_t next, uint32_t nb, uint64_t deadline)
{
	__atomic_store_n(&s->held_next, next, __ATOMIC_RELAXED);
	__atomic_store_n(&s->held_nb, nb, __ATOMIC_RELAXED);
	__atomic_store_n(&s->held_deadline, deadline, __ATOMIC_RELAXED);
	s->held_lost = false;
}

/* Worker: did its last settle find the held calls taken (shed, or claimed with the call)? */
static inline bool
call_slot_held_lost(const struct call_slot *s)
{
	return s->held_lost;
}

/* Worker: about to call a handler. Returns the call's generation, for call_slot_settle(). */
static inline uint64_t
call_slot_begin(struct call_slot *s, const struct call_slot_call *c)
{
	uint64_t gen = call_slot_gen_of(__atomic_load_n(&s->word, __ATOMIC_RELAXED)) + 1;

	/* Relaxed: the release of the word orders them all before it, and a compiler
	 * barrier at each would make the worker reload what it keeps in registers. */
	__atomic_store_n(&s->call.m, c->m, __ATOMIC_RELAXED);
	__atomic_store_n(&s->call.deadline_tsc, c->deadline_tsc, __ATOMIC_RELAXED);
	__atomic_store_n(&s->call.start_tsc, c->start_tsc, __ATOMIC_RELAXED);
	__atomic_store_n(&s->call.version, c->version, __ATOMIC_RELAXED);
	__atomic_store_n(&s->call.dispatcher, c->dispatcher, __ATOMIC_RELAXED);
	__atomic_store_n(&s->call.function, c->function, __ATOMIC_RELAXED);
	__atomic_store_n(&s->word, call_slot_word(gen, CALL_SLOT_RUNNING), __ATOMIC_RELEASE);
	return gen;
}

/*
 * Worker: the handler of call `gen` returned. Says whether the call is
 * still the worker's to answer and whether what it held is (see
 * call_slot_verdict); waits while its dispatcher builds an answer or takes
 * the held calls.
 */
static inline enum call_slot_verdict
call_slot_settle(struct call_slot *s, uint64_t gen)
{
	const uint64_t idle = call_slot_word(gen, CALL_SLOT_IDLE);

	for (;;) {
		uint64_t seen = call_slot_word(gen, CALL_SLOT_RUNNING);

		if (__atomic_compare_exchange_n(&s->word, &seen, idle, false, __ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE))
			return CALL_SLOT_ANSWER;
		if (seen == call_slot_word(gen, CALL_SLOT_SHED) &&
		    __atomic_compare_exchange_n(&s->word, &seen, idle, false, __ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE)) {
			s->held_lost = true;
			return CALL_SLOT_ANSWER_SHED;
		}
		if (seen == call_slot_word(gen, CALL_SLOT_TIMED_OUT)) {
			__atomic_store_n(&s->word, idle, __ATOMIC_RELEASE);
			s->held_lost = true;
			return CALL_SLOT_LATE;
		}
		/* Not this call's slot any more: nothing of it is ours to settle. */
		if (call_slot_gen_of(seen) != gen || call_slot_state_of(seen) == CALL_SLOT_IDLE ||
		    call_slot_state_of(seen) == CALL_SLOT_RUNNING)
			return CALL_SLOT_LATE;
		rte_pause();
	}
}

/* Anyone: the slot's state now, and its generation in *gen. */
static inline enum call_slot_state
call_slot_peek(const struct call_slot *s, uint64_t *gen)
{
	uint64_t word = __atomic_load_n(&s->word, __ATOMIC_ACQUIRE);

	*gen = call_slot_gen_of(word);
	return call_slot_state_of(word);
}

/* Anyone: is the worker inside a handler its dispatcher has given up on? (Claimed, not shed.) */
static inline bool
call_slot_stuck(const struct call_slot *s)
{
	uint64_t gen;
	enum call_slot_state st = call_slot_peek(s, &gen);

	return st == CALL_SLOT_CLAIMED || st == CALL_SLOT_TIMED_OUT;
}

/* Watchdog: the running call's deadline and dispatcher, and the earliest deadline of the
 * calls held behind it: trusted only if a claim or a shed then succeeds. */
static inline uint64_t
call_slot_deadline(const struct call_slot *s)
{
	return __atomic_load_n(&s->call.deadline_tsc, __ATOMIC_ACQUIRE);
}

static inline uint64_t
call_slot_held_deadline(const struct call_slot *s)
{
	return __atomic_load_n(&s->held_deadline, __ATOMIC_ACQUIRE);
}

static inline unsigned int
call_slot_dispatcher(const struct call_slot *s)
{
	return __atomic_load_n(&s->call.dispatcher, __ATOMIC_ACQUIRE);
}

/* Anyone: since when the latest call has run, and which function (racy unless it is stuck). */
static inline uint64_t
call_slot_started(const struct call_slot *s, unsigned int *function)
{
	*function = __atomic_load_n(&s->call.function, __ATOMIC_ACQUIRE);
	return __atomic_load_n(&s->call.start_tsc, __ATOMIC_ACQUIRE);
}

/*
 * Watchdog: take call `gen`, seen in state `state` (RUNNING, or SHED), from
 * its worker. True: the watchdog answers it, may read s->call, takes the
 * held calls when they were still the worker's (state RUNNING:
 * call_slot_take_held()), then calls call_slot_answered(). False: the
 * worker settled it first.
 */
static inline bool
call_slot_claim(struct call_slot *s, uint64_t gen, enum call_slot_state state)
{
	uint64_t seen = call_slot_word(gen, state);

	return __atomic_compare_exchange_n(&s->word, &seen, call_slot_word(gen, CALL_SLOT_CLAIMED),
					   false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}

/*
 * Watchdog: take the calls held behind running call `gen`, leaving the
 * call to its worker. True: take them (call_slot_take_held()), then
 * call_slot_shed(). False: the worker settled the call first.
 */
static inline bool
call_slot_begin_shed(struct call_slot *s, uint64_t gen)
{
	uint64_t seen = call_slot_word(gen, CALL_SLOT_RUNNING);

	return __atomic_compare_exchange_n(&s->word, &seen, call_slot_word(gen, CALL_SLOT_SHEDDING),
					   false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}

static inline void
call_slot_shed(struct call_slot *s, uint64_t gen)
{
	__atomic_store_n(&s->word, call_slot_word(gen, CALL_SLOT_SHED), __ATOMIC_RELEASE);
}

/* Watchdog, holding a claim or a shed: move the calls held behind the running one into out[]. */
static inline unsigned int
call_slot_take_held(const struct call_slot *s, struct rte_mbuf **out)
{
	uint32_t i, next = __atomic_load_n(&s->held_next, __ATOMIC_RELAXED);
	uint32_t nb = __atomic_load_n(&s->held_nb, __ATOMIC_RELAXED);

	if (nb > CALL_SLOT_HELD)
		nb = CALL_SLOT_HELD;
	for (i = next; i < nb; i++)
		out[i - next] = s->held[i];
	return next < nb ? nb - next : 0;
}

/* Watchdog: the claimed call is answered; a worker back from its handler may go on. */
static inline void
call_slot_answered(struct call_slot *s, uint64_t gen)
{
	__atomic_store_n(&s->word, call_slot_word(gen, CALL_SLOT_TIMED_OUT), __ATOMIC_RELEASE);
}

#endif /* TURBINE_CALL_SLOT_H */
