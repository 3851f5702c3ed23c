/* ONNX-ML preprocessing and output shaping: Scaler, Normalizer, Binarizer,
 * Imputer, ArrayFeatureExtractor, ZipMap (ZipMap passes its probability
 * tensor through; see ops_ml.h). */
#include <math.h>
#include <string.h>

#include "ops_ml.h"

/* ---- Scaler: y = (x - offset) * scale, per feature or one for all ---- */

static flt_err scaler_check(struct op_ctx *c, int64_t *f)
{
	int64_t n;
	size_t no, ns;
	flt_err e = ml_input(c, op_in(c, 0), &n, f);
	if (e)
		return e;
	op_attr_floats(c, "offset", &no);
	op_attr_floats(c, "scale", &ns);
	if ((no > 1 && no != (size_t)*f) || (ns > 1 && ns != (size_t)*f))
		return op_fail(c, FLT_EINVAL,
		               "offset (%zu) and scale (%zu) must have 1 or %lld values", no, ns,
		               (long long)*f);
	return FLT_OK;
}

static flt_err scaler_infer(struct op_ctx *c)
{
	int64_t f;
	flt_err e = scaler_check(c, &f);
	if (e)
		return e;
	const struct rt_tensor *x = c->in[0];
	return op_set_shape(c, c->out[0], ONNX_FLOAT, x->rank, x->dims);
}

static flt_err scaler_run(struct op_ctx *c)
{
	int64_t f;
	size_t no, ns;
	flt_err e = scaler_check(c, &f);
	if (e)
		return e;
	const float *off = op_attr_floats(c, "offset", &no), *sc = op_attr_floats(c, "scale", &ns);
	const struct rt_tensor *x = c->in[0];
	float *y = c->out[0]->data;
	for (size_t i = 0; i < x->nelem; i++) {
		size_t j = f ? i % (size_t)f : 0;
		double o = !no ? 0 : off[no == 1 ? 0 : j], s = !ns ? 1 : sc[ns == 1 ? 0 : j];
		y[i] = (float)((ml_x(x, i) - o) * s);
	}
	return FLT_OK;
}

/* ---- Normalizer: each row divided by its MAX (largest |x|), L1 or L2 norm,
 * as scikit-learn's Normalizer and the ONNX reference do; an all-zero row
 * stays zero. ---- */

static flt_err norm_kind(struct op_ctx *c, int *kind)
{
	const char *s = op_attr_str(c, "norm", "MAX");
	if (!strcmp(s, "MAX"))
		*kind = 0;
	else if (!strcmp(s, "L1"))
		*kind = 1;
	else if (!strcmp(s, "L2"))
		*kind = 2;
	else
		return op_fail(c, FLT_EINVAL, "norm '%s' unknown", s);
	return FLT_OK;
}

static flt_err normalizer_infer(struct op_ctx *c)
{
	int64_t n, f;
	int kind;
	flt_err e;
	if ((e = ml_input(c, op_in(c, 0), &n, &f)) || (e = norm_kind(c, &kind)))
		return e;
	const struct rt_tensor *x = c->in[0];
	return op_set_shape(c, c->out[0], ONNX_FLOAT, x->rank, x->dims);
}

static flt_err normalizer_run(struct op_ctx *c)
{
	int64_t n, f;
	int kind;
	flt_err e;
	if ((e = ml_input(c, op_in(c, 0), &n, &f)) || (e = norm_kind(c, &kind)))
		return e;
	const struct rt_tensor *x = c->in[0];
	float *y = c->out[0]->data;
	for (size_t i = 0; i < (size_t)n; i++) {
		size_t base = i * (size_t)f;
		double d = 0;
		for (size_t j = 0; j < (size_t)f; j++) {
			double v = ml_x(x, base + j);
			if (kind == 0)
				d = fabs(v) > d ? fabs(v) : d;
			else if (kind == 1)
				d += fabs(v);
			else
				d += v * v;
		}
		if (kind == 2)
			d = sqrt(d);
		if (d == 0)
			d = 1;
		for (size_t j = 0; j < (size_t)f; j++)
			y[base + j] = (float)(ml_x(x, base + j) / d);
	}
	return FLT_OK;
}

