/* The agent daemon: one struct flt_agentd per device holding everything
 * (no globals); the loop drains MQTT events, reconciles desired against
 * installed, drives each model's install job, probation and the outbound
 * queue, and sleeps until its next deadline. Design: docs/agent.md. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define FLT_LOG_MODULE "agent"
#include "agentd_int.h"
#include "flt/alloc.h"
#include "flt/atomicfile.h"
#include "flt/log.h"
#include "flt/sys.h"
#include "flt/health.h"
#include "flt/usage.h"
#include "flt/tls_clock.h"
#include "flt/telemetry_batch.h"

#define DESIRED_REFUSED  "desired-state"
#define QUEUE_RESET_NAME "telemetry-queue"
#define CONNECT_NAME     "broker-connection"

int64_t agentd_now(void)
{
	return flt_sys_wall_ms() / 1000;
}

void agentd_publish(struct flt_agentd *a, const char *sub, const void *data, size_t len,
                    bool retained, enum net_purpose p)
{
	char topic[256];
	if (!a->net || !a->connected)
		return;
	snprintf(topic, sizeof(topic), "%s/%s", a->topic_root, sub);
	flt_err e = net_publish(a->net, topic, data, len, retained, p);
	if (e)
		flt_log_dbg("publish %s failed: %s", sub, flt_strerror(e));
}

/* ---- root keys ---- */

static flt_err load_roots(struct flt_agentd *a)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	flt_err e = flt_file_read_all(a->conf.root_keys, 1024u * 1024u, &buf, &len, "agent.roots");
	if (e) {
		flt_log_err("cannot read root keys %s: %s", a->conf.root_keys, flt_strerror(e));
		return e;
	}
	/* one or more PEM blocks, each imported on its own */
	const char *p = (const char *)buf, *end = (const char *)buf + len;
	static const char endm[] = "-----END PUBLIC KEY-----";
	while (p < end && a->nroots < FLT_TRUST_MAX_KEYS) {
		const char *b = strstr(p, "-----BEGIN PUBLIC KEY-----");
		if (!b)
			break;
		const char *x = strstr(b, endm);
		if (!x) {
			e = FLT_EPARSE;
			break;
		}
		x += sizeof(endm) - 1;
		flt_key *k = NULL;
		if ((e = flt_key_import_public((const uint8_t *)b, (size_t)(x - b), &k)))
			break;
		a->roots[a->nroots++] = k;
		if ((e = flt_trust_set_add(&a->root_set, k)))
			break;
		p = x;
	}
	flt_free(buf);
	if (!e && !a->nroots)
		e = FLT_EPARSE;
	if (e)
		flt_log_err("root keys %s: no usable PEM public key (%s)", a->conf.root_keys,
		            flt_strerror(e));
	a->root_set.threshold = (unsigned)a->conf.root_threshold;
	return e;
}

/* ---- reconcile ---- */

void agentd_job_start(struct flt_agentd *a, struct agentd_model *m)
{
	struct flt_manifest *man = NULL;
	enum flt_reason r = FLT_REASON_NONE;
	char msg[FLT_MAX_MESSAGE + 1] = "";
	install_job_free(m);
	if (verify_release(a, m, m->envelope, strlen(m->envelope), m->name, &man, &m->version, &r,
	                   msg, sizeof(msg))) {
		install_fail(a, m, r, msg);
		return;
	}
	m->version = man->version;
	m->latency_ms_max =
	    man->latency_ms_max > UINT32_MAX ? UINT32_MAX : (uint32_t)man->latency_ms_max;
	if (!m->local && store_is_bad(m, man->version, m->deployment_id)) {
		flt_manifest_free(man);
		install_fail(a, m, FLT_REASON_MARKED_BAD,
		             "version marked bad under this deployment");
		return;
	}
	if (man->version == m->active && man->version == m->committed) {
		flt_manifest_free(man);
		m->step = FLT_STEP_COMMITTED;
		flt_free(m->envelope);
		m->envelope = NULL;
		if (store_save(a, "install.state"))
			flt_log_warn("%s: state not persisted", m->name);
		events_emit(a, m, FLT_STEP_COMMITTED, FLT_REASON_NONE, "already committed");
		return;
	}
	if (!(m->job = flt_calloc(1, sizeof(*m->job)))) {
		flt_manifest_free(man);
		install_fail(a, m, FLT_REASON_INTERNAL, "out of memory");
		return;
	}
	m->job->man = man;
	m->job->f.fd = -1;
	install_set_step(a, m, FLT_STEP_DOWNLOADING);
	if (fetch_begin(a, m)) {
		install_fail(a, m, FLT_REASON_IO_ERROR, "cannot start the download");
		return;
	}
	fetch_tick(a, m, flt_sys_mono_ms());
}

