/* Release envelopes: the manifest of a registered model version with its chunk
 * index, signed with the release key when first needed and again before it
 * expires; and the compatibility check of a version against a device's
 * reported runtime (operators and opsets, memory, arch). */
#include <stdio.h>
#include <string.h>

#define FLT_LOG_MODULE "serve"
#include "flt/alloc.h"
#include "flt/chunk.h"
#include "flt/dsse.h"
#include "flt/atomicfile.h"
#include "flt/log.h"
#include "flt/manifest.h"
#include "flt/mqtt.h"
#include "flt/protocol.h"
#include "blob_store.h"
#include "sig_json.h"
#include "serve.h"

/* Largest model file serve reads in one piece to index it. */
#define ARTIFACT_MAX ((size_t)1 << 30)

void serve_db_idle(struct flt_registry *r)
{
	for (int i = 0; i < REG_Q_COUNT_; i++)
		if (r->stmts[i])
			sqlite3_reset(r->stmts[i]);
}

flt_err serve_topic(char *buf, size_t cap, const char *device_id, const char *suffix)
{
	int n = snprintf(buf, cap, FLT_TOPIC_ROOT "/dev/%s/%s", device_id, suffix);
	return (n < 0 || (size_t)n >= cap) ? FLT_EINVAL : FLT_OK;
}

uint32_t serve_chunk_size_for(uint64_t max_packet, uint32_t cap)
{
	/* The longest topic a chunk travels on: a 64-byte device id and a hash. */
	size_t topic = strlen(FLT_TOPIC_ROOT "/dev//down/chunk/") + FLT_IDENT_MAX + 64;
	if (cap > FLT_MANIFEST_MAX_CHUNK_SIZE)
		cap = FLT_MANIFEST_MAX_CHUNK_SIZE;
	if (max_packet == 0)
		return cap;
	size_t base = flt_mqtt_publish_packet_size(topic, FLT_CHUNK_HEADER_LEN, 1);
	if (base == SIZE_MAX || max_packet <= base + 3)
		return 0;
	uint64_t p = max_packet - base - 3; /* the remaining length may grow by 3 bytes */
	while (p > 0 && flt_mqtt_publish_packet_size(topic, FLT_CHUNK_HEADER_LEN + (size_t)p, 1) >
	                    max_packet)
		p--;
	return p < cap ? (uint32_t)p : cap;
}

static flt_err col_text(sqlite3_stmt *st, int i, char *out, size_t cap)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	if (!t) {
		out[0] = '\0';
		return FLT_OK;
	}
	size_t n = strlen((const char *)t);
	if (n >= cap)
		return FLT_ELIMIT;
	memcpy(out, t, n + 1);
	return FLT_OK;
}

/* One side of the stored signature (sig_json) into manifest tensors. */
static flt_err sig_side(const cJSON *root, const char *side, struct flt_tensor_sig **out, size_t *n)
{
	struct flt_rt_value_info *v = NULL;
	size_t nv = 0;
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, side);
	if (!cJSON_IsArray(arr))
		return FLT_OK;
	flt_err e = sig_json_decode(arr, &v, &nv);
	if (e)
		return e;
	if (nv > FLT_MANIFEST_MAX_TENSORS) {
		e = FLT_ELIMIT;
		goto out;
	}
	if (nv && !(*out = flt_calloc(nv, sizeof(**out)))) {
		e = FLT_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < nv; i++) {
		struct flt_tensor_sig *t = &(*out)[i];
		snprintf(t->name, sizeof(t->name), "%s", v[i].name ? v[i].name : "");
		t->dtype = v[i].dtype > 0 ? (uint32_t)v[i].dtype : 0;
		t->rank = v[i].rank > FLT_MANIFEST_MAX_RANK ? -1 : v[i].rank;
		for (int32_t d = 0; d < t->rank; d++) {
			if (v[i].dim_params[d]) {
				snprintf(t->dims[d].param, sizeof(t->dims[d].param), "%s",
				         v[i].dim_params[d]);
				t->dims[d].value = -1;
			} else if (v[i].dims[d] >= 0) {
				t->dims[d].value = v[i].dims[d];
			} else {
				/* Unknown and unnamed: the manifest can only say "symbolic". */
				snprintf(t->dims[d].param, sizeof(t->dims[d].param), "?");
				t->dims[d].value = -1;
			}
		}
	}
	*n = nv;
