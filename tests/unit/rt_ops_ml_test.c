/* Unit tests for the ONNX-ML ops beyond the scikit-learn conformance group:
 * every tree node mode and missing-value tracking, the four aggregates, the
 * binary one-column conventions, post transforms, double-tensor attributes,
 * malformed forests, string labels, batches, and unsupported ML operators. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "flt/alloc.h"
#include "flt/runtime.h"
#include "rt_ml_builder.h"

#define F   FLT_RT_FLOAT
#define I64 FLT_RT_INT64
#define ML  "ai.onnx.ml"

struct res {
	struct flt_rt_model *m;
	uint8_t *buf;
	struct flt_rt_tensor out[2];
	size_t n_out;
	char err[512];
};

static void res_free(struct res *r)
{
	for (size_t i = 0; i < 2; i++)
		flt_free(r->out[i].data);
	flt_rt_model_free(r->m);
	free(r->buf);
	memset(r, 0, sizeof(*r));
}

/* Loads buf (taking it) and runs one input; outputs are allocated by the run. */
static flt_err load_run(struct res *r, uint8_t *buf, size_t len, uint32_t max_batch, int32_t dtype,
                        const void *x, int64_t n, int64_t f)
{
	struct flt_rt_opts o = {.max_batch = max_batch};
	memset(r, 0, sizeof(*r));
	r->buf = buf;
	flt_err e = flt_rt_model_load(buf, len, &o, &r->m, r->err, sizeof(r->err));
	if (e)
		return e;
	struct flt_rt_tensor in = {.dtype = dtype,
	                           .rank = 2,
	                           .dims = {n, f},
	                           .data = (void *)x,
	                           .size = (size_t)(n * f) * flt_rt_dtype_size(dtype)};
	r->n_out = flt_rt_model_n_outputs(r->m);
	return flt_rt_run(r->m, &in, 1, r->out, r->n_out, r->err, sizeof(r->err));
}

static const float *fout(const struct res *r, size_t k)
{
	assert_int_equal(r->out[k].dtype, F);
	return r->out[k].data;
}

static const int64_t *iout(const struct res *r, size_t k)
{
	assert_int_equal(r->out[k].dtype, I64);
	return r->out[k].data;
}

/* A stump per tree: node 0 tests feature 0 against thr[t] with mode[t];
 * node 1 (true) and 2 (false) are leaves. */
static void stumps(struct tb *t, size_t n, const char *modes_csv, const float *thr,
                   const int64_t *nan_true)
{
	int64_t tids[3 * 8], nids[3 * 8], fids[3 * 8] = {0}, tr[3 * 8], fa[3 * 8];
	float vals[3 * 8];
	char modes[512] = "";
	const char *m = modes_csv;
	for (size_t i = 0; i < n; i++) {
		const char *e = strchr(m, ',');
		size_t l = e ? (size_t)(e - m) : strlen(m);
		char one[32];
		snprintf(one, sizeof(one), "%.*s", (int)l, m);
		m = e ? e + 1 : m + l;
		for (int k = 0; k < 3; k++) {
			tids[3 * i + (size_t)k] = (int64_t)i;
			nids[3 * i + (size_t)k] = k;
			tr[3 * i + (size_t)k] = k == 0 ? 1 : 0;
			fa[3 * i + (size_t)k] = k == 0 ? 2 : 0;
			vals[3 * i + (size_t)k] = k == 0 ? thr[i] : 0;
		}
		size_t used = strlen(modes);
		snprintf(modes + used, sizeof(modes) - used, "%s%s,LEAF,LEAF", i ? "," : "", one);
	}
	tb_attr_ints(t, "nodes_treeids", 3 * n, tids);
	tb_attr_ints(t, "nodes_nodeids", 3 * n, nids);
	tb_attr_ints(t, "nodes_featureids", 3 * n, fids);
	tb_attr_ints(t, "nodes_truenodeids", 3 * n, tr);
	tb_attr_ints(t, "nodes_falsenodeids", 3 * n, fa);
	tb_attr_floats(t, "nodes_values", 3 * n, vals);
	tb_attr_strings(t, "nodes_modes", modes);
	if (nan_true) {
		int64_t nt[3 * 8] = {0};
		for (size_t i = 0; i < n; i++)
			nt[3 * i] = nan_true[i];
		tb_attr_ints(t, "nodes_missing_value_tracks_true", 3 * n, nt);
	}
}

