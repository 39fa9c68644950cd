/* Unit tests for the asynchronous queue's log: replay, group commit, rollover, torn tails, reclaiming, the lock. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <rte_hash_crc.h>

#include "async_log.h"

#define SMALL_SEGMENT 4096u
#define ENTRY 1000u          /* four entries (16-byte header each) fill a small segment */
#define MAX_SEEN 2048

/* A scratch directory per test; the log lives in a subdirectory the log itself creates. */
struct fixture {
	char root[64];
	char dir[128];
};

/* What a replay handed over, in order. */
struct seen {
	unsigned int n;
	unsigned int stop_at;    /* return 7 at this entry (0: never) */
	uint64_t segment[MAX_SEEN];
	uint32_t len[MAX_SEEN];
	uint8_t *payload[MAX_SEEN];
};

static int
fixture_setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	snprintf(f->root, sizeof(f->root), "/tmp/test_async_log.XXXXXX");
	if (mkdtemp(f->root) == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "%s/a/b/queue", f->root);
	*state = f;
	return 0;
}

static void
remove_tree(const char *path)
{
	char child[PATH_MAX];
	struct dirent *de;
	DIR *d = opendir(path);

	if (d != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			snprintf(child, sizeof(child), "%s/%s", path, de->d_name);
			remove_tree(child);
		}
		closedir(d);
		rmdir(path);
	} else {
		unlink(path);
	}
}

static int
fixture_teardown(void **state)
{
	struct fixture *f = *state;

	remove_tree(f->root);
	free(f);
	return 0;
}

/* Entry i: len bytes, i in the first four, then a pattern that depends on i. */
static void
make_entry(uint32_t i, uint8_t *buf, uint32_t len)
{
	uint32_t k;

	for (k = 0; k < len; k++)
		buf[k] = (uint8_t)(i * 31 + k * 7);
	memcpy(buf, &i, len < sizeof(i) ? len : sizeof(i));
}

static uint32_t
entry_len(uint32_t i)
{
	return 4 + (i * 37) % 3000;
}

static int
collect(void *arg, uint64_t segment, const uint8_t *payload, uint32_t len)
{
	struct seen *s = arg;

	assert_true(s->n < MAX_SEEN);
	s->segment[s->n] = segment;
	s->len[s->n] = len;
	s->payload[s->n] = malloc(len);
	memcpy(s->payload[s->n], payload, len);
	s->n++;
	return s->stop_at != 0 && s->n == s->stop_at ? 7 : 0;
}

static void
seen_free(struct seen *s)
{
	unsigned int i;

	for (i = 0; i < s->n; i++)
		free(s->payload[i]);
	free(s);
}

static struct async_log *
open_log(const struct fixture *f, uint64_t segment_bytes)
{
	struct async_log *log = NULL;
	char err[256];

	assert_int_equal(async_log_open(f->dir, segment_bytes, &log, err, sizeof(err)), 0);
	return log;
}

/* Open the log, replay it and keep what was seen; the log stays open for the caller. */
static struct seen *
reopen_and_replay(const struct fixture *f, uint64_t segment_bytes, struct async_log **out)
{
	struct seen *s = calloc(1, sizeof(*s));

	*out = open_log(f, segment_bytes);
	assert_int_equal(async_log_replay(*out, collect, s), 0);
	return s;
}

static void
append_entry(struct async_log *log, uint32_t i, uint32_t len, uint64_t *segment)
{
	uint8_t buf[ASYNC_LOG_MAX_ENTRY];

	make_entry(i, buf, len);
	assert_int_equal(async_log_append(log, buf, len, segment), 0);
}

/* Seen entry `at` is entry i of length len. */
static void
assert_entry(const struct seen *s, unsigned int at, uint32_t i, uint32_t len)
{
	uint8_t buf[ASYNC_LOG_MAX_ENTRY];

	assert_true(at < s->n);
	assert_int_equal(s->len[at], len);
	make_entry(i, buf, len);
	assert_memory_equal(s->payload[at], buf, len);
}

static void
segment_path(const struct fixture *f, uint64_t number, char *path, size_t size)
{
	snprintf(path, size, "%s/queue-%016" PRIx64 ".log", f->dir, number);
}

static off_t
file_size(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0 ? sb.st_size : -1;
}

