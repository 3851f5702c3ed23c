/* Integration tests of `flotilla serve` against a real Mosquitto, with devices
 * scripted in C over flt/mqtt.h (publishing up/state, up/status, up/telemetry,
 * up/fetch as an agent does): devices learned, signed desired state verified
 * as a device would, chunks fetched and checked, telemetry stored and acked
 * (with dedup), usage and targets, Last Will, kill -9 of serve and of the
 * broker, and a chunk limit the broker cannot carry. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "flt/alloc.h"
#include "flt/chunk.h"
#include "flt/desired.h"
#include "flt/dsse.h"
#include "flt/keylist.h"
#include "flt/manifest.h"
#include "flt/mqtt.h"
#include "flt/msg.h"
#include "flt/protocol.h"
#include "tt_mosq.h"
#include "tt_proc.h"

static char bin[4096], data[4096];
static char *tmp;
static char dd[512];
static struct tt_mosq *broker;
static struct tt_proc *serve;
static char out[1 << 16], errbuf[8192];

/* Runs flotilla with args; stdout in out. Returns the exit code. */
static int flv(const char *const *args)
{
	char errpath[600];
	snprintf(errpath, sizeof(errpath), "%s/cli-stderr.txt", tmp);
	int rc = tt_cli_run(bin, dd, errpath, args, out, sizeof(out), errbuf, sizeof(errbuf));
	if (rc < 0)
		fail_msg("cannot run %s: %s", bin, strerror(errno));
	return rc;
}
#define FL(...) flv((const char *const[]){__VA_ARGS__, NULL})
#define OK(call)                                                                                   \
	do {                                                                                       \
		int rc_ = (call);                                                                  \
		if (rc_ != 0)                                                                      \
			fail_msg("%s: exit %d; stderr: %s", #call, rc_, errbuf);                   \
	} while (0)

static void start_serve(const char *extra)
{
	char setb[600];
	snprintf(setb, sizeof(setb), "mqtt.broker=%s", tt_mosq_uri(broker));
	const char *argv[] = {bin,
	                      "serve",
	                      "--set",
	                      setb,
	                      "--set",
	                      "serve.poll_ms=50",
	                      "--set",
	                      "serve.flush_ms=20",
	                      extra ? "--set" : NULL,
	                      extra,
	                      NULL};
	char envb[600];
	snprintf(envb, sizeof(envb), "FLOTILLA_DATA_DIR=%s", dd);
	const char *env[] = {envb, NULL};
	assert_int_equal(tt_proc_spawn(bin, argv, env, tmp, &serve), 0);
}

/* ---- a scripted device --------------------------------------------------------------- */

#define MAX_ART 4
struct art {
	char sha[65];
	uint8_t *buf;
	uint32_t count, got, chunk;
	uint8_t *have;
	size_t size;
};

struct dev {
	char id[65];
	struct flt_mqtt *c;
	bool connected;
	char *desired, *keys, *ack;
	int n_desired;
	struct art arts[MAX_ART];
};

static void on_dev(void *arg, struct flt_mqtt *c, const struct flt_mqtt_event *ev)
{
	struct dev *d = arg;
	(void)c;
	if (ev->type == FLT_MQTT_EV_CONNECTED)
		d->connected = true;
	if (ev->type == FLT_MQTT_EV_DISCONNECTED)
		d->connected = false;
	if (ev->type != FLT_MQTT_EV_MESSAGE)
		return;
	char **slot = NULL;
	if (strstr(ev->topic, "/down/desired"))
		slot = &d->desired, d->n_desired++;
	else if (strstr(ev->topic, "/down/keys"))
		slot = &d->keys;
	else if (strstr(ev->topic, "/down/ack"))
		slot = &d->ack;
	if (slot) {
		free(*slot);
		*slot = strndup((const char *)ev->payload, ev->len);
		return;
	}
	const char *cs = strstr(ev->topic, "/down/chunk/");
	if (!cs)
		return;
	struct flt_chunk ch;
	assert_int_equal(flt_chunk_decode(ev->payload, ev->len, 0, &ch), FLT_OK);
	for (int i = 0; i < MAX_ART; i++) {
		struct art *a = &d->arts[i];
		if (strcmp(a->sha, cs + 12))
			continue;
		assert_true(ch.count == a->count);
		assert_true(ch.len <= a->chunk);
		if (!a->have[ch.index]) {
			memcpy(a->buf + (size_t)ch.index * a->chunk, ch.data, ch.len);
			a->have[ch.index] = 1;
			a->got++;
		}
	}
}

static void pump(struct dev *d, int ms)
{
	int64_t end = tt_now_ms() + ms;
	while (tt_now_ms() < end)
		assert_int_equal(flt_mqtt_poll(d->c, 10, on_dev, d), FLT_OK);
}

/* Pumps until cond(d) or the deadline; returns cond's last value. */
static bool pump_until(struct dev *d, bool (*cond)(struct dev *), int ms)
{
	int64_t end = tt_now_ms() + ms;
	while (!cond(d) && tt_now_ms() < end)
		assert_int_equal(flt_mqtt_poll(d->c, 10, on_dev, d), FLT_OK);
	return cond(d);
}

static bool is_connected(struct dev *d)
{
	return d->connected;
}

static void dev_connect(struct dev *d, const char *id)
{
	struct flt_mqtt_opts o;
	char will[256], sub[256];
	memset(d, 0, sizeof(*d));
	snprintf(d->id, sizeof(d->id), "%s", id);
	snprintf(will, sizeof(will), FLT_TOPIC_ROOT "/dev/%s/up/status", id);
	snprintf(sub, sizeof(sub), FLT_TOPIC_ROOT "/dev/%s/down/#", id);
	flt_mqtt_opts_init(&o);
	o.uri = tt_mosq_uri(broker);
	o.client_id = id;
	o.will_topic = will;
	o.will_payload = "{\"v\":1,\"status\":\"offline\"}";
	o.will_len = strlen(o.will_payload);
	o.will_retained = true;
	o.backoff_min_ms = 50;
	o.backoff_max_ms = 500;
	assert_int_equal(flt_mqtt_new(&o, &d->c), FLT_OK);
	assert_int_equal(flt_mqtt_subscribe(d->c, sub, 0), FLT_OK);
	assert_int_equal(flt_mqtt_connect(d->c), FLT_OK);
	assert_true(pump_until(d, is_connected, 10000));
}

static void dev_free(struct dev *d)
{
	flt_mqtt_free(d->c);
	free(d->desired);
	free(d->keys);
	free(d->ack);
	for (int i = 0; i < MAX_ART; i++) {
		free(d->arts[i].buf);
		free(d->arts[i].have);
	}
}

static void dev_pub(struct dev *d, const char *what, const char *payload, bool retained)
{
	char topic[256];
	snprintf(topic, sizeof(topic), FLT_TOPIC_ROOT "/dev/%s/up/%s", d->id, what);
	assert_int_equal(flt_mqtt_publish(d->c, topic, payload, strlen(payload), 1, retained,
	                                  FLT_MQTT_PURPOSE_OTHER, NULL),
	                 FLT_OK);
}

static void dev_state(struct dev *d, const char *ops, uint64_t max_packet, const char *releases)
{
	char buf[4096];
	snprintf(
	    buf, sizeof(buf),
	    "{\"v\":1,\"device_id\":\"%s\",\"time\":%lld,\"arch\":\"x86_64\",\"board\":\"pc\","
	    "\"ram_bytes\":4294967296,\"disk_free_bytes\":12884901888,\"max_packet_size\":%llu,"
	    "\"agent_version\":3,\"runtime_version\":\"0.1.0\",\"firmware_version\":0,"
	    "\"clock_synced\":true,\"operators\":[%s],\"releases\":[%s]}",
	    d->id, (long long)time(NULL), (unsigned long long)max_packet, ops, releases);
	dev_pub(d, "state", buf, true);
	dev_pub(d, "status", "{\"v\":1,\"status\":\"online\"}", true);
}

static void dev_telemetry(struct dev *d, uint64_t epoch, uint64_t low, uint64_t first, int n,
                          const char *model, int version, int requests)
{
	char buf[8192];
	size_t len = (size_t)snprintf(buf, sizeof(buf),
	                              "{\"v\":1,\"epoch\":%llu,\"low_seq\":%llu,\"dropped\":0,"
	                              "\"samples\":[",
	                              (unsigned long long)epoch, (unsigned long long)low);
	for (int i = 0; i < n; i++)
		len += (size_t)snprintf(
		    buf + len, sizeof(buf) - len,
		    "%s{\"seq\":%llu,\"time\":%lld,\"interval_s\":60,\"model\":{\"name\":\"%s\","
		    "\"version\":%d,\"requests\":%d,\"errors\":{\"bad_input\":1,\"runtime\":1,"
		    "\"busy\":0,"
		    "\"timeout\":0,\"internal\":0},\"crashes\":0,\"latency_us\":{\"p50\":800,"
		    "\"p95\":"
		    "1500,\"p99\":4000},\"bytes_in\":100,\"bytes_out\":10,\"last_used\":0}}",
		    i ? "," : "", (unsigned long long)(first + (uint64_t)i), (long long)time(NULL),
		    model, version, requests);
	snprintf(buf + len, sizeof(buf) - len, "]}");
	dev_pub(d, "telemetry", buf, false);
}

static uint64_t g_want_ack;
static bool ack_reached(struct dev *d)
{
	struct flt_ack a;
	if (!d->ack || flt_ack_parse(d->ack, strlen(d->ack), &a, NULL) != FLT_OK)
		return false;
	for (size_t i = 0; i < a.n; i++)
		if (a.acks[i].stream == FLT_STREAM_TELEMETRY && a.acks[i].seq >= g_want_ack)
			return true;
	return false;
}

static uint64_t ack_seq(struct dev *d)
{
	struct flt_ack a;
	assert_non_null(d->ack);
	assert_int_equal(flt_ack_parse(d->ack, strlen(d->ack), &a, NULL), FLT_OK);
	for (size_t i = 0; i < a.n; i++)
		if (a.acks[i].stream == FLT_STREAM_TELEMETRY)
			return a.acks[i].seq;
	return 0;
}

/* ---- verifying as a device would --------------------------------------------------- */

struct verified {
	struct flt_desired *d;
	struct flt_manifest *m; /* of entry 0, if any */
};

static flt_keylist *accept_keys(struct dev *d)
{
	char path[700];
	size_t len = 0;
	flt_key *root = NULL;
	flt_keylist *kl = NULL;
	snprintf(path, sizeof(path), "%s/keys/root.pub", dd);
	char *pem = tt_read_file(path, &len);
	assert_non_null(pem);
	assert_int_equal(flt_key_import_public((const uint8_t *)pem, len + 1, &root), FLT_OK);
	struct flt_trust_set ts = {.threshold = 1};
	assert_int_equal(flt_trust_set_add(&ts, root), FLT_OK);
	assert_non_null(d->keys);
	assert_int_equal(flt_keylist_accept(d->keys, strlen(d->keys), &ts, NULL,
	                                    (int64_t)time(NULL), &kl, NULL, NULL),
	                 FLT_OK);
	free(pem);
	flt_key_free(root);
	return kl;
}

static void verify_desired(struct dev *d, struct verified *v)
{
	flt_keylist *kl = accept_keys(d);
	flt_dsse *env = NULL, *rel = NULL;
	enum flt_reason why = FLT_REASON_NONE;
	int64_t now = (int64_t)time(NULL);
	memset(v, 0, sizeof(*v));
	assert_non_null(d->desired);
	assert_int_equal(flt_dsse_parse(d->desired, strlen(d->desired), 0, &env, NULL), FLT_OK);
	assert_int_equal(
	    flt_keylist_verify_envelope(kl, env, FLT_PAYLOAD_DESIRED, FLT_ROLE_DIRECTOR, now, &why),
	    FLT_OK);
	/* Not signed by a release key: the roles are kept apart. */
	assert_int_not_equal(
	    flt_keylist_verify_envelope(kl, env, FLT_PAYLOAD_DESIRED, FLT_ROLE_RELEASE, now, &why),
	    FLT_OK);
	assert_int_equal(
	    flt_desired_parse((const char *)env->payload, env->payload_len, &v->d, NULL), FLT_OK);
	assert_string_equal(v->d->device_id, d->id);
	if (v->d->n_entries) {
		const struct flt_desired_entry *e = &v->d->entries[0];
		assert_int_equal(flt_dsse_parse(e->envelope, e->envelope_len, 0, &rel, NULL),
		                 FLT_OK);
		assert_int_equal(flt_keylist_verify_envelope(kl, rel, FLT_PAYLOAD_RELEASE,
		                                             FLT_ROLE_RELEASE, now, &why),
		                 FLT_OK);
		assert_int_equal(
		    flt_manifest_parse((const char *)rel->payload, rel->payload_len, &v->m, NULL),
		    FLT_OK);
		assert_string_equal(v->m->name, e->name);
	}
	flt_dsse_free(rel);
	flt_dsse_free(env);
	flt_keylist_free(kl);
}

static void verified_free(struct verified *v)
{
	flt_desired_free(v->d);
	flt_manifest_free(v->m);
}

static struct art *g_art;
static bool art_complete(struct dev *d)
{
	(void)d;
	return g_art->got == g_art->count;
}

/* Fetches one artifact in two requests and returns its bytes (borrowed). */
static struct art *fetch(struct dev *d, const char *sha, size_t size, uint32_t chunk)
{
	struct art *a = NULL;
	for (int i = 0; i < MAX_ART && !a; i++)
		if (!d->arts[i].sha[0])
			a = &d->arts[i];
	if (!a)
		abort();
	snprintf(a->sha, sizeof(a->sha), "%s", sha);
	a->size = size;
	a->chunk = chunk;
	a->count = (uint32_t)((size + chunk - 1) / chunk);
	a->buf = calloc(1, size + chunk);
	a->have = calloc(1, a->count);
	char req[512];
	snprintf(req, sizeof(req),
	         "{\"v\":1,\"artifact\":\"%s\",\"ranges\":[{\"first\":0,\"count\":%u}]}", sha,
	         a->count);
	dev_pub(d, "fetch", req, false);
	g_art = a;
	assert_true(pump_until(d, art_complete, 10000));
	return a;
}

/* ---- CLI helpers --------------------------------------------------------------------- */

static cJSON *cli_json(const char *const *args)
{
	int rc = flv(args);
	if (rc != 0)
		fail_msg("flotilla %s: exit %d: %s", args[0], rc, errbuf);
	cJSON *j = cJSON_Parse(out);
	if (!j)
		fail_msg("not JSON: %s", out);
	return j;
}
#define J(...) cli_json((const char *const[]){__VA_ARGS__, "-o", "json", NULL})

static const char *g_dev, *g_online;
static bool device_listed(struct dev *d)
{
	pump(d, 20);
	cJSON *j = J("device", "list");
	bool found = false;
	cJSON *o;
	cJSON_ArrayForEach(o, j)
	{
		const cJSON *id = cJSON_GetObjectItem(o, "id"),
		            *on = cJSON_GetObjectItem(o, "online");
		if (!strcmp(id->valuestring, g_dev) &&
		    (!g_online || !strcmp(on->valuestring, g_online)))
			found = true;
	}
	cJSON_Delete(j);
	return found;
}

static uint64_t g_serial_above;
static bool desired_above(struct dev *d)
{
	if (!d->desired)
		return false;
	struct verified v;
	verify_desired(d, &v);
	bool ok = v.d->serial > g_serial_above && v.d->n_entries > 0;
	verified_free(&v);
	return ok;
}

/* ---- setup --------------------------------------------------------------------------- */

static int setup_with(uint32_t max_packet)
{
	tmp = tt_tempdir("serve");
	if (!tmp)
		return -1;
	snprintf(dd, sizeof(dd), "%s/data", tmp);
	struct tt_mosq_opts o;
	tt_mosq_opts_init(&o);
	o.persistence = true;
	o.max_packet_size = max_packet;
	if (tt_mosq_start(&o, &broker) != 0)
		return -1;
	char add[4200], conv[4200];
	snprintf(add, sizeof(add), "%s/add.onnx", data);
	snprintf(conv, sizeof(conv), "%s/conv.onnx", data);
	if (FL("keys", "init") || FL("model", "register", "onnx", "-n", "adder", "-f", add) ||
	    FL("model", "register", "onnx", "-n", "conv", "-f", conv))
		return -1;
	return 0;
}

static int setup(void **state)
{
	(void)state;
	return setup_with(0);
}

static int setup_small_broker(void **state)
{
	(void)state;
	return setup_with(2048);
}

static int teardown(void **state)
{
	(void)state;
	tt_proc_free(serve);
	serve = NULL;
	tt_mosq_free(broker);
	broker = NULL;
	free(tmp);
	return 0;
}

/* ---- tests --------------------------------------------------------------------------- */

static const char ADD_OPS[] = "{\"domain\":\"\",\"op_type\":\"Add\",\"since\":1,\"until\":0}";

static void test_fleet(void **state)
{
	(void)state;
	struct dev d;
	struct verified v;
	start_serve(NULL);
	dev_connect(&d, "dev-a");
	dev_state(&d, ADD_OPS, 1 << 20, "");

	/* Learned from up/state, with capabilities. */
	g_dev = "dev-a", g_online = "online";
	assert_true(pump_until(&d, device_listed, 10000));
	cJSON *j = J("device", "show", "dev-a");
	cJSON *caps = cJSON_GetObjectItem(j, "capabilities");
	assert_string_equal(cJSON_GetObjectItem(caps, "arch")->valuestring, "x86_64");
	assert_int_equal((int)cJSON_GetObjectItem(caps, "operators")->valuedouble, 1);
	cJSON_Delete(j);

	/* The key list arrives on its own. */
	flt_keylist *kl = NULL;
	for (int i = 0; i < 500 && !d.keys; i++)
		pump(&d, 20);
	kl = accept_keys(&d);
	flt_keylist_free(kl);

	/* A model set directly in the registry reaches the device, signed. */
	OK(FL("device", "set-model", "dev-a", "adder:1"));
	g_serial_above = 0;
	assert_true(pump_until(&d, desired_above, 10000));
	verify_desired(&d, &v);
	uint64_t serial1 = v.d->serial;
	assert_int_equal(v.d->n_entries, 1);
	assert_string_equal(v.d->entries[0].name, "adder");
	assert_int_equal(v.m->version, 1);
	assert_true(v.m->chunk_size >= 1024 && v.m->chunk_size < (1 << 20));

	/* Chunk index, then the artifact; both check out against the manifest. */
	struct art *ia = fetch(&d, v.m->chunk_index_sha256, v.m->chunk_index_size, v.m->chunk_size);
	uint8_t ih[32], ah[32];
	assert_int_equal(flt_hex_decode(v.m->chunk_index_sha256, 64, ih, 32), FLT_OK);
	assert_int_equal(flt_hex_decode(v.m->artifact_sha256, 64, ah, 32), FLT_OK);
	struct flt_chunk_index_expect ex = {ih, ah, v.m->artifact_size, v.m->chunk_size, 0};
	flt_chunk_index *idx = NULL;
	assert_int_equal(flt_chunk_index_decode(ia->buf, ia->size, &ex, &idx), FLT_OK);
	struct art *aa = fetch(&d, v.m->artifact_sha256, v.m->artifact_size, v.m->chunk_size);
	for (uint32_t i = 0; i < idx->count; i++)
		assert_int_equal(flt_chunk_index_check(idx, i,
		                                       aa->buf + (size_t)i * v.m->chunk_size,
		                                       flt_chunk_index_chunk_len(idx, i)),
		                 FLT_OK);
	flt_chunk_index_free(idx);
	char path[4300];
	snprintf(path, sizeof(path), "%s/add.onnx", data);
	size_t flen = 0;
	char *file = tt_read_file(path, &flen);
	assert_int_equal(flen, v.m->artifact_size);
	assert_memory_equal(file, aa->buf, flen);
	free(file);
	verified_free(&v);

	/* The device reports it runs; telemetry is stored, then acknowledged. */
	dev_state(&d, ADD_OPS, 1 << 20,
	          "{\"kind\":\"model\",\"name\":\"adder\",\"installed\":[1],\"active\":1,"
	          "\"committed\":1,\"deployment\":{\"id\":\"manual-1\",\"version\":1,\"step\":"
	          "\"committed\",\"reason\":\"NONE\"}}");
	dev_telemetry(&d, 7, 1, 1, 2, "adder", 1, 100);
	g_want_ack = 2;
	assert_true(pump_until(&d, ack_reached, 10000));
	j = J("model", "usage", "adder");
	cJSON *u = cJSON_GetArrayItem(j, 0);
	assert_int_equal((int)cJSON_GetObjectItem(u, "requests")->valuedouble, 200);
	assert_int_equal((int)cJSON_GetObjectItem(u, "devices")->valuedouble, 1);
	assert_true(cJSON_GetObjectItem(u, "error_rate")->valuedouble > 0.0199 &&
	            cJSON_GetObjectItem(u, "error_rate")->valuedouble < 0.0201);
	assert_int_equal((int)cJSON_GetObjectItem(u, "p95_us")->valuedouble, 1500);
	cJSON *ro = cJSON_GetArrayItem(cJSON_GetObjectItem(u, "running_on"), 0);
	assert_string_equal(cJSON_GetObjectItem(ro, "device")->valuestring, "dev-a");
	assert_string_equal(cJSON_GetObjectItem(ro, "state")->valuestring, "committed");
	cJSON_Delete(j);

	/* A re-sent batch is stored once; a batch after a lost one is dropped. */
	dev_telemetry(&d, 7, 1, 1, 2, "adder", 1, 100);
	dev_telemetry(&d, 7, 1, 5, 1, "adder", 1, 100);
	dev_telemetry(&d, 7, 1, 3, 1, "adder", 1, 100);
	g_want_ack = 3;
	assert_true(pump_until(&d, ack_reached, 10000));
	assert_int_equal(ack_seq(&d), 3);
	j = J("model", "usage", "adder:1");
	assert_int_equal(
	    (int)cJSON_GetObjectItem(cJSON_GetArrayItem(j, 0), "requests")->valuedouble, 300);
	cJSON_Delete(j);

	/* Targets: the device lacks Conv. */
	j = J("model", "targets", "conv:1");
	cJSON *t = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "devices"), 0);
	assert_string_equal(cJSON_GetObjectItem(t, "able")->valuestring, "no");
	assert_non_null(
	    strstr(cJSON_GetObjectItem(t, "why_not")->valuestring, "OPERATOR_UNSUPPORTED"));
	assert_non_null(strstr(cJSON_GetObjectItem(t, "why_not")->valuestring, "Conv"));
	cJSON_Delete(j);
	j = J("model", "targets", "adder:1");
	t = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "devices"), 0);
	assert_string_equal(cJSON_GetObjectItem(t, "able")->valuestring, "yes");
	cJSON_Delete(j);

	/* kill -9 of serve: the next instance carries on (higher serial, acks). */
	assert_int_equal(tt_proc_kill(serve, SIGKILL), 0);
	tt_proc_free(serve);
	serve = NULL;
	OK(FL("device", "set-model", "dev-a", "adder:1", "--deployment-id", "again-2"));
	start_serve(NULL);
	g_serial_above = serial1;
	assert_true(pump_until(&d, desired_above, 10000));
	verify_desired(&d, &v);
	assert_string_equal(v.d->entries[0].deployment_id, "again-2");
	uint64_t serial2 = v.d->serial;
	verified_free(&v);
	dev_telemetry(&d, 7, 1, 4, 1, "adder", 1, 100);
	g_want_ack = 4;
	assert_true(pump_until(&d, ack_reached, 10000));

	/* kill -9 of the broker: serve and the device reconnect, work goes on. */
	assert_int_equal(tt_mosq_kill(broker), 0);
	assert_int_equal(tt_mosq_restart(broker), 0);
	assert_true(pump_until(&d, is_connected, 15000));
	OK(FL("device", "set-model", "dev-a", "adder:1", "--deployment-id", "again-3"));
	g_serial_above = serial2;
	assert_true(pump_until(&d, desired_above, 15000));
	verify_desired(&d, &v);
	assert_string_equal(v.d->entries[0].deployment_id, "again-3");
	verified_free(&v);

	/* Export for offline install. */
	char exp[700];
	snprintf(exp, sizeof(exp), "%s/export", tmp);
	OK(FL("model", "export", "adder:1", "--out", exp));
	snprintf(path, sizeof(path), "%s/envelope.json", exp);
	assert_true(tt_file_contains(path, FLT_PAYLOAD_RELEASE));
	snprintf(path, sizeof(path), "%s/artifact", exp);
	file = tt_read_file(path, &flen);
	assert_int_equal(flen, 129);
	free(file);

	dev_free(&d);
}

