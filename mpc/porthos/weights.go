package porthos

import (
	"encoding/hex"
	"fmt"

	"veil/ir"
	"veil/mpc"
	"veil/mpc/prg"
	"veil/tensor"
)

// MaskCacheElems bounds, per session, how many weight elements' opened
// masks P0 keeps between inferences, and the masks themselves P2 keeps
// (8 bytes each): 4 Mi elements, 32 MiB.
// Weights beyond it are masked afresh, and their mask sent again, at every
// use. The bound is public and every party applies it in the same order,
// so all three agree on which weights are cached.
const MaskCacheElems = 1 << 22

// weightMask is the session state of one cached weight tensor.
type weightMask struct {
	f []uint64 // P0: the opened F = W − B; nil at P1 and P2
	b []uint64 // P2: the mask B, drawn once instead of at every use
}

// byWeight computes shares of Φ(X, W) where X is secret-shared between
// P0 and P1 (x is this party's share, nil at P2) and W is the server's
// weight tensor, known in the clear to P1 alone (w at P1, nil at P0 and
// P2). Since X·W = X0·W + X1·W, P1 computes X1·W itself and the parties
// only need shares of X0·W, a product of P0's and P1's private values,
// which P2 helps with:
//
//  1. P0 and P2 draw A and C0 from their stream; P1 and P2 draw B. P2
//     sends C1 = Φ(A, B) − C0 to P1.
//  2. P0 sends E = X0 − A to P1; P1 sends F = W − B to P0.
//  3. P0 outputs Φ(A, F) + C0, P1 outputs Φ(X1 + E, W) + C1.
//
// Correctness: Φ(A, W − B) + Φ(A, B) + Φ(X1 + X0 − A, W) = Φ(X0 + X1, W),
// by bilinearity alone, exactly.
//
// Weight masks are kept for the session: the first time a weight tensor
// is used, B is drawn from a stream that P1 and P2 key by the tensor (and
// the program), so both can draw the same B again at every later use
// (P1 draws it only to open F; P2 keeps it rather than draw it again),
// and P0 keeps the opened F (within MaskCacheElems).
// Later inferences then send no weight traffic at all: E and C1 only.
//
// Cost: (|x| + |z|)ℓ bits per use, plus |w|ℓ the first time (or every
// time, for weights beyond the cache). The Beaver protocol with shared
// weights costs (2|x| + 2|w| + |z|)ℓ every time. 1 round either way, and
// each party evaluates Φ once instead of twice.
//
// Security (semi-honest, one corruption):
//   - P1 receives E, padded by A, which comes from the stream P1 does not
//     hold and is fresh for every product; and C1, padded by C0, likewise
//     fresh and unknown to P1.
//   - P0 receives F = W − B once per weight tensor and session, padded by
//     B, which P0 never sees. Reusing B across inferences reveals nothing
//     more: F is the same value, opened once, and B appears elsewhere
//     only inside C1 = Φ(A, B) − C0, which P0 does not see.
//   - P2 receives nothing.
//
// The simulators are those of the Beaver protocol: uniform E and C1 for
// P1, a uniform F for P0.
func (e *Engine) byWeight(label string, key weightKey, nx, nw, nz int, x, w []uint64, phi bilinear) ([]uint64, error) {
	e.round()
	cached, first := e.maskState(key, nw)
	switch e.me {
	case mpc.P2:
		s0 := e.stream(mpc.P0, label)
		a, c1 := make([]uint64, nx), make([]uint64, nz)
		s0.Uint64s(a)
		var b []uint64
		if m := e.masks[key]; cached && m != nil {
			b = m.b
		} else {
			b = make([]uint64, nw)
			e.weightStream(mpc.P1, label, key, cached).Uint64s(b)
			if cached {
				e.masks[key] = &weightMask{b: b}
			}
		}
		phi(c1, a, b)
		c0 := make([]uint64, nz)
		s0.Uint64s(c0)
		for i := range c1 {
			c1[i] -= c0[i]
		}
		return nil, e.send(mpc.P1, putU64s(nil, c1))
	case mpc.P0:
		if len(x) != nx {
			return nil, fmt.Errorf("operand of %d elements, want %d", len(x), nx)
		}
		st := e.stream(mpc.P2, label)
		a, c := make([]uint64, nx), make([]uint64, nz)
		st.Uint64s(a)
		st.Uint64s(c)
		ea := make([]uint64, nx)
		for i := range ea {
			ea[i] = x[i] - a[i]
		}
		if err := e.send(mpc.P1, putU64s(nil, ea)); err != nil {
			return nil, err
		}
		var f []uint64
		if cached && !first {
			f = e.masks[key].f
		} else {
			in, err := e.recv(mpc.P1, 8*nw)
			if err != nil {
				return nil, err
			}
			f = u64s(in, nw)
			if cached {
				e.masks[key] = &weightMask{f: f}
			}
		}
		z := make([]uint64, nz)
		phi(z, a, f)
		for i := range z {
			z[i] += c[i]
		}
		return z, nil
	}
	// P1
	if len(x) != nx || len(w) != nw {
		return nil, fmt.Errorf("operands of %d and %d elements, want %d and %d", len(x), len(w), nx, nw)
	}
	if first || !cached {
		b := make([]uint64, nw)
		e.weightStream(mpc.P2, label, key, cached).Uint64s(b)
		for i := range b {
			b[i] = w[i] - b[i]
		}
		if err := e.send(mpc.P0, putU64s(nil, b)); err != nil {
			return nil, err
		}
	}
	in, err := e.recv(mpc.P0, 8*nx)
	if err != nil {
		return nil, err
	}
	xe := u64s(in, nx)
	for i := range xe {
		xe[i] += x[i]
	}
	cb, err := e.recv(mpc.P2, 8*nz)
	if err != nil {
		return nil, err
	}
	c := u64s(cb, nz)
	z := make([]uint64, nz)
	phi(z, xe, w)
	for i := range z {
		z[i] += c[i]
	}
	return z, nil
}

