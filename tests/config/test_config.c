/* Unit tests for control/config.c: defaults, options, bounds, the file, and how they combine. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"

#define TEST_DIR CONFIG_TEST_DIR

static struct turbine_config cfg;
static char err[512];
static char tmpdir[] = "/tmp/test_config.XXXXXX";
static char tmpfile_path[PATH_MAX];

static int
test_config_setup(void **state)
{
	(void)state;
	config_defaults(&cfg);
	err[0] = '\0';
	return 0;
}

static int
test_config_teardown(void **state)
{
	(void)state;
	config_free(&cfg);
	if (tmpfile_path[0] != '\0') {
		unlink(tmpfile_path);
		tmpfile_path[0] = '\0';
	}
	return 0;
}

/* Parse Turbine's arguments; the list ends with NULL. */
static int
test_config_parse(const char *first, ...)
{
	char *argv[32];
	const char *a;
	va_list ap;
	int argc = 0;

	argv[argc++] = (char *)"turbine";
	va_start(ap, first);
	for (a = first; a != NULL; a = va_arg(ap, const char *))
		argv[argc++] = (char *)a;
	va_end(ap);
	argv[argc] = NULL;
	err[0] = '\0';
	return config_parse_args(&cfg, argc, argv, err, sizeof(err));
}

