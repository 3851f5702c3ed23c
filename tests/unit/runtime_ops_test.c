/* Unit tests per operator family beyond the conformance data: broadcasting
 * corners, legacy broadcast attributes, negative axes, empty tensors, and
 * Conv/MatMul/Gemm/pools checked against naive reference loops. */
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
#include "rt_builder.h"

#define F    FLT_RT_FLOAT
#define I64  FLT_RT_INT64
#define MAXO 6

struct res {
	struct flt_rt_tensor out[MAXO];
	size_t n;
};

static void res_free(struct res *r)
{
	for (size_t i = 0; i < MAXO; i++)
		flt_free(r->out[i].data);
	memset(r, 0, sizeof(*r));
}

static struct flt_rt_tensor ten(int32_t dtype, int32_t rank, const int64_t *dims, const void *data)
{
	struct flt_rt_tensor t = {.dtype = dtype, .rank = rank, .data = (void *)data};
	size_t n = 1;
	for (int32_t i = 0; i < rank; i++) {
		t.dims[i] = dims[i];
		n *= (size_t)dims[i];
	}
	t.size = n * (dtype == F ? 4 : 8);
	return t;
}

/* Declares every tensor in `in` as a graph input named i0, i1, ... */
static void declare_inputs(struct tb *t, const struct flt_rt_tensor *in, size_t n)
{
	char name[8];
	for (size_t i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "i%zu", i);
		tb_input(t, name, in[i].dtype, in[i].rank, in[i].dims);
	}
}

/* Finishes the model, loads it and runs it; outputs named o0.. are allocated by the run. */
static flt_err run_tb(struct tb *t, size_t n_out, const struct flt_rt_tensor *in, size_t n_in,
                      struct res *r, char *err, size_t errlen)
{
	char name[8];
	size_t len;
	for (size_t i = 0; i < n_out; i++) {
		snprintf(name, sizeof(name), "o%zu", i);
		tb_output(t, name, 0);
	}
	uint8_t *buf = tb_finish(t, &len);
	struct flt_rt_model *m = NULL;
	memset(r, 0, sizeof(*r));
	flt_err e = flt_rt_model_load(buf, len, NULL, &m, err, errlen);
	if (!e) {
		e = flt_rt_run(m, in, n_in, r->out, n_out, err, errlen);
		r->n = n_out;
	}
	flt_rt_model_free(m);
	free(buf);
	return e;
}

static const float *fdata(const struct res *r, size_t i)
{
	return r->out[i].data;
}

static void assert_dims(const struct flt_rt_tensor *t, int32_t rank, const int64_t *dims)
{
	assert_int_equal(t->rank, rank);
	for (int32_t i = 0; i < rank; i++)
		assert_int_equal(t->dims[i], dims[i]);
}

static float frand(uint32_t *s)
{
	*s = *s * 1664525u + 1013904223u;
	return (float)(*s >> 9) / (float)(1u << 23) * 2.0f - 1.0f;
}

/* ---- elementwise ---- */

