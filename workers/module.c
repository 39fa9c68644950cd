/* Handler modules: dlopen a shared object, check its descriptor, run its init and fini. */
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "module.h"

static void __attribute__((format(printf, 3, 4)))
module_set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static uint64_t
module_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * Refuse a descriptor this runtime cannot call. abi_version and size are
 * read first because they are the two fields every ABI version keeps in
 * place; nothing after them is trusted until both match.
 */
static int
module_check(const struct turbine_handler *h, const char *path, char *err, size_t errlen)
{
	if (h->abi_version != TURBINE_HANDLER_ABI_VERSION) {
		module_set_err(err, errlen,
			       "%s: handler ABI version %u, this turbine supports version %u",
			       path, h->abi_version, TURBINE_HANDLER_ABI_VERSION);
		return -EINVAL;
	}
	if (h->size != sizeof(struct turbine_handler)) {
		module_set_err(err, errlen,
			       "%s: handler descriptor is %u bytes, expected %zu "
			       "(built against another turbine/handler.h)",
			       path, h->size, sizeof(struct turbine_handler));
		return -EINVAL;
	}
	if (h->handle == NULL) {
		module_set_err(err, errlen, "%s: handler '%s' has no handle() function",
			       path, h->name != NULL ? h->name : "(unnamed)");
		return -EINVAL;
	}
	return 0;
}

/* dlopen `open_path` (the module itself, or a /proc/self/fd link to it); messages name `path`. */
static int
module_open(struct module *mod, const char *open_path, const char *path, char *err, size_t errlen)
{
	const struct turbine_handler *h;
	const char *why;
	void *dl;
	int ret;

	memset(mod, 0, sizeof(*mod));
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (path == NULL || path[0] == '\0') {
		module_set_err(err, errlen, "no module path");
		return -EINVAL;
	}
	if (strlen(path) >= sizeof(mod->path)) {
		module_set_err(err, errlen, "module path too long: %.64s...", path);
		return -ENAMETOOLONG;
	}

	/* RTLD_NOW: an unresolved symbol fails here, on the control thread, not
	 * on the first call. RTLD_LOCAL: two modules may use the same names. */
	dlerror();
	dl = dlopen(open_path, RTLD_NOW | RTLD_LOCAL);
	if (dl == NULL) {
		why = dlerror();
		module_set_err(err, errlen, "cannot load %s: %s", path,
			       why != NULL ? why : "unknown dlopen error");
		return access(open_path, F_OK) == 0 ? -ELIBBAD : -ENOENT;
	}

	dlerror();
	h = dlsym(dl, TURBINE_HANDLER_SYMBOL);
	if (h == NULL) {
		why = dlerror();
		module_set_err(err, errlen,
			       "%s: no '%s' symbol, not a turbine handler module (%s)",
			       path, TURBINE_HANDLER_SYMBOL,
			       why != NULL ? why : "symbol is NULL");
		ret = -ENOENT;
		goto fail_close;
	}

	ret = module_check(h, path, err, errlen);
	if (ret < 0)
		goto fail_close;

	snprintf(mod->path, sizeof(mod->path), "%s", path);
	mod->dl = dl;
	mod->handler = h;
	return 0;

fail_close:
	dlclose(dl);
	return ret;
}

int
module_load(struct module *mod, const char *path, char *err, size_t errlen)
{
	return module_open(mod, path, path, err, errlen);
}

int
module_load_fd(struct module *mod, int fd, const char *path, char *err, size_t errlen)
{
	char link[32];

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	return module_open(mod, link, path, err, errlen);
}

void
module_unload(struct module *mod)
{
	if (mod->dl != NULL)
		dlclose(mod->dl);
	memset(mod, 0, sizeof(*mod));
}

int
module_env_init(struct environment *env, const struct module *mod,
		const struct turbine_env_config *cfg)
{
	struct turbine_env_config c;
	uint64_t start;
	int ret = 0;

	memset(env, 0, sizeof(*env));
	env->mod = mod;
	if (mod == NULL || mod->handler == NULL) {
		snprintf(env->error, sizeof(env->error), "module not loaded");
		return -EINVAL;
	}

	/* The module sees its own copy whose `internal` leads turbine_init_error()
	 * back to this environment's error buffer. */
	if (cfg != NULL)
		c = *cfg;
	else
		memset(&c, 0, sizeof(c));
	c.internal = env;

	if (mod->handler->init != NULL) {
		start = module_now_ns();
		ret = mod->handler->init(&c, &env->state);
		env->init_ns = module_now_ns() - start;
	}

	if (ret != 0) {
		/* A positive return is a module bug, but still a failure. */
		if (ret > 0)
			ret = -ret;
		env->ready = false;
		env->state = NULL;
		if (env->error[0] == '\0')
			snprintf(env->error, sizeof(env->error), "init failed: %s",
				 strerror(-ret));
		return ret;
	}

	/* A reason given by an init that then succeeded is not an error. */
	env->error[0] = '\0';
	env->ready = true;
	env->cold = true;
	return 0;
}

void
module_env_fini(struct environment *env)
{
	const struct turbine_handler *h = env->mod != NULL ? env->mod->handler : NULL;

	if (env->ready && h != NULL && h->fini != NULL)
		h->fini(env->state);
	env->ready = false;
	env->state = NULL;
}
