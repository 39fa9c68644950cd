/* AWS Signature Version 4 checked on one HTTP request: the steps AWS documents, with libcrypto's HMAC. */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "sigv4.h"

#define SIGV4_TERMINATOR "aws4_request"

static void
sigv4_hex(const uint8_t *p, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * len] = '\0';
}

void
sigv4_sha256_hex(const void *p, size_t len, char hex[65])
{
	uint8_t md[SHA256_DIGEST_LENGTH];

	SHA256(p, len, md);
	sigv4_hex(md, sizeof(md), hex);
}

static void
sigv4_hmac(const void *key, size_t key_len, const char *data, uint8_t out[SHA256_DIGEST_LENGTH])
{
	unsigned int len = SHA256_DIGEST_LENGTH;

	HMAC(EVP_sha256(), key, (int)key_len, (const uint8_t *)data, strlen(data), out, &len);
}

void
sigv4_sign(const char *secret, const struct sigv4_auth *a, const char *string_to_sign, char hex[65])
{
	uint8_t k[SHA256_DIGEST_LENGTH], sig[SHA256_DIGEST_LENGTH];
	size_t secret_len = strlen(secret);
	char *first = malloc(secret_len + 5);

	/* kDate = HMAC("AWS4" + secret, date), then region, service, "aws4_request". */
	if (first == NULL) {
		memset(hex, '0', 64);
		hex[64] = '\0';
		return;
	}
	memcpy(first, "AWS4", 4);
	memcpy(first + 4, secret, secret_len + 1);
	sigv4_hmac(first, secret_len + 4, a->date, k);
	OPENSSL_cleanse(first, secret_len + 4);
	free(first);
	sigv4_hmac(k, sizeof(k), a->region, k);
	sigv4_hmac(k, sizeof(k), a->service, k);
	sigv4_hmac(k, sizeof(k), SIGV4_TERMINATOR, k);
	sigv4_hmac(k, sizeof(k), string_to_sign, sig);
	OPENSSL_cleanse(k, sizeof(k));
	sigv4_hex(sig, sizeof(sig), hex);
}

/* Copy [p, p+len) into out (at most cap-1 bytes) when every byte passes ok(); -1 otherwise. */
static int
sigv4_copy_part(const char *p, size_t len, char *out, size_t cap, int (*ok)(int))
{
	size_t i;

	if (len == 0 || len >= cap)
		return -1;
	for (i = 0; i < len; i++)
		if (!ok((unsigned char)p[i]))
			return -1;
	memcpy(out, p, len);
	out[len] = '\0';
	return 0;
}

static int
sigv4_is_scope_char(int c)
{
	return isalnum(c) || c == '-' || c == '_';
}

static int
sigv4_is_header_list_char(int c)
{
	return islower(c) || isdigit(c) || c == '-' || c == ';' || c == '_' || c == '.';
}

static int
sigv4_is_hex(int c)
{
	return isdigit(c) || (c >= 'a' && c <= 'f');
}

static int
sigv4_is_digit(int c)
{
	return isdigit(c);
}

/* AKID/DATE/REGION/SERVICE/aws4_request */
static int
sigv4_parse_credential(const char *p, size_t len, struct sigv4_auth *a)
{
	const char *end = p + len, *slash;
	char *parts[] = { a->key_id, a->date, a->region, a->service };
	size_t caps[] = { sizeof(a->key_id), sizeof(a->date), sizeof(a->region), sizeof(a->service) };
	int (*oks[])(int) = { sigv4_is_scope_char, sigv4_is_digit, sigv4_is_scope_char, sigv4_is_scope_char };
	size_t i;

	for (i = 0; i < 4; i++) {
		slash = memchr(p, '/', (size_t)(end - p));
		if (slash == NULL || sigv4_copy_part(p, (size_t)(slash - p), parts[i], caps[i], oks[i]) < 0)
			return -1;
		p = slash + 1;
	}
	if (strlen(a->date) != 8)
		return -1;
	return (size_t)(end - p) == strlen(SIGV4_TERMINATOR) &&
	       memcmp(p, SIGV4_TERMINATOR, (size_t)(end - p)) == 0 ? 0 : -1;
}

