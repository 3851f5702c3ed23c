/* `flotilla backup FILE` and `flotilla restore FILE`. A backup is one ustar:
 * flotilla-backup.json, registry.db (an SQLite online-backup snapshot, so it
 * is consistent while other processes write), then every blob the snapshot
 * references, each checked against its hash. Restore checks every byte,
 * upgrades the schema, and raises serial-like counters and next versions above
 * anything the live registry could have published after the backup. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blob_store.h"
#include "cli_args.h"
#include "cmds.h"
#include "flt/atomicfile.h"
#include "flt/fileio.h"
#include "flt/alloc.h"
#include "registry_db.h"
#include "tar_io.h"

#define BACKUP_FORMAT 1
#define BACKUP_META   "flotilla-backup.json"
#define BACKUP_DB     "registry.db"
#define BLOB_PREFIX   "blobs/sha256/"
#define BLOB_MAX                                                                                   \
	((uint64_t)SIZE_MAX > (16ULL << 30) ? (size_t)(16ULL << 30) : (size_t)(SIZE_MAX / 2))

static const struct cli_opt backup_opts[] = {{0}};

static const struct cli_spec backup_spec = {
    "backup",
    "FILE",
    "Writes the registry and every blob it references to FILE (one tar), consistent while other "
    "commands and 'flotilla serve' write.",
    backup_opts,
    1,
    1,
};

/* Snapshots the live registry into `path` with the online backup API. The
 * copy keeps only blob rows something references, and is left in rollback
 * journal mode so the one file is the whole database. */
