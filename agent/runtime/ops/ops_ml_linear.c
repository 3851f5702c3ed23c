/* ONNX-ML linear models: LinearClassifier and LinearRegressor, and the
 * helpers every ONNX-ML op file shares (post transforms, labels, inputs). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "flt/alloc.h"
#include "ops_ml.h"

/* ---- shared helpers ------------------------------------------------------ */

flt_err ml_post_attr(struct op_ctx *c, int *post)
{
	static const char *const names[] = {"NONE", "SOFTMAX", "LOGISTIC", "SOFTMAX_ZERO",
	                                    "PROBIT"};
	const char *s = op_attr_str(c, "post_transform", "NONE");
	for (int i = 0; i < 5; i++)
		if (!strcmp(s, names[i])) {
			*post = i;
			return FLT_OK;
		}
	return op_fail(c, FLT_EINVAL, "post_transform '%s' unknown", s);
}

double ml_probit(double p)
{
	/* erfinv by Winitzki's approximation, then two Newton steps on erf */
	double x = 2 * p - 1;
	if (!(x > -1))
		return x == -1 ? -INFINITY : NAN;
	if (!(x < 1))
		return x == 1 ? INFINITY : NAN;
	const double a = 0.147, pi = 3.14159265358979323846;
	double l = log((1 - x) * (1 + x)), t = 2 / (pi * a) + l / 2;
	double y = sqrt(sqrt(t * t - l / a) - t);
	if (x < 0)
		y = -y;
	for (int i = 0; i < 2; i++)
		y -= (erf(y) - x) / (2 / sqrt(pi) * exp(-y * y));
	return sqrt(2.0) * y;
}

void ml_post_apply(int post, float *row, size_t n)
{
	double mx = -INFINITY, sum = 0;
	switch (post) {
	case ML_LOGISTIC:
		for (size_t j = 0; j < n; j++)
			row[j] = (float)(1 / (1 + exp(-(double)row[j])));
		break;
	case ML_PROBIT:
		for (size_t j = 0; j < n; j++)
			row[j] = (float)ml_probit(row[j]);
		break;
	case ML_SOFTMAX:
		for (size_t j = 0; j < n; j++)
			mx = row[j] > mx ? row[j] : mx;
		for (size_t j = 0; j < n; j++)
			sum += exp((double)row[j] - mx);
		for (size_t j = 0; j < n; j++)
			row[j] = (float)(exp((double)row[j] - mx) / sum);
		break;
	case ML_SOFTMAX_ZERO:
		/* as ONNX Runtime: zero scores stay (near) zero and are left out
		 * of the normalisation; the others get a softmax */
		for (size_t j = 0; j < n; j++)
			mx = row[j] > mx ? row[j] : mx;
		for (size_t j = 0; j < n; j++)
			if (fabs(row[j]) > 1e-7)
				sum += exp((double)row[j] - mx);
		for (size_t j = 0; j < n; j++)
			row[j] = fabs(row[j]) > 1e-7 ? (float)(exp((double)row[j] - mx) / sum)
			                             : (float)(row[j] * exp(-mx));
		break;
	default: break;
	}
}

flt_err ml_labels(struct op_ctx *c, const char *ints_name, const int64_t **ints, size_t *n)
{
	const struct onnx_attr *ai = op_attr(c, ints_name), *as = op_attr(c, "classlabels_strings");
	if (ai && as && ai->n_ints && as->n_strings)
		return op_fail(c, FLT_EINVAL, "both %s and classlabels_strings are set", ints_name);
	if (ai && ai->n_ints) {
		*ints = ai->ints;
		*n = ai->n_ints;
		return FLT_OK;
	}
	if (as && as->n_strings) {
		*ints = NULL;
		*n = as->n_strings;
		return FLT_OK;
	}
	return op_fail(c, FLT_EINVAL, "no class labels (%s or classlabels_strings)", ints_name);
}

flt_err ml_input(struct op_ctx *c, const struct rt_tensor *x, int64_t *n, int64_t *f)
{
	if (!x)
		return op_fail(c, FLT_EINVAL, "input X is missing");
	if (x->dtype != ONNX_FLOAT && x->dtype != ONNX_INT64)
		return op_fail(c, FLT_EUNSUPPORTED, "X must be float or int64, not %s",
		               onnx_dtype_name(x->dtype));
	if (x->rank == 1) {
		*n = 1;
		*f = x->dims[0];
	} else if (x->rank == 2) {
		*n = x->dims[0];
		*f = x->dims[1];
	} else {
		return op_fail(c, FLT_EINVAL, "X must be [N, F] or [F], not rank %d", (int)x->rank);
	}
	return FLT_OK;
}

