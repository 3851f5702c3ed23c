/* Private: a minimal POSIX ustar writer and reader, used for golden-vector
 * bundles and backup files. Regular files only; names up to 255 bytes
 * (prefix + name split); sizes up to 8 GiB - 1 (11 octal digits). */
#ifndef TAR_IO_H
#define TAR_IO_H

#include <stdint.h>
#include <stdio.h>

#include "flt/error.h"

/* Appends one member. Errors: FLT_EINVAL (name too long), FLT_ELIMIT (size), FLT_EIO. */
FLT_WUR flt_err tar_write_member(FILE *f, const char *name, const void *data, uint64_t len,
                                 unsigned mode);

/* Copies `len` bytes from file `src` as one member (for large blobs). */
FLT_WUR flt_err tar_write_file(FILE *f, const char *name, FILE *src, uint64_t len, unsigned mode);

/* Writes the two zero blocks that end an archive. */
FLT_WUR flt_err tar_write_end(FILE *f);

/* Reads the next member header: *name gets the member name (buf of 256+),
 * *len its size. *end = 1 at the end-of-archive marker. The member's data
 * follows; read it with tar_read_data. Errors: FLT_EPARSE (bad header or
 * checksum, truncated), FLT_EIO. */
FLT_WUR flt_err tar_read_header(FILE *f, char name[257], uint64_t *len, int *end);

/* Reads exactly len data bytes plus padding, passing chunks to `sink`
 * (return non-zero to abort with FLT_EIO). */
FLT_WUR flt_err tar_read_data(FILE *f, uint64_t len,
                              int (*sink)(void *arg, const void *p, size_t n), void *arg);

#endif