static void test_last_will_offline(void **state)
{
	(void)state;
	struct dev d;
	start_serve(NULL);
	/* A device whose connection dies: its Last Will says offline. */
	char will[256];
	snprintf(will, sizeof(will), FLT_TOPIC_ROOT "/dev/dev-w/up/status");
	char port[16];
	snprintf(port, sizeof(port), "%u", tt_mosq_port(broker));
	const char *argv[] = {"/usr/bin/mosquitto_sub",
	                      "-h",
	                      "127.0.0.1",
	                      "-p",
	                      port,
	                      "-V",
	                      "mqttv5",
	                      "-i",
	                      "dev-w",
	                      "-t",
	                      "flotilla/v1/dev/dev-w/down/#",
	                      "--will-topic",
	                      will,
	                      "--will-payload",
	                      "{\"v\":1,\"status\":\"offline\"}",
	                      "--will-retain",
	                      "--will-qos",
	                      "1",
	                      NULL};
	struct tt_proc *sub = NULL;
	assert_int_equal(tt_proc_spawn(argv[0], argv, NULL, tmp, &sub), 0);
	dev_connect(&d, "dev-x"); /* a second client to publish dev-w's reports */
	snprintf(d.id, sizeof(d.id), "dev-w");
	dev_state(&d, ADD_OPS, 1 << 20, "");
	g_dev = "dev-w", g_online = "online";
	assert_true(pump_until(&d, device_listed, 10000));
	assert_int_equal(tt_proc_kill(sub, SIGKILL), 0);
	g_online = "offline";
	assert_true(pump_until(&d, device_listed, 15000));
	tt_proc_free(sub);
	dev_free(&d);
}

