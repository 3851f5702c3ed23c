/* Integration tests of the model registry: the real `flotilla` binary against
 * real registry files in temporary data directories. Every subcommand, its
 * error paths and exit codes, "a failed command changes nothing", concurrent
 * registration, migration from schema 1, and backup/restore under writers. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "flt/registry.h"
#include "tt_proc.h"
#include <sqlite3.h>

#include "flt/golden.h"

static char bin[4096];
static char data[4096]; /* tests/data/registry */
static char dir[256];   /* this test's data directory parent */
static char dd[300];    /* this test's --data-dir */

struct res {
	int code;
	char out[1 << 16];
	char err[4096];
};

static struct res R;

/* Runs flotilla with the NULL-terminated args and FLOTILLA_DATA_DIR=data_dir;
 * fills R (stdout, stderr, exit code) and returns the exit code. */
static int flv(const char *data_dir, const char *const *args)
{
	char errpath[512];
	snprintf(errpath, sizeof(errpath), "%s/stderr.txt", dir);
	R.code =
	    tt_cli_run(bin, data_dir, errpath, args, R.out, sizeof(R.out), R.err, sizeof(R.err));
	if (R.code < 0)
		fail_msg("cannot run %s: %s", bin, strerror(errno));
	return R.code;
}

#define FL(...)     flv(dd, (const char *const[]){__VA_ARGS__, NULL})
#define FLD(d, ...) flv(d, (const char *const[]){__VA_ARGS__, NULL})

/* Asserts an exit code, showing stderr when it differs. */
#define EXPECT(code, call)                                                                         \
	do {                                                                                       \
		int rc_ = (call);                                                                  \
		if (rc_ != (code))                                                                 \
			fail_msg("%s: exit %d, wanted %d; stderr: %s", #call, rc_, (code), R.err); \
	} while (0)

static cJSON *json(void)
{
	cJSON *j = cJSON_Parse(R.out);
	if (!j)
		fail_msg("not JSON: %s", R.out);
	return j;
}

static double num(const cJSON *o, const char *k)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, k);
	if (!cJSON_IsNumber(x))
		fail_msg("no number '%s'", k);
	return x->valuedouble;
}

static const char *str(const cJSON *o, const char *k)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, k);
	if (!cJSON_IsString(x))
		fail_msg("no string '%s'", k);
	return x->valuestring;
}

static const char *fx(const char *name)
{
	static char buf[8][4200];
	static int i;
	i = (i + 1) % 8;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", data, name);
	return buf[i];
}

static const char *tmpf(const char *name)
{
	static char buf[8][600];
	static int i;
	i = (i + 1) % 8;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", dir, name);
	return buf[i];
}

static void write_file(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

static size_t read_file(const char *path, unsigned char *buf, size_t cap)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	size_t n = fread(buf, 1, cap, f);
	fclose(f);
	return n;
}

static int count_blobs_cb(const char *p, const struct stat *sb, int type, struct FTW *ftw);
static int n_blob_files;
static int count_blobs_cb(const char *p, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)p;
	(void)sb;
	(void)ftw;
	n_blob_files += type == FTW_F;
	return 0;
}

static int blob_files(const char *data_dir)
{
	char p[1024];
	snprintf(p, sizeof(p), "%s/blobs", data_dir);
	n_blob_files = 0;
	nftw(p, count_blobs_cb, 16, FTW_PHYS);
	return n_blob_files;
}

static int rm_cb(const char *p, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)type;
	(void)ftw;
	return remove(p);
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/flt-registry-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(dd, sizeof(dd), "%s/data", dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* The registry as a user sees it plus the blob files: what "nothing changed" compares. */
static char *fingerprint(const char *data_dir)
{
	FLD(data_dir, "model", "list", "--all", "-o", "json");
	size_t n = strlen(R.out) + 32;
	char *s = malloc(n);
	assert_non_null(s);
	snprintf(s, n, "%d|%s|%d", R.code, R.out, blob_files(data_dir));
	return s;
}

static sqlite3 *db_open(const char *data_dir)
{
	char p[1024];
	sqlite3 *db;
	snprintf(p, sizeof(p), "%s/registry.db", data_dir);
	assert_int_equal(sqlite3_open(p, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 10000);
	return db;
}

static int64_t db_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	int64_t v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static void db_exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg);
}

/* ---- tests -------------------------------------------------------------------- */

static void test_help_and_usage(void **state)
{
	(void)state;
	static const char *const subs[] = {"register", "list",   "show",    "lineage", "diff",
	                                   "metrics",  "metric", "tag",     "alias",   "archive",
	                                   "delete",   "gc",     "promote", "update"};
	EXPECT(0, FL("model", "--help"));
	assert_non_null(strstr(R.out, "register"));
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		EXPECT(0, FL("model", subs[i], "--help"));
		assert_non_null(strstr(R.out, "usage: flotilla model"));
	}
	EXPECT(0, FL("run", "--help"));
	EXPECT(0, FL("backup", "--help"));
	EXPECT(0, FL("restore", "--help"));
	EXPECT(2, FL("model"));
	EXPECT(2, FL("model", "bogus"));
	EXPECT(2, FL("model", "list", "--bogus"));
	EXPECT(2, FL("model", "list", "-o", "xml"));
	EXPECT(2, FL("model", "show"));
	EXPECT(2, FL("model", "show", "a", "b"));
	EXPECT(2, FL("run", "bogus"));
	/* one line naming the problem */
	EXPECT(2, FL("model", "list", "--bogus"));
	assert_non_null(strstr(R.err, "--bogus"));
	assert_non_null(strchr(R.err, '\n'));
	assert_int_equal(strchr(R.err, '\n')[1], '\0');
	/* reading a registry that does not exist: not found, and nothing created */
	EXPECT(3, FL("model", "list"));
	assert_non_null(strstr(R.err, "no registry"));
	struct stat sb;
	assert_int_not_equal(stat(dd, &sb), 0);
}

