/* Model registry: registration rate, and query latency of `model list --name X`,
 * `model show NAME:latest` and `model metrics NAME --key K` on a registry of
 * 100,000 versions (BENCH=quick: 20,000), each command run in-process through
 * the real CLI entry point with its output discarded. */
#define _XOPEN_SOURCE 700
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "benchlib.h"
#include "flt/controller.h"

static char dd[256];
static int saved_stdout = -1, devnull = -1;

static void quiet(int on)
{
	fflush(stdout);
	if (on) {
		saved_stdout = dup(1);
		dup2(devnull, 1);
	} else {
		dup2(saved_stdout, 1);
		close(saved_stdout);
	}
}

/* Runs one flotilla command line in-process; returns its exit code. */
static int cli(const char *a1, const char *a2, const char *a3, const char *a4, const char *a5,
               const char *a6)
{
	const char *v[] = {"flotilla", a1,           a2, a3,   a4,     a5,
	                   a6,         "--data-dir", dd, "-o", "json", NULL};
	char *argv[16];
	int n = 0;
	for (int i = 0; i < 7; i++)
		if (v[i])
			argv[n++] = (char *)v[i];
	for (int i = 7; v[i]; i++)
		argv[n++] = (char *)v[i];
	argv[n] = NULL;
	return flt_controller_cli(n, argv);
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Median milliseconds of `reps` runs. */
static double time_cmd(int reps, const char *a1, const char *a2, const char *a3, const char *a4,
                       const char *a5, const char *a6)
{
	double t[64];
	if (reps > 64)
		reps = 64;
	for (int i = 0; i < reps; i++) {
		quiet(1);
		double t0 = bench_now();
		int rc = cli(a1, a2, a3, a4, a5, a6);
		t[i] = (bench_now() - t0) * 1000.0;
		quiet(0);
		if (rc != 0) {
			fprintf(stderr, "bench_registry: '%s %s %s' exited %d\n", a1, a2,
			        a3 ? a3 : "", rc);
			return -1;
		}
	}
	qsort(t, (size_t)reps, sizeof(t[0]), cmp_d);
	return t[reps / 2];
}

static int rm_cb(const char *p, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)type;
	(void)ftw;
	return remove(p);
}

/* Bulk-loads names x versions in one transaction, sharing the blob and the
 * analysis of the registered seed version (direct SQL: loading 100,000
 * versions through 100,000 processes would measure process start-up). */
