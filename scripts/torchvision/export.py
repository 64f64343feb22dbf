#!/usr/bin/python3
"""Exports torchvision models with random weights to ONNX, with PyTorch's
output on a fixed input as the float reference.

Usage: export.py [OUTDIR] [--seed 0] [--opset 17] [--only NAME,...]

OUTDIR defaults to /tmp/veil-torchvision. For every model NAME it writes

  NAME.onnx         the model, input "input" 1x3x224x224 (NCHW), output
                    "output" (1x1000 logits), eval mode, BatchNormalization
                    kept (TrainingMode.PRESERVE, no constant folding)
  NAME.input.npy    the input: float32 N(0, 1) from torch.manual_seed(seed+1)
  NAME.output.npy   PyTorch's output on it (float32)
  NAME.json         torch/torchvision versions, opset, parameter count
                    (sum of p.numel() over the module's parameters), ONNX op
                    counts, and the output's largest magnitude

Models (torchvision 0.14, weights=None: nothing is downloaded; weights are
torchvision's own random initialization after torch.manual_seed(seed)):

  mobilenet_v3_small   torchvision.models.mobilenet_v3_small()
  efficientnet_b0      torchvision.models.efficientnet_b0()
  googlenet            torchvision.models.googlenet(aux_logits=False,
                       init_weights=True)
  shufflenet_v2_x1_0   torchvision.models.shufflenet_v2_x1_0()
  vit_ti_16            torchvision.models.VisionTransformer(image_size=224,
                       patch_size=16, num_layers=12, num_heads=3,
                       hidden_dim=192, mlp_dim=768): the ViT-B/16 structure
                       at ViT-Ti/DeiT-Ti width (5.7 M parameters)

With random initialization every BatchNorm is the identity (weight 1, bias
0, running mean 0, variance 1), which the exporter would deduplicate into
shared initializers; BatchNorm parameters and statistics are therefore
drawn (seeded) around those values, so that each network keeps its own
BatchNorm tensors and BatchNorm is not a no-op. The same is done for
LayerNorm's weight and bias. torchvision's ViT zero-initializes its head
(a zero head makes every output equal) and its class token (whose row then
has a variance of about 0.0008 at the first LayerNorm, below the range of
veil's secure rsqrt at scale 12): both are drawn, the class token N(0, 1).

The .onnx files are large (up to 27 MB) and are not committed; the Go test
`VEIL_TORCHVISION=OUTDIR go test ./zoo -run Torchvision` reads them.
Run with Debian's interpreter: /usr/bin/python3 (python3-torch 1.13.1,
python3-torchvision 0.14.1, python3-onnx).
"""
import argparse
import json
import os

import numpy as np
import torch
import torchvision


def vit_ti_16():
    return torchvision.models.VisionTransformer(
        image_size=224, patch_size=16, num_layers=12, num_heads=3,
        hidden_dim=192, mlp_dim=768)


MODELS = {
    "mobilenet_v3_small": lambda: torchvision.models.mobilenet_v3_small(weights=None),
    "efficientnet_b0": lambda: torchvision.models.efficientnet_b0(weights=None),
    "googlenet": lambda: torchvision.models.googlenet(weights=None, aux_logits=False, init_weights=True),
    "shufflenet_v2_x1_0": lambda: torchvision.models.shufflenet_v2_x1_0(weights=None),
    "vit_ti_16": vit_ti_16,
}


def randomize_norms(model, seed):
    """Draws BatchNorm/LayerNorm parameters and statistics and a zero head."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                n = m.num_features
                m.weight.copy_(0.5 + torch.rand(n, generator=g))
                m.bias.copy_(0.1 * torch.randn(n, generator=g))
                m.running_mean.copy_(0.1 * torch.randn(n, generator=g))
                m.running_var.copy_(0.5 + torch.rand(n, generator=g))
            elif isinstance(m, torch.nn.LayerNorm):
                n = m.weight.numel()
                m.weight.copy_(0.5 + torch.rand(n, generator=g))
                m.bias.copy_(0.1 * torch.randn(n, generator=g))
            elif isinstance(m, torch.nn.Linear) and not m.weight.any():
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) / m.in_features ** 0.5)
            elif isinstance(m, torchvision.models.VisionTransformer):
                m.class_token.copy_(torch.randn(m.class_token.shape, generator=g))


def export(name, outdir, seed, opset):
    torch.manual_seed(seed)
    model = MODELS[name]().eval()
    randomize_norms(model, seed + 2)
    params = sum(p.numel() for p in model.parameters())
    torch.manual_seed(seed + 1)
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        y = model(x)
    path = os.path.join(outdir, name + ".onnx")
    torch.onnx.export(model, x, path, export_params=True, opset_version=opset,
                      input_names=["input"], output_names=["output"],
                      do_constant_folding=False, training=torch.onnx.TrainingMode.PRESERVE)
    np.save(os.path.join(outdir, name + ".input.npy"), x.numpy().astype(np.float32))
    np.save(os.path.join(outdir, name + ".output.npy"), y.numpy().astype(np.float32))
    ops = {}
    try:
        import onnx
        m = onnx.load(path)
        onnx.checker.check_model(path)
        for n in m.graph.node:
            ops[n.op_type] = ops.get(n.op_type, 0) + 1
    except ImportError:
        pass
    meta = {
        "name": name, "torch": torch.__version__, "torchvision": torchvision.__version__,
        "opset": opset, "seed": seed, "params": params, "onnx_ops": ops,
        "input_shape": list(x.shape), "output_shape": list(y.shape),
        "output_max_abs": float(y.abs().max()),
    }
    with open(os.path.join(outdir, name + ".json"), "w") as f:
        json.dump(meta, f, indent=1, sort_keys=True)
    print(f"{path}: {params} parameters, ops {ops}, max |output| {meta['output_max_abs']:.3g}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("outdir", nargs="?", default="/tmp/veil-torchvision")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--opset", type=int, default=17)
    ap.add_argument("--only", default="", help="comma-separated model names (default: all)")
    args = ap.parse_args()
    torch.set_num_threads(2)
    os.makedirs(args.outdir, exist_ok=True)
    names = [n for n in args.only.split(",") if n] or list(MODELS)
    for n in names:
        if n not in MODELS:
            ap.error(f"unknown model {n!r} (have {', '.join(MODELS)})")
        export(n, args.outdir, args.seed, args.opset)


if __name__ == "__main__":
    main()
