package twopc

import "fmt"

// drelu returns XOR shares of [x ≥ 0] for additive shares of values with
// |x| < 2^k (k ≤ 62): with y = x + 2^k ∈ [0, 2^(k+1)), x ≥ 0 exactly when
// bit k of y is set, and bit k of y0 + y1 is bit k of y0 ⊕ bit k of y1 ⊕
// the carry out of their low k bits, [y0' > 2^k − 1 − y1'] by the
// millionaires' protocol.
func (p *party) drelu(x []uint64, k int) ([]byte, error) {
	if k < 1 || k > 62 {
		return nil, fmt.Errorf("DReLU: magnitude bound 2^%d outside 2^1…2^62", k)
	}
	low := uint64(1)<<k - 1
	vals := make([]uint64, len(x))
	top := make([]byte, len(x))
	for j, v := range x {
		if p.first() {
			v += 1 << k
			vals[j] = v & low
		} else {
			vals[j] = low - v&low
		}
		top[j] = byte(v >> k & 1)
	}
	carry, err := p.greater(vals, k)
	if err != nil {
		return nil, fmt.Errorf("DReLU: %w", err)
	}
	for j := range top {
		top[j] ^= carry[j]
	}
	return top, nil
}

// relu returns additive shares of max(x, 0) for |x| < 2^k.
func (p *party) relu(x []uint64, k int) ([]uint64, error) {
	b, err := p.drelu(x, k)
	if err != nil {
		return nil, err
	}
	return p.mux(b, x)
}
