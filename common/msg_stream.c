/* Stream messages: event batches (up/events) and telemetry batches
 * (up/telemetry). Items are stored one by one in the agent's queue without a
 * sequence number, then wrapped into batches with the numbers the queue gave. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "codec.h"
#include "flt/alloc.h"
#include "flt/msg.h"

static const char *const event_batch_keys[] = {"v", "epoch", "low_seq", "dropped", "events", NULL};
static const char *const tele_batch_keys[] = {"v", "epoch", "low_seq", "dropped", "samples", NULL};
static const char *const event_keys[] = {"seq",           "time", "kind",   "name",    "version",
                                         "deployment_id", "step", "reason", "message", NULL};
static const char *const sample_keys[] = {"seq", "time", "interval_s", "health", "model", NULL};
static const char *const health_keys[] = {"cpu_pct",
                                          "rss_bytes",
                                          "pss_bytes",
                                          "private_bytes",
                                          "mem_total_bytes",
                                          "mem_avail_bytes",
                                          "disk_free_bytes",
                                          "disk_total_bytes",
                                          "uptime_s",
                                          "temp_c",
                                          "mqtt",
                                          NULL};
static const char *const mqtt_keys[] = {"sent", "received", NULL};
/* indexed by enum flt_wire_purpose */
static const char *const purpose_keys[] = {"chunks", "telemetry", "state", "other", NULL};
static const char *const model_keys[] = {"name",      "version",    "requests", "errors",
                                         "crashes",   "latency_us", "bytes_in", "bytes_out",
                                         "last_used", NULL};
/* indexed by enum flt_model_error */
static const char *const errors_keys[] = {"bad_input", "runtime",  "busy",
                                          "timeout",   "internal", NULL};
static const char *const lat_keys[] = {"p50", "p95", "p99", NULL};

#define MAX_CPU_PCT 100000.0
#define SAFE        FLT_JSON_MAX_SAFE_INT

/* ---- shared header ---- */

static flt_err check_header(uint64_t epoch, uint64_t low_seq, uint64_t dropped, size_t n,
                            uint64_t first_seq, struct flt_json_err *err)
{
	flt_err rc = FLT_OK;

	if (epoch < 1 || epoch > SAFE)
		INVALID("'epoch' must be 1..2^53-1");
	if (dropped > SAFE || low_seq > SAFE)
		INVALID("number above 2^53-1");
	if (n < 1 || n > FLT_MAX_STREAM_BATCH)
		INVALID("a batch holds 1..%d items", FLT_MAX_STREAM_BATCH);
	if (low_seq < 1 || low_seq > first_seq)
		INVALID("'low_seq' must be 1..first item's seq");
out:
	return rc;
}

static flt_err read_header(const cJSON *root, uint64_t *epoch, uint64_t *low_seq, uint64_t *dropped,
                           struct flt_json_err *err)
{
	flt_err rc = FLT_OK;

	CHECK(flt_json_get_uint(root, "epoch", SAFE, epoch, err));
	CHECK(flt_json_get_uint(root, "low_seq", SAFE, low_seq, err));
	CHECK(flt_json_get_uint(root, "dropped", SAFE, dropped, err));
out:
	return rc;
}

static flt_err write_header(cJSON *root, uint64_t epoch, uint64_t low_seq, uint64_t dropped)
{
	flt_err rc = FLT_OK;

	CHECK(flt_json_add_uint(root, "v", FLT_PROTOCOL_VERSION));
	CHECK(flt_json_add_uint(root, "epoch", epoch));
	CHECK(flt_json_add_uint(root, "low_seq", low_seq));
	CHECK(flt_json_add_uint(root, "dropped", dropped));
out:
	return rc;
}

static flt_err push_obj(cJSON *arr, cJSON **o)
{
	*o = cJSON_CreateObject();
	if (!*o || !cJSON_AddItemToArray(arr, *o)) {
		cJSON_Delete(*o);
		return FLT_ENOMEM;
	}
	return FLT_OK;
}