/* Write `text` to a file named `name` in the test's scratch folder and return its path. */
static const char *
test_config_write(const char *name, const char *text)
{
	FILE *f;

	snprintf(tmpfile_path, sizeof(tmpfile_path), "%s/%s", tmpdir, name);
	f = fopen(tmpfile_path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	return tmpfile_path;
}

static int
test_config_load_text(const char *text)
{
	const char *path = test_config_write("turbine.conf", text);

	err[0] = '\0';
	return config_load_file(&cfg, path, err, sizeof(err));
}

static uint32_t
test_config_ip(const char *s)
{
	struct in_addr a;

	assert_int_equal(inet_pton(AF_INET, s, &a), 1);
	return a.s_addr;
}

static void
test_defaults(void **state)
{
	(void)state;
	assert_int_equal(cfg.ip, test_config_ip("198.18.0.1"));
	assert_int_equal(cfg.udp_port, 9000);
	assert_int_equal(cfg.port_id, 0);
	assert_false(cfg.quiet);
	assert_string_equal(cfg.config_path, "");
	assert_int_equal(cfg.nb_functions, 0);
	assert_int_equal(cfg.nb_dispatch_lcores, 0);
	assert_int_equal(cfg.nb_worker_lcores, 0);
	assert_int_equal(test_config_parse(NULL), 0);
	assert_int_equal(cfg.udp_port, 9000);
}

static void
test_every_option(void **state)
{
	const struct function_config *fn;

	(void)state;
	assert_int_equal(test_config_parse("--ip", "198.19.1.2", "--udp-port", "7000", "--port", "3",
					   "--dispatch-lcores", "0,4", "--worker-lcores", "1-3",
					   "--quiet", "--fn", "echo=/m/echo.so", NULL), 0);
	assert_int_equal(cfg.ip, test_config_ip("198.19.1.2"));
	assert_int_equal(cfg.udp_port, 7000);
	assert_int_equal(cfg.port_id, 3);
	assert_true(cfg.quiet);
	assert_int_equal(cfg.nb_dispatch_lcores, 2);
	assert_int_equal(cfg.dispatch_lcores[0], 0);
	assert_int_equal(cfg.dispatch_lcores[1], 4);
	assert_int_equal(cfg.nb_worker_lcores, 3);
	assert_int_equal(cfg.worker_lcores[0], 1);
	assert_int_equal(cfg.worker_lcores[2], 3);
	assert_int_equal(cfg.nb_functions, 1);
	fn = config_find_function(&cfg, "echo", 4);
	assert_non_null(fn);
	assert_string_equal(fn->module, "/m/echo.so");
	assert_int_equal(fn->timeout_ms, 3000);
	assert_int_equal(fn->memory_mb, 128);
	assert_int_equal(fn->max_event_bytes, 0);
	assert_string_equal(fn->version, "1");
	assert_int_equal(fn->nb_params, 0);
	assert_null(fn->params[0]);
}

static void
test_udp_port_bounds(void **state)
{
	(void)state;
	assert_int_equal(test_config_parse("--udp-port", "0", NULL), -1);
	assert_string_equal(err, "--udp-port: 0 is out of range 1..65535");
	assert_int_equal(test_config_parse("--udp-port", "1", NULL), 0);
	assert_int_equal(cfg.udp_port, 1);
	assert_int_equal(test_config_parse("--udp-port", "65535", NULL), 0);
	assert_int_equal(cfg.udp_port, 65535);
	assert_int_equal(test_config_parse("--udp-port", "65536", NULL), -1);
	assert_int_equal(test_config_parse("--udp-port", "70000", NULL), -1);
	assert_string_equal(err, "--udp-port: 70000 is out of range 1..65535");
	assert_int_equal(cfg.udp_port, 65535);
	assert_int_equal(test_config_parse("--udp-port", "-1", NULL), -1);
	assert_int_equal(test_config_parse("--udp-port", "9x", NULL), -1);
	assert_string_equal(err, "--udp-port: '9x' is not a number");
	assert_int_equal(test_config_parse("--udp-port", "", NULL), -1);
	assert_int_equal(test_config_parse("--udp-port", "99999999999999999999999", NULL), -1);
}

static void
test_port_bounds(void **state)
{
	char max[16], above[16];

	(void)state;
	snprintf(max, sizeof(max), "%d", RTE_MAX_ETHPORTS - 1);
	snprintf(above, sizeof(above), "%d", RTE_MAX_ETHPORTS);
	assert_int_equal(test_config_parse("--port", "0", NULL), 0);
	assert_int_equal(test_config_parse("--port", max, NULL), 0);
	assert_int_equal(cfg.port_id, RTE_MAX_ETHPORTS - 1);
	assert_int_equal(test_config_parse("--port", above, NULL), -1);
	assert_non_null(strstr(err, "--port: "));
	assert_int_equal(test_config_parse("--port", "-1", NULL), -1);
}

static void
test_bad_ip(void **state)
{
	static const char *const bad[] = { "1.2.3", "256.1.1.1", "abc", "", "1.2.3.4.5", "::1" };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(test_config_parse("--ip", bad[i], NULL), -1);
		assert_non_null(strstr(err, "--ip: "));
	}
	assert_int_equal(cfg.ip, test_config_ip("198.18.0.1"));
	assert_int_equal(test_config_parse("--ip", "abc", NULL), -1);
	assert_string_equal(err, "--ip: 'abc' is not an IPv4 address (A.B.C.D)");
}

static void
test_bad_usage(void **state)
{
	(void)state;
	assert_int_equal(test_config_parse("--colour", "blue", NULL), -1);
	assert_non_null(strstr(err, "--colour"));
	assert_int_equal(test_config_parse("--udp-port", NULL), -1);
	assert_string_equal(err, "--udp-port: missing argument");
	assert_int_equal(test_config_parse("stray", NULL), -1);
	assert_non_null(strstr(err, "stray"));
	assert_int_equal(test_config_parse("-x", NULL), -1);
	assert_int_equal(test_config_parse("--quiet=yes", NULL), -1);
	/* A fresh parse after an error starts from the first argument again. */
	assert_int_equal(test_config_parse("--udp-port", "9100", NULL), 0);
	assert_int_equal(cfg.udp_port, 9100);
}

static void
test_help(void **state)
{
	int saved, devnull;

	(void)state;
	/* Keep the usage text out of the test log. */
	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	devnull = open("/dev/null", O_WRONLY);
	assert_true(saved >= 0 && devnull >= 0);
	dup2(devnull, STDOUT_FILENO);
	close(devnull);
	assert_int_equal(test_config_parse("--help", "--udp-port", "0", NULL), 1);
	assert_int_equal(test_config_parse("-h", NULL), 1);
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	assert_int_equal(test_config_parse("--help=x", NULL), -1);
}

