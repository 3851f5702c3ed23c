/* Crash tests for the file-I/O wrapper and atomic writes: a forked child arms
 * `powercut` (or `crash`) at a point of a write sequence and dies there; the parent
 * checks that the files hold old or new content, never a mix, and that data not
 * synced before the cut is really gone. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "flt/atomicfile.h"
#include "flt/failpoint.h"
#include "flt/fileio.h"

#include "sys_testutil.h"

#define CH 4096 /* chunk size of the preallocated-file scenarios */

struct fx {
	char dir[256];
	char path[320];
};

static int setup(void **state)
{
	static struct fx f;
	if (tu_mkdtemp(f.dir, sizeof(f.dir), "fio") != 0)
		return -1;
	snprintf(f.path, sizeof(f.path), "%s/file", f.dir);
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

/* Child bodies return 0 if they ran to the end (the failpoint did not fire). */
#define CHECK(x)                                                                                   \
	do {                                                                                       \
		if ((x) != FLT_OK)                                                                 \
			_exit(50 + __LINE__ % 50);                                                 \
	} while (0)

static int run_child(int (*body)(struct fx *, const char *), struct fx *f, const char *arg)
{
	pid_t pid = tu_fork();
	if (pid < 0)
		return -1;
	if (pid == 0)
		_exit(body(f, arg));
	return tu_wait(pid);
}

/* ---- atomic write: old or new, never a mix ------------------------------------ */

static const char OLD[] = "old content that is durable";
static const char NEW[] = "NEW CONTENT, longer than the old one, written atomically";

static int body_atomic(struct fx *f, const char *spec)
{
	CHECK(flt_fp_configure(spec, NULL, 0));
	CHECK(flt_file_write_atomic(f->path, NEW, sizeof(NEW) - 1, 0640, "t"));
	CHECK(FLT_FAILPOINT("t.after"));
	return 0;
}

static void expect_content(const char *path, const char *want, size_t n)
{
	char buf[256];
	long got = tu_read(path, buf, sizeof(buf));
	assert_int_equal(got, (long)n);
	assert_memory_equal(buf, want, n);
}

static void test_atomic_powercut_each_step(void **state)
{
	struct fx *f = *state;
	static const char *const steps[] = {"open", "write", "fsync", "close", "rename", "dirsync"};
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		char spec[64];
		assert_int_equal(tu_write(f->path, OLD, sizeof(OLD) - 1), 0);
		snprintf(spec, sizeof(spec), "t.%s=powercut", steps[i]);
		assert_int_equal(run_child(body_atomic, f, spec), SIGKILL);
		/* Even at dirsync (rename done but not durable) the old file is back. */
		expect_content(f->path, OLD, sizeof(OLD) - 1);
		/* The temp file was never durable either. */
		assert_int_equal(tu_count_entries(f->dir), 1);
	}
	/* A cut after the whole sequence keeps the new content. */
	assert_int_equal(run_child(body_atomic, f, "t.after=powercut"), SIGKILL);
	expect_content(f->path, NEW, sizeof(NEW) - 1);
	assert_int_equal(tu_count_entries(f->dir), 1);
	struct stat st;
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	/* And with nothing armed the child runs to the end. */
	assert_int_equal(run_child(body_atomic, f, ""), 1000);
}

static void test_atomic_powercut_new_file(void **state)
{
	struct fx *f = *state;
	/* No old file: a cut before the directory sync leaves no file at all. */
	assert_int_equal(run_child(body_atomic, f, "t.dirsync=powercut"), SIGKILL);
	assert_false(tu_exists(f->path));
	assert_int_equal(tu_count_entries(f->dir), 0);
	assert_int_equal(run_child(body_atomic, f, "t.after=powercut"), SIGKILL);
	expect_content(f->path, NEW, sizeof(NEW) - 1);
}

static void test_atomic_crash_each_step(void **state)
{
	struct fx *f = *state;
	static const char *const steps[] = {"open", "write", "fsync", "close", "rename"};
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		char spec[64];
		assert_int_equal(tu_write(f->path, OLD, sizeof(OLD) - 1), 0);
		snprintf(spec, sizeof(spec), "t.%s=crash", steps[i]);
		assert_int_equal(run_child(body_atomic, f, spec), SIGKILL);
		expect_content(f->path, OLD, sizeof(OLD) - 1);
		/* A crash (unlike a power cut) leaves the temp file; start-up removes it. */
		(void)flt_file_remove_stale_temps(f->path);
		assert_int_equal(tu_count_entries(f->dir), 1);
	}
	/* Crash after the rename: the kernel keeps it, so the new content is there. */
	assert_int_equal(run_child(body_atomic, f, "t.dirsync=crash"), SIGKILL);
	expect_content(f->path, NEW, sizeof(NEW) - 1);
}

