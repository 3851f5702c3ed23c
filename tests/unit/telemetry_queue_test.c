/* Unit tests for the durable telemetry/event queue: order, acks and epochs, the
 * byte bound, persistence across reopen, recovery from corrupt files, and no loss
 * when the writer is killed mid-append. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "flt/alloc.h"
#include "flt/failpoint.h"
#include "flt/telemetry_queue.h"

struct fx {
	char dir[256];
	char path[300];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	const char *tmp = getenv("TMPDIR");
	snprintf(f->dir, sizeof(f->dir), "%s/tq-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/queue.db", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	DIR *d = opendir(f->dir);
	struct dirent *e;
	while (d && (e = readdir(d)) != NULL) {
		char p[600];
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", f->dir, e->d_name);
		unlink(p);
	}
	if (d)
		closedir(d);
	rmdir(f->dir);
	free(f);
	return 0;
}

static struct flt_tq *open_q(const char *path, uint64_t bound, struct flt_tq_open_report *rep)
{
	struct flt_tq *q = NULL;
	struct flt_tq_open_report r;
	assert_int_equal(flt_tq_open(path, bound, &q, &r), FLT_OK);
	assert_non_null(q);
	if (rep)
		*rep = r;
	else
		assert_false(r.reset);
	return q;
}

static void append_n(struct flt_tq *q, const char *stream, int n, size_t len, uint64_t first)
{
	char buf[1024];
	assert_true(len <= sizeof(buf));
	for (int i = 0; i < n; i++) {
		uint64_t seq = 0;
		memset(buf, 'a' + (int)((first + (uint64_t)i) % 26), len);
		if (len >= 8)
			snprintf(buf, len, "%" PRIu64, first + (uint64_t)i);
		assert_int_equal(flt_tq_append(q, stream, buf, len, &seq), FLT_OK);
		assert_int_equal(seq, first + (uint64_t)i);
	}
}

static struct flt_tq_stream_info info(struct flt_tq *q, const char *stream)
{
	struct flt_tq_stream_info si;
	assert_int_equal(flt_tq_stream_info(q, stream, &si), FLT_OK);
	return si;
}

static void check_batch(struct flt_tq_batch *b, uint64_t first, uint64_t last)
{
	assert_non_null(b);
	assert_int_equal(b->first_seq, first);
	assert_int_equal(b->last_seq, last);
	assert_int_equal(b->n, last - first + 1);
	for (size_t i = 0; i < b->n; i++)
		assert_int_equal(b->items[i].seq, first + i);
}

static void test_append_batch_ack_order(void **state)
{
	struct fx *f = *state;
	struct flt_tq *q = open_q(f->path, 1 << 20, NULL);
	struct flt_tq_batch *b = NULL;
	assert_int_equal(flt_tq_next_batch(q, "telemetry", 10, 4096, &b), FLT_ENOTFOUND);
	append_n(q, "telemetry", 10, 20, 1);
	struct flt_tq_stream_info si = info(q, "telemetry");
	assert_true(si.epoch > 0 && si.epoch <= FLT_TQ_EPOCH_MAX);
	assert_int_equal(si.next_seq, 11);
	assert_int_equal(si.items, 10);
	assert_int_equal(si.bytes, 10 * (20 + FLT_TQ_ITEM_OVERHEAD));

	assert_int_equal(flt_tq_next_batch(q, "telemetry", 4, 4096, &b), FLT_OK);
	check_batch(b, 1, 4);
	assert_int_equal(b->epoch, si.epoch);
	assert_int_equal(b->low_seq, 1);
	assert_int_equal(b->dropped, 0);
	assert_string_equal(b->stream, "telemetry");
	assert_int_equal(b->items[0].len, 20);
	assert_memory_equal(b->items[0].data, "1", 2);
	flt_tq_batch_free(b);
	/* max_bytes cuts the batch: 3 items of 20 bytes fit in 65 */
	assert_int_equal(flt_tq_next_batch(q, "telemetry", 10, 65, &b), FLT_OK);
	check_batch(b, 5, 7);
	flt_tq_batch_free(b);
	/* at least one item even when it alone is larger than max_bytes */
	assert_int_equal(flt_tq_next_batch(q, "telemetry", 10, 5, &b), FLT_OK);
	check_batch(b, 8, 8);
	flt_tq_batch_free(b);
	assert_int_equal(flt_tq_next_batch(q, "telemetry", 10, 4096, &b), FLT_OK);
	check_batch(b, 9, 10);
	flt_tq_batch_free(b);
	assert_int_equal(flt_tq_next_batch(q, "telemetry", 10, 4096, &b), FLT_ENOTFOUND);

	size_t del = 99;
	assert_int_equal(flt_tq_ack(q, "telemetry", si.epoch, 6, &del), FLT_OK);
	assert_int_equal(del, 6);
	si = info(q, "telemetry");
	assert_int_equal(si.acked, 6);
	assert_int_equal(si.items, 4);
	assert_int_equal(flt_tq_bytes(q), 4 * (20 + FLT_TQ_ITEM_OVERHEAD));
	/* reconnect: everything not acked is sent again, from the lowest */
	flt_tq_rewind(q, "telemetry");
	assert_int_equal(flt_tq_next_batch(q, "telemetry", 100, 4096, &b), FLT_OK);
	check_batch(b, 7, 10);
	assert_int_equal(b->low_seq, 7);
	assert_memory_equal(b->items[3].data, "10", 3);
	flt_tq_batch_free(b);
	/* an older (re-delivered retained) ack changes nothing */
	assert_int_equal(flt_tq_ack(q, "telemetry", si.epoch, 3, &del), FLT_OK);
	assert_int_equal(del, 0);
	assert_int_equal(info(q, "telemetry").items, 4);
	/* new appends continue the sequence */
	append_n(q, "telemetry", 1, 20, 11);
	assert_int_equal(flt_tq_next_batch(q, "telemetry", 100, 4096, &b), FLT_OK);
	check_batch(b, 11, 11);
	flt_tq_batch_free(b);
	flt_tq_close(q);
}

