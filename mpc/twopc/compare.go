package twopc

import (
	"fmt"
	"slices"

	"veil/internal/parallel"
	"veil/mpc/ot"
)

// The millionaires' protocol (after CrypTFlow2): P0 holds X, P1 holds Y,
// both below 2^k; they get XOR shares of [X > Y]. The k bits split into
// q = ⌈k/4⌉ leaves of as equal widths as can be (at most leafBits bits,
// the wider ones least significant: 17 bits are leaves of 4, 4, 3, 3
// and 3); for each leaf of b bits, a 1-out-of-2^b OT from P0 hands P1
// its shares of the leaf's [x > y] and [x = y] for P1's own leaf value
// y, P0 keeping random bits as its shares. The leaves combine pairwise
// up a tree, gt = gt_hi ⊕ eq_hi ∧ gt_lo and eq = eq_hi ∧ eq_lo, one
// batch of ANDs per level.
//
// The 1-out-of-2^b OT is built from b random OTs, one per bit of P1's
// leaf value v: the pad of message w is H(t_w, ⊕_i k_i^{w_i}) with a tweak
// t_w of its own, so P1, holding k_i^{v_i}, can unpad message v alone.
// Its 2^b two-bit messages travel in ⌈2^b/4⌉ bytes.

const leafBits = 4

// leaves is the number of leaves of a k-bit comparison.
func leaves(k int) int { return (k + leafBits - 1) / leafBits }

// A leafLayout is how the k compared bits of every value split into
// leaves: leaf i of a value has width[i] bits from bit bitOff[i], takes
// width[i] random OTs and sends msgBytes(width[i]) bytes of messages;
// bitOff and msgOff have q+1 entries, the last the totals per value.
type leafLayout struct {
	k, q           int
	width          []int
	bitOff, msgOff []int
}

func newLeafLayout(k int) *leafLayout {
	q := leaves(k)
	lay := &leafLayout{k: k, q: q, width: make([]int, q), bitOff: make([]int, q+1), msgOff: make([]int, q+1)}
	for i := range q {
		lay.width[i] = k / q
		if i < k%q {
			lay.width[i]++
		}
		lay.bitOff[i+1] = lay.bitOff[i] + lay.width[i]
		lay.msgOff[i+1] = lay.msgOff[i] + msgBytes(lay.width[i])
	}
	return lay
}

// msgBytes is the size of the 2^b two-bit messages of a b-bit leaf.
func msgBytes(b int) int { return (1<<b + 3) / 4 }

// A leafRun describes the leaves of one batch, leaf l of the batch
// being leaf lo+l of the comparison (leaf i of value e at e·q + i): its
// value and width, and where its random OTs, its pads (the hash tweaks
// of its messages) and its message bytes start within the batch's (rot,
// pad and msg have one more entry: the totals).
type leafRun struct {
	val, width    []uint8
	rot, pad, msg []int
}

// fill sets r to leaves [lo, hi) of vals, walking values and leaves
// without a division per leaf.
func (r *leafRun) fill(lay *leafLayout, vals []uint64, lo, hi int) {
	m := hi - lo
	r.val, r.width = slices.Grow(r.val[:0], m)[:m], slices.Grow(r.width[:0], m)[:m]
	r.rot, r.msg = slices.Grow(r.rot[:0], m+1)[:m+1], slices.Grow(r.msg[:0], m+1)[:m+1]
	r.pad = slices.Grow(r.pad[:0], m+1)[:m+1]
	e, i := lo/lay.q, lo%lay.q
	rot, pad, msg := 0, 0, 0
	for l := range m {
		w := lay.width[i]
		r.val[l], r.width[l] = uint8(vals[e]>>lay.bitOff[i]&(1<<w-1)), uint8(w)
		r.rot[l], r.pad[l], r.msg[l] = rot, pad, msg
		rot, pad, msg = rot+w, pad+1<<w, msg+msgBytes(w)
		if i++; i == lay.q {
			i, e = 0, e+1
		}
	}
	r.rot[m], r.pad[m], r.msg[m] = rot, pad, msg
}

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

