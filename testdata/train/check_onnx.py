#!/usr/bin/python3
"""Independent check of the committed models: evaluates each ONNX graph with a
small NumPy interpreter (float64) and compares the logits with the PyTorch
reference outputs in MODEL.ref.json, and the accuracy on the full committed
test set with the recorded one.

Usage: check_onnx.py [MODELS_DIR]
"""
import gzip
import json
import os
import struct
import sys

import numpy as np
import onnx
from onnx import numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")


def attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def conv(x, w, b, a):
    n, c, h, wd = x.shape
    m, cg, kh, kw = w.shape
    assert a.get("group", 1) == 1 and cg == c
    assert all(d == 1 for d in a.get("dilations", [1, 1]))
    pt, pl, pb, pr = a.get("pads", [0, 0, 0, 0])
    sh, sw = a.get("strides", [1, 1])
    x = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    oh = (x.shape[2] - kh) // sh + 1
    ow = (x.shape[3] - kw) // sw + 1
    out = np.zeros((n, m, oh, ow))
    for i in range(kh):
        for j in range(kw):
            patch = x[:, :, i:i + sh * oh:sh, j:j + sw * ow:sw]  # n,c,oh,ow
            out += np.einsum("nchw,mc->nmhw", patch, w[:, :, i, j])
    if b is not None:
        out += b.reshape(1, -1, 1, 1)
    return out


def pool(x, a, op):
    kh, kw = a["kernel_shape"]
    sh, sw = a.get("strides", [1, 1])
    assert not any(a.get("pads", [0, 0, 0, 0])) and not a.get("ceil_mode", 0)
    oh = (x.shape[2] - kh) // sh + 1
    ow = (x.shape[3] - kw) // sw + 1
    windows = [x[:, :, i:i + sh * oh:sh, j:j + sw * ow:sw] for i in range(kh) for j in range(kw)]
    return op(np.stack(windows), axis=0)


def run(model, x):
    env = {t.name: numpy_helper.to_array(t).astype(np.float64) for t in model.graph.initializer}
    env[model.graph.input[0].name] = x.astype(np.float64)
    for node in model.graph.node:
        a = attrs(node)
        ins = [env[i] if i else None for i in node.input]
        t = node.op_type
        if t == "Conv":
            y = conv(ins[0], ins[1], ins[2] if len(ins) > 2 else None, a)
        elif t == "Relu":
            y = np.maximum(ins[0], 0)
        elif t == "MaxPool":
            y = pool(ins[0], a, np.max)
        elif t == "AveragePool":
            y = pool(ins[0], a, np.mean)
        elif t == "GlobalAveragePool":
            y = ins[0].mean(axis=(2, 3), keepdims=True)
        elif t == "Flatten":
            ax = a.get("axis", 1)
            y = ins[0].reshape(int(np.prod(ins[0].shape[:ax])), -1)
        elif t == "Gemm":
            A, B = ins[0], ins[1]
            if a.get("transA", 0):
                A = A.T
            if a.get("transB", 0):
                B = B.T
            y = a.get("alpha", 1.0) * A @ B
            if len(ins) > 2:
                y = y + a.get("beta", 1.0) * ins[2]
        elif t == "BatchNormalization":
            xx, s, b, mean, var = ins
            sh = (1, -1, 1, 1)
            y = (xx - mean.reshape(sh)) / np.sqrt(var.reshape(sh) + a.get("epsilon", 1e-5)) * s.reshape(sh) + b.reshape(sh)
        elif t == "Add":
            y = ins[0] + ins[1]
        else:
            raise NotImplementedError(t)
        env[node.output[0]] = y
    return env[model.graph.output[0].name]


def read_idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def test_set(ref):
    p = os.path.join(ROOT, ref["test_set"])
    if p.endswith(".csv"):
        arr = np.loadtxt(p, delimiter=",", dtype=np.int64)
        return arr[:, :64].astype(np.float32) / np.float32(ref["pixel_max"]), arr[:, 64]
    names = sorted(os.listdir(p))
    imgs = [n for n in names if "images" in n][0]
    lbls = [n for n in names if "labels" in n][0]
    x = read_idx(os.path.join(p, imgs)).astype(np.float32) / np.float32(ref["pixel_max"])
    return x[:, None, :, :], read_idx(os.path.join(p, lbls)).astype(np.int64)


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "models")
    ok = True
    for name in sorted(os.listdir(d)):
        if name not in ("digits_mlp.onnx", "fashion_lenet.onnx", "mnist_resnet.onnx"):
            continue
        model = onnx.load(os.path.join(d, name))
        onnx.checker.check_model(model, full_check=True)
        with open(os.path.join(d, name[:-5] + ".ref.json")) as f:
            ref = json.load(f)
        shape = ref["input_shape"]
        x = np.asarray(ref["inputs"], dtype=np.float32).reshape([-1] + shape[1:])
        y = run(model, x)
        err = np.abs(y - np.asarray(ref["outputs"])).max()
        # Full test set accuracy, evaluated in chunks.
        xt, yt = test_set(ref)
        assert np.array_equal(xt[:len(x)].reshape(x.shape), x), "reference inputs differ from the test set"
        correct = 0
        for i in range(0, len(xt), 500):
            correct += int((run(model, xt[i:i + 500]).argmax(1) == yt[i:i + 500]).sum())
        acc = correct / len(xt)
        good = err < 1e-4 and abs(acc - ref["test_accuracy"]) < 1e-9
        ok &= good
        print(f"{name}: max |numpy - torch| = {err:.2e}, numpy test accuracy {acc:.4f} "
              f"(recorded {ref['test_accuracy']:.4f}) {'OK' if good else 'MISMATCH'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
