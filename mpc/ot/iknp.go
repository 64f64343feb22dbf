package ot

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"

	"veil/internal/parallel"
	"veil/mpc/prg"
)

// The IKNP extension (Ishai, Kilian, Nissim, Petrank, Crypto 2003). The
// COTSender is the receiver of κ = 128 base OTs with choice bits Δ, so
// it holds k_i^{Δ_i}; the COTReceiver holds both keys of each. For n OTs
// with choices r, the receiver expands each key into n bits, t^i =
// G(k_i^0), and sends u^i = t^i ⊕ G(k_i^1) ⊕ r; the sender computes
// q^i = G(k_i^{Δ_i}) ⊕ Δ_i·u^i = t^i ⊕ Δ_i·r. Read across the κ
// columns, row j gives q_j = t_j ⊕ r_j·Δ. The extension is reused: every
// Extend draws the next bits of the same column streams.

const kappa = 128

// chunkOTs bounds the OTs of one message (the receiver's 2^16 × 128 bits,
// 1 MiB).
const chunkOTs = 1 << 16

// columnLabel labels the PRG stream a base key expands into.
const columnLabel = "veil ot iknp column v1"

// A COTSender is the end of an extension that holds the global offset Δ.
type COTSender struct {
	conn  Conn
	delta Block
	cols  [kappa]*prg.Stream // G(k_i^{Δ_i})
	next  uint64             // index of the next OT consumed (the hash tweak)
	pool  []Block            // precomputed q_j of random correlated OTs
}

// NewCOTSender draws Δ and runs the base OTs with the other end's
// NewCOTReceiver.
func NewCOTSender(c Conn) (*COTSender, error) {
	s := &COTSender{conn: c}
	var d [16]byte
	if _, err := rand.Read(d[:]); err != nil {
		return nil, err
	}
	s.delta = blockFrom(d[:])
	choices := make([]bool, kappa)
	for i := range choices {
		choices[i] = s.delta.Bit(i) == 1
	}
	keys, err := BaseReceive(c, choices)
	if err != nil {
		return nil, fmt.Errorf("ot extension: %w", err)
	}
	for i, k := range keys {
		s.cols[i] = columnStream(k)
	}
	return s, nil
}

// A COTReceiver is the end of an extension that chooses.
type COTReceiver struct {
	conn         Conn
	cols0, cols1 [kappa]*prg.Stream // G(k_i^0), G(k_i^1)
	next         uint64
	pool         []Block // precomputed t_j of random correlated OTs
	poolChoices  []byte  // their random choices r'_j, 0 or 1
}

// NewCOTReceiver runs the base OTs with the other end's NewCOTSender.
func NewCOTReceiver(c Conn) (*COTReceiver, error) {
	r := &COTReceiver{conn: c}
	keys, err := BaseSend(c, kappa)
	if err != nil {
		return nil, fmt.Errorf("ot extension: %w", err)
	}
	for i, k := range keys {
		r.cols0[i], r.cols1[i] = columnStream(k[0]), columnStream(k[1])
	}
	return r, nil
}

func columnStream(k Block) *prg.Stream {
	var b [16]byte
	k.bytes(b[:])
	return prg.MustNew(b[:], columnLabel)
}

// chunkWords is the 64-bit words of one column for m OTs (whole 128-bit
// blocks).
func chunkWords(m int) int { return (m + 127) / 128 * 2 }

// Delta returns Δ.
func (s *COTSender) Delta() Block { return s.delta }

// Extend returns the sender's strings q_j of the next n correlated OTs:
// precomputed ones first (see Precompute), the rest extended now.
func (s *COTSender) Extend(n int) ([]Block, error) {
	q := make([]Block, n)
	k := min(n, len(s.pool))
	if k > 0 {
		d, err := s.conn.Recv()
		if err != nil {
			return nil, fmt.Errorf("ot extension: receiving the choice corrections of OTs %d…: %w", s.next, err)
		}
		if len(d) != (k+7)/8 {
			return nil, fmt.Errorf("ot extension: %d bytes of choice corrections, want %d for %d OTs", len(d), (k+7)/8, k)
		}
		for j := range k {
			q[j] = s.pool[j]
			if d[j/8]>>(j%8)&1 == 1 {
				q[j] = q[j].Xor(s.delta)
			}
		}
		s.pool = s.pool[k:]
	}
	if n > k {
		rest, err := s.extend(n - k)
		if err != nil {
			return nil, err
		}
		copy(q[k:], rest)
	}
	s.next += uint64(n)
	return q, nil
}

// Precompute extends n random correlated OTs now, ahead of the inputs
// that will choose them: the other end's NewCOTReceiver calls its
// Precompute(n) at the same point. Extend then takes them first, and
// each costs its receiver one bit (r_j ⊕ r'_j) instead of 128.
func (s *COTSender) Precompute(n int) error {
	q, err := s.extend(n)
	if err != nil {
		return err
	}
	s.pool = append(s.pool, q...)
	return nil
}

// Pooled is the number of precomputed OTs not yet used.
func (s *COTSender) Pooled() int { return len(s.pool) }

