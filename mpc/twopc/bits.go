package twopc

import "fmt"

// exchange sends msg to the other party and returns its message of the
// same length: both send first (sends are queued), so it costs one
// message latency.
func (p *party) exchange(msg []byte, what string) ([]byte, error) {
	if err := p.conn.Send(msg); err != nil {
		return nil, fmt.Errorf("%s: sending: %w", what, err)
	}
	got, err := p.conn.Recv()
	if err != nil {
		return nil, fmt.Errorf("%s: receiving: %w", what, err)
	}
	if len(got) != len(msg) {
		return nil, fmt.Errorf("%s: the other party sent %d bytes, want %d", what, len(got), len(msg))
	}
	return got, nil
}

// pairTriples are XOR-shared AND triples in pairs that share their left
// bit: c1 = a ∧ b1 and c2 = a ∧ b2. The comparison tree's ANDs come in
// such pairs (eq_hi ∧ gt_lo, eq_hi ∧ eq_lo), so one opening of the left
// operand serves both.
type pairTriples struct{ a, b1, b2, c1, c2 []byte }

// pairTriples returns n pair triples from one random OT per pair and
// direction: this party's share of a is its random choice bit; for the
// cross term a_chooser·(b1, b2)_sender the sender keeps two bits of its
// random message m0 and sends m0 ⊕ m1 ⊕ (b1, b2), two bits, so that the
// chooser's m_a ⊕ a·correction is m0 ⊕ a·(b1, b2).
func (p *party) pairTriples(n int) (*pairTriples, error) {
	t := &pairTriples{a: make([]byte, n), b1: make([]byte, n), b2: make([]byte, n), c1: make([]byte, n), c2: make([]byte, n)}
	p.coins.Read(t.c1) // three random bits per triple, a byte's low three
	for j, r := range t.c1 {
		t.a[j], t.b1[j], t.b2[j] = r&1, r>>1&1, r>>2&1
	}
	// kept: this party's share of a_other·(b1, b2)_own; got: of
	// a_own·(b1, b2)_other. Two bits each, b1 in bit 0. Both parties
	// choose first (their choices' corrections cross), then send, then
	// receive: one round trip in all.
	m := make([]byte, n) // two bits of each chosen message
	for lo := 0; lo < n; lo += rotBatch {
		hi := min(lo+rotBatch, n)
		keys, err := p.chooseROTs(toBits(t.a[lo:hi]), hi-lo)
		if err != nil {
			return nil, fmt.Errorf("AND triples: %w", err)
		}
		for j := lo; j < hi; j++ {
			m[j] = byte(keys[j-lo][0] & 3)
		}
	}
	kept := make([]byte, n)
	msg := make([]byte, n)
	for lo := 0; lo < n; lo += rotBatch {
		hi := min(lo+rotBatch, n)
		m0, m1, err := p.sendROTs(hi - lo)
		if err != nil {
			return nil, fmt.Errorf("AND triples: %w", err)
		}
		for j := lo; j < hi; j++ {
			k0, k1 := m0[j-lo][0], m1[j-lo][0]
			kept[j] = byte(k0 & 3)
			msg[j] = byte((k0^k1)&3) ^ t.b1[j] ^ t.b2[j]<<1
		}
	}
	if err := p.conn.Send(msg); err != nil {
		return nil, fmt.Errorf("AND triples: %w", err)
	}
	corr, err := p.conn.Recv()
	if err != nil {
		return nil, fmt.Errorf("AND triples: %w", err)
	}
	if len(corr) != n {
		return nil, fmt.Errorf("AND triples: %d bytes of triple corrections, want %d", len(corr), n)
	}
	got := make([]byte, n)
	for j := range n {
		if corr[j] > 3 {
			return nil, fmt.Errorf("AND triples: triple correction %d is not two bits", j)
		}
		got[j] = m[j] ^ t.a[j]*corr[j]
	}
	for j := range n {
		x := kept[j] ^ got[j]
		t.c1[j] = t.a[j]&t.b1[j] ^ x&1
		t.c2[j] = t.a[j]&t.b2[j] ^ x>>1
	}
	return t, nil
}

// addTriples keeps t after the offline triples not yet taken.
func (p *party) addTriples(t *pairTriples) {
	if p.triples == nil || p.tripleOff == len(p.triples.a) {
		p.triples, p.tripleOff = t, 0
		return
	}
	old, off := p.triples, p.tripleOff
	p.triples = &pairTriples{
		a: append(old.a[off:len(old.a):len(old.a)], t.a...), b1: append(old.b1[off:len(old.b1):len(old.b1)], t.b1...),
		b2: append(old.b2[off:len(old.b2):len(old.b2)], t.b2...), c1: append(old.c1[off:len(old.c1):len(old.c1)], t.c1...),
		c2: append(old.c2[off:len(old.c2):len(old.c2)], t.c2...),
	}
	p.tripleOff = 0
}

// takeTriples returns n pair triples starting at the returned offset:
// the offline phase's if enough are left, else fresh ones.
func (p *party) takeTriples(n int) (*pairTriples, int, error) {
	if t := p.triples; t != nil && len(t.a)-p.tripleOff >= n {
		off := p.tripleOff
		p.tripleOff += n
		return t, off, nil
	}
	t, err := p.pairTriples(n)
	return t, 0, err
}

// andPairs returns XOR shares of x ∧ y1 and x ∧ y2, element-wise, by
// Beaver's method on the pair triples t[off:]: d = x ⊕ a, e1 = y1 ⊕ b1
// and e2 = y2 ⊕ b2 are opened (three bits per pair), and z_i = c_i ⊕
// d·b_i ⊕ e_i·a ⊕ d·e_i (the last term at P0 only).
func (p *party) andPairs(x, y1, y2 []byte, t *pairTriples, off int) (z1, z2 []byte, err error) {
	n := len(x)
	msg := make([]byte, n)
	for j := range n {
		k := off + j
		msg[j] = x[j] ^ t.a[k] | (y1[j]^t.b1[k])<<1 | (y2[j]^t.b2[k])<<2
	}
	got, err := p.exchange(msg, "AND")
	if err != nil {
		return nil, nil, err
	}
	z1, z2 = make([]byte, n), make([]byte, n)
	for j := range n {
		if got[j] > 7 {
			return nil, nil, fmt.Errorf("AND: the other party's opening %d is not three bits", j)
		}
		k := off + j
		o := msg[j] ^ got[j]
		d, e1, e2 := o&1, o>>1&1, o>>2
		z1[j] = t.c1[k] ^ d&t.b1[k] ^ e1&t.a[k]
		z2[j] = t.c2[k] ^ d&t.b2[k] ^ e2&t.a[k]
		if p.first() {
			z1[j] ^= d & e1
			z2[j] ^= d & e2
		}
	}
	return z1, z2, nil
}