static void test_tree_modes(void **state)
{
	(void)state;
	struct tb t;
	struct res r;
	size_t len;
	int64_t xd[2] = {4, 1};
	float thr[7] = {2, 2, 2, 2, 2, 2, 2};
	int64_t nan_true[7] = {0, 0, 0, 0, 0, 0, 1};
	int64_t wt[7], wn[7], wi[7];
	float ww[7];
	for (int i = 0; i < 7; i++) {
		wt[i] = i;
		wn[i] = 1; /* the true leaf */
		wi[i] = i;
		ww[i] = 1;
	}
	tb_init(&t, 13);
	tb_input(&t, "X", F, 2, xd);
	tb_node(&t, "TreeEnsembleRegressor", "X", "Y");
	tb_domain(&t, ML);
	stumps(&t, 7, "BRANCH_LEQ,BRANCH_LT,BRANCH_GTE,BRANCH_GT,BRANCH_EQ,BRANCH_NEQ,BRANCH_LEQ",
	       thr, nan_true);
	tb_attr_i(&t, "n_targets", 7);
	tb_attr_ints(&t, "target_treeids", 7, wt);
	tb_attr_ints(&t, "target_nodeids", 7, wn);
	tb_attr_ints(&t, "target_ids", 7, wi);
	tb_attr_floats(&t, "target_weights", 7, ww);
	tb_output(&t, "Y", F);
	uint8_t *buf = tb_finish_ml(&t, 1, &len);
	float x[4] = {1, 2, 3, NAN};
	assert_int_equal(load_run(&r, buf, len, 1, F, x, 4, 1), FLT_OK);
	/* rows x = 1, 2, 3, NaN; columns LEQ LT GTE GT EQ NEQ LEQ+nan_true */
	static const float want[4][7] = {{1, 1, 0, 0, 0, 1, 1},
	                                 {1, 0, 1, 0, 1, 0, 1},
	                                 {0, 0, 1, 1, 0, 1, 0},
	                                 {0, 0, 0, 0, 0, 1, 1}};
	const float *y = fout(&r, 0);
	assert_int_equal(r.out[0].dims[0], 4);
	assert_int_equal(r.out[0].dims[1], 7);
	for (int i = 0; i < 4; i++)
		for (int j = 0; j < 7; j++)
			assert_float_equal(y[i * 7 + j], want[i][j], 0);
	res_free(&r);
}

/* Two stumps on feature 0 (x <= 0.5), two targets, base values 100, 200. */
static uint8_t *agg_model(const char *agg, size_t *len)
{
	struct tb t;
	int64_t xd[2] = {2, 1};
	float thr[2] = {0.5f, 0.5f}, base[2] = {100, 200};
	int64_t wt[7] = {0, 0, 0, 0, 1, 1, 1}, wn[7] = {1, 1, 2, 2, 1, 2, 2};
	int64_t wi[7] = {0, 1, 0, 1, 0, 0, 1};
	float ww[7] = {1, 10, 2, 20, 3, 4, 40};
	tb_init(&t, 13);
	tb_input(&t, "X", F, 2, xd);
	tb_node(&t, "TreeEnsembleRegressor", "X", "Y");
	tb_domain(&t, ML);
	stumps(&t, 2, "BRANCH_LEQ,BRANCH_LEQ", thr, NULL);
	tb_attr_i(&t, "n_targets", 2);
	tb_attr_s(&t, "aggregate_function", agg);
	tb_attr_floats(&t, "base_values", 2, base);
	tb_attr_ints(&t, "target_treeids", 7, wt);
	tb_attr_ints(&t, "target_nodeids", 7, wn);
	tb_attr_ints(&t, "target_ids", 7, wi);
	tb_attr_floats(&t, "target_weights", 7, ww);
	tb_output(&t, "Y", F);
	return tb_finish_ml(&t, 1, len);
}

