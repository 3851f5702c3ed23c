/* End-to-end rules of the telemetry stream without a broker: the agent's queue and
 * sender against a model receiver that follows docs/telemetry.md, over a channel that
 * loses batches and acks. Checks that every sample arrives exactly once (duplicates
 * only as re-sent seqs, dropped by the receiver), in order, across an offline period,
 * losses, an agent crash mid-batch, a full queue and a queue reset. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "flt/alloc.h"
#include "flt/telemetry_batch.h"

#define MAXS 4096

static char dir[256], path[300];

/* ---- the receiver, as docs/telemetry.md says serve must behave ---- */

struct receiver {
	uint64_t epoch, high, dropped;
	/* stored (epoch, seq) with the sample's content (uptime = the producer's index) */
	size_t n;
	uint64_t ep[MAXS], seq[MAXS], payload[MAXS];
	size_t duplicates;
};

static bool stored(const struct receiver *r, uint64_t epoch, uint64_t seq)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->ep[i] == epoch && r->seq[i] == seq)
			return true;
	return false;
}

/* Receives one up/telemetry payload; the ack to publish is then (epoch, high). */
static void receive(struct receiver *r, const char *json, size_t len)
{
	struct flt_telemetry_batch *b = NULL;
	struct flt_json_err jerr;
	assert_int_equal(flt_telemetry_parse(json, len, &b, &jerr), FLT_OK);
	if (b->epoch != r->epoch) {
		r->epoch = b->epoch;
		r->high = 0;
		r->dropped = 0;
	}
	if (b->low_seq > r->high + 1)
		r->high = b->low_seq - 1;
	if (b->dropped > r->dropped)
		r->dropped = b->dropped;
	/* A batch after a gap (an earlier one was lost in transit) is dropped whole: the
	 * agent re-sends from high + 1, so storage stays in seq order. */
	if (b->samples[0].seq > r->high + 1) {
		r->duplicates += b->n;
		flt_telemetry_free(b);
		return;
	}
	for (size_t i = 0; i < b->n; i++) {
		const struct flt_sample *s = &b->samples[i];
		if (s->seq <= r->high || stored(r, b->epoch, s->seq)) {
			r->duplicates++;
			continue;
		}
		assert_true(r->n < MAXS);
		r->ep[r->n] = b->epoch;
		r->seq[r->n] = s->seq;
		r->payload[r->n] = s->u.health.uptime_s;
		r->n++;
	}
	if (b->samples[b->n - 1].seq > r->high)
		r->high = b->samples[b->n - 1].seq;
	flt_telemetry_free(b);
}

/* ---- the agent side ---- */

static uint64_t produced; /* index of the next sample, carried as its uptime */

static void produce(struct flt_tq *q, int n)
{
	for (int i = 0; i < n; i++) {
		struct flt_health_sample h;
		memset(&h, 0, sizeof(h));
		h.time_ms = 1764780000000LL + (int64_t)produced * 60000;
		h.uptime_s = (double)produced;
		produced++;
		size_t added = 0;
		assert_int_equal(flt_tbatch_enqueue(q, &h, NULL, NULL, 60, &added), FLT_OK);
		assert_int_equal(added, 1);
	}
}

/* The channel: batch k (counting from 0) is lost when lose_batch(k), an ack when
 * lose_ack(k). */
typedef bool (*lose_fn)(unsigned k);
static bool never(unsigned k)
{
	(void)k;
	return false;
}

/* One sender round while online: up to `inflight` batches of `per` items, each
 * published (maybe lost), acks applied (maybe lost). When a round made no ack
 * progress, the sender rewinds (its "no progress for a while" timer). Returns
 * the number of items still queued. */