/* ---- ZipMap ---- */

static flt_err zipmap_infer(struct op_ctx *c)
{
	const struct rt_tensor *x = op_in(c, 0);
	const int64_t *ints;
	size_t nl;
	flt_err e;
	if (!x || c->n_out < 1)
		return op_fail(c, FLT_EINVAL, "expects X");
	if (x->dtype != ONNX_FLOAT)
		return op_fail(c, FLT_EUNSUPPORTED, "X must be float");
	if ((e = ml_labels(c, "classlabels_int64s", &ints, &nl)))
		return e;
	if (x->rank < 1 || x->rank > 2 || (size_t)x->dims[x->rank - 1] != nl)
		return op_fail(c, FLT_EINVAL, "X must be [N, %zu] for %zu class labels", nl, nl);
	return op_same_shape(c, c->out[0], x);
}

static flt_err zipmap_run(struct op_ctx *c)
{
	memcpy(c->out[0]->data, c->in[0]->data, c->in[0]->nelem * sizeof(float));
	return FLT_OK;
}

/* ---- Binarizer: 1 where x > threshold, else 0, in the input's type ---- */

static flt_err binarizer_infer(struct op_ctx *c)
{
	const struct rt_tensor *x = op_in(c, 0);
	if (!x || c->n_out < 1)
		return op_fail(c, FLT_EINVAL, "expects X");
	if (x->dtype != ONNX_FLOAT && x->dtype != ONNX_INT64)
		return op_fail(c, FLT_EUNSUPPORTED, "X must be float or int64, not %s",
		               onnx_dtype_name(x->dtype));
	return op_same_shape(c, c->out[0], x);
}

static flt_err binarizer_run(struct op_ctx *c)
{
	const struct rt_tensor *x = c->in[0];
	double th = op_attr_float(c, "threshold", 0.0f);
	for (size_t i = 0; i < x->nelem; i++) {
		int on = ml_x(x, i) > th;
		if (x->dtype == ONNX_FLOAT) {
			((float *)c->out[0]->data)[i] = on ? 1.0f : 0.0f;
		} else {
			int64_t v = on;
			memcpy((char *)c->out[0]->data + 8 * i, &v, 8);
		}
	}
	return FLT_OK;
}

/* ---- Imputer: replaced_value_float (NaN matches NaN) becomes the imputed
 * value of its feature (or the one value for all); int64 likewise. ---- */

static flt_err imputer_check(struct op_ctx *c, int64_t *f)
{
	int64_t n;
	size_t k;
	flt_err e = ml_input(c, op_in(c, 0), &n, f);
	if (e)
		return e;
	const char *name =
	    c->in[0]->dtype == ONNX_FLOAT ? "imputed_value_floats" : "imputed_value_int64s";
	if (c->in[0]->dtype == ONNX_FLOAT)
		op_attr_floats(c, name, &k);
	else
		op_attr_ints(c, name, &k);
	if (k != 1 && k != (size_t)*f)
		return op_fail(c, FLT_EINVAL, "%s has %zu values for %lld features", name, k,
		               (long long)*f);
	return FLT_OK;
}

static flt_err imputer_infer(struct op_ctx *c)
{
	int64_t f;
	flt_err e = imputer_check(c, &f);
	if (e)
		return e;
	return op_same_shape(c, c->out[0], c->in[0]);
}