static void test_tree_aggregates(void **state)
{
	(void)state;
	static const struct {
		const char *agg;
		float want[4];
	} cases[] = {
	    {"SUM", {104, 210, 106, 260}},
	    {"AVERAGE", {102, 205, 103, 230}},
	    {"MIN", {101, 210, 102, 220}},
	    {"MAX", {103, 210, 104, 240}},
	};
	float x[2] = {0, 1};
	for (size_t c = 0; c < 4; c++) {
		struct res r;
		size_t len;
		uint8_t *buf = agg_model(cases[c].agg, &len);
		assert_int_equal(load_run(&r, buf, len, 1, F, x, 2, 1), FLT_OK);
		const float *y = fout(&r, 0);
		for (int k = 0; k < 4; k++)
			assert_float_equal(y[k], cases[c].want[k], 1e-4);
		res_free(&r);
	}
}

/* Binary classifier with one score column: stump leaves weigh w1 (true) and
 * w2 (false) for class id 0. */
static uint8_t *binary_model(float w1, float w2, const char *post, const float *base, size_t *len)
{
	struct tb t;
	int64_t xd[2] = {2, 1}, labels[2] = {10, 20};
	float thr[1] = {0.5f}, ww[2] = {w1, w2};
	int64_t wt[2] = {0, 0}, wn[2] = {1, 2}, wi[2] = {0, 0};
	tb_init(&t, 13);
	tb_input(&t, "X", F, 2, xd);
	tb_node(&t, "TreeEnsembleClassifier", "X", "label,probabilities");
	tb_domain(&t, ML);
	stumps(&t, 1, "BRANCH_LEQ", thr, NULL);
	tb_attr_ints(&t, "classlabels_int64s", 2, labels);
	tb_attr_s(&t, "post_transform", post);
	if (base)
		tb_attr_floats(&t, "base_values", 1, base);
	tb_attr_ints(&t, "class_treeids", 2, wt);
	tb_attr_ints(&t, "class_nodeids", 2, wn);
	tb_attr_ints(&t, "class_ids", 2, wi);
	tb_attr_floats(&t, "class_weights", 2, ww);
	tb_output(&t, "label", I64);
	tb_output(&t, "probabilities", F);
	return tb_finish_ml(&t, 1, len);
}

static void test_tree_binary_one_column(void **state)
{
	(void)state;
	float x[2] = {0, 1}, base = 0.5f;
	struct res r;
	size_t len;
	/* non-negative weights, NONE: a probability (1 - s, s), threshold 0.5 */
	uint8_t *buf = binary_model(0.8f, 0.3f, "NONE", NULL, &len);
	assert_int_equal(load_run(&r, buf, len, 1, F, x, 2, 1), FLT_OK);
	assert_int_equal(iout(&r, 0)[0], 20);
	assert_int_equal(iout(&r, 0)[1], 10);
	const float *z = fout(&r, 1);
	assert_float_equal(z[0], 0.2f, 1e-6);
	assert_float_equal(z[1], 0.8f, 1e-6);
	assert_float_equal(z[2], 0.7f, 1e-6);
	assert_float_equal(z[3], 0.3f, 1e-6);
	res_free(&r);
	/* mixed signs: a margin (-s, s), threshold 0 */
	buf = binary_model(0.8f, -0.3f, "NONE", NULL, &len);
	assert_int_equal(load_run(&r, buf, len, 1, F, x, 2, 1), FLT_OK);
	assert_int_equal(iout(&r, 0)[0], 20);
	assert_int_equal(iout(&r, 0)[1], 10);
	z = fout(&r, 1);
	assert_float_equal(z[0], -0.8f, 1e-6);
	assert_float_equal(z[1], 0.8f, 1e-6);
	assert_float_equal(z[2], 0.3f, 1e-6);
	assert_float_equal(z[3], -0.3f, 1e-6);
	res_free(&r);
	/* LOGISTIC with a base value: (1 - p, p), p = sigmoid(base + w) */
	buf = binary_model(1.0f, -2.0f, "LOGISTIC", &base, &len);
	assert_int_equal(load_run(&r, buf, len, 1, F, x, 2, 1), FLT_OK);
	assert_int_equal(iout(&r, 0)[0], 20);
	assert_int_equal(iout(&r, 0)[1], 10);
	z = fout(&r, 1);
	double p0 = 1 / (1 + exp(-1.5)), p1 = 1 / (1 + exp(1.5));
	assert_float_equal(z[0], 1 - p0, 1e-6);
	assert_float_equal(z[1], p0, 1e-6);
	assert_float_equal(z[2], 1 - p1, 1e-6);
	assert_float_equal(z[3], p1, 1e-6);
	res_free(&r);
}

