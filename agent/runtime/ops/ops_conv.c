/* Matrix operators: a cache-blocked single-precision GEMM in plain C, and on
 * it Gemm, MatMul (numpy batching) and N-d Conv (groups, dilations, strides,
 * auto_pad) through im2col into per-step arena scratch. */
#include <string.h>

#include "ops.h"

#define BLK_M 64
#define BLK_K 256
#define BLK_N 128

/* GCC/clang vector extensions: plain C that becomes SSE or NEON, no
 * intrinsics; loads and stores go through memcpy, so no alignment is assumed. */
typedef float v4f __attribute__((vector_size(16)));

static inline v4f ld4(const float *p)
{
	v4f v;
	memcpy(&v, p, sizeof(v));
	return v;
}

static inline void st4(float *p, v4f v)
{
	memcpy(p, &v, sizeof(v));
}

/* C[0..3][0..7] += alpha * A[0..3][0..kc) * B[0..kc)[0..7], the accumulators
 * held in eight vector registers across the whole k loop. */
static void kernel_4x8(size_t kc, float alpha, const float *a, size_t lda, const float *b,
                       size_t ldb, float *c, size_t ldc)
{
	v4f c00 = {0}, c01 = {0}, c10 = {0}, c11 = {0}, c20 = {0}, c21 = {0}, c30 = {0}, c31 = {0};
	const float *a0 = a, *a1 = a + lda, *a2 = a + 2 * lda, *a3 = a + 3 * lda;
	for (size_t p = 0; p < kc; p++) {
		const float *bp = b + p * ldb;
		v4f b0 = ld4(bp), b1 = ld4(bp + 4);
		float x0 = a0[p], x1 = a1[p], x2 = a2[p], x3 = a3[p];
		c00 += b0 * x0;
		c01 += b1 * x0;
		c10 += b0 * x1;
		c11 += b1 * x1;
		c20 += b0 * x2;
		c21 += b1 * x2;
		c30 += b0 * x3;
		c31 += b1 * x3;
	}
	float *r0 = c, *r1 = c + ldc, *r2 = c + 2 * ldc, *r3 = c + 3 * ldc;
	st4(r0, ld4(r0) + c00 * alpha);
	st4(r0 + 4, ld4(r0 + 4) + c01 * alpha);
	st4(r1, ld4(r1) + c10 * alpha);
	st4(r1 + 4, ld4(r1 + 4) + c11 * alpha);
	st4(r2, ld4(r2) + c20 * alpha);
	st4(r2 + 4, ld4(r2 + 4) + c21 * alpha);
	st4(r3, ld4(r3) + c30 * alpha);
	st4(r3 + 4, ld4(r3 + 4) + c31 * alpha);
}

/* Non-transposed C += alpha * A * B: 4x8 register blocks over k and n panels
 * that stay in cache, scalar loops for the edges. */
static void sgemm_nn(size_t m, size_t n, size_t k, float alpha, const float *a, size_t lda,
                     const float *b, size_t ldb, float *c, size_t ldc)
{
	for (size_t j0 = 0; j0 < n; j0 += BLK_N) {
		size_t j1 = j0 + BLK_N < n ? j0 + BLK_N : n;
		for (size_t p0 = 0; p0 < k; p0 += BLK_K) {
			size_t kc = (p0 + BLK_K < k ? p0 + BLK_K : k) - p0;
			size_t i = 0;
			for (; i + 4 <= m; i += 4) {
				size_t j = j0;
				for (; j + 8 <= j1; j += 8)
					kernel_4x8(kc, alpha, a + i * lda + p0, lda,
					           b + p0 * ldb + j, ldb, c + i * ldc + j, ldc);
				for (size_t r = i; r < i + 4 && j < j1; r++)
					for (size_t p = p0; p < p0 + kc; p++) {
						float av = alpha * a[r * lda + p];
						const float *bp = b + p * ldb;
						for (size_t jj = j; jj < j1; jj++)
							c[r * ldc + jj] += av * bp[jj];
					}
			}
			for (; i < m; i++)
				for (size_t p = p0; p < p0 + kc; p++) {
					float av = alpha * a[i * lda + p];
					const float *bp = b + p * ldb;
					float *ci = c + i * ldc;
					for (size_t jj = j0; jj < j1; jj++)
						ci[jj] += av * bp[jj];
				}
		}
	}
}

