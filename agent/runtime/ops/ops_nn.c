/* Normalisation operators: Softmax and LogSoftmax (2-D coercion before
 * opset 13, one axis after) and BatchNormalization in inference form
 * (is_test / spatial / training_mode attributes of the older opsets). */
#include <math.h>
#include <string.h>

#include "ops.h"

static flt_err softmax_geom(struct op_ctx *c, size_t *outer, size_t *n, size_t *inner)
{
	const struct rt_tensor *x = c->in[0];
	int64_t axis;
	flt_err e;
	if (x->rank == 0) {
		*outer = *n = *inner = 1;
		return FLT_OK;
	}
	if ((e = op_axis(c, op_attr_int(c, "axis", c->opset >= 13 ? -1 : 1), x->rank, &axis)))
		return e;
	*outer = 1;
	*n = 1;
	*inner = 1;
	for (int64_t d = 0; d < axis; d++)
		*outer *= (size_t)x->dims[d];
	if (c->opset >= 13) {
		*n = (size_t)x->dims[axis];
		for (int32_t d = (int32_t)axis + 1; d < x->rank; d++)
			*inner *= (size_t)x->dims[d];
	} else {
		for (int32_t d = (int32_t)axis; d < x->rank; d++)
			*n *= (size_t)x->dims[d];
	}
	return FLT_OK;
}

static flt_err softmax_infer(struct op_ctx *c)
{
	size_t a, b, d;
	const struct rt_tensor *x = op_in(c, 0);
	if (!x || c->n_out < 1)
		return op_fail(c, FLT_EINVAL, "expects one input");
	if (x->dtype != ONNX_FLOAT)
		return op_fail(c, FLT_EUNSUPPORTED, "type %s not supported",
		               onnx_dtype_name(x->dtype));
	flt_err e = softmax_geom(c, &a, &b, &d);
	if (e)
		return e;
	return op_same_shape(c, c->out[0], x);
}

static flt_err softmax_run(struct op_ctx *c)
{
	size_t outer, n, inner;
	int logf_ = !strcmp(c->node->op_type, "LogSoftmax");
	flt_err e = softmax_geom(c, &outer, &n, &inner);
	if (e || !c->out[0])
		return e;
	const float *x = c->in[0]->data;
	float *y = c->out[0]->data;
	for (size_t o = 0; o < outer; o++) {
		for (size_t i = 0; i < inner; i++) {
			const float *px = x + o * n * inner + i;
			float *py = y + o * n * inner + i;
			float mx = -INFINITY;
			for (size_t k = 0; k < n; k++)
				if (px[k * inner] > mx)
					mx = px[k * inner];
			float sum = 0;
			for (size_t k = 0; k < n; k++) {
				float v = expf(px[k * inner] - mx);
				if (!logf_)
					py[k * inner] = v;
				sum += v;
			}
			if (logf_) {
				float ls = logf(sum);
				for (size_t k = 0; k < n; k++)
					py[k * inner] = px[k * inner] - mx - ls;
			} else {
				float inv = 1.0f / sum;
				for (size_t k = 0; k < n; k++)
					py[k * inner] *= inv;
			}
		}
	}
	return FLT_OK;
}

/* ---- BatchNormalization ---- */

static flt_err bn_infer(struct op_ctx *c)
{
	for (size_t i = 0; i < 5; i++)
		if (!op_in(c, i) || c->in[i]->dtype != ONNX_FLOAT)
			return op_fail(c, FLT_EINVAL, "expects 5 float inputs");
	const struct rt_tensor *x = c->in[0];
	if (x->rank < 2)
		return op_fail(c, FLT_EINVAL, "input rank must be at least 2");
	int training = c->opset >= 14 && op_attr_int(c, "training_mode", 0);
	size_t ch = (size_t)x->dims[1], per_el = x->dims[0] ? x->nelem / (size_t)x->dims[0] : 0;
	for (size_t i = 1; i < 5; i++)
		if (c->in[i]->nelem != ch && c->in[i]->nelem != per_el)
			return op_fail(c, FLT_EINVAL,
			               "parameter %zu has %zu values for %zu channels", i,
			               c->in[i]->nelem, ch);
	if (training && c->in[1]->nelem != ch)
		return op_fail(c, FLT_EINVAL, "training mode needs per-channel parameters");
	/* Optional extra outputs (running stats of training graphs) mirror the inputs. */
	for (size_t i = 1; i < c->n_out && i < 5; i++) {
		flt_err e = op_same_shape(c, c->out[i], c->in[i < 3 ? i + 2 : i]);
		if (e)
			return e;
	}
	return op_same_shape(c, c->out[0], x);
}

