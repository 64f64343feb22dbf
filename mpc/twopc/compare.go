package twopc

import (
	"encoding/binary"
	"fmt"
	"math/bits"

	"veil/internal/parallel"
	"veil/mpc/ot"
)

// The millionaires' protocol (after CrypTFlow2): P0 holds X, P1 holds Y,
// both below 2^k; they get XOR shares of [X > Y]. The k bits split into
// leaves of leafBits bits from the least significant; for each leaf, a
// 1-out-of-16 OT from P0 hands P1 its shares of the leaf's [x > y] and
// [x = y] for P1's own leaf value y, P0 keeping random bits as its
// shares. The leaves combine pairwise up a tree, gt = gt_hi ⊕ eq_hi ∧
// gt_lo and eq = eq_hi ∧ eq_lo, one batch of ANDs per level.
//
// The 1-out-of-16 OT is built from four random OTs, one per bit of P1's
// leaf value v: the pad of message w is H(t_w, ⊕_i k_i^{w_i}) with a tweak
// t_w of its own, so P1, holding k_i^{v_i}, can unpad message v alone.

const leafBits = 4

// leaves is the number of leaves of a k-bit comparison.
func leaves(k int) int { return (k + leafBits - 1) / leafBits }

// treePairs is the number of pairs of nodes the tree over q leaves
// combines, over all its levels.
func treePairs(q int) int {
	n := 0
	for w := q; w > 1; w = (w + 1) / 2 {
		n += w / 2
	}
	return n
}

// greater returns XOR shares of [X > Y] for P0's values X (vals at P0)
// and P1's values Y (vals at P1), all below 2^k.
func (p *party) greater(vals []uint64, k int) ([]byte, error) {
	if k < 1 || k > 64 {
		return nil, fmt.Errorf("comparison of %d bits", k)
	}
	n, q := len(vals), leaves(k)
	gt, eq := make([]byte, n*q), make([]byte, n*q)
	if err := p.leafCompare(vals, k, gt, eq); err != nil {
		return nil, err
	}
	// Combine: leaves of element e are gt[e*q : (e+1)*q], least
	// significant first. One batch of pair triples serves every level.
	t, off, err := p.takeTriples(n * treePairs(q))
	if err != nil {
		return nil, fmt.Errorf("comparison tree: %w", err)
	}
	for width := q; width > 1; width = (width + 1) / 2 {
		pairs := width / 2
		eqHi, gtLo, eqLo := make([]byte, 0, n*pairs), make([]byte, 0, n*pairs), make([]byte, 0, n*pairs)
		for e := range n {
			for i := range pairs {
				lo, hi := e*q+2*i, e*q+2*i+1
				eqHi = append(eqHi, eq[hi])
				gtLo = append(gtLo, gt[lo])
				eqLo = append(eqLo, eq[lo])
			}
		}
		// eq_hi ∧ gt_lo and eq_hi ∧ eq_lo for every pair of the level.
		z1, z2, err := p.andPairs(eqHi, gtLo, eqLo, t, off)
		if err != nil {
			return nil, fmt.Errorf("comparison tree: %w", err)
		}
		off += len(eqHi)
		for e := range n {
			for i := range pairs {
				k := e*pairs + i
				hi := e*q + 2*i + 1
				gt[e*q+i] = gt[hi] ^ z1[k]
				eq[e*q+i] = z2[k]
			}
			if width%2 == 1 { // the odd leaf moves up unchanged
				gt[e*q+pairs], eq[e*q+pairs] = gt[e*q+width-1], eq[e*q+width-1]
			}
		}
	}
	out := make([]byte, n)
	for e := range n {
		out[e] = gt[e*q]
	}
	return out, nil
}

// leafBatch bounds the leaves of one round of leaf OTs (their random
// OTs, pads and messages): 2^14 leaves, 4 MiB of pads at the sender.
const leafBatch = 1 << 14

// leafCompare sets gt and eq (n·q each) to XOR shares of every leaf's
// [x > y] and [x = y], in batches of leafBatch leaves.
func (p *party) leafCompare(vals []uint64, k int, gt, eq []byte) error {
	q := leaves(k)
	m := len(vals) * q
	// leaf is the value of leaf l = e·q + i: bits 4i… of value e.
	leaf := func(l int) int {
		e, i := l/q, l%q
		bits := min(leafBits, k-i*leafBits)
		return int(vals[e] >> (i * leafBits) & (1<<bits - 1))
	}
	for lo := 0; lo < m; lo += leafBatch {
		hi := min(lo+leafBatch, m)
		var err error
		if p.first() {
			err = p.leafSend(leaf, lo, hi, gt, eq)
		} else {
			err = p.leafReceive(leaf, lo, hi, gt, eq)
		}
		if err != nil {
			return fmt.Errorf("comparison leaves: %w", err)
		}
	}
	return nil
}