static void test_streams_are_independent(void **state)
{
	struct fx *f = *state;
	struct flt_tq *q = open_q(f->path, 1 << 20, NULL);
	append_n(q, "telemetry", 3, 10, 1);
	append_n(q, "events", 2, 10, 1);
	append_n(q, "telemetry", 1, 10, 4);
	uint64_t et = info(q, "telemetry").epoch, ee = info(q, "events").epoch;
	assert_int_not_equal(et, ee);
	size_t del = 0;
	/* the telemetry epoch on the events stream is another epoch: ignored */
	assert_int_equal(flt_tq_ack(q, "events", et, 2, &del), FLT_OK);
	assert_int_equal(del, 0);
	assert_int_equal(flt_tq_ack(q, "events", ee, 2, &del), FLT_OK);
	assert_int_equal(del, 2);
	assert_int_equal(info(q, "telemetry").items, 4);
	assert_int_equal(flt_tq_stream_info(q, "nosuch", &(struct flt_tq_stream_info){0}),
	                 FLT_ENOTFOUND);
	assert_int_equal(flt_tq_append(q, "Bad/Name", "x", 1, NULL), FLT_EINVAL);
	assert_int_equal(flt_tq_append(q, "telemetry", NULL, 1, NULL), FLT_EINVAL);
	flt_tq_close(q);
}

static void test_ack_other_epoch_ignored(void **state)
{
	struct fx *f = *state;
	struct flt_tq *q = open_q(f->path, 1 << 20, NULL);
	append_n(q, "telemetry", 5, 10, 1);
	uint64_t e = info(q, "telemetry").epoch;
	size_t del = 99;
	assert_int_equal(flt_tq_ack(q, "telemetry", e ^ 1, 5, &del), FLT_OK);
	assert_int_equal(del, 0);
	assert_int_equal(flt_tq_ack(q, "telemetry", 0, 5, &del), FLT_OK);
	assert_int_equal(del, 0);
	assert_int_equal(flt_tq_ack(q, "unknown", e, 5, &del), FLT_OK);
	assert_int_equal(del, 0);
	struct flt_tq_stream_info si = info(q, "telemetry");
	assert_int_equal(si.items, 5);
	assert_int_equal(si.acked, 0);
	flt_tq_close(q);
}

