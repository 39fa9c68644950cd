/* Unit tests of SigV4: AWS's documented example, a Lambda Invoke signed by botocore, and each way to fail. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sigv4.h"

#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"

#define PAIR(n, v) { n, sizeof(n) - 1, v, sizeof(v) - 1 }

/* AWS's "Create a canonical request" example: IAM ListUsers, 2015-08-30. */
static const struct sigv4_pair iam_headers[] = {
	PAIR("Host", "iam.amazonaws.com"),
	PAIR("Content-Type", "application/x-www-form-urlencoded;  charset=utf-8 "),
	PAIR("X-Amz-Date", "20150830T123600Z"),
};
static const struct sigv4_pair iam_query[] = {
	PAIR("Version", "2010-05-08"),
	PAIR("Action", "ListUsers"),
};
static const char iam_authorization[] =
	"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, "
	"SignedHeaders=content-type;host;x-amz-date, "
	"Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7";
static const char iam_canonical[] =
	"GET\n/\nAction=ListUsers&Version=2010-05-08\n"
	"content-type:application/x-www-form-urlencoded; charset=utf-8\n"
	"host:iam.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
	"content-type;host;x-amz-date\n"
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
#define IAM_TIME 1440938160     /* 2015-08-30T12:36:00Z */

static struct sigv4_request
iam_request(void)
{
	return (struct sigv4_request){
		.method = "GET", .path = "/", .query = iam_query, .nb_query = 2,
		.headers = iam_headers, .nb_headers = 3, .body = (const uint8_t *)"", .body_len = 0,
	};
}

/*
 * A Lambda Invoke signed by botocore 1.29 (SigV4Auth, service lambda,
 * eu-west-3, clock fixed at 2026-11-27T15:00:00Z): a function ARN in the
 * path (encoded once on the wire, twice in the canonical request) and a
 * Qualifier of "$LATEST".
 */
static const struct sigv4_pair lambda_headers[] = {
	PAIR("Host", "127.0.0.1:8080"),
	PAIR("X-Amz-Invocation-Type", "RequestResponse"),
	PAIR("Content-Type", "application/json"),
	PAIR("User-Agent", "x"),
	PAIR("X-Amz-Date", "20261127T150000Z"),
};
static const struct sigv4_pair lambda_query[] = {
	PAIR("Qualifier", "%24LATEST"),
};
static const char lambda_path[] =
	"/2015-03-31/functions/arn%3Aaws%3Alambda%3Aeu-west-3%3A123456789012%3Afunction%3Aecho/invocations";
static const char lambda_body[] = "{\"hello\": \"world\"}";
static const char lambda_authorization[] =
	"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261127/eu-west-3/lambda/aws4_request, "
	"SignedHeaders=content-type;host;x-amz-date;x-amz-invocation-type, "
	"Signature=631a2ed686a58e53ead2d26e3853b7f0180eb1ea5a7c23c6d82b2220a7ca0128";
static const char lambda_canonical[] =
	"POST\n"
	"/2015-03-31/functions/arn%253Aaws%253Alambda%253Aeu-west-3%253A123456789012%253Afunction%253Aecho/invocations\n"
	"Qualifier=%24LATEST\n"
	"content-type:application/json\nhost:127.0.0.1:8080\nx-amz-date:20261127T150000Z\n"
	"x-amz-invocation-type:RequestResponse\n\n"
	"content-type;host;x-amz-date;x-amz-invocation-type\n"
	"5f8f04f6a3a892aaabbddb6cf273894493773960d4a325b105fee46eef4304f1";
#define LAMBDA_TIME 1795791600  /* 2026-11-27T15:00:00Z */

static struct sigv4_request
lambda_request(void)
{
	return (struct sigv4_request){
		.method = "POST", .path = lambda_path, .query = lambda_query, .nb_query = 1,
		.headers = lambda_headers, .nb_headers = 5, .body = (const uint8_t *)lambda_body,
		.body_len = strlen(lambda_body),
	};
}

