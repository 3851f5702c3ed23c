/* flt_runtime: a small ONNX runtime in C11 (reader, planner, kernels).
 * The agent links it to serve models; the controller links it to analyse them
 * at registration (flt_rt_analyze) without running anything. */
#ifndef FLT_RUNTIME_H
#define FLT_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#include "flt/error.h"

/* Returns the runtime's version string (static). */
const char *flt_runtime_version(void);

/* ---- analysis (no execution) -------------------------------------------- */

#define FLT_RT_MAX_RANK 8

/* ONNX TensorProto.DataType values (FLOAT=1, INT64=7, ...). */
struct flt_rt_value_info {
	char *name;                        /* owned */
	int32_t dtype;                     /* ONNX elem type, 0 if unknown */
	int32_t rank;                      /* -1 if the shape is unknown */
	int64_t dims[FLT_RT_MAX_RANK];     /* -1 where symbolic or unknown */
	char *dim_params[FLT_RT_MAX_RANK]; /* owned; symbolic name or NULL */
};

struct flt_rt_opset {
	char *domain; /* owned; "" for the default ai.onnx domain */
	int64_t version;
};

struct flt_rt_op_count {
	char *domain;  /* owned; "" for ai.onnx */
	char *op_type; /* owned */
	uint32_t count;
	int supported; /* 1 if this runtime implements it at the model's opset */
};

struct flt_rt_analysis {
	int64_t ir_version;
	char *producer;              /* owned, may be "" */
	struct flt_rt_opset *opsets; /* owned array */
	size_t n_opsets;
	struct flt_rt_op_count *ops; /* owned array, sorted by domain, op_type */
	size_t n_ops;
	uint64_t param_count;             /* elements in initializers */
	uint64_t param_bytes;             /* bytes of initializer data */
	struct flt_rt_value_info *inputs; /* graph inputs that are not initializers */
	size_t n_inputs;
	struct flt_rt_value_info *outputs; /* as declared (a missing type or shape filled
	                                    * from the batch-1 plan), except that a runnable model's
	                                    * string or sequence outputs (ONNX-ML labels,
	                                    * ZipMap) show the int64 / float tensor a run
	                                    * returns (agent/runtime/ops/ops_ml.h) */
	size_t n_outputs;
	int runnable;              /* 1 if this runtime can load and run it */
	char *not_runnable_reason; /* owned; NULL when runnable (e.g. "unsupported operators: Foo
	                              (node n3), ...") */
	int64_t peak_memory_bytes; /* planned peak for batch 1; -1 if unknown */
};

/* Parses and analyses an ONNX model held in `buf` (borrowed for the call).
 * A model with unsupported operators or too-new opsets still analyses
 * (runnable = 0, reason set); only bytes that are not a parseable ONNX model
 * fail. On success *out is set to a new analysis owned by the caller.
 * Errors: FLT_EPARSE (not ONNX, truncated, corrupt), FLT_ENOMEM. */
FLT_WUR flt_err flt_rt_analyze(const void *buf, size_t len, struct flt_rt_analysis **out);

/* Frees an analysis; accepts NULL. */
void flt_rt_analysis_free(struct flt_rt_analysis *a);

/* peak_memory_bytes is the activation arena of one run context at batch 1
 * (intermediate tensors and kernel scratch, with liveness-based reuse); the
 * weights are counted separately in param_bytes. It is -1 when the model is
 * not runnable or its shapes depend on input values (see
 * flt_rt_model_is_dynamic). */

/* ---- loading and running ------------------------------------------------- */

/* ONNX elem types the runtime computes with. */
#define FLT_RT_FLOAT 1
#define FLT_RT_INT64 7

/* A tensor crossing the API (and, later, the agent's socket protocol):
 * row-major, contiguous, little-endian. */
struct flt_rt_tensor {
	int32_t dtype; /* ONNX elem type (FLT_RT_FLOAT, FLT_RT_INT64, ...) */
	int32_t rank;  /* 0..FLT_RT_MAX_RANK */
	int64_t dims[FLT_RT_MAX_RANK];
	void *data;  /* borrowed */
	size_t size; /* bytes at data; for outputs the capacity on entry */
};

struct flt_rt_opts {
	uint32_t max_batch;       /* largest batch a run may use; 0 means 1 */
	uint32_t max_concurrency; /* run contexts (arenas) in the pool; 0 means 1 */
	size_t max_arena_bytes;   /* refuse plans needing a larger arena; 0: no limit */
};

/* A loaded model: one immutable plan per batch size shared by every thread,
 * and a bounded pool of run contexts, each with its own arena. */
struct flt_rt_model;

/* Loads an ONNX model from memory. `buf` is borrowed and must stay valid and
 * unchanged until flt_rt_model_free (aligned weights are used in place).
 * `opts` may be NULL. The batch dimension (dim 0 of each graph input, when it
 * is symbolic or 1) is planned for every batch 1..max_batch at load.
 * On failure a one-line reason is written to err (if errlen > 0), naming every
 * unsupported operator and its node.
 * Errors: FLT_EPARSE (corrupt), FLT_EUNSUPPORTED (operators, opsets, IR version,
 * data types or symbolic dimensions this runtime lacks), FLT_EINVAL (shapes
 * inconsistent), FLT_EINCOMPAT (max_batch > 1 but no input has a batch
 * dimension), FLT_ELIMIT (arena over max_arena_bytes, or more than 64 MiB of
 * constants to fold), FLT_ENOMEM. On success *out is owned by the caller. */
