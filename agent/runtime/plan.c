/* Planner: names to values, topological order, then one plan per batch size
 * with shape inference, constant folding and a liveness-based arena layout,
 * so a run only walks steps over memory reserved at load. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "flt/alloc.h"
#include "plan.h"

/* ---- name -> value index (open addressing, borrowed keys) ---------------- */

struct name_map {
	const char **keys;
	uint32_t *vals;
	size_t cap;
};

static uint32_t hash_str(const char *s)
{
	uint32_t h = 2166136261u;
	while (*s)
		h = (h ^ (uint8_t)*s++) * 16777619u;
	return h;
}

static flt_err map_init(struct name_map *m, size_t n)
{
	size_t cap = 16;
	while (cap < 2 * n + 1) {
		if (cap > SIZE_MAX / 4)
			return FLT_ENOMEM;
		cap *= 2;
	}
	m->keys = flt_calloc(cap, sizeof(*m->keys));
	m->vals = flt_calloc(cap, sizeof(*m->vals));
	m->cap = cap;
	return m->keys && m->vals ? FLT_OK : FLT_ENOMEM;
}

static void map_free(struct name_map *m)
{
	flt_free(m->keys);
	flt_free(m->vals);
}

static uint32_t map_get(const struct name_map *m, const char *k)
{
	for (size_t i = hash_str(k) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		if (!m->keys[i])
			return RT_NONE;
		if (!strcmp(m->keys[i], k))
			return m->vals[i];
	}
}

/* Returns 0, or -1 if the key exists already. */
static int map_put(struct name_map *m, const char *k, uint32_t v)
{
	for (size_t i = hash_str(k) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		if (!m->keys[i]) {
			m->keys[i] = k;
			m->vals[i] = v;
			return 0;
		}
		if (!strcmp(m->keys[i], k))
			return -1;
	}
}

/* ---- messages ----------------------------------------------------------- */