static void
test_fn_keys(void **state)
{
	const struct function_config *fn;

	(void)state;
	assert_int_equal(test_config_parse("--fn",
		"echo=/m/echo.so,timeout_ms=1000,memory_mb=256,max_event_bytes=1024,version=3", NULL), 0);
	fn = config_find_function(&cfg, "echo", 4);
	assert_non_null(fn);
	assert_string_equal(fn->name, "echo");
	assert_string_equal(fn->module, "/m/echo.so");
	assert_int_equal(fn->timeout_ms, 1000);
	assert_int_equal(fn->memory_mb, 256);
	assert_int_equal(fn->max_event_bytes, 1024);
	assert_string_equal(fn->version, "3");
}

struct bound_case {
	const char *key;
	const char *value;
	bool ok;
};

static void
test_fn_bounds(void **state)
{
	static const struct bound_case cases[] = {
		{ "timeout_ms", "0", false }, { "timeout_ms", "1", true },
		{ "timeout_ms", "900000", true }, { "timeout_ms", "900001", false },
		{ "memory_mb", "127", false }, { "memory_mb", "128", true },
		{ "memory_mb", "10240", true }, { "memory_mb", "10241", false },
		{ "max_event_bytes", "-1", false }, { "max_event_bytes", "0", true },
		{ "max_event_bytes", "65535", true }, { "max_event_bytes", "65536", false },
		{ "timeout_ms", "ten", false }, { "timeout_ms", "", false },
		{ "version", "", false }, { "version", "v", true },
		{ "version", "1234567890123456789012345678901", true },
		{ "version", "12345678901234567890123456789012", false },
		{ "version", "2024.05_rc-1", true }, { "version", "3/4", false },
		{ "version", "$LATEST", false },
	};
	const struct function_config *fn;
	char arg[128];
	size_t i;
	int ret;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(arg, sizeof(arg), "f=/m/f.so,%s=%s", cases[i].key, cases[i].value);
		ret = test_config_parse("--fn", arg, NULL);
		if (ret != (cases[i].ok ? 0 : -1))
			fail_msg("--fn %s: returned %d (%s)", arg, ret, err);
		if (!cases[i].ok) {
			if (strncmp(err, "--fn: ", 6) != 0 || strstr(err, cases[i].key) == NULL)
				fail_msg("--fn %s: message '%s'", arg, err);
			continue;
		}
		fn = config_find_function(&cfg, "f", 1);
		assert_non_null(fn);
		if (strcmp(cases[i].key, "version") == 0)
			assert_string_equal(fn->version, cases[i].value);
		else if (strcmp(cases[i].key, "timeout_ms") == 0)
			assert_int_equal(fn->timeout_ms, strtoul(cases[i].value, NULL, 10));
		else if (strcmp(cases[i].key, "memory_mb") == 0)
			assert_int_equal(fn->memory_mb, strtoul(cases[i].value, NULL, 10));
		else
			assert_int_equal(fn->max_event_bytes, strtoul(cases[i].value, NULL, 10));
	}
	assert_int_equal(test_config_parse("--fn", "f=/m/f.so,timeout_ms=0", NULL), -1);
	assert_string_equal(err, "--fn: timeout_ms: 0 is out of range 1..900000");
}

