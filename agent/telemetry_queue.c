/* The durable outbound queue of telemetry samples and events, in one SQLite file:
 * append (assign seq, drop oldest when full), batches for the sender, deletion on
 * the controller's ack, and recovery from a corrupt file by moving it aside. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <sqlite3.h>

#define FLT_LOG_MODULE "tqueue"
#include "flt/alloc.h"
#include "flt/fileio.h"
#include "flt/log.h"
#include "flt/sys.h"
#include "flt/telemetry_queue.h"

/* 'FLTQ': marks the file as ours, so a foreign SQLite file is not mistaken for a
 * queue with a strange schema. */
#define TQ_APPLICATION_ID 0x464C5451
#define TQ_SCHEMA_VERSION 1

/*
 * Journal mode: WAL with synchronous=FULL.
 * Both WAL+FULL and a rollback journal with synchronous=FULL survive power loss:
 * a transaction is durable once COMMIT returns. The difference is cost on the
 * device's flash: a rollback-journal commit writes and syncs the journal, syncs the
 * database, then deletes the journal (3 syncs and a directory update per sample);
 * a WAL commit appends to one file and syncs it once, and the database is written
 * only at checkpoints, in bulk. (WAL with synchronous=NORMAL would be cheaper still
 * but may lose the last transactions on power loss, which breaks the promise that
 * an append that returned is kept.) WAL's usual drawbacks do not apply: the queue
 * is on local storage and opened by one process; locking_mode=EXCLUSIVE keeps the
 * WAL index in heap memory (no -shm file) and makes a second opener fail with BUSY.
 * The WAL is checkpointed every 128 pages and truncated back to 512 KiB, so its
 * size stays bounded.
 */
static const char *const tq_setup_sql[] = {
    "PRAGMA locking_mode=EXCLUSIVE", "PRAGMA journal_mode=WAL",          "PRAGMA synchronous=FULL",
    "PRAGMA wal_autocheckpoint=128", "PRAGMA journal_size_limit=524288", "PRAGMA cache_size=-256",
    "PRAGMA foreign_keys=OFF",
};

static const char tq_schema_sql[] = "BEGIN IMMEDIATE;"
                                    "CREATE TABLE streams("
                                    " id INTEGER PRIMARY KEY,"
                                    " name TEXT NOT NULL UNIQUE,"
                                    " epoch INTEGER NOT NULL,"
                                    " next_seq INTEGER NOT NULL,"
                                    " acked INTEGER NOT NULL,"
                                    " dropped INTEGER NOT NULL);"
                                    /* id orders items by insertion across streams; (stream, seq) is
                                     * how they are read, acked and evicted. */
                                    "CREATE TABLE items("
                                    " id INTEGER PRIMARY KEY,"
                                    " stream INTEGER NOT NULL,"
                                    " seq INTEGER NOT NULL,"
                                    " data BLOB NOT NULL,"
                                    " UNIQUE(stream, seq));"
                                    "PRAGMA application_id=1179407441;"
                                    "PRAGMA user_version=1;"
                                    "COMMIT;";

enum tq_stmt {
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_LOAD_STREAMS,
	ST_STREAM_TOTALS,
	ST_INSERT_STREAM,
	ST_INSERT_ITEM,
	ST_SET_NEXT_SEQ,
	ST_OLDEST,
	ST_DELETE_ONE,
	ST_ADD_DROPPED,
	ST_BATCH,
	ST_LOW_SEQ,
	ST_ACK_TOTALS,
	ST_ACK_DELETE,
	ST_SET_ACKED,
	ST_COUNT_
};

