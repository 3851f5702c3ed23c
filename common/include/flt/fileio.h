/* The file-I/O wrapper every Flotilla component uses for persistent state: thin
 * calls over open/write/pwrite/read/fsync/rename/... that check a named
 * failpoint first (flt/failpoint.h) and, when a test turned tracking on, record
 * what is not yet durable so a simulated power cut can drop it.
 *
 * Every call takes FP, the failpoint name guarding it (NULL for none). Names are
 * dotted, component first: "install.chunk.write", "state.rename". Failpoint
 * errors come back exactly like real ones (FLT_EIO / FLT_ELIMIT, errno set).
 *
 * Errors are errno translated with flt_err_from_errno(): FLT_ENOTFOUND (ENOENT),
 * FLT_ECONFLICT (EEXIST, ENOTEMPTY), FLT_EAUTH (EACCES/EPERM), FLT_ELIMIT (ENOSPC,
 * EFBIG, EDQUOT), FLT_EIO otherwise; errno is left set for callers that need it.
 * The wrapper does not log: the caller knows what the failure means.
 *
 * Durability rules for callers (the power-cut model holds you to them):
 *   - data is durable after flt_fio_fsync()/flt_fio_fdatasync() of the file;
 *   - a new name (create, mkdir, rename, unlink) is durable after
 *     flt_fio_fsync_dir() of its directory;
 *   - SQLite is not covered: it syncs its own files.
 * For whole small files use flt/atomicfile.h, which does all of this.
 */
#ifndef FLT_FILEIO_H
#define FLT_FILEIO_H

#include <stddef.h>
#include <sys/types.h>

#include "flt/error.h"

/* open(2) with O_CLOEXEC added. *FD set only on success. */
flt_err flt_fio_open(const char *path, int flags, mode_t mode, int *fd, const char *fp) FLT_WUR;

/* Writes all LEN bytes at the current offset (retries short writes and EINTR).
 * On failure some bytes may have been written. */
flt_err flt_fio_write(int fd, const void *buf, size_t len, const char *fp) FLT_WUR;

/* Writes all LEN bytes at OFF (retries short writes and EINTR); the offset of FD
 * does not move. */
flt_err flt_fio_pwrite(int fd, const void *buf, size_t len, off_t off, const char *fp) FLT_WUR;

/* Reads up to LEN bytes at the current offset, retrying EINTR and short reads until
 * LEN bytes or end of file. *GOT (bytes read, 0 at end of file) set on success. */
flt_err flt_fio_read(int fd, void *buf, size_t len, size_t *got, const char *fp) FLT_WUR;

/* As flt_fio_read, at OFF, without moving the offset. */
flt_err flt_fio_pread(int fd, void *buf, size_t len, off_t off, size_t *got,
                      const char *fp) FLT_WUR;

flt_err flt_fio_fsync(int fd, const char *fp) FLT_WUR;
flt_err flt_fio_fdatasync(int fd, const char *fp) FLT_WUR;

/* ftruncate(2): shrink or extend (with zeros) to LEN. */
flt_err flt_fio_ftruncate(int fd, off_t len, const char *fp) FLT_WUR;

/* Makes the file at least LEN bytes with the blocks reserved where the platform
 * can (posix_fallocate), else extends with ftruncate. Never shrinks. FLT_ELIMIT when
 * the disk is full. */
flt_err flt_fio_preallocate(int fd, off_t len, const char *fp) FLT_WUR;

/* Closes FD (-1 is a no-op returning FLT_OK). The descriptor is gone even on
 * error (EINTR is not retried, as on Linux). Data is not made durable by closing. */
flt_err flt_fio_close(int fd, const char *fp);

/* rename(2): atomically replaces TO. Durable after flt_fio_fsync_dir() of the
 * directory (both directories if they differ). */
flt_err flt_fio_rename(const char *from, const char *to, const char *fp) FLT_WUR;

/* unlink(2). FLT_ENOTFOUND if it did not exist. */
flt_err flt_fio_unlink(const char *path, const char *fp) FLT_WUR;

/* mkdir(2) with MODE (umask applies). FLT_ECONFLICT if it exists. */
flt_err flt_fio_mkdir(const char *path, mode_t mode, const char *fp) FLT_WUR;

/* rmdir(2). FLT_ECONFLICT if not empty, FLT_ENOTFOUND if absent. */
flt_err flt_fio_rmdir(const char *path, const char *fp) FLT_WUR;

/* symlink(2): creates LINKPATH pointing at TARGET. With flt_fio_rename() over an
 * existing link this is an atomic switch ("current" -> "v7"); durable after
 * flt_fio_fsync_dir(). FLT_ECONFLICT if LINKPATH exists. */
flt_err flt_fio_symlink(const char *target, const char *linkpath, const char *fp) FLT_WUR;

/* Makes the entries of directory DIR durable (open, fsync, close). */
flt_err flt_fio_fsync_dir(const char *dir, const char *fp) FLT_WUR;

/* flt_fio_fsync_dir() of the directory that holds PATH ("." for a bare name). */
flt_err flt_fio_fsync_parent(const char *path, const char *fp) FLT_WUR;

#endif
