/* The registry's SQLite adapter: open with WAL and foreign keys, prepared
 * statement cache over the embedded named queries, bounded BEGIN IMMEDIATE
 * retry, and the one place SQLite codes become flt_err. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define FLT_LOG_MODULE "registry"
#include "flt/alloc.h"
#include "flt/log.h"
#include "flt/atomicfile.h"
#include "registry_db.h"

/* busy_timeout covers ordinary contention; the retry loop covers the cases
 * where SQLite returns BUSY without waiting (e.g. a deadlock-avoidance BUSY). */
#define REG_BUSY_TIMEOUT_MS 10000
#define REG_BUSY_RETRIES    20

int64_t reg_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

flt_err reg_sqlerr(struct flt_registry *r, int rc, const char *what)
{
	const char *msg = (r && r->db) ? sqlite3_errmsg(r->db) : sqlite3_errstr(rc);
	flt_err e;
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW: return FLT_OK;
	case SQLITE_BUSY:
	case SQLITE_LOCKED: e = FLT_EBUSY; break;
	case SQLITE_CONSTRAINT: e = FLT_ECONFLICT; break;
	case SQLITE_NOMEM: e = FLT_ENOMEM; break;
	case SQLITE_FULL: e = FLT_ELIMIT; break;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB: e = FLT_EPARSE; break;
	case SQLITE_PERM:
	case SQLITE_AUTH:
	case SQLITE_READONLY: e = FLT_EAUTH; break;
	case SQLITE_IOERR:
	case SQLITE_CANTOPEN:
	case SQLITE_PROTOCOL: e = FLT_EIO; break;
	default: e = FLT_EINTERNAL; break;
	}
	if (e == FLT_ECONFLICT)
		flt_log_dbg("%s: sqlite %d: %s", what, rc, msg);
	else
		flt_log_err("%s: sqlite error %d: %s", what, rc, msg);
	return e;
}

/* Splits the embedded query files into the statements named by the enum. */
static flt_err index_queries(struct flt_registry *r)
{
	static const char marker[] = "-- name: ";
	size_t next = 0;
	for (size_t f = 0; f < reg_n_query_files; f++) {
		const char *p = reg_query_files[f].text;
		while ((p = strstr(p, marker)) != NULL) {
			if (p != reg_query_files[f].text && p[-1] != '\n') {
				p += sizeof(marker) - 1;
				continue;
			}
			const char *name = p + sizeof(marker) - 1;
			const char *eol = strchr(name, '\n');
			if (!eol || next >= REG_Q_COUNT_)
				return FLT_EINTERNAL;
			size_t nlen = (size_t)(eol - name);
			if (strlen(reg_query_names[next]) != nlen ||
			    memcmp(reg_query_names[next], name, nlen) != 0)
				return FLT_EINTERNAL;
			const char *body = eol + 1;
			const char *end = strstr(body, "\n-- name: ");
			if (!end)
				end = body + strlen(body);
			r->q_sql[next] = body;
			r->q_len[next] = (int)(end - body);
			next++;
			p = end;
		}
	}
	return next == REG_Q_COUNT_ ? FLT_OK : FLT_EINTERNAL;
}

flt_err reg_stmt(struct flt_registry *r, enum reg_q q, sqlite3_stmt **out)
{
	if ((unsigned)q >= REG_Q_COUNT_)
		return FLT_EINTERNAL;
	if (!r->stmts[q]) {
		int rc = sqlite3_prepare_v3(r->db, r->q_sql[q], r->q_len[q],
		                            SQLITE_PREPARE_PERSISTENT, &r->stmts[q], NULL);
		if (rc != SQLITE_OK) {
			r->stmts[q] = NULL;
			return reg_sqlerr(r, rc, reg_query_names[q]);
		}
	}
	sqlite3_reset(r->stmts[q]);
	sqlite3_clear_bindings(r->stmts[q]);
	*out = r->stmts[q];
	return FLT_OK;
}

