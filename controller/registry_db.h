/* Private: the registry's SQLite adapter. The only file that calls SQLite for
 * the registry; translates its codes to flt_err and logs them once. */
#ifndef REGISTRY_DB_H
#define REGISTRY_DB_H

#include <sqlite3.h>
#include <stdint.h>

#include "flt/registry.h"
#include "registry_sql.h"

struct flt_registry {
	sqlite3 *db;
	char *data_dir;  /* owned */
	char *blob_root; /* owned: <data_dir>/blobs/sha256 */
	char *db_path;   /* owned */
	sqlite3_stmt *stmts[REG_Q_COUNT_];
	const char *q_sql[REG_Q_COUNT_]; /* borrowed from the embedded text */
	int q_len[REG_Q_COUNT_];
};

/* Milliseconds since the Unix epoch. */
int64_t reg_now_ms(void);

/* Translates a SQLite result code, logging it once with the raw code and
 * message; `what` names the operation. Constraint violations log at debug. */
flt_err reg_sqlerr(struct flt_registry *r, int rc, const char *what);

/* Returns the cached prepared statement for `q`, reset and with bindings cleared. */
FLT_WUR flt_err reg_stmt(struct flt_registry *r, enum reg_q q, sqlite3_stmt **out);

/* Binds parameters 1..n from a format: 't' text, 'T' text or NULL, 'i' int64,
 * 'I' int64 or NULL (pass a const int64_t *), 'd' double, 'D' double or NULL
 * (pass a const double *). */
FLT_WUR flt_err reg_bind(struct flt_registry *r, sqlite3_stmt *st, const char *fmt, ...);

/* Steps once: *row = 1 for a row, 0 when done. */
FLT_WUR flt_err reg_step(struct flt_registry *r, sqlite3_stmt *st, int *row);

/* Prepares `q`, binds, steps to completion. Returns FLT_OK on SQLITE_DONE. */
FLT_WUR flt_err reg_exec(struct flt_registry *r, enum reg_q q, const char *fmt, ...);

/* Prepares `q`, binds, steps once and reads column 0 as int64. FLT_ENOTFOUND without a row. */
FLT_WUR flt_err reg_query_int(struct flt_registry *r, enum reg_q q, int64_t *out, const char *fmt,
                              ...);

/* Runs raw SQL (only embedded migration text and fixed pragmas). */
FLT_WUR flt_err reg_exec_raw(struct flt_registry *r, const char *sql, const char *what);

/* BEGIN IMMEDIATE, retried on SQLITE_BUSY past busy_timeout a bounded number of times. */
FLT_WUR flt_err reg_begin(struct flt_registry *r);
/* COMMIT (retried on busy); on failure the transaction is rolled back. */
FLT_WUR flt_err reg_commit(struct flt_registry *r);
/* ROLLBACK if a transaction is open; never fails from the caller's view. */
void reg_rollback(struct flt_registry *r);
/* BEGIN (deferred) for a consistent read snapshot across several queries. */
FLT_WUR flt_err reg_begin_read(struct flt_registry *r);

/* Applies pending migrations. Errors as flt_registry_open. */
FLT_WUR flt_err reg_migrate(struct flt_registry *r);

/* Reads the applied schema version (0 for an empty database). */
FLT_WUR flt_err reg_schema_version(struct flt_registry *r, int *out);

#endif