static void
test_parse_authorization(void **state)
{
	struct sigv4_auth a;
	const char *why = NULL;

	(void)state;
	assert_int_equal(sigv4_parse_authorization(lambda_authorization, &a, &why), SIGV4_OK);
	assert_string_equal(a.key_id, "AKIDEXAMPLE");
	assert_string_equal(a.date, "20261127");
	assert_string_equal(a.region, "eu-west-3");
	assert_string_equal(a.service, "lambda");
	assert_string_equal(a.signed_headers, "content-type;host;x-amz-date;x-amz-invocation-type");
	assert_string_equal(a.signature, "631a2ed686a58e53ead2d26e3853b7f0180eb1ea5a7c23c6d82b2220a7ca0128");
}

static void
test_parse_authorization_malformed(void **state)
{
	static const char *const bad[] = {
		"",
		"Bearer abc",
		"AWS4-HMAC-SHA256",
		"AWS4-HMAC-SHA256 Credential=AKID/20261127/eu-west-3/lambda/aws4_request, SignedHeaders=host",
		"AWS4-HMAC-SHA256 Credential=AKID/20261127/eu-west-3/lambda/aws4_request, Signature="
		"631a2ed686a58e53ead2d26e3853b7f0180eb1ea5a7c23c6d82b2220a7ca0128",
		"AWS4-HMAC-SHA256 Credential=AKID/2026112/eu-west-3/lambda/aws4_request, SignedHeaders=host, "
		"Signature=631a2ed686a58e53ead2d26e3853b7f0180eb1ea5a7c23c6d82b2220a7ca0128",
		"AWS4-HMAC-SHA256 Credential=AKID/20261127/eu-west-3/lambda/aws5_request, SignedHeaders=host, "
		"Signature=631a2ed686a58e53ead2d26e3853b7f0180eb1ea5a7c23c6d82b2220a7ca0128",
		"AWS4-HMAC-SHA256 Credential=AKID/20261127/eu-west-3/lambda, SignedHeaders=host, "
		"Signature=631a2ed686a58e53ead2d26e3853b7f0180eb1ea5a7c23c6d82b2220a7ca0128",
		"AWS4-HMAC-SHA256 Credential=AKID/20261127/eu-west-3/lambda/aws4_request, SignedHeaders=host, "
		"Signature=631a2ed6",
		"AWS4-HMAC-SHA256 Credential=AKID/20261127/eu-west-3/lambda/aws4_request, SignedHeaders=Host, "
		"Signature=631a2ed686a58e53ead2d26e3853b7f0180eb1ea5a7c23c6d82b2220a7ca0128",
		"AWS4-HMAC-SHA256 garbage",
	};
	struct sigv4_auth a;
	const char *why;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		assert_int_equal(sigv4_parse_authorization(bad[i], &a, &why), SIGV4_INCOMPLETE);
		assert_non_null(why);
	}
}

static void
test_canonical_request(void **state)
{
	struct sigv4_request r = iam_request(), l = lambda_request();
	struct sigv4_auth a;
	const char *why;
	char *text;

	(void)state;
	assert_int_equal(sigv4_parse_authorization(iam_authorization, &a, &why), SIGV4_OK);
	text = sigv4_canonical_request(&r, &a, &why);
	assert_non_null(text);
	assert_string_equal(text, iam_canonical);
	free(text);

	assert_int_equal(sigv4_parse_authorization(lambda_authorization, &a, &why), SIGV4_OK);
	text = sigv4_canonical_request(&l, &a, &why);
	assert_non_null(text);
	assert_string_equal(text, lambda_canonical);
	free(text);
}

static void
test_signing_key_and_signature(void **state)
{
	char hash[65], sig[65];
	struct sigv4_auth a;
	const char *why;
	char sts[256];

	(void)state;
	sigv4_sha256_hex(iam_canonical, strlen(iam_canonical), hash);
	assert_string_equal(hash, "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59");
	assert_int_equal(sigv4_parse_authorization(iam_authorization, &a, &why), SIGV4_OK);
	snprintf(sts, sizeof(sts), "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/iam/aws4_request\n%s",
		 hash);
	sigv4_sign(SECRET, &a, sts, sig);
	assert_string_equal(sig, "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7");
}

