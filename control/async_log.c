/* The asynchronous queue's log: segment files of checksummed entries, synced in groups, reclaimed in order. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <rte_byteorder.h>
#include <rte_hash_crc.h>

#include "async_log.h"

#define ASYNC_LOG_MAGIC 0x31474c41u   /* "ALG1" as little-endian bytes */

/* Before each entry; little-endian whatever the host, so that a log can be read elsewhere. */
struct async_log_header {
	uint32_t magic;
	uint32_t len;
	uint32_t crc;            /* CRC32C of the payload */
	uint32_t reserved;       /* written 0 */
};
#define ASYNC_LOG_HEADER sizeof(struct async_log_header)   /* 16 bytes, no padding */
#define ASYNC_LOG_LOCK "queue.lock"
#define ASYNC_LOG_NAME_LEN 27         /* queue-<16 hex>.log and its NUL */

/* What the log knows of one segment file. */
struct async_log_segment {
	uint64_t number;
	uint64_t bytes;          /* written to the file (not what is still buffered) */
	uint64_t keep_until_ns;
	uint32_t holders;
};

struct async_log {
	int dir_fd;
	int lock_fd;
	int fd;                  /* the current segment, -1 until the first append creates it */
	uint64_t segment_bytes;
	uint64_t current;        /* the segment appends go to */
	uint64_t written;        /* bytes of the current segment already in its file */
	bool dir_dirty;          /* a segment was created: the next sync makes its name durable */
	bool data_dirty;         /* written and not yet fdatasync'ed */
	bool replay_done;        /* replayed or appended: replay is for a freshly opened log */
	int error;               /* a failed fdatasync: the page cache can no longer be trusted */
	uint8_t *buf;            /* entries appended and not yet written */
	size_t buf_len, buf_cap;
	struct async_log_segment *segs;   /* present segments, oldest first */
	unsigned int nb_segs, cap_segs;
	struct async_log_stats st;
};

/*
 * CRC32C as usually defined (inverted in and out), so that other tools can
 * check entries. rte_hash_crc() loads 8 bytes at a time from where the data
 * starts: the bytes before an 8-byte boundary go one by one, so that no load
 * is misaligned (payloads sit anywhere in a mapped segment).
 */
static uint32_t
async_log_crc(const uint8_t *p, uint32_t len)
{
	uint32_t crc = 0xffffffffu;

	while (len > 0 && ((uintptr_t)p & 7) != 0) {
		crc = rte_hash_crc_1byte(*p++, crc);
		len--;
	}
	return rte_hash_crc(p, len, crc) ^ 0xffffffffu;
}

static void
async_log_name(uint64_t number, char name[ASYNC_LOG_NAME_LEN])
{
	snprintf(name, ASYNC_LOG_NAME_LEN, "queue-%016" PRIx64 ".log", number);
}

/* The number of a segment's file name; 0 for any other name (segments start at 1). */
static uint64_t
async_log_parse_name(const char *name)
{
	char again[ASYNC_LOG_NAME_LEN];
	uint64_t n;

	if (strncmp(name, "queue-", 6) != 0)
		return 0;
	n = strtoull(name + 6, NULL, 16);
	async_log_name(n, again);
	return strcmp(name, again) == 0 ? n : 0;   /* only the name the log itself would give */
}

static int
async_log_cmp_segment(const void *a, const void *b)
{
	uint64_t x = ((const struct async_log_segment *)a)->number;
	uint64_t y = ((const struct async_log_segment *)b)->number;

	return x < y ? -1 : x > y;
}

static struct async_log_segment *
async_log_find(const struct async_log *log, uint64_t number)
{
	struct async_log_segment key = { .number = number };

	if (log->nb_segs == 0)
		return NULL;
	return bsearch(&key, log->segs, log->nb_segs, sizeof(key), async_log_cmp_segment);
}

/* Remember a segment (scanning sorts them afterwards; new ones come last by number). */
static int
async_log_add_segment(struct async_log *log, uint64_t number, uint64_t bytes)
{
	if (log->nb_segs == log->cap_segs) {
		unsigned int cap = log->cap_segs ? log->cap_segs * 2 : 16;
		struct async_log_segment *s = realloc(log->segs, cap * sizeof(*s));

		if (s == NULL)
			return -ENOMEM;
		log->segs = s;
		log->cap_segs = cap;
	}
	log->segs[log->nb_segs++] = (struct async_log_segment){ .number = number, .bytes = bytes };
	log->st.bytes += bytes;
	return 0;
}