static void test_register_onnx_and_show(void **state)
{
	(void)state;
	EXPECT(0, FL("model", "register", "onnx", "-n", "conv", "-f", fx("conv.onnx"), "--tag",
	             "stage=dev", "--metric", "acc=0.9", "--lineage", "code=git:abc123",
	             "--lineage", "data=sha256:feed", "--golden", fx("conv_golden"), "--rtol",
	             "0.01", "--atol", "0.001", "-o", "json"));
	cJSON *j = json();
	assert_string_equal(str(j, "ref"), "conv:1");
	assert_int_equal((int)num(j, "version"), 1);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "runnable")));
	cJSON_Delete(j);

	EXPECT(0, FL("model", "show", "conv", "-o", "json"));
	j = json();
	assert_string_equal(str(j, "format"), "onnx");
	assert_int_equal((int)num(j, "ir_version"), 3);
	assert_int_equal((int)num(j, "param_count"), 76);
	assert_int_equal((int)num(j, "param_bytes"), 304);
	assert_true(num(j, "peak_memory_bytes") > 0);
	assert_int_equal((int)num(j, "size"), 593);
	const cJSON *ops = cJSON_GetObjectItem(j, "operators");
	assert_int_equal(cJSON_GetArraySize(ops), 1);
	assert_string_equal(str(cJSON_GetArrayItem(ops, 0), "op_type"), "Conv");
	assert_int_equal((int)num(cJSON_GetArrayItem(ops, 0), "count"), 1);
	const cJSON *in = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "inputs"), 0);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(in, "shape")), 4);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "opsets")), 1);
	const cJSON *g = cJSON_GetObjectItem(j, "golden");
	assert_true(cJSON_IsObject(g));
	assert_true(num(g, "rtol") == 0.01);
	assert_int_equal((int)num(g, "vectors"), 1);
	assert_string_equal(str(cJSON_GetObjectItem(j, "tags"), "stage"), "dev");
	assert_true(num(cJSON_GetObjectItem(j, "metrics"), "acc") == 0.9);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "lineage")), 2);
	/* model blob + golden bundle, the latter in the project's bundle format */
	assert_int_equal(blob_files(dd), 2);
	{
		char gp[1024];
		static unsigned char gb[1 << 16];
		snprintf(gp, sizeof(gp), "%s/blobs/sha256/%.2s/%s", dd, str(g, "sha256"),
		         str(g, "sha256"));
		size_t gl = read_file(gp, gb, sizeof(gb));
		struct flt_golden *gold = NULL;
		assert_int_equal(flt_golden_parse(gb, gl, sizeof(gb), &gold, NULL), FLT_OK);
		assert_int_equal(gold->n_cases, 1);
		assert_int_equal(gold->cases[0].n_inputs, 1);
		assert_int_equal(gold->cases[0].n_outputs, 1);
		assert_true(gold->rtol == 0.01);
		flt_golden_free(gold);
	}
	cJSON_Delete(j);

	/* the table form says the same things */
	EXPECT(0, FL("model", "show", "conv:1"));
	assert_non_null(strstr(R.out, "Conv"));
	assert_non_null(strstr(R.out, "peak_memory_bytes"));
}

static void test_register_generic_and_dedup(void **state)
{
	(void)state;
	write_file(tmpf("m.tflite"), "tflite-bytes-1", 14);
	EXPECT(0, FL("model", "register", "generic", "-n", "g", "-f", tmpf("m.tflite"),
	             "--framework", "tflite", "-o", "json"));
	cJSON *j = json();
	assert_false(cJSON_IsTrue(cJSON_GetObjectItem(j, "deduplicated")));
	cJSON_Delete(j);
	EXPECT(0, FL("model", "register", "generic", "-n", "g", "-f", tmpf("m.tflite"),
	             "--framework", "tflite", "-o", "json"));
	j = json();
	assert_string_equal(str(j, "ref"), "g:2");
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "deduplicated")));
	cJSON_Delete(j);
	/* same bytes under another name too: still one file */
	EXPECT(0, FL("model", "register", "generic", "-n", "h", "-f", tmpf("m.tflite"),
	             "--framework", "pytorch"));
	assert_int_equal(blob_files(dd), 1);
	EXPECT(0, FL("model", "show", "g:1", "-o", "json"));
	j = json();
	assert_false(cJSON_IsTrue(cJSON_GetObjectItem(j, "runnable")));
	assert_non_null(strstr(str(j, "not_runnable_reason"), "generic"));
	assert_string_equal(str(j, "framework"), "tflite");
	cJSON_Delete(j);
	/* an ONNX file with operators this runtime lacks registers, marked not runnable */
	EXPECT(0, FL("model", "register", "onnx", "-n", "strnorm", "-f", fx("strnorm.onnx")));
	EXPECT(0, FL("model", "show", "strnorm", "-o", "json"));
	j = json();
	assert_false(cJSON_IsTrue(cJSON_GetObjectItem(j, "runnable")));
	assert_non_null(strstr(str(j, "not_runnable_reason"), "StringNormalizer"));
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(j, "peak_memory_bytes")));
	const cJSON *op = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "operators"), 0);
	assert_string_equal(str(op, "op_type"), "StringNormalizer");
	assert_false(cJSON_IsTrue(cJSON_GetObjectItem(op, "supported")));
	cJSON_Delete(j);
}

