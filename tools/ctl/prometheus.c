/* Prometheus' text exposition format from turbine's telemetry: one rule table per command. */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "prometheus.h"

#define PROM_PREFIX "turbine_"
#define PROM_DIM(a) (sizeof(a) / sizeof((a)[0]))
#define PROM_MAX_LABELS 2       /* the labels naming an object: function, then worker */

enum prom_type { PROM_COUNTER, PROM_GAUGE, PROM_SUMMARY };

static const char *const prom_type_names[] = {
	[PROM_COUNTER] = "counter",
	[PROM_GAUGE] = "gauge",
	[PROM_SUMMARY] = "summary",
};

enum prom_kind {
	PROM_MEMBER,    /* the value of member `key`, times `scale` */
	PROM_INFO,      /* 1, labelled with the members `key` lists ("a,b") */
	PROM_STATE,     /* per state of `value` ("a,b"), 1 where member `key` holds it, else 0 */
};

/*
 * What one member of a telemetry reply becomes. `key` is a member, or
 * "object.member" for a member of a nested object; a trailing '*' takes
 * every member it prefixes, and `label` then carries the rest of the
 * member's name. Consecutive rules naming the same family write one family,
 * its help and type taken from the first: a summary's quantiles and count,
 * or a counter split by a label.
 */
struct prom_rule {
	const char *family;     /* after "turbine_" */
	enum prom_type type;
	const char *help;
	enum prom_kind kind;
	const char *key;
	double scale;           /* to base units: seconds, bytes */
	const char *label;      /* the sample's own label: the '*' part, else `value` */
	const char *value;
	const char *suffix;     /* "_count" of a summary */
};

#define COUNTER(k, f, h)          { f, PROM_COUNTER, h, PROM_MEMBER, k, 1, NULL, NULL, "" }
#define GAUGE(k, f, s, h)         { f, PROM_GAUGE, h, PROM_MEMBER, k, s, NULL, NULL, "" }
#define BY_LABEL(k, f, t, l, h)   { f, t, h, PROM_MEMBER, k, 1, l, NULL, "" }
#define QUANTILE(k, f, s, q, h)   { f, PROM_SUMMARY, h, PROM_MEMBER, k, s, "quantile", q, "" }
#define SUMMARY_COUNT(k, f)       { f, PROM_SUMMARY, NULL, PROM_MEMBER, k, 1, NULL, NULL, "_count" }
#define INFO(ks, f, h)            { f, PROM_GAUGE, h, PROM_INFO, ks, 1, NULL, NULL, "" }
#define STATE(k, f, states, h)    { f, PROM_GAUGE, h, PROM_STATE, k, 1, "state", states, "" }

#define NS 1e-9
#define US 1e-6
#define MS 1e-3
#define MIB 1048576.0

