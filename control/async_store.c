/* The queue's destination folders: one file per event, written whole under a temporary name. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "async_store.h"

#define ASYNC_STORE_SUFFIX ".mp"
/* <uuid>.mp: the only names a listing takes. */
#define ASYNC_STORE_NAME_LEN (ASYNC_EVENT_ID_TEXT - 1 + sizeof(ASYNC_STORE_SUFFIX) - 1)

const char *
async_store_folder(enum async_store_kind kind)
{
	switch (kind) {
	case ASYNC_STORE_DLQ:
		return "dlq";
	case ASYNC_STORE_SUCCESS:
		return "success";
	case ASYNC_STORE_REDRIVE:
		return "redrive";
	}
	return "unknown";
}

static int
async_store_path(char *path, size_t len, const char *dir, enum async_store_kind kind,
		 const struct async_event_id *id)
{
	char text[ASYNC_EVENT_ID_TEXT];
	int n;

	if (id == NULL) {
		n = snprintf(path, len, "%s/%s", dir, async_store_folder(kind));
	} else {
		async_event_id_format(id, text);
		n = snprintf(path, len, "%s/%s/%s" ASYNC_STORE_SUFFIX, dir, async_store_folder(kind),
			     text);
	}
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static int
async_store_mkdir(const char *path)
{
	return mkdir(path, 0750) < 0 && errno != EEXIST ? -errno : 0;
}

/* mkdir -p: the queue's directory may be a fresh /var/lib/turbine/<prefix>. */
static int
async_store_mkdirs(const char *dir)
{
	char path[PATH_MAX];
	size_t len = strlen(dir);
	char *p;
	int rc;

	if (len == 0 || len >= sizeof(path))
		return len == 0 ? -EINVAL : -ENAMETOOLONG;
	memcpy(path, dir, len + 1);
	for (p = path + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		rc = async_store_mkdir(path);
		*p = '/';
		if (rc < 0)
			return rc;
	}
	return async_store_mkdir(path);
}

int
async_store_init(const char *dir, char *err, size_t errlen)
{
	static const enum async_store_kind kinds[] = {
		ASYNC_STORE_DLQ, ASYNC_STORE_SUCCESS, ASYNC_STORE_REDRIVE,
	};
	char path[PATH_MAX];
	unsigned int i;
	int rc;

	rc = async_store_mkdirs(dir);
	if (rc < 0) {
		snprintf(err, errlen, "cannot create %s: %s", dir, strerror(-rc));
		return rc;
	}
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		rc = async_store_path(path, sizeof(path), dir, kinds[i], NULL);
		if (rc == 0)
			rc = async_store_mkdir(path);
		if (rc < 0) {
			snprintf(err, errlen, "cannot create %s/%s: %s", dir,
				 async_store_folder(kinds[i]), strerror(-rc));
			return rc;
		}
	}
	return 0;
}

static int
async_store_fsync_path(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

static int
async_store_write_all(int fd, const uint8_t *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * The temporary name starts with '.', so no listing takes it for a record;
 * mkstemp makes it unique when two writers (the queue and turbine-dlq) put
 * the same id at once.
 */
int
async_store_put(const char *dir, enum async_store_kind kind, const struct async_event_id *id,
		const void *data, size_t len, bool sync)
{
	char folder[PATH_MAX], path[PATH_MAX], tmp[PATH_MAX];
	char text[ASYNC_EVENT_ID_TEXT];
	int fd, rc, n;

	async_event_id_format(id, text);
	rc = async_store_path(folder, sizeof(folder), dir, kind, NULL);
	if (rc == 0)
		rc = async_store_path(path, sizeof(path), dir, kind, id);
	if (rc < 0)
		return rc;
	n = snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", folder, text);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return -ENAMETOOLONG;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	rc = async_store_write_all(fd, data, len);
	if (rc == 0 && sync && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc < 0) {
		unlink(tmp);
		return rc;
	}
	return sync ? async_store_fsync_path(folder) : 0;
}

/* syncfs covers every file written and every name renamed on the folders' file system. */
int
async_store_sync(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = 0;

	if (fd < 0)
		return -errno;
	if (syncfs(fd) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

int
async_store_get(const char *dir, enum async_store_kind kind, const struct async_event_id *id,
		uint8_t **data, size_t *len)
{
	char path[PATH_MAX];
	struct stat st;
	uint8_t *buf;
	size_t got = 0;
	ssize_t n;
	int fd, rc;

	rc = async_store_path(path, sizeof(path), dir, kind, id);
	if (rc < 0)
		return rc;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	buf = malloc(st.st_size > 0 ? (size_t)st.st_size : 1);
	if (buf == NULL) {
		close(fd);
		return -ENOMEM;
	}
	/* Files are whole once renamed: read what fstat saw. */
	while (got < (size_t)st.st_size) {
		n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = n < 0 ? -errno : -EIO;
			break;
		}
		got += (size_t)n;
	}
	close(fd);
	if (rc < 0) {
		free(buf);
		return rc;
	}
	*data = buf;
	*len = got;
	return 0;
}

int
async_store_remove(const char *dir, enum async_store_kind kind, const struct async_event_id *id)
{
	char folder[PATH_MAX], path[PATH_MAX];
	int rc;

	rc = async_store_path(folder, sizeof(folder), dir, kind, NULL);
	if (rc == 0)
		rc = async_store_path(path, sizeof(path), dir, kind, id);
	if (rc < 0)
		return rc;
	if (unlink(path) < 0)
		return -errno;
	return async_store_fsync_path(folder);
}

/* A record's name, exactly as async_store_put() writes it (lower case): it can be opened by id. */
static bool
async_store_name_id(const char *name, struct async_event_id *id)
{
	char text[ASYNC_EVENT_ID_TEXT];

	if (strlen(name) != ASYNC_STORE_NAME_LEN ||
	    strcmp(name + ASYNC_EVENT_ID_TEXT - 1, ASYNC_STORE_SUFFIX) != 0)
		return false;
	memcpy(text, name, ASYNC_EVENT_ID_TEXT - 1);
	text[ASYNC_EVENT_ID_TEXT - 1] = '\0';
	if (async_event_id_parse(text, id) < 0)
		return false;
	async_event_id_format(id, text);
	return memcmp(text, name, ASYNC_EVENT_ID_TEXT - 1) == 0;
}

static int
async_store_id_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct async_event_id));
}

int
async_store_list(const char *dir, enum async_store_kind kind, struct async_event_id **ids)
{
	struct async_event_id *v = NULL, *grown, id;
	size_t n = 0, cap = 0;
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d;
	int rc;

	rc = async_store_path(path, sizeof(path), dir, kind, NULL);
	if (rc < 0)
		return rc;
	d = opendir(path);
	if (d == NULL)
		return -errno;
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (de == NULL)
			break;
		if (!async_store_name_id(de->d_name, &id))
			continue;
		if (n == INT_MAX) {
			errno = EOVERFLOW;
			break;
		}
		if (n == cap) {
			cap = cap == 0 ? 64 : cap * 2;
			grown = realloc(v, cap * sizeof(*v));
			if (grown == NULL) {
				errno = ENOMEM;
				break;
			}
			v = grown;
		}
		v[n++] = id;
	}
	rc = -errno;
	closedir(d);
	if (rc < 0) {
		free(v);
		return rc;
	}
	/* Lower-case hex names sort as their bytes do. */
	if (n > 1)
		qsort(v, n, sizeof(*v), async_store_id_cmp);
	*ids = v;
	return (int)n;
}
