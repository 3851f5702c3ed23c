/* `flotilla-agent infer -n NAME[:VER]` against a live serving context: it
 * answers through libflotilla, writes the outputs, and maps failures to the
 * documented exit codes; `infer -m` keeps working beside it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "flt/agent.h"
#include "flt/serving.h"
#include "serving_util.h"

static int run(int argc, const char **argv)
{
	return flt_agent_cli(argc, (char **)(uintptr_t)argv);
}

static void test_infer_through_agent(void **state)
{
	(void)state;
	struct su_env env;
	struct flt_serving *s = NULL;
	char err[256], raw[128], out[128], outdir[96];
	if (su_emulated())
		skip(); /* serving threads are unreliable under qemu-user */
	assert_int_equal(su_setup(&env), 0);
	snprintf(raw, sizeof(raw), "%s/image.f32", env.dir);
	snprintf(outdir, sizeof(outdir), "%s/out", env.dir);
	snprintf(out, sizeof(out), "%s/output_0.pb", outdir);
	assert_int_equal(mkdir(outdir, 0700), 0);
	FILE *f = fopen(raw, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(env.input.data, 1, env.input.size, f), env.input.size);
	fclose(f);
	struct flt_serving_opts o = {.socket_path = env.sock, .workers = 1};
	assert_int_equal(flt_serving_create(&o, &s), FLT_OK);
	assert_int_equal(flt_serving_activate(s, "digits", 4, env.v2, 0, err, sizeof(err)), FLT_OK);

	const char *ok[] = {"flotilla-agent", "infer",   "-n",           "digits:4",
	                    "--socket",       env.sock,  "-i",           raw,
	                    "--shape",        "1x1x8x8", "--output-dir", outdir};
	assert_int_equal(run(12, ok), 0);
	size_t len = 0;
	uint8_t *pb = su_read(out, &len);
	assert_non_null(pb);
	struct flt_rt_tensor t;
	char *name = NULL;
	assert_int_equal(flt_rt_tensor_decode(pb, len, &t, &name, err, sizeof(err)), FLT_OK);
	assert_string_equal(name, "logits");
	assert_int_equal(su_which(&env, t.data, t.size), 1);
	flt_rt_tensor_release(&t);
	flt_free(name);
	flt_free(pb);

	const char *any[] = {"flotilla-agent", "infer",   "-n",           "digits",
	                     "--socket",       env.sock,  "-i",           raw,
	                     "--shape",        "1x1x8x8", "--output-dir", outdir};
	assert_int_equal(run(12, any), 0);
	const char *wrongver[] = {"flotilla-agent", "infer",   "-n",           "digits:3",
	                          "--socket",       env.sock,  "-i",           raw,
	                          "--shape",        "1x1x8x8", "--output-dir", outdir};
	assert_int_equal(run(12, wrongver), 3);
	const char *nosuch[] = {"flotilla-agent", "infer",   "-n",           "nosuch",
	                        "--socket",       env.sock,  "-i",           raw,
	                        "--shape",        "1x1x8x8", "--output-dir", outdir};
	assert_int_equal(run(12, nosuch), 3);
	const char *badshape[] = {"flotilla-agent", "infer",    "-n",           "digits",
	                          "--socket",       env.sock,   "-i",           raw,
	                          "--shape",        "1x1x4x16", "--output-dir", outdir};
	assert_int_equal(run(12, badshape), 5);
	const char *both[] = {"flotilla-agent", "infer", "-n", "digits", "-m", env.v1, "-i", raw};
	assert_int_equal(run(8, both), 2);
	const char *badver[] = {"flotilla-agent", "infer",  "-n", "digits:x", "-i", raw,
	                        "--shape",        "1x1x8x8"};
	assert_int_equal(run(8, badver), 2);
	flt_serving_destroy(s);
	/* no agent listening: a failure that says so */
	assert_int_equal(run(12, any), 1);
	/* -m still runs the file directly */
	const char *direct[] = {"flotilla-agent", "infer",   "-m",           env.v1, "-i", raw,
	                        "--shape",        "1x1x8x8", "--output-dir", outdir};
	assert_int_equal(run(10, direct), 0);
	pb = su_read(out, &len);
	assert_non_null(pb);
	assert_int_equal(flt_rt_tensor_decode(pb, len, &t, NULL, err, sizeof(err)), FLT_OK);
	assert_int_equal(su_which(&env, t.data, t.size), 0);
	flt_rt_tensor_release(&t);
	flt_free(pb);
	unlink(out);
	unlink(raw);
	rmdir(outdir);
	su_teardown(&env);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_infer_through_agent),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
