/* Example handler: {"message": "Hello, <event.name>!"}, Lambda's hello world. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <turbine/handler.h>

/* Enough for the objects of any event that fits in a datagram, so calls do not allocate. */
#define HELLO_ZONE_CHUNK_SIZE (64u * 1024u)

struct hello {
	msgpack_zone zone;
};

static int
hello_init(const struct turbine_env_config *cfg, void **state)
{
	struct hello *h = malloc(sizeof(*h));

	if (h == NULL || !msgpack_zone_init(&h->zone, HELLO_ZONE_CHUNK_SIZE)) {
		free(h);
		turbine_init_error(cfg, "hello: out of memory");
		return -ENOMEM;
	}
	*state = h;
	return 0;
}

static void
hello_fini(void *state)
{
	struct hello *h = state;

	msgpack_zone_destroy(&h->zone);
	free(h);
}

/* event.name when the event is a map with a str under "name". */
static int
hello_name(struct hello *h, const struct turbine_event *event, const char **name, uint32_t *len)
{
	msgpack_object obj;
	size_t off = 0;
	uint32_t i;

	if (event->len == 0)
		return -1;
	msgpack_zone_clear(&h->zone);
	if (msgpack_unpack(event->data, event->len, &off, &h->zone, &obj) < 0 ||
	    obj.type != MSGPACK_OBJECT_MAP)
		return -1;
	for (i = 0; i < obj.via.map.size; i++) {
		const msgpack_object_kv *kv = &obj.via.map.ptr[i];

		if (kv->key.type != MSGPACK_OBJECT_STR || kv->key.via.str.size != 4 ||
		    memcmp(kv->key.via.str.ptr, "name", 4) != 0)
			continue;
		if (kv->val.type != MSGPACK_OBJECT_STR)
			return -1;
		*name = kv->val.via.str.ptr;
		*len = kv->val.via.str.size;
		return 0;
	}
	return -1;
}

static enum turbine_result
hello_handle(void *state, const struct turbine_event *event, const struct turbine_ctx *ctx,
	     struct turbine_resp *resp)
{
	static const char greeting[] = "Hello, ";
	const char *name = "World";
	uint32_t len = 5;

	(void)ctx;
	hello_name(state, event, &name, &len);

	/* Packed piece by piece, straight into the response: no formatting buffer. */
	msgpack_pack_map(&resp->pk, 1);
	msgpack_pack_str_with_body(&resp->pk, "message", 7);
	msgpack_pack_str(&resp->pk, sizeof(greeting) - 1 + len + 1);
	msgpack_pack_str_body(&resp->pk, greeting, sizeof(greeting) - 1);
	msgpack_pack_str_body(&resp->pk, name, len);
	msgpack_pack_str_body(&resp->pk, "!", 1);
	return TURBINE_OK;
}

TURBINE_HANDLER(.name = "hello", .init = hello_init, .handle = hello_handle, .fini = hello_fini);