static void test_tree_multiclass_strings_softmax_zero(void **state)
{
	(void)state;
	struct tb t;
	struct res r;
	size_t len;
	int64_t xd[2] = {2, 1};
	float thr[1] = {0.5f}, ww[3] = {1, 2, 0.5f};
	int64_t wt[3] = {0, 0, 0}, wn[3] = {1, 1, 2}, wi[3] = {0, 1, 2};
	tb_init(&t, 13);
	tb_input(&t, "X", F, 2, xd);
	tb_node(&t, "TreeEnsembleClassifier", "X", "label,probabilities");
	tb_domain(&t, ML);
	stumps(&t, 1, "BRANCH_LEQ", thr, NULL);
	tb_attr_strings(&t, "classlabels_strings", "setosa,versicolor,virginica");
	tb_attr_s(&t, "post_transform", "SOFTMAX_ZERO");
	tb_attr_ints(&t, "class_treeids", 3, wt);
	tb_attr_ints(&t, "class_nodeids", 3, wn);
	tb_attr_ints(&t, "class_ids", 3, wi);
	tb_attr_floats(&t, "class_weights", 3, ww);
	tb_output(&t, "label", 8 /* string, as declared */);
	tb_output(&t, "probabilities", F);
	uint8_t *buf = tb_finish_ml(&t, 1, &len);
	float x[2] = {0, 1};
	assert_int_equal(load_run(&r, buf, len, 1, F, x, 2, 1), FLT_OK);
	/* string labels come out as class indices */
	assert_int_equal(iout(&r, 0)[0], 1);
	assert_int_equal(iout(&r, 0)[1], 2);
	const float *z = fout(&r, 1);
	double e = exp(-1.0);
	assert_float_equal(z[0], e / (1 + e), 1e-6);
	assert_float_equal(z[1], 1 / (1 + e), 1e-6);
	assert_float_equal(z[2], 0, 0);
	assert_float_equal(z[3], 0, 0);
	assert_float_equal(z[4], 0, 0);
	assert_float_equal(z[5], 1, 1e-6);
	/* analysis reports the label as the int64 tensor a run returns */
	struct flt_rt_analysis *a = NULL;
	assert_int_equal(flt_rt_analyze(r.buf, len, &a), FLT_OK);
	assert_true(a->runnable);
	assert_int_equal(a->outputs[0].dtype, I64);
	assert_int_equal(a->outputs[0].rank, 1);
	assert_int_equal(a->outputs[1].dtype, F);
	flt_rt_analysis_free(a);
	res_free(&r);
}

/* ai.onnx.ml 3 double thresholds split exactly: 0.1f > 0.1 as doubles. */
static void test_tree_double_thresholds(void **state)
{
	(void)state;
	struct tb t;
	struct res r;
	size_t len;
	int64_t xd[2] = {1, 1}, tids[3] = {0, 0, 0}, nids[3] = {0, 1, 2}, fids[3] = {0, 0, 0};
	int64_t tr[3] = {1, 0, 0}, fa[3] = {2, 0, 0}, wt[2] = {0, 0}, wn[2] = {1, 2},
	        wi[2] = {0, 0};
	double vals[3] = {0.1, 0, 0}, ww[2] = {1, 2};
	tb_init(&t, 13);
	tb_input(&t, "X", F, 2, xd);
	tb_node(&t, "TreeEnsembleRegressor", "X", "Y");
	tb_domain(&t, ML);
	tb_attr_ints(&t, "nodes_treeids", 3, tids);
	tb_attr_ints(&t, "nodes_nodeids", 3, nids);
	tb_attr_ints(&t, "nodes_featureids", 3, fids);
	tb_attr_ints(&t, "nodes_truenodeids", 3, tr);
	tb_attr_ints(&t, "nodes_falsenodeids", 3, fa);
	tb_attr_doubles(&t, "nodes_values_as_tensor", 3, vals);
	tb_attr_strings(&t, "nodes_modes", "BRANCH_LEQ,LEAF,LEAF");
	tb_attr_ints(&t, "target_treeids", 2, wt);
	tb_attr_ints(&t, "target_nodeids", 2, wn);
	tb_attr_ints(&t, "target_ids", 2, wi);
	tb_attr_doubles(&t, "target_weights_as_tensor", 2, ww);
	tb_output(&t, "Y", F);
	uint8_t *buf = tb_finish_ml(&t, 3, &len);
	float x[1] = {0.1f};
	assert_int_equal(load_run(&r, buf, len, 1, F, x, 1, 1), FLT_OK);
	assert_float_equal(fout(&r, 0)[0], 2, 0); /* false branch */
	res_free(&r);
}

