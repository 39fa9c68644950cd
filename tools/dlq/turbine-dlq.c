/* turbine-dlq: list, show, redrive and purge the asynchronous queue's dead-letter queue and success log. */
#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <time.h>

#include <jansson.h>
#include <msgpack.h>

#include "async_log.h"
#include "async_record.h"
#include "async_store.h"
#include "dlq_nats.h"
#include "format.h"
#include "json_msgpack.h"
#include "request.h"
#include "telemetry_client.h"

/* Exit codes, as turbinectl's and as --help documents them. */
enum {
	DLQ_EXIT_OK = 0,
	DLQ_EXIT_FAILED = 1,      /* an unknown event, a file that is not a record, an I/O error */
	DLQ_EXIT_UNREACHABLE = 2, /* the running turbine's telemetry, or NATS, did not answer */
	DLQ_EXIT_USAGE = 64,      /* bad option or argument (EX_USAGE) */
};

/* Where a turbine keeps its queue unless --async-dir says otherwise. */
#define DLQ_STATE_DIR "/var/lib/turbine"
#define DLQ_TIMEOUT_MS 5000
/* An entry's fields besides the event: names, key, trace and counts come to well under this. */
#define DLQ_ENTRY_OVERHEAD 1024

struct dlq_args {
	const char *dir;          /* --dir */
	const char *file_prefix;  /* -f */
	const char *to;           /* redrive --to */
	const char *nats;         /* --nats URL: the jetstream backend's streams */
	const char *stream;       /* --stream NAME */
	bool success;
	bool json;
	bool all;
	int argc;                 /* the command's own arguments, after its name */
	char **argv;
};

/* What a command works on, once the arguments are checked. */
struct dlq_target {
	const char *dir;
	enum async_store_kind kind;
	struct async_event_id *ids;   /* the EVENT_IDs given; NULL with --all */
	int nb_ids;
	struct dlq_nats *nats;        /* --nats: the records are in a stream, not in dir */
};

/* The records' store: a folder of the local queue, or a stream of the jetstream one. */
static int
dlq_store_get(const struct dlq_target *t, const struct async_event_id *id, uint8_t **data,
	      size_t *len)
{
	if (t->nats != NULL)
		return dlq_nats_get(t->nats, id, data, len);
	return async_store_get(t->dir, t->kind, id, data, len);
}

static int
dlq_store_list(const struct dlq_target *t, struct async_event_id **ids)
{
	if (t->nats != NULL)
		return dlq_nats_list(t->nats, ids);
	return async_store_list(t->dir, t->kind, ids);
}

static int
dlq_store_remove(const struct dlq_target *t, const struct async_event_id *id)
{
	if (t->nats != NULL)
		return dlq_nats_remove(t->nats, id);
	return async_store_remove(t->dir, t->kind, id);
}

/* Where the records are, in messages. */
static const char *
dlq_where(const struct dlq_target *t)
{
	return t->nats != NULL ? dlq_nats_stream(t->nats) : async_store_folder(t->kind);
}

/* One destination file, read and decoded; the record's objects point into data. */
struct dlq_record {
	uint8_t *data;
	msgpack_zone *zone;
	struct async_event *ev;
	msgpack_object record;
};

struct dlq_command {
	const char *name;
	const char *synopsis;
	const char *help;
	int min_ids;              /* EVENT_IDs it takes */
	int max_ids;              /* -1: no limit */
	bool all;                 /* --all instead of EVENT_IDs */
	int (*run)(const struct dlq_args *a, const struct dlq_target *t);
};

static void
dlq_path(char *path, size_t len, const struct dlq_target *t, const struct async_event_id *id)
{
	char text[ASYNC_EVENT_ID_TEXT];

	async_event_id_format(id, text);
	if (t->nats != NULL) {
		snprintf(path, len, "%s: %s", dlq_nats_stream(t->nats), text);
		return;
	}
	snprintf(path, len, "%s/%s/%s.mp", t->dir, async_store_folder(t->kind), text);
}

static void
dlq_record_free(struct dlq_record *r)
{
	free(r->ev);
	if (r->zone != NULL)
		msgpack_zone_free(r->zone);
	free(r->data);
	memset(r, 0, sizeof(*r));
}