/* /turbine/stats. A member no rule names is a counter of its own (prom_stats_rest). */
static const struct prom_rule prom_stats_rules[] = {
	COUNTER("rx_packets", "rx_packets_total", "Frames received from the port."),
	COUNTER("tx_packets", "tx_packets_total", "Frames handed to the port."),
	COUNTER("requests", "requests_total", "Datagrams to the service port: invoke requests."),
	COUNTER("responses", "responses_total", "Responses handed to the port."),
	BY_LABEL("status_*", "responses_by_status_total", PROM_COUNTER, "code",
		 "Responses by status code."),
	COUNTER("arp_replies", "arp_replies_total", "ARP requests for the service address answered."),
	COUNTER("icmp_replies", "icmp_replies_total", "ICMP echo requests answered."),
	COUNTER("fn_errors", "function_errors_total",
		"Calls answered 200 with a function error (Unhandled)."),
	COUNTER("fn_timeouts", "function_timeouts_total",
		"Calls answered Sandbox.Timedout at their deadline."),
	COUNTER("late_results_discarded", "late_results_discarded_total",
		"Handlers that returned after their call was answered Timedout."),
	COUNTER("cold_starts", "cold_starts_total", "First calls of an environment."),
	COUNTER("sandbox_crashes", "sandbox_crashes_total",
		"Sandboxes that died in a call (Runtime.ExitError or OutOfMemory)."),
	COUNTER("sandbox_kills", "sandbox_kills_total", "Sandboxes killed at a call's deadline."),
	COUNTER("rx_csum_partial", "rx_checksum_partial_total",
		"UDP datagrams whose checksum the sender left partial."),
	COUNTER("queued_runs", "queued_runs_total",
		"Events the asynchronous queue handed a worker to run."),
	COUNTER("queued_answers", "queued_answers_total",
		"Answers of queued runs, back to the queue (not in responses)."),
	COUNTER("queued_runs_expired", "queued_runs_expired_total",
		"Queued runs handed over after the queue had given up on them."),
	COUNTER("queue_intake_full", "queue_intake_full_total",
		"Events answered 429 AsyncQueueFull: the queue's intake ring was full."),
	BY_LABEL("drop_*", "drops_total", PROM_COUNTER, "reason",
		 "Frames, requests and replies dropped, by reason."),
	GAUGE("mempool_in_use", "mempool_mbufs_in_use", 1, "Packet buffers in use."),
	GAUGE("mempool_size", "mempool_mbufs", 1, "Packet buffers in the pool."),
};

/* /turbine/function,NAME, one object per function. */
static const struct prom_rule prom_function_rules[] = {
	INFO("version,isolation", "function_info",
	     "The function's live version and isolation (the value is 1)."),
	GAUGE("ready", "function_ready", 1, "1 when the live version's init succeeded."),
	GAUGE("environments", "function_environments", 1, "Environments (workers) of the function."),
	GAUGE("in_flight", "function_in_flight", 1, "Calls admitted and not yet finished."),
	GAUGE("timeout_ms", "function_timeout_seconds", MS, "The function's deadline."),
	GAUGE("memory_mb", "function_memory_limit_bytes", MIB, "The function's memory limit."),
	GAUGE("max_event_bytes", "function_max_event_bytes", 1, "The largest event accepted."),
	GAUGE("reserved_concurrency", "function_reserved_concurrency", 1,
	      "Most calls in flight; 0: not reserved."),
	GAUGE("rate", "function_rate_limit_per_second", 1,
	      "Calls per second the token bucket admits; 0: no limit."),
	GAUGE("burst", "function_burst_limit", 1, "The token bucket's depth; 0: the rate."),
	COUNTER("calls", "function_calls_total", "Calls the function's handler ran."),
	COUNTER("fn_errors", "function_call_errors_total", "Calls that ended in a function error."),
	COUNTER("timeouts", "function_call_timeouts_total", "Calls that ran past their deadline."),
	COUNTER("admitted", "function_admitted_total", "Calls admitted by the limits."),
	COUNTER("denied", "function_denied_total", "Calls refused 403: the tenant may not call it."),
	BY_LABEL("throttles.*", "function_throttles_total", PROM_COUNTER, "reason",
		 "Calls refused 429, by reason."),
	QUANTILE("latency_ns.p50", "function_duration_seconds", NS, "0.5",
		 "Time inside the handler since start-up, by quantile."),
	QUANTILE("latency_ns.p99", "function_duration_seconds", NS, "0.99", NULL),
	QUANTILE("latency_ns.p999", "function_duration_seconds", NS, "0.999", NULL),
	SUMMARY_COUNT("latency_ns.count", "function_duration_seconds"),
	GAUGE("latency_ns.max", "function_duration_max_seconds", NS,
	      "The longest time inside the handler since start-up."),
	GAUGE("async_depth", "function_async_depth", 1, "The function's Events in the queue."),
	COUNTER("async_accepted", "function_async_accepted_total", "Events accepted (202)."),
	COUNTER("async_succeeded", "function_async_succeeded_total", "Events that ran successfully."),
	COUNTER("async_retried", "function_async_retried_total", "Event runs retried."),
	COUNTER("async_dead_lettered", "function_async_dead_lettered_total",
		"Events given up on and sent to the dead-letter queue."),
};

