package he

import (
	"math/rand/v2"
	"sync/atomic"
	"testing"

	"veil/tensor"
)

// parties is a client and a server that share a public key.
type parties struct {
	c *Client
	s *Server
}

func newParties(t testing.TB, p *Params) parties {
	t.Helper()
	c, err := NewClient(p)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := c.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewServer(p, pk)
	if err != nil {
		t.Fatal(err)
	}
	return parties{c, s}
}

// runs counts the runs of run.
var runs atomic.Int64

// run runs layer l on the shares xC, xS with weights w and returns the
// reconstructed output, checking the message sizes on the way. Every
// other run (over the test binary) evaluates with the weights
// transformed ahead (NewKernels, EvalKernels), so each layer test
// covers both paths.
func (ps parties) run(t testing.TB, l Layer, w, xC, xS []uint64) []uint64 {
	t.Helper()
	q, err := ps.c.EncryptInput(l, xC)
	if err != nil {
		t.Fatal(err)
	}
	if len(q) != l.QueryBytes() {
		t.Fatalf("query of %d bytes, QueryBytes %d", len(q), l.QueryBytes())
	}
	var resp []byte
	var share []uint64
	if runs.Add(1)%2 == 0 {
		resp, share, err = ps.s.Eval(l, w, xS, q)
	} else {
		var k *Kernels
		if k, err = ps.s.NewKernels(l, w); err == nil {
			if size, _ := ps.s.KernelBytes(l); size != k.Bytes() {
				t.Fatalf("KernelBytes %d, NewKernels made %d", size, k.Bytes())
			}
			resp, share, err = ps.s.EvalKernels(k, xS, q)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(resp) != l.ResponseBytes() {
		t.Fatalf("response of %d bytes, ResponseBytes %d", len(resp), l.ResponseBytes())
	}
	y, err := ps.c.DecryptOutput(l, resp)
	if err != nil {
		t.Fatal(err)
	}
	mask := ps.c.params.tMask()
	for i := range y {
		y[i] = (y[i] + share[i]) & mask
	}
	return y
}

// checkConv runs the convolution layer l (of geometry cp) with weights w
// on uniform random shares and fails at the first output that differs
// from the convolution in the clear.
func (ps parties) checkConv(t testing.TB, rng *rand.Rand, l Layer, cp tensor.ConvParams, w []uint64) {
	t.Helper()
	xC, xS := randVec(rng, l.InputLen(), 0), randVec(rng, l.InputLen(), 0)
	got := ps.run(t, l, w, xC, xS)
	want := convClear(cp, w, xC, xS, ps.c.params.tMask())
	if i := firstDiff(got, want); i >= 0 {
		t.Fatalf("output %d: got %#x, want %#x", i, got[i], want[i])
	}
}

// randVec returns n values: uniform mod 2^64 for "uniform", or small
// signed values of the given magnitude.
func randVec(rng *rand.Rand, n int, bound int64) []uint64 {
	v := make([]uint64, n)
	for i := range v {
		if bound == 0 {
			v[i] = rng.Uint64()
		} else {
			v[i] = uint64(rng.Int64N(2*bound+1) - bound)
		}
	}
	return v
}

// convClear returns the convolution of x = xC + xS with w, mod 2^ℓ.
func convClear(cp tensor.ConvParams, w, xC, xS []uint64, mask uint64) []uint64 {
	x := make([]uint64, len(xC))
	for i := range x {
		x[i] = xC[i] + xS[i]
	}
	y := make([]uint64, cp.N*cp.O*cp.OutH()*cp.OutW())
	tensor.Conv2D(y, x, w, cp)
	for i := range y {
		y[i] &= mask
	}
	return y
}

func firstDiff(a, b []uint64) int {
	for i := range a {
		if a[i] != b[i] {
			return i
		}
	}
	return -1
}
