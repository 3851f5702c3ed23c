/* Ingest of what devices report: up/state (devices, capabilities, where each
 * version runs), up/status (online/offline), and the events and telemetry
 * streams, stored in batched transactions, deduplicated by (device, stream,
 * epoch, seq) and acknowledged per docs/telemetry.md ("Receiving"). */
#include <stdio.h>
#include <string.h>

#define FLT_LOG_MODULE "serve"
#include "flt/alloc.h"
#include "flt/log.h"
#include "serve_loop.h"

static flt_err dep_update_release(struct flt_registry *r, const char *dev,
                                  const struct flt_state_release *rel, int64_t now)
{
	sqlite3_stmt *st = NULL;
	int row = 0;
	int64_t vid = 0, open_id = 0, open_version = 0;
	flt_err e;
	char state[32];
	bool dep_here = rel->has_deployment && rel->deployment_version == rel->active;
	if (dep_here)
		snprintf(state, sizeof(state), "%s", flt_step_name(rel->step));
	else if (rel->active && rel->committed == rel->active)
		snprintf(state, sizeof(state), "committed");
	else
		snprintf(state, sizeof(state), "active");
	if ((e = reg_stmt(r, REG_Q_DEP_OPEN_FOR_NAME, &st)) != FLT_OK ||
	    (e = reg_bind(r, st, "tt", dev, rel->name)) != FLT_OK ||
	    (e = reg_step(r, st, &row)) != FLT_OK)
		return e;
	if (row) {
		open_id = sqlite3_column_int64(st, 0);
		open_version = sqlite3_column_int64(st, 2);
	}
	const char *depid = dep_here && rel->deployment_id[0] ? rel->deployment_id : NULL;
	if (open_id && rel->active && (uint64_t)open_version == rel->active)
		return reg_exec(r, REG_Q_DEP_SET_STATE, "itT", open_id, state, depid);
	if (open_id && (e = reg_exec(r, REG_Q_DEP_CLOSE, "ii", open_id, now)) != FLT_OK)
		return e;
	if (!rel->active)
		return FLT_OK;
	e = reg_query_int(r, REG_Q_VERSION_BY_NAME, &vid, "ti", rel->name, (int64_t)rel->active);
	if (e == FLT_ENOTFOUND) /* a model this registry does not know (local install) */
		return FLT_OK;
	if (e)
		return e;
	return reg_exec(r, REG_Q_DEP_INSERT, "titiT", dev, vid, state, now, depid);
}

/* Closes open deployments of models the device no longer runs. */
static flt_err dep_close_missing(struct flt_registry *r, const char *dev, const struct flt_state *s,
                                 int64_t now)
{
	sqlite3_stmt *st = NULL;
	int row = 0;
	int64_t close_ids[64];
	size_t n = 0;
	flt_err e = reg_stmt(r, REG_Q_DEP_OPEN_ALL, &st);
	if (!e)
		e = reg_bind(r, st, "t", dev);
	while (!e && !(e = reg_step(r, st, &row)) && row) {
		const char *name = (const char *)sqlite3_column_text(st, 1);
		bool running = false;
		for (size_t i = 0; i < s->n_releases; i++)
			if (s->releases[i].kind == FLT_KIND_MODEL && s->releases[i].active &&
			    name && !strcmp(s->releases[i].name, name))
				running = true;
		if (!running && n < 64)
			close_ids[n++] = sqlite3_column_int64(st, 0);
	}
	for (size_t i = 0; !e && i < n; i++)
		e = reg_exec(r, REG_Q_DEP_CLOSE, "ii", close_ids[i], now);
	return e;
}