static const char *const tq_stmt_sql[ST_COUNT_] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_LOAD_STREAMS] = "SELECT id, name, epoch, next_seq, acked, dropped FROM streams ORDER BY id",
    [ST_STREAM_TOTALS] =
        "SELECT count(*), coalesce(sum(length(data)), 0) FROM items WHERE stream = ?1",
    [ST_INSERT_STREAM] = "INSERT INTO streams(id, name, epoch, next_seq, acked, dropped)"
                         " VALUES (?1, ?2, ?3, 1, 0, 0)",
    [ST_INSERT_ITEM] = "INSERT INTO items(stream, seq, data) VALUES (?1, ?2, ?3)",
    [ST_SET_NEXT_SEQ] = "UPDATE streams SET next_seq = ?2 WHERE id = ?1",
    [ST_OLDEST] = "SELECT seq, length(data) FROM items WHERE stream = ?1 ORDER BY seq LIMIT 1",
    [ST_DELETE_ONE] = "DELETE FROM items WHERE stream = ?1 AND seq = ?2",
    [ST_ADD_DROPPED] = "UPDATE streams SET dropped = dropped + ?2 WHERE id = ?1",
    [ST_BATCH] = "SELECT seq, data FROM items WHERE stream = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
    [ST_LOW_SEQ] = "SELECT min(seq) FROM items WHERE stream = ?1",
    [ST_ACK_TOTALS] = "SELECT count(*), coalesce(sum(length(data)), 0) FROM items"
                      " WHERE stream = ?1 AND seq <= ?2",
    [ST_ACK_DELETE] = "DELETE FROM items WHERE stream = ?1 AND seq <= ?2",
    [ST_SET_ACKED] = "UPDATE streams SET acked = ?2 WHERE id = ?1",
};

struct tq_stream {
	int64_t id;
	char name[FLT_IDENT_MAX + 1];
	uint64_t epoch, next_seq, acked, dropped;
	uint64_t items, bytes; /* charged bytes */
	uint64_t cursor;       /* last seq handed to the sender; in memory only */
};

struct flt_tq {
	sqlite3 *db;
	sqlite3_stmt *st[ST_COUNT_];
	uint64_t max_bytes;
	uint64_t bytes;
	size_t nstreams;
	struct tq_stream streams[FLT_TQ_MAX_STREAMS];
	char *path;
	char *moved_to;
};

static uint64_t charge(uint64_t len)
{
	return len + FLT_TQ_ITEM_OVERHEAD;
}

/* ---- random epochs -------------------------------------------------------- */

static flt_err new_epoch(uint64_t *out)
{
	uint64_t e = 0;
	while (e == 0) {
		unsigned char b[8];
		flt_err err = flt_sys_random(b, sizeof(b));
		if (err != FLT_OK)
			return err;
		memcpy(&e, b, sizeof(e));
		e &= FLT_TQ_EPOCH_MAX;
	}
	*out = e;
	return FLT_OK;
}

/* ---- SQLite helpers ------------------------------------------------------- */

/* The codes that mean the file's content is unusable, as opposed to a lock, a full
 * disk or a missing directory, which moving the file aside would not fix. */
static bool is_corruption(int rc)
{
	int primary = rc & 0xff;
	return primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB || primary == SQLITE_FORMAT ||
	       rc == SQLITE_IOERR_SHORT_READ || rc == SQLITE_IOERR_READ;
}

static flt_err map_rc(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW: return FLT_OK;
	case SQLITE_BUSY:
	case SQLITE_LOCKED: return FLT_EBUSY;
	case SQLITE_NOMEM: return FLT_ENOMEM;
	case SQLITE_FULL: return FLT_ELIMIT;
	default: return FLT_EIO;
	}
}

