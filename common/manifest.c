/* Release manifest codec: strict decoding of the signed release payload and
 * the matching encoder. Field-level checks happen while reading; cross-field
 * rules live in flt_manifest_validate so encoder and decoder share them. */
#include <math.h>
#include <string.h>

#include "codec.h"
#include "flt/alloc.h"
#include "flt/chunk.h"
#include "flt/manifest.h"

static const char *const kind_names[FLT_KIND_COUNT_] = {"model", "agent", "firmware"};

const char *flt_kind_name(enum flt_kind k)
{
	return (unsigned)k < FLT_KIND_COUNT_ ? kind_names[k] : "?";
}

bool flt_kind_from_name(const char *s, enum flt_kind *out)
{
	for (unsigned i = 0; s && i < FLT_KIND_COUNT_; i++) {
		if (strcmp(s, kind_names[i]) == 0) {
			*out = (enum flt_kind)i;
			return true;
		}
	}
	return false;
}

uint64_t flt_manifest_chunk_count(uint64_t size, uint32_t chunk_size)
{
	if (chunk_size == 0)
		return 0;
	return size / chunk_size + (size % chunk_size ? 1 : 0);
}

void flt_manifest_free(struct flt_manifest *m)
{
	if (!m)
		return;
	flt_free(m->opsets);
	flt_free(m->operators);
	flt_free(m->inputs);
	flt_free(m->outputs);
	flt_free(m);
}

static const char *const top_keys[] = {"v",
                                       "kind",
                                       "name",
                                       "version",
                                       "label",
                                       "artifact",
                                       "chunks",
                                       "runtime",
                                       "inputs",
                                       "outputs",
                                       "latency_ms_max",
                                       "compatible",
                                       "min_agent_version",
                                       "golden",
                                       "lineage",
                                       "issued_at",
                                       "expires_at",
                                       NULL};
static const char *const artifact_keys[] = {"size", "sha256", NULL};
static const char *const chunks_keys[] = {"size", "count", "index_sha256", "index_size", NULL};
static const char *const runtime_keys[] = {"format",      "ir_version", "opsets", "operators",
                                           "peak_memory", "arch",       NULL};
static const char *const opset_keys[] = {"domain", "version", NULL};
static const char *const op_keys[] = {"domain", "op_type", NULL};
static const char *const tensor_keys[] = {"name", "dtype", "shape", NULL};
static const char *const compat_keys[] = {"boards", "min_firmware_version", NULL};
static const char *const golden_keys[] = {"sha256", "size", "rtol", "atol", NULL};
static const char *const lineage_keys[] = {"rollback_of", NULL};

static bool arch_known(const char *a)
{
	return strcmp(a, "any") == 0 || strcmp(a, "aarch64") == 0 || strcmp(a, "armhf") == 0 ||
	       strcmp(a, "x86_64") == 0;
}

