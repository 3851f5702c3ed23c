/* Unit tests for the release manifest codec (flt/manifest.h): round trips of
 * model, agent and firmware releases, every generic strictness case, and the
 * manifest's own cross-field rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "codec_check.h"
#include "flt/manifest.h"

#define SHA_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define SHA_B "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static flt_err dec(const char *b, size_t l, void **o, struct flt_json_err *e)
{
	return flt_manifest_parse(b, l, (struct flt_manifest **)o, e);
}
static flt_err enc(const void *m, char **o, size_t *l)
{
	return flt_manifest_encode(m, o, l);
}
static void fre(void *m)
{
	flt_manifest_free(m);
}
static const struct cc_codec codec = {"manifest", dec, enc, fre, FLT_MAX_MANIFEST_BYTES, NULL};

static struct flt_opset opsets[] = {{"", 17}, {"ai.onnx.ml", 3}};
static struct flt_operator ops[] = {
    {"", "Conv"}, {"", "Gemm"}, {"ai.onnx.ml", "TreeEnsembleClassifier"}};

static void sample_model(struct flt_manifest *m, struct flt_tensor_sig *in,
                         struct flt_tensor_sig *out)
{
	memset(m, 0, sizeof(*m));
	memset(in, 0, sizeof(*in));
	memset(out, 0, sizeof(*out));
	m->kind = FLT_KIND_MODEL;
	memcpy(m->name, "digits", 7);
	m->version = 3;
	memcpy(m->label, "digits v3 \xc3\xa9 run-42", 20);
	m->artifact_size = 100000;
	memcpy(m->artifact_sha256, SHA_A, 65);
	m->chunk_size = 32768;
	m->chunk_count = 4;
	memcpy(m->chunk_index_sha256, SHA_B, 65);
	m->chunk_index_size = 56 + 4 * 32;
	m->has_runtime = true;
	memcpy(m->format, "onnx", 5);
	m->ir_version = 8;
	m->opsets = opsets;
	m->n_opsets = 2;
	m->operators = ops;
	m->n_operators = 3;
	m->peak_memory = 1u << 20;
	memcpy(m->arch, "any", 4);
	memcpy(in->name, "input", 6);
	in->dtype = 1;
	in->rank = 4;
	memcpy(in->dims[0].param, "N", 2);
	in->dims[0].value = -1;
	in->dims[1].value = 1;
	in->dims[2].value = 28;
	in->dims[3].value = 28;
	memcpy(out->name, "logits", 7);
	out->dtype = 1;
	out->rank = -1;
	m->inputs = in;
	m->n_inputs = 1;
	m->outputs = out;
	m->n_outputs = 1;
	m->latency_ms_max = 50;
	memcpy(m->boards[0], "rpi4", 5);
	m->n_boards = 1;
	m->min_firmware_version = 2;
	m->min_agent_version = 1;
	m->has_golden = true;
	memcpy(m->golden_sha256, SHA_B, 65);
	m->golden_size = 4000;
	m->golden_rtol = 1e-4;
	m->golden_atol = 1e-5;
	m->rollback_of = 2;
	m->issued_at = 1764000000;
	m->expires_at = 1764000000 + 90 * 86400;
}

static void test_round_trip(void **state)
{
	(void)state;
	struct flt_manifest m, *back = NULL;
	struct flt_tensor_sig in, out;
	char *text = NULL;
	size_t len = 0;

	sample_model(&m, &in, &out);
	cc_round_trip(&codec, &m, "model");
	assert_int_equal(flt_manifest_encode(&m, &text, &len), FLT_OK);
	assert_int_equal(flt_manifest_parse(text, len, &back, NULL), FLT_OK);
	assert_string_equal(back->name, "digits");
	assert_string_equal(back->label, m.label);
	assert_true(back->inputs[0].dims[0].value == -1);
	assert_string_equal(back->inputs[0].dims[0].param, "N");
	assert_int_equal(back->inputs[0].dims[3].value, 28);
	assert_int_equal(back->outputs[0].rank, -1);
	assert_string_equal(back->operators[2].op_type, "TreeEnsembleClassifier");
	assert_true(back->golden_rtol == 1e-4 && back->golden_atol == 1e-5);
	assert_int_equal(back->rollback_of, 2);
	assert_int_equal(back->expires_at, m.expires_at);
	flt_manifest_free(back);
	flt_free(text);

	/* a minimal generic model */
	sample_model(&m, &in, &out);
	memcpy(m.format, "generic", 8);
	m.ir_version = 0;
	m.n_opsets = m.n_operators = m.n_inputs = m.n_outputs = m.n_boards = 0;
	m.has_golden = false;
	m.rollback_of = 0;
	m.latency_ms_max = 0;
	m.min_firmware_version = 0;
	m.artifact_size = 1;
	m.chunk_count = 1;
	m.chunk_index_size = 88;
	cc_round_trip(&codec, &m, "generic");

	/* an agent and a firmware release */
	memset(&m, 0, sizeof(m));
	m.kind = FLT_KIND_AGENT;
	memcpy(m.name, "flotilla-agent-aarch64", 23);
	m.version = 7;
	m.artifact_size = 3000000;
	memcpy(m.artifact_sha256, SHA_A, 65);
	m.chunk_size = 1000000;
	m.chunk_count = 3;
	memcpy(m.chunk_index_sha256, SHA_B, 65);
	m.chunk_index_size = 56 + 3 * 32;
	m.issued_at = 1;
	m.expires_at = 2;
	cc_round_trip(&codec, &m, "agent");
	m.kind = FLT_KIND_FIRMWARE;
	memcpy(m.name, "rootfs-rpi4", 12);
	memcpy(m.boards[0], "rpi4", 5);
	memcpy(m.boards[1], "rpi4-b", 7);
	m.n_boards = 2;
	m.min_agent_version = 5;
	cc_round_trip(&codec, &m, "firmware");
}

