/* Lambda's Invoke REST API as the SDKs see it: the path, the headers, Lambda's error bodies. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "lambda_api.h"

static int
lambda_api_hexval(int c)
{
	if (isdigit(c))
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int
lambda_api_percent_decode(const char *s, size_t len, char *out, size_t cap)
{
	size_t i, n = 0;
	int hi, lo;

	for (i = 0; i < len; i++) {
		if (n + 1 >= cap)
			return -1;
		if (s[i] == '%' && i + 2 < len && (hi = lambda_api_hexval((unsigned char)s[i + 1])) >= 0 &&
		    (lo = lambda_api_hexval((unsigned char)s[i + 2])) >= 0) {
			out[n++] = (char)(hi << 4 | lo);
			i += 2;
		} else {
			out[n++] = s[i];
		}
	}
	out[n] = '\0';
	return (int)n;
}

int
lambda_api_function(const char *path, const char *qualifier, char fn[LAMBDA_API_FN_MAX + 1], const char **why)
{
	const size_t pre = strlen(LAMBDA_API_PATH_PREFIX), suf = strlen(LAMBDA_API_PATH_SUFFIX);
	size_t len = strlen(path);
	char name[LAMBDA_API_FN_MAX + 1];
	const char *p, *arn, *colon;
	int n;

	if (len <= pre + suf || strncmp(path, LAMBDA_API_PATH_PREFIX, pre) != 0 ||
	    strcmp(path + len - suf, LAMBDA_API_PATH_SUFFIX) != 0 ||
	    memchr(path + pre, '/', len - pre - suf) != NULL) {
		*why = "not the Invoke API: POST " LAMBDA_API_PATH_PREFIX "{FunctionName}" LAMBDA_API_PATH_SUFFIX;
		return -1;
	}
	n = lambda_api_percent_decode(path + pre, len - pre - suf, name, sizeof(name));
	if (n < 0 || memchr(name, '\0', (size_t)n) != NULL) {
		*why = "FunctionName is too long or holds a NUL";
		return -2;
	}
	/* An ARN, full or partial: what follows ":function:" is NAME[:QUALIFIER]. */
	p = name;
	arn = strstr(name, ":function:");
	if (arn != NULL)
		p = arn + strlen(":function:");
	if (*p == '\0' || *p == ':') {
		*why = "FunctionName has no name";
		return -2;
	}
	colon = strchr(p, ':');
	if (colon != NULL && strchr(colon + 1, ':') != NULL) {
		*why = "FunctionName is not NAME[:QUALIFIER] or a function ARN";
		return -2;
	}
	if (qualifier != NULL && colon != NULL && strcmp(colon + 1, qualifier) != 0) {
		*why = "The derived qualifier from the function name does not match the specified qualifier.";
		return -2;
	}
	if (qualifier != NULL && *qualifier == '\0') {
		*why = "Qualifier is empty";
		return -2;
	}
	if (qualifier != NULL && colon == NULL) {
		if ((size_t)snprintf(fn, LAMBDA_API_FN_MAX + 1, "%s:%s", p, qualifier) > LAMBDA_API_FN_MAX) {
			*why = "FunctionName and Qualifier are too long";
			return -2;
		}
		return 0;
	}
	strcpy(fn, p);
	return 0;
}

static const char *const lambda_api_type_names[] = {
	[LAMBDA_API_REQUEST_RESPONSE] = "RequestResponse",
	[LAMBDA_API_EVENT] = "Event",
	[LAMBDA_API_DRY_RUN] = "DryRun",
};

int
lambda_api_type(const char *header)
{
	size_t i;

	if (header == NULL)
		return LAMBDA_API_REQUEST_RESPONSE;
	for (i = 0; i < sizeof(lambda_api_type_names) / sizeof(lambda_api_type_names[0]); i++)
		if (strcmp(header, lambda_api_type_names[i]) == 0)
			return (int)i;
	return -1;
}

const char *
lambda_api_type_name(enum lambda_api_type t)
{
	return lambda_api_type_names[t];
}

/* Lambda's model names these errors' text "Message"; the others "message". */
static const char *
lambda_api_message_key(const char *error)
{
	static const char *const capital[] = { "ResourceNotFoundException", "ServiceException", NULL };
	size_t i;

	for (i = 0; capital[i] != NULL; i++)
		if (strcmp(error, capital[i]) == 0)
			return "Message";
	return "message";
}

char *
lambda_api_error_body(unsigned int status, const char *error, const char *message, const char *reason)
{
	json_t *o = json_object();
	char *text;

	if (o == NULL)
		return NULL;
	json_object_set_new(o, "Type", json_string(status >= 500 ? "Service" : "User"));
	json_object_set_new(o, lambda_api_message_key(error), json_string(message != NULL ? message : ""));
	if (reason != NULL)
		json_object_set_new(o, "Reason", json_string(reason));
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return text;
}

void
lambda_api_uuid(const uint8_t rnd[16], char out[37])
{
	uint8_t b[16];

	memcpy(b, rnd, 16);
	b[6] = (b[6] & 0x0f) | 0x40;    /* version 4 */
	b[8] = (b[8] & 0x3f) | 0x80;    /* RFC 4122 variant */
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
		 b[14], b[15]);
}

char *
lambda_api_base64(const uint8_t *p, size_t len)
{
	char *out = malloc(4 * ((len + 2) / 3) + 1);

	if (out != NULL)
		EVP_EncodeBlock((unsigned char *)out, p, (int)len);
	return out;
}

uint8_t *
lambda_api_base64_decode(const char *s, size_t *len)
{
	size_t n = strlen(s), pad = 0;
	uint8_t *out;
	int got;

	/* EVP_DecodeBlock takes whole quanta and counts padding as zero bytes. */
	if (n % 4 != 0)
		return NULL;
	if (n > 0 && s[n - 1] == '=')
		pad++;
	if (n > 1 && s[n - 2] == '=')
		pad++;
	out = malloc(n / 4 * 3 + 1);
	if (out == NULL)
		return NULL;
	got = EVP_DecodeBlock(out, (const unsigned char *)s, (int)n);
	if (got < 0 || (size_t)got < pad) {
		free(out);
		return NULL;
	}
	*len = (size_t)got - pad;
	return out;
}
