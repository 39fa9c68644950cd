/* Round trip through a sandbox (submit to poll, echo), cold starts: figures printed, never asserted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_cycles.h>

#include "sandbox.h"

#define BENCH_BUSY_CALLS  20000u
#define BENCH_IDLE_CALLS  200u
#define BENCH_IDLE_GAP_US 2000u
#define BENCH_COLD_STARTS 20u

static uint64_t bench_tsc_hz;

static uint64_t
bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t
bench_measure_tsc_hz(void)
{
	uint64_t t0 = bench_now_ns(), c0 = rte_rdtsc(), t1, c1;

	do {
		t1 = bench_now_ns();
	} while (t1 - t0 < 50000000u);
	c1 = rte_rdtsc();
	return (uint64_t)((double)(c1 - c0) * 1e9 / (double)(t1 - t0));
}

static int
bench_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void
bench_report(const char *what, uint64_t *ns, unsigned int n)
{
	qsort(ns, n, sizeof(*ns), bench_cmp);
	printf("%-44s n=%-6u median %8.2f us  p90 %8.2f us  p99 %8.2f us  min %8.2f us\n", what, n,
	       ns[n / 2] / 1e3, ns[n * 9 / 10] / 1e3, ns[n * 99 / 100] / 1e3, ns[0] / 1e3);
}

static struct sandbox *
bench_start(const char *exe, const char *module, uint32_t spin_us)
{
	struct sandbox_params p;
	struct sandbox *sb;
	char err[256];

	memset(&p, 0, sizeof(p));
	p.exe = exe;
	p.module = module;
	p.function = "echo";
	p.version = "1";
	p.memory_mb = 128;
	p.timeout_ms = 3000;
	p.spin_us = spin_us;
	if (sandbox_create(&p, &sb, err, sizeof(err)) != 0) {
		fprintf(stderr, "sandbox_create: %s\n", err);
		exit(1);
	}
	if (sandbox_wait_ready(sb) != 0) {
		fprintf(stderr, "sandbox not ready: %s\n", sandbox_error(sb));
		exit(1);
	}
	return sb;
}

/* One call, the worker's way: submit, then poll without ever sleeping. Its time in ns. */
static uint64_t
bench_call(struct sandbox *sb, const uint8_t *event, uint32_t len, uint8_t *resp, uint32_t cap)
{
	struct sandbox_done done;
	struct invoke_args args;
	uint64_t t0, t1;

	memset(&args, 0, sizeof(args));
	args.ctx.tenant = (struct turbine_str){ "default", 7 };
	args.ctx.tsc_hz = bench_tsc_hz;
	args.event.data = (const char *)event;
	args.event.len = len;
	args.timeout_ms = 3000;
	t0 = rte_rdtsc();
	args.ctx.deadline_tsc = t0 + 3 * bench_tsc_hz;
	if (sandbox_submit(sb, &args, resp, cap, NULL) != 0) {
		fprintf(stderr, "submit refused\n");
		exit(1);
	}
	while (sandbox_poll(sb, rte_rdtsc(), &done) == 0)
		sandbox_ring_pause();
	t1 = rte_rdtsc();
	if (done.kind != SANDBOX_DONE_REPLY || done.out.fn_error) {
		fprintf(stderr, "call failed\n");
		exit(1);
	}
	return (t1 - t0) * 1000000000u / bench_tsc_hz;
}

static void
bench_round_trips(const char *exe, const char *module, uint32_t spin_us, bool idle,
		  const char *what)
{
	/* {"k": "a 64-byte string"}: a small event, as most invocations carry. */
	static uint8_t event[70] = { 0x81, 0xa1, 'k', 0xd9, 64 };
	static uint8_t resp[64 * 1024];
	unsigned int n = idle ? BENCH_IDLE_CALLS : BENCH_BUSY_CALLS, i;
	uint64_t *ns = calloc(n, sizeof(*ns));
	struct sandbox *sb = bench_start(exe, module, spin_us);

	memset(event + 5, 'x', 64);
	for (i = 0; i < 1000; i++)
		bench_call(sb, event, 69, resp, sizeof(resp));
	for (i = 0; i < n; i++) {
		if (idle)
			usleep(BENCH_IDLE_GAP_US);
		ns[i] = bench_call(sb, event, 69, resp, sizeof(resp));
	}
	bench_report(what, ns, n);
	free(ns);
	sandbox_destroy(sb, 1000);
}

static void
bench_cold_starts(const char *exe, const char *module)
{
	uint64_t ns[BENCH_COLD_STARTS], init[BENCH_COLD_STARTS];
	struct sandbox *sb;
	unsigned int i;

	for (i = 0; i < BENCH_COLD_STARTS; i++) {
		sb = bench_start(exe, module, 0);
		ns[i] = sandbox_cold_start_ns(sb);
		init[i] = sandbox_init_ns(sb);
		sandbox_destroy(sb, 1000);
	}
	bench_report("cold start (spawn, jail, dlopen, init: ready)", ns, BENCH_COLD_STARTS);
	bench_report("  of which init", init, BENCH_COLD_STARTS);
}

int
main(void)
{
	const char *exe = getenv("TURBINE_SANDBOX");
	const char *module = getenv("TURBINE_MODULE_ECHO");

	if (exe == NULL || module == NULL) {
		fprintf(stderr, "TURBINE_SANDBOX and TURBINE_MODULE_ECHO must be set\n");
		return 1;
	}
	bench_tsc_hz = bench_measure_tsc_hz();
	bench_round_trips(exe, module, 20, false, "round trip, back to back, spin 20 us");
	bench_round_trips(exe, module, 1000, false, "round trip, back to back, spin 1 ms");
	bench_round_trips(exe, module, 20, true, "round trip, 2 ms apart (sandbox asleep)");
	bench_cold_starts(exe, module);
	return 0;
}