/* environments_by_worker of /turbine/function,NAME, one object per function and worker. */
static const struct prom_rule prom_environment_rules[] = {
	GAUGE("cold_start_us", "environment_cold_start_seconds", US,
	      "The environment's last cold start: init, and the sandbox's start in process mode."),
	GAUGE("warm", "environment_warm", 1, "1 once the environment has served a call."),
	STATE("sandbox_state", "environment_sandbox_state", "starting,ready,failed,dead,drained,stopped",
	      "The sandbox's state (1 for the current one)."),
	COUNTER("restarts", "environment_sandbox_restarts_total", "Sandboxes started in its place."),
};

/* /turbine/workers, one object per worker. */
static const struct prom_rule prom_worker_rules[] = {
	INFO("lcore,socket", "worker_info", "The worker's lcore and NUMA socket (the value is 1)."),
	STATE("state", "worker_state", "ok,drained,stale,stuck",
	      "Whether the worker takes calls (1 for the current state)."),
	GAUGE("busy_fraction", "worker_busy_ratio", 1, "Fraction of recent time spent in handlers."),
	GAUGE("queue_depth", "worker_queue_depth", 1, "Calls waiting in the worker's rings."),
	GAUGE("heartbeat_age_ms", "worker_heartbeat_age_seconds", MS,
	      "Time since the worker's last heartbeat."),
	GAUGE("stuck_ms", "worker_stuck_seconds", MS,
	      "How long a stuck worker has been in its handler (only while stuck)."),
};

/* /turbine/ports, one object per port. */
static const struct prom_rule prom_port_rules[] = {
	INFO("name,mac", "port_info", "The port's driver name and MAC address (the value is 1)."),
	GAUGE("rx_queues", "port_rx_queues", 1, "Receive queues."),
	GAUGE("tx_queues", "port_tx_queues", 1, "Transmit queues."),
	COUNTER("ipackets", "port_received_packets_total", "Packets received."),
	COUNTER("opackets", "port_transmitted_packets_total", "Packets transmitted."),
	COUNTER("ibytes", "port_received_bytes_total", "Bytes received."),
	COUNTER("obytes", "port_transmitted_bytes_total", "Bytes transmitted."),
	COUNTER("imissed", "port_missed_packets_total",
		"Packets the hardware dropped: receive queues full."),
	COUNTER("ierrors", "port_receive_errors_total", "Erroneous packets received."),
	COUNTER("oerrors", "port_transmit_errors_total", "Packets that failed to transmit."),
	COUNTER("rx_nombuf", "port_rx_no_buffer_total", "Receive buffer allocation failures."),
};

