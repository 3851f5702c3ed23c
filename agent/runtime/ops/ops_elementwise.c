/* Element-wise operators: activations and unary math, and the broadcasting
 * binary ops (Add Sub Mul Div Pow Max Min PRelu), including the opset < 7
 * `broadcast`/`axis` attribute form. Float32, with int64 where shape
 * arithmetic in exported graphs needs it. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "ops.h"

/* ---- unary -------------------------------------------------------------- */

enum un_kind {
	UN_RELU,
	UN_SIGMOID,
	UN_TANH,
	UN_NEG,
	UN_ABS,
	UN_EXP,
	UN_LOG,
	UN_SQRT,
	UN_RECIP,
	UN_LEAKY,
	UN_HSIG,
	UN_HSWISH,
	UN_CLIP,
};

static const struct {
	const char *name;
	enum un_kind kind;
	int int64_ok;
} un_names[] = {
    {"Relu", UN_RELU, 0},       {"Sigmoid", UN_SIGMOID, 0},  {"Tanh", UN_TANH, 0},
    {"Neg", UN_NEG, 1},         {"Abs", UN_ABS, 1},          {"Exp", UN_EXP, 0},
    {"Log", UN_LOG, 0},         {"Sqrt", UN_SQRT, 0},        {"Reciprocal", UN_RECIP, 0},
    {"LeakyRelu", UN_LEAKY, 0}, {"HardSigmoid", UN_HSIG, 0}, {"HardSwish", UN_HSWISH, 0},
    {"Clip", UN_CLIP, 0},
};

static int un_lookup(const struct op_ctx *c, enum un_kind *k)
{
	for (size_t i = 0; i < sizeof(un_names) / sizeof(un_names[0]); i++)
		if (!strcmp(c->node->op_type, un_names[i].name)) {
			*k = un_names[i].kind;
			return un_names[i].int64_ok;
		}
	return -1;
}

static flt_err unary_infer(struct op_ctx *c)
{
	enum un_kind k = UN_RELU;
	int int64_ok = un_lookup(c, &k);
	const struct rt_tensor *x = op_in(c, 0);
	if (int64_ok < 0 || !x || c->n_out < 1)
		return op_fail(c, FLT_EINVAL, "expects one input and one output");
	if (x->dtype != ONNX_FLOAT && !(int64_ok && x->dtype == ONNX_INT64))
		return op_fail(c, FLT_EUNSUPPORTED, "input type %s not supported",
		               onnx_dtype_name(x->dtype));
	if (k == UN_CLIP && c->opset >= 11) {
		for (size_t i = 1; i < 3; i++) {
			const struct rt_tensor *t = op_in(c, i);
			if (t && (t->nelem != 1 || t->dtype != x->dtype))
				return op_fail(c, FLT_EINVAL,
				               "min/max must be scalars of the input type");
		}
	}
	return op_same_shape(c, c->out[0], x);
}

static float read_scalar_f(const struct rt_tensor *t, float def)
{
	float v = def;
	if (t && t->data && t->nelem == 1)
		memcpy(&v, t->data, 4);
	return v;
}

