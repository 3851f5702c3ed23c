/* Loading, the run-context pool and running: a run takes a context (arena +
 * value table) from the pool, walks the plan for its batch and copies the
 * outputs out. Nothing is allocated after load. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "flt/alloc.h"
#include "plan.h"

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

flt_err plan_make_contexts(struct flt_rt_model *m, size_t n)
{
	if (!(m->ctxs = flt_calloc(n, sizeof(*m->ctxs))))
		return FLT_ENOMEM;
	m->n_ctxs = n;
	for (size_t i = 0; i < n; i++) {
		struct rt_ctx *c = &m->ctxs[i];
		if (m->arena_bytes > SIZE_MAX - RT_ALIGN)
			return FLT_ENOMEM;
		c->arena_raw = flt_malloc(m->arena_bytes + RT_ALIGN);
		c->vals = flt_calloc(m->n_vals + 1, sizeof(*c->vals));
		c->in_ptrs = flt_calloc(m->max_io + 1, sizeof(*c->in_ptrs));
		c->out_ptrs = flt_calloc(m->max_io + 1, sizeof(*c->out_ptrs));
		if (!c->arena_raw || !c->vals || !c->in_ptrs || !c->out_ptrs)
			return FLT_ENOMEM;
		uintptr_t a = (uintptr_t)c->arena_raw;
		c->arena = (uint8_t *)c->arena_raw + ((RT_ALIGN - a % RT_ALIGN) % RT_ALIGN);
		c->next_free = m->free_ctx;
		m->free_ctx = c;
	}
	if (pthread_mutex_init(&m->lock, NULL))
		return FLT_ENOMEM;
	if (pthread_cond_init(&m->cond, NULL)) {
		pthread_mutex_destroy(&m->lock);
		return FLT_ENOMEM;
	}
	m->sync_init = 1;
	return FLT_OK;
}

void flt_rt_model_free(struct flt_rt_model *m)
{
	if (!m)
		return;
	if (m->sync_init) {
		pthread_mutex_destroy(&m->lock);
		pthread_cond_destroy(&m->cond);
	}
	for (size_t i = 0; i < m->n_ctxs; i++) {
		flt_free(m->ctxs[i].arena_raw);
		flt_free(m->ctxs[i].vals);
		flt_free(m->ctxs[i].in_ptrs);
		flt_free(m->ctxs[i].out_ptrs);
	}
	flt_free(m->ctxs);
	plan_free_all(m);
	onnx_model_free(m->onnx);
	flt_file_unmap(&m->map);
	flt_free(m);
}

flt_err flt_rt_model_load(const void *buf, size_t len, const struct flt_rt_opts *opts,
                          struct flt_rt_model **out, char *err, size_t errlen)
{
	struct onnx_model *onnx = NULL;
	struct flt_rt_model *m = NULL;
	uint32_t max_batch = opts && opts->max_batch ? opts->max_batch : 1;
	uint32_t conc = opts && opts->max_concurrency ? opts->max_concurrency : 1;
	flt_err e;

	if (max_batch > 4096 || conc > 1024)
		return fail(err, errlen, FLT_EINVAL, "max_batch or max_concurrency out of range");
	if ((e = onnx_read_model(buf, len, &onnx, err, errlen)))
		return e;
	if ((e = plan_build(onnx, max_batch, &m, err, errlen)))
		return e;
	if (opts && opts->max_arena_bytes && m->arena_bytes > opts->max_arena_bytes) {
		size_t need = m->arena_bytes;
		flt_rt_model_free(m);
		return fail(err, errlen, FLT_ELIMIT,
		            "the model needs a %zu-byte arena, limit is %zu", need,
		            opts->max_arena_bytes);
	}
	if ((e = plan_make_contexts(m, conc))) {
		size_t arena = m->arena_bytes;
		flt_rt_model_free(m);
		return fail(err, errlen, e, "out of memory for %u run contexts of %zu bytes",
		            (unsigned)conc, arena);
	}
	*out = m;
	return FLT_OK;
}

flt_err flt_rt_model_load_file(const char *path, const struct flt_rt_opts *opts,
                               struct flt_rt_model **out, char *err, size_t errlen)
{
	struct flt_file_map map = {0};
	struct flt_rt_model *m = NULL;
	flt_err e = flt_file_map(path, &map);
	if (e)
		return fail(err, errlen, e, "%s: %s", path, flt_strerror(e));
	if ((e = flt_rt_model_load(map.data, map.size, opts, &m, err, errlen))) {
		flt_file_unmap(&map);
		return e;
	}
	m->map = map; /* the model's initializers may point into the mapping */
	*out = m;
	return FLT_OK;
}

size_t flt_rt_model_n_inputs(const struct flt_rt_model *m)
{
	return m->n_inputs;
}

const struct flt_rt_value_info *flt_rt_model_input(const struct flt_rt_model *m, size_t i)
{
	return i < m->n_inputs ? &m->in_info[i] : NULL;
}

