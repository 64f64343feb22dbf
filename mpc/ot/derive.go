package ot

import (
	"encoding/binary"
	"fmt"
)

// RandomOTs returns both messages of each of the next n random OTs:
// m0_j = H(j, q_j), m1_j = H(j, q_j ⊕ Δ).
func (s *COTSender) RandomOTs(n int) (m0, m1 []Block, err error) {
	m0, m1 = make([]Block, n), make([]Block, n)
	return m0, m1, s.RandomOTsInto(m0, m1)
}

// RandomOTsInto is RandomOTs into the caller's m0 and m1, of equal
// length: a caller that runs many batches reuses its buffers.
func (s *COTSender) RandomOTsInto(m0, m1 []Block) error {
	if len(m0) != len(m1) {
		return fmt.Errorf("random OT: buffers of %d and %d messages", len(m0), len(m1))
	}
	first := s.next
	if err := s.ExtendInto(m0); err != nil {
		return err
	}
	for j, q := range m0 {
		m1[j] = q.Xor(s.delta)
	}
	HashBlocks(m0, m0, first)
	HashBlocks(m1, m1, first)
	return nil
}

// SenderROTs are random OTs whose messages the caller derives range by
// range (Messages) where it uses them: on the goroutine that uses them
// and while in its cache, where RandomOTsInto hashes them all ahead, on
// every core.
type SenderROTs struct {
	q     []Block
	delta Block
	first uint64
}

// LazyRandomOTs takes the next len(q) random OTs, their correlated
// strings into the caller's q; SenderROTs.Messages derives their
// messages, those of RandomOTsInto.
func (s *COTSender) LazyRandomOTs(q []Block) (SenderROTs, error) {
	first := s.next
	if err := s.ExtendInto(q); err != nil {
		return SenderROTs{}, err
	}
	return SenderROTs{q: q, delta: s.delta, first: first}, nil
}

// Messages sets m0 and m1 (of equal length) to the messages of OTs
// lo, lo+1, … of r, on the calling goroutine.
func (r SenderROTs) Messages(lo int, m0, m1 []Block) {
	q := r.q[lo : lo+len(m0)]
	for j, x := range q {
		m1[j] = x.Xor(r.delta)
	}
	hashRange(m0, q, r.first+uint64(lo), nil)
	hashRange(m1, m1, r.first+uint64(lo), nil)
}

// ReceiverROTs are random OTs whose chosen messages the caller derives
// range by range (Chosen), as SenderROTs.
type ReceiverROTs struct {
	t     []Block
	first uint64
}

// LazyRandomOTs takes the next len(t) random OTs with the choices, their
// correlated strings into the caller's t; ReceiverROTs.Chosen derives
// their chosen messages, those of RandomOTsInto.
func (r *COTReceiver) LazyRandomOTs(choices Bits, t []Block) (ReceiverROTs, error) {
	first := r.next
	if err := r.ExtendInto(choices, t); err != nil {
		return ReceiverROTs{}, err
	}
	return ReceiverROTs{t: t, first: first}, nil
}

// Chosen sets m to the chosen messages of OTs lo, lo+1, … of r, on the
// calling goroutine.
func (r ReceiverROTs) Chosen(lo int, m []Block) {
	hashRange(m, r.t[lo:lo+len(m)], r.first+uint64(lo), nil)
}

// RandomOTs returns the chosen message H(j, t_j) = m_{r_j} of each of the
// next n random OTs.
func (r *COTReceiver) RandomOTs(choices Bits, n int) ([]Block, error) {
	t := make([]Block, n)
	return t, r.RandomOTsInto(choices, t)
}

// RandomOTsInto is RandomOTs for len(t) OTs into the caller's t.
func (r *COTReceiver) RandomOTsInto(choices Bits, t []Block) error {
	first := r.next
	if err := r.ExtendInto(choices, t); err != nil {
		return err
	}
	HashBlocks(t, t, first)
	return nil
}

