/* Unit tests of the Prometheus exposition: a fixed set of telemetry replies in, the text out. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "prometheus.h"

/* tests/ctl/telemetry.json: {"stats": ..., "functions": {...}, "workers", "ports", "async"}. */
static const char *fixture_path;
static json_t *fixture;

static int
setup(void **state)
{
	json_error_t error;

	(void)state;
	fixture = json_load_file(fixture_path, 0, &error);
	if (fixture == NULL)
		fprintf(stderr, "%s:%d: %s\n", fixture_path, error.line, error.text);
	return fixture == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	(void)state;
	json_decref(fixture);
	return 0;
}

/* The exposition of the sections of root (an object shaped like the fixture). */
static char *
format(const json_t *root)
{
	struct prometheus_input in = {
		.stats = json_object_get(root, "stats"),
		.functions = json_object_get(root, "functions"),
		.workers = json_object_get(root, "workers"),
		.ports = json_object_get(root, "ports"),
		.async = json_object_get(root, "async"),
	};
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	assert_non_null(out);
	assert_int_equal(prometheus_format(out, &in), 0);
	assert_int_equal(fclose(out), 0);
	return text;
}

static char *
format_json(const char *json)
{
	json_t *root = json_loads(json, 0, NULL);
	char *text;

	assert_non_null(root);
	text = format(root);
	json_decref(root);
	return text;
}

static bool
has_line(const char *text, const char *line)
{
	size_t len = strlen(line);
	const char *p;

	for (p = text; (p = strstr(p, line)) != NULL; p++)
		if ((p == text || p[-1] == '\n') && p[len] == '\n')
			return true;
	return false;
}

#define assert_line(text, line) do {                                            \
	if (!has_line(text, line))                                              \
		fail_msg("no line '%s' in:\n%s", line, text);                   \
} while (0)

static void
test_values(void **state)
{
	char *t = format(fixture);

	(void)state;
	/* /turbine/stats: plain counters, status codes and drop reasons as labels, gauges. */
	assert_line(t, "# HELP turbine_requests_total Datagrams to the service port: invoke requests.");
	assert_line(t, "# TYPE turbine_requests_total counter");
	assert_line(t, "turbine_requests_total 50");
	assert_line(t, "turbine_responses_by_status_total{code=\"200\"} 40");
	assert_line(t, "turbine_responses_by_status_total{code=\"429\"} 3");
	assert_line(t, "turbine_drops_total{reason=\"ring_full\"} 2");
	assert_line(t, "turbine_drops_total{reason=\"truncated\"} 0");
	assert_line(t, "# TYPE turbine_mempool_mbufs_in_use gauge");
	assert_line(t, "turbine_mempool_mbufs_in_use 12");
	/* Per function. */
	assert_line(t, "turbine_functions 2");
	assert_line(t, "turbine_function_calls_total{function=\"echo\"} 42");
	assert_line(t, "turbine_function_call_errors_total{function=\"echo\"} 1");
	assert_line(t, "turbine_function_throttles_total{function=\"echo\","
		       "reason=\"ReservedFunctionInvocationRateLimitExceeded\"} 3");
	assert_line(t, "turbine_function_info{function=\"hello\",version=\"1\",isolation=\"process\"} 1");
	assert_line(t, "turbine_function_timeout_seconds{function=\"echo\"} 3");
	assert_line(t, "turbine_function_memory_limit_bytes{function=\"echo\"} 134217728");
	assert_line(t, "turbine_function_async_depth{function=\"echo\"} 3");
	/* Latency in seconds, as a summary. */
	assert_line(t, "# TYPE turbine_function_duration_seconds summary");
	assert_line(t, "turbine_function_duration_seconds{function=\"echo\",quantile=\"0.5\"} 1.2e-06");
	assert_line(t, "turbine_function_duration_seconds{function=\"echo\",quantile=\"0.99\"} 5.4e-06");
	assert_line(t, "turbine_function_duration_seconds{function=\"echo\",quantile=\"0.999\"} 9.1e-06");
	assert_line(t, "turbine_function_duration_seconds_count{function=\"echo\"} 42");
	assert_line(t, "turbine_function_duration_max_seconds{function=\"echo\"} 1.2e-05");
	/* Environments, by function and worker. */
	assert_line(t, "turbine_environment_cold_start_seconds{function=\"echo\",worker=\"1\"} 9.5e-05");
	assert_line(t, "turbine_environment_warm{function=\"echo\",worker=\"1\"} 0");
	assert_line(t, "turbine_environment_sandbox_state{function=\"hello\",worker=\"1\",state=\"ready\"} 1");
	assert_line(t, "turbine_environment_sandbox_state{function=\"hello\",worker=\"1\",state=\"dead\"} 0");
	assert_line(t, "turbine_environment_sandbox_restarts_total{function=\"hello\",worker=\"1\"} 2");
	/* Workers: a fraction sent as text, milliseconds to seconds, the state as an enumeration. */
	assert_line(t, "turbine_workers 2");
	assert_line(t, "turbine_worker_busy_ratio{worker=\"0\"} 0.375");
	assert_line(t, "turbine_worker_queue_depth{worker=\"0\"} 3");
	assert_line(t, "turbine_worker_stuck_seconds{worker=\"1\"} 1.25");
	assert_line(t, "turbine_worker_state{worker=\"1\",state=\"stuck\"} 1");
	assert_line(t, "turbine_worker_state{worker=\"1\",state=\"ok\"} 0");
	assert_line(t, "turbine_worker_info{worker=\"1\",lcore=\"2\",socket=\"0\"} 1");
	/* The port, labelled with its id. */
	assert_line(t, "turbine_port_received_packets_total{port=\"0\"} 9");
	assert_line(t, "turbine_port_transmitted_bytes_total{port=\"0\"} 836");
	assert_line(t, "turbine_port_info{port=\"0\",name=\"net_af_packet0\",mac=\"02:00:00:00:00:01\"} 1");
	/* The asynchronous queue. */
	assert_line(t, "# TYPE turbine_async_depth gauge");
	assert_line(t, "turbine_async_depth 3");
	assert_line(t, "# TYPE turbine_async_oldest_age_seconds gauge");
	assert_line(t, "turbine_async_oldest_age_seconds 1.5");
	assert_line(t, "turbine_async_retries_total{reason=\"error\"} 2");
	assert_line(t, "turbine_async_accept_duration_seconds{quantile=\"0.99\"} 0.0012");
	assert_line(t, "turbine_async_log_bytes 4096");
	free(t);
}

