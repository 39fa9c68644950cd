/* Unit tests of Lambda's Invoke API mapping: FunctionName forms, Qualifier, types, error bodies, base64. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lambda_api.h"

#define P(name) "/2015-03-31/functions/" name "/invocations"

static void
expect_fn(const char *path, const char *qualifier, const char *want)
{
	char fn[LAMBDA_API_FN_MAX + 1];
	const char *why = NULL;

	assert_int_equal(lambda_api_function(path, qualifier, fn, &why), 0);
	assert_string_equal(fn, want);
}

static void
expect_refused(const char *path, const char *qualifier, int want)
{
	char fn[LAMBDA_API_FN_MAX + 1];
	const char *why = NULL;

	assert_int_equal(lambda_api_function(path, qualifier, fn, &why), want);
	assert_non_null(why);
}

static void
test_function_forms(void **state)
{
	(void)state;
	expect_fn(P("echo"), NULL, "echo");
	expect_fn(P("echo:1"), NULL, "echo:1");
	expect_fn(P("echo%3A1"), NULL, "echo:1");
	expect_fn(P("echo"), "prod", "echo:prod");
	expect_fn(P("echo:prod"), "prod", "echo:prod");
	expect_fn(P("echo"), "$LATEST", "echo:$LATEST");
	expect_fn(P("arn%3Aaws%3Alambda%3Aeu-west-3%3A123456789012%3Afunction%3Aecho"), NULL, "echo");
	expect_fn(P("arn:aws:lambda:us-east-1:123456789012:function:echo:7"), NULL, "echo:7");
	expect_fn(P("arn:aws:lambda:us-east-1:123456789012:function:echo"), "7", "echo:7");
	expect_fn(P("123456789012%3Afunction%3Ahello"), NULL, "hello");
}

static void
test_function_refused(void **state)
{
	(void)state;
	/* Not the Invoke API at all: 404. */
	expect_refused("/", NULL, -1);
	expect_refused("/2015-03-31/functions/echo", NULL, -1);
	expect_refused("/2015-03-31/functions//invocations", NULL, -1);
	expect_refused("/2015-03-31/functions/a/b/invocations", NULL, -1);
	expect_refused("/2016-01-01/functions/echo/invocations", NULL, -1);
	/* Parameters Lambda refuses: 400. */
	expect_refused(P("echo:1"), "2", -2);
	expect_refused(P("echo"), "", -2);
	expect_refused(P("echo:1:2"), NULL, -2);
	expect_refused(P("%3Aecho"), NULL, -2);
	expect_refused(P("arn:aws:lambda:us-east-1:123456789012:function:"), NULL, -2);
	expect_refused(P("ec%00ho"), NULL, -2);
}

static void
test_types(void **state)
{
	(void)state;
	assert_int_equal(lambda_api_type(NULL), LAMBDA_API_REQUEST_RESPONSE);
	assert_int_equal(lambda_api_type("RequestResponse"), LAMBDA_API_REQUEST_RESPONSE);
	assert_int_equal(lambda_api_type("Event"), LAMBDA_API_EVENT);
	assert_int_equal(lambda_api_type("DryRun"), LAMBDA_API_DRY_RUN);
	assert_int_equal(lambda_api_type("event"), -1);
	assert_int_equal(lambda_api_type(""), -1);
	assert_string_equal(lambda_api_type_name(LAMBDA_API_DRY_RUN), "DryRun");
}

static void
test_error_bodies(void **state)
{
	char *b;

	(void)state;
	b = lambda_api_error_body(429, "TooManyRequestsException", "Rate Exceeded.",
				  "ReservedFunctionConcurrentInvocationLimitExceeded");
	assert_string_equal(b, "{\"Type\":\"User\",\"message\":\"Rate Exceeded.\","
			       "\"Reason\":\"ReservedFunctionConcurrentInvocationLimitExceeded\"}");
	free(b);
	b = lambda_api_error_body(404, "ResourceNotFoundException", "Function not found: nope", NULL);
	assert_string_equal(b, "{\"Type\":\"User\",\"Message\":\"Function not found: nope\"}");
	free(b);
	b = lambda_api_error_body(500, "ServiceException", "a \"quoted\" text", NULL);
	assert_string_equal(b, "{\"Type\":\"Service\",\"Message\":\"a \\\"quoted\\\" text\"}");
	free(b);
}

static void
test_base64(void **state)
{
	static const struct { const char *raw; const char *b64; } v[] = {
		{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" }, { "foob", "Zm9vYg==" },
		{ "{\"a\":1}", "eyJhIjoxfQ==" },
	};
	uint8_t *raw;
	size_t i, len;
	char *b;

	(void)state;
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		b = lambda_api_base64((const uint8_t *)v[i].raw, strlen(v[i].raw));
		assert_string_equal(b, v[i].b64);
		free(b);
		raw = lambda_api_base64_decode(v[i].b64, &len);
		assert_non_null(raw);
		assert_int_equal(len, strlen(v[i].raw));
		assert_memory_equal(raw, v[i].raw, len);
		free(raw);
	}
	assert_null(lambda_api_base64_decode("Zm9", &len));
	assert_null(lambda_api_base64_decode("Zm9v!A==", &len));
}

static void
test_uuid_and_decode(void **state)
{
	static const uint8_t rnd[16] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
					 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	char out[37], buf[8];

	(void)state;
	lambda_api_uuid(rnd, out);
	assert_string_equal(out, "ffffffff-ffff-4fff-bfff-ffffffffffff");
	assert_int_equal(lambda_api_percent_decode("%24LA%2", 7, buf, sizeof(buf)), 5);
	assert_string_equal(buf, "$LA%2");
	assert_int_equal(lambda_api_percent_decode("12345678", 8, buf, sizeof(buf)), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_function_forms),
		cmocka_unit_test(test_function_refused),
		cmocka_unit_test(test_types),
		cmocka_unit_test(test_error_bodies),
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_uuid_and_decode),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
