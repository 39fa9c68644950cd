/* AWS Signature Version 4 checked on one HTTP request: parse, canonical request, verify (no I/O). */
#ifndef GATEWAY_SIGV4_H
#define GATEWAY_SIGV4_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define SIGV4_ALGORITHM "AWS4-HMAC-SHA256"
#define SIGV4_KEY_ID_MAX 128
#define SIGV4_SCOPE_PART_MAX 63
#define SIGV4_SIGNED_HEADERS_MAX 1023
/* How far X-Amz-Date may be from the gateway's clock, as AWS allows. */
#define SIGV4_MAX_SKEW_S 300

/* A header or a query parameter as the client sent it (not NUL-terminated; value may be NULL). */
struct sigv4_pair {
	const char *name;
	size_t name_len;
	const char *value;
	size_t value_len;
};

/* The parts of a request the signature covers. Query names and values still percent-encoded. */
struct sigv4_request {
	const char *method;
	const char *path;                   /* as sent on the request line, percent-encoded */
	const struct sigv4_pair *query;
	size_t nb_query;
	const struct sigv4_pair *headers;
	size_t nb_headers;
	const uint8_t *body;
	size_t body_len;
};

/* The Authorization header's fields. */
struct sigv4_auth {
	char key_id[SIGV4_KEY_ID_MAX + 1];
	char date[9];                       /* YYYYMMDD of the credential scope */
	char region[SIGV4_SCOPE_PART_MAX + 1];
	char service[SIGV4_SCOPE_PART_MAX + 1];
	char signed_headers[SIGV4_SIGNED_HEADERS_MAX + 1];
	char signature[65];
};

enum sigv4_result {
	SIGV4_OK = 0,
	SIGV4_INCOMPLETE,           /* the signature's parts are missing or ill-formed */
	SIGV4_MISMATCH,             /* the signature is not the one the secret gives */
	SIGV4_EXPIRED,              /* X-Amz-Date too far from now */
};

/*
 * "AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/SERVICE/aws4_request,
 * SignedHeaders=a;b, Signature=hex". SIGV4_OK or SIGV4_INCOMPLETE with *why.
 */
enum sigv4_result sigv4_parse_authorization(const char *value, struct sigv4_auth *a, const char **why);

/* The canonical request, as AWS documents it; malloc'd, NULL on a missing signed header or no memory. */
char *sigv4_canonical_request(const struct sigv4_request *r, const struct sigv4_auth *a, const char **why);

/* The signature for the string to sign, from the secret and the scope: 64 hex digits and a NUL. */
void sigv4_sign(const char *secret, const struct sigv4_auth *a, const char *string_to_sign, char hex[65]);

/*
 * The whole check: X-Amz-Date present and within SIGV4_MAX_SKEW_S of now,
 * the scope's date its day, host signed, the signature matches (compared
 * in constant time).
 */
enum sigv4_result sigv4_verify(const struct sigv4_request *r, const struct sigv4_auth *a, const char *secret,
			       time_t now, const char **why);

/* Lower-case hex SHA-256 of the bytes: 64 digits and a NUL. */
void sigv4_sha256_hex(const void *p, size_t len, char hex[65]);

/* The value of the first header named `name` (case-insensitive), or NULL. */
const struct sigv4_pair *sigv4_find_header(const struct sigv4_request *r, const char *name);

#endif /* GATEWAY_SIGV4_H */
