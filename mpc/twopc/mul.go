package twopc

import "fmt"

// Products of two secrets. The cross term x_a·y_b of a value x held (or
// shared) by one party and y by the other is Gilboa's product by
// correlated OTs: the party holding y chooses with y's 64 bits, the
// other sends the correlations x·2^i, and the chosen sums Σ_i (a_i +
// y_i·x·2^i) = Σ a_i + x·y leave the sender −Σ a_i. Cost: 64 correlated
// OTs per product and direction (64 × (128 + 64) bits).

// crossSend is the sending end of the products x·y (y at the other
// party) and returns this party's shares of them.
func (p *party) crossSend(x []uint64) ([]uint64, error) {
	c := make([]uint64, 64*len(x))
	for j, v := range x {
		for i := range 64 {
			c[64*j+i] = v << i
		}
	}
	a, err := p.snd.Correlated(c)
	if err != nil {
		return nil, err
	}
	out := make([]uint64, len(x))
	for j := range out {
		var s uint64
		for _, v := range a[64*j : 64*j+64] {
			s += v
		}
		out[j] = -s
	}
	return out, nil
}

// crossRecv is the choosing end of the products x·y (x at the other
// party) and returns this party's shares of them.
func (p *party) crossRecv(y []uint64) ([]uint64, error) {
	n := len(y)
	choices := make([]uint64, n) // 64 choice bits per value: its bits
	copy(choices, y)
	got, err := p.rcv.Correlated(choices, 64*n)
	if err != nil {
		return nil, err
	}
	out := make([]uint64, n)
	for j := range out {
		var s uint64
		for _, v := range got[64*j : 64*j+64] {
			s += v
		}
		out[j] = s
	}
	return out, nil
}

// mul returns additive shares of x·y (element-wise) for additive shares
// x and y: x0·y0 and x1·y1 locally, the cross terms by crossSend and
// crossRecv in both directions.
func (p *party) mul(x, y []uint64) ([]uint64, error) {
	if len(x) != len(y) {
		return nil, fmt.Errorf("product: %d and %d values", len(x), len(y))
	}
	var s, r []uint64
	var err error
	if p.first() {
		if s, err = p.crossSend(x); err == nil {
			r, err = p.crossRecv(y)
		}
	} else {
		if r, err = p.crossRecv(y); err == nil {
			s, err = p.crossSend(x)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("product: %w", err)
	}
	out := make([]uint64, len(x))
	for j := range out {
		out[j] = x[j]*y[j] + s[j] + r[j]
	}
	return out, nil
}

// mulByServer returns additive shares of x·w for additive shares x and
// a value w that the server (P1) holds in the clear (w is ignored at
// P0): x1·w at P1, the cross term x0·w by one direction of Gilboa's
// product.
func (p *party) mulByServer(x, w []uint64) ([]uint64, error) {
	if p.first() {
		out, err := p.crossSend(x)
		if err != nil {
			return nil, fmt.Errorf("product with the server's values: %w", err)
		}
		return out, nil
	}
	if len(w) != len(x) {
		return nil, fmt.Errorf("product with the server's values: %d values for %d", len(w), len(x))
	}
	out, err := p.crossRecv(w)
	if err != nil {
		return nil, fmt.Errorf("product with the server's values: %w", err)
	}
	for j := range out {
		out[j] += x[j] * w[j]
	}
	return out, nil
}
