/* Example handler: busy-wait event.us microseconds, then return {"us": us}. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <turbine/handler.h>

#define SPIN_ZONE_CHUNK_SIZE (64u * 1024u)

struct spin {
	msgpack_zone zone;
};

static int
spin_init(const struct turbine_env_config *cfg, void **state)
{
	struct spin *sp = malloc(sizeof(*sp));

	if (sp == NULL || !msgpack_zone_init(&sp->zone, SPIN_ZONE_CHUNK_SIZE)) {
		free(sp);
		turbine_init_error(cfg, "spin: out of memory");
		return -ENOMEM;
	}
	*state = sp;
	return 0;
}

static void
spin_fini(void *state)
{
	struct spin *sp = state;

	msgpack_zone_destroy(&sp->zone);
	free(sp);
}

/* event.us, 0 when the event is not a map with a non-negative integer there. */
static uint64_t
spin_us(struct spin *sp, const struct turbine_event *event)
{
	msgpack_object obj;
	size_t off = 0;
	uint32_t i;

	if (event->len == 0)
		return 0;
	msgpack_zone_clear(&sp->zone);
	if (msgpack_unpack(event->data, event->len, &off, &sp->zone, &obj) < 0 ||
	    obj.type != MSGPACK_OBJECT_MAP)
		return 0;
	for (i = 0; i < obj.via.map.size; i++) {
		const msgpack_object_kv *kv = &obj.via.map.ptr[i];

		if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == 2 &&
		    memcmp(kv->key.via.str.ptr, "us", 2) == 0)
			return kv->val.type == MSGPACK_OBJECT_POSITIVE_INTEGER ?
			       kv->val.via.u64 : 0;
	}
	return 0;
}

static uint64_t
spin_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static enum turbine_result
spin_handle(void *state, const struct turbine_event *event, const struct turbine_ctx *ctx,
	    struct turbine_resp *resp)
{
	uint64_t us = spin_us(state, event);
	uint64_t start = spin_now_ns();

	(void)ctx;
	/*
	 * Exactly what was asked, even past the deadline: this is the handler
	 * that tests timeouts and worker occupancy. The vDSO clock makes no
	 * system call, so the core stays busy as a CPU-bound handler would.
	 */
	while (spin_now_ns() - start < us * 1000u)
		;

	msgpack_pack_map(&resp->pk, 1);
	msgpack_pack_str_with_body(&resp->pk, "us", 2);
	msgpack_pack_uint64(&resp->pk, us);
	return TURBINE_OK;
}

TURBINE_HANDLER(.name = "spin", .init = spin_init, .handle = spin_handle, .fini = spin_fini);