/*
 * Read one record. 0; -ENOENT (nothing printed: what that means depends on
 * the command); or -1 with the reason printed.
 */
static int
dlq_load(const struct dlq_target *t, const struct async_event_id *id, struct dlq_record *r)
{
	char path[PATH_MAX];
	size_t len;
	int rc;

	memset(r, 0, sizeof(*r));
	dlq_path(path, sizeof(path), t, id);
	rc = dlq_store_get(t, id, &r->data, &len);
	if (rc == -ENOENT)
		return rc;
	if (rc < 0) {
		warnx("%s: %s", path, strerror(-rc));
		return -1;
	}
	r->zone = msgpack_zone_new(MSGPACK_ZONE_CHUNK_SIZE);
	if (r->zone == NULL) {
		warnx("out of memory");
		dlq_record_free(r);
		return -1;
	}
	r->ev = async_stored_event(r->data, len, r->zone, &r->record);
	if (r->ev == NULL) {
		warnx("%s: not a destination record", path);
		dlq_record_free(r);
		return -1;
	}
	/* A file renamed by hand would otherwise act on another event than its name says. */
	if (memcmp(&r->ev->id, id, sizeof(*id)) != 0) {
		warnx("%s: holds the record of another event", path);
		dlq_record_free(r);
		return -1;
	}
	return 0;
}

static void
dlq_not_found(const struct dlq_target *t, const struct async_event_id *id)
{
	char text[ASYNC_EVENT_ID_TEXT];

	async_event_id_format(id, text);
	if (t->nats != NULL)
		warnx("event %s: not in %s", text, dlq_nats_stream(t->nats));
	else
		warnx("event %s: not in %s/%s", text, t->dir, async_store_folder(t->kind));
}

/* Every EVENT_ID given is there and readable before anything changes: a typo changes nothing. */
static int
dlq_check_ids(const struct dlq_target *t)
{
	struct dlq_record r;
	int i, rc, failed = 0;

	for (i = 0; i < t->nb_ids; i++) {
		rc = dlq_load(t, &t->ids[i], &r);
		if (rc == -ENOENT)
			dlq_not_found(t, &t->ids[i]);
		if (rc < 0)
			failed = 1;
		dlq_record_free(&r);
	}
	return failed ? -1 : 0;
}

/* The ids to act on: those given, or every file in the folder with --all. */
static int
dlq_ids(const struct dlq_target *t, struct async_event_id **ids)
{
	int n;

	if (t->ids != NULL) {
		*ids = t->ids;
		return t->nb_ids;
	}
	n = dlq_store_list(t, ids);
	if (n < 0)
		warnx("%s/%s: %s", t->dir, dlq_where(t), strerror(-n));
	return n;
}

/* PROTOCOL.md's record as JSON, with the tenant it was for. */
static json_t *
dlq_record_json(const struct dlq_record *r)
{
	json_t *j = json_msgpack_to_json(&r->record);

	if (j == NULL || json_object_set_new(j, "tenant", json_string(r->ev->tenant)) < 0) {
		json_decref(j);
		return NULL;
	}
	return j;
}

/* The table's row: what an operator picks an event by. */
static json_t *
dlq_record_row(const json_t *rec)
{
	const json_t *ctx = json_object_get(rec, "requestContext");

	return json_pack("{s:O?,s:O?,s:O?,s:O?}",
			 "function", json_object_get(ctx, "function"),
			 "condition", json_object_get(ctx, "condition"),
			 "approximateInvokeCount", json_object_get(ctx, "approximateInvokeCount"),
			 "timestamp", json_object_get(rec, "timestamp"));
}

static int
dlq_print_table(const json_t *rows)
{
	static const struct format_column lead[] = {
		{ "function", "FUNCTION", FORMAT_PLAIN },
		{ "condition", "CONDITION", FORMAT_PLAIN },
		{ "approximateInvokeCount", "INVOKES", FORMAT_PLAIN },
		{ "timestamp", "TIMESTAMP", FORMAT_PLAIN },
		{ NULL, NULL, FORMAT_PLAIN },
	};
	static const struct format_table_spec spec = { "EVENT_ID", lead, NULL };

	if (json_object_size(rows) == 0)
		return 0;
	return format_table(stdout, rows, &spec);
}

