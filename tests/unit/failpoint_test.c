/* Unit tests for named failpoints: spec grammar, hit counting, wildcards, the
 * FLT_FAILPOINTS variable (read at first use, malformed values refused cleanly)
 * and the crash action really killing the process without atexit. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "flt/failpoint.h"
#include "flt/fileio.h"
#include "flt/log.h"

#include "sys_testutil.h"

/* Set by main() from a child that saw a malformed FLT_FAILPOINTS at first use. */
static int env_child_result = -1;
static char logged[512];

static void capture_sink(void *arg, enum flt_log_level lvl, const char *module, const char *msg)
{
	(void)arg;
	(void)lvl;
	snprintf(logged, sizeof(logged), "%s: %s", module, msg);
}

static int teardown(void **state)
{
	(void)state;
	flt_fp_clear_all();
	return 0;
}

static void test_env_read_at_first_use(void **state)
{
	(void)state;
	/* main() set FLT_FAILPOINTS before any failpoint call in this process. */
	assert_int_equal(flt_fp_check("test.env.first"), FLT_OK);
	assert_int_equal(flt_fp_check("test.env.first"), FLT_EIO);
	assert_int_equal(errno, EIO);
	assert_int_equal(flt_fp_check("test.env.first"), FLT_OK);
	assert_int_equal(flt_fp_hits("test.env.first"), 3);
	assert_int_equal(flt_fp_check("test.env.second"), FLT_ELIMIT);
	assert_int_equal(errno, ENOSPC);
	assert_true(flt_fp_tracking());
}

static void test_env_malformed_at_first_use(void **state)
{
	(void)state;
	/* 0: first use returned, nothing armed, one error naming the variable. */
	assert_int_equal(env_child_result, 0);
}

static void test_load_env_malformed(void **state)
{
	char err[256];
	(void)state;
	assert_int_equal(flt_fp_set("keep.me", "error"), FLT_OK);
	setenv(FLT_FP_ENV, "good.one=error;bad.one=explode", 1);
	assert_int_equal(flt_fp_load_env(err, sizeof(err)), FLT_EINVAL);
	assert_non_null(strstr(err, "bad.one=explode"));
	assert_non_null(strstr(err, "bad action"));
	/* All or nothing: good.one not armed, earlier arming untouched. */
	assert_int_equal(flt_fp_check("good.one"), FLT_OK);
	assert_int_equal(flt_fp_check("keep.me"), FLT_EIO);
	setenv(FLT_FP_ENV, " a.b = error@2 ; ; c.d=crash@1+;", 1);
	assert_int_equal(flt_fp_load_env(err, sizeof(err)), FLT_OK);
	assert_int_equal(flt_fp_check("a.b"), FLT_OK);
	assert_int_equal(flt_fp_check("a.b"), FLT_EIO);
	unsetenv(FLT_FP_ENV);
	assert_int_equal(flt_fp_load_env(err, sizeof(err)), FLT_OK);
}

static void test_malformed_specs(void **state)
{
	static const char *const bad[] = {
	    "noequals",
	    "=error",
	    "a b=error",
	    "a=",
	    "a=bogus",
	    "a=error@",
	    "a=error@0",
	    "a=error@x",
	    "a=error@2++",
	    "a=error@-1",
	    "a=error@99999999999",
	    "a*b=error",
	    "*=error",
	    "a=error;b=nope",
	    "a=ERROR",
	};
	char err[256];
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(flt_fp_configure(bad[i], err, sizeof(err)), FLT_EINVAL);
		assert_true(strlen(err) > 0);
	}
	/* Nothing from the lists above got armed (a=error was first in one of them). */
	assert_int_equal(flt_fp_check("a"), FLT_OK);
	assert_int_equal(flt_fp_set("bad name", "error"), FLT_EINVAL);
	assert_int_equal(flt_fp_set("ok.name", "error@"), FLT_EINVAL);
	assert_int_equal(flt_fp_set(NULL, "error"), FLT_EINVAL);
	/* A truncated error buffer still works. */
	assert_int_equal(flt_fp_configure("zz", err, 4), FLT_EINVAL);
	assert_int_equal(strlen(err), 3);
	assert_int_equal(flt_fp_configure("zz", NULL, 0), FLT_EINVAL);
}

