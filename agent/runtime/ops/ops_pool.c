/* Pooling: MaxPool (with Indices, storage_order, dilations), AveragePool
 * (count_include_pad), both with ceil_mode and auto_pad; GlobalAveragePool
 * and GlobalMaxPool. N-d over the spatial dims of N x C x ... input. */
#include <math.h>
#include <string.h>

#include "ops.h"

static flt_err pool_setup(struct op_ctx *c, struct conv_geom *g)
{
	const struct rt_tensor *x = op_in(c, 0);
	size_t n;
	if (!x || c->n_out < 1)
		return op_fail(c, FLT_EINVAL, "expects X");
	if (x->dtype != ONNX_FLOAT)
		return op_fail(c, FLT_EUNSUPPORTED, "float only");
	if (x->rank < 3)
		return op_fail(c, FLT_EINVAL, "input rank must be at least 3");
	const int64_t *ks = op_attr_ints(c, "kernel_shape", &n);
	if (!ks || (int32_t)n != x->rank - 2)
		return op_fail(c, FLT_EINVAL, "kernel_shape must have one entry per spatial dim");
	if (!strcmp(c->node->op_type, "AveragePool") && op_attr(c, "dilations")) {
		size_t nd;
		const int64_t *d = op_attr_ints(c, "dilations", &nd);
		for (size_t i = 0; i < nd; i++)
			if (d[i] != 1)
				return op_fail(c, FLT_EUNSUPPORTED,
				               "AveragePool dilations not supported");
	}
	int ceil_mode = c->opset >= 10 && op_attr_int(c, "ceil_mode", 0);
	return op_conv_geometry(c, x, ks, x->rank - 2, ceil_mode, g);
}

static flt_err pool_infer(struct op_ctx *c)
{
	struct conv_geom g;
	flt_err e = pool_setup(c, &g);
	if (e)
		return e;
	int64_t dims[FLT_RT_MAX_RANK];
	dims[0] = c->in[0]->dims[0];
	dims[1] = c->in[0]->dims[1];
	for (int i = 0; i < g.nsp; i++)
		dims[2 + i] = g.out[i];
	if ((e = op_set_shape(c, c->out[0], ONNX_FLOAT, c->in[0]->rank, dims)))
		return e;
	if (c->n_out > 1 && c->out[1])
		return op_set_shape(c, c->out[1], ONNX_INT64, c->in[0]->rank, dims);
	return FLT_OK;
}

