package fixed_test

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"

	"veil/fixed"
	"veil/fixed/fixedtest"
	"veil/ir"
)

// TestLoweringMatchesOracle runs every composite op both as the oracle
// computes it directly and as its lowering onto primitives, on values
// across the comparison domain with many ties, and requires equal
// results; the lowered programs hold primitive ops only and validate.
func TestLoweringMatchesOracle(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, c := range fixedtest.CompositeCases(t, false) {
		t.Run(c.Name, func(t *testing.T) {
			p := c.Prog
			q, err := p.Lower(func(fixed.Op) bool { return false })
			if err != nil {
				t.Fatal(err)
			}
			if q == p {
				t.Fatal("nothing was lowered")
			}
			for _, in := range q.Instrs {
				if !in.Op.Primitive() {
					t.Fatalf("lowered program holds the composite op %s", in.Op)
				}
			}
			if err := q.Validate(); err != nil {
				t.Fatalf("lowered program: %v", err)
			}
			for trial := 0; trial < 20; trial++ {
				x := fixedtest.DomainValues(r, c.Shape.Size())
				want, err := p.Run(x)
				if err != nil {
					t.Fatal(err)
				}
				got, err := p.Execute(context.Background(), &fixed.Cleartext{}, [][]uint64{x}, &fixed.ExecOptions{Lower: true})
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(got[0], want[0]) {
					t.Fatalf("input %v:\nlowered %v\ndirect  %v", x, got[0], want[0])
				}
			}
		})
	}
}

// TestLowerKeepsFusedOps checks that Lower leaves the ops a backend fuses
// and returns the program itself when nothing is to be lowered.
func TestLowerKeepsFusedOps(t *testing.T) {
	p := fixedtest.SingleOp(t, ir.Shape{1, 4}, ir.NCHW, ir.OpRelu, ir.Attrs{})
	q, err := p.Lower(func(op fixed.Op) bool { return op == fixed.Relu })
	if err != nil || q != p {
		t.Fatalf("Lower with Relu fused: %v, %v; want the program itself", q, err)
	}
}

// TestPrimitiveSemantics pins the primitives the lowerings are built on.
func TestPrimitiveSemantics(t *testing.T) {
	p := &fixed.Program{Name: "prims", Scale: 8, Tensors: []*fixed.Tensor{
		{Name: "x", Shape: ir.Shape{2, 3}, Kind: fixed.KindInput},
		{Name: "b", Shape: ir.Shape{2, 3}, Kind: fixed.KindValue},
		{Name: "c", Shape: ir.Shape{2, 3}, Kind: fixed.KindValue},
		{Name: "m", Shape: ir.Shape{2, 3}, Kind: fixed.KindValue},
		{Name: "e", Shape: ir.Shape{4, 5}, Kind: fixed.KindValue},
	}, Inputs: []int{0}, Outputs: []int{1, 2, 3, 4}, Instrs: []fixed.Instr{
		{Op: fixed.DReLU, In: []int{0}, Out: 1},
		{Op: fixed.Const, Public: []int64{7, -1, 5}, PublicShape: ir.Shape{3}, Out: 2},
		{Op: fixed.Mux, In: []int{1, 0, 2}, Out: 3},
		{Op: fixed.Pad, In: []int{0}, Pads: []int{1, 0, 1, 2}, Mode: "edge", Out: 4},
	}}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	neg := func(v int64) uint64 { return uint64(v) }
	x := []uint64{0, neg(-1), 3, neg(-1 << 61), 1<<61 - 1, neg(-5)}
	outs, err := p.Run(x)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]uint64{
		{1, 0, 1, 0, 1, 0},
		{7, neg(-1), 5, 7, neg(-1), 5},
		{0, neg(-1), 3, 7, 1<<61 - 1, 5},
		{0, neg(-1), 3, 3, 3, // the first row repeated above
			0, neg(-1), 3, 3, 3,
			neg(-1 << 61), 1<<61 - 1, neg(-5), neg(-5), neg(-5),
			neg(-1 << 61), 1<<61 - 1, neg(-5), neg(-5), neg(-5)}, // and below
	}
	for i := range want {
		if !slices.Equal(outs[i], want[i]) {
			t.Errorf("output %d (%s): %v, want %v", i, p.Tensors[p.Outputs[i]].Name, outs[i], want[i])
		}
	}
}

// TestComparisonCount checks Stats.Comparisons against the lowering: a
// program makes as many comparisons as its lowered form has DReLU
// elements.
func TestComparisonCount(t *testing.T) {
	for _, out := range []string{"softmax", "first"} {
		p, err := fixed.Compile(fixedtest.MixedGraph(t, rand.New(rand.NewPCG(1, 1)), ir.NCHW, out), 12)
		if err != nil {
			t.Fatal(err)
		}
		q, err := p.Lower(func(fixed.Op) bool { return false })
		if err != nil {
			t.Fatal(err)
		}
		q.ComputeStats()
		if p.Stats.Comparisons == 0 || p.Stats.Comparisons != q.Stats.Comparisons {
			t.Errorf("%s: %d comparisons, the lowered program makes %d", out, p.Stats.Comparisons, q.Stats.Comparisons)
		}
	}
}
