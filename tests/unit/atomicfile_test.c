/* Unit tests for the whole-file helpers: atomic write keeps the old content and
 * leaves no temp file when any step fails, exact modes, bounded reads, mkdir -p,
 * read-only maps (empty files too). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "flt/alloc.h"
#include "flt/atomicfile.h"
#include "flt/failpoint.h"
#include "flt/fileio.h"

#include "sys_testutil.h"

struct fx {
	char dir[256];
	char path[320];
};

static int setup(void **state)
{
	static struct fx f;
	if (tu_mkdtemp(f.dir, sizeof(f.dir), "af") != 0)
		return -1;
	snprintf(f.path, sizeof(f.path), "%s/state.json", f.dir);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	tu_rmtree(f->dir);
	flt_fp_clear_all();
	flt_fp_track(false);
	return 0;
}

static void test_error_at_each_step_keeps_old(void **state)
{
	struct fx *f = *state;
	static const char *const steps[] = {"open", "write", "fsync", "close", "rename"};
	char buf[64];

	assert_int_equal(flt_file_write_atomic(f->path, "old", 3, 0600, "st"), FLT_OK);
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		char name[64];
		snprintf(name, sizeof(name), "st.%s", steps[i]);
		assert_int_equal(flt_fp_set(name, "error"), FLT_OK);
		assert_int_equal(flt_file_write_atomic(f->path, "new!", 4, 0600, "st"), FLT_EIO);
		assert_int_equal(tu_read(f->path, buf, sizeof(buf)), 3);
		assert_memory_equal(buf, "old", 3);
		assert_int_equal(tu_count_entries(f->dir), 1); /* temp cleaned up */
		assert_int_equal(flt_fp_set(name, "off"), FLT_OK);
	}
	/* A full disk is reported as a limit. */
	assert_int_equal(flt_fp_set("st.write", "enospc"), FLT_OK);
	assert_int_equal(flt_file_write_atomic(f->path, "new!", 4, 0600, "st"), FLT_ELIMIT);
	assert_int_equal(tu_count_entries(f->dir), 1);
	flt_fp_clear_all();
	/* Only the directory sync failing: the new content is in place, error reported. */
	assert_int_equal(flt_fp_set("st.dirsync", "error"), FLT_OK);
	assert_int_equal(flt_file_write_atomic(f->path, "new!", 4, 0600, "st"), FLT_EIO);
	assert_int_equal(tu_read(f->path, buf, sizeof(buf)), 4);
	assert_int_equal(tu_count_entries(f->dir), 1);
	flt_fp_clear_all();
	/* Default failpoint prefix. */
	assert_int_equal(flt_fp_set("atomic.rename", "error"), FLT_OK);
	assert_int_equal(flt_file_write_atomic(f->path, "x", 1, 0600, NULL), FLT_EIO);
	assert_int_equal(tu_read(f->path, buf, sizeof(buf)), 4);
}

static void test_mode_and_replace(void **state)
{
	struct fx *f = *state;
	struct stat st;
	mode_t old = umask(077);
	assert_int_equal(flt_file_write_atomic(f->path, "k", 1, 0644, NULL), FLT_OK);
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644); /* exact, umask ignored */
	umask(old);
	assert_int_equal(flt_file_write_atomic(f->path, "", 0, 0600, NULL), FLT_OK);
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_size, 0);
	char missing[400];
	snprintf(missing, sizeof(missing), "%s/no/such/dir/f", f->dir);
	assert_int_equal(flt_file_write_atomic(missing, "k", 1, 0600, NULL), FLT_ENOTFOUND);
	assert_int_equal(flt_file_write_atomic("", "k", 1, 0600, NULL), FLT_EINVAL);
	char trailing[400];
	snprintf(trailing, sizeof(trailing), "%s/", f->dir);
	assert_int_equal(flt_file_write_atomic(trailing, "k", 1, 0600, NULL), FLT_EINVAL);
}