// leafSend is P0's end of the leaf OTs of leaves [lo, hi): random shares
// kept, 16 padded two-bit messages per leaf sent.
func (p *party) leafSend(leaf func(int) int, lo, hi int, gt, eq []byte) error {
	m := hi - lo
	k0, k1, err := p.sendROTs(leafBits * m)
	if err != nil {
		return err
	}
	first := p.tweaks(16 * m)
	// This party's shares: two random bits per leaf.
	coins := make([]uint64, (2*m+63)/64)
	p.coins.Uint64s(coins)
	msg := make([]byte, 4*m)
	parallel.Ranges(m, 1<<10, func(from, to int) {
		// The pads of padLeaves leaves at a time, made, hashed and used
		// while in cache.
		var pads [16 * padLeaves]ot.Block
		for l0 := from; l0 < to; l0 += padLeaves {
			n := min(padLeaves, to-l0)
			// The key of message w of leaf l, K_w = ⊕_b k_b^{w_b} =
			// K_0 ⊕ ⊕_{b ∈ w} (k_b^0 ⊕ k_b^1).
			for i := range n {
				l := l0 + i
				var d [leafBits]ot.Block
				k := pads[16*i : 16*i+16]
				k[0] = ot.Block{}
				for b := range leafBits {
					k[0] = k[0].Xor(k0[l*leafBits+b])
					d[b] = k0[l*leafBits+b].Xor(k1[l*leafBits+b])
				}
				for w := 1; w < 16; w++ {
					k[w] = k[w&(w-1)].Xor(d[bits.TrailingZeros(uint(w))])
				}
			}
			ot.HashBlocks(pads[:16*n], pads[:16*n], first+uint64(16*l0))
			for i := range n {
				l := l0 + i
				x := leaf(lo + l)
				rg, re := uint32(coins[2*l/64]>>(2*l%64)&1), uint32(coins[2*l/64]>>(2*l%64+1)&1)
				gt[lo+l], eq[lo+l] = byte(rg), byte(re)
				// Message w: [x > w] ⊕ rg, and [x = w] ⊕ re above it.
				gtMask := uint32(1)<<x - 1 // w < x
				var word uint32
				for w := range 16 {
					v := (gtMask>>w&1 ^ rg) | (b2u(x == w)^re)<<1
					word |= (v ^ uint32(pads[16*i+w][0]&3)) << (2 * w)
				}
				binary.LittleEndian.PutUint32(msg[4*l:], word)
			}
		}
	})
	return p.conn.Send(msg)
}

// leafReceive is P1's end: it chooses with its leaf values and unpads
// the one message of each leaf its keys open.
func (p *party) leafReceive(leaf func(int) int, lo, hi int, gt, eq []byte) error {
	m := hi - lo
	choices := ot.NewBits(leafBits * m)
	for l := range m {
		y := leaf(lo + l)
		for b := range leafBits {
			choices.Set(l*leafBits+b, uint64(y>>b&1))
		}
	}
	keys, err := p.chooseROTs(choices, leafBits*m)
	if err != nil {
		return err
	}
	first := p.tweaks(16 * m)
	pads := make([]ot.Block, m)
	tw := make([]uint64, m)
	for l := range m {
		for b := range leafBits {
			pads[l] = pads[l].Xor(keys[l*leafBits+b])
		}
		tw[l] = first + uint64(16*l+leaf(lo+l))
	}
	ot.HashTweaked(pads, pads, tw)
	msg, err := p.conn.Recv()
	if err != nil {
		return err
	}
	if len(msg) != 4*m {
		return fmt.Errorf("%d bytes of leaf messages, want %d", len(msg), 4*m)
	}
	for l := range m {
		y := leaf(lo + l)
		v := binary.LittleEndian.Uint32(msg[4*l:])>>(2*y)&3 ^ uint32(pads[l][0]&3)
		gt[lo+l], eq[lo+l] = byte(v&1), byte(v>>1)
	}
	return nil
}

// padLeaves is how many leaves' pads leafSend holds at a time (16 KiB).
const padLeaves = 64

func b2u(c bool) uint32 {
	if c {
		return 1
	}
	return 0
}

// tweaks reserves n hash tweaks of the session's 1-out-of-16 OTs and
// returns the first.
func (p *party) tweaks(n int) uint64 {
	t := p.tweak
	p.tweak += uint64(n)
	return t
}
