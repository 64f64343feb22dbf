package ot

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"

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
	next  uint64             // index of the next OT (the hash tweak)
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

// Extend returns the sender's strings q_j of the next n correlated OTs.
func (s *COTSender) Extend(n int) ([]Block, error) {
	q := make([]Block, n)
	for off := 0; off < n; off += chunkOTs {
		m := min(chunkOTs, n-off)
		w := chunkWords(m)
		msg, err := s.conn.Recv()
		if err != nil {
			return nil, fmt.Errorf("ot extension: receiving u for OTs %d…: %w", s.next+uint64(off), err)
		}
		if len(msg) != kappa*w*8 {
			return nil, fmt.Errorf("ot extension: u has %d bytes, want %d for %d OTs", len(msg), kappa*w*8, m)
		}
		cols := make([][]uint64, kappa)
		for i := range cols {
			cols[i] = make([]uint64, w)
			s.cols[i].Uint64s(cols[i])
			if s.delta.Bit(i) == 1 {
				u := msg[i*w*8:]
				for k := range cols[i] {
					cols[i][k] ^= binary.LittleEndian.Uint64(u[k*8:])
				}
			}
		}
		transposeColumns(q[off:off+m], cols)
	}
	s.next += uint64(n)
	return q, nil
}

// Extend returns the receiver's strings t_j = q_j ⊕ r_j·Δ of the next n
// correlated OTs, r_j = choices.Bit(j).
func (r *COTReceiver) Extend(choices Bits, n int) ([]Block, error) {
	if len(choices)*64 < n {
		return nil, fmt.Errorf("ot extension: %d choice bits for %d OTs", len(choices)*64, n)
	}
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
		g := make([]uint64, w)
		for i := range cols {
			cols[i] = make([]uint64, w)
			r.cols0[i].Uint64s(cols[i])
			r.cols1[i].Uint64s(g)
			u := msg[i*w*8:]
			for k := range g {
				binary.LittleEndian.PutUint64(u[k*8:], cols[i][k]^g[k]^rw[k])
			}
		}
		if err := r.conn.Send(msg); err != nil {
			return nil, fmt.Errorf("ot extension: sending u for OTs %d…: %w", r.next+uint64(off), err)
		}
		transposeColumns(t[off:off+m], cols)
	}
	r.next += uint64(n)
	return t, nil
}

// transposeColumns sets rows[j] to bit j of every column (column i's bit
// j is bit i of row j), 128 rows at a time.
func transposeColumns(rows []Block, cols [][]uint64) {
	var m [128]Block
	for b := 0; b*128 < len(rows); b++ {
		for i := range kappa {
			m[i] = Block{cols[i][2*b], cols[i][2*b+1]}
		}
		transpose128(&m)
		copy(rows[b*128:], m[:min(128, len(rows)-b*128)])
	}
}
