/* Shape and data-movement operators: Constant Identity Dropout Reshape Flatten
 * Squeeze Unsqueeze Transpose Concat Split Slice Gather Shape Cast Pad, in
 * their attribute (old opsets) and input (new opsets) forms. They move bytes,
 * so most work for any element type. */
#include <math.h>
#include <string.h>

#include "ops.h"

static size_t esize(const struct rt_tensor *t)
{
	return onnx_dtype_size(t->dtype);
}

static flt_err need_in(struct op_ctx *c, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!op_in(c, i))
			return op_fail(c, FLT_EINVAL, "input %zu is missing", i);
	if (c->n_out < 1)
		return op_fail(c, FLT_EINVAL, "no output");
	return FLT_OK;
}

static flt_err copy_run(struct op_ctx *c)
{
	if (c->out[0] && c->out[0]->nelem)
		memcpy(c->out[0]->data, c->in[0]->data, c->in[0]->nelem * esize(c->in[0]));
	return FLT_OK;
}

/* ---- Constant ---- */

static flt_err constant_infer(struct op_ctx *c)
{
	const struct onnx_attr *a;
	int64_t one = 1;
	if (c->n_out < 1)
		return op_fail(c, FLT_EINVAL, "no output");
	if ((a = op_attr(c, "value")) && a->t) {
		if (!a->t->data)
			return op_fail(c, FLT_EUNSUPPORTED, "constant of type %s not supported",
			               onnx_dtype_name(a->t->dtype));
		return op_set_shape(c, c->out[0], a->t->dtype, a->t->rank, a->t->dims);
	}
	if ((a = op_attr(c, "value_float")))
		return op_set_shape(c, c->out[0], ONNX_FLOAT, 0, NULL);
	if ((a = op_attr(c, "value_int")))
		return op_set_shape(c, c->out[0], ONNX_INT64, 0, NULL);
	if ((a = op_attr(c, "value_floats"))) {
		int64_t n = (int64_t)a->n_floats;
		return op_set_shape(c, c->out[0], ONNX_FLOAT, 1, &n);
	}
	if ((a = op_attr(c, "value_ints"))) {
		int64_t n = (int64_t)a->n_ints;
		return op_set_shape(c, c->out[0], ONNX_INT64, 1, &n);
	}
	(void)one;
	return op_fail(c, FLT_EUNSUPPORTED, "Constant needs value, value_float(s) or value_int(s)");
}

static flt_err constant_run(struct op_ctx *c)
{
	const struct onnx_attr *a;
	struct rt_tensor *o = c->out[0];
	if (!o)
		return FLT_OK;
	if ((a = op_attr(c, "value")) && a->t) {
		if (a->t->nbytes)
			memcpy(o->data, a->t->data, a->t->nbytes);
	} else if ((a = op_attr(c, "value_float"))) {
		memcpy(o->data, &a->f, 4);
	} else if ((a = op_attr(c, "value_int"))) {
		memcpy(o->data, &a->i, 8);
	} else if ((a = op_attr(c, "value_floats"))) {
		if (a->n_floats)
			memcpy(o->data, a->floats, 4 * a->n_floats);
	} else if ((a = op_attr(c, "value_ints"))) {
		if (a->n_ints)
			memcpy(o->data, a->ints, 8 * a->n_ints);
	}
	return FLT_OK;
}

/* ---- Identity, Dropout (inference: identity, mask all true) ---- */

static flt_err identity_infer(struct op_ctx *c)
{
	flt_err e = need_in(c, 1);
	if (e)
		return e;
	if (!strcmp(c->node->op_type, "Dropout") && c->n_out > 1 && c->out[1]) {
		/* the mask is bool from opset 10, before that the input's type */
		int32_t mt = c->opset >= 10 ? ONNX_BOOL : c->in[0]->dtype;
		if ((e = op_set_shape(c, c->out[1], mt, c->in[0]->rank, c->in[0]->dims)))
			return e;
	}
	return op_same_shape(c, c->out[0], c->in[0]);
}

static flt_err dropout_run(struct op_ctx *c)
{
	if (c->n_out > 1 && c->out[1]) {
		struct rt_tensor *m = c->out[1];
		if (m->dtype == ONNX_BOOL) {
			memset(m->data, 1, m->nelem);
		} else if (m->dtype == ONNX_FLOAT) {
			for (size_t i = 0; i < m->nelem; i++)
				((float *)m->data)[i] = 1.0f;
		} else {
			memset(m->data, 0, m->nelem * esize(m));
		}
	}
	return copy_run(c);
}

/* ---- Reshape ---- */

