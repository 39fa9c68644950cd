/* JSON values (jansson) packed as MessagePack: how the tools put events given as JSON on the wire. */
#ifndef TOOLS_JSON_MSGPACK_H
#define TOOLS_JSON_MSGPACK_H

#include <jansson.h>
#include <msgpack.h>

/*
 * Objects become maps with str keys, arrays arrays, strings str, integers
 * the smallest int/uint encoding, reals float 64, true/false/null themselves.
 */
void json_msgpack_pack(msgpack_packer *pk, const json_t *j);

#endif /* TOOLS_JSON_MSGPACK_H */
