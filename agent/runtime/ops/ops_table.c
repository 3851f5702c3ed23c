/* The explicit table of operator families: every backend the runtime has is
 * reachable from here, so nothing depends on link order or constructors. */
#include <string.h>

#include "ops.h"

struct op_family {
	const struct op_backend *ops;
	const size_t *count;
};

static const struct op_family families[] = {
    {ops_elementwise, &ops_elementwise_count},
    {ops_shape, &ops_shape_count},
    {ops_nn, &ops_nn_count},
    {ops_conv, &ops_conv_count},
    {ops_pool, &ops_pool_count},
    {ops_reduce, &ops_reduce_count},
    {ops_convtranspose, &ops_convtranspose_count},
    {ops_resize, &ops_resize_count},
    {ops_norm, &ops_norm_count},
    {ops_expand, &ops_expand_count},
    {ops_math, &ops_math_count},
    {ops_ml_linear, &ops_ml_linear_count},
    {ops_ml_tree, &ops_ml_tree_count},
    {ops_ml_misc, &ops_ml_misc_count},
};

const struct op_backend *op_at(size_t i)
{
	for (size_t f = 0; f < sizeof(families) / sizeof(families[0]); f++) {
		if (i < *families[f].count)
			return &families[f].ops[i];
		i -= *families[f].count;
	}
	return NULL;
}

const struct op_backend *op_find(const char *domain, const char *op_type, int64_t opset)
{
	if (!strcmp(domain, "ai.onnx"))
		domain = "";
	const struct op_backend *b;
	for (size_t i = 0; (b = op_at(i)); i++)
		if (!strcmp(b->op_type, op_type) && !strcmp(b->domain, domain) &&
		    opset >= b->since && opset <= b->until)
			return b;
	return NULL;
}