void serve_on_state(struct serve *s, const char *dev, const uint8_t *p, size_t len)
{
	struct flt_state *st = NULL;
	struct flt_json_err jerr;
	char *text = NULL;
	int64_t now = reg_now_ms();
	memset(&jerr, 0, sizeof(jerr));
	if (len == 0 || serve_device_revoked(s, dev)) /* a cleared topic; a revoked device */
		return;
	flt_err e = flt_state_parse((const char *)p, len, &st, &jerr);
	if (e) {
		flt_log_warn("device %s: up/state refused: %s", dev, flt_strerror(e));
		return;
	}
	if (strcmp(st->device_id, dev)) {
		flt_log_warn("device %s: up/state names device %s; ignored", dev, st->device_id);
		goto out;
	}
	if (!(text = flt_malloc(len + 1)))
		goto out;
	memcpy(text, p, len);
	text[len] = '\0';
	serve_db_idle(s->reg);
	if ((e = reg_begin(s->reg)) != FLT_OK)
		goto out;
	e = reg_exec(s->reg, REG_Q_DEV_UPSERT_SEEN, "ti", dev, now);
	if (!e)
		e = reg_exec(s->reg, REG_Q_DEV_SET_STATE, "ttittiii", dev, text, now, st->arch,
		             st->board, (int64_t)st->ram_bytes, (int64_t)st->max_packet_size,
		             (int64_t)st->agent_version);
	for (size_t i = 0; !e && i < st->n_releases; i++)
		e = dep_update_release(s->reg, dev, &st->releases[i], now);
	if (!e)
		e = dep_close_missing(s->reg, dev, st, now);
	if (!e)
		e = reg_commit(s->reg);
	else
		reg_rollback(s->reg);
	if (e)
		flt_log_err("device %s: cannot store its state: %s", dev, flt_strerror(e));
	else
		s->dirty = true; /* capabilities may change what it can be sent */
out:
	flt_free(text);
	flt_state_free(st);
}

void serve_on_status(struct serve *s, const char *dev, const uint8_t *p, size_t len)
{
	struct flt_status stt;
	int64_t now = reg_now_ms();
	if (len == 0 || serve_device_revoked(s, dev))
		return;
	flt_err e = flt_status_parse((const char *)p, len, &stt, NULL);
	if (e) {
		flt_log_warn("device %s: up/status refused: %s", dev, flt_strerror(e));
		return;
	}
	serve_db_idle(s->reg);
	if ((e = reg_begin(s->reg)) != FLT_OK)
		return;
	e = reg_exec(s->reg, REG_Q_DEV_UPSERT_SEEN, "ti", dev, now);
	if (!e)
		e = reg_exec(s->reg, REG_Q_DEV_SET_STATUS, "tii", dev,
		             (int64_t)(stt.online ? 1 : 0), now);
	if (!e)
		e = reg_commit(s->reg);
	else
		reg_rollback(s->reg);
	if (e)
		flt_log_err("device %s: cannot store its status: %s", dev, flt_strerror(e));
	else {
		flt_log_info("device %s %s", dev, stt.online ? "online" : "offline");
		s->dirty = true;
	}
}

void serve_queue_stream(struct serve *s, const char *dev, enum flt_stream stream, const uint8_t *p,
                        size_t len)
{
	struct serve_stream_msg *m = NULL;
	flt_err e;
	if (serve_device_revoked(s, dev) || !(m = flt_calloc(1, sizeof(*m))))
		return;
	snprintf(m->dev, sizeof(m->dev), "%s", dev);
	m->stream = stream;
	if (stream == FLT_STREAM_EVENTS)
		e = flt_events_parse((const char *)p, len, &m->events, NULL);
	else
		e = flt_telemetry_parse((const char *)p, len, &m->telemetry, NULL);
	if (e) {
		flt_log_warn("device %s: %s batch refused: %s", dev, flt_stream_name(stream),
		             flt_strerror(e));
		flt_free(m);
		return;
	}
	if (!s->pending) {
		s->pending_tail = &s->pending;
		s->pending_since_ms = reg_now_ms();
	}
	*s->pending_tail = m;
	s->pending_tail = &m->next;
	s->n_pending++;
}

static void stream_msg_free(struct serve_stream_msg *m)
{
	while (m) {
		struct serve_stream_msg *n = m->next;
		flt_events_free(m->events);
		flt_telemetry_free(m->telemetry);
		flt_free(m);
		m = n;
	}
}

static flt_err store_event(struct flt_registry *r, const char *dev, uint64_t epoch,
                           const struct flt_event *ev, int64_t now_ms)
{
	return reg_exec(r, REG_Q_EVENT_INSERT, "tiiittiTttti", dev, (int64_t)epoch,
	                (int64_t)ev->seq, ev->time, flt_kind_name(ev->kind), ev->name,
	                (int64_t)ev->version, ev->deployment_id[0] ? ev->deployment_id : NULL,
	                flt_step_name(ev->step), flt_reason_name(ev->reason), ev->message, now_ms);
}