size_t flt_rt_model_n_outputs(const struct flt_rt_model *m)
{
	return m->n_outputs;
}

const struct flt_rt_value_info *flt_rt_model_output(const struct flt_rt_model *m, size_t i)
{
	return i < m->n_outputs ? &m->out_info[i] : NULL;
}

size_t flt_rt_model_output_bytes(const struct flt_rt_model *m, size_t i)
{
	size_t best = 0;
	if (i >= m->n_outputs || m->dynamic)
		return 0;
	for (uint32_t b = 0; b < m->max_batch; b++) {
		const struct rt_tensor *t = &m->plans[b].vals[m->outputs[i]];
		size_t n = t->nelem * onnx_dtype_size(t->dtype);
		if (n > best)
			best = n;
	}
	return best;
}

uint32_t flt_rt_model_max_batch(const struct flt_rt_model *m)
{
	return m->max_batch;
}

size_t flt_rt_model_arena_bytes(const struct flt_rt_model *m)
{
	return m->arena_bytes;
}

static struct rt_ctx *ctx_take(struct flt_rt_model *m)
{
	pthread_mutex_lock(&m->lock);
	while (!m->free_ctx)
		pthread_cond_wait(&m->cond, &m->lock);
	struct rt_ctx *c = m->free_ctx;
	m->free_ctx = c->next_free;
	pthread_mutex_unlock(&m->lock);
	return c;
}

static void ctx_give(struct flt_rt_model *m, struct rt_ctx *c)
{
	pthread_mutex_lock(&m->lock);
	c->next_free = m->free_ctx;
	m->free_ctx = c;
	pthread_cond_signal(&m->cond);
	pthread_mutex_unlock(&m->lock);
}

/* Picks the plan for the inputs' batch and checks every input against it. */
static flt_err pick_plan(struct flt_rt_model *m, const struct flt_rt_tensor *in,
                         const struct rt_plan **out, uint32_t *out_batch, char *err, size_t errlen)
{
	uint32_t batch = 1;
	for (size_t i = 0; i < m->n_inputs; i++) {
		if (m->batched[i] && in[i].rank > 0) {
			if (in[i].dims[0] < 1 || (uint64_t)in[i].dims[0] > m->max_batch)
				return fail(err, errlen, FLT_EINVAL,
				            "input '%s': batch %lld outside 1..%u",
				            m->in_info[i].name, (long long)in[i].dims[0],
				            (unsigned)m->max_batch);
			batch = (uint32_t)in[i].dims[0];
			break;
		}
	}
	const struct rt_plan *p = m->dynamic ? NULL : &m->plans[batch - 1];
	for (size_t i = 0; i < m->n_inputs; i++) {
		struct rt_tensor dyn;
		const struct rt_tensor *t = p ? &p->vals[m->inputs[i]] : &dyn;
		const char *name = m->in_info[i].name;
		flt_err e;
		if (!p && (e = plan_input_shape(m, i, batch, &dyn, err, errlen)))
			return e;
		if (in[i].dtype != t->dtype)
			return fail(err, errlen, FLT_EINVAL, "input '%s': type %s, expected %s",
			            name, onnx_dtype_name(in[i].dtype), onnx_dtype_name(t->dtype));
		int same = in[i].rank == t->rank;
		for (int32_t d = 0; same && d < t->rank; d++)
			same = in[i].dims[d] == t->dims[d];
		if (!same) {
			char want[160], got[160];
			size_t u = 0, g = 0;
			want[0] = got[0] = 0;
			for (int32_t d = 0; d < t->rank && u < sizeof(want); d++)
				u += (size_t)snprintf(want + u, sizeof(want) - u, "%s%lld",
				                      d ? "x" : "", (long long)t->dims[d]);
			for (int32_t d = 0;
			     d < in[i].rank && d < FLT_RT_MAX_RANK && g < sizeof(got); d++)
				g += (size_t)snprintf(got + g, sizeof(got) - g, "%s%lld",
				                      d ? "x" : "", (long long)in[i].dims[d]);
			return fail(err, errlen, FLT_EINVAL,
			            "input '%s': shape [%s], expected [%s]", name, got, want);
		}
		size_t need = t->nelem * onnx_dtype_size(t->dtype);
		if (in[i].size < need || (need && !in[i].data))
			return fail(err, errlen, FLT_EINVAL, "input '%s': %zu bytes, %zu expected",
			            name, in[i].size, need);
	}
	*out = p;
	*out_batch = batch;
	return FLT_OK;
}

/* Copies one computed tensor to the caller's output (allocating it when the
 * caller left data NULL). */
