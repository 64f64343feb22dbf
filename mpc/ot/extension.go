package ot

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"sync"

	"veil/internal/parallel"
)

// The extension is SoftSpoken OT (Roy, Crypto 2022) in its semi-honest
// form, subspace VOLE with the repetition code, of which IKNP (Ishai,
// Kilian, Nissim, Petrank, Crypto 2003) is the case k = 1. The κ = 128
// columns fall into κ/k groups of k. For group g the COTReceiver holds
// 2^k seeds, the leaves of a GGM tree (ggm.go), and the COTSender every
// seed but the one at index d_g, the group's k bits of Δ (d_g's bit j is
// Δ's bit kg+j). For m OTs with choices r every seed x expands into m
// bits G_x; the receiver computes
//
//	u = ⊕_x G_x,  v_j = ⊕_{x: x_j = 1} G_x  (j < k)
//
// and sends c = u ⊕ r, m bits for k columns; the sender computes
//
//	w_j = ⊕_{x ≠ d_g} (x_j ⊕ d_j)·G_x = v_j ⊕ d_j·u
//
// and q^{kg+j} = w_j ⊕ d_j·c = v_j ⊕ d_j·r. With t^{kg+j} = v_j, read
// across the κ columns, row j gives q_j = t_j ⊕ r_j·Δ. The receiver sends
// κ/k bits per OT instead of IKNP's κ; each end expands 2^k/k seeds per
// column instead of one or two. Every Extend draws the next bits of the
// same seed streams.

const kappa = 128

// DefaultK is the SoftSpoken parameter veil's two-party backend uses:
// 32 bits from the receiver per OT, 4 seed expansions per column.
const DefaultK = 4

// chunkOTs bounds the OTs of one message (at k = 1, 2^16 × 128 bits,
// 1 MiB).
const chunkOTs = 1 << 16

// A COTSender is the end of an extension that holds the global offset Δ.
type COTSender struct {
	conn  Conn
	k     int
	delta Block
	seeds [][]*keystream // per group, every leaf but d_g (nil there)
	next  uint64         // index of the next OT consumed (the hash tweak)
	pool  fifo[Block]    // precomputed q_j of random correlated OTs
	cols  columns
}

// NewCOTSender draws Δ and sets up an extension with parameter k (1, 2,
// 4 or 8; 1 is IKNP) with the other end's NewCOTReceiver: κ base OTs
// with choices from Δ, then the punctured GGM trees.
func NewCOTSender(c Conn, k int) (*COTSender, error) {
	if err := checkK(k); err != nil {
		return nil, err
	}
	s := &COTSender{conn: c, k: k}
	var d [16]byte
	if _, err := rand.Read(d[:]); err != nil {
		return nil, err
	}
	s.delta = blockFrom(d[:])
	choices := make([]bool, kappa)
	for i := range choices {
		g, l := i/k, i%k+1
		choices[i] = s.index(g)>>(k-l)&1 == 0
	}
	keys, err := BaseReceive(c, choices)
	if err != nil {
		return nil, fmt.Errorf("ot extension: %w", err)
	}
	msg, err := c.Recv()
	if err != nil {
		return nil, fmt.Errorf("ot extension: receiving the GGM level sums: %w", err)
	}
	if len(msg) != kappa*32 {
		return nil, fmt.Errorf("ot extension: %d bytes of GGM level sums, want %d", len(msg), kappa*32)
	}
	s.seeds = make([][]*keystream, kappa/k)
	for g := range s.seeds {
		open := make([]Block, k)
		for l := range open {
			i, b := g*k+l, 0
			if choices[i] {
				b = 1
			}
			open[l] = blockFrom(msg[i*32+b*16:]).Xor(keys[i])
		}
		d := s.index(g)
		s.seeds[g] = make([]*keystream, 1<<k)
		for x, leaf := range ggmPuncture(open, d, k) {
			if x != d {
				s.seeds[g][x] = newKeystream(leaf)
			}
		}
	}
	return s, nil
}

// index returns d_g, group g's bits of Δ.
func (s *COTSender) index(g int) int {
	d := 0
	for j := range s.k {
		d |= int(s.delta.Bit(g*s.k+j)) << j
	}
	return d
}