out:
	sig_json_free(v, nv);
	return e;
}

/* Fills m from the registry (everything but chunks and times). */
static flt_err load_manifest(struct flt_registry *r, int64_t version_id, struct flt_manifest *m)
{
	sqlite3_stmt *st = NULL;
	int row = 0;
	char fmt[FLT_MANIFEST_MAX_FORMAT + 1];
	flt_err e = reg_stmt(r, REG_Q_REL_VERSION_GET, &st);
	if (!e)
		e = reg_bind(r, st, "i", version_id);
	if (!e)
		e = reg_step(r, st, &row);
	if (e)
		return e;
	if (!row)
		return FLT_ENOTFOUND;
	m->kind = FLT_KIND_MODEL;
	if ((e = col_text(st, 0, m->name, sizeof(m->name))) != FLT_OK)
		return e;
	m->version = (uint64_t)sqlite3_column_int64(st, 1);
	if ((e = col_text(st, 2, fmt, sizeof(fmt))) != FLT_OK)
		return e;
	memcpy(m->format, fmt, sizeof(m->format));
	m->has_runtime = true;
	m->ir_version = (uint64_t)sqlite3_column_int64(st, 3);
	if ((e = col_text(st, 4, m->artifact_sha256, sizeof(m->artifact_sha256))) != FLT_OK)
		return e;
	m->artifact_size = (uint64_t)sqlite3_column_int64(st, 5);
	m->peak_memory = (uint64_t)sqlite3_column_int64(st, 6);
	snprintf(m->arch, sizeof(m->arch), "any");
	if (sqlite3_column_type(st, 7) != SQLITE_NULL &&
	    sqlite3_column_type(st, 10) != SQLITE_NULL) {
		m->has_golden = true;
		if ((e = col_text(st, 7, m->golden_sha256, sizeof(m->golden_sha256))) != FLT_OK)
			return e;
		m->golden_rtol = sqlite3_column_double(st, 8);
		m->golden_atol = sqlite3_column_double(st, 9);
		m->golden_size = (uint64_t)sqlite3_column_int64(st, 10);
	}
	if (sqlite3_column_type(st, 11) != SQLITE_NULL)
		m->rollback_of = (uint64_t)sqlite3_column_int64(st, 11);
	snprintf(m->label, sizeof(m->label), "%s:%llu", m->name, (unsigned long long)m->version);
	const char *sj = (const char *)sqlite3_column_text(st, 12);
	if (sj) {
		cJSON *root = cJSON_Parse(sj);
		if (!root)
			return FLT_EPARSE;
		e = sig_side(root, "inputs", &m->inputs, &m->n_inputs);
		if (!e)
			e = sig_side(root, "outputs", &m->outputs, &m->n_outputs);
		cJSON_Delete(root);
		if (e)
			return e;
	}

	/* Opsets and operators. */
	size_t cap = 0;
	if ((e = reg_stmt(r, REG_Q_REL_VERSION_OPSETS, &st)) != FLT_OK ||
	    (e = reg_bind(r, st, "i", version_id)) != FLT_OK)
		return e;
	while (!(e = reg_step(r, st, &row)) && row) {
		if (m->n_opsets >= FLT_MANIFEST_MAX_OPSETS)
			return FLT_ELIMIT;
		if (m->n_opsets == cap) {
			cap = FLT_MANIFEST_MAX_OPSETS;
			m->opsets = flt_calloc(cap, sizeof(*m->opsets));
			if (!m->opsets)
				return FLT_ENOMEM;
		}
		struct flt_opset *o = &m->opsets[m->n_opsets++];
		if ((e = col_text(st, 0, o->domain, sizeof(o->domain))) != FLT_OK)
			return e;
		o->version = (uint64_t)sqlite3_column_int64(st, 1);
	}
	if (e)
		return e;
	cap = 0;
	if ((e = reg_stmt(r, REG_Q_REL_VERSION_OPS, &st)) != FLT_OK ||
	    (e = reg_bind(r, st, "i", version_id)) != FLT_OK)
		return e;
	while (!(e = reg_step(r, st, &row)) && row) {
		if (m->n_operators >= FLT_MANIFEST_MAX_OPERATORS)
			return FLT_ELIMIT;
		if (m->n_operators == cap) {
			cap = FLT_MANIFEST_MAX_OPERATORS;
			m->operators = flt_calloc(cap, sizeof(*m->operators));
			if (!m->operators)
				return FLT_ENOMEM;
		}
		struct flt_operator *o = &m->operators[m->n_operators++];
		if ((e = col_text(st, 0, o->domain, sizeof(o->domain))) != FLT_OK ||
		    (e = col_text(st, 1, o->op_type, sizeof(o->op_type))) != FLT_OK)
			return e;
	}
	return e;
}

