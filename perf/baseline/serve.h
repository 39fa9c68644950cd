/* The kernel baseline's request handling: one datagram in, one PROTOCOL.md response out. */
#ifndef BASELINE_SERVE_H
#define BASELINE_SERVE_H

#include <stdint.h>

#include <msgpack.h>

#include "invoke.h"
#include "module.h"

#define SERVE_MAX_FUNCTIONS 16
/* A response's UDP payload on a 1500-byte MTU, the dispatcher's limit on a veth. */
#define SERVE_MAX_PAYLOAD 1472u

/* A function as the baseline serves it: what `--fn NAME=PATH[,timeout_ms=N]` declared. */
struct serve_function {
	char name[65];
	uint32_t name_len;
	uint32_t timeout_ms;
	uint64_t timeout_tsc;
	struct module mod;
};

/* The counters one thread keeps; summed by main() at exit. */
enum serve_counter {
	SERVE_requests,
	SERVE_status_200,
	SERVE_status_204,
	SERVE_status_400,
	SERVE_status_404,
	SERVE_status_500,
	SERVE_status_502,
	SERVE_status_503,
	SERVE_fn_errors,
	SERVE_send_errors,
	SERVE_COUNTER_MAX,
};

extern const char *const serve_counter_names[SERVE_COUNTER_MAX];

/* Everything one thread owns: the worker's side of Turbine, one per kernel thread. */
struct serve_thread {
	unsigned int id;
	uint64_t tsc_hz;
	unsigned int nb_functions;
	const struct serve_function *functions;
	struct environment envs[SERVE_MAX_FUNCTIONS];
	struct invoke_scratch scratch;
	struct response_head head;  /* every 200's start, as a Turbine deployment has it */
	uint64_t counters[SERVE_COUNTER_MAX];
};

/* Set up one thread's environments (each function's init runs here). */
int serve_thread_init(struct serve_thread *t, unsigned int id, const struct serve_function *fns,
		      unsigned int nb_functions, uint64_t tsc_hz);
void serve_thread_fini(struct serve_thread *t);

/*
 * Answer one request of `len` bytes into `out` (SERVE_MAX_PAYLOAD bytes).
 * Returns the response's length, or 0 when nothing could be encoded.
 */
uint32_t serve_datagram(struct serve_thread *t, const uint8_t *in, uint32_t len, uint8_t *out);

#endif /* BASELINE_SERVE_H */
