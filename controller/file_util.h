/* Private: whole-file reads with a size cap, atomic writes (temp + fsync +
 * rename + directory fsync) and directory creation for the registry. */
#ifndef FILE_UTIL_H
#define FILE_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "flt/error.h"

/* Reads a regular file into a new buffer (owned by the caller, one extra NUL
 * byte after the data). Errors: FLT_ENOTFOUND, FLT_EAUTH (permission),
 * FLT_EINVAL (not a regular file), FLT_ELIMIT (above max), FLT_EIO, FLT_ENOMEM.
 * On failure *why (optional) gets a static or strerror text. */
FLT_WUR flt_err fu_read_file(const char *path, uint64_t max, unsigned char **buf, size_t *len,
			     const char **why);

/* Writes `len` bytes to `path` atomically with `mode`: readers see the old
 * file or the whole new one, also after a crash. Errors: FLT_EIO, FLT_ELIMIT (disk full), ... */
FLT_WUR flt_err fu_write_atomic(const char *path, const void *buf, size_t len, unsigned mode);

/* fsyncs a directory so a rename or unlink in it is durable. */
FLT_WUR flt_err fu_fsync_dir(const char *dir);

/* mkdir -p with mode 0750. */
FLT_WUR flt_err fu_mkdir_p(const char *path);

#endif
