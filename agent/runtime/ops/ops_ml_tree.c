/* ONNX-ML tree ensembles: TreeEnsembleClassifier and TreeEnsembleRegressor
 * (ai.onnx.ml 1-4, float or double-tensor attributes). The parallel node
 * arrays are turned once per plan (op_ctx.state) into a node table with
 * resolved child positions and per-leaf weight lists, checked to be a forest
 * (one root per tree, at most one parent per node), so a run only walks. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flt/alloc.h"
#include "ops_ml.h"

enum { M_LEQ, M_LT, M_GTE, M_GT, M_EQ, M_NEQ, M_LEAF };
enum { AGG_SUM, AGG_AVERAGE, AGG_MIN, AGG_MAX };

struct tnode {
	double value;
	uint32_t t, f;   /* child positions (branches) */
	uint32_t w0, wn; /* leaf weights: w[w0 .. w0 + wn) */
	int64_t feature;
	uint8_t mode, nan_true;
};

struct tweight {
	double w;
	uint32_t col;
};

struct tstate {
	size_t n_nodes, n_trees, n_w, n_cols, n_base;
	int64_t n_features; /* largest feature id + 1 */
	uint32_t *roots;
	struct tnode *nodes;
	struct tweight *w;
	double *base;
	int agg, post;
	/* classifier */
	const int64_t *labels; /* NULL: string labels (class index out) */
	size_t n_labels;
	int single_col, all_pos;
	uint32_t used_col;
};

struct tkey {
	int64_t tree, node;
	uint32_t pos;
};

static int key_cmp(const void *a, const void *b)
{
	const struct tkey *x = a, *y = b;
	if (x->tree != y->tree)
		return x->tree < y->tree ? -1 : 1;
	if (x->node != y->node)
		return x->node < y->node ? -1 : 1;
	return 0;
}

static uint32_t key_find(const struct tkey *k, size_t n, int64_t tree, int64_t node)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (k[mid].tree < tree || (k[mid].tree == tree && k[mid].node < node))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && k[lo].tree == tree && k[lo].node == node ? k[lo].pos : UINT32_MAX;
}

static size_t al16(size_t n)
{
	return (n + 15) & ~(size_t)15;
}

/* Reads an ints attribute that must have exactly n entries (or 0 if opt). */
static flt_err ints_n(struct op_ctx *c, const char *name, size_t n, int opt, const int64_t **out)
{
	size_t k;
	*out = op_attr_ints(c, name, &k);
	if ((opt && k == 0) || k == n)
		return FLT_OK;
	return op_fail(c, FLT_EINVAL, "%s has %zu entries, %zu expected", name, k, n);
}

static int mode_of(const char *s)
{
	static const char *const names[] = {"BRANCH_LEQ", "BRANCH_LT",  "BRANCH_GTE", "BRANCH_GT",
	                                    "BRANCH_EQ",  "BRANCH_NEQ", "LEAF"};
	for (int i = 0; i < 7; i++)
		if (!strcmp(s, names[i]))
			return i;
	return -1;
}

