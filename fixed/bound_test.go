package fixed_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"veil/fixed"
	"veil/fixed/fixedtest"
	"veil/internal/testmodel"
	"veil/ir"
)

// truncating is the cleartext executor with the error a secure backend's
// truncation may make: every composite lowered onto the primitives, as
// the secure backends run it, and every ScaleDown exceeding the exact one
// by 0 or 1, as rule says for each element.
type truncating struct {
	*fixed.Cleartext
	rule func() uint64
}

func (b *truncating) Fuses(fixed.Op) bool { return false }

func (b *truncating) Exec(k int, in *fixed.Instr, args []fixed.Value) (fixed.Value, error) {
	v, err := b.Cleartext.Exec(k, in, args)
	if err != nil || in.Op != fixed.ScaleDown {
		return v, err
	}
	out := v.([]uint64)
	for i := range out {
		out[i] += b.rule()
	}
	return out, nil
}

// boundCase is a program and inputs to check ElementBounds on.
type boundCase struct {
	name   string
	prog   *fixed.Program
	inputs [][]uint64
}

func boundCases(t *testing.T) []boundCase {
	rng := rand.New(rand.NewPCG(70, 71))
	var cases []boundCase
	g := fixedtest.FunctionGraph(t)
	shape := g.Values[g.Inputs[0]].Shape
	var xs []fixed.Example
	for range 8 {
		xs = append(xs, fixed.Example{Input: fixedtest.RandTensor(rng, shape, 2).F})
	}
	ranges, err := fixed.TraceRanges(g, xs)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []int{12, 16} {
		p, err := fixed.CompileWith(g, s, fixed.Options{Ranges: ranges})
		if err != nil {
			t.Fatal(err)
		}
		for i, x := range xs[:3] {
			cases = append(cases, boundCase{fmt.Sprintf("functions/scale%d/%d", s, i), p, [][]uint64{p.EncodeInput(x.Input)}})
		}
	}
	for _, l := range []ir.Layout{ir.NCHW, ir.NHWC} {
		for _, out := range []string{"softmax", "first", "last"} {
			p, err := fixed.Compile(fixedtest.MixedGraph(t, rng, l, out), 12)
			if err != nil {
				t.Fatal(err)
			}
			x := fixedtest.RandTensor(rng, p.Tensors[p.Inputs[0]].Shape, 1).F
			cases = append(cases, boundCase{fmt.Sprintf("mixed/%s/%s", l, out), p, [][]uint64{p.EncodeInput(x)}})
		}
	}
	for _, m := range []struct{ name, data string }{{"fashion_lenet", "data/fashion-mnist/test"}, {"mnist_resnet", "data/mnist/test"}} {
		p := testmodel.Program(t, m.name, 12)
		xs, _ := testmodel.Images(t, p, m.data, 255, 2)
		for i, x := range xs {
			cases = append(cases, boundCase{fmt.Sprintf("%s/%d", m.name, i), p, [][]uint64{p.EncodeInput(x)}})
		}
	}
	tp := thresholdProgram(t)
	for i := range 6 {
		x := make([]float32, tp.Tensors[tp.Inputs[0]].Shape.Size())
		for j := range x {
			x[j] = float32(rng.IntN(13)-6) / 4096
		}
		cases = append(cases, boundCase{fmt.Sprintf("thresholds/%d", i), tp, [][]uint64{tp.EncodeInput(x)}})
		for j := range x {
			x[j] = 4*rng.Float32() - 2
		}
		cases = append(cases, boundCase{fmt.Sprintf("thresholds/large/%d", i), tp, [][]uint64{tp.EncodeInput(x)}})
	}
	for _, c := range fixedtest.CompositeCases(t, true) {
		r := rand.New(rand.NewPCG(72, 73))
		in := make([][]uint64, len(c.Prog.Inputs))
		for i, id := range c.Prog.Inputs {
			in[i] = fixedtest.DomainValues(r, c.Prog.Tensors[id].Shape.Size())
		}
		cases = append(cases, boundCase{"composite/" + c.Name, c.Prog, in})
	}
	return cases
}

// TestElementBoundsHoldUnderTruncationError runs programs of every op,
// the smooth functions and the bundled models with every ScaleDown off by
// 0 or 1 (always 0, always 1, and at random) and requires every element
// of every output within its bound from ElementBounds.
func TestElementBoundsHoldUnderTruncationError(t *testing.T) {
	rules := map[string]func(r *rand.Rand) func() uint64{
		"exact":  func(*rand.Rand) func() uint64 { return func() uint64 { return 0 } },
		"up":     func(*rand.Rand) func() uint64 { return func() uint64 { return 1 } },
		"random": func(r *rand.Rand) func() uint64 { return func() uint64 { return r.Uint64() & 1 } },
	}
	for _, c := range boundCases(t) {
		lowered, err := c.prog.Lower(func(fixed.Op) bool { return false })
		if err != nil {
			t.Fatal(err)
		}
		// The analysis of the program as compiled (composites by their
		// own rules) and of its lowering (by the primitives' rules:
		// comparisons, multiplexers, Horner's products).
		for _, v := range []struct {
			name string
			prog *fixed.Program
		}{{"compiled", c.prog}, {"lowered", lowered}} {
			t.Run(c.name+"/"+v.name, func(t *testing.T) {
				checkBoundsHold(t, v.prog, c.inputs, rules)
			})
		}
	}
}

