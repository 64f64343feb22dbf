package tf

import (
	"fmt"

	"veil/ir"
)

// Grappler's and the TF.js converter's fused ops (_FusedConv2D,
// FusedDepthwiseConv2dNative, _FusedMatMul) name what follows the main
// computation in their fused_ops attribute and take its operands as extra
// inputs; these helpers turn that into a chain of IR steps.

// step is one IR op applied after a fused op's main computation.
type step struct {
	op    ir.Op
	extra []string // inputs after the running value
	attrs ir.Attrs
	// build, if set, adds the step through a graph builder instead of
	// one op (an ELU).
	build func(g *ir.Graph, node, in, out string) error
}

// chain adds the main IR node and then each step, the last one producing
// TF node n's output.
func (b *builder) chain(n *NodeDef, op ir.Op, ins []string, a ir.Attrs, steps []step) error {
	if len(steps) == 0 {
		return b.emit(n, op, ins, a)
	}
	cur := b.newName(n.Name)
	if err := b.add(op, cur, ins, a); err != nil {
		return err
	}
	for i, s := range steps {
		out := n.Name
		if i < len(steps)-1 {
			out = b.newName(n.Name)
		}
		var err error
		if s.build != nil {
			err = s.build(b.g, out, cur, out)
		} else {
			err = b.add(s.op, out, append([]string{cur}, s.extra...), s.attrs)
		}
		if err != nil {
			return err
		}
		cur = out
	}
	b.vals[n.Name] = n.Name
	return nil
}

// fusedOps interprets the fused_ops and num_args of a _FusedConv2D,
// FusedDepthwiseConv2dNative or _FusedMatMul whose extra inputs are args.
// The first fused op is BiasAdd (one argument, the bias) or, for
// convolutions, FusedBatchNorm (four: scale, offset, mean, variance); an
// activation may follow, which for Prelu takes one more argument, the
// slope (as TF.js's converter fuses it). When the bias can be the
// convolution's own bias input (convBias), it is returned rather than made
// a step.
func (b *builder) fusedOps(n *NodeDef, args []string, convBias bool) (bias string, steps []step, err error) {
	ops, err := attrStrings(n, "fused_ops")
	if err != nil {
		return "", nil, err
	}
	numArgs, err := attrInt(n, "num_args", int64(len(args)))
	if err != nil {
		return "", nil, err
	}
	if numArgs != int64(len(args)) {
		return "", nil, fmt.Errorf("num_args is %d but the node has %d extra inputs", numArgs, len(args))
	}
	if len(ops) == 0 || len(ops) > 2 {
		return "", nil, fmt.Errorf("fused_ops %q: want BiasAdd or FusedBatchNorm and at most one activation", ops)
	}
	// need counts the arguments fused_ops take, named for errors.
	need := map[string]int{"BiasAdd": 1, "FusedBatchNorm": 4, "Prelu": 1}
	want := 0
	for _, op := range ops {
		want += need[op]
	}
	switch ops[0] {
	case "BiasAdd":
		if len(args) < 1 {
			return "", nil, fmt.Errorf("fused_ops %q: BiasAdd takes 1 argument, node has %d", ops, len(args))
		}
		if convBias {
			bias = args[0]
		} else {
			steps = append(steps, step{op: ir.OpAdd, extra: args[:1]})
		}
	case "FusedBatchNorm":
		if !convBias {
			return "", nil, fmt.Errorf("fused_ops %q: FusedBatchNorm fused into %s is not supported", ops, n.Op)
		}
		if len(args) < 4 {
			return "", nil, fmt.Errorf("fused_ops %q: FusedBatchNorm takes 4 arguments (scale, offset, mean, variance), node has %d", ops, len(args))
		}
		eps, err := attrFloat(n, "epsilon", 0.0001)
		if err != nil {
			return "", nil, err
		}
		steps = append(steps, step{op: ir.OpBatchNorm, extra: args[:4], attrs: ir.Attrs{Epsilon: eps, Axis: -1}})
	default:
		return "", nil, fmt.Errorf("fused_ops %q: fused op %q is not supported (the first must be BiasAdd or FusedBatchNorm)", ops, ops[0])
	}
	if len(args) != want {
		return "", nil, fmt.Errorf("fused_ops %q take %d arguments, node has %d", ops, want, len(args))
	}
	if len(ops) == 2 {
		act, err := activation(n, ops[1])
		if err != nil {
			return "", nil, fmt.Errorf("fused_ops %q: %w", ops, err)
		}
		if ops[1] == "Prelu" {
			act.extra = args[len(args)-1:]
		}
		steps = append(steps, act)
	}
	return bias, steps, nil
}

// activation maps a fused activation name onto an IR step (Prelu's slope
// is left for the caller to attach).
func activation(n *NodeDef, name string) (step, error) {
	switch name {
	case "Relu":
		return step{op: ir.OpRelu}, nil
	case "Relu6":
		return step{op: ir.OpClip, attrs: ir.Attrs{Min: 0, Max: 6}}, nil
	case "Sigmoid":
		return step{op: ir.OpSigmoid}, nil
	case "Tanh":
		return step{op: ir.OpTanh}, nil
	case "LeakyRelu":
		alpha, err := attrFloat(n, "leakyrelu_alpha", 0.2)
		return step{op: ir.OpLeakyRelu, attrs: ir.Attrs{Alpha: alpha}}, err
	case "Prelu":
		return step{op: ir.OpPRelu}, nil
	case "GeluExact":
		return step{op: ir.OpGelu}, nil
	case "GeluApproximate":
		return step{op: ir.OpGelu, attrs: ir.Attrs{Approximate: true}}, nil
	case "Elu":
		return step{build: eluBuilder(1, 1)}, nil
	case "Selu":
		return step{build: eluBuilder(seluAlpha, seluScale)}, nil
	}
	return step{}, fmt.Errorf("fused activation %q is not supported", name)
}

// SELU's constants (Klambauer et al.), as TensorFlow and ONNX define them.
const (
	seluAlpha = 1.6732632423543772
	seluScale = 1.0507009873554805
)

// eluBuilder returns a step builder of scale·ELU_α.
func eluBuilder(alpha, scale float32) func(g *ir.Graph, node, in, out string) error {
	return func(g *ir.Graph, node, in, out string) error { return g.AddElu(node, in, out, alpha, scale) }
}

// elu lowers Elu and Selu through ir.Graph.AddElu.
func (b *builder) elu(n *NodeDef) error {
	ins, err := b.ins(n, 1, 1)
	if err != nil {
		return err
	}
	var alpha, scale float32 = 1, 1
	if n.Op == "Selu" {
		alpha, scale = seluAlpha, seluScale
	}
	if err := b.g.AddElu(n.Name, ins[0], n.Name, alpha, scale); err != nil {
		return err
	}
	b.alias(n, 0, n.Name)
	return nil
}
