package fixed_test

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"veil/fixed"
	"veil/ir"
)

// functionCase is a graph of one function node on input x (and, for the
// binary ops, a second operand), with the inputs it is tested on.
type functionCase struct {
	name   string
	op     ir.Op
	attrs  ir.Attrs
	lo, hi float64 // inputs uniform in [lo, hi]
	// second, if set, is the constant second operand (PRelu's slope) or,
	// for Max, Min and Div, a computed one: x·second.
	second []float32
	// tol is the largest error allowed, in units 2^−s of the output;
	// rel, if set, adds rel·|y|.
	tol, rel float64
}

func functionCases() []functionCase {
	pb := fixed.FunctionBound(4, 0) // in units
	return []functionCase{
		{name: "sigmoid", op: ir.OpSigmoid, lo: -20, hi: 20, tol: pb + 1},
		{name: "tanh", op: ir.OpTanh, lo: -10, hi: 10, tol: pb + 1},
		{name: "silu", op: ir.OpSilu, lo: -20, hi: 20, tol: pb + 1},
		{name: "gelu", op: ir.OpGelu, lo: -10, hi: 10, tol: pb + 1},
		{name: "gelu_tanh", op: ir.OpGelu, attrs: ir.Attrs{Approximate: true}, lo: -10, hi: 10, tol: pb + 1},
		{name: "softplus", op: ir.OpSoftplus, lo: -20, hi: 20, tol: pb + 1},
		{name: "erf", op: ir.OpErf, lo: -6, hi: 6, tol: pb + 1},
		{name: "exp_neg", op: ir.OpExp, lo: -20, hi: 0, tol: pb + 1},
		{name: "exp", op: ir.OpExp, lo: -6, hi: 3, tol: pb + 1, rel: 4e-3},
		{name: "abs", op: ir.OpAbs, lo: -50, hi: 50, tol: 1},
		{name: "neg", op: ir.OpNeg, lo: -50, hi: 50, tol: 1},
		{name: "hardsigmoid", op: ir.OpHardSigmoid, attrs: ir.Attrs{Alpha: 0.2, Beta: 0.5}, lo: -6, hi: 6, tol: 2},
		{name: "hardswish", op: ir.OpHardSwish, lo: -6, hi: 6, tol: 8},
		{name: "prelu", op: ir.OpPRelu, lo: -8, hi: 8, second: []float32{0.25, -0.5, 0.01}, tol: 4},
		{name: "max", op: ir.OpMax, lo: -8, hi: 8, second: []float32{-1, 0.5, 2}, tol: 2},
		{name: "min", op: ir.OpMin, lo: -8, hi: 8, second: []float32{-1, 0.5, 2}, tol: 2},
		{name: "reducemax", op: ir.OpReduceMax, attrs: ir.Attrs{Axes: []int{1}}, lo: -8, hi: 8, tol: 1},
		{name: "reducemin", op: ir.OpReduceMin, attrs: ir.Attrs{Axes: []int{0, 1}, KeepDims: true}, lo: -8, hi: 8, tol: 1},
		{name: "softmax", op: ir.OpSoftmax, attrs: ir.Attrs{Axis: 1}, lo: -10, hi: 10, tol: 16},
		{name: "softmax_axis0", op: ir.OpSoftmax, attrs: ir.Attrs{Axis: 0}, lo: -10, hi: 10, tol: 16},
		{name: "logsoftmax_axis0", op: ir.OpLogSoftmax, attrs: ir.Attrs{Axis: 0}, lo: -10, hi: 10, tol: 16},
		{name: "logsoftmax_post", op: ir.OpLogSoftmax, attrs: ir.Attrs{Axis: -1}, lo: -10, hi: 10, tol: 2},
		{name: "log", op: ir.OpLog, lo: 0.05, hi: 30, tol: 8},
		{name: "log_wide", op: ir.OpLog, lo: 1, hi: 1000, tol: 8},
		{name: "sqrt_from_0", op: ir.OpSqrt, lo: 0, hi: 50, tol: 0.02 * 4096, rel: 1e-3},
		{name: "reciprocal", op: ir.OpReciprocal, lo: 0.05, hi: 30, tol: 8, rel: 1e-3},
		{name: "rsqrt", op: ir.OpRsqrt, lo: 0.01, hi: 100, tol: 8, rel: 1e-3},
		{name: "sqrt", op: ir.OpSqrt, lo: 0.01, hi: 100, tol: 8, rel: 1e-3},
		{name: "div", op: ir.OpDiv, lo: 0.5, hi: 20, second: []float32{1, -1, 2}, tol: 8, rel: 1e-3},
	}
}