__attribute__((format(printf, 4, 5))) static flt_err fail(char *err, size_t errlen, flt_err e,
                                                          const char *fmt, ...)
{
	if (err && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return e;
}

static void append(char *buf, size_t buflen, size_t *used, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void append(char *buf, size_t buflen, size_t *used, const char *fmt, ...)
{
	if (!buf || *used >= buflen)
		return;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf + *used, buflen - *used, fmt, ap);
	va_end(ap);
	if (n > 0)
		*used += (size_t)n < buflen - *used ? (size_t)n : buflen - *used - 1;
}

size_t plan_unsupported(const struct onnx_model *onnx, char *buf, size_t buflen)
{
	size_t used = 0, count = 0;
	if (buf && buflen)
		buf[0] = 0;
	if (onnx->ir_version > ONNX_IR_MAX) {
		append(buf, buflen, &used, "IR version %lld is newer than this runtime's %d",
		       (long long)onnx->ir_version, ONNX_IR_MAX);
		count++;
	}
	int64_t v = onnx_model_opset(onnx, "");
	if (v > ONNX_OPSET_MAX) {
		append(buf, buflen, &used, "%sopset %lld is newer than this runtime's %d",
		       count ? "; " : "", (long long)v, ONNX_OPSET_MAX);
		count++;
	}
	size_t nops = 0;
	for (size_t i = 0; i < onnx->n_nodes; i++) {
		const struct onnx_node *n = &onnx->nodes[i];
		int64_t ov = onnx_model_opset(onnx, n->domain);
		if (op_find(n->domain, n->op_type, ov))
			continue;
		append(buf, buflen, &used, "%s%s%s%s%s (node '%s'%s)",
		       count ? (nops ? ", " : "; ") : "",
		       nops ? "" : "unsupported operators: ", n->domain, n->domain[0] ? "." : "",
		       n->op_type, n->name, ov ? "" : ", domain not imported");
		count++;
		nops++;
	}
	return count;
}

/* ---- building ----------------------------------------------------------- */

static void plan_clear(struct rt_plan *p)
{
	for (size_t i = 0; i < p->n_owned; i++)
		flt_free(p->owned[i]);
	flt_free(p->owned);
	flt_free(p->vals);
	flt_free(p->off);
	flt_free(p->folded);
	flt_free(p->scratch_off);
	flt_free(p->scratch_bytes);
	flt_free(p->state);
	memset(p, 0, sizeof(*p));
}

static size_t align_up(size_t n)
{
	return (n + RT_ALIGN - 1) & ~(size_t)(RT_ALIGN - 1);
}

/* First-fit allocator over a list of live blocks kept sorted by offset. */
struct blocks {
	size_t *off, *len;
	size_t n, cap, peak;
};

static flt_err blocks_alloc(struct blocks *b, size_t len, size_t *off)
{
	len = align_up(len ? len : 1);
	if (len == 0)
		return FLT_ELIMIT;
	size_t pos = 0, at = 0;
	for (at = 0; at < b->n; at++) {
		if (b->off[at] >= pos && b->off[at] - pos >= len)
			break;
		pos = b->off[at] + b->len[at];
	}
	if (pos > SIZE_MAX - len)
		return FLT_ELIMIT;
	if (b->n == b->cap) {
		size_t nc = b->cap ? b->cap * 2 : 16;
		size_t *no = flt_reallocarray(b->off, nc, sizeof(size_t));
		if (!no)
			return FLT_ENOMEM;
		b->off = no;
		size_t *nl = flt_reallocarray(b->len, nc, sizeof(size_t));
		if (!nl)
			return FLT_ENOMEM;
		b->len = nl;
		b->cap = nc;
	}
	memmove(&b->off[at + 1], &b->off[at], (b->n - at) * sizeof(size_t));
	memmove(&b->len[at + 1], &b->len[at], (b->n - at) * sizeof(size_t));
	b->off[at] = pos;
	b->len[at] = len;
	b->n++;
	if (pos + len > b->peak)
		b->peak = pos + len;
	*off = pos;
	return FLT_OK;
}

static void blocks_release(struct blocks *b, size_t off)
{
	for (size_t i = 0; i < b->n; i++) {
		if (b->off[i] == off) {
			memmove(&b->off[i], &b->off[i + 1], (b->n - i - 1) * sizeof(size_t));
			memmove(&b->len[i], &b->len[i + 1], (b->n - i - 1) * sizeof(size_t));
			b->n--;
			return;
		}
	}
}

static size_t tensor_bytes(const struct rt_tensor *t)
{
	return t->nelem * onnx_dtype_size(t->dtype);
}

flt_err plan_input_shape(struct flt_rt_model *m, size_t i, uint32_t batch, struct rt_tensor *t,
                         char *err, size_t errlen)
{
	const struct flt_rt_value_info *vi = &m->in_info[i];
	if (vi->dtype != ONNX_FLOAT && vi->dtype != ONNX_INT64)
		return fail(err, errlen, FLT_EUNSUPPORTED,
		            "graph input '%s' has type %s (float and int64 supported)", vi->name,
		            onnx_dtype_name(vi->dtype));
	if (vi->rank < 0)
		return fail(err, errlen, FLT_EUNSUPPORTED, "graph input '%s' has no shape",
		            vi->name);
	t->dtype = vi->dtype;
	t->rank = vi->rank;
	uint64_t n = 1;
	for (int32_t d = 0; d < vi->rank; d++) {
		int64_t v = vi->dims[d];
		if (d == 0 && m->batched[i])
			v = batch;
		if (v < 0)
			return fail(err, errlen, FLT_EUNSUPPORTED,
			            "graph input '%s' dimension %d ('%s') is symbolic; only the "
			            "batch dimension may be",
			            vi->name, (int)d, vi->dim_params[d] ? vi->dim_params[d] : "?");
		t->dims[d] = v;
		if (v && n > SIZE_MAX / 8 / (uint64_t)v)
			return fail(err, errlen, FLT_ELIMIT, "graph input '%s' too large",
			            vi->name);
		n *= (uint64_t)v;
	}
	t->nelem = (size_t)n;
	t->data = NULL;
	return FLT_OK;
}

static flt_err plan_one(struct flt_rt_model *m, struct rt_plan *p, uint32_t batch,
                        const struct flt_rt_tensor *bind, int *needs_data, char *err, size_t errlen)
{
	flt_err e = FLT_OK;
	uint32_t *last = NULL;
	struct blocks blk = {0};
	struct rt_tensor **inp = NULL, **outp = NULL;
	char msg[512];

	size_t folded_bytes = 0;
	p->batch = batch;
	p->vals = flt_calloc(m->n_vals, sizeof(*p->vals));
	p->off = flt_calloc(m->n_vals, sizeof(*p->off));
	p->folded = flt_calloc(m->n_steps + 1, 1);
	p->scratch_off = flt_calloc(m->n_steps + 1, sizeof(size_t));
	p->scratch_bytes = flt_calloc(m->n_steps + 1, sizeof(size_t));
	p->state = flt_calloc(m->n_steps + 1, sizeof(void *));
	p->owned = flt_calloc(m->n_vals + m->n_steps + 1, sizeof(void *));
	last = flt_calloc(m->n_vals, sizeof(*last));
	inp = flt_calloc(m->max_io + 1, sizeof(*inp));
	outp = flt_calloc(m->max_io + 1, sizeof(*outp));
	if (!p->vals || !p->off || !p->folded || !p->scratch_off || !p->scratch_bytes ||
	    !p->state || !p->owned || !last || !inp || !outp) {
		e = fail(err, errlen, FLT_ENOMEM, "out of memory planning the model");
		goto out;
	}
	for (size_t v = 0; v < m->n_vals; v++) {
		p->off[v] = SIZE_MAX;
		if (m->kind[v] == RT_INIT) {
			const struct onnx_tensor *it = m->init[v];
			struct rt_tensor *t = &p->vals[v];
			t->dtype = it->dtype;
			t->rank = it->rank;
			memcpy(t->dims, it->dims, sizeof(t->dims));
			t->nelem = it->nelem;
			t->data = it->data;
		}
	}
	for (size_t i = 0; i < m->n_inputs; i++) {
		if ((e = plan_input_shape(m, i, batch, &p->vals[m->inputs[i]], err, errlen)))
			goto out;
		if (bind)
			p->vals[m->inputs[i]].data = bind[i].data;
	}

	/* Shape inference and folding, in topological order. */
	for (size_t s = 0; s < m->n_steps; s++) {
		const struct rt_step *st = &m->steps[s];
		int all_const = 1;
		for (size_t k = 0; k < st->n_in; k++) {
			inp[k] = st->in[k] == RT_NONE ? NULL : &p->vals[st->in[k]];
			if (inp[k] && !inp[k]->data)
				all_const = 0;
			if (inp[k] && !onnx_dtype_size(inp[k]->dtype)) {
				e = fail(err, errlen, FLT_EUNSUPPORTED,
				         "node '%s' (%s): input '%s' has type %s", st->node->name,
				         st->node->op_type, st->node->inputs[k],
				         onnx_dtype_name(inp[k]->dtype));
				goto out;
			}
		}
		for (size_t k = 0; k < st->n_out; k++)
			outp[k] = st->out[k] == RT_NONE ? NULL : &p->vals[st->out[k]];
		msg[0] = 0;
		struct op_ctx c = {.node = st->node,
		                   .opset = st->opset,
		                   .n_in = st->n_in,
		                   .n_out = st->n_out,
		                   .in = inp,
		                   .out = outp,
		                   .err = msg,
		                   .errlen = sizeof(msg)};
		e = st->op->infer(&c);
		if (c.state) {
			/* owned at once, so every exit below frees it with the plan */
			p->owned[p->n_owned++] = c.state;
			p->state[s] = c.state;
		}
		if (e) {
			if (needs_data)
				*needs_data = c.needs_data;
			e = fail(err, errlen, e, "node '%s' (%s): %s", st->node->name,
			         st->node->op_type, msg[0] ? msg : flt_strerror(e));
			goto out;
		}
		for (size_t k = 0; k < st->n_out; k++)
			if (outp[k] && !outp[k]->dtype) {
				e = fail(err, errlen, FLT_EINTERNAL,
				         "node '%s' (%s): output %zu has no type", st->node->name,
				         st->node->op_type, k);
				goto out;
			}
		p->scratch_bytes[s] = c.scratch_bytes;
		if (!all_const && !(st->op->flags & OP_SHAPE_ONLY))
			continue;
		/* Fold: run now, keep the result as a constant of this plan. */
		void *scratch = NULL;
		if (c.scratch_bytes && !(scratch = flt_malloc(c.scratch_bytes))) {
			e = fail(err, errlen, FLT_ENOMEM, "out of memory folding constants");
			goto out;
		}
		for (size_t k = 0; k < st->n_out; k++) {
			if (!outp[k])
				continue;
			/* a hostile file must not make analysis allocate without bound */
			folded_bytes += tensor_bytes(outp[k]);
			if (!bind && folded_bytes > RT_FOLD_LIMIT) {
				flt_free(scratch);
				e = fail(err, errlen, FLT_ELIMIT,
				         "node '%s' (%s): constants folded at load exceed %u MiB",
				         st->node->name, st->node->op_type, RT_FOLD_LIMIT >> 20);
				goto out;
			}
			outp[k]->data = flt_malloc(tensor_bytes(outp[k]));
			if (!outp[k]->data) {
				flt_free(scratch);
				e = fail(err, errlen, FLT_ENOMEM,
				         "out of memory folding constants");
				goto out;
			}
			p->owned[p->n_owned++] = outp[k]->data;
		}
		c.scratch = scratch;
		e = st->op->run(&c);
		flt_free(scratch);
		if (e) {
			e = fail(err, errlen, e, "node '%s' (%s): %s", st->node->name,
			         st->node->op_type, msg[0] ? msg : flt_strerror(e));
			goto out;
		}
		p->folded[s] = 1;
	}

	/* Liveness: last step reading each value; graph outputs live to the end. */
	for (size_t v = 0; v < m->n_vals; v++)
		last[v] = RT_NONE;
	for (size_t s = 0; s < m->n_steps; s++) {
		if (p->folded[s])
			continue;
		for (size_t k = 0; k < m->steps[s].n_in; k++)
			if (m->steps[s].in[k] != RT_NONE)
				last[m->steps[s].in[k]] = (uint32_t)s;
		for (size_t k = 0; k < m->steps[s].n_out; k++)
			if (m->steps[s].out[k] != RT_NONE && last[m->steps[s].out[k]] == RT_NONE)
				last[m->steps[s].out[k]] = (uint32_t)s;
	}
	for (size_t i = 0; i < m->n_outputs; i++)
		last[m->outputs[i]] = (uint32_t)m->n_steps;

	for (size_t s = 0; s < m->n_steps; s++) {
		const struct rt_step *st = &m->steps[s];
		if (p->folded[s])
			continue;
		for (size_t k = 0; k < st->n_out; k++) {
			uint32_t v = st->out[k];
			if (v == RT_NONE)
				continue;
			if ((e = blocks_alloc(&blk, tensor_bytes(&p->vals[v]), &p->off[v]))) {
				e = fail(err, errlen, e, "arena layout failed");
				goto out;
			}
		}
		if (p->scratch_bytes[s] &&
		    (e = blocks_alloc(&blk, p->scratch_bytes[s], &p->scratch_off[s]))) {
			e = fail(err, errlen, e, "arena layout failed");
			goto out;
		}
		if (p->scratch_bytes[s])
			blocks_release(&blk, p->scratch_off[s]);
		for (size_t k = 0; k < st->n_in + st->n_out; k++) {
			uint32_t v = k < st->n_in ? st->in[k] : st->out[k - st->n_in];
			if (v == RT_NONE || last[v] != s || p->off[v] == SIZE_MAX)
				continue;
			if (m->kind[v] != RT_COMPUTED || p->vals[v].data)
				continue;
			blocks_release(&blk, p->off[v]);
			last[v] = RT_NONE; /* released once even if read twice */
		}
	}
	p->arena_bytes = blk.peak;
out:
	flt_free(last);
	flt_free(inp);
	flt_free(outp);
	flt_free(blk.off);
	flt_free(blk.len);
	return e;
}

static void free_steps(struct flt_rt_model *m)
{
	for (size_t s = 0; s < m->n_steps; s++) {
		flt_free(m->steps[s].in);
		flt_free(m->steps[s].out);
	}
	flt_free(m->steps);
	m->steps = NULL;
}

static flt_err copy_vi(struct flt_rt_value_info *dst, const struct flt_rt_value_info *src)
{
	memset(dst, 0, sizeof(*dst));
	*dst = *src;
	dst->name = flt_strdup(src->name);
	for (int i = 0; i < FLT_RT_MAX_RANK; i++)
		dst->dim_params[i] = src->dim_params[i] ? flt_strdup(src->dim_params[i]) : NULL;
	int ok = dst->name != NULL;
	for (int i = 0; i < FLT_RT_MAX_RANK; i++)
		if (src->dim_params[i] && !dst->dim_params[i])
			ok = 0;
	if (!ok) {
		onnx_value_info_clear(dst);
		return FLT_ENOMEM;
	}
	return FLT_OK;
}

void flt_rt_model_free(struct flt_rt_model *m);

flt_err plan_build(struct onnx_model *onnx, uint32_t max_batch, struct flt_rt_model **out,
                   char *err, size_t errlen)
{
	struct flt_rt_model *m = NULL;
	struct name_map map = {0};
	uint32_t *pending = NULL, *ready = NULL;
	uint32_t **consumers = NULL;
	size_t *n_cons = NULL, *producer = NULL, n_cons_len = 0;
	flt_err e = FLT_OK;

	if (err && errlen)
		err[0] = 0;
	if (max_batch == 0)
		max_batch = 1;
	if (!(m = flt_calloc(1, sizeof(*m)))) {
		onnx_model_free(onnx);
		return fail(err, errlen, FLT_ENOMEM, "out of memory");
	}
	m->onnx = onnx;
	if (plan_unsupported(onnx, err, errlen)) {
		e = FLT_EUNSUPPORTED;
		goto out;
	}
	if (onnx->has_functions) {
		e = fail(err, errlen, FLT_EUNSUPPORTED, "model-local functions are not supported");
		goto out;
	}

	/* Values: initializers, then caller inputs, then node outputs. */
	size_t nv = onnx->n_inits + onnx->n_inputs;
	for (size_t i = 0; i < onnx->n_nodes; i++) {
		if (onnx->nodes[i].n_outputs > SIZE_MAX / 2 - nv) {
			e = fail(err, errlen, FLT_ELIMIT, "too many values");
			goto out;
		}
		nv += onnx->nodes[i].n_outputs;
	}
	if (nv >= RT_NONE) {
		e = fail(err, errlen, FLT_ELIMIT, "too many values");
		goto out;
	}
	m->names = flt_calloc(nv + 1, sizeof(*m->names));
	m->kind = flt_calloc(nv + 1, 1);
	m->init = flt_calloc(nv + 1, sizeof(*m->init));
	m->inputs = flt_calloc(onnx->n_inputs + 1, sizeof(*m->inputs));
	m->batched = flt_calloc(onnx->n_inputs + 1, 1);
	m->in_info = flt_calloc(onnx->n_inputs + 1, sizeof(*m->in_info));
	m->outputs = flt_calloc(onnx->n_outputs + 1, sizeof(*m->outputs));
	m->out_info = flt_calloc(onnx->n_outputs + 1, sizeof(*m->out_info));
	m->steps = flt_calloc(onnx->n_nodes + 1, sizeof(*m->steps));
	if (!m->names || !m->kind || !m->init || !m->inputs || !m->batched || !m->in_info ||
	    !m->outputs || !m->out_info || !m->steps || map_init(&map, nv)) {
		e = fail(err, errlen, FLT_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < onnx->n_inits; i++) {
		const struct onnx_tensor *t = &onnx->inits[i];
		if (!t->name[0])
			continue;
		if (map_put(&map, t->name, (uint32_t)m->n_vals)) {
			e = fail(err, errlen, FLT_EINVAL, "initializer '%s' defined twice",
			         t->name);
			goto out;
		}
		if (t->external) {
			e = fail(err, errlen, FLT_EUNSUPPORTED,
			         "initializer '%s' uses external data", t->name);
			goto out;
		}
		m->names[m->n_vals] = t->name;
		m->kind[m->n_vals] = RT_INIT;
		m->init[m->n_vals] = t;
		m->n_vals++;
	}
	for (size_t i = 0; i < onnx->n_inputs; i++) {
		const struct flt_rt_value_info *vi = &onnx->inputs[i];
		if (map_get(&map, vi->name) != RT_NONE)
			continue; /* an input with an initializer: a constant here */
		if (!vi->name[0] || map_put(&map, vi->name, (uint32_t)m->n_vals)) {
			e = fail(err, errlen, FLT_EINVAL,
			         "graph input '%s' is unnamed or defined twice", vi->name);
			goto out;
		}
		if ((e = copy_vi(&m->in_info[m->n_inputs], vi))) {
			e = fail(err, errlen, e, "out of memory");
			goto out;
		}
		m->names[m->n_vals] = vi->name;
		m->kind[m->n_vals] = RT_INPUT;
		m->inputs[m->n_inputs] = (uint32_t)m->n_vals;
		/* dim 0 is the batch when symbolic, or when 1 and a larger batch is asked for */
		m->batched[m->n_inputs] =
		    vi->rank > 0 && (vi->dims[0] < 0 || (max_batch > 1 && vi->dims[0] == 1));
		if (m->batched[m->n_inputs])
			m->in_info[m->n_inputs].dims[0] = 1;
		m->n_inputs++;
		m->n_vals++;
	}
	for (size_t i = 0; i < onnx->n_nodes; i++) {
		const struct onnx_node *n = &onnx->nodes[i];
		for (size_t k = 0; k < n->n_outputs; k++) {
			if (!n->outputs[k][0])
				continue;
			if (map_put(&map, n->outputs[k], (uint32_t)m->n_vals)) {
				e = fail(err, errlen, FLT_EINVAL,
				         "node '%s' (%s): value '%s' defined twice", n->name,
				         n->op_type, n->outputs[k]);
				goto out;
			}
			m->names[m->n_vals] = n->outputs[k];
			m->kind[m->n_vals] = RT_COMPUTED;
			m->n_vals++;
		}
	}
	if (max_batch > 1) {
		int any = 0;
		for (size_t i = 0; i < m->n_inputs; i++)
			any |= m->batched[i];
		if (!any) {
			e = fail(err, errlen, FLT_EINCOMPAT,
			         "no graph input has a batch dimension");
			goto out;
		}
	}
	for (size_t i = 0; i < onnx->n_outputs; i++) {
		uint32_t v = map_get(&map, onnx->outputs[i].name);
		if (v == RT_NONE) {
			e = fail(err, errlen, FLT_EINVAL, "graph output '%s' is never produced",
			         onnx->outputs[i].name);
			goto out;
		}
		m->outputs[m->n_outputs] = v;
		if ((e = copy_vi(&m->out_info[m->n_outputs], &onnx->outputs[i]))) {
			e = fail(err, errlen, e, "out of memory");
			goto out;
		}
		m->n_outputs++;
	}

	/* Topological order (Kahn); ONNX requires sorted graphs but not every
	 * exporter complies, and a cycle must be refused, not looped over. */
	size_t nn = onnx->n_nodes;
	pending = flt_calloc(nn + 1, sizeof(*pending));
	ready = flt_calloc(nn + 1, sizeof(*ready));
	n_cons = flt_calloc(m->n_vals + 1, sizeof(*n_cons));
	consumers = flt_calloc(m->n_vals + 1, sizeof(*consumers));
	producer = flt_calloc(m->n_vals + 1, sizeof(*producer));
	if (!pending || !ready || !n_cons || !consumers || !producer) {
		e = fail(err, errlen, FLT_ENOMEM, "out of memory");
		goto out;
	}
	n_cons_len = m->n_vals;
	m->n_steps = nn; /* from here the step arrays are owned through m */
	for (size_t v = 0; v < m->n_vals; v++)
		producer[v] = SIZE_MAX;
	for (size_t i = 0; i < nn; i++) {
		const struct onnx_node *n = &onnx->nodes[i];
		struct rt_step *st = &m->steps[i];
		st->node = n;
		st->opset = onnx_model_opset(onnx, n->domain);
		st->op = op_find(n->domain, n->op_type, st->opset);
		st->n_in = n->n_inputs;
		st->n_out = n->n_outputs;
		if (n->n_inputs > m->max_io)
			m->max_io = n->n_inputs;
		if (n->n_outputs > m->max_io)
			m->max_io = n->n_outputs;
		st->in = flt_calloc(n->n_inputs + 1, sizeof(uint32_t));
		st->out = flt_calloc(n->n_outputs + 1, sizeof(uint32_t));
		if (!st->in || !st->out) {
			e = fail(err, errlen, FLT_ENOMEM, "out of memory");
			goto out;
		}
		for (size_t k = 0; k < n->n_outputs; k++) {
			st->out[k] = n->outputs[k][0] ? map_get(&map, n->outputs[k]) : RT_NONE;
			if (st->out[k] != RT_NONE)
				producer[st->out[k]] = i;
		}
	}
	for (size_t i = 0; i < nn; i++) {
		const struct onnx_node *n = &onnx->nodes[i];
		struct rt_step *st = &m->steps[i];
		for (size_t k = 0; k < n->n_inputs; k++) {
			if (!n->inputs[k][0]) {
				st->in[k] = RT_NONE;
				continue;
			}
			uint32_t v = map_get(&map, n->inputs[k]);
			if (v == RT_NONE) {
				e = fail(err, errlen, FLT_EINVAL,
				         "node '%s' (%s): input '%s' is never defined", n->name,
				         n->op_type, n->inputs[k]);
				goto out;
			}
			st->in[k] = v;
			if (producer[v] != SIZE_MAX) {
				pending[i]++;
				n_cons[v]++;
			}
		}
	}
	for (size_t v = 0; v < m->n_vals; v++) {
		if (n_cons[v] && !(consumers[v] = flt_calloc(n_cons[v], sizeof(uint32_t)))) {
			e = fail(err, errlen, FLT_ENOMEM, "out of memory");
			goto out;
		}
		n_cons[v] = 0;
	}
	for (size_t i = 0; i < nn; i++)
		for (size_t k = 0; k < m->steps[i].n_in; k++) {
			uint32_t v = m->steps[i].in[k];
			if (v != RT_NONE && producer[v] != SIZE_MAX)
				consumers[v][n_cons[v]++] = (uint32_t)i;
		}
	size_t head = 0, tail = 0;
	for (size_t i = 0; i < nn; i++)
		if (!pending[i])
			ready[tail++] = (uint32_t)i;
	struct rt_step *sorted = flt_calloc(nn + 1, sizeof(*sorted));
	if (!sorted) {
		e = fail(err, errlen, FLT_ENOMEM, "out of memory");
		goto out;
	}
	while (head < tail) {
		uint32_t i = ready[head];
		sorted[head++] = m->steps[i];
		for (size_t k = 0; k < m->steps[i].n_out; k++) {
			uint32_t v = m->steps[i].out[k];
			if (v == RT_NONE)
				continue;
			for (size_t c = 0; c < n_cons[v]; c++)
				if (--pending[consumers[v][c]] == 0)
					ready[tail++] = consumers[v][c];
		}
	}
	if (head != nn) {
		/* Steps keep their arrays in the unsorted copy; free those, not sorted's. */
		flt_free(sorted);
		e = fail(err, errlen, FLT_EINVAL, "the graph has a cycle");
		goto out;
	}
	flt_free(m->steps);
	m->steps = sorted;
	m->n_steps = nn;

	if (!(m->plans = flt_calloc(max_batch, sizeof(*m->plans)))) {
		e = fail(err, errlen, FLT_ENOMEM, "out of memory");
		goto out;
	}
	m->max_batch = max_batch;
	for (uint32_t b = 1; b <= max_batch; b++) {
		int needs_data = 0;
		if ((e = plan_one(m, &m->plans[b - 1], b, NULL, &needs_data, err, errlen))) {
			if (needs_data && b == 1) {
				/* shapes depend on input values: evaluate per run */
				for (uint32_t k = 0; k < max_batch; k++)
					plan_clear(&m->plans[k]);
				flt_free(m->plans);
				m->plans = NULL;
				m->dynamic = 1;
				m->arena_bytes = 0;
				if (err && errlen)
					err[0] = 0;
				e = FLT_OK;
				break;
			}
			if (b > 1 && err && errlen) {
				char tmp[512];
				snprintf(tmp, sizeof(tmp), "%s", err);
				snprintf(err, errlen, "at batch %u: %s", (unsigned)b, tmp);
			}
			goto out;
		}
		if (m->plans[b - 1].arena_bytes > m->arena_bytes)
			m->arena_bytes = m->plans[b - 1].arena_bytes;
	}
	/* Batch 1 shapes for the public input/output descriptions. */
	for (size_t i = 0; i < m->n_outputs && !m->dynamic; i++) {
		const struct rt_tensor *t = &m->plans[0].vals[m->outputs[i]];
		struct flt_rt_value_info *vi = &m->out_info[i];
		vi->dtype = t->dtype;
		vi->rank = t->rank;
		for (int32_t d = 0; d < t->rank; d++)
			vi->dims[d] = t->dims[d];
	}
	*out = m;
	m = NULL;
out:
	if (consumers)
		for (size_t v = 0; v < n_cons_len; v++)
			flt_free(consumers[v]);
	flt_free(consumers);
	flt_free(n_cons);
	flt_free(producer);
	flt_free(pending);
	flt_free(ready);
	map_free(&map);
	flt_rt_model_free(m);
	return e;
}

flt_err plan_eval(struct flt_rt_model *m, struct rt_plan *p, uint32_t batch,
                  const struct flt_rt_tensor *inputs, char *err, size_t errlen)
{
	memset(p, 0, sizeof(*p));
	flt_err e = plan_one(m, p, batch, inputs, NULL, err, errlen);
	if (e)
		plan_clear(p);
	return e;
}

void plan_release(struct rt_plan *p)
{
	plan_clear(p);
}

void plan_free_all(struct flt_rt_model *m)
{
	if (m->plans)
		for (uint32_t b = 0; b < m->max_batch; b++)
			plan_clear(&m->plans[b]);
	flt_free(m->plans);
	free_steps(m);
	for (size_t i = 0; i < m->n_inputs; i++)
		onnx_value_info_clear(&m->in_info[i]);
	for (size_t i = 0; i < m->n_outputs; i++)
		onnx_value_info_clear(&m->out_info[i]);
	flt_free(m->in_info);
	flt_free(m->out_info);
	flt_free(m->names);
	flt_free(m->kind);
	flt_free(m->init);
	flt_free(m->inputs);
	flt_free(m->batched);
	flt_free(m->outputs);
}
