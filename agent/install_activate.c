/* Pipeline steps 3-6 and their bookkeeping: check and test the download,
 * stage it into its versioned folder, switch (state file), probation, commit
 * or roll back, and removal. Every step is written to state.json before it
 * acts; on restart install_resume() picks up from what was persisted. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define FLT_LOG_MODULE "agent.install"
#include "agentd_int.h"
#include "flt/alloc.h"
#include "flt/atomicfile.h"
#include "flt/failpoint.h"
#include "flt/fileio.h"
#include "flt/log.h"

/* ---- the built-in serving seam: keep the active version loaded ---- */

static flt_err builtin_activate(void *ctx, const char *name, uint64_t version, const char *path)
{
	struct flt_agentd *a = ctx;
	struct flt_rt_model *model = NULL;
	char err[160];
	(void)version;
	flt_err e = flt_rt_model_load_file(path, NULL, &model, err, sizeof(err));
	if (e) {
		flt_log_err("%s: cannot load %s: %s", name, path, err);
		return e;
	}
	size_t free_slot = AGENTD_MAX_MODELS;
	for (size_t i = 0; i < AGENTD_MAX_MODELS; i++) {
		if (a->loaded[i] && !strcmp(a->loaded_name[i], name)) {
			/* swap: the old model goes once the new one is in place */
			struct flt_rt_model *old = a->loaded[i];
			a->loaded[i] = model;
			flt_rt_model_free(old);
			return FLT_OK;
		}
		if (!a->loaded[i] && free_slot == AGENTD_MAX_MODELS)
			free_slot = i;
	}
	if (free_slot == AGENTD_MAX_MODELS) {
		flt_rt_model_free(model);
		return FLT_ELIMIT;
	}
	a->loaded[free_slot] = model;
	snprintf(a->loaded_name[free_slot], sizeof(a->loaded_name[0]), "%s", name);
	return FLT_OK;
}

static void builtin_remove(void *ctx, const char *name)
{
	struct flt_agentd *a = ctx;
	for (size_t i = 0; i < AGENTD_MAX_MODELS; i++)
		if (a->loaded[i] && !strcmp(a->loaded_name[i], name)) {
			flt_rt_model_free(a->loaded[i]);
			a->loaded[i] = NULL;
		}
}

void serving_builtin(struct flt_agentd *a)
{
	a->serving.activate = builtin_activate;
	a->serving.remove = builtin_remove;
	a->serving.ctx = a;
}

void serving_builtin_free(struct flt_agentd *a)
{
	for (size_t i = 0; i < AGENTD_MAX_MODELS; i++) {
		flt_rt_model_free(a->loaded[i]);
		a->loaded[i] = NULL;
	}
}

/* ---- helpers ---- */

static int model_dir(struct flt_agentd *a, const char *name, uint64_t v, char *buf, size_t cap)
{
	return store_path(a, buf, cap, "models/%s/%llu", name, (unsigned long long)v);
}

static int model_file(struct flt_agentd *a, const char *name, uint64_t v, char *buf, size_t cap)
{
	return store_path(a, buf, cap, "models/%s/%llu/model.onnx", name, (unsigned long long)v);
}

static int staging_dir(struct flt_agentd *a, const struct agentd_model *m, char *buf, size_t cap)
{
	return store_path(a, buf, cap, "staging/%s-%llu", m->name, (unsigned long long)m->version);
}

void install_job_free(struct agentd_model *m)
{
	struct agentd_job *j = m->job;
	if (!j)
		return;
	flt_manifest_free(j->man);
	flt_chunk_index_free(j->index);
	flt_free(j->golden);
	flt_free(j->f.mem);
	flt_free(j->f.have);
	flt_free(j->f.asked_ms);
	flt_resume_map_free(j->f.map);
	if (j->f.fd >= 0)
		(void)flt_fio_close(j->f.fd, NULL);
	flt_free(j);
	m->job = NULL;
}

void install_set_step(struct flt_agentd *a, struct agentd_model *m, enum flt_step s)
{
	if (ota_is(a, m)) {
		ota_set_step(a, s);
		return;
	}
	m->step = s;
	m->reason = FLT_REASON_NONE;
	if (store_save(a, "install.state"))
		flt_log_warn("%s: step %s not persisted", m->name, flt_step_name(s));
	events_emit(a, m, s, FLT_REASON_NONE, "");
}