static void test_register_refusals_change_nothing(void **state)
{
	(void)state;
	unsigned char buf[1024];
	/* On an empty data dir a refused file writes nothing at all. */
	EXPECT(5, FL("model", "register", "onnx", "-n", "x", "-f", tmpf("missing.onnx")));
	assert_non_null(strstr(R.err, "missing.onnx"));
	struct stat sb;
	assert_int_not_equal(stat(dd, &sb), 0);

	/* a parent or run model that cannot exist does not create a registry either */
	EXPECT(3,
	       FL("model", "register", "onnx", "-n", "x", "-f", fx("abs.onnx"), "--parent", "p:1"));
	EXPECT(3, FL("run", "log", "--experiment-id", "e", "--run-id", "r", "--model", "p:1"));
	assert_int_not_equal(stat(dd, &sb), 0);

	EXPECT(0, FL("model", "register", "onnx", "-n", "base", "-f", fx("abs.onnx")));
	char *before = fingerprint(dd);

	size_t n = read_file(fx("conv.onnx"), buf, sizeof(buf));
	write_file(tmpf("trunc.onnx"), buf, n / 2);
	write_file(tmpf("empty.onnx"), "", 0);
	write_file(tmpf("text.onnx"), "this is not a protobuf at all, just text\n", 41);
	memcpy(buf + 40, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 10);
	write_file(tmpf("corrupt.onnx"), buf, n);
	write_file(tmpf("unreadable.onnx"), buf, n);
	chmod(tmpf("unreadable.onnx"), 0);
	mkdir(tmpf("emptydir"), 0700);

	EXPECT(5, FL("model", "register", "onnx", "-n", "x", "-f", tmpf("missing.onnx")));
	EXPECT(5, FL("model", "register", "onnx", "-n", "x", "-f", tmpf("trunc.onnx")));
	assert_non_null(strstr(R.err, "not a parseable ONNX"));
	EXPECT(5, FL("model", "register", "onnx", "-n", "x", "-f", tmpf("empty.onnx")));
	EXPECT(5, FL("model", "register", "onnx", "-n", "x", "-f", tmpf("text.onnx")));
	EXPECT(5, FL("model", "register", "onnx", "-n", "x", "-f", tmpf("corrupt.onnx")));
	if (geteuid() != 0) /* root reads anything */
		EXPECT(5,
		       FL("model", "register", "onnx", "-n", "x", "-f", tmpf("unreadable.onnx")));
	EXPECT(5, FL("model", "register", "onnx", "-n", "x", "-f", tmpf("emptydir")));
	EXPECT(5, FL("model", "register", "onnx", "-n", "Bad", "-f", fx("abs.onnx")));
	EXPECT(5, FL("model", "register", "onnx", "-n", "..", "-f", fx("abs.onnx")));
	EXPECT(5, FL("model", "register", "onnx", "-n", "x", "-f", fx("abs.onnx"), "--tag",
	             "novalue"));
	EXPECT(5, FL("model", "register", "onnx", "-n", "x", "-f", fx("abs.onnx"), "--metric",
	             "acc=high"));
	EXPECT(5, FL("model", "register", "onnx", "-n", "x", "-f", fx("abs.onnx"), "--metric",
	             "acc=inf"));
	EXPECT(5, FL("model", "register", "onnx", "-n", "x", "-f", fx("abs.onnx"), "--parent",
	             "a:b:c"));
	EXPECT(3, FL("model", "register", "onnx", "-n", "x", "-f", fx("abs.onnx"), "--parent",
	             "nosuch:1"));
	EXPECT(3, FL("model", "register", "onnx", "-n", "x", "-f", fx("abs.onnx"), "--parent",
	             "base:9"));
	EXPECT(5, FL("model", "register", "onnx", "-n", "x", "-f", fx("conv.onnx"), "--golden",
	             tmpf("emptydir")));
	EXPECT(5, FL("model", "register", "onnx", "-n", "x", "-f", fx("conv.onnx"), "--golden",
	             tmpf("nodir")));
	EXPECT(5, FL("model", "register", "onnx", "-n", "x", "-f", fx("conv.onnx"), "--golden",
	             fx("conv_golden"), "--rtol", "-1"));
	/* golden cases must decode as TensorProtos and match the model's inputs */
	EXPECT(5, FL("model", "register", "onnx", "-n", "x", "-f", fx("add.onnx"), "--golden",
	             fx("conv_golden")));
	assert_non_null(strstr(R.err, "inputs"));
	mkdir(tmpf("badgold"), 0700);
	write_file(tmpf("badgold/input_0.pb"), "\xff\xff\xff\xff", 4);
	write_file(tmpf("badgold/output_0.pb"), "\xff\xff\xff\xff", 4);
	EXPECT(5, FL("model", "register", "onnx", "-n", "x", "-f", fx("abs.onnx"), "--golden",
	             tmpf("badgold")));
	EXPECT(5, FL("model", "register", "generic", "-n", "x", "-f", fx("abs.onnx"), "--framework",
	             "Bad FW"));
	EXPECT(5, FL("model", "register", "onnx", "-n", "x", "-f", fx("abs.onnx"), "--framework",
	             "tflite"));
	EXPECT(2, FL("model", "register", "onnx", "-f", fx("abs.onnx")));
	EXPECT(2, FL("model", "register", "onnx", "-n", "x"));
	EXPECT(2, FL("model", "register", "tensorflow", "-n", "x", "-f", fx("abs.onnx")));
	EXPECT(2, FL("model", "register", "generic", "-n", "x", "-f", fx("abs.onnx")));
	EXPECT(2,
	       FL("model", "register", "onnx", "-n", "x", "-f", fx("abs.onnx"), "--rtol", "0.1"));
	EXPECT(2, FL("model", "register", "onnx", "-n", "x", "-f", fx("abs.onnx"), "--bogus"));

	char *after = fingerprint(dd);
	assert_string_equal(before, after);
	free(before);
	free(after);
	chmod(tmpf("unreadable.onnx"), 0600);
}

static void test_refs_archive_and_aliases(void **state)
{
	(void)state;
	for (int i = 0; i < 3; i++)
		EXPECT(0, FL("model", "register", "onnx", "-n", "m", "-f",
		             fx(i == 1 ? "add.onnx" : "abs.onnx")));
	EXPECT(0, FL("model", "show", "m", "-o", "json"));
	cJSON *j = json();
	assert_string_equal(str(j, "ref"), "m:3");
	cJSON_Delete(j);
	EXPECT(0, FL("model", "show", "m:latest", "-o", "json"));
	j = json();
	assert_string_equal(str(j, "ref"), "m:3");
	cJSON_Delete(j);
	EXPECT(0, FL("model", "alias", "set", "m:2", "stable", "-o", "json"));
	EXPECT(0, FL("model", "show", "m@stable", "-o", "json"));
	j = json();
	assert_string_equal(str(j, "ref"), "m:2");
	assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "aliases"), 0)->valuestring,
	                    "stable");
	cJSON_Delete(j);
	/* archive hides from latest, not from NAME:VER */
	EXPECT(0, FL("model", "archive", "m:3"));
	EXPECT(0, FL("model", "show", "m", "-o", "json"));
	j = json();
	assert_string_equal(str(j, "ref"), "m:2");
	cJSON_Delete(j);
	EXPECT(0, FL("model", "show", "m:3"));
	EXPECT(0, FL("model", "list", "-o", "json"));
	j = json();
	assert_int_equal(cJSON_GetArraySize(j), 2);
	cJSON_Delete(j);
	EXPECT(0, FL("model", "list", "--all", "-o", "json"));
	j = json();
	assert_int_equal(cJSON_GetArraySize(j), 3);
	cJSON_Delete(j);
	EXPECT(0, FL("model", "archive", "m:3", "--undo"));
	EXPECT(0, FL("model", "show", "m", "-o", "json"));
	j = json();
	assert_string_equal(str(j, "ref"), "m:3");
	cJSON_Delete(j);
	/* errors */
	EXPECT(3, FL("model", "show", "m:9"));
	assert_non_null(strstr(R.err, "no version 9"));
	EXPECT(3, FL("model", "show", "m@nope"));
	EXPECT(3, FL("model", "show", "nosuch"));
	EXPECT(5, FL("model", "show", "m:0"));
	EXPECT(5, FL("model", "show", "M"));
	EXPECT(5, FL("model", "alias", "set", "m:1", "latest"));
	EXPECT(5, FL("model", "alias", "set", "m:1", "Bad"));
	EXPECT(3, FL("model", "alias", "set", "m:7", "x"));
	EXPECT(2, FL("model", "alias", "move", "m:1", "x"));
	EXPECT(0, FL("model", "alias", "rm", "m", "stable"));
	EXPECT(3, FL("model", "alias", "rm", "m", "stable"));
	EXPECT(3, FL("model", "show", "m@stable"));
	EXPECT(3, FL("model", "archive", "m:9"));
}

