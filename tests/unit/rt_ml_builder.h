/* Test helper on top of rt_builder.h for ONNX-ML graphs: node domains, float
 * / string / tensor attributes and a model that imports ai.onnx.ml as well.
 * Header-only, tests only. */
#ifndef FLT_TEST_RT_ML_BUILDER_H
#define FLT_TEST_RT_ML_BUILDER_H

#include "rt_builder.h"

/* Puts the current node in `domain` (e.g. "ai.onnx.ml"). */
static inline void tb_domain(struct tb *t, const char *domain)
{
	pbw_str(&t->node, 7, domain);
}

static inline void tb_attr_floats(struct tb *t, const char *name, size_t n, const float *v)
{
	struct pbw a = {0};
	pbw_str(&a, 1, name);
	for (size_t i = 0; i < n; i++) {
		uint32_t u;
		memcpy(&u, &v[i], 4);
		uint8_t le[4] = {(uint8_t)u, (uint8_t)(u >> 8), (uint8_t)(u >> 16),
		                 (uint8_t)(u >> 24)};
		pbw_tag(&a, 7, 5);
		pbw_put(&a, le, 4);
	}
	pbw_int(&a, 20, 6);
	pbw_msg(&t->node, 5, &a);
}

/* strs is a comma-separated list. */
static inline void tb_attr_strings(struct tb *t, const char *name, const char *strs)
{
	struct pbw a = {0};
	pbw_str(&a, 1, name);
	for (const char *s = strs; s && *s;) {
		const char *e = strchr(s, ',');
		size_t n = e ? (size_t)(e - s) : strlen(s);
		pbw_bytes(&a, 9, s, n);
		s = e ? e + 1 : NULL;
	}
	pbw_int(&a, 20, 8);
	pbw_msg(&t->node, 5, &a);
}

/* A 1-D double tensor attribute (ai.onnx.ml 3's *_as_tensor), raw little-endian. */
static inline void tb_attr_doubles(struct tb *t, const char *name, size_t n, const double *v)
{
	struct pbw a = {0}, tw = {0};
	int64_t dims[1] = {(int64_t)n};
	uint8_t *raw = malloc(n * 8 + 1);
	if (!raw)
		abort();
	for (size_t i = 0; i < n; i++) {
		uint64_t u;
		memcpy(&u, &v[i], 8);
		for (int k = 0; k < 8; k++)
			raw[i * 8 + (size_t)k] = (uint8_t)(u >> (8 * k));
	}
	tb_tensor(&tw, NULL, 11, 1, dims, raw, n * 8);
	free(raw);
	pbw_str(&a, 1, name);
	pbw_msg(&a, 5, &tw);
	pbw_int(&a, 20, 4);
	pbw_msg(&t->node, 5, &a);
}

/* As tb_finish, importing ai.onnx.ml at ml_opset as well. */
static inline uint8_t *tb_finish_ml(struct tb *t, int64_t ml_opset, size_t *len)
{
	struct pbw m = {0}, os = {0}, ml = {0};
	tb_flush(t);
	pbw_int(&m, 1, t->ir);
	pbw_str(&m, 2, "rt_ml_builder");
	pbw_str(&t->graph, 2, "g");
	pbw_msg(&m, 7, &t->graph);
	pbw_str(&os, 1, "");
	pbw_int(&os, 2, t->opset);
	pbw_msg(&m, 8, &os);
	pbw_str(&ml, 1, "ai.onnx.ml");
	pbw_int(&ml, 2, ml_opset);
	pbw_msg(&m, 8, &ml);
	*len = m.n;
	return m.b;
}

#endif
