/* Unit tests for the runtime subcommands of flotilla-agent: `ops` (table and
 * JSON) and `infer -m` on ONNX conformance data (TensorProto and raw inputs),
 * including their exit codes for usage errors and bad input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "flt/agent.h"

#define CONV "/usr/share/libonnx-testdata/data/node/test_conv_with_strides_padding"

static int cli(int argc, const char **argv)
{
	fflush(stdout);
	return flt_agent_cli(argc, (char **)argv);
}

static long file_bytes(const char *path, unsigned char *buf, size_t cap)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, cap, f);
	fclose(f);
	return (long)n;
}

static void test_ops(void **state)
{
	(void)state;
	const char *table[] = {"flotilla-agent", "ops"};
	const char *json[] = {"flotilla-agent", "ops", "-o", "json"};
	const char *bad[] = {"flotilla-agent", "ops", "-o", "yaml"};
	assert_int_equal(cli(2, table), 0);
	assert_int_equal(cli(4, json), 0);
	assert_int_equal(cli(4, bad), 2);
}

static void test_infer_matches_expected_output(void **state)
{
	(void)state;
	if (access(CONV "/model.onnx", R_OK)) {
		fprintf(stderr, "libonnx-testdata not installed: skipping\n");
		skip();
	}
	char dir[] = "/tmp/flt-infer-XXXXXX";
	assert_non_null(mkdtemp(dir));
	const char *argv[] = {"flotilla-agent",
	                      "infer",
	                      "-m",
	                      CONV "/model.onnx",
	                      "-i",
	                      CONV "/test_data_set_0/input_0.pb",
	                      "-i",
	                      CONV "/test_data_set_0/input_1.pb",
	                      "--output-dir",
	                      dir};
	assert_int_equal(cli(10, argv), 0);
	char out[256];
	snprintf(out, sizeof(out), "%s/output_0.pb", dir);
	static unsigned char got[4096], want[4096];
	long ng = file_bytes(out, got, sizeof(got));
	long nw = file_bytes(CONV "/test_data_set_0/output_0.pb", want, sizeof(want));
	assert_true(ng > 0);
	assert_int_equal(ng, nw);
	assert_memory_equal(got, want, (size_t)ng); /* same name, dims and raw_data */
	unlink(out);

	/* raw float input: 1x1x5x5 zeros after the weight file keeps its TensorProto form */
	char raw[256];
	snprintf(raw, sizeof(raw), "%s/x.raw", dir);
	FILE *f = fopen(raw, "wb");
	assert_non_null(f);
	float z[25] = {0};
	assert_int_equal(fwrite(z, 4, 25, f), 25);
	fclose(f);
	const char *rawv[] = {"flotilla-agent",
	                      "infer",
	                      "-m",
	                      CONV "/model.onnx",
	                      "-i",
	                      raw,
	                      "--shape",
	                      "1x1x7x5",
	                      "-i",
	                      CONV "/test_data_set_0/input_1.pb",
	                      "--output-dir",
	                      dir};
	assert_int_equal(cli(12, rawv), 5); /* 100 bytes is not 1x1x7x5 floats */
	rawv[7] = "1x1x5x5";
	assert_int_equal(cli(12, rawv), 5); /* the model wants 7x5 */
	unlink(raw);
	rmdir(dir);
}

static void test_infer_usage_and_input_errors(void **state)
{
	(void)state;
	const char *none[] = {"flotilla-agent", "infer"};
	const char *shape_first[] = {"flotilla-agent", "infer", "-m", "m.onnx", "--shape", "1x2"};
	const char *missing[] = {"flotilla-agent", "infer", "-m", "/nonexistent/m.onnx"};
	assert_int_equal(cli(2, none), 2);
	assert_int_equal(cli(6, shape_first), 2);
	assert_int_equal(cli(4, missing), 3);
	if (access(CONV "/model.onnx", R_OK))
		return;
	/* a model file given as an input tensor is bad input */
	const char *notpb[] = {"flotilla-agent",   "infer", "-m",
	                       CONV "/model.onnx", "-i",    CONV "/model.onnx"};
	assert_int_equal(cli(6, notpb), 5);
	/* wrong number of inputs */
	const char *one[] = {"flotilla-agent",   "infer", "-m",
	                     CONV "/model.onnx", "-i",    CONV "/test_data_set_0/input_0.pb"};
	assert_int_equal(cli(6, one), 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ops),
	    cmocka_unit_test(test_infer_matches_expected_output),
	    cmocka_unit_test(test_infer_usage_and_input_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