/* ---- events ---- */

static flt_err event_check(const struct flt_event *e, bool with_seq, struct flt_json_err *err)
{
	flt_err rc = FLT_OK;

	if (with_seq && (e->seq < 1 || e->seq > SAFE))
		INVALID("'seq' must be 1..2^53-1");
	if (e->time < 0 || e->time > (int64_t)SAFE)
		INVALID("'time' out of range");
	if ((unsigned)e->kind >= FLT_KIND_COUNT_ || !flt_ident_valid(e->name))
		INVALID("bad kind or name");
	if (e->version > SAFE)
		INVALID("'version' above 2^53-1");
	if (e->deployment_id[0] && !flt_ident_valid(e->deployment_id))
		INVALID("'deployment_id' is not a valid identifier");
	if ((unsigned)e->step >= FLT_STEP_COUNT_ || (unsigned)e->reason >= FLT_REASON_COUNT_)
		INVALID("bad step or reason");
	if (!codec_text_ok(e->message, FLT_MAX_MESSAGE))
		INVALID("bad 'message'");
out:
	return rc;
}

static flt_err read_event(const cJSON *o, bool with_seq, struct flt_event *e,
                          struct flt_json_err *err)
{
	const char *s = NULL;
	flt_err rc = FLT_OK;

	memset(e, 0, sizeof(*e));
	if (!cJSON_IsObject(o))
		INVALID("event is not an object");
	CHECK(flt_json_check_keys(o, event_keys + (with_seq ? 0 : 1), err));
	if (with_seq)
		CHECK(flt_json_get_uint(o, "seq", SAFE, &e->seq, err));
	CHECK(flt_json_get_int(o, "time", &e->time, err));
	CHECK(flt_json_get_str(o, "kind", 16, &s, err));
	if (!flt_kind_from_name(s, &e->kind))
		INVALID("unknown kind");
	CHECK(flt_json_get_ident(o, "name", e->name, err));
	CHECK(flt_json_get_uint(o, "version", SAFE, &e->version, err));
	if (flt_json_has(o, "deployment_id"))
		CHECK(flt_json_get_ident(o, "deployment_id", e->deployment_id, err));
	CHECK(flt_json_get_str(o, "step", 16, &s, err));
	if (!flt_step_from_name(s, &e->step))
		INVALID("unknown step");
	CHECK(flt_json_get_str(o, "reason", 32, &s, err));
	if (!flt_reason_from_name(s, &e->reason))
		INVALID("unknown reason code");
	CHECK(flt_json_get_strbuf(o, "message", e->message, sizeof(e->message), err));
	CHECK(event_check(e, with_seq, err));
out:
	return rc;
}

static flt_err write_event(cJSON *o, const struct flt_event *e, bool with_seq)
{
	flt_err rc = FLT_OK;

	if (with_seq)
		CHECK(flt_json_add_uint(o, "seq", e->seq));
	CHECK(flt_json_add_int(o, "time", e->time));
	CHECK(flt_json_add_str(o, "kind", flt_kind_name(e->kind)));
	CHECK(flt_json_add_str(o, "name", e->name));
	CHECK(flt_json_add_uint(o, "version", e->version));
	if (e->deployment_id[0])
		CHECK(flt_json_add_str(o, "deployment_id", e->deployment_id));
	CHECK(flt_json_add_str(o, "step", flt_step_name(e->step)));
	CHECK(flt_json_add_str(o, "reason", flt_reason_name(e->reason)));
	CHECK(flt_json_add_str(o, "message", e->message));
out:
	return rc;
}

void flt_events_free(struct flt_event_batch *b)
{
	if (!b)
		return;
	flt_free(b->events);
	flt_free(b);
}

