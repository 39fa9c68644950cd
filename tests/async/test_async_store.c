/* Unit tests of async_store: one file per record in dlq/, success/ and redrive/, on a real folder. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "async_store.h"

static char root[] = "/tmp/test_async_store.XXXXXX";
static char qdir[256];

static struct async_event_id
make_id(uint8_t first, uint8_t last)
{
	struct async_event_id id;

	memset(id.b, 0x5c, sizeof(id.b));
	id.b[0] = first;
	id.b[15] = last;
	return id;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
setup(void **state)
{
	char err[256];

	(void)state;
	strcpy(root, "/tmp/test_async_store.XXXXXX");
	if (mkdtemp(root) == NULL)
		return -1;
	/* Parents are created too. */
	snprintf(qdir, sizeof(qdir), "%s/var/lib/turbine/t1", root);
	return async_store_init(qdir, err, sizeof(err));
}

static int
teardown(void **state)
{
	(void)state;
	return nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void
folder_path(char *path, size_t len, enum async_store_kind kind, const char *name)
{
	snprintf(path, len, "%s/%s/%s", qdir, async_store_folder(kind), name);
}

static void
write_file(enum async_store_kind kind, const char *name, const char *text)
{
	char path[PATH_MAX];
	FILE *f;

	folder_path(path, sizeof(path), kind, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

/* Names in a folder other than "." and "..". */
static unsigned int
count_names(enum async_store_kind kind)
{
	char path[PATH_MAX];
	struct dirent *de;
	unsigned int n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "%s/%s", qdir, async_store_folder(kind));
	d = opendir(path);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static void
test_folders(void **state)
{
	static const enum async_store_kind kinds[] = {
		ASYNC_STORE_DLQ, ASYNC_STORE_SUCCESS, ASYNC_STORE_REDRIVE,
	};
	static const char *const names[] = { "dlq", "success", "redrive" };
	char path[PATH_MAX], err[256];
	struct stat st;
	unsigned int i;

	(void)state;
	for (i = 0; i < 3; i++) {
		assert_string_equal(async_store_folder(kinds[i]), names[i]);
		snprintf(path, sizeof(path), "%s/%s", qdir, names[i]);
		assert_int_equal(stat(path, &st), 0);
		assert_true(S_ISDIR(st.st_mode));
	}
	/* Again over what exists: fine. */
	assert_int_equal(async_store_init(qdir, err, sizeof(err)), 0);
	/* A file where the directory should be: an error that names it. */
	snprintf(path, sizeof(path), "%s/file", root);
	close(open(path, O_CREAT | O_WRONLY, 0600));
	assert_int_equal(async_store_init(path, err, sizeof(err)), -ENOTDIR);
	assert_non_null(strstr(err, path));
}

static void
test_put_get_remove(void **state)
{
	struct async_event_id id = make_id(0x10, 0x01);
	char text[ASYNC_EVENT_ID_TEXT], path[PATH_MAX], name[64];
	static const char data[] = "\x83\xa1" "a\x01";
	struct stat st;
	uint8_t *got;
	size_t len;

	(void)state;
	assert_int_equal(async_store_put(qdir, ASYNC_STORE_DLQ, &id, data, sizeof(data), false), 0);
	/* Named <uuid>.mp, in its own folder only. */
	async_event_id_format(&id, text);
	snprintf(name, sizeof(name), "%s.mp", text);
	folder_path(path, sizeof(path), ASYNC_STORE_DLQ, name);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, sizeof(data));
	assert_int_equal(count_names(ASYNC_STORE_DLQ), 1);
	assert_int_equal(count_names(ASYNC_STORE_SUCCESS), 0);

	assert_int_equal(async_store_get(qdir, ASYNC_STORE_DLQ, &id, &got, &len), 0);
	assert_int_equal(len, sizeof(data));
	assert_memory_equal(got, data, len);
	free(got);
	assert_int_equal(async_store_get(qdir, ASYNC_STORE_SUCCESS, &id, &got, &len), -ENOENT);

	/* A second put replaces the file whole. */
	assert_int_equal(async_store_put(qdir, ASYNC_STORE_DLQ, &id, "xy", 2, true), 0);
	assert_int_equal(async_store_get(qdir, ASYNC_STORE_DLQ, &id, &got, &len), 0);
	assert_int_equal(len, 2);
	assert_memory_equal(got, "xy", 2);
	free(got);
	assert_int_equal(count_names(ASYNC_STORE_DLQ), 1);

	/* Empty files are files too. */
	assert_int_equal(async_store_put(qdir, ASYNC_STORE_REDRIVE, &id, "", 0, true), 0);
	assert_int_equal(async_store_get(qdir, ASYNC_STORE_REDRIVE, &id, &got, &len), 0);
	assert_int_equal(len, 0);
	free(got);
	assert_int_equal(async_store_sync(qdir), 0);

	assert_int_equal(async_store_remove(qdir, ASYNC_STORE_DLQ, &id), 0);
	assert_int_equal(stat(path, &st), -1);
	assert_int_equal(async_store_remove(qdir, ASYNC_STORE_DLQ, &id), -ENOENT);
	assert_int_equal(async_store_get(qdir, ASYNC_STORE_DLQ, &id, &got, &len), -ENOENT);
	assert_int_equal(async_store_remove(qdir, ASYNC_STORE_REDRIVE, &id), 0);
	assert_int_equal(count_names(ASYNC_STORE_DLQ), 0);
	assert_int_equal(count_names(ASYNC_STORE_REDRIVE), 0);
}

static void
test_missing_folder(void **state)
{
	struct async_event_id id = make_id(1, 2), *ids = NULL;
	char dir[PATH_MAX];

	(void)state;
	snprintf(dir, sizeof(dir), "%s/absent", root);
	assert_int_equal(async_store_put(dir, ASYNC_STORE_DLQ, &id, "x", 1, true), -ENOENT);
	assert_int_equal(async_store_list(dir, ASYNC_STORE_DLQ, &ids), -ENOENT);
	assert_int_equal(async_store_sync(dir), -ENOENT);
}

static void
test_list_sorted(void **state)
{
	struct async_event_id in[5] = {
		make_id(0xf0, 0x00), make_id(0x00, 0x09), make_id(0x7a, 0x01),
		make_id(0x00, 0x08), make_id(0xab, 0xff),
	};
	struct async_event_id *ids = NULL;
	char prev[ASYNC_EVENT_ID_TEXT] = "", text[ASYNC_EVENT_ID_TEXT];
	unsigned int i, j;
	int n;

	(void)state;
	assert_int_equal(async_store_list(qdir, ASYNC_STORE_SUCCESS, &ids), 0);
	free(ids);
	for (i = 0; i < 5; i++)
		assert_int_equal(async_store_put(qdir, ASYNC_STORE_SUCCESS, &in[i], "r", 1, false),
				 0);
	n = async_store_list(qdir, ASYNC_STORE_SUCCESS, &ids);
	assert_int_equal(n, 5);
	for (i = 0; i < 5; i++) {
		async_event_id_format(&ids[i], text);
		assert_true(strcmp(prev, text) < 0);   /* in name order */
		strcpy(prev, text);
		for (j = 0; j < 5; j++)
			if (memcmp(&in[j], &ids[i], sizeof(ids[i])) == 0)
				break;
		assert_true(j < 5);
	}
	free(ids);
	/* Other folders see none of them. */
	assert_int_equal(async_store_list(qdir, ASYNC_STORE_DLQ, &ids), 0);
	free(ids);
	for (i = 0; i < 5; i++)
		assert_int_equal(async_store_remove(qdir, ASYNC_STORE_SUCCESS, &in[i]), 0);
}

/* Only <uuid>.mp names are records: temporary files and anything else are skipped. */
static void
test_list_skips(void **state)
{
	struct async_event_id id = make_id(0x42, 0x42), *ids = NULL;
	char text[ASYNC_EVENT_ID_TEXT], name[96], upper[96];
	unsigned int i;
	int n;

	(void)state;
	assert_int_equal(async_store_put(qdir, ASYNC_STORE_DLQ, &id, "r", 1, true), 0);
	async_event_id_format(&id, text);
	/* What a put that died half way leaves: its temporary file. */
	snprintf(name, sizeof(name), ".%s.Ab12Cd", text);
	write_file(ASYNC_STORE_DLQ, name, "partial");
	snprintf(name, sizeof(name), "%s.mp.tmp", text);
	write_file(ASYNC_STORE_DLQ, name, "x");
	snprintf(name, sizeof(name), "%s.json", text);
	write_file(ASYNC_STORE_DLQ, name, "x");
	snprintf(name, sizeof(name), "x%s.mp", text);
	write_file(ASYNC_STORE_DLQ, name, "x");
	snprintf(name, sizeof(name), "%.35s.mp", text);
	write_file(ASYNC_STORE_DLQ, name, "x");
	/* An upper-case name parses as an id but is not how a record is named. */
	for (i = 0; text[i] != '\0'; i++)
		upper[i] = (char)(text[i] >= 'a' && text[i] <= 'f' ? text[i] - 32 : text[i]);
	strcpy(upper + i, ".mp");
	write_file(ASYNC_STORE_DLQ, upper, "x");
	write_file(ASYNC_STORE_DLQ, "notes.txt", "x");
	write_file(ASYNC_STORE_DLQ, "zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz.mp", "x");

	n = async_store_list(qdir, ASYNC_STORE_DLQ, &ids);
	assert_int_equal(n, 1);
	assert_memory_equal(&ids[0], &id, sizeof(id));
	free(ids);
}

/* A put leaves no temporary file behind, synced or not. */
static void
test_put_leaves_no_temporary(void **state)
{
	struct async_event_id id;
	unsigned int i;

	(void)state;
	for (i = 0; i < 20; i++) {
		id = make_id((uint8_t)i, (uint8_t)(i * 3));
		assert_int_equal(async_store_put(qdir, ASYNC_STORE_REDRIVE, &id, "abc", 3, i % 2), 0);
	}
	assert_int_equal(count_names(ASYNC_STORE_REDRIVE), 20);
	assert_int_equal(async_store_sync(qdir), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_folders, setup, teardown),
		cmocka_unit_test_setup_teardown(test_put_get_remove, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_folder, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_sorted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_skips, setup, teardown),
		cmocka_unit_test_setup_teardown(test_put_leaves_no_temporary, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