/* Malformed forests are refused at load, never walked. */
static void test_tree_malformed(void **state)
{
	(void)state;
	static const struct {
		int64_t tr[3], fa[3], fid0, wnode;
		const char *modes, *what;
	} cases[] = {
	    {{1, 0, 0}, {1, 0, 0}, 0, 1, "BRANCH_LEQ,LEAF,LEAF", "two parents"},
	    {{1, 0, 0}, {7, 0, 0}, 0, 1, "BRANCH_LEQ,LEAF,LEAF", "missing child"},
	    {{1, 0, 0}, {2, 0, 0}, 0, 0, "BRANCH_LEQ,LEAF,LEAF", "not a leaf"},
	    {{1, 0, 0}, {2, 0, 0}, 5, 1, "BRANCH_LEQ,LEAF,LEAF", "use feature 5"},
	    {{1, 2, 0}, {2, 0, 0}, 0, 2, "BRANCH_LEQ,BRANCH_LEQ,LEAF", "two parents"},
	    {{1, 0, 0}, {2, 0, 0}, 0, 1, "BRANCH_LEQ,LEAF,BRANCH_XX", "unknown"},
	    {{1, 0, 0}, {2, 0, 0}, 0, 1, "BRANCH_LEQ,LEAF", "nodes_modes"},
	};
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct tb t;
		size_t len;
		struct flt_rt_model *m = NULL;
		char err[512];
		int64_t xd[2] = {1, 2}, tids[3] = {0, 0, 0}, nids[3] = {0, 1, 2};
		int64_t fids[3] = {cases[c].fid0, 0, 0}, z[1] = {0}, wn[1] = {cases[c].wnode};
		float vals[3] = {0.5f, 0, 0}, ww[1] = {1};
		tb_init(&t, 13);
		tb_input(&t, "X", F, 2, xd);
		tb_node(&t, "TreeEnsembleRegressor", "X", "Y");
		tb_domain(&t, ML);
		tb_attr_ints(&t, "nodes_treeids", 3, tids);
		tb_attr_ints(&t, "nodes_nodeids", 3, nids);
		tb_attr_ints(&t, "nodes_featureids", 3, fids);
		tb_attr_ints(&t, "nodes_truenodeids", 3, cases[c].tr);
		tb_attr_ints(&t, "nodes_falsenodeids", 3, cases[c].fa);
		tb_attr_floats(&t, "nodes_values", 3, vals);
		tb_attr_strings(&t, "nodes_modes", cases[c].modes);
		tb_attr_ints(&t, "target_treeids", 1, z);
		tb_attr_ints(&t, "target_nodeids", 1, wn);
		tb_attr_ints(&t, "target_ids", 1, z);
		tb_attr_floats(&t, "target_weights", 1, ww);
		tb_output(&t, "Y", F);
		uint8_t *buf = tb_finish_ml(&t, 1, &len);
		assert_int_equal(flt_rt_model_load(buf, len, NULL, &m, err, sizeof(err)),
		                 FLT_EINVAL);
		assert_null(m);
		if (!strstr(err, cases[c].what))
			fail_msg("case %zu: '%s' lacks '%s'", c, err, cases[c].what);
		free(buf);
	}
}