// checkBoundsHold runs p with the truncation errors of each rule and
// checks every output element against its bound.
func checkBoundsHold(t *testing.T, p *fixed.Program, inputs [][]uint64, rules map[string]func(r *rand.Rand) func() uint64) {
	vals, err := p.Trace(inputs...)
	if err != nil {
		t.Fatal(err)
	}
	bounds, err := p.ElementBounds(vals)
	if err != nil {
		t.Fatal(err)
	}
	for name, rule := range rules {
		for trial := range 3 {
			r := rand.New(rand.NewPCG(uint64(trial), 74))
			got, err := p.Execute(context.Background(), &truncating{&fixed.Cleartext{}, rule(r)}, inputs, nil)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			for o, id := range p.Outputs {
				for j, v := range got[o] {
					d := math.Abs(float64(int64(v - vals[id][j])))
					if b := bounds[o][j]; !(d <= b) {
						t.Fatalf("%s, trial %d: output %d element %d deviates %g units, beyond its bound %g", name, trial, o, j, d, b)
					}
				}
			}
			if name == "exact" {
				break
			}
		}
	}
}

// thresholdProgram computes, from an input [1×8] of values within a few
// units of 0 (or up to 2, for the products) at scale 12, y = x·I and
// z = x reversed (each off by its own truncation), n = −z and multiples, and outputs what changes when a value crosses 0 or a
// neighbour: ReLUs, maxima and an index, clips, a product and a matrix
// product of two inexact values, and a sigmoid.
func thresholdProgram(t *testing.T) *fixed.Program {
	g := ir.NewGraph("thresholds")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	eye, rev := make([]float32, 64), make([]float32, 64)
	for i := range 8 {
		eye[i*9], rev[i*8+7-i] = 1, 1
	}
	must(g.AddInput("x", ir.Shape{1, 8}))
	must(g.AddConst("eye", ir.FloatTensor(ir.Shape{8, 8}, eye)))
	must(g.AddConst("rev", ir.FloatTensor(ir.Shape{8, 8}, rev)))
	node := func(name string, op ir.Op, a ir.Attrs, in ...string) {
		must(g.AddNode(&ir.Node{Name: name, Op: op, Inputs: in, Output: name, Attrs: a}))
	}
	node("y", ir.OpMatMul, ir.Attrs{}, "x", "eye")
	node("z", ir.OpMatMul, ir.Attrs{}, "x", "rev")
	node("n", ir.OpNeg, ir.Attrs{}, "z")
	node("relu_y", ir.OpRelu, ir.Attrs{}, "y")
	node("relu_n", ir.OpRelu, ir.Attrs{}, "n")
	node("max_y", ir.OpReduceMax, ir.Attrs{Axes: []int{1}}, "y")
	node("min_n", ir.OpReduceMin, ir.Attrs{Axes: []int{1}}, "n")
	node("max_yn", ir.OpMax, ir.Attrs{}, "y", "n")
	node("clip_n", ir.OpClip, ir.Attrs{Min: -1.0 / 4096, Max: 1.0 / 4096}, "n")
	node("prod", ir.OpMul, ir.Attrs{}, "y", "n")
	node("nt", ir.OpTranspose, ir.Attrs{Perm: []int{1, 0}}, "n")
	node("dot", ir.OpMatMul, ir.Attrs{}, "y", "nt")
	node("sig", ir.OpSigmoid, ir.Attrs{}, "n")
	// big = 4y is off by 0 or 4 units, nbig = −big by 0 or −4.
	node("y2", ir.OpAdd, ir.Attrs{}, "y", "y")
	node("big", ir.OpAdd, ir.Attrs{}, "y2", "y2")
	node("nbig", ir.OpNeg, ir.Attrs{}, "big")
	node("relu_nbig", ir.OpRelu, ir.Attrs{}, "nbig")
	node("max_bign", ir.OpMax, ir.Attrs{}, "big", "n")
	node("max_nbigy", ir.OpMax, ir.Attrs{}, "nbig", "y")
	node("max_nbig", ir.OpReduceMax, ir.Attrs{Axes: []int{1}}, "nbig")
	node("clip_nbig", ir.OpClip, ir.Attrs{Min: -2.0 / 4096, Max: 2.0 / 4096}, "nbig")
	node("argmax", ir.OpArgMax, ir.Attrs{Axis: 1}, "nbig")
	must(g.SetOutputs("relu_y", "relu_n", "max_y", "min_n", "max_yn", "clip_n", "prod", "dot", "sig",
		"relu_nbig", "max_bign", "max_nbigy", "max_nbig", "clip_nbig", "argmax"))
	p, err := fixed.Compile(g, 12)
	must(err)
	return p
}

