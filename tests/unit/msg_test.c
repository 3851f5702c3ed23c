/* Unit tests for the unsigned MQTT messages (flt/msg.h): status, reported
 * state, events, telemetry, acks and chunk requests. Each gets a round trip,
 * the generic strictness cases of codec_check.h, and its own rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "codec_check.h"
#include "flt/msg.h"
#include "flt/mqtt.h" /* must coexist with msg.h: no clashing names */

#define SHA_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

/* ---- adapters to the generic checker ---- */

#define HEAP_ADAPTER(tag, type, parse, encode, freefn)                                             \
	static flt_err tag##_dec(const char *b, size_t l, void **o, struct flt_json_err *e)        \
	{                                                                                          \
		return parse(b, l, (type **)o, e);                                                 \
	}                                                                                          \
	static flt_err tag##_enc(const void *m, char **o, size_t *l)                               \
	{                                                                                          \
		return encode(m, o, l);                                                            \
	}                                                                                          \
	static void tag##_free(void *m)                                                            \
	{                                                                                          \
		freefn(m);                                                                         \
	}

/* for decoders that fill a caller-owned struct */
#define VALUE_ADAPTER(tag, type, parse, encode)                                                    \
	static flt_err tag##_dec(const char *b, size_t l, void **o, struct flt_json_err *e)        \
	{                                                                                          \
		type *v = flt_calloc(1, sizeof(*v));                                               \
		flt_err rc;                                                                        \
		if (!v)                                                                            \
			return FLT_ENOMEM;                                                         \
		rc = parse(b, l, v, e);                                                            \
		if (rc != FLT_OK) {                                                                \
			flt_free(v);                                                               \
			return rc;                                                                 \
		}                                                                                  \
		*o = v;                                                                            \
		return FLT_OK;                                                                     \
	}                                                                                          \
	static flt_err tag##_enc(const void *m, char **o, size_t *l)                               \
	{                                                                                          \
		return encode(m, o, l);                                                            \
	}                                                                                          \
	static void tag##_free(void *m)                                                            \
	{                                                                                          \
		flt_free(m);                                                                       \
	}

HEAP_ADAPTER(state, struct flt_state, flt_state_parse, flt_state_encode, flt_state_free)
HEAP_ADAPTER(events, struct flt_event_batch, flt_events_parse, flt_events_encode, flt_events_free)
HEAP_ADAPTER(tele, struct flt_telemetry_batch, flt_telemetry_parse, flt_telemetry_encode,
             flt_telemetry_free)
VALUE_ADAPTER(status, struct flt_status, flt_status_parse, flt_status_encode)
VALUE_ADAPTER(ack, struct flt_ack, flt_ack_parse, flt_ack_encode)
VALUE_ADAPTER(fetch, struct flt_fetch, flt_fetch_parse, flt_fetch_encode)

static const struct cc_codec c_state = {"state",    state_dec,           state_enc,
                                        state_free, FLT_MAX_STATE_BYTES, NULL};
static const struct cc_codec c_events = {"event",     events_dec,           events_enc,
                                         events_free, FLT_MAX_EVENTS_BYTES, NULL};
static const struct cc_codec c_tele = {
    "telemetry", tele_dec, tele_enc, tele_free, FLT_MAX_TELEMETRY_BYTES, NULL};
static const struct cc_codec c_status = {"status",    status_dec,           status_enc,
                                         status_free, FLT_MAX_STATUS_BYTES, NULL};
static const struct cc_codec c_ack = {"ack", ack_dec, ack_enc, ack_free, FLT_MAX_ACK_BYTES, NULL};
static const struct cc_codec c_fetch = {"fetch",    fetch_dec,           fetch_enc,
                                        fetch_free, FLT_MAX_FETCH_BYTES, NULL};

/* ---- samples ---- */

static struct flt_op_support ops[] = {
    {"", "Conv", 1, 10}, {"", "Conv", 11, 0}, {"ai.onnx.ml", "TreeEnsembleClassifier", 1, 0}};

