/* What the agent tells the controller: install events through the durable
 * queue (up/events, deleted on down/ack), health telemetry batches
 * (up/telemetry) and the retained reported state (up/state). */
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#define FLT_LOG_MODULE "agent.events"
#include "agentd_int.h"
#include "flt/alloc.h"
#include "flt/config.h"
#include "flt/health.h"
#include "flt/log.h"
#include "flt/sys.h"
#include "flt/telemetry_batch.h"

void events_emit(struct flt_agentd *a, const struct agentd_model *m, enum flt_step step,
                 enum flt_reason r, const char *msg)
{
	struct flt_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.time = agentd_now();
	ev.kind = FLT_KIND_MODEL;
	snprintf(ev.name, sizeof(ev.name), "%s", m->name);
	ev.version = m->version;
	if (!m->local)
		snprintf(ev.deployment_id, sizeof(ev.deployment_id), "%s", m->deployment_id);
	ev.step = step;
	ev.reason = r;
	snprintf(ev.message, sizeof(ev.message), "%s", msg ? msg : "");
	char *text = NULL;
	size_t len = 0;
	uint64_t seq = 0;
	a->state_dirty = true;
	if (flt_event_item_encode(&ev, &text, &len) || !a->q ||
	    flt_tq_append(a->q, FLT_TBATCH_EVENTS, text, len, &seq)) {
		flt_log_err("event %s/%s for %s not queued", flt_step_name(step),
		            flt_reason_name(r), m->name);
	} else {
		a->counters.events++;
		flt_log_info("event %llu: %s v%llu %s %s %s", (unsigned long long)seq, m->name,
		             (unsigned long long)m->version, flt_step_name(step),
		             flt_reason_name(r), ev.message);
	}
	flt_free(text);
	a->next_event_send_ms = 0;
}

static void send_stream(struct flt_agentd *a, const char *stream, const char *topic)
{
	for (int rounds = 0; rounds < 8; rounds++) {
		struct flt_tq_batch *b = NULL;
		char *text = NULL;
		size_t len = 0;
		if (flt_tq_next_batch(a->q, stream, FLT_MAX_STREAM_BATCH, 128u * 1024u, &b))
			return;
		flt_err e = flt_tbatch_encode(b, &text, &len);
		if (!e) {
			agentd_publish(a, topic, text, len, false, NET_TELEMETRY);
			if (!a->connected)
				e = FLT_ENOCONN;
		}
		flt_free(text);
		flt_tq_batch_free(b);
		if (e) {
			flt_tq_rewind(a->q, stream);
			return;
		}
	}
}

void events_send(struct flt_agentd *a)
{
	if (!a->connected || !a->q)
		return;
	send_stream(a, FLT_TBATCH_EVENTS, "up/events");
	send_stream(a, FLT_TBATCH_TELEMETRY, "up/telemetry");
}

void events_on_ack(struct flt_agentd *a, const uint8_t *buf, size_t len)
{
	struct flt_ack ack;
	if (flt_ack_parse((const char *)buf, len, &ack, NULL))
		return;
	for (size_t i = 0; i < ack.n; i++) {
		size_t deleted = 0;
		if (flt_tq_ack(a->q, flt_stream_name(ack.acks[i].stream), ack.acks[i].epoch,
		               ack.acks[i].seq, &deleted))
			flt_log_warn("ack not applied");
	}
}

static uint64_t ram_bytes(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
	return pages > 0 && psz > 0 ? (uint64_t)pages * (uint64_t)psz : 0;
}

