/* The gateway's access keys, each bound to the tenant its calls are made for. */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "credentials.h"

static bool
credentials_word(const char *s, size_t max, bool (*ok)(int))
{
	size_t len = strlen(s), i;

	if (len == 0 || len > max)
		return false;
	for (i = 0; i < len; i++)
		if (!ok((unsigned char)s[i]))
			return false;
	return true;
}

/* SigV4 puts the key id in a slash-separated scope: letters and digits, as AWS issues them. */
static bool
credentials_key_id_char(int c)
{
	return isalnum(c) || c == '_';
}

static bool
credentials_secret_char(int c)
{
	return isgraph(c);
}

static bool
credentials_tenant_char(int c)
{
	return isalnum(c) || c == '_' || c == '-';
}

/* One line split in place; -1 with *why when it is not three valid fields. */
static int
credentials_parse_line(char *line, struct credential *k, const char **why)
{
	char *fields[4], *save = NULL, *tok;
	int n = 0;

	for (tok = strtok_r(line, " \t\r\n", &save); tok != NULL; tok = strtok_r(NULL, " \t\r\n", &save)) {
		if (n == 3) {
			*why = "more than three fields (ACCESS_KEY_ID SECRET_ACCESS_KEY TENANT)";
			return -1;
		}
		fields[n++] = tok;
	}
	if (n != 3) {
		*why = "fewer than three fields (ACCESS_KEY_ID SECRET_ACCESS_KEY TENANT)";
		return -1;
	}
	if (!credentials_word(fields[0], CREDENTIALS_KEY_ID_MAX, credentials_key_id_char)) {
		*why = "the access key id must be 1..128 of [A-Za-z0-9_]";
		return -1;
	}
	if (!credentials_word(fields[1], CREDENTIALS_SECRET_MAX, credentials_secret_char)) {
		*why = "the secret must be 1..128 printable characters";
		return -1;
	}
	if (!credentials_word(fields[2], CREDENTIALS_TENANT_MAX, credentials_tenant_char)) {
		*why = "the tenant must be 1..64 of [A-Za-z0-9_-]";
		return -1;
	}
	strcpy(k->key_id, fields[0]);
	strcpy(k->secret, fields[1]);
	strcpy(k->tenant, fields[2]);
	return 0;
}

static int
credentials_add(struct credentials *c, const struct credential *k)
{
	struct credential *grown = realloc(c->keys, (c->nb_keys + 1) * sizeof(*grown));

	if (grown == NULL)
		return -ENOMEM;
	c->keys = grown;
	c->keys[c->nb_keys++] = *k;
	return 0;
}

int
credentials_load(struct credentials *c, const char *path, char *err, size_t errlen)
{
	struct credential k;
	size_t cap = 0, lineno = 0;
	char *line = NULL, *p;
	const char *why;
	int ret = 0;
	FILE *f;

	memset(c, 0, sizeof(*c));
	f = fopen(path, "re");
	if (f == NULL) {
		ret = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return ret;
	}
	while (ret == 0 && getline(&line, &cap, f) >= 0) {
		lineno++;
		for (p = line; isspace((unsigned char)*p); p++)
			;
		if (*p == '\0' || *p == '#')
			continue;
		if (credentials_parse_line(p, &k, &why) < 0) {
			snprintf(err, errlen, "%s:%zu: %s", path, lineno, why);
			ret = -EINVAL;
		} else if (credentials_find(c, k.key_id) != NULL) {
			snprintf(err, errlen, "%s:%zu: access key id %s given twice", path, lineno, k.key_id);
			ret = -EINVAL;
		} else if ((ret = credentials_add(c, &k)) < 0) {
			snprintf(err, errlen, "%s:%zu: out of memory", path, lineno);
		}
	}
	OPENSSL_cleanse(&k, sizeof(k));
	if (line != NULL)
		OPENSSL_cleanse(line, cap);
	free(line);
	fclose(f);
	if (ret == 0 && c->nb_keys == 0) {
		snprintf(err, errlen, "%s: no access keys", path);
		ret = -EINVAL;
	}
	if (ret < 0)
		credentials_free(c);
	return ret;
}

const struct credential *
credentials_find(const struct credentials *c, const char *key_id)
{
	size_t i;

	for (i = 0; i < c->nb_keys; i++)
		if (strcmp(c->keys[i].key_id, key_id) == 0)
			return &c->keys[i];
	return NULL;
}

void
credentials_free(struct credentials *c)
{
	if (c->keys != NULL)
		OPENSSL_cleanse(c->keys, c->nb_keys * sizeof(*c->keys));
	free(c->keys);
	c->keys = NULL;
	c->nb_keys = 0;
}