static void
test_fn_errors(void **state)
{
	char arg[128];

	(void)state;
	assert_int_equal(test_config_parse("--fn", "echo", NULL), -1);
	assert_non_null(strstr(err, "--fn: missing '=' in 'echo'"));
	assert_int_equal(test_config_parse("--fn", "echo=", NULL), -1);
	assert_non_null(strstr(err, "missing module path"));
	assert_int_equal(test_config_parse("--fn", "echo=,timeout_ms=5", NULL), -1);
	assert_int_equal(test_config_parse("--fn", "=/m/echo.so", NULL), -1);
	assert_non_null(strstr(err, "--fn: name: "));
	assert_int_equal(test_config_parse("--fn", "ec ho=/m/echo.so", NULL), -1);
	assert_int_equal(test_config_parse("--fn", "ec.ho=/m/echo.so", NULL), -1);
	assert_int_equal(test_config_parse("--fn", "echo:1=/m/echo.so", NULL), -1);
	assert_int_equal(test_config_parse("--fn", "echo=/m/echo.so,foo=1", NULL), -1);
	assert_string_equal(err, "--fn: unknown function key 'foo'");
	assert_int_equal(test_config_parse("--fn", "echo=/m/echo.so,timeout_ms", NULL), -1);
	assert_non_null(strstr(err, "missing '='"));
	assert_int_equal(test_config_parse("--fn", "echo=/m/echo.so,", NULL), -1);
	assert_int_equal(test_config_parse("--fn", "echo=/m/echo.so,params=x", NULL), -1);
	assert_non_null(strstr(err, "params"));
	assert_int_equal(test_config_parse("--fn", "echo=/m/echo.so,module=/m/x.so", NULL), -1);
	assert_int_equal(test_config_parse("--fn", NULL), -1);
	assert_int_equal(cfg.nb_functions, 0);

	/* 64 characters is the longest name, 65 is one too many. */
	memset(arg, 'a', 64);
	strcpy(arg + 64, "=/m/a.so");
	assert_int_equal(test_config_parse("--fn", arg, NULL), 0);
	memset(arg, 'b', 65);
	strcpy(arg + 65, "=/m/b.so");
	assert_int_equal(test_config_parse("--fn", arg, NULL), -1);
	assert_int_equal(test_config_parse("--fn", "a-Z_9=/m/x.so", NULL), 0);
	assert_int_equal(cfg.nb_functions, 2);
}

static void
test_fn_replace(void **state)
{
	const struct function_config *fn;

	(void)state;
	assert_int_equal(test_config_parse("--fn", "echo=/m/echo.so,timeout_ms=10,version=2",
					   "--fn", "hello=/m/hello.so",
					   "--fn", "echo=/m/echo2.so,memory_mb=512", NULL), 0);
	assert_int_equal(cfg.nb_functions, 2);
	fn = config_find_function(&cfg, "echo", 4);
	assert_non_null(fn);
	assert_string_equal(fn->module, "/m/echo2.so");
	assert_int_equal(fn->memory_mb, 512);
	assert_int_equal(fn->timeout_ms, 3000);
	assert_string_equal(fn->version, "1");
	assert_non_null(config_find_function(&cfg, "hello", 5));
}

static void
test_fn_relative_path(void **state)
{
	(void)state;
	assert_int_equal(test_config_parse("--fn", "echo=echo.so", "--fn", "hello=build/hello.so", NULL), 0);
	assert_string_equal(config_find_function(&cfg, "echo", 4)->module, "./echo.so");
	assert_string_equal(config_find_function(&cfg, "hello", 5)->module, "build/hello.so");
}

static void
test_find_function(void **state)
{
	(void)state;
	assert_int_equal(test_config_parse("--fn", "echo=/m/echo.so", "--fn", "echoes=/m/e.so", NULL), 0);
	/* The length bounds the name, as for "echo:3" in a request. */
	assert_string_equal(config_find_function(&cfg, "echo:3", 4)->module, "/m/echo.so");
	assert_string_equal(config_find_function(&cfg, "echoes", 6)->module, "/m/e.so");
	assert_null(config_find_function(&cfg, "ech", 3));
	assert_null(config_find_function(&cfg, "nope", 4));
}

