/* Tests of dataplane/memif_guard.c: an unmap waits for the data lcores, but not for ever once the guard is off. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

#include <cmocka.h>
#include <rte_common.h>
#include <rte_rcu_qsbr.h>

#include "memif_guard.h"

#define TEST_LCORE 1         /* a data lcore, as far as the RCU variable knows */

struct test_unmap {
	void *addr;
	size_t len;
	int rc;
	int done;
};

/* A thread that is not a data lcore (rte_lcore_id() is LCORE_ID_ANY): the driver's interrupt thread. */
static void *
test_unmapper(void *arg)
{
	struct test_unmap *u = arg;

	u->rc = munmap(u->addr, u->len);
	__atomic_store_n(&u->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static bool
test_done_within(const struct test_unmap *u, unsigned int ms)
{
	const struct timespec tick = { 0, 1000000 };
	unsigned int i;

	for (i = 0; i < ms; i++) {
		if (__atomic_load_n(&u->done, __ATOMIC_ACQUIRE))
			return true;
		nanosleep(&tick, NULL);
	}
	return __atomic_load_n(&u->done, __ATOMIC_ACQUIRE) != 0;
}

static struct rte_rcu_qsbr *
test_rcu_with_online_lcore(void)
{
	size_t size = rte_rcu_qsbr_get_memsize(4);
	struct rte_rcu_qsbr *v = aligned_alloc(RTE_CACHE_LINE_SIZE,
					       RTE_ALIGN_CEIL(size, RTE_CACHE_LINE_SIZE));

	assert_non_null(v);
	assert_int_equal(rte_rcu_qsbr_init(v, 4), 0);
	assert_int_equal(rte_rcu_qsbr_thread_register(v, TEST_LCORE), 0);
	rte_rcu_qsbr_thread_online(v, TEST_LCORE);
	return v;
}

static void
test_start_unmap(struct test_unmap *u, pthread_t *thread)
{
	u->len = 4096;
	u->addr = mmap(NULL, u->len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(u->addr != MAP_FAILED);
	assert_int_equal(pthread_create(thread, NULL, test_unmapper, u), 0);
}

/* The guard's job: the unmap waits until the lcore has been quiescent once. */
static void
test_waits_for_quiescent(void **state)
{
	struct rte_rcu_qsbr *v = test_rcu_with_online_lcore();
	struct test_unmap u = { 0 };
	pthread_t thread;

	(void)state;
	memif_guard_enable(v);
	test_start_unmap(&u, &thread);
	assert_false(test_done_within(&u, 100));
	rte_rcu_qsbr_quiescent(v, TEST_LCORE);
	assert_true(test_done_within(&u, 2000));
	assert_int_equal(u.rc, 0);
	pthread_join(thread, NULL);
	memif_guard_disable();
	free(v);
}

/* An lcore stuck in a handler is never quiescent: disabling the guard (the forced exit) lets a waiting unmap through. */
static void
test_disable_releases_waiting(void **state)
{
	struct rte_rcu_qsbr *v = test_rcu_with_online_lcore();
	struct test_unmap u = { 0 };
	pthread_t thread;

	(void)state;
	memif_guard_enable(v);
	test_start_unmap(&u, &thread);
	assert_false(test_done_within(&u, 100));
	memif_guard_disable();
	assert_true(test_done_within(&u, 2000));
	assert_int_equal(u.rc, 0);
	pthread_join(thread, NULL);
	free(v);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_waits_for_quiescent),
		cmocka_unit_test(test_disable_releases_waiting),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
