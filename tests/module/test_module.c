/* Tests of module loading (descriptor checks, unwinding) and environment init/fini. */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "module.h"

static const char *test_module_dir;

static const char *
test_module_path(const char *name)
{
	static char path[PATH_MAX];

	if ((size_t)snprintf(path, sizeof(path), "%s/%s.so", test_module_dir, name) >= sizeof(path))
		fail_msg("module path too long");
	return path;
}

static const char *
test_module_example(const char *name)
{
	char var[64];
	const char *path;
	size_t i;

	snprintf(var, sizeof(var), "EXAMPLE_%s", name);
	for (i = 0; var[i] != '\0'; i++)
		if (var[i] >= 'a' && var[i] <= 'z')
			var[i] -= 'a' - 'A';
	path = getenv(var);
	if (path == NULL)
		fail_msg("%s is not set (run through meson test)", var);
	return path;
}

/* A refused module must not stay mapped: RTLD_NOLOAD finds only loaded objects. */
static void
test_module_assert_unloaded(const char *path)
{
	void *dl = dlopen(path, RTLD_NOW | RTLD_NOLOAD);

	if (dl != NULL) {
		dlclose(dl);
		fail_msg("%s is still loaded", path);
	}
}

/* Load `name` from the test module directory and expect it refused with `ret`. */
static void
test_module_refused(const char *name, int ret, const char *want1, const char *want2)
{
	const char *path = test_module_path(name);
	struct module mod;
	char err[512];

	assert_int_equal(module_load(&mod, path, err, sizeof(err)), ret);
	assert_null(mod.dl);
	assert_null(mod.handler);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, want1));
	if (want2 != NULL)
		assert_non_null(strstr(err, want2));
	test_module_assert_unloaded(path);
}

static void
test_load_missing_file(void **state)
{
	const char *path = "/nonexistent/turbine/missing.so";
	struct module mod;
	char err[512];
	const char *dl_err;

	(void)state;
	assert_int_equal(module_load(&mod, path, err, sizeof(err)), -ENOENT);
	assert_null(mod.dl);
	/* The operator sees the loader's own words. */
	assert_null(dlopen(path, RTLD_NOW | RTLD_LOCAL));
	dl_err = dlerror();
	assert_non_null(dl_err);
	assert_non_null(strstr(err, dl_err));
}

static void
test_load_not_elf(void **state)
{
	char path[] = "/tmp/turbine-test-module-XXXXXX";
	struct module mod;
	char err[512];
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "not a shared object\n", 20), 20);
	close(fd);
	assert_int_equal(module_load(&mod, path, err, sizeof(err)), -ELIBBAD);
	unlink(path);
	assert_non_null(strstr(err, path));
	assert_null(mod.dl);
}

static void
test_load_missing_symbol(void **state)
{
	(void)state;
	test_module_refused("no_symbol", -ENOENT, TURBINE_HANDLER_SYMBOL, "not a turbine handler");
}

static void
test_load_abi_mismatch(void **state)
{
	char theirs[64], ours[64];

	(void)state;
	snprintf(theirs, sizeof(theirs), "ABI version %u", TURBINE_HANDLER_ABI_VERSION + 1);
	snprintf(ours, sizeof(ours), "supports version %u", TURBINE_HANDLER_ABI_VERSION);
	test_module_refused("bad_abi", -EINVAL, theirs, ours);
}

static void
test_load_size_mismatch(void **state)
{
	char theirs[64], ours[64];

	(void)state;
	snprintf(theirs, sizeof(theirs), "%zu bytes", sizeof(struct turbine_handler) + 8);
	snprintf(ours, sizeof(ours), "expected %zu", sizeof(struct turbine_handler));
	test_module_refused("bad_size", -EINVAL, theirs, ours);
}

static void
test_load_null_handle(void **state)
{
	(void)state;
	test_module_refused("no_handle", -EINVAL, "handle()", "no_handle");
}

