#!/usr/bin/python3
"""Writes the ONNX-ML conformance tests in this folder (run by hand, outputs
committed): fits scikit-learn models on data sets scikit-learn ships (iris,
wine, breast cancer, diabetes, linnerud), writes each as an ai.onnx.ml graph
built with onnx.helper (the forms skl2onnx emits, written out here because
skl2onnx is not packaged for Debian), and stores scikit-learn's own predict /
predict_proba answers as the expected outputs, in the ONNX backend test layout:
test_<name>/model.onnx, test_<name>/test_data_set_0/{input_0,output_K}.pb.

Needs Debian's python3-sklearn, python3-onnx, python3-numpy:
    /usr/bin/python3 tests/conformance/ml/make_ml_tests.py

Conventions the runtime exposes (see agent/runtime/ops/ops_ml.h): a label
output of a model with classlabels_strings is an int64 class index; a ZipMap
output is its [N, C] probability tensor.
"""
import os
import shutil

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from sklearn.datasets import (load_breast_cancer, load_diabetes, load_iris, load_linnerud,
                              load_wine)
from sklearn.ensemble import (GradientBoostingClassifier, GradientBoostingRegressor,
                              RandomForestClassifier, RandomForestRegressor)
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.model_selection import train_test_split
from sklearn.impute import SimpleImputer
from sklearn.preprocessing import Binarizer, Normalizer, StandardScaler
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

HERE = os.path.dirname(os.path.abspath(__file__))
ROWS = 30
ML = "ai.onnx.ml"


def split(loader, seed=0):
    x, y = loader(return_X_y=True)
    x = x.astype(np.float32).astype(np.float64)  # what the runtime sees, exactly
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=0.3, random_state=seed)
    return xtr, xte[:ROWS], ytr