static void test_stale_temps(void **state)
{
	struct fx *f = *state;
	char t1[400], t2[400], other[400];
	snprintf(t1, sizeof(t1), "%s/.file.tmp-1-2", f->dir);
	snprintf(t2, sizeof(t2), "%s/.file.tmp-99-0", f->dir);
	snprintf(other, sizeof(other), "%s/.filex.tmp-1-2", f->dir);
	assert_int_equal(tu_write(t1, "a", 1), 0);
	assert_int_equal(tu_write(t2, "a", 1), 0);
	assert_int_equal(tu_write(other, "a", 1), 0);
	assert_int_equal(flt_file_remove_stale_temps(f->path), 2);
	assert_true(tu_exists(other));
	assert_false(tu_exists(t1));
}

/* ---- pwrite into a preallocated file (chunk downloads) ------------------------ */

static int body_prealloc(struct fx *f, const char *spec)
{
	unsigned char chunk[CH];
	int fd;
	CHECK(flt_fp_configure(spec, NULL, 0));
	CHECK(flt_fio_open(f->path, O_WRONLY, 0, &fd, NULL));
	/* chunk 0 synced, chunk 2 synced, chunk 1 written but not synced */
	memset(chunk, 'A', CH);
	CHECK(flt_fio_pwrite(fd, chunk, CH, 0, "pw.write"));
	CHECK(flt_fio_fdatasync(fd, "pw.sync"));
	memset(chunk, 'C', CH);
	CHECK(flt_fio_pwrite(fd, chunk, CH, 2 * CH, "pw.write"));
	CHECK(flt_fio_fsync(fd, "pw.sync"));
	memset(chunk, 'B', CH);
	CHECK(flt_fio_pwrite(fd, chunk, CH, CH, "pw.write"));
	/* overwrite part of synced chunk 0, then extend past the end, unsynced */
	CHECK(flt_fio_pwrite(fd, "xxxx", 4, 10, "pw.write"));
	CHECK(flt_fio_pwrite(fd, chunk, CH, 4 * CH, "pw.write"));
	CHECK(FLT_FAILPOINT("pw.end"));
	CHECK(flt_fio_fsync(fd, "pw.sync"));
	CHECK(FLT_FAILPOINT("pw.synced"));
	return 0;
}

static void make_prealloc(struct fx *f)
{
	int fd;
	assert_int_equal(flt_fio_open(f->path, O_WRONLY | O_CREAT | O_TRUNC, 0600, &fd, NULL),
	                 FLT_OK);
	assert_int_equal(flt_fio_preallocate(fd, 4 * CH, NULL), FLT_OK);
	assert_int_equal(flt_fio_fsync(fd, NULL), FLT_OK);
	assert_int_equal(flt_fio_close(fd, NULL), FLT_OK);
	assert_int_equal(flt_fio_fsync_parent(f->path, NULL), FLT_OK);
}

static void expect_chunk(const unsigned char *buf, int idx, char c)
{
	for (int i = 0; i < CH; i++)
		if (buf[idx * CH + i] != (unsigned char)c)
			fail_msg("chunk %d byte %d is 0x%02x, expected 0x%02x", idx, i,
			         buf[idx * CH + i], (unsigned char)c);
}

