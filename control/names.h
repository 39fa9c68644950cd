/* Name indexes: function and tenant names to table indexes, read lock-free by the data plane. */
#ifndef TURBINE_NAMES_H
#define TURBINE_NAMES_H

#include <stdint.h>

struct names;

/* An index for up to `max` names; one writer at a time adds, any thread finds. NULL: no memory. */
struct names *names_create(unsigned int max);
void names_free(struct names *n);
/* 0, -EINVAL (empty or longer than CONFIG_NAME_MAX), -EEXIST, or -ENOSPC (`max` reached). */
int names_add(struct names *n, const char *name, unsigned int index);
/* The index of a name given as `len` bytes, or -1. */
int names_find(const struct names *n, const char *name, uint32_t len);

#endif /* TURBINE_NAMES_H */