/* One record of --json's array, printed as soon as read: a large folder need not fit in memory. */
static int
dlq_print_json(const json_t *rec, bool first)
{
	char *dump = json_dumps(rec, JSON_COMPACT);

	if (dump == NULL)
		return -1;
	printf("%s%s", first ? "" : ",", dump);
	free(dump);
	return 0;
}

/* A file that vanished since the listing was redriven or purged meanwhile: not an error. */
static int
dlq_list(const struct dlq_args *a, const struct dlq_target *t)
{
	char text[ASYNC_EVENT_ID_TEXT];
	struct async_event_id *ids;
	int n, i, rc, status = DLQ_EXIT_OK;
	bool first = true;
	struct dlq_record r;
	json_t *rows, *rec;

	n = dlq_ids(t, &ids);
	if (n < 0)
		return DLQ_EXIT_FAILED;
	rows = json_object();
	if (rows == NULL)
		goto nomem;
	if (a->json)
		fputc('[', stdout);
	for (i = 0; i < n; i++) {
		rc = dlq_load(t, &ids[i], &r);
		if (rc == -ENOENT)
			continue;
		if (rc < 0) {
			status = DLQ_EXIT_FAILED;
			continue;
		}
		rec = dlq_record_json(&r);
		dlq_record_free(&r);
		if (rec == NULL)
			goto nomem;
		async_event_id_format(&ids[i], text);
		rc = a->json ? dlq_print_json(rec, first) :
		     json_object_set_new(rows, text, dlq_record_row(rec));
		json_decref(rec);
		if (rc < 0)
			goto nomem;
		first = false;
	}
	if (a->json)
		fputs("]\n", stdout);
	else if (dlq_print_table(rows) < 0)
		goto nomem;
	json_decref(rows);
	free(ids);
	return status;
nomem:
	warnx("out of memory");
	json_decref(rows);
	free(ids);
	return DLQ_EXIT_FAILED;
}

static int
dlq_show(const struct dlq_args *a, const struct dlq_target *t)
{
	struct dlq_record r;
	char *dump = NULL;
	json_t *rec;
	int rc;

	(void)a;
	rc = dlq_load(t, &t->ids[0], &r);
	if (rc == -ENOENT)
		dlq_not_found(t, &t->ids[0]);
	if (rc < 0)
		return DLQ_EXIT_FAILED;
	rec = dlq_record_json(&r);
	if (rec != NULL)
		dump = json_dumps(rec, JSON_INDENT(2));
	json_decref(rec);
	dlq_record_free(&r);
	if (dump == NULL) {
		warnx("out of memory");
		return DLQ_EXIT_FAILED;
	}
	printf("%s\n", dump);
	free(dump);
	return DLQ_EXIT_OK;
}

static uint64_t
dlq_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* --to NAME[:QUALIFIER], checked as a request's fn is. */
static int
dlq_parse_to(const char *to, struct async_event *ev)
{
	const char *colon = strchr(to, ':');
	size_t name_len = colon != NULL ? (size_t)(colon - to) : strlen(to);

	if (name_len > CONFIG_NAME_MAX || !request_name_valid(to, (uint32_t)name_len))
		return -1;
	if (colon != NULL && (strlen(colon + 1) > ASYNC_QUALIFIER_MAX ||
			      !request_qualifier_valid(colon + 1, (uint32_t)strlen(colon + 1))))
		return -1;
	if (ev == NULL)
		return 0;
	memcpy(ev->function, to, name_len);
	ev->function[name_len] = '\0';
	strcpy(ev->qualifier, colon != NULL ? colon + 1 : "");
	return 0;
}

/*
 * The event goes back as a new ENQUEUE entry under its own id, durable in
 * redrive/ before its record leaves the folder: a crash in between leaves
 * it in both places, never in neither.
 */