static void
test_load_and_unload(void **state)
{
	const char *path = test_module_example("echo");
	struct module mod;
	char err[512] = "stale";

	(void)state;
	assert_int_equal(module_load(&mod, path, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_non_null(mod.dl);
	assert_non_null(mod.handler);
	assert_string_equal(mod.handler->name, "echo");
	assert_int_equal(mod.handler->abi_version, TURBINE_HANDLER_ABI_VERSION);
	assert_string_equal(mod.path, path);
	module_unload(&mod);
	assert_null(mod.dl);
	test_module_assert_unloaded(path);
}

static void
test_load_path_too_long(void **state)
{
	char path[PATH_MAX + 16];
	struct module mod;
	char err[512];

	(void)state;
	memset(path, 'a', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	assert_int_equal(module_load(&mod, path, err, sizeof(err)), -ENAMETOOLONG);
	assert_true(strlen(err) > 0);
}

static unsigned int *
test_module_counter(const struct module *mod, const char *name)
{
	unsigned int *p = dlsym(mod->dl, name);

	assert_non_null(p);
	return p;
}

static void
test_module_cfg(struct turbine_env_config *cfg, const char *const *params)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->function = "f";
	cfg->version = "1";
	cfg->worker_id = 0;
	cfg->memory_mb = 128;
	cfg->timeout_ms = 3000;
	cfg->params = params;
}

static void
test_env_init_fails_with_reason(void **state)
{
	struct turbine_env_config cfg;
	struct environment env;
	struct module mod;
	unsigned int *finis;
	char err[512];

	(void)state;
	assert_int_equal(module_load(&mod, test_module_path("init_fail"), err, sizeof(err)), 0);
	finis = test_module_counter(&mod, "init_fail_finis");
	*finis = 0;
	test_module_cfg(&cfg, NULL);

	assert_int_equal(module_env_init(&env, &mod, &cfg), -ECONNREFUSED);
	assert_false(env.ready);
	assert_string_equal(env.error, "cannot connect");
	/* The module sleeps 2 ms in init: the cold start is measured even when it fails. */
	assert_true(env.init_ns >= 2000000u);
	/* The caller's config is left as it was. */
	assert_null(cfg.internal);

	module_env_fini(&env);
	assert_int_equal(*finis, 0);
	module_unload(&mod);
}

static void
test_env_init_fails_silently(void **state)
{
	static const char *const params[] = { "other=1", "mode=silent", NULL };
	struct turbine_env_config cfg;
	struct environment env;
	struct module mod;
	char err[512], want[256];

	(void)state;
	assert_int_equal(module_load(&mod, test_module_path("init_fail"), err, sizeof(err)), 0);
	test_module_cfg(&cfg, params);
	assert_int_equal(module_env_init(&env, &mod, &cfg), -EIO);
	assert_false(env.ready);
	snprintf(want, sizeof(want), "init failed: %s", strerror(EIO));
	assert_string_equal(env.error, want);
	module_unload(&mod);
}

static void
test_env_init_and_fini(void **state)
{
	static const char *const params[] = { "mode=ok", NULL };
	struct turbine_env_config cfg;
	struct environment env;
	struct module mod;
	unsigned int *inits, *finis;
	char err[512];

	(void)state;
	assert_int_equal(module_load(&mod, test_module_path("init_fail"), err, sizeof(err)), 0);
	inits = test_module_counter(&mod, "init_fail_inits");
	finis = test_module_counter(&mod, "init_fail_finis");
	*inits = 0;
	*finis = 0;
	test_module_cfg(&cfg, params);

	assert_int_equal(module_env_init(&env, &mod, &cfg), 0);
	assert_int_equal(*inits, 1);
	assert_true(env.ready);
	assert_true(env.cold);
	assert_ptr_equal(env.mod, &mod);
	assert_ptr_equal(env.state, inits);
	assert_string_equal(env.error, "");
	assert_true(env.init_ns >= 2000000u);

	module_env_fini(&env);
	assert_int_equal(*finis, 1);
	assert_false(env.ready);
	/* A second teardown must not run fini again. */
	module_env_fini(&env);
	assert_int_equal(*finis, 1);
	module_unload(&mod);
}

static void
test_env_init_example(void **state)
{
	struct turbine_env_config cfg;
	struct environment env;
	struct module mod;
	char err[512];

	(void)state;
	assert_int_equal(module_load(&mod, test_module_example("counter"), err, sizeof(err)), 0);
	test_module_cfg(&cfg, NULL);
	assert_int_equal(module_env_init(&env, &mod, &cfg), 0);
	assert_true(env.ready);
	assert_true(env.cold);
	assert_non_null(env.state);
	assert_true(env.init_ns > 0);
	module_env_fini(&env);
	module_unload(&mod);
}

static void
test_init_error_outside_init(void **state)
{
	struct turbine_env_config cfg;

	(void)state;
	/* No environment behind it: ignored rather than written anywhere. */
	test_module_cfg(&cfg, NULL);
	turbine_init_error(&cfg, "nobody listens");
	turbine_init_error(NULL, "nobody listens");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load_missing_file),
		cmocka_unit_test(test_load_not_elf),
		cmocka_unit_test(test_load_missing_symbol),
		cmocka_unit_test(test_load_abi_mismatch),
		cmocka_unit_test(test_load_size_mismatch),
		cmocka_unit_test(test_load_null_handle),
		cmocka_unit_test(test_load_and_unload),
		cmocka_unit_test(test_load_path_too_long),
		cmocka_unit_test(test_env_init_fails_with_reason),
		cmocka_unit_test(test_env_init_fails_silently),
		cmocka_unit_test(test_env_init_and_fini),
		cmocka_unit_test(test_env_init_example),
		cmocka_unit_test(test_init_error_outside_init),
	};

	test_module_dir = getenv("MODULE_DIR");
	if (test_module_dir == NULL) {
		fprintf(stderr, "MODULE_DIR is not set (run through meson test)\n");
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