static void test_chunks_too_big_for_broker(void **state)
{
	(void)state;
	struct dev d;
	/* The broker takes 2 KiB packets; serve is told never to go below 4 KiB chunks. */
	start_serve("chunks.min_size=4K");
	dev_connect(&d, "dev-s");
	dev_state(&d, ADD_OPS, 1 << 20, "");
	g_dev = "dev-s", g_online = "online";
	assert_true(pump_until(&d, device_listed, 10000));
	OK(FL("device", "set-model", "dev-s", "adder:1"));
	bool skipped = false;
	int64_t end = tt_now_ms() + 30000;
	while (!skipped && tt_now_ms() < end) {
		pump(&d, 50);
		cJSON *j = J("device", "show", "dev-s");
		cJSON *de = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "desired"), 0);
		const char *st = de ? cJSON_GetObjectItem(de, "status")->valuestring : "";
		skipped = strstr(st, "TOO_LARGE") && strstr(st, "2048");
		cJSON_Delete(j);
	}
	assert_true(skipped);
	/* Nothing that names the model was sent. */
	if (d.desired) {
		struct verified v;
		verify_desired(&d, &v);
		assert_int_equal(v.d->n_entries, 0);
		verified_free(&v);
	}
	char log[700];
	snprintf(log, sizeof(log), "%s", tt_proc_stderr_path(serve));
	assert_true(tt_file_contains(log, "below chunks.min_size"));
	dev_free(&d);
}

