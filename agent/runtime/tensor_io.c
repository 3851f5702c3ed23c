/* Tensor files: TensorProto decode/encode for the CLI, the conformance
 * runner and (later) golden test vectors. */
#include <string.h>

#include "flt/alloc.h"
#include "onnx.h"

flt_err flt_rt_tensor_decode(const void *buf, size_t len, struct flt_rt_tensor *out, char **name,
                             char *err, size_t errlen)
{
	struct onnx_tensor *t = NULL;
	flt_err e = onnx_read_tensor(buf, len, &t, err, errlen);
	if (e)
		return e;
	char *nm = NULL;
	if (name && !(nm = flt_strdup(t->name))) {
		onnx_tensor_free(t);
		return FLT_ENOMEM;
	}
	memset(out, 0, sizeof(*out));
	out->dtype = t->dtype;
	out->rank = t->rank;
	memcpy(out->dims, t->dims, sizeof(out->dims));
	out->size = t->nbytes;
	out->data = t->data; /* onnx_read_tensor copies everything for standalone files */
	t->data = NULL;
	t->owned = 0;
	onnx_tensor_free(t);
	if (!out->data && !(out->data = flt_malloc(1))) {
		flt_free(nm);
		return FLT_ENOMEM;
	}
	if (name)
		*name = nm;
	return FLT_OK;
}

flt_err flt_rt_tensor_encode(const char *name, const struct flt_rt_tensor *t, uint8_t **out,
                             size_t *out_len)
{
	return onnx_write_tensor(name, t->dtype, t->rank, t->dims, t->data, t->size, out, out_len);
}

void flt_rt_tensor_release(struct flt_rt_tensor *t)
{
	if (!t)
		return;
	flt_free(t->data);
	memset(t, 0, sizeof(*t));
}

size_t flt_rt_dtype_size(int32_t dtype)
{
	return onnx_dtype_size(dtype);
}

const char *flt_rt_dtype_name(int32_t dtype)
{
	return onnx_dtype_name(dtype);
}