static void activate_serving(struct flt_agentd *a, struct agentd_model *m, uint64_t v)
{
	char path[AGENTD_PATH];
	if (!v) {
		a->serving.remove(a->serving.ctx, m->name);
		return;
	}
	if (model_file(a, m->name, v, path, sizeof(path)) == 0 &&
	    a->serving.activate(a->serving.ctx, m->name, v, path))
		flt_log_err("%s: version %llu does not load", m->name, (unsigned long long)v);
}

/* Removes every version folder but KEEP1 and KEEP2, and the staging folder. */
static void prune(struct flt_agentd *a, struct agentd_model *m, uint64_t keep1, uint64_t keep2)
{
	char dir[AGENTD_PATH];
	if (store_path(a, dir, sizeof(dir), "models/%s", m->name))
		return;
	/* versions are few: walk what the record knows about plus the job's */
	uint64_t cands[4] = {m->version, m->previous, m->committed, m->active};
	for (int i = 0; i < 4; i++) {
		uint64_t v = cands[i];
		if (!v || v == keep1 || v == keep2)
			continue;
		char p[AGENTD_PATH];
		if (!model_dir(a, m->name, v, p, sizeof(p)) && store_rm_rf(p))
			flt_log_warn("cannot remove %s", p);
	}
}

void install_fail(struct flt_agentd *a, struct agentd_model *m, enum flt_reason r, const char *msg)
{
	if (ota_is(a, m)) {
		ota_fail(a, r, msg);
		return;
	}
	char dir[AGENTD_PATH];
	fetch_abort(a, m);
	install_job_free(m);
	flt_log_warn("%s v%llu failed: %s %s", m->name, (unsigned long long)m->version,
	             flt_reason_name(r), msg);
	m->step = FLT_STEP_FAILED;
	m->reason = r;
	flt_free(m->envelope);
	m->envelope = NULL;
	a->last_error = r;
	snprintf(a->last_error_msg, sizeof(a->last_error_msg), "%s", msg);
	if (store_save(a, "install.state"))
		flt_log_warn("%s: failure not persisted", m->name);
	events_emit(a, m, FLT_STEP_FAILED, r, msg);
	if (!staging_dir(a, m, dir, sizeof(dir)) && store_rm_rf(dir))
		flt_log_warn("cannot remove %s", dir);
}

static void rollback(struct flt_agentd *a, struct agentd_model *m, enum flt_reason r,
                     const char *msg)
{
	uint64_t bad = m->active;
	flt_log_warn("%s v%llu rolled back: %s", m->name, (unsigned long long)bad,
	             flt_reason_name(r));
	if (m->deployment_id[0])
		store_mark_bad(m, bad, m->deployment_id);
	m->active = m->committed;
	m->step = FLT_STEP_ROLLED_BACK;
	m->reason = r;
	flt_free(m->envelope);
	m->envelope = NULL;
	a->last_error = r;
	snprintf(a->last_error_msg, sizeof(a->last_error_msg), "%s", msg);
	if (store_save(a, "install.rollback"))
		flt_log_warn("%s: rollback not persisted", m->name);
	activate_serving(a, m, m->active);
	events_emit(a, m, FLT_STEP_ROLLED_BACK, r, msg);
	prune(a, m, m->committed, m->previous);
}

/* ---- steps ---- */

