/* ONNX reader: walks the protobuf wire format of ModelProto directly (field
 * numbers from onnx.proto) and checks every length, count and index, so a
 * truncated or hostile file is an FLT_EPARSE with a reason, never a crash. */
#include <stdarg.h>
#include <stdalign.h>
#include <stdio.h>
#include <string.h>

#include "flt/alloc.h"
#include "onnx.h"

/* Bounds on what a real model needs; anything larger is treated as corrupt. */
#define MAX_DIMS_LIST 64
#define MAX_ARRAY     (1u << 24)

struct pb {
	const uint8_t *p, *end;
};

struct pb_field {
	uint32_t num;
	int wt;
	uint64_t v;          /* varint / fixed value */
	const uint8_t *data; /* wire type 2 */
	size_t len;
};

struct rd {
	char *err;
	size_t errlen;
};

__attribute__((format(printf, 2, 3))) static flt_err rd_fail(struct rd *r, const char *fmt, ...)
{
	if (r->err && r->errlen && !r->err[0]) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(r->err, r->errlen, fmt, ap);
		va_end(ap);
	}
	return FLT_EPARSE;
}

static flt_err rd_nomem(struct rd *r)
{
	if (r->err && r->errlen && !r->err[0])
		snprintf(r->err, r->errlen, "out of memory reading the model");
	return FLT_ENOMEM;
}

static int pb_varint(struct pb *b, uint64_t *v)
{
	uint64_t x = 0;
	for (int shift = 0; shift < 64; shift += 7) {
		if (b->p >= b->end)
			return -1;
		uint8_t c = *b->p++;
		x |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80)) {
			*v = x;
			return 0;
		}
	}
	return -1;
}

/* Returns 1 with the next field, 0 at the end, -1 if malformed. */
static int pb_next(struct pb *b, struct pb_field *f)
{
	uint64_t key;
	if (b->p >= b->end)
		return 0;
	if (pb_varint(b, &key) < 0)
		return -1;
	if ((key >> 3) == 0 || (key >> 3) > 0x1fffffff)
		return -1;
	f->num = (uint32_t)(key >> 3);
	f->wt = (int)(key & 7);
	f->data = NULL;
	f->len = 0;
	f->v = 0;
	switch (f->wt) {
	case 0: return pb_varint(b, &f->v) < 0 ? -1 : 1;
	case 1:
		if (b->end - b->p < 8)
			return -1;
		for (int i = 7; i >= 0; i--)
			f->v = (f->v << 8) | b->p[i];
		b->p += 8;
		return 1;
	case 5:
		if (b->end - b->p < 4)
			return -1;
		f->v = (uint32_t)b->p[0] | (uint32_t)b->p[1] << 8 | (uint32_t)b->p[2] << 16 |
		       (uint32_t)b->p[3] << 24;
		b->p += 4;
		return 1;
	case 2: {
		uint64_t n;
		if (pb_varint(b, &n) < 0)
			return -1;
		if (n > (uint64_t)(b->end - b->p))
			return -1;
		f->data = b->p;
		f->len = (size_t)n;
		b->p += n;
		return 1;
	}
	default: return -1; /* groups are not used by ONNX */
	}
}

static char *dup_str(const struct pb_field *f)
{
	if (f->wt != 2)
		return NULL;
	return flt_strndup((const char *)f->data, f->len);
}

static flt_err set_str(struct rd *r, char **dst, const struct pb_field *f, const char *what)
{
	if (f->wt != 2)
		return rd_fail(r, "%s: wrong wire type", what);
	char *s = dup_str(f);
	if (!s)
		return rd_nomem(r);
	if (strlen(s) != f->len) {
		flt_free(s);
		return rd_fail(r, "%s: embedded NUL in string", what);
	}
	flt_free(*dst);
	*dst = s;
	return FLT_OK;
}

/* Appends one element to a growable array (cap doubles). */
static flt_err grow(struct rd *r, void **arr, size_t *n, size_t *cap, size_t elem)
{
	if (*n < *cap)
		return FLT_OK;
	if (*n >= MAX_ARRAY)
		return rd_fail(r, "too many elements in a repeated field");
	size_t nc = *cap ? *cap * 2 : 4;
	void *p = flt_reallocarray(*arr, nc, elem);
	if (!p)
		return rd_nomem(r);
	memset((char *)p + *cap * elem, 0, (nc - *cap) * elem);
	*arr = p;
	*cap = nc;
	return FLT_OK;
}

