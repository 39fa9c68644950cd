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
	assert_string_equal(cfg.dispatch_policy, "jsq");
	assert_int_equal(cfg.nb_tenants, 0);
	assert_int_equal(test_config_parse(NULL), 0);
	assert_int_equal(cfg.udp_port, 9000);
	assert_string_equal(cfg.dispatch_policy, "jsq");
}

static void
test_every_option(void **state)
{
	const struct function_config *fn;

	(void)state;
	assert_int_equal(test_config_parse("--ip", "198.19.1.2", "--udp-port", "7000", "--port", "3",
					   "--dispatch-lcores", "0,4", "--worker-lcores", "1-3",
					   "--quiet", "--fn", "echo=/m/echo.so", "--dispatch-policy", "round-robin",
					   "--tenant", "acme", NULL), 0);
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
	assert_int_equal(fn->reserved_concurrency, 0);
	assert_int_equal(fn->rate, 0);
	assert_int_equal(fn->burst, 0);
	assert_int_equal(fn->nb_tenants, 0);
	assert_string_equal(fn->isolation, "thread");
	assert_false(config_function_isolated(fn));
	assert_false(fn->network);
	assert_string_equal(cfg.dispatch_policy, "round-robin");
	assert_int_equal(cfg.nb_tenants, 1);
	assert_string_equal(cfg.tenants[0].name, "acme");
	assert_int_equal(cfg.tenants[0].concurrency, 0);
	assert_int_equal(cfg.tenants[0].rate, 0);
	assert_int_equal(cfg.tenants[0].burst, 0);
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
test_drain_timeout(void **state)
{
	(void)state;
	assert_int_equal(cfg.drain_timeout_ms, 5000);
	assert_int_equal(test_config_parse("--drain-timeout-ms", "0", NULL), 0);
	assert_int_equal(cfg.drain_timeout_ms, 0);
	assert_int_equal(test_config_parse("--drain-timeout-ms", "600000", NULL), 0);
	assert_int_equal(cfg.drain_timeout_ms, 600000);
	assert_int_equal(test_config_parse("--drain-timeout-ms", "600001", NULL), -1);
	assert_string_equal(err, "--drain-timeout-ms: 600001 is out of range 0..600000");
	assert_int_equal(test_config_load_text("drain_timeout_ms = 250;\n"), 0);
	assert_int_equal(cfg.drain_timeout_ms, 250);
	assert_int_equal(test_config_load_text("drain_timeout_ms = -1;\n"), -1);
	assert_non_null(strstr(err, "drain_timeout_ms"));
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

/* isolation and network: --fn, the file, their values, and that neither changes while running. */
static void
test_fn_isolation(void **state)
{
	struct function_config copy;
	const struct function_config *fn;

	(void)state;
	assert_int_equal(test_config_parse("--fn", "a=/m/a.so,isolation=process,network=true",
					   "--fn", "b=/m/b.so,isolation=process",
					   "--fn", "c=/m/c.so,isolation=thread,network=false", NULL), 0);
	fn = config_find_function(&cfg, "a", 1);
	assert_string_equal(fn->isolation, "process");
	assert_true(config_function_isolated(fn));
	assert_true(fn->network);
	fn = config_find_function(&cfg, "b", 1);
	assert_true(config_function_isolated(fn));
	assert_false(fn->network);
	fn = config_find_function(&cfg, "c", 1);
	assert_false(config_function_isolated(fn));
	assert_false(fn->network);

	assert_int_equal(test_config_parse("--fn", "d=/m/d.so,isolation=vm", NULL), -1);
	assert_string_equal(err, "--fn: isolation: 'vm' is not one of thread, process");
	assert_int_equal(test_config_parse("--fn", "d=/m/d.so,isolation=", NULL), -1);
	assert_int_equal(test_config_parse("--fn", "d=/m/d.so,network=yes", NULL), -1);
	assert_string_equal(err, "--fn: network: 'yes' is neither true nor false");
	assert_null(config_find_function(&cfg, "d", 1));

	assert_int_equal(test_config_load_text(
		"functions = ( { name = \"e\"; module = \"/m/e.so\"; isolation = \"process\"; "
		"network = true; } );\n"), 0);
	fn = config_find_function(&cfg, "e", 1);
	assert_true(config_function_isolated(fn));
	assert_true(fn->network);
	assert_int_equal(test_config_load_text(
		"functions = ( { name = \"f\"; module = \"/m/f.so\"; isolation = \"Process\"; } );\n"), -1);
	assert_non_null(strstr(err, ":1: functions.[0].isolation: 'Process' is not one of thread, process"));
	assert_int_equal(test_config_load_text(
		"functions = ( { name = \"f\"; module = \"/m/f.so\"; network = \"true\"; } );\n"), -1);
	assert_non_null(strstr(err, "functions.[0].network: expected true or false"));

	/* An environment is a thread or a process from its start: neither key changes while running. */
	copy = *config_find_function(&cfg, "a", 1);
	assert_int_equal(config_set_function_key(&copy, "isolation", "thread", err, sizeof(err)), -1);
	assert_string_equal(err, "isolation cannot change while running");
	assert_int_equal(config_set_function_key(&copy, "network", "false", err, sizeof(err)), -1);
	assert_string_equal(err, "network cannot change while running");
	assert_true(config_function_isolated(&copy));
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
	const struct tenant_config *t;

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
	assert_int_equal(fn->reserved_concurrency, 8);
	assert_int_equal(fn->rate, 500);
	assert_int_equal(fn->burst, 50);
	assert_int_equal(fn->nb_tenants, 2);
	assert_string_equal(fn->tenants[0], "acme");
	assert_string_equal(fn->tenants[1], "globex");
	assert_string_equal(fn->isolation, "process");
	assert_true(config_function_isolated(fn));
	assert_true(fn->network);
	assert_string_equal(cfg.dispatch_policy, "p2c");
	assert_int_equal(cfg.nb_tenants, 2);
	t = config_find_tenant(&cfg, "acme", 4);
	assert_non_null(t);
	assert_int_equal(t->concurrency, 10);
	assert_int_equal(t->rate, 1000);
	assert_int_equal(t->burst, 100);
	t = config_find_tenant(&cfg, "globex", 6);
	assert_non_null(t);
	assert_int_equal(t->concurrency, 0);
	assert_int_equal(t->rate, 0);
	assert_int_equal(t->burst, 0);

	fn = config_find_function(&cfg, "hello", 5);
	assert_non_null(fn);
	assert_string_equal(fn->module, "/opt/turbine/hello.so");
	assert_int_equal(fn->timeout_ms, 3000);
	assert_int_equal(fn->memory_mb, 128);
	assert_string_equal(fn->version, "1");
	assert_int_equal(fn->nb_params, 0);
	assert_int_equal(fn->reserved_concurrency, 0);
	assert_int_equal(fn->nb_tenants, 0);
	assert_string_equal(fn->isolation, "thread");
	assert_false(config_function_isolated(fn));
	assert_false(fn->network);
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

/* Usage text printed by --help, read back from a file in the scratch folder. */
static void
test_help_lists_keys(void **state)
{
	static const char *const want[] = {
		"--dispatch-policy NAME", "jsq|round-robin|p2c, default jsq [dispatch_policy]",
		"--tenant NAME[,key=value...]", "[tenants]",
		"Function keys, in a functions entry", "reserved_concurrency * 0..100000",
		"rate                 * 0..10000000", "burst                * 0..10000000",
		"tenants              * <=64, each 1..64 [A-Za-z0-9_-]",
		"timeout_ms           * 1..900000", "version                1..31",
		"Tenant keys, in a tenants entry of the file or as --tenant NAME,key=value",
		"concurrency          * 0..100000",
		"isolation              thread|process", "network                                               default false",
	};
	char text[8192];
	const char *path;
	int saved, fd;
	ssize_t n;
	size_t i;

	(void)state;
	path = test_config_write("help.txt", "");
	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_true(saved >= 0 && fd >= 0);
	dup2(fd, STDOUT_FILENO);
	close(fd);
	assert_int_equal(test_config_parse("--help", NULL), 1);
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);

	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	assert_true(n > 0 && (size_t)n < sizeof(text) - 1);
	text[n] = '\0';
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (strstr(text, want[i]) == NULL)
			fail_msg("--help lacks '%s':\n%s", want[i], text);
}

/* A counting field of a function or tenant by its key name. */
static uint32_t
test_config_fn_count(const struct function_config *fn, const char *key)
{
	if (strcmp(key, "reserved_concurrency") == 0)
		return fn->reserved_concurrency;
	if (strcmp(key, "rate") == 0)
		return fn->rate;
	if (strcmp(key, "burst") == 0)
		return fn->burst;
	fail_msg("no function key %s", key);
	return 0;
}

static uint32_t
test_config_tenant_count(const struct tenant_config *t, const char *key)
{
	if (strcmp(key, "concurrency") == 0)
		return t->concurrency;
	if (strcmp(key, "rate") == 0)
		return t->rate;
	if (strcmp(key, "burst") == 0)
		return t->burst;
	fail_msg("no tenant key %s", key);
	return 0;
}

static const struct bound_case test_fn_count_cases[] = {
	{ "reserved_concurrency", "-1", false }, { "reserved_concurrency", "0", true },
	{ "reserved_concurrency", "1", true }, { "reserved_concurrency", "100000", true },
	{ "reserved_concurrency", "100001", false }, { "reserved_concurrency", "x", false },
	{ "rate", "-1", false }, { "rate", "0", true }, { "rate", "10000000", true },
	{ "rate", "10000001", false }, { "rate", "", false },
	{ "burst", "-1", false }, { "burst", "0", true }, { "burst", "10000000", true },
	{ "burst", "10000001", false }, { "burst", "4294967296", false },
};

static const struct bound_case test_tenant_count_cases[] = {
	{ "concurrency", "-1", false }, { "concurrency", "0", true }, { "concurrency", "100000", true },
	{ "concurrency", "100001", false }, { "concurrency", "ten", false },
	{ "rate", "-1", false }, { "rate", "0", true }, { "rate", "10000000", true },
	{ "rate", "10000001", false },
	{ "burst", "-1", false }, { "burst", "0", true }, { "burst", "10000000", true },
	{ "burst", "10000001", false },
};

#define TEST_NB(a) (sizeof(a) / sizeof((a)[0]))

static void
test_fn_count_bounds(void **state)
{
	const struct function_config *fn;
	char arg[128];
	size_t i;
	int ret;

	(void)state;
	for (i = 0; i < TEST_NB(test_fn_count_cases); i++) {
		const struct bound_case *c = &test_fn_count_cases[i];

		snprintf(arg, sizeof(arg), "f=/m/f.so,%s=%s", c->key, c->value);
		ret = test_config_parse("--fn", arg, NULL);
		if (ret != (c->ok ? 0 : -1))
			fail_msg("--fn %s: returned %d (%s)", arg, ret, err);
		if (!c->ok) {
			if (strncmp(err, "--fn: ", 6) != 0 || strstr(err, c->key) == NULL)
				fail_msg("--fn %s: message '%s'", arg, err);
			continue;
		}
		fn = config_find_function(&cfg, "f", 1);
		assert_non_null(fn);
		assert_int_equal(test_config_fn_count(fn, c->key), strtoul(c->value, NULL, 10));
	}
	assert_int_equal(test_config_parse("--fn", "f=/m/f.so,reserved_concurrency=100001", NULL), -1);
	assert_string_equal(err, "--fn: reserved_concurrency: 100001 is out of range 0..100000");
	assert_int_equal(test_config_parse("--fn", "f=/m/f.so,rate=10000001", NULL), -1);
	assert_string_equal(err, "--fn: rate: 10000001 is out of range 0..10000000");
	assert_int_equal(test_config_parse("--fn", "f=/m/f.so,burst=-1", NULL), -1);
	assert_string_equal(err, "--fn: burst: -1 is out of range 0..10000000");

	assert_int_equal(test_config_parse("--fn", "g=/m/g.so,reserved_concurrency=4,rate=300,burst=20", NULL), 0);
	fn = config_find_function(&cfg, "g", 1);
	assert_int_equal(fn->reserved_concurrency, 4);
	assert_int_equal(fn->rate, 300);
	assert_int_equal(fn->burst, 20);
}

static void
test_file_count_bounds(void **state)
{
	const struct function_config *fn;
	char text[256], want[160];
	size_t i;
	int ret;

	(void)state;
	for (i = 0; i < TEST_NB(test_fn_count_cases); i++) {
		const struct bound_case *c = &test_fn_count_cases[i];
		int64_t v;
		char *end;

		v = strtoll(c->value, &end, 10);
		if (*c->value == '\0' || *end != '\0' || v > 0xffffffffLL)
			continue; /* not an integer a file can hold as one; the type check is below */
		snprintf(text, sizeof(text), "functions = (\n  { name = \"f\"; module = \"f.so\";\n    %s = %s; }\n);\n",
			 c->key, c->value);
		ret = test_config_load_text(text);
		if (ret != (c->ok ? 0 : -1))
			fail_msg("%s = %s: returned %d (%s)", c->key, c->value, ret, err);
		if (!c->ok) {
			snprintf(want, sizeof(want), "turbine.conf:3: functions.[0].%s: %s is out of range 0..",
				 c->key, c->value);
			if (strstr(err, want) == NULL)
				fail_msg("%s = %s: message '%s'", c->key, c->value, err);
			continue;
		}
		fn = config_find_function(&cfg, "f", 1);
		assert_non_null(fn);
		assert_int_equal(test_config_fn_count(fn, c->key), strtoul(c->value, NULL, 10));
	}
	assert_int_equal(test_config_load_text("functions = ({ name = \"f\"; module = \"f.so\"; "
					       "reserved_concurrency = 200000; });\n"), -1);
	assert_non_null(strstr(err, "turbine.conf:1: functions.[0].reserved_concurrency: "
				    "200000 is out of range 0..100000"));
	assert_int_equal(test_config_load_text("functions = ({ name = \"f\"; module = \"f.so\"; rate = \"5\"; });\n"), -1);
	assert_non_null(strstr(err, "functions.[0].rate: expected an integer"));
	assert_int_equal(test_config_load_text("functions = ({ name = \"f\"; module = \"f.so\"; burst = 5000000000L; });\n"), -1);
	assert_non_null(strstr(err, "functions.[0].burst: 5000000000 is out of range 0..10000000"));
}

static void
test_fn_tenants_arg(void **state)
{
	const struct function_config *fn;
	char arg[8192], name[80];
	size_t n;
	int i;

	(void)state;
	assert_int_equal(test_config_parse("--fn", "f=/m/f.so,tenants=acme:globex:a-b_9", NULL), 0);
	fn = config_find_function(&cfg, "f", 1);
	assert_int_equal(fn->nb_tenants, 3);
	assert_string_equal(fn->tenants[0], "acme");
	assert_string_equal(fn->tenants[1], "globex");
	assert_string_equal(fn->tenants[2], "a-b_9");
	assert_int_equal(test_config_parse("--fn", "f=/m/f.so,tenants=solo,rate=7", NULL), 0);
	assert_int_equal(fn->nb_tenants, 1);
	assert_string_equal(fn->tenants[0], "solo");
	assert_int_equal(fn->rate, 7);
	/* Replacing the function drops its list: every tenant may call it again. */
	assert_int_equal(test_config_parse("--fn", "f=/m/f.so", NULL), 0);
	assert_int_equal(fn->nb_tenants, 0);
	assert_int_equal(test_config_parse("--fn", "f=/m/f.so,tenants=", NULL), 0);
	assert_int_equal(fn->nb_tenants, 0);

	assert_int_equal(test_config_parse("--fn", "f=/m/f.so,tenants=a::b", NULL), -1);
	assert_string_equal(err, "--fn: tenants: 'a::b' has an empty name");
	assert_int_equal(test_config_parse("--fn", "f=/m/f.so,tenants=:a", NULL), -1);
	assert_int_equal(test_config_parse("--fn", "f=/m/f.so,tenants=a:", NULL), -1);
	assert_int_equal(test_config_parse("--fn", "f=/m/f.so,tenants=a:b:a", NULL), -1);
	assert_string_equal(err, "--fn: tenants: 'a' is listed twice");
	assert_int_equal(test_config_parse("--fn", "f=/m/f.so,tenants=a.b", NULL), -1);
	assert_string_equal(err, "--fn: tenants: 'a.b' is not 1..64 characters of [A-Za-z0-9_-]");
	assert_int_equal(test_config_parse("--fn", "f=/m/f.so,tenants=a b", NULL), -1);

	/* 64 characters is the longest name, 65 one too many. */
	memset(name, 'n', 65);
	name[64] = '\0';
	snprintf(arg, sizeof(arg), "f=/m/f.so,tenants=x:%s", name);
	assert_int_equal(test_config_parse("--fn", arg, NULL), 0);
	assert_int_equal(fn->nb_tenants, 2);
	assert_string_equal(fn->tenants[1], name);
	name[64] = 'n';
	name[65] = '\0';
	snprintf(arg, sizeof(arg), "f=/m/f.so,tenants=x:%s", name);
	assert_int_equal(test_config_parse("--fn", arg, NULL), -1);
	assert_non_null(strstr(err, "--fn: tenants: '"));

	/* CONFIG_MAX_TENANTS names fit, one more does not. */
	n = (size_t)snprintf(arg, sizeof(arg), "f=/m/f.so,tenants=t0");
	for (i = 1; i < CONFIG_MAX_TENANTS; i++)
		n += (size_t)snprintf(arg + n, sizeof(arg) - n, ":t%d", i);
	assert_int_equal(test_config_parse("--fn", arg, NULL), 0);
	assert_int_equal(fn->nb_tenants, CONFIG_MAX_TENANTS);
	assert_string_equal(fn->tenants[CONFIG_MAX_TENANTS - 1], "t63");
	snprintf(arg + n, sizeof(arg) - n, ":t%d", CONFIG_MAX_TENANTS);
	assert_int_equal(test_config_parse("--fn", arg, NULL), -1);
	assert_string_equal(err, "--fn: tenants: more than 64 names");

	/* The longest list of the longest names still passes through --fn whole. */
	n = (size_t)snprintf(arg, sizeof(arg), "f=/m/f.so,tenants=");
	for (i = 0; i < CONFIG_MAX_TENANTS; i++) {
		snprintf(name, sizeof(name), "%02d%062d", i, 0);
		n += (size_t)snprintf(arg + n, sizeof(arg) - n, "%s%s", i > 0 ? ":" : "", name);
	}
	snprintf(arg + n, sizeof(arg) - n, ",rate=3");
	assert_int_equal(test_config_parse("--fn", arg, NULL), 0);
	assert_int_equal(fn->nb_tenants, CONFIG_MAX_TENANTS);
	assert_string_equal(fn->tenants[CONFIG_MAX_TENANTS - 1], name);
	assert_int_equal(fn->rate, 3);
}

static void
test_file_tenants_forms(void **state)
{
	const struct function_config *fn;
	char text[8192];
	size_t n;
	int i;

	(void)state;
	assert_int_equal(test_config_load_text(
		"functions = ( { name = \"a\"; module = \"a.so\"; tenants = [\"x\", \"y\"]; },\n"
		"              { name = \"b\"; module = \"b.so\"; tenants = (\"y\", \"z\", \"w\"); },\n"
		"              { name = \"c\"; module = \"c.so\"; tenants = \"p:q\"; },\n"
		"              { name = \"d\"; module = \"d.so\"; tenants = []; } );\n"), 0);
	fn = config_find_function(&cfg, "a", 1);
	assert_int_equal(fn->nb_tenants, 2);
	assert_string_equal(fn->tenants[0], "x");
	assert_string_equal(fn->tenants[1], "y");
	fn = config_find_function(&cfg, "b", 1);
	assert_int_equal(fn->nb_tenants, 3);
	assert_string_equal(fn->tenants[2], "w");
	fn = config_find_function(&cfg, "c", 1);
	assert_int_equal(fn->nb_tenants, 2);
	assert_string_equal(fn->tenants[0], "p");
	assert_string_equal(fn->tenants[1], "q");
	assert_int_equal(config_find_function(&cfg, "d", 1)->nb_tenants, 0);

	assert_int_equal(test_config_load_text(
		"functions = ( { name = \"a\"; module = \"a.so\";\n"
		"  tenants = [\"x\",\n"
		"             \"x\"]; } );\n"), -1);
	assert_non_null(strstr(err, "turbine.conf:3: functions.[0].tenants.[1]: 'x' is listed twice"));
	assert_int_equal(test_config_load_text(
		"functions = ( { name = \"a\"; module = \"a.so\";\n"
		"  tenants = (\"x\", 3); } );\n"), -1);
	assert_non_null(strstr(err, "turbine.conf:2: functions.[0].tenants.[1]: expected a list of names"));
	assert_int_equal(test_config_load_text(
		"functions = ( { name = \"a\"; module = \"a.so\"; tenants = [\"a.b\"]; } );\n"), -1);
	assert_non_null(strstr(err, "functions.[0].tenants.[0]: 'a.b' is not 1..64 characters"));
	assert_int_equal(test_config_load_text(
		"functions = ( { name = \"a\"; module = \"a.so\"; tenants = [\"\"]; } );\n"), -1);
	assert_int_equal(test_config_load_text(
		"functions = ( { name = \"a\"; module = \"a.so\";\n  tenants = \"x::y\"; } );\n"), -1);
	assert_non_null(strstr(err, "turbine.conf:2: functions.[0].tenants: 'x::y' has an empty name"));
	assert_int_equal(test_config_load_text(
		"functions = ( { name = \"a\"; module = \"a.so\"; tenants = 5; } );\n"), -1);
	assert_non_null(strstr(err, "functions.[0].tenants: expected a list of names"));
	assert_int_equal(test_config_load_text(
		"functions = ( { name = \"a\"; module = \"a.so\"; tenants = { x = \"y\"; }; } );\n"), -1);

	n = (size_t)snprintf(text, sizeof(text), "functions = ( { name = \"m\"; module = \"m.so\"; tenants = [");
	for (i = 0; i < CONFIG_MAX_TENANTS; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "%s\"t%d\"", i > 0 ? ", " : "", i);
	snprintf(text + n, sizeof(text) - n, "]; } );\n");
	assert_int_equal(test_config_load_text(text), 0);
	assert_int_equal(config_find_function(&cfg, "m", 1)->nb_tenants, CONFIG_MAX_TENANTS);
	snprintf(text + n, sizeof(text) - n, ", \"t%d\"]; } );\n", CONFIG_MAX_TENANTS);
	assert_int_equal(test_config_load_text(text), -1);
	assert_non_null(strstr(err, "functions.[0].tenants.[64]: more than 64 names"));
}

static void
test_tenant_arg(void **state)
{
	const struct tenant_config *t;

	(void)state;
	assert_int_equal(test_config_parse("--tenant", "acme,concurrency=10,rate=1000,burst=100",
					   "--tenant", "globex", NULL), 0);
	assert_int_equal(cfg.nb_tenants, 2);
	t = config_find_tenant(&cfg, "acme", 4);
	assert_non_null(t);
	assert_string_equal(t->name, "acme");
	assert_int_equal(t->concurrency, 10);
	assert_int_equal(t->rate, 1000);
	assert_int_equal(t->burst, 100);
	t = config_find_tenant(&cfg, "globex", 6);
	assert_non_null(t);
	assert_int_equal(t->concurrency, 0);
	assert_int_equal(t->rate, 0);
	assert_int_equal(t->burst, 0);
	/* The length bounds the name. */
	assert_non_null(config_find_tenant(&cfg, "acme:x", 4));
	assert_null(config_find_tenant(&cfg, "acm", 3));
	assert_null(config_find_tenant(&cfg, "initech", 7));

	/* A same-named --tenant replaces the whole tenant, defaults included. */
	assert_int_equal(test_config_parse("--tenant", "acme,rate=5", NULL), 0);
	assert_int_equal(cfg.nb_tenants, 2);
	t = config_find_tenant(&cfg, "acme", 4);
	assert_int_equal(t->rate, 5);
	assert_int_equal(t->concurrency, 0);
	assert_int_equal(t->burst, 0);
}

static void
test_tenant_arg_bounds(void **state)
{
	const struct tenant_config *t;
	char arg[128];
	size_t i;
	int ret;

	(void)state;
	for (i = 0; i < TEST_NB(test_tenant_count_cases); i++) {
		const struct bound_case *c = &test_tenant_count_cases[i];

		snprintf(arg, sizeof(arg), "acme,%s=%s", c->key, c->value);
		ret = test_config_parse("--tenant", arg, NULL);
		if (ret != (c->ok ? 0 : -1))
			fail_msg("--tenant %s: returned %d (%s)", arg, ret, err);
		if (!c->ok) {
			if (strncmp(err, "--tenant: ", 10) != 0 || strstr(err, c->key) == NULL)
				fail_msg("--tenant %s: message '%s'", arg, err);
			continue;
		}
		t = config_find_tenant(&cfg, "acme", 4);
		assert_non_null(t);
		assert_int_equal(test_config_tenant_count(t, c->key), strtoul(c->value, NULL, 10));
	}
	assert_int_equal(test_config_parse("--tenant", "acme,concurrency=100001", NULL), -1);
	assert_string_equal(err, "--tenant: concurrency: 100001 is out of range 0..100000");
}

static void
test_tenant_arg_errors(void **state)
{
	char arg[128];
	int i;

	(void)state;
	assert_int_equal(test_config_parse("--tenant", NULL), -1);
	assert_string_equal(err, "--tenant: missing argument");
	assert_int_equal(test_config_parse("--tenant", "", NULL), -1);
	assert_non_null(strstr(err, "--tenant: name: "));
	assert_int_equal(test_config_parse("--tenant", ",rate=1", NULL), -1);
	assert_non_null(strstr(err, "--tenant: name: "));
	assert_int_equal(test_config_parse("--tenant", "ac.me", NULL), -1);
	assert_string_equal(err, "--tenant: name: 'ac.me' is not 1..64 characters of [A-Za-z0-9_-]");
	assert_int_equal(test_config_parse("--tenant", "acme=1", NULL), -1);
	assert_int_equal(test_config_parse("--tenant", "acme,foo=1", NULL), -1);
	assert_string_equal(err, "--tenant: unknown tenant key 'foo'");
	assert_int_equal(test_config_parse("--tenant", "acme,reserved_concurrency=1", NULL), -1);
	assert_string_equal(err, "--tenant: unknown tenant key 'reserved_concurrency'");
	assert_int_equal(test_config_parse("--tenant", "acme,rate", NULL), -1);
	assert_string_equal(err, "--tenant: missing '=' in 'rate' (key=value)");
	assert_int_equal(test_config_parse("--tenant", "acme,", NULL), -1);
	assert_int_equal(test_config_parse("--tenant", "acme,name=b", NULL), -1);
	assert_string_equal(err, "--tenant: 'name' is given as NAME");
	assert_int_equal(cfg.nb_tenants, 0);

	memset(arg, 'a', 64);
	arg[64] = '\0';
	assert_int_equal(test_config_parse("--tenant", arg, NULL), 0);
	memset(arg, 'b', 65);
	arg[65] = '\0';
	assert_int_equal(test_config_parse("--tenant", arg, NULL), -1);
	assert_int_equal(cfg.nb_tenants, 1);

	/* Full: a new tenant is refused, a same-named one still replaces. */
	for (i = 1; i < CONFIG_MAX_TENANTS; i++) {
		snprintf(arg, sizeof(arg), "t%d", i);
		assert_int_equal(config_add_tenant_arg(&cfg, arg, err, sizeof(err)), 0);
	}
	assert_int_equal(cfg.nb_tenants, CONFIG_MAX_TENANTS);
	assert_int_equal(config_add_tenant_arg(&cfg, "one-more", err, sizeof(err)), -1);
	assert_string_equal(err, "--tenant: more than 64 tenants");
	assert_int_equal(config_add_tenant_arg(&cfg, "t5,rate=9", err, sizeof(err)), 0);
	assert_int_equal(config_find_tenant(&cfg, "t5", 2)->rate, 9);
	assert_int_equal(cfg.nb_tenants, CONFIG_MAX_TENANTS);
}

static void
test_file_tenants(void **state)
{
	const struct tenant_config *t;
	char text[256], want[160];
	size_t i;
	int ret;

	(void)state;
	assert_int_equal(test_config_load_text(
		"tenants = ( { name = \"acme\"; concurrency = 10; rate = 1000; burst = 100; },\n"
		"            { name = \"initech\"; rate = 3; } );\n"), 0);
	assert_int_equal(cfg.nb_tenants, 2);
	t = config_find_tenant(&cfg, "initech", 7);
	assert_non_null(t);
	assert_int_equal(t->rate, 3);
	assert_int_equal(t->concurrency, 0);
	assert_int_equal(config_find_tenant(&cfg, "acme", 4)->burst, 100);

	for (i = 0; i < TEST_NB(test_tenant_count_cases); i++) {
		const struct bound_case *c = &test_tenant_count_cases[i];
		char *end;

		strtoll(c->value, &end, 10);
		if (*end != '\0')
			continue;
		snprintf(text, sizeof(text), "tenants = (\n  { name = \"acme\";\n    %s = %s; }\n);\n",
			 c->key, c->value);
		ret = test_config_load_text(text);
		if (ret != (c->ok ? 0 : -1))
			fail_msg("%s = %s: returned %d (%s)", c->key, c->value, ret, err);
		if (!c->ok) {
			snprintf(want, sizeof(want), "turbine.conf:3: tenants.[0].%s: %s is out of range 0..",
				 c->key, c->value);
			if (strstr(err, want) == NULL)
				fail_msg("%s = %s: message '%s'", c->key, c->value, err);
			continue;
		}
		t = config_find_tenant(&cfg, "acme", 4);
		assert_int_equal(test_config_tenant_count(t, c->key), strtoul(c->value, NULL, 10));
	}

	assert_int_equal(config_load_file(&cfg, TEST_DIR "/unknown_tenant_key.conf", err, sizeof(err)), -1);
	assert_string_equal(err, TEST_DIR "/unknown_tenant_key.conf:4: tenants.[0].reserved_concurrency: "
				 "unknown tenant key");
	assert_int_equal(test_config_load_text("tenants = (\n  { concurrency = 1; }\n);\n"), -1);
	assert_non_null(strstr(err, "turbine.conf:2: tenants.[0]: missing 'name'"));
	assert_int_equal(test_config_load_text("tenants = { name = \"acme\"; };\n"), -1);
	assert_non_null(strstr(err, "turbine.conf:1: tenants: expected a list of groups: tenants = ( { ... } );"));
	assert_int_equal(test_config_load_text("tenants = ( \"acme\" );\n"), -1);
	assert_non_null(strstr(err, "tenants.[0]: expected a group: { name = \"...\"; concurrency = N; }"));
	assert_int_equal(test_config_load_text("tenants = ( { name = \"a.b\"; } );\n"), -1);
	assert_non_null(strstr(err, "tenants.[0].name: 'a.b' is not 1..64 characters"));
	assert_int_equal(test_config_load_text("tenants = ( { name = \"acme\"; rate = \"1\"; } );\n"), -1);
	assert_non_null(strstr(err, "tenants.[0].rate: expected an integer"));
}

static void
test_file_tenant_duplicate(void **state)
{
	(void)state;
	assert_int_equal(config_load_file(&cfg, TEST_DIR "/duplicate_tenant.conf", err, sizeof(err)), -1);
	assert_string_equal(err, TEST_DIR "/duplicate_tenant.conf:5: tenants.[2].name: tenant 'acme' is declared twice");
	/* Still a duplicate when the file's first acme replaced one from an earlier --tenant. */
	assert_int_equal(test_config_parse("--tenant", "acme", "--config", TEST_DIR "/duplicate_tenant.conf", NULL), -1);
	assert_non_null(strstr(err, "duplicate_tenant.conf:5: tenants.[2].name: tenant 'acme' is declared twice"));
}

static void
test_tenants_override(void **state)
{
	const struct tenant_config *t;

	(void)state;
	/* The file replaces an earlier --tenant, a later --tenant replaces the file's. */
	assert_int_equal(test_config_parse("--tenant", "acme,rate=1", "--tenant", "globex,rate=2",
					   "--config", TEST_DIR "/good.conf",
					   "--tenant", "globex,concurrency=3", "--tenant", "initech", NULL), 0);
	assert_int_equal(cfg.nb_tenants, 3);
	t = config_find_tenant(&cfg, "acme", 4);
	assert_int_equal(t->rate, 1000);
	assert_int_equal(t->concurrency, 10);
	t = config_find_tenant(&cfg, "globex", 6);
	assert_int_equal(t->concurrency, 3);
	assert_int_equal(t->rate, 0);
	assert_non_null(config_find_tenant(&cfg, "initech", 7));

	/* A second file with the same tenant replaces it rather than failing. */
	assert_int_equal(test_config_load_text("tenants = ( { name = \"acme\"; burst = 7; } );\n"), 0);
	assert_int_equal(cfg.nb_tenants, 3);
	t = config_find_tenant(&cfg, "acme", 4);
	assert_int_equal(t->burst, 7);
	assert_int_equal(t->rate, 0);
}

/* Tenant limits shared by nodes: the backend, NATS and the leases' timing. */
static void
test_limits_backend(void **state)
{
	(void)state;
	assert_string_equal(cfg.limits_backend, "local");
	assert_string_equal(cfg.nats_url, "nats://127.0.0.1:4222");
	assert_string_equal(cfg.lease_bucket, "turbine_leases");
	assert_int_equal(cfg.lease_ttl_ms, 3000);
	assert_int_equal(cfg.lease_renew_ms, 750);
	assert_int_equal(cfg.lease_replicas, 1);
	assert_string_equal(cfg.node_id, "");
	assert_int_equal(test_config_parse("--limits-backend", "nats", "--nats-url",
					   "nats://10.0.0.1:4222,nats://10.0.0.2:4222",
					   "--lease-bucket", "leases-eu", "--lease-ttl-ms", "2000",
					   "--lease-renew-ms", "500", "--node-id", "edge-1.a",
					   "--lease-replicas", "3", NULL), 0);
	assert_int_equal(cfg.lease_replicas, 3);
	assert_string_equal(cfg.limits_backend, "nats");
	assert_string_equal(cfg.nats_url, "nats://10.0.0.1:4222,nats://10.0.0.2:4222");
	assert_string_equal(cfg.lease_bucket, "leases-eu");
	assert_int_equal(cfg.lease_ttl_ms, 2000);
	assert_int_equal(cfg.lease_renew_ms, 500);
	assert_string_equal(cfg.node_id, "edge-1.a");

	assert_int_equal(test_config_parse("--limits-backend", "redis", NULL), -1);
	assert_string_equal(err, "--limits-backend: 'redis' is not one of local, nats");
	assert_int_equal(test_config_parse("--lease-ttl-ms", "299", NULL), -1);
	assert_int_equal(test_config_parse("--lease-renew-ms", "49", NULL), -1);
	assert_int_equal(test_config_parse("--lease-replicas", "0", NULL), -1);
	assert_int_equal(test_config_parse("--node-id", "a b", NULL), -1);
	assert_int_equal(test_config_parse("--nats-url", "nats://a b", NULL), -1);

	assert_int_equal(test_config_load_text("limits_backend = \"local\";\nlease_ttl_ms = 6000;\n"
					       "node_id = \"n2\";\n"), 0);
	assert_string_equal(cfg.limits_backend, "local");
	assert_int_equal(cfg.lease_ttl_ms, 6000);
	assert_string_equal(cfg.node_id, "n2");
}

static void
test_dispatch_policy(void **state)
{
	static const char *const good[] = { "jsq", "round-robin", "p2c" };
	static const char *const bad[] = { "", "JSQ", "rr", "p2c ", "round_robin", "jsq-and-more-text" };
	char text[128];
	size_t i;

	(void)state;
	for (i = 0; i < TEST_NB(good); i++) {
		assert_int_equal(test_config_parse("--dispatch-policy", good[i], NULL), 0);
		assert_string_equal(cfg.dispatch_policy, good[i]);
		snprintf(text, sizeof(text), "dispatch_policy = \"%s\";\n", good[i == 0 ? 1 : 0]);
		assert_int_equal(test_config_load_text(text), 0);
		assert_string_equal(cfg.dispatch_policy, good[i == 0 ? 1 : 0]);
	}
	for (i = 0; i < TEST_NB(bad); i++) {
		if (test_config_parse("--dispatch-policy", bad[i], NULL) != -1)
			fail_msg("--dispatch-policy '%s' was accepted", bad[i]);
		snprintf(text, sizeof(text), "--dispatch-policy: '%s' is not one of jsq, round-robin, p2c", bad[i]);
		assert_string_equal(err, text);
	}
	assert_string_equal(cfg.dispatch_policy, "jsq");
	assert_int_equal(test_config_parse("--dispatch-policy", NULL), -1);
	assert_string_equal(err, "--dispatch-policy: missing argument");

	assert_int_equal(test_config_load_text("udp_port = 9000;\ndispatch_policy = \"fifo\";\n"), -1);
	assert_non_null(strstr(err, "turbine.conf:2: dispatch_policy: 'fifo' is not one of jsq, round-robin, p2c"));
	assert_int_equal(test_config_load_text("dispatch_policy = 1;\n"), -1);
	assert_non_null(strstr(err, "turbine.conf:1: dispatch_policy: expected a string"));
	assert_string_equal(cfg.dispatch_policy, "jsq");
}

/* The queue's backend and the jetstream backend's NATS keys: defaults, file, options, bounds. */
static void
test_async_backend(void **state)
{
	(void)state;
	assert_int_equal(test_config_load_text("udp_port = 9000;\n"), 0);
	assert_string_equal(cfg.async_backend, "local");
	assert_string_equal(cfg.nats_url, "nats://127.0.0.1:4222");
	assert_string_equal(cfg.nats_stream, "TURBINE");
	assert_int_equal(cfg.nats_replicas, 1);
	assert_int_equal(cfg.nats_ack_wait_ms, 30000);

	assert_int_equal(test_config_load_text(
		"async_backend = \"jetstream\";\n"
		"nats_url = \"nats://10.0.0.1:4222,nats://10.0.0.2:4222\";\n"
		"nats_stream = \"EVENTS_A\";\nnats_replicas = 3;\nnats_ack_wait_ms = 5000;\n"), 0);
	assert_string_equal(cfg.async_backend, "jetstream");
	assert_string_equal(cfg.nats_url, "nats://10.0.0.1:4222,nats://10.0.0.2:4222");
	assert_string_equal(cfg.nats_stream, "EVENTS_A");
	assert_int_equal(cfg.nats_replicas, 3);
	assert_int_equal(cfg.nats_ack_wait_ms, 5000);

	assert_int_equal(test_config_parse("--async-backend", "jetstream", "--nats-replicas", "5",
					   NULL), 0);
	assert_string_equal(cfg.async_backend, "jetstream");
	assert_int_equal(cfg.nats_replicas, 5);

	assert_int_equal(test_config_parse("--async-backend", "kafka", NULL), -1);
	assert_string_equal(err, "--async-backend: 'kafka' is not one of local, jetstream");
	assert_int_equal(test_config_parse("--nats-replicas", "6", NULL), -1);
	assert_int_equal(test_config_parse("--nats-stream", "A.B", NULL), -1);
	assert_int_equal(test_config_parse("--nats-ack-wait-ms", "999", NULL), -1);
}

/* A function as a running dispatcher holds it. */
static struct function_config *
test_config_running_function(void)
{
	assert_int_equal(test_config_parse("--fn", "f=/m/f.so,tenants=acme:globex,rate=10", NULL), 0);
	return (struct function_config *)config_find_function(&cfg, "f", 1);
}

static void
test_set_function_key(void **state)
{
	static const struct { const char *key, *value; } ok[] = {
		{ "timeout_ms", "900000" }, { "memory_mb", "10240" }, { "max_event_bytes", "512" },
		{ "reserved_concurrency", "100000" }, { "rate", "0" }, { "burst", "10000000" },
	};
	struct function_config *fn = test_config_running_function();
	size_t i;

	(void)state;
	for (i = 0; i < TEST_NB(ok); i++)
		if (config_set_function_key(fn, ok[i].key, ok[i].value, err, sizeof(err)) != 0)
			fail_msg("%s=%s refused: %s", ok[i].key, ok[i].value, err);
	assert_int_equal(fn->timeout_ms, 900000);
	assert_int_equal(fn->memory_mb, 10240);
	assert_int_equal(fn->max_event_bytes, 512);
	assert_int_equal(fn->reserved_concurrency, 100000);
	assert_int_equal(fn->rate, 0);
	assert_int_equal(fn->burst, 10000000);

	assert_int_equal(config_set_function_key(fn, "reserved_concurrency", "3", err, sizeof(err)), 0);
	assert_int_equal(fn->reserved_concurrency, 3);
	assert_int_equal(config_set_function_key(fn, "tenants", "initech", err, sizeof(err)), 0);
	assert_int_equal(fn->nb_tenants, 1);
	assert_string_equal(fn->tenants[0], "initech");
	/* The shorter list leaves nothing of the longer one behind. */
	assert_string_equal(fn->tenants[1], "");
	assert_int_equal(config_set_function_key(fn, "tenants", "a:b:c", err, sizeof(err)), 0);
	assert_int_equal(fn->nb_tenants, 3);
	assert_string_equal(fn->tenants[2], "c");
	assert_int_equal(config_set_function_key(fn, "tenants", "", err, sizeof(err)), 0);
	assert_int_equal(fn->nb_tenants, 0);
}

static void
test_set_function_key_refused(void **state)
{
	static const char *const fixed[] = { "name", "module", "version", "params" };
	struct function_config *fn = test_config_running_function();
	struct function_config before;
	char want[128];
	size_t i;

	(void)state;
	before = *fn;
	for (i = 0; i < TEST_NB(fixed); i++) {
		assert_int_equal(config_set_function_key(fn, fixed[i], "x", err, sizeof(err)), -1);
		snprintf(want, sizeof(want), "%s cannot change while running", fixed[i]);
		assert_string_equal(err, want);
	}
	assert_int_equal(config_set_function_key(fn, "reserved_concurrency", "200000", err, sizeof(err)), -1);
	assert_string_equal(err, "reserved_concurrency: 200000 is out of range 0..100000");
	assert_int_equal(config_set_function_key(fn, "reserved_concurrency", "-1", err, sizeof(err)), -1);
	assert_int_equal(config_set_function_key(fn, "timeout_ms", "0", err, sizeof(err)), -1);
	assert_string_equal(err, "timeout_ms: 0 is out of range 1..900000");
	assert_int_equal(config_set_function_key(fn, "memory_mb", "127", err, sizeof(err)), -1);
	assert_int_equal(config_set_function_key(fn, "rate", "10000001", err, sizeof(err)), -1);
	assert_string_equal(err, "rate: 10000001 is out of range 0..10000000");
	assert_int_equal(config_set_function_key(fn, "burst", "lots", err, sizeof(err)), -1);
	assert_string_equal(err, "burst: 'lots' is not a number");
	assert_int_equal(config_set_function_key(fn, "max_event_bytes", "65536", err, sizeof(err)), -1);
	/* A bad list is refused whole: the earlier list stays. */
	assert_int_equal(config_set_function_key(fn, "tenants", "ok:ok", err, sizeof(err)), -1);
	assert_string_equal(err, "tenants: 'ok' is listed twice");
	assert_int_equal(config_set_function_key(fn, "tenants", "new:b.d", err, sizeof(err)), -1);
	assert_int_equal(config_set_function_key(fn, "colour", "blue", err, sizeof(err)), -1);
	assert_string_equal(err, "unknown function key 'colour'");
	assert_int_equal(config_set_function_key(fn, "concurrency", "1", err, sizeof(err)), -1);
	assert_string_equal(err, "unknown function key 'concurrency'");
	assert_int_equal(config_set_function_key(fn, "", "1", err, sizeof(err)), -1);
	assert_memory_equal(fn, &before, sizeof(before));
}

static void
test_set_tenant_key(void **state)
{
	struct tenant_config *t, before;

	(void)state;
	assert_int_equal(test_config_parse("--tenant", "acme,concurrency=10,rate=1000,burst=100", NULL), 0);
	t = (struct tenant_config *)config_find_tenant(&cfg, "acme", 4);
	assert_non_null(t);
	assert_int_equal(config_set_tenant_key(t, "concurrency", "100000", err, sizeof(err)), 0);
	assert_int_equal(t->concurrency, 100000);
	assert_int_equal(config_set_tenant_key(t, "rate", "10000000", err, sizeof(err)), 0);
	assert_int_equal(t->rate, 10000000);
	assert_int_equal(config_set_tenant_key(t, "burst", "0", err, sizeof(err)), 0);
	assert_int_equal(t->burst, 0);

	before = *t;
	assert_int_equal(config_set_tenant_key(t, "name", "globex", err, sizeof(err)), -1);
	assert_string_equal(err, "name cannot change while running");
	assert_int_equal(config_set_tenant_key(t, "concurrency", "100001", err, sizeof(err)), -1);
	assert_string_equal(err, "concurrency: 100001 is out of range 0..100000");
	assert_int_equal(config_set_tenant_key(t, "rate", "-1", err, sizeof(err)), -1);
	assert_string_equal(err, "rate: -1 is out of range 0..10000000");
	assert_int_equal(config_set_tenant_key(t, "burst", "", err, sizeof(err)), -1);
	assert_string_equal(err, "burst: '' is not a number");
	assert_int_equal(config_set_tenant_key(t, "tenants", "a", err, sizeof(err)), -1);
	assert_string_equal(err, "unknown tenant key 'tenants'");
	assert_int_equal(config_set_tenant_key(t, "reserved_concurrency", "1", err, sizeof(err)), -1);
	assert_string_equal(err, "unknown tenant key 'reserved_concurrency'");
	assert_memory_equal(t, &before, sizeof(before));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, test_config_setup, test_config_teardown)
		T(test_defaults),
		T(test_every_option),
		T(test_udp_port_bounds),
		T(test_drain_timeout),
		T(test_port_bounds),
		T(test_bad_ip),
		T(test_bad_usage),
		T(test_help),
		T(test_fn_keys),
		T(test_fn_bounds),
		T(test_fn_isolation),
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
		T(test_help_lists_keys),
		T(test_fn_count_bounds),
		T(test_file_count_bounds),
		T(test_fn_tenants_arg),
		T(test_file_tenants_forms),
		T(test_tenant_arg),
		T(test_tenant_arg_bounds),
		T(test_tenant_arg_errors),
		T(test_file_tenants),
		T(test_file_tenant_duplicate),
		T(test_tenants_override),
		T(test_dispatch_policy),
		T(test_async_backend),
		T(test_limits_backend),
		T(test_set_function_key),
		T(test_set_function_key_refused),
		T(test_set_tenant_key),
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