static void sample_state(struct flt_state *s, struct flt_state_release r[2])
{
	memset(s, 0, sizeof(*s));
	memset(r, 0, 2 * sizeof(*r));
	memcpy(s->device_id, "dev-01", 7);
	s->time = 1764000000;
	memcpy(s->arch, "aarch64", 8);
	memcpy(s->board, "rpi4", 5);
	s->ram_bytes = 4ull << 30;
	s->disk_free_bytes = 12ull << 30;
	s->max_packet_size = 262144;
	s->agent_version = 3;
	memcpy(s->runtime_version, "0.1.0", 6);
	s->firmware_version = 7;
	s->clock_synced = true;
	s->operators = ops;
	s->n_operators = 3;
	r[0].kind = FLT_KIND_MODEL;
	memcpy(r[0].name, "digits", 7);
	r[0].installed[0] = 2;
	r[0].installed[1] = 3;
	r[0].n_installed = 2;
	r[0].active = 3;
	r[0].committed = 2;
	r[0].has_deployment = true;
	memcpy(r[0].deployment_id, "r7", 3);
	r[0].deployment_version = 3;
	r[0].step = FLT_STEP_PROBATION;
	r[1].kind = FLT_KIND_AGENT;
	memcpy(r[1].name, "flotilla-agent-aarch64", 23);
	r[1].has_deployment = true;
	memcpy(r[1].deployment_id, "r9", 3);
	r[1].deployment_version = 4;
	r[1].step = FLT_STEP_FAILED;
	r[1].reason = FLT_REASON_AGENT_TOO_OLD;
	s->releases = r;
	s->n_releases = 2;
	s->has_last_error = true;
	s->last_error_reason = FLT_REASON_GOLDEN_MISMATCH;
	memcpy(s->last_error_message, "output 0 differs at [3]: 0.91 vs 0.12", 38);
}

static void sample_event(struct flt_event *e, uint64_t seq)
{
	memset(e, 0, sizeof(*e));
	e->seq = seq;
	e->time = 1764000100;
	e->kind = FLT_KIND_MODEL;
	memcpy(e->name, "digits", 7);
	e->version = 3;
	memcpy(e->deployment_id, "r7", 3);
	e->step = FLT_STEP_FAILED;
	e->reason = FLT_REASON_CHUNK_HASH_MISMATCH;
	memcpy(e->message, "chunk 4 hash mismatch", 22);
}

static void sample_telemetry(struct flt_telemetry_batch *b, struct flt_sample s[2])
{
	memset(b, 0, sizeof(*b));
	memset(s, 0, 2 * sizeof(*s));
	b->epoch = 123456789;
	b->low_seq = 10;
	b->dropped = 2;
	s[0].seq = 11;
	s[0].time = 1764000000;
	s[0].interval_s = 60;
	s[0].type = FLT_SAMPLE_HEALTH;
	s[0].u.health.cpu_pct = 3.25;
	s[0].u.health.rss_bytes = 9000000;
	s[0].u.health.has_pss = true;
	s[0].u.health.pss_bytes = 8000000;
	s[0].u.health.private_bytes = 7000000;
	s[0].u.health.mem_avail_bytes = 1ull << 31;
	s[0].u.health.mem_total_bytes = 1ull << 32;
	s[0].u.health.disk_free_bytes = 1ull << 33;
	s[0].u.health.disk_total_bytes = 1ull << 34;
	s[0].u.health.uptime_s = 86400;
	s[0].u.health.has_temp = true;
	s[0].u.health.temp_c = -5.5;
	for (int i = 0; i < FLT_WIRE_PURPOSE_COUNT_; i++) {
		s[0].u.health.mqtt_sent[i] = 100u + (unsigned)i;
		s[0].u.health.mqtt_received[i] = 200u + (unsigned)i;
	}
	s[1].seq = 12;
	s[1].time = 1764000000;
	s[1].interval_s = 60;
	s[1].type = FLT_SAMPLE_MODEL;
	memcpy(s[1].u.model.name, "digits", 7);
	s[1].u.model.version = 3;
	s[1].u.model.requests = 1000;
	for (int i = 0; i < FLT_MODEL_ERR_COUNT_; i++)
		s[1].u.model.errors[i] = 1u + (unsigned)i;
	s[1].u.model.crashes = 0;
	s[1].u.model.p50_us = 800;
	s[1].u.model.p95_us = 1500;
	s[1].u.model.p99_us = 4000;
	s[1].u.model.bytes_in = 3136000;
	s[1].u.model.bytes_out = 40000;
	s[1].u.model.last_used = 1763999999;
	b->samples = s;
	b->n = 2;
}

