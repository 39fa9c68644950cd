/* The --json document: every count, both latency distributions, the timeline and the configuration. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <rte_ether.h>

#include "report.h"

#ifndef GEN_VERSION
#define GEN_VERSION "unknown"
#endif

/* Counts stay below 2^63; jansson's integers are signed 64-bit. */
static json_t *
results_uint(uint64_t v)
{
	return json_integer((json_int_t)v);
}

static json_t *
results_ipv4(uint32_t ip)
{
	char text[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &ip, text, sizeof(text));
	return json_string(text);
}

static json_t *
results_mac(const uint8_t mac[6])
{
	char text[RTE_ETHER_ADDR_FMT_SIZE];

	rte_ether_format_addr(text, sizeof(text), (const struct rte_ether_addr *)mac);
	return json_string(text);
}

/* {count, min, max, mean, p50, p90, p99, p999, p9999}, all ns; null values when nothing was recorded. */
static json_t *
results_latency(const struct hist *h)
{
	struct hist_summary s;
	json_t *o = json_object();

	hist_summarize(h, &s);
	json_object_set_new(o, "count", results_uint(s.count));
	if (s.count == 0) {
		static const char *const keys[] = { "p50", "p90", "p99", "p999", "p9999", "min",
						    "max", "mean" };
		unsigned int i;

		for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			json_object_set_new(o, keys[i], json_null());
		return o;
	}
	json_object_set_new(o, "p50", results_uint(s.p50));
	json_object_set_new(o, "p90", results_uint(s.p90));
	json_object_set_new(o, "p99", results_uint(s.p99));
	json_object_set_new(o, "p999", results_uint(s.p999));
	json_object_set_new(o, "p9999", results_uint(s.p9999));
	json_object_set_new(o, "min", results_uint(s.min));
	json_object_set_new(o, "max", results_uint(s.max));
	json_object_set_new(o, "mean", json_real(s.mean));
	return o;
}

static json_t *
results_latency_pair(const struct hist *corrected, const struct hist *uncorrected)
{
	json_t *o = json_object();

	json_object_set_new(o, "corrected", results_latency(corrected));
	json_object_set_new(o, "uncorrected", results_latency(uncorrected));
	return o;
}

static json_t *
results_by_status(const uint64_t *by_status)
{
	json_t *o = json_object();
	char name[16];
	unsigned int s;

	for (s = 0; s < MATCH_STATUS_SLOTS; s++)
		if (by_status[s] > 0)
			json_object_set_new(o, match_status_name(s, name, sizeof(name)),
					    results_uint(by_status[s]));
	return o;
}

static json_t *
results_names(const struct match_names *n)
{
	json_t *o = json_object();
	unsigned int i;

	for (i = 0; i < n->nb; i++)
		json_object_set_new(o, n->name[i], results_uint(n->count[i]));
	if (n->other > 0)
		json_object_set_new(o, "(others)", results_uint(n->other));
	return o;
}

static json_t *
results_entry_config(const struct mix *mix, unsigned int i)
{
	const struct mix_entry *e = &mix->entries[i];
	json_t *o = json_object();

	json_object_set_new(o, "fn", json_string(e->fn));
	json_object_set_new(o, "type", json_string(mix_type_name(e)));
	json_object_set_new(o, "tenant", e->tenant[0] ? json_string(e->tenant) : json_null());
	json_object_set_new(o, "weight", json_real(e->weight));
	json_object_set_new(o, "share", json_real(e->weight / mix->total_weight));
	json_object_set_new(o, "event", e->event ? json_incref(e->event) : json_null());
	json_object_set_new(o, "request_bytes", json_integer(e->payload_len));
	return o;
}

static json_t *
results_mix(const struct gen *g)
{
	json_t *a = json_array();
	unsigned int i;

	for (i = 0; i < g->cfg.mix.nb; i++) {
		const struct match_entry_counts *c = &g->rx->match.entries[i];
		uint64_t sent = g->tx->st.entry_sent[i];
		json_t *o = results_entry_config(&g->cfg.mix, i);

		json_object_set_new(o, "sent", results_uint(sent));
		json_object_set_new(o, "received", results_uint(c->received));
		json_object_set_new(o, "lost", results_uint(sent - c->received));
		json_object_set_new(o, "duplicates", results_uint(c->duplicates));
		json_object_set_new(o, "late", results_uint(c->late));
		json_object_set_new(o, "fn_errors", results_uint(c->fn_errors));
		json_object_set_new(o, "by_status", results_by_status(c->by_status));
		json_object_set_new(o, "latency_ns",
				    results_latency_pair(&g->rx->lat[i][0], &g->rx->lat[i][1]));
		json_array_append_new(a, o);
	}
	return a;
}