static void
test_lcores(void **state)
{
	static const char *const bad[] = { "3-1", "1,,2", ",1", "1,", "1-", "-", "x", "1-x",
					   "128", "0-128", "1,1", "1-3,2", "-1" };
	size_t i;

	(void)state;
	assert_int_equal(test_config_parse("--worker-lcores", "5", NULL), 0);
	assert_int_equal(cfg.nb_worker_lcores, 1);
	assert_int_equal(cfg.worker_lcores[0], 5);
	assert_int_equal(test_config_parse("--worker-lcores", "1-3", NULL), 0);
	assert_int_equal(cfg.nb_worker_lcores, 3);
	assert_int_equal(cfg.worker_lcores[0], 1);
	assert_int_equal(cfg.worker_lcores[1], 2);
	assert_int_equal(cfg.worker_lcores[2], 3);
	assert_int_equal(test_config_parse("--dispatch-lcores", "0,2-4,7,127", NULL), 0);
	assert_int_equal(cfg.nb_dispatch_lcores, 6);
	assert_int_equal(cfg.dispatch_lcores[0], 0);
	assert_int_equal(cfg.dispatch_lcores[1], 2);
	assert_int_equal(cfg.dispatch_lcores[3], 4);
	assert_int_equal(cfg.dispatch_lcores[4], 7);
	assert_int_equal(cfg.dispatch_lcores[5], 127);
	assert_int_equal(test_config_parse("--worker-lcores", "0-127", NULL), 0);
	assert_int_equal(cfg.nb_worker_lcores, 128);
	assert_int_equal(test_config_parse("--worker-lcores", "2-2", NULL), 0);
	assert_int_equal(cfg.nb_worker_lcores, 1);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (test_config_parse("--worker-lcores", bad[i], NULL) != -1)
			fail_msg("--worker-lcores %s was accepted", bad[i]);
		assert_non_null(strstr(err, "--worker-lcores: "));
	}
	assert_int_equal(cfg.nb_worker_lcores, 1);
	assert_int_equal(cfg.worker_lcores[0], 2);
	assert_int_equal(test_config_parse("--worker-lcores", "128", NULL), -1);
	assert_string_equal(err, "--worker-lcores: lcore 128 is out of range 0..127");
}

static void
test_file_every_key(void **state)
{
	const struct function_config *fn;

	(void)state;
	assert_int_equal(config_load_file(&cfg, TEST_DIR "/good.conf", err, sizeof(err)), 0);
	assert_string_equal(cfg.config_path, TEST_DIR "/good.conf");
	assert_int_equal(cfg.ip, test_config_ip("198.18.0.7"));
	assert_int_equal(cfg.udp_port, 9001);
	assert_int_equal(cfg.port_id, 1);
	assert_true(cfg.quiet);
	assert_int_equal(cfg.nb_dispatch_lcores, 1);
	assert_int_equal(cfg.dispatch_lcores[0], 0);
	assert_int_equal(cfg.nb_worker_lcores, 3);
	assert_int_equal(cfg.worker_lcores[2], 3);
	assert_int_equal(cfg.nb_functions, 2);

	fn = config_find_function(&cfg, "echo", 4);
	assert_non_null(fn);
	assert_string_equal(fn->module, TEST_DIR "/modules/echo.so");
	assert_int_equal(fn->timeout_ms, 1000);
	assert_int_equal(fn->memory_mb, 256);
	assert_int_equal(fn->max_event_bytes, 1024);
	assert_string_equal(fn->version, "3");
	assert_int_equal(fn->nb_params, 2);
	assert_string_equal(fn->params[0], "greeting=hi");
	assert_string_equal(fn->params[1], "count=5");
	assert_null(fn->params[2]);

	fn = config_find_function(&cfg, "hello", 5);
	assert_non_null(fn);
	assert_string_equal(fn->module, "/opt/turbine/hello.so");
	assert_int_equal(fn->timeout_ms, 3000);
	assert_int_equal(fn->memory_mb, 128);
	assert_string_equal(fn->version, "1");
	assert_int_equal(fn->nb_params, 0);
}

