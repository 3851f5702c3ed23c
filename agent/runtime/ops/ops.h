/* Operator backends of flt_runtime: the interface every op implements and the
 * helpers op files share. Private to the runtime (not installed).
 *
 * How to add an operator
 * ----------------------
 * 1. Pick the family file under agent/runtime/ops/ (ops_elementwise.c,
 *    ops_shape.c, ops_conv.c, ops_pool.c, ops_reduce.c, ops_nn.c, ...) or start
 *    a new ops_<family>.c. Each family file defines one table
 *        const struct op_backend ops_<family>[] = { {...}, ... };
 *        const size_t ops_<family>_count = sizeof(ops_<family>) / sizeof(ops_<family>[0]);
 *    and a new family is declared at the bottom of this header and listed once
 *    in ops_table.c (an explicit static table: no constructor registration,
 *    which a static link can silently drop).
 * 2. An entry is {domain, op_type, since, until, flags, infer, run}: it serves
 *    nodes of `domain` ("" is ai.onnx, "ai.onnx.ml" for ONNX-ML) whose model
 *    imports that domain at an opset version in [since, until]. Several entries
 *    may share an op_type with disjoint ranges when semantics changed.
 * 3. infer() runs once per plan (per batch size) at load. It reads input
 *    shapes/dtypes (c->in[i], NULL for an absent optional input), attributes
 *    (op_attr_*), and constant input data (c->in[i]->data is non-NULL at plan
 *    time only when the input is an initializer or was folded from constants;
 *    ops like Reshape need it and must fail with op_fail() if it is NULL).
 *    It sets every output's dtype and shape with op_set_shape(), and may ask
 *    for c->scratch_bytes of per-run scratch memory. It must not touch data of
 *    outputs. Errors: op_fail(c, FLT_EINVAL or FLT_EUNSUPPORTED, "...").
 * 4. run() computes outputs from inputs. Shapes are exactly what infer() set;
 *    output buffers (and c->scratch) are pre-allocated and never alias inputs.
 *    run() must not allocate, must be thread-safe (no static mutable state),
 *    and should return FLT_OK; a failure is reported the same way as infer's.
 *    When every input of a node is constant (or flags has OP_SHAPE_ONLY and
 *    shapes are known), the planner calls run() at load and the output
 *    becomes a constant: the same code serves folding and execution.
 * 5. Add unit tests in tests/unit/rt_ops_<family>_test.c; the conformance
 *    runner (tests/conformance) picks new ops up automatically.
 */
#ifndef FLT_RT_OPS_H
#define FLT_RT_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "flt/error.h"
#include "flt/runtime.h"
#include "../onnx.h"

/* A tensor during planning and running. dtype is an ONNX elem type
 * (ONNX_FLOAT, ONNX_INT64, ...); data is laid out row-major, contiguous. */
struct rt_tensor {
	int32_t dtype;
	int32_t rank;
	int64_t dims[FLT_RT_MAX_RANK];
	size_t nelem;
	void *data;
};

struct op_ctx {
	const struct onnx_node *node; /* attributes and names (borrowed) */
	int64_t opset;                /* the model's opset for the node's domain */
	size_t n_in, n_out;
	struct rt_tensor *const *in;  /* n_in entries; NULL = absent optional input */
	struct rt_tensor *const *out; /* n_out entries; NULL = output not requested */
	size_t scratch_bytes;         /* infer: set if run needs scratch */
	void *scratch;                /* run: scratch_bytes of 64-byte-aligned memory */
	char *err;                    /* message buffer for op_fail */
	size_t errlen;
	int needs_data; /* set by op_const_* when an input is not constant */
	/* Per-plan state an op derives once from its attributes (e.g. a tree
	 * ensemble's node index): infer() may set it to a flt_malloc'd block,
	 * which the plan then owns (freed with it, also if infer fails); run()
	 * sees the same block and must only read it. */
	void *state;
};

typedef flt_err (*op_infer_fn)(struct op_ctx *c);
typedef flt_err (*op_run_fn)(struct op_ctx *c);

/* Output depends only on input shapes (Shape, Size): fold at load even when
 * the input data is not constant. */
#define OP_SHAPE_ONLY 1u

struct op_backend {
	const char *domain; /* "" for ai.onnx */
	const char *op_type;
	int since, until; /* opset versions of `domain` this entry serves */
	unsigned flags;
	op_infer_fn infer;
	op_run_fn run;
};

/* ---- lookup (ops_table.c) ---- */

/* Returns the backend serving op_type in domain at opset, or NULL. */
const struct op_backend *op_find(const char *domain, const char *op_type, int64_t opset);
/* Iteration over every backend in table order; returns NULL past the end. */
const struct op_backend *op_at(size_t i);

/* ---- helpers for op files (ops_util.c) ---- */

__attribute__((format(printf, 3, 4))) flt_err op_fail(struct op_ctx *c, flt_err e, const char *fmt,
                                                      ...);
