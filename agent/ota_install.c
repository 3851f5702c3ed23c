/* Agent and firmware releases in the agent: the same envelope checks as a
 * model (trusted release key, threshold, expiry), then the OTA admission
 * (board, arch, agent version), the whole-file hash, and instead of a model
 * activation the hand-over to the firmware slots or the agent slots. */
#include <cjson/cJSON.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#define FLT_LOG_MODULE "agent.ota"
#include "agentd_int.h"
#include "flt/agentslot.h"
#include "flt/alloc.h"
#include "flt/atomicfile.h"
#include "flt/config.h"
#include "flt/dsse.h"
#include "flt/fileio.h"
#include "flt/ident.h"
#include "flt/firmware.h"
#include "flt/telemetry_batch.h"
#include "flt/log.h"

#define OTA_STARTS 3 /* starts a new agent gets to confirm */

/* Only routes: which path handles this envelope. The chosen path verifies. */
static enum flt_kind peek_kind(const char *env, size_t len)
{
	flt_dsse *d = NULL;
	struct flt_manifest *m = NULL;
	enum flt_kind k = FLT_KIND_MODEL;
	if (flt_dsse_parse(env, len, FLT_MAX_MANIFEST_BYTES, &d, NULL) == FLT_OK &&
	    flt_manifest_parse((const char *)d->payload, d->payload_len, &m, NULL) == FLT_OK)
		k = m->kind;
	flt_manifest_free(m);
	flt_dsse_free(d);
	return k;
}

#define REFUSE(r, ...)                                                                             \
	do {                                                                                       \
		*reason = (r);                                                                     \
		snprintf(msg, msglen, __VA_ARGS__);                                                \
		e = FLT_EVERIFY;                                                                   \
		goto out;                                                                          \
	} while (0)

flt_err ota_verify_release(struct flt_agentd *a, const char *env, size_t len, uint64_t fw_version,
                           struct flt_manifest **out, enum flt_reason *reason, char *msg,
                           size_t msglen)
{
	struct flt_json_err jerr = {0};
	flt_dsse *d = NULL;
	struct flt_manifest *man = NULL;
	int64_t now = agentd_now();
	flt_err e = flt_dsse_parse(env, len, FLT_MAX_MANIFEST_BYTES, &d, &jerr);
	if (e)
		REFUSE(jerr.reason ? jerr.reason : FLT_REASON_MALFORMED, "release envelope: %s",
		       jerr.msg);
	if (!a->kl)
		REFUSE(FLT_REASON_UNTRUSTED_KEY, "no key list yet");
	if (flt_keylist_verify_envelope(a->kl, d, FLT_PAYLOAD_RELEASE, FLT_ROLE_RELEASE, now,
	                                reason)) {
		snprintf(msg, msglen, "release envelope: %s", flt_reason_name(*reason));
		e = FLT_EVERIFY;
		goto out;
	}
	if ((e = flt_manifest_parse((const char *)d->payload, d->payload_len, &man, &jerr)))
		REFUSE(jerr.reason ? jerr.reason : FLT_REASON_MALFORMED, "manifest: %s", jerr.msg);
	if (now >= man->expires_at)
		REFUSE(FLT_REASON_EXPIRED, "release expired at %lld", (long long)man->expires_at);
	if (man->artifact_size > a->conf.max_artifact)
		REFUSE(FLT_REASON_TOO_LARGE, "artifact of %llu bytes above install.max_artifact",
		       (unsigned long long)man->artifact_size);
	if (flt_fw_admit(man, a->conf.board, FLT_ARCH, (uint64_t)FLT_AGENT_VERSION, fw_version,
	                 reason, msg, msglen)) {
		e = FLT_EVERIFY;
		goto out;
	}
	*out = man;
	man = NULL;
out:
	flt_manifest_free(man);
	flt_dsse_free(d);
	return e;
}