static void test_broadcast_corners(void **state)
{
	(void)state;
	struct tb t;
	struct res r;
	char err[256];
	float a[6] = {1, 2, 3, 4, 5, 6}, b[4] = {10, 20, 30, 40};
	int64_t ad[3] = {2, 3, 1}, bd[2] = {1, 4};
	struct flt_rt_tensor in[2] = {ten(F, 3, ad, a), ten(F, 2, bd, b)};
	tb_init(&t, 13);
	declare_inputs(&t, in, 2);
	tb_node(&t, "Add", "i0,i1", "o0");
	assert_int_equal(run_tb(&t, 1, in, 2, &r, err, sizeof(err)), FLT_OK);
	int64_t want[3] = {2, 3, 4};
	assert_dims(&r.out[0], 3, want);
	assert_float_equal(fdata(&r, 0)[0], 11, 0);
	assert_float_equal(fdata(&r, 0)[23], 46, 0);
	assert_float_equal(fdata(&r, 0)[5], 22, 0); /* a[1] + b[1] */
	res_free(&r);

	/* rank-0 scalar on the left */
	float s = 100;
	in[0] = ten(F, 0, NULL, &s);
	in[1] = ten(F, 3, ad, a);
	tb_init(&t, 13);
	declare_inputs(&t, in, 2);
	tb_node(&t, "Sub", "i0,i1", "o0");
	assert_int_equal(run_tb(&t, 1, in, 2, &r, err, sizeof(err)), FLT_OK);
	assert_dims(&r.out[0], 3, ad);
	assert_float_equal(fdata(&r, 0)[5], 94, 0);
	res_free(&r);

	/* empty tensor broadcast: [0,3] * [3] -> [0,3] */
	int64_t ed[2] = {0, 3}, vd[1] = {3};
	in[0] = ten(F, 2, ed, a);
	in[1] = ten(F, 1, vd, b);
	tb_init(&t, 13);
	declare_inputs(&t, in, 2);
	tb_node(&t, "Mul", "i0,i1", "o0");
	assert_int_equal(run_tb(&t, 1, in, 2, &r, err, sizeof(err)), FLT_OK);
	assert_dims(&r.out[0], 2, ed);
	assert_int_equal(r.out[0].size, 0);
	res_free(&r);

	/* shapes that do not broadcast fail at load, naming the node */
	int64_t cd[1] = {4};
	in[0] = ten(F, 3, ad, a);
	in[1] = ten(F, 1, cd, b);
	in[0].dims[2] = 3;
	tb_init(&t, 13);
	declare_inputs(&t, in, 2);
	tb_node(&t, "Add", "i0,i1", "o0");
	tb_name(&t, "bad_add");
	assert_int_equal(run_tb(&t, 1, in, 2, &r, err, sizeof(err)), FLT_EINVAL);
	assert_non_null(strstr(err, "bad_add"));
	res_free(&r);
}

static void test_legacy_broadcast_attr(void **state)
{
	(void)state;
	struct tb t;
	struct res r;
	char err[256];
	float a[24], b[3] = {100, 200, 300};
	for (int i = 0; i < 24; i++)
		a[i] = (float)i;
	int64_t ad[3] = {2, 3, 4}, bd[1] = {3};
	struct flt_rt_tensor in[2] = {ten(F, 3, ad, a), ten(F, 1, bd, b)};
	/* opset 6: B of shape [3] lines up with A's axis 1 */
	tb_init(&t, 6);
	declare_inputs(&t, in, 2);
	tb_node(&t, "Add", "i0,i1", "o0");
	tb_attr_i(&t, "broadcast", 1);
	tb_attr_i(&t, "axis", 1);
	assert_int_equal(run_tb(&t, 1, in, 2, &r, err, sizeof(err)), FLT_OK);
	assert_float_equal(fdata(&r, 0)[0], 100, 0);
	assert_float_equal(fdata(&r, 0)[4], 204, 0);  /* [0,1,0] */
	assert_float_equal(fdata(&r, 0)[23], 323, 0); /* [1,2,3] */
	res_free(&r);
	/* without broadcast=1 unequal shapes are refused */
	tb_init(&t, 6);
	declare_inputs(&t, in, 2);
	tb_node(&t, "Add", "i0,i1", "o0");
	assert_int_equal(run_tb(&t, 1, in, 2, &r, err, sizeof(err)), FLT_EINVAL);
	res_free(&r);
}

static void test_int64_and_variadic(void **state)
{
	(void)state;
	struct tb t;
	struct res r;
	char err[256];
	int64_t a[3] = {7, -7, 9}, b[3] = {2, 2, -4}, d[1] = {3};
	struct flt_rt_tensor in[3] = {ten(I64, 1, d, a), ten(I64, 1, d, b)};
	tb_init(&t, 13);
	declare_inputs(&t, in, 2);
	tb_node(&t, "Div", "i0,i1", "o0");
	assert_int_equal(run_tb(&t, 1, in, 2, &r, err, sizeof(err)), FLT_OK);
	const int64_t *q = r.out[0].data;
	assert_int_equal(r.out[0].dtype, I64);
	assert_int_equal(q[0], 3);
	assert_int_equal(q[1], -3); /* truncation, as C and numpy's int division for ONNX tests */
	assert_int_equal(q[2], -2);
	res_free(&r);

	float x[4] = {1, 5, -2, 0}, y[2] = {3, -1}, z = 2;
	int64_t xd[2] = {2, 2}, yd[1] = {2};
	in[0] = ten(F, 2, xd, x);
	in[1] = ten(F, 1, yd, y);
	in[2] = ten(F, 0, NULL, &z);
	tb_init(&t, 13);
	declare_inputs(&t, in, 3);
	tb_node(&t, "Max", "i0,i1,i2", "o0");
	tb_node(&t, "Min", "i0,i1,i2", "o1");
	assert_int_equal(run_tb(&t, 2, in, 3, &r, err, sizeof(err)), FLT_OK);
	float wmax[4] = {3, 5, 3, 2}, wmin[4] = {1, -1, -2, -1};
	assert_memory_equal(fdata(&r, 0), wmax, sizeof(wmax));
	assert_memory_equal(fdata(&r, 1), wmin, sizeof(wmin));
	res_free(&r);
}

