package porthos

import (
	"encoding/binary"
	"fmt"

	"veil/mpc"
	"veil/mpc/prg"
)

// Compare selects the comparison protocol behind DReLU, ReLU, MaxPool,
// MaxGroups and ArgMax. All three parties of a session must select the
// same one (a mismatch fails, on a message of the wrong length or the
// network's timeout, without releasing anything).
type Compare int

const (
	// CompareFast is the bit-sliced carry circuit with AND triples dealt
	// by P2 (see fastCmp): 833 bits and 7 rounds per ReLU (641 bits per
	// DReLU), exact for every input; on fewer bits for a program with a
	// traced comparison bound. It is the default (the zero value):
	// exact on every input and about five times cheaper in bytes and CPU
	// than ComparePorthos.
	CompareFast Compare = iota
	// ComparePorthos is the paper's protocol: ShareConvert, ComputeMSB
	// and a Beaver product (PORTHOS.md sections 6–8), 6ℓ·log p + 19ℓ =
	// 4288 bits and 9 rounds per ReLU, exact on [−2^62, 2^62); kept for
	// comparison with the paper.
	ComparePorthos
)

func (c Compare) String() string {
	switch c {
	case ComparePorthos:
		return "porthos"
	case CompareFast:
		return "fast"
	}
	return fmt.Sprintf("Compare(%d)", int(c))
}

// ParseCompare returns the protocol named s ("porthos" or "fast").
func ParseCompare(s string) (Compare, error) {
	for _, c := range []Compare{CompareFast, ComparePorthos} {
		if s == c.String() {
			return c, nil
		}
	}
	return 0, fmt.Errorf("porthos: unknown comparison protocol %q (want porthos or fast)", s)
}

// SetCompare selects the comparison protocol of this engine's later
// calls; the three parties must make the same choice.
func (e *Engine) SetCompare(c Compare) { e.cmp = c }

