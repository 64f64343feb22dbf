"""make_small_pb.py writes small.pb, a frozen TensorFlow GraphDef built with
Google's protobuf runtime (not with model/tf), and small.ref.json, its
outputs on a fixed input computed with numpy following TensorFlow's op
definitions. model/tf's tests decode the .pb and compare.

Run with Debian's python3 (python3-protobuf, python3-numpy) and protoc
(protobuf-compiler):

    /usr/bin/python3 testdata/tf/make_small_pb.py

The schema is graph_subset.proto, TensorFlow's field numbers for the
GraphDef messages.
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
tmp = tempfile.mkdtemp()
subprocess.run(["protoc", f"--proto_path={here}", f"--python_out={tmp}", "graph_subset.proto"], check=True)
sys.path.insert(0, tmp)
import graph_subset_pb2 as pb  # noqa: E402

rng = np.random.default_rng(2024)
g = pb.GraphDef()
g.versions.producer = 1205


def node(name, op, inputs=(), **attrs):
    n = g.node.add(name=name, op=op)
    n.input.extend(inputs)
    for k, v in attrs.items():
        a = n.attr[k]
        if isinstance(v, bool):
            a.b = v
        elif isinstance(v, int):
            a.i = v
        elif isinstance(v, float):
            a.f = v
        elif isinstance(v, str):
            a.s = v.encode()
        elif isinstance(v, list):
            a.list.i.extend(v)
        else:
            v(a)
    return n


def dtype(d):
    return lambda a: setattr(a, "type", d)


def const(name, arr, form="content"):
    """A Const in one of TensorProto's forms: tensor_content, or the
    repeated *_val field (with a single value filling the shape when all
    values are equal)."""
    arr = np.asarray(arr)
    n = node(name, "Const")
    t = n.attr["value"].tensor
    if arr.dtype == np.float32:
        t.dtype = pb.DT_FLOAT
    else:
        t.dtype = pb.DT_INT32
        arr = arr.astype(np.int32)
    n.attr["dtype"].type = t.dtype
    for d in arr.shape:
        t.tensor_shape.dim.add(size=d)
    if form == "content":
        t.tensor_content = arr.astype("<f4" if arr.dtype == np.float32 else "<i4").tobytes()
    elif form == "fill":
        (t.float_val if arr.dtype == np.float32 else t.int_val).append(arr.flat[0].item())
    else:
        (t.float_val if arr.dtype == np.float32 else t.int_val).extend(arr.flatten().tolist())
    return arr


def same_pads(n, k, s):
    out = -(-n // s)
    total = max((out - 1) * s + k - n, 0)
    return total // 2, total - total // 2, out


def conv(x, w, s, padding, depthwise=False):
    """TensorFlow Conv2D (w [KH, KW, I, O]) or DepthwiseConv2dNative
    (w [KH, KW, C, M], output channel c*M + m), NHWC."""
    n, h, wd, c = x.shape
    kh, kw = w.shape[:2]
    if padding == "SAME":
        pt, pb_, oh = same_pads(h, kh, s)
        pl, pr, ow = same_pads(wd, kw, s)
    else:
        pt = pb_ = pl = pr = 0
        oh, ow = (h - kh) // s + 1, (wd - kw) // s + 1
    xp = np.pad(x.astype(np.float64), ((0, 0), (pt, pb_), (pl, pr), (0, 0)))
    oc = c * w.shape[3] if depthwise else w.shape[3]
    out = np.zeros((n, oh, ow, oc))
    for i in range(oh):
        for j in range(ow):
            patch = xp[:, i * s:i * s + kh, j * s:j * s + kw, :]
            if depthwise:
                out[:, i, j, :] = np.einsum("nhwc,hwcm->ncm", patch, w).reshape(n, oc)
            else:
                out[:, i, j, :] = np.einsum("nhwc,hwco->no", patch, w)
    return out


def maxpool_same(x, k, s):
    n, h, w, c = x.shape
    pt, _, oh = same_pads(h, k, s)
    pl, _, ow = same_pads(w, k, s)
    out = np.zeros((n, oh, ow, c))
    for i in range(oh):
        for j in range(ow):
            h0, w0 = i * s - pt, j * s - pl
            win = x[:, max(h0, 0):h0 + k, max(w0, 0):w0 + k, :]
            out[:, i, j, :] = win.max(axis=(1, 2))
    return out


f32 = np.float32
x = rng.uniform(0, 1, (1, 6, 5, 2)).astype(f32)
node("x", "Placeholder", dtype=dtype(pb.DT_FLOAT),
     shape=lambda a: a.shape.dim.extend([pb.TensorShapeProto.Dim(size=d) for d in (-1, 6, 5, 2)]))
w1 = const("w1", rng.uniform(-1, 1, (3, 3, 2, 4)).astype(f32))
node("c1", "Conv2D", ["x", "w1"], T=dtype(pb.DT_FLOAT), strides=[1, 2, 2, 1], padding="SAME",
     data_format="NHWC", dilations=[1, 1, 1, 1], use_cudnn_on_gpu=True)
b1 = const("b1", rng.uniform(2, 4, (4,)).astype(f32), form="vals")
node("ba", "BiasAdd", ["c1", "b1"], T=dtype(pb.DT_FLOAT), data_format="NHWC")
node("r", "Relu6", ["ba", "^x"], T=dtype(pb.DT_FLOAT))
dw = const("dw", rng.uniform(-1, 1, (3, 3, 4, 2)).astype(f32))
node("d", "DepthwiseConv2dNative", ["r", "dw"], T=dtype(pb.DT_FLOAT), strides=[1, 1, 1, 1], padding="SAME",
     data_format="NHWC", dilations=[1, 1, 1, 1])
node("mp", "MaxPool", ["d"], T=dtype(pb.DT_FLOAT), ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="SAME",
     data_format="NHWC")
scale = const("scale", rng.uniform(0.5, 1.5, (8,)).astype(f32), form="vals")
offset = const("offset", rng.uniform(-1, 1, (8,)).astype(f32))
mean = const("mean", rng.uniform(-1, 1, (8,)).astype(f32))
var = const("var", np.full((8,), 0.5, f32), form="fill")
node("bn", "FusedBatchNormV3", ["mp", "scale", "offset", "mean", "var"], T=dtype(pb.DT_FLOAT),
     U=dtype(pb.DT_FLOAT), epsilon=0.001, is_training=False, data_format="NHWC")
const("shape", np.array([1, -1]), form="vals")
node("flat", "Reshape", ["bn", "shape"], T=dtype(pb.DT_FLOAT), Tshape=dtype(pb.DT_INT32))
wm = const("wm", rng.uniform(-1, 1, (3, 32)).astype(f32))
node("mm", "MatMul", ["flat", "wm"], T=dtype(pb.DT_FLOAT), transpose_a=False, transpose_b=True)
bm = const("bm", rng.uniform(-1, 1, (3,)).astype(f32), form="vals")
node("logits", "AddV2", ["mm", "bm"], T=dtype(pb.DT_FLOAT))
node("probs", "Softmax", ["logits"], T=dtype(pb.DT_FLOAT))

# The same computation in numpy (float64).
y = conv(x, w1, 2, "SAME") + b1
y = np.clip(y, 0, 6)
y = conv(y, dw, 1, "SAME", depthwise=True)
y = maxpool_same(y, 2, 2)
y = (y - mean) * scale / np.sqrt(var.astype(np.float64) + np.float64(f32(0.001))) + offset
logits = y.reshape(1, -1) @ wm.T.astype(np.float64) + bm
probs = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()

with open(os.path.join(here, "small.pb"), "wb") as f:
    f.write(g.SerializeToString())
ref = {
    "model": "testdata/tf/small.pb",
    "generator": "testdata/tf/make_small_pb.py (Google protobuf runtime; numpy float64 reference)",
    "input_shape": list(x.shape),
    "inputs": [x.flatten().tolist()],
    "outputs": [probs.flatten().tolist()],
    "logits": [logits.flatten().tolist()],
}
with open(os.path.join(here, "small.ref.json"), "w") as f:
    json.dump(ref, f, indent=1)
    f.write("\n")
print("probs", probs, "logits", logits)
