/* Why a request is refused: request.c's 400 messages, made out of the way of its parsing loop. */
#ifndef TURBINE_REQUEST_FAIL_H
#define TURBINE_REQUEST_FAIL_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_common.h>

#include "mp_walk.h"
#include "request.h"

/*
 * Record a 400 message; the first one wins unless `override` (an unsupported
 * version trumps all).
 */
void __rte_cold __attribute__((format(printf, 3, 4)))
request_fail(struct request_error *err, bool override, const char *fmt, ...);

/* The request cannot be read past this point: say where and why. Returns -1. */
int __rte_cold request_fail_structure(struct request_error *err, enum mp_walk_status st,
				      const char *where);

/* A value at `pos` that cannot be read, named by its key when that is a string. Returns -1. */
int __rte_cold request_fail_value(struct request_error *err, enum mp_walk_status st,
				  const uint8_t *payload, uint32_t len, uint32_t pos);

/* A `type` that is a string but none of the three. */
void __rte_cold request_fail_type(struct request_error *err, const uint8_t *s, uint32_t len);

#endif /* TURBINE_REQUEST_FAIL_H */
