/* turbine-gen's own options (after EAL's and `--`): declared once in a table, checked together. */
#ifndef GEN_OPTIONS_H
#define GEN_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "mix.h"

enum gen_load {
	GEN_LOAD_OPEN = 0,   /* --rate: a schedule, fixed or Poisson, whatever the replies do */
	GEN_LOAD_CLOSED,     /* --outstanding: a new request as each one is answered */
	GEN_LOAD_MAX,        /* --max: closed loop with a deep window, to find the peak */
};

/* With --max and no --outstanding: deep enough to keep a dispatcher busy, short of its rings. */
#define OPTIONS_MAX_OUTSTANDING 512
/* Usage errors exit with this (EX_USAGE), told apart from a failed run. */
#define OPTIONS_EXIT_USAGE 64

struct gen_config {
	uint32_t dst_ip;            /* network order, as the frames carry them */
	uint16_t dst_port;
	uint32_t src_ip;
	uint16_t src_port;
	bool has_dst_mac;
	uint8_t dst_mac[6];
	uint32_t port_id;

	enum gen_load load;
	double rate;                /* requests per second; 0 without --rate */
	bool poisson;
	bool max;
	uint32_t outstanding;       /* closed-loop window, or a cap on an open loop; 0: none */
	double warmup_s;
	double duration_s;
	uint32_t drain_ms;
	uint32_t arp_timeout_ms;
	uint32_t burst;
	uint64_t seed;
	bool reflector;
	bool quiet;
	const char *json_path;

	const char *fn;             /* --fn, --event, --type, --tenant: a one-function load */
	const char *event;
	const char *type;
	const char *tenant;
	const char *mix_path;
	const char *mix_specs[MIX_MAX_ENTRIES];
	unsigned int nb_mix_specs;
	struct mix mix;

	uint64_t given;             /* bit per option: given on the command line */
};

/*
 * Parse turbine-gen's arguments (argv[0] is skipped) into cfg, defaults
 * first, and check them together. Returns 0, 1 when --help was printed, or
 * -EINVAL with a message naming the option in err.
 */
int options_parse(struct gen_config *cfg, int argc, char **argv, char *err, size_t errlen);
void options_free(struct gen_config *cfg);
void options_usage(FILE *out, const char *prog);

/* "open", "closed", "max" */
const char *options_load_name(enum gen_load load);

#endif /* GEN_OPTIONS_H */