static void test_clip_forms(void **state)
{
	(void)state;
	struct tb t;
	struct res r;
	char err[256];
	float x[5] = {-3, -1, 0, 1, 3}, hi = 0.5f;
	int64_t d[1] = {5};
	struct flt_rt_tensor in[2] = {ten(F, 1, d, x), ten(F, 0, NULL, &hi)};
	tb_init(&t, 6); /* attributes */
	declare_inputs(&t, in, 1);
	tb_node(&t, "Clip", "i0", "o0");
	tb_attr_f(&t, "min", -1.5f);
	tb_attr_f(&t, "max", 2.0f);
	assert_int_equal(run_tb(&t, 1, in, 1, &r, err, sizeof(err)), FLT_OK);
	float w1[5] = {-1.5f, -1, 0, 1, 2};
	assert_memory_equal(fdata(&r, 0), w1, sizeof(w1));
	res_free(&r);
	tb_init(&t, 12); /* inputs, min absent */
	declare_inputs(&t, in, 2);
	tb_node(&t, "Clip", "i0,,i1", "o0");
	assert_int_equal(run_tb(&t, 1, in, 2, &r, err, sizeof(err)), FLT_OK);
	float w2[5] = {-3, -1, 0, 0.5f, 0.5f};
	assert_memory_equal(fdata(&r, 0), w2, sizeof(w2));
	res_free(&r);
	tb_init(&t, 13); /* neither: identity */
	declare_inputs(&t, in, 1);
	tb_node(&t, "Clip", "i0", "o0");
	assert_int_equal(run_tb(&t, 1, in, 1, &r, err, sizeof(err)), FLT_OK);
	assert_memory_equal(fdata(&r, 0), x, sizeof(x));
	res_free(&r);
}

/* ---- shape / data movement ---- */