static flt_err push_str(struct rd *r, char ***arr, size_t *n, size_t *cap, const struct pb_field *f,
                        const char *what)
{
	flt_err e = grow(r, (void **)arr, n, cap, sizeof(char *));
	if (e)
		return e;
	e = set_str(r, &(*arr)[*n], f, what);
	if (e)
		return e;
	(*n)++;
	return FLT_OK;
}

/* Repeated scalar (packed or not) decoded into a growable array of int64 or float. */
static flt_err push_ints(struct rd *r, int64_t **arr, size_t *n, size_t *cap,
                         const struct pb_field *f, const char *what)
{
	flt_err e;
	if (f->wt == 0) {
		if ((e = grow(r, (void **)arr, n, cap, sizeof(int64_t))))
			return e;
		(*arr)[(*n)++] = (int64_t)f->v;
		return FLT_OK;
	}
	if (f->wt != 2)
		return rd_fail(r, "%s: wrong wire type", what);
	struct pb b = {f->data, f->data + f->len};
	while (b.p < b.end) {
		uint64_t v;
		if (pb_varint(&b, &v) < 0)
			return rd_fail(r, "%s: truncated packed varint", what);
		if ((e = grow(r, (void **)arr, n, cap, sizeof(int64_t))))
			return e;
		(*arr)[(*n)++] = (int64_t)v;
	}
	return FLT_OK;
}

static float f32_from_bits(uint32_t u)
{
	float x;
	memcpy(&x, &u, 4);
	return x;
}

static flt_err push_floats(struct rd *r, float **arr, size_t *n, size_t *cap,
                           const struct pb_field *f, const char *what)
{
	flt_err e;
	if (f->wt == 5) {
		if ((e = grow(r, (void **)arr, n, cap, sizeof(float))))
			return e;
		(*arr)[(*n)++] = f32_from_bits((uint32_t)f->v);
		return FLT_OK;
	}
	if (f->wt != 2 || f->len % 4)
		return rd_fail(r, "%s: wrong wire type or length", what);
	size_t k = f->len / 4;
	for (size_t i = 0; i < k; i++) {
		uint32_t u;
		memcpy(&u, f->data + 4 * i, 4);
		if ((e = grow(r, (void **)arr, n, cap, sizeof(float))))
			return e;
		(*arr)[(*n)++] = f32_from_bits(u); /* little-endian hosts only (all targets) */
	}
	return FLT_OK;
}

static flt_err push_doubles(struct rd *r, double **arr, size_t *n, size_t *cap,
                            const struct pb_field *f, const char *what)
{
	flt_err e;
	if (f->wt == 1) {
		if ((e = grow(r, (void **)arr, n, cap, sizeof(double))))
			return e;
		memcpy(&(*arr)[(*n)++], &f->v, 8);
		return FLT_OK;
	}
	if (f->wt != 2 || f->len % 8)
		return rd_fail(r, "%s: wrong wire type or length", what);
	for (size_t i = 0; i < f->len / 8; i++) {
		if ((e = grow(r, (void **)arr, n, cap, sizeof(double))))
			return e;
		memcpy(&(*arr)[(*n)++], f->data + 8 * i, 8);
	}
	return FLT_OK;
}

size_t onnx_dtype_size(int32_t dtype)
{
	switch (dtype) {
	case ONNX_FLOAT:
	case ONNX_INT32:
	case ONNX_UINT32: return 4;
	case ONNX_UINT8:
	case ONNX_INT8:
	case ONNX_BOOL: return 1;
	case ONNX_UINT16:
	case ONNX_INT16:
	case ONNX_FLOAT16:
	case ONNX_BFLOAT16: return 2;
	case ONNX_INT64:
	case ONNX_DOUBLE:
	case ONNX_UINT64:
	case ONNX_COMPLEX64: return 8;
	case ONNX_COMPLEX128: return 16;
	default: return 0;
	}
}

const char *onnx_dtype_name(int32_t dtype)
{
	static const char *names[] = {"undefined",  "float",   "uint8",  "int8",   "uint16",
	                              "int16",      "int32",   "int64",  "string", "bool",
	                              "float16",    "double",  "uint32", "uint64", "complex64",
	                              "complex128", "bfloat16"};
	if (dtype >= 0 && dtype < (int32_t)(sizeof(names) / sizeof(names[0])))
		return names[dtype];
	return "unknown";
}