static void test_prealloc_powercut(void **state)
{
	struct fx *f = *state;
	static unsigned char buf[6 * CH];

	make_prealloc(f);
	assert_int_equal(run_child(body_prealloc, f, "pw.end=powercut"), SIGKILL);
	assert_int_equal(tu_read(f->path, buf, sizeof(buf)), 4 * CH); /* extension dropped */
	expect_chunk(buf, 0, 'A');  /* synced, and the unsynced overwrite undone */
	expect_chunk(buf, 1, '\0'); /* written, never synced: gone */
	expect_chunk(buf, 2, 'C');
	expect_chunk(buf, 3, '\0');

	/* A cut at the Nth write: every earlier synced chunk stays, nothing else. */
	make_prealloc(f);
	assert_int_equal(run_child(body_prealloc, f, "pw.write=powercut@2"), SIGKILL);
	assert_int_equal(tu_read(f->path, buf, sizeof(buf)), 4 * CH);
	expect_chunk(buf, 0, 'A');
	expect_chunk(buf, 2, '\0');

	make_prealloc(f);
	assert_int_equal(run_child(body_prealloc, f, "pw.synced=powercut"), SIGKILL);
	assert_int_equal(tu_read(f->path, buf, sizeof(buf)), 5 * CH);
	assert_memory_equal(buf + 10, "xxxx", 4);
	expect_chunk(buf, 1, 'B');
	expect_chunk(buf, 4, 'B');
}

/* ---- appends to a new file ------------------------------------------------------ */

static int body_append(struct fx *f, const char *spec)
{
	int fd;
	CHECK(flt_fp_configure(spec, NULL, 0));
	CHECK(flt_fio_open(f->path, O_WRONLY | O_CREAT | O_APPEND, 0600, &fd, NULL));
	CHECK(flt_fio_write(fd, "hello", 5, "ap.write"));
	CHECK(flt_fio_fsync(fd, "ap.fsync"));
	CHECK(flt_fio_fsync_parent(f->path, "ap.dirsync"));
	CHECK(flt_fio_write(fd, " world", 6, "ap.write"));
	CHECK(flt_fio_close(fd, NULL)); /* closing does not make it durable */
	CHECK(FLT_FAILPOINT("ap.end"));
	return 0;
}

static void test_append_powercut(void **state)
{
	struct fx *f = *state;
	/* File synced but its name not: it does not exist after the cut. */
	assert_int_equal(run_child(body_append, f, "ap.dirsync=powercut"), SIGKILL);
	assert_false(tu_exists(f->path));
	/* Name and first write durable, second write not. */
	assert_int_equal(run_child(body_append, f, "ap.end=powercut"), SIGKILL);
	expect_content(f->path, "hello", 5);
	/* Reopen of an existing file: its appended tail is dropped again. */
	assert_int_equal(run_child(body_append, f, "ap.end=powercut"), SIGKILL);
	expect_content(f->path, "hellohello", 10);
	/* A plain crash keeps everything the kernel got. */
	assert_int_equal(run_child(body_append, f, "ap.end=crash"), SIGKILL);
	expect_content(f->path, "hellohellohello world", 21);
}

/* ---- rewrite in place, truncate, unlink, mkdir ---------------------------------- */

static int body_rewrite(struct fx *f, const char *spec)
{
	int fd;
	CHECK(flt_fp_configure(spec, NULL, 0));
	CHECK(flt_fio_open(f->path, O_WRONLY | O_TRUNC, 0, &fd, NULL));
	CHECK(flt_fio_write(fd, "xy", 2, NULL));
	CHECK(flt_fio_ftruncate(fd, 1, NULL));
	CHECK(flt_fio_ftruncate(fd, 100, NULL));
	CHECK(flt_fio_pwrite(fd, "zz", 2, 5, NULL));
	CHECK(FLT_FAILPOINT("rw.end"));
	return 0;
}

static void test_rewrite_powercut(void **state)
{
	struct fx *f = *state;
	assert_int_equal(tu_write(f->path, "0123456789", 10), 0);
	assert_int_equal(run_child(body_rewrite, f, "rw.end=powercut"), SIGKILL);
	expect_content(f->path, "0123456789", 10);
}

static int body_names(struct fx *f, const char *spec)
{
	char sub[400], inner[450], other[400];
	int fd;
	CHECK(flt_fp_configure(spec, NULL, 0));
	snprintf(sub, sizeof(sub), "%s/sub", f->dir);
	snprintf(inner, sizeof(inner), "%s/sub/inner", f->dir);
	snprintf(other, sizeof(other), "%s/other", f->dir);
	/* A new directory with a durable file in it, but the directory's own name unsynced. */
	CHECK(flt_fio_mkdir(sub, 0700, NULL));
	CHECK(flt_fio_open(inner, O_WRONLY | O_CREAT, 0600, &fd, NULL));
	CHECK(flt_fio_write(fd, "in", 2, NULL));
	CHECK(flt_fio_fsync(fd, NULL));
	CHECK(flt_fio_close(fd, NULL));
	CHECK(flt_fio_fsync_dir(sub, NULL));
	/* Unlink of a durable file, and a rename across the directories. */
	CHECK(flt_fio_unlink(f->path, NULL));
	CHECK(flt_fio_rename(other, inner, NULL));
	CHECK(flt_fio_fsync_dir(sub, NULL)); /* only one of the two directories */
	CHECK(FLT_FAILPOINT("nm.end"));
	return 0;
}