static void test_negative_axes(void **state)
{
	(void)state;
	struct tb t;
	struct res r;
	char err[256];
	float a[6] = {1, 2, 3, 4, 5, 6}, b[2] = {7, 8};
	int64_t ad[2] = {2, 3}, bd[2] = {2, 1}, idx[2] = {-1, 0}, id[1] = {2};
	struct flt_rt_tensor in[3] = {ten(F, 2, ad, a), ten(F, 2, bd, b), ten(I64, 1, id, idx)};
	tb_init(&t, 13);
	declare_inputs(&t, in, 3);
	tb_node(&t, "Concat", "i0,i1", "o0");
	tb_attr_i(&t, "axis", -1);
	tb_node(&t, "Gather", "i0,i2", "o1");
	tb_attr_i(&t, "axis", -1);
	tb_node(&t, "ArgMax", "i0", "o2");
	tb_attr_i(&t, "axis", -1);
	tb_attr_i(&t, "keepdims", 0);
	tb_node(&t, "ReduceMean", "i0", "o3");
	tb_attr_ints(&t, "axes", 1, (int64_t[]){-2});
	assert_int_equal(run_tb(&t, 4, in, 3, &r, err, sizeof(err)), FLT_OK);
	float wc[8] = {1, 2, 3, 7, 4, 5, 6, 8};
	assert_memory_equal(fdata(&r, 0), wc, sizeof(wc));
	float wg[4] = {3, 1, 6, 4};
	assert_memory_equal(fdata(&r, 1), wg, sizeof(wg));
	int64_t wa[2] = {2, 2};
	assert_dims(&r.out[2], 1, (int64_t[]){2});
	assert_memory_equal(r.out[2].data, wa, sizeof(wa));
	float wm[3] = {2.5f, 3.5f, 4.5f};
	assert_dims(&r.out[3], 2, (int64_t[]){1, 3});
	assert_memory_equal(fdata(&r, 3), wm, sizeof(wm));
	res_free(&r);

	/* Softmax over the last axis, opset 13 form and opset 11 coercion agree here */
	for (int opset = 11; opset <= 13; opset += 2) {
		tb_init(&t, opset);
		declare_inputs(&t, in, 1);
		tb_node(&t, "Softmax", "i0", "o0");
		tb_attr_i(&t, "axis", -1);
		assert_int_equal(run_tb(&t, 1, in, 1, &r, err, sizeof(err)), FLT_OK);
		float e0 = expf(1) + expf(2) + expf(3);
		assert_float_equal(fdata(&r, 0)[2], expf(3) / e0, 1e-6);
		assert_float_equal(fdata(&r, 0)[3], expf(1) / e0, 1e-6);
		res_free(&r);
	}

	/* Squeeze (attribute form) and Unsqueeze (input form) with negative axes */
	int64_t sd[3] = {2, 3, 1}, ax[1] = {-1}, axd[1] = {1};
	in[0] = ten(F, 3, sd, a);
	tb_init(&t, 11);
	declare_inputs(&t, in, 1);
	tb_node(&t, "Squeeze", "i0", "o0");
	tb_attr_ints(&t, "axes", 1, ax);
	assert_int_equal(run_tb(&t, 1, in, 1, &r, err, sizeof(err)), FLT_OK);
	assert_dims(&r.out[0], 2, ad);
	res_free(&r);
	tb_init(&t, 13);
	declare_inputs(&t, in, 1);
	tb_init_tensor(&t, "ax", I64, 1, axd, ax, sizeof(ax));
	tb_node(&t, "Unsqueeze", "i0,ax", "o0");
	assert_int_equal(run_tb(&t, 1, in, 1, &r, err, sizeof(err)), FLT_OK);
	assert_dims(&r.out[0], 4, (int64_t[]){2, 3, 1, 1});
	res_free(&r);
}

static void test_empty_tensors(void **state)
{
	(void)state;
	struct tb t;
	struct res r;
	char err[256];
	float a[6] = {1, 2, 3, 4, 5, 6};
	int64_t zd[2] = {2, 0}, ad[2] = {2, 3};
	struct flt_rt_tensor in[2] = {ten(F, 2, zd, a), ten(F, 2, ad, a)};
	tb_init(&t, 13);
	declare_inputs(&t, in, 2);
	tb_node(&t, "Relu", "i0", "o0");
	tb_node(&t, "Concat", "i0,i1", "o1");
	tb_attr_i(&t, "axis", 1);
	tb_node(&t, "ReduceSum", "i0", "o2");
	tb_init_tensor(&t, "ax1", I64, 1, (int64_t[]){1}, (int64_t[]){1}, 8);
	tb_node(&t, "ReduceSum", "i0,ax1", "o3");
	tb_attr_i(&t, "keepdims", 0);
	assert_int_equal(run_tb(&t, 4, in, 2, &r, err, sizeof(err)), FLT_OK);
	assert_dims(&r.out[0], 2, zd);
	assert_int_equal(r.out[0].size, 0);
	assert_dims(&r.out[1], 2, ad);
	assert_memory_equal(fdata(&r, 1), a, sizeof(a));
	assert_dims(&r.out[2], 2, (int64_t[]){1, 1});
	assert_float_equal(fdata(&r, 2)[0], 0, 0);
	assert_dims(&r.out[3], 1, (int64_t[]){2}); /* sums over an empty axis are 0 */
	assert_float_equal(fdata(&r, 3)[0], 0, 0);
	assert_float_equal(fdata(&r, 3)[1], 0, 0);
	res_free(&r);

	/* a slice past the end is empty, negative steps walk backwards */
	int64_t st[2] = {5, 0}, en[2] = {9, 100}, ax[2] = {0, 1}, two[1] = {2};
	in[0] = ten(F, 2, ad, a);
	tb_init(&t, 13);
	declare_inputs(&t, in, 1);
	tb_init_tensor(&t, "s", I64, 1, two, st, sizeof(st));
	tb_init_tensor(&t, "e", I64, 1, two, en, sizeof(en));
	tb_init_tensor(&t, "a", I64, 1, two, ax, sizeof(ax));
	tb_init_tensor(&t, "s2", I64, 1, (int64_t[]){1}, (int64_t[]){-1}, 8);
	tb_init_tensor(&t, "e2", I64, 1, (int64_t[]){1}, (int64_t[]){INT64_MIN}, 8);
	tb_init_tensor(&t, "a2", I64, 1, (int64_t[]){1}, (int64_t[]){1}, 8);
	tb_init_tensor(&t, "p2", I64, 1, (int64_t[]){1}, (int64_t[]){-2}, 8);
	tb_node(&t, "Slice", "i0,s,e,a", "o0");
	tb_node(&t, "Slice", "i0,s2,e2,a2,p2", "o1");
	assert_int_equal(run_tb(&t, 2, in, 1, &r, err, sizeof(err)), FLT_OK);
	assert_dims(&r.out[0], 2, (int64_t[]){0, 3});
	assert_dims(&r.out[1], 2, (int64_t[]){2, 2});
	float ws[4] = {3, 1, 6, 4};
	assert_memory_equal(fdata(&r, 1), ws, sizeof(ws));
	res_free(&r);
}