/* ---- a real agent ------------------------------------------------------------------ */

static const char *g_ref, *g_state;
static bool usage_shows(struct dev *d)
{
	(void)d;
	cJSON *j = J("model", "usage", g_ref);
	bool ok = false;
	cJSON *v = cJSON_GetArrayItem(j, 0), *o;
	cJSON_ArrayForEach(o, cJSON_GetObjectItem(v, "running_on"))
	{
		if (!strcmp(cJSON_GetObjectItem(o, "device")->valuestring, g_dev) &&
		    !strcmp(cJSON_GetObjectItem(o, "state")->valuestring, g_state))
			ok = true;
	}
	cJSON_Delete(j);
	return ok;
}

static bool wait_cli(bool (*cond)(struct dev *), int ms)
{
	int64_t end = tt_now_ms() + ms;
	while (tt_now_ms() < end) {
		if (cond(NULL))
			return true;
		usleep(50 * 1000); /* polling the registry, not synchronising */
	}
	return cond(NULL);
}

static bool listed_cli(struct dev *d)
{
	(void)d;
	cJSON *j = J("device", "list");
	bool found = false;
	cJSON *o;
	cJSON_ArrayForEach(o, j)
	{
		if (!strcmp(cJSON_GetObjectItem(o, "id")->valuestring, g_dev) &&
		    !strcmp(cJSON_GetObjectItem(o, "online")->valuestring, g_online))
			found = true;
	}
	cJSON_Delete(j);
	return found;
}

