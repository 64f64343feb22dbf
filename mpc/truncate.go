package mpc

// TruncateShare divides values shared additively between P0 and P1
// (x = x0 + x1 mod 2^64) by 2^s locally (SecureML's truncation, as
// SecureNN and Porthos use it), in place of the cleartext arithmetic
// shift x >> s; it returns party p's share of the result (nil for any
// other party):
//
//	P0: y0 = signed(x0) >> s
//	P1: y1 = −(signed(−x1) >> s)
//
// Error bound: when signed(x0) − signed(−x1) equals signed(x) over the
// integers (no wrap), y is ⌊x/2^s⌋ or ⌊x/2^s⌋ + 1 (write x0 = q0·2^s + ρ0
// and −x1 = q1·2^s + ρ1: y = q0 + q1 + [ρ1 > 0] while
// ⌊x/2^s⌋ = q0 + q1 + [ρ0 + ρ1 ≥ 2^s]), and exactly ⌊x/2^s⌋ when 2^s
// divides x. Otherwise y is off by ±2^(64−s). With x0 uniform, that
// failure has probability exactly |x|/2^64 per element, at most 2^(k−64)
// for |x| < 2^k: for a product at scale 2s = 24 of magnitude below 2^16
// in real terms (|x| < 2^40), at most 2^−24 per element.
//
// Cost: no message.
func TruncateShare(p Party, x []uint64, s int) []uint64 {
	switch p {
	case P0:
		y := make([]uint64, len(x))
		for i, v := range x {
			y[i] = uint64(int64(v) >> s)
		}
		return y
	case P1:
		y := make([]uint64, len(x))
		for i, v := range x {
			y[i] = -uint64(int64(-v) >> s)
		}
		return y
	}
	return nil
}
