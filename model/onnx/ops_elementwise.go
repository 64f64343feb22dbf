package onnx

import (
	"math"

	"veil/ir"
)

// Lowerings of element-wise functions, Pow and the max/min reductions.

// lowerVariadic imports Max and Min, which take one or more inputs, as a
// chain of binary ops.
func lowerVariadic(op ir.Op) func(*importer, *node) error {
	return func(imp *importer, n *node) error {
		if len(n.inputs) == 0 {
			return n.errorf("needs at least one input")
		}
		for i, in := range n.inputs {
			if in == "" {
				return n.errorf("input %d is missing", i)
			}
		}
		if len(n.inputs) == 1 {
			_, err := imp.add(n, ir.OpIdentity, n.out(), ir.Attrs{}, n.in(0))
			return err
		}
		acc := n.in(0)
		for i := 1; i < len(n.inputs); i++ {
			out := ""
			if i == len(n.inputs)-1 {
				out = n.out()
			}
			var err error
			if acc, err = imp.add(n, op, out, ir.Attrs{}, acc, n.in(i)); err != nil {
				return err
			}
		}
		return nil
	}
}

func lowerHardSigmoid(imp *importer, n *node) error {
	if err := inputs(n, 1, 1); err != nil {
		return err
	}
	a := ir.Attrs{Alpha: n.float("alpha", 0.2), Beta: n.float("beta", 0.5)}
	_, err := imp.add(n, ir.OpHardSigmoid, n.out(), a, n.in(0))
	return err
}

func lowerGelu(imp *importer, n *node) error {
	if err := inputs(n, 1, 1); err != nil {
		return err
	}
	var a ir.Attrs
	switch m := n.str("approximate", "none"); m {
	case "none":
	case "tanh":
		a.Approximate = true
	default:
		return n.errorf("attribute approximate=%q is not supported (only none and tanh)", m)
	}
	_, err := imp.add(n, ir.OpGelu, n.out(), a, n.in(0))
	return err
}

// lowerPow imports Pow with a constant exponent through ir.AddPow; with a
// constant base too it folds to a constant of the base's type.
func lowerPow(imp *importer, n *node) error {
	if err := inputs(n, 2, 2); err != nil {
		return err
	}
	xv, err := imp.value(n, n.in(0))
	if err != nil {
		return err
	}
	yv, err := imp.value(n, n.in(1))
	if err != nil {
		return err
	}
	if yv.Const == nil {
		return n.errorf("exponent (input %q) must be a constant", n.in(1))
	}
	out, err := ir.BroadcastShapes(xv.Shape, yv.Shape)
	if err != nil {
		return n.errorf("%v", err)
	}
	if xv.Const != nil {
		return imp.g.AddConst(n.out(), powConst(xv.Const, yv.Const, out))
	}
	if !out.Equal(xv.Shape) {
		return n.errorf("exponent of shape %v broadcasts the base %v to %v, which is not supported", yv.Shape, xv.Shape, out)
	}
	ys := yv.Const.Floats()
	if len(ys) == 0 {
		return n.errorf("exponent is empty")
	}
	for _, e := range ys {
		if e != ys[0] {
			return n.errorf("exponent %v differs between elements; only one exponent for all is supported", ys)
		}
	}
	return imp.g.AddPow(n.name, n.in(0), n.out(), ys[0])
}

// powConst computes x^y for constants with broadcasting, in float64, to
// x's type (integers exactly as far as float64 holds them).
func powConst(x, y *ir.Tensor, out ir.Shape) *ir.Tensor {
	xf, yf := x.Floats(), y.Floats()
	xi, yi := broadcastIndex(x.Shape, out), broadcastIndex(y.Shape, out)
	if x.DType == ir.Int64 {
		v := make([]int64, out.Size())
		for i := range v {
			v[i] = int64(math.Pow(float64(x.I[xi[i]]), float64(yf[yi[i]])))
		}
		return ir.IntTensor(out, v)
	}
	v := make([]float32, out.Size())
	for i := range v {
		v[i] = float32(math.Pow(float64(xf[xi[i]]), float64(yf[yi[i]])))
	}
	return ir.FloatTensor(out, v)
}

// broadcastIndex maps every flat index of out to the flat index of a
// tensor of shape in broadcast to it.
func broadcastIndex(in, out ir.Shape) []int {
	idx := make([]int, out.Size())
	st := in.Strides()
	off := len(out) - len(in)
	coord := make([]int, len(out))
	for i := range idx {
		j := 0
		for d := off; d < len(out); d++ {
			if in[d-off] != 1 {
				j += coord[d] * st[d-off]
			}
		}
		idx[i] = j
		for d := len(out) - 1; d >= 0; d-- {
			if coord[d]++; coord[d] < out[d] {
				break
			}
			coord[d] = 0
		}
	}
	return idx
}

func lowerGlobalMaxPool(imp *importer, n *node) error {
	if err := inputs(n, 1, 1); err != nil {
		return err
	}
	xs, err := imp.shape(n, n.in(0))
	if err != nil {
		return err
	}
	if len(xs) < 3 {
		return n.errorf("input must have spatial dimensions, got %v", xs)
	}
	var axes []int
	for i := 2; i < len(xs); i++ {
		axes = append(axes, i)
	}
	_, err = imp.add(n, ir.OpReduceMax, n.out(), ir.Attrs{Axes: axes, KeepDims: true}, n.in(0))
	return err
}