static bool committed_event(struct dev *d)
{
	(void)d;
	cJSON *j = J("device", "show", g_dev);
	bool found = false;
	cJSON *o;
	cJSON_ArrayForEach(o, cJSON_GetObjectItem(j, "events"))
	{
		if (!strcmp(cJSON_GetObjectItem(o, "step")->valuestring, "committed") &&
		    !strcmp(cJSON_GetObjectItem(o, "release")->valuestring, "adder:1"))
			found = true;
	}
	cJSON_Delete(j);
	return found;
}

static void test_real_agent(void **state)
{
	(void)state;
	char conf[700], body[4096], adir[700];
	start_serve(NULL);
	snprintf(adir, sizeof(adir), "%s/agent", tmp);
	snprintf(conf, sizeof(conf), "%s/agent.conf", tmp);
	int n = snprintf(body, sizeof(body),
	                 "[device]\nid = dev-r\n[mqtt]\nbroker = %s\nbackoff_min_ms = 50\n"
	                 "backoff_max_ms = 300\n[storage]\ndata_dir = %s\ndisk_reserve = 0\n"
	                 "[trust]\nroot_keys = %s/keys/root.pub\n[install]\nrefetch_ms = 400\n"
	                 "[telemetry]\ninterval = 1s\n[serving]\nsocket = %s/agent.sock\n",
	                 tt_mosq_uri(broker), adir, dd, tmp);
	assert_int_equal(tt_write_file(conf, body, (size_t)n), 0);
	const char *argv[] = {TT_AGENT, "run", "-c", conf, NULL};
	struct tt_proc *agent = NULL;
	assert_int_equal(tt_proc_spawn(TT_AGENT, argv, NULL, tmp, &agent), 0);

	/* The agent appears with its real capabilities. */
	g_dev = "dev-r", g_online = "online";
	assert_true(wait_cli(listed_cli, 15000));
	cJSON *j = J("device", "show", "dev-r");
	cJSON *caps = cJSON_GetObjectItem(j, "capabilities");
	assert_true(cJSON_GetObjectItem(caps, "operators")->valuedouble > 10);
	cJSON_Delete(j);

	/* A model set in the registry is verified, fetched, tested, activated and
	 * committed by the real agent; the registry shows it running. */
	OK(FL("device", "set-model", "dev-r", "adder:1", "--probation", "1"));
	g_ref = "adder:1", g_state = "committed";
	if (!wait_cli(usage_shows, 30000)) {
		char *log = tt_read_file(tt_proc_stderr_path(agent), NULL);
		fail_msg("adder:1 never committed on dev-r; agent log:\n%s", log ? log : "");
	}
	assert_true(wait_cli(committed_event, 15000));

	/* kill -9 of the agent: its Last Will marks it offline. */
	assert_int_equal(tt_proc_kill(agent, SIGKILL), 0);
	g_online = "offline";
	assert_true(wait_cli(listed_cli, 15000));
	tt_proc_free(agent);
}