/* ---- tests ---- */

static void test_status(void **state)
{
	(void)state;
	struct flt_status s = {.online = true}, back = {.online = false};
	static const char *const req[] = {"v", "status", NULL};
	struct flt_json_err e = {.reason = FLT_REASON_NONE};

	cc_round_trip(&c_status, &s, "online");
	cc_strict(&c_status, &s, req);
	cc_torture(&c_status, &s);
	s.online = false;
	cc_round_trip(&c_status, &s, "offline");
	assert_int_equal(flt_status_parse("{\"v\":1,\"status\":\"online\"}", 25, &back, &e),
	                 FLT_OK);
	assert_true(back.online);
	assert_int_equal(flt_status_parse("{\"v\":1,\"status\":\"away\"}", 23, &back, &e),
	                 FLT_EPARSE);
	assert_true(back.online);
}

static void test_state(void **state)
{
	(void)state;
	struct flt_state s, *back = NULL;
	struct flt_state_release r[2];
	static const char *const req[] = {"v",
	                                  "device_id",
	                                  "time",
	                                  "arch",
	                                  "board",
	                                  "ram_bytes",
	                                  "disk_free_bytes",
	                                  "max_packet_size",
	                                  "agent_version",
	                                  "runtime_version",
	                                  "firmware_version",
	                                  "clock_synced",
	                                  "operators",
	                                  "releases",
	                                  NULL};
	char *text = NULL;
	size_t len = 0;

	sample_state(&s, r);
	cc_round_trip(&c_state, &s, "full");
	cc_strict(&c_state, &s, req);
	cc_torture(&c_state, &s);
	assert_int_equal(flt_state_encode(&s, &text, &len), FLT_OK);
	assert_int_equal(flt_state_parse(text, len, &back, NULL), FLT_OK);
	assert_int_equal(back->max_packet_size, 262144);
	assert_int_equal(back->releases[1].reason, FLT_REASON_AGENT_TOO_OLD);
	assert_int_equal(back->releases[0].step, FLT_STEP_PROBATION);
	assert_int_equal(back->operators[1].until, 0);
	assert_string_equal(back->last_error_message, s.last_error_message);
	flt_state_free(back);
	flt_free(text);

#define REFUSED(mut)                                                                               \
	do {                                                                                       \
		sample_state(&s, r);                                                               \
		mut;                                                                               \
		assert_int_equal(flt_state_encode(&s, &text, &len), FLT_EINVAL);                   \
	} while (0)
	REFUSED(s.max_packet_size = 0);
	REFUSED(s.max_packet_size = FLT_MQTT_MAX_PACKET + 1ull);
	REFUSED(memcpy(s.device_id, FLT_CONTROLLER_IDENTITY, sizeof(FLT_CONTROLLER_IDENTITY)));
	REFUSED(r[0].installed[1] = 2);
	REFUSED(r[1].kind = FLT_KIND_MODEL; memcpy(r[1].name, "digits", 7));
	REFUSED(r[0].deployment_id[0] = '\0');
	REFUSED(s.agent_version = 0);
	REFUSED(s.last_error_reason = FLT_REASON_COUNT_);
#undef REFUSED

	/* a minimal device with nothing installed */
	sample_state(&s, r);
	s.n_operators = 0;
	s.n_releases = 0;
	s.has_last_error = false;
	cc_round_trip(&c_state, &s, "empty");
}