static void log_rc(sqlite3 *db, int rc, const char *what)
{
	flt_log_err("%s: sqlite %d (%s)", what, rc, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
}

static sqlite3_stmt *stmt(struct flt_tq *q, enum tq_stmt s)
{
	sqlite3_stmt *p = q->st[s];
	sqlite3_reset(p);
	sqlite3_clear_bindings(p);
	return p;
}

/* Steps a statement that returns no rows. */
static int run(sqlite3_stmt *p)
{
	int rc = sqlite3_step(p);
	sqlite3_reset(p);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static void rollback(struct flt_tq *q)
{
	if (!sqlite3_get_autocommit(q->db))
		(void)run(stmt(q, ST_ROLLBACK));
}

/* ---- streams ------------------------------------------------------------- */

static struct tq_stream *find_stream(const struct flt_tq *q, const char *name)
{
	for (size_t i = 0; i < q->nstreams; i++)
		if (strcmp(q->streams[i].name, name) == 0)
			return (struct tq_stream *)&q->streams[i];
	return NULL;
}

static int load_streams(struct flt_tq *q)
{
	int rc;
	q->nstreams = 0;
	q->bytes = 0;
	sqlite3_stmt *p = stmt(q, ST_LOAD_STREAMS);
	while ((rc = sqlite3_step(p)) == SQLITE_ROW) {
		const unsigned char *name = sqlite3_column_text(p, 1);
		if (q->nstreams == FLT_TQ_MAX_STREAMS || !name ||
		    !flt_ident_valid((const char *)name) || sqlite3_column_int64(p, 2) <= 0 ||
		    sqlite3_column_int64(p, 3) <= 0 || sqlite3_column_int64(p, 4) < 0 ||
		    sqlite3_column_int64(p, 5) < 0) {
			sqlite3_reset(p);
			return SQLITE_CORRUPT;
		}
		struct tq_stream *s = &q->streams[q->nstreams++];
		memset(s, 0, sizeof(*s));
		s->id = sqlite3_column_int64(p, 0);
		snprintf(s->name, sizeof(s->name), "%s", (const char *)name);
		s->epoch = (uint64_t)sqlite3_column_int64(p, 2);
		s->next_seq = (uint64_t)sqlite3_column_int64(p, 3);
		s->acked = (uint64_t)sqlite3_column_int64(p, 4);
		s->dropped = (uint64_t)sqlite3_column_int64(p, 5);
		s->cursor = s->acked;
	}
	sqlite3_reset(p);
	if (rc != SQLITE_DONE)
		return rc;
	for (size_t i = 0; i < q->nstreams; i++) {
		struct tq_stream *s = &q->streams[i];
		p = stmt(q, ST_STREAM_TOTALS);
		sqlite3_bind_int64(p, 1, s->id);
		rc = sqlite3_step(p);
		if (rc != SQLITE_ROW) {
			sqlite3_reset(p);
			return rc;
		}
		s->items = (uint64_t)sqlite3_column_int64(p, 0);
		s->bytes = (uint64_t)sqlite3_column_int64(p, 1) + s->items * FLT_TQ_ITEM_OVERHEAD;
		q->bytes += s->bytes;
		sqlite3_reset(p);
	}
	return SQLITE_OK;
}

/* Creates the stream row inside the caller's transaction; the in-memory entry
 * is filled into *OUT and added by the caller after COMMIT. */
static int create_stream(struct flt_tq *q, const char *name, struct tq_stream *out)
{
	struct tq_stream s;
	memset(&s, 0, sizeof(s));
	int64_t id = 1;
	for (size_t i = 0; i < q->nstreams; i++)
		if (q->streams[i].id >= id)
			id = q->streams[i].id + 1;
	if (new_epoch(&s.epoch) != FLT_OK)
		return SQLITE_IOERR;
	s.id = id;
	snprintf(s.name, sizeof(s.name), "%s", name);
	s.next_seq = 1;
	sqlite3_stmt *p = stmt(q, ST_INSERT_STREAM);
	sqlite3_bind_int64(p, 1, id);
	sqlite3_bind_text(p, 2, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(p, 3, (int64_t)s.epoch);
	int rc = run(p);
	if (rc == SQLITE_OK)
		*out = s;
	return rc;
}

/* ---- open and recovery ---------------------------------------------------- */

static void db_close(struct flt_tq *q)
{
	for (int i = 0; i < ST_COUNT_; i++) {
		sqlite3_finalize(q->st[i]);
		q->st[i] = NULL;
	}
	if (q->db)
		sqlite3_close(q->db);
	q->db = NULL;
}

static int exec_all(sqlite3 *db, const char *sql)
{
	return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

/* Returns one integer from a single-row query, or an SQLite error code. */
static int query_int(sqlite3 *db, const char *sql, int64_t *v)
{
	sqlite3_stmt *p = NULL;
	int rc = sqlite3_prepare_v2(db, sql, -1, &p, NULL);
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(p);
		if (rc == SQLITE_ROW) {
			*v = sqlite3_column_int64(p, 0);
			rc = SQLITE_OK;
		} else if (rc == SQLITE_DONE) {
			rc = SQLITE_CORRUPT;
		}
	}
	sqlite3_finalize(p);
	return rc;
}

/* integrity_check answers "ok" or lists problems; any other answer is corruption. */
static int integrity_ok(sqlite3 *db)
{
	sqlite3_stmt *p = NULL;
	int rc = sqlite3_prepare_v2(db, "PRAGMA integrity_check(1)", -1, &p, NULL);
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(p);
		if (rc == SQLITE_ROW) {
			const unsigned char *t = sqlite3_column_text(p, 0);
			rc = t && strcmp((const char *)t, "ok") == 0 ? SQLITE_OK : SQLITE_CORRUPT;
		} else if (rc == SQLITE_DONE) {
			rc = SQLITE_CORRUPT;
		}
	}
	sqlite3_finalize(p);
	return rc;
}

/* Opens the file and checks it is our queue, creating the schema in an empty one.
 * Returns SQLITE_OK, a corruption code with *WHY set, or another SQLite error. */
static int db_open(struct flt_tq *q, bool existed_nonempty, bool existed, const char **why)
{
	int rc =
	    sqlite3_open_v2(q->path, &q->db,
	                    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		*why = "cannot open";
		return rc;
	}
	sqlite3_extended_result_codes(q->db, 1);
	sqlite3_busy_timeout(q->db, 0);
	for (size_t i = 0; i < sizeof(tq_setup_sql) / sizeof(tq_setup_sql[0]); i++) {
		rc = exec_all(q->db, tq_setup_sql[i]);
		if (rc != SQLITE_OK) {
			*why = is_corruption(rc) ? "not a database" : "cannot lock or read";
			return rc;
		}
	}
	int64_t app = 0, ver = 0, ntables = 0;
	if ((rc = query_int(q->db, "PRAGMA application_id", &app)) != SQLITE_OK ||
	    (rc = query_int(q->db, "PRAGMA user_version", &ver)) != SQLITE_OK ||
	    (rc = query_int(q->db, "SELECT count(*) FROM sqlite_master", &ntables)) != SQLITE_OK) {
		*why = "not a database";
		return rc;
	}
	if (app == 0 && ver == 0 && ntables == 0) {
		if (existed && !existed_nonempty) {
			/* A zero-length file: truncated, or a crash before the schema's
			 * first commit. Either way nothing can be read from it. */
			*why = "empty file";
			return SQLITE_CORRUPT;
		}
		rc = exec_all(q->db, tq_schema_sql);
		if (rc != SQLITE_OK) {
			exec_all(q->db, "ROLLBACK");
			*why = "cannot create schema";
			return rc;
		}
	} else if (app != TQ_APPLICATION_ID) {
		*why = "not a queue file";
		return SQLITE_FORMAT;
	} else if (ver != TQ_SCHEMA_VERSION) {
		*why = "unknown schema version";
		return SQLITE_FORMAT;
	} else if ((rc = integrity_ok(q->db)) != SQLITE_OK) {
		*why = "integrity check failed";
		return rc;
	}
	for (int i = 0; i < ST_COUNT_; i++) {
		rc = sqlite3_prepare_v3(q->db, tq_stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
		                        &q->st[i], NULL);
		if (rc != SQLITE_OK) {
			/* Our application id but not our tables. */
			*why = "wrong schema";
			return (rc & 0xff) == SQLITE_ERROR ? SQLITE_FORMAT : rc;
		}
	}
	rc = load_streams(q);
	if (rc != SQLITE_OK)
		*why = "unreadable streams";
	return rc;
}

/* Deletes earlier "<base>.corrupt-*" files beside PATH: only the newest is kept. */
static void remove_old_corrupt(const char *path)
{
	char dir[4096], prefix[512];
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	size_t dlen = slash ? (size_t)(slash - path) : 0;
	if (dlen >= sizeof(dir) ||
	    (size_t)snprintf(prefix, sizeof(prefix), "%s.corrupt-", base) >= sizeof(prefix))
		return;
	if (slash) {
		memcpy(dir, path, dlen ? dlen : 1);
		dir[dlen ? dlen : 1] = '\0';
	} else {
		snprintf(dir, sizeof(dir), ".");
	}
	DIR *d = opendir(dir);
	if (!d)
		return;
	size_t plen = strlen(prefix);
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, prefix, plen) != 0)
			continue;
		char full[4608];
		if ((size_t)snprintf(full, sizeof(full), "%s/%s", dir, e->d_name) < sizeof(full) &&
		    flt_fio_unlink(full, "tqueue.aside.unlink") != FLT_OK)
			flt_log_warn("cannot remove old %s: %s", full, strerror(errno));
	}
	closedir(d);
}