static void start_deployment(struct flt_agentd *a, struct agentd_model *m,
                             const struct flt_desired_entry *de, const uint8_t sha[FLT_SHA256_LEN])
{
	if (m->job && m->step < FLT_STEP_ACTIVATING) {
		enum flt_reason keep = FLT_REASON_SUPERSEDED;
		install_fail(a, m, keep, "a newer desired state replaced this install");
	}
	flt_free(m->envelope);
	if (!(m->envelope = flt_strdup(de->envelope))) {
		flt_log_err("out of memory");
		return;
	}
	m->has_dep = true;
	m->local = false;
	m->from_desired = true;
	snprintf(m->deployment_id, sizeof(m->deployment_id), "%s", de->deployment_id);
	memcpy(m->env_sha, sha, FLT_SHA256_LEN);
	m->prob = de->probation;
	m->prob.probation_s = flt_agentd_probation_s(&a->conf, m->prob.probation_s);
	m->version = 0;
	m->step = FLT_STEP_VERIFYING;
	m->reason = FLT_REASON_NONE;
	events_emit(a, m, FLT_STEP_VERIFYING, FLT_REASON_NONE, "");
	agentd_job_start(a, m);
}

void agentd_reconcile(struct flt_agentd *a)
{
	if (!a->desired || !a->kl)
		return;
	const struct flt_desired *d = a->desired;
	ota_boot_report(a);
	for (size_t i = 0; i < d->n_entries; i++) {
		const struct flt_desired_entry *de = &d->entries[i];
		if (de->kind != FLT_KIND_MODEL) {
			ota_reconcile_entry(a, de); /* agent and firmware releases: ota_install.c */
			continue;
		}
		uint8_t sha[FLT_SHA256_LEN];
		if (flt_sha256(de->envelope, de->envelope_len, sha))
			continue;
		struct agentd_model *m = store_model(a, de->name, true);
		if (!m)
			continue;
		if (m->has_dep && !m->local && !strcmp(m->deployment_id, de->deployment_id) &&
		    flt_ct_equal(m->env_sha, sha, sizeof(sha)))
			continue; /* this deployment is done or in progress: idempotent */
		if (m->step == FLT_STEP_PROBATION && m->active == m->version && m->has_dep)
			continue; /* finish probation first; reconciled again afterwards */
		start_deployment(a, m, de, sha);
	}
	for (size_t i = 0; i < a->n_models;) {
		struct agentd_model *m = &a->models[i];
		if (m->from_desired && !flt_desired_find(d, FLT_KIND_MODEL, m->name)) {
			if (install_remove(a, m))
				flt_log_warn("removal not complete");
			a->state_dirty = true;
			continue; /* the array moved down */
		}
		i++;
	}
}

/* ---- incoming messages ---- */

static void refuse_desired(struct flt_agentd *a, enum flt_reason r, const char *msg,
                           const char *text, size_t len)
{
	uint8_t sha[FLT_SHA256_LEN];

	if (!flt_sha256(text, len, sha) && flt_ct_equal(sha, a->refused_sha, sizeof(sha)))
		return; /* the same retained refusal again: reported once */
	memcpy(a->refused_sha, sha, sizeof(sha));
	flt_log_warn("desired state refused: %s (%s)", flt_reason_name(r), msg);
	a->last_error = r;
	snprintf(a->last_error_msg, sizeof(a->last_error_msg), "%s", msg);
	struct agentd_model pseudo;
	memset(&pseudo, 0, sizeof(pseudo));
	snprintf(pseudo.name, sizeof(pseudo.name), "%s", DESIRED_REFUSED);
	pseudo.local = true;
	events_emit(a, &pseudo, FLT_STEP_FAILED, r, msg);
}

