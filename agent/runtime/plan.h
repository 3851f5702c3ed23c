/* The planner's data: values, steps in topological order, and one plan per
 * batch size (shapes, folded constants, arena offsets). Private to flt_runtime. */
#ifndef FLT_RT_PLAN_H
#define FLT_RT_PLAN_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "flt/atomicfile.h"
#include "onnx.h"
#include "ops/ops.h"

#define RT_NONE  UINT32_MAX
#define RT_ALIGN 64
/* Most bytes of constants folded at load (shape arithmetic needs a few KiB). */
#define RT_FOLD_LIMIT (64u << 20)

enum rt_kind { RT_COMPUTED = 0, RT_INIT, RT_INPUT };

struct rt_step {
	const struct op_backend *op;
	const struct onnx_node *node;
	int64_t opset;
	uint32_t *in, *out; /* value indices; RT_NONE for absent */
	size_t n_in, n_out;
};

struct rt_plan {
	uint32_t batch;
	struct rt_tensor *vals; /* shapes; data set for initializers and folded constants */
	size_t *off;            /* arena offset of computed values; SIZE_MAX if none */
	uint8_t *folded;        /* per step: 1 if computed at load */
	size_t *scratch_off;    /* per step */
	size_t *scratch_bytes;  /* per step */
	void **state;           /* per step: op_ctx.state from infer (also listed in owned) */
	void **owned;           /* folded data, flt_malloc'd */
	size_t n_owned;
	size_t arena_bytes;
};

struct rt_ctx {
	void *arena_raw;
	uint8_t *arena;
	struct rt_tensor *vals;
	struct rt_tensor **in_ptrs, **out_ptrs;
	struct rt_ctx *next_free;
};

struct flt_rt_model {
	struct onnx_model *onnx;
	struct flt_file_map map; /* flt_rt_model_load_file: the mapped model */

	size_t n_vals;
	const char **names; /* borrowed from onnx */
	uint8_t *kind;
	const struct onnx_tensor **init; /* per value, for RT_INIT */
	uint32_t *inputs;                /* caller-supplied graph inputs */
	size_t n_inputs;
	uint8_t *batched; /* per caller input: dim 0 is the batch */
	struct flt_rt_value_info *in_info;
	uint32_t *outputs;
	size_t n_outputs;
	struct flt_rt_value_info *out_info;

	struct rt_step *steps;
	size_t n_steps;
	size_t max_io; /* most inputs/outputs of any step */

	/* A model whose shapes depend on input values (a Reshape or Slice fed
	 * by a graph input; exporters fold these, operator tests do not) has
	 * no static plan: each run evaluates it by planning with the inputs
	 * bound, which allocates. */
	int dynamic;
	struct rt_plan *plans; /* plans[b - 1]; NULL when dynamic */
	uint32_t max_batch;
	size_t arena_bytes;

	struct rt_ctx *ctxs;
	size_t n_ctxs;
	struct rt_ctx *free_ctx;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int sync_init;
};

/* Builds the model's values, steps and plans from a parsed model (ownership
 * of onnx passes to the result, also on failure). Checks every operator
 * first and names all unsupported ones. Contexts are not created (analysis
 * needs none): see plan_make_contexts. */
FLT_WUR flt_err plan_build(struct onnx_model *onnx, uint32_t max_batch, struct flt_rt_model **out,
                           char *err, size_t errlen);

/* Lists the nodes without a backend as "Op (node name), ..." into buf;
 * returns how many. Also reports too-new opsets / IR versions. */
size_t plan_unsupported(const struct onnx_model *onnx, char *buf, size_t buflen);

/* Frees everything plan_build made (not onnx, map or contexts). */
void plan_free_all(struct flt_rt_model *m);

/* Plans batch `batch` with the caller's inputs bound as constants, so every
 * step folds; outputs are then constants of *p. For dynamic models. */
FLT_WUR flt_err plan_eval(struct flt_rt_model *m, struct rt_plan *p, uint32_t batch,
                          const struct flt_rt_tensor *inputs, char *err, size_t errlen);
void plan_release(struct rt_plan *p);
/* Expected tensor of caller input i at `batch` (shape and dtype only). */
FLT_WUR flt_err plan_input_shape(struct flt_rt_model *m, size_t i, uint32_t batch,
                                 struct rt_tensor *t, char *err, size_t errlen);

FLT_WUR flt_err plan_make_contexts(struct flt_rt_model *m, size_t n);

#endif