// fastCmp computes, for n elements with shares a over Z_L, shares over
// Z_L of D = DReLU(a) = [signed(a) ≥ 0] (0 or 1) and of y_k·D for each of
// the K vectors ys (n shares each). P2 passes a = ys = nil and gets nils.
//
// # Protocol
//
// MSB(x) for x = x0 + x1 mod 2^64 is x0_63 ⊕ x1_63 ⊕ c, where c is the
// carry into bit 63 of x0' + x1' (x_j' = x_j mod 2^63). So
// D = 1 ⊕ x0_63 ⊕ x1_63 ⊕ c, exact for every x ∈ Z_L (no precondition,
// unlike Porthos's [−2^62, 2^62)). When the program bounds every
// comparison's input below 2^k in magnitude (fixed.Program.CompareBits,
// traced with headroom), the same holds with bit b for the odd b ≥ k
// (circuitFor): D = 1 ⊕ x0_b ⊕ x1_b ⊕ (the carry into bit b), a circuit
// on b bits instead of 63 (k = 20: 438 bits and 6 rounds per ReLU
// instead of 833 and 7). The figures below are the full circuit's. The carry is computed by a
// carry-lookahead tree on XOR-shared bits, bit-sliced: bit i of all n
// elements is one plane of W = ⌈n/64⌉ words (bitPlanes), so one message
// per level carries every AND gate of the level for the whole batch.
//
//   - Leaves (round 1): the carry-lookahead tree combines nodes (G, P)
//     (generate, propagate); a leaf is the top bit (62 on the full circuit) alone, g = a∧b, p = a⊕b
//     (a = x0's bits, b = x1's), or a chunk of two bits (h, l), with
//     G = a_h b_h ⊕ (a_h a_l) b_l ⊕ a_l (b_h b_l) and
//     P = a_h a_l ⊕ b_h b_l ⊕ a_h b_l ⊕ a_l b_h (fcPairs). Every
//     product is of a bit P0 knows (u) and a bit P1 knows (v): P2 deals
//     a cross triple: P0's masks α_u and c0 come from k02, P1's masks
//     β_v from k12, and P2 sends P1 c1 = α_u∧β_v ⊕ c0. P0 sends
//     ũ = u ⊕ α_u, P1 sends ṽ = v ⊕ β_v (each input once, however many
//     products use it); P0's share of uv is u∧ṽ ⊕ c0 and P1's is
//     ũ∧β_v ⊕ c1. The XOR terms a_h a_l and b_h b_l are local. 94 bits
//     opened per party and 154 dealt: 342 bits for 32 leaves.
//   - Tree (rounds 2–6): 32 nodes (G, P), most significant first; a level of
//     m nodes carries the top one up if m is odd and combines pairs
//     (hi, lo) into G = G_hi ⊕ P_hi∧G_lo, P = P_hi∧P_lo (G_hi and
//     P_hi∧G_lo are never both 1). The lowest node of every level never
//     needs its P (it only ever is a lo child under a node that needs no
//     P, up to the root, which needs only G = c), so the lowest pair of a
//     level computes G only. The ANDs are Beaver AND gates on XOR
//     shares: P2 deals a, b, c = a∧b (P0's a, b from k02; P1's a, b, c
//     from k12; P2 sends P0's c), the parties open d = P_hi ⊕ a (once
//     for both ANDs of a pair) and e = y ⊕ b, and P_j's share is
//     [j=0]·d∧e ⊕ d∧b_j ⊕ e∧a_j ⊕ c_j. A full pair costs 3 opened bits
//     per party and 2 dealt bits (8 bits), a G-only pair 5 bits.
//   - Output (round 7): P2 deals a random bit r, XOR-shared from the
//     streams (r0 from k02, r1 from k12: free) and over Z_L (P1 draws
//     [r]_1, P2 sends [r]_0 to P0), and for each y_k a mask A_k (A0 from
//     k02, A1 from k12) with C_k = A_k·r (P0 draws C0, P2 sends C1 to
//     P1). In round 1 the parties open E_k = y_k − A_k; in round 7 they
//     open ε = D ⊕ r. Then D = ε + (1 − 2ε)·r and
//     y_k·D = ε·y_k + (1 − 2ε)·(E_k·r + C_k), all linear in [r], [C_k].
//
// All of P2's messages are data-independent and sent in round 1. P0 also
// sends P2 a constant token in round 1, which P2 waits for after sending:
// without it P2, which otherwise only sends, would finish a session that
// failed at P0 or P1 without noticing.
//
// # Cost
//
// Plane messages are packed (packPlanes): k planes of n bits take
// ⌈k·n/64⌉ words, so nothing is wasted on padding (fcBits has the exact
// count). With T = Σ over the tree levels of 2·(opened planes) + (dealt
// planes) = 125 + 61 + 29 + 13 + 5 = 233 for 32 nodes, when 64 divides n:
//
//	bits = n·(2·94 + 154 + T + 2) + 64n·(1 + 3K) = 577n + 64n·(1 + 3K)
//
// i.e. 641 bits per element for DReLU and 833 for ReLU (K = 1), 80 and
// 104 bytes, against 3968 and 4288 for Porthos (1536 bits for a single
// ReLU, the worst case), plus a 64-bit token per call (so 1600 for one
// ReLU); 7 rounds (Porthos: 8 for DReLU, 9 for ReLU).
// MaxPool with the index (K = 2) costs 1025 bits per comparison (Porthos
// 4608).
//
// # Security (semi-honest, one corruption)
//
//   - P2 receives only a constant 8-byte token from P0 per call (so that
//     it notices failures); its view is its own randomness.
//   - P1 receives: ũ = u ⊕ α_u, the openings x_0 ⊕ a_0 and y_0 ⊕ b_0 of
//     every tree level, ε_0 = D_0 ⊕ r0 and E_0 = y_0 − A0, each padded by
//     a fresh value of P0's stream with P2 (k02), which P1 never sees and
//     which pads nothing else; and from P2 c1 = α_u∧β_v ⊕ c0 and C1 = C − C0,
//     padded by c0 and C0 (k02). Every message is uniform and
//     independent of the inputs.
//   - P0's view is the mirror image: ṽ, the openings and ε_1 padded by
//     k12 values (β_v, a_1, b_1, r1, A1), and from P2 the tree c0 = c ⊕ c1
//     and [r]_0 = r − [r]_1, padded by c1 and [r]_1 (k12).
//   - The opened ε is D ⊕ r with r = r0 ⊕ r1 unknown to both P0 and P1,
//     and E = y − A with A unknown to both; the outputs are fresh shares.
func (e *Engine) fastCmp(n int, a []uint64, ys [][]uint64, K int) ([]uint64, [][]uint64, error) {
	if n <= fcMaxChunk {
		return e.fastCmpOnce(n, a, ys, K)
	}
	helper := e.me == mpc.P2
	if !helper && (len(a) != n || len(ys) != K) {
		return nil, nil, fmt.Errorf("%d shares and %d vectors for %d elements and %d vectors", len(a), len(ys), n, K)
	}
	var d []uint64
	var prods [][]uint64
	if !helper {
		d, prods = make([]uint64, 0, n), make([][]uint64, K)
		for k := range prods {
			prods[k] = make([]uint64, 0, n)
		}
	}
	for off := 0; off < n; off += fcMaxChunk {
		m := min(fcMaxChunk, n-off)
		var ac []uint64
		var yc [][]uint64
		if !helper {
			ac, yc = a[off:off+m], make([][]uint64, K)
			for k := range ys {
				yc[k] = ys[k][off : off+m]
			}
		}
		dc, pc, err := e.fastCmpOnce(m, ac, yc, K)
		if err != nil {
			return nil, nil, err
		}
		if !helper {
			d = append(d, dc...)
			for k := range pc {
				prods[k] = append(prods[k], pc[k]...)
			}
		}
	}
	return d, prods, nil
}

