/* The request mix: weighted functions, each a pre-encoded MessagePack request with its id patched per send. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "mix.h"
#include "json_msgpack.h"

static int
mix_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

void
mix_init(struct mix *m)
{
	memset(m, 0, sizeof(*m));
}

void
mix_free(struct mix *m)
{
	unsigned int i;

	for (i = 0; i < m->nb; i++)
		json_decref(m->entries[i].event);
	m->nb = 0;
}

const char *
mix_type_name(const struct mix_entry *e)
{
	return request_type_name(e->type);
}

static int
mix_parse_type(const char *s, enum request_type *t)
{
	enum request_type candidates[] = { REQUEST_RESPONSE, REQUEST_EVENT, REQUEST_DRYRUN };
	unsigned int i;

	for (i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++) {
		if (strcmp(s, request_type_name(candidates[i])) == 0) {
			*t = candidates[i];
			return 0;
		}
	}
	return -EINVAL;
}

static bool
mix_fn_valid(const char *fn)
{
	const char *colon = strchr(fn, ':');

	if (colon == NULL)
		return request_name_valid(fn, (uint32_t)strlen(fn));
	return request_name_valid(fn, (uint32_t)(colon - fn)) &&
	       request_name_valid(colon + 1, (uint32_t)strlen(colon + 1));
}

/* {"v": 1, "id": <uint 64>, "fn": ..., ["type": ...,] ["tenant": ...,] ["event": ...]} */
static int
mix_encode(struct mix_entry *e, char *err, size_t errlen)
{
	static const uint8_t id_placeholder[9] = { 0xcf };
	msgpack_sbuffer sb;
	msgpack_packer pk;
	size_t keys = 3 + e->type_given + (e->tenant[0] != '\0') + (e->event != NULL);
	int rc = 0;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, keys);
	msgpack_pack_str_with_body(&pk, "v", 1);
	msgpack_pack_uint8(&pk, 1);
	msgpack_pack_str_with_body(&pk, "id", 2);
	msgpack_sbuffer_write(&sb, (const char *)id_placeholder, sizeof(id_placeholder));
	msgpack_pack_str_with_body(&pk, "fn", 2);
	msgpack_pack_str_with_body(&pk, e->fn, strlen(e->fn));
	if (e->type_given) {
		msgpack_pack_str_with_body(&pk, "type", 4);
		msgpack_pack_str_with_body(&pk, mix_type_name(e), strlen(mix_type_name(e)));
	}
	if (e->tenant[0] != '\0') {
		msgpack_pack_str_with_body(&pk, "tenant", 6);
		msgpack_pack_str_with_body(&pk, e->tenant, strlen(e->tenant));
	}
	if (e->event != NULL) {
		msgpack_pack_str_with_body(&pk, "event", 5);
		json_msgpack_pack(&pk, e->event);
	}
	if (sb.data == NULL || sb.size > MIX_PAYLOAD_MAX) {
		rc = mix_fail(err, errlen, "%s: the request is %zu bytes, more than the %u one "
			      "datagram carries", e->fn, sb.size, MIX_PAYLOAD_MAX);
	} else {
		memcpy(e->payload, sb.data, sb.size);
		e->payload_len = (uint16_t)sb.size;
	}
	msgpack_sbuffer_destroy(&sb);
	return rc;
}

int
mix_add(struct mix *m, const char *fn, json_t *event, double weight, const char *type,
	const char *tenant, char *err, size_t errlen)
{
	struct mix_entry *e;
	int rc;

	if (m->nb >= MIX_MAX_ENTRIES)
		return mix_fail(err, errlen, "too many mix entries (at most %u)", MIX_MAX_ENTRIES);
	if (fn == NULL || strlen(fn) > MIX_FN_MAX || !mix_fn_valid(fn))
		return mix_fail(err, errlen, "function '%s': a name is 1..64 characters of "
				"[A-Za-z0-9_-], optionally followed by :QUALIFIER", fn ? fn : "");
	if (!isfinite(weight) || weight < 0.0)
		return mix_fail(err, errlen, "%s: weight %g: a weight is a number >= 0", fn, weight);
	if (tenant != NULL && !request_name_valid(tenant, (uint32_t)strlen(tenant)))
		return mix_fail(err, errlen, "%s: tenant '%s': a tenant is 1..64 characters of "
				"[A-Za-z0-9_-]", fn, tenant);

	e = &m->entries[m->nb];
	memset(e, 0, sizeof(*e));
	snprintf(e->fn, sizeof(e->fn), "%s", fn);
	if (tenant != NULL)
		snprintf(e->tenant, sizeof(e->tenant), "%s", tenant);
	e->type = REQUEST_RESPONSE;
	if (type != NULL) {
		if (mix_parse_type(type, &e->type) != 0)
			return mix_fail(err, errlen, "%s: type '%s': one of RequestResponse, Event, "
					"DryRun", fn, type);
		e->type_given = true;
	}
	e->weight = weight;
	e->event = event;
	rc = mix_encode(e, err, errlen);
	if (rc != 0) {
		e->event = NULL;
		return rc;
	}
	json_incref(event);
	m->nb++;
	return 0;
}

json_t *
mix_load_event(const char *arg, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *j;

	if (arg[0] == '@') {
		j = json_load_file(arg + 1, JSON_DECODE_ANY, &jerr);
		if (j == NULL)
			mix_fail(err, errlen, "event file %s: %s (line %d)", arg + 1, jerr.text,
				 jerr.line);
		return j;
	}
	j = json_loads(arg, JSON_DECODE_ANY, &jerr);
	if (j == NULL)
		mix_fail(err, errlen, "event '%s' is not JSON: %s (column %d)", arg, jerr.text,
			 jerr.column);
	return j;
}

