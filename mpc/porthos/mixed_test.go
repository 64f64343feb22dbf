package porthos

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"veil/fixed"
	"veil/ir"
)

func randTensor(r *rand.Rand, shape ir.Shape, scale float64) *ir.Tensor {
	t := ir.NewFloat(shape)
	for i := range t.F {
		t.F[i] = float32(r.NormFloat64() * scale)
	}
	return t
}

// mixedGraph builds a graph that lowers to every fixed-point instruction:
// Conv with bias and stride, depthwise Conv, batch norm (folded), ReLU6
// (Relu, AddPublic, Sub), leaky ReLU (MulPublic, Add), MaxPool and
// average pooling (SumPool, MulPublic) with padding, Div by a constant,
// Concat, Reshape, MatMul, Add, ReduceMean (ReduceSum), Sub, a secret ×
// secret Mul, Pad with a non-zero value, Slice, Transpose, and as output
// either a Softmax (revealed logits) or an ArgMax.
func mixedGraph(t *testing.T, r *rand.Rand, l ir.Layout, argmax string) *ir.Graph {
	t.Helper()
	g := ir.NewGraph("mixed")
	g.Layout = l
	nchw := func(n, c, h, w int) ir.Shape {
		if l == ir.NHWC {
			return ir.Shape{n, h, w, c}
		}
		return ir.Shape{n, c, h, w}
	}
	cshape := func(c int) ir.Shape {
		if l == ir.NHWC {
			return ir.Shape{c}
		}
		return ir.Shape{c, 1, 1}
	}
	ax := l.ChannelAxis()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(g.AddInput("x", nchw(1, 3, 11, 11)))
	consts := map[string]*ir.Tensor{
		"w1": randTensor(r, ir.Shape{8, 3, 3, 3}, 0.3), "b1": randTensor(r, ir.Shape{8}, 0.1),
		"w2": randTensor(r, ir.Shape{8, 1, 3, 3}, 0.3),
		"k":  randTensor(r, cshape(8), 0.5), "sh": randTensor(r, cshape(8), 0.2),
		"fc": randTensor(r, ir.Shape{8 * 3 * 3 * 2, 10}, 0.1), "fb": randTensor(r, ir.Shape{10}, 0.1),
		"two": ir.FloatTensor(ir.Shape{}, []float32{2}),
		"s":   randTensor(r, ir.Shape{8}, 0.3), "beta": randTensor(r, ir.Shape{8}, 0.3), "m": randTensor(r, ir.Shape{8}, 0.3),
	}
	v := randTensor(r, ir.Shape{8}, 0.3)
	for i := range v.F {
		v.F[i] = float32(math.Abs(float64(v.F[i]))) + 0.5
	}
	consts["v"] = v
	for name, c := range consts {
		must(g.AddConst(name, c))
	}
	must(g.AddConst("shape", ir.IntTensor(ir.Shape{2}, []int64{1, -1})))
	must(g.AddConst("st", ir.IntTensor(ir.Shape{1}, []int64{1})))
	must(g.AddConst("en", ir.IntTensor(ir.Shape{1}, []int64{11})))
	must(g.AddConst("axs", ir.IntTensor(ir.Shape{1}, []int64{1})))
	add := func(name string, op ir.Op, a ir.Attrs, ins ...string) {
		t.Helper()
		must(g.AddNode(&ir.Node{Name: name, Op: op, Inputs: ins, Output: name, Attrs: a}))
	}
	add("conv", ir.OpConv, ir.Attrs{Strides: []int{2, 2}, Pads: []int{1, 1, 1, 1}, Group: 1, Layout: l}, "x", "w1", "b1")
	add("bn", ir.OpBatchNorm, ir.Attrs{Epsilon: 1e-5, Axis: ax}, "conv", "s", "beta", "m", "v")
	add("relu6", ir.OpClip, ir.Attrs{Min: 0, Max: 6}, "bn")
	add("dw", ir.OpConv, ir.Attrs{Strides: []int{1, 1}, Pads: []int{1, 1, 1, 1}, Group: 8, Layout: l}, "relu6", "w2")
	add("scale", ir.OpMul, ir.Attrs{}, "dw", "k")
	add("shift", ir.OpSub, ir.Attrs{}, "scale", "sh")
	add("leaky", ir.OpLeakyRelu, ir.Attrs{Alpha: 0.1}, "shift")
	add("max", ir.OpMaxPool, ir.Attrs{Kernel: []int{3, 3}, Strides: []int{2, 2}, Pads: []int{1, 1, 1, 1}, Layout: l}, "leaky")
	add("avg", ir.OpAvgPool, ir.Attrs{Kernel: []int{3, 3}, Strides: []int{2, 2}, Pads: []int{1, 1, 1, 1}, Layout: l}, "relu6")
	add("half", ir.OpDiv, ir.Attrs{}, "avg", "two")
	add("cat", ir.OpConcat, ir.Attrs{Axis: ax}, "max", "half")
	add("flat", ir.OpReshape, ir.Attrs{}, "cat", "shape")
	add("fcm", ir.OpMatMul, ir.Attrs{}, "flat", "fc")
	add("logits", ir.OpAdd, ir.Attrs{}, "fcm", "fb")
	add("mean", ir.OpReduceMean, ir.Attrs{Axes: []int{1}, KeepDims: true}, "logits")
	add("centred", ir.OpSub, ir.Attrs{}, "logits", "mean")
	add("sq", ir.OpMul, ir.Attrs{}, "centred", "centred")
	add("sum", ir.OpAdd, ir.Attrs{}, "centred", "sq")
	add("padded", ir.OpPad, ir.Attrs{Pads: []int{0, 1, 0, 1}, PadValue: -3}, "sum")
	add("sl", ir.OpSlice, ir.Attrs{}, "padded", "st", "en", "axs")
	add("tr", ir.OpTranspose, ir.Attrs{Perm: []int{1, 0}}, "sl")
	add("tr2", ir.OpTranspose, ir.Attrs{Perm: []int{1, 0}}, "tr")
	switch argmax {
	case "first", "last":
		add("out", ir.OpArgMax, ir.Attrs{Axis: 1, KeepDims: true, SelectLast: argmax == "last"}, "tr2")
	default:
		add("out", ir.OpSoftmax, ir.Attrs{Axis: -1}, "tr2")
	}
	must(g.SetOutputs("out"))
	if _, err := ir.Optimize(g); err != nil {
		t.Fatal(err)
	}
	return g
}