static void
test_verify(void **state)
{
	struct sigv4_request r = iam_request(), l = lambda_request();
	struct sigv4_auth a;
	const char *why;

	(void)state;
	assert_int_equal(sigv4_parse_authorization(iam_authorization, &a, &why), SIGV4_OK);
	assert_int_equal(sigv4_verify(&r, &a, SECRET, IAM_TIME, &why), SIGV4_OK);
	assert_int_equal(sigv4_parse_authorization(lambda_authorization, &a, &why), SIGV4_OK);
	assert_int_equal(sigv4_verify(&l, &a, SECRET, LAMBDA_TIME + 299, &why), SIGV4_OK);
	assert_int_equal(sigv4_verify(&l, &a, SECRET, LAMBDA_TIME - 299, &why), SIGV4_OK);
}

static void
test_verify_failures(void **state)
{
	struct sigv4_pair headers[5];
	struct sigv4_request l = lambda_request();
	struct sigv4_auth a;
	const char *why;

	(void)state;
	assert_int_equal(sigv4_parse_authorization(lambda_authorization, &a, &why), SIGV4_OK);
	/* Another secret, a stale or future date. */
	assert_int_equal(sigv4_verify(&l, &a, SECRET "x", LAMBDA_TIME, &why), SIGV4_MISMATCH);
	assert_int_equal(sigv4_verify(&l, &a, SECRET, LAMBDA_TIME + 301, &why), SIGV4_EXPIRED);
	assert_int_equal(sigv4_verify(&l, &a, SECRET, LAMBDA_TIME - 301, &why), SIGV4_EXPIRED);
	/* One byte of the body, of the path, of the query, of a signed header. */
	l.body_len--;
	assert_int_equal(sigv4_verify(&l, &a, SECRET, LAMBDA_TIME, &why), SIGV4_MISMATCH);
	l = lambda_request();
	l.path = "/2015-03-31/functions/echo/invocations";
	assert_int_equal(sigv4_verify(&l, &a, SECRET, LAMBDA_TIME, &why), SIGV4_MISMATCH);
	l = lambda_request();
	l.nb_query = 0;
	assert_int_equal(sigv4_verify(&l, &a, SECRET, LAMBDA_TIME, &why), SIGV4_MISMATCH);
	l = lambda_request();
	memcpy(headers, lambda_headers, sizeof(headers));
	headers[1] = (struct sigv4_pair)PAIR("X-Amz-Invocation-Type", "Event");
	l.headers = headers;
	assert_int_equal(sigv4_verify(&l, &a, SECRET, LAMBDA_TIME, &why), SIGV4_MISMATCH);
	/* An unsigned header may change. */
	headers[1] = lambda_headers[1];
	headers[3] = (struct sigv4_pair)PAIR("User-Agent", "y");
	assert_int_equal(sigv4_verify(&l, &a, SECRET, LAMBDA_TIME, &why), SIGV4_OK);
	/* A signed header missing, X-Amz-Date missing. */
	l.nb_headers = 4;
	assert_int_equal(sigv4_verify(&l, &a, SECRET, LAMBDA_TIME, &why), SIGV4_INCOMPLETE);
	headers[1] = headers[4];
	l.nb_headers = 2;
	assert_int_equal(sigv4_verify(&l, &a, SECRET, LAMBDA_TIME, &why), SIGV4_INCOMPLETE);
	/* The signature's last digit. */
	l = lambda_request();
	a.signature[63] = a.signature[63] == '8' ? '9' : '8';
	assert_int_equal(sigv4_verify(&l, &a, SECRET, LAMBDA_TIME, &why), SIGV4_MISMATCH);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_authorization),
		cmocka_unit_test(test_parse_authorization_malformed),
		cmocka_unit_test(test_canonical_request),
		cmocka_unit_test(test_signing_key_and_signature),
		cmocka_unit_test(test_verify),
		cmocka_unit_test(test_verify_failures),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
