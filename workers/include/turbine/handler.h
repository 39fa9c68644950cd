/* Turbine handler ABI: what a function module exports and what it may call. */
#ifndef TURBINE_HANDLER_H
#define TURBINE_HANDLER_H

/*
 * A handler module is a shared object that exports one symbol,
 * `turbine_handler`, of type `const struct turbine_handler`:
 *
 *   TURBINE_HANDLER(.name = "echo", .init = my_init, .handle = my_handle);
 *
 * Lifecycle of one environment (a worker holding a warm copy of a function):
 *   init(cfg, &state)   once, before the environment's first call (Lambda's
 *                       global scope; its duration is the cold start);
 *   handle(state, ...)  once per invocation, on the worker's lcore;
 *   fini(state)         when the environment is torn down.
 *
 * Rules for handle(): it runs on a polled core. It must not block, sleep or
 * allocate per call if it wants predictable latency, and it must not keep
 * pointers into `event` after it returns: the bytes live in the request's
 * packet buffer, which becomes the response.
 *
 * The ABI is versioned: a module built against another major version, or
 * whose descriptor size differs, is refused at load time.
 */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TURBINE_HANDLER_ABI_VERSION 1u
#define TURBINE_HANDLER_SYMBOL "turbine_handler"

/* A byte string that is not NUL-terminated. */
struct turbine_str {
	const char *ptr;
	uint32_t len;
};

/* What init() is told about the environment it sets up. */
struct turbine_env_config {
	const char *function;      /* function name */
	const char *version;       /* the version being initialised */
	unsigned int worker_id;    /* 0-based worker index, stable for the process's life */
	unsigned int socket_id;    /* NUMA socket of the worker */
	uint32_t memory_mb;        /* configured memory limit */
	uint32_t timeout_ms;       /* configured function timeout */
	const char *const *params; /* NULL-terminated "key=value" list of the function's
				      params= settings (configuration file only), or NULL */
	void *internal;            /* the runtime's own; do not touch */
};

/* Per-invocation context (Lambda's context object). Read-only for handlers. */
struct turbine_ctx {
	uint64_t request_id;        /* the client's `id` */
	struct turbine_str function;
	struct turbine_str version;
	struct turbine_str tenant;
	struct turbine_str trace;   /* len 0 when the request had none */
	struct turbine_str client_context; /* raw MessagePack of `ctx`, len 0 when absent */
	uint32_t memory_mb;
	unsigned int worker_id;
	uint64_t deadline_tsc;      /* use turbine_remaining_ms() */
	uint64_t tsc_hz;
	void *internal;             /* the runtime's own; do not touch */
};

/* The request's event: raw MessagePack bytes (nil when the request had none). */
struct turbine_event {
	const char *data;
	uint32_t len;
};

/* Where the handler writes its result. */
struct turbine_resp {
	msgpack_packer pk;  /* pack exactly one object: the body */
	void *internal;     /* the runtime's own; do not touch */
};

enum turbine_result {
	TURBINE_OK = 0,     /* the body was packed into resp->pk */
	TURBINE_ERROR = 1,  /* set with turbine_error(); whatever was packed is discarded */
};

struct turbine_handler {
	uint32_t abi_version;  /* TURBINE_HANDLER_ABI_VERSION */
	uint32_t size;         /* sizeof(struct turbine_handler) */
	const char *name;      /* the module's own name, for logs */
	/* Optional. 0 on success; otherwise a negative errno and, ideally, a
	 * reason given with turbine_init_error(). *state is handed to handle/fini. */
	int (*init)(const struct turbine_env_config *cfg, void **state);
	/* Required. */
	enum turbine_result (*handle)(void *state, const struct turbine_event *event,
				      const struct turbine_ctx *ctx, struct turbine_resp *resp);
	/* Optional. */
	void (*fini)(void *state);
};

#define TURBINE_HANDLER(...) \
	__attribute__((visibility("default"))) \
	const struct turbine_handler turbine_handler = { \
		.abi_version = TURBINE_HANDLER_ABI_VERSION, \
		.size = sizeof(struct turbine_handler), \
		__VA_ARGS__ \
	}

/*
 * Calls a module may make. They are resolved from the turbine process, so a
 * module links against nothing but msgpack-c.
 */

/* Milliseconds left before the invocation's deadline (0 once it has passed). */
uint32_t turbine_remaining_ms(const struct turbine_ctx *ctx);

/* Report a function error: errorType and errorMessage of the response. */
enum turbine_result turbine_error(struct turbine_resp *resp, const char *type,
				  const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Append already-encoded MessagePack bytes (one whole object) to the body. */
int turbine_resp_raw(struct turbine_resp *resp, const void *data, size_t len);

/* The handler's log: lines kept for `log: Tail` and counted. Cheap: no I/O. */
void turbine_log(const struct turbine_ctx *ctx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* From init(): say why initialisation failed (reaches the operator and the 502 message). */
void turbine_init_error(const struct turbine_env_config *cfg, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#ifdef __cplusplus
}
#endif

#endif /* TURBINE_HANDLER_H */
