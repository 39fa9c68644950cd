/* Unit tests of the mix: request templates (read back by the dispatcher's own parser), picks, and refusals. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "mix.h"
#include "json_msgpack.h"
#include "request.h"
#include "rng.h"

static struct mix m;
static char err[512];
static msgpack_zone zone;

static int
setup(void **state)
{
	(void)state;
	mix_init(&m);
	err[0] = '\0';
	return msgpack_zone_init(&zone, MSGPACK_ZONE_CHUNK_SIZE) ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	mix_free(&m);
	msgpack_zone_destroy(&zone);
	return 0;
}

static int
add_json(const char *fn, const char *event, double weight, const char *type, const char *tenant)
{
	json_t *j = event ? mix_load_event(event, err, sizeof(err)) : NULL;
	int rc;

	if (event != NULL && j == NULL)
		return -1;
	rc = mix_add(&m, fn, j, weight, type, tenant, err, sizeof(err));
	json_decref(j);
	return rc;
}

/* The template as the dispatcher parses it, with `id` patched in. */
static void
parse_entry(unsigned int i, uint64_t id, struct request *req)
{
	struct mix_entry *e = &m.entries[i];
	struct request_error rerr;
	uint8_t copy[MIX_PAYLOAD_MAX];

	memcpy(copy, e->payload, e->payload_len);
	mix_put_id(copy + MIX_ID_OFFSET, id);
	if (request_parse(copy, e->payload_len, req, &rerr) != 0)
		fail_msg("the dispatcher refuses entry %u: %s", i, rerr.message);
}

static void
test_template_parses(void **state)
{
	static const uint64_t ids[] = { 1, 255, 65536, 0x123456789abcdefull, UINT64_MAX };
	const char *event = "{\"us\": 100, \"tags\": [\"a\", -3, 1.5, true, null]}";
	struct mix_entry *e;
	struct request req;
	unsigned int i;

	(void)state;
	assert_int_equal(add_json("spin:live", event, 2.0, "Event", "acme"), 0);
	e = &m.entries[0];
	assert_int_equal(e->payload[MIX_ID_OFFSET - 1], 0xcf);
	for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		parse_entry(0, ids[i], &req);
		assert_true(req.has_id && req.id == ids[i]);
		assert_int_equal(req.type, REQUEST_EVENT);
		assert_int_equal(req.fn.len, 4);
		assert_memory_equal(e->payload + req.fn.off, "spin", 4);
		assert_int_equal(req.qualifier.len, 4);
		assert_memory_equal(e->payload + req.qualifier.off, "live", 4);
		assert_int_equal(req.tenant.len, 4);
		assert_memory_equal(e->payload + req.tenant.off, "acme", 4);
		assert_true(req.event.len > 0);
	}
}

static void
test_template_minimal(void **state)
{
	struct request req;
	msgpack_object obj;
	size_t off = 0;

	(void)state;
	/* No event, type or tenant given: none sent, the dispatcher's defaults apply. */
	assert_int_equal(add_json("echo", NULL, 1.0, NULL, NULL), 0);
	parse_entry(0, 42, &req);
	assert_int_equal(req.type, REQUEST_RESPONSE);
	assert_int_equal(req.tenant.len, 0);
	assert_int_equal(req.event.len, 0);
	assert_int_equal(msgpack_unpack((const char *)m.entries[0].payload, m.entries[0].payload_len,
					&off, &zone, &obj), MSGPACK_UNPACK_SUCCESS);
	assert_int_equal(obj.type, MSGPACK_OBJECT_MAP);
	assert_int_equal(obj.via.map.size, 3);   /* v, id, fn */
	assert_int_equal(off, m.entries[0].payload_len);
}

