/* The gateway's access keys: "ACCESS_KEY_ID SECRET_ACCESS_KEY TENANT" a line, read once at start-up. */
#ifndef GATEWAY_CREDENTIALS_H
#define GATEWAY_CREDENTIALS_H

#include <stddef.h>

#define CREDENTIALS_KEY_ID_MAX 128
#define CREDENTIALS_SECRET_MAX 128
#define CREDENTIALS_TENANT_MAX 64       /* PROTOCOL.md: a tenant is 1..64 of [A-Za-z0-9_-] */

struct credential {
	char key_id[CREDENTIALS_KEY_ID_MAX + 1];
	char secret[CREDENTIALS_SECRET_MAX + 1];
	char tenant[CREDENTIALS_TENANT_MAX + 1];
};

struct credentials {
	struct credential *keys;
	size_t nb_keys;
};

/*
 * Read the file: blank lines and lines starting with '#' skipped, every
 * other line exactly three fields. 0, or -errno / -EINVAL with err naming
 * the file and line.
 */
int credentials_load(struct credentials *c, const char *path, char *err, size_t errlen);

/* The key with this id, or NULL. */
const struct credential *credentials_find(const struct credentials *c, const char *key_id);

void credentials_free(struct credentials *c);

#endif /* GATEWAY_CREDENTIALS_H */
