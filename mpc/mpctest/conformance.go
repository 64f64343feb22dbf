package mpctest

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"veil/fixed"
	"veil/fixed/fixedtest"
	"veil/ir"
	"veil/mpc"
)

// Conformance runs the suite on r: every primitive op of the instruction
// set directly (so that a backend lacking one fails), every composite op
// on values across the comparison domain with many ties, programs of
// every op in both layouts, three inferences in one session, and, where r
// can cut a party's network, a party dying at several points of a
// session. Outputs must equal the oracle's (fixed.Cleartext), within
// r.Truncation per ScaleDown where a program truncates.
func Conformance(t *testing.T, r Runner) {
	t.Run("primitives", func(t *testing.T) { testPrimitives(t, r) })
	t.Run("composites", func(t *testing.T) { testComposites(t, r) })
	t.Run("programs", func(t *testing.T) { testPrograms(t, r) })
	t.Run("functions", func(t *testing.T) { testFunctions(t, r) })
	if r.Fail != nil {
		t.Run("peer failure", func(t *testing.T) { testFailure(t, r) })
	}
}

func testPrimitives(t *testing.T, r Runner) {
	seen := map[fixed.Op]bool{}
	for i, c := range primitives() {
		seen[c.op] = true
		t.Run(c.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(i), 11))
			prog, x := c.build(t, rng)
			x2 := slices.Clone(x)
			for j := range x2 { // a second inference on other values
				x2[j] = slices.Clone(x2[j])
				rng.Shuffle(len(x2[j]), func(a, b int) { x2[j][a], x2[j][b] = x2[j][b], x2[j][a] })
			}
			got, err := r.Run(t, prog, [][][]uint64{x, x2})
			if err != nil {
				t.Fatalf("%s: %v", r.Name, err)
			}
			for k, in := range [][][]uint64{x, x2} {
				want, err := prog.Run(in...)
				if err != nil {
					t.Fatal(err)
				}
				tol := 0
				if c.scaled {
					tol = r.Truncation
				}
				for o := range want {
					if err := within(got[k][o], want[o], tol); err != nil {
						t.Fatalf("%s, inference %d, output %d: %v", r.Name, k, o, err)
					}
				}
			}
		})
	}
	for _, op := range allOps {
		if op.Primitive() && !seen[op] {
			t.Errorf("the suite has no program for the primitive %s", op)
		}
	}
}

// allOps lists the instruction set, for the suite's own completeness
// check.
var allOps = []fixed.Op{fixed.Conv, fixed.MatMul, fixed.Mul, fixed.Add, fixed.Sub, fixed.AddPublic, fixed.MulPublic,
	fixed.Const, fixed.ScaleDown, fixed.DReLU, fixed.Mux, fixed.SumPool, fixed.ReduceSum, fixed.Reshape, fixed.Transpose,
	fixed.Concat, fixed.Pad, fixed.Slice, fixed.Relu, fixed.MaxPool, fixed.ArgMax}

func testComposites(t *testing.T, r Runner) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, c := range fixedtest.CompositeCases(t, true) {
		t.Run(c.Name, func(t *testing.T) {
			x := fixedtest.DomainValues(rng, c.Shape.Size())
			got, err := r.Run(t, c.Prog, [][][]uint64{{x}})
			if err != nil {
				t.Fatalf("%s: %v", r.Name, err)
			}
			want, err := c.Prog.Run(x)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got[0][0], want[0]) {
				t.Fatalf("%s on %v:\ngot    %v\noracle %v", r.Name, x, got[0][0], want[0])
			}
		})
	}
}

// testPrograms runs programs of every op (fixedtest.MixedGraph) in both
// layouts, three inferences in one session each.
func testPrograms(t *testing.T, r Runner) {
	for _, l := range []ir.Layout{ir.NCHW, ir.NHWC} {
		for _, out := range []string{"softmax", "first", "last"} {
			t.Run(fmt.Sprintf("%s/%s", l, out), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(30, uint64(l)))
				prog, err := fixed.Compile(fixedtest.MixedGraph(t, rng, l, out), 12)
				if err != nil {
					t.Fatal(err)
				}
				inputs := make([][][]uint64, 3)
				for i := range inputs {
					inputs[i] = [][]uint64{prog.EncodeInput(fixedtest.RandTensor(rng, prog.Tensors[prog.Inputs[0]].Shape, 1).F)}
				}
				got, err := r.Run(t, prog, inputs)
				if err != nil {
					t.Fatalf("%s: %v", r.Name, err)
				}
				if len(got) != len(inputs) {
					t.Fatalf("%s: %d results for %d inferences", r.Name, len(got), len(inputs))
				}
				for i, in := range inputs {
					vals, err := prog.Trace(in...)
					if err != nil {
						t.Fatal(err)
					}
					if err := withinBounds(prog, vals, got[i], r.Truncation); err != nil {
						t.Errorf("%s, inference %d: %v", r.Name, i, err)
					}
				}
			})
		}
	}
}

