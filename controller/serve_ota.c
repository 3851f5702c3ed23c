/* Release envelopes for firmware images and agent binaries: the manifest of
 * kind firmware (compatible board) or agent (arch, agent version) built from
 * the release tables, its chunk index pinned in the blob store, signed with
 * the release key. */
#include <stdio.h>
#include <string.h>

#define FLT_LOG_MODULE "serve"
#include "flt/alloc.h"
#include "flt/atomicfile.h"
#include "flt/chunk.h"
#include "flt/dsse.h"
#include "flt/log.h"
#include "flt/manifest.h"
#include "blob_store.h"
#include "serve_ota.h"

#define OTA_ARTIFACT_MAX ((size_t)1 << 30)

static flt_err copy_col(sqlite3_stmt *st, int i, char *out, size_t cap)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	size_t n = t ? strlen((const char *)t) : 0;
	if (n >= cap)
		return FLT_ELIMIT;
	if (n)
		memcpy(out, t, n);
	out[n] = '\0';
	return FLT_OK;
}

/* Kind, name, version, label, board or arch and the artifact hash. */
static flt_err load(struct flt_registry *r, int kind, const char *name, uint64_t version,
                    struct flt_manifest *m)
{
	sqlite3_stmt *st = NULL;
	int row = 0;
	flt_err e;
	if (version > INT64_MAX)
		return FLT_EINVAL;
	m->kind = (enum flt_kind)kind;
	m->version = version;
	if (kind == FLT_KIND_FIRMWARE) {
		if ((e = reg_stmt(r, REG_Q_OTA_FIRMWARE_GET, &st)) ||
		    (e = reg_bind(r, st, "ti", name, (int64_t)version)) ||
		    (e = reg_step(r, st, &row)))
			goto out;
		if (!row) {
			e = FLT_ENOTFOUND;
			goto out;
		}
		snprintf(m->name, sizeof(m->name), "%s", name);
		snprintf(m->arch, sizeof(m->arch), "any");
		if ((e = copy_col(st, 0, m->label, sizeof(m->label))) ||
		    (e = copy_col(st, 1, m->boards[0], sizeof(m->boards[0]))) ||
		    (e = copy_col(st, 2, m->artifact_sha256, sizeof(m->artifact_sha256))))
			goto out;
		m->n_boards = 1;
	} else if (kind == FLT_KIND_AGENT) {
		if ((e = reg_stmt(r, REG_Q_OTA_AGENT_GET, &st)) ||
		    (e = reg_bind(r, st, "ti", name, (int64_t)version)) ||
		    (e = reg_step(r, st, &row)))
			goto out;
		if (!row) {
			e = FLT_ENOTFOUND;
			goto out;
		}
		snprintf(m->arch, sizeof(m->arch), "%s", name);
		if ((e = copy_col(st, 0, m->name, sizeof(m->name))) ||
		    (e = copy_col(st, 1, m->artifact_sha256, sizeof(m->artifact_sha256))))
			goto out;
	} else {
		e = FLT_EINVAL;
	}
out:
	if (st)
		sqlite3_reset(st);
	return e;
}

flt_err serve_ota_sign(struct flt_registry *r, const flt_keystore *ks, int kind, const char *name,
                       uint64_t version, uint32_t chunk_size, int64_t now, int64_t validity_s,
                       char **envelope)
{
	struct flt_manifest *m = NULL;
	uint8_t *art = NULL, *idx = NULL, idx_sha[FLT_SHA256_LEN];
	size_t artlen = 0, idxlen = 0, mlen = 0, envlen = 0;
	char *mjson = NULL, *envjson = NULL, path[4096], idx_hex[65];
	flt_dsse *env = NULL;
	const flt_key *keys[1] = {ks ? flt_keystore_key(ks, FLT_KEYSTORE_RELEASE) : NULL};
	flt_err e;
	if (!keys[0] || !name || chunk_size == 0 || chunk_size > FLT_MANIFEST_MAX_CHUNK_SIZE ||
	    validity_s <= 0 || !envelope)
		return FLT_EINVAL;
	if (!(m = flt_calloc(1, sizeof(*m))))
		return FLT_ENOMEM;
	if ((e = load(r, kind, name, version, m)) ||
	    (e = blob_path(r->blob_root, m->artifact_sha256, path, sizeof(path))))
		goto out;
	if ((e = flt_file_read_all(path, OTA_ARTIFACT_MAX, &art, &artlen, NULL))) {
		flt_log_err("cannot read %s %s:%llu (%s): %s", flt_kind_name(m->kind), m->name,
		            (unsigned long long)version, path, flt_strerror(e));
		goto out;
	}
	if ((e = flt_chunk_index_build(art, artlen, chunk_size, &idx, &idxlen, idx_sha)) ||
	    (e = flt_hex_encode(idx_sha, FLT_SHA256_LEN, idx_hex, sizeof(idx_hex))))
		goto out;
	m->artifact_size = artlen;
	m->chunk_size = chunk_size;
	m->chunk_count = (uint32_t)flt_manifest_chunk_count(artlen, chunk_size);
	memcpy(m->chunk_index_sha256, idx_hex, sizeof(idx_hex));
	m->chunk_index_size = idxlen;
	m->issued_at = now;
	m->expires_at = now + validity_s;
	if ((e = flt_manifest_encode(m, &mjson, &mlen)) ||
	    (e = flt_dsse_sign(FLT_PAYLOAD_RELEASE, (const uint8_t *)mjson, mlen, keys, 1, NULL,
	                       &env)) ||
	    (e = flt_dsse_serialize(env, &envjson, &envlen)))
		goto out;
	if ((e = reg_begin(r)))
		goto out;
	if ((e = blob_pin(r, idx_hex, idx, idxlen))) {
		reg_rollback(r);
		goto out;
	}
	if ((e = reg_commit(r)))
		goto out;
	flt_log_info("signed %s release %s:%llu (chunks of %u bytes)", flt_kind_name(m->kind),
	             m->name, (unsigned long long)version, chunk_size);
	*envelope = envjson;
	envjson = NULL;
out:
	flt_free(envjson);
	flt_dsse_free(env);
	flt_free(mjson);
	flt_free(idx);
	flt_free(art);
	flt_manifest_free(m);
	return e;
}