int
mix_add_spec(struct mix *m, const char *spec, const char *type, const char *tenant,
	     char *err, size_t errlen)
{
	char fn[MIX_FN_MAX + 2];
	const char *colon, *fn_end;
	json_t *event = NULL;
	size_t fn_len;
	double weight;
	char *end;
	int rc;

	colon = strchr(spec, ':');
	if (colon == NULL || colon == spec)
		return mix_fail(err, errlen, "mix entry '%s': expected WEIGHT:FN[:EVENT_JSON]", spec);
	errno = 0;
	weight = strtod(spec, &end);
	if (errno != 0 || end != colon)
		return mix_fail(err, errlen, "mix entry '%s': weight '%.*s' is not a number", spec,
				(int)(colon - spec), spec);
	fn_end = strchr(colon + 1, ':');
	fn_len = fn_end != NULL ? (size_t)(fn_end - colon - 1) : strlen(colon + 1);
	if (fn_len == 0 || fn_len > MIX_FN_MAX)
		return mix_fail(err, errlen, "mix entry '%s': expected WEIGHT:FN[:EVENT_JSON]", spec);
	memcpy(fn, colon + 1, fn_len);
	fn[fn_len] = '\0';
	if (fn_end != NULL) {
		event = mix_load_event(fn_end + 1, err, errlen);
		if (event == NULL)
			return -EINVAL;
	}
	rc = mix_add(m, fn, event, weight, type, tenant, err, errlen);
	json_decref(event);
	return rc;
}

static int
mix_add_object(struct mix *m, const char *path, size_t index, json_t *o, const char *type,
	       const char *tenant, char *err, size_t errlen)
{
	static const char *const known[] = { "fn", "event", "weight", "type", "tenant" };
	json_t *fn, *w, *t, *tn;
	double weight = 1.0;
	const char *key;
	json_t *v;
	size_t i;
	int rc;

	if (!json_is_object(o))
		return mix_fail(err, errlen, "%s: entry %zu is not an object", path, index + 1);
	json_object_foreach(o, key, v) {
		for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
			if (strcmp(key, known[i]) == 0)
				break;
		if (i == sizeof(known) / sizeof(known[0]))
			return mix_fail(err, errlen, "%s: entry %zu: unknown key '%s' (known: fn, "
					"event, weight, type, tenant)", path, index + 1, key);
	}
	fn = json_object_get(o, "fn");
	w = json_object_get(o, "weight");
	t = json_object_get(o, "type");
	tn = json_object_get(o, "tenant");
	if (!json_is_string(fn))
		return mix_fail(err, errlen, "%s: entry %zu: \"fn\" (a string) is required",
				path, index + 1);
	if (w != NULL) {
		if (!json_is_number(w))
			return mix_fail(err, errlen, "%s: entry %zu: \"weight\" must be a number",
					path, index + 1);
		weight = json_number_value(w);
	}
	if ((t != NULL && !json_is_string(t)) || (tn != NULL && !json_is_string(tn)))
		return mix_fail(err, errlen, "%s: entry %zu: \"type\" and \"tenant\" are strings",
				path, index + 1);
	rc = mix_add(m, json_string_value(fn), json_object_get(o, "event"), weight,
		     t != NULL ? json_string_value(t) : type,
		     tn != NULL ? json_string_value(tn) : tenant, err, errlen);
	if (rc != 0) {
		char inner[256];

		snprintf(inner, sizeof(inner), "%s", err);
		return mix_fail(err, errlen, "%s: entry %zu: %s", path, index + 1, inner);
	}
	return 0;
}

int
mix_load_file(struct mix *m, const char *path, const char *type, const char *tenant,
	      char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *doc, *o;
	size_t i;
	int rc = 0;

	doc = json_load_file(path, 0, &jerr);
	if (doc == NULL)
		return mix_fail(err, errlen, "%s: %s (line %d)", path, jerr.text, jerr.line);
	if (!json_is_array(doc) || json_array_size(doc) == 0) {
		json_decref(doc);
		return mix_fail(err, errlen, "%s: expected a non-empty JSON array of "
				"{fn, event, weight, type, tenant}", path);
	}
	json_array_foreach(doc, i, o) {
		rc = mix_add_object(m, path, i, o, type, tenant, err, errlen);
		if (rc != 0)
			break;
	}
	json_decref(doc);
	return rc;
}

int
mix_finish(struct mix *m, char *err, size_t errlen)
{
	double total = 0.0, cum = 0.0;
	unsigned int i;

	if (m->nb == 0)
		return mix_fail(err, errlen, "no function to call: give --fn NAME, --mix FILE or "
				"--mix-entry WEIGHT:FN[:EVENT_JSON]");
	for (i = 0; i < m->nb; i++)
		total += m->entries[i].weight;
	if (!(total > 0.0) || !isfinite(total))
		return mix_fail(err, errlen, "the mix weights sum to %g: at least one must be above 0",
				total);
	m->total_weight = total;
	for (i = 0; i < m->nb; i++) {
		double edge;

		cum += m->entries[i].weight;
		edge = ldexp(cum / total, 64);
		m->cumulative[i] = edge >= 0x1.0p64 ? UINT64_MAX : (uint64_t)edge;
		if (m->entries[i].weight > 0.0)
			m->pick_last = i;
	}
	return 0;
}
