/* Unit tests for ConvTranspose, Resize/Upsample, LayerNormalization, Expand
 * and Erf beyond the ONNX conformance data: groups with strides, dilations
 * and padding against a direct scatter, output_shape, Resize-10 and
 * Upsample-7 forms, crop-and-resize extrapolation, scales fed at run time,
 * broadcast Scale, the extra LayerNormalization outputs, int64 Expand. */
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

struct res {
	struct flt_rt_model *m;
	uint8_t *buf;
	struct flt_rt_tensor out[3];
	char err[512];
};

static void res_free(struct res *r)
{
	for (size_t i = 0; i < 3; i++)
		flt_free(r->out[i].data);
	flt_rt_model_free(r->m);
	free(r->buf);
	memset(r, 0, sizeof(*r));
}

/* Loads buf (taken) and runs it on n inputs; the run allocates outputs. */
static flt_err load_run(struct res *r, uint8_t *buf, size_t len, const struct flt_rt_tensor *in,
                        size_t n)
{
	memset(r, 0, sizeof(*r));
	r->buf = buf;
	flt_err e = flt_rt_model_load(buf, len, NULL, &r->m, r->err, sizeof(r->err));
	if (e)
		return e;
	return flt_rt_run(r->m, in, n, r->out, flt_rt_model_n_outputs(r->m), r->err,
	                  sizeof(r->err));
}

static struct flt_rt_tensor ften(const float *x, int32_t rank, const int64_t *dims)
{
	struct flt_rt_tensor t = {.dtype = F, .rank = rank, .data = (void *)x};
	size_t n = 1;
	for (int32_t i = 0; i < rank; i++) {
		t.dims[i] = dims[i];
		n *= (size_t)dims[i];
	}
	t.size = n * 4;
	return t;
}

/* ---- ConvTranspose ---- */

/* Direct scatter, 1-D: y[m][i*s + k*d - p0] += x[c][i] * w[c][m % mg][k] */
static void ct_ref(const float *x, const float *w, const float *b, int64_t cin, int64_t in,
                   int64_t mg, int64_t k, int64_t group, int64_t s, int64_t d, int64_t p0,
                   int64_t out, float *y)
{
	int64_t cg = cin / group, m = mg * group;
	for (int64_t o = 0; o < m * out; o++)
		y[o] = b[o / out];
	for (int64_t c = 0; c < cin; c++)
		for (int64_t mm = 0; mm < mg; mm++)
			for (int64_t i = 0; i < in; i++)
				for (int64_t kk = 0; kk < k; kk++) {
					int64_t o = i * s + kk * d - p0;
					if (o >= 0 && o < out)
						y[((c / cg) * mg + mm) * out + o] +=
						    x[c * in + i] * w[(c * mg + mm) * k + kk];
				}
}

static void test_convtranspose_groups(void **state)
{
	(void)state;
	static const struct {
		int64_t s, d, p0, p1, opad, out;
		const char *auto_pad;
	} cases[] = {
	    {2, 1, 1, 0, 1, 2 * 4 + 1 + 3 - 1, NULL}, /* pads and output_padding */
	    {3, 2, 0, 0, 0, 3 * 4 + 5, NULL},         /* dilation */
	    {2, 1, 0, 1, 0, 10, "SAME_UPPER"},        /* out = in * stride, pad 1 at the end */
	};
	for (size_t c = 0; c < 3; c++) {
		struct tb t;
		struct res r;
		size_t len;
		int64_t xd[3] = {1, 4, 5}, wd[3] = {4, 2, 3}, bd[1] = {4};
		float x[20], w[24], b[4] = {0.5f, -1, 2, 0}, want[4 * 32];
		for (int i = 0; i < 20; i++)
			x[i] = (float)((i * 7) % 11) - 5;
		for (int i = 0; i < 24; i++)
			w[i] = (float)((i * 5) % 7) * 0.5f - 1;
		tb_init(&t, 13);
		tb_input(&t, "X", F, 3, xd);
		tb_init_tensor(&t, "W", F, 3, wd, w, sizeof(w));
		tb_init_tensor(&t, "B", F, 1, bd, b, sizeof(b));
		tb_node(&t, "ConvTranspose", "X,W,B", "Y");
		tb_attr_i(&t, "group", 2);
		int64_t st[1] = {cases[c].s}, dl[1] = {cases[c].d}, op[1] = {cases[c].opad};
		int64_t pads[2] = {cases[c].p0, cases[c].p1};
		tb_attr_ints(&t, "strides", 1, st);
		tb_attr_ints(&t, "dilations", 1, dl);
		if (cases[c].auto_pad) {
			tb_attr_s(&t, "auto_pad", cases[c].auto_pad);
		} else {
			tb_attr_ints(&t, "pads", 2, pads);
			tb_attr_ints(&t, "output_padding", 1, op);
		}
		tb_output(&t, "Y", F);
		uint8_t *buf = tb_finish(&t, &len);
		struct flt_rt_tensor in = ften(x, 3, xd);
		assert_int_equal(load_run(&r, buf, len, &in, 1), FLT_OK);
		assert_int_equal(r.out[0].dims[1], 4);
		assert_int_equal(r.out[0].dims[2], cases[c].out);
		ct_ref(x, w, b, 4, 5, 2, 3, 2, cases[c].s, cases[c].d, cases[c].p0, cases[c].out,
		       want);
		for (int64_t i = 0; i < 4 * cases[c].out; i++)
			assert_float_equal(((float *)r.out[0].data)[i], want[i], 1e-4);
		res_free(&r);
	}
}