static void test_tags_and_list_filters(void **state)
{
	(void)state;
	EXPECT(0, FL("model", "register", "onnx", "-n", "det-a", "-f", fx("abs.onnx"), "--tag",
	             "team=vision"));
	EXPECT(0, FL("model", "register", "onnx", "-n", "det-b", "-f", fx("add.onnx"), "--tag",
	             "team=vision", "--tag", "stage=prod"));
	EXPECT(0, FL("model", "register", "onnx", "-n", "cls", "-f", fx("conv.onnx"), "--tag",
	             "team=audio"));
	EXPECT(0, FL("model", "list", "--name", "det-*", "-o", "json"));
	cJSON *j = json();
	assert_int_equal(cJSON_GetArraySize(j), 2);
	cJSON_Delete(j);
	EXPECT(0, FL("model", "list", "--tag", "team=vision", "--tag", "stage=prod", "-o", "json"));
	j = json();
	assert_int_equal(cJSON_GetArraySize(j), 1);
	assert_string_equal(str(cJSON_GetArrayItem(j, 0), "ref"), "det-b:1");
	cJSON_Delete(j);
	EXPECT(0, FL("model", "tag", "add", "cls:1", "stage=prod", "owner=ana"));
	EXPECT(0, FL("model", "list", "--tag", "stage=prod", "-o", "json"));
	j = json();
	assert_int_equal(cJSON_GetArraySize(j), 2);
	cJSON_Delete(j);
	EXPECT(0, FL("model", "tag", "add", "cls:1", "stage=dev")); /* replaces */
	EXPECT(0, FL("model", "tag", "rm", "cls:1", "owner"));
	EXPECT(0, FL("model", "show", "cls", "-o", "json"));
	j = json();
	const cJSON *tags = cJSON_GetObjectItem(j, "tags");
	assert_string_equal(str(tags, "stage"), "dev");
	assert_null(cJSON_GetObjectItem(tags, "owner"));
	cJSON_Delete(j);
	EXPECT(3, FL("model", "tag", "rm", "cls:1", "owner"));
	EXPECT(5, FL("model", "tag", "add", "cls:1", "novalue"));
	EXPECT(3, FL("model", "tag", "add", "cls:5", "a=b"));
	EXPECT(2, FL("model", "tag", "set", "cls:1", "a=b"));
	EXPECT(5, FL("model", "list", "--tag", "x"));
	EXPECT(0, FL("model", "list", "--limit", "1", "-o", "json"));
	j = json();
	assert_int_equal(cJSON_GetArraySize(j), 1);
	cJSON_Delete(j);
	EXPECT(0, FL("model", "list"));
	assert_non_null(strstr(R.out, "REF"));
	assert_non_null(strstr(R.out, "det-b:1"));
}

static void test_metrics_history(void **state)
{
	(void)state;
	EXPECT(0, FL("model", "register", "onnx", "-n", "m", "-f", fx("abs.onnx"), "--metric",
	             "acc=0.8"));
	EXPECT(0, FL("model", "register", "onnx", "-n", "m", "-f", fx("add.onnx"), "--metric",
	             "acc=0.85"));
	EXPECT(0, FL("model", "metric", "log", "m:1", "acc=0.82", "loss=0.3"));
	EXPECT(0, FL("model", "metric", "log", "m", "acc=0.9"));
	EXPECT(0, FL("model", "metrics", "m", "--key", "acc", "-o", "json"));
	cJSON *j = json();
	assert_int_equal(cJSON_GetArraySize(j), 4);
	static const double want[] = {0.8, 0.82, 0.85, 0.9};
	static const int wantv[] = {1, 1, 2, 2};
	for (int i = 0; i < 4; i++) {
		assert_true(num(cJSON_GetArrayItem(j, i), "value") == want[i]);
		assert_int_equal((int)num(cJSON_GetArrayItem(j, i), "version"), wantv[i]);
	}
	cJSON_Delete(j);
	EXPECT(0, FL("model", "show", "m:1", "-o", "json"));
	j = json();
	assert_true(num(cJSON_GetObjectItem(j, "metrics"), "acc") == 0.82); /* latest value */
	cJSON_Delete(j);
	EXPECT(2, FL("model", "metrics", "m"));
	EXPECT(3, FL("model", "metrics", "nosuch", "--key", "acc"));
	EXPECT(5, FL("model", "metrics", "m:1", "--key", "acc"));
	EXPECT(5, FL("model", "metric", "log", "m:1", "acc=x"));
	EXPECT(3, FL("model", "metric", "log", "m:3", "acc=1"));
	EXPECT(2, FL("model", "metric", "put", "m:1", "acc=1"));
	EXPECT(0, FL("model", "metrics", "m", "--key", "none", "-o", "json"));
	assert_string_equal(R.out, "[]\n");
}

static void test_lineage_graph(void **state)
{
	(void)state;
	EXPECT(0, FL("model", "register", "onnx", "-n", "base", "-f", fx("conv.onnx"), "--lineage",
	             "data=sha256:aa", "--lineage", "compute=gpu-8"));
	EXPECT(0, FL("model", "register", "onnx", "-n", "tuned", "-f", fx("abs.onnx"), "--parent",
	             "base:1", "--lineage", "code=git:1234"));
	EXPECT(0, FL("model", "register", "onnx", "-n", "quant", "-f", fx("add.onnx"), "--parent",
	             "tuned"));
	EXPECT(0, FL("model", "lineage", "quant:1", "-o", "json"));
	cJSON *j = json();
	const cJSON *up = cJSON_GetObjectItem(j, "up");
	assert_int_equal(cJSON_GetArraySize(up), 2);
	assert_string_equal(str(cJSON_GetArrayItem(up, 0), "ref"), "tuned:1");
	assert_int_equal((int)num(cJSON_GetArrayItem(up, 0), "depth"), 1);
	assert_string_equal(str(cJSON_GetArrayItem(up, 1), "ref"), "base:1");
	assert_int_equal((int)num(cJSON_GetArrayItem(up, 1), "depth"), 2);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "down")), 0);
	cJSON_Delete(j);
	EXPECT(0, FL("model", "lineage", "base:1", "-o", "json"));
	j = json();
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "down")), 2);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "lineage")), 2);
	cJSON_Delete(j);
	EXPECT(0, FL("model", "lineage", "tuned"));
	assert_non_null(strstr(R.out, "base:1"));
	assert_non_null(strstr(R.out, "quant:1"));
	EXPECT(3, FL("model", "lineage", "nosuch"));
}

