package he

import (
	"math"
	"math/big"
	"math/rand/v2"
	"sync"
	"testing"
)

// responseNoise runs l and returns the noise of every output of the
// response, as the client (who holds s) can measure it: the phase minus
// the encoding of the decrypted value, centred modulo Q'.
func responseNoise(t *testing.T, ps parties, l Layer, w, xC, xS []uint64) []float64 {
	t.Helper()
	p := ps.c.params
	q, err := ps.c.EncryptInput(l, xC)
	if err != nil {
		t.Fatal(err)
	}
	resp, _, err := ps.s.Eval(l, w, xS, q)
	if err != nil {
		t.Fatal(err)
	}
	qr := p.resp.q
	half := new(big.Int).Rsh(qr, 1)
	tt := new(big.Int).Lsh(big.NewInt(1), uint(p.LogT()))
	var noise []float64
	var mu sync.Mutex
	err = ps.c.phases(l, resp, func(_ int, res []uint64) {
		phi := big.NewInt(0)
		for i, r := range res { // CRT
			qi := new(big.Int).SetUint64(p.lit.Q[i])
			hat := new(big.Int).Quo(qr, qi)
			z := new(big.Int).SetUint64(r)
			z.Mul(z, new(big.Int).SetUint64(p.resp.yHat[i]))
			z.Mod(z, qi)
			phi.Add(phi, z.Mul(z, hat))
		}
		phi.Mod(phi, qr)
		y := new(big.Int).SetUint64(p.decodeCoeff(&p.resp, res))
		enc := y.Mul(y, qr)
		enc.Add(enc, new(big.Int).Rsh(tt, 1))
		enc.Quo(enc, tt)
		d := phi.Sub(phi, enc)
		d.Mod(d, qr)
		if d.Cmp(half) > 0 {
			d.Sub(d, qr)
		}
		f, _ := new(big.Float).SetInt(d).Float64()
		mu.Lock()
		noise = append(noise, f)
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	return noise
}

// noiseBounds are the weight bounds the noise tests run: any ℓ-bit
// weights (the top level) and 16-bit ones (fewer moduli).
var noiseBounds = []int{64, 16}

// extremeWeights returns n weights of the largest magnitudes a wbits
// bound allows: −2^(wbits−1) and, when alternate, 2^(wbits−1) − 1 at odd
// indices.
func extremeWeights(n, wbits int, alternate bool) []uint64 {
	w := make([]uint64, n)
	for i := range w {
		w[i] = -(uint64(1) << (wbits - 1))
		if alternate && i&1 == 1 {
			w[i] = uint64(1)<<(wbits-1) - 1
		}
	}
	return w
}

// TestResponseNoise measures the noise the client sees: within the
// worst-case bound after the switch, and dominated by the flood (its
// spread is that of F·Q'/Q, not of the data noise).
func TestResponseNoise(t *testing.T) {
	p := Default()
	ps := newParties(t, p)
	for _, wbits := range noiseBounds {
		l, err := NewConv(p, conv(1, 16, 16, 16, 16, 3, 3, 1, 1, 1), wbits)
		if err != nil {
			t.Fatal(err)
		}
		lv := &p.levels[l.lay.level]
		maxIn := make([]uint64, l.InputLen())
		for i := range maxIn {
			maxIn[i] = math.MaxUint64
		}
		noise := responseNoise(t, ps, l, extremeWeights(l.WeightLen(), wbits, false), maxIn, maxIn)
		// bound: (F + data)·Q'/Q + N/2 + 2
		e := new(big.Int).Lsh(big.NewInt(1), uint(lv.floodBits))
		e.Add(e, p.dataNoise(l.lay.nnz(), wbits))
		e.Mul(e, p.resp.q)
		e.Quo(e, lv.q)
		bound, _ := new(big.Float).SetInt(e).Float64()
		bound += float64(p.switchNoise())
		flood := math.Ldexp(1, lv.floodBits) * math.Exp2(p.LogQResponse()-logQ(lv.q))
		var maxAbs, sum, sq float64
		for _, v := range noise {
			maxAbs = max(maxAbs, math.Abs(v))
			sum += v
			sq += v * v
		}
		mean, std := sum/float64(len(noise)), math.Sqrt(sq/float64(len(noise)))
		t.Logf("%d-bit weights, %d moduli, %d outputs: |noise| ≤ %.0f (bound %.0f, flood·Q'/Q %.0f), mean %.1f, rms %.0f", wbits, l.Moduli(), len(noise), maxAbs, bound, flood, mean, std)
		if maxAbs > bound {
			t.Fatalf("%d-bit weights: noise %.0f beyond the worst-case bound %.0f", wbits, maxAbs, bound)
		}
		if maxAbs < flood/2 || std < flood/4 {
			t.Fatalf("%d-bit weights: noise max %.0f, rms %.0f: no flood of %.0f", wbits, maxAbs, std, flood)
		}
		if d := p.resp.q; bound*4*math.Exp2(float64(p.LogT())) >= math.Exp2(logQ(d)) {
			t.Fatalf("%d-bit weights: bound %.0f not below Δ'/4", wbits, bound)
		}
	}
}

// TestNoiseHidesWeights compares the client's view of the noise for two
// very different weight sets (zero and the extremes of the bound), on
// every query level the bounds reach: a two-sample chi-square test over
// 20 bins must not tell them apart (critical value 59.7 for 19 degrees
// of freedom at p = 10^−6).
func TestNoiseHidesWeights(t *testing.T) {
	if testing.Short() {
		t.Skip("statistical")
	}
	p := Default()
	ps := newParties(t, p)
	rng := rand.New(rand.NewPCG(9, 10))
	levels := map[int]bool{}
	for _, wbits := range noiseBounds {
		l, err := NewConv(p, conv(1, 16, 24, 24, 16, 3, 3, 1, 1, 1), wbits)
		if err != nil {
			t.Fatal(err)
		}
		levels[l.Moduli()] = true
		lv := &p.levels[l.lay.level]
		x := randVec(rng, l.InputLen(), 0)
		zero := make([]uint64, l.WeightLen())
		a := responseNoise(t, ps, l, zero, x, x)
		b := responseNoise(t, ps, l, extremeWeights(l.WeightLen(), wbits, true), x, x)
		flood := math.Ldexp(1, lv.floodBits) * math.Exp2(p.LogQResponse()-logQ(lv.q))
		const bins = 20
		hist := func(v []float64) (h [bins]float64) {
			for _, x := range v {
				k := int((x/flood + 1) / 2 * bins)
				h[min(max(k, 0), bins-1)]++
			}
			return h
		}
		ha, hb := hist(a), hist(b)
		chi := 0.0
		for i := range ha {
			if s := ha[i] + hb[i]; s > 0 {
				chi += (ha[i] - hb[i]) * (ha[i] - hb[i]) / s
			}
		}
		t.Logf("%d-bit weights, %d moduli: %d samples each, chi-square %.1f", wbits, l.Moduli(), len(a), chi)
		if chi > 59.7 {
			t.Fatalf("%d-bit weights: chi-square %.1f: the noise depends on the weights (%v vs %v)", wbits, chi, ha, hb)
		}
	}
	if len(levels) < 2 {
		t.Fatalf("the weight bounds %v ran on one query level only", noiseBounds)
	}
}

// TestFloodSamples checks the flood's range and spread directly, at the
// top level: uniform in [−2^floodBits, 2^floodBits).
func TestFloodSamples(t *testing.T) {
	p := Default()
	prng, err := newPRNG()
	if err != nil {
		t.Fatal(err)
	}
	pol := p.ringQ.NewPoly()
	const n = 4000
	for j := 0; j < n; j++ {
		p.addFlood(prng, pol, p.top, j)
	}
	vals := make([]*big.Int, p.n)
	for i := range vals {
		vals[i] = new(big.Int)
	}
	p.ringQ.PolyToBigintCentered(pol, 1, vals)
	f := new(big.Int).Lsh(big.NewInt(1), uint(p.FloodBits()))
	neg := new(big.Int).Neg(f)
	var below, above int
	half := new(big.Int).Rsh(f, 1)
	for j := 0; j < n; j++ {
		v := vals[j]
		if v.Cmp(neg) < 0 || v.Cmp(f) >= 0 {
			t.Fatalf("flood %v outside [−2^%d, 2^%d)", v, p.FloodBits(), p.FloodBits())
		}
		if v.CmpAbs(half) > 0 {
			if v.Sign() < 0 {
				below++
			} else {
				above++
			}
		}
	}
	// Each side beyond F/2 has probability 1/4.
	if below < n/5 || above < n/5 {
		t.Fatalf("%d below −F/2, %d above F/2 of %d: not uniform", below, above, n)
	}
	for j := n; j < p.n; j++ {
		if vals[j].Sign() != 0 {
			t.Fatalf("coefficient %d flooded", j)
		}
	}
}

// TestErrorFrom checks the errors against the centered binomial
// distribution's definition (ones in the low errBound bits minus ones
// in the next errBound, the rest ignored) at the extremes and on
// random u, and their mean and standard deviation (at least σ).
func TestErrorFrom(t *testing.T) {
	ref := func(u uint64) int64 {
		k := int64(0)
		for i := range errBound {
			k += int64(u >> i & 1)
			k -= int64(u >> (errBound + i) & 1)
		}
		return k
	}
	cases := map[uint64]int64{0: 0, math.MaxUint64: 0, 1<<errBound - 1: errBound, (1<<errBound - 1) << errBound: -errBound,
		math.MaxUint64 << (2 * errBound) & math.MaxUint64: 0}
	for u, want := range cases {
		if got := errorFrom(u); got != want {
			t.Errorf("u %#x: %d, want %d", u, got, want)
		}
	}
	rng := rand.New(rand.NewPCG(31, 32))
	sum, sum2 := 0.0, 0.0
	const n = 1 << 18
	for range n {
		u := rng.Uint64()
		got, want := errorFrom(u), ref(u)
		if got != want {
			t.Fatalf("u %#x: %d, want %d", u, got, want)
		}
		sum += float64(got)
		sum2 += float64(got * got)
	}
	if mean := sum / n; math.Abs(mean) > 0.05 {
		t.Errorf("mean %.3f, want 0", mean)
	}
	sd := math.Sqrt(sum2 / n)
	if want := math.Sqrt(errBound / 2.0); math.Abs(sd-want) > 0.05 || sd < sigma-0.02 {
		t.Errorf("standard deviation %.3f, want %.3f (≥ σ = %.1f)", sd, want, sigma)
	}
}

// TestResponseRerandomized checks the re-randomisation of every response
// ciphertext: its c₁, which without it would be a function of the
// client's uniform a and the weights alone (zero here: pure error), is
// uniform modulo q_0 (fewer than 1 in 10^4 coefficients within 2^24 of
// zero, where the errors alone would put all of them), and fresh: two
// evaluations of one query differ in nearly every coefficient.
func TestResponseRerandomized(t *testing.T) {
	p := Default()
	ps := newParties(t, p)
	l, err := NewConv(p, conv(1, 4, 12, 12, 4, 3, 3, 1, 1, 1), 16)
	if err != nil {
		t.Fatal(err)
	}
	x := randVec(rand.New(rand.NewPCG(3, 4)), l.InputLen(), 0)
	q, err := ps.c.EncryptInput(l, x)
	if err != nil {
		t.Fatal(err)
	}
	zero := make([]uint64, l.WeightLen())
	c1 := func() []uint64 {
		resp, _, err := ps.s.Eval(l, zero, nil, q)
		if err != nil {
			t.Fatal(err)
		}
		var all []uint64
		lb := l.base()
		for k := range lb.respOff[:len(lb.respOff)-1] {
			pol := p.ringQ.AtLevel(p.resp.level).NewPoly()
			if _, err := p.getPoly(resp[lb.respOff[k]:lb.respOff[k+1]], pol, p.resp.level); err != nil {
				t.Fatal(err)
			}
			all = append(all, pol.Coeffs[0]...)
		}
		return all
	}
	a, b := c1(), c1()
	q0 := p.lit.Q[0]
	small, same := 0, 0
	for i, v := range a {
		if min(v, q0-v) < 1<<24 {
			small++
		}
		if v == b[i] {
			same++
		}
	}
	if small > len(a)/10000+1 {
		t.Errorf("%d of %d coefficients of c₁ within 2^24 of zero: not re-randomised", small, len(a))
	}
	if same > len(a)/1000+1 {
		t.Errorf("%d of %d coefficients of c₁ repeat between two evaluations of one query", same, len(a))
	}
}
