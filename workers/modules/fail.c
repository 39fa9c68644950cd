/* Example handler: fail with event.type / event.message (defaults "Error" / "failed"). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <turbine/handler.h>

#define FAIL_ZONE_CHUNK_SIZE (64u * 1024u)

struct fail {
	msgpack_zone zone;
};

static int
fail_init(const struct turbine_env_config *cfg, void **state)
{
	struct fail *f = malloc(sizeof(*f));

	if (f == NULL || !msgpack_zone_init(&f->zone, FAIL_ZONE_CHUNK_SIZE)) {
		free(f);
		turbine_init_error(cfg, "fail: out of memory");
		return -ENOMEM;
	}
	*state = f;
	return 0;
}

static void
fail_fini(void *state)
{
	struct fail *f = state;

	msgpack_zone_destroy(&f->zone);
	free(f);
}

static int
fail_key_is(const msgpack_object *key, const char *name)
{
	size_t len = strlen(name);

	return key->type == MSGPACK_OBJECT_STR && key->via.str.size == len &&
	       memcmp(key->via.str.ptr, name, len) == 0;
}

static enum turbine_result
fail_handle(void *state, const struct turbine_event *event, const struct turbine_ctx *ctx,
	    struct turbine_resp *resp)
{
	struct fail *f = state;
	/* turbine_error() takes the type as a C string; the event's str is not one. */
	char type[128] = "Error";
	const char *msg = "failed";
	uint32_t msg_len = 6;
	msgpack_object obj;
	size_t off = 0;
	uint32_t i;

	msgpack_zone_clear(&f->zone);
	if (event->len != 0 &&
	    msgpack_unpack(event->data, event->len, &off, &f->zone, &obj) >= 0 &&
	    obj.type == MSGPACK_OBJECT_MAP) {
		for (i = 0; i < obj.via.map.size; i++) {
			const msgpack_object_kv *kv = &obj.via.map.ptr[i];

			if (kv->val.type != MSGPACK_OBJECT_STR)
				continue;
			if (fail_key_is(&kv->key, "type") && kv->val.via.str.size > 0 &&
			    kv->val.via.str.size < sizeof(type)) {
				memcpy(type, kv->val.via.str.ptr, kv->val.via.str.size);
				type[kv->val.via.str.size] = '\0';
			} else if (fail_key_is(&kv->key, "message")) {
				msg = kv->val.via.str.ptr;
				msg_len = kv->val.via.str.size;
			}
		}
	}

	turbine_log(ctx, "failing: %s: %.*s", type, (int)msg_len, msg);
	return turbine_error(resp, type, "%.*s", (int)msg_len, msg);
}

TURBINE_HANDLER(.name = "fail", .init = fail_init, .handle = fail_handle, .fini = fail_fini);
