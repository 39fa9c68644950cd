/* Unit tests for control/strtok.c: two threads splitting at once each resume in their own text. */
#include <dlfcn.h>
#include <pthread.h>
#include <semaphore.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

/*
 * Telemetry's two client threads, their calls interleaved as they can be:
 * the first splits off its command, the second splits its own (with no
 * parameter), then the first asks for its parameter.
 */
struct client {
	char text[64];
	const char *cmd, *param;
	sem_t go, done;
};

static void
client_split(struct client *c, int step)
{
	if (step == 0)
		c->cmd = strtok(c->text, ",");
	else
		c->param = strtok(NULL, "\0");
}

static void *
client_thread(void *arg)
{
	struct client *c = arg;
	int step;

	for (step = 0; step < 2; step++) {
		sem_wait(&c->go);
		client_split(c, step);
		sem_post(&c->done);
	}
	return NULL;
}

static void
client_start(struct client *c, pthread_t *tid, const char *text)
{
	strcpy(c->text, text);
	c->cmd = c->param = NULL;
	sem_init(&c->go, 0, 0);
	sem_init(&c->done, 0, 0);
	assert_int_equal(pthread_create(tid, NULL, client_thread, c), 0);
}

/* Let client `c` take its next step and wait for it. */
static void
client_step(struct client *c)
{
	sem_post(&c->go);
	sem_wait(&c->done);
}

static void
test_each_thread_resumes_in_its_own_text(void **state)
{
	struct client a, b;
	pthread_t ta, tb;

	(void)state;
	client_start(&a, &ta, "/turbine/deploy,counter,/m/counter.so,7");
	client_start(&b, &tb, "/turbine/workers");
	client_step(&a);
	client_step(&b);
	client_step(&a);
	client_step(&b);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	assert_string_equal(a.cmd, "/turbine/deploy");
	assert_non_null(a.param);
	assert_string_equal(a.param, "counter,/m/counter.so,7");
	assert_string_equal(b.cmd, "/turbine/workers");
	assert_null(b.param);
}

/* A library's call to strtok searches the executable first: the same lookup as this one. */
static void
test_libraries_call_this_strtok(void **state)
{
	(void)state;
	assert_ptr_equal(dlsym(RTLD_DEFAULT, "strtok"), (void *)strtok);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_each_thread_resumes_in_its_own_text),
		cmocka_unit_test(test_libraries_call_this_strtok),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
