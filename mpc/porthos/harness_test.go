package porthos

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"
	"veil/fixed"

	"veil/mpc"
	"veil/mpc/mpctest"
)

// testOptions are the options the harnesses of this package's tests
// pass to New (tests of this package do not run in parallel).
var testOptions Options

// run3 runs f for the three parties, each in its own goroutine over a
// fresh in-process network, and fails the test if any party fails.
func run3(t testing.TB, f func(e *Engine) error) [3]*Engine {
	t.Helper()
	engines, errs := run3nets(mpc.NewLocal(3, 10*time.Second), f)
	for p, err := range errs {
		if err != nil {
			t.Fatalf("%s: %v", mpc.Party(p), err)
		}
	}
	return engines
}

// run3nets runs f for the three parties over nets and returns each
// party's engine (nil if New failed) and error.
func run3nets(nets []mpc.Network, f func(e *Engine) error) ([3]*Engine, [3]error) {
	var engines [3]*Engine
	errs := mpctest.Parties(len(nets), func(p mpc.Party) error {
		e, err := New(nets[p], testOptions)
		if err != nil {
			return err
		}
		engines[p] = e
		return f(e)
	})
	return engines, [3]error(errs)
}

// runRole runs prog once as e's party: P0 on the public program with
// input x, P1 on the full program, P2 on the public one. It returns P0's
// outputs.
func runRole(e *Engine, prog, pub *fixed.Program, x []uint64) ([][]uint64, error) {
	switch e.me {
	case mpc.P0:
		return e.Run(context.Background(), pub, x)
	case mpc.P1:
		_, err := e.Run(context.Background(), prog)
		return nil, err
	default:
		_, err := e.Run(context.Background(), pub)
		return nil, err
	}
}

// split returns random additive shares of x over Z_L (trivial (x, 0)
// shares if trivial).
func split(r *rand.Rand, x []uint64, trivial bool) [2][]uint64 {
	s := [2][]uint64{make([]uint64, len(x)), make([]uint64, len(x))}
	for i, v := range x {
		if !trivial {
			s[1][i] = r.Uint64()
		}
		s[0][i] = v - s[1][i]
	}
	return s
}

// splitOdd returns random shares of x (values ≤ L−2) over Z_{L−1}.
func splitOdd(r *rand.Rand, x []uint64) [2][]uint64 {
	s := [2][]uint64{make([]uint64, len(x)), make([]uint64, len(x))}
	for i, v := range x {
		s[1][i] = r.Uint64N(oddMax)
		s[0][i] = subOdd(v, s[1][i])
	}
	return s
}

// splitBits returns shares over Z_p of the 64 bits of each x, MSB first.
func splitBits(r *rand.Rand, x []uint64) [2][]byte {
	s := [2][]byte{make([]byte, 64*len(x)), make([]byte, 64*len(x))}
	for i, v := range x {
		for k := 0; k < 64; k++ {
			b := byte(v >> (63 - k) & 1)
			s1 := byte(r.IntN(prime))
			s[1][64*i+k], s[0][64*i+k] = s1, subP(b, s1)
		}
	}
	return s
}

// share returns party p's part of s (nil for P2).
func share[T any](e *Engine, s [2][]T) []T {
	if e.me == mpc.P2 {
		return nil
	}
	return s[e.me]
}

// open adds the two results.
func open(res [3][]uint64) []uint64 {
	out := make([]uint64, len(res[0]))
	for i := range out {
		out[i] = res[0][i] + res[1][i]
	}
	return out
}

// openOdd adds the two results over Z_{L−1}.
func openOdd(res [3][]uint64) []uint64 {
	out := make([]uint64, len(res[0]))
	for i := range out {
		out[i] = addOdd(res[0][i], res[1][i])
	}
	return out
}

// neg returns −v mod L.
func neg(v uint64) uint64 { return -v }

const (
	maxU = ^uint64(0)
	p62  = uint64(1) << 62
	p61  = uint64(1) << 61
)

// edge values in DReLU's range [−2^62, 2^62).
var dreluEdges = []uint64{0, 1, neg(1), 2, neg(2), p62 - 1, neg(p62), neg(p62) + 1, p62 - 2, 1 << 40, neg(1 << 40), p61, neg(p61), 12345, neg(12345)}

// randRange returns n values uniform in [−2^k, 2^k) (all of Z_L for
// k = 63).
func randRange(r *rand.Rand, n, k int) []uint64 {
	v := make([]uint64, n)
	for i := range v {
		if k >= 63 {
			v[i] = r.Uint64()
		} else {
			v[i] = r.Uint64N(uint64(1)<<(k+1)) - uint64(1)<<k
		}
	}
	return v
}
