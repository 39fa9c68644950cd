/* Unit tests of the credentials file: keys and tenants read, each kind of bad line named by its number. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "credentials.h"

static char path[] = "/tmp/gateway-credentials-XXXXXX";

static void
write_file(const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void
test_load(void **state)
{
	struct credentials c;
	char err[256];

	(void)state;
	write_file("# keys for the tests\n\nAKIDALPHA secret/alpha+1 alpha\n   \n\tAKIDBETA  s2\tbeta-2  \n");
	assert_int_equal(credentials_load(&c, path, err, sizeof(err)), 0);
	assert_int_equal(c.nb_keys, 2);
	assert_string_equal(credentials_find(&c, "AKIDALPHA")->secret, "secret/alpha+1");
	assert_string_equal(credentials_find(&c, "AKIDBETA")->tenant, "beta-2");
	assert_null(credentials_find(&c, "AKIDGAMMA"));
	assert_null(credentials_find(&c, "AKIDALPH"));
	credentials_free(&c);
}

static void
expect_error(const char *text, const char *where)
{
	struct credentials c;
	char err[256];

	write_file(text);
	assert_true(credentials_load(&c, path, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, where));
	assert_null(c.keys);
}

static void
test_bad_lines(void **state)
{
	char where[64];

	(void)state;
	snprintf(where, sizeof(where), "%s:2: fewer", path);
	expect_error("A s t\nB s\n", where);
	snprintf(where, sizeof(where), "%s:1: more", path);
	expect_error("A s t extra\n", where);
	snprintf(where, sizeof(where), "%s:3: the tenant", path);
	expect_error("# c\nA s t\nB s bad.tenant\n", where);
	snprintf(where, sizeof(where), "%s:1: the access key id", path);
	expect_error("AK/ID s t\n", where);
	snprintf(where, sizeof(where), "%s:2: access key id A given twice", path);
	expect_error("A s t\nA s2 t2\n", where);
	expect_error("# only comments\n\n", "no access keys");
	expect_error("", "no access keys");
}

static void
test_missing_file(void **state)
{
	struct credentials c;
	char err[256];

	(void)state;
	assert_true(credentials_load(&c, "/nonexistent/credentials", err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "/nonexistent/credentials"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_bad_lines),
		cmocka_unit_test(test_missing_file),
	};
	int fd = mkstemp(path), ret;

	if (fd < 0)
		return 1;
	close(fd);
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	unlink(path);
	return ret;
}