// testFunctions runs a program of the smooth functions (GELU, softmax
// in the middle of the graph, reciprocal square root, sigmoid, max,
// tanh), compiled with ranges traced on random inputs, and requires the
// outputs within the propagated error bound of the oracle's (exact for a
// backend that truncates exactly).
func testFunctions(t *testing.T, r Runner) {
	rng := rand.New(rand.NewPCG(40, 41))
	g := fixedtest.FunctionGraph(t)
	shape := g.Values[g.Inputs[0]].Shape
	var xs []fixed.Example
	for range 20 {
		xs = append(xs, fixed.Example{Input: fixedtest.RandTensor(rng, shape, 2).F})
	}
	ranges, err := fixed.TraceRanges(g, xs)
	if err != nil {
		t.Fatal(err)
	}
	prog, err := fixed.CompileWith(g, 12, fixed.Options{Ranges: ranges})
	if err != nil {
		t.Fatal(err)
	}
	inputs := make([][][]uint64, 2)
	for i := range inputs {
		inputs[i] = [][]uint64{prog.EncodeInput(xs[i].Input)}
	}
	got, err := r.Run(t, prog, inputs)
	if err != nil {
		t.Fatalf("%s: %v", r.Name, err)
	}
	for i, in := range inputs {
		vals, err := prog.Trace(in...)
		if err != nil {
			t.Fatal(err)
		}
		if err := withinBounds(prog, vals, got[i], r.Truncation); err != nil {
			t.Errorf("%s, inference %d: %v", r.Name, i, err)
		}
	}
}

// testFailure cuts one party's network after a number of messages and
// requires every other party to stop with an error naming it, promptly,
// and P0 to release no output.
func testFailure(t *testing.T, r Runner) {
	rng := rand.New(rand.NewPCG(8, 9))
	prog, err := fixed.Compile(fixedtest.MixedGraph(t, rng, ir.NCHW, "softmax"), 12)
	if err != nil {
		t.Fatal(err)
	}
	x := [][]uint64{prog.EncodeInput(fixedtest.RandTensor(rng, prog.Tensors[prog.Inputs[0]].Shape, 1).F)}
	for _, victim := range mpc.PartiesOf(r.Parties) {
		for _, after := range []int{0, 3, 17} {
			t.Run(fmt.Sprintf("%s after %d messages", victim, after), func(t *testing.T) {
				start := time.Now()
				errs, out := r.Fail(t, prog, x, victim, after)
				if d := time.Since(start); d > Timeout {
					t.Errorf("took %v to stop", d)
				}
				if out != nil {
					t.Errorf("P0 released an output")
				}
				for p, err := range errs {
					if mpc.Party(p) == victim {
						continue
					}
					var pe *mpc.PeerError
					switch {
					case err == nil:
						t.Errorf("%s: no error", mpc.Party(p))
					case !errors.As(err, &pe) || !slices.Contains(pe.Suspects(), victim):
						t.Errorf("%s: error does not name %s: %v", mpc.Party(p), victim, err)
					}
				}
			})
		}
	}
}

// within checks |got − want| ≤ tol element-wise (signed differences).
func within(got, want []uint64, tol int) error {
	if len(got) != len(want) {
		return fmt.Errorf("%d values, want %d", len(got), len(want))
	}
	for i := range got {
		if d := int64(got[i] - want[i]); d > int64(tol) || d < -int64(tol) {
			return fmt.Errorf("element %d: %d, oracle %d", i, int64(got[i]), int64(want[i]))
		}
	}
	return nil
}

// withinBounds checks every element of every output of a secure run
// against the oracle's (vals, from Trace): equal for a backend that
// truncates exactly (truncation 0), else within the element's bound in
// prog.ElementBounds (an argmax may then flip on a near tie, within its
// bound too).
func withinBounds(prog *fixed.Program, vals [][]uint64, got [][]uint64, truncation int) error {
	if len(got) != len(prog.Outputs) {
		return fmt.Errorf("%d outputs, the program has %d", len(got), len(prog.Outputs))
	}
	if truncation > 1 {
		return fmt.Errorf("ElementBounds assumes a truncation off by at most 1, the runner says %d", truncation)
	}
	var bounds [][]float64
	if truncation > 0 {
		var err error
		if bounds, err = prog.ElementBounds(vals); err != nil {
			return err
		}
	}
	for o, id := range prog.Outputs {
		want := vals[id]
		if len(got[o]) != len(want) {
			return fmt.Errorf("output %d: %d values, want %d", o, len(got[o]), len(want))
		}
		for j := range want {
			d, b := math.Abs(float64(int64(got[o][j]-want[j]))), 0.0
			if bounds != nil {
				b = bounds[o][j]
			}
			if d > b {
				return fmt.Errorf("output %d element %d deviates from the oracle's by %g units, beyond its bound %g", o, j, d, b)
			}
		}
	}
	return nil
}