static void test_nth_hits(void **state)
{
	(void)state;
	assert_int_equal(flt_fp_set("n.once", "error@2"), FLT_OK);
	assert_int_equal(flt_fp_set("n.later", "error@2+"), FLT_OK);
	assert_int_equal(flt_fp_set("n.always", "enospc"), FLT_OK);
	flt_err once[4], later[4];
	for (int i = 0; i < 4; i++) {
		once[i] = flt_fp_check("n.once");
		later[i] = flt_fp_check("n.later");
		assert_int_equal(flt_fp_check("n.always"), FLT_ELIMIT);
	}
	assert_int_equal(once[0], FLT_OK);
	assert_int_equal(once[1], FLT_EIO);
	assert_int_equal(once[2], FLT_OK);
	assert_int_equal(once[3], FLT_OK);
	assert_int_equal(later[0], FLT_OK);
	assert_int_equal(later[1], FLT_EIO);
	assert_int_equal(later[2], FLT_EIO);
	assert_int_equal(later[3], FLT_EIO);
	/* Re-arming resets the count; off disarms. */
	assert_int_equal(flt_fp_set("n.once", "error@1"), FLT_OK);
	assert_int_equal(flt_fp_check("n.once"), FLT_EIO);
	assert_int_equal(flt_fp_set("n.once", "off"), FLT_OK);
	assert_int_equal(flt_fp_check("n.once"), FLT_OK);
	assert_int_equal(flt_fp_hits("n.once"), 0);
	assert_int_equal(flt_fp_check(NULL), FLT_OK);
}

static void test_wildcards(void **state)
{
	(void)state;
	assert_int_equal(flt_fp_set("install.*", "error"), FLT_OK);
	assert_int_equal(flt_fp_set("install.chunk.*", "enospc"), FLT_OK);
	assert_int_equal(flt_fp_set("install.chunk.fsync", "off"), FLT_OK);
	assert_int_equal(flt_fp_set("install.hash", "error@5"), FLT_OK);
	assert_int_equal(flt_fp_check("install.verify"), FLT_EIO);
	assert_int_equal(flt_fp_check("install.chunk.write"), FLT_ELIMIT); /* longest prefix */
	assert_int_equal(flt_fp_check("install.hash"), FLT_OK);            /* exact wins */
	assert_int_equal(flt_fp_check("installx"), FLT_OK);
	assert_int_equal(flt_fp_check("state.write"), FLT_OK);
	assert_int_equal(flt_fp_hits("install.*"), 1);
}

static void test_table_full(void **state)
{
	char name[32], list[64 * 16 + 32];
	size_t used = 0;
	(void)state;
	for (int i = 0; i < 64; i++) {
		snprintf(name, sizeof(name), "full.%d", i);
		assert_int_equal(flt_fp_set(name, "error"), FLT_OK);
	}
	assert_int_equal(flt_fp_set("full.64", "error"), FLT_ELIMIT);
	assert_int_equal(flt_fp_set("full.3", "error@2"), FLT_OK); /* re-arming is fine */
	flt_fp_clear_all();
	for (int i = 0; i < 65; i++)
		used += (size_t)snprintf(list + used, sizeof(list) - used, "f%d=error;", i);
	assert_int_equal(flt_fp_configure(list, NULL, 0), FLT_EINVAL);
	assert_int_equal(flt_fp_check("f0"), FLT_OK);
}