/* output_shape one larger than the natural size: the spec's total padding is
 * -1, split with floor division, so the extra column is at the end (bias). */
static void test_convtranspose_output_shape(void **state)
{
	(void)state;
	struct tb t;
	struct res r;
	size_t len;
	int64_t xd[3] = {1, 1, 3}, wd[3] = {1, 1, 2}, bd[1] = {1}, os[1] = {7}, st[1] = {2};
	float x[3] = {1, 2, 3}, w[2] = {1, 10}, b[1] = {0.25f};
	tb_init(&t, 13);
	tb_input(&t, "X", F, 3, xd);
	tb_init_tensor(&t, "W", F, 3, wd, w, sizeof(w));
	tb_init_tensor(&t, "B", F, 1, bd, b, sizeof(b));
	tb_node(&t, "ConvTranspose", "X,W,B", "Y");
	tb_attr_ints(&t, "strides", 1, st);
	tb_attr_ints(&t, "output_shape", 1, os);
	tb_output(&t, "Y", F);
	uint8_t *buf = tb_finish(&t, &len);
	struct flt_rt_tensor in = ften(x, 3, xd);
	assert_int_equal(load_run(&r, buf, len, &in, 1), FLT_OK);
	assert_int_equal(r.out[0].dims[2], 7);
	static const float want[7] = {1.25f, 10.25f, 2.25f, 20.25f, 3.25f, 30.25f, 0.25f};
	for (int i = 0; i < 7; i++)
		assert_float_equal(((float *)r.out[0].data)[i], want[i], 1e-6);
	res_free(&r);
}

/* ---- Resize / Upsample ---- */

static uint8_t *resize_model(int64_t opset, const char *op, int32_t rank, const int64_t *xd,
                             const float *scales, const int64_t *sizes, const float *roi,
                             const char *mode, const char *ctm, size_t *len)
{
	struct tb t;
	int64_t rd[1] = {rank}, rr[1] = {2 * rank};
	tb_init(&t, opset);
	tb_input(&t, "X", F, rank, xd);
	if (opset >= 11 && !strcmp(op, "Resize")) {
		if (roi)
			tb_init_tensor(&t, "roi", F, 1, rr, roi, (size_t)(8 * rank));
		if (scales)
			tb_init_tensor(&t, "scales", F, 1, rd, scales, (size_t)(4 * rank));
		if (sizes)
			tb_init_tensor(&t, "sizes", I64, 1, rd, sizes, (size_t)(8 * rank));
		char ins[64];
		snprintf(ins, sizeof(ins), "X,%s,%s%s", roi ? "roi" : "", scales ? "scales" : "",
		         sizes ? ",sizes" : "");
		tb_node(&t, "Resize", ins, "Y");
		tb_attr_s(&t, "coordinate_transformation_mode", ctm);
	} else if (opset >= 9) {
		tb_init_tensor(&t, "scales", F, 1, rd, scales, (size_t)(4 * rank));
		tb_node(&t, op, "X,scales", "Y");
	} else {
		tb_node(&t, op, "X", "Y");
		tb_attr_floats(&t, "scales", (size_t)rank, scales);
	}
	tb_attr_s(&t, "mode", mode);
	tb_output(&t, "Y", F);
	return tb_finish(&t, len);
}

static void check1d(uint8_t *buf, size_t len, const float *x, int64_t n, const float *want,
                    int64_t nout)
{
	struct res r;
	int64_t xd[1] = {n};
	struct flt_rt_tensor in = ften(x, 1, xd);
	flt_err e = load_run(&r, buf, len, &in, 1);
	if (e)
		fail_msg("%s", r.err);
	assert_int_equal(r.out[0].dims[0], nout);
	for (int64_t i = 0; i < nout; i++)
		assert_float_equal(((float *)r.out[0].data)[i], want[i], 1e-5);
	res_free(&r);
}