enum sigv4_result
sigv4_parse_authorization(const char *value, struct sigv4_auth *a, const char **why)
{
	const size_t alg_len = strlen(SIGV4_ALGORITHM);
	bool have_cred = false, have_signed = false, have_sig = false;
	const char *p = value, *comma, *eq, *end;
	size_t name_len, len;

	memset(a, 0, sizeof(*a));
	if (strncmp(p, SIGV4_ALGORITHM, alg_len) != 0 || p[alg_len] != ' ') {
		*why = "Authorization header must start with '" SIGV4_ALGORITHM " '";
		return SIGV4_INCOMPLETE;
	}
	p += alg_len;
	while (*p != '\0') {
		while (*p == ' ' || *p == ',')
			p++;
		if (*p == '\0')
			break;
		comma = strchr(p, ',');
		end = comma != NULL ? comma : p + strlen(p);
		while (end > p && end[-1] == ' ')
			end--;
		eq = memchr(p, '=', (size_t)(end - p));
		if (eq == NULL) {
			*why = "Authorization header: a component is not NAME=VALUE";
			return SIGV4_INCOMPLETE;
		}
		name_len = (size_t)(eq - p);
		len = (size_t)(end - eq - 1);
		if (name_len == 10 && memcmp(p, "Credential", 10) == 0) {
			if (sigv4_parse_credential(eq + 1, len, a) < 0) {
				*why = "Authorization header: Credential is not AKID/YYYYMMDD/REGION/SERVICE/aws4_request";
				return SIGV4_INCOMPLETE;
			}
			have_cred = true;
		} else if (name_len == 13 && memcmp(p, "SignedHeaders", 13) == 0) {
			if (sigv4_copy_part(eq + 1, len, a->signed_headers, sizeof(a->signed_headers),
					    sigv4_is_header_list_char) < 0) {
				*why = "Authorization header: SignedHeaders is not a list of lower-case names";
				return SIGV4_INCOMPLETE;
			}
			have_signed = true;
		} else if (name_len == 9 && memcmp(p, "Signature", 9) == 0) {
			if (len != 64 || sigv4_copy_part(eq + 1, len, a->signature, sizeof(a->signature),
							 sigv4_is_hex) < 0) {
				*why = "Authorization header: Signature is not 64 lower-case hex digits";
				return SIGV4_INCOMPLETE;
			}
			have_sig = true;
		}
		p = comma != NULL ? comma + 1 : end + strlen(end);
	}
	if (!have_cred || !have_signed || !have_sig) {
		*why = !have_cred ? "Authorization header requires 'Credential' parameter" :
		       !have_signed ? "Authorization header requires 'SignedHeaders' parameter" :
				      "Authorization header requires 'Signature' parameter";
		return SIGV4_INCOMPLETE;
	}
	return SIGV4_OK;
}

static bool
sigv4_unreserved(int c)
{
	return isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
}

/* URI-encode as SigV4 wants: unreserved bytes kept, `keep` too, everything else %XX upper-case. */
static void
sigv4_uri_encode(FILE *out, const char *p, size_t len, char keep)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (sigv4_unreserved((unsigned char)p[i]) || (keep != '\0' && p[i] == keep))
			fputc(p[i], out);
		else
			fprintf(out, "%%%02X", (unsigned char)p[i]);
	}
}

