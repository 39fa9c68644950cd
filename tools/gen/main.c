/* turbine-gen: the load generator. EAL options, then `--`, then its own (see --help). */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_random.h>
#include <rte_ring.h>

#include "gen.h"
#include "report.h"

#define MAIN_CTL_RING_SIZE 256
/* Tracking table bounds, in requests (32 bytes each). */
#define MAIN_TABLE_MIN (1ull << 12)
#define MAIN_TABLE_CLOSED (1ull << 20)
#define MAIN_TABLE_MAX (1ull << 23)

static struct gen main_gen;
static char main_prog[] = "turbine-gen";
static char main_separator[] = "--";

static void
main_on_signal(int sig __rte_unused)
{
	/* The first signal ends the measured window and drains; a second one stops at once. */
	if (__atomic_load_n(&main_gen.stop, __ATOMIC_RELAXED))
		__atomic_store_n(&main_gen.quit, 1, __ATOMIC_RELAXED);
	__atomic_store_n(&main_gen.stop, 1, __ATOMIC_RELAXED);
}

/*
 * Room for every request that can be unresolved at once: an open loop's
 * rate times the drain timeout (a lost request holds its slot that long),
 * twice over; a closed loop's rate is not known ahead, so a generous fixed size.
 */
static uint64_t
main_table_size(const struct gen_config *c)
{
	double want;

	if (c->load == GEN_LOAD_OPEN)
		want = 2.0 * (c->rate * (c->drain_ms / 1000.0 + 0.1) + c->burst);
	else
		want = (double)RTE_MAX((uint64_t)c->outstanding * 64, MAIN_TABLE_CLOSED);
	if (want < MAIN_TABLE_MIN)
		want = MAIN_TABLE_MIN;
	if (want > MAIN_TABLE_MAX)
		want = MAIN_TABLE_MAX;
	return rte_align64pow2((uint64_t)want);
}

static int
main_lcores(struct gen *g, char *err __rte_unused, size_t errlen __rte_unused)
{
	g->nb_lcores = rte_lcore_count() >= 2 ? 2 : 1;
	g->tx_lcore = rte_get_main_lcore();
	g->rx_lcore = g->nb_lcores == 2 ? rte_get_next_lcore(-1, 1, 0) : g->tx_lcore;
	if (rte_lcore_count() > 2)
		fprintf(stderr, "turbine-gen: warning: %u lcores given; one sends and one receives, "
			"the others stay idle\n", rte_lcore_count());
	return 0;
}

static int
main_tables(struct gen *g, char *err, size_t errlen)
{
	uint64_t size = main_table_size(&g->cfg);
	int rc;

	/* Ids start at a random point: replies left over from an earlier run match nothing. */
	rc = match_init(&g->match, size, (rte_rand() >> 2) | 1);
	if (rc != 0) {
		snprintf(err, errlen, "cannot allocate a table for %" PRIu64 " requests: %s", size,
			 strerror(-rc));
		return rc;
	}
	g->ctl = rte_ring_create("gen_ctl", MAIN_CTL_RING_SIZE, (int)rte_socket_id(),
				 RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (g->ctl == NULL) {
		snprintf(err, errlen, "cannot create the control ring: %s", rte_strerror(rte_errno));
		return -rte_errno;
	}
	return 0;
}

/* The run's phases in TSC ticks, fixed before anything reads them. */
static int
main_schedule(struct gen *g, char *err __rte_unused, size_t errlen __rte_unused)
{
	time_t wall = time(NULL);
	struct tm tm;

	gmtime_r(&wall, &tm);
	strftime(g->started_at, sizeof(g->started_at), "%Y-%m-%dT%H:%M:%SZ", &tm);
	g->t_start = rte_rdtsc() + g->tsc_hz / 1000 * GEN_START_DELAY_MS;
	g->t_measure = g->t_start + (uint64_t)(g->cfg.warmup_s * (double)g->tsc_hz);
	g->t_end = g->t_measure + (uint64_t)(g->cfg.duration_s * (double)g->tsc_hz);
	tx_start(g->tx);
	return 0;
}

/* Start-up, in order; the first failure stops it with one message. */
static const struct {
	const char *name;
	int (*init)(struct gen *g, char *err, size_t errlen);
} main_steps[] = {
	{ "port", port_init },
	{ "arp", arp_resolve },
	{ "lcores", main_lcores },
	{ "tables", main_tables },
	{ "tx", tx_init },
	{ "rx", rx_init },
	{ "schedule", main_schedule },
	{ "reporter", report_live_start },
};

static void
main_teardown(struct gen *g)
{
	report_live_stop();
	rx_fini(g);
	tx_fini(g);
	port_fini(g);
	rte_ring_free(g->ctl);
	match_free(&g->match);
	options_free(&g->cfg);
	rte_eal_cleanup();
	free(g->argv);
}

/* One lcore does both: receive first, so that replies are timed before new sends delay them. */
static int
main_single(void *arg)
{
	struct gen *g = arg;

	while (!__atomic_load_n(&g->quit, __ATOMIC_RELAXED)) {
		rx_poll(g->rx);
		tx_poll(g->tx);
		if (rx_finished(g->rx, rte_rdtsc()))
			__atomic_store_n(&g->quit, 1, __ATOMIC_RELAXED);
	}
	return 0;
}

static void
main_run(struct gen *g)
{
	if (g->nb_lcores == 1) {
		main_single(g);
		return;
	}
	if (rte_eal_remote_launch(rx_main, g, g->rx_lcore) != 0) {
		fprintf(stderr, "turbine-gen: warning: cannot start the RX lcore %u; running on "
			"one lcore\n", g->rx_lcore);
		g->nb_lcores = 1;
		g->rx_lcore = g->tx_lcore;
		main_single(g);
		return;
	}
	tx_main(g);
	rte_eal_wait_lcore(g->rx_lcore);
}

/* Where `--` is: EAL's arguments before it, ours after. -1 when absent. */
static int
main_find_separator(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "--") == 0)
			return i;
	return -1;
}

