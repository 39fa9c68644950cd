/* Example handler: append one line per call to a file (params: path), for tests of asynchronous invocation. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <turbine/handler.h>

#define JOURNAL_ZONE_CHUNK_SIZE (64u * 1024u)
/* A longer tag is cut here: a line stays short enough for one write() that nothing splits. */
#define JOURNAL_TAG_MAX 200u
#define JOURNAL_CONDITION_MAX 32u
#define JOURNAL_LINE_MAX (JOURNAL_TAG_MAX + JOURNAL_CONDITION_MAX + 32u)

/*
 * Each call writes one line, "TAG WORKER\n", or "TAG WORKER CONDITION\n"
 * when the event is a destination record (PROTOCOL.md "Asynchronous
 * records"), and then:
 *   - event.sleep_ms: N  sleeps N ms first, at most until the call's deadline;
 *   - event.fail: true   fails with errorType "Journal.Failed";
 *     event.fail: "NAME" fails that way only when the function called is
 *                        NAME, so one event can fail in one function and,
 *                        redriven, succeed in another;
 *   - otherwise          returns {"tag": TAG} (TAG as the line has it; nil when the
 *                        event had none).
 * TAG is event.tag (a string), or else event.requestPayload.tag: the tag of
 * the event a destination record is about, which is what a function chained
 * with on_success/on_failure = function:NAME receives. CONDITION is
 * event.requestContext.condition. A missing tag is written "-"; a space or
 * control byte in either is written "_", so a line always splits in two or
 * three fields.
 *
 * The file is opened in init with O_APPEND and each line goes out in one
 * write(2): lines from environments on several workers never interleave.
 */
struct journal {
	int fd;
	msgpack_zone zone;
};

/* What the handler reads from one event; strings point into the unpacked event. */
struct journal_event {
	struct turbine_str tag;        /* len 0: none */
	struct turbine_str condition;  /* len 0: none */
	struct turbine_str fail_in;    /* fail: "NAME" */
	bool fail;                     /* fail: true */
	uint64_t sleep_ms;
};

/* The `path` param; NULL (and the reason given) when it is missing or another key is there. */
static const char *
journal_param_path(const struct turbine_env_config *cfg)
{
	const char *const *kv;
	const char *path = NULL;

	for (kv = cfg->params; kv != NULL && *kv != NULL; kv++) {
		if (strncmp(*kv, "path=", 5) == 0 && (*kv)[5] != '\0') {
			path = *kv + 5;
		} else {
			turbine_init_error(cfg, "journal: unknown param \"%s\" (path)", *kv);
			return NULL;
		}
	}
	if (path == NULL)
		turbine_init_error(cfg, "journal: params need path (the file to append to)");
	return path;
}

static int
journal_init(const struct turbine_env_config *cfg, void **state)
{
	const char *path = journal_param_path(cfg);
	struct journal *j;
	int err;

	if (path == NULL)
		return -EINVAL;
	j = malloc(sizeof(*j));
	if (j == NULL || !msgpack_zone_init(&j->zone, JOURNAL_ZONE_CHUNK_SIZE)) {
		free(j);
		turbine_init_error(cfg, "journal: out of memory");
		return -ENOMEM;
	}
	j->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (j->fd < 0) {
		err = errno;
		turbine_init_error(cfg, "journal: cannot open %s: %s", path, strerror(err));
		msgpack_zone_destroy(&j->zone);
		free(j);
		return -err;
	}
	*state = j;
	return 0;
}

static void
journal_fini(void *state)
{
	struct journal *j = state;

	close(j->fd);
	msgpack_zone_destroy(&j->zone);
	free(j);
}

static bool
journal_key_is(const msgpack_object *key, const char *name)
{
	size_t len = strlen(name);

	return key->type == MSGPACK_OBJECT_STR && key->via.str.size == len &&
	       memcmp(key->via.str.ptr, name, len) == 0;
}

/* map[name] when map is a map and has it, else NULL. */
static const msgpack_object *
journal_get(const msgpack_object *map, const char *name)
{
	uint32_t i;

	if (map == NULL || map->type != MSGPACK_OBJECT_MAP)
		return NULL;
	for (i = 0; i < map->via.map.size; i++)
		if (journal_key_is(&map->via.map.ptr[i].key, name))
			return &map->via.map.ptr[i].val;
	return NULL;
}

/* obj's bytes when it is a string, else len 0. */
static struct turbine_str
journal_str(const msgpack_object *obj)
{
	struct turbine_str s = { NULL, 0 };

	if (obj != NULL && obj->type == MSGPACK_OBJECT_STR) {
		s.ptr = obj->via.str.ptr;
		s.len = obj->via.str.size;
	}
	return s;
}

