/* Reductions: ReduceMean ReduceSum ReduceMax (axes as attribute, or input for
 * ReduceSum from opset 13, keepdims, noop_with_empty_axes) and ArgMax
 * (keepdims, select_last_index). */
#include <math.h>
#include <string.h>

#include "ops.h"

struct red_spec {
	int reduce[FLT_RT_MAX_RANK];
	int keep;
	int noop;
};

static flt_err red_spec(struct op_ctx *c, struct red_spec *s)
{
	const struct rt_tensor *x = c->in[0];
	int64_t axes[FLT_RT_MAX_RANK];
	size_t n = 0;
	flt_err e;
	memset(s, 0, sizeof(*s));
	s->keep = op_attr_int(c, "keepdims", 1) != 0;
	if (!strcmp(c->node->op_type, "ReduceSum") && c->opset >= 13) {
		if (op_in(c, 1) && (e = op_const_ints(c, 1, axes, FLT_RT_MAX_RANK, &n)))
			return e;
		if (n == 0 && op_attr_int(c, "noop_with_empty_axes", 0)) {
			s->noop = 1;
			return FLT_OK;
		}
	} else {
		const int64_t *a = op_attr_ints(c, "axes", &n);
		if (n > FLT_RT_MAX_RANK)
			return op_fail(c, FLT_EINVAL, "too many axes");
		if (n)
			memcpy(axes, a, n * 8);
	}
	for (size_t i = 0; i < n; i++) {
		int64_t ax;
		if ((e = op_axis(c, axes[i], x->rank, &ax)))
			return e;
		s->reduce[ax] = 1;
	}
	if (n == 0)
		for (int32_t d = 0; d < x->rank; d++)
			s->reduce[d] = 1;
	return FLT_OK;
}

static flt_err reduce_infer(struct op_ctx *c)
{
	struct red_spec s;
	int64_t dims[FLT_RT_MAX_RANK];
	const struct rt_tensor *x = op_in(c, 0);
	if (!x || c->n_out < 1)
		return op_fail(c, FLT_EINVAL, "expects X");
	if (x->dtype != ONNX_FLOAT && x->dtype != ONNX_INT64)
		return op_fail(c, FLT_EUNSUPPORTED, "type %s not supported",
		               onnx_dtype_name(x->dtype));
	flt_err e = red_spec(c, &s);
	if (e)
		return e;
	if (s.noop)
		return op_same_shape(c, c->out[0], x);
	int32_t r = 0;
	for (int32_t d = 0; d < x->rank; d++) {
		if (!s.reduce[d])
			dims[r++] = x->dims[d];
		else if (s.keep)
			dims[r++] = 1;
	}
	return op_set_shape(c, c->out[0], x->dtype, r, dims);
}

enum red_kind { RED_SUM, RED_MEAN, RED_MAX };

static flt_err reduce_run(struct op_ctx *c)
{
	struct red_spec s;
	const struct rt_tensor *x = c->in[0];
	struct rt_tensor *o = c->out[0];
	flt_err e = red_spec(c, &s);
	if (e || !o)
		return e;
	if (s.noop) {
		memcpy(o->data, x->data, x->nelem * onnx_dtype_size(x->dtype));
		return FLT_OK;
	}
	enum red_kind k = !strcmp(c->node->op_type, "ReduceMax")    ? RED_MAX
	                  : !strcmp(c->node->op_type, "ReduceMean") ? RED_MEAN
	                                                            : RED_SUM;
	/* output strides over the input's dims (0 on reduced dims) */
	size_t ostr[FLT_RT_MAX_RANK], idx[FLT_RT_MAX_RANK] = {0}, st = 1;
	for (int32_t d = x->rank - 1; d >= 0; d--) {
		ostr[d] = s.reduce[d] ? 0 : st;
		if (!s.reduce[d])
			st *= (size_t)x->dims[d];
	}
	size_t count = o->nelem ? x->nelem / o->nelem : 0;
	int isf = x->dtype == ONNX_FLOAT;
	float *of = o->data;
	int64_t *oi = o->data;
	for (size_t i = 0; i < o->nelem; i++) {
		if (isf)
			of[i] = k == RED_MAX ? -INFINITY : 0.0f;
		else
			oi[i] = k == RED_MAX ? INT64_MIN : 0;
	}
	size_t off = 0;
	for (size_t n = 0; n < x->nelem; n++) {
		if (isf) {
			float v = ((const float *)x->data)[n];
			if (k == RED_MAX)
				of[off] = v > of[off] || isnan(v) ? v : of[off];
			else
				of[off] += v;
		} else {
			int64_t v = ((const int64_t *)x->data)[n];
			if (k == RED_MAX)
				oi[off] = v > oi[off] ? v : oi[off];
			else
				oi[off] = (int64_t)((uint64_t)oi[off] + (uint64_t)v);
		}
		for (int32_t d = x->rank - 1; d >= 0; d--) {
			idx[d]++;
			off += ostr[d];
			if (idx[d] < (size_t)x->dims[d])
				break;
			off -= ostr[d] * idx[d];
			idx[d] = 0;
		}
	}
	if (k == RED_MEAN)
		for (size_t i = 0; i < o->nelem; i++) {
			if (isf)
				of[i] = count ? of[i] / (float)count : NAN;
			else
				oi[i] = count ? oi[i] / (int64_t)count : 0;
		}
	return FLT_OK;
}