double ml_x(const struct rt_tensor *x, size_t i)
{
	if (x->dtype == ONNX_INT64) {
		int64_t v;
		memcpy(&v, (const char *)x->data + 8 * i, 8);
		return (double)v;
	}
	return ((const float *)x->data)[i];
}

flt_err ml_doubles(struct op_ctx *c, const char *name, double **out, size_t *n)
{
	char tname[96];
	size_t k = 0;
	const float *fv = op_attr_floats(c, name, &k);
	snprintf(tname, sizeof(tname), "%s_as_tensor", name);
	const struct onnx_attr *ta = op_attr(c, tname);
	*out = NULL;
	*n = 0;
	if (ta && ta->t) {
		const struct onnx_tensor *t = ta->t;
		if (k)
			return op_fail(c, FLT_EINVAL, "both %s and %s are set", name, tname);
		if (t->dtype != ONNX_DOUBLE && t->dtype != ONNX_FLOAT)
			return op_fail(c, FLT_EINVAL, "%s must be a double or float tensor", tname);
		if (t->nelem && !t->data)
			return op_fail(c, FLT_EINVAL, "%s has no data", tname);
		k = t->nelem;
		if (!k)
			return FLT_OK;
		if (!(*out = flt_calloc(k, sizeof(double))))
			return op_fail(c, FLT_ENOMEM, "out of memory");
		for (size_t i = 0; i < k; i++) {
			if (t->dtype == ONNX_DOUBLE) {
				memcpy(&(*out)[i], (const char *)t->data + 8 * i, 8);
			} else {
				float v;
				memcpy(&v, (const char *)t->data + 4 * i, 4);
				(*out)[i] = v;
			}
		}
		*n = k;
		return FLT_OK;
	}
	if (!k)
		return FLT_OK;
	if (!(*out = flt_calloc(k, sizeof(double))))
		return op_fail(c, FLT_ENOMEM, "out of memory");
	for (size_t i = 0; i < k; i++)
		(*out)[i] = fv[i];
	*n = k;
	return FLT_OK;
}

/* ---- LinearClassifier ---------------------------------------------------- */

struct lin_shape {
	int64_t n, f, classes, zcols;
	size_t n_labels;
	const int64_t *labels; /* NULL: string labels, output the class index */
	int post, one_row_binary;
};

static flt_err lc_setup(struct op_ctx *c, struct lin_shape *s)
{
	size_t nc, ni;
	flt_err e;
	memset(s, 0, sizeof(*s));
	if ((e = ml_input(c, op_in(c, 0), &s->n, &s->f)) || (e = ml_post_attr(c, &s->post)) ||
	    (e = ml_labels(c, "classlabels_ints", &s->labels, &s->n_labels)))
		return e;
	op_attr_floats(c, "coefficients", &nc);
	op_attr_floats(c, "intercepts", &ni);
	if (!s->f || !nc || nc % (size_t)s->f)
		return op_fail(c, FLT_EINVAL, "%zu coefficients for %lld features", nc,
		               (long long)s->f);
	s->classes = (int64_t)(nc / (size_t)s->f);
	if (ni && ni != (size_t)s->classes)
		return op_fail(c, FLT_EINVAL, "%zu intercepts for %lld classes", ni,
		               (long long)s->classes);
	/* One coefficient row with two labels is the binary form: its score
	 * belongs to the second (positive) label, as in ONNX Runtime, whose
	 * output then has two columns [1 - p, p]. (skl2onnx avoids the form by
	 * writing two rows, -w and w.) */
	s->one_row_binary = s->classes == 1 && s->n_labels == 2;
	if (!s->one_row_binary && s->n_labels != (size_t)s->classes)
		return op_fail(c, FLT_EINVAL, "%zu class labels for %lld coefficient rows",
		               s->n_labels, (long long)s->classes);
	if (s->one_row_binary && (s->post == ML_SOFTMAX || s->post == ML_SOFTMAX_ZERO))
		return op_fail(c, FLT_EUNSUPPORTED, "a softmax over one score column is undefined");
	s->zcols = s->one_row_binary ? 2 : s->classes;
	return FLT_OK;
}

static flt_err lc_infer(struct op_ctx *c)
{
	struct lin_shape s;
	flt_err e = lc_setup(c, &s);
	if (e)
		return e;
	int64_t dy[1] = {s.n}, dz[2] = {s.n, s.zcols};
	if ((e = op_set_shape(c, c->out[0], ONNX_INT64, 1, dy)))
		return e;
	if (c->n_out > 1 && (e = op_set_shape(c, c->out[1], ONNX_FLOAT, 2, dz)))
		return e;
	return FLT_OK;
}