static bool emptied(const char *s)
{
	return s && !s[0];
}
static bool topics_cleared(struct dev *d)
{
	return emptied(d->desired) && emptied(d->keys) && emptied(d->ack);
}

/* A revoked device: its retained down/ topics are emptied, and nothing it sends
 * is ingested any more (while another device's telemetry still is). */
static void test_revoked_device(void **state)
{
	(void)state;
	struct dev d, o;
	char pdir[700];
	start_serve(NULL);
	dev_connect(&d, "dev-r");
	dev_connect(&o, "dev-o");
	dev_state(&d, ADD_OPS, 1 << 20, "");
	dev_state(&o, ADD_OPS, 1 << 20, "");
	OK(FL("device", "set-model", "dev-r", "adder:1"));
	g_serial_above = 0;
	assert_true(pump_until(&d, desired_above, 10000));
	dev_telemetry(&d, 1, 1, 1, 2, "adder", 1, 5);
	g_want_ack = 2;
	assert_true(pump_until(&d, ack_reached, 10000));
	assert_non_null(d.keys);
	assert_true(d.keys[0] != '\0');

	snprintf(pdir, sizeof(pdir), "%s/prov-r", tmp);
	OK(FL("device", "provision", "dev-r", "--out", pdir));
	OK(FL("device", "revoke", "dev-r"));
	assert_true(pump_until(&d, topics_cleared, 10000));

	/* Telemetry from the revoked device is not stored, nor acknowledged;
	 * the other device's, sent after it, is. */
	dev_telemetry(&d, 1, 1, 3, 2, "adder", 1, 5);
	dev_telemetry(&o, 1, 1, 1, 1, "adder", 1, 5);
	g_want_ack = 1;
	assert_true(pump_until(&o, ack_reached, 10000));
	pump(&d, 100); /* lets anything already sent to d arrive */
	assert_true(topics_cleared(&d));
	/* A new model for the revoked device publishes no desired state. */
	OK(FL("device", "set-model", "dev-r", "conv:1"));
	OK(FL("device", "set-model", "dev-o", "adder:1"));
	g_serial_above = 0;
	assert_true(pump_until(&o, desired_above, 10000));
	pump(&d, 100);
	assert_true(topics_cleared(&d));
	dev_free(&d);
	dev_free(&o);
}