/* Builds the state for a classifier (pfx "class_") or regressor ("target_"). */
static flt_err tree_build(struct op_ctx *c, int classifier, struct tstate **out)
{
	const char *pfx = classifier ? "class" : "target";
	const int64_t *tids, *nids, *fids, *trues, *falses, *nant, *wt, *wn, *wc;
	const struct onnx_attr *modes = op_attr(c, "nodes_modes");
	double *values = NULL, *weights = NULL, *base = NULL;
	struct tkey *keys = NULL;
	uint32_t *parents = NULL;
	struct tstate *s = NULL;
	size_t n, nv, nw, nb, n_cols;
	char name[64];
	flt_err e;

	if (!(nids = op_attr_ints(c, "nodes_nodeids", &n)) || !n)
		return op_fail(c, FLT_EINVAL, "nodes_nodeids is missing");
	if (n >= UINT32_MAX / 2)
		return op_fail(c, FLT_ELIMIT, "too many nodes");
	if ((e = ints_n(c, "nodes_treeids", n, 0, &tids)) ||
	    (e = ints_n(c, "nodes_featureids", n, 0, &fids)) ||
	    (e = ints_n(c, "nodes_truenodeids", n, 0, &trues)) ||
	    (e = ints_n(c, "nodes_falsenodeids", n, 0, &falses)) ||
	    (e = ints_n(c, "nodes_missing_value_tracks_true", n, 1, &nant)))
		return e;
	if (!modes || modes->n_strings != n)
		return op_fail(c, FLT_EINVAL, "nodes_modes must have %zu entries", n);
	snprintf(name, sizeof(name), "%s_nodeids", pfx);
	if (!(wn = op_attr_ints(c, name, &nw)))
		nw = 0;
	if (nw >= UINT32_MAX / 2)
		return op_fail(c, FLT_ELIMIT, "too many weights");
	snprintf(name, sizeof(name), "%s_treeids", pfx);
	if ((e = ints_n(c, name, nw, 0, &wt)))
		return e;
	snprintf(name, sizeof(name), "%s_ids", pfx);
	if ((e = ints_n(c, name, nw, 0, &wc)))
		return e;

	if ((e = ml_doubles(c, "nodes_values", &values, &nv)))
		goto out;
	if (nv != n) {
		e = op_fail(c, FLT_EINVAL, "nodes_values has %zu entries, %zu expected", nv, n);
		goto out;
	}
	snprintf(name, sizeof(name), "%s_weights", pfx);
	if ((e = ml_doubles(c, name, &weights, &nv)))
		goto out;
	if (nv != nw) {
		e = op_fail(c, FLT_EINVAL, "%s has %zu entries, %zu expected", name, nv, nw);
		goto out;
	}
	if ((e = ml_doubles(c, "base_values", &base, &nb)))
		goto out;

	const int64_t *labels = NULL;
	size_t n_labels = 0;
	if (classifier) {
		if ((e = ml_labels(c, "classlabels_int64s", &labels, &n_labels)))
			goto out;
		n_cols = n_labels;
	} else {
		int64_t t = op_attr_int(c, "n_targets", 1);
		if (t < 1 || t > 1 << 20) {
			e = op_fail(c, FLT_EINVAL, "n_targets %lld out of range", (long long)t);
			goto out;
		}
		n_cols = (size_t)t;
	}
	if (nb > 1 && nb != n_cols) {
		e = op_fail(c, FLT_EINVAL, "%zu base_values for %zu outputs", nb, n_cols);
		goto out;
	}

	/* one block: state, roots, nodes, weights, base */
	size_t o_roots = al16(sizeof(*s)), o_nodes = o_roots + al16(n * sizeof(uint32_t));
	size_t o_w = o_nodes + al16(n * sizeof(struct tnode));
	size_t o_base = o_w + al16(nw * sizeof(struct tweight)),
	       total = o_base + nb * sizeof(double) + 1;
	keys = flt_calloc(n, sizeof(*keys));
	parents = flt_calloc(n, sizeof(*parents));
	s = flt_calloc(1, total);
	if (!keys || !parents || !s) {
		e = op_fail(c, FLT_ENOMEM, "out of memory");
		goto out;
	}
	s->roots = (uint32_t *)((char *)s + o_roots);
	s->nodes = (struct tnode *)(void *)((char *)s + o_nodes);
	s->w = (struct tweight *)(void *)((char *)s + o_w);
	s->base = (double *)(void *)((char *)s + o_base);
	s->n_nodes = n;
	s->n_w = nw;
	s->n_cols = n_cols;
	s->n_base = nb;
	s->labels = labels;
	s->n_labels = n_labels;
	if (nb)
		memcpy(s->base, base, nb * sizeof(double));

	for (size_t i = 0; i < n; i++) {
		keys[i].tree = tids[i];
		keys[i].node = nids[i];
		keys[i].pos = (uint32_t)i;
	}
	qsort(keys, n, sizeof(*keys), key_cmp);
	for (size_t i = 1; i < n; i++)
		if (!key_cmp(&keys[i - 1], &keys[i])) {
			e = op_fail(c, FLT_EINVAL, "node %lld of tree %lld is defined twice",
			            (long long)keys[i].node, (long long)keys[i].tree);
			goto out;
		}
	for (size_t i = 0; i < n; i++) {
		struct tnode *nd = &s->nodes[i];
		int m = mode_of(modes->strings[i]);
		if (m < 0) {
			e = op_fail(c, FLT_EINVAL, "node mode '%s' unknown", modes->strings[i]);
			goto out;
		}
		nd->mode = (uint8_t)m;
		nd->value = values[i];
		nd->nan_true = nant && nant[i];
		nd->feature = fids[i];
		if (m == M_LEAF)
			continue;
		if (fids[i] < 0 || fids[i] > INT32_MAX) {
			e = op_fail(c, FLT_EINVAL, "feature id %lld out of range",
			            (long long)fids[i]);
			goto out;
		}
		if (fids[i] + 1 > s->n_features)
			s->n_features = fids[i] + 1;
		nd->t = key_find(keys, n, tids[i], trues[i]);
		nd->f = key_find(keys, n, tids[i], falses[i]);
		if (nd->t == UINT32_MAX || nd->f == UINT32_MAX) {
			e = op_fail(c, FLT_EINVAL, "node %lld of tree %lld has a missing child",
			            (long long)nids[i], (long long)tids[i]);
			goto out;
		}
		/* at most one parent per node: with one root per tree this makes
		 * every walk from a root end at a leaf (no reachable cycle) */
		if (++parents[nd->t] > 1 || ++parents[nd->f] > 1) {
			e = op_fail(c, FLT_EINVAL,
			            "tree %lld is not a tree (a node has two parents)",
			            (long long)tids[i]);
			goto out;
		}
	}
	for (size_t i = 0; i < n;) {
		size_t j = i, nroot = 0;
		for (; j < n && keys[j].tree == keys[i].tree; j++)
			if (!parents[keys[j].pos]) {
				nroot++;
				s->roots[s->n_trees] = keys[j].pos;
			}
		if (nroot != 1) {
			e = op_fail(c, FLT_EINVAL, "tree %lld has %zu roots",
			            (long long)keys[i].tree, nroot);
			goto out;
		}
		s->n_trees++;
		i = j;
	}

	/* leaf weights grouped by leaf (counting sort; parents reused as counters) */
	memset(parents, 0, n * sizeof(*parents));
	s->all_pos = 1;
	int first_col = -1;
	s->single_col = 1;
	for (size_t k = 0; k < nw; k++) {
		uint32_t p = key_find(keys, n, wt[k], wn[k]);
		if (p == UINT32_MAX || s->nodes[p].mode != M_LEAF) {
			e = op_fail(c, FLT_EINVAL,
			            "weight %zu names node %lld of tree %lld, not a leaf", k,
			            (long long)wn[k], (long long)wt[k]);
			goto out;
		}
		if (wc[k] < 0 || (size_t)wc[k] >= n_cols) {
			e = op_fail(c, FLT_EINVAL, "weight %zu is for output %lld of %zu", k,
			            (long long)wc[k], n_cols);
			goto out;
		}
		parents[p]++;
		if (weights[k] < 0)
			s->all_pos = 0;
		if (first_col < 0)
			first_col = (int)wc[k];
		else if (first_col != (int)wc[k])
			s->single_col = 0;
	}
	s->used_col = first_col < 0 ? 0 : (uint32_t)first_col;
	uint32_t acc = 0;
	for (size_t i = 0; i < n; i++) {
		s->nodes[i].w0 = acc;
		acc += parents[i];
		parents[i] = 0;
	}
	for (size_t k = 0; k < nw; k++) {
		uint32_t p = key_find(keys, n, wt[k], wn[k]);
		struct tweight *dst = &s->w[s->nodes[p].w0 + parents[p]++];
		dst->w = weights[k];
		dst->col = (uint32_t)wc[k];
	}
	for (size_t i = 0; i < n; i++)
		s->nodes[i].wn = parents[i];
	*out = s;
	s = NULL;
	e = FLT_OK;
out:
	flt_free(s);
	flt_free(keys);
	flt_free(parents);
	flt_free(values);
	flt_free(weights);
	flt_free(base);
	return e;
}

