/* Test module: what a sandbox lets a handler do, one operation per call (event.op). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>

#include <turbine/handler.h>

#define PROBE_ZONE_CHUNK_SIZE (64u * 1024u)

struct probe {
	msgpack_zone zone;
	int conn;                /* connected in init (param connect=PATH), as dbcount does */
};

static const char *
probe_param(const struct turbine_env_config *cfg, const char *key)
{
	const char *const *p;
	size_t n = strlen(key);

	for (p = cfg->params; p != NULL && *p != NULL; p++)
		if (strncmp(*p, key, n) == 0 && (*p)[n] == '=')
			return *p + n + 1;
	return NULL;
}

/* A Unix stream connection to `path`, or -errno. */
static int
probe_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	strncpy(sa.sun_path, path, sizeof(sa.sun_path) - 1);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	return fd;
}

static int
probe_init(const struct turbine_env_config *cfg, void **state)
{
	const char *init = probe_param(cfg, "init");
	const char *path = probe_param(cfg, "connect");
	struct probe *p = calloc(1, sizeof(*p));

	if (p == NULL || !msgpack_zone_init(&p->zone, PROBE_ZONE_CHUNK_SIZE)) {
		free(p);
		turbine_init_error(cfg, "probe: out of memory");
		return -ENOMEM;
	}
	p->conn = -1;
	if (init != NULL && strcmp(init, "crash") == 0) {
		volatile int *volatile nowhere = NULL;

		*nowhere = 1;
	}
	if (path != NULL) {
		p->conn = probe_connect(path);
		if (p->conn < 0) {
			turbine_init_error(cfg, "probe: connect %s: %s", path, strerror(-p->conn));
			msgpack_zone_destroy(&p->zone);
			free(p);
			return -ECONNREFUSED;
		}
	}
	*state = p;
	return 0;
}

/* A string field of the event map into buf, "" when absent. */
static void
probe_field(struct probe *p, const struct turbine_event *event, const char *key, char *buf,
	    size_t len)
{
	msgpack_object obj;
	size_t off = 0, n = strlen(key);
	uint32_t i;

	buf[0] = '\0';
	msgpack_zone_clear(&p->zone);
	if (event->len == 0 || msgpack_unpack(event->data, event->len, &off, &p->zone, &obj) < 0 ||
	    obj.type != MSGPACK_OBJECT_MAP)
		return;
	for (i = 0; i < obj.via.map.size; i++) {
		const msgpack_object_kv *kv = &obj.via.map.ptr[i];

		if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == n &&
		    memcmp(kv->key.via.str.ptr, key, n) == 0 && kv->val.type == MSGPACK_OBJECT_STR &&
		    kv->val.via.str.size < len) {
			memcpy(buf, kv->val.via.str.ptr, kv->val.via.str.size);
			buf[kv->val.via.str.size] = '\0';
		}
	}
}

static void
probe_pack_int(struct turbine_resp *resp, const char *key, int64_t v)
{
	msgpack_pack_map(&resp->pk, 1);
	msgpack_pack_str_with_body(&resp->pk, key, strlen(key));
	msgpack_pack_int64(&resp->pk, v);
}

/* Send "ping" on fd and answer with what comes back. */
static enum turbine_result
probe_ping(int fd, struct turbine_resp *resp)
{
	char buf[16];
	ssize_t n;

	if (write(fd, "ping", 4) != 4)
		return turbine_error(resp, "Probe.Error", "write: %s", strerror(errno));
	n = read(fd, buf, sizeof(buf));
	if (n <= 0)
		return turbine_error(resp, "Probe.Error", "read: %s", n < 0 ? strerror(errno) : "EOF");
	msgpack_pack_map(&resp->pk, 1);
	msgpack_pack_str_with_body(&resp->pk, "reply", 5);
	msgpack_pack_str_with_body(&resp->pk, buf, (size_t)n);
	return TURBINE_OK;
}

static enum turbine_result
probe_handle(void *state, const struct turbine_event *event, const struct turbine_ctx *ctx,
	     struct turbine_resp *resp)
{
	struct probe *p = state;
	char op[32], path[108];
	void *mem;
	int fd;

	(void)ctx;
	probe_field(p, event, "op", op, sizeof(op));
	if (strcmp(op, "socket") == 0) {
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (fd >= 0)
			close(fd);
		probe_pack_int(resp, "errno", fd < 0 ? errno : 0);
		return TURBINE_OK;
	}
	if (strcmp(op, "open") == 0) {
		fd = open("/proc/self/status", O_RDONLY);
		if (fd >= 0)
			close(fd);
		probe_pack_int(resp, "errno", fd < 0 ? errno : 0);
		return TURBINE_OK;
	}
	if (strcmp(op, "connect") == 0) {
		enum turbine_result r;

		probe_field(p, event, "path", path, sizeof(path));
		fd = probe_connect(path);
		if (fd < 0)
			return turbine_error(resp, "Probe.Error", "connect %s: %s", path,
					     strerror(-fd));
		r = probe_ping(fd, resp);
		close(fd);
		return r;
	}
	if (strcmp(op, "ping_init") == 0)
		return probe_ping(p->conn, resp);
	if (strcmp(op, "ptrace") == 0)
		syscall(SYS_ptrace, PTRACE_TRACEME, 0, 0, 0);
	if (strcmp(op, "exec_memory") == 0) {
		mem = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		probe_pack_int(resp, "errno", mem == MAP_FAILED ? errno : 0);
		return TURBINE_OK;
	}
	if (strcmp(op, "abort") == 0)
		abort();
	if (strcmp(op, "exit") == 0)
		exit(3);
	probe_pack_int(resp, "pid", getpid());
	return TURBINE_OK;
}

static void
probe_fini(void *state)
{
	struct probe *p = state;

	/* Tells the test's server that fini ran, when the sandbox was stopped gracefully. */
	if (p->conn >= 0) {
		(void)!write(p->conn, "fini", 4);
		close(p->conn);
	}
	msgpack_zone_destroy(&p->zone);
	free(p);
}

TURBINE_HANDLER(.name = "probe", .init = probe_init, .handle = probe_handle, .fini = probe_fini);
