/* Whole-file helpers over flt/fileio.h: atomic replace (temp, write, fsync,
 * rename, fsync directory), bounded read of a whole file, mkdir -p, and a
 * read-only map of a file (the runtime's ONNX reader). */
#ifndef FLT_ATOMICFILE_H
#define FLT_ATOMICFILE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "flt/error.h"

/* Replaces PATH with LEN bytes of DATA so that, after a crash or power cut at any
 * instant, PATH holds either its old content (or is absent if it was) or the new
 * content, never a mix. Steps: create ".<name>.tmp-<pid>-<n>" in PATH's directory
 * with MODE exactly (not subject to umask; 0600 for keys), write, fsync, close,
 * rename over PATH, fsync the directory.
 *
 * FP names the failpoints (NULL: "atomic"): FP.open, FP.write, FP.fsync, FP.close,
 * FP.rename, FP.dirsync (e.g. FP "agent.state" -> "agent.state.rename").
 *
 * Errors: those of flt/fileio.h (FLT_EIO, FLT_ELIMIT for a full disk, FLT_EAUTH,
 * FLT_ENOTFOUND when the directory is missing); FLT_EINVAL for an empty or too long
 * path. On any failure before the rename PATH is untouched and the temp file is
 * removed; if only the final directory fsync fails PATH already holds the new
 * content (FLT_EIO: it may not survive a power cut). */
flt_err flt_file_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
                              const char *fp) FLT_WUR;

/* Removes temp files ".<name>.tmp-*" that an interrupted flt_file_write_atomic(PATH)
 * left in PATH's directory (call at start-up, before writing PATH). Returns how many
 * were removed; missing directory counts as none. */
size_t flt_file_remove_stale_temps(const char *path);

/* Reads the whole regular file PATH. *OUT receives an allocated buffer (flt_free) of
 * *LEN bytes plus a terminating NUL not counted in *LEN, so text can be used as a
 * string; set only on success. FLT_ENOTFOUND: no such file; FLT_ELIMIT: larger than
 * MAX bytes; FLT_EINVAL: not a regular file; FLT_ENOMEM; FLT_EIO. FP guards the
 * open and read (FP.open, FP.read; NULL: "readfile"). */
flt_err flt_file_read_all(const char *path, size_t max, uint8_t **out, size_t *len,
                          const char *fp) FLT_WUR;

/* mkdir -p: creates PATH and every missing parent with MODE (umask applies) and makes
 * each new directory durable (fsync of its parent). An existing directory is fine;
 * FLT_ECONFLICT if a component exists and is not a directory; FLT_EINVAL for an
 * empty or too long path. FP guards each mkdir (FP.mkdir, FP.dirsync; NULL: "mkdirs"). */
flt_err flt_file_mkdirs(const char *path, mode_t mode, const char *fp) FLT_WUR;

/* A read-only, private map of a whole file. An empty file maps to a valid
 * non-NULL DATA with SIZE 0. */
struct flt_file_map {
	const uint8_t *data;
	size_t size;
	size_t map_len_; /* private: what to munmap (0 for an empty file) */
};

/* Maps PATH read-only. *MAP set only on success. FLT_ENOTFOUND, FLT_EINVAL (not a
 * regular file), FLT_ELIMIT (larger than the address space allows, e.g. > 4 GiB on
 * 32-bit), FLT_ENOMEM, FLT_EIO. The file must not shrink while mapped (SIGBUS). */
flt_err flt_file_map(const char *path, struct flt_file_map *map) FLT_WUR;

/* Unmaps and zeroes MAP; accepts NULL and an already unmapped or zeroed map. */
void flt_file_unmap(struct flt_file_map *map);

#endif