// build returns the graph of c on inputs of shape [4, 3] and random
// examples for it.
func (c functionCase) build(t *testing.T, r *rand.Rand) (*ir.Graph, []fixed.Example) {
	g := ir.NewGraph(c.name)
	shape := ir.Shape{4, 3}
	if err := g.AddInput("x", shape); err != nil {
		t.Fatal(err)
	}
	in := []string{"x"}
	if c.second != nil {
		if err := g.AddConst("k", ir.FloatTensor(ir.Shape{3}, c.second)); err != nil {
			t.Fatal(err)
		}
		in = append(in, "k")
		if c.op != ir.OpPRelu { // a computed second operand
			if err := g.AddNode(&ir.Node{Name: "xk", Op: ir.OpMul, Inputs: []string{"x", "k"}, Output: "x2"}); err != nil {
				t.Fatal(err)
			}
			in[1] = "x2"
			if c.op == ir.OpDiv {
				in = []string{"k", "x2"}
				if err := g.AddConst("k2", ir.FloatTensor(ir.Shape{4, 3}, []float32{1, 2, 3, -4, 5, 6, -7, 8, 9, 10, 11, 12})); err != nil {
					t.Fatal(err)
				}
				in[0] = "k2"
				// the divisor x·k: positive, negative, positive per column;
				// negative columns make Div refuse, so use |k|.
				in[1] = "x2"
			}
		}
	}
	if err := g.AddNode(&ir.Node{Name: "f", Op: c.op, Inputs: in, Output: "y", Attrs: c.attrs}); err != nil {
		t.Fatal(err)
	}
	if err := g.SetOutputs("y"); err != nil {
		t.Fatal(err)
	}
	xs := make([]fixed.Example, 50)
	for i := range xs {
		x := make([]float32, shape.Size())
		for j := range x {
			x[j] = float32(c.lo + (c.hi-c.lo)*r.Float64())
		}
		if i == 0 { // the ends of the range
			x[0], x[1] = float32(c.lo), float32(c.hi)
		}
		xs[i].Input = x
	}
	return g, xs
}

// TestFunctions compiles every function at two scales with ranges
// traced on random inputs, and checks the fixed-point outputs against
// float within each function's documented error, and the program with
// every composite lowered onto primitives against the oracle exactly.
func TestFunctions(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, c := range functionCases() {
		if c.op == ir.OpDiv {
			c.second = []float32{1, 0.5, 2}
		}
		t.Run(c.name, func(t *testing.T) {
			g, xs := c.build(t, r)
			ranges, err := fixed.TraceRanges(g, xs)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range []int{12, 16} {
				p, err := fixed.CompileWith(g, s, fixed.Options{Ranges: ranges})
				if err != nil {
					t.Fatalf("scale %d: %v", s, err)
				}
				q, err := p.Lower(func(fixed.Op) bool { return false })
				if err != nil {
					t.Fatal(err)
				}
				unit := math.Ldexp(1, -s)
				for i, x := range xs {
					// The float reference on the inputs as encoded, so
					// that only the function's error is measured.
					xq := make([]float32, len(x.Input))
					for j, v := range x.Input {
						xq[j] = float32(fixed.Decode(fixed.Encode(float64(v), s), s))
					}
					want, err := ir.Run(g, map[string]*ir.Tensor{"x": ir.FloatTensor(ir.Shape{4, 3}, xq)})
					if err != nil {
						t.Fatal(err)
					}
					in := p.EncodeInput(x.Input)
					got, err := p.Run(in)
					if err != nil {
						t.Fatalf("scale %d example %d: %v", s, i, err)
					}
					low, err := q.Execute(context.Background(), &fixed.Cleartext{}, [][]uint64{in}, nil)
					if err != nil {
						t.Fatal(err)
					}
					if !slices.Equal(low[0], got[0]) {
						t.Fatalf("scale %d: lowered program differs from the oracle", s)
					}
					y := p.ApplyPost(p.DecodeOutput(0, got[0]))
					for j, w := range want[0].Floats() {
						tol := c.tol*unit + c.rel*math.Abs(float64(w))
						if e := math.Abs(y[j] - float64(w)); e > tol {
							t.Fatalf("scale %d example %d element %d: %g, float %g (error %.3g > %.3g)", s, i, j, y[j], w, e, tol)
						}
					}
				}
			}
		})
	}
}

// TestFunctionDomainRefused checks that the oracle refuses an input
// outside the range traced at compile time.
func TestFunctionDomainRefused(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	c := functionCase{name: "reciprocal", op: ir.OpReciprocal, lo: 1, hi: 2}
	g, xs := c.build(t, r)
	ranges, err := fixed.TraceRanges(g, xs)
	if err != nil {
		t.Fatal(err)
	}
	p, err := fixed.CompileWith(g, 12, fixed.Options{Ranges: ranges})
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float32, 12)
	for i := range x {
		x[i] = 1.5
	}
	if _, err := p.Run(p.EncodeInput(x)); err != nil {
		t.Fatalf("in range: %v", err)
	}
	x[5] = 100
	if _, err := p.Run(p.EncodeInput(x)); err == nil {
		t.Fatal("an input 50 times the traced range was accepted")
	}
	if _, err := fixed.Compile(g, 12); err == nil {
		t.Fatal("a reciprocal compiled without a traced range")
	}
}

