/* JSON values (jansson) and MessagePack, each made from the other: events in, records out. */
#ifndef TOOLS_JSON_MSGPACK_H
#define TOOLS_JSON_MSGPACK_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>
#include <msgpack.h>

/*
 * Objects become maps with str keys, arrays arrays, strings str, integers
 * the smallest int/uint encoding, reals float 64, true/false/null themselves.
 */
void json_msgpack_pack(msgpack_packer *pk, const json_t *j);

/*
 * The other way, as turbine-invoke prints a response: str as strings (a
 * byte that is not UTF-8 becomes U+FFFD), bin and ext as base64 strings,
 * an integer beyond JSON's int64 as a real, a float that is not finite as
 * null, a map key that is not a str as its compact JSON text. NULL when out
 * of memory.
 */
json_t *json_msgpack_to_json(const msgpack_object *o);

/* Length of the well-formed UTF-8 sequence at p (RFC 3629), or 0 when it is not one. */
size_t json_msgpack_utf8_len(const uint8_t *p, size_t avail);

/* Bytes as padded base64 (RFC 4648), without quotes. */
void json_msgpack_base64(FILE *out, const uint8_t *p, size_t len);

#endif /* TOOLS_JSON_MSGPACK_H */
