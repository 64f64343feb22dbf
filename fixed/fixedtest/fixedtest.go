// Package fixedtest holds what the tests of fixed and of every backend
// share: small programs of one op and inputs over the ops' domain.
package fixedtest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"veil/fixed"
	"veil/ir"
)

// SingleOp compiles, at scale 8, a float graph of one node of the given
// op and attributes on one input "x" of the given shape and layout.
func SingleOp(tb testing.TB, shape ir.Shape, layout ir.Layout, op ir.Op, a ir.Attrs) *fixed.Program {
	tb.Helper()
	g := ir.NewGraph(string(op))
	g.Layout = layout
	if err := g.AddInput("x", shape); err != nil {
		tb.Fatal(err)
	}
	a.Layout = layout
	if err := g.AddNode(&ir.Node{Name: "n", Op: op, Inputs: []string{"x"}, Output: "y", Attrs: a}); err != nil {
		tb.Fatal(err)
	}
	if err := g.SetOutputs("y"); err != nil {
		tb.Fatal(err)
	}
	p, err := fixed.Compile(g, 8)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// ReluProgram is a valid program built without the compiler, whatever
// its size: an input of n elements and its ReLU, so that executing it
// in the clear holds 2n elements.
func ReluProgram(n int) *fixed.Program {
	p := &fixed.Program{Name: "relu", Scale: 8, PublicShift: 16,
		Tensors: []*fixed.Tensor{
			{Name: "x", Shape: ir.Shape{n}, Kind: fixed.KindInput, Scale: 8},
			{Name: "y", Shape: ir.Shape{n}, Kind: fixed.KindValue, Scale: 8},
		},
		Instrs: []fixed.Instr{{Op: fixed.Relu, In: []int{0}, Out: 1}},
		Inputs: []int{0}, Outputs: []int{1},
	}
	p.ComputeStats()
	return p
}

// DomainValues returns n ring values in the comparison domain
// [−2^61, 2^61) (see fixed.Op): many small ones, so that ties are
// common, the domain's ends, and uniform ones.
func DomainValues(r *rand.Rand, n int) []uint64 {
	lim := int64(1) << 61
	v := make([]uint64, n)
	for i := range v {
		switch r.IntN(6) {
		case 0:
			v[i] = uint64(-lim)
		case 1:
			v[i] = uint64(lim - 1)
		case 2, 3:
			v[i] = uint64(r.Int64N(2*lim) - lim)
		default:
			v[i] = uint64(r.Int64N(5) - 2)
		}
	}
	return v
}

// CompositeCase is a program of one composite op, named for a subtest.
type CompositeCase struct {
	Name  string
	Shape ir.Shape
	Prog  *fixed.Program
	// Op is the composite op the case tests: the program's last
	// instruction. The instructions before it (DivPublic's cases) are
	// exact in every backend and bring the domain's values into the
	// op's own.
	Op fixed.Op
}

// CompositeCases returns programs of every composite op over a range of
// shapes and attributes: Relu; MaxPool in both layouts with square,
// oblong, unit and larger-than-stride kernels and symmetric, asymmetric
// and no padding; ArgMax over every axis of several shapes, with and
// without SelectLast and KeepDims; Clip with bounds around zero, above
// it, equal and at the domain's ends; DivPublic by one divisor and by
// divisors broadcast per element, axis and batch (up to
// 2^DivPublicBits), on values spread over its domain (Clip, then
// MulPublic by public factors: exact in every backend). With short, it
// returns a few of each.
func CompositeCases(tb testing.TB, short bool) []CompositeCase {
	tb.Helper()
	var cs []CompositeCase
	add := func(name string, shape ir.Shape, l ir.Layout, op ir.Op, a ir.Attrs) {
		p := SingleOp(tb, shape, l, op, a)
		cs = append(cs, CompositeCase{name, shape, p, p.Instrs[len(p.Instrs)-1].Op})
	}
	add("relu", ir.Shape{3, 17}, ir.NCHW, ir.OpRelu, ir.Attrs{})
	add("reducemax", ir.Shape{2, 3, 5}, ir.NCHW, ir.OpReduceMax, ir.Attrs{Axes: []int{1}, KeepDims: true})
	add("reducemax_all", ir.Shape{7}, ir.NCHW, ir.OpReduceMax, ir.Attrs{})
	cs = append(cs, maxMinCase(tb, ir.Shape{3, 17}, fixed.Max), maxMinCase(tb, ir.Shape{3, 17}, fixed.Min))
	pools := []struct{ k, s, p []int }{
		{[]int{2, 2}, []int{2, 2}, []int{0, 0, 0, 0}},
		{[]int{3, 3}, []int{2, 2}, []int{1, 1, 1, 1}},
		{[]int{2, 3}, []int{3, 2}, []int{1, 0, 0, 2}},
		{[]int{3, 3}, []int{1, 1}, []int{1, 1, 1, 1}},
		{[]int{1, 1}, []int{2, 1}, []int{0, 0, 0, 0}},
		{[]int{5, 5}, []int{1, 2}, []int{2, 4, 4, 1}},
	}
	shapes := []ir.Shape{{1, 10}, {4, 7, 3}, {2, 1, 5}, {3, 16}}
	if short {
		pools, shapes = pools[:3], shapes[:2]
	}
	for _, l := range []ir.Layout{ir.NCHW, ir.NHWC} {
		for _, pc := range pools {
			shape := ir.Shape{2, 3, 7, 6}
			if l == ir.NHWC {
				shape = ir.Shape{2, 7, 6, 3}
			}
			add(fmtName("maxpool", l, "k", pc.k, "s", pc.s, "p", pc.p), shape, l, ir.OpMaxPool, ir.Attrs{Kernel: pc.k, Strides: pc.s, Pads: pc.p})
		}
	}
	for _, shape := range shapes {
		for axis := -1; axis < len(shape); axis++ {
			for _, last := range []bool{false, true} {
				for _, keep := range []bool{false, true} {
					if short && keep == last {
						continue
					}
					add(fmtName("argmax", shape, "axis", axis, "last", last, "keep", keep), shape, ir.NCHW, ir.OpArgMax,
						ir.Attrs{Axis: axis, SelectLast: last, KeepDims: keep})
				}
			}
		}
	}
	lim := int64(1) << 61
	clips := [][2]int64{{-2, 3}, {0, 0}, {5, 1 << 40}, {-lim, lim - 1}, {-(1 << 50), -7}}
	if short {
		clips = clips[:2]
	}
	for _, b := range clips {
		cs = append(cs, clipCase(tb, ir.Shape{3, 17}, b[0], b[1]))
	}
	big := int64(1) << fixed.DivPublicBits
	divs := []struct {
		x, d ir.Shape
		ds   []int64
	}{
		{ir.Shape{2, 3, 5}, ir.Shape{}, []int64{2}},
		{ir.Shape{2, 3, 5}, ir.Shape{1, 3, 5}, []int64{1, 2, 3, 4, 5, 6, 7, 9, 16, 25, 49, 64, 1000, big - 1, big}},
		{ir.Shape{2, 3, 5}, ir.Shape{2, 1, 1}, []int64{3, 196}},
		{ir.Shape{3}, ir.Shape{2, 3}, []int64{1, 7, 8, 12, 1 << 19, 3}},
		{ir.Shape{2, 3, 5}, ir.Shape{}, []int64{1}},
	}
	if short {
		divs = divs[:3]
	}
	for _, c := range divs {
		cs = append(cs, divCase(tb, c.x, c.d, c.ds))
	}
	return cs
}

// maxMinCase is a program of op (Max or Min) of t and −t for t = x
// clipped to [−2^59, 2^59] (so that −t stays in the comparison domain):
// |t| and −|t|.
func maxMinCase(tb testing.TB, shape ir.Shape, op fixed.Op) CompositeCase {
	tb.Helper()
	const lim = 1 << 59
	p := &fixed.Program{Name: string(op), Scale: 8, Tensors: []*fixed.Tensor{
		{Name: "x", Shape: shape, Kind: fixed.KindInput, Scale: 8},
		{Name: "t", Shape: shape, Kind: fixed.KindValue, Scale: 8},
		{Name: "neg", Shape: shape, Kind: fixed.KindValue, Scale: 8},
		{Name: "y", Shape: shape, Kind: fixed.KindValue, Scale: 8},
	}, Inputs: []int{0}, Outputs: []int{3}, Instrs: []fixed.Instr{
		{Op: fixed.Clip, In: []int{0}, Out: 1, Min: -lim, Max: lim, Node: "n"},
		{Op: fixed.MulPublic, In: []int{1}, Out: 2, Public: []int64{-1}, PublicShape: ir.Shape{}, Node: "n"},
		{Op: op, In: []int{1, 2}, Out: 3, Node: "n"},
	}}
	p.ComputeStats()
	if err := p.Validate(); err != nil {
		tb.Fatal(err)
	}
	return CompositeCase{strings.ToLower(string(op)), shape, p, op}
}

// clipCase is a program of one Clip.
func clipCase(tb testing.TB, shape ir.Shape, lo, hi int64) CompositeCase {
	p := &fixed.Program{Name: "clip", Scale: 8, Tensors: []*fixed.Tensor{
		{Name: "x", Shape: shape, Kind: fixed.KindInput, Scale: 8},
		{Name: "y", Shape: shape, Kind: fixed.KindValue, Scale: 8},
	}, Inputs: []int{0}, Outputs: []int{1}, Instrs: []fixed.Instr{{Op: fixed.Clip, In: []int{0}, Out: 1, Min: lo, Max: hi, Node: "n"}}}
	if err := p.Validate(); err != nil {
		tb.Fatal(err)
	}
	p.ComputeStats()
	return CompositeCase{fmtName("clip", lo, hi), shape, p, fixed.Clip}
}

// divCase is a program of one DivPublic by the divisors ds (of shape
// dshape) on x of the given shape. The domain's values are first clipped
// to ±2^6 and multiplied by public factors below 2^14: the small ones
// become values across DivPublic's domain, with many ties, and the
// domain's ends its ends.
func divCase(tb testing.TB, shape, dshape ir.Shape, ds []int64) CompositeCase {
	out, err := ir.BroadcastShapes(shape, dshape)
	if err != nil {
		tb.Fatal(err)
	}
	f := make([]int64, shape.Size())
	for i := range f {
		f[i] = []int64{1, 3, 1000, 1<<14 - 1, 7777, 2, 4096, 5}[i%8]
	}
	p := &fixed.Program{Name: "divpublic", Scale: 8, Tensors: []*fixed.Tensor{
		{Name: "x", Shape: shape, Kind: fixed.KindInput, Scale: 8},
		{Name: "c", Shape: shape, Kind: fixed.KindValue, Scale: 8},
		{Name: "f", Shape: shape, Kind: fixed.KindValue, Scale: 8},
		{Name: "y", Shape: out, Kind: fixed.KindValue, Scale: 8},
	}, Inputs: []int{0}, Outputs: []int{3}, Instrs: []fixed.Instr{
		{Op: fixed.Clip, In: []int{0}, Out: 1, Min: -1 << 6, Max: 1 << 6, Node: "n"},
		{Op: fixed.MulPublic, In: []int{1}, Out: 2, Public: f, PublicShape: shape, Node: "n"},
		{Op: fixed.DivPublic, In: []int{2}, Out: 3, Public: ds, PublicShape: dshape, Node: "n"},
	}}
	if err := p.Validate(); err != nil {
		tb.Fatal(err)
	}
	p.ComputeStats()
	return CompositeCase{fmtName("divpublic", shape, "by", dshape, ds), shape, p, fixed.DivPublic}
}

func fmtName(parts ...any) string {
	return strings.TrimSpace(fmt.Sprintln(parts...))
}

// RandTensor returns a float tensor of the shape with normal entries of
// the given standard deviation.
func RandTensor(r *rand.Rand, shape ir.Shape, scale float64) *ir.Tensor {
	t := ir.NewFloat(shape)
	for i := range t.F {
		t.F[i] = float32(r.NormFloat64() * scale)
	}
	return t
}

// MixedGraph builds a graph that lowers to every fixed-point instruction:
// Conv with bias and stride, depthwise Conv, batch norm (folded), ReLU6
// (Relu, AddPublic, Sub), leaky ReLU (MulPublic, Add), MaxPool and
// average pooling (SumPool, MulPublic) with padding, Div by a constant,
// Concat, Reshape, MatMul, Add, ReduceMean (ReduceSum), Sub, a secret ×
// secret Mul, Pad with a non-zero value, Slice, Transpose, and as output
// either a Softmax (revealed logits, out "softmax") or an ArgMax (out
// "first" or "last": which of equal maxima it picks). Its input is "x".
func MixedGraph(t testing.TB, r *rand.Rand, l ir.Layout, out string) *ir.Graph {
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
		"w1": RandTensor(r, ir.Shape{8, 3, 3, 3}, 0.3), "b1": RandTensor(r, ir.Shape{8}, 0.1),
		"w2": RandTensor(r, ir.Shape{8, 1, 3, 3}, 0.3),
		"k":  RandTensor(r, cshape(8), 0.5), "sh": RandTensor(r, cshape(8), 0.2),
		"fc": RandTensor(r, ir.Shape{8 * 3 * 3 * 2, 10}, 0.1), "fb": RandTensor(r, ir.Shape{10}, 0.1),
		"two": ir.FloatTensor(ir.Shape{}, []float32{2}),
		"s":   RandTensor(r, ir.Shape{8}, 0.3), "beta": RandTensor(r, ir.Shape{8}, 0.3), "m": RandTensor(r, ir.Shape{8}, 0.3),
	}
	v := RandTensor(r, ir.Shape{8}, 0.3)
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
	switch out {
	case "first", "last":
		add("out", ir.OpArgMax, ir.Attrs{Axis: 1, KeepDims: true, SelectLast: out == "last"}, "tr2")
	default:
		add("out", ir.OpSoftmax, ir.Attrs{Axis: -1}, "tr2")
	}
	must(g.SetOutputs("out"))
	if _, err := ir.Optimize(g); err != nil {
		t.Fatal(err)
	}
	return g
}