// leafBatch bounds the leaves of one batch of leaf OTs (their random
// OTs, pads and messages): 2^18 leaves, 64 MiB of pads at the sender.
// The batches of a comparison follow one another without waiting (see
// leafCompare); each is a message either way. A variable only so that
// tests can split a comparison into many batches.
var leafBatch = 1 << 18

// leafCompare sets gt and eq (n·q each) to XOR shares of every leaf's
// [x > y] and [x = y], in batches of leafBatch leaves. P1 chooses in
// every batch before it reads the first batch's messages, so the
// batches cost one round trip together instead of one each: P0 answers
// each batch's choices as they come.
func (p *party) leafCompare(vals []uint64, k int, gt, eq []byte) error {
	lay := newLeafLayout(k)
	m := len(vals) * lay.q
	if p.first() {
		for lo := 0; lo < m; lo += leafBatch {
			hi := min(lo+leafBatch, m)
			p.leaves.fill(lay, vals, lo, hi)
			if err := p.leafSend(&p.leaves, gt[lo:hi], eq[lo:hi]); err != nil {
				return fmt.Errorf("comparison leaves: %w", err)
			}
		}
		return nil
	}
	pads := make([]byte, m)
	for lo := 0; lo < m; lo += leafBatch {
		hi := min(lo+leafBatch, m)
		p.leaves.fill(lay, vals, lo, hi)
		if err := p.leafChoose(&p.leaves, pads[lo:hi]); err != nil {
			return fmt.Errorf("comparison leaves: %w", err)
		}
	}
	for lo := 0; lo < m; lo += leafBatch {
		hi := min(lo+leafBatch, m)
		p.leaves.fill(lay, vals, lo, hi)
		if err := p.leafOpen(&p.leaves, pads[lo:hi], gt[lo:hi], eq[lo:hi]); err != nil {
			return fmt.Errorf("comparison leaves: %w", err)
		}
	}
	return nil
}

// plainLeaf[x] holds the two-bit messages of a leaf with P0's value x
// before the shares and pads: bit 2w is [x > w], bit 2w+1 is [x = w].
var plainLeaf = func() (t [16]uint32) {
	for x := range t {
		for w := range 16 {
			t[x] |= b2u(x > w)<<(2*w) | b2u(x == w)<<(2*w+1)
		}
	}
	return t
}()

// leafSend is P0's end of the leaf OTs of the leaves of run: random
// shares kept in gt and eq, 2^b padded two-bit messages sent per leaf of
// b bits.
func (p *party) leafSend(run *leafRun, gt, eq []byte) error {
	m := len(run.val)
	p.sent0 = slices.Grow(p.sent0[:0], run.rot[m])[:run.rot[m]]
	rots, err := p.snd.LazyRandomOTs(p.sent0)
	if err != nil {
		return err
	}
	first := p.tweaks(run.pad[m])
	// This party's shares: two random bits per leaf.
	coins := make([]uint64, (2*m+63)/64)
	p.coins.Uint64s(coins)
	msg := make([]byte, run.msg[m])
	parallel.Ranges(m, 1<<10, func(from, to int) {
		// padLeaves leaves at a time: their random OTs' messages, the
		// keys and pads of their messages, made, hashed and used while
		// in cache.
		var k0, k1 [leafBits * padLeaves]ot.Block
		var pads [1 << leafBits * padLeaves]ot.Block
		var words [padLeaves]uint32
		for l0 := from; l0 < to; l0 += padLeaves {
			n := min(padLeaves, to-l0)
			widths := run.width[l0 : l0+n]
			nr, np := run.rot[l0+n]-run.rot[l0], run.pad[l0+n]-run.pad[l0]
			rots.Messages(run.rot[l0], k0[:nr], k1[:nr])
			leafKeys(k0[:nr], k1[:nr], widths, pads[:np])
			// Pad w of leaf l has the tweak first + run.pad[l] + w.
			ot.HashBlocks(pads[:np], pads[:np], first+uint64(run.pad[l0]))
			leafWords(pads[:np], widths, words[:n])
			for i, word := range words[:n] {
				l := l0 + i
				rg, re := uint32(coins[2*l/64]>>(2*l%64)&1), uint32(coins[2*l/64]>>(2*l%64+1)&1)
				gt[l], eq[l] = byte(rg), byte(re)
				// Message w: [x > w] ⊕ rg, and [x = w] ⊕ re above it
				// (only the 2^b messages of a b-bit leaf: a 1-bit leaf's
				// byte would otherwise carry rg and re in the clear).
				word ^= plainLeaf[run.val[l]] ^ rg*0x55555555 ^ re*0xaaaaaaaa
				word &= uint32(1<<(2<<widths[i]) - 1)
				out := msg[run.msg[l]:run.msg[l+1]]
				for j := range out {
					out[j] = byte(word >> (8 * j))
				}
			}
		}
	})
	return p.conn.Send(msg)
}