static flt_err file_hash_ok(const char *path, const struct flt_manifest *man, enum flt_reason *r)
{
	int fd = -1;
	uint8_t buf[16384], got[FLT_SHA256_LEN], want[FLT_SHA256_LEN];
	uint64_t total = 0;
	flt_sha256_ctx h;
	flt_err e = flt_fio_open(path, O_RDONLY, 0, &fd, "ota.hash.open");
	if (e) {
		*r = FLT_REASON_IO_ERROR;
		return e;
	}
	flt_sha256_init(&h);
	for (;;) {
		size_t n = 0;
		if ((e = flt_fio_read(fd, buf, sizeof(buf), &n, "ota.hash.read")) || !n)
			break;
		flt_sha256_update(&h, buf, n);
		total += n;
	}
	(void)flt_fio_close(fd, NULL);
	flt_err he = flt_sha256_final(&h, got);
	if (e || he) {
		*r = FLT_REASON_IO_ERROR;
		return e ? e : he;
	}
	if (total != man->artifact_size ||
	    flt_hex_decode(man->artifact_sha256, 64, want, sizeof(want)) ||
	    !flt_ct_equal(got, want, sizeof(got))) {
		*r = FLT_REASON_FILE_HASH_MISMATCH;
		return FLT_EVERIFY;
	}
	return FLT_OK;
}

flt_err ota_firmware_install(struct flt_agentd *a, const struct flt_manifest *man,
                             const char *artifact, const char *deployment_id, enum flt_reason *r,
                             bool reboot)
{
	struct flt_fw_conf conf;
	struct flt_fw_cfg cfg;
	struct flt_fw *fw = NULL;
	char err[256] = "";
	int fd = -1;
	uint8_t *buf = NULL;
	flt_err e = flt_fw_conf_load(a->conf.firmware_conf, NULL, 0, &conf, err, sizeof(err));
	if (e) {
		flt_log_err("%s", err[0] ? err : flt_strerror(e));
		*r = FLT_REASON_INTERNAL;
		return e;
	}
	flt_fw_conf_to_cfg(&conf, &cfg);
	if ((e = flt_fw_open(&cfg, &fw)) != FLT_OK) {
		*r = FLT_REASON_IO_ERROR;
		goto out;
	}
	if ((e = flt_fw_begin(fw, man->name, man->version, deployment_id, man->artifact_size,
	                      man->artifact_sha256, r)) != FLT_OK) {
		if (*r == FLT_REASON_NONE)
			*r = e == FLT_EBUSY ? FLT_REASON_SUPERSEDED : FLT_REASON_INTERNAL;
		goto out;
	}
	if (!(buf = flt_malloc(1u << 16))) {
		flt_fw_abort(fw);
		e = FLT_ENOMEM;
		*r = FLT_REASON_INTERNAL;
		goto out;
	}
	if ((e = flt_fio_open(artifact, O_RDONLY, 0, &fd, "ota.image.open")) != FLT_OK) {
		flt_fw_abort(fw);
		*r = FLT_REASON_IO_ERROR;
		goto out;
	}
	for (;;) {
		size_t n = 0;
		if ((e = flt_fio_read(fd, buf, 1u << 16, &n, "ota.image.read")) || !n)
			break;
		if ((e = flt_fw_write(fw, buf, n)) != FLT_OK)
			break;
	}
	if (e) {
		flt_fw_abort(fw);
		*r = FLT_REASON_IO_ERROR;
		goto out;
	}
	if ((e = flt_fw_finish(fw, r)) != FLT_OK)
		goto out;
	flt_log_info("firmware %s %llu written and armed", man->name,
	             (unsigned long long)man->version);
	if (!reboot)
		goto out;
	e = flt_fw_reboot(fw);
	if (e == FLT_EUNSUPPORTED)
		e = FLT_OK; /* no reboot command: the operator or the caller reboots */
	if (e)
		*r = FLT_REASON_ACTIVATION_FAILED;
out:
	if (fd >= 0)
		(void)flt_fio_close(fd, NULL);
	flt_free(buf);
	flt_fw_close(fw);
	flt_fw_conf_free(&conf);
	return e;
}

