/* Agent and firmware releases over MQTT: the model download path (chunk index,
 * missing chunks via up/fetch, resume map, whole-file hash) runs on one extra
 * record, a->ota_m, and the verified file goes to the firmware or agent slots.
 * One release at a time; handled envelopes are persisted in ota.json. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#define FLT_LOG_MODULE "agent.ota"
#include "agentd_int.h"
#include "flt/agentslot.h"
#include "flt/alloc.h"
#include "flt/atomicfile.h"
#include "flt/config.h"
#include "flt/firmware.h"
#include "flt/ident.h"
#include "flt/log.h"
#include "flt/sys.h"

#define OTA_STARTS 3

bool ota_is(const struct flt_agentd *a, const struct agentd_model *m)
{
	return m == &a->ota_m;
}

static struct flt_desired_entry entry_of(const struct flt_agentd *a)
{
	struct flt_desired_entry de;
	memset(&de, 0, sizeof(de));
	de.kind = a->ota_kind;
	snprintf(de.name, sizeof(de.name), "%s", a->ota_m.name);
	snprintf(de.deployment_id, sizeof(de.deployment_id), "%s", a->ota_m.deployment_id);
	return de;
}

/* ota.json: the envelopes already handled (installed, refused or failed), so
 * a restart neither re-installs nor re-reports them. */
static void done_save(struct flt_agentd *a)
{
	char path[AGENTD_PATH], hex[65];
	cJSON *doc = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(doc, "done");
	char *text = NULL;
	if (!doc || !arr || store_path(a, path, sizeof(path), "ota.json") ||
	    !cJSON_AddStringToObject(doc, "agent_deployment", a->ota_agent_dep))
		goto out;
	for (size_t i = 0; i < a->n_ota_seen; i++) {
		if (flt_hex_encode(a->ota_seen[i], FLT_SHA256_LEN, hex, sizeof(hex)))
			goto out;
		cJSON_AddItemToArray(arr, cJSON_CreateString(hex));
	}
	if (!(text = cJSON_PrintUnformatted(doc)) ||
	    flt_file_write_atomic(path, (const uint8_t *)text, strlen(text), 0600, "ota.state"))
		flt_log_warn("ota.json not persisted");
out:
	cJSON_free(text);
	cJSON_Delete(doc);
}

static void done_load(struct flt_agentd *a)
{
	char path[AGENTD_PATH];
	uint8_t *buf = NULL;
	size_t len = 0;
	cJSON *doc = NULL;
	if (a->ota_loaded)
		return;
	a->ota_loaded = true;
	if (store_path(a, path, sizeof(path), "ota.json") ||
	    flt_file_read_all(path, 64u * 1024u, &buf, &len, "ota.state.load"))
		return;
	doc = cJSON_ParseWithLength((const char *)buf, len);
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(doc, "done"), *it,
	            *dep = cJSON_GetObjectItemCaseSensitive(doc, "agent_deployment");
	if (cJSON_IsString(dep) && (!dep->valuestring[0] || flt_ident_valid(dep->valuestring)))
		snprintf(a->ota_agent_dep, sizeof(a->ota_agent_dep), "%s", dep->valuestring);
	cJSON_ArrayForEach(it, arr)
	{
		if (a->n_ota_seen == AGENTD_MAX_MODELS)
			break;
		if (cJSON_IsString(it) && strlen(it->valuestring) == 64 &&
		    !flt_hex_decode(it->valuestring, 64, a->ota_seen[a->n_ota_seen],
		                    FLT_SHA256_LEN))
			a->n_ota_seen++;
	}
	cJSON_Delete(doc);
	flt_free(buf);
}

static bool done_has(const struct flt_agentd *a, const uint8_t *sha)
{
	for (size_t i = 0; i < a->n_ota_seen; i++)
		if (flt_ct_equal(a->ota_seen[i], sha, FLT_SHA256_LEN))
			return true;
	return false;
}

static void done_add(struct flt_agentd *a, const uint8_t *sha)
{
	if (done_has(a, sha))
		return;
	if (a->n_ota_seen == AGENTD_MAX_MODELS) {
		memmove(a->ota_seen[0], a->ota_seen[1],
		        sizeof(a->ota_seen[0]) * (AGENTD_MAX_MODELS - 1));
		a->n_ota_seen--;
	}
	memcpy(a->ota_seen[a->n_ota_seen++], sha, FLT_SHA256_LEN);
	done_save(a);
}