def save(name, nodes, x, outputs, expected, ml_opset=1):
    """outputs: [(name, elem_type or None for seq(map), dims)], expected arrays."""
    inp = helper.make_tensor_value_info("X", TensorProto.FLOAT, list(x.shape))
    outs = []
    for oname, et, dims in outputs:
        if et is None:
            vt = onnx.TypeProto()  # seq(map(int64, float)), as skl2onnx's ZipMap output
            vt.sequence_type.elem_type.map_type.key_type = TensorProto.INT64
            vt.sequence_type.elem_type.map_type.value_type.tensor_type.elem_type = \
                TensorProto.FLOAT
            outs.append(helper.make_value_info(oname, vt))
        else:
            outs.append(helper.make_tensor_value_info(oname, et, dims))
    graph = helper.make_graph(nodes, name, [inp], outs)
    model = helper.make_model(graph, producer_name="make_ml_tests.py",
                              opset_imports=[helper.make_opsetid("", 13),
                                             helper.make_opsetid(ML, ml_opset)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    d = os.path.join(HERE, "test_" + name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(os.path.join(d, "test_data_set_0"))
    onnx.save(model, os.path.join(d, "model.onnx"))
    ds = os.path.join(d, "test_data_set_0")
    with open(os.path.join(ds, "input_0.pb"), "wb") as f:
        f.write(numpy_helper.from_array(x.astype(np.float32), "X").SerializeToString())
    for k, ((oname, _, _), arr) in enumerate(zip(outputs, expected)):
        with open(os.path.join(ds, "output_%d.pb" % k), "wb") as f:
            f.write(numpy_helper.from_array(arr, oname).SerializeToString())
    print("wrote", name)


def label_out(n, strings=False):
    return ("label", TensorProto.STRING if strings else TensorProto.INT64, [n])


def prob_out(n, c, name="probabilities"):
    return (name, TensorProto.FLOAT, [n, c])


def f32(a):
    return np.asarray(a, dtype=np.float32)


def i64(a):
    return np.asarray(a, dtype=np.int64)


def scaler_node(sc, inp, out):
    return helper.make_node("Scaler", [inp], [out], domain=ML, offset=sc.mean_.tolist(),
                            scale=(1.0 / sc.scale_).tolist())


# ---- linear models ---------------------------------------------------------

def linear_models():
    # binary LogisticRegression as skl2onnx writes it: two coefficient rows
    # (-w, w) and intercepts (-b, b) under LOGISTIC, so column 1 is P(class 1)
    xtr, xte, ytr = split(load_breast_cancer)
    sc = StandardScaler().fit(xtr)
    lr = LogisticRegression(max_iter=5000).fit(sc.transform(xtr), ytr)
    w, b = lr.coef_.ravel(), lr.intercept_
    n = len(xte)
    exp = [i64(lr.predict(sc.transform(xte))), f32(lr.predict_proba(sc.transform(xte)))]
    save("logreg_binary", [
        scaler_node(sc, "X", "scaled"),
        helper.make_node("LinearClassifier", ["scaled"], ["label", "probabilities"], domain=ML,
                         coefficients=np.concatenate([-w, w]).tolist(),
                         intercepts=[float(-b[0]), float(b[0])], classlabels_ints=[0, 1],
                         post_transform="LOGISTIC")],
        xte, [label_out(n), prob_out(n, 2)], exp)
    # the same model with one coefficient row: its score is the positive class's
    save("logreg_binary_one_row", [
        scaler_node(sc, "X", "scaled"),
        helper.make_node("LinearClassifier", ["scaled"], ["label", "probabilities"], domain=ML,
                         coefficients=w.tolist(), intercepts=[float(b[0])],
                         classlabels_ints=[0, 1], post_transform="LOGISTIC")],
        xte, [label_out(n), prob_out(n, 2)], exp)
    # raw decision scores (NONE) of the two-row form
    dec = lr.decision_function(sc.transform(xte))
    save("logreg_binary_scores", [
        scaler_node(sc, "X", "scaled"),
        helper.make_node("LinearClassifier", ["scaled"], ["label", "scores"], domain=ML,
                         coefficients=np.concatenate([-w, w]).tolist(),
                         intercepts=[float(-b[0]), float(b[0])], classlabels_ints=[0, 1])],
        xte, [label_out(n), prob_out(n, 2, "scores")],
        [i64(lr.predict(sc.transform(xte))), f32(np.stack([-dec, dec], axis=1))])

    # multinomial LogisticRegression: SOFTMAX over one row per class
    xtr, xte, ytr = split(load_iris)
    lr = LogisticRegression(max_iter=5000).fit(xtr, ytr)
    n = len(xte)
    save("logreg_multinomial", [
        helper.make_node("LinearClassifier", ["X"], ["label", "probabilities"], domain=ML,
                         coefficients=lr.coef_.ravel().tolist(), intercepts=lr.intercept_.tolist(),
                         classlabels_ints=[int(c) for c in lr.classes_], multi_class=1,
                         post_transform="SOFTMAX")],
        xte, [label_out(n), prob_out(n, 3)], [i64(lr.predict(xte)), f32(lr.predict_proba(xte))])
    # string class labels: the label output is the class index (int64)
    names = load_iris().target_names.tolist()
    save("logreg_string_labels", [
        helper.make_node("LinearClassifier", ["X"], ["label", "probabilities"], domain=ML,
                         coefficients=lr.coef_.ravel().tolist(), intercepts=lr.intercept_.tolist(),
                         classlabels_strings=names, post_transform="SOFTMAX")],
        xte, [label_out(n, True), prob_out(n, 3)],
        [i64(lr.predict(xte)), f32(lr.predict_proba(xte))])
    # ZipMap consumed as a tensor: the [N, C] probabilities
    save("logreg_zipmap", [
        helper.make_node("LinearClassifier", ["X"], ["label", "probabilities"], domain=ML,
                         coefficients=lr.coef_.ravel().tolist(), intercepts=lr.intercept_.tolist(),
                         classlabels_ints=[0, 1, 2], post_transform="SOFTMAX"),
        helper.make_node("ZipMap", ["probabilities"], ["output_probability"], domain=ML,
                         classlabels_int64s=[0, 1, 2])],
        xte, [label_out(n), ("output_probability", None, None)],
        [i64(lr.predict(xte)), f32(lr.predict_proba(xte))])

    # one-vs-rest LogisticRegression: LOGISTIC per class, then L1 Normalizer
    xtr, xte, ytr = split(load_wine)
    sc = StandardScaler().fit(xtr)
    lr = LogisticRegression(multi_class="ovr", max_iter=5000).fit(sc.transform(xtr), ytr)
    n = len(xte)
    save("logreg_ovr", [
        scaler_node(sc, "X", "scaled"),
        helper.make_node("LinearClassifier", ["scaled"], ["label", "scores"], domain=ML,
                         coefficients=lr.coef_.ravel().tolist(), intercepts=lr.intercept_.tolist(),
                         classlabels_ints=[0, 1, 2], post_transform="LOGISTIC"),
        helper.make_node("Normalizer", ["scores"], ["probabilities"], domain=ML, norm="L1")],
        xte, [label_out(n), prob_out(n, 3)],
        [i64(lr.predict(sc.transform(xte))), f32(lr.predict_proba(sc.transform(xte)))])

    # regressors
    xtr, xte, ytr = split(load_diabetes)
    reg = LinearRegression().fit(xtr, ytr)
    n = len(xte)
    save("linear_regression", [
        helper.make_node("LinearRegressor", ["X"], ["variable"], domain=ML,
                         coefficients=reg.coef_.tolist(), intercepts=[float(reg.intercept_)])],
        xte, [("variable", TensorProto.FLOAT, [n, 1])], [f32(reg.predict(xte)).reshape(-1, 1)])
    x, y = load_linnerud(return_X_y=True)
    x = x.astype(np.float32).astype(np.float64)
    reg = Ridge(alpha=1.0).fit(x[:15], y[:15])
    xte = x[15:]
    save("ridge_multi_target", [
        helper.make_node("LinearRegressor", ["X"], ["variable"], domain=ML, targets=3,
                         coefficients=reg.coef_.ravel().tolist(), intercepts=reg.intercept_.tolist())],
        xte, [("variable", TensorProto.FLOAT, [len(xte), 3])], [f32(reg.predict(xte))])


# ---- trees -----------------------------------------------------------------

def tree_nodes(trees, modes_fn=None):
    """Node attributes of a list of sklearn trees (tree_ objects)."""
    a = {k: [] for k in ("nodes_treeids", "nodes_nodeids", "nodes_featureids", "nodes_values",
                         "nodes_modes", "nodes_truenodeids", "nodes_falsenodeids")}
    for t, tr in enumerate(trees):
        for i in range(tr.node_count):
            leaf = tr.children_left[i] == -1
            mode, thr, tru, fal = "BRANCH_LEQ", float(tr.threshold[i]), tr.children_left[i], \
                tr.children_right[i]
            if leaf:
                mode, thr, tru, fal = "LEAF", 0.0, 0, 0
            elif modes_fn:
                mode, thr, tru, fal = modes_fn(t, i, thr, tru, fal)
            a["nodes_treeids"].append(t)
            a["nodes_nodeids"].append(i)
            a["nodes_featureids"].append(int(tr.feature[i]) if not leaf else 0)
            a["nodes_values"].append(thr)
            a["nodes_modes"].append(mode)
            a["nodes_truenodeids"].append(int(tru))
            a["nodes_falsenodeids"].append(int(fal))
    return a


def as_tensors(attrs, names):
    """ai.onnx.ml opset 3: the named float lists as double tensors."""
    for nm in names:
        attrs[nm + "_as_tensor"] = numpy_helper.from_array(np.asarray(attrs.pop(nm), np.float64))
    return attrs


def class_weights(trees, scale, classes):
    a = {"class_treeids": [], "class_nodeids": [], "class_ids": [], "class_weights": []}
    for t, tr in enumerate(trees):
        for i in range(tr.node_count):
            if tr.children_left[i] != -1:
                continue
            v = tr.value[i, 0, :]
            v = v / v.sum()
            for c in range(classes):
                a["class_treeids"].append(t)
                a["class_nodeids"].append(i)
                a["class_ids"].append(c)
                a["class_weights"].append(float(v[c] * scale))
    return a


def target_weights(trees, scale, col=lambda t: 0):
    a = {"target_treeids": [], "target_nodeids": [], "target_ids": [], "target_weights": []}
    for t, tr in enumerate(trees):
        for i in range(tr.node_count):
            if tr.children_left[i] != -1:
                continue
            a["target_treeids"].append(t)
            a["target_nodeids"].append(i)
            a["target_ids"].append(col(t))
            a["target_weights"].append(float(tr.value[i, 0, 0] * scale))
    return a


def tree_models():
    # DecisionTreeClassifier, iris: leaf class fractions, no transform
    xtr, xte, ytr = split(load_iris)
    dt = DecisionTreeClassifier(random_state=0).fit(xtr, ytr)
    n = len(xte)
    attrs = dict(tree_nodes([dt.tree_]), **class_weights([dt.tree_], 1.0, 3))
    save("decision_tree_classifier", [
        helper.make_node("TreeEnsembleClassifier", ["X"], ["label", "probabilities"], domain=ML,
                         classlabels_int64s=[0, 1, 2], post_transform="NONE", **attrs)],
        xte, [label_out(n), prob_out(n, 3)], [i64(dt.predict(xte)), f32(dt.predict_proba(xte))])

    # every branch mode: each LEQ split rewritten as an equivalent LT, GTE or
    # GT (children swapped where the test is negated); thresholds are float32
    # like the data, so x <= t is x < nextafter(t) and !(x >= nextafter(t))
    def rewrite(t, i, thr, tru, fal):
        t32 = np.float32(thr)
        up = float(np.nextafter(t32, np.float32(np.inf)))
        k = i % 4
        if k == 0:
            return "BRANCH_LEQ", float(t32), tru, fal
        if k == 1:
            return "BRANCH_LT", up, tru, fal
        if k == 2:
            return "BRANCH_GTE", up, fal, tru
        return "BRANCH_GT", float(t32), fal, tru
    attrs = dict(tree_nodes([dt.tree_], rewrite), **class_weights([dt.tree_], 1.0, 3))
    save("decision_tree_modes", [
        helper.make_node("TreeEnsembleClassifier", ["X"], ["label", "probabilities"], domain=ML,
                         classlabels_int64s=[0, 1, 2], **attrs)],
        xte, [label_out(n), prob_out(n, 3)], [i64(dt.predict(xte)), f32(dt.predict_proba(xte))])

    # binary tree with string labels (label output = class index)
    xtr, xte, ytr = split(load_breast_cancer)
    dt = DecisionTreeClassifier(max_depth=6, random_state=0).fit(xtr, ytr)
    n = len(xte)
    attrs = dict(tree_nodes([dt.tree_]), **class_weights([dt.tree_], 1.0, 2))
    save("decision_tree_binary_strings", [
        helper.make_node("TreeEnsembleClassifier", ["X"], ["label", "probabilities"], domain=ML,
                         classlabels_strings=load_breast_cancer().target_names.tolist(), **attrs)],
        xte, [label_out(n, True), prob_out(n, 2)], [i64(dt.predict(xte)), f32(dt.predict_proba(xte))])

    # RandomForestClassifier, wine: mean of tree probabilities; ai.onnx.ml 3
    # with double thresholds and weights (exactly scikit-learn's splits)
    xtr, xte, ytr = split(load_wine)
    rf = RandomForestClassifier(n_estimators=10, max_depth=5, random_state=0).fit(xtr, ytr)
    n = len(xte)
    trees = [e.tree_ for e in rf.estimators_]
    attrs = as_tensors(dict(tree_nodes(trees), **class_weights(trees, 1.0 / len(trees), 3)),
                       ["nodes_values", "class_weights"])
    save("random_forest_classifier", [
        helper.make_node("TreeEnsembleClassifier", ["X"], ["label", "probabilities"], domain=ML,
                         classlabels_int64s=[0, 1, 2], **attrs)],
        xte, [label_out(n), prob_out(n, 3)], [i64(rf.predict(xte)), f32(rf.predict_proba(xte))],
        ml_opset=3)

    # GradientBoostingClassifier, binary: skl2onnx's form, one score column
    # (class_ids all 0) with the prior log-odds as base value, LOGISTIC
    xtr, xte, ytr = split(load_breast_cancer)
    gb = GradientBoostingClassifier(n_estimators=20, max_depth=3, random_state=0).fit(xtr, ytr)
    n = len(xte)
    trees = [e.tree_ for e in gb.estimators_[:, 0]]
    base = float(gb._raw_predict_init(xte[:1])[0, 0])
    attrs = dict(tree_nodes(trees), **target_weights(trees, gb.learning_rate))
    attrs = {k.replace("target_", "class_"): v for k, v in attrs.items()}
    save("gradient_boosting_binary", [
        helper.make_node("TreeEnsembleClassifier", ["X"], ["label", "probabilities"], domain=ML,
                         classlabels_int64s=[0, 1], base_values=[base], post_transform="LOGISTIC",
                         **attrs)],
        xte, [label_out(n), prob_out(n, 2)], [i64(gb.predict(xte)), f32(gb.predict_proba(xte))])

    # GradientBoostingClassifier, 3 classes: a tree per class and round,
    # per-class prior as base values, SOFTMAX
    xtr, xte, ytr = split(load_iris)
    gb = GradientBoostingClassifier(n_estimators=15, max_depth=2, random_state=0).fit(xtr, ytr)
    n = len(xte)
    trees = [e.tree_ for e in gb.estimators_.ravel()]
    k = gb.estimators_.shape[1]
    attrs = dict(tree_nodes(trees), **target_weights(trees, gb.learning_rate, lambda t: t % k))
    attrs = {kk.replace("target_", "class_"): v for kk, v in attrs.items()}
    base = gb._raw_predict_init(xte[:1])[0].tolist()
    save("gradient_boosting_multiclass", [
        helper.make_node("TreeEnsembleClassifier", ["X"], ["label", "probabilities"], domain=ML,
                         classlabels_int64s=[0, 1, 2], base_values=base, post_transform="SOFTMAX",
                         **attrs)],
        xte, [label_out(n), prob_out(n, 3)], [i64(gb.predict(xte)), f32(gb.predict_proba(xte))])

    # regressors, diabetes: SUM (one tree, boosting), AVERAGE (forest),
    # MIN / MAX (forest, against the min / max of scikit-learn's trees)
    xtr, xte, ytr = split(load_diabetes)
    n = len(xte)
    out = [("variable", TensorProto.FLOAT, [n, 1])]
    dt = DecisionTreeRegressor(max_depth=6, random_state=0).fit(xtr, ytr)
    save("decision_tree_regressor", [
        helper.make_node("TreeEnsembleRegressor", ["X"], ["variable"], domain=ML, n_targets=1,
                         **dict(tree_nodes([dt.tree_]), **target_weights([dt.tree_], 1.0)))],
        xte, out, [f32(dt.predict(xte)).reshape(-1, 1)])
    rf = RandomForestRegressor(n_estimators=8, max_depth=5, random_state=0).fit(xtr, ytr)
    trees = [e.tree_ for e in rf.estimators_]
    per_tree = np.stack([e.predict(xte) for e in rf.estimators_])
    # double thresholds (ai.onnx.ml 3): diabetes has feature values one float32
    # step apart, where a float32 threshold would split differently
    for agg, want in (("AVERAGE", rf.predict(xte)), ("MIN", per_tree.min(axis=0)),
                      ("MAX", per_tree.max(axis=0))):
        attrs = as_tensors(dict(tree_nodes(trees), **target_weights(trees, 1.0)),
                           ["nodes_values", "target_weights"])
        save("random_forest_regressor_" + agg.lower(), [
            helper.make_node("TreeEnsembleRegressor", ["X"], ["variable"], domain=ML, n_targets=1,
                             aggregate_function=agg, **attrs)],
            xte, out, [f32(want).reshape(-1, 1)], ml_opset=3)
    gb = GradientBoostingRegressor(n_estimators=20, max_depth=3, random_state=0).fit(xtr, ytr)
    trees = [e.tree_ for e in gb.estimators_[:, 0]]
    save("gradient_boosting_regressor", [
        helper.make_node("TreeEnsembleRegressor", ["X"], ["variable"], domain=ML, n_targets=1,
                         base_values=[float(gb._raw_predict_init(xte[:1])[0, 0])],
                         **dict(tree_nodes(trees), **target_weights(trees, gb.learning_rate)))],
        xte, out, [f32(gb.predict(xte)).reshape(-1, 1)])


# ---- preprocessing ---------------------------------------------------------

def preprocessing():
    xtr, xte, _ = split(load_wine)
    n, f = xte.shape
    sc = StandardScaler().fit(xtr)
    save("standard_scaler", [scaler_node(sc, "X", "Y")], xte,
         [("Y", TensorProto.FLOAT, [n, f])], [f32(sc.transform(xte))])
    # SimpleImputer (mean) -> Binarizer, on rows with missing values
    rng = np.random.RandomState(1)
    xnan = xtr.copy()
    xnan[rng.rand(*xnan.shape) < 0.1] = np.nan
    imp = SimpleImputer(strategy="mean").fit(xnan)
    xq = xte.copy()
    xq[rng.rand(*xq.shape) < 0.2] = np.nan
    thr = float(np.float32(np.median(xtr)))
    save("imputer_binarizer", [
        helper.make_node("Imputer", ["X"], ["imputed"], domain=ML,
                         imputed_value_floats=imp.statistics_.tolist(),
                         replaced_value_float=float("nan")),
        helper.make_node("Binarizer", ["imputed"], ["Y"], domain=ML, threshold=thr)], xq,
        [("Y", TensorProto.FLOAT, [n, f])],
        [f32(Binarizer(threshold=thr).transform(imp.transform(xq)))])
    for norm in ("max", "l1", "l2"):
        nz = Normalizer(norm=norm)
        save("normalizer_" + norm, [
            helper.make_node("Normalizer", ["X"], ["Y"], domain=ML, norm=norm.upper())], xte,
            [("Y", TensorProto.FLOAT, [n, f])], [f32(nz.transform(xte))])


def fuzz_seed():
    """A tiny ONNX-ML model for the fuzz corpus: Scaler, a two-tree forest
    (every branch mode, a missing-value flag, double thresholds) with string
    labels, and a ZipMap."""
    tree = dict(nodes_treeids=[0, 0, 0, 0, 0, 1, 1, 1], nodes_nodeids=[0, 1, 2, 3, 4, 0, 1, 2],
                nodes_featureids=[0, 1, 0, 0, 0, 1, 0, 0],
                nodes_modes=["BRANCH_LT", "BRANCH_NEQ", "LEAF", "LEAF", "LEAF", "BRANCH_GTE",
                             "LEAF", "LEAF"],
                nodes_values=[0.5, 1.0, 0, 0, 0, -0.25, 0, 0],
                nodes_truenodeids=[1, 2, 0, 0, 0, 1, 0, 0],
                nodes_falsenodeids=[4, 3, 0, 0, 0, 2, 0, 0],
                nodes_missing_value_tracks_true=[1, 0, 0, 0, 0, 0, 0, 0],
                class_treeids=[0, 0, 0, 1, 1], class_nodeids=[2, 3, 4, 1, 2],
                class_ids=[0, 1, 2, 1, 0], class_weights=[0.5, 1.0, 0.25, 0.75, -0.5])
    nodes = [helper.make_node("Scaler", ["X"], ["s"], domain=ML, offset=[0.1], scale=[2.0]),
             helper.make_node("TreeEnsembleClassifier", ["s"], ["label", "probabilities"],
                              domain=ML, classlabels_strings=["a", "b", "c"], base_values=[0, 0, 0.1],
                              post_transform="SOFTMAX",
                              **as_tensors(tree, ["nodes_values", "class_weights"])),
             helper.make_node("ZipMap", ["probabilities"], ["map"], domain=ML,
                              classlabels_strings=["a", "b", "c"])]
    graph = helper.make_graph(nodes, "fuzz_ml",
                              [helper.make_tensor_value_info("X", TensorProto.FLOAT, [2, 2])],
                              [helper.make_tensor_value_info("label", TensorProto.STRING, [2]),
                               helper.make_tensor_value_info("map", TensorProto.FLOAT, [2, 3])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13),
                                                    helper.make_opsetid(ML, 3)])
    model.ir_version = 8
    path = os.path.join(HERE, "..", "..", "fuzz", "corpus", "onnx", "ml_forest_zipmap.onnx")
    onnx.save(model, path)
    print("wrote", os.path.normpath(path))


if __name__ == "__main__":
    linear_models()
    tree_models()
    preprocessing()
    fuzz_seed()
