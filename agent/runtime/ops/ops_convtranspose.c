/* ConvTranspose (N-d, groups, strides, dilations, pads, auto_pad,
 * output_padding, output_shape): a GEMM of W^T against the input into
 * per-step scratch, then scattered (col2im) into the output. */
#include <string.h>

#include "ops.h"

/* Bounds on attributes so the size arithmetic below cannot overflow int64
 * (tensor dimensions themselves are bounded by their byte size). */
#define CT_MAX_ATTR (INT64_C(1) << 20)
#define CT_MAX_DIM  (INT64_C(1) << 40)

struct ct_geom {
	int nsp;
	int64_t in[OP_MAX_SPATIAL], out[OP_MAX_SPATIAL], k[OP_MAX_SPATIAL];
	int64_t stride[OP_MAX_SPATIAL], dil[OP_MAX_SPATIAL], pad0[OP_MAX_SPATIAL];
	int64_t group, m;
	size_t kprod, iprod, oprod;
};

/* Python-style floor division: the ONNX reference splits a negative total
 * padding (output_shape larger than the natural size) with //, which puts
 * the extra output at the end. */
static int64_t floordiv2(int64_t v)
{
	return v >= 0 ? v / 2 : -((-v + 1) / 2);
}

static flt_err ct_attr_vec(struct op_ctx *c, const char *name, int nsp, int64_t *dst, int64_t def,
                           int64_t min)
{
	size_t n;
	const int64_t *v = op_attr_ints(c, name, &n);
	for (int i = 0; i < nsp; i++)
		dst[i] = def;
	if (!v)
		return FLT_OK;
	if ((int)n != nsp)
		return op_fail(c, FLT_EINVAL, "%s has %zu entries, expected %d", name, n, nsp);
	for (int i = 0; i < nsp; i++)
		if ((dst[i] = v[i]) < min || v[i] > CT_MAX_ATTR)
			return op_fail(c, FLT_EINVAL, "%s[%d] is %lld", name, i, (long long)v[i]);
	return FLT_OK;
}

static flt_err ct_setup(struct op_ctx *c, struct ct_geom *g)
{
	const struct rt_tensor *x = op_in(c, 0), *w = op_in(c, 1), *b = op_in(c, 2);
	int64_t opad[OP_MAX_SPATIAL], oshape[OP_MAX_SPATIAL], pads[2 * OP_MAX_SPATIAL] = {0};
	flt_err e;
	size_t n;
	memset(g, 0, sizeof(*g));
	if (!x || !w || c->n_out < 1)
		return op_fail(c, FLT_EINVAL, "expects X and W");
	if (x->dtype != ONNX_FLOAT || w->dtype != ONNX_FLOAT || (b && b->dtype != ONNX_FLOAT))
		return op_fail(c, FLT_EUNSUPPORTED, "float only");
	if (x->rank < 3 || w->rank != x->rank)
		return op_fail(c, FLT_EINVAL, "X and W must have the same rank >= 3");
	int nsp = g->nsp = x->rank - 2;
	if (nsp > OP_MAX_SPATIAL)
		return op_fail(c, FLT_EUNSUPPORTED, "%d spatial dimensions", nsp);
	g->group = op_attr_int(c, "group", 1);
	if (g->group < 1 || x->dims[1] % g->group || w->dims[0] != x->dims[1])
		return op_fail(c, FLT_EINVAL, "W has %lld input channels, X %lld, group %lld",
		               (long long)w->dims[0], (long long)x->dims[1], (long long)g->group);
	g->m = w->dims[1] * g->group;
	if (b && (b->rank != 1 || b->dims[0] != g->m))
		return op_fail(c, FLT_EINVAL, "bias must have %lld values", (long long)g->m);
	for (int i = 0; i < nsp; i++) {
		g->in[i] = x->dims[2 + i];
		g->k[i] = w->dims[2 + i];
	}
	const int64_t *ks = op_attr_ints(c, "kernel_shape", &n);
	if (ks) {
		if ((int)n != nsp)
			return op_fail(c, FLT_EINVAL, "kernel_shape has %zu entries", n);
		for (int i = 0; i < nsp; i++)
			if (ks[i] != g->k[i])
				return op_fail(c, FLT_EINVAL, "kernel_shape disagrees with W");
	}
	if ((e = ct_attr_vec(c, "strides", nsp, g->stride, 1, 1)) ||
	    (e = ct_attr_vec(c, "dilations", nsp, g->dil, 1, 1)) ||
	    (e = ct_attr_vec(c, "output_padding", nsp, opad, 0, 0)))
		return e;
	const int64_t *os = op_attr_ints(c, "output_shape", &n);
	if (os) {
		/* output_shape may list the spatial dims or (rarely) all of them */
		if ((int)n != nsp && (int)n != nsp + 2)
			return op_fail(c, FLT_EINVAL, "output_shape has %zu entries", n);
		for (int i = 0; i < nsp; i++)
			if ((oshape[i] = os[n - (size_t)nsp + (size_t)i]) < 0 ||
			    oshape[i] > CT_MAX_DIM)
				return op_fail(c, FLT_EINVAL, "output_shape out of range");
	}
	const char *ap = op_attr_str(c, "auto_pad", "NOTSET");
	int same = !strcmp(ap, "SAME_UPPER") || !strcmp(ap, "SAME_LOWER");
	if (!same && strcmp(ap, "NOTSET") && strcmp(ap, "VALID"))
		return op_fail(c, FLT_EINVAL, "auto_pad '%s' unknown", ap);
	const int64_t *pv = op_attr_ints(c, "pads", &n);
	if (pv && !strcmp(ap, "NOTSET") && !os) {
		if ((int)n != 2 * nsp)
			return op_fail(c, FLT_EINVAL, "pads has %zu entries", n);
		for (int i = 0; i < 2 * nsp; i++)
			if ((pads[i] = pv[i]) < 0 || pv[i] > CT_MAX_DIM)
				return op_fail(c, FLT_EINVAL, "pad out of range");
	}
	g->kprod = g->iprod = g->oprod = 1;
	for (int i = 0; i < nsp; i++) {
		int64_t ek = (g->k[i] - 1) * g->dil[i] + 1;
		int64_t natural = g->stride[i] * (g->in[i] - 1) + opad[i] + ek;
		if (os || same) {
			/* pads derived from the wanted size (spec: total_padding) */
			int64_t want = os ? oshape[i] : g->in[i] * g->stride[i];
			int64_t total = natural - want;
			if (!strcmp(ap, "SAME_UPPER")) {
				pads[i] = floordiv2(total);
			} else {
				pads[i] = total - floordiv2(total);
			}
			g->out[i] = want;
		} else {
			g->out[i] = natural - pads[i] - pads[i + nsp];
		}
		if (g->out[i] < 0)
			return op_fail(c, FLT_EINVAL, "output dimension %d is negative", i);
		g->pad0[i] = pads[i];
		g->kprod *= (size_t)g->k[i];
		g->iprod *= (size_t)g->in[i];
		g->oprod *= (size_t)g->out[i];
	}
	return FLT_OK;
}