static flt_err reshape_infer(struct op_ctx *c)
{
	int64_t shape[FLT_RT_MAX_RANK], dims[FLT_RT_MAX_RANK];
	size_t n = 0;
	flt_err e = need_in(c, 1);
	const struct rt_tensor *x = op_in(c, 0);
	if (e)
		return e;
	if (c->opset < 5) {
		size_t na;
		const int64_t *s = op_attr_ints(c, "shape", &na);
		if (na > FLT_RT_MAX_RANK)
			return op_fail(c, FLT_EUNSUPPORTED, "rank %zu too large", na);
		if (na)
			memcpy(shape, s, na * sizeof(int64_t));
		n = na;
	} else if ((e = op_const_ints(c, 1, shape, FLT_RT_MAX_RANK, &n))) {
		return e;
	}
	int allowzero = c->opset >= 14 && op_attr_int(c, "allowzero", 0);
	int infer_at = -1;
	uint64_t known = 1;
	for (size_t i = 0; i < n; i++) {
		int64_t d = shape[i];
		if (d == 0 && !allowzero) {
			if ((int32_t)i >= x->rank)
				return op_fail(c, FLT_EINVAL,
				               "shape copies dim %zu the input lacks", i);
			d = x->dims[i];
		}
		if (d == -1) {
			if (infer_at >= 0)
				return op_fail(c, FLT_EINVAL, "more than one -1 in the shape");
			infer_at = (int)i;
			dims[i] = 1;
			continue;
		}
		if (d < 0)
			return op_fail(c, FLT_EINVAL, "bad shape value %lld", (long long)d);
		dims[i] = d;
		if (d && known > UINT64_MAX / (uint64_t)d)
			return op_fail(c, FLT_EINVAL, "shape too large");
		known *= (uint64_t)d;
	}
	if (infer_at >= 0) {
		if (known == 0 || x->nelem % known)
			return op_fail(c, FLT_EINVAL, "cannot infer -1 for %zu elements", x->nelem);
		dims[infer_at] = (int64_t)(x->nelem / known);
		known *= (uint64_t)dims[infer_at];
	}
	if (known != x->nelem)
		return op_fail(c, FLT_EINVAL, "reshape of %zu elements into %llu", x->nelem,
		               (unsigned long long)known);
	return op_set_shape(c, c->out[0], x->dtype, (int32_t)n, dims);
}

/* ---- Flatten ---- */

static flt_err flatten_infer(struct op_ctx *c)
{
	flt_err e = need_in(c, 1);
	if (e)
		return e;
	const struct rt_tensor *x = c->in[0];
	int64_t axis = op_attr_int(c, "axis", 1);
	if (axis < 0)
		axis += x->rank;
	if (axis < 0 || axis > x->rank)
		return op_fail(c, FLT_EINVAL, "axis out of range");
	int64_t d[2] = {1, 1};
	for (int32_t i = 0; i < x->rank; i++)
		d[i < axis ? 0 : 1] *= x->dims[i];
	return op_set_shape(c, c->out[0], x->dtype, 2, d);
}

/* ---- Squeeze / Unsqueeze ---- */

static flt_err axes_of(struct op_ctx *c, int64_t *axes, size_t *n)
{
	if (c->opset >= 13) {
		if (!op_in(c, 1)) {
			*n = 0;
			return FLT_OK;
		}
		return op_const_ints(c, 1, axes, FLT_RT_MAX_RANK, n);
	}
	size_t na;
	const int64_t *a = op_attr_ints(c, "axes", &na);
	if (na > FLT_RT_MAX_RANK)
		return op_fail(c, FLT_EINVAL, "too many axes");
	if (na)
		memcpy(axes, a, na * sizeof(int64_t));
	*n = na;
	return FLT_OK;
}

static flt_err squeeze_infer(struct op_ctx *c)
{
	int64_t axes[FLT_RT_MAX_RANK], dims[FLT_RT_MAX_RANK];
	size_t n;
	int drop[FLT_RT_MAX_RANK] = {0};
	flt_err e = need_in(c, 1);
	if (e || (e = axes_of(c, axes, &n)))
		return e;
	const struct rt_tensor *x = c->in[0];
	for (size_t i = 0; i < n; i++) {
		int64_t a;
		if ((e = op_axis(c, axes[i], x->rank, &a)))
			return e;
		if (x->dims[a] != 1)
			return op_fail(c, FLT_EINVAL, "cannot squeeze dim %lld of size %lld",
			               (long long)a, (long long)x->dims[a]);
		drop[a] = 1;
	}
	int32_t r = 0;
	for (int32_t i = 0; i < x->rank; i++)
		if (!(n ? drop[i] : x->dims[i] == 1))
			dims[r++] = x->dims[i];
	return op_set_shape(c, c->out[0], x->dtype, r, dims);
}

