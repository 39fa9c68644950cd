/* turbine-gen: the run's shared state, the lcore roles' state, and the steps between them. */
#ifndef GEN_GEN_H
#define GEN_GEN_H

#include <stdbool.h>
#include <stdint.h>

#include <msgpack.h>
#include <rte_common.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include "frame.h"
#include "hist.h"
#include "match.h"
#include "mix.h"
#include "options.h"
#include "pacing.h"
#include "rng.h"
#include "stamp.h"

#define GEN_BURST_MAX 64
/* A request that goes out later than this after its intended time is a late send, and warned about. */
#define GEN_LATE_NS 1000000u
/* Between the port being ready and the first request: time for every lcore to start polling. */
#define GEN_START_DELAY_MS 20

/* Written by the TX lcore alone; read by the reporter while it runs, by main after. */
struct gen_tx_stats {
	uint64_t sent;              /* every request, warm-up included */
	uint64_t sent_measured;
	uint64_t sent_warmup;
	uint64_t late_sends;        /* measured requests sent more than GEN_LATE_NS late */
	uint64_t max_lag;           /* ticks, measured requests */
	uint64_t unsent;            /* due in the measured window and never sent */
	uint64_t short_bursts;      /* the port did not take a whole burst at once */
	uint64_t alloc_failures;    /* no mbuf when one was needed */
	uint64_t window_waits;      /* polls that found the --outstanding window full */
	uint64_t table_waits;       /* polls that found the tracking table full */
	uint64_t abandoned;         /* built, never taken by the port before the end */
	uint64_t ctl_sent;          /* ARP and ICMP replies sent for the RX lcore */
	uint64_t ctl_dropped;
	uint64_t entry_sent[MIX_MAX_ENTRIES]; /* measured requests per mix entry */
};

struct gen_tx {
	struct gen *g;
	struct pacing pacing;
	struct rng mix_rng;
	uint64_t late_ticks;
	bool done;
	bool waiting[2];            /* the window, the table: full at the last look */
	uint16_t nb_pending;        /* built, not yet taken by the port */
	uint16_t nb_cache;          /* mbufs allocated ahead */
	struct rte_mbuf *pending[GEN_BURST_MAX];
	uint64_t pending_ids[GEN_BURST_MAX];
	struct rte_mbuf *cache[GEN_BURST_MAX];
	struct stamp stamps[MIX_MAX_ENTRIES];
	struct gen_tx_stats st __rte_cache_aligned;
} __rte_cache_aligned;

/* Written by the RX lcore alone. */
struct gen_rx_stats {
	uint64_t rx_packets;
	uint64_t answered;          /* first replies, warm-up included: the drain waits for all */
	uint64_t expired;           /* requests given up after --drain-ms */
	uint64_t foreign;           /* UDP to our port from someone other than the target */
	uint64_t undecodable;       /* not a map, or no id */
	uint64_t multiseg;          /* frames in several segments, not read */
	uint64_t other;             /* frames not for us, and anything else */
	uint64_t arp_replies;       /* ARP requests for our address, answered */
	uint64_t icmp_replies;      /* pings to our address, answered */
};

/* The RX lcore's view of the last second, published once a second (a sequence lock). */
struct gen_live {
	uint64_t seq;               /* odd while being written */
	uint64_t second;            /* seconds since the start this is the end of */
	uint64_t count;
	uint64_t p50, p99, max;     /* ns, corrected */
};

struct gen_rx {
	struct gen *g;
	struct frame_service svc;   /* who our frames are addressed to */
	uint32_t expect_ip;         /* where answers come from */
	uint16_t expect_port;
	double ns_per_tick;
	uint64_t timeout_ticks;
	uint64_t next_tick;         /* TSC of the next live snapshot */
	uint64_t second;
	msgpack_zone zone;
	struct hist (*lat)[2];      /* per mix entry: [0] corrected, [1] uncorrected */
	struct hist interval;       /* corrected, since the last snapshot */
	struct match_stats match;
	struct gen_rx_stats st __rte_cache_aligned;
	struct gen_live live __rte_cache_aligned;
} __rte_cache_aligned;

enum gen_phase {
	GEN_PHASE_WARMUP = 0,
	GEN_PHASE_MEASURE,
	GEN_PHASE_DRAIN,
	GEN_PHASE_DONE,
};

struct gen {
	struct gen_config cfg;
	uint64_t tsc_hz;

	/* The port (port.c). */
	uint16_t port_id;
	char port_name[64];
	char driver[32];
	uint8_t mac[6];
	uint16_t mtu;
	bool tx_cksum_offload;
	bool port_started;
	struct rte_mempool *pool;

	/* The target (arp.c). */
	uint8_t dst_mac[6];
	const char *dst_mac_from;   /* "--dst-mac", "arp", "reflector" */
	uint64_t arp_ns;            /* how long resolving took */

	struct match_table match;
	struct rte_ring *ctl;       /* RX to TX: ARP and ICMP replies to transmit */
	unsigned int nb_lcores;
	unsigned int tx_lcore;
	unsigned int rx_lcore;

	/* The run, in TSC ticks. */
	uint64_t t_start;           /* warm-up begins */
	uint64_t t_measure;         /* measured window begins */
	uint64_t t_end;             /* measured window ends (scheduled) */
	uint64_t t_sent_end;        /* the TX lcore stopped sending (published with tx_done) */
	uint64_t t_finish;          /* the drain ended */
	int tx_done;                /* TX has sent its last request */
	int stop;                   /* a signal: end the measured window now */
	int quit;                   /* the lcores return */
	bool interrupted;
	char started_at[32];        /* UTC, ISO 8601 */

	struct gen_tx *tx;
	struct gen_rx *rx;
	char **argv;                /* the whole command line, for the report */
	int argc;
};

/* Single-writer counters read by other threads: relaxed atomics, no read-modify-write. */
static inline void
gen_set(uint64_t *p, uint64_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELAXED);
}

static inline void
gen_add(uint64_t *p, uint64_t n)
{
	__atomic_store_n(p, *p + n, __ATOMIC_RELAXED);
}

static inline uint64_t
gen_get(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static inline double
gen_ticks_to_s(const struct gen *g, uint64_t ticks)
{
	return (double)ticks / (double)g->tsc_hz;
}

/* port.c */
int port_init(struct gen *g, char *err, size_t errlen);
void port_fini(struct gen *g);

/* arp.c: the target's MAC, by ARP unless given */
int arp_resolve(struct gen *g, char *err, size_t errlen);

/* tx.c */
int tx_init(struct gen *g, char *err, size_t errlen);
void tx_start(struct gen_tx *tx);
void tx_poll(struct gen_tx *tx);
void tx_fini(struct gen *g);
int tx_main(void *arg);

/* rx.c */
int rx_init(struct gen *g, char *err, size_t errlen);
void rx_poll(struct gen_rx *rx);
void rx_fini(struct gen *g);
int rx_main(void *arg);
/* The drain is over: every request answered, or --drain-ms since the last send. */
bool rx_finished(struct gen_rx *rx, uint64_t now);

/* report.c: the live line, from a control thread that wakes once a second */
int report_live_start(struct gen *g, char *err, size_t errlen);
void report_live_stop(void);

#endif /* GEN_GEN_H */
