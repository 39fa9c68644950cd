/* The queue's destination folders: one file per record, for the dead-letter queue and the success log. */
#ifndef TURBINE_ASYNC_STORE_H
#define TURBINE_ASYNC_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "async_record.h"

/*
 * Under the queue's directory: dlq/ (failed events, async_stored_pack()),
 * success/ (the `log` destination, the same format) and redrive/ (events
 * an operator sent back: async_entry_enqueue() entries, which the running
 * queue, or the next one to start, enqueues and removes). A file is named
 * by its event id, <uuid>.mp, and written whole under a temporary name then
 * renamed, so a reader sees it complete or not at all; turbine-dlq and the
 * dispatcher may use a folder at the same time.
 */
enum async_store_kind {
	ASYNC_STORE_DLQ,
	ASYNC_STORE_SUCCESS,
	ASYNC_STORE_REDRIVE,
};

const char *async_store_folder(enum async_store_kind kind);  /* "dlq", "success", "redrive" */

/* Create the three folders under dir (and dir). Returns 0 or a negative errno with err set. */
int async_store_init(const char *dir, char *err, size_t errlen);

/* Write one file; durable only after async_store_sync() (or with sync = true). 0 or -errno. */
int async_store_put(const char *dir, enum async_store_kind kind, const struct async_event_id *id,
		    const void *data, size_t len, bool sync);

/* Make every put so far durable (files and folder entries): one syncfs for a batch. */
int async_store_sync(const char *dir);

/* Read one file into a malloc'd buffer (*data, *len). 0, -ENOENT or another -errno. */
int async_store_get(const char *dir, enum async_store_kind kind, const struct async_event_id *id,
		    uint8_t **data, size_t *len);

/* Remove one file (and make that durable). 0, -ENOENT or another -errno. */
int async_store_remove(const char *dir, enum async_store_kind kind, const struct async_event_id *id);

/*
 * Every file's id, in name order (ids of files not named like one are
 * skipped). *ids malloc'd. Returns how many, or a negative errno.
 */
int async_store_list(const char *dir, enum async_store_kind kind, struct async_event_id **ids);

#endif /* TURBINE_ASYNC_STORE_H */
