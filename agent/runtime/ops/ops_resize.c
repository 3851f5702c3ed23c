/* Resize (opsets 10-17) and Upsample (7-9): nearest (every nearest_mode),
 * linear and cubic (cubic_coeff_a, exclude_outside) interpolation over any
 * axes, with every coordinate_transformation_mode, roi and
 * extrapolation_value. Interpolation is separable: each output coordinate of
 * each axis gets up to four (index, weight) taps computed into scratch, and
 * an output value is the weighted sum over the product of its axes' taps. */
#include <math.h>
#include <string.h>

#include "ops.h"

enum { RS_NEAREST, RS_LINEAR, RS_CUBIC };
enum {
	CT_HALF_PIXEL,
	CT_PYTORCH_HALF_PIXEL,
	CT_ALIGN_CORNERS,
	CT_ASYMMETRIC,
	CT_TF_HALF_PIXEL_NN,
	CT_TF_CROP_AND_RESIZE
};
/* NM_SIMPLE is the legacy (Resize-10, Upsample) rounding: floor when
 * upsampling, ceil when downsampling, as ONNX Runtime does for those opsets;
 * their specs leave it unstated. */
enum { NM_ROUND_PREFER_FLOOR, NM_ROUND_PREFER_CEIL, NM_FLOOR, NM_CEIL, NM_SIMPLE };

struct rs_params {
	int32_t rank;
	int64_t in[FLT_RT_MAX_RANK], out[FLT_RT_MAX_RANK];
	double scale[FLT_RT_MAX_RANK], roi0[FLT_RT_MAX_RANK], roi1[FLT_RT_MAX_RANK];
	int mode, ct, nm, exclude_outside;
	double cubic_a;
	float extrapolation;
};

struct rs_tap {
	int32_t n, outside;
	int64_t idx[4];
	double w[4];
};

static int pick(const char *s, const char *const *names, int n)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(s, names[i]))
			return i;
	return -1;
}

/* Reads an optional constant float input; *n = 0 when absent or empty. */
static flt_err const_floats(struct op_ctx *c, size_t i, double *dst, size_t max, size_t *n)
{
	const struct rt_tensor *t = op_in(c, i);
	*n = 0;
	if (!t || !t->nelem)
		return FLT_OK;
	if (!t->data) {
		c->needs_data = 1;
		return op_fail(c, FLT_EUNSUPPORTED,
		               "input %zu ('%s') must be a constant known at load", i,
		               c->node->inputs[i]);
	}
	if (t->dtype != ONNX_FLOAT)
		return op_fail(c, FLT_EUNSUPPORTED, "input %zu must be float, not %s", i,
		               onnx_dtype_name(t->dtype));
	if (t->nelem > max)
		return op_fail(c, FLT_EINVAL, "input %zu has %zu values, at most %zu expected", i,
		               t->nelem, max);
	for (size_t k = 0; k < t->nelem; k++) {
		float v;
		memcpy(&v, (const char *)t->data + 4 * k, 4);
		dst[k] = v;
	}
	*n = t->nelem;
	return FLT_OK;
}