static void on_desired(struct flt_agentd *a, const char *text, size_t len, bool persist)
{
	struct flt_desired *d = NULL;
	enum flt_reason r = FLT_REASON_NONE;
	char msg[FLT_MAX_MESSAGE + 1] = "";
	if (!a->kl) {
		flt_free(a->pending_desired);
		a->pending_desired = flt_malloc(len + 1);
		if (a->pending_desired) {
			memcpy(a->pending_desired, text, len);
			a->pending_desired[len] = 0;
			a->pending_desired_len = len;
		}
		return;
	}
	uint64_t old_serial = a->desired_serial;
	uint8_t old_sha[FLT_SHA256_LEN];
	memcpy(old_sha, a->desired_sha, sizeof(old_sha));
	flt_err e = verify_desired(a, text, len, &d, &r, msg, sizeof(msg));
	if (e == FLT_ECONFLICT) {
		agentd_reconcile(a);
		return;
	}
	if (e) {
		refuse_desired(a, r ? r : FLT_REASON_INTERNAL, msg, text, len);
		return;
	}
	if (persist) {
		char path[AGENTD_PATH];
		if (store_path(a, path, sizeof(path), "desired.json") ||
		    flt_file_write_atomic(path, text, len, 0600, "agent.desired") ||
		    store_save(a, "agent.state")) {
			flt_log_err("desired state not persisted; will retry on redelivery");
			a->desired_serial = old_serial;
			memcpy(a->desired_sha, old_sha, sizeof(old_sha));
			flt_desired_free(d);
			return;
		}
	}
	flt_desired_free(a->desired);
	a->desired = d;
	flt_log_info("desired state serial %llu accepted (%zu entries)",
	             (unsigned long long)d->serial, d->n_entries);
	agentd_reconcile(a);
}

static bool suffix(const char *topic, const char *root, const char *sub)
{
	size_t n = strlen(root);
	return !strncmp(topic, root, n) && topic[n] == '/' && !strcmp(topic + n + 1, sub);
}

/* A failed connect whose TLS handshake failed (FLT_EAUTH) may be the clock's
 * fault: a board without a real-time clock boots in 1970, before its
 * certificate's validity. Then the report is CLOCK_UNSYNCED (or EXPIRED), not
 * a bad certificate. Each distinct cause is logged, recorded as the last error
 * and queued as an event (sent once connected) once, not on every retry. */
static void connect_failed(struct flt_agentd *a, flt_err err, const char *detail)
{
	enum flt_reason r = FLT_REASON_NONE;
	a->counters.connect_failures++;
	if (err == FLT_EAUTH)
		flt_tls_clock_diagnose(a->conf.cert_file, a->conf.ca_file, agentd_now(), &r);
	int cause = (int)err * 256 + (int)r;
	if (cause == a->conn_fail_cause)
		return;
	a->conn_fail_cause = cause;
	a->clock_unsynced = r == FLT_REASON_CLOCK_UNSYNCED;
	if (r == FLT_REASON_NONE) {
		flt_log_info("cannot connect to %s: %s%s%s", a->conf.broker, flt_strerror(err),
		             detail ? ": " : "", detail ? detail : "");
		return;
	}
	char msg[FLT_MAX_MESSAGE + 1];
	if (r == FLT_REASON_CLOCK_UNSYNCED)
		snprintf(msg, sizeof(msg),
		         "TLS handshake failed because the device clock (%lld) is before the "
		         "validity of its "
		         "certificate or CA: set the time (NTP/RTC)",
		         (long long)agentd_now());
	else
		snprintf(msg, sizeof(msg),
		         "TLS handshake failed because the device certificate or CA has expired at "
		         "this clock "
		         "(%lld): renew it or fix the time",
		         (long long)agentd_now());
	flt_log_err("%s: %s", flt_reason_name(r), msg);
	a->last_error = r;
	snprintf(a->last_error_msg, sizeof(a->last_error_msg), "%s", msg);
	if (store_save(a, "agent.state"))
		flt_log_warn("state not saved");
	struct agentd_model pseudo;
	memset(&pseudo, 0, sizeof(pseudo));
	snprintf(pseudo.name, sizeof(pseudo.name), "%s", CONNECT_NAME);
	pseudo.local = true;
	events_emit(a, &pseudo, FLT_STEP_FAILED, r, msg);
}