/* Read the directory's segment names (and sizes), oldest first. */
static int
async_log_scan(struct async_log *log)
{
	struct dirent *de;
	struct stat sb;
	DIR *d;
	int fd, rc = 0;

	fd = openat(log->dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		rc = -errno;
		if (fd >= 0)
			close(fd);
		return rc;
	}
	while ((de = readdir(d)) != NULL) {
		uint64_t n = async_log_parse_name(de->d_name);

		if (n == 0)
			continue;
		if (fstatat(log->dir_fd, de->d_name, &sb, 0) < 0) {
			rc = -errno;
			break;
		}
		rc = async_log_add_segment(log, n, (uint64_t)sb.st_size);
		if (rc < 0)
			break;
	}
	closedir(d);
	if (rc == 0 && log->nb_segs > 0)
		qsort(log->segs, log->nb_segs, sizeof(*log->segs), async_log_cmp_segment);
	return rc;
}

/* mkdir -p: create dir and its missing parents. */
static int
async_log_mkdirs(const char *dir)
{
	char path[PATH_MAX];
	size_t len = strlen(dir), i;

	if (len == 0)
		return -EINVAL;
	if (len >= sizeof(path))
		return -ENAMETOOLONG;
	memcpy(path, dir, len + 1);
	for (i = 1; i <= len; i++) {
		if (path[i] != '/' && path[i] != '\0')
			continue;
		path[i] = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return -errno;
		path[i] = dir[i];
	}
	return 0;
}

int
async_log_open(const char *dir, uint64_t segment_bytes, struct async_log **out, char *err,
	       size_t errlen)
{
	struct async_log *log;
	int rc;

	*out = NULL;
	log = calloc(1, sizeof(*log));
	if (log == NULL) {
		snprintf(err, errlen, "async log %s: out of memory", dir);
		return -ENOMEM;
	}
	log->dir_fd = log->lock_fd = log->fd = -1;
	log->segment_bytes = segment_bytes ? segment_bytes : ASYNC_LOG_SEGMENT_BYTES;

	rc = async_log_mkdirs(dir);
	if (rc < 0) {
		snprintf(err, errlen, "async log %s: cannot create: %s", dir, strerror(-rc));
		goto fail;
	}
	log->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (log->dir_fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "async log %s: %s", dir, strerror(-rc));
		goto fail;
	}
	log->lock_fd = openat(log->dir_fd, ASYNC_LOG_LOCK, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (log->lock_fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "async log %s/%s: %s", dir, ASYNC_LOG_LOCK, strerror(-rc));
		goto fail;
	}
	if (flock(log->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
		snprintf(err, errlen, "async log %s: %s", dir, rc == -EBUSY ?
			 "in use (another open holds its lock file)" : strerror(-rc));
		goto fail;
	}
	rc = async_log_scan(log);
	if (rc < 0) {
		snprintf(err, errlen, "async log %s: cannot list segments: %s", dir, strerror(-rc));
		goto fail;
	}
	/*
	 * Appends always start a new segment: the last one may end in a torn
	 * entry, and appending after it would hide every later entry on replay.
	 */
	log->current = log->nb_segs ? log->segs[log->nb_segs - 1].number + 1 : 1;
	*out = log;
	return 0;

fail:
	async_log_close(log);
	return rc;
}