flt_err install_stage_and_switch(struct flt_agentd *a, struct agentd_model *m, const char *staged)
{
	char parent[AGENTD_PATH], target[AGENTD_PATH], from[AGENTD_PATH], to[AGENTD_PATH];
	struct stat st;
	flt_err e;
	if (store_path(a, parent, sizeof(parent), "models/%s", m->name) ||
	    model_dir(a, m->name, m->version, target, sizeof(target)))
		return FLT_EINVAL;
	if (stat(target, &st) != 0) {
		/* staging -> models/<name>/<version>: one rename, then both dirs synced */
		if (snprintf(from, sizeof(from), "%s/artifact.part", staged) >= (int)sizeof(from) ||
		    snprintf(to, sizeof(to), "%s/model.onnx", staged) >= (int)sizeof(to))
			return FLT_EINVAL;
		if (stat(to, &st) != 0 && (e = flt_fio_rename(from, to, "install.stage.name")))
			return e;
		if ((e = flt_fio_fsync_dir(staged, "install.stage.dirsync")) ||
		    (e = flt_file_mkdirs(parent, 0700, "install.stage.mkdir")) ||
		    (e = flt_fio_rename(staged, target, "install.stage")) ||
		    (e = flt_fio_fsync_dir(parent, "install.stage.dirsync")) ||
		    (e = flt_fio_fsync_parent(staged, "install.stage.dirsync")))
			return e;
	}
	/* the switch: the state file names the new active version */
	m->active = m->version;
	m->step = FLT_STEP_PROBATION;
	m->reason = FLT_REASON_NONE;
	m->prob_start = agentd_now();
	m->crashes = 0;
	if ((e = store_save(a, "install.switch"))) {
		m->active = m->committed;
		return e;
	}
	if ((e = FLT_FAILPOINT("install.switched")))
		return e;
	char path[AGENTD_PATH];
	if (model_file(a, m->name, m->version, path, sizeof(path)))
		return FLT_EINVAL;
	if ((e = a->serving.activate(a->serving.ctx, m->name, m->version, path))) {
		m->active = m->committed;
		if (store_save(a, "install.switch"))
			flt_log_warn("%s: switch back not persisted", m->name);
		activate_serving(a, m, m->committed);
		return FLT_EINCOMPAT;
	}
	events_emit(a, m, FLT_STEP_PROBATION, FLT_REASON_NONE, "");
	return FLT_OK;
}

flt_err install_commit(struct flt_agentd *a, struct agentd_model *m)
{
	uint64_t old = m->committed;
	if (old != m->version)
		m->previous = old;
	m->committed = m->version;
	m->step = FLT_STEP_COMMITTED;
	m->reason = FLT_REASON_NONE;
	flt_free(m->envelope);
	m->envelope = NULL;
	flt_err e = store_save(a, "install.commit");
	if (e)
		return e;
	a->counters.committed++;
	flt_log_info("%s v%llu committed", m->name, (unsigned long long)m->version);
	events_emit(a, m, FLT_STEP_COMMITTED, FLT_REASON_NONE, "");
	prune(a, m, m->committed, m->previous);
	return FLT_OK;
}

void install_after_download(struct flt_agentd *a, struct agentd_model *m)
{
	if (ota_is(a, m)) {
		ota_after_download(a);
		return;
	}
	char staged[AGENTD_PATH], part[AGENTD_PATH], msg[FLT_MAX_MESSAGE + 1] = "";
	enum flt_reason r = FLT_REASON_NONE;
	struct agentd_job *j = m->job;
	if (staging_dir(a, m, staged, sizeof(staged)) ||
	    snprintf(part, sizeof(part), "%s/artifact.part", staged) >= (int)sizeof(part)) {
		install_fail(a, m, FLT_REASON_INTERNAL, "path too long");
		return;
	}
	install_set_step(a, m, FLT_STEP_CHECKING);
	if (test_file_hash(part, j->man, &r)) {
		install_fail(a, m, r,
		             r == FLT_REASON_FILE_HASH_MISMATCH ? "artifact hash mismatch"
		                                                : "reading failed");
		return;
	}
	install_set_step(a, m, FLT_STEP_TESTING);
	if (test_model(part, j->man, j->golden, j->golden_len, &r, msg, sizeof(msg))) {
		install_fail(a, m, r ? r : FLT_REASON_INTERNAL, msg);
		return;
	}
	install_set_step(a, m, FLT_STEP_ACTIVATING);
	install_job_free(m);
	flt_err e = install_stage_and_switch(a, m, staged);
	if (e) {
		install_fail(
		    a, m, e == FLT_EINCOMPAT ? FLT_REASON_ACTIVATION_FAILED : FLT_REASON_IO_ERROR,
		    "activation failed");
		return;
	}
	if (m->prob.probation_s == 0 && install_commit(a, m))
		flt_log_err("%s: commit not persisted", m->name);
}