/* JSON values come out as the MessagePack a Python client would pack. */
static void
test_pack_json(void **state)
{
	static const uint8_t want[] = {
		0x85,
		0xa1, 'i', 0x05,
		0xa1, 'n', 0xfb,                           /* -5, a negative fixint */
		0xa1, 'r', 0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0, /* 1.5 */
		0xa1, 's', 0xa2, 'h', 'i',
		0xa1, 'a', 0x93, 0xc3, 0xc2, 0xc0,
	};
	json_t *j = json_loads("{\"i\": 5, \"n\": -5, \"r\": 1.5, \"s\": \"hi\", \"a\": [true, false, null]}",
			       0, NULL);
	msgpack_sbuffer sb;
	msgpack_packer pk;

	(void)state;
	assert_non_null(j);
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	json_msgpack_pack(&pk, j);
	assert_int_equal(sb.size, sizeof(want));
	assert_memory_equal(sb.data, want, sizeof(want));
	msgpack_sbuffer_destroy(&sb);
	json_decref(j);
}

static void
test_pick_weights(void **state)
{
	enum { DRAWS = 1000000 };
	unsigned int counts[3] = { 0 }, k;
	struct rng r;

	(void)state;
	assert_int_equal(add_json("spin", "{\"us\": 1}", 99.5, NULL, NULL), 0);
	assert_int_equal(add_json("off", NULL, 0.0, NULL, NULL), 0);
	assert_int_equal(add_json("spin", "{\"us\": 100}", 0.5, NULL, NULL), 0);
	assert_int_equal(mix_finish(&m, err, sizeof(err)), 0);
	rng_seed(&r, 1);
	for (k = 0; k < DRAWS; k++)
		counts[mix_pick(&m, rng_next(&r))]++;
	assert_int_equal(counts[1], 0);
	/* 0.5% of a million is 5000, with a standard deviation of about 70. */
	assert_true(abs((int)counts[2] - 5000) < 350);
	assert_int_equal(counts[0] + counts[2], DRAWS);
	/* The edges of the draw land on the first and the last entry that can be picked. */
	assert_int_equal(mix_pick(&m, 0), 0);
	assert_int_equal(mix_pick(&m, UINT64_MAX), 2);
}

static void
test_pick_zero_weight_last(void **state)
{
	(void)state;
	assert_int_equal(add_json("a", NULL, 1.0, NULL, NULL), 0);
	assert_int_equal(add_json("b", NULL, 0.0, NULL, NULL), 0);
	assert_int_equal(mix_finish(&m, err, sizeof(err)), 0);
	assert_int_equal(mix_pick(&m, UINT64_MAX), 0);
}

static void
expect_refused(int rc, const char *needle)
{
	assert_int_not_equal(rc, 0);
	if (strstr(err, needle) == NULL)
		fail_msg("message '%s' does not mention '%s'", err, needle);
}

static void
test_refusals(void **state)
{
	char big[2000];

	(void)state;
	expect_refused(add_json("bad name", NULL, 1, NULL, NULL), "function");
	expect_refused(add_json("", NULL, 1, NULL, NULL), "function");
	expect_refused(add_json("echo:", NULL, 1, NULL, NULL), "QUALIFIER");
	expect_refused(add_json("echo", NULL, -1, NULL, NULL), "weight");
	expect_refused(add_json("echo", NULL, NAN, NULL, NULL), "weight");
	expect_refused(add_json("echo", NULL, 1, "Sync", NULL), "RequestResponse");
	expect_refused(add_json("echo", NULL, 1, NULL, "no/slash"), "tenant");
	expect_refused(add_json("echo", "{\"a\": ", 1, NULL, NULL), "not JSON");
	expect_refused(add_json("echo", "@/nonexistent/event.json", 1, NULL, NULL), "event file");
	snprintf(big, sizeof(big), "\"%1500s\"", "x");
	expect_refused(add_json("echo", big, 1, NULL, NULL), "1472");
	assert_int_equal(m.nb, 0);
	expect_refused(mix_finish(&m, err, sizeof(err)), "no function");
	assert_int_equal(add_json("echo", NULL, 0, NULL, NULL), 0);
	expect_refused(mix_finish(&m, err, sizeof(err)), "sum to 0");
}