static flt_err argmax_infer(struct op_ctx *c)
{
	const struct rt_tensor *x = op_in(c, 0);
	int64_t axis, dims[FLT_RT_MAX_RANK];
	if (!x || c->n_out < 1)
		return op_fail(c, FLT_EINVAL, "expects X");
	if (x->dtype != ONNX_FLOAT && x->dtype != ONNX_INT64)
		return op_fail(c, FLT_EUNSUPPORTED, "type %s not supported",
		               onnx_dtype_name(x->dtype));
	flt_err e = op_axis(c, op_attr_int(c, "axis", 0), x->rank, &axis);
	if (e)
		return e;
	if (x->dims[axis] == 0)
		return op_fail(c, FLT_EINVAL, "ArgMax over an empty axis");
	int keep = op_attr_int(c, "keepdims", 1) != 0;
	int32_t r = 0;
	for (int32_t d = 0; d < x->rank; d++) {
		if (d != axis)
			dims[r++] = x->dims[d];
		else if (keep)
			dims[r++] = 1;
	}
	return op_set_shape(c, c->out[0], ONNX_INT64, r, dims);
}

static flt_err argmax_run(struct op_ctx *c)
{
	const struct rt_tensor *x = c->in[0];
	int64_t axis;
	flt_err e = op_axis(c, op_attr_int(c, "axis", 0), x->rank, &axis);
	if (e || !c->out[0])
		return e;
	int last = c->opset >= 12 && op_attr_int(c, "select_last_index", 0);
	size_t outer = 1, inner = 1, n = (size_t)x->dims[axis];
	for (int64_t d = 0; d < axis; d++)
		outer *= (size_t)x->dims[d];
	for (int32_t d = (int32_t)axis + 1; d < x->rank; d++)
		inner *= (size_t)x->dims[d];
	int64_t *o = c->out[0]->data;
	for (size_t a = 0; a < outer; a++)
		for (size_t i = 0; i < inner; i++) {
			size_t base = a * n * inner + i, best = 0;
			for (size_t k = 1; k < n; k++) {
				int gt, eq;
				if (x->dtype == ONNX_FLOAT) {
					float v = ((const float *)x->data)[base + k * inner];
					float b = ((const float *)x->data)[base + best * inner];
					gt = v > b;
					eq = v == b;
				} else {
					int64_t v = ((const int64_t *)x->data)[base + k * inner];
					int64_t b = ((const int64_t *)x->data)[base + best * inner];
					gt = v > b;
					eq = v == b;
				}
				if (gt || (last && eq))
					best = k;
			}
			o[a * inner + i] = (int64_t)best;
		}
	return FLT_OK;
}

const struct op_backend ops_reduce[] = {
    {"", "ReduceMean", 1, 17, 0, reduce_infer, reduce_run},
    {"", "ReduceSum", 1, 17, 0, reduce_infer, reduce_run},
    {"", "ReduceMax", 1, 17, 0, reduce_infer, reduce_run},
    {"", "ArgMax", 1, 17, 0, argmax_infer, argmax_run},
};
const size_t ops_reduce_count = sizeof(ops_reduce) / sizeof(ops_reduce[0]);
