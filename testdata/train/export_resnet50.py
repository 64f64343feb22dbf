#!/usr/bin/python3
"""Exports torchvision's ResNet-50 with random weights to ONNX.

Usage: export_resnet50.py OUT.onnx [--seed 0] [--randomize-bn]

weights=None (no download: random initialization, seeded), eval mode, input
"input" of shape 1x3x224x224 (NCHW), output "output" = logits (1x1000),
opset 13. The file is about 100 MB, so it is not committed; it is a
size/speed stress test, not an accuracy reference. BatchNormalization nodes
are kept (TrainingMode.PRESERVE on an eval-mode model, no constant folding),
like the committed models.

With weights=None every BatchNormalization starts as the identity (weight 1,
bias 0, running mean 0, running variance 1); the exporter then deduplicates
those identical initializers and shares them through Identity nodes (200 of
them). --randomize-bn instead draws seeded, realistic BatchNormalization
parameters and statistics (no Identity nodes, BN not a no-op), which makes
the file a better test of BatchNormalization folding and numerics.
"""
import argparse

import onnx
import torch
import torchvision


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--randomize-bn", action="store_true",
                    help="draw random BatchNormalization weights, biases and running statistics")
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(2)
    model = torchvision.models.resnet50(weights=None).eval()
    if args.randomize_bn:
        g = torch.Generator().manual_seed(args.seed + 1)
        with torch.no_grad():
            for m in model.modules():
                if isinstance(m, torch.nn.BatchNorm2d):
                    n = m.num_features
                    m.weight.copy_(0.5 + torch.rand(n, generator=g))
                    m.bias.copy_(0.1 * torch.randn(n, generator=g))
                    m.running_mean.copy_(0.1 * torch.randn(n, generator=g))
                    m.running_var.copy_(0.5 + torch.rand(n, generator=g))
    dummy = torch.zeros(1, 3, 224, 224)
    torch.onnx.export(model, dummy, args.out, export_params=True, opset_version=13,
                      input_names=["input"], output_names=["output"],
                      do_constant_folding=False, training=torch.onnx.TrainingMode.PRESERVE)
    m = onnx.load(args.out)
    onnx.checker.check_model(args.out)  # by path: the model may exceed 2 GB protobuf limits elsewhere
    ops = {}
    for n in m.graph.node:
        ops[n.op_type] = ops.get(n.op_type, 0) + 1
    params = sum(int(torch.tensor(list(t.dims)).prod()) for t in m.graph.initializer)
    print(f"{args.out}: {len(m.graph.node)} nodes {ops}, {params} parameters")


if __name__ == "__main__":
    main()
