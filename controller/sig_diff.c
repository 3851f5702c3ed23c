/* Signature diff between two model versions, classified from the point of view
 * of an application written against the first: it feeds every input the old
 * way and reads every output the old way. Pure. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "flt/alloc.h"
#include "flt/registry.h"

static const char *dtype_name(int32_t t)
{
	static const char *const n[] = {"undefined",  "float",   "uint8",  "int8",   "uint16",
	                                "int16",      "int32",   "int64",  "string", "bool",
	                                "float16",    "double",  "uint32", "uint64", "complex64",
	                                "complex128", "bfloat16"};
	return (t >= 0 && t < (int32_t)(sizeof(n) / sizeof(n[0]))) ? n[t] : "unknown";
}

static flt_err add(struct flt_sig_change **ch, size_t *n, int breaking, int outputs,
                   const char *name, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static flt_err add(struct flt_sig_change **ch, size_t *n, int breaking, int outputs,
                   const char *name, const char *fmt, ...)
{
	struct flt_sig_change *g = flt_reallocarray(*ch, *n + 1, sizeof(**ch));
	if (!g)
		return FLT_ENOMEM;
	*ch = g;
	struct flt_sig_change *c = &g[*n];
	memset(c, 0, sizeof(*c));
	c->breaking = breaking;
	c->output = outputs;
	snprintf(c->name, sizeof(c->name), "%s", name ? name : "");
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->reason, sizeof(c->reason), fmt, ap);
	va_end(ap);
	(*n)++;
	return FLT_OK;
}

static const struct flt_rt_value_info *find(const struct flt_rt_value_info *v, size_t n,
                                            const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].name && name && !strcmp(v[i].name, name))
			return &v[i];
	return NULL;
}

static void dim_text(const struct flt_rt_value_info *v, int i, char *buf, size_t cap)
{
	if (v->dim_params[i] && v->dim_params[i][0])
		snprintf(buf, cap, "%s", v->dim_params[i]);
	else if (v->dims[i] >= 0)
		snprintf(buf, cap, "%" PRId64, v->dims[i]);
	else
		snprintf(buf, cap, "?");
}

static int dim_fixed(const struct flt_rt_value_info *v, int i)
{
	return v->dims[i] >= 0 && !(v->dim_params[i] && v->dim_params[i][0]);
}

/* One tensor present on both sides. */
static flt_err compare(const struct flt_rt_value_info *a, const struct flt_rt_value_info *b,
                       int outputs, struct flt_sig_change **ch, size_t *n)
{
	const char *side = outputs ? "output" : "input";
	flt_err e = FLT_OK;
	if (a->dtype != b->dtype)
		return add(ch, n, 1, outputs, a->name, "%s '%s' type %s -> %s", side, a->name,
		           dtype_name(a->dtype), dtype_name(b->dtype));
	if (a->rank < 0 || b->rank < 0) {
		if (a->rank == b->rank)
			return FLT_OK;
		/* An input that now takes any shape accepts what it took before; an
		 * output whose shape is now unknown may not be what the app reads. */
		if (b->rank < 0)
			return add(ch, n, outputs, outputs, a->name,
			           "%s '%s' shape now unknown (%s)", side, a->name,
			           outputs ? "readers cannot rely on it" : "accepts more");
		return add(ch, n, !outputs, outputs, a->name,
		           "%s '%s' shape now fixed at rank %d (%s)", side, a->name, b->rank,
		           outputs ? "narrower" : "accepts less");
	}
	if (a->rank != b->rank)
		return add(ch, n, 1, outputs, a->name, "%s '%s' rank %d -> %d", side, a->name,
		           a->rank, b->rank);
	for (int i = 0; i < a->rank && i < FLT_RT_MAX_RANK && !e; i++) {
		char da[72], db[72];
		dim_text(a, i, da, sizeof(da));
		dim_text(b, i, db, sizeof(db));
		int fa = dim_fixed(a, i), fb = dim_fixed(b, i);
		if (fa && fb) {
			if (a->dims[i] != b->dims[i])
				e = add(ch, n, 1, outputs, a->name, "%s '%s' dim %d: %s -> %s",
				        side, a->name, i, da, db);
		} else if (fa && !fb) {
			/* Input: a fixed size became free, old callers still fit.
			 * Output: callers sized buffers for the fixed value. */
			e = add(ch, n, outputs, outputs, a->name, "%s '%s' dim %d: %s -> %s (%s)",
			        side, a->name, i, da, db,
			        outputs ? "size no longer fixed" : "accepts more");
		} else if (!fa && fb) {
			e = add(ch, n, !outputs, outputs, a->name, "%s '%s' dim %d: %s -> %s (%s)",
			        side, a->name, i, da, db, outputs ? "now fixed" : "accepts less");
		} else if (strcmp(da, db) != 0) {
			e = add(ch, n, 0, outputs, a->name,
			        "%s '%s' dim %d: %s -> %s (renamed symbol)", side, a->name, i, da,
			        db);
		}
	}
	return e;
}

flt_err flt_sig_diff(const struct flt_rt_value_info *a, size_t na,
                     const struct flt_rt_value_info *b, size_t nb, int outputs,
                     struct flt_sig_change **changes, size_t *n)
{
	const char *side = outputs ? "output" : "input";
	flt_err e = FLT_OK;
	for (size_t i = 0; i < na && !e; i++) {
		const struct flt_rt_value_info *o = find(b, nb, a[i].name);
		if (!o)
			e = add(changes, n, 1, outputs, a[i].name, "%s '%s' removed (%s)", side,
			        a[i].name, outputs ? "callers read it" : "callers still feed it");
		else
			e = compare(&a[i], o, outputs, changes, n);
	}
	for (size_t i = 0; i < nb && !e; i++) {
		if (find(a, na, b[i].name))
			continue;
		if (outputs)
			e = add(changes, n, 0, 1, b[i].name, "output '%s' added", b[i].name);
		else
			e = add(changes, n, 1, 0, b[i].name,
			        "input '%s' added (callers do not feed it)", b[i].name);
	}
	return e;
}