/* /turbine/async. */
static const struct prom_rule prom_async_rules[] = {
	INFO("backend", "async_info", "The asynchronous queue's backend (the value is 1)."),
	GAUGE("depth", "async_depth", 1, "Events in the queue."),
	GAUGE("waiting", "async_waiting", 1, "Events waiting for a retry's time."),
	GAUGE("running", "async_running", 1, "Events running."),
	GAUGE("ready", "async_ready", 1, "Events ready to run."),
	GAUGE("oldest_age_ms", "async_oldest_age_seconds", MS,
	      "Age of the oldest Event in the queue; 0 when empty."),
	COUNTER("accepted", "async_accepted_total", "Events accepted (202)."),
	COUNTER("duplicates", "async_duplicates_total",
		"Events whose idempotency key was already in the queue."),
	COUNTER("refused_full", "async_refused_full_total", "Events refused: the queue was full."),
	COUNTER("runs", "async_runs_total", "Event runs started."),
	COUNTER("succeeded", "async_succeeded_total", "Events that ran successfully."),
	BY_LABEL("retried_*", "async_retries_total", PROM_COUNTER, "reason",
		 "Event runs retried, by reason."),
	COUNTER("unanswered", "async_unanswered_total", "Event runs that got no answer."),
	COUNTER("woken", "async_wakeups_total",
		"Times an Event woke the queue's thread from its idle sleep."),
	COUNTER("dead_lettered", "async_dead_lettered_total",
		"Events given up on and sent to the dead-letter queue."),
	COUNTER("retries_exhausted", "async_retries_exhausted_total",
		"Events given up on after their last retry."),
	COUNTER("aged_out", "async_aged_out_total", "Events given up on past their maximum age."),
	COUNTER("to_success_log", "async_to_success_log_total",
		"Successes recorded in the success log (on_success)."),
	COUNTER("to_function", "async_to_function_total",
		"Outcomes sent on to a destination function."),
	QUANTILE("accept_p50_us", "async_accept_duration_seconds", US, "0.5",
		 "Time to accept an Event (the 202), by quantile."),
	QUANTILE("accept_p99_us", "async_accept_duration_seconds", US, "0.99", NULL),
	COUNTER("replayed", "async_replayed_total", "Events replayed from the log at start-up."),
	COUNTER("torn", "async_torn_records_total", "Torn records found in the log at start-up."),
	GAUGE("segments", "async_log_segments", 1, "Segments of the queue's log on disk."),
	COUNTER("reclaimed", "async_reclaimed_segments_total", "Log segments reclaimed."),
	GAUGE("log_bytes", "async_log_bytes", 1, "Size of the queue's log on disk."),
	COUNTER("syncs", "async_syncs_total", "Syncs of the queue's log to disk."),
	GAUGE("last_sync_us", "async_last_sync_duration_seconds", US,
	      "How long the last sync of the log took."),
};

/* One object of a section and the labels naming it (function="echo", worker="3"). */
struct prom_object {
	const char *label[PROM_MAX_LABELS];
	const char *value[PROM_MAX_LABELS];
	const json_t *obj;
};

/* The family being written: its header goes out with its first sample, so an empty one has none. */
struct prom_family {
	FILE *out;
	const char *name;       /* after "turbine_" */
	enum prom_type type;
	const char *help;
	bool begun;
};

static void
prom_escape(FILE *out, const char *s, bool quote)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\')
			fputs("\\\\", out);
		else if (*s == '\n')
			fputs("\\n", out);
		else if (*s == '"' && quote)
			fputs("\\\"", out);
		else
			fputc(*s, out);
	}
}

static void
prom_label(FILE *out, bool *first, const char *name, const char *value)
{
	fputs(*first ? "{" : ",", out);
	*first = false;
	fprintf(out, "%s=\"", name);
	prom_escape(out, value, true);
	fputc('"', out);
}

/*
 * One sample: the object's labels, then `extra` pairs (NULL-ended). The
 * header goes first when this is the family's first sample.
 */
static void
prom_sample(struct prom_family *fam, const char *suffix, const struct prom_object *o,
	    const char *const *extra, const char *value)
{
	FILE *out = fam->out;
	bool first = true;
	unsigned int i;

	if (!fam->begun) {
		fprintf(out, "# HELP %s%s ", PROM_PREFIX, fam->name);
		prom_escape(out, fam->help != NULL ? fam->help : "", false);
		fprintf(out, "\n# TYPE %s%s %s\n", PROM_PREFIX, fam->name, prom_type_names[fam->type]);
		fam->begun = true;
	}
	fprintf(out, "%s%s%s", PROM_PREFIX, fam->name, suffix);
	for (i = 0; i < PROM_MAX_LABELS && o->label[i] != NULL; i++)
		prom_label(out, &first, o->label[i], o->value[i]);
	for (; extra != NULL && extra[0] != NULL; extra += 2)
		prom_label(out, &first, extra[0], extra[1]);
	fprintf(out, "%s %s\n", first ? "" : "}", value);
}

/*
 * A telemetry value as a sample's value, in base units. rte_telemetry has no
 * float or boolean in this release: fractions come as strings, truths as
 * integers. false for anything else.
 */
