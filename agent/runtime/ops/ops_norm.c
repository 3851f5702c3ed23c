/* LayerNormalization (opset 17): normalise over the trailing axes from
 * `axis`, scale and shift by Scale and B (each broadcast to those axes), and
 * optionally output the Mean and InvStdDev used. Statistics accumulate in
 * double so long rows do not lose precision (stash_type float is honoured in
 * the stored Mean/InvStdDev, which are float). */
#include <math.h>
#include <string.h>

#include "ops.h"

static flt_err ln_axis(struct op_ctx *c, int64_t *axis)
{
	const struct rt_tensor *x = c->in[0];
	return op_axis(c, op_attr_int(c, "axis", -1), x->rank, axis);
}

/* Scale/B must broadcast (one way) to the normalised shape x[axis:]. */
static flt_err ln_param_ok(struct op_ctx *c, const struct rt_tensor *p, const char *what,
                           int64_t axis)
{
	const struct rt_tensor *x = c->in[0];
	int32_t nr = x->rank - (int32_t)axis;
	if (p->dtype != ONNX_FLOAT)
		return op_fail(c, FLT_EUNSUPPORTED, "%s must be float", what);
	if (p->rank > nr)
		return op_fail(c, FLT_EINVAL, "%s has rank %d, more than the %d normalised axes",
		               what, (int)p->rank, (int)nr);
	for (int32_t i = 0; i < p->rank; i++) {
		int64_t want = x->dims[x->rank - p->rank + i];
		if (p->dims[i] != want && p->dims[i] != 1)
			return op_fail(c, FLT_EINVAL,
			               "%s does not broadcast to the normalised shape", what);
	}
	return FLT_OK;
}

static flt_err ln_infer(struct op_ctx *c)
{
	const struct rt_tensor *x = op_in(c, 0), *s = op_in(c, 1), *b = op_in(c, 2);
	int64_t axis, dims[FLT_RT_MAX_RANK];
	flt_err e;
	if (!x || !s || c->n_out < 1)
		return op_fail(c, FLT_EINVAL, "expects X and Scale");
	if (x->dtype != ONNX_FLOAT)
		return op_fail(c, FLT_EUNSUPPORTED, "float only");
	if (op_attr_int(c, "stash_type", 1) != ONNX_FLOAT)
		return op_fail(c, FLT_EUNSUPPORTED, "stash_type must be float");
	if ((e = ln_axis(c, &axis)) || (e = ln_param_ok(c, s, "Scale", axis)) ||
	    (b && (e = ln_param_ok(c, b, "B", axis))))
		return e;
	if ((e = op_same_shape(c, c->out[0], x)))
		return e;
	for (int32_t d = 0; d < x->rank; d++)
		dims[d] = d < axis ? x->dims[d] : 1;
	for (size_t k = 1; k < 3 && k < c->n_out; k++)
		if ((e = op_set_shape(c, c->out[k], ONNX_FLOAT, x->rank, dims)))
			return e;
	return FLT_OK;
}

/* Offset into a parameter broadcast over the inner block of `inner` values
 * whose dims are x->dims[axis:]. */
static size_t ln_param_off(const struct rt_tensor *x, int64_t axis, const size_t *st, size_t i)
{
	size_t off = 0;
	for (int32_t d = x->rank - 1; d >= (int32_t)axis; d--) {
		size_t dim = (size_t)x->dims[d];
		off += (i % dim) * st[d - axis];
		i /= dim;
	}
	return off;
}

static flt_err ln_run(struct op_ctx *c)
{
	const struct rt_tensor *x = c->in[0], *s = c->in[1], *b = op_in(c, 2);
	struct rt_tensor *mean_t = c->n_out > 1 ? c->out[1] : NULL;
	struct rt_tensor *inv_t = c->n_out > 2 ? c->out[2] : NULL;
	int64_t axis;
	flt_err e;
	if ((e = ln_axis(c, &axis)))
		return e;
	double eps = op_attr_float(c, "epsilon", 1e-5f);
	size_t inner = 1, outer = 1, sst[FLT_RT_MAX_RANK], bst[FLT_RT_MAX_RANK];
	for (int32_t d = 0; d < x->rank; d++)
		*(d < axis ? &outer : &inner) *= (size_t)x->dims[d];
	int32_t nr = x->rank - (int32_t)axis;
	op_bcast_strides(s, nr, x->dims + axis, sst);
	if (b)
		op_bcast_strides(b, nr, x->dims + axis, bst);
	int s_full = s->nelem == inner, b_full = b && b->nelem == inner;
	const float *px = x->data, *ps = s->data, *pb = b ? b->data : NULL;
	float *py = c->out[0]->data;
	for (size_t o = 0; o < outer; o++) {
		const float *xr = px + o * inner;
		float *yr = py + o * inner;
		double sum = 0, sq = 0;
		for (size_t i = 0; i < inner; i++)
			sum += xr[i];
		double mean = inner ? sum / (double)inner : 0;
		for (size_t i = 0; i < inner; i++)
			sq += (xr[i] - mean) * (xr[i] - mean);
		double inv = 1.0 / sqrt((inner ? sq / (double)inner : 0) + eps);
		for (size_t i = 0; i < inner; i++) {
			float sv = ps[s_full ? i : ln_param_off(x, axis, sst, i)];
			float bv = !pb ? 0.0f : pb[b_full ? i : ln_param_off(x, axis, bst, i)];
			yr[i] = (float)((xr[i] - mean) * inv) * sv + bv;
		}
		if (mean_t)
			((float *)mean_t->data)[o] = (float)mean;
		if (inv_t)
			((float *)inv_t->data)[o] = (float)inv;
	}
	return FLT_OK;
}

const struct op_backend ops_norm[] = {
    {"", "LayerNormalization", 17, 17, 0, ln_infer, ln_run},
};
const size_t ops_norm_count = sizeof(ops_norm) / sizeof(ops_norm[0]);