static flt_err unary_run(struct op_ctx *c)
{
	enum un_kind k = UN_RELU;
	(void)un_lookup(c, &k);
	const struct rt_tensor *x = c->in[0];
	struct rt_tensor *y = c->out[0];
	size_t n = x->nelem;
	if (!y)
		return FLT_OK;
	if (x->dtype == ONNX_INT64) {
		const int64_t *a = x->data;
		int64_t *o = y->data;
		for (size_t i = 0; i < n; i++)
			o[i] = k == UN_NEG ? (int64_t)(0 - (uint64_t)a[i])
			                   : (a[i] < 0 ? (int64_t)(0 - (uint64_t)a[i]) : a[i]);
		return FLT_OK;
	}
	const float *a = x->data;
	float *o = y->data;
	switch (k) {
	case UN_RELU:
		for (size_t i = 0; i < n; i++)
			o[i] = a[i] > 0 ? a[i] : 0.0f;
		break;
	case UN_SIGMOID:
		for (size_t i = 0; i < n; i++)
			o[i] = a[i] >= 0 ? 1.0f / (1.0f + expf(-a[i]))
			                 : expf(a[i]) / (1.0f + expf(a[i]));
		break;
	case UN_TANH:
		for (size_t i = 0; i < n; i++)
			o[i] = tanhf(a[i]);
		break;
	case UN_NEG:
		for (size_t i = 0; i < n; i++)
			o[i] = -a[i];
		break;
	case UN_ABS:
		for (size_t i = 0; i < n; i++)
			o[i] = fabsf(a[i]);
		break;
	case UN_EXP:
		for (size_t i = 0; i < n; i++)
			o[i] = expf(a[i]);
		break;
	case UN_LOG:
		for (size_t i = 0; i < n; i++)
			o[i] = logf(a[i]);
		break;
	case UN_SQRT:
		for (size_t i = 0; i < n; i++)
			o[i] = sqrtf(a[i]);
		break;
	case UN_RECIP:
		for (size_t i = 0; i < n; i++)
			o[i] = 1.0f / a[i];
		break;
	case UN_LEAKY: {
		float al = op_attr_float(c, "alpha", 0.01f);
		for (size_t i = 0; i < n; i++)
			o[i] = a[i] >= 0 ? a[i] : al * a[i];
		break;
	}
	case UN_HSIG: {
		float al = op_attr_float(c, "alpha", 0.2f), be = op_attr_float(c, "beta", 0.5f);
		for (size_t i = 0; i < n; i++)
			o[i] = fmaxf(0.0f, fminf(1.0f, al * a[i] + be));
		break;
	}
	case UN_HSWISH:
		for (size_t i = 0; i < n; i++)
			o[i] = a[i] * fmaxf(0.0f, fminf(1.0f, a[i] / 6.0f + 0.5f));
		break;
	case UN_CLIP: {
		float lo, hi;
		if (c->opset >= 11) {
			lo = read_scalar_f(op_in(c, 1), -FLT_MAX);
			hi = read_scalar_f(op_in(c, 2), FLT_MAX);
		} else {
			lo = op_attr_float(c, "min", -FLT_MAX);
			hi = op_attr_float(c, "max", FLT_MAX);
		}
		for (size_t i = 0; i < n; i++) {
			float v = a[i] < lo ? lo : a[i];
			o[i] = v > hi ? hi : v;
		}
		break;
	}
	}
	return FLT_OK;
}

/* ---- binary with broadcasting ------------------------------------------- */

enum bin_kind { BIN_ADD, BIN_SUB, BIN_MUL, BIN_DIV, BIN_POW, BIN_MAX, BIN_MIN, BIN_PRELU };