flt_err flt_manifest_validate(const struct flt_manifest *m, struct flt_json_err *err)
{
	flt_err rc = FLT_OK;

	if (!m)
		INVALID("no manifest");
	if ((unsigned)m->kind >= FLT_KIND_COUNT_)
		INVALID("unknown kind");
	if (!flt_ident_valid(m->name))
		INVALID("'name' is not a valid identifier");
	if (m->version < 1 || m->version > FLT_JSON_MAX_SAFE_INT)
		INVALID("'version' must be 1..2^53-1");
	if (!codec_text_ok(m->label, FLT_MAX_LABEL))
		INVALID("'label' is not UTF-8 within %u bytes", FLT_MAX_LABEL);
	if (m->artifact_size < 1 || m->artifact_size > FLT_JSON_MAX_SAFE_INT ||
	    !flt_json_sha256_hex_valid(m->artifact_sha256))
		INVALID("artifact: bad size or sha256");
	if (m->chunk_size < 1 || m->chunk_size > FLT_MANIFEST_MAX_CHUNK_SIZE)
		INVALID("chunks: 'size' must be 1..%u", FLT_MANIFEST_MAX_CHUNK_SIZE);
	if (flt_manifest_chunk_count(m->artifact_size, m->chunk_size) != m->chunk_count)
		INVALID("chunks: 'count' does not match artifact size / chunk size");
	if (m->chunk_count > FLT_MAX_CHUNKS)
		INVALID("chunks: more than %u chunks", FLT_MAX_CHUNKS);
	if (!flt_json_sha256_hex_valid(m->chunk_index_sha256))
		INVALID("chunks: bad index_sha256");
	/* the index is a fixed header plus one SHA-256 per chunk (flt/chunk.h) */
	if (m->chunk_index_size != FLT_CHUNK_INDEX_HEADER_LEN + 32ull * m->chunk_count)
		INVALID("chunks: 'index_size' must be %u + 32 * count", FLT_CHUNK_INDEX_HEADER_LEN);
	if (m->kind == FLT_KIND_MODEL) {
		if (!m->has_runtime)
			INVALID("a model release needs 'runtime'");
	} else {
		if (m->has_runtime || m->n_inputs || m->n_outputs)
			INVALID("only model releases carry runtime, inputs or outputs");
	}
	if (m->kind == FLT_KIND_AGENT) {
		size_t pl = strlen(FLT_AGENT_RELEASE_PREFIX);
		if (strncmp(m->name, FLT_AGENT_RELEASE_PREFIX, pl) != 0 ||
		    !arch_known(m->name + pl) || strcmp(m->name + pl, "any") == 0)
			INVALID("agent release name must be flotilla-agent-<arch>");
	}
	if (m->has_runtime) {
		if (!codec_text_ok(m->format, FLT_MANIFEST_MAX_FORMAT) ||
		    !flt_ident_valid(m->format))
			INVALID("runtime: bad 'format'");
		if (m->ir_version > FLT_JSON_MAX_SAFE_INT || m->peak_memory > FLT_JSON_MAX_SAFE_INT)
			INVALID("runtime: number above 2^53-1");
		if (!arch_known(m->arch))
			INVALID("runtime: unknown 'arch'");
		if (m->n_opsets > FLT_MANIFEST_MAX_OPSETS || (m->n_opsets && !m->opsets))
			INVALID("runtime: too many opsets");
		for (size_t i = 0; i < m->n_opsets; i++) {
			if (!codec_text_ok(m->opsets[i].domain, FLT_MANIFEST_MAX_DOMAIN) ||
			    m->opsets[i].version < 1 ||
			    m->opsets[i].version > FLT_JSON_MAX_SAFE_INT)
				INVALID("runtime: bad opset %zu", i);
			for (size_t j = 0; j < i; j++)
				if (strcmp(m->opsets[i].domain, m->opsets[j].domain) == 0)
					INVALID("runtime: opset domain listed twice");
		}
		if (m->n_operators > FLT_MANIFEST_MAX_OPERATORS ||
		    (m->n_operators && !m->operators))
			INVALID("runtime: too many operators");
		for (size_t i = 0; i < m->n_operators; i++)
			if (!codec_text_ok(m->operators[i].domain, FLT_MANIFEST_MAX_DOMAIN) ||
			    !codec_text_ok(m->operators[i].op_type, FLT_MANIFEST_MAX_OPTYPE) ||
			    !m->operators[i].op_type[0])
				INVALID("runtime: bad operator %zu", i);
	}
	for (int io = 0; io < 2; io++) {
		const struct flt_tensor_sig *t = io ? m->outputs : m->inputs;
		size_t n = io ? m->n_outputs : m->n_inputs;

		if (n > FLT_MANIFEST_MAX_TENSORS || (n && !t))
			INVALID("too many %s", io ? "outputs" : "inputs");
		for (size_t i = 0; i < n; i++) {
			if (!codec_text_ok(t[i].name, FLT_MANIFEST_MAX_TENSOR_NAME) ||
			    t[i].dtype > 64 || t[i].rank < -1 || t[i].rank > FLT_MANIFEST_MAX_RANK)
				INVALID("%s[%zu]: bad name, dtype or rank",
				        io ? "outputs" : "inputs", i);
			for (int32_t d = 0; d < t[i].rank; d++) {
				const struct flt_dim *dim = &t[i].dims[d];
				bool sym = dim->param[0] != '\0';
				if (sym ? (dim->value != -1 ||
				           !codec_text_ok(dim->param, FLT_MANIFEST_MAX_DIM_PARAM))
				        : (dim->value < 0 ||
				           dim->value > (int64_t)FLT_JSON_MAX_SAFE_INT))
					INVALID("%s[%zu]: bad dimension %d",
					        io ? "outputs" : "inputs", i, (int)d);
			}
		}
	}
	if (m->latency_ms_max > FLT_JSON_MAX_SAFE_INT ||
	    m->min_firmware_version > FLT_JSON_MAX_SAFE_INT ||
	    m->min_agent_version > FLT_JSON_MAX_SAFE_INT || m->rollback_of > FLT_JSON_MAX_SAFE_INT)
		INVALID("number above 2^53-1");
	if (m->n_boards > FLT_MANIFEST_MAX_BOARDS)
		INVALID("compatible: too many boards");
	for (size_t i = 0; i < m->n_boards; i++)
		if (!flt_ident_valid(m->boards[i]))
			INVALID("compatible: board %zu is not a valid identifier", i);
	if (m->has_golden) {
		if (!flt_json_sha256_hex_valid(m->golden_sha256) ||
		    m->golden_size > FLT_JSON_MAX_SAFE_INT || !isfinite(m->golden_rtol) ||
		    !isfinite(m->golden_atol) || m->golden_rtol < 0 || m->golden_atol < 0)
			INVALID("golden: bad sha256, size, rtol or atol");
	}
	if (m->rollback_of >= m->version)
		INVALID("lineage: 'rollback_of' must be lower than 'version'");
	if (m->issued_at < 0 || m->issued_at > (int64_t)FLT_JSON_MAX_SAFE_INT ||
	    m->expires_at > (int64_t)FLT_JSON_MAX_SAFE_INT || m->expires_at <= m->issued_at)
		INVALID("'expires_at' must be after 'issued_at'");
out:
	return rc;
}