flt_err release_sign(struct flt_registry *r, const flt_keystore *ks, int64_t version_id,
                     uint32_t chunk_size, int64_t now, int64_t validity_s, int64_t *env_id)
{
	struct flt_manifest *m = NULL;
	uint8_t *art = NULL, *idx = NULL;
	size_t artlen = 0, idxlen = 0, mlen = 0, envlen = 0;
	char *mjson = NULL, *envjson = NULL;
	char path[4096], idx_hex[BLOB_HEX_LEN + 1];
	uint8_t idx_sha[FLT_SHA256_LEN];
	flt_dsse *env = NULL;
	const flt_key *keys[1] = {flt_keystore_key(ks, FLT_KEYSTORE_RELEASE)};
	flt_err e;
	if (!keys[0] || chunk_size == 0 || validity_s <= 0)
		return FLT_EINVAL;
	m = flt_calloc(1, sizeof(*m));
	if (!m)
		return FLT_ENOMEM;
	if ((e = load_manifest(r, version_id, m)) != FLT_OK)
		goto out;
	if ((e = blob_path(r->blob_root, m->artifact_sha256, path, sizeof(path))) != FLT_OK)
		goto out;
	if ((e = flt_file_read_all(path, ARTIFACT_MAX, &art, &artlen, NULL)) != FLT_OK) {
		flt_log_err("cannot read the artifact of %s:%llu (%s): %s", m->name,
		            (unsigned long long)m->version, path, flt_strerror(e));
		goto out;
	}
	if ((e = flt_chunk_index_build(art, artlen, chunk_size, &idx, &idxlen, idx_sha)) != FLT_OK)
		goto out;
	if ((e = flt_hex_encode(idx_sha, FLT_SHA256_LEN, idx_hex, sizeof(idx_hex))) != FLT_OK)
		goto out;
	m->artifact_size = artlen;
	m->chunk_size = chunk_size;
	m->chunk_count = (uint32_t)flt_manifest_chunk_count(artlen, chunk_size);
	memcpy(m->chunk_index_sha256, idx_hex, sizeof(idx_hex));
	m->chunk_index_size = idxlen;
	m->issued_at = now;
	m->expires_at = now + validity_s;
	if ((e = flt_manifest_encode(m, &mjson, &mlen)) != FLT_OK)
		goto out;
	if ((e = flt_dsse_sign(FLT_PAYLOAD_RELEASE, (const uint8_t *)mjson, mlen, keys, 1, NULL,
	                       &env)) != FLT_OK)
		goto out;
	if ((e = flt_dsse_serialize(env, &envjson, &envlen)) != FLT_OK)
		goto out;
	serve_db_idle(r);
	if ((e = reg_begin(r)) != FLT_OK)
		goto out;
	if ((e = blob_pin(r, idx_hex, idx, idxlen)) != FLT_OK ||
	    (e = reg_exec(r, REG_Q_REL_ENVELOPE_INSERT, "iittii", version_id, (int64_t)chunk_size,
	                  idx_hex, envjson, now, now + validity_s)) != FLT_OK) {
		reg_rollback(r);
		goto out;
	}
	int64_t id = sqlite3_last_insert_rowid(r->db);
	if ((e = reg_commit(r)) != FLT_OK)
		goto out;
	flt_log_info("signed release envelope for %s:%llu (chunks of %u bytes, expires %lld)",
	             m->name, (unsigned long long)m->version, chunk_size,
	             (long long)(now + validity_s));
	if (env_id)
		*env_id = id;
out:
	flt_free(envjson);
	flt_dsse_free(env);
	flt_free(mjson);
	flt_free(idx);
	flt_free(art);
	flt_manifest_free(m);
	return e;
}