static flt_err lc_run(struct op_ctx *c)
{
	struct lin_shape s;
	size_t nc, ni;
	flt_err e = lc_setup(c, &s);
	if (e)
		return e;
	const struct rt_tensor *x = c->in[0];
	const float *w = op_attr_floats(c, "coefficients", &nc),
	            *b = op_attr_floats(c, "intercepts", &ni);
	int64_t *y = c->out[0] ? c->out[0]->data : NULL;
	float *z = c->n_out > 1 && c->out[1] ? c->out[1]->data : NULL;
	size_t f = (size_t)s.f, k = (size_t)s.classes;
	float one[2], *row = one;
	for (size_t i = 0; i < (size_t)s.n; i++) {
		if (z)
			row = z + i * (size_t)s.zcols;
		for (size_t j = 0; j < k; j++) {
			double acc = ni ? b[j] : 0;
			for (size_t q = 0; q < f; q++)
				acc += (double)w[j * f + q] * ml_x(x, i * f + q);
			row[j] = (float)acc;
		}
		if (s.one_row_binary) {
			float sc = row[0];
			if (y)
				y[i] = ml_label(s.labels, sc > 0 ? 1 : 0);
			ml_post_apply(s.post, &sc, 1);
			row[0] = 1 - sc;
			row[1] = sc;
			continue;
		}
		size_t best = 0;
		for (size_t j = 1; j < k; j++)
			if (row[j] > row[best])
				best = j;
		if (y)
			y[i] = ml_label(s.labels, best);
		ml_post_apply(s.post, row, k);
	}
	return FLT_OK;
}

/* ---- LinearRegressor ----------------------------------------------------- */

static flt_err lr_setup(struct op_ctx *c, int64_t *n, int64_t *f, int64_t *targets, int *post)
{
	size_t nc, ni;
	flt_err e;
	if ((e = ml_input(c, op_in(c, 0), n, f)) || (e = ml_post_attr(c, post)))
		return e;
	*targets = op_attr_int(c, "targets", 1);
	op_attr_floats(c, "coefficients", &nc);
	op_attr_floats(c, "intercepts", &ni);
	if (*targets < 1 || *targets > 1 << 20 || nc != (size_t)*targets * (size_t)*f)
		return op_fail(c, FLT_EINVAL, "%zu coefficients for %lld targets of %lld features",
		               nc, (long long)*targets, (long long)*f);
	if (ni && ni != (size_t)*targets)
		return op_fail(c, FLT_EINVAL, "%zu intercepts for %lld targets", ni,
		               (long long)*targets);
	return FLT_OK;
}

static flt_err lr_infer(struct op_ctx *c)
{
	int64_t n, f, t;
	int post;
	flt_err e = lr_setup(c, &n, &f, &t, &post);
	if (e)
		return e;
	int64_t dims[2] = {n, t};
	return op_set_shape(c, c->out[0], ONNX_FLOAT, 2, dims);
}

static flt_err lr_run(struct op_ctx *c)
{
	int64_t n, f, t;
	int post;
	size_t nc, ni;
	flt_err e = lr_setup(c, &n, &f, &t, &post);
	if (e)
		return e;
	const struct rt_tensor *x = c->in[0];
	const float *w = op_attr_floats(c, "coefficients", &nc),
	            *b = op_attr_floats(c, "intercepts", &ni);
	float *y = c->out[0]->data;
	for (size_t i = 0; i < (size_t)n; i++) {
		float *row = y + i * (size_t)t;
		for (size_t j = 0; j < (size_t)t; j++) {
			double acc = ni ? b[j] : 0;
			for (size_t q = 0; q < (size_t)f; q++)
				acc += (double)w[j * (size_t)f + q] * ml_x(x, i * (size_t)f + q);
			row[j] = (float)acc;
		}
		ml_post_apply(post, row, (size_t)t);
	}
	return FLT_OK;
}

const struct op_backend ops_ml_linear[] = {
    {ML_DOMAIN, "LinearClassifier", 1, ML_OPSET_MAX, 0, lc_infer, lc_run},
    {ML_DOMAIN, "LinearRegressor", 1, ML_OPSET_MAX, 0, lr_infer, lr_run},
};
const size_t ops_ml_linear_count = sizeof(ops_ml_linear) / sizeof(ops_ml_linear[0]);