static flt_err store_sample(struct flt_registry *r, const char *dev, uint64_t epoch,
                            const struct flt_sample *sm)
{
	if (sm->type == FLT_SAMPLE_MODEL) {
		const struct flt_model_usage *u = &sm->u.model;
		uint64_t errors = 0;
		for (int i = 0; i < FLT_MODEL_ERR_COUNT_; i++)
			errors += u->errors[i];
		return reg_exec(r, REG_Q_TM_MODEL_INSERT, "tiiiitiiiiiiiii", dev, (int64_t)epoch,
		                (int64_t)sm->seq, sm->time, (int64_t)sm->interval_s, u->name,
		                (int64_t)u->version, (int64_t)u->requests, (int64_t)errors,
		                (int64_t)u->crashes, (int64_t)u->p50_us, (int64_t)u->p95_us,
		                (int64_t)u->p99_us, (int64_t)u->bytes_in, (int64_t)u->bytes_out);
	}
	const struct flt_health *h = &sm->u.health;
	double temp = h->temp_c;
	return reg_exec(r, REG_Q_TM_HEALTH_INSERT, "tiiidiiiD", dev, (int64_t)epoch,
	                (int64_t)sm->seq, sm->time, h->cpu_pct, (int64_t)h->rss_bytes,
	                (int64_t)h->mem_avail_bytes, (int64_t)h->disk_free_bytes,
	                h->has_temp ? &temp : (const double *)NULL);
}

/* One batch under the receiver's rules; the caller holds the transaction. */
static flt_err store_one(struct flt_registry *r, struct serve_stream_msg *m, int64_t now_ms,
                         uint64_t *stored)
{
	sqlite3_stmt *st = NULL;
	int row = 0;
	const char *sname = flt_stream_name(m->stream);
	uint64_t epoch, low, dropped, first, last, n;
	uint64_t cur_epoch = 0, h = 0, cur_dropped = 0;
	if (m->events) {
		epoch = m->events->epoch, low = m->events->low_seq, dropped = m->events->dropped;
		n = m->events->n;
		first = m->events->events[0].seq, last = m->events->events[n - 1].seq;
	} else {
		epoch = m->telemetry->epoch, low = m->telemetry->low_seq;
		dropped = m->telemetry->dropped, n = m->telemetry->n;
		first = m->telemetry->samples[0].seq, last = m->telemetry->samples[n - 1].seq;
	}
	flt_err e = reg_stmt(r, REG_Q_HEAD_GET, &st);
	if (!e)
		e = reg_bind(r, st, "tt", m->dev, sname);
	if (!e)
		e = reg_step(r, st, &row);
	if (e)
		return e;
	if (row) {
		cur_epoch = (uint64_t)sqlite3_column_int64(st, 0);
		h = (uint64_t)sqlite3_column_int64(st, 1);
		cur_dropped = (uint64_t)sqlite3_column_int64(st, 2);
	}
	if (cur_epoch != epoch) { /* a new or reset queue */
		h = 0;
		cur_dropped = 0;
	}
	if (low > h + 1)
		h = low - 1;
	if (dropped > cur_dropped)
		cur_dropped = dropped;
	if (first <= h + 1) {
		for (uint64_t i = 0; i < n && !e; i++) {
			if (m->events) {
				if (m->events->events[i].seq <= h)
					continue;
				e = store_event(r, m->dev, epoch, &m->events->events[i], now_ms);
			} else {
				if (m->telemetry->samples[i].seq <= h)
					continue;
				e = store_sample(r, m->dev, epoch, &m->telemetry->samples[i]);
			}
			if (!e)
				(*stored)++;
		}
		if (e)
			return e;
		if (last > h)
			h = last;
	} else {
		/* An earlier batch was lost; drop this one, the agent rewinds. Said
		 * out loud: a silent drop here once looked like lost events. */
		flt_log_info("device %s: %s batch starts at seq %llu but %llu is stored; dropped "
		             "until the device re-sends from there",
		             m->dev, sname, (unsigned long long)first, (unsigned long long)h);
	}
	return reg_exec(r, REG_Q_HEAD_PUT, "ttiii", m->dev, sname, (int64_t)epoch, (int64_t)h,
	                (int64_t)cur_dropped);
}