static size_t dtype_align(int32_t dtype)
{
	switch (onnx_dtype_size(dtype)) {
	case 8:
	case 16: return alignof(int64_t) > alignof(double) ? alignof(int64_t) : alignof(double);
	case 4: return alignof(float);
	case 2: return alignof(uint16_t);
	default: return 1;
	}
}

void onnx_tensor_free(struct onnx_tensor *t)
{
	if (!t)
		return;
	flt_free(t->name);
	if (t->owned)
		flt_free(t->data);
	flt_free(t);
}

static void tensor_clear(struct onnx_tensor *t)
{
	flt_free(t->name);
	if (t->owned)
		flt_free(t->data);
	memset(t, 0, sizeof(*t));
}

/* Parses a TensorProto into t. With copy_all, data never points into the
 * buffer (standalone tensor files are freed after reading). */
static flt_err read_tensor(struct rd *r, const uint8_t *p, size_t len, struct onnx_tensor *t,
                           int copy_all)
{
	struct pb b = {p, p + len};
	struct pb_field f;
	int rc;
	flt_err e = FLT_OK;
	int64_t *dims = NULL, *i64 = NULL;
	size_t n_dims = 0, c_dims = 0, n_i64 = 0, c_i64 = 0;
	float *f32 = NULL;
	size_t n_f32 = 0, c_f32 = 0;
	double *f64 = NULL;
	size_t n_f64 = 0, c_f64 = 0;
	const uint8_t *raw = NULL;
	size_t raw_len = 0;
	int has_raw = 0, n_strings = 0;

	memset(t, 0, sizeof(*t));
	while ((rc = pb_next(&b, &f)) > 0) {
		switch (f.num) {
		case 1: e = push_ints(r, &dims, &n_dims, &c_dims, &f, "tensor dims"); break;
		case 2:
			if (f.wt != 0)
				e = rd_fail(r, "tensor data_type: wrong wire type");
			t->dtype = (int32_t)f.v;
			break;
		case 4: e = push_floats(r, &f32, &n_f32, &c_f32, &f, "tensor float_data"); break;
		case 5: /* int32_data also carries int8/16, uint8/16, bool, float16 */
		case 7:
		case 11: e = push_ints(r, &i64, &n_i64, &c_i64, &f, "tensor int data"); break;
		case 6: n_strings++; break;
		case 8: e = set_str(r, &t->name, &f, "tensor name"); break;
		case 9:
			if (f.wt != 2)
				e = rd_fail(r, "tensor raw_data: wrong wire type");
			raw = f.data;
			raw_len = f.len;
			has_raw = 1;
			break;
		case 10: e = push_doubles(r, &f64, &n_f64, &c_f64, &f, "tensor double_data"); break;
		case 13: break; /* external_data entries: the location flag below refuses them */
		case 14:
			if (f.v == 1)
				t->external = 1;
			break;
		default: break;
		}
		if (e)
			goto out;
	}
	if (rc < 0) {
		e = rd_fail(r, "truncated or corrupt TensorProto");
		goto out;
	}
	if (!t->name && !(t->name = flt_strdup(""))) {
		e = rd_nomem(r);
		goto out;
	}
	if (n_dims > FLT_RT_MAX_RANK) {
		e = rd_fail(r, "tensor '%s' has rank %zu (at most %d supported)", t->name, n_dims,
		            FLT_RT_MAX_RANK);
		goto out;
	}
	t->rank = (int32_t)n_dims;
	uint64_t nel = 1;
	for (size_t i = 0; i < n_dims; i++) {
		if (dims[i] < 0 || (dims[i] > 0 && nel > (UINT64_MAX >> 1) / (uint64_t)dims[i])) {
			e = rd_fail(r, "tensor '%s' has a bad dimension", t->name);
			goto out;
		}
		t->dims[i] = dims[i];
		nel *= (uint64_t)dims[i];
	}
	size_t es = onnx_dtype_size(t->dtype);
	if (t->dtype == ONNX_STRING || t->external || es == 0) {
		/* No data is decoded: such tensors cannot be run but still analyse. */
		if (nel > SIZE_MAX) {
			e = rd_fail(r, "tensor '%s' too large", t->name);
			goto out;
		}
		t->nelem = (size_t)nel;
		(void)n_strings;
		goto out;
	}
	if (nel > SIZE_MAX / es) {
		e = rd_fail(r, "tensor '%s' too large for this platform", t->name);
		goto out;
	}
	t->nelem = (size_t)nel;
	t->nbytes = t->nelem * es;
	if (has_raw) {
		if (raw_len != t->nbytes) {
			e = rd_fail(r, "tensor '%s': raw_data has %zu bytes, %zu expected", t->name,
			            raw_len, t->nbytes);
			goto out;
		}
		if (!copy_all && t->nbytes && ((uintptr_t)raw % dtype_align(t->dtype)) == 0) {
			t->data = (void *)(uintptr_t)raw; /* borrowed, used in place */
		} else {
			t->data = flt_malloc(t->nbytes);
			if (!t->data) {
				e = rd_nomem(r);
				goto out;
			}
			if (t->nbytes)
				memcpy(t->data, raw, t->nbytes);
			t->owned = 1;
		}
		goto out;
	}
	/* count before allocating: the dims alone must not size an allocation */
	size_t have = t->dtype == ONNX_FLOAT ? n_f32 : t->dtype == ONNX_DOUBLE ? n_f64 : n_i64;
	if (t->dtype == ONNX_COMPLEX64)
		have = n_f32 / 2;
	if (have != t->nelem) {
		e = rd_fail(r, "tensor '%s': %zu values for %zu elements", t->name, have, t->nelem);
		goto out;
	}
	t->data = flt_malloc(t->nbytes);
	if (!t->data) {
		e = rd_nomem(r);
		goto out;
	}
	t->owned = 1;
	for (size_t i = 0; i < t->nelem; i++) {
		char *d = (char *)t->data + i * es;
		switch (t->dtype) {
		case ONNX_FLOAT: memcpy(d, &f32[i], 4); break;
		case ONNX_DOUBLE: memcpy(d, &f64[i], 8); break;
		case ONNX_COMPLEX64: memcpy(d, &f32[2 * i], 8); break;
		case ONNX_INT64:
		case ONNX_UINT64: memcpy(d, &i64[i], 8); break;
		case ONNX_INT32:
		case ONNX_UINT32: {
			uint32_t u = (uint32_t)i64[i];
			memcpy(d, &u, 4);
			break;
		}
		case ONNX_INT16:
		case ONNX_UINT16:
		case ONNX_FLOAT16:
		case ONNX_BFLOAT16: {
			uint16_t u = (uint16_t)i64[i];
			memcpy(d, &u, 2);
			break;
		}
		case ONNX_INT8:
		case ONNX_UINT8:
		case ONNX_BOOL: *(uint8_t *)d = (uint8_t)i64[i]; break;
		default:
			e = rd_fail(r, "tensor '%s': unsupported data type %d", t->name,
			            (int)t->dtype);
			goto out;
		}
	}
out:
	flt_free(dims);
	flt_free(i64);
	flt_free(f32);
	flt_free(f64);
	if (e)
		tensor_clear(t);
	return e;
}