static flt_err ct_infer(struct op_ctx *c)
{
	struct ct_geom g;
	flt_err e = ct_setup(c, &g);
	if (e)
		return e;
	int64_t dims[FLT_RT_MAX_RANK];
	dims[0] = c->in[0]->dims[0];
	dims[1] = g.m;
	for (int i = 0; i < g.nsp; i++)
		dims[2 + i] = g.out[i];
	if ((e = op_set_shape(c, c->out[0], ONNX_FLOAT, c->in[0]->rank, dims)))
		return e;
	uint64_t rows = (uint64_t)(g.m / g.group) * g.kprod;
	if (g.iprod && rows > (uint64_t)(SIZE_MAX / 2) / sizeof(float) / g.iprod)
		return op_fail(c, FLT_ELIMIT, "column buffer too large");
	c->scratch_bytes = (size_t)(rows * g.iprod * sizeof(float));
	return FLT_OK;
}

/* y[mm, i*stride - pad + kk*dil] += col[(mm*kprod + kk) * iprod + i] */
static void col2im(const float *col, size_t mg, const struct ct_geom *g, float *y)
{
	int nsp = g->nsp;
	for (size_t mm = 0; mm < mg; mm++) {
		float *ym = y + mm * g->oprod;
		for (size_t kk = 0; kk < g->kprod; kk++) {
			int64_t kpos[OP_MAX_SPATIAL], ipos[OP_MAX_SPATIAL] = {0};
			size_t r = kk;
			for (int d = nsp - 1; d >= 0; d--) {
				kpos[d] = (int64_t)(r % (size_t)g->k[d]);
				r /= (size_t)g->k[d];
			}
			const float *src = col + (mm * g->kprod + kk) * g->iprod;
			for (size_t i = 0; i < g->iprod; i++) {
				size_t off = 0;
				int ok = 1;
				for (int d = 0; d < nsp; d++) {
					int64_t o = ipos[d] * g->stride[d] - g->pad0[d] +
					            kpos[d] * g->dil[d];
					if (o < 0 || o >= g->out[d]) {
						ok = 0;
						break;
					}
					off = off * (size_t)g->out[d] + (size_t)o;
				}
				if (ok)
					ym[off] += src[i];
				for (int d = nsp - 1; d >= 0; d--) {
					if (++ipos[d] < g->in[d])
						break;
					ipos[d] = 0;
				}
			}
		}
	}
}

static flt_err ct_run(struct op_ctx *c)
{
	struct ct_geom g;
	flt_err e = ct_setup(c, &g);
	if (e)
		return e;
	const struct rt_tensor *x = c->in[0], *w = c->in[1], *b = op_in(c, 2);
	size_t nb = (size_t)x->dims[0], cin = (size_t)x->dims[1], m = (size_t)g.m;
	size_t grp = (size_t)g.group, cg = cin / grp, mg = m / grp, rows = mg * g.kprod;
	const float *px = x->data, *pw = w->data, *pb = b ? b->data : NULL;
	float *py = c->out[0]->data, *col = c->scratch;
	for (size_t n = 0; n < nb; n++) {
		for (size_t k = 0; k < m; k++) {
			float *yk = py + (n * m + k) * g.oprod, v = pb ? pb[k] : 0.0f;
			for (size_t o = 0; o < g.oprod; o++)
				yk[o] = v;
		}
		if (!rows || !g.iprod)
			continue;
		for (size_t gi = 0; gi < grp; gi++) {
			/* W for this group is a cg x (mg*kprod) matrix: col = W^T X */
			op_sgemm(1, 0, rows, g.iprod, cg, 1.0f, pw + gi * cg * rows, rows,
			         px + (n * cin + gi * cg) * g.iprod, g.iprod, 0.0f, col, g.iprod);
			col2im(col, mg, &g, py + (n * m + gi * mg) * g.oprod);
		}
	}
	return FLT_OK;
}

const struct op_backend ops_convtranspose[] = {
    {"", "ConvTranspose", 1, 17, 0, ct_infer, ct_run},
};
const size_t ops_convtranspose_count = sizeof(ops_convtranspose) / sizeof(ops_convtranspose[0]);