static flt_err vbind(struct flt_registry *r, sqlite3_stmt *st, const char *fmt, va_list ap)
{
	int i = 1, rc = SQLITE_OK;
	for (const char *f = fmt; *f; f++, i++) {
		switch (*f) {
		case 't':
		case 'T': {
			const char *s = va_arg(ap, const char *);
			if (!s && *f == 'T')
				rc = sqlite3_bind_null(st, i);
			else
				rc = sqlite3_bind_text(st, i, s ? s : "", -1, SQLITE_TRANSIENT);
			break;
		}
		case 'i': rc = sqlite3_bind_int64(st, i, va_arg(ap, int64_t)); break;
		case 'I': {
			const int64_t *v = va_arg(ap, const int64_t *);
			rc = v ? sqlite3_bind_int64(st, i, *v) : sqlite3_bind_null(st, i);
			break;
		}
		case 'd': rc = sqlite3_bind_double(st, i, va_arg(ap, double)); break;
		case 'D': {
			const double *v = va_arg(ap, const double *);
			rc = v ? sqlite3_bind_double(st, i, *v) : sqlite3_bind_null(st, i);
			break;
		}
		default: return FLT_EINTERNAL;
		}
		if (rc != SQLITE_OK)
			return reg_sqlerr(r, rc, "bind");
	}
	return FLT_OK;
}

flt_err reg_bind(struct flt_registry *r, sqlite3_stmt *st, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	flt_err e = vbind(r, st, fmt, ap);
	va_end(ap);
	return e;
}

flt_err reg_step(struct flt_registry *r, sqlite3_stmt *st, int *row)
{
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*row = 1;
		return FLT_OK;
	}
	if (rc == SQLITE_DONE) {
		*row = 0;
		return FLT_OK;
	}
	/* Name the statement by its first line so the one log line is useful. */
	char what[96] = "step";
	const char *sql = sqlite3_sql(st);
	while (sql && sql[0] == '-' && sql[1] == '-' && strchr(sql, '\n'))
		sql = strchr(sql, '\n') + 1;
	if (sql) {
		size_t n = strcspn(sql, "\n");
		snprintf(what, sizeof(what), "step '%.*s'", (int)(n > 80 ? 80 : n), sql);
	}
	flt_err e = reg_sqlerr(r, rc, what);
	sqlite3_reset(st);
	return e;
}

flt_err reg_exec(struct flt_registry *r, enum reg_q q, const char *fmt, ...)
{
	sqlite3_stmt *st;
	flt_err e = reg_stmt(r, q, &st);
	if (e)
		return e;
	va_list ap;
	va_start(ap, fmt);
	e = vbind(r, st, fmt, ap);
	va_end(ap);
	if (e)
		return e;
	int row;
	do {
		e = reg_step(r, st, &row);
	} while (!e && row);
	sqlite3_reset(st);
	return e;
}

flt_err reg_query_int(struct flt_registry *r, enum reg_q q, int64_t *out, const char *fmt, ...)
{
	sqlite3_stmt *st;
	flt_err e = reg_stmt(r, q, &st);
	if (e)
		return e;
	va_list ap;
	va_start(ap, fmt);
	e = vbind(r, st, fmt, ap);
	va_end(ap);
	if (e)
		return e;
	int row;
	e = reg_step(r, st, &row);
	if (!e && !row)
		e = FLT_ENOTFOUND;
	if (!e)
		*out = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return e;
}

flt_err reg_exec_raw(struct flt_registry *r, const char *sql, const char *what)
{
	char *msg = NULL;
	int rc = sqlite3_exec(r->db, sql, NULL, NULL, &msg);
	sqlite3_free(msg);
	if (rc != SQLITE_OK)
		return reg_sqlerr(r, rc, what);
	return FLT_OK;
}

static void backoff(int attempt)
{
	struct timespec ts = {0, (long)(1 + attempt) * 5 * 1000000L};
	nanosleep(&ts, NULL);
}