// Correlated runs len(c) correlated OTs over Z_2^64 with the
// correlations c: it returns the sender's random a_j, and the receiver
// gets a_j + r_j·c_j (so −a_j and that are shares of r_j·c_j). It sends
// 8 bytes per OT: d_j = a_j + c_j − H(j, q_j ⊕ Δ), with a_j = H(j, q_j)
// (the low 64 bits).
func (s *COTSender) Correlated(c []uint64) ([]uint64, error) {
	m0, m1, err := s.RandomOTs(len(c))
	if err != nil {
		return nil, err
	}
	a := make([]uint64, len(c))
	msg := make([]byte, 8*len(c))
	for j := range c {
		a[j] = m0[j][0]
		binary.LittleEndian.PutUint64(msg[8*j:], a[j]+c[j]-m1[j][0])
	}
	if err := s.conn.Send(msg); err != nil {
		return nil, fmt.Errorf("correlated OT: sending the corrections: %w", err)
	}
	return a, nil
}

// Correlated is the receiver's end of n correlated OTs over Z_2^64: a_j
// + r_j·c_j for the sender's a_j and c_j.
func (r *COTReceiver) Correlated(choices Bits, n int) ([]uint64, error) {
	c, err := r.StartCorrelated(choices, n)
	if err != nil {
		return nil, err
	}
	return c.Finish()
}

// StartCorrelated is the first half of Correlated: it takes the n random
// OTs (sending the choices' corrections, if precomputed) and returns
// what Finish needs to receive the sender's corrections and end them. A
// party that also sends correlated OTs to its peer can send them in
// between, so that both directions' choices travel at once and the two
// directions cost one round trip together.
func (r *COTReceiver) StartCorrelated(choices Bits, n int) (*PendingCorrelated, error) {
	m, err := r.RandomOTs(choices, n)
	if err != nil {
		return nil, err
	}
	return &PendingCorrelated{r: r, choices: choices, m: m}, nil
}

// PendingCorrelated is a receiver's correlated OTs begun by
// StartCorrelated.
type PendingCorrelated struct {
	r       *COTReceiver
	choices Bits
	m       []Block
}

// Finish receives the sender's corrections and returns a_j + r_j·c_j.
func (c *PendingCorrelated) Finish() ([]uint64, error) {
	n := len(c.m)
	msg, err := c.r.conn.Recv()
	if err != nil {
		return nil, fmt.Errorf("correlated OT: receiving the corrections: %w", err)
	}
	if len(msg) != 8*n {
		return nil, fmt.Errorf("correlated OT: %d bytes of corrections, want %d for %d OTs", len(msg), 8*n, n)
	}
	y := make([]uint64, n)
	for j := range y {
		y[j] = c.m[j][0] + c.choices.Bit(j)*binary.LittleEndian.Uint64(msg[8*j:])
	}
	return y, nil
}

// Send runs len(m0) chosen-message OTs of 64-bit messages: the receiver
// gets m0_j or m1_j as it chose. It sends 16 bytes per OT, each message
// masked with its random OT's.
func (s *COTSender) Send(m0, m1 []uint64) error {
	if len(m0) != len(m1) {
		return fmt.Errorf("chosen OT: %d first and %d second messages", len(m0), len(m1))
	}
	k0, k1, err := s.RandomOTs(len(m0))
	if err != nil {
		return err
	}
	msg := make([]byte, 16*len(m0))
	for j := range m0 {
		binary.LittleEndian.PutUint64(msg[16*j:], m0[j]^k0[j][0])
		binary.LittleEndian.PutUint64(msg[16*j+8:], m1[j]^k1[j][0])
	}
	if err := s.conn.Send(msg); err != nil {
		return fmt.Errorf("chosen OT: sending the masked messages: %w", err)
	}
	return nil
}

// Receive is the receiver's end of n chosen-message OTs: the message of
// each pair its choice bit picks.
func (r *COTReceiver) Receive(choices Bits, n int) ([]uint64, error) {
	k, err := r.RandomOTs(choices, n)
	if err != nil {
		return nil, err
	}
	msg, err := r.conn.Recv()
	if err != nil {
		return nil, fmt.Errorf("chosen OT: receiving the masked messages: %w", err)
	}
	if len(msg) != 16*n {
		return nil, fmt.Errorf("chosen OT: %d bytes of masked messages, want %d for %d OTs", len(msg), 16*n, n)
	}
	y := make([]uint64, n)
	for j := range y {
		y[j] = binary.LittleEndian.Uint64(msg[16*j+8*int(choices.Bit(j)):]) ^ k[j][0]
	}
	return y, nil
}