static void test_ack_beyond_last_seq(void **state)
{
	struct fx *f = *state;
	struct flt_tq *q = open_q(f->path, 1 << 20, NULL);
	append_n(q, "telemetry", 3, 10, 1);
	uint64_t e = info(q, "telemetry").epoch;
	size_t del = 0;
	assert_int_equal(flt_tq_ack(q, "telemetry", e, 1000, &del), FLT_OK);
	assert_int_equal(del, 3);
	struct flt_tq_stream_info si = info(q, "telemetry");
	assert_int_equal(si.items, 0);
	assert_int_equal(si.acked, 3);
	assert_int_equal(flt_tq_bytes(q), 0);
	/* future sequences are not skipped by the bogus ack */
	append_n(q, "telemetry", 2, 10, 4);
	struct flt_tq_batch *b = NULL;
	assert_int_equal(flt_tq_next_batch(q, "telemetry", 10, 4096, &b), FLT_OK);
	check_batch(b, 4, 5);
	flt_tq_batch_free(b);
	flt_tq_close(q);
}

static void test_bound_drops_oldest_and_reports(void **state)
{
	struct fx *f = *state;
	const uint64_t bound = 8192;
	const size_t len = 100;
	const uint64_t per = len + FLT_TQ_ITEM_OVERHEAD, cap = bound / per;
	struct flt_tq *q = open_q(f->path, bound, NULL);
	append_n(q, "telemetry", 200, len, 1);
	struct flt_tq_stream_info si = info(q, "telemetry");
	assert_int_equal(si.items, cap);
	assert_int_equal(si.dropped, 200 - cap);
	assert_true(flt_tq_bytes(q) <= bound);
	struct flt_tq_batch *b = NULL;
	assert_int_equal(flt_tq_next_batch(q, "telemetry", 1000, 1 << 20, &b), FLT_OK);
	check_batch(b, 200 - cap + 1, 200);
	assert_int_equal(b->low_seq, 200 - cap + 1);
	assert_int_equal(b->dropped, 200 - cap);
	char want[16];
	snprintf(want, sizeof(want), "%" PRIu64, 200 - cap + 1);
	assert_string_equal((const char *)b->items[0].data, want);
	flt_tq_batch_free(b);

	/* an item larger than the bound is refused and drops nothing */
	static char big[9000];
	assert_int_equal(flt_tq_append(q, "telemetry", big, sizeof(big), NULL), FLT_ELIMIT);
	assert_int_equal(info(q, "telemetry").items, cap);

	/* the dropped count is persisted */
	flt_tq_close(q);
	q = open_q(f->path, bound, NULL);
	assert_int_equal(info(q, "telemetry").dropped, 200 - cap);
	assert_int_equal(flt_tq_bytes(q), cap * per);
	flt_tq_close(q);
}

static void test_bound_spares_small_stream(void **state)
{
	struct fx *f = *state;
	struct flt_tq *q = open_q(f->path, 8192, NULL);
	append_n(q, "events", 3, 50, 1);
	append_n(q, "telemetry", 500, 100, 1);
	struct flt_tq_stream_info ev = info(q, "events"), te = info(q, "telemetry");
	assert_int_equal(ev.items, 3);
	assert_int_equal(ev.dropped, 0);
	assert_true(te.dropped > 0);
	assert_true(flt_tq_bytes(q) <= 8192);
	/* events keep their place while telemetry holds more */
	append_n(q, "events", 5, 50, 4);
	ev = info(q, "events");
	assert_int_equal(ev.items, 8);
	assert_int_equal(ev.dropped, 0);
	flt_tq_close(q);
}