static flt_err rs_setup(struct op_ctx *c, struct rs_params *p)
{
	static const char *const modes[] = {"nearest", "linear", "cubic"};
	static const char *const cts[] = {"half_pixel",           "pytorch_half_pixel",
	                                  "align_corners",        "asymmetric",
	                                  "tf_half_pixel_for_nn", "tf_crop_and_resize"};
	static const char *const nms[] = {"round_prefer_floor", "round_prefer_ceil", "floor",
	                                  "ceil"};
	const struct rt_tensor *x = op_in(c, 0);
	int upsample = !strcmp(c->node->op_type, "Upsample");
	int legacy = upsample || c->opset < 11; /* Upsample and Resize-10 */
	double scales[FLT_RT_MAX_RANK], roi[2 * FLT_RT_MAX_RANK];
	int64_t sizes[FLT_RT_MAX_RANK];
	size_t ns = 0, nsz = 0, nroi = 0;
	flt_err e;

	memset(p, 0, sizeof(*p));
	if (!x || c->n_out < 1)
		return op_fail(c, FLT_EINVAL, "expects X");
	if (x->dtype != ONNX_FLOAT)
		return op_fail(c, FLT_EUNSUPPORTED, "float only, not %s",
		               onnx_dtype_name(x->dtype));
	p->rank = x->rank;
	const char *ms = op_attr_str(c, "mode", "nearest");
	if ((p->mode = pick(ms, modes, legacy ? 2 : 3)) < 0) {
		if (upsample && !strcmp(ms, "bilinear"))
			p->mode = RS_LINEAR; /* Upsample-7 spelling */
		else
			return op_fail(c, FLT_EINVAL, "mode '%s' unknown", ms);
	}
	if (legacy) {
		p->ct = CT_ASYMMETRIC;
		p->nm = NM_SIMPLE;
	} else {
		const char *cs = op_attr_str(c, "coordinate_transformation_mode", "half_pixel");
		const char *ns_ = op_attr_str(c, "nearest_mode", "round_prefer_floor");
		if ((p->ct = pick(cs, cts, 6)) < 0)
			return op_fail(c, FLT_EUNSUPPORTED, "coordinate_transformation_mode '%s'",
			               cs);
		if ((p->nm = pick(ns_, nms, 4)) < 0)
			return op_fail(c, FLT_EINVAL, "nearest_mode '%s' unknown", ns_);
		p->exclude_outside = op_attr_int(c, "exclude_outside", 0) != 0;
		p->extrapolation = op_attr_float(c, "extrapolation_value", 0.0f);
	}
	p->cubic_a = op_attr_float(c, "cubic_coeff_a", -0.75f);

	if (upsample && c->opset < 9) {
		const float *v = op_attr_floats(c, "scales", &ns);
		if (!v)
			return op_fail(c, FLT_EINVAL, "scales attribute missing");
		for (size_t i = 0; i < ns && i < FLT_RT_MAX_RANK; i++)
			scales[i] = v[i];
	} else if (legacy) {
		if ((e = const_floats(c, 1, scales, FLT_RT_MAX_RANK, &ns)))
			return e;
	} else {
		if ((e = const_floats(c, 1, roi, 2 * FLT_RT_MAX_RANK, &nroi)) ||
		    (e = const_floats(c, 2, scales, FLT_RT_MAX_RANK, &ns)))
			return e;
		if (op_in(c, 3) && op_in(c, 3)->nelem &&
		    (e = op_const_ints(c, 3, sizes, FLT_RT_MAX_RANK, &nsz)))
			return e;
	}
	if (ns && nsz)
		return op_fail(c, FLT_EINVAL, "scales and sizes are both given");
	if (!ns && !nsz)
		return op_fail(c, FLT_EINVAL, "neither scales nor sizes is given");
	if ((ns && ns != (size_t)p->rank) || (nsz && nsz != (size_t)p->rank))
		return op_fail(c, FLT_EINVAL, "scales/sizes must have %d values", (int)p->rank);
	if (p->ct == CT_TF_CROP_AND_RESIZE && nroi != 2 * (size_t)p->rank)
		return op_fail(c, FLT_EINVAL, "tf_crop_and_resize needs roi with %d values",
		               2 * (int)p->rank);
	for (int32_t d = 0; d < p->rank; d++) {
		p->in[d] = x->dims[d];
		if (!p->in[d] && nsz && sizes[d])
			return op_fail(c, FLT_EINVAL, "cannot resize an empty axis to %lld",
			               (long long)sizes[d]);
		p->roi0[d] = p->ct == CT_TF_CROP_AND_RESIZE ? roi[d] : 0.0;
		p->roi1[d] = p->ct == CT_TF_CROP_AND_RESIZE ? roi[d + p->rank] : 1.0;
		if (ns) {
			if (!(scales[d] > 0) || scales[d] > 1e6)
				return op_fail(c, FLT_EINVAL, "scale %g out of range", scales[d]);
			p->scale[d] = scales[d];
			/* spec: floor(input_dimension * (roi_end - roi_start) * scale) */
			double o = floor((double)p->in[d] * (p->roi1[d] - p->roi0[d]) * scales[d]);
			if (!(o >= 0) || o > 1e12)
				return op_fail(c, FLT_EINVAL, "output dimension %d out of range",
				               (int)d);
			p->out[d] = (int64_t)o;
		} else {
			if (sizes[d] < 0)
				return op_fail(c, FLT_EINVAL, "negative size");
			p->out[d] = sizes[d];
			p->scale[d] = p->in[d] ? (double)sizes[d] / (double)p->in[d] : 1.0;
		}
	}
	return FLT_OK;
}

static size_t rs_taps_total(const struct rs_params *p)
{
	size_t n = 0;
	for (int32_t d = 0; d < p->rank; d++)
		n += (size_t)p->out[d];
	return n;
}

static flt_err rs_infer(struct op_ctx *c)
{
	struct rs_params p;
	flt_err e = rs_setup(c, &p);
	if (e)
		return e;
	if ((e = op_set_shape(c, c->out[0], ONNX_FLOAT, p.rank, p.out)))
		return e;
	size_t n = rs_taps_total(&p);
	if (n > SIZE_MAX / 2 / sizeof(struct rs_tap))
		return op_fail(c, FLT_ELIMIT, "output too large");
	c->scratch_bytes = n * sizeof(struct rs_tap);
	return FLT_OK;
}

static double rs_coord(const struct rs_params *p, int32_t d, int64_t xo)
{
	double x = (double)xo, s = p->scale[d], in = (double)p->in[d];
	switch (p->ct) {
	case CT_HALF_PIXEL: return (x + 0.5) / s - 0.5;
	case CT_PYTORCH_HALF_PIXEL: return p->out[d] > 1 ? (x + 0.5) / s - 0.5 : 0.0;
	case CT_ALIGN_CORNERS:
		/* the reference divides by the unrounded in * scale - 1 */
		return p->out[d] == 1 ? 0.0 : x * (in - 1) / (in * s - 1);
	case CT_TF_HALF_PIXEL_NN: return (x + 0.5) / s;
	case CT_TF_CROP_AND_RESIZE:
		if (p->out[d] > 1)
			return p->roi0[d] * (in - 1) +
			       x * (p->roi1[d] - p->roi0[d]) * (in - 1) / (double)(p->out[d] - 1);
		return 0.5 * (p->roi0[d] + p->roi1[d]) * (in - 1);
	default: return x / s; /* asymmetric */
	}
}