static void test_events(void **state)
{
	(void)state;
	struct flt_event ev[2];
	struct flt_event_batch b = {.epoch = 77, .low_seq = 5, .dropped = 0, .events = ev, .n = 2},
	                       *back = NULL;
	static const char *const req[] = {"v", "epoch", "low_seq", "dropped", "events", NULL};
	struct flt_json_err e = {.reason = FLT_REASON_NONE};
	char *items[2] = {NULL, NULL};
	size_t lens[2];

	sample_event(&ev[0], 5);
	sample_event(&ev[1], 6);
	ev[1].step = FLT_STEP_COMMITTED;
	ev[1].reason = FLT_REASON_NONE;
	ev[1].message[0] = '\0';
	cc_round_trip(&c_events, &b, "two");
	cc_strict(&c_events, &b, req);
	cc_torture(&c_events, &b);

	/* queue items -> batch */
	for (int i = 0; i < 2; i++)
		assert_int_equal(flt_event_item_encode(&ev[i], &items[i], &lens[i]), FLT_OK);
	assert_null(strstr(items[0], "\"seq\""));
	struct flt_stream_item si[2] = {{5, items[0], lens[0]}, {6, items[1], lens[1]}};
	assert_int_equal(flt_events_from_items(77, 5, 0, si, 2, &back, &e), FLT_OK);
	assert_int_equal(back->n, 2);
	assert_int_equal(back->events[1].seq, 6);
	assert_int_equal(back->events[0].reason, FLT_REASON_CHUNK_HASH_MISMATCH);
	assert_memory_equal(&back->events[0], &ev[0], sizeof(ev[0]));
	flt_events_free(back);
	back = NULL;
	/* sequence numbers must grow, and low_seq may not pass the first */
	si[1].seq = 5;
	assert_int_equal(flt_events_from_items(77, 5, 0, si, 2, &back, &e), FLT_EPARSE);
	si[1].seq = 6;
	assert_int_equal(flt_events_from_items(77, 6, 0, si, 2, &back, &e), FLT_EPARSE);
	assert_int_equal(flt_events_from_items(0, 5, 0, si, 2, &back, &e), FLT_EPARSE);
	/* a stored item must itself be strict */
	si[0].data = "{\"time\":1}";
	si[0].len = 10;
	assert_int_equal(flt_events_from_items(77, 5, 0, si, 2, &back, &e), FLT_EPARSE);
	assert_null(back);
	flt_free(items[0]);
	flt_free(items[1]);

	/* an unknown reason name on the wire */
	char *text = NULL;
	size_t len = 0;
	assert_int_equal(flt_events_encode(&b, &text, &len), FLT_OK);
	char *p = strstr(text, "CHUNK_HASH_MISMATCH");
	assert_non_null(p);
	p[0] = 'X';
	assert_int_equal(flt_events_parse(text, len, &back, &e), FLT_EPARSE);
	assert_non_null(strstr(e.msg, "reason"));
	flt_free(text);
}

