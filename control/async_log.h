/* The asynchronous queue's log: segment files of checksummed entries, made durable in groups. */
#ifndef TURBINE_ASYNC_LOG_H
#define TURBINE_ASYNC_LOG_H

#include <stddef.h>
#include <stdint.h>

/*
 * A directory of segment files, queue-<16 hex digits>.log, numbered from 1
 * upwards. Each entry is a 16-byte header (magic, payload length, CRC32C of
 * the payload, reserved) and its payload; the log does not look inside
 * payloads (async_record.h encodes them). Appends go to a buffer;
 * async_log_sync() writes the buffer and calls fdatasync once for all of it
 * (group commit): only then are the entries durable. A segment that reaches
 * its size is closed and the next append opens a new one (its directory
 * entry is made durable by the next sync).
 *
 * Reclaiming: the owner says which entries still matter. It holds a segment
 * for every unfinished event whose entry lives there and releases it when
 * the event is finished; async_log_keep_until() keeps a segment at least
 * until a given time (an idempotency key's window). Segments are removed
 * oldest first, never the one being written: a later segment may hold the
 * "finished" entry of an event in an earlier one, so removing out of order
 * could bring a finished event back on replay.
 *
 * One thread uses a log at a time (not thread-safe). A second process
 * opening the same directory is refused (an exclusive flock on a lock file).
 */
struct async_log;

struct async_log_stats {
	uint64_t segments;        /* segment files present */
	uint64_t first_segment;   /* the oldest present */
	uint64_t bytes;           /* bytes in them */
	uint64_t appended;        /* entries appended since open */
	uint64_t syncs;           /* fdatasync calls since open */
	uint64_t reclaimed;       /* segments removed since open */
	uint64_t torn;            /* entries found damaged on replay (and ignored) */
	uint64_t sync_ns_last;    /* how long the last fdatasync took */
};

#define ASYNC_LOG_SEGMENT_BYTES (64u << 20)
#define ASYNC_LOG_MAX_ENTRY (64u << 10)

/*
 * Open (creating the directory and its parents if needed) the log in `dir`.
 * segment_bytes: when a segment is closed (0: ASYNC_LOG_SEGMENT_BYTES).
 * Returns 0, or a negative errno with err set (the directory is locked by
 * another process: -EBUSY).
 */
int async_log_open(const char *dir, uint64_t segment_bytes, struct async_log **out,
		   char *err, size_t errlen);

/*
 * Hand every intact entry to cb in order (segments in number order, entries
 * in file order), once, after open and before the first append. A segment's
 * entries end at the first that is damaged (bad magic, length past the end,
 * CRC mismatch: a write torn by a crash); that tail is counted in torn and
 * ignored, and the next append starts a new segment. cb returning non-zero
 * stops the replay with that value. Returns 0, cb's value, or a negative errno.
 */
typedef int (*async_log_entry_cb)(void *arg, uint64_t segment, const uint8_t *payload,
				  uint32_t len);
int async_log_replay(struct async_log *log, async_log_entry_cb cb, void *arg);

/*
 * Buffer one entry (1 .. ASYNC_LOG_MAX_ENTRY bytes). *segment: the segment it
 * lands in. Not durable until async_log_sync(). Returns 0 or a negative errno.
 */
int async_log_append(struct async_log *log, const void *payload, uint32_t len, uint64_t *segment);

/* Bytes appended and not yet synced. */
size_t async_log_pending(const struct async_log *log);

/* Write what is buffered and make it durable with one fdatasync. Returns 0 or a negative errno. */
int async_log_sync(struct async_log *log);

/* One more / one fewer unfinished event lives in `segment`. */
void async_log_hold(struct async_log *log, uint64_t segment);
void async_log_release(struct async_log *log, uint64_t segment);

/* Keep `segment` at least until `until_ns` (CLOCK_REALTIME ns). */
void async_log_keep_until(struct async_log *log, uint64_t segment, uint64_t until_ns);

/*
 * Remove, oldest first, every segment that is neither held, nor kept past
 * now_ns, nor the one being written. Returns how many were removed.
 */
unsigned int async_log_reclaim(struct async_log *log, uint64_t now_ns);

/*
 * The oldest segment that is still held and how many events hold it (0, 0
 * when none): the owner appends those events again, to the current segment,
 * when one old event would otherwise keep every later segment on disk.
 */
uint64_t async_log_oldest_held(const struct async_log *log, uint64_t *holders);

/* The segment appends go to now. */
uint64_t async_log_current(const struct async_log *log);

void async_log_stats(const struct async_log *log, struct async_log_stats *st);

/* Sync what is pending and close. NULL is a no-op. */
void async_log_close(struct async_log *log);

#endif /* TURBINE_ASYNC_LOG_H */
