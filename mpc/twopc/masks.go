package twopc

import (
	"encoding/binary"
	"errors"
	"fmt"

	"veil/fixed"
	"veil/mpc"
	"veil/mpc/he"
)

// The linear layers' masks, made offline (after Delphi, Mishra et al.,
// USENIX Security 2020). A product W·x of the server's weights W and
// shared x = x0 + x1 needs nothing of x ahead of the input but a mask:
// offline, P0 draws a uniform r, sends its encryption, and P1 answers
// with W·r − s for a fresh uniform s of its own (he.Server.Eval with a
// share of zero), which P0 decrypts. Online, P0 sends d = x0 − r in the
// clear and keeps W·r − s as its share of W·x; P1 computes
// W·(x1 + d) + s, its share, in the clear. The two add up to W·x.
//
// Security (semi-honest): r is uniform over Z_2^64, drawn once per
// product and used once, so d is uniform and independent of x0: P1's
// online view is a one-time pad of P0's share, and its offline view is
// the RLWE query it already saw in the online protocol, on r instead of
// x0. P0's view is a response decrypting to W·r − s with s uniform and
// the flood hiding W's noise, as before. What moves is only when the
// work is done: every RLWE query, evaluation and decryption runs
// before the input, all queries of an offline window sent back to back
// so that the client's encryptions, the server's evaluations and the
// decryptions overlap, and the online phase pays one message of 8
// bytes per input element, no round trip, and the server's product in
// the clear.

// product is one RLWE product of a linear instruction by the server's
// weights: its layer, the weights (at P1; nil at P0) and the key of
// their transform (see Engine.kernels).
type product struct {
	layer he.Layer
	w     []uint64
	key   kernelKey
}

// linearMask is what the offline phase made for one product: at P0 the
// mask r of its input and P0's share of W·r, at P1 its share.
type linearMask struct {
	layer he.Layer
	r     []uint64 // P0 only
	share []uint64
}

// errMasks reports masks out of step with the products a run takes: a
// defect of the schedule, not of the peer.
var errMasks = errors.New("internal error: the offline phase's linear masks are out of step with the run")

// products returns the RLWE products of instruction in by the server's
// weights, in the order a run takes them: one per Conv by a weight
// filter, one per batch element of a MatMul by a weight operand, none
// for any other instruction; each batched over runs runs (the images of
// a Conv, the rows of a MatMul's shared operand, run after run).
func (b *backend) products(in *fixed.Instr, runs int) ([]product, error) {
	wi := b.prog.WeightOperand(in)
	switch {
	case in.Op == fixed.Conv && wi == 1:
		cp := b.prog.ConvParams(in)
		cp.N *= runs
		layer, err := he.NewConv(b.e.params, cp, b.weightBits(in, 1))
		if err != nil {
			return nil, fmt.Errorf("Conv %v: %w", cp, err)
		}
		w := b.clear(&weight{in.In[1]})
		return []product{{layer: layer, w: w, key: weightKey(w, 0, layer)}}, nil
	case in.Op == fixed.MatMul && wi >= 0:
		mm := fixed.MatMulShape(b.prog.Tensors[in.In[0]].Shape, b.prog.Tensors[in.In[1]].Shape)
		M, K, N := mm.M, mm.K, mm.N
		wbits := b.weightBits(in, wi)
		w := b.clear(&weight{in.In[wi]})
		prods := make([]product, len(mm.A))
		for p := range mm.A {
			var layer *he.MatMul
			var err error
			var part, lw []uint64
			if wi == 1 { // x (M×K, shared) times W (K×N)
				layer, err = he.NewMatMul(b.e.params, runs*M, K, N, wbits)
				if w != nil {
					part = w[mm.B[p]*K*N : (mm.B[p]+1)*K*N]
					lw = part
				}
			} else { // W (M×K) times x (K×N): (xᵀ·Wᵀ)ᵀ
				layer, err = he.NewMatMul(b.e.params, runs*N, K, M, wbits)
				if w != nil {
					part = w[mm.A[p]*M*K : (mm.A[p]+1)*M*K]
					lw = transpose(part, M, K)
				}
			}
			if err != nil {
				return nil, fmt.Errorf("MatMul %d×%d×%d: %w", M, K, N, err)
			}
			prods[p] = product{layer: layer, w: lw, key: weightKey(part, p, layer)}
		}
		return prods, nil
	}
	return nil, nil
}