static void
test_replay_gives_every_entry_in_order(void **state)
{
	struct fixture *f = *state;
	struct async_log *log = open_log(f, 0);
	struct seen *s;
	char path[PATH_MAX];
	uint64_t seg;
	uint32_t i;

	for (i = 0; i < 300; i++) {
		append_entry(log, i, entry_len(i), &seg);
		assert_int_equal(seg, 1);
	}
	assert_int_equal(async_log_sync(log), 0);
	async_log_close(log);
	segment_path(f, 1, path, sizeof(path));
	assert_true(file_size(path) > 0);

	s = reopen_and_replay(f, 0, &log);
	assert_int_equal(s->n, 300);
	for (i = 0; i < 300; i++) {
		assert_entry(s, i, i, entry_len(i));
		assert_int_equal(s->segment[i], 1);
	}
	/* Replay is for a freshly opened log only; appends then go to a new segment. */
	assert_int_equal(async_log_replay(log, collect, s), -EINVAL);
	assert_int_equal(async_log_current(log), 2);
	async_log_close(log);
	seen_free(s);

	/* The callback's non-zero value stops the replay and is returned. */
	s = calloc(1, sizeof(*s));
	s->stop_at = 10;
	log = open_log(f, 0);
	assert_int_equal(async_log_replay(log, collect, s), 7);
	assert_int_equal(s->n, 10);
	async_log_close(log);
	seen_free(s);
}

static void
test_group_commit_is_one_fdatasync(void **state)
{
	struct fixture *f = *state;
	struct async_log *log = open_log(f, 0);
	struct async_log_stats st;
	struct seen *s;
	uint32_t i;

	for (i = 0; i < 1000; i++)
		append_entry(log, i, 100, NULL);
	assert_int_equal(async_log_pending(log), 1000 * (16 + 100));
	async_log_stats(log, &st);
	assert_int_equal(st.syncs, 0);
	assert_int_equal(st.appended, 1000);

	assert_int_equal(async_log_sync(log), 0);
	assert_int_equal(async_log_pending(log), 0);
	async_log_stats(log, &st);
	assert_int_equal(st.syncs, 1);
	assert_int_equal(st.bytes, 1000 * (16 + 100));
	/* Nothing pending: nothing to make durable. */
	assert_int_equal(async_log_sync(log), 0);
	async_log_stats(log, &st);
	assert_int_equal(st.syncs, 1);

	append_entry(log, 1000, 100, NULL);
	assert_int_equal(async_log_sync(log), 0);
	async_log_stats(log, &st);
	assert_int_equal(st.syncs, 2);
	async_log_close(log);

	s = reopen_and_replay(f, 0, &log);
	assert_int_equal(s->n, 1001);
	for (i = 0; i < 1001; i++)
		assert_entry(s, i, i, 100);
	async_log_close(log);
	seen_free(s);
}

static void
test_segments_roll_over_at_their_size(void **state)
{
	struct fixture *f = *state;
	struct async_log *log = open_log(f, SMALL_SEGMENT);
	struct async_log_stats st;
	char path[PATH_MAX];
	struct seen *s;
	uint64_t seg;
	uint32_t i;

	for (i = 0; i < 10; i++) {
		append_entry(log, i, ENTRY, &seg);
		assert_int_equal(seg, 1 + i / 4);
	}
	/* Larger than a segment: alone in the next one; the entry after it starts another. */
	append_entry(log, 10, SMALL_SEGMENT + 100, &seg);
	assert_int_equal(seg, 4);
	append_entry(log, 11, ENTRY, &seg);
	assert_int_equal(seg, 5);
	assert_int_equal(async_log_sync(log), 0);

	async_log_stats(log, &st);
	assert_int_equal(st.segments, 5);
	assert_int_equal(st.first_segment, 1);
	assert_int_equal(st.bytes, 11 * (16 + ENTRY) + 16 + SMALL_SEGMENT + 100);
	segment_path(f, 1, path, sizeof(path));
	assert_int_equal(file_size(path), 4 * (16 + ENTRY));
	segment_path(f, 3, path, sizeof(path));
	assert_int_equal(file_size(path), 2 * (16 + ENTRY));
	segment_path(f, 4, path, sizeof(path));
	assert_int_equal(file_size(path), 16 + SMALL_SEGMENT + 100);
	async_log_close(log);

	s = reopen_and_replay(f, SMALL_SEGMENT, &log);
	assert_int_equal(s->n, 12);
	for (i = 0; i < 10; i++) {
		assert_entry(s, i, i, ENTRY);
		assert_int_equal(s->segment[i], 1 + i / 4);
	}
	assert_entry(s, 10, 10, SMALL_SEGMENT + 100);
	assert_int_equal(s->segment[10], 4);
	assert_entry(s, 11, 11, ENTRY);
	assert_int_equal(s->segment[11], 5);
	async_log_stats(log, &st);
	assert_int_equal(st.torn, 0);
	async_log_close(log);
	seen_free(s);
}