// A COTReceiver is the end of an extension that chooses.
type COTReceiver struct {
	conn        Conn
	k           int
	seeds       [][]*keystream // per group, every leaf
	next        uint64
	pool        fifo[Block] // precomputed t_j of random correlated OTs
	poolChoices fifo[byte]  // their random choices r'_j, 0 or 1
	cols        columns
}

// NewCOTReceiver sets up an extension with parameter k with the other
// end's NewCOTSender (which must use the same k).
func NewCOTReceiver(c Conn, k int) (*COTReceiver, error) {
	if err := checkK(k); err != nil {
		return nil, err
	}
	r := &COTReceiver{conn: c, k: k}
	keys, err := BaseSend(c, kappa)
	if err != nil {
		return nil, fmt.Errorf("ot extension: %w", err)
	}
	msg := make([]byte, kappa*32)
	r.seeds = make([][]*keystream, kappa/k)
	for g := range r.seeds {
		var root [16]byte
		if _, err := rand.Read(root[:]); err != nil {
			return nil, err
		}
		leaves, sums := ggmExpand(blockFrom(root[:]), k)
		for l, s := range sums {
			i := g*k + l
			s[0].Xor(keys[i][0]).bytes(msg[i*32:])
			s[1].Xor(keys[i][1]).bytes(msg[i*32+16:])
		}
		r.seeds[g] = make([]*keystream, len(leaves))
		for x, leaf := range leaves {
			r.seeds[g][x] = newKeystream(leaf)
		}
	}
	if err := c.Send(msg); err != nil {
		return nil, fmt.Errorf("ot extension: sending the GGM level sums: %w", err)
	}
	return r, nil
}

// chunkWords is the 64-bit words of one column for m OTs (whole 128-bit
// blocks).
func chunkWords(m int) int { return (m + 127) / 128 * 2 }

// CorrectionBytes is what the receiver sends to extend n OTs at
// parameter k: κ/k bits per OT, in whole 128-OT blocks per message of at
// most 2^16 OTs.
func CorrectionBytes(n, k int) int {
	b := 0
	for ; n > 0; n -= chunkOTs {
		b += kappa / k * chunkWords(min(n, chunkOTs)) * 8
	}
	return b
}

// Delta returns Δ.
func (s *COTSender) Delta() Block { return s.delta }

// Extend returns the sender's strings q_j of the next n correlated OTs:
// precomputed ones first (see Precompute), the rest extended now.
func (s *COTSender) Extend(n int) ([]Block, error) {
	q := make([]Block, n)
	if err := s.ExtendInto(q); err != nil {
		return nil, err
	}
	return q, nil
}

// ExtendInto is Extend for len(q) OTs into the caller's q.
func (s *COTSender) ExtendInto(q []Block) error {
	n := len(q)
	k := min(n, s.pool.len())
	if k > 0 {
		d, err := s.conn.Recv()
		if err != nil {
			return fmt.Errorf("ot extension: receiving the choice corrections of OTs %d…: %w", s.next, err)
		}
		if len(d) != (k+7)/8 {
			return fmt.Errorf("ot extension: %d bytes of choice corrections, want %d for %d OTs", len(d), (k+7)/8, k)
		}
		// q_j ⊕= c_j·Δ for the correction bit c_j, without a branch on it.
		for j, v := range s.pool.front(k) {
			m := -uint64(d[j/8] >> (j % 8) & 1)
			q[j] = Block{v[0] ^ s.delta[0]&m, v[1] ^ s.delta[1]&m}
		}
		s.pool.pop(k)
	}
	if n > k {
		if err := s.extend(q[k:]); err != nil {
			return err
		}
	}
	s.next += uint64(n)
	return nil
}

// Precompute extends n random correlated OTs now, ahead of the inputs
// that will choose them: the other end's NewCOTReceiver calls its
// Precompute(n) at the same point. Extend then takes them first, and
// each costs its receiver one bit (r_j ⊕ r'_j) instead of κ/k.
func (s *COTSender) Precompute(n int) error {
	if err := s.extend(s.pool.grow(n)); err != nil {
		s.pool.shrink(n)
		return err
	}
	return nil
}

// Pooled is the number of precomputed OTs not yet used.
func (s *COTSender) Pooled() int { return s.pool.len() }

