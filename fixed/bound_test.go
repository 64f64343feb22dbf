package fixed_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
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
