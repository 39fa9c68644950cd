/* Name indexes: function and tenant names to table indexes, read lock-free by the data plane. */
#include <errno.h>
#include <string.h>

#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_jhash.h>
#include <rte_lcore.h>

#include "config.h"
#include "names.h"

/* Keys are names zero-padded to a fixed length, as rte_hash wants. */
struct names_key {
	char name[CONFIG_NAME_MAX];
};

struct rte_hash *
names_create(const char *name, unsigned int entries)
{
	struct rte_hash_parameters params = {
		.name = name,
		.entries = entries,
		.key_len = sizeof(struct names_key),
		.hash_func = rte_jhash,
		.socket_id = (int)rte_socket_id(),
		/* Names are added at run time (a tenant first named by turbinectl) while
		 * dispatchers look them up: one writer, lock-free readers. */
		.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF,
	};

	return rte_hash_create(&params);
}

void
names_free(struct rte_hash *h)
{
	rte_hash_free(h);
}

static int
names_key(struct names_key *key, const char *name, uint32_t len)
{
	if (len == 0 || len > sizeof(key->name))
		return -1;
	memset(key, 0, sizeof(*key));
	memcpy(key->name, name, len);
	return 0;
}

int
names_add(struct rte_hash *h, const char *name, unsigned int index)
{
	struct names_key key;

	if (names_key(&key, name, (uint32_t)strnlen(name, sizeof(key.name) + 1)) < 0)
		return -EINVAL;
	/* The table index travels as the entry's data: rte_hash's own positions differ. */
	return rte_hash_add_key_data(h, &key, (void *)(uintptr_t)index);
}

int
names_find(const struct rte_hash *h, const char *name, uint32_t len)
{
	struct names_key key;
	void *index;

	if (names_key(&key, name, len) < 0)
		return -1;
	if (rte_hash_lookup_data(h, &key, &index) < 0)
		return -1;
	return (int)(uintptr_t)index;
}