flt_err flt_events_validate(const struct flt_event_batch *b, struct flt_json_err *err)
{
	flt_err rc = FLT_OK;

	if (!b || (b->n && !b->events))
		INVALID("no batch");
	CHECK(
	    check_header(b->epoch, b->low_seq, b->dropped, b->n, b->n ? b->events[0].seq : 0, err));
	for (size_t i = 0; i < b->n; i++) {
		rc = event_check(&b->events[i], true, err);
		if (rc != FLT_OK) {
			char where[32];
			snprintf(where, sizeof(where), "events[%zu]", i);
			flt_json_err_prefix(err, where);
			goto out;
		}
		if (i && b->events[i].seq <= b->events[i - 1].seq)
			INVALID("events[%zu]: seq must grow", i);
	}
out:
	return rc;
}

flt_err flt_events_parse(const char *buf, size_t len, struct flt_event_batch **out,
                         struct flt_json_err *err)
{
	cJSON *root = NULL;
	const cJSON *arr = NULL, *it;
	struct flt_event_batch *b = NULL;
	size_t n = 0;
	flt_err rc;

	if (!out)
		return FLT_EINVAL;
	rc = codec_open(buf, len, FLT_MAX_EVENTS_BYTES, event_batch_keys, &root, err);
	if (rc != FLT_OK)
		return rc;
	b = flt_calloc(1, sizeof(*b));
	if (!b) {
		rc = FLT_ENOMEM;
		goto out;
	}
	CHECK(read_header(root, &b->epoch, &b->low_seq, &b->dropped, err));
	CHECK(flt_json_get_arr(root, "events", FLT_MAX_STREAM_BATCH, &arr, &n, err));
	if (n && !(b->events = flt_calloc(n, sizeof(*b->events)))) {
		rc = FLT_ENOMEM;
		goto out;
	}
	cJSON_ArrayForEach(it, arr)
	{
		rc = read_event(it, true, &b->events[b->n], err);
		if (rc != FLT_OK) {
			char where[32];
			snprintf(where, sizeof(where), "events[%zu]", b->n);
			flt_json_err_prefix(err, where);
			goto out;
		}
		b->n++;
	}
	CHECK(flt_events_validate(b, err));
	*out = b;
	b = NULL;
out:
	cJSON_Delete(root);
	flt_events_free(b);
	return codec_wire_err(rc);
}

flt_err flt_events_encode(const struct flt_event_batch *b, char **out, size_t *len)
{
	cJSON *root = NULL, *arr, *o;
	flt_err rc;

	if (!out || !len)
		return FLT_EINVAL;
	rc = flt_events_validate(b, NULL);
	if (rc != FLT_OK)
		return rc;
	root = cJSON_CreateObject();
	if (!root)
		return FLT_ENOMEM;
	CHECK(write_header(root, b->epoch, b->low_seq, b->dropped));
	rc = FLT_ENOMEM;
	if (!(arr = cJSON_AddArrayToObject(root, "events")))
		goto out;
	for (size_t i = 0; i < b->n; i++) {
		CHECK(push_obj(arr, &o));
		CHECK(write_event(o, &b->events[i], true));
	}
	rc = flt_json_print(root, out, len);
out:
	cJSON_Delete(root);
	return rc;
}

flt_err flt_event_item_encode(const struct flt_event *e, char **out, size_t *len)
{
	cJSON *root = NULL;
	flt_err rc;

	if (!e || !out || !len)
		return FLT_EINVAL;
	rc = event_check(e, false, NULL);
	if (rc != FLT_OK)
		return rc;
	root = cJSON_CreateObject();
	if (!root)
		return FLT_ENOMEM;
	CHECK(write_event(root, e, false));
	rc = flt_json_print(root, out, len);
out:
	cJSON_Delete(root);
	return rc;
}

flt_err flt_event_item_parse(const char *buf, size_t len, struct flt_event *out,
                             struct flt_json_err *err)
{
	cJSON *root = NULL;
	struct flt_event e;
	flt_err rc;