static void test_telemetry(void **state)
{
	(void)state;
	struct flt_telemetry_batch b, *back = NULL;
	struct flt_sample s[2];
	static const char *const req[] = {"v", "epoch", "low_seq", "dropped", "samples", NULL};
	struct flt_json_err e = {.reason = FLT_REASON_NONE};
	char *items[2] = {NULL, NULL};
	size_t lens[2];

	sample_telemetry(&b, s);
	cc_round_trip(&c_tele, &b, "health-and-model");
	cc_strict(&c_tele, &b, req);
	cc_torture(&c_tele, &b);
	for (int i = 0; i < 2; i++)
		assert_int_equal(flt_sample_item_encode(&s[i], &items[i], &lens[i]), FLT_OK);
	struct flt_stream_item si[2] = {{11, items[0], lens[0]}, {12, items[1], lens[1]}};
	assert_int_equal(flt_telemetry_from_items(b.epoch, 10, 2, si, 2, &back, &e), FLT_OK);
	assert_memory_equal(&back->samples[0], &s[0], sizeof(s[0]));
	assert_memory_equal(&back->samples[1], &s[1], sizeof(s[1]));
	flt_telemetry_free(back);
	back = NULL;
	flt_free(items[0]);
	flt_free(items[1]);

	/* a sample with both or neither of health and model */
	const char *both =
	    "{\"v\":1,\"epoch\":1,\"low_seq\":1,\"dropped\":0,\"samples\":[{\"seq\":1,\"time\":0,"
	    "\"interval_s\":0}]}";
	assert_int_equal(flt_telemetry_parse(both, strlen(both), &back, &e), FLT_EPARSE);
	assert_non_null(strstr(e.msg, "exactly one"));
	const char *empty = "{\"v\":1,\"epoch\":1,\"low_seq\":1,\"dropped\":0,\"samples\":[]}";
	assert_int_equal(flt_telemetry_parse(empty, strlen(empty), &back, &e), FLT_EPARSE);
	assert_null(back);
	sample_telemetry(&b, s);
	s[0].u.health.cpu_pct = -1;
	char *text = NULL;
	size_t len = 0;
	assert_int_equal(flt_telemetry_encode(&b, &text, &len), FLT_EINVAL);
	sample_telemetry(&b, s);
	s[0].u.health.has_temp = false;
	assert_int_equal(flt_telemetry_encode(&b, &text, &len),
	                 FLT_EINVAL); /* temp_c set without has_temp */
	s[0].u.health.temp_c = 0;
	s[0].u.health.has_pss = false;
	s[0].u.health.pss_bytes = 0;
	s[0].u.health.private_bytes = 0;
	cc_round_trip(&c_tele, &b, "no-temp-no-pss");
	/* pss without private on the wire */
	const char *half =
	    "{\"v\":1,\"epoch\":1,\"low_seq\":1,\"dropped\":0,\"samples\":[{\"seq\":1,\"time\":0,"
	    "\"interval_s\":0,\"health\":{\"cpu_pct\":0,\"rss_bytes\":0,\"pss_bytes\":0,"
	    "\"mem_total_bytes\":0,\"mem_avail_bytes\":0,\"disk_free_bytes\":0,\"disk_total_"
	    "bytes\":0,"
	    "\"uptime_s\":0,\"mqtt\":{\"sent\":{\"chunks\":0,\"telemetry\":0,\"state\":0,\"other\":"
	    "0},"
	    "\"received\":{\"chunks\":0,\"telemetry\":0,\"state\":0,\"other\":0}}}}]}";
	assert_int_equal(flt_telemetry_parse(half, strlen(half), &back, &e), FLT_EPARSE);
	assert_non_null(strstr(e.msg, "come together"));
	char *fixed = flt_strdup(half);
	char *pp = strstr(fixed, "\"pss_bytes\":0,");
	memcpy(pp + 1, "xss", 3); /* "xss_bytes" is simply unknown */
	assert_int_equal(flt_telemetry_parse(fixed, strlen(fixed), &back, &e), FLT_EPARSE);
	assert_non_null(strstr(e.msg, "unknown key 'xss_bytes'"));
	flt_free(fixed);
}

static void test_ack(void **state)
{
	(void)state;
	struct flt_ack a = {.acks = {{FLT_STREAM_TELEMETRY, 5, 100}, {FLT_STREAM_EVENTS, 9, 0}},
	                    .n = 2};
	struct flt_ack back;
	static const char *const req[] = {"v", "acks", NULL};
	struct flt_json_err e = {.reason = FLT_REASON_NONE};
	char *text = NULL;
	size_t len = 0;

	cc_round_trip(&c_ack, &a, "both");
	cc_strict(&c_ack, &a, req);
	cc_torture(&c_ack, &a);
	a.acks[1].stream = FLT_STREAM_TELEMETRY;
	assert_int_equal(flt_ack_encode(&a, &text, &len), FLT_EINVAL);
	a.acks[1].stream = FLT_STREAM_EVENTS;
	a.acks[1].epoch = 0;
	assert_int_equal(flt_ack_encode(&a, &text, &len), FLT_EINVAL);
	const char *dup = "{\"v\":1,\"acks\":[{\"stream\":\"events\",\"epoch\":1,\"seq\":1},"
	                  "{\"stream\":\"events\",\"epoch\":1,\"seq\":2}]}";
	assert_int_equal(flt_ack_parse(dup, strlen(dup), &back, &e), FLT_EPARSE);
	const char *unk = "{\"v\":1,\"acks\":[{\"stream\":\"logs\",\"epoch\":1,\"seq\":1}]}";
	assert_int_equal(flt_ack_parse(unk, strlen(unk), &back, &e), FLT_EPARSE);
	const char *one = "{\"v\":1,\"acks\":[{\"stream\":\"events\",\"epoch\":3,\"seq\":4}]}";
	assert_int_equal(flt_ack_parse(one, strlen(one), &back, &e), FLT_OK);
	assert_int_equal(back.n, 1);
	assert_int_equal(back.acks[0].stream, FLT_STREAM_EVENTS);
	assert_int_equal(back.acks[0].seq, 4);
}