static flt_err unsqueeze_infer(struct op_ctx *c)
{
	int64_t axes[FLT_RT_MAX_RANK], dims[FLT_RT_MAX_RANK];
	size_t n;
	int ins[FLT_RT_MAX_RANK] = {0};
	flt_err e = need_in(c, 1);
	if (e || (e = axes_of(c, axes, &n)))
		return e;
	const struct rt_tensor *x = c->in[0];
	int32_t r = x->rank + (int32_t)n;
	if (r > FLT_RT_MAX_RANK)
		return op_fail(c, FLT_EUNSUPPORTED, "rank %d too large", (int)r);
	for (size_t i = 0; i < n; i++) {
		int64_t a;
		if ((e = op_axis(c, axes[i], r, &a)))
			return e;
		if (ins[a])
			return op_fail(c, FLT_EINVAL, "axis %lld repeated", (long long)a);
		ins[a] = 1;
	}
	for (int32_t i = 0, k = 0; i < r; i++)
		dims[i] = ins[i] ? 1 : x->dims[k++];
	return op_set_shape(c, c->out[0], x->dtype, r, dims);
}

/* ---- Transpose ---- */

static flt_err get_perm(struct op_ctx *c, int32_t rank, int64_t *perm)
{
	size_t n;
	const int64_t *p = op_attr_ints(c, "perm", &n);
	int seen[FLT_RT_MAX_RANK] = {0};
	if (!p) {
		for (int32_t i = 0; i < rank; i++)
			perm[i] = rank - 1 - i;
		return FLT_OK;
	}
	if ((int32_t)n != rank)
		return op_fail(c, FLT_EINVAL, "perm has %zu entries for rank %d", n, (int)rank);
	for (size_t i = 0; i < n; i++) {
		int64_t a = p[i] < 0 ? p[i] + rank : p[i];
		if (a < 0 || a >= rank || seen[a])
			return op_fail(c, FLT_EINVAL, "perm is not a permutation");
		seen[a] = 1;
		perm[i] = a;
	}
	return FLT_OK;
}

static flt_err transpose_infer(struct op_ctx *c)
{
	int64_t perm[FLT_RT_MAX_RANK], dims[FLT_RT_MAX_RANK];
	flt_err e = need_in(c, 1);
	if (e || (e = get_perm(c, c->in[0]->rank, perm)))
		return e;
	for (int32_t i = 0; i < c->in[0]->rank; i++)
		dims[i] = c->in[0]->dims[perm[i]];
	return op_set_shape(c, c->out[0], c->in[0]->dtype, c->in[0]->rank, dims);
}

static flt_err transpose_run(struct op_ctx *c)
{
	int64_t perm[FLT_RT_MAX_RANK];
	size_t istr[FLT_RT_MAX_RANK], ostr[FLT_RT_MAX_RANK], idx[FLT_RT_MAX_RANK] = {0};
	const struct rt_tensor *x = c->in[0];
	struct rt_tensor *o = c->out[0];
	flt_err e;
	if (!o || !o->nelem)
		return FLT_OK;
	if ((e = get_perm(c, x->rank, perm)))
		return e;
	int32_t r = x->rank;
	size_t s = 1;
	for (int32_t i = r - 1; i >= 0; i--) {
		istr[i] = s;
		s *= (size_t)x->dims[i];
	}
	for (int32_t i = 0; i < r; i++)
		ostr[i] = istr[perm[i]]; /* input stride walked by output dim i */
	size_t es = esize(x), off = 0;
	const uint8_t *src = x->data;
	uint8_t *dst = o->data;
	for (size_t n = 0; n < o->nelem; n++) {
		if (es == 4)
			memcpy(dst + 4 * n, src + 4 * off, 4);
		else
			memcpy(dst + es * n, src + es * off, es);
		for (int32_t d = r - 1; d >= 0; d--) {
			idx[d]++;
			off += ostr[d];
			if (idx[d] < (size_t)o->dims[d])
				break;
			off -= ostr[d] * idx[d];
			idx[d] = 0;
		}
	}
	return FLT_OK;
}

/* ---- Concat ---- */

static flt_err concat_axis(struct op_ctx *c, int32_t rank, int64_t *axis)
{
	int64_t a = op_attr_int(c, "axis", c->opset < 4 ? 1 : INT64_MIN);
	if (a == INT64_MIN)
		return op_fail(c, FLT_EINVAL, "axis attribute is required");
	return op_axis(c, a, rank, axis);
}

static flt_err concat_infer(struct op_ctx *c)
{
	int64_t axis, dims[FLT_RT_MAX_RANK];
	flt_err e = need_in(c, 1);
	if (e)
		return e;
	const struct rt_tensor *x = c->in[0];
	if ((e = concat_axis(c, x->rank, &axis)))
		return e;
	memcpy(dims, x->dims, sizeof(dims));
	dims[axis] = 0;
	for (size_t i = 0; i < c->n_in; i++) {
		const struct rt_tensor *t = op_in(c, i);
		if (!t || t->dtype != x->dtype || t->rank != x->rank)
			return op_fail(c, FLT_EINVAL, "inputs differ in type or rank");
		for (int32_t d = 0; d < x->rank; d++)
			if (d != axis && t->dims[d] != x->dims[d])
				return op_fail(c, FLT_EINVAL, "inputs differ in dim %d", (int)d);
		dims[axis] += t->dims[axis];
	}
	return op_set_shape(c, c->out[0], x->dtype, x->rank, dims);
}