// fcMaxChunk bounds the elements one pass of the comparison circuit
// handles: a larger batch runs in sequential chunks, which bounds the
// protocol's temporary memory (about 150 bytes per element, 80 MB a
// party for a chunk of 2^19) at the price of its rounds once more per
// chunk. 2^19 holds every ReLU of ResNet-50 but its first (802,816
// elements): 398 rounds an inference instead of 722 with chunks of 2^17,
// in the same time on loopback (4.19 / 4.38 s against 4.20 / 4.44 s,
// alternating), the helper's peak memory 125 → 200 MB.
const fcMaxChunk = 1 << 19

// fastCmpOnce is fastCmp on one chunk.
func (e *Engine) fastCmpOnce(n int, a []uint64, ys [][]uint64, K int) ([]uint64, [][]uint64, error) {
	if n == 0 {
		if e.me == mpc.P2 {
			return nil, nil, nil
		}
		return []uint64{}, make([][]uint64, K), nil
	}
	W := (n + 63) / 64
	c := circuitFor(e.cmpBits)
	lv := c.lv
	if e.me == mpc.P2 {
		return nil, nil, e.fastCmpHelper(c, n, W, K)
	}
	if len(a) != n || len(ys) != K {
		return nil, nil, fmt.Errorf("%d shares and %d vectors for %d elements and %d vectors", len(a), len(ys), n, K)
	}
	for k, y := range ys {
		if len(y) != n {
			return nil, nil, fmt.Errorf("vector %d has %d shares for %d elements", k, len(y), n)
		}
	}
	p0 := e.me == mpc.P0
	other := e.other()
	x := bitPlanes(a, W)
	e.tmp.reset()

	// Randomness of round 1 and of the output.
	leafSt, outSt := e.stream(mpc.P2, "fc.leaf"), e.stream(mpc.P2, "fc.out")
	mask := e.tmp.get(c.open * W) // α at P0, β at P1
	fcDraw(leafSt, mask)
	var lc []uint64 // P0's leaf c0
	if p0 {
		lc = e.tmp.get(len(c.pairs) * W)
		fcDraw(leafSt, lc)
	}
	r := e.tmp.get(W) // r_j
	fcDraw(outSt, r)
	var rA []uint64 // [r]_1 at P1
	if !p0 {
		rA = e.tmp.get(n)
		fcDraw(outSt, rA)
	}
	A := make([][]uint64, K)
	for k := range A {
		A[k] = e.tmp.get(n)
		fcDraw(outSt, A[k])
	}
	var C [][]uint64
	if p0 {
		C = make([][]uint64, K)
		for k := range C {
			C[k] = e.tmp.get(n)
			fcDraw(outSt, C[k])
		}
	}

	// Round 1: leaf openings and E_k; P2's deals arrive.
	e.round()
	u := c.fcInputs(x, W) // this party's leaf inputs
	op := e.tmp.get(c.open * W)
	xorTo(op, u, mask)
	pw := packedLen(c.open, n)
	msg := append(packPlanes(op, c.open, W, n), make([]uint64, K*n)...)
	for k := range ys {
		o := msg[pw+k*n : pw+(k+1)*n]
		for i := range o {
			o[i] = ys[k][i] - A[k][i]
		}
	}
	if p0 {
		// The token tells P2 that P0 is still running (see fastCmpHelper).
		if err := e.send(mpc.P2, make([]byte, fcTokenLen)); err != nil {
			return nil, nil, err
		}
	}
	in, err := e.exchange(other, msg)
	if err != nil {
		return nil, nil, err
	}
	inE, in := in[pw:], unpackPlanes(in[:pw], c.open, W, n)
	var dealt []uint64
	if p0 {
		dw := packedLen(lv.dealt, n)
		b, err := e.recv(mpc.P2, 8*(dw+n))
		if err != nil {
			return nil, nil, err
		}
		d := u64s(b, dw+n)
		rA = d[dw:]
		dealt = unpackPlanes(d[:dw], lv.dealt, W, n)
	} else {
		nc := packedLen(len(c.pairs), n)
		b, err := e.recv(mpc.P2, 8*(nc+K*n))
		if err != nil {
			return nil, nil, err
		}
		d := u64s(b, nc+K*n)
		lc = unpackPlanes(d[:nc], len(c.pairs), W, n)
		C = make([][]uint64, K)
		for k := range C {
			C[k] = d[nc+k*n : nc+(k+1)*n]
		}
	}
	for k := range A {
		E := A[k] // A_k is not needed any more: it becomes E_k
		o := inE[k*n:]
		for i := range E {
			E[i] = msg[pw+k*n+i] + o[i] // E_k = y_k − A_k
		}
	}
	// Leaves: the cross products, then the nodes (bit b − 1 alone, then the
	// 2-bit chunks from the top).
	cross := e.tmp.get(len(c.pairs) * W) // every pair's planes written below
	for q, pr := range c.pairs {
		z, cq := cross[q*W:(q+1)*W], lc[q*W:(q+1)*W]
		if p0 { // u ∧ ṽ ⊕ c0
			a, v := u[pr[0]*W:(pr[0]+1)*W], in[pr[1]*W:(pr[1]+1)*W]
			for w := range z {
				z[w] = a[w]&v[w] ^ cq[w]
			}
		} else { // ũ ∧ β ⊕ c1
			a, b := in[pr[0]*W:(pr[0]+1)*W], mask[pr[1]*W:(pr[1]+1)*W]
			for w := range z {
				z[w] = a[w]&b[w] ^ cq[w]
			}
		}
	}
	G := make([]uint64, c.nodes*W)
	P := make([]uint64, c.nodes*W)
	copy(G[:W], cross[:W])
	copy(P[:W], u[:W])
	for k := 0; k < c.chunks; k++ {
		q := 1 + 5*k // the chunk's first cross product
		g, pp := G[(k+1)*W:(k+2)*W], P[(k+1)*W:(k+2)*W]
		hl := u[(3+3*k)*W : (4+3*k)*W]
		for w := range g {
			g[w] = cross[q*W+w] ^ cross[(q+1)*W+w] ^ cross[(q+2)*W+w]
		}
		if k < c.chunks-1 {
			for w := range pp {
				pp[w] = hl[w] ^ cross[(q+3)*W+w] ^ cross[(q+4)*W+w]
			}
		}
	}

	// Tree levels.
	andSt := e.stream(mpc.P2, "fc.and")
	m := c.nodes
	for _, l := range lv.levels {
		g, Y := l.pairs, 2*l.pairs-1
		nr := (g + Y) * W
		if !p0 {
			nr += Y * W
		}
		rnd := e.tmp.get(nr)
		fcDraw(andSt, rnd)
		am, bm := rnd[:g*W], rnd[g*W:(g+Y)*W]
		var cm []uint64
		if p0 {
			cm, dealt = dealt[:Y*W], dealt[Y*W:]
		} else {
			cm = rnd[(g+Y)*W:]
		}
		e.round()
		out := e.tmp.get((g + Y) * W) // every plane written below
		for q := 0; q < g; q++ {
			hi, lo := l.odd+2*q, l.odd+2*q+1
			xorTo(out[q*W:(q+1)*W], P[hi*W:(hi+1)*W], am[q*W:(q+1)*W])
			yo := (g + 2*q) * W
			xorTo(out[yo:yo+W], G[lo*W:(lo+1)*W], bm[2*q*W:(2*q+1)*W])
			if q < g-1 {
				xorTo(out[yo+W:yo+2*W], P[lo*W:(lo+1)*W], bm[(2*q+1)*W:(2*q+2)*W])
			}
		}
		in, err := e.exchangePlanes(other, out, g+Y, W, n)
		if err != nil {
			return nil, nil, err
		}
		for i := range out {
			out[i] ^= in[i] // opened d (g planes) and e (Y planes)
		}
		mm := l.odd + g
		nG, nP := make([]uint64, mm*W), make([]uint64, mm*W)
		if l.odd == 1 {
			copy(nG[:W], G[:W])
			copy(nP[:W], P[:W])
		}
		for q := 0; q < g; q++ {
			hi := l.odd + 2*q
			d, aj := out[q*W:(q+1)*W], am[q*W:(q+1)*W]
			dst := l.odd + q
			for s := 0; s < 2; s++ {
				yi := 2*q + s
				if yi >= Y {
					break
				}
				ev, bj, cj := out[(g+yi)*W:(g+yi+1)*W], bm[yi*W:(yi+1)*W], cm[yi*W:(yi+1)*W]
				var z []uint64
				if s == 0 {
					z = nG[dst*W : (dst+1)*W]
					copy(z, G[hi*W:(hi+1)*W])
				} else {
					z = nP[dst*W : (dst+1)*W]
				}
				for w := range z {
					v := d[w]&bj[w] ^ ev[w]&aj[w] ^ cj[w]
					if p0 {
						v ^= d[w] & ev[w]
					}
					z[w] ^= v
				}
			}
		}
		G, P, m = nG, nP, mm
	}
	if m != 1 {
		return nil, nil, fmt.Errorf("internal: comparison tree ends with %d nodes", m)
	}

	// Output round: open ε = D ⊕ r.
	e.round()
	eps := make([]uint64, W)
	msb := x[c.b*W : (c.b+1)*W]
	for w := range eps {
		d := msb[w] ^ G[w]
		if p0 {
			d = ^d
		}
		eps[w] = d ^ r[w]
	}
	in, err = e.exchangePlanes(other, eps, 1, W, n)
	if err != nil {
		return nil, nil, err
	}
	for w := range eps {
		eps[w] ^= in[w]
	}
	D := make([]uint64, n)
	prods := make([][]uint64, K)
	for k := range prods {
		prods[k] = make([]uint64, n)
	}
	for i := range D {
		eb := eps[i>>6] >> (i & 63) & 1
		s := 1 - 2*eb // 1 − 2ε
		if p0 {
			D[i] = eb + s*rA[i]
		} else {
			D[i] = s * rA[i]
		}
		for k := range prods {
			prods[k][i] = eb*ys[k][i] + s*(A[k][i]*rA[i]+C[k][i])
		}
	}
	return D, prods, nil
}