/* A forest with a symbolic batch: each plan (batch 1..4) has its own state. */
static void test_tree_batches(void **state)
{
	(void)state;
	struct tb t;
	struct res r;
	size_t len;
	int64_t xd[2] = {-1, 1};
	float thr[1] = {0.5f}, ww[2] = {1, 2};
	int64_t wt[2] = {0, 0}, wn[2] = {1, 2}, wi[2] = {0, 0};
	tb_init(&t, 13);
	tb_input(&t, "X", F, 2, xd);
	tb_node(&t, "TreeEnsembleRegressor", "X", "Y");
	tb_domain(&t, ML);
	stumps(&t, 1, "BRANCH_LEQ", thr, NULL);
	tb_attr_ints(&t, "target_treeids", 2, wt);
	tb_attr_ints(&t, "target_nodeids", 2, wn);
	tb_attr_ints(&t, "target_ids", 2, wi);
	tb_attr_floats(&t, "target_weights", 2, ww);
	tb_output(&t, "Y", F);
	uint8_t *buf = tb_finish_ml(&t, 1, &len);
	float x[3] = {0, 1, 0.25f};
	assert_int_equal(load_run(&r, buf, len, 4, F, x, 3, 1), FLT_OK);
	assert_int_equal(r.out[0].dims[0], 3);
	const float *y = fout(&r, 0);
	assert_float_equal(y[0], 1, 0);
	assert_float_equal(y[1], 2, 0);
	assert_float_equal(y[2], 1, 0);
	res_free(&r);
}

static uint8_t *linear_cls(const char *post, size_t *len)
{
	struct tb t;
	int64_t xd[2] = {2, 1}, labels[2] = {0, 1};
	float coef[1] = {2}, icpt[1] = {-1};
	tb_init(&t, 13);
	tb_input(&t, "X", F, 2, xd);
	tb_node(&t, "LinearClassifier", "X", "label,scores");
	tb_domain(&t, ML);
	tb_attr_floats(&t, "coefficients", 1, coef);
	tb_attr_floats(&t, "intercepts", 1, icpt);
	tb_attr_ints(&t, "classlabels_ints", 2, labels);
	tb_attr_s(&t, "post_transform", post);
	tb_output(&t, "label", I64);
	tb_output(&t, "scores", F);
	return tb_finish_ml(&t, 1, len);
}

static void test_linear_one_row(void **state)
{
	(void)state;
	struct res r;
	size_t len;
	float x[2] = {1, 0};
	/* one row, two labels: the score is the positive class's, (1 - s, s) */
	uint8_t *buf = linear_cls("NONE", &len);
	assert_int_equal(load_run(&r, buf, len, 1, F, x, 2, 1), FLT_OK);
	assert_int_equal(iout(&r, 0)[0], 1);
	assert_int_equal(iout(&r, 0)[1], 0);
	const float *z = fout(&r, 1);
	assert_int_equal(r.out[1].dims[1], 2);
	assert_float_equal(z[0], 0, 1e-6);
	assert_float_equal(z[1], 1, 1e-6);
	assert_float_equal(z[2], 2, 1e-6);
	assert_float_equal(z[3], -1, 1e-6);
	res_free(&r);
	/* a softmax over one column is undefined: refused at load */
	buf = linear_cls("SOFTMAX", &len);
	assert_int_equal(load_run(&r, buf, len, 1, F, x, 2, 1), FLT_EUNSUPPORTED);
	assert_non_null(strstr(r.err, "softmax"));
	res_free(&r);
}

static void test_linear_regressor_probit(void **state)
{
	(void)state;
	struct tb t;
	struct res r;
	size_t len;
	int64_t xd[2] = {3, 1};
	float coef[1] = {1}, icpt[1] = {0};
	tb_init(&t, 13);
	tb_input(&t, "X", F, 2, xd);
	tb_node(&t, "LinearRegressor", "X", "Y");
	tb_domain(&t, ML);
	tb_attr_floats(&t, "coefficients", 1, coef);
	tb_attr_floats(&t, "intercepts", 1, icpt);
	tb_attr_s(&t, "post_transform", "PROBIT");
	tb_output(&t, "Y", F);
	uint8_t *buf = tb_finish_ml(&t, 1, &len);
	float x[3] = {0.5f, 0.975f, 0.025f};
	assert_int_equal(load_run(&r, buf, len, 1, F, x, 3, 1), FLT_OK);
	const float *y = fout(&r, 0);
	assert_float_equal(y[0], 0, 1e-6);
	assert_float_equal(y[1], 1.959964, 1e-5);
	assert_float_equal(y[2], -1.959964, 1e-5);
	res_free(&r);
}

