/* The agent's persisted state: <data>/state.json, replaced atomically (temp,
 * fsync, rename, fsync dir) before every step acts, so a crash or power cut
 * leaves either the old or the new record. Layout: docs/agent.md. */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define FLT_LOG_MODULE "agent.store"
#include "agentd_int.h"
#include "flt/alloc.h"
#include "flt/atomicfile.h"
#include "flt/fileio.h"
#include "flt/json.h"
#include "flt/log.h"

#define STATE_MAX (4u * 1024u * 1024u)

int store_path(const struct flt_agentd *a, char *buf, size_t cap, const char *fmt, ...)
{
	int n = snprintf(buf, cap, "%s/", a->conf.data_dir);
	if (n < 0 || (size_t)n >= cap)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(buf + n, cap - (size_t)n, fmt, ap);
	va_end(ap);
	if (m < 0 || (size_t)m >= cap - (size_t)n)
		return -1;
	return 0;
}

struct agentd_model *store_model(struct flt_agentd *a, const char *name, bool create)
{
	for (size_t i = 0; i < a->n_models; i++)
		if (!strcmp(a->models[i].name, name))
			return &a->models[i];
	if (!create || a->n_models >= AGENTD_MAX_MODELS || !flt_ident_valid(name))
		return NULL;
	struct agentd_model *m = &a->models[a->n_models++];
	memset(m, 0, sizeof(*m));
	snprintf(m->name, sizeof(m->name), "%s", name);
	return m;
}

void store_model_drop(struct flt_agentd *a, struct agentd_model *m)
{
	install_job_free(m);
	flt_free(m->envelope);
	size_t i = (size_t)(m - a->models);
	memmove(&a->models[i], &a->models[i + 1], (a->n_models - i - 1) * sizeof(*m));
	a->n_models--;
}

bool store_is_bad(const struct agentd_model *m, uint64_t version, const char *dep)
{
	for (size_t i = 0; i < m->n_bad; i++)
		if (m->bad[i].version == version && !strcmp(m->bad[i].deployment_id, dep))
			return true;
	return false;
}

void store_mark_bad(struct agentd_model *m, uint64_t version, const char *dep)
{
	if (store_is_bad(m, version, dep))
		return;
	if (m->n_bad == AGENTD_MAX_BAD) /* forget the oldest */
		memmove(&m->bad[0], &m->bad[1], (AGENTD_MAX_BAD - 1) * sizeof(m->bad[0]));
	else
		m->n_bad++;
	m->bad[m->n_bad - 1].version = version;
	snprintf(m->bad[m->n_bad - 1].deployment_id, sizeof(m->bad[0].deployment_id), "%s", dep);
}

flt_err store_rm_rf(const char *path)
{
	struct stat st;
	if (lstat(path, &st) != 0)
		return errno == ENOENT ? FLT_OK : FLT_EIO;
	if (S_ISDIR(st.st_mode)) {
		DIR *d = opendir(path);
		if (!d)
			return FLT_EIO;
		struct dirent *de;
		flt_err e = FLT_OK;
		while ((de = readdir(d))) {
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			char sub[AGENTD_PATH];
			if (snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name) >=
			    (int)sizeof(sub))
				continue;
			if (store_rm_rf(sub))
				e = FLT_EIO;
		}
		closedir(d);
		if (e)
			return e;
		e = flt_fio_rmdir(path, "install.remove");
		if (!e)
			e = flt_fio_fsync_parent(path, "install.remove");
		return e;
	}
	flt_err e = flt_fio_unlink(path, "install.remove");
	return e == FLT_ENOTFOUND ? FLT_OK : e;
}

/* ---- encode ---- */

static flt_err add_hex(cJSON *o, const char *k, const uint8_t *b)
{
	char hex[65];
	if (flt_hex_encode(b, 32, hex, sizeof(hex)))
		return FLT_EINTERNAL;
	return flt_json_add_str(o, k, hex);
}