	if (!out)
		return FLT_EINVAL;
	rc = flt_json_parse_object(buf, len, FLT_MAX_EVENT_BYTES, 0, &root, err);
	if (rc != FLT_OK)
		return rc;
	CHECK(read_event(root, false, &e, err));
	*out = e;
out:
	cJSON_Delete(root);
	return codec_wire_err(rc);
}

flt_err flt_events_from_items(uint64_t epoch, uint64_t low_seq, uint64_t dropped,
                              const struct flt_stream_item *items, size_t n,
                              struct flt_event_batch **out, struct flt_json_err *err)
{
	struct flt_event_batch *b = NULL;
	flt_err rc = FLT_OK;

	if (!out || (n && !items))
		return FLT_EINVAL;
	if (n < 1 || n > FLT_MAX_STREAM_BATCH)
		INVALID("a batch holds 1..%d items", FLT_MAX_STREAM_BATCH);
	b = flt_calloc(1, sizeof(*b));
	if (!b || !(b->events = flt_calloc(n, sizeof(*b->events)))) {
		rc = FLT_ENOMEM;
		goto out;
	}
	b->epoch = epoch;
	b->low_seq = low_seq;
	b->dropped = dropped;
	for (size_t i = 0; i < n; i++) {
		CHECK(flt_event_item_parse(items[i].data, items[i].len, &b->events[i], err));
		b->events[i].seq = items[i].seq;
	}
	b->n = n;
	CHECK(flt_events_validate(b, err));
	*out = b;
	b = NULL;
out:
	flt_events_free(b);
	return codec_wire_err(rc);
}

/* ---- telemetry ---- */

static flt_err sample_check(const struct flt_sample *s, bool with_seq, struct flt_json_err *err)
{
	flt_err rc = FLT_OK;

	if (with_seq && (s->seq < 1 || s->seq > SAFE))
		INVALID("'seq' must be 1..2^53-1");
	if (s->time < 0 || s->time > (int64_t)SAFE || s->interval_s > SAFE)
		INVALID("'time' or 'interval_s' out of range");
	if (s->type == FLT_SAMPLE_HEALTH) {
		const struct flt_health *h = &s->u.health;
		if (!isfinite(h->cpu_pct) || h->cpu_pct < 0 || h->cpu_pct > MAX_CPU_PCT)
			INVALID("health: 'cpu_pct' out of range");
		if (h->rss_bytes > SAFE || h->pss_bytes > SAFE || h->private_bytes > SAFE ||
		    h->mem_avail_bytes > SAFE || h->mem_total_bytes > SAFE ||
		    h->disk_free_bytes > SAFE || h->disk_total_bytes > SAFE || h->uptime_s > SAFE)
			INVALID("health: number above 2^53-1");
		if (!h->has_pss && (h->pss_bytes || h->private_bytes))
			INVALID("health: pss/private without has_pss");
		for (int i = 0; i < FLT_WIRE_PURPOSE_COUNT_; i++)
			if (h->mqtt_sent[i] > SAFE || h->mqtt_received[i] > SAFE)
				INVALID("health: mqtt bytes above 2^53-1");
		if (h->has_temp &&
		    (!isfinite(h->temp_c) || h->temp_c < -273.15 || h->temp_c > 1000))
			INVALID("health: 'temp_c' out of range");
		if (!h->has_temp && h->temp_c != 0)
			INVALID("health: temp_c without has_temp");
	} else if (s->type == FLT_SAMPLE_MODEL) {
		const struct flt_model_usage *m = &s->u.model;
		if (!flt_ident_valid(m->name) || m->version < 1)
			INVALID("model: bad name or version");
		if (m->version > SAFE || m->requests > SAFE || m->crashes > SAFE ||
		    m->p50_us > SAFE || m->p95_us > SAFE || m->p99_us > SAFE ||
		    m->bytes_in > SAFE || m->bytes_out > SAFE || m->last_used < 0 ||
		    m->last_used > (int64_t)SAFE)
			INVALID("model: number out of range");
		for (int i = 0; i < FLT_MODEL_ERR_COUNT_; i++)
			if (m->errors[i] > SAFE)
				INVALID("model: error count above 2^53-1");
	} else {
		INVALID("unknown sample type");
	}
out:
	return rc;
}