static flt_err snapshot(struct flt_registry *r, const char *path, sqlite3 **out)
{
	sqlite3 *dst = NULL;
	int rc = sqlite3_open_v2(path, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	flt_err e;
	if (rc != SQLITE_OK) {
		e = reg_sqlerr(r, rc, "backup open");
		goto out;
	}
	sqlite3_backup *b = sqlite3_backup_init(dst, "main", r->db, "main");
	if (!b) {
		e = reg_sqlerr(r, sqlite3_errcode(dst), "backup init");
		goto out;
	}
	/* -1: all pages in one step under one read transaction, hence one snapshot. */
	rc = sqlite3_backup_step(b, -1);
	int rc2 = sqlite3_backup_finish(b);
	if (rc != SQLITE_DONE || rc2 != SQLITE_OK) {
		e = reg_sqlerr(r, rc != SQLITE_DONE ? rc : rc2, "backup step");
		goto out;
	}
	char *msg = NULL;
	rc = sqlite3_exec(dst,
	                  "PRAGMA journal_mode=DELETE;"
	                  "DELETE FROM blobs WHERE sha256 NOT IN (SELECT sha256 FROM blob_refs);",
	                  NULL, NULL, &msg);
	sqlite3_free(msg);
	if (rc != SQLITE_OK) {
		e = reg_sqlerr(r, rc, "backup prune");
		goto out;
	}
	*out = dst;
	dst = NULL;
	e = FLT_OK;
out:
	if (dst)
		sqlite3_close(dst);
	return e;
}

struct blob_row {
	char hex[BLOB_HEX_LEN + 1];
};

static flt_err list_blobs(sqlite3 *db, struct blob_row **out, size_t *n)
{
	sqlite3_stmt *st = NULL;
	struct blob_row *rows = NULL;
	size_t cnt = 0;
	flt_err e = FLT_OK;
	/* The snapshot is private to this process, and this is fixed SQL. */
	int rc = sqlite3_prepare_v2(db, "SELECT sha256 FROM blobs ORDER BY sha256", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return reg_sqlerr(NULL, rc, "backup list");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *h = (const char *)sqlite3_column_text(st, 0);
		if (!h || !blob_hex_valid(h))
			continue;
		struct blob_row *g = flt_reallocarray(rows, cnt + 1, sizeof(*rows));
		if (!g) {
			e = FLT_ENOMEM;
			break;
		}
		rows = g;
		memcpy(rows[cnt++].hex, h, BLOB_HEX_LEN + 1);
	}
	if (!e && rc != SQLITE_DONE)
		e = reg_sqlerr(NULL, rc, "backup list");
	sqlite3_finalize(st);
	if (e) {
		flt_free(rows);
		return e;
	}
	*out = rows;
	*n = cnt;
	return FLT_OK;
}

static int write_backup(struct cli *c, const char *file)
{
	char dbtmp[4200], outtmp[4200];
	sqlite3 *snap = NULL;
	struct blob_row *blobs = NULL;
	size_t nblobs = 0;
	FILE *f = NULL;
	int fd = -1, rc = CLI_FAILURE;
	FILE *dbf = NULL;
	flt_err e;
	snprintf(dbtmp, sizeof(dbtmp), "%s.db.XXXXXX", file);
	snprintf(outtmp, sizeof(outtmp), "%s.tmp.XXXXXX", file);
	int dfd = mkstemp(dbtmp);
	if (dfd < 0)
		return cli_fail(c, FLT_EIO,
		                "cannot create a file next to '%s': %s; check the directory", file,
		                strerror(errno));
	close(dfd);
	if ((e = snapshot(c->reg, dbtmp, &snap)) != FLT_OK) {
		rc = cli_fail(c, e, "cannot snapshot the registry: %s", flt_strerror(e));
		goto out;
	}
	if ((e = list_blobs(snap, &blobs, &nblobs)) != FLT_OK) {
		rc = cli_fail(c, e, "cannot list blobs: %s", flt_strerror(e));
		goto out;
	}
	int64_t versions = 0;
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(snap, "SELECT count(*) FROM model_versions WHERE deleted_ms IS NULL",
	                       -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		versions = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(snap);
	snap = NULL;
	/* The database grows with fleet history: stream it rather than hold it. */
	struct stat dsb;
	if (stat(dbtmp, &dsb) != 0 || !(dbf = fopen(dbtmp, "rb"))) {
		rc = cli_fail(c, FLT_EIO, "cannot read the snapshot: %s", strerror(errno));
		goto out;
	}
	if ((fd = mkstemp(outtmp)) < 0 || !(f = fdopen(fd, "wb"))) {
		rc = cli_fail(c, FLT_EIO, "cannot write next to '%s': %s", file, strerror(errno));
		goto out;
	}
	fd = -1;
	int reg_schema = 0;
	if ((e = reg_schema_version(c->reg, &reg_schema)) != FLT_OK) {
		rc = cli_fail(c, e, "cannot read the schema version: %s", flt_strerror(e));
		goto out;
	}
	char meta[256];
	int ml = snprintf(meta, sizeof(meta),
	                  "{\"format\":%d,\"created_ms\":%lld,\"schema_version\":%d,\"blobs\":%zu,"
	                  "\"versions\":%lld}\n",
	                  BACKUP_FORMAT, (long long)reg_now_ms(), reg_schema, nblobs,
	                  (long long)versions);
	if ((e = tar_write_member(f, BACKUP_META, meta, (uint64_t)ml, 0644)) != FLT_OK ||
	    (e = tar_write_file(f, BACKUP_DB, dbf, (uint64_t)dsb.st_size, 0640)) != FLT_OK) {
		rc = cli_fail(c, e, "cannot write '%s': %s", file, flt_strerror(e));
		goto out;
	}
	for (size_t i = 0; i < nblobs; i++) {
		char path[4200], name[128], hex[BLOB_HEX_LEN + 1];
		unsigned char *b = NULL;
		size_t blen = 0;
		if ((e = blob_path(c->reg->blob_root, blobs[i].hex, path, sizeof(path))) != FLT_OK)
			goto blob_fail;
		if ((e = flt_file_read_all(path, BLOB_MAX, &b, &blen, "backup.read")) != FLT_OK) {
			/* Only a delete + gc racing this backup removes a referenced blob. */
			rc =
			    cli_fail(c, e == FLT_ENOTFOUND ? FLT_ECONFLICT : e,
			             "blob %s vanished or is unreadable (%s); run the backup again",
			             blobs[i].hex, flt_strerror(e));
			goto out;
		}
		e = blob_sha256_hex(b, blen, hex);
		if (!e && strcmp(hex, blobs[i].hex)) {
			flt_free(b);
			rc = cli_fail(c, FLT_EVERIFY,
			              "blob %s does not match its hash; the store is damaged",
			              blobs[i].hex);
			goto out;
		}
		snprintf(name, sizeof(name), BLOB_PREFIX "%.2s/%s", blobs[i].hex, blobs[i].hex);
		if (!e)
			e = tar_write_member(f, name, b, blen, 0444);
		flt_free(b);
		if (e)
			goto blob_fail;
		continue;
	blob_fail:
		rc = cli_fail(c, e, "cannot back up blob %s: %s", blobs[i].hex, flt_strerror(e));
		goto out;
	}
	if ((e = tar_write_end(f)) != FLT_OK || fflush(f) != 0 || fsync(fileno(f)) != 0) {
		rc = cli_fail(c, FLT_EIO, "cannot write '%s': %s", file, strerror(errno));
		goto out;
	}
	if (fclose(f) != 0) {
		f = NULL;
		rc = cli_fail(c, FLT_EIO, "cannot write '%s': %s", file, strerror(errno));
		goto out;
	}
	f = NULL;
	if (rename(outtmp, file) != 0) {
		rc = cli_fail(c, FLT_EIO, "cannot move the backup to '%s': %s", file,
		              strerror(errno));
		goto out;
	}
	outtmp[0] = '\0';
	cJSON *doc = cJSON_CreateObject();
	if (doc) {
		cJSON_AddStringToObject(doc, "file", file);
		cJSON_AddNumberToObject(doc, "schema_version", reg_schema);
		cJSON_AddNumberToObject(doc, "versions", (double)versions);
		cJSON_AddNumberToObject(doc, "blobs", (double)nblobs);
	}
	rc = cli_emit(c, doc);
out:
	if (snap)
		sqlite3_close(snap);
	if (f)
		fclose(f);
	if (fd >= 0)
		close(fd);
	unlink(dbtmp);
	if (outtmp[0])
		unlink(outtmp);
	flt_free(blobs);
	if (dbf)
		fclose(dbf);
	return rc;
}

int cmd_backup(int argc, char **argv)
{
	struct cli c;
	int rc;
	if ((rc = cli_start(&c, &backup_spec, argc, argv)) != CLI_CONTINUE)
		return cli_end(&c, rc);
	if ((rc = cli_registry(&c, 0)) != CLI_CONTINUE)
		return cli_end(&c, rc);
	return cli_end(&c, write_backup(&c, c.pos[0]));
}

/* ---- restore ----------------------------------------------------------------- */

static const struct cli_opt restore_opts[] = {
    {"force", 0, 0, NULL, "replace an existing registry (stop 'flotilla serve' first)"},
    {0},
};

static const struct cli_spec restore_spec = {
    "restore",
    "FILE [--force]",
    "Restores a backup into the data directory. Serials and next versions are raised above "
    "anything published after the backup (max(stored + 1, Unix time in ms)).",
    restore_opts,
    1,
    1,
};

struct membuf {
	unsigned char *p;
	size_t len, cap;
};

static int mem_sink(void *arg, const void *p, size_t n)
{
	struct membuf *m = arg;
	if (n > m->cap - m->len)
		return -1;
	memcpy(m->p + m->len, p, n);
	m->len += n;
	return 0;
}

/* Blobs are staged beside the database and move into the store only once
 * the whole backup has checked out, so a failed restore adds nothing. */
struct staged {
	char (*hex)[BLOB_HEX_LEN + 1];
	size_t n;
};

static int file_sink(void *arg, const void *p, size_t n)
{
	return fwrite(p, 1, n, (FILE *)arg) == n ? 0 : -1;
}

static void rm_staging(const char *dir, const struct staged *sg)
{
	char p[4200];
	for (size_t i = 0; i < sg->n; i++) {
		snprintf(p, sizeof(p), "%s/blobs/sha256/%.2s/%s", dir, sg->hex[i], sg->hex[i]);
		unlink(p);
		snprintf(p, sizeof(p), "%s/blobs/sha256/%.2s", dir, sg->hex[i]);
		rmdir(p);
	}
	static const char *const files[] = {"registry.db", "registry.db-wal", "registry.db-shm",
	                                    "registry.db-journal"};
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, files[i]);
		unlink(p);
	}
	snprintf(p, sizeof(p), "%s/blobs/sha256", dir);
	rmdir(p);
	snprintf(p, sizeof(p), "%s/blobs", dir);
	rmdir(p);
	rmdir(dir);
}