static uint64_t send_round(struct flt_tq *q, struct receiver *r, size_t per, int inflight,
                           lose_fn lose_batch, lose_fn lose_ack, unsigned *k)
{
	struct flt_tq_stream_info before, after;
	assert_int_equal(flt_tq_stream_info(q, FLT_TBATCH_TELEMETRY, &before), FLT_OK);
	for (int i = 0; i < inflight; i++) {
		struct flt_tq_batch *b = NULL;
		flt_err err = flt_tq_next_batch(q, FLT_TBATCH_TELEMETRY, per, 1 << 20, &b);
		if (err == FLT_ENOTFOUND)
			break;
		assert_int_equal(err, FLT_OK);
		char *json = NULL;
		size_t len = 0;
		assert_int_equal(flt_tbatch_encode(b, &json, &len), FLT_OK);
		unsigned n = (*k)++;
		if (!lose_batch(n)) {
			receive(r, json, len);
			if (!lose_ack(n))
				assert_int_equal(
				    flt_tq_ack(q, FLT_TBATCH_TELEMETRY, r->epoch, r->high, NULL),
				    FLT_OK);
		}
		flt_free(json);
		flt_tq_batch_free(b);
	}
	assert_int_equal(flt_tq_stream_info(q, FLT_TBATCH_TELEMETRY, &after), FLT_OK);
	/* The round stands for "acks stopped coming for a while": send again from the
	 * lowest un-acknowledged item. */
	(void)before;
	flt_tq_rewind(q, FLT_TBATCH_TELEMETRY);
	return after.items;
}

static void drain(struct flt_tq *q, struct receiver *r, size_t per, int inflight, lose_fn lb,
                  lose_fn la)
{
	unsigned k = 0;
	int rounds = 0;
	while (send_round(q, r, per, inflight, lb, la, &k) > 0)
		assert_true(++rounds < 10000);
}

/* Every produced sample in [from, to) is stored exactly once, in order of seq. */
static void check_complete(const struct receiver *r, uint64_t from, uint64_t to)
{
	assert_int_equal(r->n, to - from);
	for (size_t i = 0; i < r->n; i++) {
		assert_int_equal(r->payload[i], from + i);
		if (i > 0 && r->ep[i] == r->ep[i - 1])
			assert_int_equal(r->seq[i], r->seq[i - 1] + 1);
	}
}

static int setup(void **state)
{
	(void)state;
	const char *tmp = getenv("TMPDIR");
	snprintf(dir, sizeof(dir), "%s/tflow-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/queue.db", dir);
	produced = 0;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	DIR *d = opendir(dir);
	struct dirent *e;
	while (d && (e = readdir(d)) != NULL) {
		char p[600];
		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		unlink(p);
	}
	if (d)
		closedir(d);
	rmdir(dir);
	return 0;
}

static struct flt_tq *open_q(uint64_t bound)
{
	struct flt_tq *q = NULL;
	assert_int_equal(flt_tq_open(path, bound, &q, NULL), FLT_OK);
	return q;
}

static void test_offline_then_back(void **state)
{
	(void)state;
	static struct receiver r;
	memset(&r, 0, sizeof(r));
	struct flt_tq *q = open_q(4u << 20);
	produce(q, 10);
	drain(q, &r, 4, 2, never, never);
	/* broker down: samples pile up */
	produce(q, 500);
	assert_int_equal(r.n, 10);
	drain(q, &r, 64, 3, never, never);
	check_complete(&r, 0, 510);
	assert_int_equal(r.duplicates, 0);
	assert_int_equal(r.dropped, 0);
	flt_tq_close(q);
}

static bool every_third(unsigned k)
{
	return k % 3 == 1;
}
static bool every_second(unsigned k)
{
	return k % 2 == 0;
}

static void test_lost_batches_and_acks(void **state)
{
	(void)state;
	static struct receiver r;
	memset(&r, 0, sizeof(r));
	struct flt_tq *q = open_q(4u << 20);
	produce(q, 300);
	/* a broker without persistence loses every third batch; half the acks vanish */
	drain(q, &r, 10, 3, every_third, every_second);
	check_complete(&r, 0, 300);
	assert_true(r.duplicates > 0); /* re-sent, and dropped by the receiver */
	struct flt_tq_stream_info si;
	assert_int_equal(flt_tq_stream_info(q, FLT_TBATCH_TELEMETRY, &si), FLT_OK);
	assert_int_equal(si.items, 0);
	flt_tq_close(q);
}

