/*
 * The HTTP side of the gateway, on libmicrohttpd: read a call, check its signature, send it to
 * Turbine, suspend the connection until the answer comes, then answer as Lambda does.
 *
 * Why libmicrohttpd (Debian 12: 0.9.75): it is packaged, written in C and embeds in a program
 * as a library, and its suspend/resume lets a small thread pool hold thousands of calls that
 * wait for Turbine without a thread each; its per-connection timeout drops a client that
 * stalls mid-request without tying up a thread.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <jansson.h>
#include <microhttpd.h>

#include "gateway.h"
#include "json_msgpack.h"
#include "lambda_api.h"
#include "sigv4.h"
#include "wire.h"

/*
 * A body larger than this is refused from its Content-Length, unread. Above
 * the datagram because JSON shrinks as MessagePack (white space, "true");
 * whether the call fits is decided on the packed datagram.
 */
#define HTTP_BODY_MAX (4 * WIRE_MAX_DATAGRAM)
#define HTTP_MAX_HEADERS 96
#define HTTP_MAX_QUERY 16
#define HTTP_QUALIFIER_MAX 128
/* Past the call's timeout_ms, how long the gateway still waits for Turbine's own timeout answer. */
#define HTTP_GRACE_MS 1000
/* The client's own key for an Event; without it, the call's request id is the key. */
#define HTTP_IDEMPOTENCY_HEADER "X-Turbine-Idempotency-Key"
#define HTTP_IDEMPOTENCY_MAX 64

const char *const gateway_counter_names[GATEWAY_NB_COUNTERS] = {
#define GATEWAY_COUNTER_NAME(name, text) #name,
	GATEWAY_COUNTERS(GATEWAY_COUNTER_NAME)
#undef GATEWAY_COUNTER_NAME
};

struct http_call {
	struct gateway *gw;
	struct MHD_Connection *conn;
	uint8_t *body;
	size_t len;
	size_t cap;
	bool too_large;
	bool waiting;                   /* suspended: the upstream owns `up` until done() */
	bool in_suspended;              /* counted in gw->suspended until its answer is sent */
	bool answered;                  /* done() ran; set on the receiver thread */
	int refused;                    /* -errno of upstream_call() when it did not take the call */
	bool responded;                 /* http_answer() ran: a second resume has nothing to send */
	char request_id[37];
	struct upstream_call up;
	/* what the SigV4 check reads, pointing into libmicrohttpd's copy of the request */
	struct sigv4_pair headers[HTTP_MAX_HEADERS];
	size_t nb_headers;
	struct sigv4_pair query[HTTP_MAX_QUERY];
	size_t nb_query;
	bool too_many;
};

/* Keep the path and the query as the client sent them: SigV4 signs them encoded. */
static size_t
http_keep_escaped(void *cls, struct MHD_Connection *conn, char *s)
{
	(void)cls;
	(void)conn;
	return strlen(s);
}

static void
http_add_header(struct MHD_Response *r, const char *name, const char *value)
{
	MHD_add_response_header(r, name, value);
}

static enum MHD_Result
http_send(struct http_call *call, const void *body, size_t len, struct MHD_Response **out)
{
	struct MHD_Response *r;

	r = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	if (r == NULL)
		return MHD_NO;
	http_add_header(r, "x-amzn-RequestId", call->request_id);
	http_add_header(r, "Content-Type", "application/json");
	*out = r;
	return MHD_YES;
}

static enum MHD_Result
http_queue(struct http_call *call, unsigned int status, struct MHD_Response *r)
{
	enum MHD_Result ret = MHD_queue_response(call->conn, status, r);

	MHD_destroy_response(r);
	return ret;
}

/* Lambda's error answer: the JSON body, x-amzn-ErrorType, Retry-After for a 429 that has one. */
static enum MHD_Result
http_error_full(struct http_call *call, unsigned int status, const char *error, const char *message,
		const char *reason, uint64_t retry_after_ms)
{
	char *body = lambda_api_error_body(status, error, message, reason);
	struct MHD_Response *r;
	char retry[24];

	if (body == NULL || http_send(call, body, strlen(body), &r) != MHD_YES) {
		free(body);
		return MHD_NO;
	}
	free(body);
	http_add_header(r, "x-amzn-ErrorType", error);
	if (retry_after_ms > 0) {
		snprintf(retry, sizeof(retry), "%" PRIu64, (retry_after_ms + 999) / 1000);
		http_add_header(r, "Retry-After", retry);
	}
	return http_queue(call, status, r);
}