static flt_err encode_model(const struct agentd_model *m, cJSON *arr)
{
	cJSON *o = cJSON_CreateObject();
	if (!o || !cJSON_AddItemToArray(arr, o))
		return FLT_ENOMEM;
	flt_err e;
	if ((e = flt_json_add_str(o, "name", m->name)) ||
	    (e = flt_json_add_uint(o, "active", m->active)) ||
	    (e = flt_json_add_uint(o, "committed", m->committed)) ||
	    (e = flt_json_add_uint(o, "previous", m->previous)))
		return e;
	if (!cJSON_AddBoolToObject(o, "from_desired", m->from_desired))
		return FLT_ENOMEM;
	cJSON *bad = cJSON_AddArrayToObject(o, "bad");
	if (!bad)
		return FLT_ENOMEM;
	for (size_t i = 0; i < m->n_bad; i++) {
		cJSON *b = cJSON_CreateObject();
		if (!b || !cJSON_AddItemToArray(bad, b))
			return FLT_ENOMEM;
		if ((e = flt_json_add_uint(b, "version", m->bad[i].version)) ||
		    (e = flt_json_add_str(b, "deployment_id", m->bad[i].deployment_id)))
			return e;
	}
	if (!m->has_dep)
		return FLT_OK;
	cJSON *d = cJSON_AddObjectToObject(o, "dep");
	if (!d || !cJSON_AddBoolToObject(d, "local", m->local))
		return FLT_ENOMEM;
	if ((e = add_hex(d, "env_sha", m->env_sha)) ||
	    (e = flt_json_add_str(d, "id", m->deployment_id)) ||
	    (e = flt_json_add_uint(d, "version", m->version)) ||
	    (e = flt_json_add_str(d, "step", flt_step_name(m->step))) ||
	    (e = flt_json_add_str(d, "reason", flt_reason_name(m->reason))) ||
	    (e = flt_json_add_uint(d, "probation_s", m->prob.probation_s)) ||
	    (e = flt_json_add_double(d, "max_error_rate", m->prob.max_error_rate)) ||
	    (e = flt_json_add_uint(d, "max_crashes", m->prob.max_crashes)) ||
	    (e = flt_json_add_int(d, "prob_start", m->prob_start)) ||
	    (e = flt_json_add_uint(d, "crashes", m->crashes)) ||
	    (e = flt_json_add_uint(d, "latency_ms_max", m->latency_ms_max)))
		return e;
	if (m->envelope && (e = flt_json_add_str(d, "envelope", m->envelope)))
		return e;
	return FLT_OK;
}

flt_err store_save(struct flt_agentd *a, const char *fp)
{
	char path[AGENTD_PATH];
	char *text = NULL;
	size_t len = 0;
	flt_err e = FLT_ENOMEM;
	cJSON *root = cJSON_CreateObject();
	if (!root)
		goto out;
	if ((e = flt_json_add_uint(root, "v", 1)) ||
	    (e = flt_json_add_uint(root, "keys_serial", a->kl_state.serial)) ||
	    (e = flt_json_add_uint(root, "desired_serial", a->desired_serial)))
		goto out;
	if (a->kl_state.valid && (e = add_hex(root, "keys_sha", a->kl_state.payload_sha256)))
		goto out;
	if (a->desired_serial && (e = add_hex(root, "desired_sha", a->desired_sha)))
		goto out;
	if ((e = flt_json_add_str(root, "last_error", flt_reason_name(a->last_error))) ||
	    (e = flt_json_add_str(root, "last_error_msg", a->last_error_msg)))
		goto out;
	e = FLT_ENOMEM;
	cJSON *arr = cJSON_AddArrayToObject(root, "models");
	if (!arr)
		goto out;
	for (size_t i = 0; i < a->n_models; i++)
		if ((e = encode_model(&a->models[i], arr)))
			goto out;
	if ((e = flt_json_print(root, &text, &len)))
		goto out;
	e = FLT_EINVAL;
	if (store_path(a, path, sizeof(path), "state.json"))
		goto out;
	e = flt_file_write_atomic(path, text, len, 0600, fp ? fp : "agent.state");
	if (e)
		flt_log_err("cannot save %s: %s", path, flt_strerror(e));
	a->state_dirty = true;
out:
	cJSON_Delete(root);
	flt_free(text);
	return e;
}

/* ---- decode (our own file: checked, but a bad one is an error, not an attack) ---- */

static uint64_t get_u(const cJSON *o, const char *k)
{
	uint64_t v = 0;
	if (flt_json_has(o, k) && flt_json_get_uint(o, k, FLT_JSON_MAX_SAFE_INT, &v, NULL))
		v = 0;
	return v;
}

static void get_hex(const cJSON *o, const char *k, uint8_t out[32], bool *ok)
{
	const char *s = NULL;
	*ok = false;
	if (flt_json_has(o, k) && !flt_json_get_str(o, k, 64, &s, NULL) && strlen(s) == 64 &&
	    !flt_hex_decode(s, 64, out, 32))
		*ok = true;
}

