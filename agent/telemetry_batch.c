/* From measurements to queue items to wire batches: health and usage become
 * up/telemetry samples, and a batch read from the queue becomes the JSON payload
 * of up/telemetry or up/events. */
#include <inttypes.h>
#include <math.h>
#include <string.h>

#define FLT_LOG_MODULE "tbatch"
#include "flt/alloc.h"
#include "flt/json.h"
#include "flt/log.h"
#include "flt/telemetry_batch.h"

/* The wire's cpu_pct ceiling (% of one core, many cores busy). */
#define WIRE_MAX_CPU_PCT 100000.0

static uint64_t safe(uint64_t v)
{
	return v > FLT_JSON_MAX_SAFE_INT ? FLT_JSON_MAX_SAFE_INT : v;
}

static uint64_t delta(uint64_t cur, uint64_t prev)
{
	return safe(cur >= prev ? cur - prev : cur);
}

static enum flt_health_purpose purpose_of(enum flt_mqtt_purpose p)
{
	switch (p) {
	case FLT_MQTT_PURPOSE_CHUNKS: return FLT_HEALTH_MQTT_CHUNKS;
	case FLT_MQTT_PURPOSE_TELEMETRY: return FLT_HEALTH_MQTT_TELEMETRY;
	case FLT_MQTT_PURPOSE_STATE: return FLT_HEALTH_MQTT_STATE;
	default: return FLT_HEALTH_MQTT_OTHER;
	}
}

void flt_tbatch_mqtt_counters(const struct flt_mqtt_stats *st, struct flt_health_mqtt *out)
{
	memset(out, 0, sizeof(*out));
	for (int i = 0; i < FLT_MQTT_PURPOSE_COUNT_; i++) {
		enum flt_health_purpose h = purpose_of((enum flt_mqtt_purpose)i);
		out->sent[h] += st->sent_bytes[i];
		out->received[h] += st->recv_bytes[i];
	}
}

void flt_tbatch_health(const struct flt_health_sample *h, const struct flt_health_mqtt *prev,
                       uint64_t interval_s, struct flt_sample *out)
{
	memset(out, 0, sizeof(*out));
	out->type = FLT_SAMPLE_HEALTH;
	out->time = h->time_ms > 0 ? h->time_ms / 1000 : 0;
	out->interval_s = safe(interval_s);
	struct flt_health *w = &out->u.health;
	w->cpu_pct = isfinite(h->cpu_pct) && h->cpu_pct > 0
	                 ? (h->cpu_pct > WIRE_MAX_CPU_PCT ? WIRE_MAX_CPU_PCT : h->cpu_pct)
	                 : 0;
	w->rss_bytes = safe(h->mem.rss);
	w->has_pss = h->mem.has_pss;
	if (h->mem.has_pss) {
		w->pss_bytes = safe(h->mem.pss);
		w->private_bytes = safe(h->mem.private_mem);
	}
	w->mem_total_bytes = safe(h->mem_total);
	w->mem_avail_bytes = safe(h->mem_available);
	w->disk_free_bytes = safe(h->disk_free);
	w->disk_total_bytes = safe(h->disk_total);
	w->uptime_s = h->uptime_s > 0 ? safe((uint64_t)h->uptime_s) : 0;
	if (h->has_temp && isfinite(h->temp_c) && h->temp_c >= -273.15 && h->temp_c <= 1000) {
		w->has_temp = true;
		w->temp_c = h->temp_c;
	}
	/* flt/health.h and flt/msg.h order the purposes the same way. */
	_Static_assert((int)FLT_HEALTH_PURPOSE_COUNT_ == (int)FLT_WIRE_PURPOSE_COUNT_, "purposes");
	_Static_assert((int)FLT_HEALTH_MQTT_CHUNKS == (int)FLT_WIRE_PURPOSE_CHUNKS, "purposes");
	_Static_assert((int)FLT_HEALTH_MQTT_TELEMETRY == (int)FLT_WIRE_PURPOSE_TELEMETRY,
	               "purposes");
	_Static_assert((int)FLT_HEALTH_MQTT_STATE == (int)FLT_WIRE_PURPOSE_STATE, "purposes");
	_Static_assert((int)FLT_HEALTH_MQTT_OTHER == (int)FLT_WIRE_PURPOSE_OTHER, "purposes");
	for (int i = 0; i < FLT_HEALTH_PURPOSE_COUNT_; i++) {
		w->mqtt_sent[i] = delta(h->mqtt.sent[i], prev ? prev->sent[i] : 0);
		w->mqtt_received[i] = delta(h->mqtt.received[i], prev ? prev->received[i] : 0);
	}
}

