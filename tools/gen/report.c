/* What a run adds up to: totals over the mix, warnings, the live line and the final table. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_ether.h>
#include <rte_lcore.h>

#include "report.h"

/* The reporter wakes this long after each second, so the RX lcore has published it. */
#define REPORT_LIVE_LAG_MS 20
#define REPORT_SLEEP_MAX_NS 100000000L

static struct {
	pthread_t tid;
	bool running;
	int stop;
	struct report_timeline timeline;
} report_live;

const char *
report_phase_name(enum gen_phase p)
{
	switch (p) {
	case GEN_PHASE_WARMUP:
		return "warmup";
	case GEN_PHASE_MEASURE:
		return "measure";
	case GEN_PHASE_DRAIN:
		return "drain";
	case GEN_PHASE_DONE:
		return "done";
	}
	return "unknown";
}

const struct report_timeline *
report_timeline(void)
{
	return &report_live.timeline;
}

/* ns in the unit that keeps three or four digits: "850ns", "35.2us", "1.23ms", "2.50s". */
static const char *
report_fmt_ns(char *buf, size_t len, double ns)
{
	if (ns < 1e3)
		snprintf(buf, len, "%.0fns", ns);
	else if (ns < 1e6)
		snprintf(buf, len, "%.1fus", ns / 1e3);
	else if (ns < 1e9)
		snprintf(buf, len, "%.2fms", ns / 1e6);
	else
		snprintf(buf, len, "%.2fs", ns / 1e9);
	return buf;
}

/* ------------------------------------------------------------------ live line */

static bool
report_live_read(const struct gen_live *l, struct report_second *s)
{
	unsigned int tries;

	for (tries = 0; tries < 100; tries++) {
		uint64_t seq = __atomic_load_n(&l->seq, __ATOMIC_ACQUIRE);
		uint64_t second;

		if (seq & 1)
			continue;
		second = gen_get(&l->second);
		s->count = gen_get(&l->count);
		s->p50 = gen_get(&l->p50);
		s->p99 = gen_get(&l->p99);
		s->max = gen_get(&l->max);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(&l->seq, __ATOMIC_RELAXED) == seq)
			return second == s->t;
	}
	return false;
}

static void
report_live_line(const struct gen *g, const struct report_second *s, uint64_t max_lag)
{
	char a[16], b[16], c[16];

	if (!g->cfg.quiet) {
		if (s->has_latency && s->count > 0)
			printf("[%4us %-7s] sent %8" PRIu64 "/s  recv %8" PRIu64 "/s  in flight %6"
			       PRIu64 "  latency p50 %8s  p99 %8s  max %8s\n", s->t,
			       report_phase_name(s->phase), s->sent, s->answered, s->in_flight,
			       report_fmt_ns(a, sizeof(a), (double)s->p50),
			       report_fmt_ns(b, sizeof(b), (double)s->p99),
			       report_fmt_ns(c, sizeof(c), (double)s->max));
		else
			printf("[%4us %-7s] sent %8" PRIu64 "/s  recv %8" PRIu64 "/s  in flight %6"
			       PRIu64 "\n", s->t, report_phase_name(s->phase), s->sent, s->answered,
			       s->in_flight);
		fflush(stdout);
	}
	if (s->late_sends > 0)
		fprintf(stderr, "turbine-gen: warning: %" PRIu64 " requests went out more than "
			"%.0f ms late in the last second (worst so far %s): the TX lcore is behind "
			"its schedule\n", s->late_sends, GEN_LATE_NS / 1e6,
			report_fmt_ns(a, sizeof(a), gen_ticks_to_s(g, max_lag) * 1e9));
}

static void
report_live_keep(const struct report_second *s)
{
	struct report_timeline *tl = &report_live.timeline;

	if (tl->nb == tl->cap) {
		unsigned int cap = tl->cap ? 2 * tl->cap : 64;
		struct report_second *p = realloc(tl->seconds, cap * sizeof(*p));

		if (p == NULL)
			return;
		tl->seconds = p;
		tl->cap = cap;
	}
	tl->seconds[tl->nb++] = *s;
}

static void
report_sleep_until(const struct gen *g, uint64_t due)
{
	uint64_t now = rte_rdtsc();
	struct timespec ts;
	double ns;

	if (now >= due)
		return;
	ns = gen_ticks_to_s(g, due - now) * 1e9;
	if (ns > REPORT_SLEEP_MAX_NS)
		ns = REPORT_SLEEP_MAX_NS;
	ts.tv_sec = 0;
	ts.tv_nsec = (long)ns;
	nanosleep(&ts, NULL);
}