// TestMixedProgram runs a program that uses every instruction, in both
// layouts and with each kind of output, through 3PC: every instruction is
// exact on its operands (ScaleDown within one unit), and the outputs are
// within the propagated bound of the cleartext executor's.
func TestMixedProgram(t *testing.T) {
	for _, l := range []ir.Layout{ir.NCHW, ir.NHWC} {
		for _, out := range []string{"softmax", "first", "last"} {
			t.Run(fmt.Sprintf("%s/%s", l, out), func(t *testing.T) {
				r := rand.New(rand.NewPCG(30, uint64(l)))
				prog, err := fixed.Compile(mixedGraph(t, r, l, out), 12)
				if err != nil {
					t.Fatal(err)
				}
				ops := map[fixed.Op]bool{}
				for _, in := range prog.Instrs {
					ops[in.Op] = true
				}
				for _, op := range []fixed.Op{fixed.Conv, fixed.MatMul, fixed.Mul, fixed.Add, fixed.Sub, fixed.AddPublic, fixed.MulPublic,
					fixed.ScaleDown, fixed.Relu, fixed.MaxPool, fixed.SumPool, fixed.ReduceSum, fixed.Reshape, fixed.Transpose,
					fixed.Concat, fixed.Pad, fixed.Slice} {
					if !ops[op] {
						t.Errorf("program lacks %s", op)
					}
				}
				if out != "softmax" && !ops[fixed.ArgMax] {
					t.Error("program lacks ArgMax")
				}
				for trial := 0; trial < 3; trial++ {
					x := prog.EncodeInput(randTensor(r, prog.Tensors[prog.Inputs[0]].Shape, 1).F)
					clear, err := prog.Run(x)
					if err != nil {
						t.Fatal(err)
					}
					got, _, steps := run3PC(t, prog, x, true)
					checkSteps(t, prog, x, steps)
					bound := ErrorBounds(prog, trace(t, prog, x))[prog.Outputs[0]]
					if out == "softmax" {
						if d := deviation(got[0], clear[0]); d > bound {
							t.Errorf("outputs deviate by %g units, bound %g", d, bound)
						}
						continue
					}
					// ArgMax: exact whenever its input is; otherwise
					// checkSteps has shown it exact on the secure input.
					if !slices.Equal(got[0], clear[0]) {
						t.Logf("argmax %v, cleartext %v (its input differs within the truncation bound)", got[0], clear[0])
					}
				}
			})
		}
	}
}
