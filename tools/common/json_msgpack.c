/* JSON values (jansson) packed as MessagePack: how the tools put events given as JSON on the wire. */
#include <stdint.h>

#include "json_msgpack.h"

void
json_msgpack_pack(msgpack_packer *pk, const json_t *j)
{
	const char *key;
	size_t key_len;
	json_t *v;
	size_t i;

	switch (json_typeof(j)) {
	case JSON_OBJECT:
		msgpack_pack_map(pk, json_object_size(j));
		json_object_keylen_foreach((json_t *)j, key, key_len, v) {
			msgpack_pack_str_with_body(pk, key, key_len);
			json_msgpack_pack(pk, v);
		}
		break;
	case JSON_ARRAY:
		msgpack_pack_array(pk, json_array_size(j));
		json_array_foreach(j, i, v)
			json_msgpack_pack(pk, v);
		break;
	case JSON_STRING:
		msgpack_pack_str_with_body(pk, json_string_value(j), json_string_length(j));
		break;
	case JSON_INTEGER:
		if (json_integer_value(j) < 0)
			msgpack_pack_int64(pk, json_integer_value(j));
		else
			msgpack_pack_uint64(pk, (uint64_t)json_integer_value(j));
		break;
	case JSON_REAL:
		msgpack_pack_double(pk, json_real_value(j));
		break;
	case JSON_TRUE:
		msgpack_pack_true(pk);
		break;
	case JSON_FALSE:
		msgpack_pack_false(pk);
		break;
	case JSON_NULL:
		msgpack_pack_nil(pk);
		break;
	}
}
