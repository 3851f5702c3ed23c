/* Test helper: builds small ONNX ModelProto bytes in memory (protobuf wire
 * format written by hand), so runtime tests can make models the conformance
 * data lacks. Header-only; aborts on allocation failure (tests only). */
#ifndef FLT_TEST_RT_BUILDER_H
#define FLT_TEST_RT_BUILDER_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct pbw {
	uint8_t *b;
	size_t n, cap;
};

static inline void pbw_put(struct pbw *w, const void *p, size_t n)
{
	if (w->n + n > w->cap) {
		size_t nc = w->cap ? w->cap : 256;
		while (nc < w->n + n)
			nc *= 2;
		w->b = realloc(w->b, nc);
		if (!w->b)
			abort();
		w->cap = nc;
	}
	if (n)
		memcpy(w->b + w->n, p, n);
	w->n += n;
}

static inline void pbw_varint(struct pbw *w, uint64_t v)
{
	uint8_t t[10];
	size_t n = 0;
	do {
		t[n] = v & 0x7f;
		v >>= 7;
		if (v)
			t[n] |= 0x80;
		n++;
	} while (v);
	pbw_put(w, t, n);
}

static inline void pbw_tag(struct pbw *w, uint32_t field, int wt)
{
	pbw_varint(w, ((uint64_t)field << 3) | (uint64_t)wt);
}

static inline void pbw_int(struct pbw *w, uint32_t field, int64_t v)
{
	pbw_tag(w, field, 0);
	pbw_varint(w, (uint64_t)v);
}

static inline void pbw_bytes(struct pbw *w, uint32_t field, const void *p, size_t n)
{
	pbw_tag(w, field, 2);
	pbw_varint(w, n);
	pbw_put(w, p, n);
}

static inline void pbw_str(struct pbw *w, uint32_t field, const char *s)
{
	pbw_bytes(w, field, s, strlen(s));
}

static inline void pbw_msg(struct pbw *w, uint32_t field, struct pbw *sub)
{
	pbw_bytes(w, field, sub->b, sub->n);
	free(sub->b);
	memset(sub, 0, sizeof(*sub));
}

struct tb {
	struct pbw graph, node;
	int in_node;
	int64_t opset;
	int64_t ir;
};

static inline void tb_flush(struct tb *t)
{
	if (t->in_node) {
		pbw_msg(&t->graph, 1, &t->node);
		t->in_node = 0;
	}
}

static inline void tb_init(struct tb *t, int64_t opset)
{
	memset(t, 0, sizeof(*t));
	t->opset = opset;
	t->ir = opset >= 15 ? 8 : 7;
}

/* dims[i] < 0 makes a symbolic dimension named "N". */
static inline void tb_value(struct tb *t, uint32_t field, const char *name, int32_t dtype,
                            int32_t rank, const int64_t *dims)
{
	struct pbw vi = {0}, tp = {0}, tt = {0}, sh = {0};
	tb_flush(t);
	for (int32_t i = 0; i < rank; i++) {
		struct pbw d = {0};
		if (dims[i] < 0)
			pbw_str(&d, 2, "N");
		else
			pbw_int(&d, 1, dims[i]);
		pbw_msg(&sh, 1, &d);
	}
	pbw_int(&tt, 1, dtype);
	if (rank >= 0)
		pbw_msg(&tt, 2, &sh);
	pbw_msg(&tp, 1, &tt);
	pbw_str(&vi, 1, name);
	pbw_msg(&vi, 2, &tp);
	pbw_msg(&t->graph, field, &vi);
	free(sh.b);
}

static inline void tb_input(struct tb *t, const char *name, int32_t dtype, int32_t rank,
                            const int64_t *dims)
{
	tb_value(t, 11, name, dtype, rank, dims);
}

static inline void tb_output(struct tb *t, const char *name, int32_t dtype)
{
	tb_value(t, 12, name, dtype, -1, NULL);
}

static inline void tb_tensor(struct pbw *w, const char *name, int32_t dtype, int32_t rank,
                             const int64_t *dims, const void *data, size_t nbytes)
{
	for (int32_t i = 0; i < rank; i++)
		pbw_int(w, 1, dims[i]);
	pbw_int(w, 2, dtype);
	if (name)
		pbw_str(w, 8, name);
	pbw_bytes(w, 9, data, nbytes);
}

static inline void tb_init_tensor(struct tb *t, const char *name, int32_t dtype, int32_t rank,
                                  const int64_t *dims, const void *data, size_t nbytes)
{
	struct pbw tw = {0};
	tb_flush(t);
	tb_tensor(&tw, name, dtype, rank, dims, data, nbytes);
	pbw_msg(&t->graph, 5, &tw);
}

/* inputs/outputs are comma-separated names; an empty name is an absent input. */
static inline void tb_node(struct tb *t, const char *op, const char *inputs, const char *outputs)
{
	tb_flush(t);
	t->in_node = 1;
	for (int pass = 0; pass < 2; pass++) {
		const char *s = pass ? outputs : inputs;
		while (s && *s) {
			const char *e = strchr(s, ',');
			size_t n = e ? (size_t)(e - s) : strlen(s);
			pbw_bytes(&t->node, pass ? 2 : 1, s, n);
			s = e ? e + 1 : NULL;
			if (e && !*s)
				pbw_bytes(&t->node, pass ? 2 : 1, "", 0);
		}
	}
	pbw_str(&t->node, 4, op);
}

/* Names the current node. */
static inline void tb_name(struct tb *t, const char *name)
{
	pbw_str(&t->node, 3, name);
}

static inline void tb_attr_i(struct tb *t, const char *name, int64_t v)
{
	struct pbw a = {0};
	pbw_str(&a, 1, name);
	pbw_int(&a, 3, v);
	pbw_int(&a, 20, 2);
	pbw_msg(&t->node, 5, &a);
}

static inline void tb_attr_f(struct tb *t, const char *name, float v)
{
	struct pbw a = {0};
	uint32_t u;
	memcpy(&u, &v, 4);
	pbw_str(&a, 1, name);
	pbw_tag(&a, 2, 5);
	uint8_t le[4] = {(uint8_t)u, (uint8_t)(u >> 8), (uint8_t)(u >> 16), (uint8_t)(u >> 24)};
	pbw_put(&a, le, 4);
	pbw_int(&a, 20, 1);
	pbw_msg(&t->node, 5, &a);
}

static inline void tb_attr_ints(struct tb *t, const char *name, size_t n, const int64_t *v)
{
	struct pbw a = {0};
	pbw_str(&a, 1, name);
	for (size_t i = 0; i < n; i++)
		pbw_int(&a, 8, v[i]);
	pbw_int(&a, 20, 7);
	pbw_msg(&t->node, 5, &a);
}

static inline void tb_attr_s(struct tb *t, const char *name, const char *s)
{
	struct pbw a = {0};
	pbw_str(&a, 1, name);
	pbw_str(&a, 4, s);
	pbw_int(&a, 20, 3);
	pbw_msg(&t->node, 5, &a);
}

/* Returns the ModelProto bytes (malloc'd; free with free()). */
static inline uint8_t *tb_finish(struct tb *t, size_t *len)
{
	struct pbw m = {0}, os = {0};
	tb_flush(t);
	pbw_int(&m, 1, t->ir);
	pbw_str(&m, 2, "rt_builder");
	pbw_str(&t->graph, 2, "g");
	pbw_msg(&m, 7, &t->graph);
	pbw_str(&os, 1, "");
	pbw_int(&os, 2, t->opset);
	pbw_msg(&m, 8, &os);
	*len = m.n;
	return m.b;
}

#endif