static flt_err concat_run(struct op_ctx *c)
{
	int64_t axis;
	struct rt_tensor *o = c->out[0];
	flt_err e;
	if (!o || !o->nelem)
		return FLT_OK;
	if ((e = concat_axis(c, o->rank, &axis)))
		return e;
	size_t es = esize(o), outer = 1, inner = es;
	for (int64_t d = 0; d < axis; d++)
		outer *= (size_t)o->dims[d];
	for (int32_t d = (int32_t)axis + 1; d < o->rank; d++)
		inner *= (size_t)o->dims[d];
	size_t orow = inner * (size_t)o->dims[axis], at = 0;
	for (size_t i = 0; i < c->n_in; i++) {
		const struct rt_tensor *t = c->in[i];
		size_t row = inner * (size_t)t->dims[axis];
		for (size_t k = 0; k < outer && row; k++)
			memcpy((uint8_t *)o->data + k * orow + at,
			       (const uint8_t *)t->data + k * row, row);
		at += row;
	}
	return FLT_OK;
}

/* ---- Split ---- */

static flt_err split_sizes(struct op_ctx *c, int64_t *axis, int64_t *sizes)
{
	const struct rt_tensor *x = c->in[0];
	flt_err e;
	if ((e = op_axis(c, op_attr_int(c, "axis", 0), x->rank, axis)))
		return e;
	size_t n = 0;
	int64_t tmp[64];
	if (c->n_out > 64)
		return op_fail(c, FLT_EUNSUPPORTED, "too many outputs");
	if ((c->opset >= 13 || c->opset == 1) && op_in(c, 1)) {
		if ((e = op_const_ints(c, 1, tmp, 64, &n)))
			return e;
	} else if (c->opset < 13) {
		const int64_t *s = op_attr_ints(c, "split", &n);
		if (n > 64)
			return op_fail(c, FLT_EINVAL, "split too long");
		if (n)
			memcpy(tmp, s, n * sizeof(int64_t));
	}
	int64_t total = x->dims[*axis];
	if (n == 0) {
		int64_t k = (int64_t)c->n_out;
		if (!k || total % k)
			return op_fail(c, FLT_EINVAL,
			               "dim %lld does not split into %lld equal parts",
			               (long long)total, (long long)k);
		for (size_t i = 0; i < c->n_out; i++)
			sizes[i] = total / k;
		return FLT_OK;
	}
	if (n != c->n_out)
		return op_fail(c, FLT_EINVAL, "split has %zu entries for %zu outputs", n, c->n_out);
	int64_t sum = 0;
	for (size_t i = 0; i < n; i++) {
		if (tmp[i] < 0 || tmp[i] > total - sum)
			return op_fail(c, FLT_EINVAL, "split sizes do not fit dim %lld",
			               (long long)total);
		sizes[i] = tmp[i];
		sum += tmp[i];
	}
	if (sum != total)
		return op_fail(c, FLT_EINVAL, "split sums to %lld, dim is %lld", (long long)sum,
		               (long long)total);
	return FLT_OK;
}

static flt_err split_infer(struct op_ctx *c)
{
	int64_t axis, sizes[64], dims[FLT_RT_MAX_RANK];
	flt_err e = need_in(c, 1);
	if (e || (e = split_sizes(c, &axis, sizes)))
		return e;
	for (size_t i = 0; i < c->n_out; i++) {
		memcpy(dims, c->in[0]->dims, sizeof(dims));
		dims[axis] = sizes[i];
		if ((e = op_set_shape(c, c->out[i], c->in[0]->dtype, c->in[0]->rank, dims)))
			return e;
	}
	return FLT_OK;
}

static flt_err split_run(struct op_ctx *c)
{
	int64_t axis, sizes[64];
	const struct rt_tensor *x = c->in[0];
	flt_err e;
	if ((e = split_sizes(c, &axis, sizes)))
		return e;
	size_t es = esize(x), outer = 1, inner = es;
	for (int64_t d = 0; d < axis; d++)
		outer *= (size_t)x->dims[d];
	for (int32_t d = (int32_t)axis + 1; d < x->rank; d++)
		inner *= (size_t)x->dims[d];
	size_t xrow = inner * (size_t)x->dims[axis], at = 0;
	for (size_t i = 0; i < c->n_out; i++) {
		size_t row = inner * (size_t)sizes[i];
		if (c->out[i])
			for (size_t k = 0; k < outer && row; k++)
				memcpy((uint8_t *)c->out[i]->data + k * row,
				       (const uint8_t *)x->data + k * xrow + at, row);
		at += row;
	}
	return FLT_OK;
}

/* ---- Slice ---- */

struct slice_spec {
	int64_t start[FLT_RT_MAX_RANK], step[FLT_RT_MAX_RANK], len[FLT_RT_MAX_RANK];
};