static bool
prom_value(const json_t *v, double scale, char *buf, size_t len)
{
	double d;
	char *end;

	if (json_is_integer(v) && scale == 1) {
		snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return true;
	}
	if (json_is_integer(v) || json_is_real(v)) {
		d = json_number_value(v);
	} else if (json_is_boolean(v)) {
		d = json_is_true(v);
	} else if (json_is_string(v) && json_string_value(v)[0] != '\0') {
		d = strtod(json_string_value(v), &end);
		if (*end != '\0')
			return false;
	} else {
		return false;
	}
	d *= scale;
	if (isnan(d))
		snprintf(buf, len, "NaN");
	else if (isinf(d))
		snprintf(buf, len, "%sInf", d > 0 ? "+" : "-");
	else
		snprintf(buf, len, "%.15g", d);
	return true;
}

/* A member as a label value: strings as they are, anything else as its JSON text. */
static char *
prom_label_text(const json_t *v)
{
	return json_is_string(v) ? strdup(json_string_value(v)) : json_dumps(v, JSON_ENCODE_ANY);
}

/* Every member of `obj` that `key` names: one, or each one a trailing '*' prefixes. */
static void
prom_member(struct prom_family *fam, const struct prom_rule *r, const struct prom_object *o)
{
	const char *key = r->key, *dot = strchr(key, '.');
	const json_t *obj = o->obj, *v;
	const char *extra[3] = { NULL, NULL, NULL };
	char buf[64], head[64];
	size_t plen;

	if (dot != NULL) {
		snprintf(head, sizeof(head), "%.*s", (int)(dot - key), key);
		obj = json_object_get(obj, head);
		key = dot + 1;
	}
	if (!json_is_object(obj))
		return;
	plen = strlen(key);
	if (plen > 0 && key[plen - 1] == '*') {
		const char *name;

		plen--;
		extra[0] = r->label;
		json_object_foreach((json_t *)obj, name, v) {
			if (strncmp(name, key, plen) != 0 || name[plen] == '\0' ||
			    !prom_value(v, r->scale, buf, sizeof(buf)))
				continue;
			extra[1] = name + plen;
			prom_sample(fam, r->suffix, o, extra, buf);
		}
		return;
	}
	if (r->label != NULL) {
		extra[0] = r->label;
		extra[1] = r->value;
	}
	if (prom_value(json_object_get(obj, key), r->scale, buf, sizeof(buf)))
		prom_sample(fam, r->suffix, o, extra, buf);
}

/* An info metric: 1, labelled with the members the comma-separated key lists. */
static void
prom_info(struct prom_family *fam, const struct prom_rule *r, const struct prom_object *o)
{
	const char *extra[2 * 4 + 1] = { NULL };
	char names[128], *save = NULL, *tok;
	char *text[4] = { NULL };
	unsigned int n = 0, i;

	snprintf(names, sizeof(names), "%s", r->key);
	for (tok = strtok_r(names, ",", &save); tok != NULL && n < 4; tok = strtok_r(NULL, ",", &save)) {
		const json_t *v = json_object_get(o->obj, tok);

		if (v == NULL || (text[n] = prom_label_text(v)) == NULL)
			continue;
		extra[2 * n] = tok;
		extra[2 * n + 1] = text[n];
		n++;
	}
	if (n > 0)
		prom_sample(fam, "", o, extra, "1");
	for (i = 0; i < n; i++)
		free(text[i]);
}

