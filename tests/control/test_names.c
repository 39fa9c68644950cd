/* Unit tests for the name indexes: lookups by the name's own bytes, limits, lookups during adds. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "names.h"

/* A name given as bytes in a buffer of exactly its length: a sanitizer sees any read past it. */
static int
find_exact(const struct names *n, const char *name, uint32_t len, uint32_t align)
{
	char *buf = malloc(align + len + 1);
	int index;

	assert_non_null(buf);
	memcpy(buf + align, name, len);
	index = names_find(n, buf + align, len);
	free(buf);
	return index;
}

/* Names of every length, each differing from the last only in its final byte. */
static void
test_every_length(void **state)
{
	struct names *n = names_create(2 * CONFIG_NAME_MAX);
	char name[CONFIG_NAME_MAX + 2];
	uint32_t len, align;

	(void)state;
	assert_non_null(n);
	memset(name, 'f', sizeof(name));
	for (len = 1; len <= CONFIG_NAME_MAX; len++) {
		name[len] = '\0';
		assert_int_equal(names_add(n, name, len), 0);
		name[len] = 'f';
	}
	for (len = 1; len <= CONFIG_NAME_MAX; len++) {
		name[len - 1] = 'g';
		name[len] = '\0';
		assert_int_equal(names_add(n, name, 100 + len), 0);
		name[len - 1] = 'f';
		name[len] = 'f';
	}
	for (len = 1; len <= CONFIG_NAME_MAX; len++) {
		for (align = 0; align < 8; align++) {
			/* Bytes after the name are not part of it: "ffff" is found in "fffff...". */
			assert_int_equal(names_find(n, name, len), (int)len);
			assert_int_equal(find_exact(n, name, len, align), (int)len);
			name[len - 1] = 'g';
			assert_int_equal(find_exact(n, name, len, align), (int)(100 + len));
			name[len - 1] = 'h';
			assert_int_equal(find_exact(n, name, len, align), -1);
			name[len - 1] = 'f';
		}
	}
	/* Too long or empty: never found, never added. */
	assert_int_equal(names_find(n, name, CONFIG_NAME_MAX + 1), -1);
	assert_int_equal(names_find(n, name, 0), -1);
	name[CONFIG_NAME_MAX + 1] = '\0';
	assert_int_equal(names_add(n, name, 1), -EINVAL);
	assert_int_equal(names_add(n, "", 1), -EINVAL);
	names_free(n);
}

static void
test_duplicates_and_full(void **state)
{
	struct names *n = names_create(3);
	char name[16];

	(void)state;
	assert_int_equal(names_add(n, "echo", 0), 0);
	assert_int_equal(names_add(n, "echo", 1), -EEXIST);
	assert_int_equal(names_find(n, "echo", 4), 0);
	assert_int_equal(names_add(n, "acme", 1), 0);
	assert_int_equal(names_add(n, "beta", 2), 0);
	assert_int_equal(names_add(n, "gamma", 3), -ENOSPC);
	assert_int_equal(names_find(n, "gamma", 5), -1);
	/* A prefix or an extension of a name is another name, zero bytes included. */
	assert_int_equal(names_find(n, "ech", 3), -1);
	assert_int_equal(names_find(n, "echoo", 5), -1);
	assert_int_equal(names_find(n, "echo\0", 5), -1);
	assert_int_equal(names_find(n, "echo\0\0\0\0", 8), -1);
	names_free(n);

	/* Filled to its limit, every name is still found and absent ones end their probe. */
	n = names_create(128);
	for (unsigned int i = 0; i < 128; i++) {
		snprintf(name, sizeof(name), "tenant-%u", i);
		assert_int_equal(names_add(n, name, i), 0);
	}
	for (unsigned int i = 0; i < 128; i++) {
		snprintf(name, sizeof(name), "tenant-%u", i);
		assert_int_equal(names_find(n, name, (uint32_t)strlen(name)), (int)i);
		snprintf(name, sizeof(name), "tenant-%u", i + 1000);
		assert_int_equal(names_find(n, name, (uint32_t)strlen(name)), -1);
	}
	names_free(n);
}