static flt_err slice_spec(struct op_ctx *c, struct slice_spec *s)
{
	const struct rt_tensor *x = c->in[0];
	int64_t starts[FLT_RT_MAX_RANK], ends[FLT_RT_MAX_RANK], axes[FLT_RT_MAX_RANK],
	    steps[FLT_RT_MAX_RANK];
	size_t ns = 0, ne = 0, na = 0, nst = 0;
	flt_err e;
	if (c->opset < 10) {
		const int64_t *p;
		if ((p = op_attr_ints(c, "starts", &ns)) && ns <= FLT_RT_MAX_RANK)
			memcpy(starts, p, ns * 8);
		if ((p = op_attr_ints(c, "ends", &ne)) && ne <= FLT_RT_MAX_RANK)
			memcpy(ends, p, ne * 8);
		if ((p = op_attr_ints(c, "axes", &na)) && na <= FLT_RT_MAX_RANK)
			memcpy(axes, p, na * 8);
		if (ns > FLT_RT_MAX_RANK || ne > FLT_RT_MAX_RANK || na > FLT_RT_MAX_RANK)
			return op_fail(c, FLT_EINVAL, "too many slice entries");
	} else {
		if ((e = op_const_ints(c, 1, starts, FLT_RT_MAX_RANK, &ns)) ||
		    (e = op_const_ints(c, 2, ends, FLT_RT_MAX_RANK, &ne)))
			return e;
		if (op_in(c, 3) && (e = op_const_ints(c, 3, axes, FLT_RT_MAX_RANK, &na)))
			return e;
		if (op_in(c, 4) && (e = op_const_ints(c, 4, steps, FLT_RT_MAX_RANK, &nst)))
			return e;
	}
	if (ns != ne || (na && na != ns) || (nst && nst != ns))
		return op_fail(c, FLT_EINVAL, "starts, ends, axes and steps differ in length");
	for (int32_t d = 0; d < x->rank; d++) {
		s->start[d] = 0;
		s->step[d] = 1;
		s->len[d] = x->dims[d];
	}
	int seen[FLT_RT_MAX_RANK] = {0};
	for (size_t i = 0; i < ns; i++) {
		int64_t a;
		if ((e = op_axis(c, na ? axes[i] : (int64_t)i, x->rank, &a)))
			return e;
		if (seen[a])
			return op_fail(c, FLT_EINVAL, "axis repeated");
		seen[a] = 1;
		int64_t dim = x->dims[a], st = nst ? steps[i] : 1, b = starts[i], en = ends[i];
		if (st == 0)
			return op_fail(c, FLT_EINVAL, "step 0");
		/* a step longer than the dim takes one element either way; clamping
		 * keeps step * stride and -step from overflowing */
		if (st > dim)
			st = dim > 0 ? dim : 1;
		if (st < -dim)
			st = dim > 0 ? -dim : -1;
		if (b < 0)
			b += dim;
		if (en < 0)
			en += dim;
		int64_t len;
		if (st > 0) {
			b = b < 0 ? 0 : (b > dim ? dim : b);
			en = en < 0 ? 0 : (en > dim ? dim : en);
			len = en > b ? (en - b + st - 1) / st : 0;
		} else {
			b = b < 0 ? -1 : (b > dim - 1 ? dim - 1 : b);
			en = en < -1 ? -1 : (en > dim - 1 ? dim - 1 : en);
			len = b > en ? (b - en + (-st) - 1) / (-st) : 0;
		}
		s->start[a] = b;
		s->step[a] = st;
		s->len[a] = len;
	}
	return FLT_OK;
}

static flt_err slice_infer(struct op_ctx *c)
{
	struct slice_spec s;
	flt_err e = need_in(c, 1);
	if (e || (e = slice_spec(c, &s)))
		return e;
	return op_set_shape(c, c->out[0], c->in[0]->dtype, c->in[0]->rank, s.len);
}

static flt_err slice_run(struct op_ctx *c)
{
	struct slice_spec s;
	const struct rt_tensor *x = c->in[0];
	struct rt_tensor *o = c->out[0];
	size_t str[FLT_RT_MAX_RANK], idx[FLT_RT_MAX_RANK] = {0};
	flt_err e;
	if (!o || !o->nelem)
		return FLT_OK;
	if ((e = slice_spec(c, &s)))
		return e;
	int32_t r = x->rank;
	size_t st = 1;
	for (int32_t d = r - 1; d >= 0; d--) {
		str[d] = st;
		st *= (size_t)x->dims[d];
	}
	int64_t off = 0;
	for (int32_t d = 0; d < r; d++)
		off += s.start[d] * (int64_t)str[d];
	size_t es = esize(x);
	for (size_t n = 0; n < o->nelem; n++) {
		memcpy((uint8_t *)o->data + n * es, (const uint8_t *)x->data + (size_t)off * es,
		       es);
		for (int32_t d = r - 1; d >= 0; d--) {
			idx[d]++;
			off += s.step[d] * (int64_t)str[d];
			if (idx[d] < (size_t)s.len[d])
				break;
			off -= s.step[d] * (int64_t)str[d] * (int64_t)idx[d];
			idx[d] = 0;
		}
	}
	return FLT_OK;
}