static enum MHD_Result
http_error(struct http_call *call, unsigned int status, const char *error, const char *message)
{
	return http_error_full(call, status, error, message, NULL, 0);
}

static enum MHD_Result
http_too_large(struct http_call *call)
{
	char msg[128];

	gateway_count(call->gw, GATEWAY_too_large);
	snprintf(msg, sizeof(msg), "Request must fit one %d-byte datagram to Turbine", WIRE_MAX_DATAGRAM);
	return http_error(call, 413, "RequestTooLargeException", msg);
}

static enum MHD_Result
http_collect(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size, const char *value,
	     size_t value_size)
{
	struct http_call *call = cls;
	struct sigv4_pair *p;

	if (kind == MHD_HEADER_KIND) {
		if (call->nb_headers == HTTP_MAX_HEADERS) {
			call->too_many = true;
			return MHD_NO;
		}
		p = &call->headers[call->nb_headers++];
	} else {
		if (call->nb_query == HTTP_MAX_QUERY) {
			call->too_many = true;
			return MHD_NO;
		}
		p = &call->query[call->nb_query++];
	}
	p->name = key;
	p->name_len = key_size;
	p->value = value;
	p->value_len = value != NULL ? value_size : 0;
	return MHD_YES;
}

/* SigV4: NULL when the call is signed by a known key, else the error already queued in *ret. */
static const struct credential *
http_authenticate(struct http_call *call, const char *path, const char *method, enum MHD_Result *ret)
{
	const char *authz = MHD_lookup_connection_value(call->conn, MHD_HEADER_KIND, "Authorization");
	struct sigv4_request req = {
		.method = method, .path = path, .query = call->query, .nb_query = call->nb_query,
		.headers = call->headers, .nb_headers = call->nb_headers, .body = call->body,
		.body_len = call->len,
	};
	const struct credential *key;
	enum sigv4_result res;
	struct sigv4_auth a;
	const char *why = "";

	gateway_count(call->gw, GATEWAY_auth_failures);
	if (authz == NULL) {
		*ret = http_error(call, MHD_HTTP_FORBIDDEN, "MissingAuthenticationTokenException",
				  "Missing Authentication Token");
		return NULL;
	}
	if (call->too_many) {
		*ret = http_error(call, MHD_HTTP_BAD_REQUEST, "IncompleteSignatureException",
				  "too many headers or query parameters to check the signature");
		return NULL;
	}
	if (sigv4_parse_authorization(authz, &a, &why) != SIGV4_OK) {
		*ret = http_error(call, MHD_HTTP_BAD_REQUEST, "IncompleteSignatureException", why);
		return NULL;
	}
	key = credentials_find(&call->gw->creds, a.key_id);
	if (key == NULL) {
		*ret = http_error(call, MHD_HTTP_FORBIDDEN, "UnrecognizedClientException",
				  "The security token included in the request is invalid.");
		return NULL;
	}
	if (strcmp(a.service, "lambda") != 0) {
		*ret = http_error(call, MHD_HTTP_FORBIDDEN, "InvalidSignatureException",
				  "Credential should be scoped to correct service: 'lambda'.");
		return NULL;
	}
	res = sigv4_verify(&req, &a, key->secret, time(NULL), &why);
	if (res == SIGV4_INCOMPLETE) {
		*ret = http_error(call, MHD_HTTP_BAD_REQUEST, "IncompleteSignatureException", why);
		return NULL;
	}
	if (res != SIGV4_OK) {
		*ret = http_error(call, MHD_HTTP_FORBIDDEN, "InvalidSignatureException", why);
		return NULL;
	}
	__atomic_fetch_sub(&call->gw->counters[GATEWAY_auth_failures], 1, __ATOMIC_RELAXED);
	return key;
}