/* Hand one segment's intact entries to cb; the first damaged one ends the segment. */
static int
async_log_replay_segment(struct async_log *log, uint64_t number, async_log_entry_cb cb, void *arg)
{
	char name[ASYNC_LOG_NAME_LEN];
	const uint8_t *map;
	uint64_t size, off = 0;
	struct stat sb;
	int fd, rc = 0;

	async_log_name(number, name);
	fd = openat(log->dir_fd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &sb) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	size = (uint64_t)sb.st_size;
	if (size == 0) {
		close(fd);
		return 0;
	}
	map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return -errno;

	while (off < size && rc == 0) {
		const uint8_t *payload;
		struct async_log_header h;
		uint32_t len;

		/* Nothing read from the file is trusted until checked against its size. */
		if (size - off < ASYNC_LOG_HEADER) {
			log->st.torn++;
			break;
		}
		memcpy(&h, map + off, sizeof(h));
		payload = map + off + ASYNC_LOG_HEADER;
		len = rte_le_to_cpu_32(h.len);
		if (rte_le_to_cpu_32(h.magic) != ASYNC_LOG_MAGIC || len == 0 ||
		    len > ASYNC_LOG_MAX_ENTRY || len > size - off - ASYNC_LOG_HEADER ||
		    async_log_crc(payload, len) != rte_le_to_cpu_32(h.crc)) {
			log->st.torn++;
			break;
		}
		rc = cb(arg, number, payload, len);
		off += ASYNC_LOG_HEADER + len;
	}
	munmap((void *)(uintptr_t)map, size);
	return rc;
}