static void test_read_all(void **state)
{
	struct fx *f = *state;
	uint8_t *buf = NULL;
	size_t len = 0;

	assert_int_equal(tu_write(f->path, "hello", 5), 0);
	assert_int_equal(flt_file_read_all(f->path, 5, &buf, &len, NULL), FLT_OK);
	assert_int_equal(len, 5);
	assert_string_equal((char *)buf, "hello"); /* NUL-terminated */
	flt_free(buf);
	buf = NULL;
	assert_int_equal(flt_file_read_all(f->path, 4, &buf, &len, NULL), FLT_ELIMIT);
	assert_null(buf);
	assert_int_equal(flt_file_read_all(f->dir, 100, &buf, &len, NULL), FLT_EINVAL);
	char missing[400];
	snprintf(missing, sizeof(missing), "%s/none", f->dir);
	assert_int_equal(flt_file_read_all(missing, 100, &buf, &len, NULL), FLT_ENOTFOUND);
	assert_int_equal(tu_write(f->path, "", 0), 0);
	assert_int_equal(flt_file_read_all(f->path, 0, &buf, &len, NULL), FLT_OK);
	assert_int_equal(len, 0);
	assert_int_equal(buf[0], 0);
	flt_free(buf);
	buf = NULL;
	assert_int_equal(flt_fp_set("cfg.read", "error"), FLT_OK);
	assert_int_equal(flt_file_read_all(f->path, 10, &buf, &len, "cfg"), FLT_EIO);
	assert_null(buf);
	flt_alloc_fail_after(0);
	assert_int_equal(flt_file_read_all(f->path, 10, &buf, &len, NULL), FLT_ENOMEM);
	flt_alloc_fail_reset();
}

static void test_mkdirs(void **state)
{
	struct fx *f = *state;
	char p[400], q[400];
	struct stat st;

	snprintf(p, sizeof(p), "%s/a/b//c/", f->dir);
	assert_int_equal(flt_file_mkdirs(p, 0750, NULL), FLT_OK);
	snprintf(q, sizeof(q), "%s/a/b/c", f->dir);
	assert_int_equal(stat(q, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(flt_file_mkdirs(p, 0750, NULL), FLT_OK); /* idempotent */
	snprintf(q, sizeof(q), "%s/a/file", f->dir);
	assert_int_equal(tu_write(q, "x", 1), 0);
	snprintf(p, sizeof(p), "%s/a/file/d", f->dir);
	assert_int_equal(flt_file_mkdirs(p, 0750, NULL), FLT_ECONFLICT);
	assert_int_equal(flt_file_mkdirs("", 0750, NULL), FLT_EINVAL);
	snprintf(p, sizeof(p), "%s/x/y", f->dir);
	assert_int_equal(flt_fp_set("md.mkdir", "error@2"), FLT_OK);
	assert_int_equal(flt_file_mkdirs(p, 0750, "md"), FLT_EIO);
	snprintf(q, sizeof(q), "%s/x", f->dir);
	assert_true(tu_exists(q));
	assert_int_equal(flt_file_mkdirs(p, 0750, "md"), FLT_OK);
	assert_true(tu_exists(p));
}

static void test_map(void **state)
{
	struct fx *f = *state;
	struct flt_file_map m;
	unsigned char big[10000];

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (unsigned char)(i * 7);
	assert_int_equal(tu_write(f->path, big, sizeof(big)), 0);
	assert_int_equal(flt_file_map(f->path, &m), FLT_OK);
	assert_int_equal(m.size, sizeof(big));
	assert_memory_equal(m.data, big, sizeof(big));
	flt_file_unmap(&m);
	assert_null(m.data);
	flt_file_unmap(&m); /* twice is fine */
	flt_file_unmap(NULL);

	assert_int_equal(tu_write(f->path, "", 0), 0);
	assert_int_equal(flt_file_map(f->path, &m), FLT_OK);
	assert_non_null(m.data);
	assert_int_equal(m.size, 0);
	flt_file_unmap(&m);

	memset(&m, 0, sizeof(m));
	char missing[400];
	snprintf(missing, sizeof(missing), "%s/none", f->dir);
	assert_int_equal(flt_file_map(missing, &m), FLT_ENOTFOUND);
	assert_null(m.data);
	assert_int_equal(flt_file_map(f->dir, &m), FLT_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_error_at_each_step_keeps_old, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mode_and_replace, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_read_all, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mkdirs, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_map, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
