/* Unit tests for the telemetry glue: measurements become wire samples (deltas,
 * clamps, percentiles), an interval is queued, and queue batches of both streams
 * encode to payloads that the controller's decoders accept with the right seqs. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "flt/alloc.h"
#include "flt/telemetry_batch.h"

static char dir[256], path[300];

static int setup(void **state)
{
	(void)state;
	const char *tmp = getenv("TMPDIR");
	snprintf(dir, sizeof(dir), "%s/tb-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/queue.db", dir);
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

static struct flt_health_sample health(void)
{
	struct flt_health_sample h;
	memset(&h, 0, sizeof(h));
	h.time_ms = 1764780000123LL;
	h.cpu_pct = 2.5;
	h.mem.rss = 4000000;
	h.mem.pss = 1500000;
	h.mem.private_mem = 1200000;
	h.mem.has_pss = true;
	h.mem_total = 1000000000;
	h.mem_available = 600000000;
	h.disk_free = 5000000000ULL;
	h.disk_total = 8000000000ULL;
	h.uptime_s = 12345.9;
	h.has_temp = true;
	h.temp_c = 51.5;
	h.mqtt.sent[FLT_HEALTH_MQTT_TELEMETRY] = 5000;
	h.mqtt.received[FLT_HEALTH_MQTT_CHUNKS] = 70000;
	h.mqtt.sent[FLT_HEALTH_MQTT_STATE] = 100;
	return h;
}

static void test_health_sample(void **state)
{
	(void)state;
	struct flt_health_sample h = health();
	struct flt_health_mqtt prev = {0};
	prev.sent[FLT_HEALTH_MQTT_TELEMETRY] = 4000;
	prev.sent[FLT_HEALTH_MQTT_STATE] = 300; /* counter went back: a restart */
	struct flt_sample s;
	flt_tbatch_health(&h, &prev, 60, &s);
	assert_int_equal(s.type, FLT_SAMPLE_HEALTH);
	assert_int_equal(s.time, 1764780000);
	assert_int_equal(s.interval_s, 60);
	assert_int_equal(s.u.health.mqtt_sent[FLT_WIRE_PURPOSE_TELEMETRY], 1000);
	assert_int_equal(s.u.health.mqtt_sent[FLT_WIRE_PURPOSE_STATE], 100);
	assert_int_equal(s.u.health.mqtt_received[FLT_WIRE_PURPOSE_CHUNKS], 70000);
	assert_int_equal(s.u.health.uptime_s, 12345);
	assert_int_equal(s.u.health.pss_bytes, 1500000);
	assert_true(s.u.health.has_temp && s.u.health.temp_c == 51.5);
	/* no PSS on the device: none on the wire; absurd CPU clamped */
	h.mem.has_pss = false;
	h.mem.pss = 0;
	h.mem.private_mem = 0;
	h.cpu_pct = 1e9;
	flt_tbatch_health(&h, NULL, 60, &s);
	assert_false(s.u.health.has_pss);
	assert_true(s.u.health.cpu_pct == 100000.0);
	assert_int_equal(s.u.health.mqtt_sent[FLT_WIRE_PURPOSE_STATE], 100);
}

static void test_mqtt_counters(void **state)
{
	(void)state;
	struct flt_mqtt_stats st;
	memset(&st, 0, sizeof(st));
	st.sent_bytes[FLT_MQTT_PURPOSE_TELEMETRY] = 11;
	st.sent_bytes[FLT_MQTT_PURPOSE_OTHER] = 22;
	st.recv_bytes[FLT_MQTT_PURPOSE_CHUNKS] = 33;
	st.recv_bytes[FLT_MQTT_PURPOSE_STATE] = 44;
	struct flt_health_mqtt m;
	flt_tbatch_mqtt_counters(&st, &m);
	assert_int_equal(m.sent[FLT_HEALTH_MQTT_TELEMETRY], 11);
	assert_int_equal(m.sent[FLT_HEALTH_MQTT_OTHER], 22);
	assert_int_equal(m.sent[FLT_HEALTH_MQTT_CHUNKS], 0);
	assert_int_equal(m.received[FLT_HEALTH_MQTT_CHUNKS], 33);
	assert_int_equal(m.received[FLT_HEALTH_MQTT_STATE], 44);
	/* and on the wire, under the wire's own purpose names */
	struct flt_health_sample h;
	memset(&h, 0, sizeof(h));
	h.mqtt = m;
	struct flt_sample s;
	flt_tbatch_health(&h, NULL, 60, &s);
	assert_int_equal(s.u.health.mqtt_sent[FLT_WIRE_PURPOSE_OTHER], 22);
	assert_int_equal(s.u.health.mqtt_received[FLT_WIRE_PURPOSE_STATE], 44);
}

