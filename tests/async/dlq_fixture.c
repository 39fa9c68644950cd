/* Writes one destination record with async_stored_pack() and async_store_put(), for test_dlq.py. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "async_record.h"
#include "async_store.h"

/* Hex digits to bytes; "" is none. */
static int
fixture_hex(const char *hex, uint8_t **out, uint32_t *len)
{
	size_t n = strlen(hex), i;
	unsigned int b;

	*len = (uint32_t)(n / 2);
	*out = malloc(*len + 1);
	if (*out == NULL || n % 2 != 0)
		return -1;
	for (i = 0; i < *len; i++) {
		if (sscanf(hex + 2 * i, "%2x", &b) != 1)
			return -1;
		(*out)[i] = (uint8_t)b;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct async_outcome out = { 0 };
	struct async_event *ev;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	uint8_t *event, *response;
	uint32_t event_len, response_len;
	char err[256], *colon;
	int rc;

	if (argc != 14) {
		fprintf(stderr, "usage: %s DIR dlq|success EVENT_ID TENANT FUNCTION[:QUALIFIER] "
			"CONDITION(0-2) ATTEMPTS STATUS VERSION FN_ERROR(0|1) TIMESTAMP_NS "
			"EVENT_HEX RESPONSE_HEX\n", argv[0]);
		return 64;
	}
	if (fixture_hex(argv[12], &event, &event_len) < 0 ||
	    fixture_hex(argv[13], &response, &response_len) < 0) {
		fprintf(stderr, "bad hex\n");
		return 64;
	}
	ev = async_event_alloc(event_len);
	if (ev == NULL || async_event_id_parse(argv[3], &ev->id) < 0) {
		fprintf(stderr, "bad event id\n");
		return 64;
	}
	snprintf(ev->tenant, sizeof(ev->tenant), "%s", argv[4]);
	snprintf(ev->function, sizeof(ev->function), "%s", argv[5]);
	colon = strchr(ev->function, ':');
	if (colon != NULL) {
		*colon = '\0';
		snprintf(ev->qualifier, sizeof(ev->qualifier), "%s", colon + 1);
	}
	ev->attempts = (uint32_t)strtoul(argv[7], NULL, 10);
	memcpy(ev->event, event, event_len);
	out.condition = (enum async_condition)atoi(argv[6]);
	out.status = (uint32_t)strtoul(argv[8], NULL, 10);
	snprintf(out.version, sizeof(out.version), "%s", argv[9]);
	out.fn_error = atoi(argv[10]) != 0;
	out.timestamp_ns = strtoull(argv[11], NULL, 10);
	out.response = response_len > 0 ? response : NULL;
	out.response_len = response_len;

	rc = async_store_init(argv[1], err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	if (async_stored_pack(&pk, ev, &out) < 0) {
		fprintf(stderr, "pack failed\n");
		return 1;
	}
	rc = async_store_put(argv[1], strcmp(argv[2], "success") == 0 ? ASYNC_STORE_SUCCESS :
			     ASYNC_STORE_DLQ, &ev->id, sb.data, sb.size, true);
	if (rc < 0) {
		fprintf(stderr, "put: %s\n", strerror(-rc));
		return 1;
	}
	msgpack_sbuffer_destroy(&sb);
	free(ev);
	free(event);
	free(response);
	return 0;
}