static void test_experiments_and_promote(void **state)
{
	(void)state;
	EXPECT(0, FL("model", "register", "onnx", "-n", "cand", "-f", fx("abs.onnx")));
	EXPECT(0, FL("model", "register", "onnx", "-n", "cand", "-f", fx("add.onnx")));
	EXPECT(0, FL("model", "register", "onnx", "-n", "cand", "-f", fx("conv.onnx")));
	EXPECT(0, FL("run", "log", "--experiment-id", "exp1", "--run-id", "r1", "--metric",
	             "acc=0.7", "--metric", "loss=0.5", "--model", "cand:1"));
	EXPECT(0, FL("run", "log", "--experiment-id", "exp1", "--run-id", "r2", "--metric",
	             "acc=0.9", "--metric", "loss=0.4", "--model", "cand:2"));
	EXPECT(0, FL("run", "log", "--experiment-id", "exp1", "--run-id", "r3", "--metric",
	             "acc=0.8", "--metric", "loss=0.1", "--model", "cand:3"));
	/* r1's accuracy improves later: the latest value counts, still below r2 */
	EXPECT(0, FL("run", "log", "--experiment-id", "exp1", "--run-id", "r1", "--metric",
	             "acc=0.75"));
	/* a run without a model never wins */
	EXPECT(0, FL("run", "log", "--experiment-id", "exp1", "--run-id", "r4", "--metric",
	             "acc=0.99"));

	EXPECT(0, FL("model", "promote", "-n", "prod", "--experiment-id", "exp1", "--by", "acc",
	             "--max", "-o", "json"));
	cJSON *j = json();
	assert_string_equal(str(j, "ref"), "prod:1");
	assert_string_equal(str(j, "from"), "cand:2");
	assert_string_equal(str(j, "run_id"), "r2");
	cJSON_Delete(j);
	EXPECT(0, FL("model", "promote", "-n", "prod", "--experiment-id", "exp1", "--by", "loss",
	             "--min", "-o", "json"));
	j = json();
	assert_string_equal(str(j, "ref"), "prod:2");
	assert_string_equal(str(j, "from"), "cand:3");
	cJSON_Delete(j);
	EXPECT(0, FL("model", "show", "prod@promoted", "-o", "json"));
	j = json();
	assert_string_equal(str(j, "ref"), "prod:2");
	assert_string_equal(str(cJSON_GetObjectItem(j, "run"), "run_id"), "r3");
	assert_true(num(cJSON_GetObjectItem(j, "metrics"), "loss") == 0.1);
	char sha[80];
	snprintf(sha, sizeof(sha), "%s", str(j, "sha256"));
	assert_string_equal(str(j, "producer"), "pytorch"); /* analysis copied */
	cJSON_Delete(j);
	EXPECT(0, FL("model", "show", "cand:3", "-o", "json"));
	j = json();
	assert_string_equal(str(j, "sha256"), sha); /* same blob */
	cJSON_Delete(j);
	EXPECT(0, FL("model", "lineage", "prod:2", "-o", "json"));
	j = json();
	const cJSON *up0 = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "up"), 0);
	assert_string_equal(str(up0, "ref"), "cand:3");
	assert_string_equal(str(up0, "relation"), "promoted-from");
	cJSON_Delete(j);
	/* -m REF */
	EXPECT(0, FL("model", "promote", "-n", "prod", "-m", "cand:1", "--experiment-id", "exp1",
	             "-o", "json"));
	j = json();
	assert_string_equal(str(j, "ref"), "prod:3");
	cJSON_Delete(j);
	/* errors */
	EXPECT(4,
	       FL("run", "log", "--experiment-id", "exp1", "--run-id", "r2", "--model", "cand:1"));
	EXPECT(3,
	       FL("run", "log", "--experiment-id", "exp1", "--run-id", "r9", "--model", "cand:9"));
	EXPECT(2, FL("run", "log", "--experiment-id", "exp1", "--run-id", "r9"));
	EXPECT(2, FL("run", "log", "--run-id", "r9", "--metric", "a=1"));
	EXPECT(5, FL("run", "log", "--experiment-id", "e x", "--run-id", "r9", "--metric", "a=1"));
	EXPECT(5, FL("run", "log", "--experiment-id", "e", "--run-id", "r9", "--metric", "a=b"));
	EXPECT(3, FL("model", "promote", "-n", "prod", "--experiment-id", "exp1", "--by", "f1",
	             "--max"));
	EXPECT(3, FL("model", "promote", "-n", "prod", "--experiment-id", "nosuch", "--by", "acc",
	             "--max"));
	EXPECT(3,
	       FL("model", "promote", "-n", "prod", "-m", "cand:3", "--experiment-id", "nosuch"));
	EXPECT(2, FL("model", "promote", "-n", "prod", "--experiment-id", "exp1", "--by", "acc"));
	EXPECT(2, FL("model", "promote", "-n", "prod", "--experiment-id", "exp1", "--by", "acc",
	             "--max", "--min"));
	EXPECT(2, FL("model", "promote", "-n", "prod", "-m", "cand:1", "--by", "acc", "--max"));
	EXPECT(2, FL("model", "promote", "--experiment-id", "exp1", "--by", "acc", "--max"));
	EXPECT(5, FL("model", "promote", "-n", "Prod", "-m", "cand:1"));
	EXPECT(0, FL("model", "list", "--name", "prod", "-o", "json"));
	j = json();
	assert_int_equal(cJSON_GetArraySize(j), 3);
	cJSON_Delete(j);
	/* a key given twice at registration is refused, nothing registered */
	EXPECT(5, FL("model", "register", "onnx", "-n", "cand", "-f", fx("abs.onnx"), "--metric",
	             "a=1", "--metric", "a=2"));
	EXPECT(5, FL("model", "register", "onnx", "-n", "cand", "-f", fx("abs.onnx"), "--tag",
	             "k=1", "--tag", "k=1"));
	EXPECT(3, FL("model", "show", "cand:4"));
	/* an archived version is hidden from new rollouts, so it never wins a promotion */
	EXPECT(0, FL("model", "archive", "cand:2"));
	EXPECT(0, FL("model", "promote", "-n", "prod", "--experiment-id", "exp1", "--by", "acc",
	             "--max", "-o", "json"));
	j = json();
	assert_string_equal(str(j, "from"), "cand:3");
	assert_string_equal(str(j, "run_id"), "r3");
	cJSON_Delete(j);
}