/* ---- Gather ---- */

static flt_err gather_infer(struct op_ctx *c)
{
	int64_t axis, dims[FLT_RT_MAX_RANK];
	flt_err e = need_in(c, 2);
	if (e)
		return e;
	const struct rt_tensor *x = c->in[0], *ix = c->in[1];
	if (ix->dtype != ONNX_INT64 && ix->dtype != ONNX_INT32)
		return op_fail(c, FLT_EINVAL, "indices must be int64 or int32");
	if ((e = op_axis(c, op_attr_int(c, "axis", 0), x->rank, &axis)))
		return e;
	int32_t r = x->rank - 1 + ix->rank, k = 0;
	if (r > FLT_RT_MAX_RANK)
		return op_fail(c, FLT_EUNSUPPORTED, "rank too large");
	for (int32_t d = 0; d < axis; d++)
		dims[k++] = x->dims[d];
	for (int32_t d = 0; d < ix->rank; d++)
		dims[k++] = ix->dims[d];
	for (int32_t d = (int32_t)axis + 1; d < x->rank; d++)
		dims[k++] = x->dims[d];
	return op_set_shape(c, c->out[0], x->dtype, r, dims);
}

static flt_err gather_run(struct op_ctx *c)
{
	int64_t axis;
	const struct rt_tensor *x = c->in[0], *ix = c->in[1];
	struct rt_tensor *o = c->out[0];
	flt_err e;
	if (!o)
		return FLT_OK;
	if ((e = op_axis(c, op_attr_int(c, "axis", 0), x->rank, &axis)))
		return e;
	size_t es = esize(x), outer = 1, inner = es;
	for (int64_t d = 0; d < axis; d++)
		outer *= (size_t)x->dims[d];
	for (int32_t d = (int32_t)axis + 1; d < x->rank; d++)
		inner *= (size_t)x->dims[d];
	int64_t n = x->dims[axis];
	size_t ni = ix->nelem;
	for (size_t k = 0; k < ni; k++) {
		int64_t v;
		if (ix->dtype == ONNX_INT64) {
			memcpy(&v, (const uint8_t *)ix->data + 8 * k, 8);
		} else {
			int32_t w;
			memcpy(&w, (const uint8_t *)ix->data + 4 * k, 4);
			v = w;
		}
		if (v < 0)
			v += n;
		if (v < 0 || v >= n)
			return op_fail(c, FLT_EINVAL, "index %lld out of range [0, %lld)",
			               (long long)v, (long long)n);
		for (size_t j = 0; j < outer && inner; j++)
			memcpy((uint8_t *)o->data + (j * ni + k) * inner,
			       (const uint8_t *)x->data + (j * (size_t)n + (size_t)v) * inner,
			       inner);
	}
	return FLT_OK;
}

/* ---- Shape ---- */

static flt_err shape_range(struct op_ctx *c, int64_t *start, int64_t *end)
{
	int32_t r = c->in[0]->rank;
	*start = c->opset >= 15 ? op_attr_int(c, "start", 0) : 0;
	*end = c->opset >= 15 ? op_attr_int(c, "end", r) : r;
	if (*start < 0)
		*start += r;
	if (*end < 0)
		*end += r;
	*start = *start < 0 ? 0 : (*start > r ? r : *start);
	*end = *end < 0 ? 0 : (*end > r ? r : *end);
	if (*end < *start)
		*end = *start;
	return FLT_OK;
}

static flt_err shape_infer(struct op_ctx *c)
{
	int64_t s, en;
	flt_err e = need_in(c, 1);
	if (e || (e = shape_range(c, &s, &en)))
		return e;
	int64_t n = en - s;
	return op_set_shape(c, c->out[0], ONNX_INT64, 1, &n);
}

static flt_err shape_run(struct op_ctx *c)
{
	int64_t s, en;
	flt_err e;
	if (!c->out[0])
		return FLT_OK;
	if ((e = shape_range(c, &s, &en)))
		return e;
	for (int64_t i = s; i < en; i++)
		memcpy((int64_t *)c->out[0]->data + (i - s), &c->in[0]->dims[i], 8);
	return FLT_OK;
}

/* ---- Cast ---- */

static int32_t cast_to(const struct op_ctx *c)
{
	const struct onnx_attr *a = op_attr(c, "to");
	if (!a)
		return 0;
	if (a->s) { /* opset < 6 names the type as a string */
		static const char *names[] = {"UNDEFINED", "FLOAT", "UINT8",   "INT8",
		                              "UINT16",    "INT16", "INT32",   "INT64",
		                              "STRING",    "BOOL",  "FLOAT16", "DOUBLE"};
		for (int i = 0; i < (int)(sizeof(names) / sizeof(names[0])); i++)
			if (!strcmp(a->s, names[i]))
				return i;
		return 0;
	}
	return (int32_t)a->i;
}

