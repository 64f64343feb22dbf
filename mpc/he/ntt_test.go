package he

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/tuneinsight/lattigo/v6/ring"
)

// nttInputs returns test polynomials for modulus q: random, zero, all
// q−1, and single coefficients at both ends.
func nttInputs(n int, q uint64, rng *rand.Rand) [][]uint64 {
	var ins [][]uint64
	for range 4 {
		p := make([]uint64, n)
		for i := range p {
			p[i] = rng.Uint64N(q)
		}
		ins = append(ins, p)
	}
	zero, top, first, last := make([]uint64, n), make([]uint64, n), make([]uint64, n), make([]uint64, n)
	for i := range top {
		top[i] = q - 1
	}
	first[0], last[n-1] = 1, q-1
	return append(ins, zero, top, first, last)
}

// TestNTTEqualsLattigo checks the assembly transforms equal Lattigo's on
// every limb of the default parameters and of a small ring, and that
// inverse undoes forward.
func TestNTTEqualsLattigo(t *testing.T) {
	if !useAVX512 {
		t.Log("no AVX-512 here (or the purego tag): the transforms are Lattigo's own, the assembly is not exercised")
	}
	if useIFMA && !newNTTTable(Default().ringQ.SubRings[0]).ifma {
		t.Error("AVX-512 IFMA here, but the 40-bit limb's transforms do not use it")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	small, err := ring.NewRing(16, []uint64{0x7fff801, 0xfffffffffffc001})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []*ring.Ring{Default().ringQ, small} {
		for _, s := range r.SubRings {
			tab := newNTTTable(s)
			// The IFMA path where it applies, then the 64-bit one.
			for _, ifma := range []bool{tab.ifma, false} {
				tab.ifma = ifma
				for k, in := range nttInputs(s.N, s.Modulus, rng) {
					want := make([]uint64, s.N)
					s.NTT(in, want)
					got := slices.Clone(in)
					tab.forward(got)
					if !slices.Equal(got, want) {
						t.Fatalf("N=%d q=%#x IFMA %v input %d: forward differs from Lattigo's", s.N, s.Modulus, tab.ifma, k)
					}
					wantInv := make([]uint64, s.N)
					s.INTT(in, wantInv)
					got = slices.Clone(in)
					tab.inverse(got)
					if !slices.Equal(got, wantInv) {
						t.Fatalf("N=%d q=%#x IFMA %v input %d: inverse differs from Lattigo's", s.N, s.Modulus, tab.ifma, k)
					}
					got = slices.Clone(want)
					tab.inverse(got)
					if !slices.Equal(got, in) {
						t.Fatalf("N=%d q=%#x input %d: inverse(forward(p)) ≠ p", s.N, s.Modulus, k)
					}
				}
			}
		}
	}
}

func BenchmarkNTT(b *testing.B) {
	for _, limb := range []int{0, 3} {
		b.Run(fmt.Sprintf("limb%d", limb), func(b *testing.B) { benchNTT(b, limb) })
	}
}

func benchNTT(b *testing.B, limb int) {
	s := Default().ringQ.SubRings[limb]
	tab := newNTTTable(s)
	p := nttInputs(s.N, s.Modulus, rand.New(rand.NewPCG(1, 2)))[0]
	b.Run("lattigo/forward", func(b *testing.B) {
		for b.Loop() {
			s.NTT(p, p)
		}
	})
	b.Run("veil/forward", func(b *testing.B) {
		for b.Loop() {
			tab.forward(p)
		}
	})
	b.Run("lattigo/inverse", func(b *testing.B) {
		for b.Loop() {
			s.INTT(p, p)
		}
	})
	b.Run("veil/inverse", func(b *testing.B) {
		for b.Loop() {
			tab.inverse(p)
		}
	})
}
