package twopc

import (
	"fmt"

	"veil/fixed"
	"veil/ir"
	"veil/mpc"
	"veil/mpc/he"
	"veil/tensor"
)

// Linear layers by RLWE (mpc/he). For W·x with the server's W and shared
// x, the offline phase makes a mask (see masks.go) and the online phase
// sends P0's masked share. When both W and x are shared (linearShared),
// each party encrypts its share x_i under its key and sends the query;
// the other evaluates its share of W on it with a fresh mask, its own
// share; the querier decrypts its share. One round trip per direction.

// kernelKey names fixed weights of a linear layer: the program's weight
// tensor (its data, the same in every lowering of the program), the
// product within a batched MatMul, and the layer's packing.
type kernelKey struct {
	data  *uint64
	batch int
	layer string
}

// weightKey returns the key of the server's weights w (at P0, where w
// is nil, none is needed).
func weightKey(w []uint64, batch int, layer he.Layer) kernelKey {
	if len(w) == 0 {
		return kernelKey{}
	}
	return kernelKey{data: &w[0], batch: batch, layer: fmt.Sprint(layer)}
}

// kernelCacheBytes bounds the memory the server spends on weights
// transformed for the RLWE products (he.Kernels), kept for the
// session's later inferences; layers beyond it transform their weights
// on every use.
const kernelCacheBytes = 256 << 20

// kernels returns the transformed weights w of layer for key, made and
// kept while the cache has room, or nil.
func (e *Engine) kernels(key kernelKey, layer he.Layer, w []uint64) (*he.Kernels, error) {
	if k, ok := e.kernelCache[key]; ok {
		return k, nil
	}
	size, err := e.server.KernelBytes(layer)
	if err != nil {
		return nil, err
	}
	if e.kernelBytes+size > kernelCacheBytes {
		return nil, nil // streamed: transformed kernel by kernel in Eval
	}
	k, err := e.server.NewKernels(layer, w)
	if err != nil {
		return nil, err
	}
	if e.kernelCache == nil {
		e.kernelCache = map[kernelKey]*he.Kernels{}
	}
	e.kernelCache[key] = k
	e.kernelBytes += k.Bytes()
	return k, nil
}

// query sends an encryption of this party's share x and decrypts the
// other's answer: this party's share of layer(the other's w, x + theirs).
func (e *Engine) query(layer he.Layer, x []uint64) ([]uint64, error) {
	q, err := e.client.EncryptInput(layer, x)
	if err != nil {
		return nil, err
	}
	if err := e.net.Send(1-e.me, q); err != nil {
		return nil, err
	}
	resp, err := e.net.Recv(1 - e.me)
	if err != nil {
		return nil, err
	}
	z, err := e.client.DecryptOutput(layer, resp)
	if err != nil {
		return nil, &mpc.PeerError{Peer: 1 - e.me, Err: fmt.Errorf("its linear-layer response: %w", err)}
	}
	return z, nil
}

// answer evaluates the other party's query with this party's weights w
// (fixed weights named by key, or computed ones when key is nil) and
// share x, and returns this party's share of the output.
func (e *Engine) answer(key *kernelKey, layer he.Layer, w, x []uint64) ([]uint64, error) {
	var kern *he.Kernels
	if key != nil {
		var err error
		if kern, err = e.kernels(*key, layer, w); err != nil {
			return nil, err
		}
	}
	q, err := e.net.Recv(1 - e.me)
	if err != nil {
		return nil, err
	}
	var resp []byte
	var share []uint64
	if kern != nil {
		resp, share, err = e.server.EvalKernels(kern, x, q)
	} else {
		resp, share, err = e.server.Eval(layer, w, x, q)
	}
	if err != nil {
		return nil, &mpc.PeerError{Peer: 1 - e.me, Err: fmt.Errorf("its linear-layer query: %w", err)}
	}
	if err := e.net.Send(1-e.me, resp); err != nil {
		return nil, err
	}
	return share, nil
}

// linearShared returns this party's share of layer(w, a) when both the
// input a and the weights w are shared: a_own·w_own locally (local), and
// the cross terms a0·w1 and a1·w0 by a query in each direction (P0's
// first), each answered with the answering party's share of w as the
// weights and zero as its input share.
func (e *Engine) linearShared(layer he.Layer, a, w []uint64, local func(a, w []uint64) []uint64) ([]uint64, error) {
	zero := make([]uint64, layer.InputLen())
	var s, r []uint64
	var err error
	if e.me == mpc.P0 {
		if s, err = e.query(layer, a); err == nil {
			r, err = e.answer(nil, layer, w, zero)
		}
	} else {
		if r, err = e.answer(nil, layer, w, zero); err == nil {
			s, err = e.query(layer, a)
		}
	}
	if err != nil {
		return nil, err
	}
	z := local(a, w)
	for i := range z {
		z[i] += s[i] + r[i]
	}
	return z, nil
}

// matmul is MatMul instruction k (numpy semantics, batch dimensions
// broadcast) of shapes as × bs → out: one HE product per batch, with
// the server's weight operand wi in the clear (0: W·x, computed as
// (xᵀ·Wᵀ)ᵀ; 1: x·W), or both operands shared (wi < 0).
func (b *backend) matmul(k int, args [][]uint64, as, bs, out ir.Shape, wi int) ([]uint64, error) {
	e := b.e
	mm := fixed.MatMulShape(as, bs)
	M, K, N, ai, bi := mm.M, mm.K, mm.N, mm.A, mm.B
	res := make([]uint64, out.Size())
	part := func(v []uint64, i, n int) []uint64 {
		if v == nil {
			return nil
		}
		return v[i*n : (i+1)*n]
	}
	var prods []product
	if wi >= 0 {
		var err error
		if prods, err = b.online(k); err != nil {
			return nil, fmt.Errorf("MatMul %d×%d×%d: %w", M, K, N, err)
		}
	}
	for p := range ai {
		l, r := part(args[0], ai[p], M*K), part(args[1], bi[p], K*N)
		var z []uint64
		var err error
		switch wi {
		case 1: // x (M×K, shared) times W (K×N, the server's)
			z, err = e.linearByServer(prods[p], l)
		case 0: // W (M×K, the server's) times x (K×N, shared): (xᵀ·Wᵀ)ᵀ
			var zt []uint64
			zt, err = e.linearByServer(prods[p], transpose(r, K, N))
			z = transpose(zt, N, M)
		default: // both shared: any weights
			var layer *he.MatMul
			if layer, err = he.NewMatMul(e.params, M, K, N, e.params.LogT()); err == nil {
				z, err = e.linearShared(layer, l, r, func(a, w []uint64) []uint64 { return localMatMul(a, w, M, K, N) })
			}
		}
		if err != nil {
			return nil, fmt.Errorf("MatMul %d×%d×%d: %w", M, K, N, err)
		}
		copy(res[p*M*N:], z)
	}
	return res, nil
}

// transpose returns the m×n matrix x transposed (nil for nil).
func transpose(x []uint64, m, n int) []uint64 {
	if x == nil {
		return nil
	}
	t := make([]uint64, len(x))
	for i := range m {
		for j := range n {
			t[j*m+i] = x[i*n+j]
		}
	}
	return t
}

// localMatMul is a (m×k) times w (k×n) mod 2^64.
func localMatMul(a, w []uint64, m, k, n int) []uint64 {
	z := make([]uint64, m*n)
	tensor.MatMul(z, a, w, m, k, n)
	return z
}
