/* Unit tests for the runtime core: analysis, refusal of unsupported models,
 * corrupt input, batch planning, liveness-based arena reuse, unaligned
 * initializers, allocation failures, and many threads sharing one model. */
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "flt/alloc.h"
#include "flt/runtime.h"
#include "rt_builder.h"

#define F   FLT_RT_FLOAT
#define I64 FLT_RT_INT64

/* y = Relu(MatMul(x[N,4], W[4,3]) + b[3]) */
static uint8_t *mlp_model(size_t *len, int64_t batch_dim)
{
	struct tb t;
	int64_t xd[2] = {batch_dim, 4}, wd[2] = {4, 3}, bd[1] = {3};
	float w[12], b[3] = {0.5f, -0.25f, 0.0f};
	for (int i = 0; i < 12; i++)
		w[i] = (float)(i % 5) * 0.25f - 0.5f;
	tb_init(&t, 13);
	tb_input(&t, "x", F, 2, xd);
	tb_init_tensor(&t, "W", F, 2, wd, w, sizeof(w));
	tb_init_tensor(&t, "b", F, 1, bd, b, sizeof(b));
	tb_node(&t, "MatMul", "x,W", "xw");
	tb_node(&t, "Add", "xw,b", "z");
	tb_node(&t, "Relu", "z", "y");
	tb_output(&t, "y", F);
	return tb_finish(&t, len);
}

static flt_err run1(struct flt_rt_model *m, const float *x, int64_t n, int64_t c, float *y,
                    size_t ycap, struct flt_rt_tensor *out)
{
	struct flt_rt_tensor in = {
	    .dtype = F, .rank = 2, .dims = {n, c}, .data = (void *)x, .size = (size_t)(n * c) * 4};
	char err[256];
	memset(out, 0, sizeof(*out));
	out->data = y;
	out->size = ycap;
	return flt_rt_run(m, &in, 1, out, 1, err, sizeof(err));
}

static void test_analysis(void **state)
{
	(void)state;
	size_t len;
	uint8_t *buf = mlp_model(&len, -1);
	struct flt_rt_analysis *a = NULL;
	assert_int_equal(flt_rt_analyze(buf, len, &a), FLT_OK);
	assert_int_equal(a->n_ops, 3);
	assert_string_equal(a->ops[0].op_type, "Add"); /* sorted */
	assert_string_equal(a->ops[1].op_type, "MatMul");
	assert_true(a->ops[0].supported && a->ops[1].supported && a->ops[2].supported);
	assert_int_equal(a->param_count, 15);
	assert_int_equal(a->param_bytes, 60);
	assert_int_equal(a->n_inputs, 1); /* initializers are not inputs */
	assert_string_equal(a->inputs[0].name, "x");
	assert_int_equal(a->inputs[0].rank, 2);
	assert_int_equal(a->inputs[0].dims[0], -1);
	assert_string_equal(a->inputs[0].dim_params[0], "N");
	assert_int_equal(a->inputs[0].dims[1], 4);
	assert_int_equal(a->n_opsets, 1);
	assert_int_equal(a->opsets[0].version, 13);
	/* y was declared without a type or shape: the plan fills them in (batch 1) */
	assert_int_equal(a->n_outputs, 1);
	assert_int_equal(a->outputs[0].dtype, F);
	assert_int_equal(a->outputs[0].rank, 2);
	assert_int_equal(a->outputs[0].dims[0], 1);
	assert_int_equal(a->outputs[0].dims[1], 3);
	assert_true(a->runnable);
	assert_null(a->not_runnable_reason);
	/* xw (12 B) and z (12 B) are live together, y reuses xw's slot: 2 x 64 B */
	assert_int_equal(a->peak_memory_bytes, 128);
	flt_rt_analysis_free(a);
	free(buf);
}