static flt_err pool_run(struct op_ctx *c)
{
	struct conv_geom g;
	flt_err e = pool_setup(c, &g);
	if (e)
		return e;
	const struct rt_tensor *x = c->in[0];
	int is_max = !strcmp(c->node->op_type, "MaxPool");
	int incl_pad = !is_max && op_attr_int(c, "count_include_pad", 0);
	int col_major = is_max && op_attr_int(c, "storage_order", 0);
	int nsp = g.nsp;
	size_t planes = (size_t)x->dims[0] * (size_t)x->dims[1];
	const float *px = x->data;
	float *py = c->out[0]->data;
	int64_t *pi = c->n_out > 1 && c->out[1] ? c->out[1]->data : NULL;
	/* padded extent per dim: count_include_pad never counts the ceil_mode overhang */
	int64_t pad_end[OP_MAX_SPATIAL];
	for (int d = 0; d < nsp; d++)
		pad_end[d] = g.in[d] + g.pad1[d];
	for (size_t p = 0; p < planes; p++) {
		const float *xp = px + p * g.iprod;
		int64_t opos[OP_MAX_SPATIAL] = {0};
		for (size_t o = 0; o < g.oprod; o++) {
			float best = -INFINITY, sum = 0;
			size_t best_i = 0, cnt = 0, cnt_pad = 1;
			int64_t lo[OP_MAX_SPATIAL];
			for (int d = 0; d < nsp; d++) {
				lo[d] = opos[d] * g.stride[d] - g.pad0[d];
				if (incl_pad) {
					int64_t a = lo[d], b = lo[d] + (g.k[d] - 1) * g.dil[d] + 1;
					if (b > pad_end[d])
						b = pad_end[d];
					cnt_pad *= (size_t)(b > a ? b - a : 0);
				}
			}
			/* walk only the kernel positions that land inside the input, so
			 * a huge kernel over heavy padding costs what the input holds */
			int64_t kb[OP_MAX_SPATIAL], ke[OP_MAX_SPATIAL], kpos[OP_MAX_SPATIAL];
			int empty = 0;
			for (int d = 0; d < nsp; d++) {
				kb[d] = lo[d] < 0 ? (-lo[d] + g.dil[d] - 1) / g.dil[d] : 0;
				ke[d] = lo[d] < g.in[d]
				            ? (g.in[d] - lo[d] + g.dil[d] - 1) / g.dil[d]
				            : 0;
				if (ke[d] > g.k[d])
					ke[d] = g.k[d];
				if (kb[d] >= ke[d])
					empty = 1;
				kpos[d] = kb[d];
			}
			while (!empty) {
				size_t off = 0;
				for (int d = 0; d < nsp; d++)
					off = off * (size_t)g.in[d] +
					      (size_t)(lo[d] + kpos[d] * g.dil[d]);
				float v = xp[off];
				if (is_max) {
					if (v > best || cnt == 0) {
						best = v;
						best_i = off;
					}
				} else {
					sum += v;
				}
				cnt++;
				int d = nsp - 1;
				for (; d >= 0; d--) {
					if (++kpos[d] < ke[d])
						break;
					kpos[d] = kb[d];
				}
				if (d < 0)
					break;
			}
			if (is_max) {
				py[p * g.oprod + o] = best;
				if (pi) {
					size_t idx = best_i;
					if (col_major && nsp >= 2) {
						/* transpose spatial coordinates: last dim varies
						 * slowest */
						size_t rem = best_i, coord[OP_MAX_SPATIAL];
						for (int d = nsp - 1; d >= 0; d--) {
							coord[d] = rem % (size_t)g.in[d];
							rem /= (size_t)g.in[d];
						}
						idx = 0;
						for (int d = nsp - 1; d >= 0; d--)
							idx = idx * (size_t)g.in[d] + coord[d];
					}
					pi[p * g.oprod + o] = (int64_t)(p * g.iprod + idx);
				}
			} else {
				size_t div = incl_pad ? cnt_pad : cnt;
				py[p * g.oprod + o] = div ? sum / (float)div : 0.0f;
			}
			for (int d = nsp - 1; d >= 0; d--) {
				if (++opos[d] < g.out[d])
					break;
				opos[d] = 0;
			}
		}
	}
	return FLT_OK;
}

static flt_err global_infer(struct op_ctx *c)
{
	const struct rt_tensor *x = op_in(c, 0);
	int64_t dims[FLT_RT_MAX_RANK];
	if (!x || c->n_out < 1)
		return op_fail(c, FLT_EINVAL, "expects X");
	if (x->dtype != ONNX_FLOAT)
		return op_fail(c, FLT_EUNSUPPORTED, "float only");
	if (x->rank < 2)
		return op_fail(c, FLT_EINVAL, "input rank must be at least 2");
	for (int32_t d = 0; d < x->rank; d++)
		dims[d] = d < 2 ? x->dims[d] : 1;
	return op_set_shape(c, c->out[0], ONNX_FLOAT, x->rank, dims);
}

static flt_err global_run(struct op_ctx *c)
{
	const struct rt_tensor *x = c->in[0];
	int is_max = !strcmp(c->node->op_type, "GlobalMaxPool");
	size_t planes = (size_t)x->dims[0] * (size_t)x->dims[1];
	size_t sp = planes ? x->nelem / planes : 0;
	const float *px = x->data;
	float *py = c->out[0]->data;
	for (size_t p = 0; p < planes; p++) {
		const float *xp = px + p * sp;
		if (is_max) {
			float m = -INFINITY;
			for (size_t i = 0; i < sp; i++)
				m = xp[i] > m ? xp[i] : m;
			py[p] = m;
		} else {
			float s = 0;
			for (size_t i = 0; i < sp; i++)
				s += xp[i];
			py[p] = sp ? s / (float)sp : 0.0f;
		}
	}
	return FLT_OK;
}

const struct op_backend ops_pool[] = {
    {"", "MaxPool", 1, 17, 0, pool_infer, pool_run},
    {"", "AveragePool", 1, 17, 0, pool_infer, pool_run},
    {"", "GlobalAveragePool", 1, 17, 0, global_infer, global_run},
    {"", "GlobalMaxPool", 1, 17, 0, global_infer, global_run},
};
const size_t ops_pool_count = sizeof(ops_pool) / sizeof(ops_pool[0]);
