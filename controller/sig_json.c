/* Signature <-> JSON for the registry's signature_json column, kept symmetric
 * so `model diff` compares exactly what registration recorded. */
#include <string.h>

#include "flt/alloc.h"
#include "sig_json.h"

static const char *dtype_name(int32_t t)
{
	static const char *const n[] = {"undefined",  "float",   "uint8",  "int8",   "uint16",
	                                "int16",      "int32",   "int64",  "string", "bool",
	                                "float16",    "double",  "uint32", "uint64", "complex64",
	                                "complex128", "bfloat16"};
	return (t >= 0 && t < (int32_t)(sizeof(n) / sizeof(n[0]))) ? n[t] : "unknown";
}

cJSON *sig_json_encode(const struct flt_rt_value_info *v, size_t n)
{
	cJSON *arr = cJSON_CreateArray();
	if (!arr)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		cJSON *o = cJSON_CreateObject(), *shape;
		if (!o)
			goto fail;
		cJSON_AddItemToArray(arr, o);
		if (!cJSON_AddStringToObject(o, "name", v[i].name ? v[i].name : "") ||
		    !cJSON_AddNumberToObject(o, "dtype", v[i].dtype) ||
		    !cJSON_AddStringToObject(o, "type", dtype_name(v[i].dtype)))
			goto fail;
		if (v[i].rank < 0) {
			if (!cJSON_AddNullToObject(o, "shape"))
				goto fail;
			continue;
		}
		if (!(shape = cJSON_AddArrayToObject(o, "shape")))
			goto fail;
		for (int d = 0; d < v[i].rank && d < FLT_RT_MAX_RANK; d++) {
			cJSON *x;
			if (v[i].dim_params[d] && v[i].dim_params[d][0])
				x = cJSON_CreateString(v[i].dim_params[d]);
			else if (v[i].dims[d] >= 0)
				x = cJSON_CreateNumber((double)v[i].dims[d]);
			else
				x = cJSON_CreateNull();
			if (!x)
				goto fail;
			cJSON_AddItemToArray(shape, x);
		}
	}
	return arr;
fail:
	cJSON_Delete(arr);
	return NULL;
}

void sig_json_free(struct flt_rt_value_info *v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++) {
		flt_free(v[i].name);
		for (int d = 0; d < FLT_RT_MAX_RANK; d++)
			flt_free(v[i].dim_params[d]);
	}
	flt_free(v);
}

flt_err sig_json_decode(const cJSON *arr, struct flt_rt_value_info **out, size_t *n)
{
	if (!cJSON_IsArray(arr))
		return FLT_EPARSE;
	size_t cnt = (size_t)cJSON_GetArraySize(arr), i = 0;
	struct flt_rt_value_info *v = flt_calloc(cnt ? cnt : 1, sizeof(*v));
	flt_err e = FLT_EPARSE;
	if (!v)
		return FLT_ENOMEM;
	const cJSON *o;
	cJSON_ArrayForEach(o, arr)
	{
		const cJSON *name = cJSON_GetObjectItemCaseSensitive(o, "name");
		const cJSON *dt = cJSON_GetObjectItemCaseSensitive(o, "dtype");
		const cJSON *shape = cJSON_GetObjectItemCaseSensitive(o, "shape");
		if (!cJSON_IsString(name) || !cJSON_IsNumber(dt))
			goto out;
		if (!(v[i].name = flt_strdup(name->valuestring))) {
			e = FLT_ENOMEM;
			goto out;
		}
		v[i].dtype = (int32_t)dt->valuedouble;
		for (int d = 0; d < FLT_RT_MAX_RANK; d++)
			v[i].dims[d] = -1;
		if (!shape || cJSON_IsNull(shape)) {
			v[i].rank = -1;
		} else {
			if (!cJSON_IsArray(shape) || cJSON_GetArraySize(shape) > FLT_RT_MAX_RANK)
				goto out;
			int d = 0;
			const cJSON *x;
			cJSON_ArrayForEach(x, shape)
			{
				if (cJSON_IsNumber(x)) {
					v[i].dims[d] = (int64_t)x->valuedouble;
				} else if (cJSON_IsString(x)) {
					if (!(v[i].dim_params[d] = flt_strdup(x->valuestring))) {
						e = FLT_ENOMEM;
						goto out;
					}
				}
				d++;
			}
			v[i].rank = d;
		}
		i++;
	}
	*out = v;
	*n = cnt;
	return FLT_OK;
out:
	sig_json_free(v, cnt);
	return e;
}