static flt_err read_tensors(const cJSON *root, const char *key, struct flt_tensor_sig **out,
                            size_t *n_out, struct flt_json_err *err)
{
	const cJSON *arr = NULL, *it;
	struct flt_tensor_sig *t = NULL;
	size_t n = 0, i = 0;
	flt_err rc = FLT_OK;

	if (!flt_json_has(root, key))
		return FLT_OK;
	CHECK(flt_json_get_arr(root, key, FLT_MANIFEST_MAX_TENSORS, &arr, &n, err));
	if (n) {
		t = flt_calloc(n, sizeof(*t));
		if (!t) {
			rc = FLT_ENOMEM;
			goto out;
		}
	}
	cJSON_ArrayForEach(it, arr)
	{
		struct flt_tensor_sig *s = &t[i];
		uint64_t dtype = 0;

		if (!cJSON_IsObject(it))
			INVALID("%s[%zu] is not an object", key, i);
		CHECK(flt_json_check_keys(it, tensor_keys, err));
		CHECK(flt_json_get_strbuf(it, "name", s->name, sizeof(s->name), err));
		CHECK(flt_json_get_uint(it, "dtype", 64, &dtype, err));
		s->dtype = (uint32_t)dtype;
		s->rank = -1;
		if (flt_json_has(it, "shape")) {
			const cJSON *shape = NULL, *d;
			size_t rank = 0, k = 0;

			CHECK(flt_json_get_arr(it, "shape", FLT_MANIFEST_MAX_RANK, &shape, &rank,
			                       err));
			cJSON_ArrayForEach(d, shape)
			{
				if (cJSON_IsString(d)) {
					const char *p = NULL;
					CHECK(flt_json_str(d, "shape", FLT_MANIFEST_MAX_DIM_PARAM,
					                   &p, err));
					if (!p[0])
						INVALID("%s[%zu]: empty dimension name", key, i);
					memcpy(s->dims[k].param, p, strlen(p) + 1);
					s->dims[k].value = -1;
				} else {
					uint64_t v = 0;
					CHECK(flt_json_uint(d, "shape", FLT_JSON_MAX_SAFE_INT, &v,
					                    err));
					s->dims[k].value = (int64_t)v;
				}
				k++;
			}
			s->rank = (int32_t)rank;
		}
		i++;
	}
	*out = t;
	*n_out = n;
	t = NULL;
out:
	if (rc != FLT_OK)
		flt_json_err_prefix(err, key);
	flt_free(t);
	return rc;
}