static flt_err put_output(const struct flt_rt_model *m, size_t i, const struct rt_tensor *t,
                          struct flt_rt_tensor *o, char *err, size_t errlen)
{
	size_t n = t->nelem * onnx_dtype_size(t->dtype);
	if (!o->data) {
		if (!(o->data = flt_malloc(n ? n : 1)))
			return fail(err, errlen, FLT_ENOMEM, "out of memory for output '%s'",
			            m->out_info[i].name);
	} else if (o->size < n) {
		return fail(err, errlen, FLT_ELIMIT, "output '%s' needs %zu bytes, %zu given",
		            m->out_info[i].name, n, o->size);
	}
	if (n)
		memcpy(o->data, t->data, n);
	o->dtype = t->dtype;
	o->rank = t->rank;
	memcpy(o->dims, t->dims, sizeof(o->dims));
	o->size = n;
	return FLT_OK;
}

flt_err flt_rt_run(struct flt_rt_model *m, const struct flt_rt_tensor *inputs, size_t n_inputs,
                   struct flt_rt_tensor *outputs, size_t n_outputs, char *err, size_t errlen)
{
	const struct rt_plan *p = NULL;
	struct rt_ctx *c = NULL;
	flt_err e = FLT_OK;
	char msg[256];

	if (err && errlen)
		err[0] = 0;
	if (!m || n_inputs != m->n_inputs || n_outputs != m->n_outputs || (n_inputs && !inputs) ||
	    (n_outputs && !outputs))
		return fail(err, errlen, FLT_EINVAL, "model takes %zu inputs and gives %zu outputs",
		            m ? m->n_inputs : 0, m ? m->n_outputs : 0);
	uint32_t batch = 1;
	if ((e = pick_plan(m, inputs, &p, &batch, err, errlen)))
		return e;
	if (m->dynamic) {
		struct rt_plan dp;
		c = ctx_take(m); /* the pool still bounds concurrency */
		if (!(e = plan_eval(m, &dp, batch, inputs, err, errlen))) {
			for (size_t i = 0; i < m->n_outputs && !e; i++)
				e = put_output(m, i, &dp.vals[m->outputs[i]], &outputs[i], err,
				               errlen);
			plan_release(&dp);
		}
		goto out;
	}
	for (size_t i = 0; i < m->n_outputs; i++) {
		const struct rt_tensor *t = &p->vals[m->outputs[i]];
		size_t need = t->nelem * onnx_dtype_size(t->dtype);
		if (outputs[i].data && outputs[i].size < need)
			return fail(err, errlen, FLT_ELIMIT,
			            "output '%s' needs %zu bytes, %zu given", m->out_info[i].name,
			            need, outputs[i].size);
	}

	c = ctx_take(m);
	memcpy(c->vals, p->vals, m->n_vals * sizeof(*c->vals));
	for (size_t v = 0; v < m->n_vals; v++)
		if (p->off[v] != SIZE_MAX)
			c->vals[v].data = c->arena + p->off[v];
	for (size_t i = 0; i < m->n_inputs; i++)
		c->vals[m->inputs[i]].data = inputs[i].data;

	for (size_t s = 0; s < m->n_steps; s++) {
		if (p->folded[s])
			continue;
		const struct rt_step *st = &m->steps[s];
		for (size_t k = 0; k < st->n_in; k++)
			c->in_ptrs[k] = st->in[k] == RT_NONE ? NULL : &c->vals[st->in[k]];
		for (size_t k = 0; k < st->n_out; k++)
			c->out_ptrs[k] = st->out[k] == RT_NONE ? NULL : &c->vals[st->out[k]];
		msg[0] = 0;
		struct op_ctx oc = {.node = st->node,
		                    .opset = st->opset,
		                    .n_in = st->n_in,
		                    .n_out = st->n_out,
		                    .in = c->in_ptrs,
		                    .out = c->out_ptrs,
		                    .scratch_bytes = p->scratch_bytes[s],
		                    .scratch =
		                        p->scratch_bytes[s] ? c->arena + p->scratch_off[s] : NULL,
		                    .state = p->state[s],
		                    .err = msg,
		                    .errlen = sizeof(msg)};
		if ((e = st->op->run(&oc))) {
			e = fail(err, errlen, e, "node '%s' (%s): %s", st->node->name,
			         st->node->op_type, msg[0] ? msg : flt_strerror(e));
			goto out;
		}
	}
	for (size_t i = 0; i < m->n_outputs && !e; i++)
		e = put_output(m, i, &c->vals[m->outputs[i]], &outputs[i], err, errlen);
out:
	ctx_give(m, c);
	return e;
}

size_t flt_rt_op_count(void)
{
	size_t n = 0;
	while (op_at(n))
		n++;
	return n;
}

void flt_rt_op_get(size_t i, struct flt_rt_op_info *info)
{
	const struct op_backend *b = op_at(i);
	memset(info, 0, sizeof(*info));
	if (!b)
		return;
	info->domain = b->domain;
	info->op_type = b->op_type;
	info->since = b->since;
	info->until = b->until;
}

int flt_rt_model_is_dynamic(const struct flt_rt_model *m)
{
	return m->dynamic;
}