// leafChoose is P1's end of the leaf OTs of the leaves of run, before
// their messages: it chooses with its leaf values (sending the choices'
// corrections) and sets padBits[l] to the low two bits of the pad of
// the one message of leaf l its keys open.
func (p *party) leafChoose(run *leafRun, padBits []byte) error {
	m := len(run.val)
	// The choices are the leaves' values, bit after bit.
	choices := ot.NewBits(run.rot[m])
	for l, y := range run.val {
		r := run.rot[l]
		choices[r/64] |= uint64(y) << (r % 64)
		if r%64+int(run.width[l]) > 64 {
			choices[r/64+1] |= uint64(y) >> (64 - r%64)
		}
	}
	p.chosen = slices.Grow(p.chosen[:0], run.rot[m])[:run.rot[m]]
	rots, err := p.rcv.LazyRandomOTs(choices, p.chosen)
	if err != nil {
		return err
	}
	first := p.tweaks(run.pad[m])
	parallel.Ranges(m, 1<<10, func(from, to int) {
		var keys [leafBits * padLeaves]ot.Block
		var pads [padLeaves]ot.Block
		var tw [padLeaves]uint64
		for l0 := from; l0 < to; l0 += padLeaves {
			n := min(padLeaves, to-l0)
			r0 := run.rot[l0]
			rots.Chosen(r0, keys[:run.rot[l0+n]-r0])
			leafPadKeys(keys[:run.rot[l0+n]-r0], run.width[l0:l0+n], pads[:n])
			for i := range n {
				l := l0 + i
				tw[i] = first + uint64(run.pad[l]+int(run.val[l]))
			}
			ot.HashTweaked(pads[:n], pads[:n], tw[:n])
			for i := range n {
				padBits[l0+i] = byte(pads[i][0] & 3)
			}
		}
	})
	return nil
}

// leafOpen receives the messages of the leaves of run, which leafChoose
// chose in, and unpads the one of each leaf into P1's shares.
func (p *party) leafOpen(run *leafRun, padBits, gt, eq []byte) error {
	m := len(run.val)
	msg, err := p.conn.Recv()
	if err != nil {
		return err
	}
	if want := run.msg[m]; len(msg) != want {
		return fmt.Errorf("%d bytes of leaf messages, want %d", len(msg), want)
	}
	for l, y := range run.val {
		v := msg[run.msg[l]+int(y/4)]>>(2*(y%4))&3 ^ padBits[l]
		gt[l], eq[l] = v&1, v>>1
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

// tweaks reserves n hash tweaks of the session's leaf OTs (one per pad)
// and returns the first.
func (p *party) tweaks(n int) uint64 {
	t := p.tweak
	p.tweak += uint64(n)
	return t
}