static int castable(int32_t t)
{
	return t == ONNX_FLOAT || t == ONNX_INT64 || t == ONNX_INT32 || t == ONNX_DOUBLE ||
	       t == ONNX_BOOL || t == ONNX_UINT8 || t == ONNX_INT8;
}

static flt_err cast_infer(struct op_ctx *c)
{
	flt_err e = need_in(c, 1);
	if (e)
		return e;
	int32_t to = cast_to(c);
	if (!castable(to) || !castable(c->in[0]->dtype))
		return op_fail(c, FLT_EUNSUPPORTED, "cast %s to %s not supported",
		               onnx_dtype_name(c->in[0]->dtype), onnx_dtype_name(to));
	return op_set_shape(c, c->out[0], to, c->in[0]->rank, c->in[0]->dims);
}

static double load_d(int32_t t, const void *p, size_t i)
{
	switch (t) {
	case ONNX_FLOAT: return ((const float *)p)[i];
	case ONNX_DOUBLE: return ((const double *)p)[i];
	case ONNX_INT64: return (double)((const int64_t *)p)[i];
	case ONNX_INT32: return ((const int32_t *)p)[i];
	case ONNX_INT8: return ((const int8_t *)p)[i];
	default: return ((const uint8_t *)p)[i];
	}
}

static flt_err cast_run(struct op_ctx *c)
{
	const struct rt_tensor *x = c->in[0];
	struct rt_tensor *o = c->out[0];
	if (!o)
		return FLT_OK;
	for (size_t i = 0; i < x->nelem; i++) {
		if (x->dtype == ONNX_INT64 && o->dtype == ONNX_INT64) {
			((int64_t *)o->data)[i] = ((const int64_t *)x->data)[i];
			continue;
		}
		double v = load_d(x->dtype, x->data, i);
		switch (o->dtype) {
		case ONNX_FLOAT: ((float *)o->data)[i] = (float)v; break;
		case ONNX_DOUBLE: ((double *)o->data)[i] = v; break;
		case ONNX_INT64:
			((int64_t *)o->data)[i] =
			    isnan(v) || v >= 9.2e18 || v <= -9.2e18 ? INT64_MIN : (int64_t)v;
			break;
		case ONNX_INT32:
			((int32_t *)o->data)[i] = isnan(v) || v >= 2147483648.0 || v < -2147483648.0
			                              ? INT32_MIN
			                              : (int32_t)v;
			break;
		case ONNX_BOOL: ((uint8_t *)o->data)[i] = v != 0; break;
		case ONNX_INT8:
			((int8_t *)o->data)[i] = (int8_t)(int64_t)fmax(-1e9, fmin(1e9, v));
			break;
		default:
			((uint8_t *)o->data)[i] = (uint8_t)(int64_t)fmax(-1e9, fmin(1e9, v));
			break;
		}
	}
	return FLT_OK;
}

/* ---- Pad ---- */

enum pad_mode { PAD_CONSTANT, PAD_REFLECT, PAD_EDGE };

static flt_err pad_spec(struct op_ctx *c, int64_t *pads, enum pad_mode *mode, float *value)
{
	const struct rt_tensor *x = c->in[0];
	size_t n = 0;
	flt_err e;
	if (c->opset < 11) {
		const int64_t *p = op_attr_ints(c, c->opset < 2 ? "paddings" : "pads", &n);
		if (n != 2 * (size_t)x->rank)
			return op_fail(c, FLT_EINVAL, "pads has %zu entries for rank %d", n,
			               (int)x->rank);
		if (n)
			memcpy(pads, p, n * 8);
		*value = op_attr_float(c, "value", 0.0f);
	} else {
		if ((e = op_const_ints(c, 1, pads, 2 * FLT_RT_MAX_RANK, &n)))
			return e;
		if (n != 2 * (size_t)x->rank)
			return op_fail(c, FLT_EINVAL, "pads has %zu entries for rank %d", n,
			               (int)x->rank);
		*value = 0;
		const struct rt_tensor *v = op_in(c, 2);
		if (v) {
			if (!v->data) {
				c->needs_data = 1;
				return op_fail(c, FLT_EUNSUPPORTED,
				               "constant_value must be known at load");
			}
			if (v->nelem != 1)
				return op_fail(c, FLT_EINVAL, "constant_value must be a scalar");
			*value = (float)load_d(v->dtype, v->data, 0);
		}
	}
	const char *m = op_attr_str(c, "mode", "constant");
	if (!strcmp(m, "constant"))
		*mode = PAD_CONSTANT;
	else if (!strcmp(m, "reflect"))
		*mode = PAD_REFLECT;
	else if (!strcmp(m, "edge"))
		*mode = PAD_EDGE;
	else
		return op_fail(c, FLT_EUNSUPPORTED, "pad mode '%s' not supported", m);
	return FLT_OK;
}