static void test_model_sample(void **state)
{
	(void)state;
	struct flt_usage *u = NULL;
	assert_int_equal(flt_usage_new(4, &u), FLT_OK);
	for (int i = 1; i <= 100; i++)
		assert_int_equal(
		    flt_usage_record(u, "detector", 3, FLT_USAGE_OK, (uint64_t)i * 1000000, 10, 2),
		    FLT_OK);
	assert_int_equal(flt_usage_record(u, "detector", 3, FLT_USAGE_TIMEOUT, 1, 10, 0), FLT_OK);
	assert_int_equal(flt_usage_record(u, "detector", 3, FLT_USAGE_INTERNAL, 1, 10, 0), FLT_OK);
	struct flt_usage_snapshot *snap = NULL;
	assert_int_equal(flt_usage_snapshot_reset(u, &snap), FLT_OK);
	struct flt_sample s;
	assert_int_equal(flt_tbatch_model(&snap->entries[0], 1764780000, 60, &s), FLT_OK);
	const struct flt_model_usage *m = &s.u.model;
	assert_string_equal(m->name, "detector");
	assert_int_equal(m->version, 3);
	assert_int_equal(m->requests, 102);
	assert_int_equal(m->errors[FLT_MODEL_ERR_TIMEOUT], 1);
	assert_int_equal(m->errors[FLT_MODEL_ERR_INTERNAL], 1);
	assert_int_equal(m->errors[FLT_MODEL_ERR_BAD_INPUT], 0);
	/* latencies 1..100 ms: p50 = 50 ms, p99 = 99 ms, within the histogram's bound */
	assert_true(m->p50_us >= 47000 && m->p50_us <= 53300);
	assert_true(m->p99_us >= 93000 && m->p99_us <= 105400);
	assert_int_equal(m->bytes_in, 1020);
	assert_true(m->last_used > 1700000000);
	struct flt_usage_entry bad = snap->entries[0];
	bad.version = 0;
	assert_int_equal(flt_tbatch_model(&bad, 1, 60, &s), FLT_EINVAL);
	flt_usage_snapshot_free(snap);
	flt_usage_free(u);
}

static void test_enqueue_and_encode_telemetry(void **state)
{
	(void)state;
	struct flt_tq *q = NULL;
	assert_int_equal(flt_tq_open(path, 1 << 20, &q, NULL), FLT_OK);
	struct flt_usage *u = NULL;
	assert_int_equal(flt_usage_new(4, &u), FLT_OK);
	assert_int_equal(flt_usage_record(u, "detector", 3, FLT_USAGE_OK, 2000000, 10, 2), FLT_OK);
	assert_int_equal(flt_usage_record(u, "classifier", 9, FLT_USAGE_BUSY, 10000, 10, 0),
	                 FLT_OK);
	struct flt_usage_snapshot *snap = NULL;
	assert_int_equal(flt_usage_snapshot_reset(u, &snap), FLT_OK);
	struct flt_health_sample h = health();
	size_t n = 0;
	assert_int_equal(flt_tbatch_enqueue(q, &h, NULL, snap, 60, &n), FLT_OK);
	assert_int_equal(n, 3);
	assert_int_equal(flt_tbatch_enqueue(q, &h, NULL, NULL, 60, &n), FLT_OK);
	assert_int_equal(n, 1);

	struct flt_tq_batch *b = NULL;
	assert_int_equal(flt_tq_next_batch(q, FLT_TBATCH_TELEMETRY, 3, 1 << 20, &b), FLT_OK);
	char *json = NULL;
	size_t len = 0;
	assert_int_equal(flt_tbatch_encode(b, &json, &len), FLT_OK);
	struct flt_telemetry_batch *t = NULL;
	struct flt_json_err jerr;
	assert_int_equal(flt_telemetry_parse(json, len, &t, &jerr), FLT_OK);
	assert_int_equal(t->epoch, b->epoch);
	assert_int_equal(t->low_seq, 1);
	assert_int_equal(t->dropped, 0);
	assert_int_equal(t->n, 3);
	assert_int_equal(t->samples[0].seq, 1);
	assert_int_equal(t->samples[0].type, FLT_SAMPLE_HEALTH);
	assert_int_equal(t->samples[0].u.health.rss_bytes, 4000000);
	assert_int_equal(t->samples[1].seq, 2);
	assert_int_equal(t->samples[1].type, FLT_SAMPLE_MODEL);
	assert_string_equal(t->samples[1].u.model.name, "detector");
	assert_int_equal(t->samples[2].u.model.errors[FLT_MODEL_ERR_BUSY], 1);
	assert_int_equal(t->samples[2].u.model.p50_us, 0); /* no successful request */
	flt_telemetry_free(t);
	flt_free(json);
	flt_tq_batch_free(b);

	/* the next batch continues at seq 4 */
	assert_int_equal(flt_tq_next_batch(q, FLT_TBATCH_TELEMETRY, 10, 1 << 20, &b), FLT_OK);
	assert_int_equal(flt_tbatch_encode(b, &json, &len), FLT_OK);
	assert_int_equal(flt_telemetry_parse(json, len, &t, &jerr), FLT_OK);
	assert_int_equal(t->n, 1);
	assert_int_equal(t->samples[0].seq, 4);
	flt_telemetry_free(t);
	flt_free(json);
	flt_tq_batch_free(b);
	flt_usage_snapshot_free(snap);
	flt_usage_free(u);
	flt_tq_close(q);
}

