/* Unit tests for the release/device compatibility rule (flt/compat.h): each
 * reason in its documented order, opset ranges, and the "" = ai.onnx domain. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "flt/compat.h"

static struct flt_opset opsets[] = {{"", 13}, {"ai.onnx.ml", 3}};
static struct flt_operator ops[] = {{"", "Conv"}, {"ai.onnx", "Relu"}, {"ai.onnx.ml", "Scaler"}};
static struct flt_op_support sup[] = {
    {"", "Conv", 1, 10},
    {"", "Conv", 11, 0},
    {"ai.onnx", "Relu", 6, 13},
    {"ai.onnx.ml", "Scaler", 1, 0},
};

static void setup_pair(struct flt_manifest *m, struct flt_state *d)
{
	memset(m, 0, sizeof(*m));
	memset(d, 0, sizeof(*d));
	m->kind = FLT_KIND_MODEL;
	memcpy(m->name, "digits", 7);
	m->version = 2;
	m->artifact_size = 1000;
	m->chunk_index_size = 88;
	m->has_golden = true;
	m->golden_size = 100;
	m->has_runtime = true;
	memcpy(m->format, "onnx", 5);
	memcpy(m->arch, "any", 4);
	m->opsets = opsets;
	m->n_opsets = 2;
	m->operators = ops;
	m->n_operators = 3;
	m->peak_memory = 5000;
	m->min_agent_version = 2;
	memcpy(d->device_id, "dev-01", 7);
	memcpy(d->arch, "armhf", 6);
	memcpy(d->board, "rpi3", 5);
	d->ram_bytes = 5000;
	d->disk_free_bytes = 1188;
	d->agent_version = 2;
	d->operators = sup;
	d->n_operators = 4;
}

static void test_rules(void **state)
{
	(void)state;
	struct flt_manifest m;
	struct flt_state d;
	char why[128];

#define EXPECT(r, mut)                                                                             \
	do {                                                                                       \
		setup_pair(&m, &d);                                                                \
		mut;                                                                               \
		assert_int_equal(flt_compat_check(&m, &d, why, sizeof(why)), r);                   \
	} while (0)
	EXPECT(FLT_REASON_NONE, (void)0);
	assert_string_equal(why, "");
	EXPECT(FLT_REASON_WRONG_ARCH, memcpy(m.arch, "aarch64", 8));
	EXPECT(FLT_REASON_NONE, memcpy(m.arch, "armhf", 6));
	EXPECT(FLT_REASON_INCOMPATIBLE_BOARD, memcpy(m.boards[0], "rpi4", 5); m.n_boards = 1);
	EXPECT(FLT_REASON_NONE, memcpy(m.boards[0], "rpi4", 5); memcpy(m.boards[1], "rpi3", 5);
	       m.n_boards = 2);
	EXPECT(FLT_REASON_INCOMPATIBLE_BOARD, m.min_firmware_version = 3; d.firmware_version = 2);
	EXPECT(FLT_REASON_AGENT_TOO_OLD, m.min_agent_version = 3);
	assert_non_null(strstr(why, "needs agent 3"));
	EXPECT(FLT_REASON_MODEL_INCOMPATIBLE, memcpy(m.format, "tflite", 7));
	EXPECT(FLT_REASON_MODEL_INCOMPATIBLE, m.n_opsets = 1); /* Scaler's domain has no opset */
	EXPECT(FLT_REASON_OPERATOR_UNSUPPORTED, d.n_operators = 3);
	assert_non_null(strstr(why, "ai.onnx.ml.Scaler"));
	EXPECT(FLT_REASON_OPSET_UNSUPPORTED, opsets[0].version = 14); /* Relu listed up to 13 */
	opsets[0].version = 13;
	EXPECT(FLT_REASON_NONE, opsets[0].version = 11); /* Conv 11.. and Relu 6..13 */
	opsets[0].version = 13;
	EXPECT(FLT_REASON_OPSET_UNSUPPORTED, opsets[0].version = 5); /* Relu from 6 */
	opsets[0].version = 13;
	EXPECT(FLT_REASON_NONE, memcpy(m.format, "generic", 8); d.n_operators = 0);
	EXPECT(FLT_REASON_INSUFFICIENT_DISK, d.disk_free_bytes = 1187);
	EXPECT(FLT_REASON_NONE, m.has_golden = false; d.disk_free_bytes = 1088);
	EXPECT(FLT_REASON_INSUFFICIENT_MEMORY, d.ram_bytes = 4999);
	/* order: arch is reported before disk */
	EXPECT(FLT_REASON_WRONG_ARCH, memcpy(m.arch, "x86_64", 7); d.disk_free_bytes = 0);

	/* agent releases go by name */
	EXPECT(FLT_REASON_NONE, m.kind = FLT_KIND_AGENT; m.has_runtime = false; m.n_operators = 0;
	       memcpy(m.name, "flotilla-agent-armhf", 21));
	EXPECT(FLT_REASON_WRONG_ARCH, m.kind = FLT_KIND_AGENT; m.has_runtime = false;
	       memcpy(m.name, "flotilla-agent-aarch64", 23));
#undef EXPECT
	assert_int_equal(flt_compat_check(NULL, &d, NULL, 0), FLT_REASON_INTERNAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rules),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
