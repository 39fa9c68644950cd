/* Unit tests of turbine-gen's options: defaults, loads, and nonsense refused with a message that says why. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "options.h"

#define MAX_ARGS 64

static struct gen_config cfg;
static char err[512];

/* Parse a NULL-terminated list of arguments (argv[0] is added). */
static int
parse(const char *first, ...)
{
	char *argv[MAX_ARGS + 2];
	const char *a;
	va_list ap;
	int argc = 0;

	argv[argc++] = (char *)"turbine-gen";
	va_start(ap, first);
	for (a = first; a != NULL; a = va_arg(ap, const char *)) {
		assert_true(argc <= MAX_ARGS);
		argv[argc++] = (char *)a;
	}
	va_end(ap);
	argv[argc] = NULL;
	options_free(&cfg);
	err[0] = '\0';
	return options_parse(&cfg, argc, argv, err, sizeof(err));
}

static int
teardown(void **state)
{
	(void)state;
	options_free(&cfg);
	return 0;
}

#define REFUSED(needle, ...) refused(needle, parse(__VA_ARGS__, NULL))

static void
refused(const char *needle, int rc)
{
	if (rc >= 0)
		fail_msg("accepted; expected a refusal mentioning '%s'", needle);
	if (strstr(err, needle) == NULL)
		fail_msg("message '%s' does not mention '%s'", err, needle);
}

static void
test_defaults(void **state)
{
	(void)state;
	assert_int_equal(parse("--fn", "echo", "--rate", "1000", NULL), 0);
	assert_int_equal(cfg.load, GEN_LOAD_OPEN);
	assert_int_equal(cfg.dst_ip, htonl(0xc6120001));
	assert_int_equal(cfg.dst_port, htons(9000));
	assert_int_equal(cfg.src_ip, htonl(0xc6120002));
	assert_int_equal(cfg.src_port, htons(40000));
	assert_false(cfg.has_dst_mac);
	assert_false(cfg.poisson);
	assert_true(cfg.rate == 1000.0);
	assert_true(cfg.warmup_s == 1.0);
	assert_true(cfg.duration_s == 10.0);
	assert_int_equal(cfg.drain_ms, 1000);
	assert_int_equal(cfg.burst, 32);
	assert_int_equal(cfg.seed, 1);
	assert_int_equal(cfg.outstanding, 0);
	assert_int_equal(cfg.mix.nb, 1);
	assert_string_equal(cfg.mix.entries[0].fn, "echo");
	assert_null(cfg.mix.entries[0].event);
}

static void
test_everything_given(void **state)
{
	int rc;

	(void)state;
	rc = parse("--to", "10.1.2.3:9100", "--src-ip", "10.1.2.4", "--src-port", "5000",
		   "--dst-mac", "02:aa:bb:cc:dd:0F", "--port", "1", "--rate", "2500.5",
		   "--poisson", "--outstanding", "64", "--warmup", "0", "--duration", "0.5",
		   "--drain-ms", "250", "--fn", "spin:3", "--event", "{\"us\": 5}",
		   "--type", "Event", "--tenant", "acme", "--seed", "18446744073709551615",
		   "--burst", "8", "--arp-timeout-ms", "100", "--json", "/tmp/x.json",
		   "--quiet", "--reflector", NULL);
	if (rc != 0)
		fail_msg("refused: %s", err);
	assert_int_equal(cfg.dst_ip, htonl(0x0a010203));
	assert_int_equal(cfg.dst_port, htons(9100));
	assert_int_equal(cfg.src_port, htons(5000));
	assert_true(cfg.has_dst_mac);
	assert_int_equal(cfg.dst_mac[1], 0xaa);
	assert_int_equal(cfg.dst_mac[5], 0x0f);
	assert_int_equal(cfg.port_id, 1);
	assert_true(cfg.poisson && cfg.quiet && cfg.reflector);
	assert_int_equal(cfg.outstanding, 64);
	assert_true(cfg.warmup_s == 0.0 && cfg.duration_s == 0.5);
	assert_true(cfg.seed == UINT64_MAX);
	assert_int_equal(cfg.mix.entries[0].type, REQUEST_EVENT);
	assert_string_equal(cfg.mix.entries[0].tenant, "acme");
	assert_string_equal(cfg.json_path, "/tmp/x.json");
}

static void
test_loads(void **state)
{
	(void)state;
	assert_int_equal(parse("--fn", "echo", "--outstanding", "4", NULL), 0);
	assert_int_equal(cfg.load, GEN_LOAD_CLOSED);
	assert_int_equal(cfg.outstanding, 4);
	assert_int_equal(parse("--fn", "echo", "--max", NULL), 0);
	assert_int_equal(cfg.load, GEN_LOAD_MAX);
	assert_int_equal(cfg.outstanding, OPTIONS_MAX_OUTSTANDING);
	assert_int_equal(parse("--fn", "echo", "--max", "--outstanding", "32", NULL), 0);
	assert_int_equal(cfg.outstanding, 32);
	assert_int_equal(parse("--to", "198.18.0.9", "--fn", "echo", "--rate", "1", NULL), 0);
	assert_int_equal(cfg.dst_port, htons(9000));
}