/* Failpoint names guard each file operation, so tests can crash or cut power there. */
static flt_err move_aside(struct flt_tq *q)
{
	char aside[4096], from[4096], to[4200];
	flt_err err = FLT_OK;
	if ((size_t)snprintf(aside, sizeof(aside), "%s.corrupt-%lld", q->path,
	                     (long long)time(NULL)) >= sizeof(aside))
		return FLT_EINVAL;
	remove_old_corrupt(q->path);
	err = flt_fio_rename(q->path, aside, "tqueue.aside.rename");
	if (err != FLT_OK) {
		flt_log_err("cannot move corrupt queue %s aside: %s", q->path, strerror(errno));
		return FLT_EIO;
	}
	/* The WAL belongs to the old file: keep it beside it for inspection, never let
	 * SQLite replay it into the fresh queue. */
	snprintf(from, sizeof(from), "%s-wal", q->path);
	snprintf(to, sizeof(to), "%s-wal", aside);
	err = flt_fio_rename(from, to, "tqueue.aside.rename");
	if (err != FLT_OK && err != FLT_ENOTFOUND) {
		flt_log_warn("cannot move %s: %s; deleting it", from, flt_strerror(err));
		err = flt_fio_unlink(from, "tqueue.aside.unlink");
		if (err != FLT_OK && err != FLT_ENOTFOUND)
			return FLT_EIO;
	}
	static const char *const stale[] = {"-shm", "-journal"};
	for (size_t i = 0; i < sizeof(stale) / sizeof(stale[0]); i++) {
		snprintf(from, sizeof(from), "%s%s", q->path, stale[i]);
		err = flt_fio_unlink(from, "tqueue.aside.unlink");
		if (err != FLT_OK && err != FLT_ENOTFOUND)
			return FLT_EIO;
	}
	err = flt_fio_fsync_parent(q->path, "tqueue.aside.fsync");
	if (err != FLT_OK)
		return FLT_EIO;
	q->moved_to = flt_strdup(aside);
	return q->moved_to ? FLT_OK : FLT_ENOMEM;
}

