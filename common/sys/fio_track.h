/* Private link between the failpoints (failpoint.c) and the file-I/O wrapper's
 * unsynced-state tracking (fileio.c): who turns tracking on, and the power-cut undo. */
#ifndef FLT_SYS_FIO_TRACK_H
#define FLT_SYS_FIO_TRACK_H

#include <stdbool.h>
#include <stddef.h>

/* Reads FLT_FAILPOINTS once per process (first call wins). */
void fp_ensure_init(void);
/* Lock-free: is unsynced-state tracking on? */
bool fp_tracking_on(void);

/* Drops every tracking record (the current state becomes the durable one). */
void fio_track_reset(void);
/* Rolls the file system back to its durable state as seen by the wrapper and
 * leaves the tracking lock held, so no other thread writes before the caller dies. */
void fio_track_powercut(void);
void fio_track_stats(size_t *files, size_t *ops, size_t *bytes);

#endif