static int
dlq_redrive_one(const struct dlq_args *a, const struct dlq_target *t,
		const struct async_event_id *id)
{
	char text[ASYNC_EVENT_ID_TEXT];
	struct dlq_record r;
	struct async_event *ev;
	size_t cap, len;
	uint8_t *buf;
	int rc;

	async_event_id_format(id, text);
	rc = dlq_load(t, id, &r);
	if (rc == -ENOENT)
		return 0;   /* redriven or purged since the listing */
	if (rc < 0)
		return -1;
	ev = r.ev;
	ev->attempts = 0;
	ev->throttles = 0;
	ev->accepted_ns = dlq_now_ns();
	if (a->to != NULL)
		dlq_parse_to(a->to, ev);
	cap = (size_t)ev->event_len + DLQ_ENTRY_OVERHEAD;
	buf = malloc(cap);
	len = buf != NULL ? async_entry_enqueue(ev, buf, cap) : 0;
	if (len == 0 || len > ASYNC_LOG_MAX_ENTRY) {
		warnx("event %s: %s", text, buf == NULL ? "out of memory" :
		      "its entry would be larger than the queue's log takes");
		rc = -1;
		goto out;
	}
	if (t->nats != NULL)
		rc = dlq_nats_redrive(t->nats, ev, buf, len);
	else
		rc = async_store_put(t->dir, ASYNC_STORE_REDRIVE, id, buf, len, true);
	if (rc < 0) {
		warnx("%s/%s: writing %s: %s", t->dir, async_store_folder(ASYNC_STORE_REDRIVE), text,
		      strerror(-rc));
		goto out;
	}
	rc = dlq_store_remove(t, id);
	if (rc < 0 && rc != -ENOENT) {
		warnx("%s/%s: removing %s (already redriven): %s", t->dir, dlq_where(t), text,
		      strerror(-rc));
		goto out;
	}
	printf("%s redriven to %s%s%s\n", text, ev->function, ev->qualifier[0] != '\0' ? ":" : "",
	       ev->qualifier);
	rc = 0;
out:
	free(buf);
	dlq_record_free(&r);
	return rc;
}

static int
dlq_redrive(const struct dlq_args *a, const struct dlq_target *t)
{
	struct async_event_id *ids;
	int n, i, rc = DLQ_EXIT_OK;

	if (t->ids != NULL && dlq_check_ids(t) < 0)
		return DLQ_EXIT_FAILED;
	n = dlq_ids(t, &ids);
	if (n < 0)
		return DLQ_EXIT_FAILED;
	for (i = 0; i < n && rc == DLQ_EXIT_OK; i++)
		if (dlq_redrive_one(a, t, &ids[i]) < 0)
			rc = DLQ_EXIT_FAILED;
	if (ids != t->ids)
		free(ids);
	return rc;
}

static int
dlq_purge(const struct dlq_args *a, const struct dlq_target *t)
{
	char text[ASYNC_EVENT_ID_TEXT];
	struct async_event_id *ids;
	int n, i, err, rc = DLQ_EXIT_OK;

	(void)a;
	if (t->ids != NULL && dlq_check_ids(t) < 0)
		return DLQ_EXIT_FAILED;
	n = dlq_ids(t, &ids);
	if (n < 0)
		return DLQ_EXIT_FAILED;
	for (i = 0; i < n && rc == DLQ_EXIT_OK; i++) {
		async_event_id_format(&ids[i], text);
		err = dlq_store_remove(t, &ids[i]);
		if (err == -ENOENT)
			continue;
		if (err < 0) {
			warnx("%s/%s: removing %s: %s", t->dir, dlq_where(t), text, strerror(-err));
			rc = DLQ_EXIT_FAILED;
			continue;
		}
		printf("%s purged\n", text);
	}
	if (ids != t->ids)
		free(ids);
	return rc;
}

static const struct dlq_command dlq_commands[] = {
	{ "list", "list [--json]",
	  "one line per record: event id, function (name:version), condition,\n"
	  "approximateInvokeCount, timestamp; --json: a JSON array of the records\n"
	  "(PROTOCOL.md's fields, payloads as JSON, each with \"tenant\" added)",
	  0, 0, false, dlq_list },
	{ "show", "show EVENT_ID", "one record as indented JSON, as list --json has it",
	  1, 1, false, dlq_show },
	{ "redrive", "redrive [--to FUNCTION] EVENT_ID... | --all",
	  "send events back to the queue: each is written durably to redrive/ as a\n"
	  "new event with the same id (no tries counted, accepted now), then leaves\n"
	  "the folder; the running queue, or the next to start, takes it from there.\n"
	  "--to NAME[:QUALIFIER] sends them to another function",
	  1, -1, true, dlq_redrive },
	{ "purge", "purge EVENT_ID... | --all", "delete records",
	  1, -1, true, dlq_purge },
};

