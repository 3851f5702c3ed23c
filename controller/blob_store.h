/* Private: the content-addressed blob store, <data-dir>/blobs/sha256/<aa>/<hex>.
 * Files are written atomically and named by the SHA-256 of their bytes, so the
 * same bytes are stored once. Rows in `blobs` and every unlink happen under
 * the registry's write lock, which is what keeps GC and registration apart. */
#ifndef BLOB_STORE_H
#define BLOB_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "registry_db.h"

#define BLOB_HEX_LEN 64

/* Lowercase hex SHA-256 of buf into hex[65]. */
FLT_WUR flt_err blob_sha256_hex(const void *buf, size_t len, char hex[BLOB_HEX_LEN + 1]);

/* Returns 1 when hex is 64 lowercase hex digits. */
int blob_hex_valid(const char *hex);

/* Writes <root>/<aa>/<hex> into out. */
FLT_WUR flt_err blob_path(const char *root, const char *hex, char *out, size_t cap);

/* Stores `buf` under its hash unless a file is already there. *hex gets the
 * hash; *created (optional) is 1 when this call wrote the file. */
FLT_WUR flt_err blob_put(const char *root, const void *buf, size_t len, char hex[BLOB_HEX_LEN + 1],
                         int *created);

/* Inside a write transaction: makes sure the blob file exists (rewriting it
 * from buf if a concurrent GC removed it) and records its row. */
FLT_WUR flt_err blob_pin(struct flt_registry *r, const char *hex, const void *buf, size_t len);

/* Inside a write transaction: deletes the row and the file of `hex` when
 * nothing references it. *removed (optional) set to 1 when it did. */
FLT_WUR flt_err blob_drop_if_unreferenced(struct flt_registry *r, const char *hex, int *removed);

/* Collects every unreferenced blob (rows and files, including stray files
 * without a row and temp files of crashed writers). Runs its own write
 * transaction. *n_removed / *bytes_removed count what went. */
FLT_WUR flt_err blob_gc(struct flt_registry *r, uint64_t *n_removed, uint64_t *bytes_removed);

#endif