static flt_err read_counts(const cJSON *o, const char *key, const char *const *keys, uint64_t *out,
                           size_t n, struct flt_json_err *err)
{
	const cJSON *t = NULL;
	flt_err rc = FLT_OK;

	CHECK(flt_json_get_obj(o, key, &t, err));
	CHECK(flt_json_check_keys(t, keys, err));
	for (size_t i = 0; i < n; i++)
		CHECK(flt_json_get_uint(t, keys[i], SAFE, &out[i], err));
out:
	if (rc != FLT_OK)
		flt_json_err_prefix(err, key);
	return rc;
}

static flt_err write_counts(cJSON *o, const char *key, const char *const *keys, const uint64_t *v,
                            size_t n)
{
	cJSON *t = cJSON_AddObjectToObject(o, key);
	flt_err rc = FLT_OK;

	if (!t)
		return FLT_ENOMEM;
	for (size_t i = 0; i < n; i++)
		CHECK(flt_json_add_uint(t, keys[i], v[i]));
out:
	return rc;
}

static flt_err read_health(const cJSON *o, struct flt_health *h, struct flt_json_err *err)
{
	const cJSON *t = NULL;
	bool pss, priv;
	flt_err rc = FLT_OK;

	CHECK(flt_json_check_keys(o, health_keys, err));
	CHECK(flt_json_get_double(o, "cpu_pct", 0, MAX_CPU_PCT, &h->cpu_pct, err));
	CHECK(flt_json_get_uint(o, "rss_bytes", SAFE, &h->rss_bytes, err));
	pss = flt_json_has(o, "pss_bytes");
	priv = flt_json_has(o, "private_bytes");
	if (pss != priv)
		INVALID("'pss_bytes' and 'private_bytes' come together");
	if (pss) {
		CHECK(flt_json_get_uint(o, "pss_bytes", SAFE, &h->pss_bytes, err));
		CHECK(flt_json_get_uint(o, "private_bytes", SAFE, &h->private_bytes, err));
		h->has_pss = true;
	}
	CHECK(flt_json_get_uint(o, "mem_total_bytes", SAFE, &h->mem_total_bytes, err));
	CHECK(flt_json_get_uint(o, "mem_avail_bytes", SAFE, &h->mem_avail_bytes, err));
	CHECK(flt_json_get_uint(o, "disk_free_bytes", SAFE, &h->disk_free_bytes, err));
	CHECK(flt_json_get_uint(o, "disk_total_bytes", SAFE, &h->disk_total_bytes, err));
	CHECK(flt_json_get_uint(o, "uptime_s", SAFE, &h->uptime_s, err));
	if (flt_json_has(o, "temp_c")) {
		CHECK(flt_json_get_double(o, "temp_c", -273.15, 1000, &h->temp_c, err));
		h->has_temp = true;
	}
	CHECK(flt_json_get_obj(o, "mqtt", &t, err));
	CHECK(flt_json_check_keys(t, mqtt_keys, err));
	CHECK(read_counts(t, "sent", purpose_keys, h->mqtt_sent, FLT_WIRE_PURPOSE_COUNT_, err));
	CHECK(read_counts(t, "received", purpose_keys, h->mqtt_received, FLT_WIRE_PURPOSE_COUNT_,
	                  err));
out:
	if (rc != FLT_OK)
		flt_json_err_prefix(err, "health");
	return rc;
}