flt_err serve_store_streams(struct flt_registry *r, struct serve_stream_msg *list, int64_t now_ms,
                            uint64_t *stored)
{
	uint64_t n = 0;
	serve_db_idle(r);
	flt_err e = reg_begin(r);
	if (e)
		return e;
	/* Devices also count as seen when they send streams. */
	for (struct serve_stream_msg *m = list; m && !e; m = m->next) {
		e = reg_exec(r, REG_Q_DEV_UPSERT_SEEN, "ti", m->dev, now_ms);
		if (!e)
			e = store_one(r, m, now_ms, &n);
	}
	if (e) {
		reg_rollback(r);
		return e;
	}
	if ((e = reg_commit(r)) != FLT_OK)
		return e;
	if (stored)
		*stored += n;
	return FLT_OK;
}

flt_err serve_publish_ack(struct serve *s, const char *dev)
{
	struct flt_ack ack;
	sqlite3_stmt *st = NULL;
	int row = 0;
	char topic[256], *json = NULL;
	size_t len = 0;
	flt_err e = FLT_OK;
	memset(&ack, 0, sizeof(ack));
	for (int k = 0; k < FLT_STREAM_COUNT_ && !e; k++) {
		if ((e = reg_stmt(s->reg, REG_Q_HEAD_GET, &st)) != FLT_OK ||
		    (e = reg_bind(s->reg, st, "tt", dev, flt_stream_name((enum flt_stream)k))) !=
		        FLT_OK ||
		    (e = reg_step(s->reg, st, &row)) != FLT_OK)
			break;
		if (!row)
			continue;
		ack.acks[ack.n].stream = (enum flt_stream)k;
		ack.acks[ack.n].epoch = (uint64_t)sqlite3_column_int64(st, 0);
		ack.acks[ack.n].seq = (uint64_t)sqlite3_column_int64(st, 1);
		ack.n++;
	}
	if (e || ack.n == 0)
		return e;
	if ((e = flt_ack_encode(&ack, &json, &len)) != FLT_OK)
		return e;
	if (!(e = serve_topic(topic, sizeof(topic), dev, "down/ack")))
		e = flt_mqtt_publish(s->mq, topic, json, len, 1, true, FLT_MQTT_PURPOSE_TELEMETRY,
		                     NULL);
	flt_free(json);
	return e;
}

void serve_flush_streams(struct serve *s)
{
	struct serve_stream_msg *list = s->pending;
	if (!list)
		return;
	s->pending = NULL;
	s->pending_tail = &s->pending;
	s->n_pending = 0;
	flt_err e = serve_store_streams(s->reg, list, reg_now_ms(), &s->ingested_items);
	if (e) {
		/* Nothing was acknowledged: the agents re-send. */
		flt_log_err("cannot store %s batches: %s; devices will re-send", "stream",
		            flt_strerror(e));
		stream_msg_free(list);
		return;
	}
	for (struct serve_stream_msg *m = list; m; m = m->next) {
		bool seen = false;
		for (struct serve_stream_msg *o = list; o != m; o = o->next)
			if (!strcmp(o->dev, m->dev))
				seen = true;
		if (seen)
			continue;
		flt_err pe = serve_publish_ack(s, m->dev);
		if (pe)
			flt_log_warn(
			    "device %s: ack not published (%s); sent again with the next batch",
			    m->dev, flt_strerror(pe));
	}
	stream_msg_free(list);
}

flt_err serve_retention(struct flt_registry *r, int64_t now, int64_t telemetry_keep_s,
                        int64_t events_keep_s)
{
	serve_db_idle(r);
	flt_err e = reg_begin(r);
	if (e)
		return e;
	int64_t tcut = now - telemetry_keep_s, ecut = now - events_keep_s;
	e = reg_exec(r, REG_Q_RETENTION_ROLLUP, "i", tcut);
	if (!e)
		e = reg_exec(r, REG_Q_RETENTION_MODEL_DELETE, "i", tcut);
	if (!e)
		e = reg_exec(r, REG_Q_RETENTION_HEALTH_DELETE, "i", tcut);
	if (!e)
		e = reg_exec(r, REG_Q_RETENTION_EVENTS_DELETE, "i", ecut);
	if (e) {
		reg_rollback(r);
		return e;
	}
	return reg_commit(r);
}
