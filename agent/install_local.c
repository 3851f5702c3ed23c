/* Offline installs (`flotilla-agent install`): the same verify, check, test,
 * activate and commit steps as a download, from local files; and the
 * persisted state for `flotilla-agent status`. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#define FLT_LOG_MODULE "agent.local"
#include "agentd_int.h"
#include "flt/alloc.h"
#include "flt/atomicfile.h"
#include "flt/fileio.h"
#include "flt/json.h"
#include "flt/log.h"

static flt_err copy_file(const char *from, const char *to)
{
	int in = -1, out = -1;
	uint8_t *buf = flt_malloc(1u << 16);
	flt_err e = buf ? FLT_OK : FLT_ENOMEM;
	if (!e)
		e = flt_fio_open(from, O_RDONLY, 0, &in, NULL);
	if (!e)
		e = flt_fio_open(to, O_WRONLY | O_CREAT | O_TRUNC, 0600, &out,
		                 "install.chunk.open");
	while (!e) {
		size_t got = 0;
		if ((e = flt_fio_read(in, buf, 1u << 16, &got, NULL)) || !got)
			break;
		e = flt_fio_write(out, buf, got, "install.chunk.write");
	}
	if (!e)
		e = flt_fio_fsync(out, "install.chunk.sync");
	flt_free(buf);
	(void)flt_fio_close(in, NULL);
	(void)flt_fio_close(out, NULL);
	return e;
}

flt_err flt_agentd_install_local(struct flt_agentd *a, const char *envelope, const char *artifact,
                                 const char *golden, const char *keylist, int *reason)
{
	uint8_t *env = NULL, *gold = NULL, *kl = NULL;
	size_t env_len = 0, gold_len = 0, kl_len = 0;
	struct flt_manifest *man = NULL;
	enum flt_reason r = FLT_REASON_NONE;
	char msg[FLT_MAX_MESSAGE + 1] = "", dir[AGENTD_PATH], part[AGENTD_PATH];
	flt_err e;
	if (keylist) {
		if ((e = flt_file_read_all(keylist, FLT_KEYLIST_MAX_PAYLOAD * 2, &kl, &kl_len,
		                           NULL)))
			goto out;
		if ((e = verify_keylist(a, (const char *)kl, kl_len, true))) {
			r = a->last_error;
			e = FLT_EVERIFY;
			goto out;
		}
	}
	if ((e = flt_file_read_all(envelope, FLT_MAX_ENVELOPE_BYTES, &env, &env_len, NULL)))
		goto out;
	bool ota = false;
	e = ota_install_file(a, (const char *)env, env_len, artifact, "local", &r, &ota);
	if (ota)
		goto out; /* an agent or firmware release: handed to its slots (or refused) */
	if ((e = verify_release(a, NULL, (const char *)env, env_len, NULL, &man, NULL, &r, msg,
	                        sizeof(msg)))) {
		flt_log_err("refused: %s: %s", flt_reason_name(r), msg);
		goto out;
	}
	struct agentd_model *m = store_model(a, man->name, true);
	if (!m) {
		e = FLT_ELIMIT;
		goto out;
	}
	if (man->version < m->committed) {
		r = FLT_REASON_VERSION_LOWER;
		e = FLT_EVERIFY;
		flt_log_err("refused: version %llu below the committed %llu",
		            (unsigned long long)man->version, (unsigned long long)m->committed);
		goto out;
	}
	if (m->job || (m->step == FLT_STEP_PROBATION && m->active == m->version)) {
		e = FLT_EBUSY;
		goto out;
	}
	if (golden) {
		if ((e = flt_file_read_all(golden, a->conf.max_artifact, &gold, &gold_len, NULL)))
			goto out;
		uint8_t sha[FLT_SHA256_LEN], want[FLT_SHA256_LEN];
		if (!man->has_golden || flt_sha256(gold, gold_len, sha) ||
		    flt_hex_decode(man->golden_sha256, 64, want, sizeof(want)) ||
		    !flt_ct_equal(sha, want, sizeof(sha))) {
			r = FLT_REASON_FILE_HASH_MISMATCH;
			e = FLT_EVERIFY;
			flt_log_err("refused: golden bundle does not match the manifest");
			goto out;
		}
	} else if (man->has_golden) {
		r = FLT_REASON_GOLDEN_MISMATCH;
		e = FLT_EINVAL;
		flt_log_err("the manifest names golden vectors: pass them with --golden FILE");
		goto out;
	}
	flt_free(m->envelope);
	m->envelope = (char *)env;
	env = NULL;
	m->has_dep = true;
	m->local = true;
	m->deployment_id[0] = 0;
	m->version = man->version;
	memset(&m->prob, 0, sizeof(m->prob)); /* offline: committed once tested */
	m->step = FLT_STEP_VERIFYING;
	if (store_path(a, dir, sizeof(dir), "staging/%s-%llu", m->name,
	               (unsigned long long)m->version) ||
	    snprintf(part, sizeof(part), "%s/artifact.part", dir) >= (int)sizeof(part)) {
		e = FLT_EINVAL;
		goto out;
	}
	install_set_step(a, m, FLT_STEP_DOWNLOADING);
	if ((e = flt_file_mkdirs(dir, 0700, "install.mkdir")) || (e = copy_file(artifact, part))) {
		install_fail(a, m, FLT_REASON_IO_ERROR, "copying the artifact failed");
		r = FLT_REASON_IO_ERROR;
		goto out;
	}
	if (!(m->job = flt_calloc(1, sizeof(*m->job)))) {
		e = FLT_ENOMEM;
		goto out;
	}
	m->job->f.fd = -1;
	m->job->man = man;
	man = NULL;
	m->job->golden = gold;
	m->job->golden_len = gold_len;
	gold = NULL;
	install_after_download(a, m);
	if (m->step != FLT_STEP_COMMITTED) {
		r = m->reason;
		e = FLT_EVERIFY;
	}
out:
	if (reason)
		*reason = (int)r;
	flt_manifest_free(man);
	flt_free(env);
	flt_free(gold);
	flt_free(kl);
	return e;
}

flt_err flt_agentd_status_json(const struct flt_agentd_conf *conf, char **out)
{
	char path[AGENTD_PATH];
	uint8_t *buf = NULL;
	size_t len = 0;
	if (snprintf(path, sizeof(path), "%s/state.json", conf->data_dir) >= (int)sizeof(path))
		return FLT_EINVAL;
	flt_err e = flt_file_read_all(path, 4u * 1024u * 1024u, &buf, &len, NULL);
	if (e == FLT_ENOTFOUND) {
		static const char empty[] = "{\"v\":1,\"models\":[]}";
		if (!(*out = flt_strdup(empty)))
			return FLT_ENOMEM;
		return FLT_OK;
	}
	if (e)
		return e;
	/* the envelopes are for the daemon, not for people */
	cJSON *root = cJSON_ParseWithLength((const char *)buf, len), *m;
	flt_free(buf);
	if (!root)
		return FLT_EPARSE;
	cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(root, "models"))
	{
		cJSON *d = cJSON_GetObjectItemCaseSensitive(m, "dep");
		if (d) {
			cJSON_DeleteItemFromObjectCaseSensitive(d, "envelope");
			cJSON_DeleteItemFromObjectCaseSensitive(d, "env_sha");
		}
	}
	size_t tl = 0;
	e = flt_json_print(root, out, &tl);
	cJSON_Delete(root);
	return e;
}