static void test_agent_killed_mid_batch(void **state)
{
	(void)state;
	static struct receiver r;
	memset(&r, 0, sizeof(r));
	struct flt_tq *q = open_q(4u << 20);
	produce(q, 100);
	/* two batches received and stored, but the agent dies before any ack arrives */
	for (int i = 0; i < 2; i++) {
		struct flt_tq_batch *b = NULL;
		assert_int_equal(flt_tq_next_batch(q, FLT_TBATCH_TELEMETRY, 20, 1 << 20, &b),
		                 FLT_OK);
		char *json = NULL;
		size_t len = 0;
		assert_int_equal(flt_tbatch_encode(b, &json, &len), FLT_OK);
		receive(&r, json, len);
		flt_free(json);
		flt_tq_batch_free(b);
	}
	flt_tq_close(q);
	q = open_q(4u << 20);
	produce(q, 5);
	/* serve had stored both but published only the first ack: the retained ack the
	 * agent finds on reconnect says 20 */
	assert_int_equal(flt_tq_ack(q, FLT_TBATCH_TELEMETRY, r.epoch, 20, NULL), FLT_OK);
	drain(q, &r, 25, 2, never, never);
	check_complete(&r, 0, 105);
	/* re-sent seqs 21..40 were duplicates the receiver dropped; nothing was lost */
	assert_int_equal(r.duplicates, 20);
	flt_tq_close(q);
}

static void test_full_queue_drops_counted(void **state)
{
	(void)state;
	static struct receiver r;
	memset(&r, 0, sizeof(r));
	struct flt_tq *q = open_q(32768);
	produce(q, 20);
	drain(q, &r, 8, 2, never, never);
	produce(q, 1000); /* far more than 32 KiB while offline */
	struct flt_tq_stream_info si;
	assert_int_equal(flt_tq_stream_info(q, FLT_TBATCH_TELEMETRY, &si), FLT_OK);
	assert_true(si.dropped > 0);
	assert_true(flt_tq_bytes(q) <= 32768);
	drain(q, &r, 50, 2, never, never);
	/* the receiver did not wait for the dropped seqs, and knows how many they were */
	assert_int_equal(r.dropped, si.dropped);
	assert_int_equal(r.n + r.dropped, 1020);
	assert_int_equal(r.high, 1020);
	/* what arrived is the newest, in order */
	for (size_t i = 20; i < r.n; i++)
		assert_int_equal(r.payload[i], 1020 - (r.n - i));
	flt_tq_close(q);
}

static void test_reset_queue_new_epoch(void **state)
{
	(void)state;
	static struct receiver r;
	memset(&r, 0, sizeof(r));
	struct flt_tq *q = open_q(4u << 20);
	produce(q, 30);
	drain(q, &r, 8, 2, never, never);
	uint64_t old_epoch = r.epoch;
	flt_tq_close(q);
	/* the queue file is destroyed */
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	fputs("this is not a database, it is a torn file .........................................",
	      f);
	fclose(f);
	struct flt_tq_open_report rep;
	assert_int_equal(flt_tq_open(path, 4u << 20, &q, &rep), FLT_OK);
	assert_true(rep.reset);
	/* the retained ack of the old epoch is ignored by the fresh queue */
	produce(q, 10);
	size_t del = 99;
	assert_int_equal(flt_tq_ack(q, FLT_TBATCH_TELEMETRY, old_epoch, 30, &del), FLT_OK);
	assert_int_equal(del, 0);
	drain(q, &r, 8, 2, never, never);
	assert_int_not_equal(r.epoch, old_epoch);
	check_complete(&r, 0, 40);
	assert_int_equal(r.seq[30], 1); /* the new epoch starts at 1 */
	flt_tq_close(q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_offline_then_back, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_lost_batches_and_acks, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_agent_killed_mid_batch, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_full_queue_drops_counted, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reset_queue_new_epoch, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