static void test_pad_transpose_split(void **state)
{
	(void)state;
	struct tb t;
	struct res r;
	char err[256];
	float a[6] = {1, 2, 3, 4, 5, 6};
	int64_t ad[2] = {2, 3}, pads[4] = {0, 2, 0, 1}, pd[1] = {4};
	struct flt_rt_tensor in[1] = {ten(F, 2, ad, a)};
	tb_init(&t, 13);
	declare_inputs(&t, in, 1);
	tb_init_tensor(&t, "p", I64, 1, pd, pads, sizeof(pads));
	tb_node(&t, "Pad", "i0,p", "o0");
	tb_attr_s(&t, "mode", "reflect");
	tb_node(&t, "Pad", "i0,p", "o1");
	tb_attr_s(&t, "mode", "edge");
	tb_node(&t, "Transpose", "i0", "o2");
	tb_node(&t, "Split", "i0", "o3,o4");
	tb_attr_i(&t, "axis", -2);
	assert_int_equal(run_tb(&t, 5, in, 1, &r, err, sizeof(err)), FLT_OK);
	float wr[12] = {3, 2, 1, 2, 3, 2, 6, 5, 4, 5, 6, 5};
	float we[12] = {1, 1, 1, 2, 3, 3, 4, 4, 4, 5, 6, 6};
	float wt[6] = {1, 4, 2, 5, 3, 6};
	assert_memory_equal(fdata(&r, 0), wr, sizeof(wr));
	assert_memory_equal(fdata(&r, 1), we, sizeof(we));
	assert_memory_equal(fdata(&r, 2), wt, sizeof(wt));
	assert_dims(&r.out[3], 2, (int64_t[]){1, 3});
	assert_memory_equal(fdata(&r, 4), a + 3, 12);
	res_free(&r);
}

/* ---- matrix ops against naive loops ---- */