static void *
report_live_main(void *arg)
{
	struct gen *g = arg;
	uint64_t prev_sent = 0, prev_answered = 0, prev_late = 0;
	uint32_t k = 1;

	while (!__atomic_load_n(&report_live.stop, __ATOMIC_RELAXED)) {
		uint64_t boundary = g->t_start + k * g->tsc_hz;
		uint64_t due = boundary + g->tsc_hz / 1000 * REPORT_LIVE_LAG_MS;
		uint64_t sent, answered, late;
		struct report_second s;

		if (rte_rdtsc() < due) {
			report_sleep_until(g, due);
			continue;
		}
		memset(&s, 0, sizeof(s));
		s.t = k;
		if (__atomic_load_n(&g->quit, __ATOMIC_RELAXED))
			break;
		s.phase = boundary <= __atomic_load_n(&g->t_measure, __ATOMIC_RELAXED) ?
			  GEN_PHASE_WARMUP :
			  boundary <= __atomic_load_n(&g->t_end, __ATOMIC_RELAXED) ?
			  GEN_PHASE_MEASURE : GEN_PHASE_DRAIN;
		sent = gen_get(&g->tx->st.sent);
		answered = gen_get(&g->rx->st.answered);
		late = gen_get(&g->tx->st.late_sends);
		s.sent = sent - prev_sent;
		s.answered = answered - prev_answered;
		s.late_sends = late - prev_late;
		s.in_flight = match_in_flight(&g->match);
		s.has_latency = report_live_read(&g->rx->live, &s);
		prev_sent = sent;
		prev_answered = answered;
		prev_late = late;
		report_live_keep(&s);
		report_live_line(g, &s, gen_get(&g->tx->st.max_lag));
		k++;
	}
	return NULL;
}

int
report_live_start(struct gen *g, char *err, size_t errlen)
{
	int rc;

	rc = rte_ctrl_thread_create(&report_live.tid, "gen-report", NULL, report_live_main, g);
	if (rc != 0) {
		snprintf(err, errlen, "cannot start the reporting thread: %s", strerror(rc));
		return -rc;
	}
	report_live.running = true;
	return 0;
}

void
report_live_stop(void)
{
	if (!report_live.running)
		return;
	__atomic_store_n(&report_live.stop, 1, __ATOMIC_RELAXED);
	pthread_join(report_live.tid, NULL);
	report_live.running = false;
}

/* ------------------------------------------------------------------ totals */