static flt_err imputer_run(struct op_ctx *c)
{
	int64_t f;
	size_t k;
	flt_err e = imputer_check(c, &f);
	if (e)
		return e;
	const struct rt_tensor *x = c->in[0];
	if (x->dtype == ONNX_FLOAT) {
		const float *iv = op_attr_floats(c, "imputed_value_floats", &k), *px = x->data;
		float rv = op_attr_float(c, "replaced_value_float", 0.0f), *py = c->out[0]->data;
		for (size_t i = 0; i < x->nelem; i++) {
			int hit = isnan(rv) ? isnan(px[i]) : px[i] == rv;
			py[i] = hit ? iv[k == 1 ? 0 : i % (size_t)f] : px[i];
		}
		return FLT_OK;
	}
	const int64_t *iv = op_attr_ints(c, "imputed_value_int64s", &k);
	int64_t rv = op_attr_int(c, "replaced_value_int64", 0);
	for (size_t i = 0; i < x->nelem; i++) {
		int64_t v;
		memcpy(&v, (const char *)x->data + 8 * i, 8);
		if (v == rv)
			v = iv[k == 1 ? 0 : i % (size_t)f];
		memcpy((char *)c->out[0]->data + 8 * i, &v, 8);
	}
	return FLT_OK;
}

/* ---- ArrayFeatureExtractor: X[..., indices] along the last axis (a 1-D X
 * gives [1, k], as ONNX Runtime does). ---- */

static flt_err afe_infer(struct op_ctx *c)
{
	const struct rt_tensor *x = op_in(c, 0), *y = op_in(c, 1);
	int64_t dims[FLT_RT_MAX_RANK];
	if (!x || !y || c->n_out < 1)
		return op_fail(c, FLT_EINVAL, "expects X and Y");
	if (!onnx_dtype_size(x->dtype) || x->rank < 1)
		return op_fail(c, FLT_EINVAL, "X must be a tensor of rank >= 1");
	if (y->dtype != ONNX_INT64)
		return op_fail(c, FLT_EINVAL, "Y must be int64");
	if (x->rank == 1) {
		dims[0] = 1;
		dims[1] = (int64_t)y->nelem;
		return op_set_shape(c, c->out[0], x->dtype, 2, dims);
	}
	memcpy(dims, x->dims, sizeof(int64_t) * (size_t)x->rank);
	dims[x->rank - 1] = (int64_t)y->nelem;
	return op_set_shape(c, c->out[0], x->dtype, x->rank, dims);
}

static flt_err afe_run(struct op_ctx *c)
{
	const struct rt_tensor *x = c->in[0], *y = c->in[1];
	size_t es = onnx_dtype_size(x->dtype), last = (size_t)x->dims[x->rank - 1];
	size_t rows = last ? x->nelem / last : 0, k = y->nelem;
	for (size_t j = 0; j < k; j++) {
		int64_t v;
		memcpy(&v, (const char *)y->data + 8 * j, 8);
		if (v < 0 || (uint64_t)v >= last)
			return op_fail(c, FLT_EINVAL, "index %lld out of range for %zu features",
			               (long long)v, last);
	}
	for (size_t r = 0; r < rows; r++)
		for (size_t j = 0; j < k; j++) {
			int64_t v;
			memcpy(&v, (const char *)y->data + 8 * j, 8);
			memcpy((char *)c->out[0]->data + (r * k + j) * es,
			       (const char *)x->data + (r * last + (size_t)v) * es, es);
		}
	return FLT_OK;
}

const struct op_backend ops_ml_misc[] = {
    {ML_DOMAIN, "Binarizer", 1, ML_OPSET_MAX, 0, binarizer_infer, binarizer_run},
    {ML_DOMAIN, "Imputer", 1, ML_OPSET_MAX, 0, imputer_infer, imputer_run},
    {ML_DOMAIN, "ArrayFeatureExtractor", 1, ML_OPSET_MAX, 0, afe_infer, afe_run},
    {ML_DOMAIN, "Scaler", 1, ML_OPSET_MAX, 0, scaler_infer, scaler_run},
    {ML_DOMAIN, "Normalizer", 1, ML_OPSET_MAX, 0, normalizer_infer, normalizer_run},
    {ML_DOMAIN, "ZipMap", 1, ML_OPSET_MAX, 0, zipmap_infer, zipmap_run},
};
const size_t ops_ml_misc_count = sizeof(ops_ml_misc) / sizeof(ops_ml_misc[0]);