static flt_err decode_model(struct flt_agentd *a, const cJSON *o)
{
	char name[FLT_IDENT_MAX + 1];
	if (flt_json_get_ident(o, "name", name, NULL))
		return FLT_EPARSE;
	struct agentd_model *m = store_model(a, name, true);
	if (!m)
		return FLT_ELIMIT;
	m->active = get_u(o, "active");
	m->committed = get_u(o, "committed");
	m->previous = get_u(o, "previous");
	const cJSON *fd = cJSON_GetObjectItemCaseSensitive(o, "from_desired");
	m->from_desired = cJSON_IsTrue(fd);
	const cJSON *bad = cJSON_GetObjectItemCaseSensitive(o, "bad"), *b;
	cJSON_ArrayForEach(b, bad)
	{
		char dep[FLT_IDENT_MAX + 1];
		if (!flt_json_get_ident(b, "deployment_id", dep, NULL))
			store_mark_bad(m, get_u(b, "version"), dep);
	}
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(o, "dep");
	if (!cJSON_IsObject(d))
		return FLT_OK;
	const char *s;
	m->has_dep = true;
	m->local = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(d, "local"));
	if (flt_json_get_strbuf(d, "id", m->deployment_id, sizeof(m->deployment_id), NULL))
		m->deployment_id[0] = 0;
	m->version = get_u(d, "version");
	bool ok;
	get_hex(d, "env_sha", m->env_sha, &ok);
	if (flt_json_get_str(d, "step", 32, &s, NULL) || !flt_step_from_name(s, &m->step))
		return FLT_EPARSE;
	if (flt_json_get_str(d, "reason", 64, &s, NULL) || !flt_reason_from_name(s, &m->reason))
		return FLT_EPARSE;
	m->prob.probation_s = get_u(d, "probation_s");
	if (flt_json_get_double(d, "max_error_rate", 0, 1, &m->prob.max_error_rate, NULL))
		m->prob.max_error_rate = 0;
	m->prob.max_crashes = get_u(d, "max_crashes");
	if (flt_json_get_int(d, "prob_start", &m->prob_start, NULL))
		m->prob_start = 0;
	m->crashes = get_u(d, "crashes");
	uint64_t lat = get_u(d, "latency_ms_max");
	m->latency_ms_max = lat > UINT32_MAX ? UINT32_MAX : (uint32_t)lat;
	if (flt_json_has(d, "envelope") &&
	    !flt_json_get_str(d, "envelope", FLT_MAX_ENVELOPE_BYTES, &s, NULL))
		if (!(m->envelope = flt_strdup(s)))
			return FLT_ENOMEM;
	return FLT_OK;
}

flt_err store_load(struct flt_agentd *a)
{
	char path[AGENTD_PATH];
	uint8_t *buf = NULL;
	size_t len = 0;
	cJSON *root = NULL;
	if (store_path(a, path, sizeof(path), "state.json"))
		return FLT_EINVAL;
	(void)flt_file_remove_stale_temps(path);
	flt_err e = flt_file_read_all(path, STATE_MAX, &buf, &len, "agent.state.load");
	if (e == FLT_ENOTFOUND)
		return FLT_OK; /* first start */
	if (e)
		return e;
	if ((e = flt_json_parse_object((const char *)buf, len, STATE_MAX, 0, &root, NULL))) {
		flt_log_err("%s does not parse: starting from an empty state", path);
		e = FLT_OK;
		goto out;
	}
	a->kl_state.serial = get_u(root, "keys_serial");
	get_hex(root, "keys_sha", a->kl_state.payload_sha256, &a->kl_state.valid);
	a->desired_serial = get_u(root, "desired_serial");
	bool ok;
	get_hex(root, "desired_sha", a->desired_sha, &ok);
	const char *s;
	if (!flt_json_get_str(root, "last_error", 64, &s, NULL))
		(void)flt_reason_from_name(s, &a->last_error);
	if (flt_json_get_strbuf(root, "last_error_msg", a->last_error_msg,
	                        sizeof(a->last_error_msg), NULL))
		a->last_error_msg[0] = 0;
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "models"), *o;
	cJSON_ArrayForEach(o, arr)
	{
		if ((e = decode_model(a, o))) {
			flt_log_err("%s: a model record does not decode (%s)", path,
			            flt_strerror(e));
			goto out;
		}
	}
out:
	cJSON_Delete(root);
	flt_free(buf);
	return e;
}
