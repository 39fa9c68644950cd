/* JSON values (jansson) and MessagePack, each made from the other: events in, records out. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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

size_t
json_msgpack_utf8_len(const uint8_t *p, size_t avail)
{
	size_t n, i;
	uint32_t cp;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		n = 2;
		cp = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3;
		cp = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		cp = p[0] & 0x07;
	} else {
		return 0;
	}
	if (avail < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	/* Overlong forms, UTF-16 surrogates, beyond U+10FFFF. */
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || (cp >= 0xd800 && cp <= 0xdfff) ||
	    cp > 0x10ffff)
		return 0;
	return n;
}

void
json_msgpack_base64(FILE *out, const uint8_t *p, size_t len)
{
	static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	uint32_t v;
	size_t i;

	for (i = 0; i + 2 < len; i += 3) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		fputc(abc[v >> 18], out);
		fputc(abc[(v >> 12) & 63], out);
		fputc(abc[(v >> 6) & 63], out);
		fputc(abc[v & 63], out);
	}
	if (len - i == 1) {
		v = (uint32_t)p[i] << 16;
		fprintf(out, "%c%c==", abc[v >> 18], abc[(v >> 12) & 63]);
	} else if (len - i == 2) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
		fprintf(out, "%c%c%c=", abc[v >> 18], abc[(v >> 12) & 63], abc[(v >> 6) & 63]);
	}
}

/* jansson takes only valid UTF-8: each byte that is not becomes U+FFFD. */
static json_t *
json_msgpack_string(const uint8_t *p, size_t len)
{
	static const char replacement[] = "\xef\xbf\xbd";
	size_t i = 0, n, o = 0;
	json_t *j;
	char *s;

	s = malloc(len * 3 + 1);
	if (s == NULL)
		return NULL;
	while (i < len) {
		n = json_msgpack_utf8_len(p + i, len - i);
		if (n == 0) {
			memcpy(s + o, replacement, 3);
			o += 3;
			i++;
			continue;
		}
		memcpy(s + o, p + i, n);
		o += n;
		i += n;
	}
	j = json_stringn(s, o);
	free(s);
	return j;
}

static json_t *
json_msgpack_base64_string(const uint8_t *p, size_t len)
{
	char *text = NULL;
	size_t text_len = 0;
	json_t *j;
	FILE *mem;

	mem = open_memstream(&text, &text_len);
	if (mem == NULL)
		return NULL;
	json_msgpack_base64(mem, p, len);
	if (fclose(mem) != 0) {
		free(text);
		return NULL;
	}
	j = json_stringn(text, text_len);
	free(text);
	return j;
}

/* A map key: a str as it is (through json_msgpack_string), anything else as its JSON text. */
static json_t *
json_msgpack_key(const msgpack_object *k)
{
	json_t *v, *key;
	char *text;

	if (k->type == MSGPACK_OBJECT_STR)
		return json_msgpack_string((const uint8_t *)k->via.str.ptr, k->via.str.size);
	v = json_msgpack_to_json(k);
	if (v == NULL)
		return NULL;
	text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(v);
	if (text == NULL)
		return NULL;
	key = json_string(text);
	free(text);
	return key;
}

static json_t *
json_msgpack_map(const msgpack_object *o)
{
	json_t *map = json_object();
	json_t *key, *val;
	uint32_t i;

	if (map == NULL)
		return NULL;
	for (i = 0; i < o->via.map.size; i++) {
		key = json_msgpack_key(&o->via.map.ptr[i].key);
		val = key != NULL ? json_msgpack_to_json(&o->via.map.ptr[i].val) : NULL;
		if (val == NULL || json_object_setn_new(map, json_string_value(key),
							json_string_length(key), val) < 0) {
			json_decref(key);
			json_decref(map);
			return NULL;
		}
		json_decref(key);
	}
	return map;
}

static json_t *
json_msgpack_array(const msgpack_object *o)
{
	json_t *array = json_array();
	uint32_t i;

	if (array == NULL)
		return NULL;
	for (i = 0; i < o->via.array.size; i++) {
		if (json_array_append_new(array, json_msgpack_to_json(&o->via.array.ptr[i])) < 0) {
			json_decref(array);
			return NULL;
		}
	}
	return array;
}

json_t *
json_msgpack_to_json(const msgpack_object *o)
{
	switch (o->type) {
	case MSGPACK_OBJECT_NIL:
		return json_null();
	case MSGPACK_OBJECT_BOOLEAN:
		return json_boolean(o->via.boolean);
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		if (o->via.u64 > INT64_MAX)
			return json_real((double)o->via.u64);
		return json_integer((json_int_t)o->via.u64);
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		return json_integer((json_int_t)o->via.i64);
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		return isfinite(o->via.f64) ? json_real(o->via.f64) : json_null();
	case MSGPACK_OBJECT_STR:
		return json_msgpack_string((const uint8_t *)o->via.str.ptr, o->via.str.size);
	case MSGPACK_OBJECT_BIN:
		return json_msgpack_base64_string((const uint8_t *)o->via.bin.ptr, o->via.bin.size);
	case MSGPACK_OBJECT_EXT:
		return json_msgpack_base64_string((const uint8_t *)o->via.ext.ptr, o->via.ext.size);
	case MSGPACK_OBJECT_ARRAY:
		return json_msgpack_array(o);
	case MSGPACK_OBJECT_MAP:
		return json_msgpack_map(o);
	}
	return json_null();
}