// fastCmpHelper is P2's part of fastCmp: it draws both parties' masks and
// sends, in round 1, P1 the leaf c1 and the C1_k, P0 the tree c0 and
// [r]_0.
func (e *Engine) fastCmpHelper(c *fcCircuit, n, W, K int) error {
	lv := c.lv
	s0l, s1l := e.stream(mpc.P0, "fc.leaf"), e.stream(mpc.P1, "fc.leaf")
	s0o, s1o := e.stream(mpc.P0, "fc.out"), e.stream(mpc.P1, "fc.out")
	s0a, s1a := e.stream(mpc.P0, "fc.and"), e.stream(mpc.P1, "fc.and")
	e.tmp.reset()
	// Leaf cross triples: c1 = α_u∧β_v ⊕ c0.
	alpha, c0 := e.tmp.get(c.open*W), e.tmp.get(len(c.pairs)*W)
	fcDraw(s0l, alpha)
	fcDraw(s0l, c0)
	beta := e.tmp.get(c.open * W)
	fcDraw(s1l, beta)
	to1 := e.tmp.get(len(c.pairs) * W) // every element written below
	for q, pr := range c.pairs {
		for w := 0; w < W; w++ {
			to1[q*W+w] = alpha[pr[0]*W+w]&beta[pr[1]*W+w] ^ c0[q*W+w]
		}
	}
	to1 = packPlanes(to1, len(c.pairs), W, n)
	// Output: r, [r]_0 = r − [r]_1, C1 = A·r − C0.
	r0, r1 := e.tmp.get(W), e.tmp.get(W)
	fcDraw(s0o, r0)
	fcDraw(s1o, r1)
	rA1 := e.tmp.get(n)
	fcDraw(s1o, rA1)
	rb := e.tmp.get(n) // every element written below
	for i := range rb {
		rb[i] = (r0[i>>6] ^ r1[i>>6]) >> (i & 63) & 1
	}
	A0, C0 := make([][]uint64, K), make([][]uint64, K)
	for k := range A0 {
		A0[k] = e.tmp.get(n)
		fcDraw(s0o, A0[k])
	}
	for k := range C0 {
		C0[k] = e.tmp.get(n)
		fcDraw(s0o, C0[k])
	}
	A1 := e.tmp.get(n)
	for k := 0; k < K; k++ {
		fcDraw(s1o, A1)
		for i := range A1 {
			to1 = append(to1, (A0[k][i]+A1[i])*rb[i]-C0[k][i])
		}
	}
	// Tree triples: P0's c0 = (a0⊕a1)∧(b0⊕b1) ⊕ c1.
	to0 := make([]uint64, 0, lv.dealt*W+n)
	for _, l := range lv.levels {
		g, Y := l.pairs, 2*l.pairs-1
		r0 := e.tmp.get((g + Y) * W)
		r1 := e.tmp.get((g + 2*Y) * W)
		fcDraw(s0a, r0)
		fcDraw(s1a, r1)
		for yi := 0; yi < Y; yi++ {
			q := yi / 2
			for w := 0; w < W; w++ {
				av := r0[q*W+w] ^ r1[q*W+w]
				bv := r0[(g+yi)*W+w] ^ r1[(g+yi)*W+w]
				to0 = append(to0, av&bv^r1[(g+Y+yi)*W+w])
			}
		}
	}
	to0 = packPlanes(to0, lv.dealt, W, n)
	for i := range rA1 {
		to0 = append(to0, rb[i]-rA1[i])
	}
	e.round()
	if err := e.send(mpc.P0, putU64s(nil, to0)); err != nil {
		return err
	}
	if err := e.send(mpc.P1, putU64s(nil, to1)); err != nil {
		return err
	}
	// P2 would otherwise only ever send: waiting for P0's token (after
	// sending, so that nothing waits on it) lets a failure of P0, or one
	// P0 noticed at P1 (P0's abort notice arrives instead), stop P2 too.
	if _, err := e.recv(mpc.P0, fcTokenLen); err != nil {
		return err
	}
	for range lv.levels {
		e.round()
	}
	e.round()
	return nil
}