void onnx_value_info_clear(struct flt_rt_value_info *vi)
{
	flt_free(vi->name);
	for (int i = 0; i < FLT_RT_MAX_RANK; i++)
		flt_free(vi->dim_params[i]);
	memset(vi, 0, sizeof(*vi));
}

static flt_err read_shape(struct rd *r, const uint8_t *p, size_t len, struct flt_rt_value_info *vi)
{
	struct pb b = {p, p + len};
	struct pb_field f;
	int rc;
	flt_err e = FLT_OK;
	vi->rank = 0;
	while ((rc = pb_next(&b, &f)) > 0) {
		if (f.num != 1)
			continue;
		if (f.wt != 2)
			return rd_fail(r, "shape dim: wrong wire type");
		if (vi->rank >= FLT_RT_MAX_RANK)
			return rd_fail(r, "value '%s' has rank > %d", vi->name ? vi->name : "",
			               FLT_RT_MAX_RANK);
		int k = vi->rank++;
		vi->dims[k] = -1;
		struct pb db = {f.data, f.data + f.len};
		struct pb_field df;
		int drc;
		while ((drc = pb_next(&db, &df)) > 0) {
			if (df.num == 1 && df.wt == 0)
				vi->dims[k] = (int64_t)df.v < 0 ? -1 : (int64_t)df.v;
			else if (df.num == 2 &&
			         (e = set_str(r, &vi->dim_params[k], &df, "dim_param")))
				return e;
		}
		if (drc < 0)
			return rd_fail(r, "corrupt shape dimension");
	}
	if (rc < 0)
		return rd_fail(r, "corrupt TensorShapeProto");
	return FLT_OK;
}