/* The family a sample belongs to: its name, less a summary's _count or _sum. */
static bool
belongs(const char *sample, size_t len, const char *family, const char *type)
{
	size_t flen = strlen(family);

	if (len == flen)
		return strncmp(sample, family, flen) == 0;
	if (strcmp(type, "summary") != 0 || strncmp(sample, family, flen) != 0)
		return false;
	return (len - flen == 6 && strncmp(sample + flen, "_count", 6) == 0) ||
	       (len - flen == 4 && strncmp(sample + flen, "_sum", 4) == 0);
}

/*
 * What promtool and the format's grammar ask of every line: each family's
 * HELP then TYPE once, its samples right after, counters named _total, a
 * name and a value on every sample line, and a newline at the end.
 */
static void
test_structure(void **state)
{
	char *t = format(fixture), *save = NULL, *line;
	char family[256] = "", type[32] = "", seen[16384] = " ";
	unsigned int samples = 0;

	(void)state;
	assert_true(strlen(t) > 0 && t[strlen(t) - 1] == '\n');
	for (line = strtok_r(t, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		char name[256], key[260];
		size_t len;

		if (strncmp(line, "# HELP ", 7) == 0) {
			assert_int_equal(sscanf(line + 7, "%255s", family), 1);
			snprintf(key, sizeof(key), " %s ", family);
			if (strstr(seen, key) != NULL)
				fail_msg("family %s written twice", family);
			assert_true(strlen(seen) + strlen(key) < sizeof(seen));
			strcat(seen, key + 1);
			assert_true(strlen(line) > 8 + strlen(family));     /* a help text */
			type[0] = '\0';
			continue;
		}
		if (strncmp(line, "# TYPE ", 7) == 0) {
			assert_int_equal(sscanf(line + 7, "%255s %31s", name, type), 2);
			assert_string_equal(name, family);
			assert_true(strcmp(type, "counter") == 0 || strcmp(type, "gauge") == 0 ||
				    strcmp(type, "summary") == 0);
			if (strcmp(type, "counter") == 0)
				assert_string_equal(family + strlen(family) - 6, "_total");
			continue;
		}
		assert_true(line[0] != '#');
		assert_true(type[0] != '\0');
		len = strcspn(line, "{ ");
		if (!belongs(line, len, family, type))
			fail_msg("'%s' is not of family %s (%s)", line, family, type);
		assert_non_null(strchr(line, ' '));
		assert_true(strchr(line, ' ')[1] != '\0');
		samples++;
	}
	assert_true(samples > 100);
	free(t);
}

/* Label values escape '\', '"' and newline; help texts '\' and newline. */
static void
test_escaping(void **state)
{
	char *t = format_json("{\"functions\": {\"a\\\"b\\\\c\\nd\": {\"calls\": 1}},"
			      " \"stats\": {\"odd\\nname\": 4}}");

	(void)state;
	assert_line(t, "turbine_function_calls_total{function=\"a\\\"b\\\\c\\nd\"} 1");
	assert_line(t, "# HELP turbine_odd_name_total The data-plane counter odd\\nname.");
	assert_line(t, "turbine_odd_name_total 4");
	free(t);
}

/* A counter the table does not know yet is exposed all the same, as a counter. */
static void
test_unknown_counter(void **state)
{
	char *t = format_json("{\"stats\": {\"requests\": 5, \"new_thing\": 9}}");

	(void)state;
	assert_line(t, "turbine_requests_total 5");
	assert_line(t, "# HELP turbine_new_thing_total The data-plane counter new_thing.");
	assert_line(t, "# TYPE turbine_new_thing_total counter");
	assert_line(t, "turbine_new_thing_total 9");
	free(t);
}

/* A section that is absent or null leaves its metrics out, and the rest stands. */
static void
test_missing_sections(void **state)
{
	char *t = format_json("{}");

	(void)state;
	assert_string_equal(t, "");
	free(t);
	t = format_json("{\"stats\": null, \"workers\": {\"0\": {\"queue_depth\": 2}},"
			" \"async\": {\"depth\": 1}}");
	assert_null(strstr(t, "turbine_requests_total"));
	assert_null(strstr(t, "turbine_function"));
	assert_line(t, "turbine_worker_queue_depth{worker=\"0\"} 2");
	assert_line(t, "turbine_async_depth 1");
	/* No sample, no header: a family without samples is left out whole. */
	assert_null(strstr(t, "turbine_worker_busy_ratio"));
	free(t);
}

/* Values: reals, truths, numbers as text; text that is no number is left out. */
static void
test_value_kinds(void **state)
{
	char *t = format_json("{\"workers\": {\"0\": {\"busy_fraction\": 0.5, \"queue_depth\": true},"
			      " \"1\": {\"busy_fraction\": \"busy\", \"state\": \"resting\"}},"
			      " \"stats\": {\"requests\": 18446744073709551615.0}}");

	(void)state;
	assert_line(t, "turbine_worker_busy_ratio{worker=\"0\"} 0.5");
	assert_line(t, "turbine_worker_queue_depth{worker=\"0\"} 1");
	assert_null(strstr(t, "turbine_worker_busy_ratio{worker=\"1\"}"));
	/* A state the enumeration does not list still shows, as 1. */
	assert_line(t, "turbine_worker_state{worker=\"1\",state=\"resting\"} 1");
	assert_line(t, "turbine_worker_state{worker=\"1\",state=\"ok\"} 0");
	/* A u64 beyond INT64_MAX arrives as a real (telemetry_client_parse). */
	assert_line(t, "turbine_requests_total 1.84467440737096e+19");
	free(t);
}

/* Ports as an object of ports, labelled by their keys. */
static void
test_ports_by_id(void **state)
{
	char *t = format_json("{\"ports\": {\"0\": {\"ipackets\": 3}, \"1\": {\"ipackets\": 4}}}");

	(void)state;
	assert_line(t, "turbine_port_received_packets_total{port=\"0\"} 3");
	assert_line(t, "turbine_port_received_packets_total{port=\"1\"} 4");
	free(t);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_structure),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_unknown_counter),
		cmocka_unit_test(test_missing_sections),
		cmocka_unit_test(test_value_kinds),
		cmocka_unit_test(test_ports_by_id),
	};

	if (argc != 2) {
		fprintf(stderr, "usage: %s TELEMETRY_JSON\n", argv[0]);
		return 64;
	}
	fixture_path = argv[1];
	return cmocka_run_group_tests(tests, setup, teardown);
}
