package he

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"veil/tensor"
)

func TestMatMulExact(t *testing.T) {
	p := Default()
	ps := newParties(t, p)
	rng := rand.New(rand.NewPCG(15, 16))
	for _, tc := range []struct {
		name    string
		m, k, n int
		slow    bool
	}{
		{"1x1x1", 1, 1, 1, false},
		{"vector", 1, 10, 3, false},
		{"rows", 5, 7, 4, false},
		{"logistic regression 1x784x10", 1, 784, 10, false},
		{"MLP 1x784x128", 1, 784, 128, false},
		{"batch 16x100x10", 16, 100, 10, false},
		{"tall 3000x4x2", 3000, 4, 2, false},
		{"wide K 1x9000x3", 1, 9000, 3, false},
		{"fc 1x4096x1000", 1, 4096, 1000, true},
	} {
		for _, wbits := range weightBounds {
			t.Run(fmt.Sprintf("%s/%d-bit weights", tc.name, wbits), func(t *testing.T) {
				if tc.slow && testing.Short() {
					t.Skip("slow")
				}
				l, err := NewMatMul(p, tc.m, tc.k, tc.n, wbits)
				if err != nil {
					t.Fatal(err)
				}
				t.Log(l)
				w := boundedWeights(rng, l.WeightLen(), wbits)
				xC := randVec(rng, l.InputLen(), 0)
				xS := randVec(rng, l.InputLen(), 0)
				got := ps.run(t, l, w, xC, xS)
				x := make([]uint64, len(xC))
				for i := range x {
					x[i] = xC[i] + xS[i]
				}
				want := make([]uint64, tc.m*tc.n)
				tensor.MatMul(want, x, w, tc.m, tc.k, tc.n)
				if i := firstDiff(got, want); i >= 0 {
					t.Fatalf("output %d: got %#x, want %#x", i, got[i], want[i])
				}
			})
		}
	}
}

// TestSmallRing runs a convolution and a product over Z_2^32 with values
// beyond 32 bits, which are taken mod 2^32 (weights as signed 32-bit).
func TestSmallRing(t *testing.T) {
	lit := DefaultLiteral()
	lit.LogT = 32
	p, err := NewParams(lit)
	if err != nil {
		t.Fatal(err)
	}
	ps := newParties(t, p)
	rng := rand.New(rand.NewPCG(17, 18))
	cp := conv(1, 4, 9, 9, 6, 3, 3, 2, 1, 2)
	l, err := NewConv(p, cp, p.LogT())
	if err != nil {
		t.Fatal(err)
	}
	ps.checkConv(t, rng, l, cp, randVec(rng, l.WeightLen(), 0))
}

// TestExtremeValues runs layers whose weights and inputs are the ring's
// extremes: 0, 1, 2^63, 2^64 − 1 and their mixtures.
func TestExtremeValues(t *testing.T) {
	p := Default()
	ps := newParties(t, p)
	cp := conv(1, 8, 10, 10, 8, 3, 3, 1, 1, 1)
	l, err := NewConv(p, cp, p.LogT())
	if err != nil {
		t.Fatal(err)
	}
	ext := []uint64{0, 1, 1 << 63, 1<<64 - 1}
	fill := func(n int, f func(i int) uint64) []uint64 {
		v := make([]uint64, n)
		for i := range v {
			v[i] = f(i)
		}
		return v
	}
	for _, a := range ext {
		for _, b := range ext {
			w := fill(l.WeightLen(), func(int) uint64 { return a })
			x := fill(l.InputLen(), func(int) uint64 { return b })
			got := ps.run(t, l, w, x, x)
			if want := convClear(cp, w, x, x, p.tMask()); firstDiff(got, want) >= 0 {
				t.Fatalf("weights %#x, inputs %#x: output %d differs", a, b, firstDiff(got, want))
			}
		}
	}
	mixed := fill(l.WeightLen(), func(i int) uint64 { return ext[i%4] })
	xm := fill(l.InputLen(), func(i int) uint64 { return ext[(i/3)%4] })
	got := ps.run(t, l, mixed, xm, fill(l.InputLen(), func(i int) uint64 { return ext[i%4] }))
	if want := convClear(cp, mixed, xm, fill(l.InputLen(), func(i int) uint64 { return ext[i%4] }), p.tMask()); firstDiff(got, want) >= 0 {
		t.Fatal("mixed extremes differ")
	}
}