static void test_unsupported_named(void **state)
{
	(void)state;
	struct tb t;
	int64_t d[1] = {4};
	size_t len;
	tb_init(&t, 13);
	tb_input(&t, "x", F, 1, d);
	tb_node(&t, "Foo", "x", "a");
	tb_name(&t, "n1");
	tb_node(&t, "Relu", "a", "b");
	tb_name(&t, "n2");
	tb_node(&t, "Bar", "b", "y");
	tb_name(&t, "n3");
	tb_output(&t, "y", F);
	uint8_t *buf = tb_finish(&t, &len);
	struct flt_rt_model *m = NULL;
	char err[512];
	assert_int_equal(flt_rt_model_load(buf, len, NULL, &m, err, sizeof(err)), FLT_EUNSUPPORTED);
	assert_null(m);
	assert_non_null(strstr(err, "Foo (node 'n1')"));
	assert_non_null(strstr(err, "Bar (node 'n3')"));
	assert_null(strstr(err, "Relu"));
	struct flt_rt_analysis *a = NULL;
	assert_int_equal(flt_rt_analyze(buf, len, &a), FLT_OK);
	assert_false(a->runnable);
	assert_non_null(strstr(a->not_runnable_reason, "Foo"));
	assert_non_null(strstr(a->not_runnable_reason, "Bar"));
	assert_int_equal(a->peak_memory_bytes, -1);
	int unsupported = 0;
	for (size_t i = 0; i < a->n_ops; i++)
		unsupported += !a->ops[i].supported;
	assert_int_equal(unsupported, 2);
	flt_rt_analysis_free(a);
	free(buf);
}

static void test_newer_opset_and_ir_refused(void **state)
{
	(void)state;
	struct tb t;
	int64_t d[1] = {4};
	size_t len;
	tb_init(&t, 18);
	tb_input(&t, "x", F, 1, d);
	tb_node(&t, "Relu", "x", "y");
	tb_output(&t, "y", F);
	uint8_t *buf = tb_finish(&t, &len);
	struct flt_rt_model *m = NULL;
	char err[512];
	assert_int_equal(flt_rt_model_load(buf, len, NULL, &m, err, sizeof(err)), FLT_EUNSUPPORTED);
	assert_non_null(strstr(err, "opset 18 is newer"));
	free(buf);

	tb_init(&t, 13);
	t.ir = 99;
	tb_input(&t, "x", F, 1, d);
	tb_node(&t, "Relu", "x", "y");
	tb_output(&t, "y", F);
	buf = tb_finish(&t, &len);
	assert_int_equal(flt_rt_model_load(buf, len, NULL, &m, err, sizeof(err)), FLT_EUNSUPPORTED);
	assert_non_null(strstr(err, "IR version 99"));
	struct flt_rt_analysis *a = NULL;
	assert_int_equal(flt_rt_analyze(buf, len, &a), FLT_OK);
	assert_false(a->runnable);
	flt_rt_analysis_free(a);
	free(buf);
}

static void test_truncated_is_parse_error(void **state)
{
	(void)state;
	size_t len;
	uint8_t *buf = mlp_model(&len, 1);
	for (size_t n = 0; n < len; n++) {
		struct flt_rt_analysis *a = NULL;
		uint8_t *copy = malloc(n + 1); /* exact-size copy so ASan sees overreads */
		memcpy(copy, buf, n);
		flt_err e = flt_rt_analyze(copy, n, &a);
		/* a prefix may end on a field boundary and still parse, but it is never
		 * the complete model: the graph is cut, so it must not be runnable */
		if (e == FLT_OK) {
			assert_false(a->runnable && a->n_ops == 3 && a->param_count == 15 &&
			             a->n_outputs == 1);
			flt_rt_analysis_free(a);
		} else {
			assert_int_equal(e, FLT_EPARSE);
		}
		free(copy);
	}
	free(buf);
}