static void
journal_read_event(struct journal *j, const struct turbine_event *event, struct journal_event *ev)
{
	const msgpack_object *v;
	msgpack_object obj;
	size_t off = 0;

	memset(ev, 0, sizeof(*ev));
	if (event->len == 0)
		return;
	msgpack_zone_clear(&j->zone);
	if (msgpack_unpack(event->data, event->len, &off, &j->zone, &obj) < 0 ||
	    obj.type != MSGPACK_OBJECT_MAP)
		return;
	ev->tag = journal_str(journal_get(&obj, "tag"));
	if (ev->tag.len == 0)
		ev->tag = journal_str(journal_get(journal_get(&obj, "requestPayload"), "tag"));
	ev->condition = journal_str(journal_get(journal_get(&obj, "requestContext"), "condition"));
	v = journal_get(&obj, "fail");
	if (v != NULL && v->type == MSGPACK_OBJECT_BOOLEAN)
		ev->fail = v->via.boolean;
	ev->fail_in = journal_str(v);
	v = journal_get(&obj, "sleep_ms");
	if (v != NULL && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
		ev->sleep_ms = v->via.u64;
}

/* Append s (at most max bytes of it) to buf at *len, a space or control byte as '_'. */
static void
journal_put_word(char *buf, size_t *len, struct turbine_str s, uint32_t max)
{
	uint32_t i, n = s.len < max ? s.len : max;

	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s.ptr[i];

		buf[(*len)++] = ch <= ' ' || ch == 0x7f ? '_' : (char)ch;
	}
}

/* The call's line into buf (JOURNAL_LINE_MAX bytes); returns its length. */
static size_t
journal_format(char *buf, const struct journal_event *ev, unsigned int worker_id)
{
	size_t len = 0;

	if (ev->tag.len == 0)
		buf[len++] = '-';
	else
		journal_put_word(buf, &len, ev->tag, JOURNAL_TAG_MAX);
	len += (size_t)snprintf(buf + len, JOURNAL_LINE_MAX - len, " %u", worker_id);
	if (ev->condition.len != 0) {
		buf[len++] = ' ';
		journal_put_word(buf, &len, ev->condition, JOURNAL_CONDITION_MAX);
	}
	buf[len++] = '\n';
	return len;
}

static void
journal_sleep(uint64_t ms)
{
	struct timespec ts = { .tv_sec = (time_t)(ms / 1000u),
			       .tv_nsec = (long)(ms % 1000u) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static bool
journal_should_fail(const struct journal_event *ev, const struct turbine_ctx *ctx)
{
	if (ev->fail)
		return true;
	return ev->fail_in.len != 0 && ev->fail_in.len == ctx->function.len &&
	       memcmp(ev->fail_in.ptr, ctx->function.ptr, ctx->function.len) == 0;
}

static enum turbine_result
journal_handle(void *state, const struct turbine_event *event, const struct turbine_ctx *ctx,
	       struct turbine_resp *resp)
{
	struct journal *j = state;
	struct journal_event ev;
	char line[JOURNAL_LINE_MAX];
	size_t len;
	ssize_t n;
	uint32_t left;

	journal_read_event(j, event, &ev);
	len = journal_format(line, &ev, ctx->worker_id);
	n = write(j->fd, line, len);
	if (n != (ssize_t)len)
		return turbine_error(resp, "Journal.WriteFailed", "write: %s",
				     n < 0 ? strerror(errno) : "short write");
	turbine_log(ctx, "%.*s", (int)(len - 1), line);

	/* The sleep ends by the deadline: the reply is the function's, not a timeout. */
	left = turbine_remaining_ms(ctx);
	if (ev.sleep_ms > 0)
		journal_sleep(ev.sleep_ms < left ? ev.sleep_ms : left);

	if (journal_should_fail(&ev, ctx))
		return turbine_error(resp, "Journal.Failed", "failed as the event asked: %.*s",
				     (int)(len - 1), line);
	msgpack_pack_map(&resp->pk, 1);
	msgpack_pack_str_with_body(&resp->pk, "tag", 3);
	if (ev.tag.len == 0)
		msgpack_pack_nil(&resp->pk);
	else
		/* The line's copy: the event's bytes share the buffer the body is packed into. */
		msgpack_pack_str_with_body(&resp->pk, line, (size_t)strcspn(line, " "));
	return TURBINE_OK;
}

TURBINE_HANDLER(.name = "journal", .init = journal_init, .handle = journal_handle,
		.fini = journal_fini);