/* An enumeration: one sample per state the rule lists, and one for a state it does not know. */
static void
prom_state(struct prom_family *fam, const struct prom_rule *r, const struct prom_object *o)
{
	const json_t *v = json_object_get(o->obj, r->key);
	const char *extra[3] = { r->label, NULL, NULL };
	char states[128], *save = NULL, *tok;
	const char *now;
	bool known = false;

	if (!json_is_string(v))
		return;
	now = json_string_value(v);
	snprintf(states, sizeof(states), "%s", r->value);
	for (tok = strtok_r(states, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		extra[1] = tok;
		known |= strcmp(tok, now) == 0;
		prom_sample(fam, "", o, extra, strcmp(tok, now) == 0 ? "1" : "0");
	}
	if (!known) {
		extra[1] = now;
		prom_sample(fam, "", o, extra, "1");
	}
}

/* Each family of the rules over each object; an object's samples of one family stay together. */
static void
prom_section(FILE *out, const struct prom_rule *rules, size_t nb_rules,
	     const struct prom_object *objs, size_t nb_objs)
{
	size_t i, j, end, k;

	for (i = 0; i < nb_rules; i = end) {
		struct prom_family fam = { out, rules[i].family, rules[i].type, rules[i].help, false };

		for (end = i + 1; end < nb_rules && strcmp(rules[end].family, fam.name) == 0; end++)
			;
		for (k = 0; k < nb_objs; k++) {
			for (j = i; j < end; j++) {
				if (rules[j].kind == PROM_INFO)
					prom_info(&fam, &rules[j], &objs[k]);
				else if (rules[j].kind == PROM_STATE)
					prom_state(&fam, &rules[j], &objs[k]);
				else
					prom_member(&fam, &rules[j], &objs[k]);
			}
		}
	}
}

static bool
prom_claimed(const struct prom_rule *rules, size_t n, const char *name)
{
	size_t i, len;

	for (i = 0; i < n; i++) {
		len = strlen(rules[i].key);
		if (rules[i].key[len - 1] == '*' ? strncmp(name, rules[i].key, len - 1) == 0
						 : strcmp(name, rules[i].key) == 0)
			return true;
	}
	return false;
}

/*
 * A counter /turbine/stats has and the table does not (one added to the data
 * plane since): exposed all the same, as turbine_NAME_total.
 */
static void
prom_stats_rest(FILE *out, const json_t *stats)
{
	static const struct prom_object none = { { NULL }, { NULL }, NULL };
	const char *name;
	char family[128], help[192], buf[64];
	const json_t *v;
	size_t i;

	json_object_foreach((json_t *)stats, name, v) {
		struct prom_family fam = { out, family, PROM_COUNTER, help, false };

		if (prom_claimed(prom_stats_rules, PROM_DIM(prom_stats_rules), name) ||
		    !prom_value(v, 1, buf, sizeof(buf)))
			continue;
		snprintf(family, sizeof(family), "%s_total", name);
		for (i = 0; family[i] != '\0'; i++)
			if (!(family[i] >= 'a' && family[i] <= 'z') && !(family[i] >= 'A' && family[i] <= 'Z') &&
			    !(family[i] >= '0' && family[i] <= '9'))
				family[i] = '_';
		snprintf(help, sizeof(help), "The data-plane counter %s.", name);
		prom_sample(&fam, "", &none, NULL, buf);
	}
}

/*
 * The members of an object of objects as objects of a section, each labelled
 * label=NAME after the labels of `parent` (when given). objs has room for
 * every member; returns how many it filled.
 */
static size_t
prom_children(const json_t *rows, const char *label, const struct prom_object *parent,
	      struct prom_object *objs)
{
	struct prom_object o = { { NULL }, { NULL }, NULL };
	unsigned int depth = 0;
	const char *name;
	const json_t *v;
	size_t k = 0;

	if (parent != NULL)
		o = *parent;
	while (depth < PROM_MAX_LABELS - 1 && o.label[depth] != NULL)
		depth++;
	o.label[depth] = label;
	json_object_foreach((json_t *)rows, name, v) {
		if (!json_is_object(v))
			continue;
		o.value[depth] = name;
		o.obj = v;
		objs[k++] = o;
	}
	return k;
}

/* A count of the members of an object of objects: functions, workers. */
static void
prom_count(FILE *out, const char *family, const char *help, const json_t *rows)
{
	static const struct prom_object none = { { NULL }, { NULL }, NULL };
	struct prom_family fam = { out, family, PROM_GAUGE, help, false };
	const char *name;
	const json_t *v;
	unsigned int n = 0;
	char buf[16];

	json_object_foreach((json_t *)rows, name, v)
		n += json_is_object(v);
	snprintf(buf, sizeof(buf), "%u", n);
	prom_sample(&fam, "", &none, NULL, buf);
}

/* Functions, and their environments labelled by function and worker. */
static int
prom_functions(FILE *out, const json_t *functions)
{
	size_t nb_fns = json_object_size(functions), nb_envs = 0, i;
	struct prom_object *fns, *envs;

	prom_count(out, "functions", "Functions deployed.", functions);
	if (nb_fns == 0)
		return 0;
	fns = calloc(nb_fns, sizeof(*fns));
	if (fns == NULL)
		return -ENOMEM;
	nb_fns = prom_children(functions, "function", NULL, fns);
	prom_section(out, prom_function_rules, PROM_DIM(prom_function_rules), fns, nb_fns);

	for (i = 0; i < nb_fns; i++)
		nb_envs += json_object_size(json_object_get(fns[i].obj, "environments_by_worker"));
	envs = calloc(nb_envs + 1, sizeof(*envs));
	if (envs == NULL) {
		free(fns);
		return -ENOMEM;
	}
	for (i = 0, nb_envs = 0; i < nb_fns; i++)
		nb_envs += prom_children(json_object_get(fns[i].obj, "environments_by_worker"),
					 "worker", &fns[i], envs + nb_envs);
	prom_section(out, prom_environment_rules, PROM_DIM(prom_environment_rules), envs, nb_envs);
	free(envs);
	free(fns);
	return 0;
}

static int
prom_workers(FILE *out, const json_t *workers)
{
	size_t n = json_object_size(workers);
	struct prom_object *objs;

	prom_count(out, "workers", "Workers (lcores running handlers).", workers);
	if (n == 0)
		return 0;
	objs = calloc(n, sizeof(*objs));
	if (objs == NULL)
		return -ENOMEM;
	n = prom_children(workers, "worker", NULL, objs);
	prom_section(out, prom_worker_rules, PROM_DIM(prom_worker_rules), objs, n);
	free(objs);
	return 0;
}

/* turbine serves one port and says which in member "port"; without one, an object of ports. */
static int
prom_ports(FILE *out, const json_t *ports)
{
	size_t n = json_object_size(ports);
	struct prom_object *objs;
	char *id;

	if (json_object_get(ports, "port") != NULL) {
		struct prom_object one = { { "port" }, { NULL }, ports };

		id = prom_label_text(json_object_get(ports, "port"));
		if (id == NULL)
			return -ENOMEM;
		one.value[0] = id;
		prom_section(out, prom_port_rules, PROM_DIM(prom_port_rules), &one, 1);
		free(id);
		return 0;
	}
	if (n == 0)
		return 0;
	objs = calloc(n, sizeof(*objs));
	if (objs == NULL)
		return -ENOMEM;
	n = prom_children(ports, "port", NULL, objs);
	prom_section(out, prom_port_rules, PROM_DIM(prom_port_rules), objs, n);
	free(objs);
	return 0;
}

int
prometheus_format(FILE *out, const struct prometheus_input *in)
{
	struct prom_object one = { { NULL }, { NULL }, NULL };
	int rc = 0;

	if (json_is_object(in->stats)) {
		one.obj = in->stats;
		prom_section(out, prom_stats_rules, PROM_DIM(prom_stats_rules), &one, 1);
		prom_stats_rest(out, in->stats);
	}
	if (json_is_object(in->functions))
		rc = prom_functions(out, in->functions);
	if (rc == 0 && json_is_object(in->workers))
		rc = prom_workers(out, in->workers);
	if (rc == 0 && json_is_object(in->ports))
		rc = prom_ports(out, in->ports);
	if (rc == 0 && json_is_object(in->async)) {
		one.obj = in->async;
		prom_section(out, prom_async_rules, PROM_DIM(prom_async_rules), &one, 1);
	}
	if (rc == 0 && ferror(out))
		rc = -EIO;
	return rc;
}