static int populate(int names, int versions)
{
	char path[320];
	sqlite3 *db = NULL;
	sqlite3_stmt *m = NULL, *v = NULL, *t = NULL, *mt = NULL, *op = NULL;
	int rc = -1;
	snprintf(path, sizeof(path), "%s/registry.db", dd);
	if (sqlite3_open(path, &db) != SQLITE_OK)
		goto out;
	sqlite3_busy_timeout(db, 10000);
	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(
	        db, "INSERT INTO models (name, next_version, created_ms) VALUES (?1, ?2, 0)", -1,
	        &m, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(
	        db,
	        "INSERT INTO model_versions (model_id, version, format, framework, blob_sha256, "
	        "size, "
	        "ir_version, producer, param_count, param_bytes, peak_memory_bytes, runnable, "
	        "signature_json, created_ms) SELECT ?1, ?2, format, framework, blob_sha256, size, "
	        "ir_version, producer, param_count, param_bytes, peak_memory_bytes, runnable, "
	        "signature_json, ?3 FROM model_versions WHERE id = 1",
	        -1, &v, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "INSERT INTO version_tags VALUES (?1, 'stage', ?2)", -1, &t,
	                       NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(
	        db,
	        "INSERT INTO metrics (version_id, key, value, logged_ms) VALUES (?1, ?2, ?3, ?4)",
	        -1, &mt, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(
	        db,
	        "INSERT INTO version_ops SELECT ?1, domain, op_type, count, supported FROM "
	        "version_ops WHERE version_id = 1",
	        -1, &op, NULL) != SQLITE_OK)
		goto out;
	for (int i = 0; i < names; i++) {
		char name[32];
		snprintf(name, sizeof(name), "model-%04d", i);
		sqlite3_bind_text(m, 1, name, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int(m, 2, versions + 1);
		if (sqlite3_step(m) != SQLITE_DONE)
			goto out;
		sqlite3_reset(m);
		sqlite3_int64 mid = sqlite3_last_insert_rowid(db);
		for (int k = 1; k <= versions; k++) {
			sqlite3_bind_int64(v, 1, mid);
			sqlite3_bind_int(v, 2, k);
			sqlite3_bind_int64(v, 3, 1700000000000LL + k);
			if (sqlite3_step(v) != SQLITE_DONE)
				goto out;
			sqlite3_reset(v);
			sqlite3_int64 vid = sqlite3_last_insert_rowid(db);
			sqlite3_bind_int64(t, 1, vid);
			sqlite3_bind_text(t, 2, k % 10 ? "dev" : "prod", -1, SQLITE_STATIC);
			sqlite3_bind_int64(op, 1, vid);
			if (sqlite3_step(t) != SQLITE_DONE || sqlite3_step(op) != SQLITE_DONE)
				goto out;
			sqlite3_reset(t);
			sqlite3_reset(op);
			for (int j = 0; j < 3; j++) {
				sqlite3_bind_int64(mt, 1, vid);
				sqlite3_bind_text(mt, 2, j == 2 ? "loss" : "acc", -1,
				                  SQLITE_STATIC);
				sqlite3_bind_double(mt, 3, 0.5 + 0.4 * k / versions + 0.001 * j);
				sqlite3_bind_int64(mt, 4, 1700000000000LL + k * 10 + j);
				if (sqlite3_step(mt) != SQLITE_DONE)
					goto out;
				sqlite3_reset(mt);
			}
		}
	}
	if (sqlite3_exec(db, "COMMIT; ANALYZE;", NULL, NULL, NULL) != SQLITE_OK)
		goto out;
	rc = 0;
out:
	if (rc)
		fprintf(stderr, "bench_registry: populate: %s\n",
		        db ? sqlite3_errmsg(db) : "open failed");
	sqlite3_finalize(m);
	sqlite3_finalize(v);
	sqlite3_finalize(t);
	sqlite3_finalize(mt);
	sqlite3_finalize(op);
	sqlite3_close(db);
	return rc;
}

int main(void)
{
	int full = bench_full();
	int names = full ? 1000 : 200, versions = 100, regs = full ? 300 : 100;
	char model[512], notes[256];
	const char *src = getenv("FLT_SOURCE_DIR");
	snprintf(model, sizeof(model), "%s/tests/data/registry/conv.onnx", src ? src : ".");
	if (access(model, R_OK) != 0)
		snprintf(model, sizeof(model), "tests/data/registry/conv.onnx");
	snprintf(dd, sizeof(dd), "/tmp/flt-bench-registry-XXXXXX");
	if (!mkdtemp(dd) || (devnull = open("/dev/null", O_WRONLY)) < 0)
		return 1;
	setenv("FLOTILLA_LOG", "error", 1);
	int rc = 1;

	/* Registration: each a whole command (read, analyse, hash, fsync'd blob,
	 * one write transaction with its fsync). Same bytes: the blob is written once. */
	double t0 = bench_now();
	for (int i = 0; i < regs; i++) {
		const char *v[] = {"flotilla",   "model", "register", "onnx",     "-n",
		                   "seed",       "-f",    model,      "--metric", "acc=0.5",
		                   "--data-dir", dd,      NULL};
		quiet(1);
		int r = flt_controller_cli(12, (char **)v);
		quiet(0);
		if (r != 0) {
			fprintf(stderr, "bench_registry: register exited %d (model %s)\n", r,
			        model);
			goto out;
		}
	}
	double rate = regs / (bench_now() - t0);
	snprintf(notes, sizeof(notes),
	         "%d in-process `model register onnx` (593-byte Conv model, fsync on)", regs);
	bench_emit("bench_registry", &(struct bench_fig){"register rate", rate, "versions/s", NULL,
	                                                 0, NULL, NULL, 0, notes});

	if (populate(names, versions) != 0)
		goto out;
	int total = names * versions + regs;
	snprintf(notes, sizeof(notes), "%d versions in %d names (%d each)%s; median of 15", total,
	         names + 1, versions, full ? "" : "; BENCH=quick: 20,000 instead of 100,000");
	double l = time_cmd(15, "model", "list", "--name", "model-0123", NULL, NULL);
	double s = time_cmd(15, "model", "show", "model-0123:latest", NULL, NULL, NULL);
	double m = time_cmd(15, "model", "metrics", "model-0123", "--key", "acc", NULL);
	double g = time_cmd(15, "model", "list", "--name", "model-012*", "--tag", "stage=prod");
	if (l < 0 || s < 0 || m < 0 || g < 0)
		goto out;
	bench_emit("bench_registry", &(struct bench_fig){"model list --name X", l, "ms", NULL, 0,
	                                                 "value", "<=", 50, notes});
	bench_emit("bench_registry", &(struct bench_fig){"model show NAME:latest", s, "ms", NULL, 0,
	                                                 "value", "<=", 50, notes});
	bench_emit("bench_registry", &(struct bench_fig){"model metrics NAME --key K", m, "ms",
	                                                 NULL, 0, "value", "<=", 50, notes});
	bench_emit("bench_registry", &(struct bench_fig){"model list --name GLOB --tag k=v", g,
	                                                 "ms", NULL, 0, "value", "<=", 50, notes});
	rc = 0;
out:
	if (!getenv("BENCH_KEEP"))
		nftw(dd, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	else
		fprintf(stderr, "kept %s\n", dd);
	close(devnull);
	return rc;
}