static void
test_file_via_option(void **state)
{
	(void)state;
	assert_int_equal(test_config_parse("--config", TEST_DIR "/good.conf", NULL), 0);
	assert_int_equal(cfg.udp_port, 9001);
	assert_int_equal(cfg.nb_functions, 2);
	assert_string_equal(cfg.config_path, TEST_DIR "/good.conf");
}

static void
test_file_unknown_key(void **state)
{
	(void)state;
	assert_int_equal(config_load_file(&cfg, TEST_DIR "/unknown_key.conf", err, sizeof(err)), -1);
	assert_string_equal(err, TEST_DIR "/unknown_key.conf:3: colour: unknown key");
	assert_int_equal(test_config_parse("--config", TEST_DIR "/unknown_function_key.conf", NULL), -1);
	assert_string_equal(err, TEST_DIR "/unknown_function_key.conf:5: functions.[1].foo: unknown function key");
}

static void
test_file_duplicate(void **state)
{
	(void)state;
	assert_int_equal(config_load_file(&cfg, TEST_DIR "/duplicate.conf", err, sizeof(err)), -1);
	assert_string_equal(err, TEST_DIR "/duplicate.conf:5: functions.[2].name: function 'echo' is declared twice");
	/* Still a duplicate when the file's first echo replaced one from an earlier --fn. */
	assert_int_equal(test_config_parse("--fn", "echo=/m/echo.so", "--config", TEST_DIR "/duplicate.conf", NULL), -1);
	assert_non_null(strstr(err, "function 'echo' is declared twice"));
}

static void
test_file_bounds(void **state)
{
	(void)state;
	assert_int_equal(test_config_load_text(
		"functions = (\n"
		"  { name = \"a\"; module = \"a.so\"; timeout_ms = 900000; },\n"
		"  { name = \"b\"; module = \"b.so\";\n"
		"    timeout_ms = 0; }\n"
		");\n"), -1);
	assert_non_null(strstr(err, "turbine.conf:4: functions.[1].timeout_ms: 0 is out of range 1..900000"));
	assert_int_equal(test_config_load_text("udp_port = 65536;\n"), -1);
	assert_non_null(strstr(err, "turbine.conf:1: udp_port: 65536 is out of range 1..65535"));
	assert_int_equal(test_config_load_text("udp_port = 65535;\n"), 0);
	assert_int_equal(cfg.udp_port, 65535);
	assert_int_equal(test_config_load_text("functions = ({ name = \"m\"; module = \"m.so\"; memory_mb = 127; });\n"), -1);
	assert_non_null(strstr(err, ":1: functions.[0].memory_mb: 127 is out of range 128..10240"));
	assert_int_equal(test_config_load_text("functions = ({ name = \"m\"; module = \"m.so\"; memory_mb = 10240; "
					       "max_event_bytes = 65535; });\n"), 0);
	assert_int_equal(config_find_function(&cfg, "m", 1)->memory_mb, 10240);
	assert_int_equal(test_config_load_text("functions = ({ name = \"m\"; module = \"m.so\"; max_event_bytes = 65536; });\n"), -1);
	assert_int_equal(test_config_load_text("functions = ({ name = \"m\"; module = \"m.so\"; version = \"a b\"; });\n"), -1);
	assert_non_null(strstr(err, "functions.[0].version: "));
}