static void test_batch_planning(void **state)
{
	(void)state;
	size_t len;
	uint8_t *buf = mlp_model(&len, -1);
	struct flt_rt_model *m = NULL;
	struct flt_rt_opts o = {.max_batch = 4, .max_concurrency = 1};
	char err[256];
	assert_int_equal(flt_rt_model_load(buf, len, &o, &m, err, sizeof(err)), FLT_OK);
	assert_int_equal(flt_rt_model_max_batch(m), 4);
	assert_int_equal(flt_rt_model_output_bytes(m, 0), 4 * 3 * 4);
	float x[12], y1[3][3], y3[12];
	for (int i = 0; i < 12; i++)
		x[i] = (float)i * 0.3f - 1.5f;
	struct flt_rt_tensor out;
	for (int r = 0; r < 3; r++)
		assert_int_equal(run1(m, x + 4 * r, 1, 4, y1[r], sizeof(y1[r]), &out), FLT_OK);
	assert_int_equal(out.dims[0], 1);
	assert_int_equal(run1(m, x, 3, 4, y3, sizeof(y3), &out), FLT_OK);
	assert_int_equal(out.rank, 2);
	assert_int_equal(out.dims[0], 3);
	assert_int_equal(out.size, 36);
	assert_memory_equal(y3, y1, 36); /* rows independent of batch */
	/* batch outside 1..max, wrong width, small buffer */
	assert_int_equal(run1(m, x, 0, 4, y3, sizeof(y3), &out), FLT_EINVAL);
	float big[20];
	memset(big, 0, sizeof(big));
	assert_int_equal(run1(m, big, 5, 4, big, sizeof(big), &out), FLT_EINVAL);
	assert_int_equal(run1(m, x, 3, 3, y3, sizeof(y3), &out), FLT_EINVAL);
	assert_int_equal(run1(m, x, 3, 4, y3, 8, &out), FLT_ELIMIT);
	flt_rt_model_free(m);
	free(buf);

	/* exported with a fixed batch of 1: max_batch re-plans dim 0 */
	buf = mlp_model(&len, 1);
	assert_int_equal(flt_rt_model_load(buf, len, &o, &m, err, sizeof(err)), FLT_OK);
	assert_int_equal(run1(m, x, 2, 4, y3, sizeof(y3), &out), FLT_OK);
	assert_memory_equal(y3, y1, 24);
	flt_rt_model_free(m);
	free(buf);
}

static void test_batch_refused_when_plan_fixes_it(void **state)
{
	(void)state;
	struct tb t;
	int64_t xd[2] = {1, 4}, sd[1] = {2}, shape[2] = {1, -1};
	size_t len;
	tb_init(&t, 13);
	tb_input(&t, "x", F, 2, xd);
	tb_init_tensor(&t, "s", I64, 1, sd, shape, sizeof(shape));
	tb_node(&t, "Reshape", "x,s", "r");
	tb_node(&t, "Softmax", "r", "y");
	tb_output(&t, "y", F);
	uint8_t *buf = tb_finish(&t, &len);
	struct flt_rt_model *m = NULL;
	struct flt_rt_opts o = {.max_batch = 2};
	char err[256];
	/* [1,-1] folds the batch into the row: batch 2 gives [1,8], a different
	 * model, but still a valid plan; the output shape shows it */
	assert_int_equal(flt_rt_model_load(buf, len, &o, &m, err, sizeof(err)), FLT_OK);
	float x[8] = {0}, y[8];
	struct flt_rt_tensor out;
	assert_int_equal(run1(m, x, 2, 4, y, sizeof(y), &out), FLT_OK);
	assert_int_equal(out.dims[0], 1);
	assert_int_equal(out.dims[1], 8);
	assert_float_equal(y[0], 0.125f, 1e-6);
	flt_rt_model_free(m);
	free(buf);

	/* a fixed [1,4] constant added to the batch cannot broadcast to batch 2 */
	int64_t cd[2] = {2, 4};
	float cv[8] = {0};
	tb_init(&t, 13);
	tb_input(&t, "x", F, 2, xd);
	tb_init_tensor(&t, "c", F, 2, cd, cv, sizeof(cv));
	tb_node(&t, "Add", "x,c", "y");
	tb_output(&t, "y", F);
	buf = tb_finish(&t, &len);
	o.max_batch = 3;
	assert_int_equal(flt_rt_model_load(buf, len, &o, &m, err, sizeof(err)), FLT_EINVAL);
	assert_non_null(strstr(err, "broadcast"));
	free(buf);
}

