/* Blobs that a signed release envelope still names (its chunk index) must stay
 * alive: `model gc` after `model export` keeps them and succeeds, and a backup
 * carries them. Driven through the CLI in-process, as an operator would. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "flt/controller.h"
#include "sys_testutil.h"

static char g_dir[256];

/* Runs `flotilla ARGS... --data-dir g_dir` in-process with stdout discarded. */
static int cli(const char *a0, ...)
{
	char *argv[32] = {"flotilla"};
	int n = 1;
	va_list ap;
	va_start(ap, a0);
	for (const char *s = a0; s && n < 28; s = va_arg(ap, const char *))
		argv[n++] = (char *)s;
	va_end(ap);
	argv[n++] = "--data-dir";
	argv[n++] = g_dir;
	argv[n] = NULL;
	fflush(stdout);
	int saved = dup(1);
	FILE *devnull = fopen("/dev/null", "w");
	assert_non_null(devnull);
	dup2(fileno(devnull), 1);
	int rc = flt_controller_cli(n, argv);
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	fclose(devnull);
	return rc;
}

static void index_sha(char *hex, size_t cap)
{
	char dbp[512];
	sqlite3 *db = NULL;
	sqlite3_stmt *q = NULL;
	snprintf(dbp, sizeof dbp, "%s/registry.db", g_dir);
	assert_int_equal(sqlite3_open(dbp, &db), SQLITE_OK);
	assert_int_equal(
	    sqlite3_prepare_v2(db, "SELECT index_sha256 FROM release_envelopes", -1, &q, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	snprintf(hex, cap, "%s", (const char *)sqlite3_column_text(q, 0));
	sqlite3_finalize(q);
	sqlite3_close(db);
}

static void test_gc_keeps_envelope_chunk_index(void **state)
{
	(void)state;
	const char *src = getenv("FLT_SOURCE_DIR");
	char model[512], out[512], hex[80], blob[600];
	assert_non_null(src);
	snprintf(model, sizeof model, "%s/examples/models/wine/v1.onnx", src);
	assert_int_equal(tu_mkdtemp(g_dir, sizeof g_dir, "blobrefs"), 0);
	assert_int_equal(cli("keys", "init", NULL), 0);
	assert_int_equal(cli("model", "register", "onnx", "-n", "wine", "-f", model, NULL), 0);
	snprintf(out, sizeof out, "%s/export", g_dir);
	assert_int_equal(cli("model", "export", "wine:1", "--out", out, NULL), 0);
	index_sha(hex, sizeof hex);
	assert_int_equal(strlen(hex), 64);
	snprintf(blob, sizeof blob, "%s/blobs/sha256/%.2s/%s", g_dir, hex, hex);
	assert_true(tu_exists(blob));

	assert_int_equal(cli("model", "gc", NULL), 0);
	assert_int_equal(cli("model", "gc", NULL), 0);
	assert_true(tu_exists(blob));

	/* A backup restored elsewhere still holds the index blob. */
	char tar[512], rdir[256], rblob[600];
	snprintf(tar, sizeof tar, "%s/bk.tar", g_dir);
	assert_int_equal(cli("backup", tar, NULL), 0);
	assert_int_equal(tu_mkdtemp(rdir, sizeof rdir, "blobrefs-r"), 0);
	char *av[] = {"flotilla", "restore", tar, "--data-dir", rdir, "--force", NULL};
	fflush(stdout);
	int saved = dup(1);
	FILE *devnull = fopen("/dev/null", "w");
	assert_non_null(devnull);
	dup2(fileno(devnull), 1);
	int rc = flt_controller_cli(6, av);
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	fclose(devnull);
	assert_int_equal(rc, 0);
	snprintf(rblob, sizeof rblob, "%s/blobs/sha256/%.2s/%s", rdir, hex, hex);
	assert_true(tu_exists(rblob));
	tu_rmtree(rdir);
	tu_rmtree(g_dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_gc_keeps_envelope_chunk_index),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