FLT_WUR flt_err flt_rt_model_load(const void *buf, size_t len, const struct flt_rt_opts *opts,
                                  struct flt_rt_model **out, char *err, size_t errlen);

/* As flt_rt_model_load, from a file the model maps (and owns) itself.
 * Extra error: FLT_EIO / FLT_ENOTFOUND when the file cannot be read. */
FLT_WUR flt_err flt_rt_model_load_file(const char *path, const struct flt_rt_opts *opts,
                                       struct flt_rt_model **out, char *err, size_t errlen);

/* Frees a model; accepts NULL. No run may be in progress. */
void flt_rt_model_free(struct flt_rt_model *m);

/* Graph inputs the caller supplies (initializers excluded) and graph outputs,
 * in graph order, with the shapes planned for batch 1 (borrowed from m). */
size_t flt_rt_model_n_inputs(const struct flt_rt_model *m);
const struct flt_rt_value_info *flt_rt_model_input(const struct flt_rt_model *m, size_t i);
size_t flt_rt_model_n_outputs(const struct flt_rt_model *m);
const struct flt_rt_value_info *flt_rt_model_output(const struct flt_rt_model *m, size_t i);
/* Largest byte size output i can have (at max_batch); 0 for a dynamic model. */
size_t flt_rt_model_output_bytes(const struct flt_rt_model *m, size_t i);
/* 1 if the model's shapes depend on input values (no static plan, no arena). */
int flt_rt_model_is_dynamic(const struct flt_rt_model *m);
uint32_t flt_rt_model_max_batch(const struct flt_rt_model *m);
/* Bytes of one run context's arena (the largest plan's peak). */
size_t flt_rt_model_arena_bytes(const struct flt_rt_model *m);

/* Runs the model: inputs in graph order (dtype and shape must match the plan
 * for the batch given by dim 0), outputs in graph order with caller-provided
 * buffers (data, size = capacity; flt_rt_model_output_bytes gives the size
 * needed); on success each output's dtype, rank, dims and size are set. An
 * output whose data is NULL is allocated by the run (flt_malloc; the caller
 * frees it with flt_free). Thread-safe: concurrent runs each take a context
 * from the pool, waiting if all are busy. With caller buffers a run
 * allocates nothing — except for a model whose shapes depend on input values
 * (flt_rt_model_is_dynamic), which is evaluated per run.
 * Errors: FLT_EINVAL (wrong count, dtype or shape; message in err),
 * FLT_ELIMIT (an output buffer is too small), FLT_ENOMEM, FLT_EINTERNAL. */
FLT_WUR flt_err flt_rt_run(struct flt_rt_model *m, const struct flt_rt_tensor *inputs,
                           size_t n_inputs, struct flt_rt_tensor *outputs, size_t n_outputs,
                           char *err, size_t errlen);

/* ---- tensor files (ONNX TensorProto, as the conformance data stores them) - */

/* Decodes a serialised TensorProto (raw_data or typed fields). On success
 * *out describes it with out->data flt_malloc'd and owned by the caller
 * (release with flt_rt_tensor_release), and *name (if name is non-NULL) is
 * a flt_malloc'd copy of the tensor's name. Only fixed-size element types.
 * Errors: FLT_EPARSE (with a reason in err), FLT_ENOMEM. */
FLT_WUR flt_err flt_rt_tensor_decode(const void *buf, size_t len, struct flt_rt_tensor *out,
                                     char **name, char *err, size_t errlen);

/* Encodes t as a TensorProto with raw_data; *out (flt_malloc'd, caller owns)
 * holds *out_len bytes. Errors: FLT_EINVAL, FLT_ENOMEM. */
FLT_WUR flt_err flt_rt_tensor_encode(const char *name, const struct flt_rt_tensor *t, uint8_t **out,
                                     size_t *out_len);

/* Frees data of a tensor from flt_rt_tensor_decode and clears it; accepts NULL. */
void flt_rt_tensor_release(struct flt_rt_tensor *t);

/* Bytes of one element of an ONNX elem type; 0 if unknown or variable. */
size_t flt_rt_dtype_size(int32_t dtype);
/* Lower-case name of an ONNX elem type ("float", "int64", ...); never NULL. */
const char *flt_rt_dtype_name(int32_t dtype);

/* ---- operator list (the agent reports it as a capability) ---------------- */

struct flt_rt_op_info {
	const char *domain;  /* static; "" for ai.onnx */
	const char *op_type; /* static */
	int since, until;    /* opset range */
};

/* Number of operator backends; flt_rt_op_get fills *info for i < count. */
size_t flt_rt_op_count(void);
void flt_rt_op_get(size_t i, struct flt_rt_op_info *info);

#endif