static flt_err read_value_info(struct rd *r, const uint8_t *p, size_t len,
                               struct flt_rt_value_info *vi)
{
	struct pb b = {p, p + len};
	struct pb_field f;
	int rc;
	flt_err e = FLT_OK;
	memset(vi, 0, sizeof(*vi));
	vi->rank = -1;
	while ((rc = pb_next(&b, &f)) > 0) {
		if (f.num == 1) {
			if ((e = set_str(r, &vi->name, &f, "value name")))
				goto out;
		} else if (f.num == 2 && f.wt == 2) {
			/* TypeProto: only tensor_type (1) is kept; others leave dtype 0. */
			struct pb tb = {f.data, f.data + f.len};
			struct pb_field tf;
			int trc;
			while ((trc = pb_next(&tb, &tf)) > 0) {
				if (tf.num != 1 || tf.wt != 2)
					continue;
				struct pb xb = {tf.data, tf.data + tf.len};
				struct pb_field xf;
				int xrc;
				while ((xrc = pb_next(&xb, &xf)) > 0) {
					if (xf.num == 1 && xf.wt == 0)
						vi->dtype = (int32_t)xf.v;
					else if (xf.num == 2 && xf.wt == 2 &&
					         (e = read_shape(r, xf.data, xf.len, vi)))
						goto out;
				}
				if (xrc < 0) {
					e = rd_fail(r, "corrupt TypeProto.Tensor");
					goto out;
				}
			}
			if (trc < 0) {
				e = rd_fail(r, "corrupt TypeProto");
				goto out;
			}
		}
	}
	if (rc < 0)
		e = rd_fail(r, "corrupt ValueInfoProto");
	if (!e && !vi->name && !(vi->name = flt_strdup("")))
		e = rd_nomem(r);
out:
	if (e)
		onnx_value_info_clear(vi);
	return e;
}

static void attr_clear(struct onnx_attr *a)
{
	flt_free(a->name);
	flt_free(a->s);
	flt_free(a->floats);
	flt_free(a->ints);
	for (size_t i = 0; i < a->n_strings; i++)
		flt_free(a->strings[i]);
	flt_free(a->strings);
	onnx_tensor_free(a->t);
	memset(a, 0, sizeof(*a));
}

static flt_err read_attr(struct rd *r, const uint8_t *p, size_t len, struct onnx_attr *a)
{
	struct pb b = {p, p + len};
	struct pb_field f;
	int rc;
	flt_err e = FLT_OK;
	size_t c_f = 0, c_i = 0, c_s = 0;
	memset(a, 0, sizeof(*a));
	while ((rc = pb_next(&b, &f)) > 0) {
		switch (f.num) {
		case 1: e = set_str(r, &a->name, &f, "attribute name"); break;
		case 20: a->type = (int32_t)f.v; break;
		case 2:
			if (f.wt != 5)
				e = rd_fail(r, "attribute f: wrong wire type");
			a->f = f32_from_bits((uint32_t)f.v);
			break;
		case 3: a->i = (int64_t)f.v; break;
		case 4:
			if (f.wt != 2) {
				e = rd_fail(r, "attribute s: wrong wire type");
				break;
			}
			flt_free(a->s);
			if (!(a->s = flt_strndup((const char *)f.data, f.len)))
				e = rd_nomem(r);
			a->s_len = f.len;
			break;
		case 5:
			if (f.wt != 2) {
				e = rd_fail(r, "attribute t: wrong wire type");
				break;
			}
			onnx_tensor_free(a->t);
			a->t = flt_calloc(1, sizeof(*a->t));
			if (!a->t) {
				e = rd_nomem(r);
				break;
			}
			if ((e = read_tensor(r, f.data, f.len, a->t, 0))) {
				flt_free(a->t);
				a->t = NULL;
			}
			break;
		case 7:
			e = push_floats(r, &a->floats, &a->n_floats, &c_f, &f, "attribute floats");
			break;
		case 8: e = push_ints(r, &a->ints, &a->n_ints, &c_i, &f, "attribute ints"); break;
		case 9:
			e = push_str(r, &a->strings, &a->n_strings, &c_s, &f, "attribute strings");
			break;
		default: break; /* graphs, sparse tensors: not used by supported ops */
		}
		if (e)
			goto out;
	}
	if (rc < 0)
		e = rd_fail(r, "corrupt AttributeProto");
	if (!e && !a->name)
		e = rd_fail(r, "attribute without a name");
	/* Pre-IR-3 files leave type unset: infer it from what is present. */
	if (!e && a->type == ONNX_ATTR_UNDEFINED) {
		if (a->t)
			a->type = ONNX_ATTR_TENSOR;
		else if (a->n_floats)
			a->type = ONNX_ATTR_FLOATS;
		else if (a->n_ints)
			a->type = ONNX_ATTR_INTS;
		else if (a->s)
			a->type = ONNX_ATTR_STRING;
		else if (a->n_strings)
			a->type = ONNX_ATTR_STRINGS;
	}
out:
	if (e)
		attr_clear(a);
	return e;
}