static void
test_file_errors(void **state)
{
	(void)state;
	assert_int_equal(config_load_file(&cfg, TEST_DIR "/missing.conf", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "missing.conf"));

	assert_int_equal(test_config_load_text("udp_port = 9000;\nip = ;\n"), -1);
	assert_non_null(strstr(err, "turbine.conf:2: "));
	assert_int_equal(test_config_load_text("udp_port = \"9000\";\n"), -1);
	assert_non_null(strstr(err, "turbine.conf:1: udp_port: expected an integer"));
	assert_int_equal(test_config_load_text("quiet = 1;\n"), -1);
	assert_non_null(strstr(err, "quiet: expected true or false"));
	assert_int_equal(test_config_load_text("ip = \"198.18.0\";\n"), -1);
	assert_non_null(strstr(err, "ip: '198.18.0' is not an IPv4 address"));
	assert_int_equal(test_config_load_text("worker_lcores = [1, 1];\n"), -1);
	assert_non_null(strstr(err, "worker_lcores: lcore 1 is listed twice"));
	assert_int_equal(test_config_load_text("worker_lcores = [\"a\"];\n"), -1);
	assert_int_equal(test_config_load_text("functions = { name = \"a\"; };\n"), -1);
	assert_non_null(strstr(err, "turbine.conf:1: functions: expected a list"));
	assert_int_equal(test_config_load_text("functions = ( 1 );\n"), -1);
	assert_int_equal(test_config_load_text("functions = (\n  { name = \"a\"; }\n);\n"), -1);
	assert_non_null(strstr(err, "turbine.conf:2: functions.[0]: missing 'module'"));
	assert_int_equal(test_config_load_text("functions = (\n  { module = \"a.so\"; }\n);\n"), -1);
	assert_non_null(strstr(err, "functions.[0]: missing 'name'"));
	assert_int_equal(test_config_load_text("functions = ({ name = \"a:b\"; module = \"a.so\"; });\n"), -1);
	assert_non_null(strstr(err, "functions.[0].name: "));
	assert_int_equal(cfg.nb_functions, 0);
}

static void
test_file_relative_module(void **state)
{
	char want[PATH_MAX];

	(void)state;
	assert_int_equal(test_config_load_text(
		"functions = ( { name = \"a\"; module = \"a.so\"; },\n"
		"              { name = \"b\"; module = \"lib/b.so\"; },\n"
		"              { name = \"c\"; module = \"/abs/c.so\"; } );\n"), 0);
	snprintf(want, sizeof(want), "%s/a.so", tmpdir);
	assert_string_equal(config_find_function(&cfg, "a", 1)->module, want);
	snprintf(want, sizeof(want), "%s/lib/b.so", tmpdir);
	assert_string_equal(config_find_function(&cfg, "b", 1)->module, want);
	assert_string_equal(config_find_function(&cfg, "c", 1)->module, "/abs/c.so");
}

static void
test_later_options_override(void **state)
{
	const struct function_config *fn;

	(void)state;
	assert_int_equal(test_config_parse("--udp-port", "1234", "--fn", "echo=/m/first.so,timeout_ms=5",
					   "--config", TEST_DIR "/good.conf",
					   "--udp-port", "4321", "--fn", "hello=/m/hello2.so,timeout_ms=7",
					   "--worker-lcores", "5", NULL), 0);
	assert_int_equal(cfg.udp_port, 4321);
	assert_int_equal(cfg.ip, test_config_ip("198.18.0.7"));
	assert_int_equal(cfg.nb_worker_lcores, 1);
	assert_int_equal(cfg.worker_lcores[0], 5);
	assert_int_equal(cfg.nb_functions, 2);
	/* The file came after the first --fn echo, so its echo wins. */
	fn = config_find_function(&cfg, "echo", 4);
	assert_string_equal(fn->module, TEST_DIR "/modules/echo.so");
	assert_int_equal(fn->timeout_ms, 1000);
	assert_int_equal(fn->nb_params, 2);
	/* And the --fn hello after the file replaces the file's. */
	fn = config_find_function(&cfg, "hello", 5);
	assert_string_equal(fn->module, "/m/hello2.so");
	assert_int_equal(fn->timeout_ms, 7);
}

static void
test_two_files(void **state)
{
	(void)state;
	/* The same name in two files: the later file replaces, it is not a duplicate. */
	assert_int_equal(config_load_file(&cfg, TEST_DIR "/good.conf", err, sizeof(err)), 0);
	assert_int_equal(test_config_load_text("functions = ({ name = \"echo\"; module = \"/x/echo.so\"; });\n"), 0);
	assert_int_equal(cfg.nb_functions, 2);
	assert_string_equal(config_find_function(&cfg, "echo", 4)->module, "/x/echo.so");
	assert_int_equal(config_find_function(&cfg, "echo", 4)->nb_params, 0);
}

