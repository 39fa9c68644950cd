/* Lambda's Invoke REST API as the SDKs see it: path, headers, statuses and error bodies (no I/O). */
#ifndef GATEWAY_LAMBDA_API_H
#define GATEWAY_LAMBDA_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LAMBDA_API_PATH_PREFIX "/2015-03-31/functions/"
#define LAMBDA_API_PATH_SUFFIX "/invocations"
/* PROTOCOL.md's `fn`: a name of 64 and a qualifier; Lambda's own qualifiers are at most 128. */
#define LAMBDA_API_FN_MAX 200

enum lambda_api_type {
	LAMBDA_API_REQUEST_RESPONSE,
	LAMBDA_API_EVENT,
	LAMBDA_API_DRY_RUN,
};

/*
 * The wire `fn` ("name" or "name:qualifier") from the path as sent (still
 * percent-encoded) and the Qualifier query parameter (NULL: none, already
 * decoded). The FunctionName may be a name, "name:qualifier", a full ARN
 * "arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]" or a partial
 * one "ACCOUNT:function:NAME[:QUALIFIER]". 0, or -1 with *why (not this
 * API's path) or -2 with *why (a parameter Lambda would refuse: 400).
 */
int lambda_api_function(const char *path, const char *qualifier, char fn[LAMBDA_API_FN_MAX + 1],
			const char **why);

/* X-Amz-Invocation-Type (NULL: RequestResponse); -1 for anything else. */
int lambda_api_type(const char *header);

/* The wire type string of a type. */
const char *lambda_api_type_name(enum lambda_api_type t);

/*
 * Lambda's JSON error body: {"Type": "User" (4xx) or "Service" (5xx),
 * "message" (or "Message" for the errors whose model names it so): ..., and
 * "Reason" when given}. malloc'd, NULL when out of memory.
 */
char *lambda_api_error_body(unsigned int status, const char *error, const char *message, const char *reason);

/* A random (version 4) UUID from 16 random bytes: 36 characters and a NUL. */
void lambda_api_uuid(const uint8_t rnd[16], char out[37]);

/* Padded base64 (RFC 4648) of the bytes; malloc'd, NULL when out of memory. */
char *lambda_api_base64(const uint8_t *p, size_t len);

/* Decode padded base64 into a malloc'd buffer (*len bytes); NULL when not base64 or no memory. */
uint8_t *lambda_api_base64_decode(const char *s, size_t *len);

/* Percent-decoding into out (cap bytes, NUL-terminated): the decoded length, or -1 when it does not fit. */
int lambda_api_percent_decode(const char *s, size_t len, char *out, size_t cap);

#endif /* GATEWAY_LAMBDA_API_H */