static enum MHD_Result
http_bad(struct http_call *call, unsigned int status, const char *error, const char *message)
{
	gateway_count(call->gw, GATEWAY_bad_requests);
	return http_error(call, status, error, message);
}

/* Runs on the upstream's receiver thread: the answer (or the give-up) is in; wake the connection. */
static void
http_done(struct upstream_call *up)
{
	struct http_call *call = (struct http_call *)((char *)up - offsetof(struct http_call, up));

	__atomic_store_n(&call->answered, true, __ATOMIC_RELEASE);
	MHD_resume_connection(call->conn);
}

/* The Qualifier query parameter, decoded; NULL when absent, "" (refused later) when ill-formed. */
static const char *
http_qualifier(struct http_call *call, char buf[HTTP_QUALIFIER_MAX + 1])
{
	size_t i;

	for (i = 0; i < call->nb_query; i++) {
		if (call->query[i].name_len != 9 || memcmp(call->query[i].name, "Qualifier", 9) != 0)
			continue;
		if (call->query[i].value == NULL ||
		    lambda_api_percent_decode(call->query[i].value, call->query[i].value_len, buf,
					      HTTP_QUALIFIER_MAX + 1) < 0)
			buf[0] = '\0';
		return buf;
	}
	return NULL;
}

/* X-Amz-Client-Context: base64 of a JSON object. NULL with *bad set when it is not. */
static json_t *
http_client_context(struct http_call *call, bool *bad)
{
	const char *v = MHD_lookup_connection_value(call->conn, MHD_HEADER_KIND, "X-Amz-Client-Context");
	json_error_t error;
	uint8_t *raw;
	size_t len;
	json_t *j;

	*bad = false;
	if (v == NULL)
		return NULL;
	raw = lambda_api_base64_decode(v, &len);
	j = raw != NULL ? json_loadb((const char *)raw, len, 0, &error) : NULL;
	free(raw);
	if (j == NULL)
		*bad = true;
	return j;
}

/*
 * When a call is safe to send again. A DryRun runs nothing; an Event carries
 * an idempotency key, so Turbine takes a second copy as a duplicate. A
 * RequestResponse is not: Turbine runs every copy it gets, and no timer tells
 * a lost datagram from a handler still running (measured: a 2 s call
 * retransmitted at 200, 400 and 800 ms ran four times and left the only
 * worker out of dispatch, 503 for everyone). So it is retransmitted only when
 * the operator says every function answers well within --retransmit-sync-ms;
 * otherwise a lost datagram ends as 500 ServiceException at the deadline,
 * which the SDKs retry as they retry Lambda's own.
 */
static unsigned int
http_retransmit_ms(const struct gateway *gw, enum lambda_api_type type)
{
	return type == LAMBDA_API_REQUEST_RESPONSE ? gw->retransmit_sync_ms : UPSTREAM_RTO_MS;
}