static flt_err read_runtime(const cJSON *root, struct flt_manifest *m, struct flt_json_err *err)
{
	const cJSON *rt = NULL, *arr = NULL, *it;
	size_t n = 0, i;
	flt_err rc = FLT_OK;

	CHECK(flt_json_get_obj(root, "runtime", &rt, err));
	CHECK(flt_json_check_keys(rt, runtime_keys, err));
	CHECK(flt_json_get_strbuf(rt, "format", m->format, sizeof(m->format), err));
	CHECK(flt_json_get_uint(rt, "ir_version", FLT_JSON_MAX_SAFE_INT, &m->ir_version, err));
	CHECK(flt_json_get_uint(rt, "peak_memory", FLT_JSON_MAX_SAFE_INT, &m->peak_memory, err));
	CHECK(flt_json_get_strbuf(rt, "arch", m->arch, sizeof(m->arch), err));

	CHECK(flt_json_get_arr(rt, "opsets", FLT_MANIFEST_MAX_OPSETS, &arr, &n, err));
	if (n && !(m->opsets = flt_calloc(n, sizeof(*m->opsets)))) {
		rc = FLT_ENOMEM;
		goto out;
	}
	i = 0;
	cJSON_ArrayForEach(it, arr)
	{
		if (!cJSON_IsObject(it))
			INVALID("opsets[%zu] is not an object", i);
		CHECK(flt_json_check_keys(it, opset_keys, err));
		CHECK(flt_json_get_strbuf(it, "domain", m->opsets[i].domain,
		                          sizeof(m->opsets[i].domain), err));
		CHECK(flt_json_get_uint(it, "version", FLT_JSON_MAX_SAFE_INT, &m->opsets[i].version,
		                        err));
		i++;
	}
	m->n_opsets = n;

	CHECK(flt_json_get_arr(rt, "operators", FLT_MANIFEST_MAX_OPERATORS, &arr, &n, err));
	if (n && !(m->operators = flt_calloc(n, sizeof(*m->operators)))) {
		rc = FLT_ENOMEM;
		goto out;
	}
	i = 0;
	cJSON_ArrayForEach(it, arr)
	{
		struct flt_operator *o = &m->operators[i];
		if (!cJSON_IsObject(it))
			INVALID("operators[%zu] is not an object", i);
		CHECK(flt_json_check_keys(it, op_keys, err));
		CHECK(flt_json_get_strbuf(it, "domain", o->domain, sizeof(o->domain), err));
		CHECK(flt_json_get_strbuf(it, "op_type", o->op_type, sizeof(o->op_type), err));
		i++;
	}
	m->n_operators = n;
	m->has_runtime = true;
out:
	if (rc != FLT_OK)
		flt_json_err_prefix(err, "runtime");
	return rc;
}

flt_err flt_manifest_parse(const char *buf, size_t len, struct flt_manifest **out,
                           struct flt_json_err *err)
{
	cJSON *root = NULL;
	const cJSON *o = NULL;
	struct flt_manifest *m = NULL;
	const char *s = NULL;
	uint64_t u = 0;
	int64_t t = 0;
	flt_err rc;

	if (!out)
		return FLT_EINVAL;
	rc = codec_open(buf, len, FLT_MAX_MANIFEST_BYTES, top_keys, &root, err);
	if (rc != FLT_OK)
		return rc;
	m = flt_calloc(1, sizeof(*m));
	if (!m) {
		rc = FLT_ENOMEM;
		goto out;
	}
	CHECK(flt_json_get_str(root, "kind", 16, &s, err));
	if (!flt_kind_from_name(s, &m->kind))
		INVALID("unknown kind");
	CHECK(flt_json_get_ident(root, "name", m->name, err));
	CHECK(flt_json_get_uint(root, "version", FLT_JSON_MAX_SAFE_INT, &m->version, err));
	CHECK(flt_json_get_strbuf(root, "label", m->label, sizeof(m->label), err));

	CHECK(flt_json_get_obj(root, "artifact", &o, err));
	CHECK(flt_json_check_keys(o, artifact_keys, err));
	CHECK(flt_json_get_uint(o, "size", FLT_JSON_MAX_SAFE_INT, &m->artifact_size, err));
	CHECK(flt_json_get_sha256(o, "sha256", m->artifact_sha256, err));

	CHECK(flt_json_get_obj(root, "chunks", &o, err));
	CHECK(flt_json_check_keys(o, chunks_keys, err));
	CHECK(flt_json_get_uint(o, "size", FLT_MANIFEST_MAX_CHUNK_SIZE, &u, err));
	m->chunk_size = (uint32_t)u;
	CHECK(flt_json_get_uint(o, "count", FLT_MAX_CHUNKS, &u, err));
	m->chunk_count = (uint32_t)u;
	CHECK(flt_json_get_sha256(o, "index_sha256", m->chunk_index_sha256, err));
	CHECK(flt_json_get_uint(o, "index_size", FLT_JSON_MAX_SAFE_INT, &m->chunk_index_size, err));