static void test_resize_legacy_forms(void **state)
{
	(void)state;
	size_t len;
	int64_t d2[1] = {2}, d4[1] = {4};
	float up[1] = {2}, down[1] = {0.5f};
	float x2[2] = {1, 3}, x4[4] = {1, 2, 3, 4};
	uint8_t *buf;
	/* Resize-10: asymmetric, floor when upsampling, ceil when downsampling */
	float w1[4] = {1, 1, 3, 3}, w2[2] = {1, 3};
	buf = resize_model(10, "Resize", 1, d2, up, NULL, NULL, "nearest", NULL, &len);
	check1d(buf, len, x2, 2, w1, 4);
	buf = resize_model(10, "Resize", 1, d4, down, NULL, NULL, "nearest", NULL, &len);
	check1d(buf, len, x4, 4, w2, 2);
	/* Upsample-7 (scales attribute), linear: asymmetric, edge-clamped */
	float w3[4] = {1, 2, 3, 3};
	buf = resize_model(7, "Upsample", 1, d2, up, NULL, NULL, "linear", NULL, &len);
	check1d(buf, len, x2, 2, w3, 4);
	/* Upsample-9 (scales input) */
	buf = resize_model(9, "Upsample", 1, d2, up, NULL, NULL, "nearest", NULL, &len);
	check1d(buf, len, x2, 2, w1, 4);
}

static void test_resize_crop_and_extrapolate(void **state)
{
	(void)state;
	struct tb t;
	size_t len;
	int64_t xd[1] = {4}, rd[1] = {2}, sd[1] = {1}, sizes[1] = {3};
	float x[4] = {0, 10, 20, 30}, roi[2] = {0.5f, 1.5f};
	tb_init(&t, 13);
	tb_input(&t, "X", F, 1, xd);
	tb_init_tensor(&t, "roi", F, 1, rd, roi, sizeof(roi));
	tb_init_tensor(&t, "sizes", I64, 1, sd, sizes, sizeof(sizes));
	tb_node(&t, "Resize", "X,roi,,sizes", "Y");
	tb_attr_s(&t, "mode", "linear");
	tb_attr_s(&t, "coordinate_transformation_mode", "tf_crop_and_resize");
	tb_attr_f(&t, "extrapolation_value", 9);
	tb_output(&t, "Y", F);
	/* x_original = 1.5, 3.0, 4.5: the last is outside [0, 3] */
	float want[3] = {15, 30, 9};
	uint8_t *buf;
	buf = tb_finish(&t, &len);
	check1d(buf, len, x, 4, want, 3);
}

static void test_resize_cubic_constant(void **state)
{
	(void)state;
	size_t len;
	int64_t xd[1] = {5}, sizes[1] = {9};
	float x[5] = {5, 5, 5, 5, 5}, want[9];
	for (int i = 0; i < 9; i++)
		want[i] = 5;
	/* weights sum to one (renormalised when exclude_outside drops taps) */
	for (int excl = 0; excl < 2; excl++) {
		struct tb t;
		int64_t sd[1] = {1};
		tb_init(&t, 13);
		tb_input(&t, "X", F, 1, xd);
		tb_init_tensor(&t, "sizes", I64, 1, sd, sizes, sizeof(sizes));
		tb_node(&t, "Resize", "X,,,sizes", "Y");
		tb_attr_s(&t, "mode", "cubic");
		tb_attr_f(&t, "cubic_coeff_a", -0.5f);
		tb_attr_i(&t, "exclude_outside", excl);
		tb_output(&t, "Y", F);
		uint8_t *buf = tb_finish(&t, &len);
		check1d(buf, len, x, 5, want, 9);
	}
	/* both scales and sizes: refused */
	float sc[1] = {2};
	struct res r;
	uint8_t *buf =
	    resize_model(13, "Resize", 1, xd, sc, sizes, NULL, "nearest", "asymmetric", &len);
	struct flt_rt_tensor in = ften(x, 1, xd);
	assert_int_equal(load_run(&r, buf, len, &in, 1), FLT_EINVAL);
	assert_non_null(strstr(r.err, "both"));
	res_free(&r);
}

/* scales fed at run time: the model has no static plan but still runs. */
static void test_resize_runtime_scales(void **state)
{
	(void)state;
	struct tb t;
	struct res r;
	size_t len;
	int64_t xd[1] = {2}, sd[1] = {1};
	float x[2] = {1, 3}, sc[1] = {2};
	tb_init(&t, 13);
	tb_input(&t, "X", F, 1, xd);
	tb_input(&t, "scales", F, 1, sd);
	tb_node(&t, "Resize", "X,,scales", "Y");
	tb_attr_s(&t, "coordinate_transformation_mode", "asymmetric");
	tb_attr_s(&t, "nearest_mode", "floor");
	tb_output(&t, "Y", F);
	uint8_t *buf = tb_finish(&t, &len);
	struct flt_rt_tensor in[2] = {ften(x, 1, xd), ften(sc, 1, sd)};
	assert_int_equal(load_run(&r, buf, len, in, 2), FLT_OK);
	assert_true(flt_rt_model_is_dynamic(r.m));
	assert_int_equal(r.out[0].dims[0], 4);
	static const float want[4] = {1, 1, 3, 3};
	for (int i = 0; i < 4; i++)
		assert_float_equal(((float *)r.out[0].data)[i], want[i], 0);
	res_free(&r);
}