static void test_reopen_keeps_epoch_and_seqs(void **state)
{
	struct fx *f = *state;
	struct flt_tq *q = open_q(f->path, 1 << 20, NULL);
	append_n(q, "telemetry", 5, 30, 1);
	append_n(q, "events", 2, 30, 1);
	struct flt_tq_stream_info before = info(q, "telemetry");
	uint64_t ev_epoch = info(q, "events").epoch;
	size_t del;
	assert_int_equal(flt_tq_ack(q, "telemetry", before.epoch, 2, &del), FLT_OK);
	flt_tq_close(q);

	struct flt_tq_open_report rep;
	q = open_q(f->path, 1 << 20, &rep);
	assert_false(rep.reset);
	assert_null(rep.moved_to);
	struct flt_tq_stream_info after = info(q, "telemetry");
	assert_int_equal(after.epoch, before.epoch);
	assert_int_equal(after.next_seq, 6);
	assert_int_equal(after.acked, 2);
	assert_int_equal(after.items, 3);
	assert_int_equal(info(q, "events").epoch, ev_epoch);
	struct flt_tq_batch *b = NULL;
	assert_int_equal(flt_tq_next_batch(q, "telemetry", 10, 4096, &b), FLT_OK);
	check_batch(b, 3, 5);
	flt_tq_batch_free(b);
	append_n(q, "telemetry", 1, 30, 6);
	flt_tq_close(q);
}

static void test_second_open_is_busy(void **state)
{
	struct fx *f = *state;
	struct flt_tq *q = open_q(f->path, 1 << 20, NULL), *q2 = NULL;
	/* locked from open on, not only after the first write */
	assert_int_equal(flt_tq_open(f->path, 1 << 20, &q2, NULL), FLT_EBUSY);
	append_n(q, "telemetry", 1, 10, 1);
	assert_int_equal(flt_tq_open(f->path, 1 << 20, &q2, NULL), FLT_EBUSY);
	assert_null(q2);
	flt_tq_close(q);
	/* the file was not taken for corrupt; reopened (no write at open) it is locked too */
	q = open_q(f->path, 1 << 20, NULL);
	assert_int_equal(flt_tq_open(f->path, 1 << 20, &q2, NULL), FLT_EBUSY);
	assert_int_equal(info(q, "telemetry").items, 1);
	flt_tq_close(q);
}