flt_err reg_begin(struct flt_registry *r)
{
	int rc = SQLITE_BUSY;
	for (int i = 0; i < REG_BUSY_RETRIES; i++) {
		rc = sqlite3_exec(r->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
		if ((rc & 0xff) != SQLITE_BUSY)
			break;
		backoff(i);
	}
	return rc == SQLITE_OK ? FLT_OK : reg_sqlerr(r, rc, "BEGIN IMMEDIATE");
}

flt_err reg_begin_read(struct flt_registry *r)
{
	return reg_exec_raw(r, "BEGIN", "BEGIN");
}

flt_err reg_commit(struct flt_registry *r)
{
	int rc = SQLITE_BUSY;
	for (int i = 0; i < REG_BUSY_RETRIES; i++) {
		rc = sqlite3_exec(r->db, "COMMIT", NULL, NULL, NULL);
		if ((rc & 0xff) != SQLITE_BUSY)
			break;
		backoff(i);
	}
	if (rc == SQLITE_OK)
		return FLT_OK;
	flt_err e = reg_sqlerr(r, rc, "COMMIT");
	reg_rollback(r);
	return e;
}

void reg_rollback(struct flt_registry *r)
{
	if (r && r->db && !sqlite3_get_autocommit(r->db))
		(void)sqlite3_exec(r->db, "ROLLBACK", NULL, NULL, NULL);
}

int flt_registry_schema_version(void)
{
	return reg_n_migrations ? reg_migrations[reg_n_migrations - 1].number : 0;
}

static char *join_path(const char *a, const char *b)
{
	size_t n = strlen(a) + strlen(b) + 2;
	char *p = flt_malloc(n);
	if (p)
		snprintf(p, n, "%s/%s", a, b);
	return p;
}

flt_err flt_registry_open(const char *data_dir, int create, struct flt_registry **out)
{
	struct flt_registry *r = flt_calloc(1, sizeof(*r));
	flt_err e = FLT_ENOMEM;
	struct stat sb;
	if (!r)
		return FLT_ENOMEM;
	r->data_dir = flt_strdup(data_dir);
	r->db_path = join_path(data_dir, "registry.db");
	r->blob_root = join_path(data_dir, "blobs/sha256");
	if (!r->data_dir || !r->db_path || !r->blob_root)
		goto out;
	if ((e = index_queries(r)) != FLT_OK) {
		flt_log_err("embedded SQL does not match the generated query list");
		goto out;
	}
	if (stat(r->db_path, &sb) != 0) {
		if (!create) {
			e = FLT_ENOTFOUND;
			goto out;
		}
		if ((e = flt_file_mkdirs(r->data_dir, 0750, "registry.mkdir")) != FLT_OK)
			goto out;
	}
	if (create && (e = flt_file_mkdirs(r->blob_root, 0750, "registry.mkdir")) != FLT_OK)
		goto out;
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
	int rc = sqlite3_open_v2(r->db_path, &r->db, flags, NULL);
	if (rc != SQLITE_OK) {
		e = reg_sqlerr(r, rc, r->db_path);
		goto out;
	}
	sqlite3_extended_result_codes(r->db, 1);
	sqlite3_busy_timeout(r->db, REG_BUSY_TIMEOUT_MS);
	/* journal_mode needs a write lock the first time; busy_timeout covers a
	 * racing first open by another process. */
	if ((e = reg_exec_raw(r, "PRAGMA journal_mode=WAL", "journal_mode")) != FLT_OK ||
	    (e = reg_exec_raw(r, "PRAGMA foreign_keys=ON", "foreign_keys")) != FLT_OK ||
	    (e = reg_exec_raw(r, "PRAGMA synchronous=FULL", "synchronous")) != FLT_OK)
		goto out;
	if ((e = reg_migrate(r)) != FLT_OK)
		goto out;
	*out = r;
	r = NULL;
out:
	flt_registry_close(r);
	return e;
}

void flt_registry_close(struct flt_registry *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < REG_Q_COUNT_; i++)
		sqlite3_finalize(r->stmts[i]);
	if (r->db)
		sqlite3_close(r->db);
	flt_free(r->data_dir);
	flt_free(r->db_path);
	flt_free(r->blob_root);
	flt_free(r);
}