static void test_diff(void **state)
{
	(void)state;
	EXPECT(0, FL("model", "register", "onnx", "-n", "m", "-f", fx("abs.onnx"), "--metric",
	             "acc=0.5"));
	EXPECT(0, FL("model", "register", "onnx", "-n", "m", "-f", fx("add.onnx"), "--metric",
	             "acc=0.75"));
	EXPECT(0, FL("model", "register", "onnx", "-n", "m", "-f", fx("add.onnx")));
	EXPECT(0, FL("model", "diff", "m:1", "m:2", "-o", "json"));
	cJSON *j = json();
	assert_string_equal(str(j, "compatibility"), "breaking");
	const cJSON *sig = cJSON_GetObjectItem(j, "signature");
	int breaking = 0, compatible = 0;
	const cJSON *x;
	cJSON_ArrayForEach(x, sig)
	{
		if (!strcmp(str(x, "class"), "breaking"))
			breaking++;
		else
			compatible++;
		assert_true(strlen(str(x, "reason")) > 0);
	}
	assert_int_equal(breaking, 2);   /* input y added, output y removed */
	assert_int_equal(compatible, 1); /* output sum added */
	const cJSON *ops = cJSON_GetObjectItem(j, "operators");
	assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(ops, "added"), 0)->valuestring,
	                    "Add");
	assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(ops, "removed"), 0)->valuestring,
	                    "Abs");
	const cJSON *ops0 = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "opsets"), 0);
	assert_true(num(ops0, "a") != num(ops0, "b"));
	assert_int_equal((int)num(cJSON_GetObjectItem(j, "size"), "delta"), 129 - 97);
	const cJSON *m0 = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "metrics"), 0);
	assert_string_equal(str(m0, "key"), "acc");
	assert_true(num(m0, "delta") == 0.25);
	cJSON_Delete(j);
	EXPECT(0, FL("model", "diff", "m:2", "m:3", "-o", "json"));
	j = json();
	assert_string_equal(str(j, "compatibility"), "compatible");
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "signature")), 0);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "same_bytes")));
	cJSON_Delete(j);
	EXPECT(0, FL("model", "diff", "m:1", "m:2"));
	assert_non_null(strstr(R.out, "breaking"));
	EXPECT(3, FL("model", "diff", "m:1", "m:9"));
	EXPECT(2, FL("model", "diff", "m:1"));
}

static void test_update_archive_delete_gc(void **state)
{
	(void)state;
	write_file(tmpf("a.bin"), "model-a", 7);
	write_file(tmpf("b.bin"), "model-b", 7);
	EXPECT(0, FL("model", "register", "generic", "-n", "m", "-f", tmpf("a.bin"), "--framework",
	             "tflite"));
	EXPECT(0, FL("model", "register", "generic", "-n", "m", "-f", tmpf("b.bin"), "--framework",
	             "tflite"));
	EXPECT(0, FL("model", "register", "generic", "-n", "m", "-f", tmpf("b.bin"), "--framework",
	             "tflite"));
	EXPECT(0, FL("model", "update", "-n", "m:latest", "--all", "-o", "json"));
	cJSON *j = json();
	assert_string_equal(str(j, "ref"), "m:3");
	assert_string_equal(str(j, "state"), "pending");
	cJSON_Delete(j);
	EXPECT(2, FL("model", "update", "-n", "m:latest"));
	EXPECT(2, FL("model", "update", "--all"));
	EXPECT(3, FL("model", "update", "-n", "nosuch", "--all"));
	sqlite3 *db = db_open(dd);
	assert_int_equal(
	    db_int(db,
	           "SELECT count(*) FROM update_requests WHERE target='all' AND state='pending' "
	           "AND version_id=(SELECT id FROM model_versions WHERE version=3)"),
	    1);
	/* a device runs m:1: delete refused, naming the device */
	db_exec(db, "INSERT INTO deployments (device_id, version_id, state, since_ms) VALUES "
	            "('cam-01', (SELECT id FROM model_versions WHERE version=1), 'committed', 1)");
	char *before = fingerprint(dd);
	EXPECT(4, FL("model", "delete", "m:1"));
	assert_non_null(strstr(R.err, "cam-01"));
	char *after = fingerprint(dd);
	assert_string_equal(before, after);
	free(before);
	free(after);
	EXPECT(2, FL("model", "delete", "m"));
	EXPECT(2, FL("model", "delete", "m@x"));
	EXPECT(3, FL("model", "delete", "m:9"));
	/* the device moved off: delete goes through and the unshared blob goes */
	db_exec(db, "UPDATE deployments SET until_ms = 2");
	assert_int_equal(blob_files(dd), 2);
	EXPECT(0, FL("model", "delete", "m:1", "-o", "json"));
	j = json();
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "blob_removed")));
	cJSON_Delete(j);
	assert_int_equal(blob_files(dd), 1);
	EXPECT(3, FL("model", "show", "m:1"));
	EXPECT(3, FL("model", "delete", "m:1"));
	/* m:2 shares its blob with m:3: the file stays */
	EXPECT(0, FL("model", "delete", "m:2", "-o", "json"));
	j = json();
	assert_false(cJSON_IsTrue(cJSON_GetObjectItem(j, "blob_removed")));
	cJSON_Delete(j);
	assert_int_equal(blob_files(dd), 1);
	/* numbers are never reused after a delete */
	EXPECT(0, FL("model", "register", "generic", "-n", "m", "-f", tmpf("a.bin"), "--framework",
	             "tflite", "-o", "json"));
	j = json();
	assert_string_equal(str(j, "ref"), "m:4");
	cJSON_Delete(j);
	/* gc removes a stray file (a crashed writer's) and leaves referenced blobs */
	char stray[1024];
	snprintf(stray, sizeof(stray), "%s/blobs/sha256/ab", dd);
	mkdir(stray, 0750);
	snprintf(stray, sizeof(stray), "%s/blobs/sha256/ab/%s", dd,
	         "ab00000000000000000000000000000000000000000000000000000000000000");
	write_file(stray, "junk", 4);
	db_exec(db, "INSERT INTO blobs VALUES "
	            "('cd00000000000000000000000000000000000000000000000000000000000000', 1, 1)");
	EXPECT(0, FL("model", "gc", "-o", "json"));
	j = json();
	assert_int_equal((int)num(j, "removed"), 2);
	cJSON_Delete(j);
	assert_int_equal(blob_files(dd), 2);
	assert_int_equal(db_int(db, "SELECT count(*) FROM blobs"), 2);
	EXPECT(0, FL("model", "show", "m:3"));
	EXPECT(0, FL("model", "show", "m:4"));
	sqlite3_close(db);
}