// FunctionGraph returns a float graph on an input "x" of shape [2, 8]
// that uses the smooth functions: GELU, a softmax in the middle of the
// graph, a reciprocal square root (x/√(x² + 1)), sigmoid, Max and tanh.
func FunctionGraph(tb testing.TB) *ir.Graph {
	tb.Helper()
	g := ir.NewGraph("functions")
	must := func(err error) {
		if err != nil {
			tb.Fatal(err)
		}
	}
	must(g.AddInput("x", ir.Shape{2, 8}))
	must(g.AddConst("one", ir.FloatTensor(ir.Shape{}, []float32{1})))
	node := func(name string, op ir.Op, a ir.Attrs, in ...string) {
		must(g.AddNode(&ir.Node{Name: name, Op: op, Inputs: in, Output: name, Attrs: a}))
	}
	node("gelu", ir.OpGelu, ir.Attrs{}, "x")
	node("softmax", ir.OpSoftmax, ir.Attrs{Axis: 1}, "gelu")
	node("sq", ir.OpMul, ir.Attrs{}, "x", "x")
	node("var", ir.OpAdd, ir.Attrs{}, "sq", "one")
	node("rsqrt", ir.OpRsqrt, ir.Attrs{}, "var")
	node("norm", ir.OpMul, ir.Attrs{}, "x", "rsqrt")
	node("sigmoid", ir.OpSigmoid, ir.Attrs{}, "norm")
	node("sum", ir.OpAdd, ir.Attrs{}, "softmax", "sigmoid")
	node("max", ir.OpMax, ir.Attrs{}, "sum", "norm")
	node("tanh", ir.OpTanh, ir.Attrs{}, "max")
	must(g.SetOutputs("tanh"))
	return g
}