/* A fixed sequence (xorshift64): a failure repeats. */
static uint8_t
random_byte(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return (uint8_t)(*x >> 24);
}

/* Random names of every length, and each with one bit flipped somewhere: all distinct. */
static void
test_one_bit_apart(void **state)
{
	enum { FLIPS = 6 };
	struct names *n = names_create(CONFIG_NAME_MAX * (FLIPS + 1));
	char names[CONFIG_NAME_MAX][FLIPS + 1][CONFIG_NAME_MAX + 1];
	uint64_t x = 0x452821e638d01377ull;
	uint32_t len, i, k, at;

	(void)state;
	assert_non_null(n);
	for (len = 1; len <= CONFIG_NAME_MAX; len++) {
		char *base = names[len - 1][0];

		for (i = 0; i < len; i++)
			base[i] = (char)(0x21 + random_byte(&x) % 0x5e);   /* printable, never NUL */
		base[len] = '\0';
		assert_int_equal(names_add(n, base, (len - 1) * (FLIPS + 1)), 0);
		for (k = 1; k <= FLIPS; k++) {
			char *v = names[len - 1][k];

			/* The flips walk the last bytes first: where the tail's pieces meet. */
			memcpy(v, base, len + 1);
			at = k <= len ? len - k : random_byte(&x) % len;
			v[at] ^= (char)(1u << random_byte(&x) % 6);
			if (names_find(n, v, len) >= 0)
				continue;      /* the same flip twice */
			assert_int_equal(names_add(n, v, (len - 1) * (FLIPS + 1) + k), 0);
		}
	}
	for (len = 1; len <= CONFIG_NAME_MAX; len++)
		for (k = 0; k <= FLIPS; k++) {
			int got = find_exact(n, names[len - 1][k], len, k % 8);

			assert_true(got >= 0);
			assert_string_equal(names[got / (FLIPS + 1)][got % (FLIPS + 1)],
					    names[len - 1][k]);
		}
	names_free(n);
}

#define READERS 2
#define ADDED 120

struct race {
	struct names *n;
	int added;                 /* written by the writer after each add */
	int errors;
};

static void
race_name(char *buf, size_t len, int i)
{
	snprintf(buf, len, "a-rather-long-tenant-name-%d", i);
}

/*
 * One thread adds while others look up, as turbinectl naming a tenant does
 * while dispatchers run: a name is either not found yet or found with its
 * index, and once added it is always found. ThreadSanitizer (the control
 * suite) reports any access that is not ordered.
 */
static void *
race_reader(void *arg)
{
	struct race *r = arg;
	char name[64];
	int round, i, got, added;

	for (round = 0; round < 200; round++) {
		added = __atomic_load_n(&r->added, __ATOMIC_ACQUIRE);
		for (i = 0; i < ADDED; i++) {
			race_name(name, sizeof(name), i);
			got = names_find(r->n, name, (uint32_t)strlen(name));
			if ((got != -1 && got != i) || (i < added && got != i))
				__atomic_fetch_add(&r->errors, 1, __ATOMIC_RELAXED);
		}
	}
	return NULL;
}

static void
test_lookups_while_adding(void **state)
{
	struct race r = { .n = names_create(ADDED) };
	pthread_t readers[READERS];
	char name[64];
	int i;

	(void)state;
	assert_non_null(r.n);
	for (i = 0; i < READERS; i++)
		assert_int_equal(pthread_create(&readers[i], NULL, race_reader, &r), 0);
	for (i = 0; i < ADDED; i++) {
		race_name(name, sizeof(name), i);
		assert_int_equal(names_add(r.n, name, (unsigned int)i), 0);
		__atomic_store_n(&r.added, i + 1, __ATOMIC_RELEASE);
	}
	for (i = 0; i < READERS; i++)
		pthread_join(readers[i], NULL);
	assert_int_equal(r.errors, 0);
	names_free(r.n);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_length),
		cmocka_unit_test(test_duplicates_and_full),
		cmocka_unit_test(test_one_bit_apart),
		cmocka_unit_test(test_lookups_while_adding),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