/* Write five entries in segment 1, damage the last with `damage`, and check both replays after it. */
static void
check_torn_tail(const struct fixture *f, void (*damage)(const char *path, off_t last))
{
	struct async_log *log = open_log(f, 0);
	struct async_log_stats st;
	char path[PATH_MAX];
	struct seen *s;
	uint64_t seg;
	uint32_t i;

	for (i = 0; i < 5; i++)
		append_entry(log, i, 200 + i, NULL);
	async_log_close(log);   /* close syncs what is pending */
	segment_path(f, 1, path, sizeof(path));
	damage(path, 4 * 16 + 200 + 201 + 202 + 203);

	s = reopen_and_replay(f, 0, &log);
	assert_int_equal(s->n, 4);
	for (i = 0; i < 4; i++)
		assert_entry(s, i, i, 200 + i);
	async_log_stats(log, &st);
	assert_int_equal(st.torn, 1);
	append_entry(log, 5, 300, &seg);
	assert_int_equal(seg, 2);
	async_log_close(log);
	seen_free(s);

	/* The damage stays where it was; everything written around it is intact. */
	s = reopen_and_replay(f, 0, &log);
	assert_int_equal(s->n, 5);
	for (i = 0; i < 4; i++)
		assert_entry(s, i, i, 200 + i);
	assert_entry(s, 4, 5, 300);
	assert_int_equal(s->segment[4], 2);
	async_log_stats(log, &st);
	assert_int_equal(st.torn, 1);
	async_log_close(log);
	seen_free(s);
}

static void
cut_mid_payload(const char *path, off_t last)
{
	assert_int_equal(truncate(path, last + 16 + 100), 0);
}

static void
cut_mid_header(const char *path, off_t last)
{
	assert_int_equal(truncate(path, last + 9), 0);
}

static void
poke(const char *path, off_t at, const void *bytes, size_t n)
{
	int fd = open(path, O_RDWR);

	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, bytes, n, at), (ssize_t)n);
	close(fd);
}

static void
flip_payload_byte(const char *path, off_t last)
{
	uint8_t b;
	int fd = open(path, O_RDONLY);

	assert_int_equal(pread(fd, &b, 1, last + 16 + 50), 1);
	close(fd);
	b ^= 0x20;
	poke(path, last + 16 + 50, &b, 1);
}

/* CRC32C as usually defined; the buffer is 8-byte aligned for rte_hash_crc(). */
static uint32_t
crc32c(const uint64_t *words, uint32_t len)
{
	return rte_hash_crc(words, len, 0xffffffffu) ^ 0xffffffffu;
}

/*
 * Lengths are never trusted: one past the file's end, with the CRC that the
 * bytes past it would give if read (zeros, in a mapping of the file), and
 * one past any entry's size.
 */
static void
length_past_end(const char *path, off_t last)
{
	uint64_t words[32] = { 0 };
	uint8_t len[4] = { 204 + 8, 0, 0, 0 };
	uint32_t crc;
	int fd = open(path, O_RDONLY);

	assert_int_equal(pread(fd, words, 204, last + 16), 204);
	close(fd);
	crc = crc32c(words, 204 + 8);
	poke(path, last + 4, len, sizeof(len));
	poke(path, last + 8, &crc, sizeof(crc));   /* little-endian host */
}

static void
length_huge(const char *path, off_t last)
{
	uint8_t len[4] = { 0xf0, 0xff, 0xff, 0xff };

	poke(path, last + 4, len, sizeof(len));
}

static void
test_torn_tail_cut_mid_entry(void **state)
{
	check_torn_tail(*state, cut_mid_payload);
}

static void
test_torn_tail_cut_mid_header(void **state)
{
	check_torn_tail(*state, cut_mid_header);
}