static void
report_warn(struct report_totals *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
report_warn(struct report_totals *t, const char *fmt, ...)
{
	va_list ap;

	if (t->nb_warnings == REPORT_MAX_WARNINGS)
		return;
	va_start(ap, fmt);
	vsnprintf(t->warnings[t->nb_warnings++], REPORT_WARNING_LEN, fmt, ap);
	va_end(ap);
}

/* Settings that were not met, and anything else a reader of the numbers must know. */
static void
report_warnings(const struct gen *g, struct report_totals *t)
{
	const struct gen_tx_stats *tx = &g->tx->st;
	const struct gen_rx_stats *rx = &g->rx->st;
	const struct match_stats *m = &g->rx->match;
	char lag[16];

	if (g->interrupted)
		report_warn(t, "interrupted: the measured window is %.3f s instead of %g s",
			    t->duration_s, g->cfg.duration_s);
	if (t->sent == 0)
		report_warn(t, "no request was sent in the measured window: nothing was measured");
	if (tx->unsent > 0)
		report_warn(t, "the offered rate was not met: %" PRIu64 " requests due in the "
			    "measured window were never sent (offered %.1f rps, sent %.1f rps)",
			    tx->unsent, t->offered_rps, t->sent_rps);
	if (tx->late_sends > 0)
		report_warn(t, "%" PRIu64 " requests went out more than %.0f ms after their intended "
			    "time (worst %s late): the TX lcore or the port fell behind, and the "
			    "corrected latency includes the delay", tx->late_sends, GEN_LATE_NS / 1e6,
			    report_fmt_ns(lag, sizeof(lag), gen_ticks_to_s(g, tx->max_lag) * 1e9));
	if (tx->window_waits > 0)
		report_warn(t, "the --outstanding %u cap held requests back %" PRIu64 " times",
			    g->cfg.outstanding, tx->window_waits);
	if (tx->table_waits > 0)
		report_warn(t, "the tracking table (%" PRIu64 " requests) was full %" PRIu64 " times: "
			    "requests waited for a slot", g->match.size, tx->table_waits);
	if (tx->alloc_failures > 0)
		report_warn(t, "no mbuf was free %" PRIu64 " times when requests were due",
			    tx->alloc_failures);
	if (tx->abandoned > 0)
		report_warn(t, "%" PRIu64 " requests were built but the port never took them; they "
			    "count as lost", tx->abandoned);
	if (m->stale + m->unknown + rx->foreign + rx->undecodable > 0)
		report_warn(t, "replies not matched to a request: %" PRIu64 " too old, %" PRIu64
			    " unknown ids, %" PRIu64 " from another sender, %" PRIu64 " undecodable",
			    m->stale, m->unknown, rx->foreign, rx->undecodable);
	if (tx->ctl_dropped > 0)
		report_warn(t, "%" PRIu64 " ARP or ICMP replies could not be sent", tx->ctl_dropped);
}

struct report_totals *
report_totals(const struct gen *g)
{
	const struct gen_rx *rx = g->rx;
	struct report_totals *t = calloc(1, sizeof(*t));
	unsigned int i, s;

	if (t == NULL)
		return NULL;
	hist_reset(&t->corrected);
	hist_reset(&t->uncorrected);
	for (i = 0; i < g->cfg.mix.nb; i++) {
		const struct match_entry_counts *e = &rx->match.entries[i];

		t->sent += g->tx->st.entry_sent[i];
		t->received += e->received;
		t->duplicates += e->duplicates;
		t->late += e->late;
		t->fn_errors += e->fn_errors;
		for (s = 0; s < MATCH_STATUS_SLOTS; s++)
			t->by_status[s] += e->by_status[s];
		hist_merge(&t->corrected, &rx->lat[i][0]);
		hist_merge(&t->uncorrected, &rx->lat[i][1]);
	}
	t->lost = t->sent - t->received;
	t->duration_s = gen_ticks_to_s(g, g->t_end - g->t_measure);
	if (t->duration_s > 0) {
		t->sent_rps = (double)t->sent / t->duration_s;
		t->achieved_rps = (double)t->received / t->duration_s;
	}
	t->offered_rps = g->cfg.load == GEN_LOAD_OPEN ? g->cfg.rate : t->sent_rps;
	t->rate_met = g->tx->st.unsent == 0 && g->tx->st.abandoned == 0;
	report_warnings(g, t);
	return t;
}

/* ------------------------------------------------------------------ the table */

static void
report_print_latency(FILE *out, const char *label, const struct hist *h)
{
	struct hist_summary s;
	char v[8][16];

	hist_summarize(h, &s);
	if (s.count == 0) {
		fprintf(out, "  %-12s (no replies)\n", label);
		return;
	}
	fprintf(out, "  %-12s %9s %9s %9s %9s %9s %9s %9s %9s\n", label,
		report_fmt_ns(v[0], sizeof(v[0]), (double)s.p50),
		report_fmt_ns(v[1], sizeof(v[1]), (double)s.p90),
		report_fmt_ns(v[2], sizeof(v[2]), (double)s.p99),
		report_fmt_ns(v[3], sizeof(v[3]), (double)s.p999),
		report_fmt_ns(v[4], sizeof(v[4]), (double)s.p9999),
		report_fmt_ns(v[5], sizeof(v[5]), (double)s.min),
		report_fmt_ns(v[6], sizeof(v[6]), (double)s.max),
		report_fmt_ns(v[7], sizeof(v[7]), s.mean));
}

static void
report_print_names(FILE *out, const char *label, const struct match_names *n)
{
	unsigned int i;

	if (n->nb == 0 && n->other == 0)
		return;
	fprintf(out, "%-12s", label);
	for (i = 0; i < n->nb; i++)
		fprintf(out, " %s %" PRIu64, n->name[i], n->count[i]);
	if (n->other > 0)
		fprintf(out, " (others) %" PRIu64, n->other);
	fputc('\n', out);
}

static void
report_print_load(const struct gen *g, const struct report_totals *t, FILE *out)
{
	switch (g->cfg.load) {
	case GEN_LOAD_OPEN:
		fprintf(out, "load: open loop, %s, %g rps", g->cfg.poisson ? "Poisson" : "fixed rate",
			g->cfg.rate);
		if (g->cfg.outstanding)
			fprintf(out, ", at most %u outstanding", g->cfg.outstanding);
		break;
	case GEN_LOAD_CLOSED:
		fprintf(out, "load: closed loop, %u outstanding", g->cfg.outstanding);
		break;
	case GEN_LOAD_MAX:
		fprintf(out, "load: max (closed loop, %u outstanding)", g->cfg.outstanding);
		break;
	}
	fprintf(out, "; warm-up %g s, measured %.3f s, drain waited %.0f of %u ms\n",
		g->cfg.warmup_s, t->duration_s,
		g->t_finish > g->t_sent_end ? gen_ticks_to_s(g, g->t_finish - g->t_sent_end) * 1e3 : 0.0,
		g->cfg.drain_ms);
}

void
report_print(const struct gen *g, const struct report_totals *t, FILE *out)
{
	char dst[INET_ADDRSTRLEN], src[INET_ADDRSTRLEN], mac[RTE_ETHER_ADDR_FMT_SIZE], name[16];
	const struct mix *mix = &g->cfg.mix;
	unsigned int i, s;

	inet_ntop(AF_INET, &g->cfg.dst_ip, dst, sizeof(dst));
	inet_ntop(AF_INET, &g->cfg.src_ip, src, sizeof(src));
	rte_ether_format_addr(mac, sizeof(mac), (const struct rte_ether_addr *)g->dst_mac);
	fprintf(out, "\nturbine-gen: %s:%u (%s, from %s) from %s:%u on port %u (%s), %u lcore%s\n",
		dst, ntohs(g->cfg.dst_port), mac, g->dst_mac_from, src, ntohs(g->cfg.src_port),
		g->port_id, g->port_name, g->nb_lcores, g->nb_lcores > 1 ? "s (TX, RX)" : " (TX+RX)");
	report_print_load(g, t, out);
	fprintf(out, "%-12s %12s %12s %12s\n", "", "offered", "sent", "achieved");
	fprintf(out, "%-12s %12.1f %12.1f %12.1f\n", "rps", t->offered_rps, t->sent_rps,
		t->achieved_rps);
	fprintf(out, "requests     sent %" PRIu64 "  received %" PRIu64 "  lost %" PRIu64
		"  duplicates %" PRIu64 "  late %" PRIu64 "\n", t->sent, t->received, t->lost,
		t->duplicates, t->late);
	fprintf(out, "%-12s", "status");
	for (s = 0; s < MATCH_STATUS_SLOTS; s++)
		if (t->by_status[s] > 0)
			fprintf(out, " %s: %" PRIu64, match_status_name(s, name, sizeof(name)),
				t->by_status[s]);
	fputc('\n', out);
	report_print_names(out, "errors", &g->rx->match.errors);
	report_print_names(out, "reasons", &g->rx->match.reasons);
	if (t->fn_errors > 0)
		fprintf(out, "%-12s %" PRIu64 "\n", "fn_error", t->fn_errors);
	fprintf(out, "latency      %9s %9s %9s %9s %9s %9s %9s %9s\n", "p50", "p90", "p99", "p99.9",
		"p99.99", "min", "max", "mean");
	report_print_latency(out, "corrected", &t->corrected);
	report_print_latency(out, "uncorrected", &t->uncorrected);
	if (mix->nb > 1) {
		fprintf(out, "per entry (corrected latency):\n");
		for (i = 0; i < mix->nb; i++) {
			uint64_t sent = g->tx->st.entry_sent[i];
			uint64_t received = g->rx->match.entries[i].received;
			char label[48];

			snprintf(label, sizeof(label), "%.28s %g%%", mix->entries[i].fn,
				 100.0 * mix->entries[i].weight / mix->total_weight);
			fprintf(out, "  %s: sent %" PRIu64 " received %" PRIu64 " lost %" PRIu64 "\n",
				label, sent, received, sent - received);
			report_print_latency(out, "corrected", &g->rx->lat[i][0]);
		}
	}
	for (i = 0; i < t->nb_warnings; i++)
		fprintf(out, "warning: %s\n", t->warnings[i]);
	fflush(out);
}