/* Authenticated, mapped to the wire, sent: the connection waits suspended. */
static enum MHD_Result
http_dispatch(struct http_call *call, const char *url, const char *method)
{
	struct gateway *gw = call->gw;
	char fn[LAMBDA_API_FN_MAX + 1], qualifier[HTTP_QUALIFIER_MAX + 1];
	const char *type_h, *log_h, *trace, *key_h, *why = "";
	const struct credential *key;
	struct wire_request w;
	enum MHD_Result ret;
	json_t *ctx;
	bool bad;
	int type, rc;

	if (call->too_large)
		return http_too_large(call);
	MHD_get_connection_values_n(call->conn, MHD_HEADER_KIND, http_collect, call);
	MHD_get_connection_values_n(call->conn, MHD_GET_ARGUMENT_KIND, http_collect, call);
	key = http_authenticate(call, url, method, &ret);
	if (key == NULL)
		return ret;

	if (strcmp(method, "POST") != 0 ||
	    (rc = lambda_api_function(url, http_qualifier(call, qualifier), fn, &why)) == -1)
		return http_bad(call, MHD_HTTP_NOT_FOUND, "UnknownOperationException",
				"Unknown operation: only POST " LAMBDA_API_PATH_PREFIX "{FunctionName}"
				LAMBDA_API_PATH_SUFFIX " is served");
	if (rc < 0)
		return http_bad(call, MHD_HTTP_BAD_REQUEST, "InvalidParameterValueException", why);
	type_h = MHD_lookup_connection_value(call->conn, MHD_HEADER_KIND, "X-Amz-Invocation-Type");
	type = lambda_api_type(type_h);
	if (type < 0)
		return http_bad(call, MHD_HTTP_BAD_REQUEST, "InvalidParameterValueException",
				"X-Amz-Invocation-Type must be RequestResponse, Event or DryRun");
	log_h = MHD_lookup_connection_value(call->conn, MHD_HEADER_KIND, "X-Amz-Log-Type");
	if (log_h != NULL && strcmp(log_h, "Tail") != 0 && strcmp(log_h, "None") != 0)
		return http_bad(call, MHD_HTTP_BAD_REQUEST, "InvalidParameterValueException",
				"X-Amz-Log-Type must be None or Tail");
	key_h = MHD_lookup_connection_value(call->conn, MHD_HEADER_KIND, HTTP_IDEMPOTENCY_HEADER);
	if (key_h != NULL && (key_h[0] == '\0' || strlen(key_h) > HTTP_IDEMPOTENCY_MAX))
		return http_bad(call, MHD_HTTP_BAD_REQUEST, "InvalidParameterValueException",
				HTTP_IDEMPOTENCY_HEADER " must be 1..64 bytes");
	ctx = http_client_context(call, &bad);
	if (bad)
		return http_bad(call, MHD_HTTP_BAD_REQUEST, "InvalidParameterValueException",
				"Client context must be a valid Base64-encoded JSON object.");
	trace = MHD_lookup_connection_value(call->conn, MHD_HEADER_KIND, "X-Amzn-Trace-Id");

	call->up.id = upstream_next_id(&gw->up);
	w = (struct wire_request){
		.id = call->up.id, .fn = fn, .type = (enum lambda_api_type)type, .tenant = key->tenant,
		.body = call->body, .body_len = call->len, .ctx = ctx,
		.log_tail = log_h != NULL && strcmp(log_h, "Tail") == 0, .trace = trace,
		.timeout_ms = gw->call_timeout_ms,
	};
	/* An Event is retransmitted: its key makes a second copy a duplicate, not a second run. */
	if (type == LAMBDA_API_EVENT)
		w.idempotency_key = key_h != NULL ? key_h : call->request_id;
	rc = wire_pack_request(&w, &call->up.dgram);
	json_decref(ctx);
	if (rc < 0)
		return http_too_large(call);

	/* Suspended before the send: the answer may come back before this function returns. */
	call->up.done = http_done;
	call->waiting = true;
	call->in_suspended = true;
	__atomic_fetch_add(&gw->suspended, 1, __ATOMIC_RELAXED);
	MHD_suspend_connection(call->conn);
	rc = upstream_call(&gw->up, &call->up, (uint64_t)gw->call_timeout_ms + HTTP_GRACE_MS,
			   http_retransmit_ms(gw, (enum lambda_api_type)type));
	if (rc < 0) {
		/* Not taken: answered like any other call, once resumed. */
		call->refused = rc;
		__atomic_store_n(&call->answered, true, __ATOMIC_RELEASE);
		MHD_resume_connection(call->conn);
	}
	return MHD_YES;
}

static char *
http_span_dup(struct wire_span s)
{
	return s.p != NULL ? strndup(s.p, s.len) : NULL;
}

/* The body of a 200: a bin as its bytes, anything else as JSON. */
static enum MHD_Result
http_ok_body(struct http_call *call, const struct wire_response *resp, struct MHD_Response **r)
{
	json_t *j;
	char *text;
	enum MHD_Result ret;

	if (resp->body == NULL)
		return http_send(call, "null", 4, r);
	if (resp->body->type == MSGPACK_OBJECT_BIN)
		return http_send(call, resp->body->via.bin.ptr, resp->body->via.bin.size, r);
	j = json_msgpack_to_json(resp->body);
	text = j != NULL ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
	json_decref(j);
	if (text == NULL)
		return MHD_NO;
	ret = http_send(call, text, strlen(text), r);
	free(text);
	return ret;
}