/* C = alpha * op(A) * op(B) + beta * C */
void op_sgemm(int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha, const float *a,
              size_t lda, const float *b, size_t ldb, float beta, float *c, size_t ldc)
{
	for (size_t i = 0; i < m; i++) {
		float *ci = c + i * ldc;
		if (beta == 0.0f)
			memset(ci, 0, n * sizeof(float));
		else if (beta != 1.0f)
			for (size_t j = 0; j < n; j++)
				ci[j] *= beta;
	}
	if (!k || alpha == 0.0f)
		return;
	if (!trans_a && !trans_b) {
		sgemm_nn(m, n, k, alpha, a, lda, b, ldb, c, ldc);
		return;
	}
	if (trans_b && !trans_a) {
		/* rows of A against rows of B: contiguous dot products */
		for (size_t i0 = 0; i0 < m; i0 += BLK_M) {
			size_t i1 = i0 + BLK_M < m ? i0 + BLK_M : m;
			for (size_t j = 0; j < n; j++) {
				const float *bj = b + j * ldb;
				for (size_t i = i0; i < i1; i++) {
					const float *ai = a + i * lda;
					v4f acc0 = {0}, acc1 = {0};
					size_t p = 0;
					for (; p + 8 <= k; p += 8) {
						acc0 += ld4(ai + p) * ld4(bj + p);
						acc1 += ld4(ai + p + 4) * ld4(bj + p + 4);
					}
					acc0 += acc1;
					float s0 = (acc0[0] + acc0[1]) + (acc0[2] + acc0[3]);
					for (; p < k; p++)
						s0 += ai[p] * bj[p];
					c[i * ldc + j] += alpha * s0;
				}
			}
		}
		return;
	}
	for (size_t j0 = 0; j0 < n; j0 += BLK_N) {
		size_t jn = (j0 + BLK_N < n ? j0 + BLK_N : n) - j0;
		for (size_t p0 = 0; p0 < k; p0 += BLK_K) {
			size_t p1 = p0 + BLK_K < k ? p0 + BLK_K : k;
			for (size_t i = 0; i < m; i++) {
				float *ci = c + i * ldc + j0;
				for (size_t p = p0; p < p1; p++) {
					float av =
					    alpha * (trans_a ? a[p * lda + i] : a[i * lda + p]);
					if (av == 0.0f)
						continue;
					if (!trans_b) {
						const float *bp = b + p * ldb + j0;
						for (size_t j = 0; j < jn; j++)
							ci[j] += av * bp[j];
					} else {
						for (size_t j = 0; j < jn; j++)
							ci[j] += av * b[(j0 + j) * ldb + p];
					}
				}
			}
		}
	}
}

/* ---- Gemm ---- */

static flt_err gemm_infer(struct op_ctx *c)
{
	const struct rt_tensor *a = op_in(c, 0), *b = op_in(c, 1), *cc = op_in(c, 2);
	if (!a || !b || c->n_out < 1)
		return op_fail(c, FLT_EINVAL, "expects A and B");
	if (a->dtype != ONNX_FLOAT || b->dtype != ONNX_FLOAT || (cc && cc->dtype != ONNX_FLOAT))
		return op_fail(c, FLT_EUNSUPPORTED, "float only");
	if (a->rank != 2 || b->rank != 2)
		return op_fail(c, FLT_EINVAL, "A and B must be 2-D");
	int ta = op_attr_int(c, "transA", 0) != 0, tb = op_attr_int(c, "transB", 0) != 0;
	int64_t m = a->dims[ta], k = a->dims[!ta], k2 = b->dims[tb], n = b->dims[!tb];
	if (k != k2)
		return op_fail(c, FLT_EINVAL, "inner dimensions differ (%lld, %lld)", (long long)k,
		               (long long)k2);
	if (!cc && c->opset < 11)
		return op_fail(c, FLT_EINVAL, "C is required before opset 11");
	int64_t dims[2] = {m, n};
	if (cc) {
		/* C broadcasts one way to (M, N) */
		if (cc->rank > 2 ||
		    (cc->rank == 2 && !((cc->dims[0] == m || cc->dims[0] == 1) &&
		                        (cc->dims[1] == n || cc->dims[1] == 1))) ||
		    (cc->rank == 1 && cc->dims[0] != n && cc->dims[0] != 1))
			return op_fail(c, FLT_EINVAL, "C does not broadcast to (%lld, %lld)",
			               (long long)m, (long long)n);
	}
	return op_set_shape(c, c->out[0], ONNX_FLOAT, 2, dims);
}