/* Fail before the run, not after it, when the results could not be written. */
static int
main_check_json_path(const char *path, char *err, size_t errlen)
{
	FILE *f;

	if (access(path, F_OK) == 0) {
		if (access(path, W_OK) == 0)
			return 0;
	} else if ((f = fopen(path, "w")) != NULL) {
		fclose(f);
		unlink(path);
		return 0;
	}
	snprintf(err, errlen, "--json %s: cannot write it: %s", path, strerror(errno));
	return -errno;
}

/*
 * Our options, before EAL's: a usage error needs no DPDK, no hugepages and no
 * port. Returns the exit code when there is nothing to run, -1 to go on.
 */
static int
main_parse(struct gen *g, int argc, char **argv, int *sep)
{
	char err[1024] = "";
	int rc;

	*sep = main_find_separator(argc, argv);
	if (*sep < 0 && argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
		options_usage(stdout, "turbine-gen");
		return 0;
	}
	if (*sep < 0) {
		fprintf(stderr, "turbine-gen: expected [EAL options] -- [options] (see -- --help)\n");
		return OPTIONS_EXIT_USAGE;
	}
	argv[*sep] = main_prog;
	rc = options_parse(&g->cfg, argc - *sep, argv + *sep, err, sizeof(err));
	argv[*sep] = main_separator;
	if (rc == 0 && g->cfg.json_path != NULL)
		rc = main_check_json_path(g->cfg.json_path, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "turbine-gen: %s\n", err);
		return OPTIONS_EXIT_USAGE;
	}
	return rc == 1 ? 0 : -1;
}

int
main(int argc, char **argv)
{
	struct gen *g = &main_gen;
	struct report_totals *totals;
	char err[1024] = "";
	struct sigaction sa;
	unsigned int step;
	int sep, rc;

	/* EAL rewrites argv's slots; the report shows the command as it was given. */
	g->argc = argc;
	g->argv = calloc((size_t)argc + 1, sizeof(*g->argv));
	if (g->argv == NULL)
		return 1;
	memcpy(g->argv, argv, (size_t)argc * sizeof(*argv));
	rc = main_parse(g, argc, argv, &sep);
	if (rc >= 0) {
		options_free(&g->cfg);
		free(g->argv);
		return rc;
	}

	rc = rte_eal_init(sep, argv);
	if (rc < 0) {
		fprintf(stderr, "turbine-gen: cannot initialise DPDK (EAL): %s\n",
			rte_strerror(rte_errno));
		options_free(&g->cfg);
		free(g->argv);
		return 1;
	}
	g->tsc_hz = rte_get_tsc_hz();

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = main_on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	for (step = 0; step < RTE_DIM(main_steps); step++) {
		rc = main_steps[step].init(g, err, sizeof(err));
		if (rc != 0) {
			fprintf(stderr, "turbine-gen: %s: %s\n", main_steps[step].name, err);
			main_teardown(g);
			return 1;
		}
	}
	main_run(g);
	report_live_stop();

	totals = report_totals(g);
	if (totals == NULL) {
		fprintf(stderr, "turbine-gen: out of memory adding up the results\n");
		main_teardown(g);
		return 1;
	}
	report_print(g, totals, stdout);
	rc = 0;
	if (g->cfg.json_path != NULL && results_write(g, totals, g->cfg.json_path, err,
						      sizeof(err)) != 0) {
		fprintf(stderr, "turbine-gen: %s\n", err);
		rc = 1;
	}
	free(totals);
	main_teardown(g);
	return rc;
}
