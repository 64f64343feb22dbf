package he

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/tuneinsight/lattigo/v6/ring"
)

// TestMulAddPair checks the server's products, dispatched (AVX-512 where
// there is one) and portable, against Lattigo's Montgomery products
// reduced, on every limb, over many accumulations and at the edges
// (0, q−1, accumulators at 2q−1).
func TestMulAddPair(t *testing.T) {
	if !useAVX512 {
		t.Log("no AVX-512 here (or the purego tag): only the portable products run")
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for _, s := range Default().ringQ.SubRings {
		q, n := s.Modulus, s.N
		ins := nttInputs(n, q, rng)
		for round := range 3 {
			acc := [2][2][]uint64{} // [path][component]
			want := [2][]uint64{make([]uint64, n), make([]uint64, n)}
			for path := range acc {
				for c := range acc[path] {
					acc[path][c] = make([]uint64, n)
					if round == 2 { // start at the top of the lazy range
						for j := range acc[path][c] {
							acc[path][c][j] = 2*q - 1
						}
					}
				}
			}
			if round == 2 {
				for c := range want {
					for j := range want[c] {
						want[c][j] = (2*q - 1) % q
					}
				}
			}
			for step := range 40 {
				k := ins[(step+round)%len(ins)]
				x0, x1 := ins[(step*3+1)%len(ins)], ins[(step*5+2)%len(ins)]
				mulAddPairRow(s, k, x0, x1, acc[0][0], acc[0][1])
				mulAddPairGo(s, k, x0, x1, acc[1][0], acc[1][1])
				for c, x := range [][]uint64{x0, x1} {
					prod := make([]uint64, n)
					s.MulCoeffsMontgomery(k, x, prod)
					s.Add(want[c], prod, want[c])
				}
			}
			for path, name := range []string{"dispatched", "portable"} {
				for c := range 2 {
					got := slices.Clone(acc[path][c])
					for _, v := range got {
						if v >= 2*q {
							t.Fatalf("q=%#x round %d: %s accumulator word %d ≥ 2q", q, round, name, v)
						}
					}
					reduceRow(got, q)
					if !slices.Equal(got, want[c]) {
						t.Fatalf("q=%#x round %d: %s accumulator %d differs from Lattigo's products", q, round, name, c)
					}
				}
			}
		}
	}
}

// TestReduceRow checks the final reduction at the edges of [0, 2q).
func TestReduceRow(t *testing.T) {
	q := Default().lit.Q[3]
	in := []uint64{0, 1, q - 1, q, q + 1, 2*q - 1, 5, q + 5}
	want := []uint64{0, 1, q - 1, 0, 1, q - 1, 5, 5}
	for _, f := range []func([]uint64, uint64){reduceRow, reduceGo} {
		got := slices.Clone(in)
		f(got, q)
		if !slices.Equal(got, want) {
			t.Fatalf("reduce(%v) = %v, want %v", in, got, want)
		}
	}
}

func BenchmarkMulAddPair(b *testing.B) {
	s := Default().ringQ.SubRings[3]
	ins := nttInputs(s.N, s.Modulus, rand.New(rand.NewPCG(1, 2)))
	acc0, acc1 := make([]uint64, s.N), make([]uint64, s.N)
	b.Run("lattigo", func(b *testing.B) {
		for b.Loop() {
			s.MulCoeffsMontgomeryLazyThenAddLazy(ins[0], ins[1], acc0)
			s.MulCoeffsMontgomeryLazyThenAddLazy(ins[0], ins[2], acc1)
			ring.ZeroVec(acc0) // keep the lazy sums from overflowing
			ring.ZeroVec(acc1)
		}
	})
	b.Run("portable", func(b *testing.B) {
		for b.Loop() {
			mulAddPairGo(s, ins[0], ins[1], ins[2], acc0, acc1)
		}
	})
	b.Run("dispatched", func(b *testing.B) {
		for b.Loop() {
			mulAddPairRow(s, ins[0], ins[1], ins[2], acc0, acc1)
		}
	})
}