static flt_err tree_infer_common(struct op_ctx *c, int classifier, struct tstate **sp, int64_t *n)
{
	int64_t f;
	flt_err e;
	if ((e = ml_input(c, op_in(c, 0), n, &f)))
		return e;
	struct tstate *s = NULL;
	if ((e = tree_build(c, classifier, &s)))
		return e;
	c->state = s; /* owned by the plan from here on, also on failure */
	if ((e = ml_post_attr(c, &s->post)))
		return e;
	if (s->n_features > f)
		return op_fail(c, FLT_EINVAL, "trees use feature %lld, X has %lld",
		               (long long)s->n_features - 1, (long long)f);
	if (!classifier) {
		const char *a = op_attr_str(c, "aggregate_function", "SUM");
		static const char *const aggs[] = {"SUM", "AVERAGE", "MIN", "MAX"};
		s->agg = -1;
		for (int i = 0; i < 4; i++)
			if (!strcmp(a, aggs[i]))
				s->agg = i;
		if (s->agg < 0)
			return op_fail(c, FLT_EINVAL, "aggregate_function '%s' unknown", a);
	}
	c->scratch_bytes = s->n_cols * sizeof(double);
	*sp = s;
	return FLT_OK;
}

/* Sums (or takes min/max of) the weights of the leaves row x reaches. */
static void tree_eval(const struct tstate *s, const struct rt_tensor *x, size_t row, size_t nf,
                      double *acc)
{
	int minmax = s->agg == AGG_MIN || s->agg == AGG_MAX;
	for (size_t j = 0; j < s->n_cols; j++)
		acc[j] = minmax ? NAN : 0;
	for (size_t t = 0; t < s->n_trees; t++) {
		const struct tnode *nd = &s->nodes[s->roots[t]];
		while (nd->mode != M_LEAF) {
			double v = ml_x(x, row * nf + (size_t)nd->feature), th = nd->value;
			int go;
			if (isnan(v) && nd->nan_true) {
				go = 1;
			} else {
				switch (nd->mode) {
				case M_LEQ: go = v <= th; break;
				case M_LT: go = v < th; break;
				case M_GTE: go = v >= th; break;
				case M_GT: go = v > th; break;
				case M_EQ: go = v == th; break;
				default: go = v != th; break;
				}
			}
			nd = &s->nodes[go ? nd->t : nd->f];
		}
		for (uint32_t k = 0; k < nd->wn; k++) {
			const struct tweight *w = &s->w[nd->w0 + k];
			double *a = &acc[w->col];
			if (s->agg == AGG_MIN)
				*a = isnan(*a) || w->w < *a ? w->w : *a;
			else if (s->agg == AGG_MAX)
				*a = isnan(*a) || w->w > *a ? w->w : *a;
			else
				*a += w->w;
		}
	}
}

