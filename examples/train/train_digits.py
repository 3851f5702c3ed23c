#!/usr/bin/python3
"""Trains the demo's models and writes them with their golden data, metrics and lineage.

Run by hand (not in CI) with Debian's python3-torch, python3-sklearn and python3-onnx:
    apt-get install python3-torch python3-sklearn python3-onnx
    /usr/bin/python3 examples/train/train_digits.py

Writes examples/models/:
  digits/v1.onnx, v2.onnx        small CNNs on scikit-learn's 8x8 handwritten digits
  digits/v3-bad.onnx             v2 with scrambled weights: its golden vectors must fail
  digits/golden/                 input_0.pb / output_0.pb (a held-out batch, v2's logits)
  digits/golden-v1/              the same batch with v1's logits (v1's own golden data)
  digits/test_x.f32, test_y.u8   the whole held-out split (raw float32 LE, uint8 labels)
  digits/v*.json                 metrics and lineage per version
  wine/v1.onnx, golden/, v1.json a classic model (scaler + logistic regression) as ONNX-ML
The split, seeds and hyperparameters are fixed, so a rerun gives the same data split.
"""
import hashlib
import json
import os
import subprocess
import sys

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper
from sklearn import datasets
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.normpath(os.path.join(HERE, "..", "models"))
GOLDEN_N = 32


def script_commit():
    try:
        return subprocess.check_output(["git", "-C", HERE, "rev-parse", "HEAD"],
                                       text=True, stderr=subprocess.DEVNULL).strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def file_sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def dataset_file(name):
    return os.path.join(os.path.dirname(datasets.__file__), "data", name)


def write_tensor(path, arr, name):
    t = numpy_helper.from_array(np.ascontiguousarray(arr), name=name)
    with open(path, "wb") as f:
        f.write(t.SerializeToString())


class Net(torch.nn.Module):
    def __init__(self, c1, c2, hidden):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(1, c1, 3, padding=1)
        self.conv2 = torch.nn.Conv2d(c1, c2, 3, padding=1)
        self.pool = torch.nn.MaxPool2d(2)
        self.fc1 = torch.nn.Linear(c2 * 2 * 2, hidden)
        self.fc2 = torch.nn.Linear(hidden, 10)

    def forward(self, x):
        x = self.pool(torch.relu(self.conv1(x)))
        x = self.pool(torch.relu(self.conv2(x)))
        x = torch.flatten(x, 1)
        return self.fc2(torch.relu(self.fc1(x)))


def train(hp, xtr, ytr):
    torch.manual_seed(hp["seed"])
    net = Net(hp["c1"], hp["c2"], hp["hidden"])
    opt = torch.optim.SGD(net.parameters(), lr=hp["lr"], momentum=0.9)
    lossf = torch.nn.CrossEntropyLoss()
    xt, yt = torch.from_numpy(xtr), torch.from_numpy(ytr.astype(np.int64))
    g = torch.Generator().manual_seed(hp["seed"])
    for _ in range(hp["epochs"]):
        perm = torch.randperm(len(xt), generator=g)
        for i in range(0, len(xt), hp["batch"]):
            idx = perm[i:i + hp["batch"]]
            opt.zero_grad()
            loss = lossf(net(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
    net.eval()
    return net


def export(net, path):
    dummy = torch.zeros(1, 1, 8, 8)
    torch.onnx.export(net, dummy, path, input_names=["image"], output_names=["logits"],
                      dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}},
                      opset_version=13, do_constant_folding=True)
    onnx.checker.check_model(onnx.load(path))


def logits(net, x):
    with torch.no_grad():
        return net(torch.from_numpy(x)).numpy()