static flt_err gemm_run(struct op_ctx *c)
{
	const struct rt_tensor *a = c->in[0], *b = c->in[1], *cc = op_in(c, 2);
	struct rt_tensor *y = c->out[0];
	int ta = op_attr_int(c, "transA", 0) != 0, tb = op_attr_int(c, "transB", 0) != 0;
	float alpha = op_attr_float(c, "alpha", 1.0f), beta = op_attr_float(c, "beta", 1.0f);
	size_t m = (size_t)y->dims[0], n = (size_t)y->dims[1], k = (size_t)a->dims[!ta];
	float *py = y->data;
	if (cc && beta != 0.0f) {
		const float *pc = cc->data;
		size_t sr = 0, sc = 0;
		if (cc->rank == 2) {
			sr = cc->dims[0] == 1 ? 0 : (size_t)cc->dims[1];
			sc = cc->dims[1] == 1 ? 0 : 1;
		} else if (cc->rank == 1) {
			sc = cc->dims[0] == 1 ? 0 : 1;
		}
		for (size_t i = 0; i < m; i++)
			for (size_t j = 0; j < n; j++)
				py[i * n + j] = pc[i * sr + j * sc];
	} else {
		beta = 0.0f;
	}
	op_sgemm(ta, tb, m, n, k, alpha, a->data, (size_t)a->dims[1], b->data, (size_t)b->dims[1],
	         cc ? beta : 0.0f, py, n); /* scales the preloaded C by beta */
	return FLT_OK;
}

/* ---- MatMul ---- */

static flt_err matmul_infer(struct op_ctx *c)
{
	const struct rt_tensor *a = op_in(c, 0), *b = op_in(c, 1);
	int64_t dims[FLT_RT_MAX_RANK];
	if (!a || !b || c->n_out < 1)
		return op_fail(c, FLT_EINVAL, "expects A and B");
	if (a->dtype != ONNX_FLOAT || b->dtype != ONNX_FLOAT)
		return op_fail(c, FLT_EUNSUPPORTED, "float only");
	if (a->rank < 1 || b->rank < 1)
		return op_fail(c, FLT_EINVAL, "scalars cannot be multiplied");
	int64_t m = a->rank >= 2 ? a->dims[a->rank - 2] : 1, k = a->dims[a->rank - 1];
	int64_t k2 = b->rank >= 2 ? b->dims[b->rank - 2] : b->dims[0],
	        n = b->rank >= 2 ? b->dims[b->rank - 1] : 1;
	if (k != k2)
		return op_fail(c, FLT_EINVAL, "inner dimensions differ (%lld, %lld)", (long long)k,
		               (long long)k2);
	struct rt_tensor ba = *a, bb = *b;
	ba.rank = a->rank > 2 ? a->rank - 2 : 0;
	bb.rank = b->rank > 2 ? b->rank - 2 : 0;
	int32_t r;
	flt_err e = op_broadcast(c, &ba, &bb, &r, dims);
	if (e)
		return e;
	if (a->rank >= 2)
		dims[r++] = m;
	if (b->rank >= 2)
		dims[r++] = n;
	return op_set_shape(c, c->out[0], ONNX_FLOAT, r, dims);
}

static flt_err matmul_run(struct op_ctx *c)
{
	const struct rt_tensor *a = c->in[0], *b = c->in[1];
	struct rt_tensor *y = c->out[0];
	size_t m = a->rank >= 2 ? (size_t)a->dims[a->rank - 2] : 1,
	       k = (size_t)a->dims[a->rank - 1];
	size_t n = b->rank >= 2 ? (size_t)b->dims[b->rank - 1] : 1;
	struct rt_tensor ba = *a, bb = *b;
	ba.rank = a->rank > 2 ? a->rank - 2 : 0;
	bb.rank = b->rank > 2 ? b->rank - 2 : 0;
	int64_t bd[FLT_RT_MAX_RANK];
	int32_t br;
	size_t sa[FLT_RT_MAX_RANK], sb[FLT_RT_MAX_RANK], idx[FLT_RT_MAX_RANK] = {0};
	flt_err e = op_broadcast(c, &ba, &bb, &br, bd);
	if (e)
		return e;
	op_bcast_strides(&ba, br, bd, sa);
	op_bcast_strides(&bb, br, bd, sb);
	size_t batches = 1;
	for (int32_t d = 0; d < br; d++)
		batches *= (size_t)bd[d];
	const float *pa = a->data, *pb = b->data;
	float *py = y->data;
	size_t oa = 0, ob = 0;
	for (size_t t = 0; t < batches; t++) {
		op_sgemm(0, 0, m, n, k, 1.0f, pa + oa * m * k, k, pb + ob * k * n, n, 0.0f,
		         py + t * m * n, n);
		for (int32_t d = br - 1; d >= 0; d--) {
			idx[d]++;
			oa += sa[d];
			ob += sb[d];
			if (idx[d] < (size_t)bd[d])
				break;
			oa -= sa[d] * idx[d];
			ob -= sb[d] * idx[d];
			idx[d] = 0;
		}
	}
	return FLT_OK;
}