static void on_net(void *arg, const struct net_event *ev)
{
	struct flt_agentd *a = arg;
	switch (ev->type) {
	case NET_EV_CONNECTED: {
		a->connected = true;
		a->counters.connects++;
		a->conn_fail_cause = 0;
		if (a->clock_unsynced) {
			a->clock_unsynced = false;
			flt_log_info("connected: the clock is in range again");
		}
		flt_log_info("connected");
		static const char online[] = "{\"v\":1,\"status\":\"online\"}";
		agentd_publish(a, "up/status", online, sizeof(online) - 1, true, NET_STATE);
		fetch_resubscribe(a);
		ota_on_connected(a);
		if (a->q) {
			flt_tq_rewind(a->q, FLT_TBATCH_EVENTS);
			flt_tq_rewind(a->q, FLT_TBATCH_TELEMETRY);
		}
		a->state_dirty = true;
		a->next_event_send_ms = 0;
		agentd_reconcile(a);
		break;
	}
	case NET_EV_CONNECT_FAILED: connect_failed(a, ev->err, ev->detail); break;
	case NET_EV_DISCONNECTED:
		a->connected = false;
		flt_log_info("disconnected");
		break;
	case NET_EV_MESSAGE:
		if (suffix(ev->topic, a->topic_root, "down/keys")) {
			if (verify_keylist(a, (const char *)ev->payload, ev->len, true) == FLT_OK &&
			    a->pending_desired) {
				char *p = a->pending_desired;
				a->pending_desired = NULL;
				on_desired(a, p, a->pending_desired_len, true);
				flt_free(p);
			}
			a->state_dirty = true;
		} else if (suffix(ev->topic, a->topic_root, "down/desired")) {
			on_desired(a, (const char *)ev->payload, ev->len, true);
			a->state_dirty = true;
		} else if (suffix(ev->topic, a->topic_root, "down/ack")) {
			events_on_ack(a, ev->payload, ev->len);
		} else {
			fetch_on_chunk(a, ev->payload, ev->len);
		}
		break;
	}
}

/* ---- lifecycle ---- */

flt_err flt_agentd_new(const struct flt_agentd_conf *conf, struct flt_agentd **out)
{
	char path[AGENTD_PATH];
	uint8_t *buf = NULL;
	size_t len = 0;
	struct flt_agentd *a = flt_calloc(1, sizeof(*a));
	if (!a)
		return FLT_ENOMEM;
	flt_err e = agentd_conf_copy(conf, &a->conf);
	if (e) {
		flt_free(a);
		return e;
	}
	serving_builtin(a);
	snprintf(a->topic_root, sizeof(a->topic_root), "flotilla/v1/dev/%s", a->conf.device_id);
	if ((e = flt_file_mkdirs(a->conf.data_dir, 0700, "agent.mkdir")) || (e = load_roots(a)) ||
	    (e = agentd_serving_start(a)))
		goto fail;
	if (store_path(a, path, sizeof(path), "queue.db")) {
		e = FLT_EINVAL;
		goto fail;
	}
	struct flt_tq_open_report rep;
	memset(&rep, 0, sizeof(rep));
	if ((e = flt_tq_open(path, a->conf.queue_bytes, &a->q, &rep)))
		goto fail;
	if (rep.reset) {
		/* the samples and events it held are lost; say so once, through the
		 * fresh queue, so the controller learns why sequences restart */
		char msg[FLT_MAX_MESSAGE + 1];
		struct agentd_model pseudo;
		snprintf(msg, sizeof(msg), "telemetry queue reset: %s%s%s",
		         rep.reason ? rep.reason : "unreadable",
		         rep.moved_to ? "; old file kept as " : "",
		         rep.moved_to ? rep.moved_to : "");
		flt_log_warn("%s", msg);
		memset(&pseudo, 0, sizeof(pseudo));
		snprintf(pseudo.name, sizeof(pseudo.name), "%s", QUEUE_RESET_NAME);
		pseudo.local = true;
		events_emit(a, &pseudo, FLT_STEP_FAILED, FLT_REASON_QUEUE_RESET, msg);
	}
	if ((e = store_load(a)))
		goto fail;
	/* the last accepted key list and desired state, so an agent that starts
	 * offline still knows what it should run */
	if (!store_path(a, path, sizeof(path), "keys.json") &&
	    !flt_file_read_all(path, FLT_KEYLIST_MAX_PAYLOAD * 2, &buf, &len, "agent.keys.load")) {
		if (verify_keylist(a, (const char *)buf, len, false))
			flt_log_warn("persisted key list no longer verifies");
		flt_free(buf);
		buf = NULL;
	}
	if (a->kl && !store_path(a, path, sizeof(path), "desired.json") &&
	    !flt_file_read_all(path, FLT_MAX_DESIRED_BYTES * 2, &buf, &len, "agent.desired.load")) {
		enum flt_reason r;
		char msg[FLT_MAX_MESSAGE + 1];
		struct flt_desired *d = NULL;
		if (!verify_desired(a, (const char *)buf, len, &d, &r, msg, sizeof(msg)))
			a->desired = d;
		flt_free(buf);
		buf = NULL;
	}
	for (size_t i = 0; i < a->n_models; i++) {
		struct agentd_model *m = &a->models[i];
		if (install_resume(a, m) == FLT_ENOTFOUND)
			agentd_job_start(a, m);
	}
	*out = a;
	return FLT_OK;
fail:
	flt_agentd_free(a);
	return e;
}