static void
test_torn_tail_flipped_byte(void **state)
{
	check_torn_tail(*state, flip_payload_byte);
}

static void
test_torn_tail_bad_lengths(void **state)
{
	check_torn_tail(*state, length_past_end);
	remove_tree(((struct fixture *)*state)->dir);
	check_torn_tail(*state, length_huge);
}

static void
assert_segment_present(const struct fixture *f, uint64_t number, bool present)
{
	char path[PATH_MAX];

	segment_path(f, number, path, sizeof(path));
	assert_int_equal(access(path, F_OK) == 0, present);
}

static void
test_reclaim_oldest_first(void **state)
{
	struct fixture *f = *state;
	struct async_log *log = open_log(f, SMALL_SEGMENT);
	struct async_log_stats st;
	uint64_t holders, seg;
	uint32_t i;

	assert_int_equal(async_log_oldest_held(log, &holders), 0);
	assert_int_equal(holders, 0);
	/* Segments 1, 2, 3 full; 4 is being written. */
	for (i = 0; i < 13; i++) {
		append_entry(log, i, ENTRY, &seg);
		if (i == 0 || i == 1)
			async_log_hold(log, seg);       /* two events live in segment 1 */
		if (i == 5)
			async_log_hold(log, seg);       /* one in segment 2 */
	}
	assert_int_equal(async_log_current(log), 4);
	assert_int_equal(async_log_sync(log), 0);

	assert_int_equal(async_log_oldest_held(log, &holders), 1);
	assert_int_equal(holders, 2);
	assert_int_equal(async_log_reclaim(log, 1000), 0);

	async_log_release(log, 1);
	assert_int_equal(async_log_oldest_held(log, &holders), 1);
	assert_int_equal(holders, 1);
	assert_int_equal(async_log_reclaim(log, 1000), 0);
	async_log_release(log, 1);
	/* Segment 2 is still held: 3 stays too although nothing holds it. */
	assert_int_equal(async_log_oldest_held(log, &holders), 2);
	assert_int_equal(holders, 1);
	assert_int_equal(async_log_reclaim(log, 1000), 1);
	assert_segment_present(f, 1, false);
	assert_segment_present(f, 2, true);
	assert_segment_present(f, 3, true);
	async_log_stats(log, &st);
	assert_int_equal(st.segments, 3);
	assert_int_equal(st.first_segment, 2);
	assert_int_equal(st.reclaimed, 1);
	assert_int_equal(st.bytes, 9 * (16 + ENTRY));

	/* Kept until 2000: segment 2 goes when nothing holds it, 3 waits for its time. */
	async_log_keep_until(log, 3, 2000);
	async_log_keep_until(log, 3, 1500);     /* an earlier time does not shorten it */
	async_log_release(log, 2);
	assert_int_equal(async_log_oldest_held(log, &holders), 0);
	assert_int_equal(holders, 0);
	assert_int_equal(async_log_reclaim(log, 1999), 1);
	assert_segment_present(f, 2, false);
	assert_segment_present(f, 3, true);
	assert_int_equal(async_log_reclaim(log, 2000), 1);
	assert_segment_present(f, 3, false);

	/* Never the segment being written. */
	assert_int_equal(async_log_reclaim(log, UINT64_MAX), 0);
	assert_segment_present(f, 4, true);
	async_log_stats(log, &st);
	assert_int_equal(st.segments, 1);
	assert_int_equal(st.first_segment, 4);
	assert_int_equal(st.reclaimed, 3);
	async_log_close(log);
}

static void
test_reclaim_after_reopen(void **state)
{
	struct fixture *f = *state;
	struct async_log *log = open_log(f, SMALL_SEGMENT);
	struct async_log_stats st;
	struct seen *s;
	uint32_t i;

	for (i = 0; i < 6; i++)
		append_entry(log, i, ENTRY, NULL);
	async_log_close(log);

	/* After a restart the owner holds what replay showed it is unfinished: here segment 2. */
	s = reopen_and_replay(f, SMALL_SEGMENT, &log);
	assert_int_equal(s->n, 6);
	async_log_hold(log, s->segment[5]);
	assert_int_equal(async_log_current(log), 3);
	assert_int_equal(async_log_reclaim(log, 0), 1);
	assert_segment_present(f, 1, false);
	assert_segment_present(f, 2, true);
	async_log_release(log, 2);
	assert_int_equal(async_log_reclaim(log, 0), 1);
	async_log_stats(log, &st);
	assert_int_equal(st.segments, 0);
	assert_int_equal(st.bytes, 0);
	async_log_close(log);
	seen_free(s);
}