/* ---- Conv ---- */

#define MAX_SP OP_MAX_SPATIAL

/* Bounds on window attributes, so the int64 arithmetic below cannot overflow
 * and a hostile attribute cannot ask for years of work. */
#define GEOM_MAX  ((int64_t)1 << 31)
#define GEOM_WORK ((uint64_t)1 << 32)

flt_err op_conv_geometry(struct op_ctx *c, const struct rt_tensor *x, const int64_t *kernel,
                         int nsp, int ceil_mode, struct conv_geom *g)
{
	size_t n;
	const int64_t *v;
	memset(g, 0, sizeof(*g));
	g->nsp = nsp;
	if (nsp < 1 || nsp > MAX_SP)
		return op_fail(c, FLT_EUNSUPPORTED, "%d spatial dimensions not supported", nsp);
	for (int i = 0; i < nsp; i++) {
		g->in[i] = x->dims[2 + i];
		g->k[i] = kernel[i];
		g->stride[i] = 1;
		g->dil[i] = 1;
		if (g->k[i] < 1 || g->k[i] > GEOM_MAX)
			return op_fail(c, FLT_EINVAL, "kernel dimension %d is %lld", i,
			               (long long)g->k[i]);
	}
	if ((v = op_attr_ints(c, "strides", &n))) {
		if ((int)n != nsp)
			return op_fail(c, FLT_EINVAL, "strides has %zu entries", n);
		for (int i = 0; i < nsp; i++)
			if ((g->stride[i] = v[i]) < 1 || v[i] > GEOM_MAX)
				return op_fail(c, FLT_EINVAL, "stride %lld out of range",
				               (long long)v[i]);
	}
	if ((v = op_attr_ints(c, "dilations", &n))) {
		if ((int)n != nsp)
			return op_fail(c, FLT_EINVAL, "dilations has %zu entries", n);
		for (int i = 0; i < nsp; i++)
			if ((g->dil[i] = v[i]) < 1 || v[i] > GEOM_MAX)
				return op_fail(c, FLT_EINVAL, "dilation %lld out of range",
				               (long long)v[i]);
	}
	int64_t pads[2 * MAX_SP] = {0};
	const char *ap = op_attr_str(c, "auto_pad", "NOTSET");
	if ((v = op_attr_ints(c, "pads", &n)) && strcmp(ap, "NOTSET") == 0) {
		if ((int)n != 2 * nsp)
			return op_fail(c, FLT_EINVAL, "pads has %zu entries", n);
		for (int i = 0; i < 2 * nsp; i++)
			if ((pads[i] = v[i]) < 0 || v[i] > GEOM_MAX)
				return op_fail(c, FLT_EINVAL, "pad %lld out of range",
				               (long long)v[i]);
	}
	for (int i = 0; i < nsp; i++) {
		int64_t ek = (g->k[i] - 1) * g->dil[i] + 1;
		if (!strcmp(ap, "SAME_UPPER") || !strcmp(ap, "SAME_LOWER")) {
			int64_t o = (g->in[i] + g->stride[i] - 1) / g->stride[i];
			int64_t tot = (o - 1) * g->stride[i] + ek - g->in[i];
			if (tot < 0)
				tot = 0;
			pads[i] = !strcmp(ap, "SAME_UPPER") ? tot / 2 : tot - tot / 2;
			pads[i + nsp] = tot - pads[i];
			g->out[i] = o;
		} else if (!strcmp(ap, "VALID") || !strcmp(ap, "NOTSET")) {
			int64_t span = g->in[i] + pads[i] + pads[i + nsp] - ek;
			if (span < 0)
				return op_fail(c, FLT_EINVAL, "kernel larger than padded input");
			if (ceil_mode) {
				g->out[i] = (span + g->stride[i] - 1) / g->stride[i] + 1;
				/* the last window must start inside the input or left padding */
				if ((g->out[i] - 1) * g->stride[i] >= g->in[i] + pads[i])
					g->out[i]--;
			} else {
				g->out[i] = span / g->stride[i] + 1;
			}
		} else {
			return op_fail(c, FLT_EINVAL, "auto_pad '%s' unknown", ap);
		}
		g->pad0[i] = pads[i];
		g->pad1[i] = pads[i + nsp];
	}
	uint64_t kp = 1, op = 1, ip = 1;
	for (int i = 0; i < nsp; i++) {
		kp *= (uint64_t)g->k[i];
		op *= (uint64_t)g->out[i];
		ip *= (uint64_t)g->in[i];
		if (kp > GEOM_WORK || op > SIZE_MAX || ip > SIZE_MAX || (op && kp > GEOM_WORK / op))
			return op_fail(c, FLT_ELIMIT,
			               "window of %llu over %llu outputs is too large",
			               (unsigned long long)kp, (unsigned long long)op);
	}
	g->kprod = (size_t)kp;
	g->oprod = (size_t)op;
	g->iprod = (size_t)ip;
	return FLT_OK;
}