static json_t *
results_timeline(void)
{
	const struct report_timeline *tl = report_timeline();
	json_t *a = json_array();
	unsigned int i;

	for (i = 0; i < tl->nb; i++) {
		const struct report_second *s = &tl->seconds[i];
		bool lat = s->has_latency && s->count > 0;

		json_array_append_new(a, json_pack("{s:i, s:s, s:I, s:I, s:I, s:I, s:o, s:o, s:o}",
			"t", (int)s->t, "phase", report_phase_name(s->phase),
			"sent", (json_int_t)s->sent, "replies", (json_int_t)s->answered,
			"in_flight", (json_int_t)s->in_flight, "late_sends", (json_int_t)s->late_sends,
			"p50_ns", lat ? results_uint(s->p50) : json_null(),
			"p99_ns", lat ? results_uint(s->p99) : json_null(),
			"max_ns", lat ? results_uint(s->max) : json_null()));
	}
	return a;
}

static json_t *
results_config(const struct gen *g)
{
	const struct gen_config *c = &g->cfg;
	json_t *o = json_object(), *cmd = json_array(), *mix = json_array();
	unsigned int i;
	int a;

	for (a = 0; a < g->argc; a++)
		json_array_append_new(cmd, json_string(g->argv[a]));
	for (i = 0; i < c->mix.nb; i++)
		json_array_append_new(mix, results_entry_config(&c->mix, i));
	json_object_set_new(o, "command", cmd);
	json_object_set_new(o, "target", json_pack("{s:o, s:i, s:o, s:s}",
		"ip", results_ipv4(c->dst_ip), "port", ntohs(c->dst_port),
		"mac", results_mac(g->dst_mac), "mac_from", g->dst_mac_from));
	json_object_set_new(o, "source", json_pack("{s:o, s:i, s:o}",
		"ip", results_ipv4(c->src_ip), "port", ntohs(c->src_port), "mac", results_mac(g->mac)));
	json_object_set_new(o, "port", json_pack("{s:i, s:s, s:s, s:i, s:s}",
		"id", g->port_id, "name", g->port_name, "driver", g->driver, "mtu", g->mtu,
		"checksums", g->tx_cksum_offload ? "hardware" : "software"));
	json_object_set_new(o, "lcores", json_pack("{s:i, s:i, s:i}",
		"count", g->nb_lcores, "tx", g->tx_lcore, "rx", g->rx_lcore));
	json_object_set_new(o, "load", json_string(options_load_name(c->load)));
	json_object_set_new(o, "rate", c->load == GEN_LOAD_OPEN ? json_real(c->rate) : json_null());
	json_object_set_new(o, "arrivals", c->load != GEN_LOAD_OPEN ? json_null() :
			    json_string(c->poisson ? "poisson" : "fixed"));
	json_object_set_new(o, "outstanding", c->outstanding ? json_integer(c->outstanding) : json_null());
	json_object_set_new(o, "warmup_s", json_real(c->warmup_s));
	json_object_set_new(o, "duration_s", json_real(c->duration_s));
	json_object_set_new(o, "drain_ms", json_integer(c->drain_ms));
	json_object_set_new(o, "arp_timeout_ms", json_integer(c->arp_timeout_ms));
	json_object_set_new(o, "burst", json_integer(c->burst));
	json_object_set_new(o, "seed", json_integer((json_int_t)c->seed));
	json_object_set_new(o, "reflector", json_boolean(c->reflector));
	json_object_set_new(o, "mix", mix);
	return o;
}

static json_t *
results_warnings(const struct report_totals *t)
{
	json_t *a = json_array();
	unsigned int i;

	for (i = 0; i < t->nb_warnings; i++)
		json_array_append_new(a, json_string(t->warnings[i]));
	return a;
}