static void staging_rm(struct flt_agentd *a)
{
	char dir[AGENTD_PATH];
	if (!store_path(a, dir, sizeof(dir), "staging/%s-%llu", a->ota_m.name,
	                (unsigned long long)a->ota_m.version) &&
	    store_rm_rf(dir))
		flt_log_warn("cannot remove %s", dir);
}

static void finish(struct flt_agentd *a, enum flt_step step, enum flt_reason r, const char *msg)
{
	struct agentd_model *m = &a->ota_m;
	struct flt_desired_entry de = entry_of(a);
	fetch_abort(a, m);
	install_job_free(m);
	m->step = step;
	m->reason = r;
	done_add(a, m->env_sha);
	ota_event(a, &de, m->version, step, r, msg);
	flt_free(m->envelope);
	m->envelope = NULL;
	staging_rm(a);
}

void ota_fail(struct flt_agentd *a, enum flt_reason r, const char *msg)
{
	flt_log_warn("%s v%llu failed: %s %s", a->ota_m.name, (unsigned long long)a->ota_m.version,
	             flt_reason_name(r), msg);
	a->last_error = r;
	snprintf(a->last_error_msg, sizeof(a->last_error_msg), "%s", msg);
	finish(a, FLT_STEP_FAILED, r, msg);
}

void ota_set_step(struct flt_agentd *a, enum flt_step s)
{
	struct flt_desired_entry de = entry_of(a);
	a->ota_m.step = s;
	a->ota_m.reason = FLT_REASON_NONE;
	ota_event(a, &de, a->ota_m.version, s, FLT_REASON_NONE, "");
}

void ota_after_download(struct flt_agentd *a)
{
	struct agentd_model *m = &a->ota_m;
	char part[AGENTD_PATH];
	enum flt_reason r = FLT_REASON_NONE;
	flt_err e;
	if (store_path(a, part, sizeof(part), "staging/%s-%llu/artifact.part", m->name,
	               (unsigned long long)m->version)) {
		ota_fail(a, FLT_REASON_INTERNAL, "path too long");
		return;
	}
	ota_set_step(a, FLT_STEP_CHECKING);
	if (test_file_hash(part, m->job->man, &r)) {
		ota_fail(a, r ? r : FLT_REASON_IO_ERROR, "artifact hash mismatch or unreadable");
		return;
	}
	ota_set_step(a, FLT_STEP_ACTIVATING);
	if (a->ota_kind == FLT_KIND_FIRMWARE) {
		/* handled before the reboot: the boot report says how it went */
		done_add(a, m->env_sha);
		e = ota_firmware_install(a, m->job->man, part, m->deployment_id, &r, false);
		if (e) {
			ota_fail(a, r ? r : FLT_REASON_ACTIVATION_FAILED,
			         "writing the inactive slot failed");
			return;
		}
		struct flt_desired_entry de = entry_of(a);
		ota_event(a, &de, m->version, FLT_STEP_ACTIVATING, FLT_REASON_NONE,
		          "slot written and armed; rebooting");
		events_send(a);
		fetch_abort(a, m);
		install_job_free(m);
		staging_rm(a);
		ota_firmware_reboot(a);
		return;
	}
	e = flt_agentslot_install(a->conf.agent_slots, part, m->version,
	                          m->job->man->artifact_sha256, OTA_STARTS);
	if (e) {
		ota_fail(a, e == FLT_EVERIFY ? FLT_REASON_FILE_HASH_MISMATCH : FLT_REASON_IO_ERROR,
		         "agent slot install failed");
		return;
	}
	/* the supervisor starts the new agent at the next start; that agent
	 * confirms itself, so from here the old one has nothing more to do */
	snprintf(a->ota_agent_dep, sizeof(a->ota_agent_dep), "%s", m->deployment_id);
	finish(a, FLT_STEP_ACTIVATING, FLT_REASON_NONE,
	       "installed in the inactive agent slot; runs at the next start");
}

void ota_tick(struct flt_agentd *a, uint64_t now)
{
	if (a->ota_m.job)
		fetch_tick(a, &a->ota_m, now);
}

bool ota_busy(const struct flt_agentd *a)
{
	return a->ota_m.job != NULL;
}

static uint64_t firmware_version(struct flt_agentd *a)
{
	struct flt_fw_conf conf;
	char err[256];
	uint64_t v = 0;
	if (flt_fw_conf_load(a->conf.firmware_conf, NULL, 0, &conf, err, sizeof(err)) == FLT_OK) {
		struct flt_fw_cfg cfg;
		struct flt_fw *fw = NULL;
		flt_fw_conf_to_cfg(&conf, &cfg);
		if (flt_fw_open(&cfg, &fw) == FLT_OK)
			v = flt_fw_committed_version(fw);
		flt_fw_close(fw);
		flt_fw_conf_free(&conf);
	}
	return v;
}