static flt_err read_model(const cJSON *o, struct flt_model_usage *m, struct flt_json_err *err)
{
	const cJSON *t = NULL;
	flt_err rc = FLT_OK;

	CHECK(flt_json_check_keys(o, model_keys, err));
	CHECK(flt_json_get_ident(o, "name", m->name, err));
	CHECK(flt_json_get_uint(o, "version", SAFE, &m->version, err));
	CHECK(flt_json_get_uint(o, "requests", SAFE, &m->requests, err));
	CHECK(read_counts(o, "errors", errors_keys, m->errors, FLT_MODEL_ERR_COUNT_, err));
	CHECK(flt_json_get_uint(o, "crashes", SAFE, &m->crashes, err));
	CHECK(flt_json_get_obj(o, "latency_us", &t, err));
	CHECK(flt_json_check_keys(t, lat_keys, err));
	CHECK(flt_json_get_uint(t, "p50", SAFE, &m->p50_us, err));
	CHECK(flt_json_get_uint(t, "p95", SAFE, &m->p95_us, err));
	CHECK(flt_json_get_uint(t, "p99", SAFE, &m->p99_us, err));
	CHECK(flt_json_get_uint(o, "bytes_in", SAFE, &m->bytes_in, err));
	CHECK(flt_json_get_uint(o, "bytes_out", SAFE, &m->bytes_out, err));
	CHECK(flt_json_get_int(o, "last_used", &m->last_used, err));
out:
	if (rc != FLT_OK)
		flt_json_err_prefix(err, "model");
	return rc;
}

static flt_err read_sample(const cJSON *o, bool with_seq, struct flt_sample *s,
                           struct flt_json_err *err)
{
	const cJSON *t = NULL;
	bool h, m;
	flt_err rc = FLT_OK;

	memset(s, 0, sizeof(*s));
	if (!cJSON_IsObject(o))
		INVALID("sample is not an object");
	CHECK(flt_json_check_keys(o, sample_keys + (with_seq ? 0 : 1), err));
	if (with_seq)
		CHECK(flt_json_get_uint(o, "seq", SAFE, &s->seq, err));
	CHECK(flt_json_get_int(o, "time", &s->time, err));
	CHECK(flt_json_get_uint(o, "interval_s", SAFE, &s->interval_s, err));
	h = flt_json_has(o, "health");
	m = flt_json_has(o, "model");
	if (h == m)
		INVALID("a sample holds exactly one of 'health' and 'model'");
	if (h) {
		s->type = FLT_SAMPLE_HEALTH;
		CHECK(flt_json_get_obj(o, "health", &t, err));
		CHECK(read_health(t, &s->u.health, err));
	} else {
		s->type = FLT_SAMPLE_MODEL;
		CHECK(flt_json_get_obj(o, "model", &t, err));
		CHECK(read_model(t, &s->u.model, err));
	}
	CHECK(sample_check(s, with_seq, err));
out:
	return rc;
}