// fcTokenLen is the size of P0's token to P2 in every fastCmp call: a
// constant (zero) word that carries no information.
const fcTokenLen = 8

// exchange sends msg to the other primary party and returns its message
// of the same length.
func (e *Engine) exchange(other mpc.Party, msg []uint64) ([]uint64, error) {
	if err := e.send(other, putU64s(nil, msg)); err != nil {
		return nil, err
	}
	b, err := e.recv(other, 8*len(msg))
	if err != nil {
		return nil, err
	}
	return u64s(b, len(msg)), nil
}

// exchangePlanes sends the k planes (W words each) of msg, packed, to
// the other primary party and returns its k planes.
func (e *Engine) exchangePlanes(other mpc.Party, msg []uint64, k, W, n int) ([]uint64, error) {
	in, err := e.exchange(other, packPlanes(msg, k, W, n))
	if err != nil {
		return nil, err
	}
	return unpackPlanes(in, k, W, n), nil
}

// packedLen is the number of words of k planes of n bits packed.
func packedLen(k, n int) int { return (k*n + 63) / 64 }

// packPlanes returns the first n bits of each of the k planes (W words
// each) of v as one bit string, plane after plane, in packedLen(k, n)
// words: when 64 divides n this is v itself; otherwise the padding bits
// of the last word of each plane are not sent.
func packPlanes(v []uint64, k, W, n int) []uint64 {
	if n%64 == 0 {
		return v
	}
	out := make([]uint64, packedLen(k, n))
	pos := 0
	for p := 0; p < k; p++ {
		for w := 0; w < W; w++ {
			nb := min(64, n-64*w)
			x := v[p*W+w]
			if nb < 64 {
				x &= 1<<nb - 1
			}
			q, r := pos>>6, pos&63
			out[q] |= x << r
			if r != 0 && r+nb > 64 {
				out[q+1] |= x >> (64 - r)
			}
			pos += nb
		}
	}
	return out
}