static void test_normalizer_scaler(void **state)
{
	(void)state;
	static const struct {
		const char *norm;
		float x[4], want[4];
	} cases[] = {
	    {"MAX", {-4, 2, 0, 0}, {-1, 0.5f, 0, 0}},
	    {"L1", {-3, 1, 0, 0}, {-0.75f, 0.25f, 0, 0}},
	    {"L2", {3, -4, 0, 0}, {0.6f, -0.8f, 0, 0}},
	};
	for (size_t c = 0; c < 3; c++) {
		struct tb t;
		struct res r;
		size_t len;
		int64_t xd[2] = {2, 2};
		tb_init(&t, 13);
		tb_input(&t, "X", F, 2, xd);
		tb_node(&t, "Normalizer", "X", "Y");
		tb_domain(&t, ML);
		tb_attr_s(&t, "norm", cases[c].norm);
		tb_output(&t, "Y", F);
		uint8_t *buf = tb_finish_ml(&t, 1, &len);
		assert_int_equal(load_run(&r, buf, len, 1, F, cases[c].x, 2, 2), FLT_OK);
		for (int k = 0; k < 4; k++)
			assert_float_equal(fout(&r, 0)[k], cases[c].want[k], 1e-6);
		res_free(&r);
	}
	/* Scaler: one offset and scale for every feature, int64 input */
	struct tb t;
	struct res r;
	size_t len;
	int64_t xd[2] = {1, 3}, x[3] = {1, 2, 3};
	float off[1] = {1}, sc[1] = {2};
	tb_init(&t, 13);
	tb_input(&t, "X", I64, 2, xd);
	tb_node(&t, "Scaler", "X", "Y");
	tb_domain(&t, ML);
	tb_attr_floats(&t, "offset", 1, off);
	tb_attr_floats(&t, "scale", 1, sc);
	tb_output(&t, "Y", F);
	uint8_t *buf = tb_finish_ml(&t, 1, &len);
	assert_int_equal(load_run(&r, buf, len, 1, I64, x, 1, 3), FLT_OK);
	assert_float_equal(fout(&r, 0)[0], 0, 0);
	assert_float_equal(fout(&r, 0)[1], 2, 0);
	assert_float_equal(fout(&r, 0)[2], 4, 0);
	res_free(&r);
}

static void test_zipmap_label_count(void **state)
{
	(void)state;
	struct tb t;
	struct res r;
	size_t len;
	int64_t xd[2] = {1, 3}, labels[2] = {0, 1};
	tb_init(&t, 13);
	tb_input(&t, "X", F, 2, xd);
	tb_node(&t, "ZipMap", "X", "Z");
	tb_domain(&t, ML);
	tb_attr_ints(&t, "classlabels_int64s", 2, labels);
	tb_output(&t, "Z", F);
	uint8_t *buf = tb_finish_ml(&t, 1, &len);
	float x[3] = {0.2f, 0.3f, 0.5f};
	assert_int_equal(load_run(&r, buf, len, 1, F, x, 1, 3), FLT_EINVAL);
	assert_non_null(strstr(r.err, "class labels"));
	res_free(&r);
}

/* ArrayFeatureExtractor picks columns (a bad index fails the run, not
 * memory); Imputer and Binarizer keep int64 as int64. */
static void test_feature_extractor_imputer_binarizer(void **state)
{
	(void)state;
	struct tb t;
	struct res r;
	size_t len;
	int64_t xd[2] = {2, 3}, idd[1] = {2}, idx[2] = {2, 0}, bad[2] = {1, 3};
	float x[6] = {1, 2, 3, 4, 5, 6};
	for (int pass = 0; pass < 2; pass++) {
		tb_init(&t, 13);
		tb_input(&t, "X", F, 2, xd);
		tb_init_tensor(&t, "idx", I64, 1, idd, pass ? bad : idx, sizeof(idx));
		tb_node(&t, "ArrayFeatureExtractor", "X,idx", "Y");
		tb_domain(&t, ML);
		tb_output(&t, "Y", F);
		uint8_t *buf = tb_finish_ml(&t, 1, &len);
		flt_err e = load_run(&r, buf, len, 1, F, x, 2, 3);
		if (pass) {
			/* constant inputs fold at load: the bad index fails there */
			assert_int_equal(e, FLT_EINVAL);
			assert_non_null(strstr(r.err, "index 3 out of range"));
		} else {
			assert_int_equal(e, FLT_OK);
			const float *y = fout(&r, 0);
			assert_float_equal(y[0], 3, 0);
			assert_float_equal(y[1], 1, 0);
			assert_float_equal(y[2], 6, 0);
			assert_float_equal(y[3], 4, 0);
		}
		res_free(&r);
	}
	int64_t xi[6] = {0, 7, -1, 0, 0, 9}, iv[3] = {10, 20, 30};
	tb_init(&t, 13);
	tb_input(&t, "X", I64, 2, xd);
	tb_node(&t, "Imputer", "X", "imp");
	tb_domain(&t, ML);
	tb_attr_ints(&t, "imputed_value_int64s", 3, iv);
	tb_attr_i(&t, "replaced_value_int64", 0);
	tb_node(&t, "Binarizer", "imp", "Y");
	tb_domain(&t, ML);
	tb_attr_f(&t, "threshold", 8.5f);
	tb_output(&t, "Y", I64);
	uint8_t *buf = tb_finish_ml(&t, 1, &len);
	assert_int_equal(load_run(&r, buf, len, 1, I64, xi, 2, 3), FLT_OK);
	/* imputed: 10 7 -1 10 20 9 -> > 8.5 */
	static const int64_t want[6] = {1, 0, 0, 1, 1, 1};
	for (int i = 0; i < 6; i++)
		assert_int_equal(iout(&r, 0)[i], want[i]);
	res_free(&r);
}