static int
sigv4_hexval(int c)
{
	if (isdigit(c))
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Percent-decoding of a query name or value, into a malloc'd buffer; then encoded canonically. */
static char *
sigv4_query_part(const char *p, size_t len)
{
	char *decoded = malloc(len + 1), *text = NULL;
	size_t i, n = 0, text_len = 0;
	FILE *mem;
	int hi, lo;

	if (decoded == NULL)
		return NULL;
	for (i = 0; i < len; i++) {
		if (p[i] == '%' && i + 2 < len && (hi = sigv4_hexval((unsigned char)p[i + 1])) >= 0 &&
		    (lo = sigv4_hexval((unsigned char)p[i + 2])) >= 0) {
			decoded[n++] = (char)(hi << 4 | lo);
			i += 2;
		} else {
			decoded[n++] = p[i];
		}
	}
	mem = open_memstream(&text, &text_len);
	if (mem != NULL) {
		sigv4_uri_encode(mem, decoded, n, '\0');
		if (fclose(mem) != 0) {
			free(text);
			text = NULL;
		}
	}
	free(decoded);
	return text;
}

struct sigv4_query_entry {
	char *name;
	char *value;
};

static int
sigv4_query_cmp(const void *x, const void *y)
{
	const struct sigv4_query_entry *a = x, *b = y;
	int c = strcmp(a->name, b->name);

	return c != 0 ? c : strcmp(a->value, b->value);
}

static int
sigv4_canonical_query(FILE *out, const struct sigv4_request *r)
{
	struct sigv4_query_entry *e = calloc(r->nb_query + 1, sizeof(*e));
	int ret = 0;
	size_t i;

	if (e == NULL)
		return -1;
	for (i = 0; i < r->nb_query; i++) {
		e[i].name = sigv4_query_part(r->query[i].name, r->query[i].name_len);
		e[i].value = sigv4_query_part(r->query[i].value != NULL ? r->query[i].value : "",
					      r->query[i].value != NULL ? r->query[i].value_len : 0);
		if (e[i].name == NULL || e[i].value == NULL)
			ret = -1;
	}
	if (ret == 0) {
		qsort(e, r->nb_query, sizeof(*e), sigv4_query_cmp);
		for (i = 0; i < r->nb_query; i++)
			fprintf(out, "%s%s=%s", i > 0 ? "&" : "", e[i].name, e[i].value);
	}
	for (i = 0; i < r->nb_query; i++) {
		free(e[i].name);
		free(e[i].value);
	}
	free(e);
	return ret;
}

/* Trimall: no white space at either end, each run inside as one space. */
static void
sigv4_trimmed_value(FILE *out, const char *p, size_t len)
{
	bool space = false, started = false;
	size_t i;

	for (i = 0; i < len; i++) {
		if (isspace((unsigned char)p[i])) {
			space = started;
			continue;
		}
		if (space)
			fputc(' ', out);
		fputc(p[i], out);
		space = false;
		started = true;
	}
}

/* "name:v1,v2\n" for the signed header `name`; -1 when the request lacks it. */
static int
sigv4_canonical_header(FILE *out, const struct sigv4_request *r, const char *name, size_t len)
{
	bool found = false;
	size_t i;

	fwrite(name, 1, len, out);
	fputc(':', out);
	for (i = 0; i < r->nb_headers; i++) {
		if (r->headers[i].name_len != len || strncasecmp(r->headers[i].name, name, len) != 0)
			continue;
		if (found)
			fputc(',', out);
		if (r->headers[i].value != NULL)
			sigv4_trimmed_value(out, r->headers[i].value, r->headers[i].value_len);
		found = true;
	}
	fputc('\n', out);
	return found ? 0 : -1;
}

const struct sigv4_pair *
sigv4_find_header(const struct sigv4_request *r, const char *name)
{
	size_t len = strlen(name), i;

	for (i = 0; i < r->nb_headers; i++)
		if (r->headers[i].name_len == len && strncasecmp(r->headers[i].name, name, len) == 0)
			return &r->headers[i];
	return NULL;
}

char *
sigv4_canonical_request(const struct sigv4_request *r, const struct sigv4_auth *a, const char **why)
{
	const char *h = a->signed_headers, *semi;
	char payload[65], *text = NULL;
	size_t text_len = 0, len;
	bool ok = true;
	FILE *mem;

	mem = open_memstream(&text, &text_len);
	if (mem == NULL) {
		*why = "out of memory";
		return NULL;
	}
	fprintf(mem, "%s\n", r->method);
	/* Lambda is not S3: the path as sent is encoded once more ("/" kept). */
	sigv4_uri_encode(mem, r->path, strlen(r->path), '/');
	fputc('\n', mem);
	if (sigv4_canonical_query(mem, r) < 0) {
		*why = "out of memory";
		ok = false;
	}
	fputc('\n', mem);
	while (ok && *h != '\0') {
		semi = strchr(h, ';');
		len = semi != NULL ? (size_t)(semi - h) : strlen(h);
		if (len == 0 || sigv4_canonical_header(mem, r, h, len) < 0) {
			*why = "a header named in SignedHeaders is not in the request";
			ok = false;
		}
		h += len + (semi != NULL);
	}
	fprintf(mem, "\n%s\n", a->signed_headers);
	sigv4_sha256_hex(r->body, r->body_len, payload);
	fputs(payload, mem);
	if (fclose(mem) != 0 || !ok) {
		if (ok)
			*why = "out of memory";
		free(text);
		return NULL;
	}
	return text;
}

/* YYYYMMDDTHHMMSSZ as seconds since the epoch, or -1. */
static time_t
sigv4_parse_amz_date(const char *p, size_t len)
{
	char buf[17];
	struct tm tm;
	char *end;

	if (len != 16)
		return -1;
	memcpy(buf, p, len);
	buf[len] = '\0';
	memset(&tm, 0, sizeof(tm));
	end = strptime(buf, "%Y%m%dT%H%M%SZ", &tm);
	if (end == NULL || *end != '\0')
		return -1;
	return timegm(&tm);
}

/* Does `name` appear in the ;-separated list? */
static bool
sigv4_signs(const char *list, const char *name)
{
	size_t len = strlen(name);
	const char *p = list;

	while ((p = strstr(p, name)) != NULL) {
		if ((p == list || p[-1] == ';') && (p[len] == '\0' || p[len] == ';'))
			return true;
		p += len;
	}
	return false;
}

enum sigv4_result
sigv4_verify(const struct sigv4_request *r, const struct sigv4_auth *a, const char *secret, time_t now,
	     const char **why)
{
	const struct sigv4_pair *date = sigv4_find_header(r, "x-amz-date");
	const struct sigv4_pair *sha = sigv4_find_header(r, "x-amz-content-sha256");
	char amz_date[17], canonical_hash[65], payload[65], expected[65];
	char *canonical, *sts = NULL;
	size_t sts_len = 0;
	FILE *mem;
	time_t t;

	if (date == NULL || date->value == NULL) {
		*why = "Authorization header requires existence of a 'X-Amz-Date' header";
		return SIGV4_INCOMPLETE;
	}
	t = sigv4_parse_amz_date(date->value, date->value_len);
	if (t < 0) {
		*why = "X-Amz-Date must be in the ISO8601 basic format YYYYMMDD'T'HHMMSS'Z'";
		return SIGV4_INCOMPLETE;
	}
	memcpy(amz_date, date->value, 16);
	amz_date[16] = '\0';
	if (memcmp(amz_date, a->date, 8) != 0) {
		*why = "Credential should be scoped to a valid date: the day of X-Amz-Date";
		return SIGV4_MISMATCH;
	}
	if (!sigv4_signs(a->signed_headers, "host")) {
		*why = "'Host' must be a signed header";
		return SIGV4_INCOMPLETE;
	}
	if (sha != NULL && sha->value != NULL) {
		sigv4_sha256_hex(r->body, r->body_len, payload);
		if (sha->value_len != 64 || memcmp(sha->value, payload, 64) != 0) {
			*why = "X-Amz-Content-Sha256 is not the SHA-256 of the body";
			return SIGV4_MISMATCH;
		}
	}
	canonical = sigv4_canonical_request(r, a, why);
	if (canonical == NULL)
		return SIGV4_INCOMPLETE;
	sigv4_sha256_hex(canonical, strlen(canonical), canonical_hash);
	free(canonical);
	mem = open_memstream(&sts, &sts_len);
	if (mem == NULL) {
		*why = "out of memory";
		return SIGV4_MISMATCH;
	}
	fprintf(mem, SIGV4_ALGORITHM "\n%s\n%s/%s/%s/" SIGV4_TERMINATOR "\n%s", amz_date, a->date, a->region,
		a->service, canonical_hash);
	if (fclose(mem) != 0) {
		free(sts);
		*why = "out of memory";
		return SIGV4_MISMATCH;
	}
	sigv4_sign(secret, a, sts, expected);
	free(sts);
	if (CRYPTO_memcmp(expected, a->signature, 64) != 0) {
		*why = "The request signature we calculated does not match the signature you provided. "
		       "Check your AWS Secret Access Key and signing method.";
		return SIGV4_MISMATCH;
	}
	/* After the signature: a stale date is told only to a caller who holds the secret. */
	if (t > now + SIGV4_MAX_SKEW_S || t < now - SIGV4_MAX_SKEW_S) {
		*why = "Signature expired: X-Amz-Date is more than 5 minutes away from the server's time";
		return SIGV4_EXPIRED;
	}
	return SIGV4_OK;
}