/* Four processes registering 50 versions each at once: all succeed, versions dense and unique. */
static void test_concurrent_registration(void **state)
{
	(void)state;
	enum { WORKERS = 4, EACH = 50 };
	EXPECT(0, FL("model", "register", "onnx", "-n", "warmup", "-f", fx("abs.onnx")));
	pid_t pids[WORKERS];
	for (int w = 0; w < WORKERS; w++) {
		char path[1024], body[32];
		snprintf(path, sizeof(path), "%s/w%d.bin", dir, w);
		int n = snprintf(body, sizeof(body), "worker-%d", w);
		write_file(path, body, (size_t)n);
	}
	for (int w = 0; w < WORKERS; w++) {
		pids[w] = fork();
		assert_true(pids[w] >= 0);
		if (pids[w] == 0) {
			char path[1024];
			int failures = 0;
			snprintf(path, sizeof(path), "%s/w%d.bin", dir, w);
			char errname[64];
			snprintf(errname, sizeof(errname), "worker%d", w);
			/* each worker its own stderr file */
			snprintf(dir + strlen(dir), sizeof(dir) - strlen(dir), "/%s", errname);
			mkdir(dir, 0700);
			for (int i = 0; i < EACH; i++)
				failures +=
				    FL("model", "register", "generic", "-n", "conc", "-f", path,
				       "--framework", "tflite", "--metric", "i=1") != 0;
			_exit(failures > 100 ? 100 : failures);
		}
	}
	for (int w = 0; w < WORKERS; w++) {
		int st;
		assert_int_equal(waitpid(pids[w], &st, 0), pids[w]);
		assert_true(WIFEXITED(st));
		if (WEXITSTATUS(st) != 0)
			fail_msg("worker %d: %d registrations failed", w, WEXITSTATUS(st));
	}
	EXPECT(0, FL("model", "list", "--name", "conc", "-o", "json"));
	cJSON *j = json();
	assert_int_equal(cJSON_GetArraySize(j), WORKERS * EACH);
	int i = 1;
	const cJSON *x;
	cJSON_ArrayForEach(x, j) assert_int_equal((int)num(x, "version"), i++);
	cJSON_Delete(j);
	assert_int_equal(blob_files(dd), WORKERS + 1);
}

/* A registry written by schema 1 opens with this build and is upgraded. */
static void test_migration_from_schema_1(void **state)
{
	(void)state;
	unsigned char sql[65536];
	char path[1024];
	size_t n = read_file(fx("registry-schema1.sql"), sql, sizeof(sql) - 1);
	sql[n] = '\0';
	mkdir(dd, 0750);
	sqlite3 *db = db_open(dd);
	db_exec(db, (const char *)sql);
	assert_int_equal(db_int(db, "SELECT max(version) FROM schema_version"), 1);
	sqlite3_close(db);
	unsigned char blob[64];
	size_t bl = read_file(fx("schema1-blob.bin"), blob, sizeof(blob));
	snprintf(path, sizeof(path), "%s/blobs", dd);
	mkdir(path, 0750);
	snprintf(path, sizeof(path), "%s/blobs/sha256", dd);
	mkdir(path, 0750);
	snprintf(path, sizeof(path), "%s/blobs/sha256/cc", dd);
	mkdir(path, 0750);
	snprintf(path, sizeof(path), "%s/blobs/sha256/cc/%s", dd,
	         "ccb42ef354bae279fe7752ddfb983de86251fdb117863f26c997c3443cef3b34");
	write_file(path, blob, bl);

	EXPECT(0, FL("model", "list", "-o", "json"));
	cJSON *j = json();
	assert_int_equal(cJSON_GetArraySize(j), 2);
	cJSON_Delete(j);
	db = db_open(dd);
	assert_int_equal(db_int(db, "SELECT max(version) FROM schema_version"),
	                 flt_registry_schema_version());
	/* Later migrations add their own counters; these three must be there. */
	assert_int_equal(db_int(db, "SELECT count(*) FROM counters WHERE name IN "
	                            "('desired_state_serial', 'key_list_serial', "
	                            "'model_version_floor')"),
	                 3);
	sqlite3_close(db);
	EXPECT(0, FL("model", "show", "legacy@stable", "-o", "json"));
	j = json();
	assert_string_equal(str(j, "ref"), "legacy:1");
	cJSON_Delete(j);
	EXPECT(0, FL("model", "show", "legacy", "-o", "json"));
	j = json();
	assert_string_equal(str(cJSON_GetObjectItem(j, "tags"), "stage"), "prod");
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(j, "golden")));
	cJSON_Delete(j);
	EXPECT(0, FL("model", "metrics", "legacy", "--key", "acc", "-o", "json"));
	j = json();
	assert_int_equal(cJSON_GetArraySize(j), 2);
	cJSON_Delete(j);
	EXPECT(0, FL("model", "lineage", "legacy:2", "-o", "json"));
	j = json();
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "up")), 1);
	cJSON_Delete(j);
	/* new features on old data */
	EXPECT(0,
	       FL("model", "register", "onnx", "-n", "legacy", "-f", fx("abs.onnx"), "-o", "json"));
	j = json();
	assert_string_equal(str(j, "ref"), "legacy:3");
	cJSON_Delete(j);
	EXPECT(0, FL("run", "log", "--experiment-id", "e", "--run-id", "r", "--metric", "acc=1",
	             "--model", "legacy:2"));
	/* a registry from a newer build is refused, not damaged */
	db = db_open(dd);
	db_exec(db, "INSERT INTO schema_version VALUES (999, 1)");
	sqlite3_close(db);
	EXPECT(5, FL("model", "list"));
	assert_non_null(strstr(R.err, "newer"));
}

/* Backup taken while writers run restores to a consistent registry whose
 * serials and next versions are above the live ones'. */
