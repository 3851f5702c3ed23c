/* The agent's durable outbound queue (one SQLite file, e.g. <data>/queue.db):
 * telemetry samples and events are written here first, sent in batches with
 * per-stream sequence numbers, and deleted only when the controller acknowledges
 * them on the retained down/ack topic. Design and receiver rules: docs/telemetry.md.
 *
 * Streams are named by identifiers ("telemetry", "events"; the flt/ident.h rule) and
 * created on first use. Each stream has an epoch (random, 1..2^53-1, so JSON-safe),
 * chosen when the stream is created in a new or reset queue, and sequence numbers that
 * start at 1 and grow by exactly 1 per append within the epoch. A receiver deduplicates
 * by (device, stream, epoch, seq).
 *
 * Bounded in bytes: every item costs its length plus FLT_TQ_ITEM_OVERHEAD. When an
 * append would pass the bound, the oldest items of the stream holding the most bytes
 * are deleted first (so a flood of telemetry cannot push out the rarer events) and
 * that stream's dropped counter grows; the counter is persisted and is cumulative
 * within the epoch, so a re-sent batch never double-counts.
 *
 * Threads: a queue is used by one thread at a time (the daemon loop); different
 * queues are independent. The file is locked exclusively while open: a second
 * opener (another process or handle) gets FLT_EBUSY.
 */
#ifndef FLT_TELEMETRY_QUEUE_H
#define FLT_TELEMETRY_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flt/error.h"
#include "flt/ident.h"

/* Bytes charged to every item on top of its payload (row and index overhead,
 * and so that empty items still count against the bound). */
#define FLT_TQ_ITEM_OVERHEAD 32u
/* Most streams one queue holds. */
#define FLT_TQ_MAX_STREAMS 8
/* Smallest byte bound accepted by flt_tq_open. */
#define FLT_TQ_MIN_BYTES 4096u
/* Largest epoch: 2^53 - 1, exact in a JSON number. */
#define FLT_TQ_EPOCH_MAX ((uint64_t)9007199254740991ULL)

struct flt_tq;

/* What flt_tq_open found. */
struct flt_tq_open_report {
	/* true when an existing file could not be used (not a database, failed the
	 * integrity check, wrong schema, empty) and a fresh queue was started: every
	 * sample it held is lost and the daemon should report it as an event. */
	bool reset;
	/* why, a static string ("not a database", "integrity check failed", ...);
	 * NULL when !reset. */
	const char *reason;
	/* where the old file went ("<path>.corrupt-<unix time>"), borrowed from the
	 * queue and valid until flt_tq_close; NULL when !reset or nothing was kept. */
	const char *moved_to;
};

/* Opens the queue at PATH (created if absent) bounded to MAX_BYTES
 * (>= FLT_TQ_MIN_BYTES). A file that is corrupt or not a queue is renamed to
 * "<path>.corrupt-<unix time>" (its -wal beside it; only the newest such file is
 * kept, older ones are deleted so repeated corruption cannot fill the disk) and a
 * fresh queue with new epochs starts; REP (may be NULL) says so.
 * If the file already holds more than MAX_BYTES (the bound was lowered), the oldest
 * items are dropped at the next append.
 * Errors: FLT_EINVAL (NULL path/out, bound too small), FLT_EBUSY (another process has
 * the queue open), FLT_EIO (cannot open or create the file, or move a corrupt one
 * aside: e.g. missing directory, permissions, disk errors), FLT_ENOMEM.
 * On success *OUT is owned by the caller (flt_tq_close) and *REP is set. */
FLT_WUR flt_err flt_tq_open(const char *path, uint64_t max_bytes, struct flt_tq **out,
                            struct flt_tq_open_report *rep);

/* Closes the queue. Everything appended is already durable. NULL is a no-op. */
void flt_tq_close(struct flt_tq *q);

