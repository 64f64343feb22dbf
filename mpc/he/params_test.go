package he

import (
	"math"
	"math/big"
	"strings"
	"testing"
)

// TestSecurity pins the default set's security: the largest modulus any
// ciphertext uses (fresh ciphertexts and the public key use all moduli;
// responses fewer) is within the HE standard's bound for N (128-bit
// security, ternary secret, σ = 3.2).
func TestSecurity(t *testing.T) {
	p := Default()
	if p.N() != 8192 || p.LogT() != 64 {
		t.Fatalf("default N = %d, ℓ = %d; want 8192, 64", p.N(), p.LogT())
	}
	if got, bound := p.LogQ(), 218.0; got > bound {
		t.Fatalf("log2 Q = %.2f > %v", got, bound)
	}
	if p.LogQResponse() >= p.LogQ() {
		t.Fatalf("responses at log2 Q' = %.2f, not below log2 Q = %.2f", p.LogQResponse(), p.LogQ())
	}
	if math.Abs(p.LogQ()-204) > 0.01 || math.Abs(p.LogQResponse()-96) > 0.01 {
		t.Errorf("log2 Q = %.4f, log2 Q' = %.4f; the documented figures are 204 and 96", p.LogQ(), p.LogQResponse())
	}
	if sd := math.Sqrt(errBound / 2.0); sigma != 3.2 || sd < sigma {
		t.Errorf("σ = %v, errors' standard deviation %.3f: the table assumes at least 3.2", sigma, sd)
	}
	want := map[int]int{10: 27, 11: 54, 12: 109, 13: 218, 14: 438, 15: 881}
	for k, v := range want {
		if maxLogQ[k] != v {
			t.Errorf("maxLogQ[%d] = %d, the standard's is %d", k, maxLogQ[k], v)
		}
	}
}

func TestNewParamsRefuses(t *testing.T) {
	mod := func(f func(*Literal)) Literal { l := DefaultLiteral(); f(&l); return l }
	for _, tc := range []struct {
		name string
		lit  Literal
		want string
	}{
		{"insecure N", mod(func(l *Literal) { l.LogN = 12 }), "exceeds the HE standard"},
		{"LogT 0", mod(func(l *Literal) { l.LogT = 0 }), "LogT"},
		{"LogT 65", mod(func(l *Literal) { l.LogT = 65 }), "LogT"},
		{"not prime", mod(func(l *Literal) { l.Q[0]++ }), "NTT-friendly prime"},
		{"not NTT friendly", mod(func(l *Literal) { l.Q[0] = 1099511627689 }), "NTT-friendly prime"},
		{"repeated modulus", mod(func(l *Literal) { l.Q[1] = l.Q[0] }), "twice"},
		{"no response moduli", mod(func(l *Literal) { l.ResponseModuli = 0 }), "ResponseModuli"},
		{"all response moduli", mod(func(l *Literal) { l.ResponseModuli = 4 }), "ResponseModuli"},
		{"no flood room", mod(func(l *Literal) { l.Q = l.Q[:3] }), "flood"},
		{"LogN outside the table", mod(func(l *Literal) { l.LogN = 16 }), "LogN"},
		{"negative BytesPerOp", mod(func(l *Literal) { l.BytesPerOp = -1 }), "BytesPerOp"},
		{"NaN BytesPerOp", mod(func(l *Literal) { l.BytesPerOp = math.NaN() }), "BytesPerOp"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewParams(tc.lit)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("NewParams: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// TestFloodBound checks the noise budget of every query level of the
// default set and of a 32-bit plaintext ring, for weights of any ℓ bits
// and of 16: the flood is at least 2^StatBits times the data noise of
// any admissible layer, the total decrypts with a factor 2 of margin at
// the level (E < Δ/4) and after the modulus switch, and the flood is the
// largest power of two that does.
func TestFloodBound(t *testing.T) {
	for _, logT := range []int{64, 32} {
		lit := DefaultLiteral()
		lit.LogT = logT
		p, err := NewParams(lit)
		if err != nil {
			t.Fatal(err)
		}
		tt := new(big.Int).Lsh(big.NewInt(1), uint(logT))
		for level := p.resp.level + 1; level <= p.top.level; level++ {
			lv := &p.levels[level]
			if lv.maxNoise == nil {
				t.Fatalf("ℓ = %d: level %d has no flood", logT, level)
			}
			for _, wbits := range []int{logT, 16} {
				nnz := p.maxNNZ(lv, wbits)
				t.Logf("ℓ = %d, %d moduli, %d-bit weights: flood 2^%d, max nnz %d (2^%.1f)", logT, level+1, wbits, lv.floodBits, nnz, math.Log2(float64(nnz)))
				flood := new(big.Int).Lsh(big.NewInt(1), uint(lv.floodBits))
				data := p.dataNoise(nnz, wbits)
				if new(big.Int).Lsh(data, uint(p.lit.StatBits)).Cmp(flood) > 0 {
					t.Fatalf("data noise %v of max nnz not 2^%d below the flood", data, p.lit.StatBits)
				}
				if nnz < math.MaxInt32 && new(big.Int).Lsh(p.dataNoise(nnz+1, wbits), uint(p.lit.StatBits)).Cmp(flood) <= 0 {
					t.Fatalf("max nnz %d is not the largest admissible", nnz)
				}
				e := new(big.Int).Add(flood, data)
				if !p.fits(lv.q, e, tt) {
					t.Fatal("flood plus data noise does not decrypt")
				}
				// E < Δ/4 at the level, checked directly.
				delta := new(big.Int).Quo(lv.q, tt)
				if new(big.Int).Lsh(e, 2).Cmp(delta) >= 0 {
					t.Fatalf("E = 2^%.2f not below Δ/4 = 2^%.2f", logQ(e), logQ(delta)-2)
				}
				// After the switch: E·Q'/Q + N/2 + 2 < Δ'/4.
				after := new(big.Int).Mul(e, p.resp.q)
				after.Quo(after, lv.q)
				after.Add(after, big.NewInt(int64(p.n/2+3)))
				deltaR := new(big.Int).Quo(p.resp.q, tt)
				if new(big.Int).Lsh(after, 2).Cmp(deltaR) >= 0 {
					t.Fatalf("switched noise 2^%.2f not below Δ'/4 = 2^%.2f", logQ(after), logQ(deltaR)-2)
				}
				twice := new(big.Int).Lsh(flood, 1)
				if p.fits(lv.q, twice.Add(twice, new(big.Int).Lsh(data, 1)), tt) {
					t.Fatal("the flood could be doubled")
				}
			}
		}
		if logT == 64 && (p.FloodBits() != 137 || p.MaxNNZ() < 1<<29 || p.MaxNNZ() > 1<<30) {
			t.Errorf("default flood 2^%d, MaxNNZ %d; documented 2^137 and about 2^29.5", p.FloodBits(), p.MaxNNZ())
		}
	}
}