/* Operators outside the list fail the load naming every one and its node;
 * analysis still works and says why the model cannot run. */
static void test_unsupported_ml_ops(void **state)
{
	(void)state;
	struct tb t;
	size_t len;
	struct flt_rt_model *m = NULL;
	struct flt_rt_analysis *a = NULL;
	char err[512];
	int64_t xd[2] = {1, 4};
	tb_init(&t, 13);
	tb_input(&t, "X", F, 2, xd);
	tb_node(&t, "SVMClassifier", "X", "label,scores");
	tb_name(&t, "svm");
	tb_domain(&t, ML);
	tb_node(&t, "LabelEncoder", "label", "name");
	tb_name(&t, "enc");
	tb_domain(&t, ML);
	tb_node(&t, "Relu", "scores", "Y");
	tb_output(&t, "Y", F);
	uint8_t *buf = tb_finish_ml(&t, 2, &len);
	assert_int_equal(flt_rt_model_load(buf, len, NULL, &m, err, sizeof(err)), FLT_EUNSUPPORTED);
	assert_null(m);
	assert_non_null(strstr(err, "ai.onnx.ml.SVMClassifier (node 'svm')"));
	assert_non_null(strstr(err, "ai.onnx.ml.LabelEncoder (node 'enc')"));
	assert_null(strstr(err, "Relu"));
	assert_int_equal(flt_rt_analyze(buf, len, &a), FLT_OK);
	assert_false(a->runnable);
	assert_non_null(strstr(a->not_runnable_reason, "SVMClassifier"));
	assert_non_null(strstr(a->not_runnable_reason, "LabelEncoder"));
	flt_rt_analysis_free(a);
	free(buf);

	/* ai.onnx.ml 5 replaced the tree ensembles: not run with older semantics */
	buf = agg_model("SUM", &len);
	free(buf);
	tb_init(&t, 13);
	tb_input(&t, "X", F, 2, xd);
	tb_node(&t, "TreeEnsembleRegressor", "X", "Y");
	tb_domain(&t, ML);
	tb_output(&t, "Y", F);
	buf = tb_finish_ml(&t, 5, &len);
	assert_int_equal(flt_rt_model_load(buf, len, NULL, &m, err, sizeof(err)), FLT_EUNSUPPORTED);
	assert_non_null(strstr(err, "TreeEnsembleRegressor"));
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tree_modes),
	    cmocka_unit_test(test_tree_aggregates),
	    cmocka_unit_test(test_tree_binary_one_column),
	    cmocka_unit_test(test_tree_multiclass_strings_softmax_zero),
	    cmocka_unit_test(test_tree_double_thresholds),
	    cmocka_unit_test(test_tree_malformed),
	    cmocka_unit_test(test_tree_batches),
	    cmocka_unit_test(test_linear_one_row),
	    cmocka_unit_test(test_linear_regressor_probit),
	    cmocka_unit_test(test_normalizer_scaler),
	    cmocka_unit_test(test_zipmap_label_count),
	    cmocka_unit_test(test_feature_extractor_imputer_binarizer),
	    cmocka_unit_test(test_unsupported_ml_ops),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
