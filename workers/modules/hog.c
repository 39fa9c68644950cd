/* Example handler: allocate and touch event.mb MiB (at most HOG_MAX_MB), free them, return {"mb": mb}. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <turbine/handler.h>

#define HOG_ZONE_CHUNK_SIZE (64u * 1024u)
#define HOG_CHUNK (1024u * 1024u)
/* The bound: in thread mode, where nothing enforces memory_mb, hog takes at most this. */
#define HOG_MAX_MB 1024u

struct hog {
	msgpack_zone zone;
};

static int
hog_init(const struct turbine_env_config *cfg, void **state)
{
	struct hog *h = malloc(sizeof(*h));

	if (h == NULL || !msgpack_zone_init(&h->zone, HOG_ZONE_CHUNK_SIZE)) {
		free(h);
		turbine_init_error(cfg, "hog: out of memory");
		return -ENOMEM;
	}
	*state = h;
	return 0;
}

static void
hog_fini(void *state)
{
	struct hog *h = state;

	msgpack_zone_destroy(&h->zone);
	free(h);
}

/* event.mb, 0 when the event is not a map with a non-negative integer there. */
static uint64_t
hog_mb(struct hog *h, const struct turbine_event *event)
{
	msgpack_object obj;
	size_t off = 0;
	uint32_t i;

	if (event->len == 0)
		return 0;
	msgpack_zone_clear(&h->zone);
	if (msgpack_unpack(event->data, event->len, &off, &h->zone, &obj) < 0 ||
	    obj.type != MSGPACK_OBJECT_MAP)
		return 0;
	for (i = 0; i < obj.via.map.size; i++) {
		const msgpack_object_kv *kv = &obj.via.map.ptr[i];

		if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == 2 &&
		    memcmp(kv->key.via.str.ptr, "mb", 2) == 0)
			return kv->val.type == MSGPACK_OBJECT_POSITIVE_INTEGER ?
			       kv->val.via.u64 : 0;
	}
	return 0;
}

static enum turbine_result
hog_handle(void *state, const struct turbine_event *event, const struct turbine_ctx *ctx,
	   struct turbine_resp *resp)
{
	uint64_t mb = hog_mb(state, event), i;
	void *held = NULL, *p;

	if (mb > HOG_MAX_MB)
		mb = HOG_MAX_MB;
	turbine_log(ctx, "taking %llu MiB with memory_mb %u", (unsigned long long)mb,
		    ctx->memory_mb);
	/* The chunks are chained through their first bytes: no bookkeeping to allocate. */
	for (i = 0; i < mb; i++) {
		p = malloc(HOG_CHUNK);
		/* As a runtime that cannot go on without the memory it asked for does. */
		if (p == NULL)
			abort();
		memset(p, (int)(i & 0xff) | 1, HOG_CHUNK);
		*(void **)p = held;
		held = p;
	}
	while (held != NULL) {
		p = *(void **)held;
		free(held);
		held = p;
	}

	msgpack_pack_map(&resp->pk, 1);
	msgpack_pack_str_with_body(&resp->pk, "mb", 2);
	msgpack_pack_uint64(&resp->pk, mb);
	return TURBINE_OK;
}

TURBINE_HANDLER(.name = "hog", .init = hog_init, .handle = hog_handle, .fini = hog_fini);