// weightKey names a weight tensor of a program within a session.
type weightKey struct {
	program [32]byte // the program's public digest
	tensor  int
}

// maskState says whether the weight key names is cached for the session
// and whether this is its first use. Every party calls it for every
// weight product in the same order, with public arguments only, so the
// three agree.
func (e *Engine) maskState(key weightKey, nw int) (cached, first bool) {
	if _, ok := e.maskSeen[key]; ok {
		return e.maskSeen[key], false
	}
	cached = e.maskElems+nw <= e.maskLimit
	if cached {
		e.maskElems += nw
	}
	e.maskSeen[key] = cached
	return cached, true
}

// weightStream is the stream B is drawn from: for a cached weight, a
// stream of its own keyed by the tensor, restarted at every use so that
// the same B comes out; otherwise the running stream of label.
func (e *Engine) weightStream(peer mpc.Party, label string, key weightKey, cached bool) *prg.Stream {
	if !cached {
		return e.stream(peer, label)
	}
	lo, hi := min(e.me, peer), max(e.me, peer)
	info := fmt.Sprintf("porthos %d%d weight %x/%d %s%s", lo, hi, key.program, key.tensor,
		hex.EncodeToString(e.nonce[lo]), hex.EncodeToString(e.nonce[hi]))
	return prg.MustNew(e.net.PairKey(peer), info)
}

// convByWeight convolves the shared image x with the server's filter w
// (see byWeight), in the form Conv picks: the image or its im2col matrix
// is what gets masked.
func (e *Engine) convByWeight(key weightKey, x, w []uint64, p tensor.ConvParams) ([]uint64, error) {
	if err := checkConv(p); err != nil {
		return nil, err
	}
	nx, nw, nz := p.N*p.C*p.H*p.W, p.O*(p.C/p.Group)*p.KH*p.KW, p.N*p.O*p.OutH()*p.OutW()
	if ncols := im2colSize(p); ncols < nx {
		var cols []uint64
		if e.me != mpc.P2 {
			if len(x) != nx {
				return nil, fmt.Errorf("image of %d elements, want %d", len(x), nx)
			}
			cols = make([]uint64, ncols)
			im2col(cols, x, p)
		}
		return e.byWeight("conv.cols.w", key, ncols, nw, nz, cols, w, func(dst, c, f []uint64) { colConv(dst, c, f, p) })
	}
	return e.byWeight("conv.w", key, nx, nw, nz, x, w, func(dst, a, b []uint64) { tensor.Conv2D(dst, a, b, p) })
}

// productByWeight multiplies (MatMul or broadcasting Mul) a shared tensor
// and the server's weight, operand wi of the two (0 or 1).
func (e *Engine) productByWeight(matmul bool, key weightKey, wi int, args [][]uint64, shapes [2]ir.Shape, out ir.Shape) ([]uint64, error) {
	var phi bilinear
	if matmul {
		var err error
		if phi, err = matmulMap(shapes[0], shapes[1], out); err != nil {
			return nil, err
		}
	} else {
		ai, bi := ir.BroadcastIndex(shapes[0], out), ir.BroadcastIndex(shapes[1], out)
		phi = func(dst, a, b []uint64) {
			for i := range dst {
				dst[i] = a[ai[i]] * b[bi[i]]
			}
		}
	}
	xi := 1 - wi
	if wi == 0 {
		ab := phi
		phi = func(dst, x, w []uint64) { ab(dst, w, x) }
	}
	label := "mul.w"
	if matmul {
		label = "mm.w"
	}
	return e.byWeight(label, key, shapes[xi].Size(), shapes[wi].Size(), out.Size(), args[xi], args[wi], phi)
}