#define DLQ_NB_COMMANDS (sizeof(dlq_commands) / sizeof(dlq_commands[0]))

static void
dlq_usage(FILE *out)
{
	unsigned int i;
	const char *p;

	fprintf(out,
		"Usage: %s [--dir DIR | -f PREFIX | --nats URL [--stream NAME]] [--success]\n"
		"       COMMAND [ARGS...]\n"
		"\n"
		"Look after the asynchronous queue's dead-letter queue (events that ran out of\n"
		"retries or of age) and success log: list and show their records, send events\n"
		"back to be run again, delete them.\n"
		"\n"
		"Commands:\n", program_invocation_short_name);
	for (i = 0; i < DLQ_NB_COMMANDS; i++) {
		fprintf(out, "  %s\n      ", dlq_commands[i].synopsis);
		for (p = dlq_commands[i].help; *p != '\0'; p++) {
			fputc(*p, out);
			if (*p == '\n')
				fputs("      ", out);
		}
		fputc('\n', out);
	}
	fprintf(out,
		"\n"
		"EVENT_ID is the event_id a 202 answer gave: 8-4-4-4-12 hex digits. When one of\n"
		"several given is not there, nothing is changed.\n"
		"\n"
		"Options:\n"
		"      --dir DIR         the queue's directory (turbine's --async-dir)\n"
		"  -f, --file-prefix P   the queue of the turbine run with EAL --file-prefix P (default\n"
		"                        %s): while it runs, the directory its telemetry reports\n"
		"                        (/turbine/async); otherwise %s/P\n"
		"      --nats URL        the jetstream backend's queue (async_backend = \"jetstream\"):\n"
		"                        its records are in the NAME_DLQ and NAME_OK streams, a\n"
		"                        redrive publishes into NAME.events\n"
		"      --stream NAME     the backend's nats_stream (default TURBINE)\n"
		"      --success         the success log (success/, NAME_OK) instead of the dead-letter\n"
		"                        queue (dlq/, NAME_DLQ); its records can be redriven too\n"
		"      --json            list only: print JSON\n"
		"      --to FUNCTION     redrive only: NAME[:QUALIFIER] to send the events to\n"
		"      --all             redrive and purge: every record in the folder\n"
		"  -h, --help            print this help and exit\n"
		"\n"
		"Files: DIR/dlq/<event_id>.mp and DIR/success/<event_id>.mp, one MessagePack map\n"
		"{tenant, function, record} each; DIR/redrive/<event_id>.mp, the queue's log entry.\n"
		"\n"
		"Exit status:\n"
		"  0   success\n"
		"  1   failed: an event that is not there, a file that is not a record, or an I/O\n"
		"      error (each printed on stderr)\n"
		"  2   the running turbine's telemetry socket, or NATS (--nats), could not be used\n"
		"      or did not answer\n"
		"  64  usage error: bad option or argument\n",
		TELEMETRY_CLIENT_DEFAULT_PREFIX, DLQ_STATE_DIR);
}

static const struct dlq_command *
dlq_find_command(const char *name)
{
	unsigned int i;

	for (i = 0; i < DLQ_NB_COMMANDS; i++)
		if (strcmp(dlq_commands[i].name, name) == 0)
			return &dlq_commands[i];
	return NULL;
}