static void test_arena_reuse(void **state)
{
	(void)state;
	struct tb t;
	int64_t d[2] = {1, 1000};
	size_t len;
	char a[8], b[8];
	tb_init(&t, 13);
	tb_input(&t, "v0", F, 2, d);
	for (int i = 0; i < 10; i++) {
		snprintf(a, sizeof(a), "v%d", i);
		snprintf(b, sizeof(b), "v%d", i + 1);
		tb_node(&t, i % 2 ? "Sigmoid" : "Relu", a, b);
	}
	tb_output(&t, "v10", F);
	uint8_t *buf = tb_finish(&t, &len);
	struct flt_rt_model *m = NULL;
	char err[256];
	assert_int_equal(flt_rt_model_load(buf, len, NULL, &m, err, sizeof(err)), FLT_OK);
	/* ten 4000-byte intermediates, at most two alive at once */
	assert_int_equal(flt_rt_model_arena_bytes(m), 2 * 4032);
	float x[1000], y[1000];
	for (int i = 0; i < 1000; i++)
		x[i] = (float)(i - 500) / 100.0f;
	struct flt_rt_tensor out;
	assert_int_equal(run1(m, x, 1, 1000, y, sizeof(y), &out), FLT_OK);
	float v = x[700];
	for (int i = 0; i < 10; i++)
		v = i % 2 ? 1.0f / (1.0f + expf(-v)) : (v > 0 ? v : 0);
	assert_float_equal(y[700], v, 1e-6);
	flt_rt_model_free(m);
	free(buf);
}

static void test_unaligned_initializer(void **state)
{
	(void)state;
	size_t len;
	uint8_t *buf = mlp_model(&len, 1);
	float x[4] = {1, 2, 3, 4}, ya[3], yb[3];
	struct flt_rt_tensor out;
	struct flt_rt_model *m = NULL;
	char err[256];
	for (size_t shift = 0; shift < 4; shift++) {
		uint8_t *copy = malloc(len + 8);
		memcpy(copy + shift, buf, len);
		assert_int_equal(flt_rt_model_load(copy + shift, len, NULL, &m, err, sizeof(err)),
		                 FLT_OK);
		assert_int_equal(run1(m, x, 1, 4, shift ? yb : ya, sizeof(ya), &out), FLT_OK);
		flt_rt_model_free(m);
		free(copy);
		if (shift)
			assert_memory_equal(ya, yb, sizeof(ya));
	}
	free(buf);
}

static void test_alloc_failures(void **state)
{
	(void)state;
	size_t len;
	uint8_t *buf = mlp_model(&len, -1);
	struct flt_rt_opts o = {.max_batch = 2, .max_concurrency = 2};
	int ok = 0;
	for (long n = 0; n < 400 && !ok; n++) {
		struct flt_rt_model *m = NULL;
		char err[256];
		flt_alloc_fail_after(n);
		flt_err e = flt_rt_model_load(buf, len, &o, &m, err, sizeof(err));
		flt_alloc_fail_reset();
		if (e == FLT_OK) {
			ok = 1;
			flt_rt_model_free(m);
		} else {
			assert_int_equal(e, FLT_ENOMEM);
		}
		struct flt_rt_analysis *a = NULL;
		flt_alloc_fail_after(n);
		e = flt_rt_analyze(buf, len, &a);
		flt_alloc_fail_reset();
		if (e == FLT_OK)
			flt_rt_analysis_free(a);
		else
			assert_int_equal(e, FLT_ENOMEM);
	}
	assert_true(ok);
	free(buf);
}

/* Conv + Relu + GlobalAveragePool + Gemm, shared by many threads. */
static uint8_t *cnn_model(size_t *len)
{
	struct tb t;
	int64_t xd[4] = {1, 2, 8, 8}, wd[4] = {4, 2, 3, 3}, bd[1] = {4}, gd[2] = {3, 4},
	        gb[1] = {3};
	float w[72], b[4], g[12], gbias[3];
	for (int i = 0; i < 72; i++)
		w[i] = (float)((i * 7) % 11) * 0.1f - 0.5f;
	for (int i = 0; i < 4; i++)
		b[i] = 0.1f * (float)i;
	for (int i = 0; i < 12; i++)
		g[i] = (float)((i * 5) % 7) * 0.2f - 0.6f;
	for (int i = 0; i < 3; i++)
		gbias[i] = (float)i;
	int64_t pads[4] = {1, 1, 1, 1};
	tb_init(&t, 13);
	tb_input(&t, "x", F, 4, xd);
	tb_init_tensor(&t, "w", F, 4, wd, w, sizeof(w));
	tb_init_tensor(&t, "b", F, 1, bd, b, sizeof(b));
	tb_init_tensor(&t, "g", F, 2, gd, g, sizeof(g));
	tb_init_tensor(&t, "gb", F, 1, gb, gbias, sizeof(gbias));
	tb_node(&t, "Conv", "x,w,b", "c");
	tb_attr_ints(&t, "pads", 4, pads);
	tb_node(&t, "Relu", "c", "r");
	tb_node(&t, "GlobalAveragePool", "r", "p");
	tb_node(&t, "Flatten", "p", "f");
	tb_node(&t, "Gemm", "f,g,gb", "y");
	tb_attr_i(&t, "transB", 1);
	tb_output(&t, "y", F);
	return tb_finish(&t, len);
}