static void node_clear(struct onnx_node *n)
{
	flt_free(n->name);
	flt_free(n->op_type);
	flt_free(n->domain);
	for (size_t i = 0; i < n->n_inputs; i++)
		flt_free(n->inputs[i]);
	flt_free(n->inputs);
	for (size_t i = 0; i < n->n_outputs; i++)
		flt_free(n->outputs[i]);
	flt_free(n->outputs);
	for (size_t i = 0; i < n->n_attrs; i++)
		attr_clear(&n->attrs[i]);
	flt_free(n->attrs);
	memset(n, 0, sizeof(*n));
}

static flt_err read_node(struct rd *r, const uint8_t *p, size_t len, struct onnx_node *n)
{
	struct pb b = {p, p + len};
	struct pb_field f;
	int rc;
	flt_err e = FLT_OK;
	size_t c_in = 0, c_out = 0, c_at = 0;
	memset(n, 0, sizeof(*n));
	while ((rc = pb_next(&b, &f)) > 0) {
		switch (f.num) {
		case 1: e = push_str(r, &n->inputs, &n->n_inputs, &c_in, &f, "node input"); break;
		case 2:
			e = push_str(r, &n->outputs, &n->n_outputs, &c_out, &f, "node output");
			break;
		case 3: e = set_str(r, &n->name, &f, "node name"); break;
		case 4: e = set_str(r, &n->op_type, &f, "node op_type"); break;
		case 7: e = set_str(r, &n->domain, &f, "node domain"); break;
		case 5:
			if (f.wt != 2) {
				e = rd_fail(r, "node attribute: wrong wire type");
				break;
			}
			if ((e = grow(r, (void **)&n->attrs, &n->n_attrs, &c_at,
			              sizeof(*n->attrs))))
				break;
			if ((e = read_attr(r, f.data, f.len, &n->attrs[n->n_attrs])))
				break;
			n->n_attrs++;
			break;
		default: break;
		}
		if (e)
			goto out;
	}
	if (rc < 0)
		e = rd_fail(r, "corrupt NodeProto");
	if (!e && !n->op_type)
		e = rd_fail(r, "node without op_type");
	if (!e && !n->name && !(n->name = flt_strdup("")))
		e = rd_nomem(r);
	if (!e && n->domain && !strcmp(n->domain, "ai.onnx")) {
		n->domain[0] = 0;
	}
	if (!e && !n->domain && !(n->domain = flt_strdup("")))
		e = rd_nomem(r);
out:
	if (e)
		node_clear(n);
	return e;
}

