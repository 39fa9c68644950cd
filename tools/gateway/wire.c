/* Turbine's wire protocol as the gateway speaks it: an HTTP call becomes one request map. */
#include <errno.h>
#include <string.h>

#include "json_msgpack.h"
#include "wire.h"

static void
wire_pack_cstr(msgpack_packer *pk, const char *s)
{
	msgpack_pack_str_with_body(pk, s, strlen(s));
}

/* The body as the event: JSON as MessagePack, other bytes as a bin (passed through), none as nil. */
static void
wire_pack_event(msgpack_packer *pk, const uint8_t *body, size_t len)
{
	json_error_t error;
	json_t *j;

	j = json_loadb((const char *)body, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &error);
	if (j == NULL) {
		msgpack_pack_bin_with_body(pk, body, len);
		return;
	}
	json_msgpack_pack(pk, j);
	json_decref(j);
}

/* msgpack-c's write callback: append, or remember that the datagram overflowed. */
static int
wire_datagram_write(void *data, const char *buf, size_t len)
{
	struct wire_datagram *d = data;

	if (d->overflow || len > sizeof(d->data) - d->len) {
		d->overflow = true;
		return -1;
	}
	memcpy(d->data + d->len, buf, len);
	d->len += len;
	return 0;
}

int
wire_pack_request(const struct wire_request *r, struct wire_datagram *d)
{
	msgpack_packer pk;
	size_t n = 5;

	d->len = 0;
	d->overflow = false;
	msgpack_packer_init(&pk, d, wire_datagram_write);
	n += r->body_len > 0;
	n += r->ctx != NULL;
	n += r->log_tail;
	n += r->trace != NULL;
	n += r->idempotency_key != NULL;
	n += r->timeout_ms > 0;
	msgpack_pack_map(&pk, n);
	wire_pack_cstr(&pk, "v");
	msgpack_pack_uint64(&pk, 1);
	wire_pack_cstr(&pk, "id");
	msgpack_pack_uint64(&pk, r->id);
	wire_pack_cstr(&pk, "fn");
	wire_pack_cstr(&pk, r->fn);
	wire_pack_cstr(&pk, "type");
	wire_pack_cstr(&pk, lambda_api_type_name(r->type));
	wire_pack_cstr(&pk, "tenant");
	wire_pack_cstr(&pk, r->tenant);
	if (r->body_len > 0) {
		wire_pack_cstr(&pk, "event");
		wire_pack_event(&pk, r->body, r->body_len);
	}
	if (r->timeout_ms > 0) {
		wire_pack_cstr(&pk, "timeout_ms");
		msgpack_pack_uint64(&pk, r->timeout_ms);
	}
	if (r->ctx != NULL) {
		wire_pack_cstr(&pk, "ctx");
		json_msgpack_pack(&pk, r->ctx);
	}
	if (r->log_tail) {
		wire_pack_cstr(&pk, "log");
		wire_pack_cstr(&pk, "Tail");
	}
	if (r->trace != NULL) {
		wire_pack_cstr(&pk, "trace");
		wire_pack_cstr(&pk, r->trace);
	}
	if (r->idempotency_key != NULL) {
		wire_pack_cstr(&pk, "idempotency_key");
		wire_pack_cstr(&pk, r->idempotency_key);
	}
	return d->overflow ? -EMSGSIZE : 0;
}

static bool
wire_key_is(const msgpack_object *k, const char *name)
{
	size_t len = strlen(name);

	return k->type == MSGPACK_OBJECT_STR && k->via.str.size == len && memcmp(k->via.str.ptr, name, len) == 0;
}

static void
wire_take_str(const msgpack_object *v, struct wire_span *s)
{
	if (v->type == MSGPACK_OBJECT_STR) {
		s->p = v->via.str.ptr;
		s->len = v->via.str.size;
	}
}

int
wire_parse_response(const msgpack_object *o, struct wire_response *r)
{
	bool have_id = false, have_status = false;
	const msgpack_object_kv *kv;
	uint32_t i;

	memset(r, 0, sizeof(*r));
	if (o->type != MSGPACK_OBJECT_MAP)
		return -1;
	for (i = 0; i < o->via.map.size; i++) {
		kv = &o->via.map.ptr[i];
		if (wire_key_is(&kv->key, "id") && kv->val.type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
			r->id = kv->val.via.u64;
			have_id = true;
		} else if (wire_key_is(&kv->key, "status") && kv->val.type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
			   kv->val.via.u64 >= 100 && kv->val.via.u64 <= 599) {
			r->status = (unsigned int)kv->val.via.u64;
			have_status = true;
		} else if (wire_key_is(&kv->key, "error")) {
			wire_take_str(&kv->val, &r->error);
		} else if (wire_key_is(&kv->key, "message")) {
			wire_take_str(&kv->val, &r->message);
		} else if (wire_key_is(&kv->key, "reason")) {
			wire_take_str(&kv->val, &r->reason);
		} else if (wire_key_is(&kv->key, "fn_error")) {
			wire_take_str(&kv->val, &r->fn_error);
		} else if (wire_key_is(&kv->key, "version")) {
			wire_take_str(&kv->val, &r->version);
		} else if (wire_key_is(&kv->key, "log")) {
			wire_take_str(&kv->val, &r->log);
		} else if (wire_key_is(&kv->key, "trace")) {
			wire_take_str(&kv->val, &r->trace);
		} else if (wire_key_is(&kv->key, "body")) {
			r->body = &kv->val;
		} else if (wire_key_is(&kv->key, "retry_after_ms") &&
			   kv->val.type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
			r->retry_after_ms = kv->val.via.u64;
		}
	}
	return have_id && have_status ? 0 : -1;
}

int
wire_response_id(const uint8_t *p, size_t len, uint64_t *id)
{
	msgpack_unpacked msg;
	struct wire_response r;
	size_t off = 0;
	int ret = -1;

	msgpack_unpacked_init(&msg);
	if (msgpack_unpack_next(&msg, (const char *)p, len, &off) == MSGPACK_UNPACK_SUCCESS &&
	    wire_parse_response(&msg.data, &r) == 0) {
		*id = r.id;
		ret = 0;
	}
	msgpack_unpacked_destroy(&msg);
	return ret;
}
