/* Helpers the ONNX-ML ("ai.onnx.ml") op files share: post transforms,
 * class labels, and reading the 2-D feature input. Private to the runtime.
 *
 * How the runtime exposes ONNX-ML outputs (float32/int64 only):
 * - A classifier's label output is int64. With classlabels_int64s (or
 *   classlabels_ints) it holds the label values; with classlabels_strings it
 *   holds the class index into that attribute's list (0-based, in attribute
 *   order), because the runtime, its API and the agent's socket carry only
 *   fixed-size numeric tensors. The model file itself is the mapping.
 * - ZipMap's output (a sequence of maps in ONNX) is the probability tensor
 *   [N, C] unchanged: column j is the map's value for key classlabels[j].
 *   No sequence or map value exists in the runtime, so a ZipMap output can
 *   only be a graph output or feed ops that take that tensor. */
#ifndef FLT_RT_OPS_ML_H
#define FLT_RT_OPS_ML_H

#include "ops.h"

#define ML_DOMAIN "ai.onnx.ml"
/* Newest ai.onnx.ml opset whose semantics the runtime knows (5 replaced
 * TreeEnsembleClassifier/Regressor by TreeEnsemble; those stop at 4). */
#define ML_OPSET_MAX 5

enum ml_post { ML_NONE, ML_SOFTMAX, ML_LOGISTIC, ML_SOFTMAX_ZERO, ML_PROBIT };

/* Parses post_transform into *post. Errors: FLT_EINVAL (unknown name). */
FLT_WUR flt_err ml_post_attr(struct op_ctx *c, int *post);
/* Applies post transform `post` to one row of n scores in place. */
void ml_post_apply(int post, float *row, size_t n);
/* sqrt(2) * erfinv(2p - 1): the normal quantile of p. */
double ml_probit(double p);

/* Class labels of a classifier: classlabels_int64s / classlabels_ints
 * (ints != NULL) or classlabels_strings (ints == NULL, *n strings).
 * Errors: FLT_EINVAL if neither (or both) is present. */
FLT_WUR flt_err ml_labels(struct op_ctx *c, const char *ints_name, const int64_t **ints, size_t *n);
/* The label value written for class j. */
static inline int64_t ml_label(const int64_t *ints, size_t j)
{
	return ints ? ints[j] : (int64_t)j;
}

/* Checks X is float or int64 of rank 1 ([F], one row) or 2 ([N, F]) and
 * returns N and F. Errors: FLT_EUNSUPPORTED (type), FLT_EINVAL (rank). */
FLT_WUR flt_err ml_input(struct op_ctx *c, const struct rt_tensor *x, int64_t *n, int64_t *f);
/* Element i of a float or int64 tensor as double. */
double ml_x(const struct rt_tensor *x, size_t i);

/* Reads a float list attribute, or its double-tensor form (`name`
 * "_as_tensor", ai.onnx.ml opset 3) into *out (flt_malloc'd, caller frees),
 * *n values. Absent: *out = NULL, *n = 0. Errors: FLT_EINVAL, FLT_ENOMEM. */
FLT_WUR flt_err ml_doubles(struct op_ctx *c, const char *name, double **out, size_t *n);

#endif