// TwoInputGraph returns a float graph of two inputs (a [1×4], b [1×2×4])
// and three outputs: relu = Relu(a + b), prod = a·b and max, the maximum
// of b over its last axis.
func TwoInputGraph(tb testing.TB) *ir.Graph {
	tb.Helper()
	g := ir.NewGraph("two-in-three-out")
	must := func(err error) {
		tb.Helper()
		if err != nil {
			tb.Fatal(err)
		}
	}
	must(g.AddInput("a", ir.Shape{1, 4}))
	must(g.AddInput("b", ir.Shape{1, 2, 4}))
	must(g.AddNode(&ir.Node{Name: "sum", Op: ir.OpAdd, Inputs: []string{"a", "b"}, Output: "sum"}))
	must(g.AddNode(&ir.Node{Name: "relu", Op: ir.OpRelu, Inputs: []string{"sum"}, Output: "relu"}))
	must(g.AddNode(&ir.Node{Name: "prod", Op: ir.OpMul, Inputs: []string{"a", "b"}, Output: "prod"}))
	must(g.AddNode(&ir.Node{Name: "max", Op: ir.OpReduceMax, Inputs: []string{"b"}, Output: "max", Attrs: ir.Attrs{Axes: []int{2}}}))
	must(g.SetOutputs("relu", "prod", "max"))
	return g
}