// unpackPlanes inverts packPlanes (the padding bits come back 0).
func unpackPlanes(in []uint64, k, W, n int) []uint64 {
	if n%64 == 0 {
		return in
	}
	v := make([]uint64, k*W)
	pos := 0
	for p := 0; p < k; p++ {
		for w := 0; w < W; w++ {
			nb := min(64, n-64*w)
			q, r := pos>>6, pos&63
			x := in[q] >> r
			if r != 0 && r+nb > 64 {
				x |= in[q+1] << (64 - r)
			}
			if nb < 64 {
				x &= 1<<nb - 1
			}
			v[p*W+w] = x
			pos += nb
		}
	}
	return v
}

func xorTo(dst, a, b []uint64) {
	for i := range dst {
		dst[i] = a[i] ^ b[i]
	}
}

// The carry into bit b (63, or fewer under a traced bound: see
// circuitFor) is computed from bits b−1..0: bit b−1 alone, then chunks
// of two bits (hi, lo) = (b − 2 − 2k, b − 3 − 2k). Each party opens,
// masked, the circuit's open leaf inputs: its bit b−1, and per chunk its
// bits hi, lo and hi∧lo (fcInputs). For P0's bits a and P1's bits b,
//
//	G_chunk = a_h b_h ⊕ (a_h a_l) b_l ⊕ a_l (b_h b_l)
//	P_chunk = a_h a_l ⊕ b_h b_l ⊕ a_h b_l ⊕ a_l b_h
//
// (from G = g_h ⊕ p_h g_l, P = p_h p_l with g = a∧b, p = a⊕b), so the
// chunk needs the 5 cross products of pairs (3 for the lowest chunk,
// whose P is never used), each from one dealt cross triple.
type fcCircuit struct {
	b      int      // the bit whose carry in the circuit computes (odd)
	chunks int      // (b − 1)/2
	nodes  int      // nodes entering the tree: 1 + chunks
	open   int      // leaf planes each party opens: 1 + 3·chunks
	pairs  [][2]int // the leaf cross products (fcPairs)
	lv     fcLevels // the tree (fcPlan)
}