struct thr {
	struct flt_rt_model *m;
	const float *want; /* [16][3] */
	int bad;
};

static void make_input(int k, float *x)
{
	for (int i = 0; i < 128; i++)
		x[i] = (float)(((i + 3 * k) * 13) % 17) * 0.125f - 1.0f;
}

static void *thr_main(void *arg)
{
	struct thr *t = arg;
	float x[128], y[3];
	for (int it = 0; it < 64; it++) {
		int k = it % 16;
		make_input(k, x);
		struct flt_rt_tensor in = {
		    .dtype = F, .rank = 4, .dims = {1, 2, 8, 8}, .data = x, .size = sizeof(x)};
		struct flt_rt_tensor out = {.data = y, .size = sizeof(y)};
		char err[256];
		if (flt_rt_run(t->m, &in, 1, &out, 1, err, sizeof(err)) != FLT_OK ||
		    memcmp(y, t->want + 3 * k, sizeof(y)))
			t->bad++;
	}
	return NULL;
}

static void *noop_thread(void *arg)
{
	return arg;
}

/* qemu-user as installed here cannot start threads (a bare pthread_create
 * crashes on armhf and never returns on aarch64), so probe in a child process,
 * killed after 5 s, before relying on them. */
static int threads_work(void)
{
	pid_t pid = fork();
	if (pid == 0) {
		pthread_t t;
		if (pthread_create(&t, NULL, noop_thread, NULL) || pthread_join(t, NULL))
			_exit(1);
		_exit(0);
	}
	if (pid < 0)
		return 0;
	int st = 0;
	for (int waited_ms = 0; waited_ms < 5000; waited_ms += 10) {
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid)
			return WIFEXITED(st) && WEXITSTATUS(st) == 0;
		if (r < 0)
			return 0;
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	return 0;
}

static void test_threads_share_model(void **state)
{
	(void)state;
	if (!threads_work()) {
		fprintf(stderr, "threads cannot start here (emulator?): skipping\n");
		skip();
	}
	size_t len;
	uint8_t *buf = cnn_model(&len);
	struct flt_rt_model *m = NULL;
	struct flt_rt_opts o = {.max_concurrency = 3};
	char err[256];
	assert_int_equal(flt_rt_model_load(buf, len, &o, &m, err, sizeof(err)), FLT_OK);
	float want[16][3], x[128];
	for (int k = 0; k < 16; k++) {
		make_input(k, x);
		struct flt_rt_tensor in = {
		    .dtype = F, .rank = 4, .dims = {1, 2, 8, 8}, .data = x, .size = sizeof(x)};
		struct flt_rt_tensor out = {.data = want[k], .size = sizeof(want[k])};
		assert_int_equal(flt_rt_run(m, &in, 1, &out, 1, err, sizeof(err)), FLT_OK);
	}
	assert_true(want[0][0] != want[1][0]); /* inputs differ, so outputs do */
	pthread_t th[8];
	struct thr t[8];
	for (int i = 0; i < 8; i++) {
		t[i] = (struct thr){m, &want[0][0], 0};
		assert_int_equal(pthread_create(&th[i], NULL, thr_main, &t[i]), 0);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(t[i].bad, 0);
	}
	flt_rt_model_free(m);
	free(buf);
}