/* Keyid of the release envelope in d's desired entry 0 (""  if none). */
static void entry_keyid(struct dev *d, char *kid, size_t cap)
{
	flt_dsse *env = NULL, *rel = NULL;
	struct flt_desired *des = NULL;
	kid[0] = '\0';
	if (!d->desired || !d->desired[0] ||
	    flt_dsse_parse(d->desired, strlen(d->desired), 0, &env, NULL) != FLT_OK)
		return;
	if (flt_desired_parse((const char *)env->payload, env->payload_len, &des, NULL) == FLT_OK &&
	    des->n_entries &&
	    flt_dsse_parse(des->entries[0].envelope, des->entries[0].envelope_len, 0, &rel, NULL) ==
	        FLT_OK &&
	    rel->nsigs)
		snprintf(kid, cap, "%s", rel->sigs[0].keyid);
	flt_dsse_free(rel);
	flt_desired_free(des);
	flt_dsse_free(env);
}

static char g_old_keyid[80];
static uint64_t g_old_kl_serial;
static bool resigned_under_new_list(struct dev *d)
{
	char k[80];
	entry_keyid(d, k, sizeof(k));
	if (!k[0] || !strcmp(k, g_old_keyid) || !d->keys)
		return false;
	flt_keylist *kl = accept_keys(d);
	bool ok = kl->serial > g_old_kl_serial;
	flt_keylist_free(kl);
	return ok;
}