static void test_backup_restore_under_writers(void **state)
{
	(void)state;
	enum { WRITERS = 2, EACH = 25, BUMPS = 300 };
	char bak[400], d2[400], d3[400];
	snprintf(bak, sizeof(bak), "%s/reg.bak", dir);
	snprintf(d2, sizeof(d2), "%s/restored", dir);
	snprintf(d3, sizeof(d3), "%s/restored-bad", dir);
	EXPECT(0, FL("model", "register", "onnx", "-n", "conv", "-f", fx("conv.onnx"), "--golden",
	             fx("conv_golden")));
	EXPECT(0, FL("model", "alias", "set", "conv:1", "stable"));
	for (int w = 0; w < WRITERS; w++) {
		char path[1024], body[32];
		snprintf(path, sizeof(path), "%s/live%d.bin", dir, w);
		int n = snprintf(body, sizeof(body), "live-%d", w);
		write_file(path, body, (size_t)n);
	}
	pid_t pids[WRITERS + 1];
	for (int w = 0; w < WRITERS; w++) {
		pids[w] = fork();
		if (pids[w] == 0) {
			char path[1024];
			int failures = 0;
			snprintf(path, sizeof(path), "%s/live%d.bin", dir, w);
			snprintf(dir + strlen(dir), sizeof(dir) - strlen(dir), "/writer%d", w);
			mkdir(dir, 0700);
			for (int i = 0; i < EACH; i++)
				failures += FL("model", "register", "generic", "-n", "live", "-f",
				               path, "--framework", "tflite") != 0;
			_exit(failures);
		}
	}
	/* stands in for `serve` publishing desired states */
	pids[WRITERS] = fork();
	if (pids[WRITERS] == 0) {
		sqlite3 *db = db_open(dd);
		for (int i = 0; i < BUMPS; i++)
			if (sqlite3_exec(
			        db,
			        "UPDATE counters SET value = value + 1 WHERE name LIKE '%_serial'",
			        NULL, NULL, NULL) != SQLITE_OK)
				_exit(1);
		sqlite3_close(db);
		_exit(0);
	}
	/* Back up while writers are mid-way: wait (by condition, not time) for
	 * the first live versions, then snapshot while the rest arrive. */
	{
		sqlite3 *w = db_open(dd);
		while (
		    db_int(
		        w,
		        "SELECT count(*) FROM model_versions v JOIN models m ON m.id = v.model_id "
		        "WHERE m.name = 'live'") < 3)
			;
		sqlite3_close(w);
	}
	EXPECT(0, FL("backup", bak, "-o", "json"));
	for (int w = 0; w <= WRITERS; w++) {
		int st;
		waitpid(pids[w], &st, 0);
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	sqlite3 *db = db_open(dd);
	int64_t live_serial =
	    db_int(db, "SELECT value FROM counters WHERE name='desired_state_serial'");
	int64_t live_max = db_int(db, "SELECT max(version) FROM model_versions");
	sqlite3_close(db);
	assert_int_equal(live_serial, BUMPS);
	assert_int_equal(live_max, WRITERS * EACH);

	EXPECT(0, FLD(d2, "restore", bak, "-o", "json"));
	cJSON *j = json();
	assert_int_equal((int)num(j, "schema_version"), flt_registry_schema_version());
	cJSON_Delete(j);
	db = db_open(d2);
	assert_int_equal(
	    db_int(db, "SELECT count(*) FROM pragma_integrity_check WHERE integrity_check='ok'"),
	    1);
	assert_int_equal(db_int(db, "SELECT count(*) FROM pragma_foreign_key_check"), 0);
	assert_true(db_int(db, "SELECT min(value) FROM counters") > live_serial);
	assert_true(db_int(db, "SELECT min(next_version) FROM models") > live_max);
	int64_t nlive =
	    db_int(db, "SELECT count(*) FROM model_versions v JOIN models m ON m.id=v.model_id "
	               "WHERE m.name='live'");
	/* dense prefix: whatever the snapshot caught is versions 1..n */
	if (nlive)
		assert_int_equal(
		    db_int(db, "SELECT max(v.version) FROM model_versions v JOIN models m ON "
		               "m.id=v.model_id WHERE m.name='live'"),
		    nlive);
	sqlite3_close(db);
	/* every version and its blob is there */
	EXPECT(0, FLD(d2, "model", "show", "conv@stable", "-o", "json"));
	j = json();
	assert_true(cJSON_IsObject(cJSON_GetObjectItem(j, "golden")));
	cJSON_Delete(j);
	db = db_open(d2);
	assert_int_equal(blob_files(d2), (int)db_int(db, "SELECT count(*) FROM blobs"));
	assert_int_equal(db_int(db, "SELECT count(*) FROM model_versions WHERE blob_sha256 NOT IN "
	                            "(SELECT sha256 FROM blobs)"),
	                 0);
	sqlite3_close(db);
	EXPECT(0, FLD(d2, "model", "register", "onnx", "-n", "live", "-f", fx("abs.onnx"), "-o",
	              "json"));
	j = json();
	assert_true(num(j, "version") > (double)live_max);
	cJSON_Delete(j);
	/* a name the backup never saw starts above anything published too */
	EXPECT(0, FLD(d2, "model", "register", "onnx", "-n", "brand-new", "-f", fx("abs.onnx"),
	              "-o", "json"));
	j = json();
	assert_true(num(j, "version") > (double)live_max);
	cJSON_Delete(j);

	/* restoring over a registry is a conflict; --force replaces it */
	EXPECT(4, FLD(d2, "restore", bak));
	EXPECT(0, FLD(d2, "restore", bak, "--force"));
	EXPECT(0, FLD(d2, "model", "show", "conv:1"));

	/* a truncated or damaged backup restores nothing */
	unsigned char *buf = malloc(1 << 20);
	assert_non_null(buf);
	size_t n = read_file(bak, buf, 1 << 20);
	char tr[512];
	snprintf(tr, sizeof(tr), "%s/trunc.bak", dir);
	write_file(tr, buf, n - 1500);
	EXPECT(5, FLD(d3, "restore", tr));
	struct stat sb;
	char p[1024];
	snprintf(p, sizeof(p), "%s/registry.db", d3);
	assert_int_not_equal(stat(p, &sb), 0);
	assert_int_equal(blob_files(d3), 0);
	/* The last member is a blob of under 512 bytes (a live writer's or the
	 * golden bundle is larger, so pick by position): its data starts one
	 * block before the two end blocks. Flip its first byte. */
	buf[n - 1024 - 512] ^= 0xff;
	snprintf(tr, sizeof(tr), "%s/flip.bak", dir);
	write_file(tr, buf, n);
	EXPECT(6, FLD(d3, "restore", tr));
	assert_int_not_equal(stat(p, &sb), 0);
	assert_int_equal(blob_files(d3), 0);
	free(buf);
	EXPECT(5, FLD(d3, "restore", tmpf("nofile.bak")));
	EXPECT(3, FLD(d3, "backup", tmpf("x.bak")));
}

int main(void)
{
	const char *b = getenv("FLT_BINARY_DIR"), *s = getenv("FLT_SOURCE_DIR");
	if (!b || !s) {
		fprintf(stderr,
		        "FLT_BINARY_DIR and FLT_SOURCE_DIR must be set (ctest sets them)\n");
		return 1;
	}
	snprintf(bin, sizeof(bin), "%s/controller/flotilla", b);
	snprintf(data, sizeof(data), "%s/tests/data/registry", s);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_help_and_usage, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_register_onnx_and_show, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_register_generic_and_dedup, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_register_refusals_change_nothing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refs_archive_and_aliases, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tags_and_list_filters, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_metrics_history, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_lineage_graph, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_experiments_and_promote, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_diff, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_update_archive_delete_gc, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_concurrent_registration, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_migration_from_schema_1, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_backup_restore_under_writers, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
