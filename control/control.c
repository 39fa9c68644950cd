/* The control thread: everything slow, off the polled cores (today: the live status line). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <rte_lcore.h>

#include "control.h"
#include "status.h"

/* Short naps so that stopping never waits a whole status period. */
#define CONTROL_TICK_NS 100000000L
#define CONTROL_STATUS_TICKS 10

static pthread_t control_thread;
static bool control_running;
static int control_quit;

static double
control_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *
control_main(void *arg)
{
	const struct runtime *rt = arg;
	const struct timespec tick = { 0, CONTROL_TICK_NS };
	struct status_snapshot prev, now;
	double prev_at, now_at;
	unsigned int ticks = 0;

	status_read(rt, &prev);
	prev_at = control_now();
	while (!__atomic_load_n(&control_quit, __ATOMIC_RELAXED)) {
		nanosleep(&tick, NULL);
		if (++ticks < CONTROL_STATUS_TICKS)
			continue;
		ticks = 0;
		status_read(rt, &now);
		now_at = control_now();
		if (!rt->cfg.quiet && !runtime_quitting(rt))
			status_print_line(stdout, &now, &prev, now_at - prev_at);
		prev = now;
		prev_at = now_at;
	}
	return NULL;
}

int
control_start(struct runtime *rt, char *err, size_t errlen)
{
	int rc;

	rc = rte_ctrl_thread_create(&control_thread, "turbine-ctl", NULL, control_main, rt);
	if (rc != 0) {
		snprintf(err, errlen, "cannot start the control thread: %s", strerror(rc));
		return -rc;
	}
	control_running = true;
	return 0;
}

void
control_stop(void)
{
	if (!control_running)
		return;
	__atomic_store_n(&control_quit, 1, __ATOMIC_RELAXED);
	pthread_join(control_thread, NULL);
	control_running = false;
}