/* Appends one item of LEN bytes (copied; may be 0) to STREAM in one transaction that
 * is durable (synced) when this returns FLT_OK; *SEQ (may be NULL) gets its sequence
 * number. Drops the oldest items first if needed to stay within the bound.
 * Errors: FLT_EINVAL (bad stream name, NULL data with len > 0), FLT_ELIMIT (the item
 * alone is larger than the bound, or FLT_TQ_MAX_STREAMS streams exist already),
 * FLT_EIO (SQLite failed: nothing was appended or dropped; if it persists, close and
 * reopen the queue, which recovers a corrupt file), FLT_ENOMEM. */
FLT_WUR flt_err flt_tq_append(struct flt_tq *q, const char *stream, const void *data, size_t len,
                              uint64_t *seq);

struct flt_tq_item {
	uint64_t seq;
	uint8_t *data; /* owned by the batch */
	size_t len;
};

/* A run of consecutive items of one stream, in sequence order. */
struct flt_tq_batch {
	char stream[FLT_IDENT_MAX + 1];
	uint64_t epoch;
	uint64_t first_seq, last_seq; /* of items[0] and items[n - 1] */
	/* lowest sequence the queue still holds for this stream (<= first_seq): the
	 * receiver may treat every seq below it that it does not have as dropped by the
	 * device, and must not wait for it. */
	uint64_t low_seq;
	/* items of this stream dropped because the queue was full, cumulative since
	 * the epoch began (the receiver keeps the maximum it saw). */
	uint64_t dropped;
	size_t n;
	size_t bytes; /* sum of the items' lengths */
	struct flt_tq_item *items;
};

/* Returns the next items of STREAM to send: those after the send cursor, at most
 * MAX_ITEMS (>= 1) and MAX_BYTES of payload (always at least one item, even one
 * larger than MAX_BYTES), and moves the cursor past them. The cursor starts (at open)
 * at the lowest un-acknowledged item; flt_tq_rewind puts it back there, which the
 * sender does after a reconnect or when a publish failed, so everything not
 * acknowledged is sent again.
 * Errors: FLT_ENOTFOUND (nothing to send: unknown stream or cursor at the end),
 * FLT_EINVAL, FLT_EIO, FLT_ENOMEM. On success *OUT is owned by the caller
 * (flt_tq_batch_free). Memory is bounded by MAX_ITEMS and MAX_BYTES. */
FLT_WUR flt_err flt_tq_next_batch(struct flt_tq *q, const char *stream, size_t max_items,
                                  size_t max_bytes, struct flt_tq_batch **out);

void flt_tq_batch_free(struct flt_tq_batch *b);

/* Puts STREAM's send cursor back to its lowest un-acknowledged item. Unknown
 * streams are ignored. */
void flt_tq_rewind(struct flt_tq *q, const char *stream);

/* Applies an acknowledgement from the controller: deletes STREAM's items with
 * sequence <= SEQ, in one transaction, if EPOCH is the stream's current epoch. An
 * ack for another epoch or an unknown stream, or one not above an earlier ack, is
 * ignored (FLT_OK, *DELETED = 0): retained acks from before a reset are harmless. An
 * ack beyond the last assigned sequence is clamped to it (and logged): everything
 * queued is deleted and future sequences are unaffected. *DELETED (may be NULL) gets
 * the number of items deleted. Errors: FLT_EINVAL, FLT_EIO. */
FLT_WUR flt_err flt_tq_ack(struct flt_tq *q, const char *stream, uint64_t epoch, uint64_t seq,
                           size_t *deleted);

struct flt_tq_stream_info {
	uint64_t epoch;
	uint64_t next_seq; /* the sequence the next append gets */
	uint64_t acked;    /* highest acknowledged sequence in this epoch (0: none) */
	uint64_t dropped;  /* cumulative in this epoch */
	uint64_t items;    /* queued, not yet acknowledged */
	uint64_t bytes;    /* charged bytes of those items */
};

/* Describes STREAM. FLT_ENOTFOUND if it does not exist yet (no append since the
 * queue was created), FLT_EINVAL. */
FLT_WUR flt_err flt_tq_stream_info(const struct flt_tq *q, const char *stream,
                                   struct flt_tq_stream_info *out);

/* Charged bytes of everything queued (<= the bound after any append). */
uint64_t flt_tq_bytes(const struct flt_tq *q);

#endif