const struct onnx_attr *op_attr(const struct op_ctx *c, const char *name);
int64_t op_attr_int(const struct op_ctx *c, const char *name, int64_t def);
float op_attr_float(const struct op_ctx *c, const char *name, float def);
/* Returns the string attribute or def. */
const char *op_attr_str(const struct op_ctx *c, const char *name, const char *def);
/* Returns the ints attribute (borrowed) and its count, or NULL/0 if absent. */
const int64_t *op_attr_ints(const struct op_ctx *c, const char *name, size_t *n);
const float *op_attr_floats(const struct op_ctx *c, const char *name, size_t *n);

/* Input i if present (i < n_in and not absent), else NULL. */
struct rt_tensor *op_in(const struct op_ctx *c, size_t i);

/* Sets dtype/rank/dims/nelem, checking rank and overflow. */
FLT_WUR flt_err op_set_shape(struct op_ctx *c, struct rt_tensor *t, int32_t dtype, int32_t rank,
                             const int64_t *dims);
/* Copies dtype and shape of src into dst. */
FLT_WUR flt_err op_same_shape(struct op_ctx *c, struct rt_tensor *dst, const struct rt_tensor *src);

/* Normalises a possibly negative axis for a tensor of `rank` (extra_end lets
 * Unsqueeze-style ops address rank + extra positions). */
FLT_WUR flt_err op_axis(struct op_ctx *c, int64_t axis, int32_t rank, int64_t *out);

/* Reads a constant int64 (or int32) 1-D input i into dst (at most max
 * values). Fails if the input is not constant at plan time, setting
 * c->needs_data: the planner then treats the model as data-dependent and
 * evaluates it per run (see plan.h). */
FLT_WUR flt_err op_const_ints(struct op_ctx *c, size_t i, int64_t *dst, size_t max, size_t *n);
/* Reads a constant scalar float input; returns def when absent. */
FLT_WUR flt_err op_const_float(struct op_ctx *c, size_t i, float def, float *out);

/* Numpy-style multidirectional broadcast of a and b into out (rank = max). */
FLT_WUR flt_err op_broadcast(struct op_ctx *c, const struct rt_tensor *a, const struct rt_tensor *b,
                             int32_t *rank, int64_t *dims);

/* Row-major strides of t in elements, with stride 0 where the dim broadcast
 * from 1 up to out_dims (t right-aligned against out_rank). */
void op_bcast_strides(const struct rt_tensor *t, int32_t out_rank, const int64_t *out_dims,
                      size_t *strides);

/* C = alpha * op(A) * op(B) + beta * C, row-major, lda/ldb/ldc leading dims.
 * Cache-blocked, no allocation. (ops_gemm.c) */
void op_sgemm(int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha, const float *a,
              size_t lda, const float *b, size_t ldb, float beta, float *c, size_t ldc);

/* Geometry of a sliding window over N-d spatial dims (Conv and the pools):
 * kernel, strides, dilations, pads (explicit or auto_pad), output sizes. */
#define OP_MAX_SPATIAL (FLT_RT_MAX_RANK - 2)
struct conv_geom {
	int nsp; /* spatial dims */
	int64_t in[OP_MAX_SPATIAL], out[OP_MAX_SPATIAL], k[OP_MAX_SPATIAL];
	int64_t stride[OP_MAX_SPATIAL], dil[OP_MAX_SPATIAL], pad0[OP_MAX_SPATIAL];
	int64_t group;
	size_t kprod, oprod, iprod;
	int64_t pad1[OP_MAX_SPATIAL]; /* end padding (explicit or from auto_pad) */
};
/* x is N x C x spatial...; ceil_mode only for pools. (ops_conv.c) */
FLT_WUR flt_err op_conv_geometry(struct op_ctx *c, const struct rt_tensor *x, const int64_t *kernel,
                                 int nsp, int ceil_mode, struct conv_geom *g);

/* ---- the op families (each in ops_<family>.c, listed in ops_table.c) ---- */

extern const struct op_backend ops_elementwise[];
extern const size_t ops_elementwise_count;
extern const struct op_backend ops_shape[];
extern const size_t ops_shape_count;
extern const struct op_backend ops_nn[];
extern const size_t ops_nn_count;
extern const struct op_backend ops_conv[];
extern const size_t ops_conv_count;
extern const struct op_backend ops_pool[];
extern const size_t ops_pool_count;
extern const struct op_backend ops_reduce[];
extern const size_t ops_reduce_count;
extern const struct op_backend ops_convtranspose[];
extern const size_t ops_convtranspose_count;
extern const struct op_backend ops_resize[];
extern const size_t ops_resize_count;
extern const struct op_backend ops_norm[];
extern const size_t ops_norm_count;
extern const struct op_backend ops_expand[];
extern const size_t ops_expand_count;
extern const struct op_backend ops_math[];
extern const size_t ops_math_count;
extern const struct op_backend ops_ml_linear[];
extern const size_t ops_ml_linear_count;
extern const struct op_backend ops_ml_tree[];
extern const size_t ops_ml_tree_count;
extern const struct op_backend ops_ml_misc[];
extern const size_t ops_ml_misc_count;

#endif