static flt_err conv_setup(struct op_ctx *c, struct conv_geom *g)
{
	const struct rt_tensor *x = op_in(c, 0), *w = op_in(c, 1), *b = op_in(c, 2);
	int64_t kernel[MAX_SP];
	if (!x || !w || c->n_out < 1)
		return op_fail(c, FLT_EINVAL, "expects X and W");
	if (x->dtype != ONNX_FLOAT || w->dtype != ONNX_FLOAT || (b && b->dtype != ONNX_FLOAT))
		return op_fail(c, FLT_EUNSUPPORTED, "float only");
	if (x->rank < 3 || w->rank != x->rank)
		return op_fail(c, FLT_EINVAL, "X and W must have the same rank >= 3");
	int nsp = x->rank - 2;
	size_t n;
	const int64_t *ks = op_attr_ints(c, "kernel_shape", &n);
	for (int i = 0; i < nsp; i++)
		kernel[i] = w->dims[2 + i];
	if (ks) {
		if ((int)n != nsp)
			return op_fail(c, FLT_EINVAL, "kernel_shape has %zu entries", n);
		for (int i = 0; i < nsp; i++)
			if (ks[i] != kernel[i])
				return op_fail(c, FLT_EINVAL, "kernel_shape disagrees with W");
	}
	flt_err e = op_conv_geometry(c, x, kernel, nsp, 0, g);
	if (e)
		return e;
	g->group = op_attr_int(c, "group", 1);
	if (g->group < 1 || x->dims[1] % g->group || w->dims[0] % g->group ||
	    w->dims[1] * g->group != x->dims[1])
		return op_fail(c, FLT_EINVAL,
		               "channels (%lld in, W %lldx%lld) do not fit group %lld",
		               (long long)x->dims[1], (long long)w->dims[0], (long long)w->dims[1],
		               (long long)g->group);
	if (b && (b->rank != 1 || b->dims[0] != w->dims[0]))
		return op_fail(c, FLT_EINVAL, "bias must have M values");
	return FLT_OK;
}

static int conv_is_pointwise(const struct conv_geom *g)
{
	for (int i = 0; i < g->nsp; i++)
		if (g->k[i] != 1 || g->stride[i] != 1 || g->pad0[i] != 0 || g->out[i] != g->in[i])
			return 0;
	return 1;
}

static flt_err conv_infer(struct op_ctx *c)
{
	struct conv_geom g;
	flt_err e = conv_setup(c, &g);
	if (e)
		return e;
	int64_t dims[FLT_RT_MAX_RANK];
	dims[0] = c->in[0]->dims[0];
	dims[1] = c->in[1]->dims[0];
	for (int i = 0; i < g.nsp; i++)
		dims[2 + i] = g.out[i];
	if ((e = op_set_shape(c, c->out[0], ONNX_FLOAT, c->in[0]->rank, dims)))
		return e;
	if (!conv_is_pointwise(&g)) {
		uint64_t rows = (uint64_t)c->in[1]->dims[1] * g.kprod;
		uint64_t bytes = rows * g.oprod * sizeof(float);
		if (bytes > SIZE_MAX / 2)
			return op_fail(c, FLT_ELIMIT, "im2col buffer too large");
		c->scratch_bytes = (size_t)bytes;
	}
	return FLT_OK;
}