	if (flt_json_has(root, "runtime"))
		CHECK(read_runtime(root, m, err));
	CHECK(read_tensors(root, "inputs", &m->inputs, &m->n_inputs, err));
	CHECK(read_tensors(root, "outputs", &m->outputs, &m->n_outputs, err));
	if (flt_json_has(root, "latency_ms_max"))
		CHECK(flt_json_get_uint(root, "latency_ms_max", FLT_JSON_MAX_SAFE_INT,
		                        &m->latency_ms_max, err));
	if (flt_json_has(root, "compatible")) {
		const cJSON *arr = NULL, *it;
		size_t n = 0;

		CHECK(flt_json_get_obj(root, "compatible", &o, err));
		CHECK(flt_json_check_keys(o, compat_keys, err));
		if (flt_json_has(o, "boards")) {
			CHECK(
			    flt_json_get_arr(o, "boards", FLT_MANIFEST_MAX_BOARDS, &arr, &n, err));
			cJSON_ArrayForEach(it, arr)
			    CHECK(flt_json_ident(it, "boards", m->boards[m->n_boards++], err));
		}
		if (flt_json_has(o, "min_firmware_version"))
			CHECK(flt_json_get_uint(o, "min_firmware_version", FLT_JSON_MAX_SAFE_INT,
			                        &m->min_firmware_version, err));
	}
	CHECK(flt_json_get_uint(root, "min_agent_version", FLT_JSON_MAX_SAFE_INT,
	                        &m->min_agent_version, err));
	if (flt_json_has(root, "golden")) {
		CHECK(flt_json_get_obj(root, "golden", &o, err));
		CHECK(flt_json_check_keys(o, golden_keys, err));
		CHECK(flt_json_get_sha256(o, "sha256", m->golden_sha256, err));
		CHECK(flt_json_get_uint(o, "size", FLT_JSON_MAX_SAFE_INT, &m->golden_size, err));
		CHECK(flt_json_get_double(o, "rtol", 0, 1e6, &m->golden_rtol, err));
		CHECK(flt_json_get_double(o, "atol", 0, 1e6, &m->golden_atol, err));
		m->has_golden = true;
	}
	if (flt_json_has(root, "lineage")) {
		CHECK(flt_json_get_obj(root, "lineage", &o, err));
		CHECK(flt_json_check_keys(o, lineage_keys, err));
		CHECK(flt_json_get_uint(o, "rollback_of", FLT_JSON_MAX_SAFE_INT, &m->rollback_of,
		                        err));
		if (m->rollback_of == 0)
			INVALID("lineage: 'rollback_of' must be >= 1");
	}
	CHECK(flt_json_get_int(root, "issued_at", &t, err));
	m->issued_at = t;
	CHECK(flt_json_get_int(root, "expires_at", &t, err));
	m->expires_at = t;
	CHECK(flt_manifest_validate(m, err));
	*out = m;
	m = NULL;
out:
	cJSON_Delete(root);
	flt_manifest_free(m);
	return codec_wire_err(rc);
}

static flt_err add_tensors(cJSON *root, const char *key, const struct flt_tensor_sig *t, size_t n)
{
	cJSON *arr;
	flt_err rc = FLT_OK;

	if (!n)
		return FLT_OK;
	arr = cJSON_AddArrayToObject(root, key);
	if (!arr)
		return FLT_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		cJSON *o = cJSON_CreateObject();
		if (!o || !cJSON_AddItemToArray(arr, o)) {
			cJSON_Delete(o);
			return FLT_ENOMEM;
		}
		CHECK(flt_json_add_str(o, "name", t[i].name));
		CHECK(flt_json_add_uint(o, "dtype", t[i].dtype));
		if (t[i].rank >= 0) {
			cJSON *shape = cJSON_AddArrayToObject(o, "shape");
			if (!shape)
				return FLT_ENOMEM;
			for (int32_t d = 0; d < t[i].rank; d++) {
				if (t[i].dims[d].param[0])
					CHECK(flt_json_push_str(shape, t[i].dims[d].param));
				else
					CHECK(flt_json_push_uint(shape,
					                         (uint64_t)t[i].dims[d].value));
			}
		}
	}
out:
	return rc;
}