static void
test_file_lcores(void **state)
{
	(void)state;
	assert_int_equal(test_config_load_text("dispatch_lcores = [0, 2];\nworker_lcores = (3, 4, 5);\n"), 0);
	assert_int_equal(cfg.nb_dispatch_lcores, 2);
	assert_int_equal(cfg.dispatch_lcores[1], 2);
	assert_int_equal(cfg.nb_worker_lcores, 3);
	assert_int_equal(cfg.worker_lcores[2], 5);
	assert_int_equal(test_config_load_text("worker_lcores = \"6-7,9\";\n"), 0);
	assert_int_equal(cfg.nb_worker_lcores, 3);
	assert_int_equal(cfg.worker_lcores[2], 9);
	assert_int_equal(test_config_load_text("worker_lcores = [];\n"), 0);
	assert_int_equal(cfg.nb_worker_lcores, 0);
	assert_int_equal(test_config_load_text("worker_lcores = [128];\n"), -1);
	assert_non_null(strstr(err, "worker_lcores: lcore 128 is out of range 0..127"));
}

static void
test_params(void **state)
{
	const struct function_config *fn;
	char text[2048];
	int i, n;

	(void)state;
	assert_int_equal(test_config_load_text(
		"functions = ({ name = \"p\"; module = \"p.so\";\n"
		"  params = { table = \"users\"; retries = 3; big = 5000000000L; neg = -2; empty = \"\"; }; });\n"), 0);
	fn = config_find_function(&cfg, "p", 1);
	assert_int_equal(fn->nb_params, 5);
	assert_string_equal(fn->params[0], "table=users");
	assert_string_equal(fn->params[1], "retries=3");
	assert_string_equal(fn->params[2], "big=5000000000");
	assert_string_equal(fn->params[3], "neg=-2");
	assert_string_equal(fn->params[4], "empty=");
	assert_null(fn->params[5]);

	assert_int_equal(test_config_load_text(
		"functions = ({ name = \"q\"; module = \"q.so\";\n"
		"  params = { ratio = 0.5; }; });\n"), -1);
	assert_non_null(strstr(err, "turbine.conf:2: functions.[0].params.ratio: expected a string or an integer"));
	assert_int_equal(test_config_load_text(
		"functions = ({ name = \"q\"; module = \"q.so\"; params = \"x\"; });\n"), -1);
	assert_non_null(strstr(err, "functions.[0].params: "));

	n = snprintf(text, sizeof(text), "functions = ({ name = \"r\"; module = \"r.so\"; params = {");
	for (i = 0; i <= CONFIG_MAX_PARAMS; i++)
		n += snprintf(text + n, sizeof(text) - (size_t)n, " k%d = %d;", i, i);
	snprintf(text + n, sizeof(text) - (size_t)n, " }; });\n");
	assert_int_equal(test_config_load_text(text), -1);
	assert_null(config_find_function(&cfg, "r", 1));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, test_config_setup, test_config_teardown)
		T(test_defaults),
		T(test_every_option),
		T(test_udp_port_bounds),
		T(test_port_bounds),
		T(test_bad_ip),
		T(test_bad_usage),
		T(test_help),
		T(test_fn_keys),
		T(test_fn_bounds),
		T(test_fn_errors),
		T(test_fn_replace),
		T(test_fn_relative_path),
		T(test_find_function),
		T(test_lcores),
		T(test_file_every_key),
		T(test_file_via_option),
		T(test_file_unknown_key),
		T(test_file_duplicate),
		T(test_file_bounds),
		T(test_file_errors),
		T(test_file_relative_module),
		T(test_later_options_override),
		T(test_two_files),
		T(test_file_lcores),
		T(test_params),
#undef T
	};
	int ret;

	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	rmdir(tmpdir);
	return ret;
}