void ota_reconcile_entry(struct flt_agentd *a, const struct flt_desired_entry *de)
{
	uint8_t sha[FLT_SHA256_LEN];
	struct flt_manifest *man = NULL;
	enum flt_reason r = FLT_REASON_NONE;
	char msg[FLT_MAX_MESSAGE + 1] = "";
	struct agentd_model *m = &a->ota_m;
	done_load(a);
	if (flt_sha256(de->envelope, de->envelope_len, sha) || done_has(a, sha))
		return;
	if (m->job) {
		if (flt_ct_equal(m->env_sha, sha, sizeof(sha)))
			return; /* this one is running */
		if (a->ota_kind != de->kind)
			return; /* one release at a time: this one waits its turn */
		ota_fail(a, FLT_REASON_SUPERSEDED, "a newer release of the same kind arrived");
	}
	uint64_t fw_version = de->kind == FLT_KIND_FIRMWARE ? firmware_version(a) : 0;
	memset(m, 0, sizeof(*m));
	a->ota_kind = de->kind;
	snprintf(m->name, sizeof(m->name), "%s", de->name);
	snprintf(m->deployment_id, sizeof(m->deployment_id), "%s", de->deployment_id);
	memcpy(m->env_sha, sha, sizeof(sha));
	m->has_dep = true;
	if (ota_verify_release(a, de->envelope, de->envelope_len, fw_version, &man, &r, msg,
	                       sizeof(msg))) {
		finish(a, FLT_STEP_FAILED, r ? r : FLT_REASON_INTERNAL, msg);
		return;
	}
	m->version = man->version;
	if (strcmp(man->name, de->name)) {
		flt_manifest_free(man);
		finish(a, FLT_STEP_FAILED, FLT_REASON_MALFORMED, "manifest names another release");
		return;
	}
	if ((de->kind == FLT_KIND_AGENT && man->version == (uint64_t)FLT_AGENT_VERSION) ||
	    (de->kind == FLT_KIND_FIRMWARE && man->version == fw_version)) {
		flt_manifest_free(man);
		finish(a, FLT_STEP_COMMITTED, FLT_REASON_NONE, "already running this version");
		return;
	}
	if (!(m->envelope = flt_strdup(de->envelope)) ||
	    !(m->job = flt_calloc(1, sizeof(*m->job)))) {
		flt_manifest_free(man);
		finish(a, FLT_STEP_FAILED, FLT_REASON_INTERNAL, "out of memory");
		return;
	}
	m->job->man = man;
	m->job->f.fd = -1;
	m->step = FLT_STEP_DOWNLOADING;
	ota_set_step(a, FLT_STEP_DOWNLOADING);
	if (fetch_begin(a, m)) {
		ota_fail(a, FLT_REASON_IO_ERROR, "cannot start the download");
		return;
	}
	fetch_tick(a, m, flt_sys_mono_ms());
}

void ota_free(struct flt_agentd *a)
{
	fetch_abort(a, &a->ota_m);
	install_job_free(&a->ota_m);
	flt_free(a->ota_m.envelope);
	a->ota_m.envelope = NULL;
}

void ota_on_connected(struct flt_agentd *a)
{
	const char *slot_s = getenv(FLT_AGENTSLOT_ENV_SLOT), *dir = getenv(FLT_AGENTSLOT_ENV_DIR);
	struct flt_agentslot_state st;
	if (a->ota_confirm_done)
		return;
	a->ota_confirm_done = true;
	if (!slot_s || !dir || !dir[0])
		return; /* not started by the supervisor */
	int slot = flt_slot_parse(slot_s);
	if (slot == FLT_SLOT_NONE || flt_agentslot_load(dir, &st) || st.pending != slot)
		return; /* a confirmed agent: nothing to say */
	if (flt_agentslot_confirm(dir, slot)) {
		flt_log_err("cannot confirm agent slot %s in %s", slot_s, dir);
		return;
	}
	done_load(a);
	struct flt_desired_entry de;
	memset(&de, 0, sizeof(de));
	de.kind = FLT_KIND_AGENT;
	snprintf(de.name, sizeof(de.name), "%s%s", FLT_AGENT_RELEASE_PREFIX, FLT_ARCH);
	snprintf(de.deployment_id, sizeof(de.deployment_id), "%s", a->ota_agent_dep);
	ota_event(a, &de, st.version[slot], FLT_STEP_COMMITTED, FLT_REASON_NONE,
	          "new agent started, reached the broker and confirmed its slot");
}