static flt_err write_sample(cJSON *o, const struct flt_sample *s, bool with_seq)
{
	cJSON *b, *t;
	flt_err rc = FLT_OK;

	if (with_seq)
		CHECK(flt_json_add_uint(o, "seq", s->seq));
	CHECK(flt_json_add_int(o, "time", s->time));
	CHECK(flt_json_add_uint(o, "interval_s", s->interval_s));
	rc = FLT_ENOMEM;
	if (s->type == FLT_SAMPLE_HEALTH) {
		const struct flt_health *h = &s->u.health;
		if (!(b = cJSON_AddObjectToObject(o, "health")))
			goto out;
		CHECK(flt_json_add_double(b, "cpu_pct", h->cpu_pct));
		CHECK(flt_json_add_uint(b, "rss_bytes", h->rss_bytes));
		if (h->has_pss) {
			CHECK(flt_json_add_uint(b, "pss_bytes", h->pss_bytes));
			CHECK(flt_json_add_uint(b, "private_bytes", h->private_bytes));
		}
		CHECK(flt_json_add_uint(b, "mem_total_bytes", h->mem_total_bytes));
		CHECK(flt_json_add_uint(b, "mem_avail_bytes", h->mem_avail_bytes));
		CHECK(flt_json_add_uint(b, "disk_free_bytes", h->disk_free_bytes));
		CHECK(flt_json_add_uint(b, "disk_total_bytes", h->disk_total_bytes));
		CHECK(flt_json_add_uint(b, "uptime_s", h->uptime_s));
		if (h->has_temp)
			CHECK(flt_json_add_double(b, "temp_c", h->temp_c));
		rc = FLT_ENOMEM;
		if (!(t = cJSON_AddObjectToObject(b, "mqtt")))
			goto out;
		CHECK(write_counts(t, "sent", purpose_keys, h->mqtt_sent, FLT_WIRE_PURPOSE_COUNT_));
		CHECK(write_counts(t, "received", purpose_keys, h->mqtt_received,
		                   FLT_WIRE_PURPOSE_COUNT_));
	} else {
		const struct flt_model_usage *m = &s->u.model;
		if (!(b = cJSON_AddObjectToObject(o, "model")))
			goto out;
		CHECK(flt_json_add_str(b, "name", m->name));
		CHECK(flt_json_add_uint(b, "version", m->version));
		CHECK(flt_json_add_uint(b, "requests", m->requests));
		CHECK(write_counts(b, "errors", errors_keys, m->errors, FLT_MODEL_ERR_COUNT_));
		CHECK(flt_json_add_uint(b, "crashes", m->crashes));
		rc = FLT_ENOMEM;
		if (!(t = cJSON_AddObjectToObject(b, "latency_us")))
			goto out;
		CHECK(flt_json_add_uint(t, "p50", m->p50_us));
		CHECK(flt_json_add_uint(t, "p95", m->p95_us));
		CHECK(flt_json_add_uint(t, "p99", m->p99_us));
		CHECK(flt_json_add_uint(b, "bytes_in", m->bytes_in));
		CHECK(flt_json_add_uint(b, "bytes_out", m->bytes_out));
		CHECK(flt_json_add_int(b, "last_used", m->last_used));
	}
out:
	return rc;
}

void flt_telemetry_free(struct flt_telemetry_batch *b)
{
	if (!b)
		return;
	flt_free(b->samples);
	flt_free(b);
}

flt_err flt_telemetry_validate(const struct flt_telemetry_batch *b, struct flt_json_err *err)
{
	flt_err rc = FLT_OK;

	if (!b || (b->n && !b->samples))
		INVALID("no batch");
	CHECK(check_header(b->epoch, b->low_seq, b->dropped, b->n, b->n ? b->samples[0].seq : 0,
	                   err));
	for (size_t i = 0; i < b->n; i++) {
		rc = sample_check(&b->samples[i], true, err);
		if (rc != FLT_OK) {
			char where[32];
			snprintf(where, sizeof(where), "samples[%zu]", i);
			flt_json_err_prefix(err, where);
			goto out;
		}
		if (i && b->samples[i].seq <= b->samples[i - 1].seq)
			INVALID("samples[%zu]: seq must grow", i);
	}
out:
	return rc;
}

flt_err flt_telemetry_parse(const char *buf, size_t len, struct flt_telemetry_batch **out,
                            struct flt_json_err *err)
{
	cJSON *root = NULL;
	const cJSON *arr = NULL, *it;
	struct flt_telemetry_batch *b = NULL;
	size_t n = 0;
	flt_err rc;

	if (!out)
		return FLT_EINVAL;
	rc = codec_open(buf, len, FLT_MAX_TELEMETRY_BYTES, tele_batch_keys, &root, err);
	if (rc != FLT_OK)
		return rc;
	b = flt_calloc(1, sizeof(*b));
	if (!b) {
		rc = FLT_ENOMEM;
		goto out;
	}
	CHECK(read_header(root, &b->epoch, &b->low_seq, &b->dropped, err));
	CHECK(flt_json_get_arr(root, "samples", FLT_MAX_STREAM_BATCH, &arr, &n, err));
	if (n && !(b->samples = flt_calloc(n, sizeof(*b->samples)))) {
		rc = FLT_ENOMEM;
		goto out;
	}
	cJSON_ArrayForEach(it, arr)
	{
		rc = read_sample(it, true, &b->samples[b->n], err);
		if (rc != FLT_OK) {
			char where[32];
			snprintf(where, sizeof(where), "samples[%zu]", b->n);
			flt_json_err_prefix(err, where);
			goto out;
		}
		b->n++;
	}
	CHECK(flt_telemetry_validate(b, err));
	*out = b;
	b = NULL;
out:
	cJSON_Delete(root);
	flt_telemetry_free(b);
	return codec_wire_err(rc);
}