flt_err flt_tq_open(const char *path, uint64_t max_bytes, struct flt_tq **out,
                    struct flt_tq_open_report *rep)
{
	flt_err err = FLT_OK;
	struct flt_tq *q = NULL;
	const char *why = NULL, *reset_reason = NULL;

	if (!path || !out || max_bytes < FLT_TQ_MIN_BYTES || max_bytes > (uint64_t)INT64_MAX)
		return FLT_EINVAL;
	q = flt_calloc(1, sizeof(*q));
	if (!q)
		return FLT_ENOMEM;
	q->max_bytes = max_bytes;
	q->path = flt_strdup(path);
	if (!q->path) {
		err = FLT_ENOMEM;
		goto out;
	}
	struct stat sb;
	bool existed = stat(path, &sb) == 0;
	int rc = db_open(q, existed && sb.st_size > 0, existed, &why);
	if (rc != SQLITE_OK && is_corruption(rc)) {
		flt_log_err(
		    "queue %s unusable (%s, sqlite %d): moving it aside and starting afresh", path,
		    why, rc);
		reset_reason = why;
		db_close(q);
		err = move_aside(q);
		if (err != FLT_OK)
			goto out;
		rc = db_open(q, false, false, &why);
	}
	if (rc != SQLITE_OK) {
		log_rc(q->db, rc, why ? why : "open");
		err = map_rc(rc);
		if (err == FLT_OK || err == FLT_ELIMIT || is_corruption(rc))
			err = FLT_EIO;
		goto out;
	}
	if (rep) {
		rep->reset = reset_reason != NULL;
		rep->reason = reset_reason;
		rep->moved_to = reset_reason ? q->moved_to : NULL;
	}
	*out = q;
	q = NULL;
out:
	flt_tq_close(q);
	return err;
}

void flt_tq_close(struct flt_tq *q)
{
	if (!q)
		return;
	db_close(q);
	flt_free(q->path);
	flt_free(q->moved_to);
	flt_free(q);
}