/* Reshape fed by a graph input: shapes depend on values, evaluated per run. */
static void test_dynamic_shapes(void **state)
{
	(void)state;
	struct tb t;
	int64_t xd[2] = {2, 3}, sd[1] = {2};
	size_t len;
	tb_init(&t, 13);
	tb_input(&t, "x", F, 2, xd);
	tb_input(&t, "shape", I64, 1, sd);
	tb_node(&t, "Reshape", "x,shape", "r");
	tb_node(&t, "Relu", "r", "y");
	tb_output(&t, "y", F);
	uint8_t *buf = tb_finish(&t, &len);
	struct flt_rt_analysis *a = NULL;
	assert_int_equal(flt_rt_analyze(buf, len, &a), FLT_OK);
	assert_true(a->runnable);
	assert_int_equal(a->peak_memory_bytes, -1);
	flt_rt_analysis_free(a);
	struct flt_rt_model *m = NULL;
	char err[256];
	assert_int_equal(flt_rt_model_load(buf, len, NULL, &m, err, sizeof(err)), FLT_OK);
	assert_true(flt_rt_model_is_dynamic(m));
	float x[6] = {-1, 2, -3, 4, -5, 6};
	for (int k = 0; k < 2; k++) {
		int64_t shape[2] = {k ? 3 : 6, k ? -1 : 1};
		struct flt_rt_tensor in[2] = {
		    {.dtype = F, .rank = 2, .dims = {2, 3}, .data = x, .size = sizeof(x)},
		    {.dtype = I64, .rank = 1, .dims = {2}, .data = shape, .size = sizeof(shape)}};
		struct flt_rt_tensor out = {0}; /* data NULL: the run allocates */
		assert_int_equal(flt_rt_run(m, in, 2, &out, 1, err, sizeof(err)), FLT_OK);
		assert_int_equal(out.rank, 2);
		assert_int_equal(out.dims[0], shape[0]);
		assert_int_equal(out.dims[1], k ? 2 : 1);
		assert_float_equal(((float *)out.data)[5], 6, 0);
		assert_float_equal(((float *)out.data)[4], 0, 0);
		flt_free(out.data);
	}
	flt_rt_model_free(m);
	free(buf);
}

static void test_tensor_codec_roundtrip(void **state)
{
	(void)state;
	int64_t v[5] = {3, -1, 0, 1LL << 40, -7};
	struct flt_rt_tensor t = {
	    .dtype = I64, .rank = 2, .dims = {1, 5}, .data = v, .size = sizeof(v)};
	uint8_t *pb = NULL;
	size_t n = 0;
	assert_int_equal(flt_rt_tensor_encode("idx", &t, &pb, &n), FLT_OK);
	struct flt_rt_tensor d;
	char *name = NULL, err[128];
	assert_int_equal(flt_rt_tensor_decode(pb, n, &d, &name, err, sizeof(err)), FLT_OK);
	assert_string_equal(name, "idx");
	assert_int_equal(d.dtype, I64);
	assert_int_equal(d.rank, 2);
	assert_int_equal(d.dims[1], 5);
	assert_int_equal(d.size, sizeof(v));
	assert_memory_equal(d.data, v, sizeof(v));
	flt_rt_tensor_release(&d);
	flt_free(name);
	/* raw_data shorter than the dims say */
	assert_int_equal(flt_rt_tensor_decode(pb, n - 8, &d, NULL, err, sizeof(err)), FLT_EPARSE);
	flt_free(pb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_analysis),
	    cmocka_unit_test(test_unsupported_named),
	    cmocka_unit_test(test_newer_opset_and_ir_refused),
	    cmocka_unit_test(test_truncated_is_parse_error),
	    cmocka_unit_test(test_batch_planning),
	    cmocka_unit_test(test_batch_refused_when_plan_fixes_it),
	    cmocka_unit_test(test_arena_reuse),
	    cmocka_unit_test(test_unaligned_initializer),
	    cmocka_unit_test(test_alloc_failures),
	    cmocka_unit_test(test_threads_share_model),
	    cmocka_unit_test(test_dynamic_shapes),
	    cmocka_unit_test(test_tensor_codec_roundtrip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