/* col[(ci*kprod + kk) * oprod + o] = x[ci, o*stride - pad + kk*dil] or 0 */
static void im2col(const float *x, size_t cin, const struct conv_geom *g, float *col)
{
	int nsp = g->nsp;
	for (size_t ci = 0; ci < cin; ci++) {
		const float *xc = x + ci * g->iprod;
		for (size_t kk = 0; kk < g->kprod; kk++) {
			int64_t kpos[MAX_SP];
			size_t r = kk;
			for (int d = nsp - 1; d >= 0; d--) {
				kpos[d] = (int64_t)(r % (size_t)g->k[d]);
				r /= (size_t)g->k[d];
			}
			float *dst = col + (ci * g->kprod + kk) * g->oprod;
			if (nsp == 2) {
				int64_t oh = g->out[0], ow = g->out[1], ih = g->in[0],
				        iw = g->in[1];
				int64_t offh = kpos[0] * g->dil[0] - g->pad0[0];
				int64_t offw = kpos[1] * g->dil[1] - g->pad0[1];
				for (int64_t y = 0; y < oh; y++) {
					int64_t iy = y * g->stride[0] + offh;
					float *row = dst + y * ow;
					if (iy < 0 || iy >= ih) {
						memset(row, 0, (size_t)ow * sizeof(float));
						continue;
					}
					const float *src = xc + iy * iw;
					if (g->stride[1] == 1 && offw >= 0 && offw + ow <= iw) {
						memcpy(row, src + offw, (size_t)ow * sizeof(float));
						continue;
					}
					for (int64_t xo = 0; xo < ow; xo++) {
						int64_t ix = xo * g->stride[1] + offw;
						row[xo] = (ix >= 0 && ix < iw) ? src[ix] : 0.0f;
					}
				}
				continue;
			}
			int64_t opos[MAX_SP] = {0};
			for (size_t o = 0; o < g->oprod; o++) {
				size_t off = 0;
				int ok = 1;
				for (int d = 0; d < nsp; d++) {
					int64_t ix = opos[d] * g->stride[d] - g->pad0[d] +
					             kpos[d] * g->dil[d];
					if (ix < 0 || ix >= g->in[d]) {
						ok = 0;
						break;
					}
					off = off * (size_t)g->in[d] + (size_t)ix;
				}
				dst[o] = ok ? xc[off] : 0.0f;
				for (int d = nsp - 1; d >= 0; d--) {
					if (++opos[d] < g->out[d])
						break;
					opos[d] = 0;
				}
			}
		}
	}
}

static flt_err conv_run(struct op_ctx *c)
{
	struct conv_geom g;
	flt_err e = conv_setup(c, &g);
	if (e)
		return e;
	const struct rt_tensor *x = c->in[0], *w = c->in[1], *b = op_in(c, 2);
	struct rt_tensor *y = c->out[0];
	size_t nb = (size_t)x->dims[0], cin = (size_t)x->dims[1], m = (size_t)w->dims[0];
	size_t grp = (size_t)g.group, cg = cin / grp, mg = m / grp, kdim = cg * g.kprod;
	int pointwise = conv_is_pointwise(&g);
	const float *px = x->data, *pw = w->data;
	float *py = y->data;
	for (size_t n = 0; n < nb; n++) {
		for (size_t gi = 0; gi < grp; gi++) {
			const float *xg = px + (n * cin + gi * cg) * g.iprod;
			const float *col = xg;
			if (!pointwise) {
				im2col(xg, cg, &g, c->scratch);
				col = c->scratch;
			}
			float *yg = py + (n * m + gi * mg) * g.oprod;
			op_sgemm(0, 0, mg, g.oprod, kdim, 1.0f, pw + gi * mg * kdim, kdim, col,
			         g.oprod, 0.0f, yg, g.oprod);
		}
		if (b) {
			const float *pb = b->data;
			for (size_t k = 0; k < m; k++) {
				float *yk = py + (n * m + k) * g.oprod;
				for (size_t o = 0; o < g.oprod; o++)
					yk[o] += pb[k];
			}
		}
	}
	return FLT_OK;
}

const struct op_backend ops_conv[] = {
    {"", "Gemm", 1, 17, 0, gemm_infer, gemm_run},
    {"", "MatMul", 1, 17, 0, matmul_infer, matmul_run},
    {"", "Conv", 1, 17, 0, conv_infer, conv_run},
};
const size_t ops_conv_count = sizeof(ops_conv) / sizeof(ops_conv[0]);