/* ---- append ---------------------------------------------------------------- */

/* Per-stream changes made inside an append's transaction, applied to memory only
 * after COMMIT so a failed transaction leaves the queue as it was. */
struct tq_delta {
	uint64_t items, bytes, dropped;
};

static int evict_one(struct flt_tq *q, struct tq_delta *d, uint64_t *freed)
{
	/* The stream holding the most bytes pays: a flood of one stream cannot push out
	 * another's rarer items. */
	size_t victim = SIZE_MAX;
	uint64_t most = 0;
	for (size_t i = 0; i < q->nstreams; i++) {
		uint64_t b = q->streams[i].bytes - d[i].bytes;
		if (q->streams[i].items > d[i].items && b > most) {
			most = b;
			victim = i;
		}
	}
	if (victim == SIZE_MAX)
		return SQLITE_INTERNAL;
	struct tq_stream *s = &q->streams[victim];
	sqlite3_stmt *p = stmt(q, ST_OLDEST);
	sqlite3_bind_int64(p, 1, s->id);
	int rc = sqlite3_step(p);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(p);
		return rc == SQLITE_DONE ? SQLITE_CORRUPT : rc;
	}
	int64_t seq = sqlite3_column_int64(p, 0);
	uint64_t len = (uint64_t)sqlite3_column_int64(p, 1);
	sqlite3_reset(p);
	p = stmt(q, ST_DELETE_ONE);
	sqlite3_bind_int64(p, 1, s->id);
	sqlite3_bind_int64(p, 2, seq);
	if ((rc = run(p)) != SQLITE_OK)
		return rc;
	p = stmt(q, ST_ADD_DROPPED);
	sqlite3_bind_int64(p, 1, s->id);
	sqlite3_bind_int64(p, 2, 1);
	if ((rc = run(p)) != SQLITE_OK)
		return rc;
	d[victim].items++;
	d[victim].bytes += charge(len);
	d[victim].dropped++;
	*freed += charge(len);
	return SQLITE_OK;
}

flt_err flt_tq_append(struct flt_tq *q, const char *stream, const void *data, size_t len,
                      uint64_t *seq)
{
	struct tq_delta d[FLT_TQ_MAX_STREAMS];
	struct tq_stream created = {0};
	bool is_new = false;
	int rc;

	if (!q || !stream || !flt_ident_valid(stream) || (!data && len > 0))
		return FLT_EINVAL;
	if ((uint64_t)len > q->max_bytes || charge(len) > q->max_bytes || len > (size_t)INT32_MAX)
		return FLT_ELIMIT;
	struct tq_stream *s = find_stream(q, stream);
	if (!s && q->nstreams == FLT_TQ_MAX_STREAMS)
		return FLT_ELIMIT;
	memset(d, 0, sizeof(d));

	rc = run(stmt(q, ST_BEGIN));
	if (rc != SQLITE_OK)
		goto fail;
	if (!s) {
		rc = create_stream(q, stream, &created);
		if (rc != SQLITE_OK)
			goto fail;
		is_new = true;
	}
	uint64_t freed = 0;
	while (q->bytes - freed + charge(len) > q->max_bytes) {
		rc = evict_one(q, d, &freed);
		if (rc != SQLITE_OK)
			goto fail;
	}
	const struct tq_stream *cur = is_new ? &created : s;
	uint64_t n = cur->next_seq;
	sqlite3_stmt *p = stmt(q, ST_INSERT_ITEM);
	sqlite3_bind_int64(p, 1, cur->id);
	sqlite3_bind_int64(p, 2, (int64_t)n);
	sqlite3_bind_blob(p, 3, len ? data : "", (int)len, SQLITE_STATIC);
	if ((rc = run(p)) != SQLITE_OK)
		goto fail;
	p = stmt(q, ST_SET_NEXT_SEQ);
	sqlite3_bind_int64(p, 1, cur->id);
	sqlite3_bind_int64(p, 2, (int64_t)(n + 1));
	if ((rc = run(p)) != SQLITE_OK)
		goto fail;
	if ((rc = run(stmt(q, ST_COMMIT))) != SQLITE_OK)
		goto fail;

	for (size_t i = 0; i < q->nstreams; i++) {
		struct tq_stream *t = &q->streams[i];
		t->items -= d[i].items;
		t->bytes -= d[i].bytes;
		t->dropped += d[i].dropped;
		/* Logged at 1, 2, 4, 8... drops: a queue that stays full must not flood the log. */
		if (d[i].dropped && (t->dropped & (t->dropped - 1)) == 0)
			flt_log_warn("queue full: %" PRIu64
			             " %s item(s) dropped in this epoch so far",
			             t->dropped, t->name);
	}
	q->bytes -= freed;
	if (is_new) {
		s = &q->streams[q->nstreams++];
		*s = created;
	}
	s->next_seq = n + 1;
	s->items++;
	s->bytes += charge(len);
	q->bytes += charge(len);
	if (seq)
		*seq = n;
	return FLT_OK;
fail:
	log_rc(q->db, rc, "append");
	rollback(q);
	return rc == SQLITE_INTERNAL ? FLT_EINTERNAL
	                             : (map_rc(rc) == FLT_OK ? FLT_EIO : map_rc(rc));
}