/* keys revoke of the release key in use: serve loads the new list, publishes
 * it on down/keys and re-signs the release with the new key; the device's
 * view (new list) accepts the new desired state. */
static void test_keys_revoke_resigns(void **state)
{
	(void)state;
	struct dev d;
	struct verified v;
	start_serve(NULL);
	dev_connect(&d, "dev-k");
	dev_state(&d, ADD_OPS, 1 << 20, "");
	OK(FL("device", "set-model", "dev-k", "adder:1"));
	g_serial_above = 0;
	assert_true(pump_until(&d, desired_above, 10000));
	entry_keyid(&d, g_old_keyid, sizeof(g_old_keyid));
	assert_true(g_old_keyid[0] != '\0');
	flt_keylist *kl = accept_keys(&d);
	g_old_kl_serial = kl->serial;
	flt_keylist_free(kl);

	OK(FL("keys", "revoke", g_old_keyid));
	assert_true(pump_until(&d, resigned_under_new_list, 15000));
	verify_desired(&d, &v); /* under the new list, which names the old key revoked */
	assert_int_equal(v.d->n_entries, 1);
	verified_free(&v);
	kl = accept_keys(&d);
	bool listed_revoked = false;
	for (size_t i = 0; i < kl->nrevoked; i++)
		if (!strcmp(kl->revoked[i], g_old_keyid))
			listed_revoked = true;
	assert_true(listed_revoked);
	flt_keylist_free(kl);
	dev_free(&d);
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
	    cmocka_unit_test_setup_teardown(test_fleet, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_last_will_offline, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_real_agent, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_revoked_device, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_keys_revoke_resigns, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_chunks_too_big_for_broker, setup_small_broker,
	                                    teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