static void
test_second_open_is_refused(void **state)
{
	struct fixture *f = *state;
	struct async_log *log = open_log(f, 0), *other = NULL;
	char err[256] = "";
	pid_t pid;
	int status;

	/* flock conflicts between open file descriptions, in this process as in another. */
	assert_int_equal(async_log_open(f->dir, 0, &other, err, sizeof(err)), -EBUSY);
	assert_null(other);
	assert_true(strlen(err) > 0);

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int rc = async_log_open(f->dir, 0, &other, err, sizeof(err));

		_exit(rc == -EBUSY ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);

	async_log_close(log);
	assert_int_equal(async_log_open(f->dir, 0, &other, err, sizeof(err)), 0);
	async_log_close(other);
}

/* The format other tools read: a 16-byte little-endian header, CRC32C as usually defined. */
static void
test_entry_format(void **state)
{
	static const uint8_t want[] = {
		'A', 'L', 'G', '1', 9, 0, 0, 0, 0x83, 0x92, 0x06, 0xe3, 0, 0, 0, 0,
		'1', '2', '3', '4', '5', '6', '7', '8', '9',
	};
	struct fixture *f = *state;
	struct async_log *log = open_log(f, 0);
	char path[PATH_MAX];
	uint8_t got[64];
	int fd;

	assert_int_equal(async_log_append(log, "123456789", 9, NULL), 0);
	async_log_close(log);
	segment_path(f, 1, path, sizeof(path));
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, got, sizeof(got)), sizeof(want));
	close(fd);
	assert_memory_equal(got, want, sizeof(want));
}

static void
test_entry_sizes(void **state)
{
	struct fixture *f = *state;
	struct async_log *log = open_log(f, 0);
	static uint8_t big[ASYNC_LOG_MAX_ENTRY + 1];
	struct async_log_stats st;
	struct seen *s;

	assert_int_equal(async_log_append(log, big, ASYNC_LOG_MAX_ENTRY + 1, NULL), -EMSGSIZE);
	assert_int_equal(async_log_append(log, big, 0, NULL), -EINVAL);
	assert_int_equal(async_log_pending(log), 0);
	append_entry(log, 1, ASYNC_LOG_MAX_ENTRY, NULL);
	append_entry(log, 2, 1, NULL);
	async_log_stats(log, &st);
	assert_int_equal(st.appended, 2);
	async_log_close(log);

	s = reopen_and_replay(f, 0, &log);
	assert_int_equal(s->n, 2);
	assert_entry(s, 0, 1, ASYNC_LOG_MAX_ENTRY);
	assert_entry(s, 1, 2, 1);
	async_log_close(log);
	seen_free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_replay_gives_every_entry_in_order, fixture_setup,
						fixture_teardown),
		cmocka_unit_test_setup_teardown(test_group_commit_is_one_fdatasync, fixture_setup,
						fixture_teardown),
		cmocka_unit_test_setup_teardown(test_segments_roll_over_at_their_size, fixture_setup,
						fixture_teardown),
		cmocka_unit_test_setup_teardown(test_torn_tail_cut_mid_entry, fixture_setup,
						fixture_teardown),
		cmocka_unit_test_setup_teardown(test_torn_tail_cut_mid_header, fixture_setup,
						fixture_teardown),
		cmocka_unit_test_setup_teardown(test_torn_tail_flipped_byte, fixture_setup,
						fixture_teardown),
		cmocka_unit_test_setup_teardown(test_torn_tail_bad_lengths, fixture_setup,
						fixture_teardown),
		cmocka_unit_test_setup_teardown(test_reclaim_oldest_first, fixture_setup,
						fixture_teardown),
		cmocka_unit_test_setup_teardown(test_reclaim_after_reopen, fixture_setup,
						fixture_teardown),
		cmocka_unit_test_setup_teardown(test_second_open_is_refused, fixture_setup,
						fixture_teardown),
		cmocka_unit_test_setup_teardown(test_entry_format, fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_entry_sizes, fixture_setup, fixture_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