flt_err ota_install_file(struct flt_agentd *a, const char *env, size_t env_len,
                         const char *artifact, const char *deployment_id, enum flt_reason *reason,
                         bool *handled)
{
	struct flt_manifest *man = NULL;
	char msg[FLT_MAX_MESSAGE + 1] = "";
	flt_err e = FLT_OK;
	*handled = false;
	*reason = FLT_REASON_NONE;
	if (peek_kind(env, env_len) == FLT_KIND_MODEL)
		return FLT_OK;
	*handled = true;
	uint64_t fw_version = 0;
	struct flt_fw_conf conf;
	char err[256];
	/* The running firmware version, for min_firmware_version: best effort. */
	if (flt_fw_conf_load(a->conf.firmware_conf, NULL, 0, &conf, err, sizeof(err)) == FLT_OK) {
		struct flt_fw_cfg cfg;
		struct flt_fw *fw = NULL;
		flt_fw_conf_to_cfg(&conf, &cfg);
		if (flt_fw_open(&cfg, &fw) == FLT_OK)
			fw_version = flt_fw_committed_version(fw);
		flt_fw_close(fw);
		flt_fw_conf_free(&conf);
	}
	if ((e = ota_verify_release(a, env, env_len, fw_version, &man, reason, msg, sizeof(msg)))) {
		flt_log_err("refused: %s: %s", flt_reason_name(*reason), msg);
		goto out;
	}
	if ((e = file_hash_ok(artifact, man, reason)) != FLT_OK) {
		flt_log_err("refused: %s: '%s' is not the release's artifact",
		            flt_reason_name(*reason), artifact);
		goto out;
	}
	if (man->kind == FLT_KIND_FIRMWARE) {
		e = ota_firmware_install(a, man, artifact, deployment_id, reason, true);
	} else {
		e = flt_agentslot_install(a->conf.agent_slots, artifact, man->version,
		                          man->artifact_sha256, OTA_STARTS);
		if (e)
			*reason =
			    e == FLT_EVERIFY ? FLT_REASON_FILE_HASH_MISMATCH : FLT_REASON_IO_ERROR;
		else
			flt_log_info("agent %llu installed; it runs at the next start by the "
			             "supervisor",
			             (unsigned long long)man->version);
	}
	if (e)
		flt_log_err("%s %s %llu not installed: %s", flt_kind_name(man->kind), man->name,
		            (unsigned long long)man->version, flt_reason_name(*reason));
out:
	flt_manifest_free(man);
	return e;
}

void ota_event(struct flt_agentd *a, const struct flt_desired_entry *de, uint64_t version,
               enum flt_step step, enum flt_reason r, const char *msg)
{
	struct flt_event ev;
	char *text = NULL;
	size_t len = 0;
	uint64_t seq = 0;
	memset(&ev, 0, sizeof(ev));
	ev.time = agentd_now();
	ev.kind = de->kind;
	snprintf(ev.name, sizeof(ev.name), "%s", de->name);
	ev.version = version;
	snprintf(ev.deployment_id, sizeof(ev.deployment_id), "%s", de->deployment_id);
	ev.step = step;
	ev.reason = r;
	snprintf(ev.message, sizeof(ev.message), "%s", msg);
	if (flt_event_item_encode(&ev, &text, &len) || !a->q ||
	    flt_tq_append(a->q, FLT_TBATCH_EVENTS, text, len, &seq)) {
		flt_log_err("event for %s %s not queued", flt_kind_name(de->kind), de->name);
	} else {
		a->counters.events++;
		a->next_event_send_ms = 0;
		flt_log_info("event %llu: %s %s v%llu %s %s %s", (unsigned long long)seq,
		             flt_kind_name(de->kind), de->name, (unsigned long long)version,
		             flt_step_name(step), flt_reason_name(r), msg);
	}
	flt_free(text);
}