static void test_conv_matches_naive(void **state)
{
	(void)state;
	enum { N = 2, C = 4, H = 7, W = 6, M = 6, G = 2, KH = 3, KW = 2 };
	int64_t sh = 2, sw = 1, pt = 1, pl = 0, pb = 2, pr = 1, dh = 1, dw = 2;
	static float x[N * C * H * W], w[M * (C / G) * KH * KW], bias[M];
	uint32_t seed = 42;
	for (size_t i = 0; i < sizeof(x) / 4; i++)
		x[i] = frand(&seed);
	for (size_t i = 0; i < sizeof(w) / 4; i++)
		w[i] = frand(&seed);
	for (int i = 0; i < M; i++)
		bias[i] = frand(&seed);
	int64_t oh = (H + pt + pb - ((KH - 1) * dh + 1)) / sh + 1;
	int64_t ow = (W + pl + pr - ((KW - 1) * dw + 1)) / sw + 1;
	int64_t xd[4] = {N, C, H, W}, wd[4] = {M, C / G, KH, KW}, bd[1] = {M};
	struct flt_rt_tensor in[1] = {ten(F, 4, xd, x)};
	struct tb t;
	struct res r;
	char err[256];
	tb_init(&t, 11);
	declare_inputs(&t, in, 1);
	tb_init_tensor(&t, "w", F, 4, wd, w, sizeof(w));
	tb_init_tensor(&t, "b", F, 1, bd, bias, sizeof(bias));
	tb_node(&t, "Conv", "i0,w,b", "o0");
	tb_attr_i(&t, "group", G);
	tb_attr_ints(&t, "strides", 2, (int64_t[]){sh, sw});
	tb_attr_ints(&t, "pads", 4, (int64_t[]){pt, pl, pb, pr});
	tb_attr_ints(&t, "dilations", 2, (int64_t[]){dh, dw});
	assert_int_equal(run_tb(&t, 1, in, 1, &r, err, sizeof(err)), FLT_OK);
	assert_dims(&r.out[0], 4, (int64_t[]){N, M, oh, ow});
	const float *y = fdata(&r, 0);
	for (int n = 0; n < N; n++)
		for (int m = 0; m < M; m++)
			for (int64_t i = 0; i < oh; i++)
				for (int64_t j = 0; j < ow; j++) {
					int g = m / (M / G);
					double acc = bias[m];
					for (int c = 0; c < C / G; c++)
						for (int ki = 0; ki < KH; ki++)
							for (int kj = 0; kj < KW; kj++) {
								int64_t yi = i * sh - pt + ki * dh,
								        xj = j * sw - pl + kj * dw;
								if (yi < 0 || yi >= H || xj < 0 ||
								    xj >= W)
									continue;
								acc +=
								    (double)x[((n * C +
								                g * (C / G) + c) *
								                   H +
								               yi) *
								                  W +
								              xj] *
								    w[((m * (C / G) + c) * KH +
								       ki) *
								          KW +
								      kj];
							}
					assert_float_equal(y[((n * M + m) * oh + i) * ow + j], acc,
					                   1e-4);
				}
	res_free(&r);
}

static void test_matmul_gemm_naive(void **state)
{
	(void)state;
	float a[2 * 3 * 4], b[5 * 4 * 2];
	uint32_t seed = 7;
	for (int i = 0; i < 24; i++)
		a[i] = frand(&seed);
	for (int i = 0; i < 40; i++)
		b[i] = frand(&seed);
	int64_t ad[4] = {2, 1, 3, 4}, bd[3] = {5, 4, 2};
	struct flt_rt_tensor in[2] = {ten(F, 4, ad, a), ten(F, 3, bd, b)};
	struct tb t;
	struct res r;
	char err[256];
	tb_init(&t, 13);
	declare_inputs(&t, in, 2);
	tb_node(&t, "MatMul", "i0,i1", "o0");
	assert_int_equal(run_tb(&t, 1, in, 2, &r, err, sizeof(err)), FLT_OK);
	assert_dims(&r.out[0], 4, (int64_t[]){2, 5, 3, 2});
	for (int p = 0; p < 2; p++)
		for (int q = 0; q < 5; q++)
			for (int i = 0; i < 3; i++)
				for (int j = 0; j < 2; j++) {
					double s = 0;
					for (int k = 0; k < 4; k++)
						s += (double)a[(p * 3 + i) * 4 + k] *
						     b[(q * 4 + k) * 2 + j];
					assert_float_equal(
					    fdata(&r, 0)[((p * 5 + q) * 3 + i) * 2 + j], s, 1e-5);
				}
	res_free(&r);

	/* Gemm: Y = 0.5 * A' * B' + 2 * C, A [K=4, M=3] and B [N=2, K=4], C [N] */
	float c[2] = {1, -1};
	int64_t gad[2] = {4, 3}, gbd[2] = {2, 4}, cd[1] = {2};
	in[0] = ten(F, 2, gad, a);
	in[1] = ten(F, 2, gbd, b);
	tb_init(&t, 13);
	declare_inputs(&t, in, 2);
	tb_init_tensor(&t, "c", F, 1, cd, c, sizeof(c));
	tb_node(&t, "Gemm", "i0,i1,c", "o0");
	tb_attr_i(&t, "transA", 1);
	tb_attr_i(&t, "transB", 1);
	tb_attr_f(&t, "alpha", 0.5f);
	tb_attr_f(&t, "beta", 2.0f);
	tb_node(&t, "Gemm", "i0,i1", "o1"); /* C optional from opset 11 */
	tb_attr_i(&t, "transA", 1);
	tb_attr_i(&t, "transB", 1);
	assert_int_equal(run_tb(&t, 2, in, 2, &r, err, sizeof(err)), FLT_OK);
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 2; j++) {
			double s = 0;
			for (int k = 0; k < 4; k++)
				s += (double)a[k * 3 + i] * b[j * 4 + k];
			assert_float_equal(fdata(&r, 0)[i * 2 + j], 0.5 * s + 2 * c[j], 1e-5);
			assert_float_equal(fdata(&r, 1)[i * 2 + j], s, 1e-5);
		}
	res_free(&r);
}