// fcFull is the circuit of the carry into bit 63: exact for every input.
const fcFull = 63

// fcCircuits holds the circuit of every odd width.
var fcCircuits = func() (cs [fcFull + 1]*fcCircuit) {
	for b := 3; b <= fcFull; b += 2 {
		c := &fcCircuit{b: b, chunks: (b - 1) / 2}
		c.nodes, c.open = 1+c.chunks, 1+3*c.chunks
		c.pairs = fcPairs(c.chunks)
		c.lv = fcPlan(c.nodes)
		cs[b] = c
	}
	return cs
}()

// circuitFor returns the circuit for inputs below 2^bits in magnitude (0
// meaning no bound): x ∈ (−2^b, 2^b) for the odd b ≥ bits, so that
// x + 2^b ∈ (0, 2^(b+1)) and DReLU(x) is its bit b, which is 1 ⊕ x0_b ⊕
// x1_b ⊕ (the carry into bit b of the shares' low b bits): the same
// circuit on b bits instead of 63. An input beyond the bound gives a
// wrong bit; the compiler's trace (fixed.Program.CompareBits) keeps
// headroom above every value seen on its calibration data.
func circuitFor(bits int) *fcCircuit {
	if bits <= 0 || bits >= fcFull {
		return fcCircuits[fcFull]
	}
	return fcCircuits[max(bits|1, 3)]
}

// fcPairs lists the leaf cross products (P0's input, P1's input), as
// indices into fcInputs: bit b−1's, then per chunk k (inputs h = 1 + 3k,
// l = 2 + 3k, hl = 3 + 3k) (h, h), (hl, l), (l, hl) for G and, but for
// the last chunk, (h, l), (l, h) for P.
func fcPairs(chunks int) [][2]int {
	ps := [][2]int{{0, 0}}
	for k := 0; k < chunks; k++ {
		h, l, hl := 1+3*k, 2+3*k, 3+3*k
		ps = append(ps, [2]int{h, h}, [2]int{hl, l}, [2]int{l, hl})
		if k < chunks-1 {
			ps = append(ps, [2]int{h, l}, [2]int{l, h})
		}
	}
	return ps
}

// fcInputs returns a party's c.open leaf input planes from its bit planes
// x: bit b−1, then per chunk bits hi and lo and their AND.
func (c *fcCircuit) fcInputs(x []uint64, W int) []uint64 {
	u := make([]uint64, c.open*W)
	b := c.b
	copy(u[:W], x[(b-1)*W:b*W])
	for k := 0; k < c.chunks; k++ {
		h, l := x[(b-2-2*k)*W:(b-1-2*k)*W], x[(b-3-2*k)*W:(b-2-2*k)*W]
		o := u[(1+3*k)*W : (4+3*k)*W]
		copy(o[:W], h)
		copy(o[W:2*W], l)
		for w := 0; w < W; w++ {
			o[2*W+w] = h[w] & l[w]
		}
	}
	return u
}

// fcLevel is one level of the carry tree: pairs of nodes combined, after
// odd (0 or 1) top node carried up unchanged. The last pair computes G
// only, the others G and P: 2·pairs − 1 AND outputs, pairs opened x planes.
type fcLevel struct{ pairs, odd int }

type fcLevels struct {
	levels []fcLevel
	dealt  int // tree c planes P2 sends P0: Σ (2·pairs − 1)
}

func fcPlan(nodes int) fcLevels {
	var lv fcLevels
	for m := nodes; m > 1; {
		l := fcLevel{pairs: m / 2, odd: m % 2}
		lv.levels = append(lv.levels, l)
		lv.dealt += 2*l.pairs - 1
		m = l.odd + l.pairs
	}
	return lv
}