static void
test_specs(void **state)
{
	struct request req;

	(void)state;
	assert_int_equal(mix_add_spec(&m, "99.5:spin:{\"us\":1}", NULL, NULL, err, sizeof(err)), 0);
	assert_int_equal(mix_add_spec(&m, "0.5:spin:{\"us\":100}", "DryRun", "t1", err, sizeof(err)), 0);
	assert_int_equal(mix_add_spec(&m, "1:echo", NULL, NULL, err, sizeof(err)), 0);
	assert_int_equal(m.nb, 3);
	assert_true(m.entries[0].weight == 99.5);
	assert_string_equal(m.entries[1].fn, "spin");
	assert_string_equal(m.entries[1].tenant, "t1");
	assert_null(m.entries[2].event);
	parse_entry(1, 7, &req);
	assert_int_equal(req.type, REQUEST_DRYRUN);
	expect_refused(mix_add_spec(&m, "spin", NULL, NULL, err, sizeof(err)), "WEIGHT:FN");
	expect_refused(mix_add_spec(&m, "x:spin", NULL, NULL, err, sizeof(err)), "not a number");
	expect_refused(mix_add_spec(&m, "1::{}", NULL, NULL, err, sizeof(err)), "WEIGHT:FN");
	expect_refused(mix_add_spec(&m, "1:spin:{us:1}", NULL, NULL, err, sizeof(err)), "not JSON");
}

static char *
write_temp(const char *text)
{
	static char path[64];
	FILE *f;
	int fd;

	snprintf(path, sizeof(path), "/tmp/test_mix_XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	fputs(text, f);
	fclose(f);
	return path;
}

static void
test_file(void **state)
{
	char *path;

	(void)state;
	path = write_temp("[{\"fn\": \"spin\", \"event\": {\"us\": 1}, \"weight\": 995},\n"
			  " {\"fn\": \"spin\", \"event\": {\"us\": 100}, \"weight\": 5, \"tenant\": \"b\"},\n"
			  " {\"fn\": \"echo\", \"type\": \"DryRun\"}]");
	assert_int_equal(mix_load_file(&m, path, NULL, "a", err, sizeof(err)), 0);
	unlink(path);
	assert_int_equal(m.nb, 3);
	assert_string_equal(m.entries[0].tenant, "a");
	assert_string_equal(m.entries[1].tenant, "b");
	assert_true(m.entries[2].weight == 1.0);
	assert_int_equal(m.entries[2].type, REQUEST_DRYRUN);
	assert_int_equal(mix_finish(&m, err, sizeof(err)), 0);
	assert_true(m.total_weight == 1001.0);
}

static void
test_file_refusals(void **state)
{
	static const struct {
		const char *text;
		const char *needle;
	} cases[] = {
		{ "{\"fn\": \"echo\"}", "array" },
		{ "[]", "array" },
		{ "[{\"fn\": \"echo\", \"evnt\": 1}]", "unknown key 'evnt'" },
		{ "[{\"event\": 1}]", "\"fn\"" },
		{ "[{\"fn\": 3}]", "\"fn\"" },
		{ "[{\"fn\": \"echo\", \"weight\": \"1\"}]", "weight" },
		{ "[{\"fn\": \"echo\"}, 5]", "entry 2" },
		{ "[{\"fn\": \"echo\", \"type\": \"Later\"}]", "entry 1" },
		{ "[{\"fn\": \"echo\"", "line" },
	};
	unsigned int i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *path = write_temp(cases[i].text);
		int rc = mix_load_file(&m, path, NULL, NULL, err, sizeof(err));

		unlink(path);
		expect_refused(rc, cases[i].needle);
		mix_free(&m);
	}
	expect_refused(mix_load_file(&m, "/nonexistent/mix.json", NULL, NULL, err, sizeof(err)),
		       "/nonexistent/mix.json");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_template_parses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_template_minimal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pack_json, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pick_weights, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pick_zero_weight_last, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_specs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_refusals, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