/* ---- pools ---- */

static void test_pools(void **state)
{
	(void)state;
	float x[25];
	for (int i = 0; i < 25; i++)
		x[i] = (float)((i * 7) % 25);
	int64_t xd[4] = {1, 1, 5, 5};
	struct flt_rt_tensor in[1] = {ten(F, 4, xd, x)};
	struct tb t;
	struct res r;
	char err[256];
	tb_init(&t, 12);
	declare_inputs(&t, in, 1);
	tb_node(&t, "MaxPool", "i0", "o0,o1");
	tb_attr_ints(&t, "kernel_shape", 2, (int64_t[]){2, 2});
	tb_attr_ints(&t, "strides", 2, (int64_t[]){2, 2});
	tb_attr_i(&t, "ceil_mode", 1);
	tb_node(&t, "AveragePool", "i0", "o2");
	tb_attr_ints(&t, "kernel_shape", 2, (int64_t[]){3, 3});
	tb_attr_ints(&t, "pads", 4, (int64_t[]){1, 1, 1, 1});
	tb_attr_i(&t, "count_include_pad", 1);
	tb_node(&t, "AveragePool", "i0", "o3");
	tb_attr_ints(&t, "kernel_shape", 2, (int64_t[]){3, 3});
	tb_attr_ints(&t, "pads", 4, (int64_t[]){1, 1, 1, 1});
	assert_int_equal(run_tb(&t, 4, in, 1, &r, err, sizeof(err)), FLT_OK);
	assert_dims(&r.out[0], 4, (int64_t[]){1, 1, 3, 3});
	const int64_t *ix = r.out[1].data;
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 3; j++) {
			float best = -1;
			int64_t bi = -1;
			for (int di = 0; di < 2; di++)
				for (int dj = 0; dj < 2; dj++) {
					int yy = 2 * i + di, xx = 2 * j + dj;
					if (yy < 5 && xx < 5 && x[yy * 5 + xx] > best) {
						best = x[yy * 5 + xx];
						bi = yy * 5 + xx;
					}
				}
			assert_float_equal(fdata(&r, 0)[i * 3 + j], best, 0);
			assert_int_equal(ix[i * 3 + j], bi);
		}
	/* corner [0,0]: the window holds x[0..1][0..1] = 0 + 7 + 10 + 17 and 5 pads */
	assert_float_equal(fdata(&r, 2)[0], 34.0f / 9.0f, 1e-6);
	assert_float_equal(fdata(&r, 3)[0], 34.0f / 4.0f, 1e-6);
	res_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_broadcast_corners),
	    cmocka_unit_test(test_legacy_broadcast_attr),
	    cmocka_unit_test(test_int64_and_variadic),
	    cmocka_unit_test(test_clip_forms),
	    cmocka_unit_test(test_negative_axes),
	    cmocka_unit_test(test_empty_tensors),
	    cmocka_unit_test(test_pad_transpose_split),
	    cmocka_unit_test(test_conv_matches_naive),
	    cmocka_unit_test(test_matmul_gemm_naive),
	    cmocka_unit_test(test_pools),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