def digits(commit):
    d = datasets.load_digits()
    x = (d.images.astype(np.float32) / 16.0).reshape(-1, 1, 8, 8)
    y = d.target.astype(np.uint8)
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=0.25, random_state=7, stratify=y)
    data_hash = "sha256:" + file_sha256(dataset_file("digits.csv.gz"))
    out = os.path.join(OUT, "digits")
    os.makedirs(out, exist_ok=True)
    xte.astype("<f4").tofile(os.path.join(out, "test_x.f32"))
    yte.tofile(os.path.join(out, "test_y.u8"))

    hps = {
        1: dict(c1=4, c2=8, hidden=16, lr=0.05, epochs=15, batch=64, seed=1),
        2: dict(c1=16, c2=32, hidden=64, lr=0.05, epochs=25, batch=32, seed=2),
    }
    nets = {}
    for v, hp in hps.items():
        net = train(hp, xtr, ytr)
        nets[v] = net
        path = os.path.join(out, f"v{v}.onnx")
        export(net, path)
        acc = float((logits(net, xte).argmax(1) == yte).mean())
        meta = {"name": "digits", "version": v, "metrics": {"accuracy": round(acc, 4)},
                "lineage": {"code": f"git:{commit}", "data": data_hash,
                            "script": "examples/train/train_digits.py",
                            "hyperparameters": json.dumps(hp, sort_keys=True)}}
        with open(os.path.join(out, f"v{v}.json"), "w") as f:
            json.dump(meta, f, indent=2, sort_keys=True)
        print(f"digits v{v}: test accuracy {acc:.4f}")

    gx = xte[:GOLDEN_N]
    for v, name in ((1, "golden-v1"), (2, "golden")):
        gdir = os.path.join(out, name)
        os.makedirs(gdir, exist_ok=True)
        write_tensor(os.path.join(gdir, "input_0.pb"), gx, "image")
        write_tensor(os.path.join(gdir, "output_0.pb"), logits(nets[v], gx).astype(np.float32), "logits")

    # v3: v2's architecture with its conv1 filters scrambled: a release that loads and
    # runs fine but answers wrongly, which only the golden vectors catch.
    bad = nets[2]
    rng = np.random.default_rng(3)
    with torch.no_grad():
        w = bad.conv1.weight.numpy().copy()
        bad.conv1.weight.copy_(torch.from_numpy(rng.permutation(w.reshape(-1)).reshape(w.shape)))
        bad.fc2.weight.mul_(-1.0)
    export(bad, os.path.join(out, "v3-bad.onnx"))
    acc = float((logits(bad, xte).argmax(1) == yte).mean())
    with open(os.path.join(out, "v3-bad.json"), "w") as f:
        json.dump({"name": "digits", "version": 3, "metrics": {"accuracy": round(acc, 4)},
                   "lineage": {"code": f"git:{commit}", "data": data_hash,
                               "note": "deliberately corrupted copy of v2 (scrambled conv1, negated fc2)"}},
                  f, indent=2, sort_keys=True)
    print(f"digits v3-bad: test accuracy {acc:.4f}")


def wine(commit):
    """StandardScaler + multinomial LogisticRegression written as ai.onnx.ml
    Scaler -> LinearClassifier (SOFTMAX), outputs label (int64) and probabilities."""
    d = datasets.load_wine()
    x, y = d.data.astype(np.float32), d.target
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=0.3, random_state=11, stratify=y)
    sc = StandardScaler().fit(xtr)
    clf = LogisticRegression(C=1.0, max_iter=2000).fit(sc.transform(xtr), ytr)
    acc = float((clf.predict(sc.transform(xte)) == yte).mean())
    nfeat, ncls = x.shape[1], len(clf.classes_)
    nodes = [
        helper.make_node("Scaler", ["features"], ["scaled"], domain="ai.onnx.ml",
                         offset=sc.mean_.astype(np.float32).tolist(),
                         scale=(1.0 / sc.scale_).astype(np.float32).tolist()),
        helper.make_node("LinearClassifier", ["scaled"], ["label", "probabilities"],
                         domain="ai.onnx.ml", classlabels_ints=[int(c) for c in clf.classes_],
                         coefficients=clf.coef_.astype(np.float32).reshape(-1).tolist(),
                         intercepts=clf.intercept_.astype(np.float32).tolist(),
                         multi_class=1, post_transform="SOFTMAX"),
    ]
    graph = helper.make_graph(
        nodes, "wine_logreg",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["batch", nfeat])],
        [helper.make_tensor_value_info("label", TensorProto.INT64, ["batch"]),
         helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", ncls])])
    model = helper.make_model(graph, producer_name="flotilla-train",
                              opset_imports=[helper.make_opsetid("", 13),
                                             helper.make_opsetid("ai.onnx.ml", 1)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    out = os.path.join(OUT, "wine")
    os.makedirs(os.path.join(out, "golden"), exist_ok=True)
    onnx.save(model, os.path.join(out, "v1.onnx"))
    write_tensor(os.path.join(out, "golden", "input_0.pb"), xte, "features")
    write_tensor(os.path.join(out, "golden", "output_0.pb"), clf.predict(sc.transform(xte)).astype(np.int64), "label")
    write_tensor(os.path.join(out, "golden", "output_1.pb"),
                 clf.predict_proba(sc.transform(xte)).astype(np.float32), "probabilities")
    with open(os.path.join(out, "v1.json"), "w") as f:
        json.dump({"name": "wine", "version": 1, "metrics": {"accuracy": round(acc, 4)},
                   "lineage": {"code": f"git:{commit}",
                               "data": "sha256:" + file_sha256(dataset_file("wine_data.csv")),
                               "script": "examples/train/train_digits.py",
                               "hyperparameters": json.dumps({"C": 1.0, "max_iter": 2000})}},
                  f, indent=2, sort_keys=True)
    print(f"wine v1: test accuracy {acc:.4f}")


def main():
    commit = script_commit()
    torch.set_num_threads(1)
    digits(commit)
    wine(commit)
    return 0


if __name__ == "__main__":
    sys.exit(main())
