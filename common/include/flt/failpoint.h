/* Named failpoints: tests arm a name with an action (fail, die, or simulate a
 * power cut) and the code that passes that name — the file-I/O wrapper
 * (flt/fileio.h) or an FLT_FAILPOINT() site — fires it. Process-wide by nature.
 *
 * Arming
 *   By API:   flt_fp_set("install.chunk.write", "error@3");
 *   By env:   FLT_FAILPOINTS="install.chunk.write=powercut@3;state.rename=crash"
 *             read at the first failpoint check or file-I/O call of the process
 *             (or explicitly with flt_fp_load_env()), so integration tests can arm
 *             agent subprocesses. A malformed variable arms nothing and is logged
 *             as one error naming what was wrong; it never crashes.
 *
 * Spec:  ACTION | ACTION@N | ACTION@N+
 *   ACTION is one of
 *     off       disarm the name
 *     error     the call fails with EIO (FLT_EIO) and does nothing
 *     enospc    the call fails with ENOSPC (FLT_ELIMIT) and does nothing
 *     crash     the process dies at once (SIGKILL: no atexit, no flushing), as kill -9
 *     powercut  everything written through flt/fileio.h and not yet made durable is
 *               dropped (see the model below), then the process dies as for crash
 *   no @      fires on every hit; @N fires on the Nth hit only (1-based);
 *   @N+       fires on the Nth and every later hit.
 * Names are [A-Za-z0-9._-]+; a name ending in '*' matches every name with that
 * prefix ("install.*"). An exact name wins over a prefix. At most 64 armed names.
 * Every action fires *before* the operation it guards.
 *
 * Power-cut model (what "powercut" simulates)
 *   Tracking of unsynced state is on only once a failpoint has been armed, FLT_FAILPOINTS
 *   is set (even empty) or flt_fp_track(true) was called; otherwise the wrapper costs one
 *   atomic load per call and keeps nothing. While tracking, for operations made through
 *   flt/fileio.h:
 *   - file contents: every byte written (write, pwrite, ftruncate, O_TRUNC) since the
 *     last fsync/fdatasync of that file is lost: the file is cut back to its length at
 *     that sync and overwritten ranges get their old bytes back. This covers appends
 *     to new files, pwrite into a preallocated file, and rewrites.
 *   - names: creating a file, mkdir, rename, unlink and rmdir are durable only after
 *     flt_fio_fsync_dir() of the directory holding the name (both directories for a
 *     rename across directories). Undone in reverse order: a created file or directory
 *     (with everything under it) disappears, a rename is reversed and the file it
 *     replaced comes back, an unlinked file comes back with its content.
 *   - files are treated as new or old as the wrapper saw them: what existed when tracking
 *     started, or when a file was first modified through the wrapper, counts as durable.
 * What it does not simulate
 *   - partial persistence: real disks may keep any subset of unsynced pages, reorder
 *     writes or tear a sector; we model only the worst orderly case (nothing unsynced
 *     survives). Code that is correct here can still mishandle a torn write, so
 *     content checks (hashes) stay necessary.
 *   - filesystems that make a new file's name durable with the file's fsync (ext4
 *     usually does); we are stricter: the directory must be fsynced.
 *   - writes made outside flt/fileio.h: SQLite (which manages its own durability with
 *     its journal/WAL and is not covered), stdio, mmap writes, other processes. Those
 *     are treated as durable the moment they are made.
 *   - hard links, xattrs, permission changes.
 *   Tracking memory is bounded (128 MiB of saved old bytes, 256 files and 256 pending
 *   name operations holding descriptors); past that the simulation is marked
 *   incomplete and powercut says so on stderr before dying.
 *
 * Threads: all functions are thread-safe. While tracking, file-I/O calls are serialised
 * by one lock so a power cut sees a consistent state.
 */
#ifndef FLT_FAILPOINT_H
#define FLT_FAILPOINT_H

#include <stdbool.h>
#include <stddef.h>

#include "flt/error.h"

/* The environment variable read at first use. */
#define FLT_FP_ENV "FLT_FAILPOINTS"

/* Checks the failpoint NAME (NULL: never fires). Returns FLT_OK when it does not
 * fire; FLT_EIO (errno EIO) for "error"; FLT_ELIMIT (errno ENOSPC) for "enospc";
 * never returns for "crash" and "powercut". */
flt_err flt_fp_check(const char *name) FLT_WUR;

/* A failpoint at a place that is not a file-I/O call, e.g.
 *   flt_err e = FLT_FAILPOINT("install.hash.mid"); if (e) goto out; */
#define FLT_FAILPOINT(name) flt_fp_check(name)

/* Arms NAME with SPEC (grammar above); "off" disarms. Turns tracking on.
 * FLT_EINVAL: bad name or spec (ERR, if not NULL, gets a one-line reason);
 * FLT_ELIMIT: 64 names already armed. */
flt_err flt_fp_set(const char *name, const char *spec) FLT_WUR;

/* Arms a list "name=spec;name2=spec2" (whitespace around items ignored, empty
 * items skipped). All or nothing: on FLT_EINVAL nothing changes and ERR (ERRLEN
 * bytes, may be NULL) says which item was wrong and why; FLT_ELIMIT as above. */
flt_err flt_fp_configure(const char *list, char *err, size_t errlen) FLT_WUR;

/* (Re)reads FLT_FAILPOINTS and arms it with flt_fp_configure(). Unset: FLT_OK and
 * nothing changes. Set (even empty): tracking turns on. Errors as for configure.
 * The first failpoint check or file-I/O call of the process does this once
 * and logs an error if it fails; daemons may call it at start to refuse a bad
 * variable with a usage error instead. */
flt_err flt_fp_load_env(char *err, size_t errlen) FLT_WUR;

/* Disarms every failpoint and zeroes their counters. Tracking stays as it is. */
void flt_fp_clear_all(void);

/* Turns unsynced-state tracking on or off. Off drops everything tracked so far
 * (the current state becomes the durable one). */
void flt_fp_track(bool on);
bool flt_fp_tracking(void);

/* Hits counted on armed name NAME (exact armed name, including a trailing '*');
 * 0 if not armed. Counts only while armed. */
unsigned long flt_fp_hits(const char *name);

/* What the power-cut tracking holds now: files with unsynced data, pending name
 * operations, saved old bytes. For tests of the "nothing kept when off" promise. */
void flt_fp_tracking_stats(size_t *files, size_t *ops, size_t *bytes);

#endif