int
async_log_replay(struct async_log *log, async_log_entry_cb cb, void *arg)
{
	unsigned int i, n = log->nb_segs;
	int rc;

	if (log->replay_done)
		return -EINVAL;
	log->replay_done = true;
	/* cb may hold, release or keep segments, none of which adds or removes one (reclaim waits). */
	for (i = 0; i < n; i++) {
		rc = async_log_replay_segment(log, log->segs[i].number, cb, arg);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* Write the buffer to the current segment at its end; a retry after a failure rewrites the same bytes. */
static int
async_log_write(struct async_log *log)
{
	size_t done = 0;

	while (done < log->buf_len) {
		ssize_t n = pwrite(log->fd, log->buf + done, log->buf_len - done,
				   (off_t)(log->written + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		done += (size_t)n;
	}
	log->written += done;
	async_log_find(log, log->current)->bytes = log->written;
	log->st.bytes += done;
	log->buf_len = 0;
	log->data_dirty = true;
	return 0;
}

static int
async_log_fdatasync(struct async_log *log)
{
	struct timespec t0, t1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (fdatasync(log->fd) < 0) {
		/* Linux may have dropped the dirty pages: retrying could report success for lost data. */
		log->error = -errno;
		return log->error;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	log->st.syncs++;
	log->st.sync_ns_last = (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000000000ull +
			       (uint64_t)(t1.tv_nsec - t0.tv_nsec);
	log->data_dirty = false;
	return 0;
}

int
async_log_sync(struct async_log *log)
{
	int rc;

	if (log->error)
		return log->error;
	if (log->buf_len > 0) {
		rc = async_log_write(log);
		if (rc < 0)
			return rc;
	}
	if (log->data_dirty) {
		rc = async_log_fdatasync(log);
		if (rc < 0)
			return rc;
	}
	if (log->dir_dirty) {
		if (fsync(log->dir_fd) < 0) {
			log->error = -errno;
			return log->error;
		}
		log->dir_dirty = false;
	}
	return 0;
}

/* Close the full segment (its entries made durable now: the buffer holds one file's bytes only). */
static int
async_log_finish_segment(struct async_log *log)
{
	int rc = async_log_sync(log);

	if (rc < 0)
		return rc;
	close(log->fd);
	log->fd = -1;
	log->current++;
	return 0;
}

static int
async_log_start_segment(struct async_log *log)
{
	char name[ASYNC_LOG_NAME_LEN];
	int rc;

	rc = async_log_add_segment(log, log->current, 0);
	if (rc < 0)
		return rc;
	async_log_name(log->current, name);
	log->fd = openat(log->dir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (log->fd < 0) {
		log->nb_segs--;
		return -errno;
	}
	log->written = 0;
	log->dir_dirty = true;
	return 0;
}

int
async_log_append(struct async_log *log, const void *payload, uint32_t len, uint64_t *segment)
{
	size_t need = ASYNC_LOG_HEADER + (size_t)len;
	struct async_log_header h;
	int rc;

	if (log->error)
		return log->error;
	if (len == 0)
		return -EINVAL;
	if (len > ASYNC_LOG_MAX_ENTRY)
		return -EMSGSIZE;
	log->replay_done = true;

	/* A segment is never made larger than segment_bytes, unless by its only entry. */
	if (log->fd >= 0 && log->written + log->buf_len > 0 &&
	    log->written + log->buf_len + need > log->segment_bytes) {
		rc = async_log_finish_segment(log);
		if (rc < 0)
			return rc;
	}
	if (log->fd < 0) {
		rc = async_log_start_segment(log);
		if (rc < 0)
			return rc;
	}
	if (log->buf_len + need > log->buf_cap) {
		size_t cap = log->buf_cap ? log->buf_cap : 64 * 1024;
		uint8_t *b;

		while (cap < log->buf_len + need)
			cap *= 2;
		b = realloc(log->buf, cap);
		if (b == NULL)
			return -ENOMEM;
		log->buf = b;
		log->buf_cap = cap;
	}
	h = (struct async_log_header){ .magic = rte_cpu_to_le_32(ASYNC_LOG_MAGIC),
		.len = rte_cpu_to_le_32(len), .crc = rte_cpu_to_le_32(async_log_crc(payload, len)) };
	memcpy(log->buf + log->buf_len, &h, sizeof(h));
	memcpy(log->buf + log->buf_len + sizeof(h), payload, len);
	log->buf_len += need;
	log->st.appended++;
	if (segment != NULL)
		*segment = log->current;
	return 0;
}

size_t
async_log_pending(const struct async_log *log)
{
	return log->buf_len;
}

void
async_log_hold(struct async_log *log, uint64_t segment)
{
	struct async_log_segment *s = async_log_find(log, segment);

	if (s != NULL)
		s->holders++;
}

void
async_log_release(struct async_log *log, uint64_t segment)
{
	struct async_log_segment *s = async_log_find(log, segment);

	if (s != NULL && s->holders > 0)
		s->holders--;
}

void
async_log_keep_until(struct async_log *log, uint64_t segment, uint64_t until_ns)
{
	struct async_log_segment *s = async_log_find(log, segment);

	if (s != NULL && s->keep_until_ns < until_ns)
		s->keep_until_ns = until_ns;
}

unsigned int
async_log_reclaim(struct async_log *log, uint64_t now_ns)
{
	char name[ASYNC_LOG_NAME_LEN];
	unsigned int n = 0;

	while (n < log->nb_segs) {
		const struct async_log_segment *s = &log->segs[n];

		if (s->holders > 0 || s->keep_until_ns > now_ns || s->number >= log->current)
			break;
		async_log_name(s->number, name);
		if (unlinkat(log->dir_fd, name, 0) < 0 && errno != ENOENT)
			break;
		log->st.bytes -= s->bytes;
		n++;
		/* Durable before the next one goes: a crash must not leave a hole in the order. */
		if (fsync(log->dir_fd) < 0)
			break;
	}
	if (n > 0) {
		memmove(log->segs, log->segs + n, (log->nb_segs - n) * sizeof(*log->segs));
		log->nb_segs -= n;
		log->st.reclaimed += n;
	}
	return n;
}

uint64_t
async_log_oldest_held(const struct async_log *log, uint64_t *holders)
{
	unsigned int i;

	for (i = 0; i < log->nb_segs; i++) {
		if (log->segs[i].holders > 0) {
			if (holders != NULL)
				*holders = log->segs[i].holders;
			return log->segs[i].number;
		}
	}
	if (holders != NULL)
		*holders = 0;
	return 0;
}

uint64_t
async_log_current(const struct async_log *log)
{
	return log->current;
}

void
async_log_stats(const struct async_log *log, struct async_log_stats *st)
{
	*st = log->st;
	st->segments = log->nb_segs;
	st->first_segment = log->nb_segs ? log->segs[0].number : 0;
}

void
async_log_close(struct async_log *log)
{
	if (log == NULL)
		return;
	if (log->fd >= 0) {
		async_log_sync(log);
		close(log->fd);
	}
	if (log->dir_fd >= 0)
		close(log->dir_fd);
	if (log->lock_fd >= 0)
		close(log->lock_fd);   /* and with it the lock */
	free(log->buf);
	free(log->segs);
	free(log);
}
