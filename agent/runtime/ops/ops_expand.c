/* Expand: broadcast a tensor to a shape given as a constant input (numpy
 * rules, so the result may be larger than the shape asked for). */
#include <string.h>

#include "ops.h"

static flt_err expand_infer(struct op_ctx *c)
{
	const struct rt_tensor *x = op_in(c, 0);
	struct rt_tensor shape = {0};
	int64_t dims[FLT_RT_MAX_RANK];
	size_t n;
	int32_t rank;
	flt_err e;
	if (!x || c->n_out < 1)
		return op_fail(c, FLT_EINVAL, "expects input and shape");
	if (!onnx_dtype_size(x->dtype))
		return op_fail(c, FLT_EUNSUPPORTED, "type %s", onnx_dtype_name(x->dtype));
	if ((e = op_const_ints(c, 1, shape.dims, FLT_RT_MAX_RANK, &n)))
		return e;
	for (size_t i = 0; i < n; i++)
		if (shape.dims[i] < 0)
			return op_fail(c, FLT_EINVAL, "negative dimension in shape");
	shape.rank = (int32_t)n;
	if ((e = op_broadcast(c, x, &shape, &rank, dims)))
		return e;
	return op_set_shape(c, c->out[0], x->dtype, rank, dims);
}

static flt_err expand_run(struct op_ctx *c)
{
	const struct rt_tensor *x = c->in[0];
	struct rt_tensor *y = c->out[0];
	size_t es = onnx_dtype_size(x->dtype), st[FLT_RT_MAX_RANK], idx[FLT_RT_MAX_RANK] = {0};
	op_bcast_strides(x, y->rank, y->dims, st);
	const char *px = x->data;
	char *py = y->data;
	size_t off = 0;
	for (size_t o = 0; o < y->nelem; o++) {
		memcpy(py + o * es, px + off * es, es);
		for (int32_t d = y->rank - 1; d >= 0; d--) {
			idx[d]++;
			off += st[d];
			if (idx[d] < (size_t)y->dims[d])
				break;
			off -= st[d] * idx[d];
			idx[d] = 0;
		}
	}
	return FLT_OK;
}

const struct op_backend ops_expand[] = {
    {"", "Expand", 8, 17, 0, expand_infer, expand_run},
};
const size_t ops_expand_count = sizeof(ops_expand) / sizeof(ops_expand[0]);