static flt_err read_graph(struct rd *r, const uint8_t *p, size_t len, struct onnx_model *m)
{
	struct pb b = {p, p + len};
	struct pb_field f;
	int rc;
	flt_err e = FLT_OK;
	size_t c_nodes = 0, c_inits = 0, c_in = 0, c_out = 0;
	while ((rc = pb_next(&b, &f)) > 0) {
		if (f.wt != 2)
			continue;
		switch (f.num) {
		case 1:
			if ((e = grow(r, (void **)&m->nodes, &m->n_nodes, &c_nodes,
			              sizeof(*m->nodes))))
				return e;
			if ((e = read_node(r, f.data, f.len, &m->nodes[m->n_nodes])))
				return e;
			m->n_nodes++;
			break;
		case 5:
			if ((e = grow(r, (void **)&m->inits, &m->n_inits, &c_inits,
			              sizeof(*m->inits))))
				return e;
			if ((e = read_tensor(r, f.data, f.len, &m->inits[m->n_inits], 0)))
				return e;
			m->n_inits++;
			break;
		case 11:
			if ((e = grow(r, (void **)&m->inputs, &m->n_inputs, &c_in,
			              sizeof(*m->inputs))))
				return e;
			if ((e = read_value_info(r, f.data, f.len, &m->inputs[m->n_inputs])))
				return e;
			m->n_inputs++;
			break;
		case 12:
			if ((e = grow(r, (void **)&m->outputs, &m->n_outputs, &c_out,
			              sizeof(*m->outputs))))
				return e;
			if ((e = read_value_info(r, f.data, f.len, &m->outputs[m->n_outputs])))
				return e;
			m->n_outputs++;
			break;
		default: break; /* value_info, sparse initializers, annotations */
		}
	}
	if (rc < 0)
		return rd_fail(r, "corrupt GraphProto");
	return FLT_OK;
}

void onnx_model_free(struct onnx_model *m)
{
	if (!m)
		return;
	flt_free(m->producer);
	for (size_t i = 0; i < m->n_opsets; i++)
		flt_free(m->opsets[i].domain);
	flt_free(m->opsets);
	for (size_t i = 0; i < m->n_nodes; i++)
		node_clear(&m->nodes[i]);
	flt_free(m->nodes);
	for (size_t i = 0; i < m->n_inits; i++)
		tensor_clear(&m->inits[i]);
	flt_free(m->inits);
	for (size_t i = 0; i < m->n_inputs; i++)
		onnx_value_info_clear(&m->inputs[i]);
	flt_free(m->inputs);
	for (size_t i = 0; i < m->n_outputs; i++)
		onnx_value_info_clear(&m->outputs[i]);
	flt_free(m->outputs);
	flt_free(m);
}

flt_err onnx_read_model(const void *buf, size_t len, struct onnx_model **out, char *err,
                        size_t errlen)
{
	struct rd r = {err, errlen};
	struct onnx_model *m = NULL;
	struct pb b = {buf, (const uint8_t *)buf + len};
	struct pb_field f;
	int rc, have_graph = 0, have_ir = 0;
	size_t c_ops = 0;
	flt_err e = FLT_OK;

	if (err && errlen)
		err[0] = 0;
	if (!buf && len) {
		e = rd_fail(&r, "no model bytes");
		goto out;
	}
	if (!(m = flt_calloc(1, sizeof(*m)))) {
		e = rd_nomem(&r);
		goto out;
	}
	while ((rc = pb_next(&b, &f)) > 0) {
		switch (f.num) {
		case 1:
			if (f.wt != 0) {
				e = rd_fail(&r, "ir_version: wrong wire type");
				goto out;
			}
			m->ir_version = (int64_t)f.v;
			have_ir = 1;
			break;
		case 2:
			if ((e = set_str(&r, &m->producer, &f, "producer_name")))
				goto out;
			break;
		case 7:
			if (f.wt != 2) {
				e = rd_fail(&r, "graph: wrong wire type");
				goto out;
			}
			if (have_graph) {
				e = rd_fail(&r, "more than one graph");
				goto out;
			}
			have_graph = 1;
			if ((e = read_graph(&r, f.data, f.len, m)))
				goto out;
			break;
		case 8: {
			if (f.wt != 2) {
				e = rd_fail(&r, "opset_import: wrong wire type");
				goto out;
			}
			if ((e = grow(&r, (void **)&m->opsets, &m->n_opsets, &c_ops,
			              sizeof(*m->opsets))))
				goto out;
			struct flt_rt_opset *o = &m->opsets[m->n_opsets++]; /* owned from here */
			struct pb ob = {f.data, f.data + f.len};
			struct pb_field of;
			int orc;
			while ((orc = pb_next(&ob, &of)) > 0) {
				if (of.num == 1 &&
				    (e = set_str(&r, &o->domain, &of, "opset domain")))
					goto out;
				if (of.num == 2 && of.wt == 0)
					o->version = (int64_t)of.v;
			}
			if (orc < 0) {
				e = rd_fail(&r, "corrupt OperatorSetIdProto");
				goto out;
			}
			if (!o->domain && !(o->domain = flt_strdup(""))) {
				e = rd_nomem(&r);
				goto out;
			}
			if (!strcmp(o->domain, "ai.onnx"))
				o->domain[0] = 0;
			break;
		}
		case 25: m->has_functions = 1; break;
		default: break;
		}
	}
	if (rc < 0) {
		e = rd_fail(&r, "truncated or corrupt ModelProto");
		goto out;
	}
	if (!have_ir || !have_graph) {
		e = rd_fail(&r, "not an ONNX model (no %s)", have_ir ? "graph" : "ir_version");
		goto out;
	}
	if (!m->producer && !(m->producer = flt_strdup(""))) {
		e = rd_nomem(&r);
		goto out;
	}
	/* IR < 3 had no opset_import: such models are opset 1. */
	if (m->n_opsets == 0) {
		if (!(m->opsets = flt_calloc(1, sizeof(*m->opsets))) ||
		    !(m->opsets[0].domain = flt_strdup(""))) {
			e = rd_nomem(&r);
			goto out;
		}
		m->opsets[0].version = 1;
		m->n_opsets = 1;
	}
	*out = m;
	m = NULL;
out:
	onnx_model_free(m);
	return e;
}

