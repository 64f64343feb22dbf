package fixed_test

import (
	"context"
	"math/big"
	"math/rand/v2"
	"slices"
	"testing"

	"veil/fixed"
	"veil/fixed/fixedtest"
	"veil/ir"
)

// sloppyScaleDown is the oracle with a ScaleDown that adds one to a
// random half of its results, as Porthos' truncation may.
type sloppyScaleDown struct {
	fixed.Cleartext
	r *rand.Rand
}

func (s *sloppyScaleDown) Exec(k int, in *fixed.Instr, args []fixed.Value) (fixed.Value, error) {
	v, err := s.Cleartext.Exec(k, in, args)
	if err != nil || in.Op != fixed.ScaleDown {
		return v, err
	}
	y := v.([]uint64)
	for i := range y {
		y[i] += uint64(s.r.IntN(2))
	}
	return y, nil
}

// Fuses lowers every composite op.
func (s *sloppyScaleDown) Fuses(fixed.Op) bool { return false }

// divProgram is one DivPublic of x (shape) by ds (of dshape).
func divProgram(t *testing.T, shape, dshape ir.Shape, ds []int64) *fixed.Program {
	t.Helper()
	out, err := ir.BroadcastShapes(shape, dshape)
	if err != nil {
		t.Fatal(err)
	}
	p := &fixed.Program{Name: "div", Scale: 8, Tensors: []*fixed.Tensor{
		{Name: "x", Shape: shape, Kind: fixed.KindInput},
		{Name: "y", Shape: out, Kind: fixed.KindValue},
	}, Inputs: []int{0}, Outputs: []int{1}, Instrs: []fixed.Instr{{Op: fixed.DivPublic, In: []int{0}, Out: 1, Public: ds, PublicShape: dshape}}}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestDivPublicSemantics: the oracle's DivPublic is ⌊x/d + 1/2⌋ exactly
// (against big integers) for values over the whole int64 range, with
// broadcasting.
func TestDivPublicSemantics(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	ds := []int64{1, 2, 3, 7, 10, 49, 1 << 20}
	p := divProgram(t, ir.Shape{4, 1}, ir.Shape{1, 7}, ds)
	for trial := 0; trial < 2000; trial++ {
		x := make([]uint64, 4)
		for i := range x {
			switch r.IntN(4) {
			case 0:
				x[i] = uint64(r.Int64N(41) - 20)
			case 1:
				x[i] = r.Uint64()
			case 2:
				x[i] = uint64([]int64{-1 << 63, 1<<63 - 1, -1<<63 + 1, 1<<63 - 2}[r.IntN(4)])
			default:
				x[i] = uint64(r.Int64N(1<<30) - 1<<29)
			}
		}
		out, err := p.Run(x)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 4 {
			for j, d := range ds {
				// ⌊(2x + d) / 2d⌋ over the integers.
				num := new(big.Int).Add(new(big.Int).Lsh(big.NewInt(int64(x[i])), 1), big.NewInt(d))
				want := new(big.Int).Div(num, big.NewInt(2*d)) // Euclidean: the floor for d > 0
				if got := int64(out[0][i*7+j]); got != want.Int64() {
					t.Fatalf("DivPublic(%d, %d) = %d, want %d", int64(x[i]), d, got, want)
				}
			}
		}
	}
}

// TestDivPublicLoweringExact: DivPublic's lowering equals the oracle on
// values across its whole domain |x| < 2^DivPublicBits (uniform, small,
// the ends, ties) for divisors from 1 to 2^DivPublicBits, also when every
// ScaleDown may add one.
func TestDivPublicLoweringExact(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	lim := int64(1) << fixed.DivPublicBits
	var ds []int64
	for _, d := range []int64{1, 2, 3, 4, 5, 6, 7, 9, 11, 16, 25, 49, 196, 1000, 3025, 65535, lim/3 + 1, lim - 1, lim} {
		ds = append(ds, d)
	}
	for len(ds) < 64 {
		ds = append(ds, 1+r.Int64N(lim))
	}
	n := 32
	p := divProgram(t, ir.Shape{n, 1}, ir.Shape{1, len(ds)}, ds)
	for trial := 0; trial < 300; trial++ {
		x := make([]uint64, n)
		for i := range x {
			var v int64
			switch r.IntN(5) {
			case 0:
				v = r.Int64N(2*lim-1) - (lim - 1)
			case 1:
				v = r.Int64N(41) - 20
			case 2:
				v = []int64{lim - 1, -(lim - 1), lim - 2, -(lim - 2)}[r.IntN(4)]
			case 3: // a tie or next to one: x = k·d + ⌊d/2⌋ + {−1, 0, 1}
				d := ds[r.IntN(len(ds))]
				k := r.Int64N(2*lim/d+1) - lim/d
				v = max(min(k*d+d/2+r.Int64N(3)-1, lim-1), -(lim - 1))
			default:
				v = r.Int64N(1<<12) - 1<<11
			}
			x[i] = uint64(v)
		}
		want, err := p.Run(x)
		if err != nil {
			t.Fatal(err)
		}
		got, err := p.Execute(context.Background(), &fixed.Cleartext{}, [][]uint64{x}, &fixed.ExecOptions{Lower: true})
		if err != nil {
			t.Fatal(err)
		}
		sloppy, err := p.Execute(context.Background(), &sloppyScaleDown{r: r}, [][]uint64{x}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got[0], want[0]) || !slices.Equal(sloppy[0], want[0]) {
			for i := range want[0] {
				if got[0][i] != want[0][i] || sloppy[0][i] != want[0][i] {
					t.Fatalf("DivPublic(%d, %d): lowered %d, with a ScaleDown adding one %d, oracle %d",
						int64(x[i/len(ds)]), ds[i%len(ds)], int64(got[0][i]), int64(sloppy[0][i]), int64(want[0][i]))
				}
			}
		}
	}
}

// TestClipValidate: Clip's bounds must be an interval of the comparison
// domain, and DivPublic's divisors lie in [1, 2^DivPublicBits].
func TestClipValidate(t *testing.T) {
	lim := int64(1) << 61
	for _, c := range []struct {
		lo, hi int64
		ok     bool
	}{{0, 0, true}, {-lim, lim - 1, true}, {1, 0, false}, {-lim - 1, 0, false}, {0, lim, false}} {
		p := &fixed.Program{Name: "clip", Scale: 8, Tensors: []*fixed.Tensor{
			{Name: "x", Shape: ir.Shape{2}, Kind: fixed.KindInput},
			{Name: "y", Shape: ir.Shape{2}, Kind: fixed.KindValue},
		}, Inputs: []int{0}, Outputs: []int{1}, Instrs: []fixed.Instr{{Op: fixed.Clip, In: []int{0}, Out: 1, Min: c.lo, Max: c.hi}}}
		if err := p.Validate(); (err == nil) != c.ok {
			t.Errorf("Clip [%d, %d]: Validate %v", c.lo, c.hi, err)
		}
	}
	for _, d := range []int64{0, -1, 1<<fixed.DivPublicBits + 1} {
		p := &fixed.Program{Name: "div", Scale: 8, Tensors: []*fixed.Tensor{
			{Name: "x", Shape: ir.Shape{2}, Kind: fixed.KindInput},
			{Name: "y", Shape: ir.Shape{2}, Kind: fixed.KindValue},
		}, Inputs: []int{0}, Outputs: []int{1}, Instrs: []fixed.Instr{{Op: fixed.DivPublic, In: []int{0}, Out: 1, Public: []int64{d}, PublicShape: ir.Shape{}}}}
		if err := p.Validate(); err == nil {
			t.Errorf("DivPublic by %d validates", d)
		}
	}
}

// TestCompositeComparisons: every composite case counts as many
// comparisons (Stats.Comparisons) as its lowering has DReLU elements.
func TestCompositeComparisons(t *testing.T) {
	for _, c := range fixedtest.CompositeCases(t, false) {
		q, err := c.Prog.Lower(func(fixed.Op) bool { return false })
		if err != nil {
			t.Fatal(err)
		}
		q.ComputeStats()
		if c.Prog.Stats.Comparisons != q.Stats.Comparisons {
			t.Errorf("%s: %d comparisons, the lowering makes %d", c.Name, c.Prog.Stats.Comparisons, q.Stats.Comparisons)
		}
	}
}