/* ---- TreeEnsembleClassifier ---- */

static flt_err tec_infer(struct op_ctx *c)
{
	struct tstate *s;
	int64_t n;
	flt_err e = tree_infer_common(c, 1, &s, &n);
	if (e)
		return e;
	if (s->n_labels < 2)
		return op_fail(c, FLT_EINVAL, "a classifier needs at least two class labels");
	/* A binary model whose weights all go to one class has one score
	 * column; as in ONNX Runtime it belongs to the positive (second)
	 * class whatever its class id (skl2onnx writes binary gradient
	 * boosting this way: class_ids all 0, LOGISTIC). */
	s->single_col = s->single_col && s->n_labels == 2 && s->n_w > 0;
	int64_t dy[1] = {n}, dz[2] = {n, (int64_t)s->n_labels};
	if ((e = op_set_shape(c, c->out[0], ONNX_INT64, 1, dy)))
		return e;
	if (c->n_out > 1 && (e = op_set_shape(c, c->out[1], ONNX_FLOAT, 2, dz)))
		return e;
	return FLT_OK;
}

static flt_err tec_run(struct op_ctx *c)
{
	const struct tstate *s = c->state;
	const struct rt_tensor *x = c->in[0];
	int64_t n, nf;
	flt_err e;
	if (!s)
		return op_fail(c, FLT_EINTERNAL, "no plan state");
	if ((e = ml_input(c, x, &n, &nf)))
		return e;
	double *acc = c->scratch;
	int64_t *y = c->out[0] ? c->out[0]->data : NULL;
	float *z = c->n_out > 1 && c->out[1] ? c->out[1]->data : NULL;
	size_t k = s->n_labels;
	float tmp[2];
	for (size_t i = 0; i < (size_t)n; i++) {
		tree_eval(s, x, i, (size_t)nf, acc);
		if (s->single_col) {
			double sc = acc[s->used_col] + (s->n_base == 1 ? s->base[0]
			                                : s->n_base    ? s->base[s->used_col]
			                                               : 0);
			/* ONNX Runtime's convention: non-negative weights with no
			 * transform are a probability (1 - s, s); otherwise s is a
			 * margin (-s, s); the label is the larger column. */
			float *row = z ? z + i * 2 : tmp;
			row[0] = (float)(s->post == ML_NONE && s->all_pos ? 1 - sc : -sc);
			row[1] = (float)sc;
			if (y)
				y[i] = ml_label(s->labels, row[1] > row[0] ? 1 : 0);
			ml_post_apply(s->post, row, 2);
			continue;
		}
		size_t best = 0;
		for (size_t j = 0; j < k; j++) {
			acc[j] += s->n_base ? s->base[s->n_base == 1 ? 0 : j] : 0;
			if (acc[j] > acc[best])
				best = j;
		}
		if (y)
			y[i] = ml_label(s->labels, best);
		if (z) {
			float *row = z + i * k;
			for (size_t j = 0; j < k; j++)
				row[j] = (float)acc[j];
			ml_post_apply(s->post, row, k);
		}
	}
	return FLT_OK;
}