static flt_err pad_infer(struct op_ctx *c)
{
	int64_t pads[2 * FLT_RT_MAX_RANK], dims[FLT_RT_MAX_RANK];
	enum pad_mode mode;
	float v;
	flt_err e = need_in(c, 1);
	if (e || (e = pad_spec(c, pads, &mode, &v)))
		return e;
	const struct rt_tensor *x = c->in[0];
	if (x->dtype != ONNX_FLOAT && x->dtype != ONNX_INT64)
		return op_fail(c, FLT_EUNSUPPORTED, "type %s not supported",
		               onnx_dtype_name(x->dtype));
	for (int32_t d = 0; d < x->rank; d++) {
		const int64_t lim = (int64_t)1 << 40;
		if (pads[d] > lim || pads[d] < -lim || pads[d + x->rank] > lim ||
		    pads[d + x->rank] < -lim)
			return op_fail(c, FLT_EINVAL, "pad out of range");
		dims[d] = x->dims[d] + pads[d] + pads[d + x->rank];
		if (dims[d] < 0)
			return op_fail(c, FLT_EINVAL, "pads remove more than dim %d has", (int)d);
		if (mode == PAD_REFLECT && dims[d] > 0 && x->dims[d] < 2 && dims[d] != x->dims[d])
			return op_fail(c, FLT_EINVAL, "reflect padding needs at least 2 elements");
		if (mode != PAD_CONSTANT && x->dims[d] == 0 && dims[d] > 0)
			return op_fail(c, FLT_EINVAL, "cannot %s-pad an empty dim",
			               mode == PAD_EDGE ? "edge" : "reflect");
	}
	return op_set_shape(c, c->out[0], x->dtype, x->rank, dims);
}

static flt_err pad_run(struct op_ctx *c)
{
	int64_t pads[2 * FLT_RT_MAX_RANK];
	enum pad_mode mode;
	float v;
	size_t str[FLT_RT_MAX_RANK], idx[FLT_RT_MAX_RANK] = {0};
	const struct rt_tensor *x = c->in[0];
	struct rt_tensor *o = c->out[0];
	flt_err e;
	if (!o || !o->nelem)
		return FLT_OK;
	if ((e = pad_spec(c, pads, &mode, &v)))
		return e;
	int32_t r = x->rank;
	size_t s = 1;
	for (int32_t d = r - 1; d >= 0; d--) {
		str[d] = s;
		s *= (size_t)x->dims[d];
	}
	for (size_t n = 0; n < o->nelem; n++) {
		size_t off = 0;
		int outside = 0;
		for (int32_t d = 0; d < r; d++) {
			int64_t i = (int64_t)idx[d] - pads[d], dim = x->dims[d];
			if (i < 0 || i >= dim) {
				if (mode == PAD_CONSTANT) {
					outside = 1;
					break;
				} else if (mode == PAD_EDGE) {
					i = i < 0 ? 0 : dim - 1;
				} else {
					int64_t period = 2 * (dim - 1);
					i = i < 0 ? -i : i;
					i %= period;
					if (i >= dim)
						i = period - i;
				}
			}
			off += (size_t)i * str[d];
		}
		if (x->dtype == ONNX_FLOAT)
			((float *)o->data)[n] = outside ? v : ((const float *)x->data)[off];
		else
			((int64_t *)o->data)[n] =
			    outside ? (int64_t)v : ((const int64_t *)x->data)[off];
		for (int32_t d = r - 1; d >= 0; d--) {
			if (++idx[d] < (size_t)o->dims[d])
				break;
			idx[d] = 0;
		}
	}
	return FLT_OK;
}

const struct op_backend ops_shape[] = {
    {"", "Constant", 1, 17, 0, constant_infer, constant_run},
    {"", "Identity", 1, 17, 0, identity_infer, copy_run},
    {"", "Dropout", 1, 17, 0, identity_infer, dropout_run},
    {"", "Reshape", 1, 17, 0, reshape_infer, copy_run},
    {"", "Flatten", 1, 17, 0, flatten_infer, copy_run},
    {"", "Squeeze", 1, 17, 0, squeeze_infer, copy_run},
    {"", "Unsqueeze", 1, 17, 0, unsqueeze_infer, copy_run},
    {"", "Transpose", 1, 17, 0, transpose_infer, transpose_run},
    {"", "Concat", 1, 17, 0, concat_infer, concat_run},
    {"", "Split", 1, 17, 0, split_infer, split_run},
    {"", "Slice", 1, 17, 0, slice_infer, slice_run},
    {"", "Gather", 1, 17, 0, gather_infer, gather_run},
    {"", "Shape", 1, 17, OP_SHAPE_ONLY, shape_infer, shape_run},
    {"", "Cast", 1, 17, 0, cast_infer, cast_run},
    {"", "Pad", 1, 17, 0, pad_infer, pad_run},
};
const size_t ops_shape_count = sizeof(ops_shape) / sizeof(ops_shape[0]);
