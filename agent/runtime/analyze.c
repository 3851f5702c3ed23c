/* Analysis without running: what the registry records about a model
 * (operators, opsets, parameters, signature, runnability, planned peak
 * memory), computed by the same reader and planner that run it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flt/alloc.h"
#include "plan.h"

void flt_rt_analysis_free(struct flt_rt_analysis *a)
{
	if (!a)
		return;
	flt_free(a->producer);
	for (size_t i = 0; i < a->n_opsets; i++)
		flt_free(a->opsets[i].domain);
	flt_free(a->opsets);
	for (size_t i = 0; i < a->n_ops; i++) {
		flt_free(a->ops[i].domain);
		flt_free(a->ops[i].op_type);
	}
	flt_free(a->ops);
	for (size_t i = 0; i < a->n_inputs; i++)
		onnx_value_info_clear(&a->inputs[i]);
	flt_free(a->inputs);
	for (size_t i = 0; i < a->n_outputs; i++)
		onnx_value_info_clear(&a->outputs[i]);
	flt_free(a->outputs);
	flt_free(a->not_runnable_reason);
	flt_free(a);
}

static int cmp_op(const void *x, const void *y)
{
	const struct flt_rt_op_count *a = x, *b = y;
	int c = strcmp(a->domain, b->domain);
	return c ? c : strcmp(a->op_type, b->op_type);
}

static flt_err dup_vi(struct flt_rt_value_info *d, const struct flt_rt_value_info *s)
{
	*d = *s;
	d->name = flt_strdup(s->name);
	int ok = d->name != NULL;
	for (int i = 0; i < FLT_RT_MAX_RANK; i++) {
		d->dim_params[i] = s->dim_params[i] ? flt_strdup(s->dim_params[i]) : NULL;
		if (s->dim_params[i] && !d->dim_params[i])
			ok = 0;
	}
	if (!ok) {
		onnx_value_info_clear(d);
		return FLT_ENOMEM;
	}
	return FLT_OK;
}

static int is_init(const struct onnx_model *m, const char *name)
{
	for (size_t i = 0; i < m->n_inits; i++)
		if (!strcmp(m->inits[i].name, name))
			return 1;
	return 0;
}

flt_err flt_rt_analyze(const void *buf, size_t len, struct flt_rt_analysis **out)
{
	struct onnx_model *m = NULL;
	struct flt_rt_analysis *a = NULL;
	struct flt_rt_model *rm = NULL;
	char err[1024];
	flt_err e;

	if ((e = onnx_read_model(buf, len, &m, err, sizeof(err))))
		return e;
	if (!(a = flt_calloc(1, sizeof(*a))))
		goto nomem;
	a->ir_version = m->ir_version;
	a->peak_memory_bytes = -1;
	if (!(a->producer = flt_strdup(m->producer)))
		goto nomem;
	if (!(a->opsets = flt_calloc(m->n_opsets + 1, sizeof(*a->opsets))))
		goto nomem;
	for (size_t i = 0; i < m->n_opsets; i++) {
		if (!(a->opsets[i].domain = flt_strdup(m->opsets[i].domain)))
			goto nomem;
		a->opsets[i].version = m->opsets[i].version;
		a->n_opsets++;
	}
	if (!(a->ops = flt_calloc(m->n_nodes + 1, sizeof(*a->ops))))
		goto nomem;
	for (size_t i = 0; i < m->n_nodes; i++) {
		const struct onnx_node *n = &m->nodes[i];
		size_t k;
		for (k = 0; k < a->n_ops; k++)
			if (!strcmp(a->ops[k].domain, n->domain) &&
			    !strcmp(a->ops[k].op_type, n->op_type))
				break;
		if (k == a->n_ops) {
			int64_t ov = onnx_model_opset(m, n->domain);
			a->ops[k].domain = flt_strdup(n->domain);
			a->ops[k].op_type = flt_strdup(n->op_type);
			if (!a->ops[k].domain || !a->ops[k].op_type) {
				flt_free(a->ops[k].domain);
				flt_free(a->ops[k].op_type);
				goto nomem;
			}
			a->ops[k].supported = op_find(n->domain, n->op_type, ov) != NULL &&
			                      !(n->domain[0] == 0 && ov > ONNX_OPSET_MAX);
			a->n_ops++;
		}
		a->ops[k].count++;
	}
	if (a->n_ops > 1)
		qsort(a->ops, a->n_ops, sizeof(*a->ops), cmp_op);
	for (size_t i = 0; i < m->n_inits; i++) {
		a->param_count += m->inits[i].nelem;
		a->param_bytes += m->inits[i].nbytes;
	}
	if (!(a->inputs = flt_calloc(m->n_inputs + 1, sizeof(*a->inputs))) ||
	    !(a->outputs = flt_calloc(m->n_outputs + 1, sizeof(*a->outputs))))
		goto nomem;
	for (size_t i = 0; i < m->n_inputs; i++) {
		if (is_init(m, m->inputs[i].name))
			continue;
		if (dup_vi(&a->inputs[a->n_inputs], &m->inputs[i]))
			goto nomem;
		a->n_inputs++;
	}
	for (size_t i = 0; i < m->n_outputs; i++) {
		if (dup_vi(&a->outputs[a->n_outputs], &m->outputs[i]))
			goto nomem;
		a->n_outputs++;
	}

	/* Runnable means the planner accepts it at batch 1; its arena is the peak. */
	e = plan_build(m, 1, &rm, err, sizeof(err));
	m = NULL;
	if (e == FLT_ENOMEM)
		goto nomem;
	if (e) {
		a->runnable = 0;
		if (!(a->not_runnable_reason = flt_strdup(err[0] ? err : flt_strerror(e))))
			goto nomem;
	} else {
		a->runnable = 1;
		/* a dynamic model has no static plan to measure */
		a->peak_memory_bytes = rm->dynamic ? -1 : (int64_t)rm->arena_bytes;
		/* Outputs declared without a type or shape get the batch-1 plan's;
		 * ONNX-ML string labels and ZipMap sequences come out as int64 /
		 * float tensors (ops/ops_ml.h): report what a run returns. */
		for (size_t i = 0; i < a->n_outputs && i < rm->n_outputs && !rm->dynamic; i++) {
			struct flt_rt_value_info *vi = &a->outputs[i];
			const struct flt_rt_value_info *ri = &rm->out_info[i];
			if (vi->dtype == ONNX_UNDEFINED || vi->dtype == ONNX_STRING)
				vi->dtype = ri->dtype;
			if (vi->rank < 0) {
				vi->rank = ri->rank;
				for (int32_t d = 0; d < ri->rank; d++)
					vi->dims[d] = ri->dims[d];
			}
		}
	}
	flt_rt_model_free(rm);
	*out = a;
	return FLT_OK;
nomem:
	onnx_model_free(m);
	flt_rt_analysis_free(a);
	return FLT_ENOMEM;
}