static void test_names_powercut(void **state)
{
	struct fx *f = *state;
	char other[400], sub[400];
	snprintf(other, sizeof(other), "%s/other", f->dir);
	snprintf(sub, sizeof(sub), "%s/sub", f->dir);
	assert_int_equal(tu_write(f->path, "keep me", 7), 0);
	assert_int_equal(tu_write(other, "other", 5), 0);
	assert_int_equal(flt_fio_fsync_dir(f->dir, NULL), FLT_OK);
	assert_int_equal(run_child(body_names, f, "nm.end=powercut"), SIGKILL);
	expect_content(f->path, "keep me", 7);
	expect_content(other, "other", 5);
	assert_false(tu_exists(sub));
	assert_int_equal(tu_count_entries(f->dir), 2);
	/* Crash instead: everything the kernel did stays. */
	assert_int_equal(run_child(body_names, f, "nm.end=crash"), SIGKILL);
	assert_false(tu_exists(f->path));
	assert_false(tu_exists(other));
	assert_true(tu_exists(sub));
}

/* ---- symlink switch ("current" -> version directory) ----------------------------- */

static int body_switch(struct fx *f, const char *spec)
{
	char cur[400], tmp[400];
	snprintf(cur, sizeof(cur), "%s/current", f->dir);
	snprintf(tmp, sizeof(tmp), "%s/.current.tmp", f->dir);
	CHECK(flt_fp_configure(spec, NULL, 0));
	CHECK(flt_fio_symlink("v2", tmp, "sw.link"));
	CHECK(flt_fio_rename(tmp, cur, "sw.rename"));
	CHECK(flt_fio_fsync_dir(f->dir, "sw.dirsync"));
	CHECK(FLT_FAILPOINT("sw.after"));
	return 0;
}

static void expect_link(const struct fx *f, const char *want)
{
	char cur[400], buf[64];
	snprintf(cur, sizeof(cur), "%s/current", f->dir);
	ssize_t n = readlink(cur, buf, sizeof(buf) - 1);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_string_equal(buf, want);
	assert_int_equal(tu_count_entries(f->dir), 1);
}

static void test_symlink_switch_powercut(void **state)
{
	struct fx *f = *state;
	char cur[400];
	snprintf(cur, sizeof(cur), "%s/current", f->dir);
	assert_int_equal(symlink("v1", cur), 0);
	assert_int_equal(flt_fio_fsync_dir(f->dir, NULL), FLT_OK);
	assert_int_equal(run_child(body_switch, f, "sw.rename=powercut"), SIGKILL);
	expect_link(f, "v1");
	assert_int_equal(run_child(body_switch, f, "sw.dirsync=powercut"), SIGKILL);
	expect_link(f, "v1");
	assert_int_equal(run_child(body_switch, f, "sw.after=powercut"), SIGKILL);
	expect_link(f, "v2");
	assert_int_equal(flt_fio_symlink("v3", cur, NULL), FLT_ECONFLICT);
}

/* ---- tracking costs nothing when off, and lets go after syncs ------------------- */

