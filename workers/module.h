/* Handler modules: loading a shared object and the environments built from it. */
#ifndef TURBINE_MODULE_H
#define TURBINE_MODULE_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include <turbine/handler.h>

struct module {
	char path[PATH_MAX];
	void *dl;                               /* dlopen handle, RTLD_NOW|RTLD_LOCAL */
	const struct turbine_handler *handler;  /* the module's exported descriptor */
};

/*
 * Load a module and check its descriptor (ABI version, size, handle present).
 * Returns 0, or a negative errno with `err` saying why in the operator's
 * terms (dlerror() text, the missing symbol, the ABI versions).
 */
int module_load(struct module *mod, const char *path, char *err, size_t errlen);
/*
 * The same from a file already open for reading (through /proc/self/fd): a
 * sandbox opens its module before it gives up the rights to reach it by
 * path. `path` names the module in messages and in mod->path.
 */
int module_load_fd(struct module *mod, int fd, const char *path, char *err, size_t errlen);
void module_unload(struct module *mod);

/* An environment: one worker's initialised copy of one function. */
struct environment {
	const struct module *mod;
	void *state;         /* what init() returned */
	uint64_t init_ns;    /* how long init() took: the cold start */
	bool ready;          /* init succeeded; false means requests get 502 */
	bool cold;           /* no call has run yet */
	char error[256];     /* why init failed */
};

/* Run the module's init for one environment (on the control thread, before traffic). */
int module_env_init(struct environment *env, const struct module *mod,
		    const struct turbine_env_config *cfg);
/* Run fini, if init succeeded. */
void module_env_fini(struct environment *env);

#endif /* TURBINE_MODULE_H */
