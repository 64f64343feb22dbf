package mpc

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestTruncateShareUnbiased checks TruncateShare over 10^5 random values
// of magnitude below 2^40 with uniform shares: every result is ⌊x/2^s⌋ or
// one more, and the mean error against the real quotient x/2^s is ≈ 0 (the
// +1 comes with probability frac(x/2^s): a probabilistic rounding).
func TestTruncateShareUnbiased(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const n = 100000
	for _, s := range []int{8, 12, 16} {
		x0, x1 := make([]uint64, n), make([]uint64, n)
		xs := make([]int64, n)
		for i := range xs {
			xs[i] = r.Int64N(1<<41) - 1<<40
			x0[i] = r.Uint64()
			x1[i] = uint64(xs[i]) - x0[i]
		}
		y0, y1 := TruncateShare(P0, x0, s), TruncateShare(P1, x1, s)
		var sum, up float64
		for i, x := range xs {
			y := int64(y0[i] + y1[i])
			floor := x >> s
			if d := y - floor; d != 0 && d != 1 {
				t.Fatalf("s=%d: %d >> %d gave %d, floor %d", s, x, s, y, floor)
			}
			sum += float64(y) - float64(x)/math.Ldexp(1, s)
			up += float64(y - floor)
		}
		mean := sum / n
		// The error is uniform-like on (−1, 1): standard deviation of the
		// mean below 0.002 at n = 10^5.
		if math.Abs(mean) > 0.01 {
			t.Errorf("s=%d: mean error %.4f units, want ≈ 0", s, mean)
		}
		t.Logf("s=%d: mean error %.5f units; rounded up %.3f of the time", s, mean, up/n)
	}
}
