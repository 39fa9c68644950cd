/* Test handler: holds calls `event.us` us; reports the most inside at once and the limits it ran under. */
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <turbine/handler.h>

/* Shared by every environment in the process: what the limits must bound. */
static unsigned int peak_inside;
static unsigned int peak_max;

static uint64_t
peak_event_us(const struct turbine_event *event)
{
	msgpack_unpacked u;
	uint64_t us = 0;
	uint32_t i;

	if (event->len == 0)
		return 0;
	msgpack_unpacked_init(&u);
	if (msgpack_unpack_next(&u, event->data, event->len, NULL) == MSGPACK_UNPACK_SUCCESS &&
	    u.data.type == MSGPACK_OBJECT_MAP)
		for (i = 0; i < u.data.via.map.size; i++) {
			const msgpack_object_kv *kv = &u.data.via.map.ptr[i];

			if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == 2 &&
			    memcmp(kv->key.via.str.ptr, "us", 2) == 0 &&
			    kv->val.type == MSGPACK_OBJECT_POSITIVE_INTEGER)
				us = kv->val.via.u64;
		}
	msgpack_unpacked_destroy(&u);
	return us;
}

static enum turbine_result
peak_handle(void *state, const struct turbine_event *event, const struct turbine_ctx *ctx,
	    struct turbine_resp *resp)
{
	/* The limits the call runs under, as it starts. */
	uint32_t remaining_ms = turbine_remaining_ms(ctx);
	unsigned int now = __atomic_add_fetch(&peak_inside, 1, __ATOMIC_SEQ_CST);
	unsigned int seen = __atomic_load_n(&peak_max, __ATOMIC_SEQ_CST);
	uint64_t us = peak_event_us(event);
	struct timespec ts = { (time_t)(us / 1000000), (long)(us % 1000000) * 1000 };

	(void)state;
	while (now > seen && !__atomic_compare_exchange_n(&peak_max, &seen, now, false,
							   __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
		;
	/* Sleeping, not spinning: the test runs several workers on one CPU. */
	nanosleep(&ts, NULL);
	__atomic_sub_fetch(&peak_inside, 1, __ATOMIC_SEQ_CST);

	msgpack_pack_map(&resp->pk, 4);
	msgpack_pack_str_with_body(&resp->pk, "peak", 4);
	msgpack_pack_unsigned_int(&resp->pk, __atomic_load_n(&peak_max, __ATOMIC_SEQ_CST));
	msgpack_pack_str_with_body(&resp->pk, "worker", 6);
	msgpack_pack_unsigned_int(&resp->pk, ctx->worker_id);
	msgpack_pack_str_with_body(&resp->pk, "memory_mb", 9);
	msgpack_pack_unsigned_int(&resp->pk, ctx->memory_mb);
	msgpack_pack_str_with_body(&resp->pk, "remaining_ms", 12);
	msgpack_pack_unsigned_int(&resp->pk, remaining_ms);
	return TURBINE_OK;
}

TURBINE_HANDLER(.name = "peak", .handle = peak_handle);
