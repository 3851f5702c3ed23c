/* Helpers shared by the op families: attribute access, shape setting with
 * overflow checks, axis normalisation, constant shape inputs, broadcasting. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ops.h"

flt_err op_fail(struct op_ctx *c, flt_err e, const char *fmt, ...)
{
	if (c->err && c->errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(c->err, c->errlen, fmt, ap);
		va_end(ap);
	}
	return e;
}

const struct onnx_attr *op_attr(const struct op_ctx *c, const char *name)
{
	for (size_t i = 0; i < c->node->n_attrs; i++)
		if (!strcmp(c->node->attrs[i].name, name))
			return &c->node->attrs[i];
	return NULL;
}

int64_t op_attr_int(const struct op_ctx *c, const char *name, int64_t def)
{
	const struct onnx_attr *a = op_attr(c, name);
	return a ? a->i : def;
}

float op_attr_float(const struct op_ctx *c, const char *name, float def)
{
	const struct onnx_attr *a = op_attr(c, name);
	return a ? a->f : def;
}

const char *op_attr_str(const struct op_ctx *c, const char *name, const char *def)
{
	const struct onnx_attr *a = op_attr(c, name);
	return a && a->s ? a->s : def;
}

const int64_t *op_attr_ints(const struct op_ctx *c, const char *name, size_t *n)
{
	const struct onnx_attr *a = op_attr(c, name);
	*n = a ? a->n_ints : 0;
	return a ? a->ints : NULL;
}

const float *op_attr_floats(const struct op_ctx *c, const char *name, size_t *n)
{
	const struct onnx_attr *a = op_attr(c, name);
	*n = a ? a->n_floats : 0;
	return a ? a->floats : NULL;
}

struct rt_tensor *op_in(const struct op_ctx *c, size_t i)
{
	return i < c->n_in ? c->in[i] : NULL;
}

flt_err op_set_shape(struct op_ctx *c, struct rt_tensor *t, int32_t dtype, int32_t rank,
                     const int64_t *dims)
{
	if (!t)
		return FLT_OK;
	if (rank < 0 || rank > FLT_RT_MAX_RANK)
		return op_fail(c, FLT_EUNSUPPORTED, "output rank %d out of range (max %d)",
		               (int)rank, FLT_RT_MAX_RANK);
	size_t es = onnx_dtype_size(dtype);
	if (!es)
		return op_fail(c, FLT_EUNSUPPORTED, "output type %s not supported",
		               onnx_dtype_name(dtype));
	uint64_t n = 1;
	for (int32_t i = 0; i < rank; i++) {
		if (dims[i] < 0)
			return op_fail(c, FLT_EINVAL, "negative output dimension %lld",
			               (long long)dims[i]);
		if (dims[i] && n > (uint64_t)(SIZE_MAX / es) / (uint64_t)dims[i])
			return op_fail(c, FLT_ELIMIT, "output tensor too large");
		n *= (uint64_t)dims[i];
	}
	if (n > SIZE_MAX / es)
		return op_fail(c, FLT_ELIMIT, "output tensor too large");
	t->dtype = dtype;
	t->rank = rank;
	for (int32_t i = 0; i < rank; i++)
		t->dims[i] = dims[i];
	for (int32_t i = rank; i < FLT_RT_MAX_RANK; i++)
		t->dims[i] = 0;
	t->nelem = (size_t)n;
	return FLT_OK;
}

flt_err op_same_shape(struct op_ctx *c, struct rt_tensor *dst, const struct rt_tensor *src)
{
	return op_set_shape(c, dst, src->dtype, src->rank, src->dims);
}

flt_err op_axis(struct op_ctx *c, int64_t axis, int32_t rank, int64_t *out)
{
	if (axis < -(int64_t)rank || axis >= rank || (rank == 0 && axis != 0))
		return op_fail(c, FLT_EINVAL, "axis %lld out of range for rank %d", (long long)axis,
		               (int)rank);
	*out = axis < 0 ? axis + rank : axis;
	return FLT_OK;
}

flt_err op_const_ints(struct op_ctx *c, size_t i, int64_t *dst, size_t max, size_t *n)
{
	const struct rt_tensor *t = op_in(c, i);
	if (!t)
		return op_fail(c, FLT_EINVAL, "input %zu is missing", i);
	if (!t->data) {
		c->needs_data = 1;
		return op_fail(c, FLT_EUNSUPPORTED,
		               "input %zu ('%s') must be a constant known at load", i,
		               i < c->node->n_inputs ? c->node->inputs[i] : "");
	}
	if (t->nelem > max)
		return op_fail(c, FLT_EINVAL, "input %zu has %zu values, at most %zu expected", i,
		               t->nelem, max);
	for (size_t k = 0; k < t->nelem; k++) {
		if (t->dtype == ONNX_INT64) {
			memcpy(&dst[k], (const char *)t->data + 8 * k, 8);
		} else if (t->dtype == ONNX_INT32) {
			int32_t v;
			memcpy(&v, (const char *)t->data + 4 * k, 4);
			dst[k] = v;
		} else {
			return op_fail(c, FLT_EINVAL, "input %zu must be int64, not %s", i,
			               onnx_dtype_name(t->dtype));
		}
	}
	*n = t->nelem;
	return FLT_OK;
}

flt_err op_const_float(struct op_ctx *c, size_t i, float def, float *out)
{
	const struct rt_tensor *t = op_in(c, i);
	if (!t) {
		*out = def;
		return FLT_OK;
	}
	if (!t->data) {
		c->needs_data = 1;
		return op_fail(c, FLT_EUNSUPPORTED, "input %zu must be a constant known at load",
		               i);
	}
	if (t->nelem != 1 || t->dtype != ONNX_FLOAT)
		return op_fail(c, FLT_EINVAL, "input %zu must be a float scalar", i);
	memcpy(out, t->data, 4);
	return FLT_OK;
}

flt_err op_broadcast(struct op_ctx *c, const struct rt_tensor *a, const struct rt_tensor *b,
                     int32_t *rank, int64_t *dims)
{
	int32_t r = a->rank > b->rank ? a->rank : b->rank;
	for (int32_t i = 0; i < r; i++) {
		int32_t ia = i - (r - a->rank), ib = i - (r - b->rank);
		int64_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
		if (da == db || db == 1)
			dims[i] = da;
		else if (da == 1)
			dims[i] = db;
		else
			return op_fail(c, FLT_EINVAL,
			               "shapes do not broadcast (dim %d: %lld vs %lld)", (int)i,
			               (long long)da, (long long)db);
	}
	*rank = r;
	return FLT_OK;
}

void op_bcast_strides(const struct rt_tensor *t, int32_t out_rank, const int64_t *out_dims,
                      size_t *strides)
{
	size_t s = 1;
	for (int32_t i = out_rank - 1; i >= 0; i--) {
		int32_t it = i - (out_rank - t->rank);
		if (it < 0 || (t->dims[it] == 1 && out_dims[i] != 1)) {
			strides[i] = 0;
		} else {
			strides[i] = s;
		}
		if (it >= 0)
			s *= (size_t)t->dims[it];
	}
}