/* ---- LayerNormalization ---- */

static void test_layernorm_outputs(void **state)
{
	(void)state;
	struct tb t;
	struct res r;
	size_t len;
	int64_t xd[2] = {2, 4}, sd[1] = {1};
	float x[8] = {1, 2, 3, 4, -2, 0, 2, 4}, s[1] = {2};
	tb_init(&t, 17);
	tb_input(&t, "X", F, 2, xd);
	tb_init_tensor(&t, "S", F, 1, sd, s, sizeof(s));
	tb_node(&t, "LayerNormalization", "X,S", "Y,M,I");
	tb_attr_i(&t, "axis", -1);
	tb_attr_f(&t, "epsilon", 0.0f);
	tb_output(&t, "Y", F);
	tb_output(&t, "M", F);
	tb_output(&t, "I", F);
	uint8_t *buf = tb_finish(&t, &len);
	struct flt_rt_tensor in = ften(x, 2, xd);
	assert_int_equal(load_run(&r, buf, len, &in, 1), FLT_OK);
	assert_int_equal(r.out[1].rank, 2);
	assert_int_equal(r.out[1].dims[0], 2);
	assert_int_equal(r.out[1].dims[1], 1);
	const float *y = r.out[0].data, *m = r.out[1].data, *inv = r.out[2].data;
	assert_float_equal(m[0], 2.5f, 1e-6);
	assert_float_equal(m[1], 1.0f, 1e-6);
	assert_float_equal(inv[0], 1 / sqrt(1.25), 1e-6);
	assert_float_equal(inv[1], 1 / sqrt(5.0), 1e-6);
	for (int i = 0; i < 8; i++)
		assert_float_equal(y[i], 2 * (x[i] - m[i / 4]) * inv[i / 4], 1e-5);
	res_free(&r);
}

/* ---- Expand, Erf ---- */

static void test_expand_int64_and_erf(void **state)
{
	(void)state;
	struct tb t;
	struct res r;
	size_t len;
	int64_t xd[2] = {3, 1}, sd[1] = {3}, shape[3] = {2, 1, 4};
	int64_t x[3] = {7, -8, 9};
	tb_init(&t, 13);
	tb_input(&t, "X", I64, 2, xd);
	tb_init_tensor(&t, "shape", I64, 1, sd, shape, sizeof(shape));
	tb_node(&t, "Expand", "X,shape", "Y");
	tb_output(&t, "Y", I64);
	uint8_t *buf = tb_finish(&t, &len);
	struct flt_rt_tensor in = {.dtype = I64, .rank = 2, .dims = {3, 1}, .data = x, .size = 24};
	assert_int_equal(load_run(&r, buf, len, &in, 1), FLT_OK);
	assert_int_equal(r.out[0].rank, 3);
	assert_int_equal(r.out[0].dims[0], 2);
	assert_int_equal(r.out[0].dims[1], 3);
	assert_int_equal(r.out[0].dims[2], 4);
	const int64_t *y = r.out[0].data;
	for (int i = 0; i < 24; i++)
		assert_int_equal(y[i], x[(i / 4) % 3]);
	res_free(&r);

	int64_t ed[1] = {4};
	float xe[4] = {0, 0.5f, -1, 3};
	tb_init(&t, 13);
	tb_input(&t, "X", F, 1, ed);
	tb_node(&t, "Erf", "X", "Y");
	tb_output(&t, "Y", F);
	buf = tb_finish(&t, &len);
	struct flt_rt_tensor ine = ften(xe, 1, ed);
	assert_int_equal(load_run(&r, buf, len, &ine, 1), FLT_OK);
	for (int i = 0; i < 4; i++)
		assert_float_equal(((float *)r.out[0].data)[i], erf(xe[i]), 1e-6);
	res_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_convtranspose_groups),
	    cmocka_unit_test(test_convtranspose_output_shape),
	    cmocka_unit_test(test_resize_legacy_forms),
	    cmocka_unit_test(test_resize_crop_and_extrapolate),
	    cmocka_unit_test(test_resize_cubic_constant),
	    cmocka_unit_test(test_resize_runtime_scales),
	    cmocka_unit_test(test_layernorm_outputs),
	    cmocka_unit_test(test_expand_int64_and_erf),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