static int count_aside(const struct fx *f, char *name, size_t cap)
{
	int n = 0;
	DIR *d = opendir(f->dir);
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, "queue.db.corrupt-", 17) == 0 &&
		    !strstr(e->d_name, "-wal")) {
			n++;
			snprintf(name, cap, "%s", e->d_name);
		}
	}
	closedir(d);
	return n;
}

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *fp = fopen(path, "wb");
	assert_non_null(fp);
	assert_int_equal(fwrite(data, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

/* Opens PATH expecting a reset, checks the report and that the fresh queue starts
 * at seq 1 with a new epoch. */
static void expect_reset(struct fx *f, uint64_t old_epoch, const char *reason)
{
	struct flt_tq_open_report rep;
	struct flt_tq *q = open_q(f->path, 1 << 20, &rep);
	assert_true(rep.reset);
	assert_non_null(rep.reason);
	if (reason)
		assert_string_equal(rep.reason, reason);
	assert_non_null(rep.moved_to);
	struct stat sb;
	assert_int_equal(stat(rep.moved_to, &sb), 0);
	assert_int_equal(flt_tq_stream_info(q, "telemetry", &(struct flt_tq_stream_info){0}),
	                 FLT_ENOTFOUND);
	append_n(q, "telemetry", 1, 10, 1);
	assert_int_not_equal(info(q, "telemetry").epoch, old_epoch);
	flt_tq_close(q);
	/* the fresh queue is healthy on the next open */
	q = open_q(f->path, 1 << 20, NULL);
	assert_int_equal(info(q, "telemetry").items, 1);
	flt_tq_close(q);
}

static void test_garbage_file_moved_aside(void **state)
{
	struct fx *f = *state;
	char garbage[3000];
	for (size_t i = 0; i < sizeof(garbage); i++)
		garbage[i] = (char)(i * 31 + 7);
	write_file(f->path, garbage, sizeof(garbage));
	expect_reset(f, 0, "not a database");
	char name[256];
	assert_int_equal(count_aside(f, name, sizeof(name)), 1);
}

static void test_truncated_file_moved_aside(void **state)
{
	struct fx *f = *state;
	struct flt_tq *q = open_q(f->path, 1 << 20, NULL);
	append_n(q, "telemetry", 400, 500, 1);
	uint64_t epoch = info(q, "telemetry").epoch;
	flt_tq_close(q);
	struct stat sb;
	assert_int_equal(stat(f->path, &sb), 0);
	assert_true(sb.st_size > 100000);
	assert_int_equal(truncate(f->path, sb.st_size / 2 + 123), 0);
	expect_reset(f, epoch, NULL);

	/* a second corruption keeps only the newest file aside */
	q = open_q(f->path, 1 << 20, NULL);
	flt_tq_close(q);
	assert_int_equal(truncate(f->path, 0), 0);
	expect_reset(f, 0, "empty file");
	char name[256];
	assert_int_equal(count_aside(f, name, sizeof(name)), 1);
}

static void test_move_aside_failure_keeps_file(void **state)
{
	struct fx *f = *state;
	write_file(f->path, "garbage garbage garbage", 23);
	assert_int_equal(flt_fp_set("tqueue.aside.rename", "error"), FLT_OK);
	struct flt_tq *q = NULL;
	assert_int_equal(flt_tq_open(f->path, 1 << 20, &q, NULL), FLT_EIO);
	assert_null(q);
	flt_fp_clear_all();
	/* nothing was lost: the file is still there, and the next open recovers */
	struct stat sb;
	assert_int_equal(stat(f->path, &sb), 0);
	assert_int_equal(sb.st_size, 23);
	expect_reset(f, 0, "not a database");
}

static void test_foreign_database_moved_aside(void **state)
{
	struct fx *f = *state;
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(
	    sqlite3_exec(db, "CREATE TABLE foo(x); INSERT INTO foo VALUES (1);", NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);
	expect_reset(f, 0, "not a queue file");
}

static void test_corrupt_page_moved_aside(void **state)
{
	struct fx *f = *state;
	struct flt_tq *q = open_q(f->path, 1 << 20, NULL);
	append_n(q, "telemetry", 300, 500, 1);
	uint64_t epoch = info(q, "telemetry").epoch;
	flt_tq_close(q);
	/* scribble over the middle of the file, leaving the header intact */
	int fd = open(f->path, O_WRONLY);
	assert_true(fd >= 0);
	char junk[8192];
	memset(junk, 0x5a, sizeof(junk));
	assert_int_equal(pwrite(fd, junk, sizeof(junk), 4096), (ssize_t)sizeof(junk));
	close(fd);
	expect_reset(f, epoch, NULL);
}

/* The child appends until killed and reports every seq append() returned on a pipe. */
static void child_append(const char *path, int wfd)
{
	struct flt_tq *q = NULL;
	if (flt_tq_open(path, 1 << 22, &q, NULL) != FLT_OK)
		_exit(2);
	char buf[200];
	memset(buf, 'x', sizeof(buf));
	for (;;) {
		uint64_t seq;
		if (flt_tq_append(q, "telemetry", buf, sizeof(buf), &seq) != FLT_OK)
			_exit(3);
		if (write(wfd, &seq, sizeof(seq)) != (ssize_t)sizeof(seq))
			_exit(4);
	}
}

static void test_killed_mid_append_loses_nothing(void **state)
{
	struct fx *f = *state;
	if (getenv("FLT_EMULATED")) {
		/* qemu-user here crashes in fork(); the native and ASan runs cover this. */
		fprintf(stderr, "skipped under the emulator: fork() is unreliable there\n");
		skip();
	}
	int p[2];
	assert_int_equal(pipe(p), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		child_append(f->path, p[1]);
	}
	close(p[1]);
	uint64_t seq = 0, last = 0, got = 0;
	while (got < 300 && read(p[0], &seq, sizeof(seq)) == (ssize_t)sizeof(seq)) {
		assert_int_equal(seq, last + 1);
		last = seq;
		got++;
	}
	assert_int_equal(got, 300);
	assert_int_equal(kill(pid, SIGKILL), 0);
	int status = 0;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	/* seqs the child wrote to the pipe before dying also count as returned */
	while (read(p[0], &seq, sizeof(seq)) == (ssize_t)sizeof(seq)) {
		assert_int_equal(seq, last + 1);
		last = seq;
	}
	close(p[0]);

	struct flt_tq_open_report rep;
	struct flt_tq *q = open_q(f->path, 1 << 22, &rep);
	assert_false(rep.reset);
	struct flt_tq_stream_info si = info(q, "telemetry");
	assert_true(si.next_seq - 1 >= last);
	assert_true(si.next_seq - 1 <= last + 1); /* at most the one in flight */
	assert_int_equal(si.items, si.next_seq - 1);
	assert_int_equal(si.dropped, 0);
	/* dense: read everything back in batches */
	struct flt_tq_batch *b = NULL;
	uint64_t want = 1;
	while (flt_tq_next_batch(q, "telemetry", 64, 1 << 20, &b) == FLT_OK) {
		check_batch(b, want, want + b->n - 1);
		want += b->n;
		flt_tq_batch_free(b);
	}
	assert_int_equal(want, si.next_seq);
	append_n(q, "telemetry", 1, 10, si.next_seq);
	flt_tq_close(q);
}

static void test_allocation_failures(void **state)
{
	struct fx *f = *state;
	struct flt_tq *q = open_q(f->path, 1 << 20, NULL);
	append_n(q, "telemetry", 5, 10, 1);
	flt_tq_close(q);
	/* every allocation point of open and next_batch fails cleanly (ASan checks leaks) */
	int failed = 0;
	for (long n = 0; n < 20; n++) {
		q = NULL;
		flt_alloc_fail_after(n);
		flt_err err = flt_tq_open(f->path, 1 << 20, &q, NULL);
		flt_alloc_fail_reset();
		if (err != FLT_OK) {
			assert_int_equal(err, FLT_ENOMEM);
			assert_null(q);
			failed++;
			continue;
		}
		struct flt_tq_batch *b = NULL;
		flt_alloc_fail_after(n);
		err = flt_tq_next_batch(q, "telemetry", 10, 4096, &b);
		flt_alloc_fail_reset();
		if (err == FLT_OK) {
			check_batch(b, 1, 5);
			flt_tq_batch_free(b);
		} else {
			assert_int_equal(err, FLT_ENOMEM);
			assert_null(b);
			failed++;
		}
		flt_tq_close(q);
	}
	assert_true(failed >= 3);
}

static void test_open_errors(void **state)
{
	struct fx *f = *state;
	struct flt_tq *q = NULL;
	char bad[400];
	assert_int_equal(flt_tq_open(f->path, 100, &q, NULL), FLT_EINVAL);
	snprintf(bad, sizeof(bad), "%s/missing/queue.db", f->dir);
	assert_int_equal(flt_tq_open(bad, 1 << 20, &q, NULL), FLT_EIO);
	assert_null(q);
	flt_tq_close(NULL);
	flt_tq_batch_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_append_batch_ack_order, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_streams_are_independent, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ack_other_epoch_ignored, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ack_beyond_last_seq, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bound_drops_oldest_and_reports, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bound_spares_small_stream, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reopen_keeps_epoch_and_seqs, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_second_open_is_busy, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_garbage_file_moved_aside, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_truncated_file_moved_aside, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_move_aside_failure_keeps_file, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_foreign_database_moved_aside, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_corrupt_page_moved_aside, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_killed_mid_append_loses_nothing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_allocation_failures, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