flt_err state_build(const struct flt_agentd *a, struct flt_state **out)
{
	struct flt_state *s = flt_calloc(1, sizeof(*s));
	if (!s)
		return FLT_ENOMEM;
	flt_err e = FLT_ENOMEM;
	snprintf(s->device_id, sizeof(s->device_id), "%s", a->conf.device_id);
	s->time = agentd_now();
	snprintf(s->arch, sizeof(s->arch), "%s", FLT_ARCH);
	snprintf(s->board, sizeof(s->board), "%s",
	         flt_ident_valid(a->conf.board) ? a->conf.board : "generic");
	s->ram_bytes = ram_bytes();
	if (flt_sys_disk_free(a->conf.data_dir, &s->disk_free_bytes))
		s->disk_free_bytes = 0;
	s->max_packet_size = a->conf.max_packet;
	s->agent_version = FLT_AGENT_VERSION;
	snprintf(s->runtime_version, sizeof(s->runtime_version), "%s", flt_runtime_version());
	s->clock_synced = !a->clock_unsynced;
	size_t nops = flt_rt_op_count();
	if (nops > FLT_STATE_MAX_OPERATORS)
		nops = FLT_STATE_MAX_OPERATORS;
	if (!(s->operators = flt_calloc(nops ? nops : 1, sizeof(*s->operators))))
		goto out;
	for (size_t i = 0; i < nops; i++) {
		struct flt_rt_op_info oi;
		flt_rt_op_get(i, &oi);
		snprintf(s->operators[i].domain, sizeof(s->operators[i].domain), "%s", oi.domain);
		snprintf(s->operators[i].op_type, sizeof(s->operators[i].op_type), "%s",
		         oi.op_type);
		s->operators[i].since = oi.since > 0 ? (uint64_t)oi.since : 1;
		s->operators[i].until = oi.until > 0 ? (uint64_t)oi.until : 0;
	}
	s->n_operators = nops;
	if (!(s->releases = flt_calloc(a->n_models ? a->n_models : 1, sizeof(*s->releases))))
		goto out;
	for (size_t i = 0; i < a->n_models; i++) {
		const struct agentd_model *m = &a->models[i];
		struct flt_state_release *r = &s->releases[s->n_releases++];
		r->kind = FLT_KIND_MODEL;
		snprintf(r->name, sizeof(r->name), "%s", m->name);
		uint64_t vs[3] = {m->previous, m->committed, m->active};
		for (int k = 0; k < 3; k++) {
			bool dup = !vs[k];
			for (size_t x = 0; x < r->n_installed && !dup; x++)
				dup = r->installed[x] == vs[k];
			if (!dup)
				r->installed[r->n_installed++] = vs[k];
		}
		for (size_t x = 1; x < r->n_installed; x++) /* ascending */
			for (size_t y = x; y > 0 && r->installed[y - 1] > r->installed[y]; y--) {
				uint64_t t = r->installed[y];
				r->installed[y] = r->installed[y - 1];
				r->installed[y - 1] = t;
			}
		r->active = m->active;
		r->committed = m->committed;
		if (m->has_dep && !m->local && m->deployment_id[0]) {
			r->has_deployment = true;
			snprintf(r->deployment_id, sizeof(r->deployment_id), "%s",
			         m->deployment_id);
			r->deployment_version = m->version;
			r->step = m->step;
			r->reason = m->reason;
		}
	}
	if (a->last_error != FLT_REASON_NONE) {
		s->has_last_error = true;
		s->last_error_reason = a->last_error;
		snprintf(s->last_error_message, sizeof(s->last_error_message), "%s",
		         a->last_error_msg);
	}
	*out = s;
	s = NULL;
	e = FLT_OK;
out:
	flt_state_free(s);
	return e;
}

void state_publish(struct flt_agentd *a)
{
	struct flt_state *s = NULL;
	char *text = NULL;
	size_t len = 0;
	struct flt_json_err jerr = {0};
	if (state_build(a, &s))
		return;
	flt_err e = flt_state_validate(s, &jerr);
	if (!e)
		e = flt_state_encode(s, &text, &len);
	if (e)
		flt_log_err("reported state does not encode: %s", jerr.msg);
	else
		agentd_publish(a, "up/state", text, len, true, NET_STATE);
	if (!e && a->connected)
		a->state_dirty = false;
	flt_free(text);
	flt_state_free(s);
}