// TestGatherConstantIndices compiles Gathers of secret data at constant
// indices (a vector with runs and repeats, a negative scalar, a matrix)
// into data movement, exact against float, and refuses computed indices.
func TestGatherConstantIndices(t *testing.T) {
	cases := []struct {
		name  string
		axis  int
		shape ir.Shape
		idx   []int64
	}{
		{"runs", 1, ir.Shape{4}, []int64{2, 0, 1, 2}},
		{"scalar", -1, ir.Shape{}, []int64{-1}},
		{"matrix", 0, ir.Shape{2, 2}, []int64{1, 1, 0, 1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := ir.NewGraph("gather")
			if err := g.AddInput("x", ir.Shape{2, 3, 4}); err != nil {
				t.Fatal(err)
			}
			if err := g.AddConst("i", ir.IntTensor(c.shape, c.idx)); err != nil {
				t.Fatal(err)
			}
			if err := g.AddNode(&ir.Node{Name: "g", Op: ir.OpGather, Inputs: []string{"x", "i"}, Output: "y", Attrs: ir.Attrs{Axis: c.axis}}); err != nil {
				t.Fatal(err)
			}
			if err := g.SetOutputs("y"); err != nil {
				t.Fatal(err)
			}
			p, err := fixed.Compile(g, 8)
			if err != nil {
				t.Fatal(err)
			}
			x := make([]float32, 24)
			for i := range x {
				x[i] = float32(i) - 7.5
			}
			want, err := ir.Run(g, map[string]*ir.Tensor{"x": ir.FloatTensor(ir.Shape{2, 3, 4}, x)})
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.PredictAll(x)
			if err != nil {
				t.Fatal(err)
			}
			if !p.OutputPorts()[0].Shape.Equal(want[0].Shape) {
				t.Fatalf("shape %v, want %v", p.OutputPorts()[0].Shape, want[0].Shape)
			}
			for i, w := range want[0].Floats() {
				if got[0][i] != float64(w) {
					t.Fatalf("outputs %v, want %v", got[0], want[0].Floats())
				}
			}
		})
	}
	g := ir.NewGraph("computed")
	g.AddInput("x", ir.Shape{3})
	g.AddInput("j", ir.Shape{1})
	g.AddNode(&ir.Node{Name: "c", Op: ir.OpCast, Inputs: []string{"j"}, Output: "ji", Attrs: ir.Attrs{To: ir.Int64}})
	g.AddNode(&ir.Node{Name: "g", Op: ir.OpGather, Inputs: []string{"x", "ji"}, Output: "y"})
	g.SetOutputs("y")
	if _, err := fixed.Compile(g, 8); err == nil {
		t.Fatal("a Gather at computed indices compiled")
	}
}

// TestWhereAndExpand compiles Where with a constant condition and Expand
// of a secret value, exact against float.
func TestWhereAndExpand(t *testing.T) {
	g := ir.NewGraph("where")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(g.AddInput("x", ir.Shape{2, 3}))
	must(g.AddInput("v", ir.Shape{1, 3}))
	must(g.AddConst("cond", ir.IntTensor(ir.Shape{1, 3}, []int64{1, 0, 1})))
	must(g.AddConst("shape", ir.IntTensor(ir.Shape{2}, []int64{2, 3})))
	must(g.AddConst("k", ir.FloatTensor(ir.Shape{}, []float32{0.5})))
	must(g.AddNode(&ir.Node{Name: "e", Op: ir.OpExpand, Inputs: []string{"v", "shape"}, Output: "ve"}))
	must(g.AddNode(&ir.Node{Name: "w", Op: ir.OpWhere, Inputs: []string{"cond", "x", "ve"}, Output: "y"}))
	must(g.AddNode(&ir.Node{Name: "w2", Op: ir.OpWhere, Inputs: []string{"cond", "k", "x"}, Output: "z"}))
	must(g.SetOutputs("y", "z"))
	p, err := fixed.Compile(g, 8)
	if err != nil {
		t.Fatal(err)
	}
	x := []float32{1, 2, 3, 4, 5, 6, -1, -2, -3}
	want, err := ir.Run(g, map[string]*ir.Tensor{"x": ir.FloatTensor(ir.Shape{2, 3}, x[:6]), "v": ir.FloatTensor(ir.Shape{1, 3}, x[6:])})
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.PredictAll(x)
	if err != nil {
		t.Fatal(err)
	}
	for o := range want {
		for i, w := range want[o].Floats() {
			if got[o][i] != float64(w) {
				t.Fatalf("output %d: %v, want %v", o, got[o], want[o].Floats())
			}
		}
	}
}

// TestTableOverflowRefused: a logarithm over 27 octaves would need Horner
// products beyond the ring; the compiler refuses it, naming the node,
// rather than compute wrapped values.
func TestTableOverflowRefused(t *testing.T) {
	c := functionCase{name: "log", op: ir.OpLog, lo: 1, hi: 2e7}
	g, xs := c.build(t, rand.New(rand.NewPCG(3, 3)))
	ranges, err := fixed.TraceRanges(g, xs)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fixed.CompileWith(g, 12, fixed.Options{Ranges: ranges}); err == nil || !strings.Contains(err.Error(), "overflow") || !strings.Contains(err.Error(), `"f"`) {
		t.Fatalf("error %v, want one naming node f and the overflow", err)
	}
}