/* ---- batches and acks ----------------------------------------------------- */

void flt_tq_batch_free(struct flt_tq_batch *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->n; i++)
		flt_free(b->items[i].data);
	flt_free(b->items);
	flt_free(b);
}

flt_err flt_tq_next_batch(struct flt_tq *q, const char *stream, size_t max_items, size_t max_bytes,
                          struct flt_tq_batch **out)
{
	flt_err err = FLT_OK;
	struct flt_tq_batch *b = NULL;
	int rc;

	if (!q || !stream || !out || max_items == 0 || !flt_ident_valid(stream))
		return FLT_EINVAL;
	struct tq_stream *s = find_stream(q, stream);
	if (!s || s->cursor + 1 >= s->next_seq)
		return FLT_ENOTFOUND;
	if (max_items > (size_t)INT32_MAX)
		max_items = INT32_MAX;
	if (max_items > s->items)
		max_items = (size_t)s->items;
	if (max_items == 0)
		return FLT_ENOTFOUND;

	b = flt_calloc(1, sizeof(*b));
	if (!b)
		return FLT_ENOMEM;
	b->items = flt_calloc(max_items, sizeof(*b->items));
	if (!b->items) {
		err = FLT_ENOMEM;
		goto out;
	}
	snprintf(b->stream, sizeof(b->stream), "%s", s->name);
	b->epoch = s->epoch;
	b->dropped = s->dropped;

	sqlite3_stmt *p = stmt(q, ST_LOW_SEQ);
	sqlite3_bind_int64(p, 1, s->id);
	rc = sqlite3_step(p);
	if (rc == SQLITE_ROW)
		b->low_seq = (uint64_t)sqlite3_column_int64(p, 0);
	sqlite3_reset(p);
	if (rc != SQLITE_ROW) {
		log_rc(q->db, rc, "next_batch");
		err = FLT_EIO;
		goto out;
	}

	p = stmt(q, ST_BATCH);
	sqlite3_bind_int64(p, 1, s->id);
	sqlite3_bind_int64(p, 2, (int64_t)s->cursor);
	sqlite3_bind_int64(p, 3, (int64_t)max_items);
	while ((rc = sqlite3_step(p)) == SQLITE_ROW) {
		size_t len = (size_t)sqlite3_column_bytes(p, 1);
		if (b->n > 0 && (len > max_bytes || b->bytes > max_bytes - len))
			break;
		const void *blob = sqlite3_column_blob(p, 1);
		struct flt_tq_item *it = &b->items[b->n];
		it->seq = (uint64_t)sqlite3_column_int64(p, 0);
		it->len = len;
		it->data = flt_malloc(len);
		if (!it->data) {
			err = FLT_ENOMEM;
			break;
		}
		if (len)
			memcpy(it->data, blob, len);
		if (b->n > 0 && it->seq != b->items[b->n - 1].seq + 1) {
			flt_free(it->data);
			log_rc(q->db, SQLITE_CORRUPT, "next_batch: sequence gap");
			err = FLT_EIO;
			break;
		}
		b->bytes += len;
		b->n++;
	}
	if (err == FLT_OK && rc != SQLITE_ROW && rc != SQLITE_DONE) {
		log_rc(q->db, rc, "next_batch");
		err = FLT_EIO;
	}
	sqlite3_reset(p);
	if (err != FLT_OK)
		goto out;
	if (b->n == 0) {
		err = FLT_ENOTFOUND;
		goto out;
	}
	b->first_seq = b->items[0].seq;
	b->last_seq = b->items[b->n - 1].seq;
	s->cursor = b->last_seq;
	*out = b;
	b = NULL;
out:
	flt_tq_batch_free(b);
	return err;
}