// precomputeLinear makes the masks of the products of instructions
// from…to−1 for b.runs runs and keeps this run's products for the
// online phase (b.prods).
func (b *backend) precomputeLinear(from, to int) error {
	var single, made []product
	for k := from; k < to; k++ {
		in := &b.prog.Instrs[k]
		ps, err := b.products(in, 1)
		if err != nil {
			return err
		}
		if ps == nil {
			continue
		}
		b.prods[k] = ps
		single = append(single, ps...)
		if b.runs > 1 {
			batched, err := b.products(in, b.runs)
			if err != nil {
				return err
			}
			made = append(made, batched...)
		}
	}
	if b.runs == 1 {
		made = single
	}
	var masks []linearMask
	if len(made) > 0 {
		var err error
		if masks, err = b.e.linearMasks(made); err != nil {
			return fmt.Errorf("offline phase: linear layers: %w", err)
		}
	}
	if b.runs == 1 {
		b.e.masks = append(b.e.masks, masks...)
		return nil
	}
	return b.e.splitMasks(masks, single, b.runs)
}

// linearMasks runs the offline part of prods and returns their masks:
// P0 sends every query before it reads the first response, so that P1
// evaluates one while P0 encrypts the next.
func (e *Engine) linearMasks(prods []product) ([]linearMask, error) {
	masks := make([]linearMask, 0, len(prods))
	if e.me == mpc.P0 {
		rs := make([][]uint64, len(prods))
		for i, pr := range prods {
			rs[i] = make([]uint64, pr.layer.InputLen())
			e.p.coins.Uint64s(rs[i])
			q, err := e.client.EncryptInput(pr.layer, rs[i])
			if err != nil {
				return nil, err
			}
			if err := e.net.Send(1-e.me, q); err != nil {
				return nil, err
			}
		}
		for i, pr := range prods {
			resp, err := e.net.Recv(1 - e.me)
			if err != nil {
				return nil, err
			}
			z, err := e.client.DecryptOutput(pr.layer, resp)
			if err != nil {
				return nil, &mpc.PeerError{Peer: 1 - e.me, Err: fmt.Errorf("its linear-layer response: %w", err)}
			}
			masks = append(masks, linearMask{layer: pr.layer, r: rs[i], share: z})
		}
		return masks, nil
	}
	for _, pr := range prods {
		kern, err := e.kernels(pr.key, pr.layer, pr.w)
		if err != nil {
			return nil, err
		}
		q, err := e.net.Recv(1 - e.me)
		if err != nil {
			return nil, err
		}
		var resp []byte
		var share []uint64
		if kern != nil {
			resp, share, err = e.server.EvalKernels(kern, nil, q)
		} else {
			resp, share, err = e.server.Eval(pr.layer, pr.w, nil, q)
		}
		if err != nil {
			return nil, &mpc.PeerError{Peer: 1 - e.me, Err: fmt.Errorf("its linear-layer query: %w", err)}
		}
		if err := e.net.Send(1-e.me, resp); err != nil {
			return nil, err
		}
		masks = append(masks, linearMask{layer: pr.layer, share: share})
	}
	return masks, nil
}

// online returns the products of instruction k that the offline phase
// made masks for.
func (b *backend) online(k int) ([]product, error) {
	ps, ok := b.prods[k]
	if !ok {
		return nil, errMasks
	}
	delete(b.prods, k)
	return ps, nil
}

// takeMask returns the next queued mask, which must be layer's.
func (e *Engine) takeMask(layer he.Layer) (linearMask, error) {
	if len(e.masks) == 0 || e.masks[0].layer != layer {
		return linearMask{}, errMasks
	}
	m := e.masks[0]
	e.masks[0] = linearMask{}
	e.masks = e.masks[1:]
	return m, nil
}

// linearByServer returns this party's share of the product pr of the
// server's weights and the shares x, by the mask made offline.
func (e *Engine) linearByServer(pr product, x []uint64) ([]uint64, error) {
	m, err := e.takeMask(pr.layer)
	if err != nil {
		return nil, err
	}
	if len(x) != pr.layer.InputLen() {
		return nil, fmt.Errorf("%d inputs, the layer takes %d", len(x), pr.layer.InputLen())
	}
	if e.me == mpc.P0 {
		d := make([]uint64, len(x))
		for i := range d {
			d[i] = x[i] - m.r[i]
		}
		if err := e.net.Send(1-e.me, words(d)); err != nil {
			return nil, err
		}
		return m.share, nil
	}
	msg, err := e.net.Recv(1 - e.me)
	if err != nil {
		return nil, err
	}
	if len(msg) != 8*len(x) {
		return nil, &mpc.PeerError{Peer: 1 - e.me, Err: fmt.Errorf("sent a masked linear-layer input of %d bytes, want %d", len(msg), 8*len(x))}
	}
	v := make([]uint64, len(x))
	for i := range v {
		v[i] = x[i] + binary.LittleEndian.Uint64(msg[8*i:])
	}
	y, err := he.Product(pr.layer, pr.w, v)
	if err != nil {
		return nil, err
	}
	for i := range y {
		y[i] += m.share[i]
	}
	return y, nil
}