static int
dlq_parse_args(int argc, char **argv, struct dlq_args *a)
{
	enum { OPT_DIR = 256, OPT_SUCCESS, OPT_JSON, OPT_TO, OPT_ALL, OPT_NATS, OPT_STREAM };
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, OPT_DIR },
		{ "file-prefix", required_argument, NULL, 'f' },
		{ "success", no_argument, NULL, OPT_SUCCESS },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "to", required_argument, NULL, OPT_TO },
		{ "all", no_argument, NULL, OPT_ALL },
		{ "nats", required_argument, NULL, OPT_NATS },
		{ "stream", required_argument, NULL, OPT_STREAM },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	opterr = 0;
	/* Options may follow the command too (`turbine-dlq list --json`): getopt permutes. */
	while ((c = getopt_long(argc, argv, ":f:h", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			dlq_usage(stdout);
			exit(DLQ_EXIT_OK);
		case 'f':
			if (optarg[0] == '\0' || strchr(optarg, '/') != NULL) {
				warnx("--file-prefix: '%s' is not a file prefix", optarg);
				return -1;
			}
			a->file_prefix = optarg;
			break;
		case OPT_DIR:
			if (optarg[0] == '\0') {
				warnx("--dir is empty");
				return -1;
			}
			a->dir = optarg;
			break;
		case OPT_SUCCESS:
			a->success = true;
			break;
		case OPT_JSON:
			a->json = true;
			break;
		case OPT_TO:
			if (dlq_parse_to(optarg, NULL) < 0) {
				warnx("--to: '%s' is not NAME[:QUALIFIER] (a name is 1..%d of "
				      "[A-Za-z0-9_-], a qualifier 1..%d of [A-Za-z0-9_$-])", optarg,
				      CONFIG_NAME_MAX, ASYNC_QUALIFIER_MAX);
				return -1;
			}
			a->to = optarg;
			break;
		case OPT_ALL:
			a->all = true;
			break;
		case OPT_NATS:
			a->nats = optarg;
			break;
		case OPT_STREAM:
			if (optarg[0] == '\0' || strlen(optarg) > 24 || strpbrk(optarg, ". *>") != NULL) {
				warnx("--stream: '%s' is not a stream name", optarg);
				return -1;
			}
			a->stream = optarg;
			break;
		case ':':
			warnx("%s: missing argument", argv[optind - 1]);
			return -1;
		default:
			if (optopt > 0 && optopt < 256)
				warnx("unknown option '-%c' (see --help)", optopt);
			else if (optopt != 0)
				warnx("'%s': the option takes no argument", argv[optind - 1]);
			else
				warnx("unknown option '%s' (see --help)", argv[optind - 1]);
			return -1;
		}
	}
	if ((a->dir != NULL) + (a->file_prefix != NULL) + (a->nats != NULL) > 1) {
		warnx("give one of --dir, --file-prefix and --nats");
		return -1;
	}
	if (a->stream != NULL && a->nats == NULL) {
		warnx("--stream is for --nats only");
		return -1;
	}
	if (optind >= argc) {
		warnx("missing COMMAND (see --help)");
		return -1;
	}
	a->argc = argc - optind - 1;
	a->argv = argv + optind + 1;
	return optind;
}

/* The options and arguments one command takes; EVENT_IDs parsed into t. */
static int
dlq_check_command(const struct dlq_args *a, const struct dlq_command *cmd, struct dlq_target *t)
{
	int i;

	if (a->json && strcmp(cmd->name, "list") != 0) {
		warnx("--json is for list only");
		return -1;
	}
	if (a->to != NULL && strcmp(cmd->name, "redrive") != 0) {
		warnx("--to is for redrive only");
		return -1;
	}
	if (a->all && !cmd->all) {
		warnx("--all is for redrive and purge only");
		return -1;
	}
	if (a->all && a->argc > 0) {
		warnx("give EVENT_IDs or --all, not both");
		return -1;
	}
	if (!a->all && (a->argc < cmd->min_ids || (cmd->max_ids >= 0 && a->argc > cmd->max_ids))) {
		warnx("usage: %s %s", program_invocation_short_name, cmd->synopsis);
		return -1;
	}
	if (a->argc == 0)
		return 0;
	t->ids = calloc((size_t)a->argc, sizeof(*t->ids));
	if (t->ids == NULL) {
		warnx("out of memory");
		return -1;
	}
	t->nb_ids = a->argc;
	for (i = 0; i < a->argc; i++) {
		if (async_event_id_parse(a->argv[i], &t->ids[i]) < 0) {
			warnx("EVENT_ID '%s' is not an event id (8-4-4-4-12 hex digits)", a->argv[i]);
			return -1;
		}
	}
	return 0;
}