flt_err flt_agentd_start(struct flt_agentd *a)
{
	char will_topic[256], filter[256];
	static const char offline[] = "{\"v\":1,\"status\":\"offline\"}";
	snprintf(will_topic, sizeof(will_topic), "%s/up/status", a->topic_root);
	struct net_opts o = {
	    .uri = a->conf.broker,
	    .client_id = a->conf.device_id,
	    .ca_file = a->conf.ca_file,
	    .cert_file = a->conf.cert_file,
	    .key_file = a->conf.key_file,
	    .keepalive_s = (unsigned)a->conf.keepalive_s,
	    .session_expiry_s = (unsigned)a->conf.session_expiry_s,
	    .backoff_min_ms = (unsigned)a->conf.backoff_min_ms,
	    .backoff_max_ms = (unsigned)a->conf.backoff_max_ms,
	    .max_packet = (uint32_t)a->conf.max_packet,
	    .will_topic = will_topic,
	    .will_payload = offline,
	    .will_len = sizeof(offline) - 1,
	};
	flt_err e = net_new(&o, &a->net);
	if (e)
		return e;
	snprintf(filter, sizeof(filter), "%s/down/#", a->topic_root);
	if ((e = net_subscribe(a->net, filter)))
		return e;
	a->next_telemetry_ms = flt_sys_mono_ms() + (uint64_t)a->conf.telemetry_s * 1000u;
	return net_connect(a->net);
}

static void telemetry_tick(struct flt_agentd *a, uint64_t now)
{
	if (now < a->next_telemetry_ms || !a->q)
		return;
	a->next_telemetry_ms = now + (uint64_t)a->conf.telemetry_s * 1000u;
	struct flt_health_sampler *hs = NULL;
	struct flt_health_sample h;
	if (flt_health_sampler_new(a->conf.data_dir, NULL, NULL, &hs))
		return;
	struct flt_health_mqtt mq;
	memset(&mq, 0, sizeof(mq));
	if (a->net)
		net_bytes(a->net, mq.sent, mq.received);
	struct flt_usage_snapshot *snap = NULL;
	if (a->usage && flt_usage_snapshot_reset(a->usage, &snap))
		snap = NULL;
	if (!flt_health_sample(hs, &mq, &h)) {
		size_t n = 0;
		if (flt_tbatch_enqueue(a->q, &h, a->have_prev_mqtt ? &a->prev_mqtt : NULL, snap,
		                       (uint64_t)a->conf.telemetry_s, &n))
			flt_log_warn("telemetry sample not queued");
		a->prev_mqtt = mq;
		a->have_prev_mqtt = true;
	}
	flt_usage_snapshot_free(snap);
	flt_health_sampler_free(hs);
	a->next_event_send_ms = 0;
}