static flt_err bn_run(struct op_ctx *c)
{
	const struct rt_tensor *x = c->in[0];
	const float *sc = c->in[1]->data, *b = c->in[2]->data, *mean = c->in[3]->data,
	            *var = c->in[4]->data;
	float eps = op_attr_float(c, "epsilon", 1e-5f);
	size_t n = (size_t)x->dims[0], ch = (size_t)x->dims[1];
	size_t per = n ? x->nelem / n : 0, spatial = ch ? per / ch : 0;
	int elementwise = c->in[1]->nelem != ch; /* spatial=0 in opset < 9 */
	const float *px = x->data;
	float *py = c->out[0]->data;
	for (size_t i = 1; i < c->n_out && i < 5; i++)
		if (c->out[i])
			memcpy(c->out[i]->data, c->in[i < 3 ? i + 2 : i]->data,
			       4 * c->out[i]->nelem);
	if (c->opset >= 14 && op_attr_int(c, "training_mode", 0)) {
		/* batch statistics normalise; running stats blend with momentum */
		float mom = op_attr_float(c, "momentum", 0.9f);
		float *rm = c->n_out > 1 && c->out[1] ? c->out[1]->data : NULL;
		float *rv = c->n_out > 2 && c->out[2] ? c->out[2]->data : NULL;
		for (size_t k = 0; k < ch; k++) {
			double sum = 0, sq = 0, cnt = (double)(n * spatial);
			for (size_t in = 0; in < n; in++)
				for (size_t j = 0; j < spatial; j++)
					sum += px[in * per + k * spatial + j];
			double mu = cnt > 0 ? sum / cnt : 0;
			for (size_t in = 0; in < n; in++)
				for (size_t j = 0; j < spatial; j++) {
					double d = px[in * per + k * spatial + j] - mu;
					sq += d * d;
				}
			double v = cnt > 0 ? sq / cnt : 0;
			float s = sc[k] / sqrtf((float)v + eps);
			for (size_t in = 0; in < n; in++)
				for (size_t j = 0; j < spatial; j++) {
					size_t at = in * per + k * spatial + j;
					py[at] = (px[at] - (float)mu) * s + b[k];
				}
			if (rm)
				rm[k] = mean[k] * mom + (float)mu * (1 - mom);
			if (rv)
				rv[k] = var[k] * mom + (float)v * (1 - mom);
		}
		return FLT_OK;
	}
	for (size_t in = 0; in < n; in++) {
		for (size_t k = 0; k < ch; k++) {
			const float *xs = px + in * per + k * spatial;
			float *ys = py + in * per + k * spatial;
			if (!elementwise) {
				float s = sc[k] / sqrtf(var[k] + eps);
				float o = b[k] - mean[k] * s;
				for (size_t j = 0; j < spatial; j++)
					ys[j] = xs[j] * s + o;
			} else {
				for (size_t j = 0; j < spatial; j++) {
					size_t p = k * spatial + j;
					ys[j] =
					    (xs[j] - mean[p]) / sqrtf(var[p] + eps) * sc[p] + b[p];
				}
			}
		}
	}
	return FLT_OK;
}

const struct op_backend ops_nn[] = {
    {"", "Softmax", 1, 17, 0, softmax_infer, softmax_run},
    {"", "LogSoftmax", 1, 17, 0, softmax_infer, softmax_run},
    {"", "BatchNormalization", 1, 17, 0, bn_infer, bn_run},
};
const size_t ops_nn_count = sizeof(ops_nn) / sizeof(ops_nn[0]);