flt_err flt_tbatch_model(const struct flt_usage_entry *e, int64_t time_s, uint64_t interval_s,
                         struct flt_sample *out)
{
	if (!e || !out || e->version == 0 || time_s < 0)
		return FLT_EINVAL;
	memset(out, 0, sizeof(*out));
	out->type = FLT_SAMPLE_MODEL;
	out->time = time_s;
	out->interval_s = safe(interval_s);
	struct flt_model_usage *m = &out->u.model;
	memcpy(m->name, e->model, sizeof(m->name));
	m->name[sizeof(m->name) - 1] = '\0';
	m->version = safe(e->version);
	m->requests = safe(e->requests);
	_Static_assert(FLT_USAGE_OUTCOME_COUNT_ - 1 == FLT_MODEL_ERR_COUNT_, "error kinds");
	_Static_assert(FLT_USAGE_BAD_INPUT - 1 == FLT_MODEL_ERR_BAD_INPUT, "error kinds");
	_Static_assert(FLT_USAGE_RUNTIME - 1 == FLT_MODEL_ERR_RUNTIME, "error kinds");
	_Static_assert(FLT_USAGE_BUSY - 1 == FLT_MODEL_ERR_BUSY, "error kinds");
	_Static_assert(FLT_USAGE_TIMEOUT - 1 == FLT_MODEL_ERR_TIMEOUT, "error kinds");
	_Static_assert(FLT_USAGE_INTERNAL - 1 == FLT_MODEL_ERR_INTERNAL, "error kinds");
	for (int k = 0; k < FLT_MODEL_ERR_COUNT_; k++)
		m->errors[k] = safe(e->errors[k + 1]);
	m->p50_us = (flt_usage_hist_percentile(&e->latency, 50) + 500) / 1000;
	m->p95_us = (flt_usage_hist_percentile(&e->latency, 95) + 500) / 1000;
	m->p99_us = (flt_usage_hist_percentile(&e->latency, 99) + 500) / 1000;
	m->bytes_in = safe(e->bytes_in);
	m->bytes_out = safe(e->bytes_out);
	m->last_used = e->last_used_ms > 0 ? e->last_used_ms / 1000 : 0;
	return FLT_OK;
}

static flt_err append_sample(struct flt_tq *q, const struct flt_sample *s)
{
	char *item = NULL;
	size_t len = 0;
	flt_err err = flt_sample_item_encode(s, &item, &len);
	if (err != FLT_OK) {
		flt_log_err("cannot encode telemetry sample: %s", flt_strerror(err));
		return err;
	}
	err = flt_tq_append(q, FLT_TBATCH_TELEMETRY, item, len, NULL);
	flt_free(item);
	return err;
}

flt_err flt_tbatch_enqueue(struct flt_tq *q, const struct flt_health_sample *h,
                           const struct flt_health_mqtt *prev, const struct flt_usage_snapshot *u,
                           uint64_t interval_s, size_t *appended)
{
	size_t n = 0;
	flt_err err = FLT_OK;
	struct flt_sample s;
	if (!q || !h) {
		err = FLT_EINVAL;
		goto out;
	}
	flt_tbatch_health(h, prev, interval_s, &s);
	if ((err = append_sample(q, &s)) != FLT_OK)
		goto out;
	n++;
	for (size_t i = 0; u && i < u->n; i++) {
		err = flt_tbatch_model(&u->entries[i], u->until_ms / 1000, interval_s, &s);
		if (err == FLT_OK)
			err = append_sample(q, &s);
		if (err != FLT_OK)
			goto out;
		n++;
	}
out:
	if (appended)
		*appended = n;
	return err;
}

flt_err flt_tbatch_encode(const struct flt_tq_batch *b, char **out, size_t *len)
{
	struct flt_stream_item items[FLT_MAX_STREAM_BATCH];
	struct flt_json_err jerr;
	flt_err err;

	if (!b || !out || !len || b->n == 0 || b->n > FLT_MAX_STREAM_BATCH)
		return FLT_EINVAL;
	memset(&jerr, 0, sizeof(jerr));
	for (size_t i = 0; i < b->n; i++) {
		items[i].seq = b->items[i].seq;
		items[i].data = (const char *)b->items[i].data;
		items[i].len = b->items[i].len;
	}
	if (strcmp(b->stream, FLT_TBATCH_TELEMETRY) == 0) {
		struct flt_telemetry_batch *t = NULL;
		err = flt_telemetry_from_items(b->epoch, b->low_seq, b->dropped, items, b->n, &t,
		                               &jerr);
		if (err == FLT_OK)
			err = flt_telemetry_encode(t, out, len);
		flt_telemetry_free(t);
	} else if (strcmp(b->stream, FLT_TBATCH_EVENTS) == 0) {
		struct flt_event_batch *e = NULL;
		err =
		    flt_events_from_items(b->epoch, b->low_seq, b->dropped, items, b->n, &e, &jerr);
		if (err == FLT_OK)
			err = flt_events_encode(e, out, len);
		flt_events_free(e);
	} else {
		return FLT_EINVAL;
	}
	if (err != FLT_OK)
		flt_log_err("cannot encode %s batch %" PRIu64 "..%" PRIu64 ": %s (%s)", b->stream,
		            b->first_seq, b->last_seq, flt_strerror(err), jerr.msg);
	return err == FLT_OK ? FLT_OK : (err == FLT_ENOMEM || err == FLT_EINVAL ? err : FLT_EPARSE);
}