void flt_tq_rewind(struct flt_tq *q, const char *stream)
{
	struct tq_stream *s = q && stream ? find_stream(q, stream) : NULL;
	if (s)
		s->cursor = s->acked;
}

flt_err flt_tq_ack(struct flt_tq *q, const char *stream, uint64_t epoch, uint64_t seq,
                   size_t *deleted)
{
	int rc;
	if (!q || !stream || !flt_ident_valid(stream))
		return FLT_EINVAL;
	struct tq_stream *s = find_stream(q, stream);
	if (deleted)
		*deleted = 0;
	if (!s || epoch != s->epoch) {
		flt_log_dbg("ignoring ack %s epoch %" PRIu64 " seq %" PRIu64
		            ": not the current epoch",
		            stream, epoch, seq);
		return FLT_OK;
	}
	if (seq >= s->next_seq) {
		flt_log_warn("ack %s seq %" PRIu64 " beyond last assigned %" PRIu64 "; clamped",
		             stream, seq, s->next_seq - 1);
		seq = s->next_seq - 1;
	}
	if (seq <= s->acked)
		return FLT_OK;

	uint64_t n = 0, bytes = 0;
	if ((rc = run(stmt(q, ST_BEGIN))) != SQLITE_OK)
		goto fail;
	sqlite3_stmt *p = stmt(q, ST_ACK_TOTALS);
	sqlite3_bind_int64(p, 1, s->id);
	sqlite3_bind_int64(p, 2, (int64_t)seq);
	rc = sqlite3_step(p);
	if (rc == SQLITE_ROW) {
		n = (uint64_t)sqlite3_column_int64(p, 0);
		bytes = (uint64_t)sqlite3_column_int64(p, 1) + n * FLT_TQ_ITEM_OVERHEAD;
		rc = SQLITE_OK;
	}
	sqlite3_reset(p);
	if (rc != SQLITE_OK)
		goto fail;
	p = stmt(q, ST_ACK_DELETE);
	sqlite3_bind_int64(p, 1, s->id);
	sqlite3_bind_int64(p, 2, (int64_t)seq);
	if ((rc = run(p)) != SQLITE_OK)
		goto fail;
	p = stmt(q, ST_SET_ACKED);
	sqlite3_bind_int64(p, 1, s->id);
	sqlite3_bind_int64(p, 2, (int64_t)seq);
	if ((rc = run(p)) != SQLITE_OK)
		goto fail;
	if ((rc = run(stmt(q, ST_COMMIT))) != SQLITE_OK)
		goto fail;
	s->acked = seq;
	if (s->cursor < seq)
		s->cursor = seq;
	s->items -= n;
	s->bytes -= bytes;
	q->bytes -= bytes;
	if (deleted)
		*deleted = (size_t)n;
	return FLT_OK;
fail:
	log_rc(q->db, rc, "ack");
	rollback(q);
	return map_rc(rc) == FLT_OK ? FLT_EIO : map_rc(rc);
}

flt_err flt_tq_stream_info(const struct flt_tq *q, const char *stream,
                           struct flt_tq_stream_info *out)
{
	if (!q || !stream || !out)
		return FLT_EINVAL;
	const struct tq_stream *s = find_stream(q, stream);
	if (!s)
		return FLT_ENOTFOUND;
	out->epoch = s->epoch;
	out->next_seq = s->next_seq;
	out->acked = s->acked;
	out->dropped = s->dropped;
	out->items = s->items;
	out->bytes = s->bytes;
	return FLT_OK;
}

uint64_t flt_tq_bytes(const struct flt_tq *q)
{
	return q ? q->bytes : 0;
}