// TestElementBoundsAreLocal checks what per-element bounds buy: a ReLU
// whose input is negative beyond its error is exact, a comparison far
// from its threshold is exact, and a maximum follows the candidates that
// can win.
func TestElementBoundsAreLocal(t *testing.T) {
	g := ir.NewGraph("local")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(g.AddInput("x", ir.Shape{1, 4}))
	must(g.AddConst("w", ir.FloatTensor(ir.Shape{4, 4}, []float32{
		1, 0, 0, 0,
		0, 1, 0, 0,
		0, 0, 1, 0,
		0, 0, 0, 1,
	})))
	must(g.AddNode(&ir.Node{Name: "mm", Op: ir.OpMatMul, Inputs: []string{"x", "w"}, Output: "y"}))
	must(g.AddNode(&ir.Node{Name: "relu", Op: ir.OpRelu, Inputs: []string{"y"}, Output: "r"}))
	must(g.AddNode(&ir.Node{Name: "max", Op: ir.OpReduceMax, Inputs: []string{"y"}, Output: "m", Attrs: ir.Attrs{Axes: []int{1}}}))
	must(g.SetOutputs("r", "m"))
	p, err := fixed.Compile(g, 12)
	if err != nil {
		t.Fatal(err)
	}
	vals, err := p.Trace(p.EncodeInput([]float32{-3, 2, -0.0001, 5}))
	if err != nil {
		t.Fatal(err)
	}
	bounds, err := p.ElementBounds(vals)
	if err != nil {
		t.Fatal(err)
	}
	relu, max := bounds[0], bounds[1]
	switch {
	case relu[0] != 0:
		t.Errorf("ReLU of −3 (off by a unit or two): bound %g, want 0", relu[0])
	case relu[1] == 0 || relu[3] == 0:
		t.Errorf("ReLU of 2 and 5 keep their error: bounds %v", relu)
	case relu[2] == 0:
		t.Errorf("ReLU of −0.0001 (within the error of 0): bound 0, want the error")
	case max[0] != relu[3]:
		t.Errorf("max of (−3, 2, −0.0001, 5) has only 5 as candidate: bound %g, want its error %g", max[0], relu[3])
	}
	if eb := p.ErrorBounds(vals); eb[p.Outputs[0]] != math.Max(math.Max(relu[1], relu[2]), relu[3]) {
		t.Errorf("ErrorBounds %g is not the largest element bound of %v", eb[p.Outputs[0]], relu)
	}
}

// TestTraceCompareBits checks the traced comparison bound on the bundled
// LeNet: every DReLU input of the lowered program on the calibration
// images lies below 2^(CompareBits − CompareMargin), the bound is tight
// to within one bit, and an invalid bound is refused.
func TestTraceCompareBits(t *testing.T) {
	p := testmodel.Program(t, "fashion_lenet", 12)
	xs, _ := testmodel.Images(t, p, "data/fashion-mnist/test", 255, 8)
	var ex []fixed.Example
	for _, x := range xs {
		ex = append(ex, fixed.Example{Input: x})
	}
	if err := p.TraceCompareBits(ex); err != nil {
		t.Fatal(err)
	}
	q, err := p.Lower(func(fixed.Op) bool { return false })
	if err != nil {
		t.Fatal(err)
	}
	var top float64
	for _, x := range xs {
		vals, err := q.Trace(q.EncodeInput(x))
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range q.Instrs {
			if in.Op == fixed.DReLU {
				for _, v := range vals[in.In[0]] {
					top = math.Max(top, math.Abs(float64(int64(v))))
				}
			}
		}
	}
	b := p.CompareBits - fixed.CompareMargin
	if top >= math.Ldexp(1, b) || top < math.Ldexp(1, b-1) {
		t.Fatalf("largest comparison input %g, traced bound 2^%d (with margin 2^%d)", top, b, p.CompareBits)
	}
	t.Logf("LeNet: comparisons below %g, CompareBits %d", top, p.CompareBits)

	// The cleartext check: the calibration images pass, an image 64
	// times brighter (6 bits beyond the 2 of margin) does not, and
	// neither a verification of its output.
	if err := p.CheckCompareBound(xs[0]); err != nil {
		t.Errorf("a calibration image: %v", err)
	}
	bright := slices.Clone(xs[0])
	for i := range bright {
		bright[i] *= 64
	}
	if err := p.CheckCompareBound(bright); err == nil || !strings.Contains(err.Error(), "beyond the program's traced bound") {
		t.Errorf("an image 64 times brighter: %v, want a refusal", err)
	}
	if _, err := p.VerifyOutput(bright, make([]float64, 10)); err == nil || !strings.Contains(err.Error(), "traced bound") {
		t.Errorf("VerifyOutput of an image beyond the bound: %v, want a refusal", err)
	}
	p.CompareBits = 63
	if err := p.Validate(); err == nil || !strings.Contains(err.Error(), "comparison bound") {
		t.Errorf("CompareBits 63: %v", err)
	}
}