/* Reads one member fully into memory, bounded by `max`. */
static flt_err read_member(FILE *f, uint64_t len, uint64_t max, struct membuf *m)
{
	if (len > max || len >= (uint64_t)SIZE_MAX)
		return FLT_ELIMIT;
	m->cap = (size_t)len;
	m->len = 0;
	m->p = flt_malloc(m->cap ? m->cap : 1);
	if (!m->p)
		return FLT_ENOMEM;
	flt_err e = tar_read_data(f, len, mem_sink, m);
	if (e) {
		flt_free(m->p);
		m->p = NULL;
	}
	return e;
}

static int restore(struct cli *c, const char *file)
{
	char dbpath[4200], staging[4200], stdb[4200], blob_root[4200], stage_root[4300];
	struct staged sg = {0};
	FILE *f = NULL;
	struct flt_registry *r = NULL;
	struct membuf m = {0};
	int rc = CLI_FAILURE, have_db = 0, have_meta = 0;
	size_t nblobs = 0;
	flt_err e;
	struct stat sb;
	snprintf(dbpath, sizeof(dbpath), "%s/registry.db", c->data_dir);
	snprintf(blob_root, sizeof(blob_root), "%s/blobs/sha256", c->data_dir);
	staging[0] = '\0';
	if (stat(dbpath, &sb) == 0 && !cli_flag(c, "force"))
		return cli_fail(c, FLT_ECONFLICT,
		                "'%s' already holds a registry; restore into an empty --data-dir "
		                "or pass --force "
		                "(after stopping 'flotilla serve')",
		                c->data_dir);
	if (!(f = fopen(file, "rb")))
		return cli_fail(c, FLT_EINVAL, "cannot open '%s': %s", file, strerror(errno));
	if ((e = flt_file_mkdirs(blob_root, 0750, NULL)) != FLT_OK) {
		rc = cli_fail(c, e, "cannot create '%s': %s", blob_root, flt_strerror(e));
		goto out;
	}
	snprintf(staging, sizeof(staging), "%s/.restore-XXXXXX", c->data_dir);
	if (!mkdtemp(staging)) {
		staging[0] = '\0';
		rc = cli_fail(c, FLT_EIO, "cannot create a staging directory in '%s': %s",
		              c->data_dir, strerror(errno));
		goto out;
	}
	snprintf(stdb, sizeof(stdb), "%s/registry.db", staging);
	snprintf(stage_root, sizeof(stage_root), "%s/blobs/sha256", staging);
	for (int idx = 0;; idx++) {
		char name[257];
		uint64_t len = 0;
		int end = 0;
		if ((e = tar_read_header(f, name, &len, &end)) != FLT_OK)
			goto corrupt;
		if (end)
			break;
		if (idx == 0 && strcmp(name, BACKUP_META))
			goto corrupt;
		if (!strcmp(name, BACKUP_META)) {
			if ((e = read_member(f, len, 4096, &m)) != FLT_OK)
				goto corrupt;
			cJSON *meta = cJSON_ParseWithLength((const char *)m.p, m.len);
			const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(meta, "format");
			int ok = cJSON_IsNumber(fmt) && fmt->valueint == BACKUP_FORMAT;
			cJSON_Delete(meta);
			flt_free(m.p);
			m.p = NULL;
			if (!ok) {
				rc = cli_fail(c, FLT_EINCOMPAT,
				              "'%s' is a backup format this flotilla does not read",
				              file);
				goto out;
			}
			have_meta = 1;
		} else if (!strcmp(name, BACKUP_DB) && !have_db) {
			/* Streamed into the staging directory (private until the
			 * final rename, so a plain write + fsync suffices). */
			FILE *out = fopen(stdb, "wb");
			if (!out) {
				rc = cli_fail(c, FLT_EIO, "cannot write '%s': %s", stdb,
				              strerror(errno));
				goto out;
			}
			e = tar_read_data(f, len, file_sink, out);
			int werr = fflush(out) != 0 || fsync(fileno(out)) != 0;
			werr |= fclose(out) != 0;
			if (e == FLT_EIO || (!e && werr)) {
				rc = cli_fail(c, FLT_EIO, "cannot write '%s': %s", stdb,
				              strerror(errno));
				goto out;
			}
			if (e)
				goto corrupt;
			have_db = 1;
		} else if (!strncmp(name, BLOB_PREFIX, strlen(BLOB_PREFIX)) && have_meta) {
			const char *rest = name + strlen(BLOB_PREFIX), *hexname = rest + 3;
			char hex[BLOB_HEX_LEN + 1];
			if (strlen(rest) != 3 + BLOB_HEX_LEN || rest[2] != '/' ||
			    !blob_hex_valid(hexname) || strncmp(rest, hexname, 2))
				goto corrupt;
			if ((e = read_member(f, len, BLOB_MAX, &m)) != FLT_OK)
				goto corrupt;
			e = blob_sha256_hex(m.p, m.len, hex);
			if (!e && strcmp(hex, hexname)) {
				rc = cli_fail(
				    c, FLT_EVERIFY,
				    "blob %s in '%s' does not match its hash; the backup is "
				    "damaged, nothing restored",
				    hexname, file);
				goto out;
			}
			if (!e) {
				char(*g)[BLOB_HEX_LEN + 1] =
				    flt_reallocarray(sg.hex, sg.n + 1, sizeof(*sg.hex));
				if (!g)
					e = FLT_ENOMEM;
				else
					sg.hex = g;
			}
			if (!e)
				e = blob_put(stage_root, m.p, m.len, hex, NULL);
			if (!e)
				memcpy(sg.hex[sg.n++], hex, sizeof(hex));
			flt_free(m.p);
			m.p = NULL;
			if (e) {
				rc = cli_fail(c, e, "cannot store blob %s: %s", hexname,
				              flt_strerror(e));
				goto out;
			}
			nblobs++;
		} else {
			goto corrupt;
		}
	}
	if (!have_meta || !have_db)
		goto corrupt;
	/* Open the staged copy as a registry: upgrades an older schema. */
	if ((e = flt_registry_open(staging, 0, &r)) != FLT_OK) {
		rc = cli_fail(
		    c, e, "the database in '%s' does not open as a registry: %s; nothing restored",
		    file, flt_strerror(e));
		goto out;
	}
	int64_t ok_check = 0;
	if ((e = reg_query_int(r, REG_Q_RESTORE_QUICK_CHECK, &ok_check, "")) != FLT_OK ||
	    ok_check != 1) {
		rc = cli_fail(c, FLT_EVERIFY,
		              "the database in '%s' fails its integrity check; nothing restored",
		              file);
		goto out;
	}
	/* Every referenced blob must now be in the store. */
	sqlite3_stmt *st;
	int row;
	if ((e = reg_stmt(r, REG_Q_BLOB_ALL, &st)) != FLT_OK)
		goto dberr;
	while (!(e = reg_step(r, st, &row)) && row) {
		char path[4300];
		const char *h = (const char *)sqlite3_column_text(st, 0);
		if (!h || blob_path(stage_root, h, path, sizeof(path)) != FLT_OK ||
		    stat(path, &sb) != 0) {
			sqlite3_reset(st);
			rc = cli_fail(
			    c, FLT_EVERIFY,
			    "'%s' lacks blob %s that its registry references; nothing restored",
			    file, h ? h : "?");
			goto out;
		}
	}
	sqlite3_reset(st);
	if (e)
		goto dberr;
	int64_t floor = reg_now_ms();
	if ((e = reg_begin(r)) != FLT_OK)
		goto dberr;
	e = reg_exec(r, REG_Q_COUNTERS_RAISE, "i", floor);
	if (!e)
		e = reg_exec(r, REG_Q_MODELS_RAISE_VERSIONS, "i", floor);
	if (!e)
		e = reg_commit(r);
	if (!e)
		e = reg_exec_raw(r, "PRAGMA journal_mode=DELETE", "journal_mode");
	if (e)
		goto dberr;
	cJSON *doc = cJSON_CreateObject(), *counters = cJSON_CreateObject();
	if ((e = reg_stmt(r, REG_Q_COUNTERS_ALL, &st)) != FLT_OK)
		goto dberr;
	while (!(e = reg_step(r, st, &row)) && row)
		cJSON_AddNumberToObject(counters, (const char *)sqlite3_column_text(st, 0),
		                        (double)sqlite3_column_int64(st, 1));
	sqlite3_reset(st);
	int schema = 0;
	e = reg_schema_version(r, &schema);
	flt_registry_close(r);
	r = NULL;
	for (size_t i = 0; i < sg.n; i++) {
		char from[4400], to[4400], dir[4400];
		snprintf(from, sizeof(from), "%s/%.2s/%s", stage_root, sg.hex[i], sg.hex[i]);
		snprintf(to, sizeof(to), "%s/%.2s/%s", blob_root, sg.hex[i], sg.hex[i]);
		snprintf(dir, sizeof(dir), "%s/%.2s", blob_root, sg.hex[i]);
		if (stat(to, &sb) == 0)
			continue; /* same bytes already stored */
		if (flt_file_mkdirs(dir, 0750, NULL) != FLT_OK || rename(from, to) != 0 ||
		    flt_fio_fsync_dir(dir, NULL) != FLT_OK) {
			cJSON_Delete(doc);
			cJSON_Delete(counters);
			rc = cli_fail(c, FLT_EIO, "cannot move blob %s into the store: %s",
			              sg.hex[i], strerror(errno));
			goto out;
		}
	}
	/* The commit point: an old WAL must not replay onto the restored file. */
	char side[4300];
	snprintf(side, sizeof(side), "%s-wal", dbpath);
	unlink(side);
	snprintf(side, sizeof(side), "%s-shm", dbpath);
	unlink(side);
	if (rename(stdb, dbpath) != 0 || flt_fio_fsync_dir(c->data_dir, NULL) != FLT_OK) {
		cJSON_Delete(doc);
		cJSON_Delete(counters);
		rc = cli_fail(c, FLT_EIO, "cannot move the restored registry into place: %s",
		              strerror(errno));
		goto out;
	}
	if (doc) {
		cJSON_AddStringToObject(doc, "data_dir", c->data_dir);
		cJSON_AddNumberToObject(doc, "schema_version", schema);
		cJSON_AddNumberToObject(doc, "blobs", (double)nblobs);
		cJSON_AddNumberToObject(doc, "version_floor", (double)floor);
		cJSON_AddItemToObject(doc, "counters", counters);
	} else {
		cJSON_Delete(counters);
	}
	rc = cli_emit(c, doc);
	goto out;
corrupt:
	rc = cli_fail(
	    c, FLT_EINVAL,
	    "'%s' is not a complete flotilla backup (truncated or corrupt); nothing restored",
	    file);
	goto out;
dberr:
	rc = cli_fail(c, e, "cannot finish the restore: %s; nothing restored", flt_strerror(e));
out:
	flt_free(m.p);
	flt_registry_close(r);
	if (f)
		fclose(f);
	if (staging[0])
		rm_staging(staging, &sg);
	flt_free(sg.hex);
	return rc;
}

int cmd_restore(int argc, char **argv)
{
	struct cli c;
	int rc;
	if ((rc = cli_start(&c, &restore_spec, argc, argv)) != CLI_CONTINUE)
		return cli_end(&c, rc);
	if (flt_file_mkdirs(c.data_dir, 0750, NULL) != FLT_OK)
		return cli_end(&c, cli_fail(&c, FLT_EIO, "cannot create '%s': %s", c.data_dir,
		                            strerror(errno)));
	return cli_end(&c, restore(&c, c.pos[0]));
}