flt_err flt_telemetry_encode(const struct flt_telemetry_batch *b, char **out, size_t *len)
{
	cJSON *root = NULL, *arr, *o;
	flt_err rc;

	if (!out || !len)
		return FLT_EINVAL;
	rc = flt_telemetry_validate(b, NULL);
	if (rc != FLT_OK)
		return rc;
	root = cJSON_CreateObject();
	if (!root)
		return FLT_ENOMEM;
	CHECK(write_header(root, b->epoch, b->low_seq, b->dropped));
	rc = FLT_ENOMEM;
	if (!(arr = cJSON_AddArrayToObject(root, "samples")))
		goto out;
	for (size_t i = 0; i < b->n; i++) {
		CHECK(push_obj(arr, &o));
		CHECK(write_sample(o, &b->samples[i], true));
	}
	rc = flt_json_print(root, out, len);
out:
	cJSON_Delete(root);
	return rc;
}

flt_err flt_sample_item_encode(const struct flt_sample *s, char **out, size_t *len)
{
	cJSON *root = NULL;
	flt_err rc;

	if (!s || !out || !len)
		return FLT_EINVAL;
	rc = sample_check(s, false, NULL);
	if (rc != FLT_OK)
		return rc;
	root = cJSON_CreateObject();
	if (!root)
		return FLT_ENOMEM;
	CHECK(write_sample(root, s, false));
	rc = flt_json_print(root, out, len);
out:
	cJSON_Delete(root);
	return rc;
}

flt_err flt_sample_item_parse(const char *buf, size_t len, struct flt_sample *out,
                              struct flt_json_err *err)
{
	cJSON *root = NULL;
	struct flt_sample s;
	flt_err rc;

	if (!out)
		return FLT_EINVAL;
	/* one sample is far smaller than a batch; a batch's limit bounds it */
	rc = flt_json_parse_object(buf, len, FLT_MAX_TELEMETRY_BYTES, 0, &root, err);
	if (rc != FLT_OK)
		return rc;
	CHECK(read_sample(root, false, &s, err));
	*out = s;
out:
	cJSON_Delete(root);
	return codec_wire_err(rc);
}

flt_err flt_telemetry_from_items(uint64_t epoch, uint64_t low_seq, uint64_t dropped,
                                 const struct flt_stream_item *items, size_t n,
                                 struct flt_telemetry_batch **out, struct flt_json_err *err)
{
	struct flt_telemetry_batch *b = NULL;
	flt_err rc = FLT_OK;

	if (!out || (n && !items))
		return FLT_EINVAL;
	if (n < 1 || n > FLT_MAX_STREAM_BATCH)
		INVALID("a batch holds 1..%d items", FLT_MAX_STREAM_BATCH);
	b = flt_calloc(1, sizeof(*b));
	if (!b || !(b->samples = flt_calloc(n, sizeof(*b->samples)))) {
		rc = FLT_ENOMEM;
		goto out;
	}
	b->epoch = epoch;
	b->low_seq = low_seq;
	b->dropped = dropped;
	for (size_t i = 0; i < n; i++) {
		CHECK(flt_sample_item_parse(items[i].data, items[i].len, &b->samples[i], err));
		b->samples[i].seq = items[i].seq;
	}
	b->n = n;
	CHECK(flt_telemetry_validate(b, err));
	*out = b;
	b = NULL;
out:
	flt_telemetry_free(b);
	return codec_wire_err(rc);
}