// extend runs IKNP for n correlated OTs.
func (s *COTSender) extend(n int) ([]Block, error) {
	q := make([]Block, n)
	for off := 0; off < n; off += chunkOTs {
		m := min(chunkOTs, n-off)
		w := chunkWords(m)
		msg, err := s.conn.Recv()
		if err != nil {
			return nil, fmt.Errorf("ot extension: receiving u: %w", err)
		}
		if len(msg) != kappa*w*8 {
			return nil, fmt.Errorf("ot extension: u has %d bytes, want %d for %d OTs", len(msg), kappa*w*8, m)
		}
		cols := make([][]uint64, kappa)
		parallel.Ranges(kappa, 2, func(from, to int) { // each column its own stream
			for i := from; i < to; i++ {
				cols[i] = make([]uint64, w)
				s.cols[i].Uint64s(cols[i])
				if s.delta.Bit(i) == 1 {
					u := msg[i*w*8:]
					for k := range cols[i] {
						cols[i][k] ^= binary.LittleEndian.Uint64(u[k*8:])
					}
				}
			}
		})
		transposeColumns(q[off:off+m], cols)
	}
	return q, nil
}

// Extend returns the receiver's strings t_j = q_j ⊕ r_j·Δ of the next n
// correlated OTs, r_j = choices.Bit(j): precomputed ones first (see
// Precompute; the receiver sends the corrections r_j ⊕ r'_j of their
// random choices r'_j), the rest extended now.
func (r *COTReceiver) Extend(choices Bits, n int) ([]Block, error) {
	if len(choices)*64 < n {
		return nil, fmt.Errorf("ot extension: %d choice bits for %d OTs", len(choices)*64, n)
	}
	t := make([]Block, n)
	k := min(n, len(r.pool))
	if k > 0 {
		d := make([]byte, (k+7)/8)
		for j := range k {
			d[j/8] |= (byte(choices.Bit(j)) ^ r.poolChoices[j]) << (j % 8)
		}
		if err := r.conn.Send(d); err != nil {
			return nil, fmt.Errorf("ot extension: sending the choice corrections of OTs %d…: %w", r.next, err)
		}
		copy(t, r.pool[:k])
		r.pool, r.poolChoices = r.pool[k:], r.poolChoices[k:]
	}
	if n > k {
		rest := NewBits(n - k)
		for j := k; j < n; j++ {
			rest.Set(j-k, choices.Bit(j))
		}
		tr, err := r.extend(rest, n-k)
		if err != nil {
			return nil, err
		}
		copy(t[k:], tr)
	}
	r.next += uint64(n)
	return t, nil
}

// Precompute is the receiver's end of the sender's Precompute: n random
// correlated OTs with random choices, kept for Extend.
func (r *COTReceiver) Precompute(n int) error {
	choices := NewBits(n)
	var b [8]byte
	for i := range choices {
		if _, err := rand.Read(b[:]); err != nil {
			return err
		}
		choices[i] = binary.LittleEndian.Uint64(b[:])
	}
	t, err := r.extend(choices, n)
	if err != nil {
		return err
	}
	r.pool = append(r.pool, t...)
	for j := range n {
		r.poolChoices = append(r.poolChoices, byte(choices.Bit(j)))
	}
	return nil
}

// Pooled is the number of precomputed OTs not yet used.
func (r *COTReceiver) Pooled() int { return len(r.pool) }

// extend runs IKNP for n correlated OTs with the given choices.
func (r *COTReceiver) extend(choices Bits, n int) ([]Block, error) {
	t := make([]Block, n)
	for off := 0; off < n; off += chunkOTs {
		m := min(chunkOTs, n-off)
		w := chunkWords(m)
		rw := make([]uint64, w)
		copy(rw, choices[off/64:])
		if tail := m % 64; tail != 0 { // no choice bits past n
			rw[m/64] &= 1<<tail - 1
			clear(rw[m/64+1:])
		} else {
			clear(rw[m/64:])
		}
		cols := make([][]uint64, kappa)
		msg := make([]byte, kappa*w*8)
		parallel.Ranges(kappa, 2, func(from, to int) { // each column its own streams
			g := make([]uint64, w)
			for i := from; i < to; i++ {
				cols[i] = make([]uint64, w)
				r.cols0[i].Uint64s(cols[i])
				r.cols1[i].Uint64s(g)
				u := msg[i*w*8:]
				for k := range g {
					binary.LittleEndian.PutUint64(u[k*8:], cols[i][k]^g[k]^rw[k])
				}
			}
		})
		if err := r.conn.Send(msg); err != nil {
			return nil, fmt.Errorf("ot extension: sending u: %w", err)
		}
		transposeColumns(t[off:off+m], cols)
	}
	return t, nil
}

// transposeColumns sets rows[j] to bit j of every column (column i's bit
// j is bit i of row j), 128 rows at a time, on every core.
func transposeColumns(rows []Block, cols [][]uint64) {
	blocks := (len(rows) + 127) / 128
	parallel.Ranges(blocks, 64, func(from, to int) {
		var m [128]Block
		for b := from; b < to; b++ {
			for i := range kappa {
				m[i] = Block{cols[i][2*b], cols[i][2*b+1]}
			}
			transpose128(&m)
			copy(rows[b*128:], m[:min(128, len(rows)-b*128)])
		}
	})
}

// Used is the number of correlated OTs taken so far.
func (s *COTSender) Used() uint64 { return s.next }

// Used is the number of correlated OTs taken so far.
func (r *COTReceiver) Used() uint64 { return r.next }