static void test_encode_events_and_bad_items(void **state)
{
	(void)state;
	struct flt_tq *q = NULL;
	assert_int_equal(flt_tq_open(path, 1 << 20, &q, NULL), FLT_OK);
	struct flt_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.time = 1764780000;
	ev.kind = FLT_KIND_MODEL;
	snprintf(ev.name, sizeof(ev.name), "detector");
	ev.version = 4;
	snprintf(ev.deployment_id, sizeof(ev.deployment_id), "d-17");
	ev.step = FLT_STEP_DOWNLOADING;
	ev.reason = FLT_REASON_NONE;
	char *item = NULL;
	size_t ilen = 0;
	assert_int_equal(flt_event_item_encode(&ev, &item, &ilen), FLT_OK);
	assert_int_equal(flt_tq_append(q, FLT_TBATCH_EVENTS, item, ilen, NULL), FLT_OK);
	assert_int_equal(flt_tq_append(q, FLT_TBATCH_EVENTS, item, ilen, NULL), FLT_OK);
	flt_free(item);
	struct flt_tq_batch *b = NULL;
	assert_int_equal(flt_tq_next_batch(q, FLT_TBATCH_EVENTS, 10, 1 << 20, &b), FLT_OK);
	char *json = NULL;
	size_t len = 0;
	assert_int_equal(flt_tbatch_encode(b, &json, &len), FLT_OK);
	struct flt_event_batch *e = NULL;
	struct flt_json_err jerr;
	assert_int_equal(flt_events_parse(json, len, &e, &jerr), FLT_OK);
	assert_int_equal(e->n, 2);
	assert_int_equal(e->events[1].seq, 2);
	assert_int_equal(e->epoch, b->epoch);
	assert_string_equal(e->events[0].deployment_id, "d-17");
	flt_events_free(e);
	flt_free(json);
	flt_tq_batch_free(b);

	/* an item that is not a sample cannot be sent as one */
	assert_int_equal(flt_tq_append(q, FLT_TBATCH_TELEMETRY, "{\"x\":1}", 7, NULL), FLT_OK);
	assert_int_equal(flt_tq_next_batch(q, FLT_TBATCH_TELEMETRY, 10, 1 << 20, &b), FLT_OK);
	assert_int_equal(flt_tbatch_encode(b, &json, &len), FLT_EPARSE);
	snprintf(b->stream, sizeof(b->stream), "other");
	assert_int_equal(flt_tbatch_encode(b, &json, &len), FLT_EINVAL);
	flt_tq_batch_free(b);
	flt_tq_close(q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_health_sample),
	    cmocka_unit_test(test_mqtt_counters),
	    cmocka_unit_test(test_model_sample),
	    cmocka_unit_test_setup_teardown(test_enqueue_and_encode_telemetry, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_encode_events_and_bad_items, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