static int
dlq_default_dir(const char *prefix, char **dir)
{
	if (asprintf(dir, "%s/%s", DLQ_STATE_DIR, prefix) < 0) {
		warnx("out of memory");
		return DLQ_EXIT_FAILED;
	}
	return DLQ_EXIT_OK;
}

/*
 * -f: ask the running turbine where its queue is; when none runs with that
 * prefix (no socket, or nothing listening on it), the default place. Any
 * other failure is not guessed past: the queue may be elsewhere.
 */
static int
dlq_resolve_dir(const struct dlq_args *a, char **dir)
{
	const char *prefix = a->file_prefix != NULL ? a->file_prefix : TELEMETRY_CLIENT_DEFAULT_PREFIX;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct telemetry_client c = { .fd = -1, .path = path, .timeout_ms = DLQ_TIMEOUT_MS };
	const json_t *d;
	json_t *data;
	int connect_err, rc = DLQ_EXIT_OK;

	if (a->dir != NULL) {
		*dir = strdup(a->dir);
		return *dir != NULL ? DLQ_EXIT_OK : DLQ_EXIT_FAILED;
	}
	/* A socket path too long to exist means nothing runs there either. */
	if (telemetry_client_path(prefix, path, sizeof(path)) < 0)
		return dlq_default_dir(prefix, dir);
	if (telemetry_client_open(&c, &connect_err) < 0) {
		telemetry_client_close(&c);
		if (connect_err == ENOENT || connect_err == ECONNREFUSED)
			return dlq_default_dir(prefix, dir);
		if (connect_err != 0)
			warnx("cannot connect to %s: %s", path, strerror(connect_err));
		warnx("cannot ask the turbine run with --file-prefix %s where its queue is; "
		      "give it with --dir", prefix);
		return DLQ_EXIT_UNREACHABLE;
	}
	data = telemetry_client_request(&c, "/turbine/async");
	telemetry_client_close(&c);
	if (data == NULL)
		return DLQ_EXIT_UNREACHABLE;
	d = json_object_get(data, "dir");
	if (json_is_string(d) && json_string_length(d) > 0) {
		*dir = strdup(json_string_value(d));
		if (*dir == NULL)
			rc = DLQ_EXIT_FAILED;
	} else {
		warnx("the turbine run with --file-prefix %s %s /turbine/async: no queue directory "
		      "(give it with --dir)", prefix, json_is_null(data) ? "does not know" :
		      "has no \"dir\" in");
		rc = DLQ_EXIT_FAILED;
	}
	json_decref(data);
	return rc;
}

int
main(int argc, char **argv)
{
	struct dlq_args a = { 0 };
	struct dlq_target t = { 0 };
	const struct dlq_command *cmd;
	char *dir = NULL;
	int first, rc;

	first = dlq_parse_args(argc, argv, &a);
	if (first < 0)
		return DLQ_EXIT_USAGE;
	cmd = dlq_find_command(argv[first]);
	if (cmd == NULL) {
		warnx("unknown command '%s' (see --help)", argv[first]);
		return DLQ_EXIT_USAGE;
	}
	if (dlq_check_command(&a, cmd, &t) < 0) {
		free(t.ids);
		return DLQ_EXIT_USAGE;
	}
	if (a.nats != NULL) {
		rc = dlq_nats_open(a.nats, a.stream != NULL ? a.stream : "TURBINE", a.success,
				   &t.nats) < 0 ? DLQ_EXIT_UNREACHABLE : DLQ_EXIT_OK;
		dir = strdup(a.nats);
	} else {
		rc = dlq_resolve_dir(&a, &dir);
	}
	if (rc == DLQ_EXIT_OK) {
		t.dir = dir;
		t.kind = a.success ? ASYNC_STORE_SUCCESS : ASYNC_STORE_DLQ;
		rc = cmd->run(&a, &t);
	}
	if (fflush(stdout) != 0 && rc == DLQ_EXIT_OK) {
		warnx("writing the output: %s", strerror(errno));
		rc = DLQ_EXIT_FAILED;
	}
	dlq_nats_close(t.nats);
	free(dir);
	free(t.ids);
	return rc;
}