static json_t *
results_document(const struct gen *g, const struct report_totals *t)
{
	const struct gen_tx_stats *tx = &g->tx->st;
	const struct gen_rx_stats *rx = &g->rx->st;
	const struct match_stats *m = &g->rx->match;
	char host[256] = "";
	json_t *o = json_object();

	gethostname(host, sizeof(host) - 1);
	json_object_set_new(o, "tool", json_string("turbine-gen"));
	json_object_set_new(o, "version", json_string(GEN_VERSION));
	json_object_set_new(o, "started_at", json_string(g->started_at));
	json_object_set_new(o, "host", json_string(host));
	json_object_set_new(o, "load", json_string(options_load_name(g->cfg.load)));
	json_object_set_new(o, "interrupted", json_boolean(g->interrupted));
	json_object_set_new(o, "duration_s", json_real(t->duration_s));
	json_object_set_new(o, "offered_rps", json_real(t->offered_rps));
	json_object_set_new(o, "sent_rps", json_real(t->sent_rps));
	json_object_set_new(o, "achieved_rps", json_real(t->achieved_rps));
	json_object_set_new(o, "rate_met", json_boolean(t->rate_met));
	json_object_set_new(o, "sent", results_uint(t->sent));
	json_object_set_new(o, "received", results_uint(t->received));
	json_object_set_new(o, "lost", results_uint(t->lost));
	json_object_set_new(o, "duplicates", results_uint(t->duplicates));
	json_object_set_new(o, "late", results_uint(t->late));
	json_object_set_new(o, "fn_errors", results_uint(t->fn_errors));
	json_object_set_new(o, "by_status", results_by_status(t->by_status));
	json_object_set_new(o, "by_error", results_names(&m->errors));
	json_object_set_new(o, "by_reason", results_names(&m->reasons));
	json_object_set_new(o, "latency_ns", results_latency_pair(&t->corrected, &t->uncorrected));
	json_object_set_new(o, "mix", results_mix(g));
	json_object_set_new(o, "schedule", json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}",
		"late_sends", (json_int_t)tx->late_sends, "late_threshold_ns", (json_int_t)GEN_LATE_NS,
		"max_lag_ns", (json_int_t)(gen_ticks_to_s(g, tx->max_lag) * 1e9),
		"unsent", (json_int_t)tx->unsent, "window_waits", (json_int_t)tx->window_waits,
		"table_waits", (json_int_t)tx->table_waits));
	json_object_set_new(o, "warmup", json_pack("{s:I, s:I, s:I}",
		"sent", (json_int_t)tx->sent_warmup, "received", (json_int_t)m->warmup_received,
		"duplicates", (json_int_t)m->warmup_duplicates));
	json_object_set_new(o, "drain", json_pack("{s:f, s:I}",
		"waited_ms", g->t_finish > g->t_sent_end ?
			     gen_ticks_to_s(g, g->t_finish - g->t_sent_end) * 1e3 : 0.0,
		"expired", (json_int_t)rx->expired));
	json_object_set_new(o, "rx", json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
		"packets", (json_int_t)rx->rx_packets, "stale", (json_int_t)m->stale,
		"unknown", (json_int_t)m->unknown, "foreign", (json_int_t)rx->foreign,
		"undecodable", (json_int_t)rx->undecodable, "multiseg", (json_int_t)rx->multiseg,
		"other", (json_int_t)rx->other, "arp_replies", (json_int_t)rx->arp_replies,
		"icmp_replies", (json_int_t)rx->icmp_replies));
	json_object_set_new(o, "tx", json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}",
		"requests", (json_int_t)tx->sent, "short_bursts", (json_int_t)tx->short_bursts,
		"alloc_failures", (json_int_t)tx->alloc_failures, "abandoned", (json_int_t)tx->abandoned,
		"ctl_sent", (json_int_t)tx->ctl_sent, "ctl_dropped", (json_int_t)tx->ctl_dropped));
	json_object_set_new(o, "histogram", json_pack("{s:s, s:i, s:f, s:i, s:I, s:I}",
		"kind", "log-linear (HdrHistogram layout)", "sub_buckets", HIST_SUB_COUNT,
		"max_relative_error", HIST_MAX_RELATIVE_ERROR, "lowest_ns", 1,
		"highest_ns", (json_int_t)(HIST_HIGHEST - 1),
		"saturated", (json_int_t)(t->corrected.saturated + t->uncorrected.saturated)));
	json_object_set_new(o, "tsc_hz", results_uint(g->tsc_hz));
	json_object_set_new(o, "timeline", results_timeline());
	json_object_set_new(o, "warnings", results_warnings(t));
	json_object_set_new(o, "config", results_config(g));
	return o;
}

int
results_write(const struct gen *g, const struct report_totals *t, const char *path,
	      char *err, size_t errlen)
{
	json_t *doc = results_document(g, t);
	int rc;

	rc = json_dump_file(doc, path, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
	json_decref(doc);
	if (rc != 0) {
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
		return -EIO;
	}
	return 0;
}