static void test_strict(void **state)
{
	(void)state;
	struct flt_manifest m;
	struct flt_tensor_sig in, out;
	static const char *const required[] = {"v",         "kind",       "name",
	                                       "version",   "label",      "artifact",
	                                       "chunks",    "runtime",    "min_agent_version",
	                                       "issued_at", "expires_at", NULL};

	sample_model(&m, &in, &out);
	cc_strict(&codec, &m, required);
	cc_torture(&codec, &m);
}

static void test_rules(void **state)
{
	(void)state;
	struct flt_manifest m;
	struct flt_tensor_sig in, out;
	char *text = NULL;
	size_t len = 0;

#define REFUSED(mut)                                                                               \
	do {                                                                                       \
		sample_model(&m, &in, &out);                                                       \
		mut;                                                                               \
		assert_int_equal(flt_manifest_encode(&m, &text, &len), FLT_EINVAL);                \
	} while (0)
	REFUSED(m.name[0] = '.');
	REFUSED(memcpy(m.name, "..", 3));
	REFUSED(m.version = 0);
	REFUSED(m.chunk_count = 5);
	REFUSED(m.chunk_size = 0);
	REFUSED(m.chunk_index_size += 1);
	REFUSED(m.artifact_size = 0; m.chunk_count = 0);
	REFUSED(m.expires_at = m.issued_at);
	REFUSED(m.rollback_of = 3);
	REFUSED(m.has_runtime = false);
	REFUSED(memcpy(m.arch, "mips", 5));
	REFUSED(m.artifact_sha256[3] = 'A');
	REFUSED(m.golden_rtol = -1);
	REFUSED(memcpy(m.boards[0], "Bad", 4));
	REFUSED(in.rank = 9);
	REFUSED(in.dims[1].value = -1);
	REFUSED(m.kind = FLT_KIND_AGENT); /* name and runtime wrong for an agent */
	REFUSED(m.label[0] = (char)0xff);
#undef REFUSED

	/* wire forms of the same rules */
	struct flt_json_err e = {.reason = FLT_REASON_NONE};
	struct flt_manifest *back = NULL;
	sample_model(&m, &in, &out);
	assert_int_equal(flt_manifest_encode(&m, &text, &len), FLT_OK);
	cJSON *root = NULL;
	assert_int_equal(flt_json_parse(text, len, len, 0, &root, NULL), FLT_OK);
	cJSON *art = cJSON_GetObjectItemCaseSensitive(root, "artifact");
	cJSON_ReplaceItemInObjectCaseSensitive(art, "size", cJSON_CreateNumber(-1));
	char *p = cJSON_PrintUnformatted(root);
	assert_int_equal(flt_manifest_parse(p, strlen(p), &back, &e), FLT_EPARSE);
	assert_non_null(strstr(e.msg, "negative"));
	assert_int_equal(e.reason, FLT_REASON_MALFORMED);
	cJSON_free(p);
	cJSON_ReplaceItemInObjectCaseSensitive(art, "size", cJSON_CreateNumber(100000));
	cJSON_ReplaceItemInObjectCaseSensitive(root, "kind", cJSON_CreateString("plugin"));
	p = cJSON_PrintUnformatted(root);
	assert_int_equal(flt_manifest_parse(p, strlen(p), &back, &e), FLT_EPARSE);
	cJSON_free(p);
	cJSON_ReplaceItemInObjectCaseSensitive(root, "kind", cJSON_CreateString("model"));
	cJSON_ReplaceItemInObjectCaseSensitive(root, "name", cJSON_CreateString(".."));
	p = cJSON_PrintUnformatted(root);
	assert_int_equal(flt_manifest_parse(p, strlen(p), &back, &e), FLT_EPARSE);
	assert_non_null(strstr(e.msg, "identifier"));
	cJSON_free(p);
	cJSON_Delete(root);
	flt_free(text);
	assert_null(back);
}

static void test_alloc_failures(void **state)
{
	(void)state;
	struct flt_manifest m, *back = NULL;
	struct flt_tensor_sig in, out;
	char *text = NULL;
	size_t len = 0;

	sample_model(&m, &in, &out);
	assert_int_equal(flt_manifest_encode(&m, &text, &len), FLT_OK);
	/* cJSON allocates with malloc, so only our own allocations fail here */
	for (long n = 0; n < 8; n++) {
		flt_alloc_fail_after(n);
		flt_err rc = flt_manifest_parse(text, len, &back, NULL);
		flt_alloc_fail_reset();
		if (rc == FLT_OK) {
			flt_manifest_free(back);
			back = NULL;
		} else {
			assert_int_equal(rc, FLT_ENOMEM);
			assert_null(back);
		}
	}
	flt_free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_strict),
	    cmocka_unit_test(test_rules),
	    cmocka_unit_test(test_alloc_failures),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