static void
http_span_header(struct MHD_Response *r, const char *name, struct wire_span s)
{
	char *v = http_span_dup(s);

	if (v != NULL)
		http_add_header(r, name, v);
	free(v);
}

/* Turbine's response as Lambda's: status, headers, body or error body. */
static enum MHD_Result
http_answer_response(struct http_call *call, const struct wire_response *resp)
{
	char *error, *message, *reason, *log64;
	struct MHD_Response *r;
	enum MHD_Result ret;

	if (resp->status >= 400) {
		error = http_span_dup(resp->error);
		message = http_span_dup(resp->message);
		reason = http_span_dup(resp->reason);
		ret = http_error_full(call, resp->status, error != NULL ? error : "ServiceException", message,
				      reason, resp->retry_after_ms);
		free(error);
		free(message);
		free(reason);
		return ret;
	}
	if (resp->status == 200)
		ret = http_ok_body(call, resp, &r);
	else
		ret = http_send(call, "", 0, &r);
	if (ret != MHD_YES)
		return ret;
	http_span_header(r, "X-Amz-Executed-Version", resp->version);
	http_span_header(r, "X-Amz-Function-Error", resp->fn_error);
	http_span_header(r, "X-Amzn-Trace-Id", resp->trace);
	if (resp->log.p != NULL) {
		log64 = lambda_api_base64((const uint8_t *)resp->log.p, resp->log.len);
		if (log64 != NULL)
			http_add_header(r, "X-Amz-Log-Result", log64);
		free(log64);
	}
	return http_queue(call, resp->status, r);
}

/* Resumed: answer from what the upstream left in call->up. */
static enum MHD_Result
http_answer(struct http_call *call)
{
	struct gateway *gw = call->gw;
	struct wire_response resp;
	msgpack_unpacked msg;
	enum MHD_Result ret;
	char why[96];
	size_t off = 0;

	if (call->responded)
		return MHD_NO;
	call->responded = true;
	call->waiting = false;
	if (call->refused == -EBUSY) {
		gateway_count(gw, GATEWAY_throttled);
		return http_error_full(call, MHD_HTTP_TOO_MANY_REQUESTS, "TooManyRequestsException",
				       "Rate Exceeded: the gateway's --max-inflight calls are waiting",
				       "ConcurrentInvocationLimitExceeded", 1000);
	}
	if (call->refused < 0) {
		gateway_count(gw, GATEWAY_failed);
		return http_error(call, MHD_HTTP_INTERNAL_SERVER_ERROR, "ServiceException", strerror(-call->refused));
	}
	if (call->up.outcome != UPSTREAM_ANSWERED || call->up.reply == NULL) {
		gateway_count(gw, GATEWAY_failed);
		if (call->up.outcome == UPSTREAM_TIMED_OUT)
			snprintf(why, sizeof(why), "Turbine did not answer within %" PRIu32 " ms",
				 gw->call_timeout_ms + HTTP_GRACE_MS);
		else
			snprintf(why, sizeof(why), "%s", call->up.outcome == UPSTREAM_STOPPED ?
				 "the gateway is shutting down" : "out of memory");
		return http_error(call, MHD_HTTP_INTERNAL_SERVER_ERROR, "ServiceException", why);
	}
	msgpack_unpacked_init(&msg);
	if (msgpack_unpack_next(&msg, (const char *)call->up.reply, call->up.reply_len, &off) !=
		    MSGPACK_UNPACK_SUCCESS ||
	    wire_parse_response(&msg.data, &resp) < 0) {
		msgpack_unpacked_destroy(&msg);
		gateway_count(gw, GATEWAY_failed);
		return http_error(call, MHD_HTTP_INTERNAL_SERVER_ERROR, "ServiceException",
				  "Turbine's answer could not be read");
	}
	gateway_count(gw, GATEWAY_answered);
	ret = http_answer_response(call, &resp);
	msgpack_unpacked_destroy(&msg);
	return ret;
}