static enum bin_kind bin_lookup(const char *op)
{
	static const char *names[] = {"Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "PRelu"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(op, names[i]))
			return (enum bin_kind)i;
	return BIN_ADD;
}

/* Opset < 7 Add/Sub/Mul/Div/Pow: with broadcast=1, B's dims line up with A's
 * starting at `axis` (default: trailing). Rewrites b's view accordingly. */
static flt_err legacy_view(struct op_ctx *c, const struct rt_tensor *a, const struct rt_tensor *b,
                           struct rt_tensor *bv)
{
	*bv = *b;
	if (!op_attr_int(c, "broadcast", 0)) {
		if (b->nelem == 1 && b->rank <= 1)
			return FLT_OK; /* scalars were accepted by every old runtime */
		if (a->rank != b->rank ||
		    memcmp(a->dims, b->dims, sizeof(int64_t) * (size_t)a->rank))
			return op_fail(c, FLT_EINVAL, "shapes differ and broadcast is not set");
		return FLT_OK;
	}
	int64_t axis = op_attr_int(c, "axis", a->rank - b->rank);
	if (op_attr(c, "axis") && axis < 0)
		axis += a->rank;
	if (axis < 0 || axis + b->rank > a->rank)
		return op_fail(c, FLT_EINVAL, "broadcast axis %lld out of range", (long long)axis);
	bv->rank = a->rank;
	for (int32_t i = 0; i < a->rank; i++)
		bv->dims[i] = (i >= axis && i < axis + b->rank) ? b->dims[i - axis] : 1;
	return FLT_OK;
}

static int bin_legacy(const struct op_ctx *c, enum bin_kind k)
{
	return c->opset < 7 && k != BIN_MAX && k != BIN_MIN && k != BIN_PRELU;
}

static flt_err binary_shape(struct op_ctx *c, const struct rt_tensor *a, const struct rt_tensor *b,
                            struct rt_tensor *bv, int32_t *rank, int64_t *dims)
{
	enum bin_kind k = bin_lookup(c->node->op_type);
	flt_err e;
	*bv = *b;
	if (bin_legacy(c, k) && (e = legacy_view(c, a, b, bv)))
		return e;
	if (k == BIN_PRELU && c->opset < 7 && bv->rank < a->rank && bv->nelem > 1) {
		/* old PRelu slopes of shape [C] apply per channel of NCHW input */
		if (bv->rank == 1 && a->rank >= 2 && bv->dims[0] == a->dims[1]) {
			bv->rank = a->rank - 1;
			bv->dims[0] = a->dims[1];
			for (int32_t i = 1; i < bv->rank; i++)
				bv->dims[i] = 1;
		}
	}
	return op_broadcast(c, a, bv, rank, dims);
}

static flt_err binary_infer(struct op_ctx *c)
{
	const struct rt_tensor *a = op_in(c, 0), *b = op_in(c, 1);
	enum bin_kind k = bin_lookup(c->node->op_type);
	struct rt_tensor bv;
	int32_t rank;
	int64_t dims[FLT_RT_MAX_RANK];
	flt_err e;
	if (!a || !b || c->n_out < 1)
		return op_fail(c, FLT_EINVAL, "expects two inputs");
	if (a->dtype != ONNX_FLOAT && a->dtype != ONNX_INT64)
		return op_fail(c, FLT_EUNSUPPORTED, "input type %s not supported",
		               onnx_dtype_name(a->dtype));
	if (a->dtype != b->dtype &&
	    !(k == BIN_POW && (b->dtype == ONNX_FLOAT || b->dtype == ONNX_INT64)))
		return op_fail(c, FLT_EINVAL, "input types differ (%s, %s)",
		               onnx_dtype_name(a->dtype), onnx_dtype_name(b->dtype));
	if (k == BIN_PRELU && a->dtype != ONNX_FLOAT)
		return op_fail(c, FLT_EUNSUPPORTED, "PRelu supports float only");
	if ((e = binary_shape(c, a, b, &bv, &rank, dims)))
		return e;
	if (k == BIN_PRELU) {
		/* the slope broadcasts to X, never the other way round */
		if (rank != a->rank || memcmp(dims, a->dims, sizeof(int64_t) * (size_t)rank))
			return op_fail(c, FLT_EINVAL, "slope does not broadcast to X");
	}
	return op_set_shape(c, c->out[0], a->dtype, rank, dims);
}

/* Variadic Max/Min fold pairwise into the output, so the iterator below
 * reads (acc, next) with acc already shaped like the output. */

struct bin_iter {
	int32_t rank;
	int64_t dims[FLT_RT_MAX_RANK];
	size_t sa[FLT_RT_MAX_RANK], sb[FLT_RT_MAX_RANK];
};

static inline float fop(enum bin_kind k, float x, float y)
{
	switch (k) {
	case BIN_ADD: return x + y;
	case BIN_SUB: return x - y;
	case BIN_MUL: return x * y;
	case BIN_DIV: return x / y;
	case BIN_POW: return powf(x, y);
	case BIN_MAX: return x >= y || isnan(x) ? x : y;
	case BIN_MIN: return x <= y || isnan(x) ? x : y;
	case BIN_PRELU: return x >= 0 ? x : x * y;
	}
	return 0;
}

static inline int64_t iop(enum bin_kind k, int64_t x, int64_t y)
{
	switch (k) {
	case BIN_ADD: return (int64_t)((uint64_t)x + (uint64_t)y);
	case BIN_SUB: return (int64_t)((uint64_t)x - (uint64_t)y);
	case BIN_MUL: return (int64_t)((uint64_t)x * (uint64_t)y);
	case BIN_DIV:
		if (y == 0 || (y == -1 && x == INT64_MIN))
			return 0;
		return x / y;
	case BIN_MAX: return x > y ? x : y;
	case BIN_MIN: return x < y ? x : y;
	default: return 0;
	}
}

static double as_double(const struct rt_tensor *t, size_t i)
{
	if (t->dtype == ONNX_FLOAT)
		return ((const float *)t->data)[i];
	return (double)((const int64_t *)t->data)[i];
}

/* Walks every output element; the last dimension runs in an inner loop. */
static void bin_apply(enum bin_kind k, const struct bin_iter *it, const struct rt_tensor *a,
                      const struct rt_tensor *b, struct rt_tensor *o)
{
	size_t total = o->nelem;
	if (!total)
		return;
	int32_t r = it->rank;
	size_t inner = r ? (size_t)it->dims[r - 1] : 1;
	size_t ia_s = r ? it->sa[r - 1] : 0, ib_s = r ? it->sb[r - 1] : 0;
	size_t idx[FLT_RT_MAX_RANK] = {0};
	size_t oa = 0, ob = 0;
	int mixed = a->dtype != b->dtype;
	for (size_t base = 0; base < total; base += inner) {
		if (mixed) {
			for (size_t j = 0; j < inner; j++) {
				double v =
				    pow(as_double(a, oa + j * ia_s), as_double(b, ob + j * ib_s));
				if (o->dtype == ONNX_FLOAT)
					((float *)o->data)[base + j] = (float)v;
				else
					((int64_t *)o->data)[base + j] = (int64_t)v;
			}
		} else if (a->dtype == ONNX_FLOAT) {
			const float *pa = (const float *)a->data + oa,
			            *pb = (const float *)b->data + ob;
			float *po = (float *)o->data + base;
			if (ia_s == 1 && ib_s == 1) {
				switch (k) {
				case BIN_ADD:
					for (size_t j = 0; j < inner; j++)
						po[j] = pa[j] + pb[j];
					break;
				case BIN_MUL:
					for (size_t j = 0; j < inner; j++)
						po[j] = pa[j] * pb[j];
					break;
				default:
					for (size_t j = 0; j < inner; j++)
						po[j] = fop(k, pa[j], pb[j]);
					break;
				}
			} else if (ia_s == 1 && ib_s == 0) {
				float y = pb[0];
				switch (k) {
				case BIN_ADD:
					for (size_t j = 0; j < inner; j++)
						po[j] = pa[j] + y;
					break;
				case BIN_MUL:
					for (size_t j = 0; j < inner; j++)
						po[j] = pa[j] * y;
					break;
				default:
					for (size_t j = 0; j < inner; j++)
						po[j] = fop(k, pa[j], y);
					break;
				}
			} else {
				for (size_t j = 0; j < inner; j++)
					po[j] = fop(k, pa[j * ia_s], pb[j * ib_s]);
			}
		} else {
			const int64_t *pa = (const int64_t *)a->data + oa,
			              *pb = (const int64_t *)b->data + ob;
			int64_t *po = (int64_t *)o->data + base;
			if (k == BIN_POW) {
				for (size_t j = 0; j < inner; j++)
					po[j] = (int64_t)pow((double)pa[j * ia_s],
					                     (double)pb[j * ib_s]);
			} else {
				for (size_t j = 0; j < inner; j++)
					po[j] = iop(k, pa[j * ia_s], pb[j * ib_s]);
			}
		}
		/* advance the outer index (dims 0..r-2) */
		for (int32_t d = r - 2; d >= 0; d--) {
			idx[d]++;
			oa += it->sa[d];
			ob += it->sb[d];
			if (idx[d] < (size_t)it->dims[d])
				break;
			oa -= it->sa[d] * idx[d];
			ob -= it->sb[d] * idx[d];
			idx[d] = 0;
		}
	}
}

static flt_err binary_run(struct op_ctx *c)
{
	const struct rt_tensor *a = c->in[0], *b = c->in[1];
	struct rt_tensor *o = c->out[0];
	enum bin_kind k = bin_lookup(c->node->op_type);
	struct rt_tensor bv;
	struct bin_iter it;
	flt_err e;
	if (!o)
		return FLT_OK;
	if ((e = binary_shape(c, a, b, &bv, &it.rank, it.dims)))
		return e;
	op_bcast_strides(a, it.rank, it.dims, it.sa);
	op_bcast_strides(&bv, it.rank, it.dims, it.sb);
	bin_apply(k, &it, a, &bv, o);
	return FLT_OK;
}

/* Max/Min: variadic. Opset < 8 requires equal shapes; later ones broadcast. */
static flt_err variadic_infer(struct op_ctx *c)
{
	int32_t rank;
	int64_t dims[FLT_RT_MAX_RANK];
	const struct rt_tensor *a = op_in(c, 0);
	flt_err e;
	if (!a || c->n_out < 1)
		return op_fail(c, FLT_EINVAL, "expects at least one input");
	if (a->dtype != ONNX_FLOAT && a->dtype != ONNX_INT64)
		return op_fail(c, FLT_EUNSUPPORTED, "input type %s not supported",
		               onnx_dtype_name(a->dtype));
	struct rt_tensor acc = *a;
	for (size_t i = 1; i < c->n_in; i++) {
		const struct rt_tensor *b = op_in(c, i);
		if (!b || b->dtype != a->dtype)
			return op_fail(c, FLT_EINVAL, "inputs must all be present and of one type");
		if ((e = op_broadcast(c, &acc, b, &rank, dims)))
			return e;
		acc.rank = rank;
		memcpy(acc.dims, dims, sizeof(dims));
	}
	return op_set_shape(c, c->out[0], a->dtype, acc.rank, acc.dims);
}

static flt_err variadic_run(struct op_ctx *c)
{
	struct rt_tensor *o = c->out[0];
	enum bin_kind k = bin_lookup(c->node->op_type);
	struct bin_iter it;
	if (!o)
		return FLT_OK;
	/* o = broadcast(in0); then o = op(o, in_i) for i >= 1 */
	struct rt_tensor ones = *c->in[0];
	it.rank = o->rank;
	memcpy(it.dims, o->dims, sizeof(it.dims));
	if (c->n_in == 1) {
		memcpy(o->data, c->in[0]->data, o->nelem * onnx_dtype_size(o->dtype));
		return FLT_OK;
	}
	op_bcast_strides(c->in[0], it.rank, it.dims, it.sa);
	op_bcast_strides(c->in[1], it.rank, it.dims, it.sb);
	bin_apply(k, &it, c->in[0], c->in[1], o);
	(void)ones;
	for (size_t i = 2; i < c->n_in; i++) {
		op_bcast_strides(o, it.rank, it.dims, it.sa);
		op_bcast_strides(c->in[i], it.rank, it.dims, it.sb);
		bin_apply(k, &it, o, c->in[i],
		          o); /* in place is safe: same index read then written */
	}
	return FLT_OK;
}

const struct op_backend ops_elementwise[] = {
    {"", "Relu", 1, 17, 0, unary_infer, unary_run},
    {"", "Sigmoid", 1, 17, 0, unary_infer, unary_run},
    {"", "Tanh", 1, 17, 0, unary_infer, unary_run},
    {"", "Neg", 1, 17, 0, unary_infer, unary_run},
    {"", "Abs", 1, 17, 0, unary_infer, unary_run},
    {"", "Exp", 1, 17, 0, unary_infer, unary_run},
    {"", "Log", 1, 17, 0, unary_infer, unary_run},
    {"", "Sqrt", 1, 17, 0, unary_infer, unary_run},
    {"", "Reciprocal", 1, 17, 0, unary_infer, unary_run},
    {"", "LeakyRelu", 1, 17, 0, unary_infer, unary_run},
    {"", "HardSigmoid", 1, 17, 0, unary_infer, unary_run},
    {"", "HardSwish", 14, 17, 0, unary_infer, unary_run},
    {"", "Clip", 1, 17, 0, unary_infer, unary_run},
    {"", "Add", 1, 17, 0, binary_infer, binary_run},
    {"", "Sub", 1, 17, 0, binary_infer, binary_run},
    {"", "Mul", 1, 17, 0, binary_infer, binary_run},
    {"", "Div", 1, 17, 0, binary_infer, binary_run},
    {"", "Pow", 1, 17, 0, binary_infer, binary_run},
    {"", "PRelu", 1, 17, 0, binary_infer, binary_run},
    {"", "Max", 1, 17, 0, variadic_infer, variadic_run},
    {"", "Min", 1, 17, 0, variadic_infer, variadic_run},
};
const size_t ops_elementwise_count = sizeof(ops_elementwise) / sizeof(ops_elementwise[0]);
