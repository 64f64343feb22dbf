package he

import (
	"math/big"
	"math/bits"
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
	// A 40-bit limb: the radix-2^64 products beside IFMA's radix 2^52.
	s0 := Default().ringQ.SubRings[0]
	ins0 := nttInputs(s0.N, s0.Modulus, rand.New(rand.NewPCG(1, 2)))
	b.Run("40-bit/dispatched", func(b *testing.B) {
		for b.Loop() {
			mulAddPairRow(s0, ins0[0], ins0[1], ins0[2], acc0, acc1)
		}
	})
	if useIFMA {
		b.Run("40-bit/IFMA", func(b *testing.B) {
			for b.Loop() {
				mulAddPair52Asm(ins0[0], ins0[1], ins0[2], acc0, acc1, s0.Modulus, s0.MRedConstant&(1<<52-1))
			}
		})
	}
}

// mulAddPair52Go is the reference of the IFMA products: acc += k·x·2^-52
// mod q (Montgomery for the radix 2^52), kept in [0, 2q).
func mulAddPair52Go(q, qInv uint64, k, x0, x1, acc0, acc1 []uint64) {
	const mask = 1<<52 - 1
	mont := func(k, x uint64) uint64 {
		hi, lo := bits.Mul64(k, x)
		tLo, tHi := lo&mask, hi<<12|lo>>52
		m := tLo * qInv & mask
		mh, ml := bits.Mul64(m, q)
		return tHi - (mh<<12 | ml>>52) + q
	}
	for j := range k {
		acc0[j] = min(acc0[j]+mont(k[j], x0[j]), acc0[j]+mont(k[j], x0[j])-2*q)
		acc1[j] = min(acc1[j]+mont(k[j], x1[j]), acc1[j]+mont(k[j], x1[j])-2*q)
	}
}

// TestMulAddPair52 checks the IFMA products against their Go reference
// and against Lattigo's products of the values the kernels stand for
// (kernelForm), on every limb below 2^52 and primes of 50 and 52 bits, at the
// edges (0, q−1, accumulators at 2q−1).
func TestMulAddPair52(t *testing.T) {
	if !useIFMA {
		t.Skip("no AVX-512 IFMA here (or the purego tag): the products use the radix 2^64 only")
	}
	p := Default()
	rng := rand.New(rand.NewPCG(5, 6))
	var subs []*ring.SubRing
	for _, q := range []uint64{0x3ffffffffc001, 0xffffffffc4001} { // primes of 50 and 52 bits, ≡ 1 mod 2N
		s, err := ring.NewSubRing(p.n, q)
		if err != nil {
			t.Fatal(err)
		}
		subs = append(subs, s)
	}
	for i, s := range p.ringQ.SubRings {
		if p.mont52[i] {
			subs = append(subs, s)
		}
	}
	if len(subs) < 3 {
		t.Fatal("no limb of the default set uses the IFMA products")
	}
	for _, s := range subs {
		q, n := s.Modulus, s.N
		qInv := s.MRedConstant & (1<<52 - 1)
		r52 := new(big.Int).Mod(new(big.Int).Lsh(big.NewInt(1), 52), new(big.Int).SetUint64(q)).Uint64()
		ins := nttInputs(n, q, rng)
		acc := [2][2][]uint64{}
		want := [2][]uint64{make([]uint64, n), make([]uint64, n)}
		for path := range acc {
			for c := range acc[path] {
				acc[path][c] = make([]uint64, n)
				for j := range acc[path][c] {
					acc[path][c][j] = 2*q - 1
				}
			}
		}
		for c := range want {
			for j := range want[c] {
				want[c][j] = q - 1
			}
		}
		for step := range 40 {
			v := ins[step%len(ins)]
			k := make([]uint64, n)
			for j := range k {
				k[j] = ring.BRed(v[j], r52, q, s.BRedConstant)
			}
			x0, x1 := ins[(step*3+1)%len(ins)], ins[(step*5+2)%len(ins)]
			if !mulAddPair52Asm(k, x0, x1, acc[0][0], acc[0][1], q, qInv) {
				t.Fatal("mulAddPair52Asm refused a row it should take")
			}
			mulAddPair52Go(q, qInv, k, x0, x1, acc[1][0], acc[1][1])
			for c, x := range [][]uint64{x0, x1} {
				for j := range x {
					want[c][j] = (want[c][j] + ring.BRed(v[j], x[j], q, s.BRedConstant)) % q
				}
			}
		}
		for path, name := range []string{"IFMA", "reference"} {
			for c := range 2 {
				got := slices.Clone(acc[path][c])
				for _, w := range got {
					if w >= 2*q {
						t.Fatalf("q=%#x: %s accumulator word %d ≥ 2q", q, name, w)
					}
				}
				reduceRow(got, q)
				if !slices.Equal(got, want[c]) {
					t.Fatalf("q=%#x: %s accumulator %d differs from the products", q, name, c)
				}
			}
		}
	}
}
