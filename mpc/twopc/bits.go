package twopc

import (
	"fmt"

	"veil/mpc/ot"
)

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

// bitTriples returns n XOR-shared AND triples c = a ∧ b from two random
// OTs per triple. This party's share of a is the XOR of its random OT
// pair (a_own = m0 ⊕ m1), its b a random choice; the cross term
// a_own·b_other is m0 (kept) ⊕ m_{b_other} (the other's chosen message).
func (p *party) bitTriples(n int) (a, b, c []byte, err error) {
	b = make([]byte, n)
	for j := range b {
		b[j] = byte(p.coins.Bit())
	}
	var m0, m1, got []ot.Block
	send := func() (err error) {
		m0, m1, err = p.snd.RandomOTs(n)
		return err
	}
	recv := func() (err error) {
		got, err = p.rcv.RandomOTs(toBits(b), n)
		return err
	}
	if p.first() {
		if err = send(); err == nil {
			err = recv()
		}
	} else {
		if err = recv(); err == nil {
			err = send()
		}
	}
	if err != nil {
		return nil, nil, nil, fmt.Errorf("AND triples: %w", err)
	}
	a, c = make([]byte, n), make([]byte, n)
	for j := range a {
		v0, w := byte(m0[j][0]&1), byte(got[j][0]&1)
		a[j] = v0 ^ byte(m1[j][0]&1)
		c[j] = a[j]&b[j] ^ v0 ^ w
	}
	return a, b, c, nil
}

// and returns XOR shares of x ∧ y, element-wise, by Beaver's method on
// fresh triples: d = x ⊕ a and e = y ⊕ b are opened, and z = c ⊕ d·b ⊕
// e·a ⊕ d·e (the last term at P0 only).
func (p *party) and(x, y []byte) ([]byte, error) {
	n := len(x)
	a, b, c, err := p.bitTriples(n)
	if err != nil {
		return nil, err
	}
	msg := make([]byte, 2*n)
	for j := range n {
		msg[j], msg[n+j] = x[j]^a[j], y[j]^b[j]
	}
	got, err := p.exchange(msg, "AND")
	if err != nil {
		return nil, err
	}
	z := make([]byte, n)
	for j := range n {
		d, e := msg[j]^got[j], msg[n+j]^got[n+j]
		if d > 1 || e > 1 {
			return nil, fmt.Errorf("AND: the other party's opening %d is not a bit", j)
		}
		z[j] = c[j] ^ d&b[j] ^ e&a[j]
		if p.first() {
			z[j] ^= d & e
		}
	}
	return z, nil
}
