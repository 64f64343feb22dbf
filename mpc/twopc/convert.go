package twopc

import "fmt"

// Bits shared by XOR (b = b0 ⊕ b1, one byte 0 or 1 per bit) and values
// shared additively mod 2^64 (x = x0 + x1) meet in two products, each
// one correlated OT per element in each direction needed:
//
//   - b0·b1, the cross term of B2A: P0 sends with the correlation b0 and
//     P1 chooses with b1, so P1 gets a + b1·b0 and P0 keeps −a;
//   - (b0 ⊕ b1)·x0 = b0·x0 + b1·(1 − 2·b0)·x0, with P0 sending the
//     correlation (1 − 2·b0)·x0 and P1 choosing with b1 (and the mirror
//     image for x1): the multiplexer.

// b2a turns XOR-shared bits into additive shares of the same 0/1 values:
// b = b0 + b1 − 2·b0·b1.
func (p *party) b2a(b []byte) ([]uint64, error) {
	n := len(b)
	out := make([]uint64, n)
	if p.first() {
		c := make([]uint64, n)
		for j, v := range b {
			c[j] = uint64(v)
		}
		a, err := p.snd.Correlated(c)
		if err != nil {
			return nil, fmt.Errorf("B2A: %w", err)
		}
		for j, v := range b {
			out[j] = uint64(v) + 2*a[j] // b0 − 2·(−a)
		}
		return out, nil
	}
	y, err := p.rcv.Correlated(toBits(b), n)
	if err != nil {
		return nil, fmt.Errorf("B2A: %w", err)
	}
	for j, v := range b {
		out[j] = uint64(v) - 2*y[j]
	}
	return out, nil
}

// mux returns additive shares of b·x for XOR-shared bits b and additive
// shares x.
func (p *party) mux(b []byte, x []uint64) ([]uint64, error) {
	if len(b) != len(x) {
		return nil, fmt.Errorf("mux: %d selector bits for %d values", len(b), len(x))
	}
	n := len(x)
	c := make([]uint64, n)
	for j := range x {
		c[j] = (1 - 2*uint64(b[j])) * x[j]
	}
	// own: b_own·x_own − a from sending; cross: the other's term chosen
	// with b_own. Both parties choose first, then send, then receive:
	// the two directions' messages cross, one round trip in all.
	pending, err := p.rcv.StartCorrelated(toBits(b), n)
	if err != nil {
		return nil, fmt.Errorf("mux: %w", err)
	}
	a, err := p.snd.Correlated(c)
	if err != nil {
		return nil, fmt.Errorf("mux: %w", err)
	}
	y, err := pending.Finish()
	if err != nil {
		return nil, fmt.Errorf("mux: %w", err)
	}
	out := make([]uint64, n)
	for j := range x {
		out[j] = uint64(b[j])*x[j] - a[j] + y[j]
	}
	return out, nil
}
