/* The ONNX model as the reader leaves it: a checked, owned copy of the parts of
 * ModelProto the runtime uses, with float/int64 initializer data pointing into
 * the caller's buffer when it is aligned there. Private to flt_runtime. */
#ifndef FLT_RT_ONNX_H
#define FLT_RT_ONNX_H

#include <stddef.h>
#include <stdint.h>

#include "flt/error.h"
#include "flt/runtime.h"

/* Newest IR version and ai.onnx opset this runtime implements. */
#define ONNX_IR_MAX    8
#define ONNX_OPSET_MAX 17

enum onnx_dtype {
	ONNX_UNDEFINED = 0,
	ONNX_FLOAT = 1,
	ONNX_UINT8 = 2,
	ONNX_INT8 = 3,
	ONNX_UINT16 = 4,
	ONNX_INT16 = 5,
	ONNX_INT32 = 6,
	ONNX_INT64 = 7,
	ONNX_STRING = 8,
	ONNX_BOOL = 9,
	ONNX_FLOAT16 = 10,
	ONNX_DOUBLE = 11,
	ONNX_UINT32 = 12,
	ONNX_UINT64 = 13,
	ONNX_COMPLEX64 = 14,
	ONNX_COMPLEX128 = 15,
	ONNX_BFLOAT16 = 16,
};

enum onnx_attr_type {
	ONNX_ATTR_UNDEFINED = 0,
	ONNX_ATTR_FLOAT = 1,
	ONNX_ATTR_INT = 2,
	ONNX_ATTR_STRING = 3,
	ONNX_ATTR_TENSOR = 4,
	ONNX_ATTR_GRAPH = 5,
	ONNX_ATTR_FLOATS = 6,
	ONNX_ATTR_INTS = 7,
	ONNX_ATTR_STRINGS = 8,
	ONNX_ATTR_TENSORS = 9,
	ONNX_ATTR_GRAPHS = 10,
	ONNX_ATTR_SPARSE_TENSOR = 11,
	ONNX_ATTR_SPARSE_TENSORS = 12,
	ONNX_ATTR_TYPE_PROTO = 13,
	ONNX_ATTR_TYPE_PROTOS = 14,
};

struct onnx_tensor {
	char *name; /* owned, "" if absent */
	int32_t dtype;
	int32_t rank;
	int64_t dims[FLT_RT_MAX_RANK];
	size_t nelem;
	size_t nbytes; /* nelem * element size; 0 for strings */
	void *data;    /* NULL for string/external data; else owned or borrowed */
	int owned;     /* data is flt_malloc'd (copied or converted) */
	int external;  /* data_location = EXTERNAL: not loadable */
};

struct onnx_attr {
	char *name; /* owned */
	int32_t type;
	float f;
	int64_t i;
	char *s; /* owned, NUL-terminated copy */
	size_t s_len;
	float *floats; /* owned */
	size_t n_floats;
	int64_t *ints; /* owned */
	size_t n_ints;
	char **strings; /* owned NUL-terminated copies (ONNX-ML labels, node modes) */
	size_t n_strings;
	struct onnx_tensor *t; /* owned */
};

struct onnx_node {
	char *name, *op_type, *domain; /* owned; domain "" for ai.onnx */
	char **inputs;                 /* owned; "" marks a missing optional input */
	size_t n_inputs;
	char **outputs;
	size_t n_outputs;
	struct onnx_attr *attrs;
	size_t n_attrs;
};

struct onnx_model {
	int64_t ir_version;
	char *producer;
	struct flt_rt_opset *opsets;
	size_t n_opsets;
	struct onnx_node *nodes;
	size_t n_nodes;
	struct onnx_tensor *inits;
	size_t n_inits;
	struct flt_rt_value_info *inputs; /* all graph inputs, initializers included */
	size_t n_inputs;
	struct flt_rt_value_info *outputs;
	size_t n_outputs;
	int has_functions; /* model-local functions present */
};

/* Parses a ModelProto. `buf` must outlive the model (initializers may point
 * into it). On failure writes a one-line reason to err (if errlen > 0).
 * Errors: FLT_EPARSE, FLT_ENOMEM. */
FLT_WUR flt_err onnx_read_model(const void *buf, size_t len, struct onnx_model **out, char *err,
                                size_t errlen);
void onnx_model_free(struct onnx_model *m);

/* Parses a standalone TensorProto (conformance input_N.pb). Data is always
 * owned by the result. Errors: FLT_EPARSE, FLT_ENOMEM. */
FLT_WUR flt_err onnx_read_tensor(const void *buf, size_t len, struct onnx_tensor **out, char *err,
                                 size_t errlen);
void onnx_tensor_free(struct onnx_tensor *t);

/* Serialises a tensor as a TensorProto with raw_data. *out is flt_malloc'd. */
FLT_WUR flt_err onnx_write_tensor(const char *name, int32_t dtype, int32_t rank,
                                  const int64_t *dims, const void *data, size_t nbytes,
                                  uint8_t **out, size_t *out_len);

/* Element size in bytes of an ONNX dtype; 0 if unknown or variable (string). */
size_t onnx_dtype_size(int32_t dtype);
const char *onnx_dtype_name(int32_t dtype);

/* Opset version the model imports for `domain` ("" and "ai.onnx" are the same); 0 if none. */
int64_t onnx_model_opset(const struct onnx_model *m, const char *domain);

void onnx_value_info_clear(struct flt_rt_value_info *vi);

#endif