static void
test_mix_options(void **state)
{
	(void)state;
	assert_int_equal(parse("--mix-entry", "99.5:spin:{\"us\":1}", "--mix-entry", "0.5:spin:{\"us\":100}",
			       "--tenant", "t", "--rate", "100", NULL), 0);
	assert_int_equal(cfg.mix.nb, 2);
	assert_string_equal(cfg.mix.entries[1].tenant, "t");
	assert_true(cfg.mix.total_weight == 100.0);
}

static void
test_help(void **state)
{
	FILE *saved = stdout;

	(void)state;
	stdout = fopen("/dev/null", "w");
	assert_int_equal(parse("--help", NULL), 1);
	fclose(stdout);
	stdout = saved;
}

static void
test_nonsense_refused(void **state)
{
	(void)state;
	REFUSED("--rate", "--fn", "echo", "--rate", "0");
	REFUSED("--rate", "--fn", "echo", "--rate", "-100");
	REFUSED("--rate", "--fn", "echo", "--rate", "fast");
	REFUSED("--rate", "--fn", "echo", "--rate", "nan");
	REFUSED("--rate", "--fn", "echo", "--rate", "inf");
	REFUSED("--duration", "--fn", "echo", "--rate", "10", "--duration", "0");
	REFUSED("--duration", "--fn", "echo", "--rate", "10", "--duration", "-1");
	REFUSED("--warmup", "--fn", "echo", "--rate", "10", "--warmup", "-1");
	REFUSED("--drain-ms", "--fn", "echo", "--rate", "10", "--drain-ms", "0");
	REFUSED("--outstanding", "--fn", "echo", "--outstanding", "0");
	REFUSED("--burst", "--fn", "echo", "--rate", "10", "--burst", "65");
	REFUSED("--burst", "--fn", "echo", "--rate", "10", "--burst", "-1");
	REFUSED("sends no request", "--fn", "echo", "--rate", "0.5", "--duration", "1");
	REFUSED("no load given", "--fn", "echo");
	REFUSED("alternatives", "--fn", "echo", "--max", "--rate", "10");
	REFUSED("--poisson", "--fn", "echo", "--poisson", "--outstanding", "2");
	REFUSED("no function", "--rate", "10");
	REFUSED("alternatives", "--fn", "echo", "--mix-entry", "1:echo", "--rate", "10");
	REFUSED("--event goes with --fn", "--event", "{}", "--mix-entry", "1:echo", "--rate", "10");
	REFUSED("not JSON", "--fn", "echo", "--event", "{\"a\":", "--rate", "10");
	REFUSED("function", "--fn", "ec ho", "--rate", "10");
	REFUSED("RequestResponse", "--fn", "echo", "--type", "Async", "--rate", "10");
	REFUSED("sum to 0", "--mix-entry", "0:echo", "--mix-entry", "0:spin", "--rate", "10");
	REFUSED("weight", "--mix-entry", "-1:echo", "--rate", "10");
	REFUSED("IPv4", "--to", "198.18.0", "--fn", "echo", "--rate", "10");
	REFUSED("1..65535", "--to", "198.18.0.1:70000", "--fn", "echo", "--rate", "10");
	REFUSED("1..65535", "--to", "198.18.0.1:", "--fn", "echo", "--rate", "10");
	REFUSED("IPv4", "--src-ip", "localhost", "--fn", "echo", "--rate", "10");
	REFUSED("--src-port", "--src-port", "0", "--fn", "echo", "--rate", "10");
	REFUSED("MAC", "--dst-mac", "02:00:00:00:00", "--fn", "echo", "--rate", "10");
	REFUSED("MAC", "--dst-mac", "02:00:00:00:00:01:", "--fn", "echo", "--rate", "10");
	REFUSED("unknown option", "--fn", "echo", "--rate", "10", "--bogus");
	REFUSED("needs an argument", "--fn", "echo", "--rate");
	REFUSED("given twice", "--fn", "echo", "--fn", "spin", "--rate", "10");
	REFUSED("unexpected argument", "--fn", "echo", "--rate", "10", "extra");
	REFUSED("--seed", "--fn", "echo", "--rate", "10", "--seed", "-1");
}

/* A mix file whose entry has a misspelt key is refused, naming the key. */
static void
test_mix_file_unknown_key(void **state)
{
	char path[] = "/tmp/test_options_XXXXXX";
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	assert_true(write(fd, "[{\"fn\": \"echo\", \"wieght\": 2}]", 29) == 29);
	close(fd);
	REFUSED("unknown key 'wieght'", "--mix", path, "--rate", "10");
	unlink(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_defaults, teardown),
		cmocka_unit_test_teardown(test_everything_given, teardown),
		cmocka_unit_test_teardown(test_loads, teardown),
		cmocka_unit_test_teardown(test_mix_options, teardown),
		cmocka_unit_test_teardown(test_help, teardown),
		cmocka_unit_test_teardown(test_nonsense_refused, teardown),
		cmocka_unit_test_teardown(test_mix_file_unknown_key, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