flt_err release_find(struct flt_registry *r, int64_t version_id, int64_t now, int64_t margin_s,
                     uint32_t max_chunk, int64_t *env_id, uint32_t *chunk_size, char **envelope)
{
	sqlite3_stmt *st = NULL;
	int row = 0;
	flt_err e = reg_stmt(r, REG_Q_REL_ENVELOPE_BEST, &st);
	if (!e)
		e = reg_bind(r, st, "iii", version_id, now + margin_s, (int64_t)max_chunk);
	if (!e)
		e = reg_step(r, st, &row);
	if (e)
		return e;
	if (!row)
		return FLT_ENOTFOUND;
	if (envelope) {
		const char *t = (const char *)sqlite3_column_text(st, 2);
		*envelope = flt_strdup(t ? t : "");
		if (!*envelope)
			return FLT_ENOMEM;
	}
	*env_id = sqlite3_column_int64(st, 0);
	*chunk_size = (uint32_t)sqlite3_column_int64(st, 1);
	sqlite3_reset(st);
	return FLT_OK;
}

/* Opset support of one operator: some entry with since <= v <= until (0 = open). */
static bool op_supported(const struct flt_state *st, const char *domain, const char *op,
                         uint64_t opset)
{
	for (size_t i = 0; i < st->n_operators; i++) {
		const struct flt_op_support *o = &st->operators[i];
		if (strcmp(o->domain, domain) || strcmp(o->op_type, op))
			continue;
		if (opset == 0 || (o->since <= opset && (o->until == 0 || opset <= o->until)))
			return true;
	}
	return false;
}

static bool op_known(const struct flt_state *st, const char *domain, const char *op)
{
	for (size_t i = 0; i < st->n_operators; i++)
		if (!strcmp(st->operators[i].domain, domain) &&
		    !strcmp(st->operators[i].op_type, op))
			return true;
	return false;
}

bool serve_device_can_run(struct flt_registry *r, int64_t version_id, const struct flt_state *st,
                          char *why, size_t cap)
{
	struct flt_manifest *m = flt_calloc(1, sizeof(*m));
	bool ok = true;
	if (!m) {
		snprintf(why, cap, "INTERNAL: out of memory");
		return false;
	}
	flt_err e = load_manifest(r, version_id, m);
	if (e) {
		snprintf(why, cap, "MODEL_INCOMPATIBLE: version not available (%s)",
		         flt_strerror(e));
		ok = false;
		goto out;
	}
	if (!st)
		goto out;
	if (strcmp(m->arch, "any") && strcmp(m->arch, st->arch)) {
		snprintf(why, cap, "WRONG_ARCH: built for %s, device is %s", m->arch, st->arch);
		ok = false;
		goto out;
	}
	if (!strcmp(m->format, "onnx")) {
		for (size_t i = 0; i < m->n_operators; i++) {
			const struct flt_operator *o = &m->operators[i];
			uint64_t opset = 0;
			for (size_t j = 0; j < m->n_opsets; j++)
				if (!strcmp(m->opsets[j].domain, o->domain))
					opset = m->opsets[j].version;
			if (!op_known(st, o->domain, o->op_type)) {
				snprintf(why, cap, "OPERATOR_UNSUPPORTED: runtime lacks %s%s%s",
				         o->domain, o->domain[0] ? "." : "", o->op_type);
				ok = false;
				goto out;
			}
			if (!op_supported(st, o->domain, o->op_type, opset)) {
				snprintf(why, cap,
				         "OPSET_UNSUPPORTED: runtime lacks %s%s%s at opset %llu",
				         o->domain, o->domain[0] ? "." : "", o->op_type,
				         (unsigned long long)opset);
				ok = false;
				goto out;
			}
		}
	}
	if (m->peak_memory && st->ram_bytes && m->peak_memory > st->ram_bytes) {
		snprintf(why, cap, "INSUFFICIENT_MEMORY: needs %llu bytes, device has %llu",
		         (unsigned long long)m->peak_memory, (unsigned long long)st->ram_bytes);
		ok = false;
		goto out;
	}
	if (st->disk_free_bytes && m->artifact_size > st->disk_free_bytes) {
		snprintf(why, cap, "INSUFFICIENT_DISK: needs %llu bytes, device has %llu free",
		         (unsigned long long)m->artifact_size,
		         (unsigned long long)st->disk_free_bytes);
		ok = false;
	}
out:
	serve_db_idle(r);
	flt_manifest_free(m);
	return ok;
}