void install_probation_tick(struct flt_agentd *a, struct agentd_model *m)
{
	if (m->step != FLT_STEP_PROBATION || m->active != m->version)
		return;
	enum flt_reason r = FLT_REASON_NONE;
	int64_t elapsed = agentd_now() - m->prob_start;
	int v = agentd_probation_verdict(a, m, elapsed < 0 ? 0 : elapsed, &r);
	if (v < 0) {
		char msg[128];
		snprintf(msg, sizeof(msg), "%s during probation (%llu crashes, max %llu)",
		         flt_reason_name(r), (unsigned long long)m->crashes,
		         (unsigned long long)m->prob.max_crashes);
		rollback(a, m, r, msg);
	} else if (v > 0 && install_commit(a, m)) {
		flt_log_err("%s: commit not persisted; retrying", m->name);
	}
}

flt_err install_resume(struct flt_agentd *a, struct agentd_model *m)
{
	char staged[AGENTD_PATH];
	/* whatever is committed/active serves first: a crash never leaves nothing */
	if (m->step == FLT_STEP_PROBATION && m->active == m->version) {
		m->crashes++;
		if (store_save(a, "install.crashcount"))
			flt_log_warn("%s: crash count not persisted", m->name);
	}
	if (m->active)
		activate_serving(a, m, m->active);
	if (!m->has_dep || !m->envelope)
		return FLT_OK;
	switch (m->step) {
	case FLT_STEP_ACTIVATING: {
		/* staged or not: if the versioned folder is complete, finish the switch */
		char file[AGENTD_PATH];
		struct flt_manifest *man = NULL;
		enum flt_reason r;
		char msg[FLT_MAX_MESSAGE + 1];
		struct stat st;
		/* the artifact is in one of three places depending on where the crash hit */
		if (staging_dir(a, m, staged, sizeof(staged)) ||
		    model_file(a, m->name, m->version, file, sizeof(file)))
			return FLT_EINVAL;
		if (stat(file, &st) != 0 &&
		    (snprintf(file, sizeof(file), "%s/model.onnx", staged) >= (int)sizeof(file) ||
		     stat(file, &st) != 0) &&
		    (snprintf(file, sizeof(file), "%s/artifact.part", staged) >=
		         (int)sizeof(file) ||
		     stat(file, &st) != 0))
			return FLT_ENOTFOUND; /* caller restarts the pipeline */
		if (verify_release(a, NULL, m->envelope, strlen(m->envelope), m->name, &man, NULL,
		                   &r, msg, sizeof(msg)) ||
		    test_file_hash(file, man, &r)) {
			flt_manifest_free(man);
			return FLT_ENOTFOUND;
		}
		flt_manifest_free(man);
		flt_err e = install_stage_and_switch(a, m, staged);
		if (e)
			install_fail(a, m, FLT_REASON_ACTIVATION_FAILED,
			             "activation failed after restart");
		else if (m->prob.probation_s == 0 && install_commit(a, m))
			flt_log_warn("%s: commit not persisted", m->name);
		return FLT_OK;
	}
	case FLT_STEP_VERIFYING:
	case FLT_STEP_DOWNLOADING:
	case FLT_STEP_CHECKING:
	case FLT_STEP_TESTING:
		return FLT_ENOTFOUND; /* caller restarts the pipeline (resuming the download) */
	default: return FLT_OK;
	}
}

flt_err install_remove(struct flt_agentd *a, struct agentd_model *m)
{
	char dir[AGENTD_PATH];
	fetch_abort(a, m);
	install_job_free(m);
	a->serving.remove(a->serving.ctx, m->name);
	if (staging_dir(a, m, dir, sizeof(dir)) == 0 && store_rm_rf(dir))
		flt_log_warn("cannot remove %s", dir);
	char name[FLT_IDENT_MAX + 1];
	snprintf(name, sizeof(name), "%s", m->name);
	store_model_drop(a, m);
	/* the record goes first: a crash then leaves only an orphan folder */
	flt_err e = store_save(a, "install.remove.state");
	if (e)
		return e;
	if (store_path(a, dir, sizeof(dir), "models/%s", name))
		return FLT_EINVAL;
	flt_log_info("%s removed", name);
	return store_rm_rf(dir);
}
