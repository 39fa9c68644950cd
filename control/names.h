/* Name indexes: function and tenant names to table indexes, read lock-free by the data plane. */
#ifndef TURBINE_NAMES_H
#define TURBINE_NAMES_H

#include <stdint.h>

struct rte_hash;

/* An index for up to `entries` names; the control thread adds, any lcore finds. */
struct rte_hash *names_create(const char *name, unsigned int entries);
void names_free(struct rte_hash *h);
/* 0, or a negative errno. */
int names_add(struct rte_hash *h, const char *name, unsigned int index);
/* The index of a name given as bytes, or -1. */
int names_find(const struct rte_hash *h, const char *name, uint32_t len);

#endif /* TURBINE_NAMES_H */
