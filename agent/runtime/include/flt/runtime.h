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
	char *name;                          /* owned */
	int32_t dtype;                       /* ONNX elem type, 0 if unknown */
	int32_t rank;                        /* -1 if the shape is unknown */
	int64_t dims[FLT_RT_MAX_RANK];       /* -1 where symbolic or unknown */
	char *dim_params[FLT_RT_MAX_RANK];   /* owned; symbolic name or NULL */
};

struct flt_rt_opset {
	char *domain;    /* owned; "" for the default ai.onnx domain */
	int64_t version;
};

struct flt_rt_op_count {
	char *domain;    /* owned; "" for ai.onnx */
	char *op_type;   /* owned */
	uint32_t count;
	int supported;   /* 1 if this runtime implements it at the model's opset */
};

struct flt_rt_analysis {
	int64_t ir_version;
	char *producer;                      /* owned, may be "" */
	struct flt_rt_opset *opsets;         /* owned array */
	size_t n_opsets;
	struct flt_rt_op_count *ops;         /* owned array, sorted by domain, op_type */
	size_t n_ops;
	uint64_t param_count;                /* elements in initializers */
	uint64_t param_bytes;                /* bytes of initializer data */
	struct flt_rt_value_info *inputs;    /* graph inputs that are not initializers */
	size_t n_inputs;
	struct flt_rt_value_info *outputs;
	size_t n_outputs;
	int runnable;                        /* 1 if this runtime can load and run it */
	char *not_runnable_reason;           /* owned; NULL when runnable (e.g. "unsupported operators: Foo (node n3), ...") */
	int64_t peak_memory_bytes;           /* planned peak for batch 1; -1 if unknown */
};

/* Parses and analyses an ONNX model held in `buf` (borrowed for the call).
 * A model with unsupported operators or too-new opsets still analyses
 * (runnable = 0, reason set); only bytes that are not a parseable ONNX model
 * fail. On success *out is set to a new analysis owned by the caller.
 * Errors: FLT_EPARSE (not ONNX, truncated, corrupt), FLT_ENOMEM. */
FLT_WUR flt_err flt_rt_analyze(const void *buf, size_t len, struct flt_rt_analysis **out);

/* Frees an analysis; accepts NULL. */
void flt_rt_analysis_free(struct flt_rt_analysis *a);

#endif