static double cubic_w(double t, double a)
{
	t = fabs(t);
	if (t <= 1)
		return ((a + 2) * t - (a + 3)) * t * t + 1;
	if (t < 2)
		return ((a * t - 5 * a) * t + 8 * a) * t - 4 * a;
	return 0;
}

static void rs_make_tap(const struct rs_params *p, int32_t d, int64_t xo, struct rs_tap *t)
{
	int64_t len = p->in[d];
	double x = rs_coord(p, d, xo);
	memset(t, 0, sizeof(*t));
	if (p->ct == CT_TF_CROP_AND_RESIZE && (x < 0 || x > (double)(len - 1))) {
		t->outside = 1;
		return;
	}
	double f = floor(x), r = x - f;
	int64_t fi = (int64_t)f;
	if (p->mode == RS_NEAREST) {
		int64_t i;
		switch (p->nm) {
		case NM_ROUND_PREFER_FLOOR: i = r > 0.5 ? fi + 1 : fi; break;
		case NM_ROUND_PREFER_CEIL: i = r >= 0.5 ? fi + 1 : fi; break;
		case NM_FLOOR: i = fi; break;
		case NM_CEIL: i = (int64_t)ceil(x); break;
		default: i = p->scale[d] < 1 ? (int64_t)ceil(x) : fi; break;
		}
		t->n = 1;
		t->idx[0] = i < 0 ? 0 : i >= len ? len - 1 : i;
		t->w[0] = 1;
		return;
	}
	int64_t idx[4];
	double w[4];
	int n;
	if (p->mode == RS_LINEAR) {
		n = 2;
		idx[0] = fi;
		idx[1] = fi + 1;
		w[0] = 1 - r;
		w[1] = r;
	} else {
		n = 4;
		for (int k = 0; k < 4; k++) {
			idx[k] = fi - 1 + k;
			w[k] = cubic_w(x - (double)idx[k], p->cubic_a);
		}
	}
	if (p->exclude_outside) {
		double sum = 0;
		for (int k = 0; k < n; k++) {
			if (idx[k] < 0 || idx[k] >= len)
				w[k] = 0;
			sum += w[k];
		}
		for (int k = 0; k < n && sum != 0; k++)
			w[k] /= sum;
	}
	for (int k = 0; k < n; k++) {
		if (w[k] == 0)
			continue;
		t->idx[t->n] = idx[k] < 0 ? 0 : idx[k] >= len ? len - 1 : idx[k];
		t->w[t->n++] = w[k];
	}
}

static flt_err rs_run(struct op_ctx *c)
{
	struct rs_params p;
	flt_err e = rs_setup(c, &p);
	if (e)
		return e;
	struct rs_tap *taps = c->scratch, *dt[FLT_RT_MAX_RANK];
	const float *px = c->in[0]->data;
	float *py = c->out[0]->data;
	size_t nout = c->out[0]->nelem, base = 0;
	int32_t r = p.rank;
	if (!nout)
		return FLT_OK;
	for (int32_t d = 0; d < r; d++) {
		dt[d] = taps + base;
		for (int64_t o = 0; o < p.out[d]; o++)
			rs_make_tap(&p, d, o, &dt[d][o]);
		base += (size_t)p.out[d];
	}
	int64_t oi[FLT_RT_MAX_RANK] = {0};
	for (size_t o = 0; o < nout; o++) {
		const struct rs_tap *t[FLT_RT_MAX_RANK];
		int outside = 0;
		for (int32_t d = 0; d < r; d++) {
			t[d] = &dt[d][oi[d]];
			outside |= t[d]->outside;
		}
		if (outside) {
			py[o] = p.extrapolation;
		} else {
			int ci[FLT_RT_MAX_RANK] = {0};
			double acc = 0;
			for (;;) {
				double w = 1;
				size_t off = 0;
				for (int32_t d = 0; d < r; d++) {
					w *= t[d]->w[ci[d]];
					off = off * (size_t)p.in[d] + (size_t)t[d]->idx[ci[d]];
				}
				acc += w * px[off];
				int32_t d = r - 1;
				while (d >= 0 && ++ci[d] >= t[d]->n)
					ci[d--] = 0;
				if (d < 0)
					break;
			}
			py[o] = (float)acc;
		}
		for (int32_t d = r - 1; d >= 0; d--) {
			if (++oi[d] < p.out[d])
				break;
			oi[d] = 0;
		}
	}
	return FLT_OK;
}

const struct op_backend ops_resize[] = {
    {"", "Upsample", 7, 9, 0, rs_infer, rs_run},
    {"", "Resize", 10, 17, 0, rs_infer, rs_run},
};
const size_t ops_resize_count = sizeof(ops_resize) / sizeof(ops_resize[0]);