// fcBits is the exact number of bits fastCmp puts on the wire, over all
// parties, for n elements and K products. A message of k planes carries
// them packed, in 64·⌈k·n/64⌉ bits (packPlanes), so with ⌈x⌉ short for
// 64·⌈x·n/64⌉:
//
//	2·(⌈94⌉ + 64Kn)          leaf openings and E_k, both ways
//	⌈154⌉ + 64Kn             P2 → P1: leaf c1 and C1_k
//	⌈57⌉ + 64n               P2 → P0: tree c0 (Σ dealt planes) and [r]_0
//	Σ_levels 2·⌈g + Y⌉       tree openings (g pairs, Y AND outputs)
//	2·⌈1⌉                    ε
//	64                       P0 → P2: a constant token, once per call
func (c *fcCircuit) fcBits(n, K int) int64 {
	if n == 0 {
		return 0
	}
	pl := func(k int) int64 { return 64 * int64(packedLen(k, n)) }
	lv := c.lv
	b := 8*fcTokenLen + 2*(pl(c.open)+64*int64(K*n)) + pl(len(c.pairs)) + 64*int64(K*n) + pl(lv.dealt) + 64*int64(n) + 2*pl(1)
	for _, l := range lv.levels {
		b += 2 * pl(3*l.pairs-1)
	}
	return b
}

// fcRounds is fastCmp's number of rounds: leaves, tree levels, output.
func (c *fcCircuit) fcRounds() int { return 1 + len(c.lv.levels) + 1 }

// bitPlanes returns the 64 bit planes of v: word w of plane i (at
// i·W + w) holds bit i of v[64w .. 64w+63], element 64w + k at bit k.
func bitPlanes(v []uint64, W int) []uint64 {
	out := make([]uint64, 64*W)
	var blk [64]uint64
	for w := 0; w < W; w++ {
		blk = [64]uint64{}
		copy(blk[:], v[64*w:min(len(v), 64*w+64)])
		transpose64(&blk)
		for i := range blk {
			out[i*W+w] = blk[i]
		}
	}
	return out
}

// transpose64 transposes a 64×64 bit matrix, row r in m[r] with column c
// at bit c: afterwards bit c of m[r] is the old bit r of m[c].
func transpose64(m *[64]uint64) {
	masks := [...]uint64{0x00000000FFFFFFFF, 0x0000FFFF0000FFFF, 0x00FF00FF00FF00FF, 0x0F0F0F0F0F0F0F0F, 0x3333333333333333, 0x5555555555555555}
	for s, j := 0, 32; j != 0; s, j = s+1, j>>1 {
		mk := masks[s]
		for k := 0; k < 64; k++ {
			if k&j != 0 {
				continue
			}
			t := (m[k]>>j ^ m[k|j]) & mk
			m[k] ^= t << j
			m[k|j] ^= t
		}
	}
}

// dreluTimes returns shares of b·d, followed if withIndex by b·di, for
// b = DReLU(d) (n elements each; P2 passes nils): MaxGroups's products,
// with the selected comparison protocol.
func (e *Engine) dreluTimes(n int, d, di []uint64, withIndex bool) ([]uint64, error) {
	K := 1
	if withIndex {
		K = 2
	}
	if e.cmp == CompareFast {
		var ys [][]uint64
		if e.me != mpc.P2 {
			ys = [][]uint64{d}
			if withIndex {
				ys = append(ys, di)
			}
		}
		_, p, err := e.fastCmp(n, d, ys, K)
		if err != nil || e.me == mpc.P2 {
			return nil, err
		}
		if withIndex {
			return append(p[0], p[1]...), nil
		}
		return p[0], nil
	}
	b, err := e.drelu(n, d)
	if err != nil {
		return nil, err
	}
	x, y := b, d
	if withIndex && e.me != mpc.P2 {
		x, y = append(b, b...), append(d, di...)
	}
	return e.mulElem(K*n, x, y)
}

// fcDraw fills dst with stream words: 8 stream bytes each, little-endian,
// read in bulk. All of fastCmp's streams are drawn only through fcDraw.
func fcDraw(st *prg.Stream, dst []uint64) {
	const chunk = 512
	var buf [8 * chunk]byte
	for len(dst) > 0 {
		k := min(len(dst), chunk)
		b := buf[:8*k]
		st.Read(b)
		for i := range dst[:k] {
			dst[i] = binary.LittleEndian.Uint64(b[8*i:])
		}
		dst = dst[k:]
	}
}