static void test_fetch(void **state)
{
	(void)state;
	struct flt_fetch f, back;
	static const char *const req[] = {"v", "artifact", "ranges", NULL};
	struct flt_json_err e = {.reason = FLT_REASON_NONE};
	char *text = NULL;
	size_t len = 0;

	memset(&f, 0, sizeof(f));
	memcpy(f.artifact, SHA_A, 65);
	f.ranges[0] = (struct flt_chunk_range){0, 16};
	f.ranges[1] = (struct flt_chunk_range){20, 1};
	f.ranges[2] = (struct flt_chunk_range){21, 3};
	f.n_ranges = 3;
	cc_round_trip(&c_fetch, &f, "three-ranges");
	cc_strict(&c_fetch, &f, req);
	cc_torture(&c_fetch, &f);

	f.ranges[2].first = 20; /* overlaps */
	assert_int_equal(flt_fetch_encode(&f, &text, &len), FLT_EINVAL);
	f.ranges[2].first = 21;
	f.ranges[1].count = 0;
	assert_int_equal(flt_fetch_encode(&f, &text, &len), FLT_EINVAL);
	f.ranges[1].count = FLT_MAX_FETCH_CHUNKS; /* too many in total */
	f.ranges[2].first = 20 + FLT_MAX_FETCH_CHUNKS;
	assert_int_equal(flt_fetch_encode(&f, &text, &len), FLT_EINVAL);
	const char *big =
	    "{\"v\":1,\"artifact\":\"" SHA_A "\",\"ranges\":[{\"first\":0,\"count\":4000},"
	    "{\"first\":5000,\"count\":4000}]}";
	assert_int_equal(flt_fetch_parse(big, strlen(big), &back, &e), FLT_ELIMIT);
	assert_int_equal(e.reason, FLT_REASON_TOO_LARGE);
	const char *end =
	    "{\"v\":1,\"artifact\":\"" SHA_A "\",\"ranges\":[{\"first\":16777215,\"count\":2}]}";
	assert_int_equal(flt_fetch_parse(end, strlen(end), &back, &e), FLT_EPARSE);
	const char *none = "{\"v\":1,\"artifact\":\"" SHA_A "\",\"ranges\":[]}";
	assert_int_equal(flt_fetch_parse(none, strlen(none), &back, &e), FLT_EPARSE);
	const char *upper = "{\"v\":1,\"artifact\":"
	                    "\"AAAAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\","
	                    "\"ranges\":[{\"first\":0,\"count\":1}]}";
	assert_int_equal(flt_fetch_parse(upper, strlen(upper), &back, &e), FLT_EPARSE);
}

static void test_names(void **state)
{
	(void)state;
	enum flt_step st;
	enum flt_stream sm;

	for (int i = 0; i < FLT_STEP_COUNT_; i++) {
		assert_true(flt_step_from_name(flt_step_name((enum flt_step)i), &st));
		assert_int_equal(st, i);
	}
	assert_string_equal(flt_step_name(FLT_STEP_ROLLED_BACK), "rolled_back");
	assert_string_equal(flt_step_name(FLT_STEP_COUNT_), "?");
	assert_false(flt_step_from_name("done", &st));
	assert_true(flt_stream_from_name("events", &sm));
	assert_int_equal(sm, FLT_STREAM_EVENTS);
	assert_false(flt_stream_from_name(NULL, &sm));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_status), cmocka_unit_test(test_state),
	    cmocka_unit_test(test_events), cmocka_unit_test(test_telemetry),
	    cmocka_unit_test(test_ack),    cmocka_unit_test(test_fetch),
	    cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
