package he

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
)

func TestEncryptRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, logT := range []int{64, 32, 1} {
		lit := DefaultLiteral()
		lit.LogT = logT
		p, err := NewParams(lit)
		if err != nil {
			t.Fatal(err)
		}
		sk, err := p.newSecretKey()
		if err != nil {
			t.Fatal(err)
		}
		mask := p.tMask()
		for _, tc := range []struct {
			name string
			m    func(j int) uint64
		}{
			{"random", func(int) uint64 { return rng.Uint64() }},
			{"zero", func(int) uint64 { return 0 }},
			{"one", func(int) uint64 { return 1 }},
			{"2^63", func(int) uint64 { return 1 << 63 }},
			{"2^64-1", func(int) uint64 { return math.MaxUint64 }},
			{"mixed extremes", func(j int) uint64 { return []uint64{0, 1, 1 << 63, math.MaxUint64, 1<<63 - 1}[j%5] }},
		} {
			m := make([]uint64, p.n)
			for j := range m {
				m[j] = tc.m(j)
			}
			for enc := p.resp.level + 1; enc <= p.top.level; enc++ {
				lv := &p.levels[enc]
				seed, b, err := p.encrypt(lv, sk, m, false)
				if err != nil {
					t.Fatal(err)
				}
				for _, level := range []int{enc, p.resp.level} {
					c0 := b.CopyNew()
					c1 := p.ringQ.NewPoly()
					p.expandUniform(seed, enc, c1)
					p.ringQ.AtLevel(enc).INTT(c1, c1)
					for l := enc; l > level; l-- {
						p.ringQ.AtLevel(l).DivRoundByLastModulus(*c0, *c0)
						p.ringQ.AtLevel(l).DivRoundByLastModulus(c1, c1)
					}
					r := p.ringQ.AtLevel(level)
					r.NTT(c1, c1)
					ph := r.NewPoly()
					p.phase(sk, *c0, c1, level, ph)
					c := &lv.levelConsts
					if level == p.resp.level {
						c = &p.resp
					}
					for j := range m {
						if got := p.decodeAt(c, ph, j); got != m[j]&mask {
							t.Fatalf("ℓ = %d, %s, encrypted on %d moduli, level %d: coefficient %d decrypts to %#x, want %#x", logT, tc.name, enc+1, level, j, got, m[j]&mask)
						}
					}
				}
			}
		}
	}
}

// TestEncodingExact checks the encoding round(Q·m/t) against big
// integers at every level, for random and extreme plaintexts.
func TestEncodingExact(t *testing.T) {
	p := Default()
	rng := rand.New(rand.NewPCG(7, 8))
	tt := new(big.Int).Lsh(big.NewInt(1), 64)
	cs := []*levelConsts{&p.resp}
	for l := p.resp.level + 1; l <= p.top.level; l++ {
		cs = append(cs, &p.levels[l].levelConsts)
	}
	for _, c := range cs {
		for k := 0; k < 1000; k++ {
			m := rng.Uint64()
			switch k {
			case 0, 1:
				m = uint64(k)
			case 2:
				m = 1 << 63
			case 3:
				m = math.MaxUint64
			}
			want := new(big.Int).Mul(c.q, new(big.Int).SetUint64(m))
			want.Add(want, new(big.Int).Rsh(tt, 1))
			want.Quo(want, tt)
			var res [maxModuli]uint64
			for i := 0; i <= c.level; i++ {
				qi := new(big.Int).SetUint64(p.lit.Q[i])
				if got, w := p.encodeCoeff(c, m, i), new(big.Int).Mod(want, qi).Uint64(); got != w {
					t.Fatalf("encode(%#x) mod q_%d = %d, want %d", m, i, got, w)
				}
				res[i] = p.encodeCoeff(c, m, i)
			}
			if got := p.decodeCoeff(c, res[:c.level+1]); got != m {
				t.Fatalf("decode(encode(%#x)) = %#x", m, got)
			}
		}
	}
}

// TestReductions checks the branch-free Barrett and Montgomery
// reductions of the encoding against big integers on every default
// modulus, at the edges and on random words.
func TestReductions(t *testing.T) {
	p := Default()
	rng := rand.New(rand.NewPCG(21, 22))
	for i, q := range p.lit.Q {
		qi := new(big.Int).SetUint64(q)
		qInv := p.ringQ.SubRings[i].MRedConstant
		rInv := new(big.Int).ModInverse(new(big.Int).Mod(new(big.Int).Lsh(big.NewInt(1), 64), qi), qi)
		words := []uint64{0, 1, q - 1, q, q + 1, 2*q - 1, 2 * q, math.MaxUint64, math.MaxUint64 - 1, 1 << 63}
		for range 1000 {
			words = append(words, rng.Uint64())
		}
		for _, a := range words {
			if got, want := reduce64(a, q, p.barrett[i]), new(big.Int).Mod(new(big.Int).SetUint64(a), qi).Uint64(); got != want {
				t.Fatalf("q=%#x: reduce64(%#x) = %#x, want %#x", q, a, got, want)
			}
			x, y := a%q, (a*0x9e3779b97f4a7c15)%q
			for _, b := range []uint64{y, 0, 1, q - 1} {
				want := new(big.Int).Mul(new(big.Int).SetUint64(x), new(big.Int).SetUint64(b))
				want.Mul(want, rInv).Mod(want, qi)
				if got := montMul(x, b, q, qInv); got != want.Uint64() {
					t.Fatalf("q=%#x: montMul(%#x, %#x) = %#x, want %#x", q, x, b, got, want)
				}
			}
		}
	}
}

// TestLiftSigned checks v mod q against big-integer arithmetic at the
// edges of its fast path and of int64.
func TestLiftSigned(t *testing.T) {
	for _, q := range Default().lit.Q {
		for _, v := range []int64{0, 1, -1, int64(q) - 1, int64(q), int64(q) + 1, -int64(q) + 1, -int64(q), -int64(q) - 1, 2 * int64(q), -2 * int64(q), math.MaxInt64, math.MinInt64, math.MinInt64 + 1} {
			want := new(big.Int).Mod(big.NewInt(v), new(big.Int).SetUint64(q)).Uint64()
			if got := liftSigned(v, q); got != want {
				t.Errorf("liftSigned(%d, %d) = %d, want %d", v, q, got, want)
			}
		}
	}
}