flt_err onnx_read_tensor(const void *buf, size_t len, struct onnx_tensor **out, char *err,
                         size_t errlen)
{
	struct rd r = {err, errlen};
	struct onnx_tensor *t;
	flt_err e;
	if (err && errlen)
		err[0] = 0;
	if (!(t = flt_calloc(1, sizeof(*t))))
		return rd_nomem(&r);
	if ((e = read_tensor(&r, buf, len, t, 1))) {
		flt_free(t);
		return e;
	}
	if (t->dtype == ONNX_UNDEFINED || t->external) {
		onnx_tensor_free(t);
		return rd_fail(&r, "not a TensorProto with data");
	}
	*out = t;
	return FLT_OK;
}

int64_t onnx_model_opset(const struct onnx_model *m, const char *domain)
{
	if (!strcmp(domain, "ai.onnx"))
		domain = "";
	for (size_t i = 0; i < m->n_opsets; i++)
		if (!strcmp(m->opsets[i].domain, domain))
			return m->opsets[i].version;
	return 0;
}

/* ---- writer: just enough protobuf for output_N.pb ------------------------- */

static size_t put_varint(uint8_t *p, uint64_t v)
{
	size_t n = 0;
	do {
		uint8_t c = v & 0x7f;
		v >>= 7;
		p[n++] = c | (v ? 0x80 : 0);
	} while (v);
	return n;
}

flt_err onnx_write_tensor(const char *name, int32_t dtype, int32_t rank, const int64_t *dims,
                          const void *data, size_t nbytes, uint8_t **out, size_t *out_len)
{
	size_t nlen = name ? strlen(name) : 0;
	if (rank < 0 || rank > FLT_RT_MAX_RANK || nbytes > SIZE_MAX - 256 - nlen)
		return FLT_EINVAL;
	size_t cap = 11 * (size_t)(rank + 2) + 16 + nlen + nbytes + 16;
	uint8_t *p = flt_malloc(cap);
	if (!p)
		return FLT_ENOMEM;
	size_t n = 0;
	for (int i = 0; i < rank; i++) {
		p[n++] = (1 << 3) | 0;
		n += put_varint(p + n, (uint64_t)dims[i]);
	}
	p[n++] = (2 << 3) | 0;
	n += put_varint(p + n, (uint64_t)dtype);
	if (nlen) {
		p[n++] = (8 << 3) | 2;
		n += put_varint(p + n, nlen);
		memcpy(p + n, name, nlen);
		n += nlen;
	}
	p[n++] = (9 << 3) | 2;
	n += put_varint(p + n, nbytes);
	if (nbytes)
		memcpy(p + n, data, nbytes);
	n += nbytes;
	*out = p;
	*out_len = n;
	return FLT_OK;
}
