/* Placement: which workers hold a warm environment of which function, from a topology given as data. */
#ifndef TURBINE_PLACEMENT_H
#define TURBINE_PLACEMENT_H

#include <stdbool.h>
#include <stdint.h>

#define PLACEMENT_MAX_WORKERS 64
#define PLACEMENT_MAX_FUNCTIONS 64

/* The machine as placement sees it: read from DPDK and libnuma at start-up, synthetic in tests. */
struct placement_topology {
	unsigned int nb_workers;
	unsigned int worker_socket[PLACEMENT_MAX_WORKERS];
	unsigned int home_socket;    /* where the port and its dispatchers are */
};

/* What a function asks for. */
struct placement_demand {
	uint32_t reserved_concurrency;  /* 0: not reserved, as many environments as workers */
};

struct placement_plan {
	unsigned int nb_workers[PLACEMENT_MAX_FUNCTIONS];
	uint16_t workers[PLACEMENT_MAX_FUNCTIONS][PLACEMENT_MAX_WORKERS];
	unsigned int away[PLACEMENT_MAX_FUNCTIONS];  /* environments off the home socket */
};

/*
 * Give each function its environments: as many as its reserved concurrency
 * allows (a worker runs one call at a time, so more would only hold idle
 * state, and a reservation caps what the function may hold, e.g. database
 * connections), at most one per worker; workers on the home socket first,
 * and among equals the least loaded, so that functions spread over workers.
 * `away` counts environments that had to go to another socket.
 */
void placement_plan(const struct placement_topology *topo, const struct placement_demand *demand,
		    unsigned int nb_functions, struct placement_plan *plan);

/* While running: the worker manager's view of one function, each period. */
struct placement_load {
	unsigned int environments;    /* in dispatch now */
	uint64_t in_flight;           /* calls admitted and not finished */
	uint32_t idle_s;              /* seconds since its last call */
	uint32_t reserved_concurrency;
};

enum placement_move {
	PLACEMENT_KEEP = 0,
	PLACEMENT_GROW,    /* calls wait for an environment, and it may have another */
	PLACEMENT_SHRINK,  /* idle past the limit, and it holds more than one */
};

/* What to do for a function on a machine of nb_workers; idle_limit_s 0 never shrinks. */
enum placement_move placement_decide(const struct placement_load *load, unsigned int nb_workers,
				     uint32_t idle_limit_s);

/*
 * Where to grow: a worker not in `held`, home socket first, then least
 * loaded (`load`: environments per worker). Where to shrink: a held worker
 * off the home socket first, then the most loaded. -1 when there is none.
 */
int placement_pick_grow(const struct placement_topology *topo, const unsigned int *load,
			const bool *held);
int placement_pick_shrink(const struct placement_topology *topo, const unsigned int *load,
			  const bool *held);

#endif /* TURBINE_PLACEMENT_H */