static void test_wrapper_error_action(void **state)
{
	char dir[256], path[300];
	int fd = -1;
	(void)state;
	assert_int_equal(tu_mkdtemp(dir, sizeof(dir), "fp"), 0);
	snprintf(path, sizeof(path), "%s/f", dir);
	assert_int_equal(flt_fp_set("w.open", "error"), FLT_OK);
	assert_int_equal(flt_fio_open(path, O_WRONLY | O_CREAT, 0600, &fd, "w.open"), FLT_EIO);
	assert_int_equal(fd, -1);
	assert_false(tu_exists(path));
	assert_int_equal(flt_fio_open(path, O_WRONLY | O_CREAT, 0600, &fd, "w.other"), FLT_OK);
	assert_int_equal(flt_fp_set("w.write", "enospc"), FLT_OK);
	assert_int_equal(flt_fio_write(fd, "abc", 3, "w.write"), FLT_ELIMIT);
	assert_int_equal(flt_fio_write(fd, "abc", 3, NULL), FLT_OK);
	assert_int_equal(flt_fio_fsync(fd, NULL), FLT_OK);
	assert_int_equal(flt_fp_set("w.fsync", "error"), FLT_OK);
	assert_int_equal(flt_fio_fsync(fd, "w.fsync"), FLT_EIO);
	assert_int_equal(flt_fio_close(fd, NULL), FLT_OK);
	char buf[8];
	assert_int_equal(tu_read(path, buf, sizeof(buf)), 3);
	tu_rmtree(dir);
}

static int atexit_marker_fd = -1;
static void atexit_marker(void)
{
	if (atexit_marker_fd >= 0)
		(void)!write(atexit_marker_fd, "x", 1);
}

static void test_crash_kills_without_atexit(void **state)
{
	char dir[256], marker[300];
	(void)state;
	assert_int_equal(tu_mkdtemp(dir, sizeof(dir), "crash"), 0);
	snprintf(marker, sizeof(marker), "%s/marker", dir);
	pid_t pid = tu_fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		atexit_marker_fd = open(marker, O_WRONLY | O_CREAT, 0600);
		atexit(atexit_marker);
		if (flt_fp_set("c.point", "crash@2") != FLT_OK)
			_exit(2);
		if (FLT_FAILPOINT("c.point") != FLT_OK)
			_exit(3);
		(void)!FLT_FAILPOINT("c.point");
		exit(4); /* would run the atexit handler */
	}
	assert_int_equal(tu_wait(pid), SIGKILL);
	char b[4];
	assert_int_equal(tu_read(marker, b, sizeof(b)), 0);
	tu_rmtree(dir);
}

int main(void)
{
	/* Before any failpoint call in this process: a child sees a malformed variable
	 * at its first use; then the parent arms through the variable. */
	pid_t pid = tu_fork();
	if (pid == 0) {
		setenv(FLT_FP_ENV, "x.y=error;broken", 1);
		flt_log_set_sink(capture_sink, NULL);
		flt_err e = flt_fp_check("x.y");
		_exit(e == FLT_OK && strstr(logged, "FLT_FAILPOINTS") && strstr(logged, "broken")
		          ? 0
		          : 1);
	}
	env_child_result = pid > 0 ? tu_wait(pid) - 1000 : -1;
	setenv(FLT_FP_ENV, "test.env.first=error@2;test.env.second=enospc", 1);

	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_env_read_at_first_use),
	    cmocka_unit_test(test_env_malformed_at_first_use),
	    cmocka_unit_test_teardown(test_load_env_malformed, teardown),
	    cmocka_unit_test_teardown(test_malformed_specs, teardown),
	    cmocka_unit_test_teardown(test_nth_hits, teardown),
	    cmocka_unit_test_teardown(test_wildcards, teardown),
	    cmocka_unit_test_teardown(test_table_full, teardown),
	    cmocka_unit_test_teardown(test_wrapper_error_action, teardown),
	    cmocka_unit_test_teardown(test_crash_kills_without_atexit, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