/* ---- TreeEnsembleRegressor ---- */

static flt_err ter_infer(struct op_ctx *c)
{
	struct tstate *s;
	int64_t n;
	flt_err e = tree_infer_common(c, 0, &s, &n);
	if (e)
		return e;
	int64_t dims[2] = {n, (int64_t)s->n_cols};
	return op_set_shape(c, c->out[0], ONNX_FLOAT, 2, dims);
}

static flt_err ter_run(struct op_ctx *c)
{
	const struct tstate *s = c->state;
	const struct rt_tensor *x = c->in[0];
	int64_t n, nf;
	flt_err e;
	if (!s)
		return op_fail(c, FLT_EINTERNAL, "no plan state");
	if ((e = ml_input(c, x, &n, &nf)))
		return e;
	double *acc = c->scratch;
	float *y = c->out[0]->data;
	for (size_t i = 0; i < (size_t)n; i++) {
		float *row = y + i * s->n_cols;
		tree_eval(s, x, i, (size_t)nf, acc);
		for (size_t j = 0; j < s->n_cols; j++) {
			double v = isnan(acc[j]) ? 0 : acc[j];
			if (s->agg == AGG_AVERAGE)
				v /= (double)s->n_trees;
			row[j] = (float)(v + (s->n_base ? s->base[s->n_base == 1 ? 0 : j] : 0));
		}
		ml_post_apply(s->post, row, s->n_cols);
	}
	return FLT_OK;
}

const struct op_backend ops_ml_tree[] = {
    {ML_DOMAIN, "TreeEnsembleClassifier", 1, 4, 0, tec_infer, tec_run},
    {ML_DOMAIN, "TreeEnsembleRegressor", 1, 4, 0, ter_infer, ter_run},
};
const size_t ops_ml_tree_count = sizeof(ops_ml_tree) / sizeof(ops_ml_tree[0]);