flt_err flt_manifest_encode(const struct flt_manifest *m, char **out, size_t *len)
{
	cJSON *root = NULL, *o, *arr;
	flt_err rc;

	if (!out || !len)
		return FLT_EINVAL;
	rc = flt_manifest_validate(m, NULL);
	if (rc != FLT_OK)
		return rc;
	root = cJSON_CreateObject();
	if (!root)
		return FLT_ENOMEM;
	rc = FLT_ENOMEM;
	CHECK(flt_json_add_uint(root, "v", FLT_PROTOCOL_VERSION));
	CHECK(flt_json_add_str(root, "kind", flt_kind_name(m->kind)));
	CHECK(flt_json_add_str(root, "name", m->name));
	CHECK(flt_json_add_uint(root, "version", m->version));
	CHECK(flt_json_add_str(root, "label", m->label));
	if (!(o = cJSON_AddObjectToObject(root, "artifact")))
		goto nomem;
	CHECK(flt_json_add_uint(o, "size", m->artifact_size));
	CHECK(flt_json_add_str(o, "sha256", m->artifact_sha256));
	if (!(o = cJSON_AddObjectToObject(root, "chunks")))
		goto nomem;
	CHECK(flt_json_add_uint(o, "size", m->chunk_size));
	CHECK(flt_json_add_uint(o, "count", m->chunk_count));
	CHECK(flt_json_add_str(o, "index_sha256", m->chunk_index_sha256));
	CHECK(flt_json_add_uint(o, "index_size", m->chunk_index_size));
	if (m->has_runtime) {
		if (!(o = cJSON_AddObjectToObject(root, "runtime")))
			goto nomem;
		CHECK(flt_json_add_str(o, "format", m->format));
		CHECK(flt_json_add_uint(o, "ir_version", m->ir_version));
		if (!(arr = cJSON_AddArrayToObject(o, "opsets")))
			goto nomem;
		for (size_t i = 0; i < m->n_opsets; i++) {
			cJSON *e = cJSON_CreateObject();
			if (!e || !cJSON_AddItemToArray(arr, e)) {
				cJSON_Delete(e);
				goto nomem;
			}
			CHECK(flt_json_add_str(e, "domain", m->opsets[i].domain));
			CHECK(flt_json_add_uint(e, "version", m->opsets[i].version));
		}
		if (!(arr = cJSON_AddArrayToObject(o, "operators")))
			goto nomem;
		for (size_t i = 0; i < m->n_operators; i++) {
			cJSON *e = cJSON_CreateObject();
			if (!e || !cJSON_AddItemToArray(arr, e)) {
				cJSON_Delete(e);
				goto nomem;
			}
			CHECK(flt_json_add_str(e, "domain", m->operators[i].domain));
			CHECK(flt_json_add_str(e, "op_type", m->operators[i].op_type));
		}
		CHECK(flt_json_add_uint(o, "peak_memory", m->peak_memory));
		CHECK(flt_json_add_str(o, "arch", m->arch));
	}
	CHECK(add_tensors(root, "inputs", m->inputs, m->n_inputs));
	CHECK(add_tensors(root, "outputs", m->outputs, m->n_outputs));
	if (m->latency_ms_max)
		CHECK(flt_json_add_uint(root, "latency_ms_max", m->latency_ms_max));
	if (m->n_boards || m->min_firmware_version) {
		if (!(o = cJSON_AddObjectToObject(root, "compatible")))
			goto nomem;
		if (m->n_boards) {
			if (!(arr = cJSON_AddArrayToObject(o, "boards")))
				goto nomem;
			for (size_t i = 0; i < m->n_boards; i++)
				CHECK(flt_json_push_str(arr, m->boards[i]));
		}
		if (m->min_firmware_version)
			CHECK(
			    flt_json_add_uint(o, "min_firmware_version", m->min_firmware_version));
	}
	CHECK(flt_json_add_uint(root, "min_agent_version", m->min_agent_version));
	if (m->has_golden) {
		if (!(o = cJSON_AddObjectToObject(root, "golden")))
			goto nomem;
		CHECK(flt_json_add_str(o, "sha256", m->golden_sha256));
		CHECK(flt_json_add_uint(o, "size", m->golden_size));
		CHECK(flt_json_add_double(o, "rtol", m->golden_rtol));
		CHECK(flt_json_add_double(o, "atol", m->golden_atol));
	}
	if (m->rollback_of) {
		if (!(o = cJSON_AddObjectToObject(root, "lineage")))
			goto nomem;
		CHECK(flt_json_add_uint(o, "rollback_of", m->rollback_of));
	}
	CHECK(flt_json_add_int(root, "issued_at", m->issued_at));
	CHECK(flt_json_add_int(root, "expires_at", m->expires_at));
	rc = flt_json_print(root, out, len);
	goto out;
nomem:
	rc = FLT_ENOMEM;
out:
	cJSON_Delete(root);
	return rc;
}