static void test_tracking_bounded(void **state)
{
	struct fx *f = *state;
	size_t files, ops, bytes;
	int fd;

	flt_fp_track(false);
	assert_false(flt_fp_tracking());
	assert_int_equal(tu_write(f->path, "0123456789", 10), 0);
	assert_int_equal(flt_fio_open(f->path, O_WRONLY, 0, &fd, NULL), FLT_OK);
	assert_int_equal(flt_fio_pwrite(fd, "ab", 2, 0, NULL), FLT_OK);
	flt_fp_tracking_stats(&files, &ops, &bytes);
	assert_int_equal(files + ops + bytes, 0);
	assert_int_equal(flt_fio_close(fd, NULL), FLT_OK);

	flt_fp_track(true);
	assert_int_equal(flt_fio_open(f->path, O_WRONLY, 0, &fd, NULL), FLT_OK);
	assert_int_equal(flt_fio_pwrite(fd, "cd", 2, 0, NULL), FLT_OK);
	assert_int_equal(flt_fio_pwrite(fd, "ef", 2, 20, NULL), FLT_OK); /* past end: no bytes */
	flt_fp_tracking_stats(&files, &ops, &bytes);
	assert_int_equal(files, 1);
	assert_int_equal(bytes, 2);
	assert_int_equal(flt_fio_fsync(fd, NULL), FLT_OK);
	flt_fp_tracking_stats(&files, &ops, &bytes);
	assert_int_equal(files + bytes, 0);
	assert_int_equal(flt_fio_close(fd, NULL), FLT_OK);

	char p2[400];
	snprintf(p2, sizeof(p2), "%s/renamed", f->dir);
	assert_int_equal(flt_fio_rename(f->path, p2, NULL), FLT_OK);
	flt_fp_tracking_stats(&files, &ops, &bytes);
	assert_int_equal(ops, 1);
	assert_int_equal(flt_fio_fsync_dir(f->dir, NULL), FLT_OK);
	flt_fp_tracking_stats(&files, &ops, &bytes);
	assert_int_equal(ops, 0);
	flt_fp_track(false);
}

/* ---- plain behaviour of the wrappers -------------------------------------------- */

static void test_wrapper_errors(void **state)
{
	struct fx *f = *state;
	char missing[400], sub[400];
	int fd = -1;
	size_t got = 99;
	char buf[16];

	snprintf(missing, sizeof(missing), "%s/nope", f->dir);
	snprintf(sub, sizeof(sub), "%s/d", f->dir);
	assert_int_equal(flt_fio_open(missing, O_RDONLY, 0, &fd, NULL), FLT_ENOTFOUND);
	assert_int_equal(fd, -1);
	assert_int_equal(flt_fio_unlink(missing, NULL), FLT_ENOTFOUND);
	assert_int_equal(flt_fio_rename(missing, f->path, NULL), FLT_ENOTFOUND);
	assert_int_equal(flt_fio_mkdir(sub, 0700, NULL), FLT_OK);
	assert_int_equal(flt_fio_mkdir(sub, 0700, NULL), FLT_ECONFLICT);
	assert_int_equal(tu_write(f->path, "abcdef", 6), 0);
	assert_int_equal(flt_fio_open(f->path, O_RDONLY, 0, &fd, NULL), FLT_OK);
	assert_int_equal(flt_fio_pread(fd, buf, 4, 2, &got, NULL), FLT_OK);
	assert_int_equal(got, 4);
	assert_memory_equal(buf, "cdef", 4);
	assert_int_equal(flt_fio_read(fd, buf, sizeof(buf), &got, NULL), FLT_OK);
	assert_int_equal(got, 6);
	assert_int_equal(flt_fio_read(fd, buf, sizeof(buf), &got, NULL), FLT_OK);
	assert_int_equal(got, 0);
	assert_int_equal(flt_fio_close(fd, NULL), FLT_OK);
	assert_int_equal(flt_fio_close(-1, NULL), FLT_OK);
	assert_int_equal(flt_fio_open(f->path, O_WRONLY | O_CREAT | O_EXCL, 0600, &fd, NULL),
	                 FLT_ECONFLICT);
	char in_sub[450];
	snprintf(in_sub, sizeof(in_sub), "%s/x", sub);
	assert_int_equal(tu_write(in_sub, "x", 1), 0);
	assert_int_equal(flt_fio_rmdir(sub, NULL), FLT_ECONFLICT);
	assert_int_equal(flt_fp_set("rd", "error"), FLT_OK);
	assert_int_equal(flt_fio_open(f->path, O_RDONLY, 0, &fd, NULL), FLT_OK);
	assert_int_equal(flt_fio_read(fd, buf, 4, &got, "rd"), FLT_EIO);
	assert_int_equal(flt_fio_close(fd, NULL), FLT_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_atomic_powercut_each_step, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_atomic_powercut_new_file, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_atomic_crash_each_step, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stale_temps, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_prealloc_powercut, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_append_powercut, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rewrite_powercut, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_names_powercut, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_symlink_switch_powercut, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tracking_bounded, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_wrapper_errors, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