// extend runs the extension for len(q) correlated OTs into q.
func (s *COTSender) extend(q []Block) error {
	n, k := len(q), s.k
	all, cols, stride := s.cols.get(chunkWords(min(n, chunkOTs)))
	for off := 0; off < n; off += chunkOTs {
		m := min(chunkOTs, n-off)
		w := chunkWords(m)
		msg, err := s.conn.Recv()
		if err != nil {
			return fmt.Errorf("ot extension: receiving the corrections: %w", err)
		}
		if len(msg) != kappa/k*w*8 {
			return fmt.Errorf("ot extension: %d bytes of corrections, want %d for %d OTs", len(msg), kappa/k*w*8, m)
		}
		parallel.Ranges(len(s.seeds), 1, func(from, to int) {
			vb := getVOLEBuffers(k)
			defer putVOLEBuffers(k, vb)
			for g := from; g < to; g++ {
				d := s.index(g)
				out := cols[g*k : (g+1)*k]
				c := msg[g*w*8 : (g+1)*w*8]
				for lo := 0; lo < w; lo += voleWords {
					hi := min(w, lo+voleWords)
					exp, u := vb.cut(hi - lo)
					for y := range exp {
						if y == 0 {
							clear(exp[y]) // the expansion of seed d, which the sender lacks
						} else {
							s.seeds[g][y^d].fill(exp[y])
						}
					}
					voleSums(exp, u, vb.window(out, lo, hi))
					for j := range out {
						if d>>j&1 == 1 {
							xorBytes(out[j][lo:hi], c[lo*8:hi*8])
						}
					}
				}
			}
		})
		transposeColumns(q[off:off+m], all, stride)
	}
	return nil
}

// Extend returns the receiver's strings t_j = q_j ⊕ r_j·Δ of the next n
// correlated OTs, r_j = choices.Bit(j): precomputed ones first (see
// Precompute; the receiver sends the corrections r_j ⊕ r'_j of their
// random choices r'_j), the rest extended now.
func (r *COTReceiver) Extend(choices Bits, n int) ([]Block, error) {
	t := make([]Block, n)
	if err := r.ExtendInto(choices, t); err != nil {
		return nil, err
	}
	return t, nil
}

// ExtendInto is Extend for len(t) OTs into the caller's t.
func (r *COTReceiver) ExtendInto(choices Bits, t []Block) error {
	n := len(t)
	if len(choices)*64 < n {
		return fmt.Errorf("ot extension: %d choice bits for %d OTs", len(choices)*64, n)
	}
	k := min(n, r.pool.len())
	if k > 0 {
		d := make([]byte, (k+7)/8)
		for j, c := range r.poolChoices.front(k) {
			d[j/8] |= (byte(choices.Bit(j)) ^ c) << (j % 8)
		}
		if err := r.conn.Send(d); err != nil {
			return fmt.Errorf("ot extension: sending the choice corrections of OTs %d…: %w", r.next, err)
		}
		copy(t, r.pool.front(k))
		r.pool.pop(k)
		r.poolChoices.pop(k)
	}
	if n > k {
		rest := NewBits(n - k)
		for j := k; j < n; j++ {
			rest.Set(j-k, choices.Bit(j))
		}
		if err := r.extend(rest, t[k:]); err != nil {
			return err
		}
	}
	r.next += uint64(n)
	return nil
}

// Precompute is the receiver's end of the sender's Precompute: n random
// correlated OTs with random choices, kept for Extend.
func (r *COTReceiver) Precompute(n int) error {
	choices := NewBits(n)
	b := make([]byte, 8*len(choices))
	if _, err := rand.Read(b); err != nil {
		return err
	}
	for i := range choices {
		choices[i] = binary.LittleEndian.Uint64(b[8*i:])
	}
	if err := r.extend(choices, r.pool.grow(n)); err != nil {
		r.pool.shrink(n)
		return err
	}
	pc := r.poolChoices.grow(n)
	for j := range pc {
		pc[j] = byte(choices.Bit(j))
	}
	return nil
}

// Pooled is the number of precomputed OTs not yet used.
func (r *COTReceiver) Pooled() int { return r.pool.len() }

