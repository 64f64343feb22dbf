#!/usr/bin/python3
"""Copy the ONNX backend node tests whose ops veil's importer claims to
support from Debian's libonnx-testdata into this directory.

Run from the repository root:  /usr/bin/python3 testdata/onnx-node/copy.py

Cases larger than 100 kB that unsupported.txt lists (they must fail at
import) get only their model.onnx; the others get their reference data too.
"""
import glob
import os
import shutil
import sys

import onnx

SRC = "/usr/share/libonnx-testdata/data/node"
DST = os.path.dirname(os.path.abspath(__file__))

# Keep in sync with model/onnx SupportedOps (go test ./model/onnx checks).
SUPPORTED = set("""Add Sub Mul Div MatMul Relu Sigmoid Tanh Sqrt Neg Floor Reciprocal
Identity Equal Where Expand Range Gather Conv Gemm Clip LeakyRelu MaxPool
AveragePool GlobalAveragePool BatchNormalization Flatten Reshape Transpose
Concat Pad Squeeze Unsqueeze Dropout Softmax ArgMax ReduceMean ReduceSum
Constant Shape Cast Slice ConstantOfShape LogSoftmax Abs Exp Log Erf Softplus
HardSwish PRelu Max Min HardSigmoid Gelu Pow ReduceMax ReduceMin GlobalMaxPool
LayerNormalization InstanceNormalization ConvTranspose Resize Upsample
DepthToSpace SpaceToDepth Tile Split Elu Selu GatherND If Not Size LSTM GRU
RNN""".split())


def main():
    unsupported = set()
    path = os.path.join(DST, "unsupported.txt")
    for line in open(path):
        line = line.split("#")[0].strip()
        if line:
            unsupported.add(line.split()[0])
    n = 0
    for d in sorted(glob.glob(SRC + "/test_*")):
        name = os.path.basename(d)
        m = onnx.load(os.path.join(d, "model.onnx"))
        if not {node.op_type for node in m.graph.node} <= SUPPORTED:
            continue
        out = os.path.join(DST, name)
        shutil.rmtree(out, ignore_errors=True)
        size = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(d) for f in fs)
        if name in unsupported and size > 100_000:
            os.makedirs(out)
            shutil.copy(os.path.join(d, "model.onnx"), out)
        else:
            shutil.copytree(d, out)
        n += 1
    print("copied", n, "cases", file=sys.stderr)


if __name__ == "__main__":
    main()