static struct http_call *
http_call_new(struct gateway *gw, struct MHD_Connection *conn)
{
	struct http_call *call = calloc(1, sizeof(*call));
	uint8_t rnd[16];

	if (call == NULL)
		return NULL;
	call->gw = gw;
	call->conn = conn;
	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd)) {
		free(call);
		return NULL;
	}
	lambda_api_uuid(rnd, call->request_id);
	return call;
}

static void
http_append(struct http_call *call, const char *data, size_t len)
{
	size_t cap;
	uint8_t *grown;

	if (call->too_large || call->len + len > HTTP_BODY_MAX) {
		/* Read and dropped: a chunked body has no length to refuse it by up front. */
		call->too_large = true;
		return;
	}
	if (call->len + len > call->cap) {
		cap = call->cap == 0 ? 1024 : call->cap;
		while (cap < call->len + len)
			cap *= 2;
		grown = realloc(call->body, cap);
		if (grown == NULL) {
			call->too_large = true;
			return;
		}
		call->body = grown;
		call->cap = cap;
	}
	memcpy(call->body + call->len, data, len);
	call->len += len;
}

static enum MHD_Result
http_access(void *cls, struct MHD_Connection *conn, const char *url, const char *method, const char *version,
	    const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	struct gateway *gw = cls;
	struct http_call *call = *con_cls;
	const char *length;

	(void)version;
	if (call == NULL) {
		call = http_call_new(gw, conn);
		if (call == NULL)
			return MHD_NO;
		*con_cls = call;
		gateway_count(gw, GATEWAY_requests);
		/* Refused unread: the body is never taken in. */
		length = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (length != NULL && strtoull(length, NULL, 10) > HTTP_BODY_MAX)
			return http_too_large(call);
		return MHD_YES;
	}
	if (__atomic_load_n(&call->answered, __ATOMIC_ACQUIRE))
		return http_answer(call);
	if (*upload_data_size > 0) {
		http_append(call, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}
	return http_dispatch(call, url, method);
}

static void
http_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	struct http_call *call = *con_cls;

	(void)cls;
	(void)conn;
	(void)toe;
	if (call == NULL)
		return;
	*con_cls = NULL;
	/* Sent (or the client went away): a shutdown need not wait for this one any more. */
	if (call->in_suspended)
		__atomic_fetch_sub(&call->gw->suspended, 1, __ATOMIC_RELAXED);
	free(call->up.reply);
	free(call->body);
	free(call);
}

int
http_start(struct gateway *gw)
{
	const union MHD_DaemonInfo *info;
	unsigned int flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;

	gw->daemon = MHD_start_daemon(flags, 0, NULL, NULL, http_access, gw,
				      MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&gw->listen,
				      MHD_OPTION_THREAD_POOL_SIZE, gw->threads,
				      MHD_OPTION_CONNECTION_TIMEOUT, gw->client_timeout_s,
				      MHD_OPTION_NOTIFY_COMPLETED, http_completed, gw,
				      MHD_OPTION_UNESCAPE_CALLBACK, http_keep_escaped, gw,
				      MHD_OPTION_END);
	if (gw->daemon == NULL)
		return -EADDRNOTAVAIL;
	info = MHD_get_daemon_info(gw->daemon, MHD_DAEMON_INFO_BIND_PORT);
	if (info != NULL)
		gw->listen.sin_port = htons(info->port);
	return 0;
}

void
http_quiesce(struct gateway *gw)
{
	if (gw->daemon != NULL)
		MHD_quiesce_daemon(gw->daemon);
}

void
http_drain(struct gateway *gw, unsigned int wait_ms)
{
	const struct timespec tick = { .tv_nsec = 10 * 1000 * 1000 };
	unsigned int waited;

	for (waited = 0; waited < wait_ms && __atomic_load_n(&gw->suspended, __ATOMIC_RELAXED) > 0;
	     waited += 10)
		nanosleep(&tick, NULL);
}

void
http_stop(struct gateway *gw)
{
	if (gw->daemon != NULL)
		MHD_stop_daemon(gw->daemon);
	gw->daemon = NULL;
}