void ota_firmware_reboot(struct flt_agentd *a)
{
	struct flt_fw_conf conf;
	struct flt_fw_cfg cfg;
	struct flt_fw *fw = NULL;
	char err[256] = "";
	if (flt_fw_conf_load(a->conf.firmware_conf, NULL, 0, &conf, err, sizeof(err))) {
		flt_log_err("reboot: %s", err);
		return;
	}
	flt_fw_conf_to_cfg(&conf, &cfg);
	if (flt_fw_open(&cfg, &fw) == FLT_OK) {
		flt_err e = flt_fw_reboot(fw);
		if (e && e != FLT_EUNSUPPORTED)
			flt_log_err("reboot command failed: %s", flt_strerror(e));
	}
	flt_fw_close(fw);
	flt_fw_conf_free(&conf);
}

/* The boot report flotilla-supervisor firmware-boot left (flt/firmware.h):
 * a confirmed or rolled-back firmware becomes an event, once; the report is
 * then renamed so a restart does not send it again. */
void ota_boot_report(struct flt_agentd *a)
{
	struct flt_fw_conf conf;
	char err[256], path[AGENTD_PATH], sent[AGENTD_PATH + 8];
	uint8_t *buf = NULL;
	size_t len = 0;
	cJSON *doc = NULL;
	if (a->ota_report_done)
		return;
	a->ota_report_done = true;
	if (flt_fw_conf_load(a->conf.firmware_conf, NULL, 0, &conf, err, sizeof(err)))
		return; /* no firmware settings on this device: nothing to report */
	snprintf(path, sizeof(path), "%s/boot-report", conf.state_dir);
	snprintf(sent, sizeof(sent), "%s.sent", path);
	flt_fw_conf_free(&conf);
	if (flt_file_read_all(path, 4096, &buf, &len, "ota.report"))
		return;
	doc = cJSON_ParseWithLength((const char *)buf, len);
	const cJSON *o = cJSON_GetObjectItemCaseSensitive(doc, "outcome"),
	            *n = cJSON_GetObjectItemCaseSensitive(doc, "name"),
	            *v = cJSON_GetObjectItemCaseSensitive(doc, "version"),
	            *d = cJSON_GetObjectItemCaseSensitive(doc, "deployment_id");
	if (!cJSON_IsString(o) || !cJSON_IsString(n) || !cJSON_IsNumber(v) || !cJSON_IsString(d) ||
	    !flt_ident_valid(n->valuestring) || v->valuedouble < 0)
		goto out;
	bool ok = !strcmp(o->valuestring, "confirmed"),
	     back = !strcmp(o->valuestring, "rolled_back");
	if (!ok && !back)
		goto out; /* nothing to say, or not final yet */
	struct flt_desired_entry de;
	memset(&de, 0, sizeof(de));
	de.kind = FLT_KIND_FIRMWARE;
	snprintf(de.name, sizeof(de.name), "%s", n->valuestring);
	if (strcmp(d->valuestring, "local") && flt_ident_valid(d->valuestring))
		snprintf(de.deployment_id, sizeof(de.deployment_id), "%s", d->valuestring);
	ota_event(a, &de, (uint64_t)v->valuedouble, ok ? FLT_STEP_COMMITTED : FLT_STEP_ROLLED_BACK,
	          ok ? FLT_REASON_NONE : FLT_REASON_BOOT_FAILED,
	          ok ? "booted and confirmed" : "did not confirm within its boot tries; fell back");
	if (flt_fio_rename(path, sent, "ota.report.rename") ||
	    flt_fio_fsync_parent(path, "ota.report.dirsync"))
		flt_log_warn("boot report sent but not marked; it may be sent again");
out:
	cJSON_Delete(doc);
	flt_free(buf);
}
