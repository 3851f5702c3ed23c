/* Element-wise math beyond the core activations: Erf (GELU-style exports
 * spell GELU as 0.5 * x * (1 + Erf(x / sqrt 2))). */
#include <math.h>

#include "ops.h"

static flt_err erf_infer(struct op_ctx *c)
{
	const struct rt_tensor *x = op_in(c, 0);
	if (!x || c->n_out < 1)
		return op_fail(c, FLT_EINVAL, "expects one input");
	if (x->dtype != ONNX_FLOAT)
		return op_fail(c, FLT_EUNSUPPORTED, "float only, not %s",
		               onnx_dtype_name(x->dtype));
	return op_same_shape(c, c->out[0], x);
}

static flt_err erf_run(struct op_ctx *c)
{
	const float *x = c->in[0]->data;
	float *y = c->out[0]->data;
	for (size_t i = 0; i < c->in[0]->nelem; i++)
		y[i] = erff(x[i]);
	return FLT_OK;
}

const struct op_backend ops_math[] = {
    {"", "Erf", 9, 17, 0, erf_infer, erf_run},
};
const size_t ops_math_count = sizeof(ops_math) / sizeof(ops_math[0]);