flt_err flt_agentd_step(struct flt_agentd *a, int timeout_ms)
{
	if (!a)
		return FLT_EINVAL;
	/* a download in progress wants frequent ticks for re-requests */
	bool busy = false;
	for (size_t i = 0; i < a->n_models; i++)
		busy = busy || a->models[i].job || a->models[i].step == FLT_STEP_PROBATION;
	busy = busy || ota_busy(a);
	if (busy && timeout_ms > 100)
		timeout_ms = 100;
	if (a->net) {
		if (net_poll(a->net, timeout_ms, on_net, a))
			return FLT_EINVAL;
	}
	uint64_t now = flt_sys_mono_ms();
	for (size_t i = 0; i < a->n_models; i++) {
		struct agentd_model *m = &a->models[i];
		fetch_tick(a, m, now);
		enum flt_step before = m->step;
		install_probation_tick(a, m);
		if (before == FLT_STEP_PROBATION && m->step != FLT_STEP_PROBATION)
			agentd_reconcile(a); /* a deployment may have waited for the probation */
	}
	ota_tick(a, now);
	telemetry_tick(a, now);
	if (a->connected && now >= a->next_event_send_ms) {
		events_send(a);
		a->next_event_send_ms = now + 1000;
	}
	if (a->connected && a->state_dirty)
		state_publish(a);
	return FLT_OK;
}

flt_err flt_agentd_run(struct flt_agentd *a, volatile sig_atomic_t *stop,
                       volatile sig_atomic_t *hup, const char *conf_path)
{
	while (!*stop && !a->stop) {
		if (hup && *hup) {
			*hup = 0;
			struct flt_agentd_conf c;
			char err[256] = "";
			if (flt_agentd_conf_load(conf_path, NULL, 0, &c, err, sizeof(err))) {
				flt_log_err("SIGHUP: config refused, keeping the current one: %s",
				            err);
			} else {
				/* identity, broker and storage need a restart; limits apply now */
				a->conf.telemetry_s = c.telemetry_s;
				a->conf.disk_reserve = c.disk_reserve;
				a->conf.probation_default_s = c.probation_default_s;
				a->conf.probation_max_s = c.probation_max_s;
				a->conf.max_artifact = c.max_artifact;
				a->conf.chunks_in_flight = c.chunks_in_flight;
				a->conf.stall_s = c.stall_s;
				a->conf.refetch_ms = c.refetch_ms;
				agentd_serving_reload(a, &c);
				flt_log_set_level((enum flt_log_level)c.log_level);
				flt_agentd_conf_free(&c);
				flt_log_info("SIGHUP: config reloaded");
			}
		}
		flt_err e = flt_agentd_step(a, 1000);
		if (e)
			return e;
	}
	return FLT_OK;
}

void flt_agentd_free(struct flt_agentd *a)
{
	if (!a)
		return;
	if (a->net) {
		if (a->connected) {
			static const char offline[] = "{\"v\":1,\"status\":\"offline\"}";
			agentd_publish(a, "up/status", offline, sizeof(offline) - 1, true,
			               NET_STATE);
			net_disconnect(a->net, 1000);
		}
		net_free(a->net);
		a->net = NULL; /* the jobs freed below must not unsubscribe on it */
	}
	for (size_t i = 0; i < a->n_models; i++) {
		struct agentd_model *m = &a->models[i];
		fetch_abort(a, m);
		install_job_free(m);
		flt_free(m->envelope);
	}
	ota_free(a);
	agentd_serving_stop(a);
	serving_builtin_free(a);
	flt_tq_close(a->q);
	flt_keylist_free(a->kl);
	flt_desired_free(a->desired);
	flt_free(a->pending_desired);
	for (size_t i = 0; i < a->nroots; i++)
		flt_key_free(a->roots[i]);
	flt_agentd_conf_free(&a->conf);
	flt_free(a);
}

flt_err flt_agentd_model(const struct flt_agentd *a, const char *name,
                         struct flt_agentd_model_info *out)
{
	for (size_t i = 0; i < a->n_models; i++) {
		const struct agentd_model *m = &a->models[i];
		if (strcmp(m->name, name))
			continue;
		out->active = m->active;
		out->committed = m->committed;
		out->previous = m->previous;
		out->has_job = m->job != NULL;
		out->job_version = m->version;
		out->step = (int)m->step;
		out->reason = (int)m->reason;
		return FLT_OK;
	}
	return FLT_ENOTFOUND;
}

void flt_agentd_counters(const struct flt_agentd *a, struct flt_agentd_counters *out)
{
	*out = a->counters;
}