// extend runs the extension for len(t) correlated OTs with the given
// choices into t.
func (r *COTReceiver) extend(choices Bits, t []Block) error {
	n, k := len(t), r.k
	all, cols, stride := r.cols.get(chunkWords(min(n, chunkOTs)))
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
		msg := make([]byte, kappa/k*w*8)
		parallel.Ranges(len(r.seeds), 1, func(from, to int) {
			vb := getVOLEBuffers(k)
			defer putVOLEBuffers(k, vb)
			for g := from; g < to; g++ {
				out := cols[g*k : (g+1)*k]
				c := msg[g*w*8 : (g+1)*w*8]
				for lo := 0; lo < w; lo += voleWords {
					hi := min(w, lo+voleWords)
					exp, u := vb.cut(hi - lo)
					for y, seed := range r.seeds[g] {
						seed.fill(exp[y])
					}
					voleSums(exp, u, vb.window(out, lo, hi))
					for i, v := range u {
						binary.LittleEndian.PutUint64(c[(lo+i)*8:], v^rw[lo+i])
					}
				}
			}
		})
		if err := r.conn.Send(msg); err != nil {
			return fmt.Errorf("ot extension: sending the corrections: %w", err)
		}
		transposeColumns(t[off:off+m], all, stride)
	}
	return nil
}

// voleWords is the words of each seed expansion held at a time (2^k of
// them, 32 KiB at k = 4).
const voleWords = 256

// voleBuffers are one goroutine's buffers for voleSums.
type voleBuffers struct {
	exp, cutExp [][]uint64 // 2^k expansions of voleWords, and cut
	u           []uint64
	v           [][]uint64
}

// voleBufferPools keep voleBuffers between parallel ranges, by k.
var voleBufferPools [9]sync.Pool

// getVOLEBuffers returns buffers for parameter k, from the pool if it
// has some; putVOLEBuffers gives them back.
func getVOLEBuffers(k int) *voleBuffers {
	if b, ok := voleBufferPools[k].Get().(*voleBuffers); ok {
		return b
	}
	return newVOLEBuffers(k)
}

func putVOLEBuffers(k int, b *voleBuffers) { voleBufferPools[k].Put(b) }

func newVOLEBuffers(k int) *voleBuffers {
	b := &voleBuffers{exp: make([][]uint64, 1<<k), cutExp: make([][]uint64, 1<<k), u: make([]uint64, voleWords), v: make([][]uint64, k)}
	for y := range b.exp {
		b.exp[y] = make([]uint64, voleWords)
	}
	return b
}

// cut returns the expansions and u cut to n words.
func (b *voleBuffers) cut(n int) ([][]uint64, []uint64) {
	for y := range b.exp {
		b.cutExp[y] = b.exp[y][:n]
	}
	return b.cutExp, b.u[:n]
}

// window returns words lo…hi of the group's columns.
func (b *voleBuffers) window(cols [][]uint64, lo, hi int) [][]uint64 {
	for j := range b.v {
		b.v[j] = cols[j][lo:hi]
	}
	return b.v
}

// columns are an extension's κ column buffers, kept from call to call:
// column i at all[i·stride:], the stride a cache line more than the
// widest columns asked for (at a power of two, the transposes' loads of
// one word from every column would all fall into the same cache set).
type columns struct {
	all    []uint64
	cols   [][]uint64
	stride int
}

// get returns the κ columns cut to w words, their backing array and its
// stride; their contents are undefined.
func (c *columns) get(w int) (all []uint64, cols [][]uint64, stride int) {
	if w+8 > c.stride {
		c.stride = w + 8
		c.all = make([]uint64, kappa*c.stride)
		c.cols = make([][]uint64, kappa)
	}
	for i := range c.cols {
		c.cols[i] = c.all[i*c.stride : i*c.stride+w]
	}
	return c.all, c.cols, c.stride
}

// xorWords sets dst[i] ^= src[i].
func xorWords(dst, src []uint64) {
	src = src[:len(dst)]
	for i := range dst {
		dst[i] ^= src[i]
	}
}

// xorBytes sets dst[i] ^= the i-th little-endian word of src.
func xorBytes(dst []uint64, src []byte) {
	src = src[:8*len(dst)]
	for i := range dst {
		dst[i] ^= binary.LittleEndian.Uint64(src[8*i:])
	}
}

// Used is the number of correlated OTs taken so far.
func (s *COTSender) Used() uint64 { return s.next }

// Used is the number of correlated OTs taken so far.
func (r *COTReceiver) Used() uint64 { return r.next }
